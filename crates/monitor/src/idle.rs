//! Idle-GPU reclaim (docs/operations.md, Idle GPUs): after each sampling, a running booking
//! whose booked GPUs sat idle for its policy's timeout is warned, then ended at the next slot.
//!
//! Stateless between runs: how long a booking has been idle is read back from the usage
//! samples each time (`checker::idle`, which the dashboard shares), and whether a warning
//! was given from the notices outbox (its key).

use std::path::Path;

use checker::idle::{idle_run, IdlePolicy};
use chrono::{Duration, NaiveDateTime, TimeZone};
use hostinfo::clock::floor_slot;
use hostinfo::groups::IdleReclaim;
use hostinfo::log::{LogLine, Sign};
use hostinfo::notices::{Kind, Notice, Recipient};
use hostinfo::schedule::Row;
use hostinfo::{Config, LiveTable, Root, Table};

use crate::Error;

/// How long a keep-alive file keeps a booking, from its mtime.
pub const KEEP_ALIVE_HOURS: i64 = 24;

/// The keep-alive file, relative to the student's work folder (`/root/Work` in the container).
pub const KEEP_ALIVE: &str = ".aivc/keep-alive";

/// What one check did; `lines` were appended to `jobs/monitor.log`.
#[derive(Debug, Default, Clone, PartialEq)]
pub struct Report {
    /// `user 80` / `user 95`: the warnings posted.
    pub warned: Vec<String>,
    /// The users whose booking was reclaimed.
    pub reclaimed: Vec<String>,
    /// Idle past the timeout, but nobody could use the GPUs (`when_needed`): left running.
    pub idle_not_needed: Vec<String>,
    /// Idle, but kept by a keep-alive file.
    pub kept_alive: Vec<String>,
    pub lines: Vec<LogLine>,
}

/// Whether `work/.aivc/keep-alive` is a regular file whose mtime lies within the last
/// [`KEEP_ALIVE_HOURS`] (and not in the future). Read through userfs: no link is followed
/// and nothing is opened for I/O, so the student can neither point it at a host file nor
/// make the check block.
pub fn kept_alive(config: &Config, work: &Path, now: NaiveDateTime) -> bool {
    let Ok(dir) = userfs::Dir::open(work).and_then(|d| d.open_dir(Path::new(".aivc"))) else {
        return false;
    };
    let Ok((_, st)) = dir.open_regular(std::ffi::OsStr::new("keep-alive")) else {
        return false;
    };
    let Some(at) = chrono::DateTime::from_timestamp(st.st_mtime, 0) else {
        return false;
    };
    let mtime = config.zone.from_utc_datetime(&at.naive_utc()).naive_local();
    // A few minutes ahead is a clock's skew; further is an mtime set to last forever.
    mtime <= now + Duration::minutes(5) && now - mtime < Duration::hours(KEEP_ALIVE_HOURS)
}

/// Whether a waitlist entry asking for GPUs fits if `row` ended at `at` and not otherwise,
/// by the waitlist's own rules ([`checker::waitlist::serve`]).
fn someone_waits(
    config: &Config,
    rows: &[Row],
    waitlist: &[hostinfo::waitlist::Entry],
    row: &Row,
    at: NaiveDateTime,
    now_slot: NaiveDateTime,
) -> bool {
    if !waitlist.iter().any(|e| e.gpus > 0) {
        return false;
    }
    let before = checker::waitlist::serve(config, rows, waitlist.to_vec(), now_slot);
    let ended: Vec<Row> = rows
        .iter()
        .map(|r| {
            let mut r = r.clone();
            if r.user_id == row.user_id && r.start == row.start {
                r.end = at;
            }
            r
        })
        .collect();
    let after = checker::waitlist::serve(config, &ended, waitlist.to_vec(), now_slot);
    after
        .booked
        .iter()
        .any(|(e, _)| e.gpus > 0 && !before.booked.iter().any(|(b, _)| b.id == e.id))
}

