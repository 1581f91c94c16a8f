//! `cfg/notify.yaml` (docs/file-formats.md): where notices go besides the student's own
//! container — an SMTP server for e-mail, webhooks for the admins (and for a student where
//! the admin sets one). Optional: without it, notices reach containers only. The SMTP
//! credentials live in a root-only file of their own, never in this one.

use std::path::{Path, PathBuf};

use serde::Deserialize;

use crate::config::Secret;
use crate::error::{Error, Result};
use crate::yaml::{self, line_of_key, OrderedMap};

/// How the SMTP connection is secured.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Security {
    /// Plain SMTP (a relay on the host or the lab's network).
    None,
    /// Upgrade with STARTTLS (the default; port 587).
    #[default]
    Starttls,
    /// TLS from the first byte (port 465).
    Tls,
}

#[derive(Debug, Clone, PartialEq, Eq, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Smtp {
    pub server: String,
    /// Default: 25 without security, 587 with STARTTLS, 465 with TLS.
    #[serde(default)]
    pub port: Option<u16>,
    #[serde(default)]
    pub security: Security,
    /// The From address, e.g. `AIVC booking <aivc@lab.example>`.
    pub sender: String,
    /// A root-only file (mode 0600 or stricter) with the user name on its first line and
    /// the password on its second; relative paths are relative to the root.
    #[serde(default)]
    pub credentials_file: Option<PathBuf>,
}

impl Smtp {
    pub fn port(&self) -> u16 {
        self.port.unwrap_or(match self.security {
            Security::None => 25,
            Security::Starttls => 587,
            Security::Tls => 465,
        })
    }
}

#[derive(Debug, Clone, Default, PartialEq, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct NotifyConfig {
    #[serde(default)]
    pub smtp: Option<Smtp>,
    /// Addresses that get the admins' notices by e-mail.
    #[serde(default)]
    pub admin_emails: Vec<String>,
    /// URLs that get every admins' notice as a JSON POST `{"text": …}`.
    #[serde(default)]
    pub admin_webhooks: Vec<String>,
    /// user id → a URL that gets that user's notices (set by the admin, never by a user).
    #[serde(default)]
    pub user_webhooks: OrderedMap<String>,
    /// The same notice (recipient, kind and subject) is sent at most once in this many
    /// minutes; default 360.
    #[serde(default)]
    pub rate_limit_minutes: Option<u32>,
    /// A notice a channel could not take for this many hours is given up on it; default 24.
    #[serde(default)]
    pub give_up_hours: Option<u32>,
}

impl NotifyConfig {
    pub fn parse(path: &Path, text: &str) -> Result<Self> {
        let c: NotifyConfig = yaml::parse(path, text)?.unwrap_or_default();
        // A webhook URL is a secret (whoever has it can post): an error names the entry,
        // never the URL, because errors reach the world-readable monitor.log.
        let urls = c
            .admin_webhooks
            .iter()
            .enumerate()
            .map(|(i, u)| ("admin_webhooks", format!("entry {}", i + 1), u))
            .chain(
                c.user_webhooks
                    .0
                    .iter()
                    .map(|(id, u)| ("user_webhooks", format!("`{id}`"), u)),
            );
        for (key, which, url) in urls {
            if !(url.starts_with("http://") || url.starts_with("https://")) || url.len() > 2048 {
                return Err(Error::invalid(
                    path,
                    line_of_key(text, "", key),
                    Some(key.into()),
                    format!("{which} is not an http:// or https:// URL of at most 2048 bytes"),
                ));
            }
        }
        for address in &c.admin_emails {
            if let Some(why) = email_problem(address) {
                return Err(Error::invalid(
                    path,
                    line_of_key(text, "", "admin_emails"),
                    Some("admin_emails".into()),
                    format!("`{address}` {why}"),
                ));
            }
        }
        Ok(c)
    }

    /// The file, or the default (containers only) when there is none.
    pub fn load(path: &Path) -> Result<Self> {
        match yaml::read_optional(path)? {
            Some(text) => Self::parse(path, &text),
            None => Ok(NotifyConfig::default()),
        }
    }

    pub fn rate_limit(&self) -> chrono::Duration {
        chrono::Duration::minutes(i64::from(self.rate_limit_minutes.unwrap_or(360)))
    }

    pub fn give_up_after(&self) -> chrono::Duration {
        chrono::Duration::hours(i64::from(self.give_up_hours.unwrap_or(24)))
    }
}

