//! The bookings mirrored into Slurm (docs/cluster.md, Mirroring bookings into Slurm).
//!
//! What Slurm should hold follows from the schedule alone: on each node, every *run* of
//! bookings that overlap or touch gets one reservation of ours from the run's start to its
//! end, holding the node's bookable cores and GPU licenses and listing every booked user;
//! every booking is one job of its user in its run's reservation. [`plan`] compares that
//! with what Slurm shows and lists the [`Action`]s that close the gap — nothing when they
//! agree, so a quiet tick makes only the two listing calls — and [`apply`] runs them in an
//! order that never asks Slurm for two overlapping reservations of ours on one node.
//! Reservations and jobs whose names lack our prefix are never looked at.

use std::collections::{BTreeSet, HashMap, HashSet};

use chrono::{Duration, NaiveDateTime};
use hostinfo::cluster::{ClusterConfig, SlurmJob};
use hostinfo::schedule::{row_problems, GpuSet, Row};

use crate::slurm::{format_limit, Job, JobState, Reservation, Slurm};
use crate::Error;

/// A booking, as the schedule files key it.
pub type Key = (String, NaiveDateTime);

/// A job's time limit as Slurm keeps it: whole minutes, rounded up (a job that began
/// mid-minute would otherwise end early). The booking's end itself is kept by the tick at
/// that boundary, which cancels a job whose booking is over, and by the reservation's end.
pub fn limit_for(d: Duration) -> Duration {
    Duration::minutes((d.num_seconds().max(1) + 59) / 60)
}

/// The name of a booking's job: `{prefix}{node}.{YYYYmmddHHMM}.{user}` (node names hold no
/// `.`; the user id, which may, comes last).
pub fn job_name(prefix: &str, node: &str, start: NaiveDateTime, user: &str) -> String {
    let mut name = String::with_capacity(prefix.len() + node.len() + user.len() + 14);
    name.push_str(prefix);
    name.push_str(node);
    name.push('.');
    push_stamp(&mut name, start);
    name.push('.');
    name.push_str(user);
    name
}

/// `YYYYmmddHHMM`, by hand: ten thousand names a tick, and chrono's formatter is slow.
fn push_stamp(s: &mut String, t: NaiveDateTime) {
    let text = hostinfo::schedule::format_time(t);
    // `YYYY-MM-DD HH:MM:SS` without its separators, down to the minute.
    s.extend(
        text.bytes()
            .take(16)
            .filter(u8::is_ascii_digit)
            .map(char::from),
    );
}

/// The time of a `YYYYmmddHHMM` stamp.
fn parse_stamp(stamp: &str) -> Option<NaiveDateTime> {
    let b = stamp.as_bytes();
    if b.len() != 12 || !b.iter().all(u8::is_ascii_digit) {
        return None;
    }
    let n = |from: usize, to: usize| -> u32 {
        b[from..to]
            .iter()
            .fold(0, |n, d| n * 10 + u32::from(d - b'0'))
    };
    chrono::NaiveDate::from_ymd_opt(n(0, 4) as i32, n(4, 6), n(6, 8))?.and_hms_opt(
        n(8, 10),
        n(10, 12),
        0,
    )
}

/// The booking a job name of ours stands for: (node, start, user).
pub fn parse_job_name(prefix: &str, name: &str) -> Option<(String, NaiveDateTime, String)> {
    parse_job_name_parts(prefix, name).map(|(n, t, u)| (n.to_string(), t, u.to_string()))
}

/// [`parse_job_name`], borrowing from `name`.
fn parse_job_name_parts<'n>(
    prefix: &str,
    name: &'n str,
) -> Option<(&'n str, NaiveDateTime, &'n str)> {
    let rest = name.strip_prefix(prefix)?;
    let (node, rest) = rest.split_once('.')?;
    let (stamp, user) = rest.split_once('.')?;
    if !hostinfo::cluster::is_node_name(node) {
        return None;
    }
    let start = parse_stamp(stamp)?;
    if hostinfo::names::user_id_problem(user).is_some() {
        return None;
    }
    Some((node, start, user))
}

