//! The usage samples (`jobs/usage/YYYY-MM-DD.csv` in docs/file-formats.md): every few
//! minutes, each GPU's utilisation and memory in use, and each running booking's container
//! CPU and memory use. One file a day (the day of the samples' time), appended only, removed
//! after [`KEEP_DAYS`]; readers take only the tail they need, never a whole file.

use std::path::Path;

use chrono::NaiveDateTime;

use crate::error::{Error, Result};
use crate::schedule::{format_time, parse_time};
use crate::small_csv;

pub const HEADER: [&str; 6] = [
    "time",
    "subject",
    "gpu_util_percent",
    "gpu_memory_mib",
    "cpu_percent",
    "memory_mib",
];

/// How many days of samples are kept: the usage report's longest window (90 days, from
/// `now`, so 91 calendar days) is read whole; about 1 MiB a day at 8 GPUs and 50 bookings.
pub const KEEP_DAYS: i64 = 91;

/// The most read from the end of one day's file: a day of 5-minute samples of 8 GPUs and
/// 50 bookings is about 1 MiB.
pub const MAX_TAIL_BYTES: u64 = 4 << 20;

/// What a sample is about.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub enum Subject {
    Gpu(u32),
    /// The running booking of this user (one at a time).
    User(String),
}

impl std::fmt::Display for Subject {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Subject::Gpu(i) => write!(f, "gpu:{i}"),
            Subject::User(id) => write!(f, "user:{id}"),
        }
    }
}

/// One measurement; a value that could not be read is `None` (an empty cell).
#[derive(Debug, Clone, PartialEq)]
pub struct Sample {
    pub time: NaiveDateTime,
    pub subject: Subject,
    pub gpu_util_percent: Option<u32>,
    pub gpu_memory_mib: Option<u64>,
    /// Of one CPU: 250 is two and a half CPUs busy.
    pub cpu_percent: Option<f64>,
    pub memory_mib: Option<u64>,
}

fn cell<T: std::fmt::Display>(v: &Option<T>) -> String {
    v.as_ref().map(|v| v.to_string()).unwrap_or_default()
}

/// The lines of `samples`, without the header.
pub fn to_lines(samples: &[Sample]) -> Vec<u8> {
    let bytes = small_csv::to_bytes(
        &HEADER,
        samples.iter().map(|s| {
            vec![
                format_time(s.time),
                s.subject.to_string(),
                cell(&s.gpu_util_percent),
                cell(&s.gpu_memory_mib),
                s.cpu_percent.map(|c| format!("{c:.1}")).unwrap_or_default(),
                cell(&s.memory_mib),
            ]
        }),
    );
    bytes[HEADER.join(",").len() + 1..].to_vec()
}

/// Reads sample lines (no header; a first line cut by a tail read is skipped by the
/// caller). A bad line is an error naming it.
pub fn parse_lines(path: &Path, first_line: usize, text: &str) -> Result<Vec<Sample>> {
    let mut out = Vec::new();
    for (i, line) in text.lines().enumerate() {
        if line.is_empty() || line == HEADER.join(",") {
            continue;
        }
        let n = first_line + i;
        let bad = |field: &str, why: String| Error::invalid(path, Some(n), Some(field.into()), why);
        let f: Vec<&str> = line.split(',').collect();
        if f.len() != HEADER.len() {
            return Err(Error::invalid(
                path,
                Some(n),
                None,
                format!("expected {} fields, found {}", HEADER.len(), f.len()),
            ));
        }
        let time = parse_time(f[0]).map_err(|e| bad("time", e.to_string()))?;
        let subject = if let Some(i) = f[1].strip_prefix("gpu:") {
            Subject::Gpu(
                i.parse()
                    .map_err(|_| bad("subject", format!("`{}` is not gpu:N", f[1])))?,
            )
        } else if let Some(id) = f[1].strip_prefix("user:").filter(|id| !id.is_empty()) {
            Subject::User(id.to_string())
        } else {
            return Err(bad(
                "subject",
                format!("`{}` is not gpu:N or user:ID", f[1]),
            ));
        };
        fn opt<T: std::str::FromStr>(
            s: &str,
            field: &str,
            bad: &dyn Fn(&str, String) -> Error,
        ) -> Result<Option<T>> {
            if s.is_empty() {
                return Ok(None);
            }
            s.parse()
                .map(Some)
                .map_err(|_| bad(field, format!("`{s}` is not a number")))
        }
        out.push(Sample {
            time,
            subject,
            gpu_util_percent: opt(f[2], HEADER[2], &bad)?,
            gpu_memory_mib: opt(f[3], HEADER[3], &bad)?,
            cpu_percent: opt(f[4], HEADER[4], &bad)?,
            memory_mib: opt(f[5], HEADER[5], &bad)?,
        });
    }
    Ok(out)
}

