//! Cluster mode against a real Slurm 22.05 (Debian's packages, two `slurmd -N` nodes on
//! loopback, tests/support/slurm.rs): the monitor's tick mirrors the bookings into
//! reservations and jobs of ours, a second tick changes nothing, a cancelled booking leaves
//! Slurm as it was, a tick killed mid-mirror is completed by the next, shortening ends a job
//! within 30 s, and what lacks our prefix is never touched.
//!
//! Slurm keeps real time, so the schedule's clock is shifted (`AIVC_CLOCK_SHIFT_SECONDS`,
//! debug builds only) to stand a few seconds before a slot boundary: a booking of the next
//! slot begins seconds later, in both clocks.

mod common;

#[path = "../../../tests/support/slurm.rs"]
mod slurm;

use std::process::Output;
use std::time::{Duration, Instant};

use chrono::NaiveDateTime;
use slurm::{ensure_unix_user, wait_until, LabOptions, SlurmLab};

const ZONE: chrono_tz::Tz = chrono_tz::Asia::Taipei;

/// The schedule's clock `lead` seconds before the next slot boundary (see
/// [`slurm::before_boundary`]).
fn before_boundary(lead: i64) -> (i64, NaiveDateTime, Instant) {
    slurm::before_boundary(chrono::Utc::now().with_timezone(&ZONE).naive_local(), lead)
}

fn t(at: NaiveDateTime) -> String {
    at.format("%Y-%m-%d %H:%M:%S").to_string()
}

/// A lab root in cluster mode over the two nodes of `slurm`, with users `ids` (Unix
/// accounts of the same names).
fn cluster_root(ids: &[&str]) -> common::Lab {
    let lab = common::Lab::new(None);
    for (i, id) in ids.iter().enumerate() {
        ensure_unix_user(id);
        lab.add_user(id, 10_500 + i as u16);
    }
    std::fs::write(
        lab.path().join("cfg/cluster.yaml"),
        "engine: slurm\nnodes:\n  node0: {cpus: 8, memory: 32, gpus: 4}\n  node1: {cpus: 8, memory: 32, gpus: 4}\nlicense: \"gpu_{node}\"\nreservation_prefix: aivc_\nunix_user: \"{id}\"\n",
    )
    .unwrap();
    lab
}

/// booking.csv with these rows (user, node, start, end, gpus) in the cluster format.
fn write_bookings(lab: &common::Lab, rows: &[(&str, &str, NaiveDateTime, NaiveDateTime, &str)]) {
    let mut text = String::from(hostinfo::schedule::HEADER_LINE_WITH_NODE);
    for (i, (user, node, from, to, gpus)) in rows.iter().enumerate() {
        text.push_str(&format!(
            "{},{},{user},1.0,1,\"{gpus}\",{},,,{node}\n",
            t(*from),
            t(*to),
            10_500 + i
        ));
    }
    std::fs::write(lab.path().join("jobs/booking.csv"), text).unwrap();
}

/// One real tick (no fixed clock: Slurm's is real) against `slurm`.
fn tick(lab: &common::Lab, slurm: &SlurmLab, shift: i64, envs: &[(&str, &str)]) -> Output {
    let shift = shift.to_string();
    let mut cmd = std::process::Command::new(env!("CARGO_BIN_EXE_monitor"));
    cmd.arg("--root")
        .arg(lab.path())
        .env("SLURM_CONF", slurm.conf())
        .env("AIVC_CLOCK_SHIFT_SECONDS", &shift)
        .env("AIVC_NO_NVML", "1")
        .env("AIVC_DOCKER", common::fake_docker())
        .env("AIVC_FAKE_DOCKER_LOG", lab.docker.path().join("docker.log"))
        .env("AIVC_FAKE_DOCKER_STATE", lab.state())
        .env_remove("AIVC_NOW")
        .env_remove("AIVC_ROOT")
        .envs(envs.iter().copied());
    cmd.output().unwrap()
}

fn ok(out: &Output) {
    assert_eq!(
        out.status.code(),
        Some(0),
        "monitor: {}",
        String::from_utf8_lossy(&out.stderr)
    );
}

/// Our reservations, `scontrol show reservation -o` lines of the aivc_ prefix.
fn our_reservations(slurm: &SlurmLab) -> Vec<String> {
    slurm
        .scontrol(&["show", "reservation", "-o"])
        .lines()
        .filter(|l| l.starts_with("ReservationName=aivc_"))
        .map(String::from)
        .collect()
}