/// A reservation's name: `{prefix}{node}.{YYYYmmddHHMM}` of the run it was made for.
fn reservation_name(prefix: &str, node: &str, start: NaiveDateTime) -> String {
    let mut name = format!("{prefix}{node}.");
    push_stamp(&mut name, start);
    name
}

/// The node a reservation of ours is on, from its name.
fn reservation_node<'a>(prefix: &str, name: &'a str) -> Option<&'a str> {
    name.strip_prefix(prefix)?.split_once('.').map(|(n, _)| n)
}

/// What one booking's job should be.
#[derive(Debug, Clone, PartialEq)]
pub struct JobSpec {
    pub name: String,
    pub user_id: String,
    pub unix_user: String,
    pub node: String,
    pub start: NaiveDateTime,
    pub end: NaiveDateTime,
    pub cpus: u32,
    pub memory: u32,
    pub gpus: u32,
    pub license: String,
    pub reservation: String,
}

impl JobSpec {
    /// The `sbatch` arguments that submit it, held, at `now` (all in schedule time).
    pub fn sbatch_args(&self, slurm: &Slurm, gid: &str, now: NaiveDateTime) -> Vec<String> {
        let begin = self.start.max(now);
        let mut args = vec![
            "--parsable".to_string(),
            "--hold".into(),
            format!("--job-name={}", self.name),
            format!("--uid={}", self.unix_user),
            format!("--gid={gid}"),
            format!("--begin={}", slurm.time(begin)),
            format!("--time={}", format_limit(limit_for(self.end - begin))),
            format!("--reservation={}", self.reservation),
            format!("--nodelist={}", self.node),
            "--nodes=1".into(),
            "--ntasks=1".into(),
            format!("--cpus-per-task={}", self.cpus),
            format!("--mem={}G", self.memory),
        ];
        if self.gpus > 0 {
            args.push(format!("--gres=gpu:{}", self.gpus));
            args.push(format!("--licenses={}:{}", self.license, self.gpus));
        }
        args.extend([
            "--no-requeue".into(),
            "--export=NONE".into(),
            "--chdir=/".into(),
            "--output=/dev/null".into(),
            "--error=/dev/null".into(),
            // The session is the container the prolog starts; the job holds the resources
            // until its time limit or the reservation's end.
            "--wrap=exec sleep 2147483647".into(),
        ]);
        args
    }
}

/// What one of our reservations should be.
#[derive(Debug, Clone, PartialEq)]
pub struct ResvSpec {
    pub node: String,
    pub start: NaiveDateTime,
    pub end: NaiveDateTime,
    pub users: BTreeSet<String>,
    pub cores: u32,
    pub license: Option<(String, u32)>,
}

impl ResvSpec {
    fn licenses(&self) -> String {
        self.license
            .as_ref()
            .map(|(l, n)| format!("{l}:{n}"))
            .unwrap_or_default()
    }
}

/// One change to make in Slurm.
#[derive(Debug, Clone, PartialEq)]
pub enum Action {
    /// Cancelled by id and name both (`scancel --name`): Slurm itself checks it is ours.
    CancelJob {
        id: u64,
        name: String,
    },
    DeleteReservation {
        name: String,
    },
    UpdateReservation {
        name: String,
        start: Option<NaiveDateTime>,
        end: Option<NaiveDateTime>,
        users: Option<BTreeSet<String>>,
    },
    CreateReservation {
        name: String,
        spec: ResvSpec,
    },
    /// A time limit so that the job ends at the booking's end.
    SetLimit {
        id: u64,
        limit: Duration,
    },
    /// Submit held, record, release.
    Submit(Box<JobSpec>),
    /// A held job of ours: recorded (again), then released.
    Release {
        id: u64,
    },
    /// A running job whose bound GPUs the record lacks.
    ReadGpus {
        id: u64,
    },
}

