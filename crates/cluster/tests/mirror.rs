//! The comparison of the schedule with Slurm, against the in-memory Slurm of `cluster::sim`:
//! what each change of the schedule costs in Slurm calls, that a second run changes nothing,
//! and that no step asks for two overlapping reservations of ours on a node.

use std::path::Path;

use chrono::{Duration, NaiveDateTime};
use cluster::mirror::{self, parse_job_name, Action};
use cluster::sim::Sim;
use cluster::slurm::{Job, JobState, Reservation};
use hostinfo::cluster::{ClusterConfig, SlurmJob};
use hostinfo::schedule::{GpuSet, Row};

fn cluster() -> ClusterConfig {
    ClusterConfig::parse(
        Path::new("cfg/cluster.yaml"),
        "engine: slurm\nnodes:\n  node0: {cpus: 8, memory: 32, gpus: 4}\n  node1: {cpus: 8, memory: 32, gpus: 4}\n",
    )
    .unwrap()
}

fn at(hhmm: &str) -> NaiveDateTime {
    NaiveDateTime::parse_from_str(&format!("2026-11-26 {hhmm}:00"), "%Y-%m-%d %H:%M:%S").unwrap()
}

fn row(user: &str, node: &str, from: &str, to: &str, gpus: &[u32]) -> Row {
    Row {
        start: at(from),
        end: at(to),
        user_id: user.into(),
        cpus: 2.0,
        memory: 4,
        gpus: GpuSet::new(gpus.to_vec()),
        forward_port: 10001,
        image: None,
        extra_command: None,
        node: Some(node.into()),
    }
}

/// One run of mirroring against `sim` at `now`: list, compare, apply; the record as
/// `mirror::apply` leaves it. Returns the plan.
fn mirror_once(
    sim: &mut Sim,
    rows: &[Row],
    record: &mut Vec<SlurmJob>,
    now: NaiveDateTime,
) -> mirror::Plan {
    let (resv, jobs) = sim.list();
    let refs: Vec<&Row> = rows.iter().collect();
    let plan = mirror::plan(&cluster(), &refs, record, &resv, &jobs, now);
    sim.apply(&plan, now);
    // As apply leaves it: every job of ours, with the GPUs read for the running ones (the
    // stand-in binds GPU 0), and those read before.
    let read: Vec<u64> = plan
        .actions
        .iter()
        .filter_map(|a| match a {
            Action::ReadGpus { id } => Some(*id),
            _ => None,
        })
        .collect();
    let before = std::mem::take(record);
    *record = sim
        .jobs
        .iter()
        .filter_map(|j| {
            let (node, start, user) = parse_job_name("aivc_", &j.name)?;
            let bound = if read.contains(&j.id) {
                GpuSet::new(vec![0])
            } else {
                before
                    .iter()
                    .find(|r| r.job_id == j.id)
                    .map(|r| r.bound_gpus.clone())
                    .unwrap_or_default()
            };
            Some(SlurmJob {
                job_id: j.id,
                user_id: user,
                start,
                node,
                bound_gpus: bound,
            })
        })
        .collect();
    plan
}

fn names(actions: &[Action]) -> Vec<String> {
    actions.iter().map(Action::describe).collect()
}

#[test]
fn bookings_on_two_nodes_become_one_reservation_per_run_and_a_job_each_and_a_second_run_changes_nothing(
) {
    let mut sim = Sim::default();
    let mut record = Vec::new();
    let rows = [
        row("alice", "node0", "10:00", "12:00", &[0]),
        row("bob", "node0", "11:00", "13:00", &[1, 2]),
        row("carol", "node1", "10:00", "11:00", &[0]),
    ];
    let plan = mirror_once(&mut sim, &rows, &mut record, at("09:00"));
    let creates = plan
        .actions
        .iter()
        .filter(|a| matches!(a, Action::CreateReservation { .. }))
        .count();
    let submits = plan
        .actions
        .iter()
        .filter(|a| matches!(a, Action::Submit(_)))
        .count();
    assert_eq!((creates, submits), (2, 3), "{:?}", names(&plan.actions));
    assert!(sim.refused.is_empty(), "{:?}", sim.refused);
    let node0 = sim
        .reservations
        .iter()
        .find(|r| r.nodes == "node0")
        .unwrap();
    assert_eq!((node0.start, node0.end), (at("10:00"), at("13:00")));
    assert_eq!(node0.users, ["alice", "bob"]);
    assert_eq!(node0.licenses, "gpu_node0:4");
    assert!(sim.jobs.iter().all(|j| !j.held), "every job is released");
    let calls = sim.calls;
    let again = mirror_once(&mut sim, &rows, &mut record, at("09:01"));
    assert!(again.actions.is_empty(), "{:?}", names(&again.actions));
    assert_eq!(sim.calls - calls, 2, "a quiet run only lists");
}

