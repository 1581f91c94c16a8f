//! `jobs/waitlist.csv` (docs/file-formats.md): requests that did not fit when they were made
//! and wait for capacity, in join order. Rewritten whole under the exclusive lock.

use std::path::Path;

use chrono::{Duration, NaiveDateTime};

use crate::error::{Error, Result};
use crate::schedule::{format_time, parse_time};
use crate::small_csv;

pub const HEADER: [&str; 12] = [
    "id",
    "joined",
    "user_id",
    "cpus",
    "memory",
    "gpus",
    "minutes",
    "earliest_start",
    "latest_start",
    "forward_port",
    "image",
    "extra_command",
];

/// One waiting request: the same resources and length as asked, started at any slot from
/// `earliest_start` to `latest_start`.
#[derive(Debug, Clone, PartialEq)]
pub struct Entry {
    /// Numbers the entry while it waits (`booking --waitlist` shows it).
    pub id: u32,
    pub joined: NaiveDateTime,
    pub user_id: String,
    pub cpus: f64,
    /// GB.
    pub memory: u32,
    /// How many GPUs (which ones is decided when it is booked).
    pub gpus: u32,
    /// The booking's length.
    pub minutes: u32,
    pub earliest_start: NaiveDateTime,
    pub latest_start: NaiveDateTime,
    pub forward_port: u16,
    pub image: Option<String>,
    pub extra_command: Option<String>,
}

impl Entry {
    pub fn length(&self) -> Duration {
        Duration::minutes(i64::from(self.minutes))
    }

    /// A number no entry of `entries` has.
    pub fn next_id(entries: &[Entry]) -> u32 {
        entries.iter().map(|e| e.id).max().map_or(1, |m| m + 1)
    }
}

pub fn parse(path: &Path, text: &str) -> Result<Vec<Entry>> {
    let mut out = Vec::new();
    small_csv::each(path, text, &HEADER, |line, f| {
        let bad = |field: &str, why: String| {
            Error::invalid(path, Some(line), Some(field.to_string()), why)
        };
        let time = |i: usize| parse_time(&f[i]).map_err(|e| bad(HEADER[i], e.to_string()));
        let num = |i: usize| {
            f[i].parse::<u32>()
                .map_err(|_| bad(HEADER[i], format!("`{}` is not a whole number", f[i])))
        };
        let cpus: f64 = f[3]
            .parse()
            .ok()
            .filter(|c: &f64| c.is_finite() && *c >= 0.0)
            .ok_or_else(|| bad("cpus", format!("`{}` is not a number ≥ 0", f[3])))?;
        let port = f[9]
            .parse::<u16>()
            .map_err(|_| bad("forward_port", format!("`{}` is not a port", f[9])))?;
        let entry = Entry {
            id: num(0)?,
            joined: time(1)?,
            user_id: f[2].clone(),
            cpus,
            memory: num(4)?,
            gpus: num(5)?,
            minutes: num(6)?,
            earliest_start: time(7)?,
            latest_start: time(8)?,
            forward_port: port,
            image: Some(f[10].clone()).filter(|s| !s.is_empty()),
            extra_command: Some(f[11].clone()).filter(|s| !s.is_empty()),
        };
        if entry.latest_start < entry.earliest_start {
            return Err(bad("latest_start", "is before earliest_start".to_string()));
        }
        if entry.minutes == 0 || !entry.minutes.is_multiple_of(30) {
            return Err(bad(
                "minutes",
                format!("{} is not a positive multiple of 30", entry.minutes),
            ));
        }
        if let Some(why) = crate::names::user_id_problem(&entry.user_id) {
            return Err(bad("user_id", format!("`{}` {why}", entry.user_id)));
        }
        out.push(entry);
        Ok(())
    })?;
    Ok(out)
}

pub fn to_bytes(entries: &[Entry]) -> Vec<u8> {
    small_csv::to_bytes(
        &HEADER,
        entries.iter().map(|e| {
            vec![
                e.id.to_string(),
                format_time(e.joined),
                e.user_id.clone(),
                format!("{:?}", e.cpus),
                e.memory.to_string(),
                e.gpus.to_string(),
                e.minutes.to_string(),
                format_time(e.earliest_start),
                format_time(e.latest_start),
                e.forward_port.to_string(),
                e.image.clone().unwrap_or_default(),
                e.extra_command.clone().unwrap_or_default(),
            ]
        }),
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn entries_round_trip_and_bad_fields_are_named() {
        let t = |s: &str| parse_time(s).unwrap();
        let e = Entry {
            id: 3,
            joined: t("2026-11-24 09:12:00"),
            user_id: "alice".into(),
            cpus: 2.5,
            memory: 16,
            gpus: 1,
            minutes: 120,
            earliest_start: t("2026-11-24 10:00:00"),
            latest_start: t("2026-11-24 14:00:00"),
            forward_port: 10001,
            image: None,
            extra_command: Some("echo a, \"b\"".into()),
        };
        let bytes = to_bytes(std::slice::from_ref(&e));
        let text = String::from_utf8(bytes).unwrap();
        assert_eq!(
            parse(Path::new("w.csv"), &text).unwrap(),
            std::slice::from_ref(&e)
        );
        assert_eq!(Entry::next_id(&[e]), 4);
        let bad = text.replace(",120,", ",45,");
        assert_eq!(
            parse(Path::new("w.csv"), &bad).unwrap_err().to_string(),
            "w.csv:2: minutes: 45 is not a positive multiple of 30"
        );
    }
}