impl Action {
    /// Where the action goes in [`apply`]'s order.
    fn phase(&self) -> u8 {
        match self {
            Action::CancelJob { .. } => 0,
            Action::DeleteReservation { .. } => 1,
            Action::UpdateReservation { .. } => 2,
            Action::CreateReservation { .. } => 3,
            Action::SetLimit { .. } => 4,
            Action::Submit(_) | Action::Release { .. } => 5,
            Action::ReadGpus { .. } => 6,
        }
    }

    /// One line for the log and the dry run.
    pub fn describe(&self) -> String {
        match self {
            Action::CancelJob { id, .. } => format!("cancel job {id}"),
            Action::DeleteReservation { name } => format!("delete reservation {name}"),
            Action::UpdateReservation {
                name,
                start,
                end,
                users,
            } => {
                let mut s = format!("update reservation {name}:");
                if let Some(t) = start {
                    s += &format!(" start {t}");
                }
                if let Some(t) = end {
                    s += &format!(" end {t}");
                }
                if let Some(u) = users {
                    s += &format!(" users {}", u.iter().cloned().collect::<Vec<_>>().join(","));
                }
                s
            }
            Action::CreateReservation { name, spec } => format!(
                "create reservation {name} on {} from {} to {}",
                spec.node, spec.start, spec.end
            ),
            Action::SetLimit { id, limit } => {
                format!("set job {id}'s time limit to {}", format_limit(*limit))
            }
            Action::Submit(j) => format!(
                "submit {}'s booking from {} on {} into {}",
                j.user_id, j.start, j.node, j.reservation
            ),
            Action::Release { id, .. } => format!("release job {id}"),
            Action::ReadGpus { id } => format!("read the GPUs bound to job {id}"),
        }
    }
}

/// A live booking as the comparison tracks it.
#[derive(Debug)]
struct Booked<'r> {
    row: &'r Row,
    /// Its run's reservation, an index into the names of the runs.
    resv: Option<usize>,
    /// A job of it was found in Slurm.
    seen: bool,
}

/// The comparison's result.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct Plan {
    /// In the order [`apply`] runs them.
    pub actions: Vec<Action>,
    /// The record as it stands once the actions are done, but for jobs still to submit.
    pub record: Vec<SlurmJob>,
    /// The bookings whose job runs (the monitor moves them to `using.csv`).
    pub running: HashSet<Key>,
}

/// The bookings that should be in Slurm: on a known node, sound, and not over.
fn live<'r>(cluster: &ClusterConfig, rows: &[&'r Row], now: NaiveDateTime) -> Vec<&'r Row> {
    rows.iter()
        .copied()
        .filter(|r| {
            r.end > now
                && r.node.as_deref().is_some_and(|n| cluster.node(n).is_some())
                && row_problems(r).is_empty()
        })
        .collect()
}