fn minute(t: NaiveDateTime) -> String {
    t.format("%a %Y-%m-%d %H:%M").to_string()
}

fn gpu_list(row: &Row) -> String {
    let ids: Vec<String> = row.gpus.ids().iter().map(u32::to_string).collect();
    format!("GPU {}", ids.join(", "))
}

/// The notice key of a warning: once per booking and idle run.
fn warning_key(mark: u32, row: &Row, since: NaiveDateTime) -> String {
    format!(
        "idle{mark}:{}:{}:{}",
        row.user_id,
        hostinfo::schedule::format_time(row.start),
        hostinfo::schedule::format_time(since)
    )
}

/// Runs the check at `now` (right after a sampling): warns, reclaims, reports.
pub fn check(root: &Root, now: NaiveDateTime) -> Result<Report, Error> {
    let config = root.load_config()?;
    let mut report = Report::default();
    let lock = root.lock_shared()?;
    let using = root.read_schedule(Table::Using, &lock)?.rows;
    drop(lock);
    let next_slot = floor_slot(now) + hostinfo::clock::slot();
    let candidates: Vec<(Row, IdlePolicy)> = using
        .iter()
        .filter(|r| r.start <= now && now < r.end && !r.gpus.is_empty())
        // A booking ending at the next slot anyway has nothing to give back.
        .filter(|r| r.end > next_slot)
        .filter_map(|r| {
            let p = checker::limits::user_policies(&config.capability, &r.user_id);
            IdlePolicy::of(&p).map(|p| (r.clone(), p))
        })
        .filter(|(r, p)| now >= r.start + p.grace)
        .collect();
    if candidates.is_empty() {
        return Ok(report);
    }
    // A run reaching this far back is long known: warned about before, or reported.
    let horizon = |r: &Row, p: &IdlePolicy| r.start.max(now - p.timeout - Duration::hours(24));
    let since = candidates
        .iter()
        .map(|(r, p)| horizon(r, p))
        .min()
        .unwrap_or(now);
    let samples = root.read_usage_since(since, now)?;
    let outbox = root.read_notices().unwrap_or_default();
    let warned = |key: &str| {
        outbox
            .iter()
            .any(|n| n.kind == Kind::IdleWarning && n.key == key)
    };
    let mut notices = Vec::new();
    for (row, policy) in &candidates {
        let id = &row.user_id;
        let Some((idle_since, newest, before_newest)) = idle_run(&samples, row, policy, now) else {
            continue;
        };
        let idle_for = newest - idle_since;
        let fraction = idle_for.num_seconds() as f64 / policy.timeout.num_seconds() as f64;
        if fraction < 0.8 {
            continue;
        }
        let minutes = idle_for.num_minutes();
        if kept_alive(&config, &config.user_folders(root, id).work, now) {
            report.kept_alive.push(id.clone());
            continue;
        }
        let long_known = idle_since <= horizon(row, policy) && idle_since > row.start;
        let mark = if fraction >= 0.95 { 95 } else { 80 };
        let key = warning_key(mark, row, idle_since);
        let due_warning = !long_known && !warned(&key);
        if fraction < 1.0 || due_warning {
            // At the timeout without the last warning (a sampler that was down): warn now,
            // reclaim at a later check, never without a warning first.
            if due_warning {
                let when = match policy.mode {
                    IdleReclaim::Always => "it will be ended at the next half hour",
                    _ => "it may be ended at the next half hour if someone waits for GPUs",
                };
                notices.push(Notice::new(
                    now,
                    Recipient::User(id.clone()),
                    Kind::IdleWarning,
                    key,
                    &format!(
                        "Your booking's {} have been idle for {minutes} minutes (under {} % use, GPU memory unchanged, CPU under {} %). After {} minutes idle {when}. To keep it: use the GPUs, or touch /root/Work/{KEEP_ALIVE} (honoured for {KEEP_ALIVE_HOURS} hours).",
                        gpu_list(row),
                        policy.gpu_util_percent,
                        policy.cpu_percent,
                        policy.timeout.num_minutes(),
                    ),
                ));
                report.warned.push(format!("{id} {mark}"));
                report.lines.push(LogLine::warning(
                    now,
                    Sign::IdleWarning,
                    format!(
                        "{id}'s booking from {} has had idle GPUs for {minutes} of {} minutes ({mark} % warning).",
                        short(row.start),
                        policy.timeout.num_minutes()
                    ),
                ));
            }
            continue;
        }
        let needed = policy.mode == IdleReclaim::Always || {
            let lock = root.lock_shared()?;
            let waitlist = root.read_waitlist(&lock).unwrap_or_default();
            let booking = root.read_schedule(Table::Booking, &lock)?.rows;
            drop(lock);
            let rows: Vec<Row> = using.iter().cloned().chain(booking).collect();
            someone_waits(&config, &rows, &waitlist, row, next_slot, floor_slot(now))
        };
        if !needed {
            report.idle_not_needed.push(id.clone());
            // Logged once: at the first check past the timeout.
            let first = before_newest.is_none_or(|b| b - idle_since < policy.timeout);
            if first {
                report.lines.push(LogLine::warning(
                    now,
                    Sign::IdleWarning,
                    format!(
                        "{id}'s booking from {} has had idle GPUs for {minutes} minutes, past its {}-minute timeout; nobody waits for GPUs, so it keeps running.",
                        short(row.start),
                        policy.timeout.num_minutes()
                    ),
                ));
            }
            continue;
        }
        let lines = reclaim(root, &config, row, next_slot, now, minutes)?;
        if !lines.is_empty() {
            report.reclaimed.push(id.clone());
            report.lines.extend(lines);
            notices.push(Notice::new(
                now,
                Recipient::User(id.clone()),
                Kind::IdleReclaimed,
                format!(
                    "reclaimed:{id}:{}",
                    hostinfo::schedule::format_time(row.start)
                ),
                &format!(
                    "Your booking's {} were idle for {minutes} minutes: it now ends at {} (it was to end {}). Your work folder stays; the container is removed then.",
                    gpu_list(row),
                    minute(next_slot),
                    minute(row.end)
                ),
            ));
        }
    }
    for line in &report.lines {
        root.append_log(line)?;
    }
    root.notify(&notices);
    Ok(report)
}

