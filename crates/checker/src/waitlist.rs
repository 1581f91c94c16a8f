//! The waitlist's rules (`jobs/waitlist.csv` in docs/file-formats.md), as pure functions:
//! which requests may join, and which entries a schedule can take now.
//!
//! Entries are served in join order, each on its own: an entry that does not fit yet does
//! not hold back a smaller one behind it that does. Each is booked with exactly the rules
//! and GPU placement of a direct booking ([`crate::admission::admit`]), at the earliest start it accepts.

use chrono::NaiveDateTime;
use hostinfo::clock::floor_slot;
use hostinfo::exec::Request as MonitorRequest;
use hostinfo::lock::ExclusiveLock;
use hostinfo::log::LogLine;
use hostinfo::notices::{Kind, Notice, Recipient};
use hostinfo::schedule::{GpuSet, Row};
use hostinfo::waitlist::Entry;
use hostinfo::{Config, LiveTable, Root, Table};

use crate::admission::{admit_placed, Context, Placed, Refusal, Request};
use crate::capacity;
use crate::limits::{source_text, user_policies};
use crate::policies::Broken;

/// Why a refused request may not wait: anything but a full schedule, and a request larger
/// than a scope it draws on could ever hold (it would wait forever). On a cluster an entry
/// waits for any node (the node a refused request named is not kept), so it never fits
/// only when no node could ever hold it.
pub fn may_wait(config: &Config, req: &Request, refusal: &Refusal) -> Result<(), Refusal> {
    if !refusal.is_capacity() {
        return Err(refusal.clone());
    }
    let cap = &config.capability;
    let asked = [req.cpus, f64::from(req.memory), f64::from(req.gpus)];
    let too_big = |scope: &capacity::Scope| {
        capacity::Resource::ALL.into_iter().find_map(|r| {
            scope
                .capacity(r)
                .filter(|c| asked[r as usize] > c + 1e-9)
                .map(|c| Refusal::NeverFits {
                    scope: scope.name(),
                    resource: r,
                    asked: asked[r as usize],
                    capacity: c,
                })
        })
    };
    let scopes = capacity::scopes_of(cap, config.cluster.as_ref(), &req.user_id, None);
    // The machines: the host; on a cluster it must fit one of the nodes.
    let mut machines = scopes.iter().filter(|s| s.is_host()).peekable();
    let first = machines.peek().and_then(|s| too_big(s));
    if machines.all(|s| too_big(s).is_some()) {
        if let Some(never) = first {
            return Err(never);
        }
    }
    // The user's group: the one total it draws on wherever it runs.
    match scopes.iter().filter(|s| !s.is_host()).find_map(too_big) {
        Some(never) => Err(never),
        None => Ok(()),
    }
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
        node: crate::admission::NodeChoice::Any,
    }
}

/// Serves `entries` (in join order) against `rows` (the `using` and `booking` rows): each
/// is booked at the earliest start from its earliest (or the current slot) to its latest
/// that passes every rule, counting the entries booked before it; one whose latest start is
/// before the current slot expires.
pub fn serve(
    config: &Config,
    rows: &[Row],
    entries: Vec<Entry>,
    now_slot: NaiveDateTime,
) -> Served {
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
        let tried = match admit_placed(&ctx, &request_at(&entry, first)) {
            Ok(placed) => Some((first, placed)),
            Err(refusal) => refusal
                .suggestion()
                .filter(|w| w.start <= entry.latest_start)
                .and_then(|w| {
                    admit_placed(&ctx, &request_at(&entry, w.start))
                        .ok()
                        .map(|p| (w.start, p))
                }),
        };
        match tried {
            Some((start, Placed { gpus, node })) => {
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
                    node,
                };
                added.push(row.clone());
                served.booked.push((entry, row));
            }
            None => served.waiting.push(entry),
        }
    }
    served
}