/// Compares what Slurm should hold for `rows` (booking.csv and using.csv) at `now` with
/// what it holds (`reservations`, `jobs`: ours and others'), given the monitor's `record`.
pub fn plan(
    cluster: &ClusterConfig,
    rows: &[&Row],
    record: &[SlurmJob],
    reservations: &[Reservation],
    jobs: &[Job],
    now: NaiveDateTime,
) -> Plan {
    let prefix = cluster.reservation_prefix.as_str();
    let live = live(cluster, rows, now);
    let mut actions = Vec::new();
    // Each live booking's reservation, as an index into `resv_names`.
    let mut resv_names: Vec<String> = Vec::new();
    // Each live booking, with its run's reservation (an index into `resv_names`) and whether
    // a job of it was found: one hash lookup per job in the comparison below.
    let mut booked: HashMap<(&str, NaiveDateTime), Booked> = live
        .iter()
        .map(|r| {
            (
                (r.user_id.as_str(), r.start),
                Booked {
                    row: r,
                    resv: None,
                    seen: false,
                },
            )
        })
        .collect();
    let ours: Vec<&Reservation> = reservations
        .iter()
        .filter(|r| r.name.starts_with(prefix))
        .collect();
    let taken: BTreeSet<&str> = ours.iter().map(|r| r.name.as_str()).collect();
    let mut created: BTreeSet<String> = BTreeSet::new();
    // Each node's bookings and reservations of ours, found once.
    let mut live_on: HashMap<&str, Vec<&Row>> = HashMap::new();
    for r in &live {
        live_on
            .entry(r.node.as_deref().unwrap_or_default())
            .or_default()
            .push(r);
    }
    let mut ours_on: HashMap<&str, Vec<&Reservation>> = HashMap::new();
    for r in &ours {
        if let Some(node) = reservation_node(prefix, &r.name) {
            ours_on.entry(node).or_default().push(r);
        }
    }
    for (node, cap) in &cluster.nodes {
        // The node's runs: bookings that overlap or touch, earliest first.
        let mut on_node: Vec<&Row> = live_on.remove(node.as_str()).unwrap_or_default();
        on_node.sort_by_key(|r| (r.start, r.end));
        let mut runs: Vec<(NaiveDateTime, NaiveDateTime, Vec<&Row>)> = Vec::new();
        for r in on_node {
            match runs.last_mut() {
                Some((_, end, members)) if r.start <= *end => {
                    *end = (*end).max(r.end);
                    members.push(r);
                }
                _ => runs.push((r.start, r.end, vec![r])),
            }
        }
        let mut actual: Vec<&Reservation> = ours_on.remove(node.as_str()).unwrap_or_default();
        actual.sort_by_key(|r| r.start);
        let mut kept = vec![false; actual.len()];
        // Runs and reservations both go by start: a reservation that ends before a run
        // starts can match no later run either.
        let mut first_open = 0;
        for (start, end, members) in &runs {
            let spec = ResvSpec {
                node: node.clone(),
                start: *start,
                end: *end,
                users: members
                    .iter()
                    .map(|r| cluster.unix_user_of(&r.user_id))
                    .collect(),
                cores: cap.cpus,
                license: (cap.gpus > 0).then(|| (cluster.license_of(node), cap.gpus)),
            };
            while first_open < actual.len() && actual[first_open].end < *start {
                first_open += 1;
            }
            let candidates: Vec<usize> = (first_open..actual.len())
                .take_while(|&i| actual[i].start <= *end)
                .filter(|&i| !kept[i] && *start <= actual[i].end)
                .collect();
            let keeper = candidates
                .iter()
                .find(|&&i| actual[i].active)
                .or(candidates.first())
                .copied();
            let name = match keeper.map(|i| (i, actual[i])) {
                Some((i, k)) if k.cores == spec.cores && k.licenses == spec.licenses() => {
                    kept[i] = true;
                    let users: BTreeSet<String> = k.users.iter().cloned().collect();
                    // A reservation that began keeps its start; one to begin moves to the
                    // run's (or to now, when the run began already).
                    let want_start = (*start).max(now);
                    let start_moves = !k.active && k.start != want_start;
                    let update = Action::UpdateReservation {
                        name: k.name.clone(),
                        start: start_moves.then_some(want_start),
                        end: (k.end != *end).then_some(*end),
                        users: (users != spec.users).then(|| spec.users.clone()),
                    };
                    if !matches!(
                        update,
                        Action::UpdateReservation {
                            start: None,
                            end: None,
                            users: None,
                            ..
                        }
                    ) {
                        actions.push(update);
                    }
                    k.name.clone()
                }
                _ => {
                    // Nothing to keep (or one sized for an older cluster.yaml, deleted below).
                    let mut name = reservation_name(prefix, node, (*start).max(now));
                    let mut n = 2;
                    while taken.contains(name.as_str()) || created.contains(&name) {
                        name = format!("{}.{n}", reservation_name(prefix, node, *start));
                        n += 1;
                    }
                    created.insert(name.clone());
                    let mut spec = spec.clone();
                    spec.start = (*start).max(now);
                    actions.push(Action::CreateReservation {
                        name: name.clone(),
                        spec,
                    });
                    name
                }
            };
            resv_names.push(name);
            for r in members {
                if let Some(b) = booked.get_mut(&(r.user_id.as_str(), r.start)) {
                    b.resv = Some(resv_names.len() - 1);
                }
            }
        }
        for (r, kept) in actual.iter().zip(&kept) {
            if !kept {
                actions.push(Action::DeleteReservation {
                    name: r.name.clone(),
                });
            }
        }
    }

    // Jobs: one per live booking, in its run's reservation. Ten thousand bookings are
    // compared without a name built or a string copied for any that matches.
    let same_user = |unix: &str, id: &str| {
        if cluster.unix_user == "{id}" {
            unix == id
        } else {
            unix == cluster.unix_user_of(id)
        }
    };
    let recorded: HashMap<u64, &SlurmJob> = record.iter().map(|j| (j.job_id, j)).collect();
    let mut new_record: Vec<SlurmJob> = Vec::with_capacity(jobs.len());
    let mut running = HashSet::new();
    // Running jobs first, so that a duplicate of a running one is the one cancelled.
    let mut ours: Vec<&Job> = jobs.iter().filter(|j| j.name.starts_with(prefix)).collect();
    ours.sort_by_key(|j| (j.state != JobState::Running, j.id));
    for job in ours {
        let Some((node, start, user)) = parse_job_name_parts(prefix, &job.name) else {
            continue;
        };
        let previous = recorded
            .get(&job.id)
            .filter(|r| r.user_id == user && r.start == start && r.node == node);
        let keep_record = |bound: GpuSet| SlurmJob {
            job_id: job.id,
            user_id: user.to_string(),
            start,
            node: node.to_string(),
            bound_gpus: bound,
        };
        if job.state == JobState::Completing {
            // Its epilog runs now and needs the record.
            new_record.push(keep_record(
                previous.map(|p| p.bound_gpus.clone()).unwrap_or_default(),
            ));
            continue;
        }
        let wanted = booked.get_mut(&(user, start)).filter(|b| {
            b.row.node.as_deref() == Some(node)
                && !b.seen
                && same_user(&job.user, user)
                && (job.state == JobState::Running
                    || b.resv.is_some_and(|i| resv_names[i] == job.reservation))
        });
        let Some(b) = wanted else {
            actions.push(Action::CancelJob {
                id: job.id,
                name: job.name.clone(),
            });
            if let Some(p) = previous {
                // Kept until the job is gone: its epilog still needs it.
                new_record.push((*p).clone());
            }
            continue;
        };
        b.seen = true;
        let row = b.row;
        let key = || (row.user_id.clone(), row.start);
        match job.state {
            JobState::Running => {
                running.insert(key());
                let bound = previous.map(|p| p.bound_gpus.clone()).unwrap_or_default();
                if bound.is_empty() && !row.gpus.is_empty() {
                    actions.push(Action::ReadGpus { id: job.id });
                }
                new_record.push(keep_record(bound));
                if let (Some(began), Some(limit)) = (job.start, job.limit) {
                    let want = limit_for(row.end - began);
                    if want != limit {
                        actions.push(Action::SetLimit {
                            id: job.id,
                            limit: want,
                        });
                    }
                }
            }
            _ => {
                new_record.push(keep_record(GpuSet::default()));
                let begin = row.start.max(now);
                if let Some(limit) = job.limit {
                    // A pending job's limit runs from its begin time.
                    let begin = job.start.filter(|s| *s >= begin).unwrap_or(begin);
                    let want = limit_for(row.end - begin);
                    if want != limit {
                        actions.push(Action::SetLimit {
                            id: job.id,
                            limit: want,
                        });
                    }
                }
                if job.held {
                    actions.push(Action::Release { id: job.id });
                }
            }
        }
    }
    let mut missing: Vec<(&Row, usize)> = booked
        .values()
        .filter(|b| !b.seen)
        .filter_map(|b| Some((b.row, b.resv?)))
        .collect();
    missing.sort_by(|a, b| (a.0.start, &a.0.user_id).cmp(&(b.0.start, &b.0.user_id)));
    for (r, i) in missing {
        let reservation = &resv_names[i];
        let node = r.node.clone().unwrap_or_default();
        actions.push(Action::Submit(Box::new(JobSpec {
            name: job_name(prefix, &node, r.start, &r.user_id),
            user_id: r.user_id.clone(),
            unix_user: cluster.unix_user_of(&r.user_id),
            license: cluster.license_of(&node),
            node,
            start: r.start,
            end: r.end,
            cpus: r.cpus.ceil() as u32,
            memory: r.memory,
            gpus: r.gpus.len() as u32,
            reservation: reservation.clone(),
        })));
    }
    actions.sort_by_key(Action::phase);
    Plan {
        actions,
        record: new_record,
        running,
    }
}

