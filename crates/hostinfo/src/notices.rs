//! Notices: what a tool has to tell a student or the admins, kept in `jobs/` like
//! everything else (docs/file-formats.md).
//!
//! - `jobs/notices.csv`, the outbox: one notice a line, appended with one write (no lock
//!   needed, like `monitor.log`); only the delivery step rewrites it, to drop old notices
//!   that every channel is done with.
//! - `jobs/notices-delivered.csv`: one line per notice and channel that is done (delivered,
//!   or given up), appended right after the channel took it. A notice is pending on a
//!   channel until its line is there, so a crash loses nothing; the one thing a crash can
//!   repeat is a send whose line was not yet written.

use std::path::Path;

use chrono::NaiveDateTime;

use crate::error::{Error, Result};
use crate::schedule::{format_time, parse_time};
use crate::small_csv;

/// The outbox's header.
pub const HEADER: [&str; 6] = ["id", "time", "recipient", "kind", "key", "text"];
/// The delivery record's header.
pub const DELIVERED_HEADER: [&str; 4] = ["id", "channel", "time", "outcome"];

/// The most notices one student is posted in an hour; more are dropped.
pub const MAX_PER_USER_HOUR: usize = 30;

/// The most a notice's text may hold; longer texts are cut (with `…`).
pub const MAX_TEXT_BYTES: usize = 2000;

/// Who a notice is for.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub enum Recipient {
    User(String),
    Admins,
}

impl std::fmt::Display for Recipient {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Recipient::User(id) => write!(f, "user:{id}"),
            Recipient::Admins => f.write_str("admins"),
        }
    }
}

impl Recipient {
    fn parse(text: &str) -> Option<Self> {
        match text.strip_prefix("user:") {
            Some(id) if !id.is_empty() => Some(Recipient::User(id.to_string())),
            _ if text == "admins" => Some(Recipient::Admins),
            _ => None,
        }
    }
}

macro_rules! kinds {
    ($($variant:ident => $name:literal, $what:literal;)*) => {
        /// What a notice is about.
        #[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
        pub enum Kind { $(#[doc = $what] $variant,)* }

        impl Kind {
            pub const ALL: &'static [Kind] = &[$(Kind::$variant,)*];

            /// The name in the file and in docs.
            pub fn as_str(self) -> &'static str {
                match self { $(Kind::$variant => $name,)* }
            }

            pub fn parse(text: &str) -> Option<Self> {
                match text { $($name => Some(Kind::$variant),)* _ => None }
            }
        }
    };
}

kinds! {
    BookingMade => "booking_made", "a booking was made";
    BookingChanged => "booking_changed", "a booking's end moved";
    BookingCancelled => "booking_cancelled", "a booking was cancelled";
    Started => "started", "the container started (with the ssh port and the end)";
    StartFailed => "start_failed", "the container could not start (docker's reason)";
    QuotaWait => "quota_wait", "a due booking waits on the disk quota";
    EndingSoon => "ending_soon", "a booking ends in 30 or 10 minutes";
    WaitlistJoined => "waitlist_joined", "a request joined the waitlist";
    WaitlistBooked => "waitlist_booked", "a waitlist entry was booked";
    WaitlistExpired => "waitlist_expired", "a waitlist entry's latest start passed";
    IdleWarning => "idle_warning", "a booking's GPUs have been idle for most of the idle timeout";
    IdleReclaimed => "idle_reclaimed", "a booking idle past its timeout ends at the next half hour";
    GpuUnbooked => "gpu_unbooked", "(admins) a process on a GPU no running booking holds";
    StartKeepsFailing => "start_keeps_failing", "(admins) a start failed three times or more";
    TickFailed => "tick_failed", "(admins) a monitor tick failed";
}

/// One notice.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Notice {
    /// Unique: `<time>-<pid>-<random>`; e-mails carry it as their Message-ID.
    pub id: String,
    pub time: NaiveDateTime,
    pub recipient: Recipient,
    pub kind: Kind,
    /// What makes two notices "the same" for the rate limit (e.g. the booking it is about).
    pub key: String,
    /// One line of plain text.
    pub text: String,
}

