//! The student's side of the waitlist (docs/user-guide.md, The waitlist), for the CLI and the
//! web alike: joining it when a booking is refused for capacity, listing one's entries,
//! leaving one. The rules and the serving are checker's ([`checker::waitlist`]); every change
//! here is under the exclusive lock.

use checker::policies::{days_ahead, Broken};
use checker::{Refusal, Request};
use chrono::NaiveDateTime;
use hostinfo::clock::{horizon, is_on_grid, Clock, TimeError};
use hostinfo::exec::Request as MonitorRequest;
use hostinfo::lock::ExclusiveLock;
use hostinfo::log::LogLine;
use hostinfo::schedule::{format_time, Row};
use hostinfo::waitlist::Entry;
use hostinfo::{Config, LiveTable, Root};

use crate::Error;

fn short(t: NaiveDateTime) -> String {
    t.format("%Y-%m-%d %H:%M").to_string()
}

/// Whether `latest` can close a window of acceptable starts that opens at `start`: on the
/// grid, not before `start`, and no later than the user may book a start now (their
/// `max_days_ahead`, at most the two-week horizon).
pub fn check_latest(
    config: &Config,
    clock: &Clock,
    user_id: &str,
    start: NaiveDateTime,
    latest: NaiveDateTime,
) -> Result<(), Error> {
    if !is_on_grid(latest) {
        return Err(TimeError::OffGrid(short(latest)).into());
    }
    if latest < start {
        return Err(Error::Usage(format!(
            "the latest start {} is before the start {}",
            short(latest),
            short(start)
        )));
    }
    let now_slot = clock.current_slot();
    if latest > now_slot + horizon() {
        return Err(TimeError::StartTooFar {
            start: format_time(latest),
        }
        .into());
    }
    let cap = &config.capability;
    let policies = checker::limits::user_policies(cap, user_id);
    if let Some(days) = policies.max_days_ahead {
        let last = now_slot + days_ahead(&policies);
        if latest > last {
            return Err(Refusal::Policy {
                broken: Broken::TooFarAhead {
                    start: latest,
                    latest: last,
                    days,
                    from: checker::limits::source_text(cap, user_id, "max_days_ahead"),
                },
            }
            .into());
        }
    }
    Ok(())
}

/// Whether a request refused with `refusal` could join the waitlist: refused for capacity,
/// and not larger than a scope it draws on could ever hold. The interactive flow asks its
/// question only then.
pub fn could_wait(config: &Config, request: &Request, refusal: &Refusal) -> bool {
    checker::waitlist::may_wait(config, request, refusal).is_ok()
}

/// What joining did.
#[derive(Debug, Clone, PartialEq)]
pub enum Joined {
    /// A later start within the window fits already: booked there instead.
    Booked(Row),
    /// On the waitlist.
    Waiting(Entry),
}

/// Under `lock` (held by [`crate::ops::book_or_wait`] since its check): `request`, refused
/// with `refusal`, joins the waitlist with starts from its own to `latest` — when it may
/// wait ([`checker::waitlist::may_wait`]) and the user has room under their
/// `max_waitlist_entries`. A window that fits at a later start already is booked there.
/// On a cluster an entry waits for any node, whichever node the request named: it keeps
/// no node and is booked on the first node that fits.
/// `rows` are the `using` and `booking` rows.
#[allow(clippy::too_many_arguments)]
pub(crate) fn join(
    root: &Root,
    lock: &ExclusiveLock,
    config: &Config,
    clock: &Clock,
    rows: &[Row],
    request: &Request,
    extra_command: Option<String>,
    latest: NaiveDateTime,
    refusal: Refusal,
) -> Result<Joined, Error> {
    checker::waitlist::may_wait(config, request, &refusal)?;
    let mut entries = root.read_waitlist(lock)?;
    checker::waitlist::has_room(config, &entries, &request.user_id)?;
    let now = clock.now();
    let entry = Entry {
        id: Entry::next_id(&entries),
        joined: now,
        user_id: request.user_id.clone(),
        cpus: request.cpus,
        memory: request.memory,
        gpus: request.gpus,
        minutes: u32::try_from((request.end - request.start).num_minutes()).unwrap_or(u32::MAX),
        earliest_start: request.start,
        latest_start: latest,
        forward_port: request.forward_port,
        image: request.image.clone(),
        extra_command,
    };
    if latest > request.start {
        // The window's later starts, served as the entry would be: the first that fits.
        let served =
            checker::waitlist::serve(config, rows, vec![entry.clone()], clock.current_slot());
        if let Some((_, row)) = served.booked.into_iter().next() {
            root.add_rows(LiveTable::Booking, std::slice::from_ref(&row), lock)?;
            if row.start <= now || config.cluster.is_some() {
                root.push_request(&MonitorRequest::Now, lock)?;
            }
            return Ok(Joined::Booked(row));
        }
    }
    entries.push(entry.clone());
    root.write_waitlist(&entries, lock)?;
    let _ = root.append_log(&LogLine::info(
        now,
        format!(
            "{} joined the waitlist as #{}: {}.",
            entry.user_id,
            entry.id,
            checker::waitlist::describe(&entry)
        ),
    ));
    root.notify(&[checker::waitlist::joined_notice(&entry, now)]);
    Ok(Joined::Waiting(entry))
}

