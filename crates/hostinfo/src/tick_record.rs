//! `jobs/last-tick.csv` (docs/file-formats.md): when the monitor's last tick ran and how
//! long it took, for the dashboard and the metrics. One row, replaced atomically at the end
//! of every tick but a dry run; a failed tick leaves the previous.

use std::path::Path;

use chrono::NaiveDateTime;

use crate::error::{Error, Result};
use crate::schedule::{format_time, parse_time};

pub const HEADER: &str = "started,unix_seconds,duration_seconds";

#[derive(Debug, Clone, Copy, PartialEq)]
pub struct TickRecord {
    /// Wall-clock start in the host's zone (the installation's clock, `AIVC_NOW` included).
    pub started: NaiveDateTime,
    /// The same start on the real clock, seconds since the Unix epoch.
    pub unix_seconds: f64,
    pub duration_seconds: f64,
}

impl TickRecord {
    pub fn to_bytes(&self) -> Vec<u8> {
        format!(
            "{HEADER}\n{},{:.3},{:.3}\n",
            format_time(self.started),
            self.unix_seconds,
            self.duration_seconds
        )
        .into_bytes()
    }

    /// The record in `text`; `None` for a file with a header only.
    pub fn parse(path: &Path, text: &str) -> Result<Option<Self>> {
        let mut lines = text.lines();
        if lines.next() != Some(HEADER) {
            return Err(Error::invalid(
                path,
                Some(1),
                None,
                format!("the first line must be `{HEADER}`"),
            ));
        }
        let Some(line) = lines.next().filter(|l| !l.is_empty()) else {
            return Ok(None);
        };
        let bad = |field: &str, why: String| Error::invalid(path, Some(2), Some(field.into()), why);
        let f: Vec<&str> = line.split(',').collect();
        if f.len() != 3 {
            return Err(Error::invalid(
                path,
                Some(2),
                None,
                format!("expected 3 fields, found {}", f.len()),
            ));
        }
        let number = |s: &str, field: &str| {
            s.parse::<f64>()
                .ok()
                .filter(|v| v.is_finite() && *v >= 0.0)
                .ok_or_else(|| bad(field, format!("`{s}` is not a number of seconds")))
        };
        Ok(Some(TickRecord {
            started: parse_time(f[0]).map_err(|e| bad("started", e.to_string()))?,
            unix_seconds: number(f[1], "unix_seconds")?,
            duration_seconds: number(f[2], "duration_seconds")?,
        }))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_record_reads_back_as_written() {
        let r = TickRecord {
            started: parse_time("2026-11-26 10:00:00").unwrap(),
            unix_seconds: 1_795_000_000.5,
            duration_seconds: 0.125,
        };
        let text = String::from_utf8(r.to_bytes()).unwrap();
        assert_eq!(
            TickRecord::parse(Path::new("last-tick.csv"), &text).unwrap(),
            Some(r)
        );
    }

    #[test]
    fn a_bad_number_names_its_field_and_line() {
        let e = TickRecord::parse(
            Path::new("jobs/last-tick.csv"),
            &format!("{HEADER}\n2026-11-26 10:00:00,soon,0.1\n"),
        )
        .unwrap_err()
        .to_string();
        assert!(
            e.contains("last-tick.csv:2:") && e.contains("unix_seconds"),
            "{e}"
        );
    }
}
