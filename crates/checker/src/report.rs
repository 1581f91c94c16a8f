//! `checker --json` (docs/file-formats.md): one versioned document of the whole state, built from these
//! structs and parsed back by the tests. Passwords have no field here to land in.

use hostinfo::clock::ZoneSource;
use hostinfo::cluster::SlurmJob;
use hostinfo::gpu::{GpuInfo, GpuInventory, GpuSource};
use hostinfo::schedule::format_time;
use hostinfo::Table;
use serde::{Deserialize, Serialize};

use crate::limits::{user_max, user_policies, UserMax};
use crate::problems::{self, Problem};
use crate::snapshot::{Snapshot, TableRow};
use crate::timeline::Timeline;
use chrono::NaiveDateTime;
use hostinfo::config::{Limit, Policies, Total};

/// The schema version; bumped on any change that could break a reader.
pub const VERSION: u32 = 1;

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Report {
    pub version: u32,
    /// Wall-clock time of the report in `timezone`, `YYYY-MM-DD HH:MM:SS`.
    pub now: String,
    pub timezone: String,
    /// `config`, `host` or `default_utc`.
    pub timezone_source: String,
    pub clock_fixed: bool,
    pub host: Host,
    pub gpus: Gpus,
    pub users: Vec<User>,
    /// The lab-wide fairness policies as written (a key left out is no limit).
    #[serde(default)]
    pub policies: Policies,
    /// The groups, in file order, with their members, limits and use over time.
    #[serde(default)]
    pub groups: Vec<GroupState>,
    pub rows: Vec<RowState>,
    pub timeline: Vec<TimelinePoint>,
    pub problems: Vec<Problem>,
    /// `jobs/waitlist.csv` in join order (empty when it cannot be read: see `problems`).
    #[serde(default)]
    pub waitlist: Vec<WaitlistEntry>,
    /// On a cluster, the nodes of `cfg/cluster.yaml` in its order, each with what is booked
    /// on it over time; left out on a single host.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub nodes: Vec<NodeState>,
}

/// A cluster node: what it offers to bookings, and what they hold on it over time.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct NodeState {
    pub name: String,
    pub cpus: u32,
    /// GB.
    pub memory: u32,
    pub gpus: u32,
    /// The Slurm license that stands for its GPUs.
    pub license: String,
    #[serde(rename = "use")]
    pub usage: Vec<UsePoint>,
}

fn nodes(snapshot: &Snapshot) -> Vec<NodeState> {
    let Some(cluster) = &snapshot.config.cluster else {
        return Vec::new();
    };
    cluster
        .nodes
        .iter()
        .map(|(name, cap)| {
            let mine = snapshot
                .rows
                .iter()
                .map(|tr| &tr.row)
                .filter(|r| r.node.as_deref() == Some(name.as_str()));
            let t = Timeline::build(mine);
            NodeState {
                name: name.clone(),
                cpus: cap.cpus,
                memory: cap.memory,
                gpus: cap.gpus,
                license: cluster.license_of(name),
                usage: use_points(&t),
            }
        })
        .collect()
}

/// Each step of `t`, as the report shows use over time.
fn use_points(t: &Timeline) -> Vec<UsePoint> {
    (0..t.points.len())
        .map(|i| UsePoint {
            at: format_time(t.points[i]),
            cpus: t.cpus[i],
            memory: t.memory[i],
            gpus: t.gpus[i],
        })
        .collect()
}

/// One waitlist entry, and whether it still waits.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct WaitlistEntry {
    pub id: u32,
    pub joined: String,
    pub user_id: String,
    pub cpus: f64,
    pub memory: u32,
    /// How many GPUs (which ones is decided when it is booked).
    pub gpus: u32,
    /// The booking's length.
    pub minutes: u32,
    pub earliest_start: String,
    pub latest_start: String,
    pub forward_port: u16,
    pub image: Option<String>,
    pub extra_command: Option<String>,
    /// `waiting`, or `expiring`: its latest start is before the current slot, and the next
    /// tick removes it with a notice.
    pub state: String,
}