impl Notice {
    /// A new notice with a fresh id; the text is made one line and cut to
    /// [`MAX_TEXT_BYTES`].
    pub fn new(
        now: NaiveDateTime,
        recipient: Recipient,
        kind: Kind,
        key: impl Into<String>,
        text: &str,
    ) -> Self {
        Notice {
            id: fresh_id(now),
            time: now,
            recipient,
            kind,
            key: one_line(&key.into(), 200),
            text: one_line(text, MAX_TEXT_BYTES),
        }
    }
}

/// Control characters become spaces (a notice is shown in terminals), and the text is cut
/// at a character boundary.
fn one_line(text: &str, max: usize) -> String {
    // Direction overrides and isolates are not control characters, but reorder what a
    // terminal or a chat shows.
    let bidi = |c: char| matches!(c, '\u{202A}'..='\u{202E}' | '\u{2066}'..='\u{2069}');
    let mut out: String = text
        .chars()
        .map(|c| if c.is_control() || bidi(c) { ' ' } else { c })
        .collect();
    if out.len() > max {
        let mut cut = max - '…'.len_utf8();
        while !out.is_char_boundary(cut) {
            cut -= 1;
        }
        out.truncate(cut);
        out.push('…');
    }
    out
}

/// `<time>-<pid>-<nanoseconds><counter>`: unique per process by the counter, across
/// processes by the pid and the wall clock's nanoseconds.
fn fresh_id(now: NaiveDateTime) -> String {
    use std::sync::atomic::{AtomicU64, Ordering};
    static COUNTER: AtomicU64 = AtomicU64::new(0);
    let nanos = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map_or(0, |d| d.subsec_nanos());
    format!(
        "{}-{}-{nanos:09}{}",
        now.format("%Y%m%dT%H%M%S"),
        std::process::id(),
        COUNTER.fetch_add(1, Ordering::Relaxed)
    )
}

/// Reads the outbox.
pub fn parse(path: &Path, text: &str) -> Result<Vec<Notice>> {
    let mut out = Vec::new();
    small_csv::each(path, text, &HEADER, |line, f| {
        let bad = |field: &str, why: String| {
            Error::invalid(path, Some(line), Some(field.to_string()), why)
        };
        let time = parse_time(&f[1]).map_err(|e| bad("time", e.to_string()))?;
        let recipient = Recipient::parse(&f[2]).ok_or_else(|| {
            bad(
                "recipient",
                format!("`{}` is not `user:ID` or `admins`", f[2]),
            )
        })?;
        let kind =
            Kind::parse(&f[3]).ok_or_else(|| bad("kind", format!("unknown kind `{}`", f[3])))?;
        if f[0].is_empty() {
            return Err(bad("id", "is empty".into()));
        }
        out.push(Notice {
            id: f[0].clone(),
            time,
            recipient,
            kind,
            key: f[4].clone(),
            text: f[5].clone(),
        });
        Ok(())
    })?;
    Ok(out)
}

/// The outbox's lines for `notices`, with the header when `with_header`.
pub fn to_bytes(notices: &[Notice], with_header: bool) -> Vec<u8> {
    let rows = notices.iter().map(|n| {
        vec![
            n.id.clone(),
            format_time(n.time),
            n.recipient.to_string(),
            n.kind.as_str().to_string(),
            n.key.clone(),
            n.text.clone(),
        ]
    });
    let bytes = small_csv::to_bytes(&HEADER, rows);
    if with_header {
        bytes
    } else {
        let header_len = HEADER.join(",").len() + 1;
        bytes[header_len..].to_vec()
    }
}

