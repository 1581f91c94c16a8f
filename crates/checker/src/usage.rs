//! The usage report (`checker usage`, the dashboard's usage page): GPU-hours per user and
//! per group over the last N days, booked against actually used, from the schedule rows
//! and the GPU samples of `jobs/usage/` (docs/operations.md, "Usage reports").
//!
//! The rules, over the window `[now − days, now)`:
//!
//! - **Booked**: each row of `used.csv`, `using.csv` and `booking.csv` books the hours of
//!   its `[start, end)` inside the window times its GPU count (a booking never started was
//!   still booked; a shortened one counts as it ended).
//! - **Used**: each GPU sample stands for the time since the previous sample of that GPU,
//!   at most [`MAX_WEIGHT`] (a sampler that was off is no evidence of use); the first
//!   sample of a GPU in the window stands for [`FIRST_WEIGHT`], the sampling interval;
//!   neither reaches back before the window's start. When the GPU's utilisation at the
//!   sample is at least `busy_percent` (the lab's `idle_gpu_util_percent` policy, else
//!   [`hostinfo::groups::IDLE_GPU_UTIL_PERCENT`]), that time is used by the user whose row
//!   holds the GPU at the sample's time (`start <= t < end`, the GPU in its list), else it
//!   is unbooked use. An empty utilisation (no driver) is not busy. Of rows that overlap on
//!   a GPU (a hand edit), the one started last holds it.
//! - **Sampled hours**: the samples' time summed, divided by the number of GPUs seen: how
//!   much of the window the sampler covered, per GPU.
//! - A group's hours are its members' sums.
//!
//! Nothing is rounded here; rounding is for display ([`UsageReport::to_text`]).

use std::collections::HashMap;

use chrono::{Duration, NaiveDateTime};
use hostinfo::schedule::{format_time, Row};
use hostinfo::usage::{Sample, Subject};
use hostinfo::{Config, Root, Table};
use serde::{Deserialize, Serialize};

/// The most time one GPU sample stands for: past it, the sampler was off.
pub const MAX_WEIGHT: Duration = Duration::minutes(10);

/// The time the first sample of a GPU in the window stands for: the sampling interval
/// (aivc-usage.timer).
pub const FIRST_WEIGHT: Duration = Duration::minutes(5);

/// One GPU sample, compact (the dashboard keeps weeks of these in memory).
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct GpuPoint {
    pub time: NaiveDateTime,
    pub gpu: u32,
    pub util_percent: Option<u32>,
    pub memory_mib: Option<u64>,
}

/// The GPU samples among `samples` (user samples dropped).
pub fn gpu_points(samples: &[Sample]) -> Vec<GpuPoint> {
    samples
        .iter()
        .filter_map(|s| match s.subject {
            Subject::Gpu(gpu) => Some(GpuPoint {
                time: s.time,
                gpu,
                util_percent: s.gpu_util_percent,
                memory_mib: s.gpu_memory_mib,
            }),
            Subject::User(_) => None,
        })
        .collect()
}