fn waitlist(snapshot: &Snapshot) -> Vec<WaitlistEntry> {
    let now_slot = hostinfo::clock::floor_slot(snapshot.now);
    let entries = snapshot.waitlist.as_deref().unwrap_or_default();
    entries
        .iter()
        .map(|e| WaitlistEntry {
            id: e.id,
            joined: format_time(e.joined),
            user_id: e.user_id.clone(),
            cpus: e.cpus,
            memory: e.memory,
            gpus: e.gpus,
            minutes: e.minutes,
            earliest_start: format_time(e.earliest_start),
            latest_start: format_time(e.latest_start),
            forward_port: e.forward_port,
            image: e.image.clone(),
            extra_command: e.extra_command.clone(),
            state: if e.latest_start < now_slot {
                "expiring"
            } else {
                "waiting"
            }
            .into(),
        })
        .collect()
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Host {
    pub cpus: f64,
    pub ram: f64,
    pub swap_size: f64,
    pub memory: f64,
    pub shm_rate: f64,
    pub gpus: u32,
    pub backup_space: f64,
    pub work_space: f64,
    pub images: Vec<String>,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Gpus {
    /// `nvml` or `config`.
    pub source: String,
    pub driver_version: Option<String>,
    /// Why NVML was not used, when it was not.
    pub note: Option<String>,
    /// hostinfo's GPU records: all but `index` are null without NVML.
    pub devices: Vec<GpuInfo>,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct User {
    pub id: String,
    /// In `allow_userIDs`.
    pub allowed: bool,
    /// Has an entry in `users_config.yaml`.
    pub configured: bool,
    pub forward_port: Option<u16>,
    pub image: Option<String>,
    pub max: Max,
    /// The user's group, if any.
    #[serde(default)]
    pub group: Option<String>,
    /// Why the user has an exception in `max_custom_capability`.
    #[serde(default)]
    pub reason: Option<String>,
    /// The policies in force for the user, resolved (user → group → lab).
    #[serde(default)]
    pub policies: Policies,
}

/// A group: who is in it, each member's tier, what they may hold together, and what
/// they hold over time.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct GroupState {
    pub name: String,
    pub members: Vec<String>,
    /// The tier, resolved: the group's `max_capability`, else the lab default, else the host.
    pub max_capability: Max,
    /// All members together, at any instant; a key left out is no group limit.
    pub total: Total,
    /// The group's own policies as written (members fall back to the lab's key by key).
    pub policies: Policies,
    /// What the members hold together, from `at` until the next point.
    #[serde(rename = "use")]
    pub usage: Vec<UsePoint>,
}

/// Use from `at` until the next point, as counts.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct UsePoint {
    pub at: String,
    pub cpus: f64,
    pub memory: u64,
    pub gpus: u32,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Max {
    pub cpus: f64,
    pub memory: f64,
    pub gpus: u32,
    pub backup_space: f64,
    pub work_space: f64,
}

impl From<UserMax> for Max {
    fn from(m: UserMax) -> Self {
        Max {
            cpus: m.cpus,
            memory: m.memory,
            gpus: m.gpus,
            backup_space: m.backup_space,
            work_space: m.work_space,
        }
    }
}

/// Where a row stands relative to now.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum State {
    /// In `booking.csv`, starting later.
    Waiting,
    /// In `booking.csv`, its window has begun: the next tick starts it.
    Due,
    /// In `booking.csv`, its window is over: the next tick files it as never started.
    Missed,
    /// In `using.csv`, within its window.
    Running,
    /// In `using.csv`, its window is over: the next tick closes it.
    Ended,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct RowState {
    /// `booking` or `using`.
    pub table: String,
    pub line: u64,
    pub state: State,
    pub start: String,
    pub end: String,
    pub user_id: String,
    pub cpus: f64,
    pub memory: u32,
    pub gpus: Vec<u32>,
    pub forward_port: u16,
    pub image: Option<String>,
    pub extra_command: Option<String>,
    /// The cluster node it runs on; left out on a single host.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub node: Option<String>,
    /// On a cluster, the GPU ids Slurm bound to the booking's job once it runs (from
    /// `jobs/slurm-jobs.csv`); `gpus` are then its places in the node's plan. Left out
    /// until Slurm has bound them, and on a single host.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub bound_gpus: Option<Vec<u32>>,
}

/// Use from `at` until the next point.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct TimelinePoint {
    pub at: String,
    pub cpus: f64,
    pub memory: u64,
    /// GPU ids held.
    pub gpus: Vec<u32>,
}

fn zone_source(z: ZoneSource) -> &'static str {
    match z {
        ZoneSource::Config => "config",
        ZoneSource::Host => "host",
        ZoneSource::DefaultUtc => "default_utc",
    }
}

