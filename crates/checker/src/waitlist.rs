//! The waitlist's rules (`jobs/waitlist.csv` in docs/file-formats.md), as pure functions:
//! which requests may join, and which entries a schedule can take now.
//!
//! Entries are served in join order, each on its own: an entry that does not fit yet does
//! not hold back a smaller one behind it that does. Each is booked with exactly the rules
//! and GPU placement of a direct booking ([`admit`]), at the earliest start it accepts.

use chrono::NaiveDateTime;
use hostinfo::schedule::Row;
use hostinfo::waitlist::Entry;
use hostinfo::Config;

use crate::admission::{admit, Context, Refusal, Request};
use crate::capacity;

/// Why a refused request may not wait: anything but a full schedule, and a request larger
/// than a scope it draws on could ever hold (it would wait forever).
pub fn may_wait(config: &Config, req: &Request, refusal: &Refusal) -> Result<(), Refusal> {
    if !refusal.is_capacity() {
        return Err(refusal.clone());
    }
    let cap = &config.capability;
    let asked = [req.cpus, f64::from(req.memory), f64::from(req.gpus)];
    for scope in capacity::scopes_of(cap, &req.user_id) {
        for r in capacity::Resource::ALL {
            if let Some(c) = scope.capacity(r).filter(|c| asked[r as usize] > c + 1e-9) {
                return Err(Refusal::Capacity {
                    scope: scope.name(),
                    resource: r,
                    at: req.start,
                    until: req.end,
                    booked: 0.0,
                    asked: asked[r as usize],
                    capacity: c,
                    suggestion: None,
                });
            }
        }
    }
    Ok(())
}

/// What one serving did.
#[derive(Debug, Default)]
pub struct Served {
    /// Entries booked now, with their rows (GPUs placed), in join order.
    pub booked: Vec<(Entry, Row)>,
    /// Entries whose latest start has passed.
    pub expired: Vec<Entry>,
    /// Entries still waiting, in join order.
    pub waiting: Vec<Entry>,
}

/// The request an entry makes when served at `start`.
pub fn request_at(entry: &Entry, start: NaiveDateTime) -> Request {
    Request {
        user_id: entry.user_id.clone(),
        cpus: entry.cpus,
        memory: entry.memory,
        gpus: entry.gpus,
        start,
        end: start + entry.length(),
        forward_port: entry.forward_port,
        image: entry.image.clone(),
    }
}

/// Serves `entries` (in join order) against `rows` (the `using` and `booking` rows): each
/// is booked at the earliest start from its earliest (or the current slot) to its latest
/// that passes every rule, counting the entries booked before it; one whose latest start is
/// before the current slot expires.
pub fn serve(config: &Config, rows: &[Row], entries: Vec<Entry>, now_slot: NaiveDateTime) -> Served {
    let mut served = Served::default();
    let mut added: Vec<Row> = Vec::new();
    for entry in entries {
        if entry.latest_start < now_slot {
            served.expired.push(entry);
            continue;
        }
        let ctx = Context {
            config,
            rows: rows.iter().chain(&added).collect(),
            now_slot,
        };
        let first = entry.earliest_start.max(now_slot);
        let tried = match admit(&ctx, &request_at(&entry, first)) {
            Ok(gpus) => Some((first, gpus)),
            Err(refusal) => refusal
                .suggestion()
                .filter(|w| w.start <= entry.latest_start)
                .and_then(|w| {
                    admit(&ctx, &request_at(&entry, w.start))
                        .ok()
                        .map(|g| (w.start, g))
                }),
        };
        match tried {
            Some((start, gpus)) => {
                let row = Row {
                    start,
                    end: start + entry.length(),
                    user_id: entry.user_id.clone(),
                    cpus: entry.cpus,
                    memory: entry.memory,
                    gpus,
                    forward_port: entry.forward_port,
                    image: entry.image.clone(),
                    extra_command: entry.extra_command.clone(),
                };
                added.push(row.clone());
                served.booked.push((entry, row));
            }
            None => served.waiting.push(entry),
        }
    }
    served
}
