//! `jobs/start-failures.csv`: the latest failure of each booking whose container would not
//! start, so that the admin sees a start that keeps failing (`checker`) with docker's reason,
//! and each due booking that waits because its user is over the disk quota ([`QUOTA_WAIT`]),
//! so that the student (`booking -ls`) and the admin (`checker`) see why it has not started.

use std::path::Path;

use chrono::NaiveDateTime;

use crate::error::{Error, Result};
use crate::schedule::{format_time, parse_time};

/// The header the file carries, in this order.
pub const HEADER: [&str; 5] = ["user_id", "start", "since", "attempts", "reason"];

/// The header line as written.
pub const HEADER_LINE: &str = "user_id,start,since,attempts,reason\n";

/// How the reason of a booking that waits over the disk quota begins, e.g. `over the disk
/// quota: work 12 of 10 GB`; the monitor did not try docker for it.
pub const QUOTA_WAIT: &str = "over the disk quota";

/// The start of booking (`user_id`, `start`) has failed `attempts` times since `since`;
/// `reason` is the latest failure, one line.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct StartFailure {
    pub user_id: String,
    pub start: NaiveDateTime,
    pub since: NaiveDateTime,
    pub attempts: u32,
    pub reason: String,
}

impl StartFailure {
    /// The booking this failure is about, as the schedule files key it.
    pub fn key(&self) -> (&str, NaiveDateTime) {
        (&self.user_id, self.start)
    }

    /// Whether the booking waits over the disk quota rather than failed in docker.
    pub fn is_quota_wait(&self) -> bool {
        self.reason.starts_with(QUOTA_WAIT)
    }
}

/// Records one more failed start of (`user_id`, `start`) at `now`: a booking seen before
/// keeps its first failure time and counts one more attempt.
pub fn record(
    failures: &mut Vec<StartFailure>,
    user_id: &str,
    start: NaiveDateTime,
    now: NaiveDateTime,
    reason: &str,
) {
    let reason = one_line(reason);
    match failures
        .iter_mut()
        .find(|f| f.user_id == user_id && f.start == start)
    {
        Some(f) => {
            f.attempts = f.attempts.saturating_add(1);
            f.reason = reason;
        }
        None => failures.push(StartFailure {
            user_id: user_id.to_string(),
            start,
            since: now,
            attempts: 1,
            reason,
        }),
    }
}

/// A reason stays on one line whatever docker printed.
fn one_line(text: &str) -> String {
    text.chars()
        .map(|c| if c.is_control() { ' ' } else { c })
        .collect::<String>()
        .trim()
        .to_string()
}

/// Parses the file's text; `path` is only for messages. The first bad line is an error
/// naming it.
pub fn parse(path: &Path, text: &str) -> Result<Vec<StartFailure>> {
    let mut failures = Vec::new();
    crate::small_csv::each(path, text, &HEADER, |line, record| {
        let fail = |k: usize, message: String| {
            Error::invalid(path, Some(line), Some(HEADER[k].into()), message)
        };
        let user_id = record[0].to_string();
        if user_id.trim().is_empty() {
            return Err(fail(0, "empty, but a value is required".into()));
        }
        let start = parse_time(&record[1]).map_err(|m| fail(1, m))?;
        let since = parse_time(&record[2]).map_err(|m| fail(2, m))?;
        let attempts: u32 = record[3]
            .trim()
            .parse()
            .ok()
            .filter(|n| *n > 0)
            .ok_or_else(|| fail(3, format!("`{}` is not a count of attempts", &record[3])))?;
        failures.push(StartFailure {
            user_id,
            start,
            since,
            attempts,
            reason: one_line(&record[4]),
        });
        Ok(())
    })?;
    Ok(failures)
}

/// The bytes of the file holding `failures`, header first.
pub fn to_bytes(failures: &[StartFailure]) -> Vec<u8> {
    crate::small_csv::to_bytes(
        &HEADER,
        failures.iter().map(|f| {
            vec![
                f.user_id.clone(),
                format_time(f.start),
                format_time(f.since),
                f.attempts.to_string(),
                one_line(&f.reason),
            ]
        }),
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    fn t(s: &str) -> NaiveDateTime {
        parse_time(s).unwrap()
    }

    #[test]
    fn a_second_failure_counts_an_attempt_and_keeps_the_first_time() {
        let mut f = Vec::new();
        let start = t("2026-11-23 10:00:00");
        record(
            &mut f,
            "carol",
            start,
            t("2026-11-23 10:00:00"),
            "port taken",
        );
        record(
            &mut f,
            "carol",
            start,
            t("2026-11-23 10:30:00"),
            "still\ntaken",
        );
        assert_eq!(f.len(), 1);
        assert_eq!(f[0].attempts, 2);
        assert_eq!(f[0].since, t("2026-11-23 10:00:00"));
        assert_eq!(f[0].reason, "still taken", "the reason stays on one line");
    }

    #[test]
    fn what_is_written_reads_back_the_same_quotes_and_commas_included() {
        let mut f = Vec::new();
        let reason = "docker: the forward port is already taken (Bind for 0.0.0.0:10001, \"x\")";
        record(
            &mut f,
            "carol",
            t("2026-11-23 10:00:00"),
            t("2026-11-23 10:00:00"),
            reason,
        );
        let bytes = to_bytes(&f);
        let text = String::from_utf8(bytes).unwrap();
        assert!(text.starts_with(HEADER_LINE), "{text}");
        assert_eq!(parse(Path::new("x"), &text).unwrap(), f);
        assert_eq!(parse(Path::new("x"), HEADER_LINE).unwrap(), []);
    }

    #[test]
    fn bad_content_is_an_error_naming_the_file_and_line() {
        let path = Path::new("jobs/start-failures.csv");
        let cases = [
            ("", ":1"),
            ("user,start\n", ":1"),
            ("user_id,start,since,attempts,reason\ncarol,yesterday,2026-11-23 10:00:00,1,x\n", ":2: start:"),
            ("user_id,start,since,attempts,reason\ncarol,2026-11-23 10:00:00,2026-11-23 10:00:00,0,x\n", ":2: attempts:"),
            ("user_id,start,since,attempts,reason\ncarol,2026-11-23 10:00:00\n", ":2"),
            ("user_id,start,since,attempts,reason\n,2026-11-23 10:00:00,2026-11-23 10:00:00,1,x\n", ":2: user_id:"),
        ];
        for (text, at) in cases {
            let e = parse(path, text).unwrap_err().to_string();
            assert!(
                e.starts_with(&format!("jobs/start-failures.csv{at}")),
                "{text:?}: {e}"
            );
            assert_eq!(e.lines().count(), 1, "{e}");
        }
    }
}