/// Booked against used GPU-hours over the last `days` days (the module's rules).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct UsageReport {
    pub days: u32,
    /// The window's start, `YYYY-MM-DD HH:MM:SS`.
    pub from: String,
    /// The window's end (now), `YYYY-MM-DD HH:MM:SS`.
    pub to: String,
    /// A GPU counts as used at a sample when its utilisation is at least this.
    pub busy_percent: u32,
    /// How much of the window has GPU samples, per GPU: less than `days × 24` when the
    /// sampling is younger than the window or was off.
    pub sampled_hours: f64,
    /// Everyone with booked or used time in the window, by booked hours (most first), then id.
    pub users: Vec<UserUsage>,
    /// Every configured group, in file order, with its members' sums.
    pub groups: Vec<GroupUsage>,
    /// Busy GPU time that no booking held.
    pub unbooked_gpu_hours: f64,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct UserUsage {
    pub id: String,
    /// The user's group in the configuration now (`None`: in no group, or no longer configured).
    pub group: Option<String>,
    pub booked_gpu_hours: f64,
    pub used_gpu_hours: f64,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct GroupUsage {
    pub name: String,
    pub booked_gpu_hours: f64,
    pub used_gpu_hours: f64,
}

/// One row's hold on one GPU, for the holder lookup.
#[derive(Debug, Clone, Copy)]
struct Hold {
    start: NaiveDateTime,
    end: NaiveDateTime,
    user: usize,
}

/// The holds of one GPU sorted by start, with the latest end among each prefix: a search
/// walks back from the last hold started by `t` only while an earlier one may still cover it,
/// so rows that overlap (hand edits) cost a step each and the usual ones none.
#[derive(Debug, Default)]
struct Holds {
    holds: Vec<Hold>,
    max_end: Vec<NaiveDateTime>,
}

impl Holds {
    fn seal(&mut self) {
        self.holds.sort_by_key(|h| (h.start, h.end));
        let mut latest = NaiveDateTime::MIN;
        self.max_end = self
            .holds
            .iter()
            .map(|h| {
                latest = latest.max(h.end);
                latest
            })
            .collect();
    }

    /// The user holding the GPU at `t`; of rows that overlap, the one started last.
    fn holder(&self, t: NaiveDateTime) -> Option<usize> {
        let started = self.holds.partition_point(|h| h.start <= t);
        (0..started)
            .rev()
            .take_while(|&j| self.max_end[j] > t)
            .find(|&j| self.holds[j].end > t)
            .map(|j| self.holds[j].user)
    }
}

/// Seconds as hours.
fn hours(seconds: i64) -> f64 {
    seconds as f64 / 3600.0
}

/// The report from loaded state: `rows` = every row of used.csv, using.csv and booking.csv
/// (history and live), `points` = GPU samples (any order).
pub fn report(
    config: &Config,
    rows: &[Row],
    points: &[GpuPoint],
    now: NaiveDateTime,
    days: u32,
) -> UsageReport {
    report_from(config, rows, points.iter(), now, days)
}

/// [`report`] of points kept in pieces (the dashboard keeps one vector a day): nothing is
/// copied but a reference per point in the window.
pub fn report_from<'p>(
    config: &Config,
    rows: &[Row],
    points: impl Iterator<Item = &'p GpuPoint>,
    now: NaiveDateTime,
    days: u32,
) -> UsageReport {
    let from = now - Duration::days(i64::from(days));
    let busy_percent = config
        .capability
        .policies
        .idle_gpu_util_percent
        .unwrap_or(hostinfo::groups::IDLE_GPU_UTIL_PERCENT);

    // Per user: (id, booked GPU-seconds, used GPU-seconds); integers, so sums are exact.
    let mut index: HashMap<&str, usize> = HashMap::new();
    let mut tally: Vec<(&str, i64, i64)> = Vec::new();
    let mut holds: HashMap<u32, Holds> = HashMap::new();
    for row in rows {
        let (start, end) = (row.start.max(from), row.end.min(now));
        if row.gpus.is_empty() || start >= end {
            continue;
        }
        let user = *index.entry(row.user_id.as_str()).or_insert_with(|| {
            tally.push((row.user_id.as_str(), 0, 0));
            tally.len() - 1
        });
        tally[user].1 += (end - start).num_seconds() * row.gpus.len() as i64;
        for &gpu in row.gpus.ids() {
            holds.entry(gpu).or_default().holds.push(Hold {
                start: row.start,
                end: row.end,
                user,
            });
        }
    }
    for h in holds.values_mut() {
        h.seal();
    }

    let mut window: Vec<&GpuPoint> = points.filter(|p| from <= p.time && p.time < now).collect();
    window.sort_unstable_by_key(|p| (p.gpu, p.time));
    let mut sampled = 0i64;
    let mut unbooked = 0i64;
    let mut gpus_seen = 0i64;
    let mut previous: Option<&GpuPoint> = None;
    let none = Holds::default();
    let mut of_gpu = &none;
    for p in window {
        let since = match previous {
            Some(q) if q.gpu == p.gpu => (p.time - q.time).min(MAX_WEIGHT),
            _ => {
                gpus_seen += 1;
                of_gpu = holds.get(&p.gpu).unwrap_or(&none);
                FIRST_WEIGHT
            }
        };
        let weight = since.min(p.time - from).num_seconds();
        previous = Some(p);
        sampled += weight;
        if p.util_percent.is_some_and(|u| u >= busy_percent) {
            match of_gpu.holder(p.time) {
                Some(user) => tally[user].2 += weight,
                None => unbooked += weight,
            }
        }
    }

    let group_of: Vec<Option<&str>> = tally
        .iter()
        .map(|(id, _, _)| config.capability.group_of(id).map(|(name, _)| name))
        .collect();
    let mut users: Vec<UserUsage> = tally
        .iter()
        .zip(&group_of)
        .filter(|((_, booked, used), _)| *booked > 0 || *used > 0)
        .map(|(&(id, booked, used), group)| UserUsage {
            id: id.to_string(),
            group: group.map(str::to_string),
            booked_gpu_hours: hours(booked),
            used_gpu_hours: hours(used),
        })
        .collect();
    users.sort_by(|a, b| {
        b.booked_gpu_hours
            .total_cmp(&a.booked_gpu_hours)
            .then_with(|| a.id.cmp(&b.id))
    });
    let groups = config
        .capability
        .groups
        .0
        .iter()
        .map(|(name, _)| {
            let (booked, used) = tally
                .iter()
                .zip(&group_of)
                .filter(|(_, group)| **group == Some(name.as_str()))
                .fold((0, 0), |(b, u), ((_, booked, used), _)| {
                    (b + booked, u + used)
                });
            GroupUsage {
                name: name.clone(),
                booked_gpu_hours: hours(booked),
                used_gpu_hours: hours(used),
            }
        })
        .collect();
    UsageReport {
        days,
        from: format_time(from),
        to: format_time(now),
        busy_percent,
        sampled_hours: if gpus_seen == 0 {
            0.0
        } else {
            hours(sampled) / gpus_seen as f64
        },
        users,
        groups,
        unbooked_gpu_hours: hours(unbooked),
    }
}