/// Whether `user_id` may add one more entry to `entries` under their `max_waitlist_entries`.
pub fn has_room(config: &Config, entries: &[Entry], user_id: &str) -> Result<(), Refusal> {
    let cap = &config.capability;
    let Some(max) = user_policies(cap, user_id).max_waitlist_entries else {
        return Ok(());
    };
    let waiting = entries.iter().filter(|e| e.user_id == user_id).count();
    let waiting = u32::try_from(waiting).unwrap_or(u32::MAX);
    if waiting < max {
        return Ok(());
    }
    Err(Refusal::Policy {
        broken: Broken::TooManyWaiting {
            waiting,
            max,
            from: source_text(cap, user_id, "max_waitlist_entries"),
        },
    })
}

fn short(t: NaiveDateTime) -> String {
    t.format("%Y-%m-%d %H:%M").to_string()
}

/// `2 cpus, 16 GB, 1 GPU for 2 hours, starting between 2026-11-24 10:00 and 2026-11-24
/// 14:00` (or `starting at …` when the window is one slot): an entry for people.
pub fn describe(e: &Entry) -> String {
    let gpus = match e.gpus {
        0 => "no GPU".to_string(),
        1 => "1 GPU".to_string(),
        n => format!("{n} GPUs"),
    };
    let hours = f64::from(e.minutes) / 60.0;
    let length = if e.minutes == 60 {
        "1 hour".to_string()
    } else {
        format!("{hours} hours")
    };
    let when = if e.latest_start == e.earliest_start {
        format!("starting at {}", short(e.earliest_start))
    } else {
        format!(
            "starting between {} and {}",
            short(e.earliest_start),
            short(e.latest_start)
        )
    };
    format!(
        "{} cpus, {} GB, {gpus} for {length}, {when}",
        e.cpus, e.memory
    )
}

/// What makes two notices about one entry "the same" for the rate limit: ids are reused
/// once the list empties, the time it joined and its window are not.
fn notice_key(e: &Entry) -> String {
    format!(
        "waitlist #{} joined {} from {}",
        e.id,
        hostinfo::schedule::format_time(e.joined),
        hostinfo::schedule::format_time(e.earliest_start)
    )
}

/// The notice to `e`'s user that it joined the waitlist.
pub fn joined_notice(e: &Entry, now: NaiveDateTime) -> Notice {
    Notice::new(
        now,
        Recipient::User(e.user_id.clone()),
        Kind::WaitlistJoined,
        notice_key(e),
        &format!("You joined the waitlist as #{}: {}.", e.id, describe(e)),
    )
}

fn gpu_text(gpus: &GpuSet) -> String {
    match gpus.ids() {
        [] => String::new(),
        ids => format!(
            ", GPU {}",
            ids.iter()
                .map(u32::to_string)
                .collect::<Vec<_>>()
                .join(", ")
        ),
    }
}

/// What [`serve_and_write`] did.
#[derive(Debug, Default)]
pub struct Outcome {
    /// The entries booked, with their rows, in join order.
    pub booked: Vec<(Entry, Row)>,
    /// The entries whose latest start passed.
    pub expired: Vec<Entry>,
    /// How many still wait.
    pub waiting: usize,
    /// For `jobs/monitor.log`: one line per entry booked or expired.
    pub lines: Vec<LogLine>,
}

