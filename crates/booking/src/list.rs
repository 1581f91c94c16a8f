//! `booking -ls`: the booking and using rows sorted by start, and who holds which GPU over
//! the next days; `--json` for scripts. No login, so no password and no extra command.

use std::io;

use checker::report::{row_states, RowState, State};
use chrono::Duration;
use hostinfo::clock::slot;
use hostinfo::schedule::format_time;
use hostinfo::{Root, StartFailure};
use serde::{Deserialize, Serialize};
use termcolor::WriteColor;

/// How far ahead the GPU timeline looks: as far as a booking may start, two weeks.
pub const GPU_DAYS: i64 = hostinfo::clock::HORIZON_DAYS;

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Listing {
    pub version: u32,
    pub now: String,
    pub timezone: String,
    pub rows: Vec<ListedRow>,
    pub gpus: Vec<GpuHolders>,
}

/// A row as `checker` sees it, and why it waits when its start is due but the monitor holds
/// it back (`over the disk quota: work 12 of 10 GB`, from `jobs/start-failures.csv`).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct ListedRow {
    #[serde(flatten)]
    pub row: RowState,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub waiting_reason: Option<String>,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct GpuHolders {
    pub index: u32,
    pub holders: Vec<Holder>,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Holder {
    pub user_id: String,
    pub start: String,
    pub end: String,
}

/// Reads the schedule under a shared lock.
pub fn load(root: &Root) -> Result<Listing, crate::Error> {
    let config = root.load_config()?;
    let now = config.clock()?.now();
    let lock = root.lock_shared()?;
    let mut rows = checker::snapshot::read_rows(root, &lock)?;
    // Only the quota waits are shown: docker's reasons are for the admin. A record that
    // cannot be read hides nothing else; checker reports it.
    let waits: Vec<StartFailure> = root
        .read_start_failures(&lock)
        .unwrap_or_default()
        .into_iter()
        .filter(StartFailure::is_quota_wait)
        .collect();
    drop(lock);
    rows.sort_by(|a, b| (a.row.start, &a.row.user_id).cmp(&(b.row.start, &b.row.user_id)));
    // Every booking that can start within the two weeks, the last slot included.
    let horizon = config.clock()?.current_slot() + Duration::days(GPU_DAYS) + slot();
    let gpus = (0..config.capability.max.gpus)
        .map(|index| GpuHolders {
            index,
            holders: rows
                .iter()
                .filter(|tr| tr.row.gpus.contains(index) && tr.row.overlaps(now, horizon))
                .map(|tr| Holder {
                    user_id: tr.row.user_id.clone(),
                    start: format_time(tr.row.start),
                    end: format_time(tr.row.end),
                })
                .collect(),
        })
        .collect();
    let rows = row_states(&rows, now)
        .into_iter()
        .map(|mut row| {
            // The listing asks for no login, so it cannot tell whose extra commands the
            // reader may see: people put tokens there. None is shown.
            row.extra_command = None;
            let waiting_reason = match row.state {
                State::Due => waits
                    .iter()
                    .find(|w| w.user_id == row.user_id && format_time(w.start) == row.start)
                    .map(|w| w.reason.clone()),
                _ => None,
            };
            ListedRow {
                row,
                waiting_reason,
            }
        })
        .collect();
    Ok(Listing {
        version: 1,
        now: format_time(now),
        timezone: config.zone.name().to_string(),
        rows,
        gpus,
    })
}

fn short(t: &str) -> &str {
    t.get(..16).unwrap_or(t)
}

/// `text` and spaces up to `width` characters, then the column's space.
fn left(line: &mut String, text: &str, width: usize) {
    line.push_str(text);
    let n = text.chars().count();
    line.extend(std::iter::repeat_n(' ', width.saturating_sub(n) + 1));
}

fn state_name(state: State) -> &'static str {
    match state {
        State::Waiting => "waiting",
        State::Due => "due",
        State::Missed => "missed",
        State::Running => "running",
        State::Ended => "ended",
    }
}

/// The readable table and GPU timeline.
pub fn write(listing: &Listing, out: &mut dyn WriteColor) -> io::Result<()> {
    writeln!(
        out,
        "Schedule at {} ({})",
        short(&listing.now),
        listing.timezone
    )?;
    if listing.rows.is_empty() {
        writeln!(out, "  nothing booked")?;
    } else {
        writeln!(
            out,
            "  {:<16} {:<16} {:<16} {:>6} {:>6} {:<10} {:>5}  STATE",
            "USER", "START", "END", "CPUS", "MEM", "GPUS", "PORT"
        )?;
        // Each line is put together by hand in one reused String and written with one call:
        // padding through `format!` cost more than reading the schedule at 10,000 rows.
        let mut line = String::with_capacity(160);
        for ListedRow {
            row: r,
            waiting_reason,
        } in &listing.rows
        {
            use std::fmt::Write as _;
            line.clear();
            line.push_str("  ");
            left(&mut line, &r.user_id, 16);
            left(&mut line, short(&r.start), 16);
            left(&mut line, short(&r.end), 16);
            let cell = |line: &mut String, value: std::fmt::Arguments, width| {
                let at = line.len();
                let _ = line.write_fmt(value);
                let len = line.len() - at;
                // Right-aligned: the spaces go before the value.
                if len < width {
                    line.insert_str(at, &" ".repeat(width - len));
                }
                line.push(' ');
            };
            // Whole cpus (the usual case) print as integers, the way `{}` prints them, but
            // without the float formatter.
            if r.cpus.fract() == 0.0 && (0.0..1e15).contains(&r.cpus) {
                cell(&mut line, format_args!("{}", r.cpus as u64), 6);
            } else {
                cell(&mut line, format_args!("{}", r.cpus), 6);
            }
            cell(&mut line, format_args!("{}", r.memory), 6);
            let at = line.len();
            let _ = write!(line, "{:?}", r.gpus);
            let len = line.len() - at;
            line.extend(std::iter::repeat_n(' ', 10usize.saturating_sub(len) + 1));
            cell(&mut line, format_args!("{}", r.forward_port), 5);
            line.push(' ');
            match waiting_reason {
                Some(why) => {
                    line.push_str("waiting: ");
                    line.push_str(why);
                }
                None => line.push_str(state_name(r.state)),
            }
            line.push('\n');
            out.write_all(line.as_bytes())?;
        }
    }
    writeln!(out, "GPUs over the next {GPU_DAYS} days")?;
    for g in &listing.gpus {
        if g.holders.is_empty() {
            writeln!(out, "  GPU {}: free", g.index)?;
            continue;
        }
        let held: Vec<String> = g
            .holders
            .iter()
            .map(|h| format!("{} {} to {}", h.user_id, short(&h.start), short(&h.end)))
            .collect();
        writeln!(out, "  GPU {}: {}", g.index, held.join(", "))?;
    }
    Ok(())
}