/// The file in `jobs/usage/` that keeps each container's last cumulative CPU time, so the
/// next sample gives the average CPU use between the two (see docs/file-formats.md).
pub const CPU_STATE_FILE: &str = ".cpu-state";

/// One container's cumulative CPU time as last read from its cgroup, and when (the host's
/// real clock: the counter runs on real time, whatever `AIVC_NOW` says).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct CpuReading {
    /// The container's full id.
    pub container: String,
    pub cpu_nanos: u64,
    /// Nanoseconds since the Unix epoch.
    pub at_unix_nanos: u128,
}

/// The state file's text: `container cpu_nanos at_unix_nanos`, one line each.
pub fn cpu_state_to_bytes(readings: &[CpuReading]) -> Vec<u8> {
    readings
        .iter()
        .map(|r| format!("{} {} {}\n", r.container, r.cpu_nanos, r.at_unix_nanos))
        .collect::<String>()
        .into_bytes()
}

/// Parses the state file; a line that does not parse is dropped (the state only makes the
/// next CPU cell possible, and a lost reading costs one empty cell).
pub fn parse_cpu_state(text: &str) -> Vec<CpuReading> {
    text.lines()
        .filter_map(|line| {
            let mut f = line.split(' ');
            let container = f.next().filter(|c| !c.is_empty())?.to_string();
            let cpu_nanos = f.next()?.parse().ok()?;
            let at_unix_nanos = f.next()?.parse().ok()?;
            f.next().is_none().then_some(CpuReading {
                container,
                cpu_nanos,
                at_unix_nanos,
            })
        })
        .collect()
}

/// The file name of a day's samples.
pub fn file_name(day: chrono::NaiveDate) -> String {
    format!("{}.csv", day.format("%Y-%m-%d"))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn samples_round_trip_with_empty_cells() {
        let t = parse_time("2026-11-24 10:05:00").unwrap();
        let samples = vec![
            Sample {
                time: t,
                subject: Subject::Gpu(3),
                gpu_util_percent: Some(97),
                gpu_memory_mib: Some(40_000),
                cpu_percent: None,
                memory_mib: None,
            },
            Sample {
                time: t,
                subject: Subject::User("alice".into()),
                gpu_util_percent: None,
                gpu_memory_mib: None,
                cpu_percent: Some(250.0),
                memory_mib: Some(2048),
            },
        ];
        let text = String::from_utf8(to_lines(&samples)).unwrap();
        assert_eq!(
            text,
            "2026-11-24 10:05:00,gpu:3,97,40000,,\n2026-11-24 10:05:00,user:alice,,,250.0,2048\n"
        );
        assert_eq!(parse_lines(Path::new("u.csv"), 2, &text).unwrap(), samples);
        let e = parse_lines(Path::new("u.csv"), 2, "2026-11-24 10:05:00,cpu:1,,,,\n")
            .unwrap_err()
            .to_string();
        assert_eq!(e, "u.csv:2: subject: `cpu:1` is not gpu:N or user:ID");
    }

    #[test]
    fn the_cpu_state_round_trips_and_drops_bad_lines() {
        let readings = vec![CpuReading {
            container: "abc".into(),
            cpu_nanos: 12,
            at_unix_nanos: 1_700_000_000_000_000_000,
        }];
        let text = String::from_utf8(cpu_state_to_bytes(&readings)).unwrap();
        assert_eq!(text, "abc 12 1700000000000000000\n");
        assert_eq!(
            parse_cpu_state(&format!("{text}x y z\nshort 1\n")),
            readings
        );
    }
}