/// How a channel finished with a notice.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Outcome {
    Delivered,
    /// Tried for longer than the delivery keeps trying; the notice is dropped on it.
    GaveUp,
}

/// One line of `jobs/notices-delivered.csv`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Delivered {
    pub id: String,
    /// `container`, `email`, `webhook`, …
    pub channel: String,
    pub time: NaiveDateTime,
    pub outcome: Outcome,
}

pub fn parse_delivered(path: &Path, text: &str) -> Result<Vec<Delivered>> {
    let mut out = Vec::new();
    small_csv::each(path, text, &DELIVERED_HEADER, |line, f| {
        let bad = |field: &str, why: String| {
            Error::invalid(path, Some(line), Some(field.to_string()), why)
        };
        let time = parse_time(&f[2]).map_err(|e| bad("time", e.to_string()))?;
        let outcome = match f[3].as_str() {
            "delivered" => Outcome::Delivered,
            "gave_up" => Outcome::GaveUp,
            other => {
                return Err(bad(
                    "outcome",
                    format!("`{other}` is not `delivered` or `gave_up`"),
                ))
            }
        };
        out.push(Delivered {
            id: f[0].clone(),
            channel: f[1].clone(),
            time,
            outcome,
        });
        Ok(())
    })?;
    Ok(out)
}

pub fn delivered_to_bytes(records: &[Delivered], with_header: bool) -> Vec<u8> {
    let rows = records.iter().map(|d| {
        vec![
            d.id.clone(),
            d.channel.clone(),
            format_time(d.time),
            match d.outcome {
                Outcome::Delivered => "delivered",
                Outcome::GaveUp => "gave_up",
            }
            .to_string(),
        ]
    });
    let bytes = small_csv::to_bytes(&DELIVERED_HEADER, rows);
    if with_header {
        bytes
    } else {
        let header_len = DELIVERED_HEADER.join(",").len() + 1;
        bytes[header_len..].to_vec()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn t() -> NaiveDateTime {
        parse_time("2026-11-24 10:00:00").unwrap()
    }

    #[test]
    fn notices_round_trip_with_commas_quotes_and_newlines_made_one_line() {
        let n = Notice::new(
            t(),
            Recipient::User("alice".into()),
            Kind::StartFailed,
            "alice,2026-11-24 10:00",
            "docker said \"no\",\nthen\x1b[31m red",
        );
        assert_eq!(n.text, "docker said \"no\", then [31m red");
        let bytes = to_bytes(std::slice::from_ref(&n), true);
        let back = parse(Path::new("n.csv"), std::str::from_utf8(&bytes).unwrap()).unwrap();
        assert_eq!(back, std::slice::from_ref(&n));
        let mut two = bytes.clone();
        two.extend(to_bytes(std::slice::from_ref(&n), false));
        assert_eq!(
            parse(Path::new("n.csv"), std::str::from_utf8(&two).unwrap())
                .unwrap()
                .len(),
            2
        );
    }

    #[test]
    fn ids_differ_and_long_texts_are_cut_at_a_character() {
        let a = Notice::new(t(), Recipient::Admins, Kind::TickFailed, "k", "x");
        let b = Notice::new(t(), Recipient::Admins, Kind::TickFailed, "k", "x");
        assert_ne!(a.id, b.id);
        let long = "é".repeat(MAX_TEXT_BYTES);
        let n = Notice::new(t(), Recipient::Admins, Kind::TickFailed, "k", &long);
        assert!(n.text.len() <= MAX_TEXT_BYTES && n.text.ends_with('…'));
    }

    #[test]
    fn a_bad_line_is_named() {
        let text = "id,time,recipient,kind,key,text\nx,2026-11-24 10:00:00,someone,started,k,t\n";
        let e = parse(Path::new("n.csv"), text).unwrap_err().to_string();
        assert_eq!(
            e,
            "n.csv:2: recipient: `someone` is not `user:ID` or `admins`"
        );
    }
}
