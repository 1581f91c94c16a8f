//! The notices a booking operation posts for the student (docs/user-guide.md, Notices):
//! made, changed, cancelled — the same whether it was booked from the CLI or the web.
//! Posting is best effort ([`hostinfo::Root::notify`]).

use chrono::NaiveDateTime;
use hostinfo::notices::{Kind, Notice, Recipient};
use hostinfo::schedule::Row;

fn minute(t: NaiveDateTime) -> String {
    t.format("%a %Y-%m-%d %H:%M").to_string()
}

/// `4 cpus, 16 GB, GPUs 0,1` — what a row holds, in words.
fn holds(row: &Row) -> String {
    let gpus = match row.gpus.ids() {
        [] => "no GPU".to_string(),
        ids => format!(
            "GPU{} {}",
            if ids.len() == 1 { "" } else { "s" },
            ids.iter().map(u32::to_string).collect::<Vec<_>>().join(",")
        ),
    };
    format!("{} cpus, {} GB, {gpus}", row.cpus, row.memory)
}

/// A unique key: each operation is its own notice, never rate-limited away.
fn key(kind: &str, row: &Row, now: NaiveDateTime) -> String {
    format!("{kind}:{}:{}:{}", row.user_id, row.start, now)
}

pub fn booked(row: &Row, now: NaiveDateTime) -> Notice {
    Notice::new(
        now,
        Recipient::User(row.user_id.clone()),
        Kind::BookingMade,
        key("made", row, now),
        &format!(
            "Booked {} from {} to {}; your container starts then on port {}.",
            holds(row),
            minute(row.start),
            minute(row.end),
            row.forward_port
        ),
    )
}

pub fn changed(old: &Row, new: &Row, now: NaiveDateTime) -> Notice {
    Notice::new(
        now,
        Recipient::User(new.user_id.clone()),
        Kind::BookingChanged,
        key("changed", new, now),
        &format!(
            "Your booking from {} now ends {} (was {}).",
            minute(new.start),
            minute(new.end),
            minute(old.end)
        ),
    )
}

pub fn cancelled(row: &Row, now: NaiveDateTime) -> Notice {
    Notice::new(
        now,
        Recipient::User(row.user_id.clone()),
        Kind::BookingCancelled,
        key("cancelled", row, now),
        &format!(
            "Cancelled your booking of {} from {} to {}.",
            holds(row),
            minute(row.start),
            minute(row.end)
        ),
    )
}