/// Reads what [`report`] needs through hostinfo (config, the three schedule files under
/// the shared lock, the samples of the window) and builds it, at the configured clock's now.
pub fn load(root: &Root, days: u32) -> Result<UsageReport, crate::Error> {
    let config = root.load_config()?;
    let now = config.clock()?.now();
    let mut rows = Vec::new();
    let lock = root.lock_shared()?;
    for table in [Table::Used, Table::Using, Table::Booking] {
        rows.extend(root.read_schedule(table, &lock)?.rows);
    }
    drop(lock);
    let samples = root.read_usage_since(now - Duration::days(i64::from(days)), now)?;
    Ok(report(&config, &rows, &gpu_points(&samples), now, days))
}

impl UsageReport {
    /// The report for a terminal: the window, then a table per user and per group, then
    /// the unbooked use; hours with two decimals, shares in whole percent.
    pub fn to_text(&self) -> String {
        let mut out = format!(
            "GPU usage over the last {} day{}: {} to {}\n",
            self.days,
            if self.days == 1 { "" } else { "s" },
            self.from,
            self.to
        );
        out.push_str(&format!(
            "Sampled: {:.2} of {} hours per GPU; a GPU counts as used at {} % utilisation or more.\n",
            self.sampled_hours,
            u64::from(self.days) * 24,
            self.busy_percent
        ));
        let share = |booked: f64, used: f64| {
            if booked > 0.0 {
                format!("{:.0} %", used / booked * 100.0)
            } else {
                "-".into()
            }
        };
        let mut table = vec![[
            "user".to_string(),
            "group".into(),
            "booked GPU-h".into(),
            "used GPU-h".into(),
            "used/booked".into(),
        ]];
        table.extend(self.users.iter().map(|u| {
            [
                u.id.clone(),
                u.group.clone().unwrap_or_else(|| "-".into()),
                format!("{:.2}", u.booked_gpu_hours),
                format!("{:.2}", u.used_gpu_hours),
                share(u.booked_gpu_hours, u.used_gpu_hours),
            ]
        }));
        out.push('\n');
        if self.users.is_empty() {
            out.push_str("No GPU booked or used in the window.\n");
        } else {
            out.push_str(&columns(&table, 2));
        }
        if !self.groups.is_empty() {
            let mut table = vec![[
                "group".to_string(),
                "booked GPU-h".into(),
                "used GPU-h".into(),
                "used/booked".into(),
            ]];
            table.extend(self.groups.iter().map(|g| {
                [
                    g.name.clone(),
                    format!("{:.2}", g.booked_gpu_hours),
                    format!("{:.2}", g.used_gpu_hours),
                    share(g.booked_gpu_hours, g.used_gpu_hours),
                ]
            }));
            out.push('\n');
            out.push_str(&columns(&table, 1));
        }
        out.push_str(&format!(
            "\nUnbooked: {:.2} GPU-h of busy GPU time no booking held.\n",
            self.unbooked_gpu_hours
        ));
        out
    }
}