/// What [`apply`] did.
#[derive(Debug, Default)]
pub struct Applied {
    /// One line per change made.
    pub done: Vec<String>,
    /// One line per change that failed (retried by the next run).
    pub failed: Vec<String>,
    /// The record after the changes.
    pub record: Vec<SlurmJob>,
}

/// Makes the changes of `plan` in Slurm. `save` writes the record (under the monitor's
/// lock); it is called after the submissions and before any job is released, so that the
/// node side knows every job of ours before it can start.
pub fn apply(
    slurm: &Slurm,
    plan: Plan,
    now: NaiveDateTime,
    mut save: impl FnMut(&[SlurmJob]) -> Result<(), Error>,
) -> Applied {
    let mut out = Applied {
        record: plan.record,
        ..Applied::default()
    };
    let mut gids: HashMap<String, Result<String, String>> = HashMap::new();
    let mut to_release: Vec<u64> = Vec::new();
    let mut record_changed = false;
    let mut gpu_reads = Vec::new();
    for action in plan.actions {
        let line = action.describe();
        let result = match &action {
            Action::CancelJob { id, name } => slurm
                .run("scancel", &[format!("--name={name}"), id.to_string()])
                .map(drop),
            Action::DeleteReservation { name } => slurm
                .run(
                    "scontrol",
                    &["delete".into(), format!("ReservationName={name}")],
                )
                .map(drop),
            Action::UpdateReservation {
                name,
                start,
                end,
                users,
            } => {
                let mut args = vec!["update".to_string(), format!("ReservationName={name}")];
                if let Some(t) = start {
                    args.push(format!("StartTime={}", slurm.time(*t)));
                }
                if let Some(t) = end {
                    args.push(format!("EndTime={}", slurm.time(*t)));
                }
                if let Some(u) = users {
                    args.push(format!(
                        "Users={}",
                        u.iter().cloned().collect::<Vec<_>>().join(",")
                    ));
                }
                slurm.run("scontrol", &args).map(drop)
            }
            Action::CreateReservation { name, spec } => {
                let start = if spec.start <= now {
                    "now".to_string()
                } else {
                    slurm.time(spec.start)
                };
                let mut args = vec![
                    "create".to_string(),
                    "reservation".into(),
                    format!("ReservationName={name}"),
                    format!("StartTime={start}"),
                    format!("EndTime={}", slurm.time(spec.end)),
                    format!("Nodes={}", spec.node),
                    format!("CoreCnt={}", spec.cores),
                    format!(
                        "Users={}",
                        spec.users.iter().cloned().collect::<Vec<_>>().join(",")
                    ),
                ];
                if spec.license.is_some() {
                    args.push(format!("Licenses={}", spec.licenses()));
                }
                slurm.run("scontrol", &args).map(drop)
            }
            Action::SetLimit { id, limit } => slurm
                .run(
                    "scontrol",
                    &[
                        "update".into(),
                        format!("JobId={id}"),
                        format!("TimeLimit={}", format_limit(*limit)),
                    ],
                )
                .map(drop),
            Action::Submit(spec) => {
                let gid = gids
                    .entry(spec.unix_user.clone())
                    .or_insert_with(|| primary_group(&spec.unix_user))
                    .clone();
                match gid {
                    Err(why) => Err(Error::NoAccount {
                        user: spec.unix_user.clone(),
                        why,
                    }),
                    Ok(gid) => slurm
                        .run("sbatch", &spec.sbatch_args(slurm, &gid, now))
                        .and_then(|text| {
                            let id = text
                                .trim()
                                .split(';')
                                .next()
                                .and_then(|t| t.parse::<u64>().ok())
                                .ok_or_else(|| Error::Slurm {
                                    command: "sbatch".into(),
                                    said: "printed no job id".into(),
                                })?;
                            out.record.push(SlurmJob {
                                job_id: id,
                                user_id: spec.user_id.clone(),
                                start: spec.start,
                                node: spec.node.clone(),
                                bound_gpus: GpuSet::default(),
                            });
                            record_changed = true;
                            to_release.push(id);
                            // The crash tests kill a run here: a job held, not recorded.
                            hostinfo::crash_point("slurm-submitted");
                            Ok(())
                        }),
                }
            }
            Action::Release { id, .. } => {
                to_release.push(*id);
                Ok(())
            }
            Action::ReadGpus { id } => {
                gpu_reads.push(*id);
                Ok(())
            }
        };
        match result {
            Ok(()) if matches!(action, Action::Release { .. } | Action::ReadGpus { .. }) => {}
            Ok(()) => out.done.push(line),
            Err(e) => out.failed.push(format!("{line}: {e}")),
        }
    }
    // Every job of ours is on record before any can start.
    if record_changed || !to_release.is_empty() {
        if let Err(e) = save(&out.record) {
            out.failed.push(format!(
                "the job record was not written, nothing released: {e}"
            ));
            return out;
        }
    }
    hostinfo::crash_point("slurm-recorded");
    for id in to_release {
        match slurm.run("scontrol", &["release".into(), id.to_string()]) {
            Ok(_) => out.done.push(format!("release job {id}")),
            Err(e) => out.failed.push(format!("release job {id}: {e}")),
        }
    }
    let mut gpus_read = false;
    for id in gpu_reads {
        match slurm.bound_gpus(id) {
            Ok(ids) if !ids.is_empty() => {
                if let Some(j) = out.record.iter_mut().find(|j| j.job_id == id) {
                    j.bound_gpus = GpuSet::new(ids);
                    gpus_read = true;
                }
            }
            Ok(_) => {}
            Err(e) => out.failed.push(format!("read job {id}'s GPUs: {e}")),
        }
    }
    if gpus_read {
        if let Err(e) = save(&out.record) {
            out.failed
                .push(format!("the job record was not written: {e}"));
        }
    }
    out
}

/// The primary group of Unix account `user` (through NSS, as `id -g` finds it).
fn primary_group(user: &str) -> Result<String, String> {
    let out = std::process::Command::new("id")
        .args(["-g", "--", user])
        .stdin(std::process::Stdio::null())
        .output()
        .map_err(|e| format!("`id` could not run: {e}"))?;
    let gid = String::from_utf8_lossy(&out.stdout).trim().to_string();
    if out.status.success() && !gid.is_empty() && gid.bytes().all(|b| b.is_ascii_digit()) {
        Ok(gid)
    } else {
        Err("no such account on the controller".into())
    }
}