/// (id, name, state, user, reservation) of every job in the queue.
fn queue(slurm: &SlurmLab) -> Vec<(u32, String, String, String, String)> {
    slurm
        .squeue(&["-h", "-o", "%i|%j|%T|%u|%v"])
        .lines()
        .map(|l| {
            let f: Vec<&str> = l.split('|').collect();
            (
                f[0].parse().unwrap(),
                f[1].to_string(),
                f[2].to_string(),
                f[3].to_string(),
                f[4].to_string(),
            )
        })
        .collect()
}

#[test]
fn bookings_on_two_nodes_become_reservations_and_jobs_and_two_overlapping_users_start_on_time() {
    let lab = cluster_root(&["aivcs1", "aivcs2", "aivcs3"]);
    // The guard, as setup.sh --slurm renders it from cfg/cluster.yaml.
    let guard = lab.path().join("job_submit.lua");
    let rendered = std::process::Command::new(common::run_container())
        .arg("--root")
        .arg(lab.path())
        .arg("slurm-job-submit")
        .output()
        .unwrap();
    assert!(rendered.status.success(), "{rendered:?}");
    std::fs::write(&guard, &rendered.stdout).unwrap();
    let slurm = SlurmLab::start(LabOptions {
        job_submit_lua: Some(guard),
        ..LabOptions::default()
    });
    let (shift, b, real_boundary) = before_boundary(6);
    let h = chrono::Duration::minutes(30);
    write_bookings(
        &lab,
        &[
            ("aivcs1", "node0", b, b + h * 2, "[0]"),
            ("aivcs2", "node0", b, b + h, "[1, 2]"),
            ("aivcs3", "node1", b + h, b + h * 3, "[0]"),
        ],
    );
    ok(&tick(&lab, &slurm, shift, &[]));
    let resv = our_reservations(&slurm);
    assert_eq!(resv.len(), 2, "{resv:#?}");
    let node0 = resv.iter().find(|r| r.contains("Nodes=node0 ")).unwrap();
    assert!(node0.contains("Users=aivcs1,aivcs2"), "{node0}");
    assert!(
        node0.contains("Licenses=gpu_node0:4") && node0.contains("CoreCnt=8"),
        "{node0}"
    );
    let jobs = queue(&slurm);
    assert_eq!(jobs.len(), 3, "{jobs:#?}");
    assert!(
        jobs.iter()
            .all(|j| j.1.starts_with("aivc_") && j.2 == "PENDING"),
        "{jobs:#?}"
    );
    let record = lab.file("jobs/slurm-jobs.csv");
    assert_eq!(record.lines().count(), 4, "{record}");

    // Both node0 bookings start within 5 s of their window; node1's waits for its own.
    let on_node0: Vec<u32> = jobs
        .iter()
        .filter(|j| j.1.starts_with("aivc_node0."))
        .map(|j| j.0)
        .collect();
    assert!(
        wait_until(Duration::from_secs(20), || on_node0
            .iter()
            .all(|id| slurm.job_state(*id).as_deref() == Some("RUNNING"))),
        "{:#?}\n{}",
        queue(&slurm),
        slurm.logs()
    );
    let late = Instant::now().saturating_duration_since(real_boundary);
    assert!(
        late < Duration::from_secs(5),
        "started {late:?} after the window opened"
    );
    for id in &on_node0 {
        let job = slurm.show_job(*id).unwrap();
        assert!(job.contains("GRES=gpu:"), "{job}");
    }
    // The next tick files them as running and reads the GPUs Slurm bound.
    ok(&tick(&lab, &slurm, shift, &[]));
    let using = lab.file("jobs/using.csv");
    assert_eq!(using.lines().count(), 3, "{using}");
    let record = lab.file("jobs/slurm-jobs.csv");
    assert!(
        record
            .lines()
            .filter(|l| l.contains("node0") && l.contains('['))
            .count()
            == 2,
        "{record}"
    );
    // A quiet tick changes nothing in Slurm.
    let before = (our_reservations(&slurm), queue(&slurm));
    let out = tick(&lab, &slurm, shift, &[]);
    ok(&out);
    assert_eq!((our_reservations(&slurm), queue(&slurm)), before);
    assert!(
        !lab.file("jobs/monitor.log").contains("SlurmError"),
        "{}",
        lab.file("jobs/monitor.log")
    );
    // Counted at the commands themselves: a quiet tick lists twice and changes nothing; a
    // new booking costs a few calls more, whatever the schedule holds.
    let counter = CallCounter::new();
    ok(&tick(
        &lab,
        &slurm,
        shift,
        &[("AIVC_SLURM_BIN", counter.dir())],
    ));
    assert_eq!(counter.calls(), ["scontrol show reservation", "squeue"]);
    let mut text = lab.file("jobs/booking.csv");
    text.push_str(&format!(
        "{},{},aivcs2,1.0,1,[0],10501,,,node1\n",
        t(b + h * 4),
        t(b + h * 5)
    ));
    std::fs::write(lab.path().join("jobs/booking.csv"), text).unwrap();
    let counter = CallCounter::new();
    ok(&tick(
        &lab,
        &slurm,
        shift,
        &[("AIVC_SLURM_BIN", counter.dir())],
    ));
    let calls = counter.calls();
    assert_eq!(
        calls,
        [
            "scontrol show reservation",
            "squeue",
            "scontrol create reservation",
            "sbatch",
            "scontrol release"
        ],
        "{}",
        lab.file("jobs/monitor.log")
    );

    // A job outside the bookings cannot take the GPU node0's reservation holds for them:
    // without licenses the guard refuses it, with them it waits on the reserved tokens.
    let refused = slurm.sbatch_as(
        "aivcs3",
        &[
            "-w",
            "node0",
            "--gres=gpu:1",
            "--mem=50",
            "--time=5",
            "--output=/dev/null",
            "--wrap=sleep 60",
        ],
    );
    assert!(!refused.status.success(), "{refused:?}");
    assert!(
        String::from_utf8_lossy(&refused.stderr).contains("license"),
        "{refused:?}"
    );
    let outside = slurm.sbatch(&[
        "-w",
        "node0",
        "--gres=gpu:1",
        "--licenses=gpu_node0:1",
        "-c",
        "1",
        "--mem=50",
        "--time=5",
        "--output=/dev/null",
        "--wrap=sleep 60",
    ]);
    assert!(
        !wait_until(Duration::from_secs(5), || slurm
            .job_state(outside)
            .as_deref()
            != Some("PENDING")),
        "{:?}",
        slurm.show_job(outside)
    );
    slurm.run("scancel", &[&outside.to_string()]);
}