/// Builds the report of `snapshot`, with the GPUs as `inventory` found them.
pub fn build(snapshot: &Snapshot, inventory: GpuInventory) -> Report {
    let config = &snapshot.config;
    let cap = &config.capability;
    let now = snapshot.now;

    let mut ids: Vec<&str> = cap.allow_user_ids.iter().map(String::as_str).collect();
    for (id, _) in config.users.iter() {
        if !ids.contains(&id) {
            ids.push(id);
        }
    }
    let users = ids
        .into_iter()
        .map(|id| {
            let entry = config.users.get(id);
            User {
                id: id.to_string(),
                allowed: cap.allow_user_ids.iter().any(|a| a == id),
                configured: entry.is_some(),
                forward_port: entry.map(|e| e.forward_port),
                image: entry.and_then(|e| e.image.clone()),
                max: user_max(cap, id).into(),
                group: cap.group_of(id).map(|(g, _)| g.to_string()),
                reason: cap.exception(id).and_then(|e| e.reason.clone()),
                policies: user_policies(cap, id),
            }
        })
        .collect();

    let jobs = snapshot.slurm_jobs.as_deref().unwrap_or_default();
    let rows = row_states_with_jobs(&snapshot.rows, now, jobs);

    let mut problems = problems::find(snapshot);
    problems.extend(unbooked_gpu_processes(snapshot, &inventory));
    let nvml_gpus = matches!(inventory.source, GpuSource::Nvml { .. })
        .then(|| u32::try_from(inventory.gpus.len()).unwrap_or(u32::MAX));
    problems.extend(problems::beyond_machine(
        snapshot,
        &hostinfo::machine::probe(),
        nvml_gpus,
    ));

    Report {
        version: VERSION,
        now: format_time(now),
        timezone: config.zone.name().to_string(),
        timezone_source: zone_source(config.zone_source).into(),
        clock_fixed: snapshot.clock_fixed,
        host: Host {
            cpus: cap.max.cpus,
            ram: cap.max.ram,
            swap_size: cap.max.swap_size,
            memory: cap.max.memory,
            shm_rate: cap.max.shm_rate,
            gpus: cap.max.gpus,
            backup_space: cap.max.backup_space,
            work_space: cap.max.work_space,
            images: config.host.images.clone(),
        },
        gpus: gpus(inventory),
        users,
        policies: cap.policies,
        groups: groups(snapshot),
        rows,
        timeline: timeline(snapshot),
        problems,
        waitlist: waitlist(snapshot),
        nodes: nodes(snapshot),
    }
}

/// Each row with where it stands relative to `now`.
pub fn row_states(rows: &[TableRow], now: NaiveDateTime) -> Vec<RowState> {
    row_states_with_jobs(rows, now, &[])
}

/// The GPU ids Slurm bound to `row`'s job, when `jobs` (the monitor's record) has the
/// booking (same user, start and node) and Slurm has bound them.
pub fn bound_gpus(row: &hostinfo::schedule::Row, jobs: &[SlurmJob]) -> Option<Vec<u32>> {
    let node = row.node.as_deref()?;
    jobs.iter()
        .find(|j| j.user_id == row.user_id && j.start == row.start && j.node == node)
        .filter(|j| !j.bound_gpus.is_empty())
        .map(|j| j.bound_gpus.ids().to_vec())
}

/// [`row_states`], with the GPU ids Slurm bound (cluster mode) from `jobs`.
pub fn row_states_with_jobs(
    rows: &[TableRow],
    now: NaiveDateTime,
    jobs: &[SlurmJob],
) -> Vec<RowState> {
    rows.iter()
        .map(|tr| {
            let r = &tr.row;
            let state = match tr.table {
                Table::Using if r.end <= now => State::Ended,
                Table::Using => State::Running,
                _ if r.end <= now => State::Missed,
                _ if r.start <= now => State::Due,
                _ => State::Waiting,
            };
            RowState {
                table: if tr.table == Table::Using {
                    "using"
                } else {
                    "booking"
                }
                .into(),
                line: tr.line,
                state,
                start: format_time(r.start),
                end: format_time(r.end),
                user_id: r.user_id.clone(),
                cpus: r.cpus,
                memory: r.memory,
                gpus: r.gpus.ids().to_vec(),
                forward_port: r.forward_port,
                image: r.image.clone(),
                extra_command: r.extra_command.clone(),
                node: r.node.clone(),
                bound_gpus: bound_gpus(r, jobs),
            }
        })
        .collect()
}