fn short(t: NaiveDateTime) -> String {
    t.format("%Y-%m-%d %H:%M").to_string()
}

/// Under the exclusive lock, moves `row`'s end (as using.csv has it now) to `at`, then
/// serves the waitlist in the same lock, as a shortened booking does. Returns the lines to
/// log (the reclaim's, then the waitlist's); none when the row is gone or ends by then.
fn reclaim(
    root: &Root,
    config: &Config,
    row: &Row,
    at: NaiveDateTime,
    now: NaiveDateTime,
    minutes: i64,
) -> Result<Vec<LogLine>, Error> {
    let lock = root.lock_exclusive("monitor (idle reclaim)")?;
    let mut using = root.read_schedule_strict(Table::Using, &lock)?.rows;
    let Some(r) = using
        .iter_mut()
        .find(|r| r.user_id == row.user_id && r.start == row.start && r.end > at)
    else {
        return Ok(Vec::new());
    };
    let was = r.end;
    r.end = at;
    root.write_schedule(LiveTable::Using, &using, &lock)?;
    let mut lines = vec![LogLine::warning(
        now,
        Sign::IdleReclaim,
        format!(
            "{}'s booking from {} had idle GPUs for {minutes} minutes: it now ends at {} (was {}).",
            row.user_id,
            short(row.start),
            short(at),
            short(was)
        ),
    )];
    match checker::waitlist::serve_and_write(root, &lock, config, now) {
        Ok(outcome) => lines.extend(outcome.lines),
        Err(e) => lines.push(LogLine::error(
            now,
            Sign::UpdateError,
            format!("the waitlist was not served after an idle reclaim: {e}"),
        )),
    }
    Ok(lines)
}