#[test]
fn a_cancelled_future_booking_leaves_slurm_as_if_it_never_existed_and_foreign_work_is_untouched() {
    let slurm = SlurmLab::start(LabOptions::default());
    let lab = cluster_root(&["aivcs1"]);
    let (shift, b, _) = before_boundary(600);
    let h = chrono::Duration::minutes(30);
    // Someone else's reservation and job, on the same node and time.
    slurm.scontrol(&[
        "create",
        "reservation",
        "ReservationName=maint_node1",
        "StartTime=now+3hours",
        "Duration=30",
        "Nodes=node1",
        "CoreCnt=1",
        "Users=root",
    ]);
    let theirs = slurm.sbatch(&[
        "-J",
        "training",
        "-w",
        "node1",
        "-c",
        "1",
        "--mem=50",
        "--time=30",
        "--chdir=/tmp",
        "--output=/dev/null",
        "--wrap=sleep 600",
    ]);
    assert!(
        wait_until(Duration::from_secs(15), || slurm
            .job_state(theirs)
            .as_deref()
            == Some("RUNNING")),
        "{:?}",
        slurm.show_job(theirs)
    );
    let before = (
        slurm.scontrol(&["show", "reservation", "-o"]),
        slurm.squeue(&["-h", "-o", "%i|%j|%u|%v|%l"]),
    );
    write_bookings(&lab, &[("aivcs1", "node1", b + h, b + h * 2, "[0]")]);
    ok(&tick(&lab, &slurm, shift, &[]));
    assert_eq!(our_reservations(&slurm).len(), 1);
    assert_eq!(queue(&slurm).len(), 2);
    write_bookings(&lab, &[]);
    ok(&tick(&lab, &slurm, shift, &[]));
    assert!(
        wait_until(Duration::from_secs(10), || {
            (
                slurm.scontrol(&["show", "reservation", "-o"]),
                slurm.squeue(&["-h", "-o", "%i|%j|%u|%v|%l"]),
            ) == before
        }),
        "before: {before:#?}\nafter: {:#?}",
        (
            slurm.scontrol(&["show", "reservation", "-o"]),
            queue(&slurm)
        )
    );
    let shown = slurm.show_job(theirs).unwrap();
    assert!(shown.contains("JobState=RUNNING"), "{shown}");
}