fn gpus(inventory: GpuInventory) -> Gpus {
    let (source, driver_version, note) = match inventory.source {
        GpuSource::Nvml { driver_version } => ("nvml", driver_version, None),
        GpuSource::Config { reason } => ("config", None, Some(reason)),
    };
    Gpus {
        source: source.into(),
        driver_version,
        note,
        devices: inventory.gpus,
    }
}

/// The step function of use, with which GPU ids are held on each step.
fn timeline(snapshot: &Snapshot) -> Vec<TimelinePoint> {
    let t = Timeline::build(snapshot.rows.iter().map(|tr| &tr.row));
    // Per GPU id, how many rows hold it, swept over the same change points.
    let mut events: Vec<(chrono::NaiveDateTime, u32, i32)> = Vec::new();
    for tr in &snapshot.rows {
        if tr.row.end > tr.row.start {
            for &id in tr.row.gpus.ids() {
                events.push((tr.row.start, id, 1));
                events.push((tr.row.end, id, -1));
            }
        }
    }
    events.sort_unstable_by_key(|e| e.0);
    let mut held: std::collections::BTreeMap<u32, i32> = Default::default();
    let mut e = 0;
    let mut out = Vec::with_capacity(t.points.len());
    for i in 0..t.points.len() {
        while e < events.len() && events[e].0 <= t.points[i] {
            *held.entry(events[e].1).or_default() += events[e].2;
            e += 1;
        }
        out.push(TimelinePoint {
            at: format_time(t.points[i]),
            cpus: t.cpus[i],
            memory: t.memory[i],
            gpus: held
                .iter()
                .filter(|(_, n)| **n > 0)
                .map(|(id, _)| *id)
                .collect(),
        });
    }
    out
}

/// Each group with its use over time.
fn groups(snapshot: &Snapshot) -> Vec<GroupState> {
    let cap = &snapshot.config.capability;
    cap.groups
        .0
        .iter()
        .map(|(name, g)| {
            let mine = snapshot.rows.iter().map(|tr| &tr.row).filter(|r| {
                cap.group_of(&r.user_id)
                    .is_some_and(|(other, _)| other == name)
            });
            let t = Timeline::build(mine);
            let tier = |own: Option<Limit>, default: Option<Limit>, host: f64| {
                own.or(default).map_or(host, |l| l.resolve(host))
            };
            let (own, default) = (&g.max_capability, &cap.default_limits);
            GroupState {
                name: name.clone(),
                members: g.members.clone(),
                max_capability: Max {
                    cpus: tier(own.cpus, default.cpus, cap.max.cpus),
                    memory: tier(own.memory, default.memory, cap.max.memory),
                    gpus: tier(own.gpus, default.gpus, f64::from(cap.max.gpus)) as u32,
                    backup_space: tier(
                        own.backup_space,
                        default.backup_space,
                        cap.max.backup_space,
                    ),
                    work_space: tier(own.work_space, default.work_space, cap.max.work_space),
                },
                total: g.total,
                policies: g.policies,
                usage: use_points(&t),
            }
        })
        .collect()
}

/// With NVML: a process on a GPU that no running booking holds.
fn unbooked_gpu_processes(snapshot: &Snapshot, inventory: &GpuInventory) -> Vec<Problem> {
    if !matches!(inventory.source, GpuSource::Nvml { .. }) {
        return Vec::new();
    }
    let now = snapshot.now;
    let held: std::collections::HashSet<u32> = snapshot
        .rows
        .iter()
        .filter(|tr| tr.table == Table::Using && tr.row.start <= now && now < tr.row.end)
        .flat_map(|tr| tr.row.gpus.ids().iter().copied())
        .collect();
    inventory
        .gpus
        .iter()
        .filter(|g| !held.contains(&g.index))
        .flat_map(|g| {
            g.processes.iter().map(move |p| Problem {
                severity: problems::Severity::Warning,
                code: "gpu_unbooked_process".into(),
                message: format!(
                    "process {}{} runs on GPU {}{}, which no running booking holds",
                    p.pid,
                    hostinfo::gpu::process_owner(p.pid)
                        .map_or(String::new(), |o| format!(" ({o})")),
                    g.index,
                    p.used_memory_mib
                        .map_or(String::new(), |m| format!(" with {m} MiB")),
                ),
                file: snapshot.display_path(&snapshot.root.schedule_path(Table::Using)),
                line: None,
            })
        })
        .collect()
}
