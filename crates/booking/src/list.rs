//! `booking -ls`: the booking and using rows sorted by start, who holds which GPU over
//! the next days, and what each group holds against its total (with `--user-id`: the user's
//! group and limits); `--json` for scripts. No login, so no password and no extra command.

use std::collections::HashMap;
use std::io;

use checker::limits::{explain, Explained, Explanation};
use checker::report::{row_states_with_jobs, RowState, State};
use checker::snapshot::TableRow;
use checker::timeline::Timeline;
use chrono::{Duration, NaiveDateTime};
use hostinfo::clock::slot;
use hostinfo::config::{CapabilityConfig, Total};
use hostinfo::schedule::{format_time, Row};
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
    /// With `--user-id`: the user's limits and where each came from.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub user: Option<UserLimits>,
    /// With `--user-id`: the user's group, when they are in one.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub group: Option<GroupUse>,
    /// Every group of the capability config, in file order (none: the key is left out).
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub groups: Vec<GroupUse>,
    /// On a cluster, the nodes in `cfg/cluster.yaml`'s order (left out on a single host).
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub nodes: Vec<checker::limits::NodeCapacity>,
}

/// One user's effective limits, as `checker limits USER` explains them.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct UserLimits {
    pub user_id: String,
    pub group: Option<String>,
    /// Why the user has an exception (`reason:` in `max_custom_capability`).
    pub reason: Option<String>,
    /// The per-booking maximums, then the policies (`value` null: no limit).
    pub limits: Vec<Explained>,
}

/// What a group's members hold together, now and at most over the next two weeks, beside
/// the group's `total` (a key left out is no group limit).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct GroupUse {
    pub name: String,
    pub members: Vec<String>,
    pub total: Total,
    pub now: Held,
    /// The most held at one instant from now to the end of the two weeks, per resource.
    pub peak: Peaks,
}

/// Amounts held at one instant.
#[derive(Debug, Clone, Copy, Default, PartialEq, Serialize, Deserialize)]
pub struct Held {
    pub cpus: f64,
    /// GB.
    pub memory: u64,
    pub gpus: u32,
}

#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct Peaks {
    pub cpus: Peak<f64>,
    pub memory: Peak<u64>,
    pub gpus: Peak<u32>,
}

/// The most held of one resource, and from when (the first instant it is reached; `null`
/// when nothing is held).
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct Peak<T> {
    pub amount: T,
    pub at: Option<String>,
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

/// Who holds one GPU over the next days. On a cluster `index` is a place in `node`'s plan:
/// Slurm binds the device when the booking's job starts.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct GpuHolders {
    pub index: u32,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub node: Option<String>,
    pub holders: Vec<Holder>,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Holder {
    pub user_id: String,
    pub start: String,
    pub end: String,
}

/// Reads the schedule under a shared lock; with `user_id` (as typed: matched like
/// `--user-id` everywhere, [`crate::ops::resolve_user`]), the user's limits and group too.
pub fn load(root: &Root, user_id: Option<&str>) -> Result<Listing, crate::Error> {
    let config = root.load_config()?;
    let user_id = user_id
        .map(|id| crate::ops::resolve_user(&config, id))
        .transpose()?;
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
    // The GPU ids Slurm bound, on a cluster; a record that cannot be read only hides them
    // (checker reports it).
    let jobs = match &config.cluster {
        Some(_) => root.read_slurm_jobs(&lock).unwrap_or_default(),
        None => Vec::new(),
    };
    drop(lock);
    rows.sort_by(|a, b| (a.row.start, &a.row.user_id).cmp(&(b.row.start, &b.row.user_id)));
    // Every booking that can start within the two weeks, the last slot included.
    let horizon = config.clock()?.current_slot() + Duration::days(GPU_DAYS) + slot();
    let cap = &config.capability;
    let groups = group_uses(cap, &rows, now, horizon);
    let (user, group) = match &user_id {
        None => (None, None),
        Some(id) => {
            let Explanation {
                user_id,
                group,
                reason,
                limits,
                ..
            } = explain(cap, id);
            let mine = group
                .as_ref()
                .and_then(|g| groups.iter().find(|u| &u.name == g).cloned());
            let user = UserLimits {
                user_id,
                group,
                reason,
                limits,
            };
            (Some(user), mine)
        }
    };
    // The machines whose GPUs are listed: the host, or each node with its own ids.
    let machines: Vec<(Option<&str>, u32)> = match &config.cluster {
        None => vec![(None, config.capability.max.gpus)],
        Some(cluster) => cluster
            .nodes
            .iter()
            .map(|(name, n)| (Some(name.as_str()), n.gpus))
            .collect(),
    };
    let gpus = machines
        .iter()
        .flat_map(|&(node, count)| (0..count).map(move |index| (node, index)))
        .map(|(node, index)| GpuHolders {
            index,
            node: node.map(str::to_string),
            holders: rows
                .iter()
                .filter(|tr| {
                    tr.row.gpus.contains(index)
                        && tr.row.overlaps(now, horizon)
                        && (node.is_none() || tr.row.node.as_deref() == node)
                })
                .map(|tr| Holder {
                    user_id: tr.row.user_id.clone(),
                    start: format_time(tr.row.start),
                    end: format_time(tr.row.end),
                })
                .collect(),
        })
        .collect();
    let nodes = checker::limits::node_capacities(config.cluster.as_ref());
    let rows = row_states_with_jobs(&rows, now, &jobs)
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
        user,
        group,
        groups,
        nodes,
    })
}