#[test]
fn a_tick_killed_between_submitting_and_recording_is_completed_by_the_next() {
    let slurm = SlurmLab::start(LabOptions::default());
    let lab = cluster_root(&["aivcs1", "aivcs2"]);
    let (shift, b, _) = before_boundary(900);
    let h = chrono::Duration::minutes(30);
    write_bookings(
        &lab,
        &[
            ("aivcs1", "node0", b + h, b + h * 2, "[0]"),
            ("aivcs2", "node1", b + h, b + h * 2, "[0]"),
        ],
    );
    let out = tick(&lab, &slurm, shift, &[("AIVC_CRASH_AT", "slurm-submitted")]);
    assert_ne!(out.status.code(), Some(0), "the tick was to be killed");
    let jobs = queue(&slurm);
    assert_eq!(
        jobs.len(),
        1,
        "killed after the first submission: {jobs:#?}"
    );
    let held = slurm.show_job(jobs[0].0).unwrap();
    assert!(held.contains("Reason=JobHeld"), "{held}");
    assert!(
        lab.file("jobs/slurm-jobs.csv").lines().count() <= 1,
        "not recorded yet"
    );
    ok(&tick(&lab, &slurm, shift, &[]));
    let jobs = queue(&slurm);
    assert_eq!(
        jobs.len(),
        2,
        "one job per booking, no duplicate: {jobs:#?}"
    );
    for j in &jobs {
        let shown = slurm.show_job(j.0).unwrap();
        assert!(!shown.contains("JobHeld"), "{shown}");
    }
    let record = lab.file("jobs/slurm-jobs.csv");
    assert_eq!(record.lines().count(), 3, "{record}");
    let before = (our_reservations(&slurm), queue(&slurm));
    ok(&tick(&lab, &slurm, shift, &[]));
    assert_eq!((our_reservations(&slurm), queue(&slurm)), before);
}

#[test]
fn shortening_a_running_booking_ends_its_job_within_30_seconds_of_the_new_end() {
    let slurm = SlurmLab::start(LabOptions::default());
    let lab = cluster_root(&["aivcs1"]);
    let (shift, b, real_end) = before_boundary(25);
    let h = chrono::Duration::minutes(30);
    // Running now (the slot that ends at b), booked until an hour after b.
    write_bookings(&lab, &[("aivcs1", "node1", b - h, b + h * 2, "[0]")]);
    ok(&tick(&lab, &slurm, shift, &[]));
    let id = queue(&slurm)[0].0;
    assert!(wait_until(Duration::from_secs(10), || slurm
        .job_state(id)
        .as_deref()
        == Some("RUNNING")));
    // As `booking --end-at` leaves it: the booking now ends at b, seconds away.
    write_bookings(&lab, &[]);
    let using = lab.file("jobs/using.csv");
    let shortened = using.replace(&t(b + h * 2), &t(b));
    assert_ne!(
        using, shortened,
        "the running booking is in using.csv: {using}"
    );
    std::fs::write(lab.path().join("jobs/using.csv"), shortened).unwrap();
    ok(&tick(&lab, &slurm, shift, &[]));
    let resv = our_reservations(&slurm);
    assert_eq!(resv.len(), 1);
    assert!(
        wait_until(Duration::from_secs(45), || slurm.job_finished(id)),
        "{}",
        slurm.logs()
    );
    let after = Instant::now().saturating_duration_since(real_end);
    assert!(
        after < Duration::from_secs(30),
        "ended {after:?} after the new end"
    );
}