#[test]
fn a_cancelled_future_booking_leaves_slurm_as_if_it_never_existed() {
    let mut sim = Sim::default();
    let mut record = Vec::new();
    let before = (sim.reservations.clone(), sim.jobs.clone());
    let rows = [row("alice", "node0", "10:00", "12:00", &[0])];
    mirror_once(&mut sim, &rows, &mut record, at("09:00"));
    assert_eq!((sim.reservations.len(), sim.jobs.len()), (1, 1));
    let plan = mirror_once(&mut sim, &[], &mut record, at("09:05"));
    assert_eq!(plan.actions.len(), 2, "{:?}", names(&plan.actions));
    assert_eq!((sim.reservations.clone(), sim.jobs.clone()), before);
}

#[test]
fn a_booking_that_bridges_two_runs_while_the_first_runs_joins_them_into_the_running_reservation() {
    let mut sim = Sim::default();
    let mut record = Vec::new();
    let mut rows = vec![
        row("alice", "node0", "10:00", "12:00", &[0]),
        row("bob", "node0", "13:00", "15:00", &[1]),
    ];
    mirror_once(&mut sim, &rows, &mut record, at("09:00"));
    assert_eq!(sim.reservations.len(), 2, "two runs, two reservations");
    sim.advance(at("10:00"));
    let running = sim
        .jobs
        .iter()
        .find(|j| j.state == JobState::Running)
        .unwrap()
        .clone();
    rows.push(row("carol", "node0", "11:30", "13:30", &[2]));
    let plan = mirror_once(&mut sim, &rows, &mut record, at("10:10"));
    assert!(
        sim.refused.is_empty(),
        "{:?} after {:?}",
        sim.refused,
        names(&plan.actions)
    );
    assert_eq!(sim.reservations.len(), 1, "{:?}", sim.reservations);
    let r = &sim.reservations[0];
    assert_eq!((r.start, r.end), (at("10:00"), at("15:00")));
    assert_eq!(r.users, ["alice", "bob", "carol"]);
    assert!(
        sim.jobs
            .iter()
            .any(|j| j.id == running.id && j.state == JobState::Running),
        "the running job is untouched"
    );
    assert!(
        sim.jobs.iter().all(|j| j.reservation == r.name),
        "{:?}",
        sim.jobs
    );
    assert_eq!(sim.jobs.len(), 3);
    // Every step kept one reservation of ours per node per instant: deleting the later one
    // came before widening the running one.
    let order = names(&plan.actions);
    let delete = order.iter().position(|a| a.starts_with("delete")).unwrap();
    let update = order.iter().position(|a| a.starts_with("update")).unwrap();
    assert!(delete < update, "{order:?}");
    let again = mirror_once(&mut sim, &rows, &mut record, at("10:11"));
    assert!(again.actions.is_empty(), "{:?}", names(&again.actions));
}

#[test]
fn shortening_and_extending_a_running_booking_move_its_job_limit_and_its_reservation_end() {
    let mut sim = Sim::default();
    let mut record = Vec::new();
    let mut rows = vec![row("alice", "node1", "10:00", "12:00", &[0])];
    mirror_once(&mut sim, &rows, &mut record, at("09:00"));
    sim.advance(at("10:00"));
    rows[0].end = at("10:30");
    let plan = mirror_once(&mut sim, &rows, &mut record, at("10:05"));
    // Two changes, and the one read of the GPUs Slurm bound when the job started.
    assert_eq!(
        names(&plan.actions),
        [
            "update reservation aivc_node1.202611261000: end 2026-11-26 10:30:00",
            "set job 1's time limit to 0-00:30:00",
            "read the GPUs bound to job 1",
        ]
    );
    assert_eq!(sim.reservations[0].end, at("10:30"));
    assert_eq!(sim.jobs[0].limit, Some(Duration::minutes(30)));
    rows[0].end = at("11:00");
    mirror_once(&mut sim, &rows, &mut record, at("10:06"));
    assert_eq!(
        (sim.reservations[0].end, sim.jobs[0].limit),
        (at("11:00"), Some(Duration::hours(1)))
    );
}