/// Rows of cells as aligned columns: the first `left` left-aligned (names), the rest
/// right-aligned (numbers).
fn columns<const N: usize>(rows: &[[String; N]], left: usize) -> String {
    let widths: Vec<usize> = (0..N)
        .map(|c| rows.iter().map(|r| r[c].chars().count()).max().unwrap_or(0))
        .collect();
    let mut out = String::new();
    for row in rows {
        let cells: Vec<String> = row
            .iter()
            .enumerate()
            .map(|(c, cell)| {
                if c < left {
                    format!("{cell:<w$}", w = widths[c])
                } else {
                    format!("{cell:>w$}", w = widths[c])
                }
            })
            .collect();
        out.push_str(cells.join("  ").trim_end());
        out.push('\n');
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;
    use hostinfo::schedule::GpuSet;

    fn t(s: &str) -> NaiveDateTime {
        NaiveDateTime::parse_from_str(s, "%Y-%m-%d %H:%M").unwrap()
    }

    /// The lab fixture's configuration with groups phd (bob, carol) and staff (dave), and
    /// `policies` appended (YAML, may be empty).
    fn config(policies: &str) -> Config {
        let dir = tempfile::tempdir().unwrap();
        let lab =
            std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("../../tests/fixtures/roots/lab");
        let options = fs_extra::dir::CopyOptions::new().content_only(true);
        fs_extra::dir::copy(lab, dir.path(), &options).unwrap();
        let path = dir.path().join("cfg/capability_config.yaml");
        let mut text = std::fs::read_to_string(&path).unwrap();
        text.push_str(
            "groups:\n  phd:\n    members: [bob, carol]\n  staff:\n    members: [dave]\n",
        );
        text.push_str(policies);
        std::fs::write(&path, text).unwrap();
        Root::at(dir.path()).load_config().unwrap()
    }

    fn row(user: &str, start: &str, end: &str, gpus: &[u32]) -> Row {
        Row {
            start: t(start),
            end: t(end),
            user_id: user.into(),
            cpus: 1.0,
            memory: 4,
            gpus: GpuSet::new(gpus.to_vec()),
            forward_port: 10001,
            image: None,
            extra_command: None,
            node: None,
        }
    }

    /// A sample of `gpu` at each of `times`, all at `util` percent.
    fn points(gpu: u32, util: Option<u32>, times: &[&str]) -> Vec<GpuPoint> {
        times
            .iter()
            .map(|s| GpuPoint {
                time: t(s),
                gpu,
                util_percent: util,
                memory_mib: Some(100),
            })
            .collect()
    }

    const NOW: &str = "2026-11-21 12:00";

    fn used(r: &UsageReport, id: &str) -> f64 {
        r.users.iter().find(|u| u.id == id).unwrap().used_gpu_hours
    }

    #[test]
    fn the_first_sample_of_a_gpu_stands_for_five_minutes_and_each_later_one_for_the_time_since() {
        let rows = [row("bob", "2026-11-21 09:00", "2026-11-21 11:00", &[0])];
        let p = points(
            0,
            Some(90),
            &["2026-11-21 10:00", "2026-11-21 10:05", "2026-11-21 10:08"],
        );
        let r = report(&config(""), &rows, &p, t(NOW), 7);
        assert_eq!(used(&r, "bob"), (5.0 + 5.0 + 3.0) / 60.0);
        assert_eq!(r.sampled_hours, 13.0 / 60.0);
    }

    #[test]
    fn a_gap_in_the_samples_counts_at_most_ten_minutes() {
        let rows = [row("bob", "2026-11-21 09:00", "2026-11-21 11:00", &[0])];
        let p = points(0, Some(90), &["2026-11-21 09:30", "2026-11-21 10:30"]);
        let r = report(&config(""), &rows, &p, t(NOW), 7);
        assert_eq!(used(&r, "bob"), (5.0 + 10.0) / 60.0);
        assert_eq!(r.sampled_hours, 15.0 / 60.0);
    }

    #[test]
    fn a_gpu_is_used_at_busy_percent_and_not_below_it_nor_without_a_reading() {
        let rows = [row(
            "bob",
            "2026-11-21 09:00",
            "2026-11-21 11:00",
            &[0, 1, 2],
        )];
        let mut p = points(0, Some(5), &["2026-11-21 10:00"]);
        p.extend(points(1, Some(4), &["2026-11-21 10:00"]));
        p.extend(points(2, None, &["2026-11-21 10:00"]));
        let r = report(&config(""), &rows, &p, t(NOW), 7);
        assert_eq!(r.busy_percent, hostinfo::groups::IDLE_GPU_UTIL_PERCENT);
        assert_eq!(used(&r, "bob"), 5.0 / 60.0);
        assert_eq!(r.unbooked_gpu_hours, 0.0);
        assert_eq!(r.sampled_hours, 5.0 / 60.0, "three GPUs, five minutes each");

        let r = report(
            &config("policies:\n  idle_gpu_util_percent: 50\n"),
            &rows,
            &points(0, Some(49), &["2026-11-21 10:00"]),
            t(NOW),
            7,
        );
        assert_eq!(r.busy_percent, 50, "the lab's idle threshold");
        assert_eq!(used(&r, "bob"), 0.0);
    }

    #[test]
    fn a_sample_at_a_rows_start_is_its_holders_and_one_at_its_end_the_next_holders() {
        let rows = [
            row("bob", "2026-11-21 09:00", "2026-11-21 10:00", &[0]),
            row("carol", "2026-11-21 10:00", "2026-11-21 11:00", &[0]),
        ];
        let mut p = points(0, Some(90), &["2026-11-21 09:00", "2026-11-21 10:00"]);
        p.extend(points(0, Some(90), &["2026-11-21 11:00"]));
        let r = report(&config(""), &rows, &p, t(NOW), 7);
        assert_eq!(used(&r, "bob"), 5.0 / 60.0, "09:00 alone");
        assert_eq!(
            used(&r, "carol"),
            10.0 / 60.0,
            "10:00, after a 60-minute gap"
        );
        assert_eq!(
            r.unbooked_gpu_hours,
            10.0 / 60.0,
            "11:00: carol's row is over"
        );
    }

    #[test]
    fn busy_time_on_a_gpu_no_row_holds_is_unbooked() {
        let rows = [row("bob", "2026-11-21 09:00", "2026-11-21 11:00", &[0])];
        let p = points(1, Some(100), &["2026-11-21 10:00", "2026-11-21 10:05"]);
        let r = report(&config(""), &rows, &p, t(NOW), 7);
        assert_eq!(used(&r, "bob"), 0.0);
        assert_eq!(r.unbooked_gpu_hours, 10.0 / 60.0);
    }

    #[test]
    fn of_rows_that_overlap_on_a_gpu_the_one_started_last_holds_it() {
        let rows = [
            row("bob", "2026-11-21 06:00", "2026-11-21 11:00", &[0]),
            row("carol", "2026-11-21 09:00", "2026-11-21 10:00", &[0]),
        ];
        let p = points(
            0,
            Some(90),
            &["2026-11-21 08:55", "2026-11-21 09:00", "2026-11-21 10:00"],
        );
        let r = report(&config(""), &rows, &p, t(NOW), 7);
        assert_eq!(used(&r, "carol"), 5.0 / 60.0);
        assert_eq!(
            used(&r, "bob"),
            (5.0 + 10.0) / 60.0,
            "08:55, and 10:00 (after a gap) when carol's row is over"
        );
    }

    #[test]
    fn booked_hours_count_gpus_and_rows_of_any_file_each_group_sums_its_members() {
        let rows = [
            row("bob", "2026-11-20 09:00", "2026-11-20 12:00", &[0, 1]),
            row("carol", "2026-11-21 09:00", "2026-11-21 10:30", &[1]),
            row("carol", "2026-11-21 11:00", "2026-11-21 11:30", &[]),
            row("alice", "2026-11-21 10:00", "2026-11-21 10:30", &[0]),
        ];
        let mut p = points(1, Some(90), &["2026-11-21 09:30", "2026-11-21 09:35"]);
        p.extend(points(0, Some(90), &["2026-11-20 10:00"]));
        let r = report(&config(""), &rows, &p, t(NOW), 7);
        let users: Vec<(&str, Option<&str>, f64, f64)> = r
            .users
            .iter()
            .map(|u| {
                (
                    u.id.as_str(),
                    u.group.as_deref(),
                    u.booked_gpu_hours,
                    u.used_gpu_hours,
                )
            })
            .collect();
        assert_eq!(
            users,
            [
                ("bob", Some("phd"), 6.0, 5.0 / 60.0),
                ("carol", Some("phd"), 1.5, 10.0 / 60.0),
                ("alice", None, 0.5, 0.0),
            ]
        );
        assert_eq!(
            r.groups,
            [
                GroupUsage {
                    name: "phd".into(),
                    booked_gpu_hours: 7.5,
                    used_gpu_hours: 15.0 / 60.0,
                },
                GroupUsage {
                    name: "staff".into(),
                    booked_gpu_hours: 0.0,
                    used_gpu_hours: 0.0,
                },
            ]
        );
    }

    #[test]
    fn users_with_equal_booked_hours_are_sorted_by_id_and_those_with_none_left_out() {
        let rows = [
            row("dave", "2026-11-21 09:00", "2026-11-21 10:00", &[1]),
            row("bob", "2026-11-21 09:00", "2026-11-21 10:00", &[0]),
            row("carol", "2026-11-01 09:00", "2026-11-01 10:00", &[0]),
            row("alice", "2026-11-21 09:00", "2026-11-21 10:00", &[]),
        ];
        let r = report(&config(""), &rows, &[], t(NOW), 7);
        let ids: Vec<&str> = r.users.iter().map(|u| u.id.as_str()).collect();
        assert_eq!(ids, ["bob", "dave"]);
        assert_eq!(r.sampled_hours, 0.0, "no samples");
    }

    #[test]
    fn rows_and_samples_are_clipped_to_the_window() {
        // The window is [2026-11-20 12:00, 2026-11-21 12:00).
        let rows = [
            row("bob", "2026-11-20 10:00", "2026-11-20 14:00", &[0]),
            row("carol", "2026-11-21 11:00", "2026-11-21 13:00", &[1]),
        ];
        let mut p = points(
            0,
            Some(90),
            &["2026-11-20 11:58", "2026-11-20 12:02", "2026-11-20 12:07"],
        );
        p.extend(points(
            1,
            Some(90),
            &["2026-11-21 11:55", "2026-11-21 12:00"],
        ));
        let r = report(&config(""), &rows, &p, t(NOW), 1);
        assert_eq!(r.from, "2026-11-20 12:00:00");
        assert_eq!(r.to, "2026-11-21 12:00:00");
        let bob = &r.users[0];
        assert_eq!((bob.id.as_str(), bob.booked_gpu_hours), ("bob", 2.0));
        assert_eq!(
            bob.used_gpu_hours,
            (2.0 + 5.0) / 60.0,
            "11:58 is before the window, 12:02 stands for the 2 minutes inside it"
        );
        assert_eq!(r.users[1].booked_gpu_hours, 1.0, "carol's row up to now");
        assert_eq!(used(&r, "carol"), 5.0 / 60.0, "12:00 is not before now");
    }

    #[test]
    fn gpu_points_keeps_the_gpu_samples_only() {
        let sample = |subject| Sample {
            time: t(NOW),
            subject,
            gpu_util_percent: Some(7),
            gpu_memory_mib: Some(300),
            cpu_percent: None,
            memory_mib: None,
        };
        let p = gpu_points(&[sample(Subject::User("bob".into())), sample(Subject::Gpu(1))]);
        assert_eq!(
            p,
            [GpuPoint {
                time: t(NOW),
                gpu: 1,
                util_percent: Some(7),
                memory_mib: Some(300),
            }]
        );
    }

    #[test]
    fn the_text_has_a_table_per_user_and_per_group_and_the_unbooked_line() {
        let rows = [row("bob", "2026-11-21 09:00", "2026-11-21 11:00", &[0])];
        let mut p = points(0, Some(90), &["2026-11-21 10:00", "2026-11-21 10:05"]);
        p.extend(points(1, Some(90), &["2026-11-21 10:00"]));
        let r = report(&config(""), &rows, &p, t(NOW), 7);
        assert_eq!(
            r.to_text(),
            "\
GPU usage over the last 7 days: 2026-11-14 12:00:00 to 2026-11-21 12:00:00
Sampled: 0.12 of 168 hours per GPU; a GPU counts as used at 5 % utilisation or more.

user  group  booked GPU-h  used GPU-h  used/booked
bob   phd            2.00        0.17          8 %

group  booked GPU-h  used GPU-h  used/booked
phd            2.00        0.17          8 %
staff          0.00        0.00            -

Unbooked: 0.08 GPU-h of busy GPU time no booking held.
"
        );
    }
}