#[test]
fn a_job_name_posing_as_a_line_of_squeue_never_makes_the_monitor_touch_another_job() {
    let slurm = SlurmLab::start(LabOptions::default());
    let lab = cluster_root(&["aivcs1", "aivcs2"]);
    let (shift, _, _) = before_boundary(900);
    let victim = slurm.running_job_of(
        "aivcs2",
        &["-w", "node1", "-c", "1", "--mem=50", "--time=30"],
    );
    // A name whose second line reads like a job of ours with the victim's id, which matches
    // no booking (so the old reader cancelled it) and a past start (so it shortened it).
    let forged = format!(
        "x\n{victim}\u{1f}RUNNING\u{1f}aivcs1\u{1f}(null)\u{1f}None\u{1f}2026-01-01T00:00:00\u{1f}10:00:00\u{1f}\u{1f}aivc_node0.209901011000.aivcs1"
    );
    let out = slurm.sbatch_as(
        "aivcs1",
        &[
            "-J",
            &forged,
            "-w",
            "node0",
            "-c",
            "1",
            "--mem=50",
            "--time=30",
            "--output=/dev/null",
            "--wrap=sleep 600",
        ],
    );
    assert!(out.status.success(), "the lab has no guard: {out:?}");
    let before = slurm.show_job(victim).unwrap();
    write_bookings(&lab, &[]);
    ok(&tick(&lab, &slurm, shift, &[]));
    let log = lab.file("jobs/monitor.log");
    assert!(!log.contains(&format!("job {victim}")), "{log}");
    let after = slurm.show_job(victim).unwrap();
    assert!(after.contains("JobState=RUNNING"), "{after}");
    let limit = |s: &str| slurm::field(s, "TimeLimit");
    assert_eq!(limit(&after), limit(&before));
}

#[test]
fn a_change_slurm_refuses_is_tried_once_a_tick_not_in_a_loop() {
    let slurm = SlurmLab::start(LabOptions::default());
    let lab = cluster_root(&["aivcs1", "aivcs2"]);
    let (shift, b, _) = before_boundary(8);
    let h = chrono::Duration::minutes(30);
    // A student's job without a time limit holds all of node0's cores: no reservation of
    // ours can be made there.
    let _hog = slurm.running_job_of("aivcs2", &["-w", "node0", "-c", "8", "--mem=50"]);
    // Due now, so the tick would wait for it to start.
    write_bookings(&lab, &[("aivcs1", "node0", b - h, b + h, "[0]")]);
    ok(&tick(&lab, &slurm, shift, &[]));
    let log = lab.file("jobs/monitor.log");
    let errors = log.lines().filter(|l| l.contains("SlurmError")).count();
    assert!(
        (1..=3).contains(&errors),
        "{errors} errors in one tick:\n{log}"
    );
    assert!(log.contains("retried next tick"), "{log}");
}

/// A folder of `squeue`, `scontrol`, `sbatch` and `scancel` that note each call (the
/// command and its first two words) and run the real one: `AIVC_SLURM_BIN` for a tick.
struct CallCounter {
    dir: tempfile::TempDir,
}

impl CallCounter {
    fn new() -> Self {
        use std::os::unix::fs::PermissionsExt;
        let dir = tempfile::tempdir().unwrap();
        for program in ["squeue", "scontrol", "sbatch", "scancel"] {
            let real = ["/usr/bin", "/usr/sbin", "/bin"]
                .iter()
                .map(|d| std::path::Path::new(d).join(program))
                .find(|p| p.exists())
                .unwrap_or_else(|| panic!("no {program} installed"));
            let path = dir.path().join(program);
            std::fs::write(
                &path,
                format!(
                    "#!/bin/bash\ncase \"$1\" in show|create|update|delete|release) echo \"{program} $1 $2\" ;; *) echo {program} ;; esac | sed 's/ $//;s/ ReservationName=.*//;s/ JobId=.*//;s/ [0-9]*$//' >> '{log}'\nexec '{real}' \"$@\"\n",
                    log = dir.path().join("calls").display(),
                    real = real.display()
                ),
            )
            .unwrap();
            std::fs::set_permissions(&path, std::fs::Permissions::from_mode(0o755)).unwrap();
        }
        CallCounter { dir }
    }

    fn dir(&self) -> &str {
        self.dir.path().to_str().unwrap()
    }

    /// The calls made, in order (the two listings may come in either order: sorted first).
    fn calls(&self) -> Vec<String> {
        let text = std::fs::read_to_string(self.dir.path().join("calls")).unwrap_or_default();
        let mut calls: Vec<String> = text.lines().map(String::from).collect();
        if calls.len() >= 2 {
            calls[..2].sort();
        }
        calls
    }
}