/// Serves the waitlist under the exclusive lock the caller holds — `booking` right after a
/// cancel or a shortening (the booking that frees capacity serves the waitlist in the same
/// lock), the monitor on every tick: reads both schedules and the waitlist, books every
/// entry that fits ([`serve`]), and writes. The waitlist is rewritten before the rows are
/// appended, so a crash between the two drops an entry rather than booking it twice. A
/// booked row that starts in the current slot asks the monitor for a tick; each entry
/// booked or expired gets a notice. Writes nothing when nothing was booked or expired.
pub fn serve_and_write(
    root: &Root,
    lock: &ExclusiveLock,
    config: &Config,
    now: NaiveDateTime,
) -> Result<Outcome, crate::Error> {
    let entries = root.read_waitlist(lock)?;
    if entries.is_empty() {
        return Ok(Outcome::default());
    }
    let booking = root.read_schedule_strict(Table::Booking, lock)?.rows;
    let using = root.read_schedule_strict(Table::Using, lock)?.rows;
    let rows: Vec<Row> = using.into_iter().chain(booking).collect();
    let served = serve(config, &rows, entries, floor_slot(now));
    let mut outcome = Outcome {
        waiting: served.waiting.len(),
        ..Outcome::default()
    };
    if served.booked.is_empty() && served.expired.is_empty() {
        return Ok(outcome);
    }
    root.write_waitlist(&served.waiting, lock)?;
    let new_rows: Vec<Row> = served.booked.iter().map(|(_, r)| r.clone()).collect();
    if !new_rows.is_empty() {
        root.add_rows(LiveTable::Booking, &new_rows, lock)?;
    }
    // On a cluster every new booking asks for a tick: the monitor mirrors it into Slurm.
    if config.cluster.is_some() || new_rows.iter().any(|r| r.start <= now) {
        root.push_request(&MonitorRequest::Now, lock)?;
    }
    let mut notices = Vec::new();
    for (e, row) in &served.booked {
        let what = format!(
            "{} to {}{}",
            short(row.start),
            short(row.end),
            gpu_text(&row.gpus)
        );
        outcome.lines.push(LogLine::info(
            now,
            format!(
                "{}'s waitlist entry #{} was booked: {what}.",
                e.user_id, e.id
            ),
        ));
        notices.push(Notice::new(
            now,
            Recipient::User(e.user_id.clone()),
            Kind::WaitlistBooked,
            notice_key(e),
            &format!(
                "Your waitlist entry #{} was booked: {} cpus, {} GB from {what}, port {}.",
                e.id, row.cpus, row.memory, row.forward_port
            ),
        ));
    }
    for e in &served.expired {
        outcome.lines.push(LogLine::info(
            now,
            format!(
                "{}'s waitlist entry #{} expired: its latest start {} passed.",
                e.user_id,
                e.id,
                short(e.latest_start)
            ),
        ));
        notices.push(Notice::new(
            now,
            Recipient::User(e.user_id.clone()),
            Kind::WaitlistExpired,
            notice_key(e),
            &format!(
                "Your waitlist entry #{} expired: no room for {} by its latest start.",
                e.id,
                describe(e)
            ),
        ));
    }
    // Best effort: a notice that cannot be posted is a warning in the log, never an error.
    root.notify(&notices);
    outcome.booked = served.booked;
    outcome.expired = served.expired;
    Ok(outcome)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn t(s: &str) -> NaiveDateTime {
        NaiveDateTime::parse_from_str(s, "%Y-%m-%d %H:%M").unwrap()
    }

    #[test]
    fn an_entry_reads_as_what_it_asks_for_and_when() {
        let mut e = Entry {
            id: 3,
            joined: t("2026-11-21 15:47"),
            user_id: "bob".into(),
            cpus: 2.5,
            memory: 16,
            gpus: 2,
            minutes: 150,
            earliest_start: t("2026-11-24 10:00"),
            latest_start: t("2026-11-24 14:00"),
            forward_port: 10002,
            image: None,
            extra_command: None,
        };
        assert_eq!(
            describe(&e),
            "2.5 cpus, 16 GB, 2 GPUs for 2.5 hours, starting between 2026-11-24 10:00 and 2026-11-24 14:00"
        );
        e.gpus = 0;
        e.minutes = 60;
        e.latest_start = e.earliest_start;
        assert_eq!(
            describe(&e),
            "2.5 cpus, 16 GB, no GPU for 1 hour, starting at 2026-11-24 10:00"
        );
    }
}