#[test]
fn reservations_and_jobs_without_our_prefix_are_never_touched() {
    let mut sim = Sim::default();
    let foreign = Reservation {
        name: "maintenance".into(),
        start: at("10:00"),
        end: at("11:00"),
        nodes: "node0".into(),
        cores: 1,
        users: vec!["root".into()],
        licenses: String::new(),
        active: false,
    };
    sim.reservations.push(foreign.clone());
    let their_job = Job {
        id: 500,
        state: JobState::Running,
        user: "dave".into(),
        reservation: String::new(),
        held: false,
        start: Some(at("08:00")),
        limit: Some(Duration::hours(5)),
        nodes: "node1".into(),
        name: "train.aivc_node1.202611261000.alice".into(),
    };
    sim.add_job(their_job.clone());
    let mut record = Vec::new();
    mirror_once(
        &mut sim,
        &[row("alice", "node1", "10:00", "11:00", &[])],
        &mut record,
        at("09:00"),
    );
    mirror_once(&mut sim, &[], &mut record, at("09:01"));
    assert_eq!(sim.reservations, [foreign]);
    assert_eq!(sim.jobs, [their_job]);
}

#[test]
fn a_held_job_that_a_killed_monitor_left_unrecorded_is_adopted_and_released() {
    let mut sim = Sim::default();
    let mut record = Vec::new();
    let rows = [row("alice", "node0", "10:00", "11:00", &[0])];
    mirror_once(&mut sim, &rows, &mut record, at("09:00"));
    // As if killed between sbatch and the record: the job is held and nobody knows it.
    sim.jobs[0].held = true;
    let mut lost = Vec::new();
    let (resv, jobs) = sim.list();
    let refs: Vec<&Row> = rows.iter().collect();
    let plan = mirror::plan(&cluster(), &refs, &lost, &resv, &jobs, at("09:01"));
    assert_eq!(
        names(&plan.actions),
        [format!("release job {}", sim.jobs[0].id)]
    );
    assert_eq!(plan.record.len(), 1, "recorded before it is released");
    sim.apply(&plan, at("09:01"));
    assert!(!sim.jobs[0].held);
    lost.clone_from(&plan.record);
    let again = mirror::plan(
        &cluster(),
        &refs,
        &lost,
        &sim.reservations,
        &sim.jobs,
        at("09:02"),
    );
    assert!(again.actions.is_empty(), "{:?}", names(&again.actions));
}

#[test]
fn a_duplicate_job_of_one_booking_is_cancelled_and_the_running_one_kept() {
    let mut sim = Sim::default();
    let mut record = Vec::new();
    let rows = [row("alice", "node0", "10:00", "11:00", &[0])];
    mirror_once(&mut sim, &rows, &mut record, at("09:00"));
    sim.advance(at("10:00"));
    let mut dup = sim.jobs[0].clone();
    dup.id = 99;
    dup.state = JobState::Pending;
    sim.add_job(dup);
    let plan = mirror_once(&mut sim, &rows, &mut record, at("10:01"));
    assert_eq!(
        names(&plan.actions),
        ["cancel job 99", "read the GPUs bound to job 1"]
    );
    assert_eq!(sim.jobs.len(), 1);
}

#[test]
fn removing_the_booking_that_bridged_two_runs_splits_them_again_without_an_overlap() {
    let mut sim = Sim::default();
    let mut record = Vec::new();
    let mut rows = vec![
        row("alice", "node0", "10:00", "12:00", &[0]),
        row("carol", "node0", "11:30", "13:30", &[2]),
        row("bob", "node0", "13:00", "15:00", &[1]),
    ];
    mirror_once(&mut sim, &rows, &mut record, at("09:00"));
    assert_eq!(sim.reservations.len(), 1, "one run");
    rows.remove(1);
    let plan = mirror_once(&mut sim, &rows, &mut record, at("09:10"));
    assert!(
        sim.refused.is_empty(),
        "{:?} after {:?}",
        sim.refused,
        names(&plan.actions)
    );
    let mut spans: Vec<(NaiveDateTime, NaiveDateTime)> =
        sim.reservations.iter().map(|r| (r.start, r.end)).collect();
    spans.sort();
    assert_eq!(
        spans,
        [(at("10:00"), at("12:00")), (at("13:00"), at("15:00"))]
    );
    let bob = sim.jobs.iter().find(|j| j.user == "bob").unwrap();
    let later = sim
        .reservations
        .iter()
        .find(|r| r.start == at("13:00"))
        .unwrap();
    assert_eq!(
        bob.reservation, later.name,
        "bob's pending job moved into the later run's reservation"
    );
    assert_eq!(sim.jobs.len(), 2);
    let again = mirror_once(&mut sim, &rows, &mut record, at("09:11"));
    assert!(again.actions.is_empty(), "{:?}", names(&again.actions));
}