/// Why `address` cannot be an e-mail address, in words: one `@` with text on both sides,
/// at most 254 bytes, no spaces, control characters, `<`, `>`, `,` or quotes.
pub fn email_problem(address: &str) -> Option<&'static str> {
    if address.len() > 254 {
        return Some("is longer than 254 characters");
    }
    if address
        .chars()
        .any(|c| c.is_control() || c.is_whitespace() || "<>,\"'\\;()[]".contains(c))
    {
        return Some("may not hold spaces, control characters, quotes or <>,;()[]");
    }
    match address.split_once('@') {
        Some((local, domain))
            if !local.is_empty() && domain.contains('.') && !domain.contains('@') =>
        {
            None
        }
        _ => Some("is not an address like name@example.org"),
    }
}

/// The SMTP user name and password from `path`, which must be a regular file readable by
/// its owner only; the error never holds its content.
pub fn read_credentials(path: &Path) -> Result<(String, Secret)> {
    use std::os::unix::fs::PermissionsExt;
    let meta = std::fs::symlink_metadata(path).map_err(|e| crate::error::read_error(path, e))?;
    if !meta.file_type().is_file() {
        return Err(Error::invalid(path, None, None, "is not a regular file"));
    }
    let mode = meta.permissions().mode() & 0o777;
    if mode & 0o077 != 0 {
        return Err(Error::invalid(
            path,
            None,
            None,
            format!("is mode {mode:04o}: others could read the SMTP password (chmod 0600)"),
        ));
    }
    let text = yaml::read(path)?;
    let mut lines = text.lines();
    match (lines.next(), lines.next()) {
        (Some(user), Some(password)) if !user.trim().is_empty() && !password.is_empty() => {
            Ok((user.trim().to_string(), Secret::new(password)))
        }
        _ => Err(Error::invalid(
            path,
            None,
            None,
            "needs the user name on its first line and the password on its second",
        )),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_full_file_reads_and_defaults_apply() {
        let text = "smtp:\n  server: 127.0.0.1\n  security: none\n  sender: \"AIVC <aivc@lab.example>\"\nadmin_emails: [admin@lab.example]\nadmin_webhooks: [\"http://127.0.0.1:8080/hook\"]\nuser_webhooks:\n  alice: https://chat.example/hook\n";
        let c = NotifyConfig::parse(Path::new("n.yaml"), text).unwrap();
        assert_eq!(c.smtp.as_ref().unwrap().port(), 25);
        assert_eq!(c.rate_limit(), chrono::Duration::minutes(360));
        assert_eq!(
            c.user_webhooks.get("alice").map(String::as_str),
            Some("https://chat.example/hook")
        );
    }

    #[test]
    fn bad_urls_addresses_and_keys_are_named() {
        let e = NotifyConfig::parse(
            Path::new("n.yaml"),
            "admin_webhooks: [file:///etc/shadow]\n",
        )
        .unwrap_err()
        .to_string();
        assert_eq!(
            e,
            "n.yaml:1: admin_webhooks: entry 1 is not an http:// or https:// URL of at most 2048 bytes"
        );
        let e = NotifyConfig::parse(Path::new("n.yaml"), "admin_emails: [\"a b@c.d\"]\n")
            .unwrap_err()
            .to_string();
        assert!(e.starts_with("n.yaml:1: admin_emails:"), "{e}");
        let e = NotifyConfig::parse(Path::new("n.yaml"), "smtp_server: x\n")
            .unwrap_err()
            .to_string();
        assert!(e.contains("unknown field `smtp_server`"), "{e}");
    }

    #[test]
    fn addresses() {
        assert_eq!(email_problem("alice@lab.example"), None);
        for bad in ["alice", "@x.y", "a@b", "a@b@c.d", "a\n@b.c", "a<b@c.d"] {
            assert!(email_problem(bad).is_some(), "{bad}");
        }
    }

    #[test]
    fn credentials_must_be_private_and_are_never_quoted() {
        use std::os::unix::fs::PermissionsExt;
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("cred");
        std::fs::write(&path, "mailer\nhunter2-secret\n").unwrap();
        std::fs::set_permissions(&path, std::fs::Permissions::from_mode(0o644)).unwrap();
        let e = read_credentials(&path).unwrap_err().to_string();
        assert!(e.contains("mode 0644") && !e.contains("hunter2"), "{e}");
        std::fs::set_permissions(&path, std::fs::Permissions::from_mode(0o600)).unwrap();
        let (user, password) = read_credentials(&path).unwrap();
        assert_eq!(
            (user.as_str(), password.expose()),
            ("mailer", "hunter2-secret")
        );
    }
}