/// Each group's use: its members' rows swept into a timeline by checker's one capacity
/// arithmetic (the rows are split by group first, so all groups together cost one pass
/// and one sort of the rows).
fn group_uses(
    cap: &CapabilityConfig,
    rows: &[TableRow],
    now: NaiveDateTime,
    horizon: NaiveDateTime,
) -> Vec<GroupUse> {
    if cap.groups.0.is_empty() {
        return Vec::new();
    }
    // member → group, looked up once a row (the config's own index answers with the
    // group's name, which would need a second lookup here).
    let index: HashMap<&str, usize> = cap
        .groups
        .0
        .iter()
        .enumerate()
        .flat_map(|(i, (_, g))| g.members.iter().map(move |m| (m.as_str(), i)))
        .collect();
    let mut mine: Vec<Vec<&Row>> = vec![Vec::new(); cap.groups.0.len()];
    for tr in rows {
        if let Some(&i) = index.get(tr.row.user_id.as_str()) {
            mine[i].push(&tr.row);
        }
    }
    cap.groups
        .0
        .iter()
        .zip(mine)
        .map(|((name, g), rows)| {
            let t = Timeline::build(rows);
            GroupUse {
                name: name.clone(),
                members: g.members.clone(),
                total: g.total,
                now: held_at(&t, now),
                peak: peaks(&t, now, horizon),
            }
        })
        .collect()
}

/// cpus as a person booked them: sums of decimals drift (0.1 + 0.2), and a drifted equal
/// peak would move its time.
fn tidy(cpus: f64) -> f64 {
    (cpus * 1e6).round() / 1e6
}

/// Use at the instant `at` (nothing before the first point or after the last).
fn held_at(t: &Timeline, at: NaiveDateTime) -> Held {
    match t.points.partition_point(|p| *p <= at).checked_sub(1) {
        None => Held::default(),
        Some(i) => Held {
            cpus: tidy(t.cpus[i]),
            memory: t.memory[i],
            gpus: t.gpus[i],
        },
    }
}

/// The most of each resource held at once over `[from, until)`, and the first instant
/// it is held.
fn peaks(t: &Timeline, from: NaiveDateTime, until: NaiveDateTime) -> Peaks {
    fn raise<T: PartialOrd + Copy>(p: &mut Peak<T>, amount: T, at: NaiveDateTime) {
        if amount > p.amount {
            *p = Peak {
                amount,
                at: Some(format_time(at)),
            };
        }
    }
    let mut out = Peaks::default();
    for i in t.steps_within(from, until) {
        let at = t.points[i].max(from);
        raise(&mut out.cpus, tidy(t.cpus[i]), at);
        raise(&mut out.memory, t.memory[i], at);
        raise(&mut out.gpus, t.gpus[i], at);
    }
    out
}

