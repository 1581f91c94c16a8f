//! `cfg/dashboard.yaml` (docs/file-formats.md): the lab's settings for the dashboard and
//! its metrics. Optional: without it the dashboard serves with its defaults and the monitor
//! writes no metrics textfile.

use std::path::{Path, PathBuf};

use serde::Deserialize;

use crate::error::{Error, Result};
use crate::yaml::{self, line_of_key};

#[derive(Debug, Clone, Default, PartialEq, Eq, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct DashboardConfig {
    /// Where the monitor writes the Prometheus metrics after each tick and each sampling,
    /// for node_exporter's textfile collector (which reads only `*.prom` files). An absolute
    /// path; the folder must exist.
    #[serde(default)]
    pub metrics_textfile: Option<PathBuf>,
    /// Whether students may sign in and book on the web (on unless set to `false`: the
    /// dashboard is then read-only).
    #[serde(default)]
    pub web_booking: Option<bool>,
    /// The site is served over TLS by the lab's reverse proxy: the session cookie gets
    /// `Secure`, and a request's `Origin` is checked against `https://`.
    #[serde(default)]
    pub behind_tls: bool,
    /// The host name students ssh to, for the `ssh` line of a booking (default: this
    /// machine's name).
    #[serde(default)]
    pub ssh_host: Option<String>,
}

impl DashboardConfig {
    /// Whether booking on the web is on.
    pub fn web_booking(&self) -> bool {
        self.web_booking.unwrap_or(true)
    }
}

impl DashboardConfig {
    pub fn parse(path: &Path, text: &str) -> Result<Self> {
        let c: DashboardConfig = yaml::parse(path, text)?.unwrap_or_default();
        if let Some(file) = &c.metrics_textfile {
            let bad = |why: &str| {
                Err(Error::invalid(
                    path,
                    line_of_key(text, "", "metrics_textfile"),
                    Some("metrics_textfile".into()),
                    why.to_string(),
                ))
            };
            if !file.is_absolute() {
                return bad("must be an absolute path");
            }
            if file.extension().is_none_or(|e| e != "prom") {
                return bad("must end in `.prom` (node_exporter reads only those)");
            }
            if file
                .components()
                .any(|c| c == std::path::Component::ParentDir)
            {
                return bad("must not contain `..`");
            }
        }
        Ok(c)
    }

    /// The file, or the defaults when there is none.
    pub fn load(path: &Path) -> Result<Self> {
        match yaml::read_optional(path)? {
            Some(text) => Self::parse(path, &text),
            None => Ok(DashboardConfig::default()),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn parse(text: &str) -> Result<DashboardConfig> {
        DashboardConfig::parse(Path::new("cfg/dashboard.yaml"), text)
    }

    #[test]
    fn an_empty_file_is_the_defaults() {
        assert_eq!(parse("").unwrap(), DashboardConfig::default());
    }

    #[test]
    fn a_textfile_path_is_read() {
        let c = parse("metrics_textfile: /var/lib/prometheus/node-exporter/aivc.prom\n").unwrap();
        assert_eq!(
            c.metrics_textfile.unwrap(),
            Path::new("/var/lib/prometheus/node-exporter/aivc.prom")
        );
    }

    #[test]
    fn a_relative_or_non_prom_path_or_an_unknown_key_is_refused_with_its_line() {
        for (text, words) in [
            ("metrics_textfile: aivc.prom\n", "absolute"),
            ("\nmetrics_textfile: /tmp/aivc.txt\n", ".prom"),
            ("metrics_textfile: /a/../b.prom\n", ".."),
            ("listen_on: 1\n", "listen_on"),
        ] {
            let e = parse(text).unwrap_err().to_string();
            assert!(e.contains("cfg/dashboard.yaml"), "{e}");
            assert!(e.contains(words), "{text:?}: {e}");
        }
        let e = parse("\nmetrics_textfile: x.prom\n")
            .unwrap_err()
            .to_string();
        assert!(e.contains("dashboard.yaml:2:"), "{e}");
    }
}
