//! The fairness policies (`policies:` in docs/file-formats.md): rules about one user's own
//! bookings rather than what everyone holds at an instant. Each has its own refusal code,
//! the policy's key.
//!
//! "Now" is the current slot: rows start and end on the half-hour grid, so a row has not
//! ended while its end is after the current slot, and has not started while its start is.

use chrono::{Duration, NaiveDateTime};
use hostinfo::config::{CapabilityConfig, Policies};
use hostinfo::schedule::Row;

use crate::admission::Request;
use crate::limits::source_text;

/// A policy the request would break, with the numbers and where the limit came from.
#[derive(Debug, Clone, PartialEq, thiserror::Error)]
#[non_exhaustive]
pub enum Broken {
    #[error("you already hold {active} bookings that have not ended; {max} at a time is the most ({from}: max_active_bookings)")]
    TooManyActive { active: u32, max: u32, from: String },
    #[error("the booking is {hours} hours long; {max} hours is the longest one booking may be ({from}: max_hours_per_booking)")]
    TooLong { hours: f64, max: f64, from: String },
    #[error("you already hold {held} GPU-hours in bookings that have not started and this one adds {asked}; {max} is the most ({from}: max_gpu_hours_ahead)")]
    GpuHoursAhead {
        held: f64,
        asked: f64,
        max: f64,
        from: String,
    },
    #[error("the start {} is more than {days} days ahead; the latest start now is {} ({from}: max_days_ahead)", short(*start), short(*latest))]
    TooFarAhead {
        start: NaiveDateTime,
        latest: NaiveDateTime,
        days: u32,
        from: String,
    },
    #[error("{}", waiting_text(*waiting, *max, from))]
    TooManyWaiting {
        waiting: u32,
        max: u32,
        from: String,
    },
}

fn waiting_text(waiting: u32, max: u32, from: &str) -> String {
    match max {
        0 => format!("you may not join the waitlist ({from}: max_waitlist_entries is 0)"),
        _ => format!("you already have {waiting} entries on the waitlist; {max} at a time is the most ({from}: max_waitlist_entries)"),
    }
}

impl Broken {
    /// The policy's key: the refusal code.
    pub fn code(&self) -> &'static str {
        match self {
            Broken::TooManyActive { .. } => "max_active_bookings",
            Broken::TooLong { .. } => "max_hours_per_booking",
            Broken::GpuHoursAhead { .. } => "max_gpu_hours_ahead",
            Broken::TooFarAhead { .. } => "max_days_ahead",
            Broken::TooManyWaiting { .. } => "max_waitlist_entries",
        }
    }
}

fn short(t: NaiveDateTime) -> String {
    t.format("%Y-%m-%d %H:%M").to_string()
}

/// How far after the current slot a booking may start under `p`.
pub fn days_ahead(p: &Policies) -> Duration {
    Duration::days(i64::from(
        p.max_days_ahead.unwrap_or(hostinfo::groups::MAX_DAYS_AHEAD),
    ))
}

/// Hours of `[start, end)`.
pub fn hours(start: NaiveDateTime, end: NaiveDateTime) -> f64 {
    (end - start).num_minutes() as f64 / 60.0
}

/// GPU-hours a row holds.
pub fn gpu_hours(row: &Row) -> f64 {
    row.gpus.len() as f64 * hours(row.start, row.end)
}

/// `user_id`'s bookings that have not ended, and the GPU-hours of those not started.
pub fn held_by<'r>(
    rows: impl IntoIterator<Item = &'r Row>,
    user_id: &str,
    now_slot: NaiveDateTime,
) -> (u32, f64) {
    let mut active = 0;
    let mut ahead = 0.0;
    for r in rows {
        if r.end > now_slot && r.user_id == user_id {
            active += 1;
            if r.start > now_slot {
                ahead += gpu_hours(r);
            }
        }
    }
    (active, ahead)
}

/// Checks `req` against `p` (the user's resolved policies), given the other rows.
pub fn check(
    cap: &CapabilityConfig,
    p: &Policies,
    rows: &[&Row],
    req: &Request,
    now_slot: NaiveDateTime,
) -> Result<(), Broken> {
    let from = |key| source_text(cap, &req.user_id, key);
    let length = hours(req.start, req.end);
    if let Some(max) = p.max_hours_per_booking.filter(|m| length > m + 1e-9) {
        return Err(Broken::TooLong {
            hours: length,
            max,
            from: from("max_hours_per_booking"),
        });
    }
    if let Some(days) = p.max_days_ahead {
        let latest = now_slot + Duration::days(i64::from(days));
        if req.start > latest {
            return Err(Broken::TooFarAhead {
                start: req.start,
                latest,
                days,
                from: from("max_days_ahead"),
            });
        }
    }
    if p.max_active_bookings.is_none() && p.max_gpu_hours_ahead.is_none() {
        return Ok(());
    }
    let (active, held) = held_by(rows.iter().copied(), &req.user_id, now_slot);
    if let Some(max) = p.max_active_bookings.filter(|m| active + 1 > *m) {
        return Err(Broken::TooManyActive {
            active,
            max,
            from: from("max_active_bookings"),
        });
    }
    let asked = if req.start > now_slot {
        f64::from(req.gpus) * length
    } else {
        0.0
    };
    if let Some(max) = p
        .max_gpu_hours_ahead
        .filter(|m| asked > 0.0 && held + asked > m + 1e-9)
    {
        return Err(Broken::GpuHoursAhead {
            held,
            asked,
            max,
            from: from("max_gpu_hours_ahead"),
        });
    }
    Ok(())
}