/// `1,3`: GPU ids as Slurm bound them.
fn gpu_ids(ids: &[u32]) -> String {
    ids.iter().map(u32::to_string).collect::<Vec<_>>().join(",")
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
    let cluster = !listing.nodes.is_empty();
    if listing.rows.is_empty() {
        writeln!(out, "  nothing booked")?;
    } else {
        if cluster {
            writeln!(
                out,
                "  {:<16} {:<16} {:<16} {:>6} {:>6} {:<10} {:>5}  {:<12} STATE",
                "USER", "START", "END", "CPUS", "MEM", "GPUS", "PORT", "NODE"
            )?;
        } else {
            writeln!(
                out,
                "  {:<16} {:<16} {:<16} {:>6} {:>6} {:<10} {:>5}  STATE",
                "USER", "START", "END", "CPUS", "MEM", "GPUS", "PORT"
            )?;
        }
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
            if cluster {
                // The row's ids are places in the node's plan: until Slurm binds devices
                // only the count means anything to the student.
                let _ = match &r.bound_gpus {
                    Some(ids) => write!(line, "{} bound", gpu_ids(ids)),
                    None => write!(line, "{}", r.gpus.len()),
                };
            } else {
                let _ = write!(line, "{:?}", r.gpus);
            }
            let len = line.len() - at;
            line.extend(std::iter::repeat_n(' ', 10usize.saturating_sub(len) + 1));
            cell(&mut line, format_args!("{}", r.forward_port), 5);
            line.push(' ');
            if cluster {
                left(&mut line, r.node.as_deref().unwrap_or("-"), 12);
            }
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
    if cluster && !listing.rows.is_empty() {
        writeln!(
            out,
            "  GPUS: how many, until Slurm binds the devices when the booking starts; then their ids"
        )?;
    }
    writeln!(out, "GPUs over the next {GPU_DAYS} days")?;
    for g in &listing.gpus {
        // On a cluster a GPU is a node's; its number is a place in the node's plan.
        let name = match &g.node {
            Some(node) => format!("{node} GPU {}", g.index),
            None => format!("GPU {}", g.index),
        };
        if g.holders.is_empty() {
            writeln!(out, "  {name}: free")?;
            continue;
        }
        let held: Vec<String> = g
            .holders
            .iter()
            .map(|h| format!("{} {} to {}", h.user_id, short(&h.start), short(&h.end)))
            .collect();
        writeln!(out, "  {name}: {}", held.join(", "))?;
    }
    match &listing.user {
        Some(user) => {
            if let Some(g) = &listing.group {
                writeln!(out, "{}", group_line(g, &listing.now))?;
            }
            let explained = Explanation {
                version: listing.version,
                user_id: user.user_id.clone(),
                // Only an id in allow_userIDs is listed with its limits.
                allowed: true,
                group: user.group.clone(),
                reason: user.reason.clone(),
                limits: user.limits.clone(),
                nodes: Vec::new(),
            };
            write!(out, "Limits of {}", explained.to_text())?;
        }
        None if !listing.groups.is_empty() => write_group_table(&listing.groups, out)?,
        None => {}
    }
    Ok(())
}

/// `2 GPUs, 12 cpus, 48 GB`: the resources a group's `total` limits, GPUs first.
pub(crate) fn total_text(total: &Total) -> Option<String> {
    let parts: Vec<String> = [
        (Unit::Gpus, total.gpus.map(f64::from)),
        (Unit::Cpus, total.cpus),
        (Unit::Memory, total.memory),
    ]
    .into_iter()
    .filter_map(|(unit, n)| n.map(|n| amount(unit, n)))
    .collect();
    (!parts.is_empty()).then(|| parts.join(", "))
}

/// `1 GPU`, `4 GPUs`, `10 cpus`, `40 GB`.
fn amount(unit: Unit, n: f64) -> String {
    match unit {
        Unit::Gpus if n == 1.0 => "1 GPU".into(),
        Unit::Gpus => format!("{n} GPUs"),
        Unit::Cpus => format!("{n} cpus"),
        Unit::Memory => format!("{n} GB"),
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Unit {
    Gpus,
    Cpus,
    Memory,
}

/// One resource of a group, as the text says it.
#[derive(Debug, Clone, Copy)]
struct Resource<'g> {
    unit: Unit,
    total: Option<f64>,
    held: f64,
    peak: f64,
    /// When the peak is first reached; `None` when nothing is held.
    at: Option<&'g str>,
}

/// The group's three resources, GPUs first.
fn resources(g: &GroupUse) -> [Resource<'_>; 3] {
    [
        Resource {
            unit: Unit::Gpus,
            total: g.total.gpus.map(f64::from),
            held: f64::from(g.now.gpus),
            peak: f64::from(g.peak.gpus.amount),
            at: g.peak.gpus.at.as_deref(),
        },
        Resource {
            unit: Unit::Cpus,
            total: g.total.cpus,
            held: g.now.cpus,
            peak: g.peak.cpus.amount,
            at: g.peak.cpus.at.as_deref(),
        },
        Resource {
            unit: Unit::Memory,
            total: g.total.memory,
            held: g.now.memory as f64,
            peak: g.peak.memory.amount as f64,
            at: g.peak.memory.at.as_deref(),
        },
    ]
}

/// `2 of 4 GPUs`, or `2 GPUs` where the group has no total of them.
fn of_total(unit: Unit, held: f64, total: Option<f64>) -> String {
    match total {
        Some(t) => format!("{held} of {}", amount(unit, t)),
        None => amount(unit, held),
    }
}

/// The first members, then how many more: a members file may list a whole lab.
fn members(names: &[String]) -> String {
    const SHOWN: usize = 8;
    let mut text = names
        .iter()
        .take(SHOWN)
        .map(String::as_str)
        .collect::<Vec<_>>()
        .join(", ");
    if names.len() > SHOWN {
        text.push_str(&format!(" and {} more", names.len() - SHOWN));
    }
    if names.is_empty() {
        text.push_str("no members");
    }
    text
}

/// `Tue 11-24 10:00` from a schedule time.
fn day_and_time(t: &str) -> String {
    hostinfo::schedule::parse_time(t)
        .map(|t| t.format("%a %m-%d %H:%M").to_string())
        .unwrap_or_else(|_| short(t).to_string())
}

/// `Group phd (alice, bob): holds 2 of 4 GPUs, 10 of 32 cpus, 40 of 128 GB now; the most at
/// once over the next two weeks: 4 GPUs from Tue 11-24 10:00`. The peaks are those of the
/// resources the group has a total of (all three when it has none).
/// `now` is the listing's: a peak held already reads `from now`.
pub fn group_line(g: &GroupUse, now: &str) -> String {
    let all = resources(g);
    let held: Vec<String> = all
        .iter()
        .map(|r| of_total(r.unit, r.held, r.total))
        .collect();
    let limited = all.iter().any(|r| r.total.is_some());
    // Peaks reached at the same moment are said once: `2 GPUs, 8 cpus from Tue 10:00`.
    let mut at_once: Vec<(String, Vec<String>)> = Vec::new();
    for r in all.iter().filter(|r| !limited || r.total.is_some()) {
        let Some(at) = r.at else { continue };
        let when = if at <= now {
            "now".to_string()
        } else {
            day_and_time(at)
        };
        match at_once.last_mut() {
            Some((last, amounts)) if *last == when => amounts.push(amount(r.unit, r.peak)),
            _ => at_once.push((when, vec![amount(r.unit, r.peak)])),
        }
    }
    let peaks: Vec<String> = at_once
        .into_iter()
        .map(|(when, amounts)| format!("{} from {when}", amounts.join(", ")))
        .collect();
    let ahead = if peaks.is_empty() {
        "nothing booked over the next two weeks".to_string()
    } else {
        format!(
            "the most at once over the next two weeks: {}",
            peaks.join(", ")
        )
    };
    format!(
        "Group {} ({}): holds {} now; {ahead}",
        g.name,
        members(&g.members),
        held.join(", ")
    )
}

/// Each group's use now against its total, one line a group.
fn write_group_table(groups: &[GroupUse], out: &mut dyn WriteColor) -> io::Result<()> {
    writeln!(out, "Groups now, of their totals")?;
    writeln!(
        out,
        "  {:<16} {:>7}  {:<12} {:<14} MEM (GB)",
        "GROUP", "MEMBERS", "GPUS", "CPUS"
    )?;
    for g in groups {
        let cell = |r: Resource| match r.total {
            Some(t) => format!("{} of {t}", r.held),
            None => format!("{}", r.held),
        };
        let [gpus, cpus, memory] = resources(g).map(cell);
        writeln!(
            out,
            "  {:<16} {:>7}  {gpus:<12} {cpus:<14} {memory}",
            g.name,
            g.members.len()
        )?;
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;
    use hostinfo::schedule::{parse_time, GpuSet};

    fn t(s: &str) -> NaiveDateTime {
        parse_time(&format!("2026-11-{s}:00")).unwrap()
    }

    fn row(start: &str, end: &str, cpus: f64, gpus: Vec<u32>) -> Row {
        Row {
            start: t(start),
            end: t(end),
            user_id: "u".into(),
            cpus,
            memory: 4,
            gpus: GpuSet::new(gpus),
            forward_port: 10001,
            image: None,
            extra_command: None,
            node: None,
        }
    }

    fn group(members: usize, total: Total, now: Held, peak: Peaks) -> GroupUse {
        GroupUse {
            name: "phd".into(),
            members: (0..members).map(|i| format!("s{i}")).collect(),
            total,
            now,
            peak,
        }
    }

    #[test]
    fn use_now_and_the_peak_ahead_come_from_the_half_open_rows() {
        let rows = [
            row("21 09:00", "21 18:00", 0.1, vec![0]),
            row("21 12:00", "22 10:00", 0.2, vec![1]),
            // Ends where the next starts: never counted together.
            row("23 08:00", "23 10:00", 2.0, vec![0, 1]),
            row("23 10:00", "23 12:00", 2.0, vec![0, 1]),
            row("24 09:00", "24 10:00", 1.0, vec![]),
        ];
        let timeline = Timeline::build(&rows);
        let now = t("21 15:47");
        let held = held_at(&timeline, now);
        assert_eq!((held.cpus, held.memory, held.gpus), (0.3, 8, 2));
        let peaks = peaks(&timeline, now, t("24 09:30"));
        assert_eq!(peaks.gpus.amount, 2);
        assert_eq!(peaks.gpus.at.as_deref(), Some("2026-11-21 15:47:00"));
        assert_eq!(peaks.cpus.amount, 2.0);
        assert_eq!(peaks.cpus.at.as_deref(), Some("2026-11-23 08:00:00"));
        // Nothing of the window: no peak, no time.
        let none = super::peaks(&timeline, t("25 00:00"), t("26 00:00"));
        assert_eq!(none, Peaks::default());
    }

    #[test]
    fn a_group_line_says_what_is_held_of_each_total_and_when_the_most_is() {
        let peak = Peaks {
            cpus: Peak {
                amount: 24.0,
                at: Some("2026-11-24 10:00:00".into()),
            },
            memory: Peak {
                amount: 40,
                at: Some("2026-11-21 15:47:00".into()),
            },
            gpus: Peak {
                amount: 4,
                at: Some("2026-11-24 10:00:00".into()),
            },
        };
        let now = Held {
            cpus: 10.0,
            memory: 40,
            gpus: 1,
        };
        let total = Total {
            cpus: Some(32.0),
            memory: None,
            gpus: Some(4),
        };
        assert_eq!(
            group_line(&group(2, total, now, peak.clone()), "2026-11-21 15:47:00"),
            "Group phd (s0, s1): holds 1 of 4 GPUs, 10 of 32 cpus, 40 GB now; the most at once over the next two weeks: 4 GPUs, 24 cpus from Tue 11-24 10:00"
        );
        // No total at all: every peak is said; one reached now says so.
        assert_eq!(
            group_line(&group(10, Total::default(), now, peak), "2026-11-21 15:47:00"),
            "Group phd (s0, s1, s2, s3, s4, s5, s6, s7 and 2 more): holds 1 GPU, 10 cpus, 40 GB now; the most at once over the next two weeks: 4 GPUs, 24 cpus from Tue 11-24 10:00, 40 GB from now"
        );
        assert_eq!(
            group_line(
                &group(0, total, Held::default(), Peaks::default()),
                "2026-11-21 15:47:00"
            ),
            "Group phd (no members): holds 0 of 4 GPUs, 0 of 32 cpus, 0 GB now; nothing booked over the next two weeks"
        );
    }
}
