//! `booking -ls`: the booking and using rows sorted by start, and who holds which GPU over
//! the next days; `--json` for scripts. No login, so no password and no extra command.

use std::io;

use checker::report::{row_states, RowState};
use chrono::Duration;
use hostinfo::schedule::format_time;
use hostinfo::Root;
use serde::{Deserialize, Serialize};
use termcolor::WriteColor;

/// How far ahead the GPU timeline looks.
pub const GPU_DAYS: i64 = 7;

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Listing {
    pub version: u32,
    pub now: String,
    pub timezone: String,
    pub rows: Vec<RowState>,
    pub gpus: Vec<GpuHolders>,
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
    drop(lock);
    rows.sort_by(|a, b| (a.row.start, &a.row.user_id).cmp(&(b.row.start, &b.row.user_id)));
    let horizon = now + Duration::days(GPU_DAYS);
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
    let mut rows = row_states(&rows, now);
    // The listing asks for no login, so it cannot tell whose extra commands the reader may
    // see: people put tokens there. None is shown.
    for row in &mut rows {
        row.extra_command = None;
    }
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
        for r in &listing.rows {
            writeln!(
                out,
                "  {:<16} {:<16} {:<16} {:>6} {:>6} {:<10} {:>5}  {}",
                r.user_id,
                short(&r.start),
                short(&r.end),
                r.cpus,
                r.memory,
                format!("{:?}", r.gpus),
                r.forward_port,
                format!("{:?}", r.state).to_lowercase()
            )?;
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
