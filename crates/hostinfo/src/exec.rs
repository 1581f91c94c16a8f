//! `jobs/monitor_exec`: requests to the monitor, one a line (docs/file-formats.md): `now` when a booking
//! starts in the current slot, `restart <user_id>` for a user's container.

use std::path::Path;

use crate::error::{Error, Result};

#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Request {
    /// A booking starts in the current slot: run a tick now.
    Now,
    /// Restart this user's running container.
    Restart(String),
}

impl std::fmt::Display for Request {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Request::Now => f.write_str("now"),
            Request::Restart(id) => write!(f, "restart {id}"),
        }
    }
}

impl Request {
    /// Parses one line; `None` for a blank one.
    pub fn parse_line(line: &str) -> Result<Option<Self>, String> {
        let words: Vec<&str> = line.split_whitespace().collect();
        match words.as_slice() {
            [] => Ok(None),
            ["now"] => Ok(Some(Request::Now)),
            ["restart", id] => Ok(Some(Request::Restart((*id).to_string()))),
            _ => Err(format!(
                "`{}` is not a request (expected `now` or `restart <user_id>`)",
                line.trim()
            )),
        }
    }
}

/// Parses the whole file; the first bad line is an error naming it.
pub fn parse(path: &Path, text: &str) -> Result<Vec<Request>> {
    let mut requests = Vec::new();
    for (i, line) in text.lines().enumerate() {
        match Request::parse_line(line) {
            Ok(Some(r)) => requests.push(r),
            Ok(None) => {}
            Err(message) => return Err(Error::invalid(path, Some(i + 1), None, message)),
        }
    }
    Ok(requests)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn reads_now_and_restart_and_skips_blank_lines() {
        let r = parse(Path::new("x"), "now\n\nrestart u001\n  now  \n").unwrap();
        assert_eq!(
            r,
            [Request::Now, Request::Restart("u001".into()), Request::Now]
        );
        for r in &r {
            assert_eq!(
                Request::parse_line(&r.to_string()).unwrap().as_ref(),
                Some(r)
            );
        }
    }

    #[test]
    fn a_bad_line_names_its_number() {
        let e = parse(Path::new("jobs/monitor_exec"), "now\nrm -rf /\n").unwrap_err();
        assert!(e.to_string().starts_with("jobs/monitor_exec:2:"), "{e}");
    }
}