/// Serves the waitlist under `lock` after a change that freed capacity (a cancel, a
/// shortening), and logs what it booked or expired. The change is written already, so a
/// failure here is logged and left to the next tick rather than reported as the change's.
pub(crate) fn serve_after_change(
    root: &Root,
    lock: &ExclusiveLock,
    config: &Config,
    now: NaiveDateTime,
) {
    match checker::waitlist::serve_and_write(root, lock, config, now) {
        Ok(outcome) => {
            for line in &outcome.lines {
                let _ = root.append_log(line);
            }
        }
        Err(e) => {
            let _ = root.append_log(&LogLine::error(
                now,
                hostinfo::log::Sign::UpdateError,
                format!("the waitlist was not served (the next tick serves it): {e}"),
            ));
        }
    }
}

/// `id`'s waitlist entries, in join order.
pub fn entries_of(root: &Root, id: &str) -> Result<Vec<Entry>, Error> {
    let lock = root.lock_shared()?;
    let mut entries = root.read_waitlist(&lock)?;
    entries.retain(|e| e.user_id == id);
    Ok(entries)
}

/// Takes `id`'s entry `#number` off the waitlist.
pub fn leave(root: &Root, id: &str, number: u32) -> Result<Entry, Error> {
    let lock = root.lock_exclusive("booking")?;
    let now = root.load_config()?.clock()?.now();
    let mut entries = root.read_waitlist(&lock)?;
    let Some(i) = entries
        .iter()
        .position(|e| e.id == number && e.user_id == id)
    else {
        return Err(Error::Nothing(format!(
            "you have no waitlist entry #{number}; `booking --waitlist` lists yours"
        )));
    };
    let entry = entries.remove(i);
    root.write_waitlist(&entries, &lock)?;
    let _ = root.append_log(&LogLine::info(
        now,
        format!("{id} left the waitlist: #{number}."),
    ));
    Ok(entry)
}

/// What a student who joined the waitlist is told.
pub fn joined_text(entry: &Entry) -> String {
    format!(
        "Not booked now: joined the waitlist as #{}: {}. You are booked as soon as it fits; `booking --waitlist` lists your entries.",
        entry.id,
        checker::waitlist::describe(entry)
    )
}

/// The entries as a table for stdout, one line each after a header.
pub fn table(entries: &[Entry]) -> String {
    let mut out = format!(
        "{:<4} {:<16} {:>6} {:>6} {:>4} {:>6}  {:<16}  {:<16}\n",
        "ID", "JOINED", "CPUS", "MEM", "GPUS", "HOURS", "EARLIEST START", "LATEST START"
    );
    for e in entries {
        out.push_str(&format!(
            "{:<4} {:<16} {:>6} {:>6} {:>4} {:>6}  {:<16}  {:<16}\n",
            format!("#{}", e.id),
            short(e.joined),
            e.cpus,
            e.memory,
            e.gpus,
            f64::from(e.minutes) / 60.0,
            short(e.earliest_start),
            short(e.latest_start)
        ));
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    fn t(s: &str) -> NaiveDateTime {
        NaiveDateTime::parse_from_str(s, "%Y-%m-%d %H:%M").unwrap()
    }

    #[test]
    fn the_table_lists_each_entry_under_its_number() {
        let e = Entry {
            id: 7,
            joined: t("2026-11-21 15:47"),
            user_id: "bob".into(),
            cpus: 2.0,
            memory: 8,
            gpus: 1,
            minutes: 90,
            earliest_start: t("2026-11-22 10:00"),
            latest_start: t("2026-11-22 14:00"),
            forward_port: 10002,
            image: None,
            extra_command: None,
        };
        let text = table(&[e]);
        let lines: Vec<&str> = text.lines().collect();
        assert_eq!(lines.len(), 2);
        assert!(lines[0].starts_with("ID "));
        assert!(lines[1].starts_with("#7 "), "{text}");
        assert!(lines[1].contains("1.5"), "{text}");
        assert!(
            lines[1].contains("2026-11-22 10:00  2026-11-22 14:00"),
            "{text}"
        );
    }
}
