//! `monitor --sample` (issue 16, sampling): GPU rows from NVML (the stand-in library of
//! tests/fixtures/nvml-standin), a row per running booking from its container's cgroup
//! (a real container on the real engine, and a stand-in docker whose container is this
//! test process), one note a day when no driver answers, one file a day, old days pruned.

mod common;

#[path = "../../../tests/support/docker.rs"]
mod docker;
#[path = "../../../tests/support/nvml.rs"]
mod nvml;

use std::path::Path;
use std::process::{Command, Output};

use hostinfo::schedule::parse_time;
use hostinfo::usage::{Sample, Subject};

const HEADER: &str = "start,end,user_id,cpus,memory,gpus,forward_port,image,extra_command\n";

fn assert_ok(out: &Output) {
    assert_eq!(
        out.status.code(),
        Some(0),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
}

fn samples(lab: &common::Lab, from: &str, to: &str) -> Vec<Sample> {
    hostinfo::Root::at(lab.path())
        .read_usage_since(
            parse_time(&format!("{from}:00")).unwrap(),
            parse_time(&format!("{to}:00")).unwrap(),
        )
        .unwrap()
}

fn of<'a>(samples: &'a [Sample], subject: &Subject) -> Vec<&'a Sample> {
    samples.iter().filter(|s| &s.subject == subject).collect()
}

/// The tick at 10:00 on the real engine, which starts `id`'s booking.
fn start_on_the_engine(lab: &common::Lab, id: &str) {
    let tick = Command::new(env!("CARGO_BIN_EXE_monitor"))
        .arg("--root")
        .arg(lab.path())
        .env("AIVC_NOW", common::NOW)
        .env("AIVC_RUN_CONTAINER", common::run_container())
        .env("AIVC_NO_NVML", "1")
        .env_remove("AIVC_DOCKER")
        .env_remove("AIVC_ROOT")
        .output()
        .unwrap();
    assert_ok(&tick);
    assert!(
        docker::inspect(id).is_some(),
        "the booking's container runs"
    );
}

/// `monitor --sample` at `now` against the real engine, with the stand-in NVML.
fn real_sample(lab: &common::Lab, now: &str, state: &Path) -> Output {
    Command::new(env!("CARGO_BIN_EXE_monitor"))
        .arg("--root")
        .arg(lab.path())
        .arg("--sample")
        .env("AIVC_NOW", now)
        .env_remove("AIVC_NO_NVML")
        .envs(nvml::env(state))
        .env_remove("AIVC_DOCKER")
        .env_remove("AIVC_ROOT")
        .output()
        .unwrap()
}

#[test]
fn a_sample_has_the_standin_gpus_and_the_real_containers_cpu_and_memory() {
    docker::standin_image();
    let lab = common::Lab::new(None);
    let _cleanup = docker::InstallationCleanup(lab.installation.clone());
    let id = docker::unique_name("usage");
    let port = docker::free_port();
    lab.add_user(&id, port);
    std::fs::write(
        lab.path().join("jobs/booking.csv"),
        format!("{HEADER}2026-11-23 10:00:00,2026-11-23 11:00:00,{id},1.0,1,[],{port},,\n"),
    )
    .unwrap();
    std::fs::write(lab.path().join("jobs/monitor_exec"), "now\n").unwrap();
    let state = lab.docker.path().join("nvml-state");
    std::fs::write(
        &state,
        "driver 550.54.15\n\
         gpu 0 GPU-6b2c0d3e-0000-4000-8000-000000000000 81920 4096 55 NVIDIA Stand-in 80GB\n\
         gpu 1 GPU-6b2c0d3e-0000-4000-8000-000000000001 81920 2048 40 NVIDIA Stand-in 80GB\n",
    )
    .unwrap();
    start_on_the_engine(&lab, &id);
    // Keep one CPU of the container busy (the loop ends with the container).
    let busy = Command::new("docker")
        .args(["exec", "-d", &id, "sh", "-c", "while :; do :; done"])
        .output()
        .unwrap();
    assert_ok(&busy);

    assert_ok(&real_sample(&lab, "2026-11-23 10:05", &state));
    // CPU is the average between two samples: let the loop run a little in real time.
    std::thread::sleep(std::time::Duration::from_millis(1500));
    assert_ok(&real_sample(&lab, "2026-11-23 10:10", &state));

    let all = samples(&lab, "2026-11-23 10:00", "2026-11-23 10:10");
    let gpu0 = of(&all, &Subject::Gpu(0));
    assert_eq!(gpu0.len(), 2, "{all:?}");
    assert_eq!(
        (gpu0[0].gpu_util_percent, gpu0[0].gpu_memory_mib),
        (Some(55), Some(4096))
    );
    let gpu1 = of(&all, &Subject::Gpu(1));
    assert_eq!(
        (gpu1[1].gpu_util_percent, gpu1[1].gpu_memory_mib),
        (Some(40), Some(2048))
    );
    let user = of(&all, &Subject::User(id.clone()));
    assert_eq!(user.len(), 2, "{all:?}");
    assert_eq!(
        user[0].cpu_percent, None,
        "no earlier reading to average from"
    );
    assert!(user[1].memory_mib.is_some_and(|m| m > 0), "{:?}", user[1]);
    let cpu = user[1]
        .cpu_percent
        .expect("a second sample has the CPU use");
    // One busy loop: about 100 % of one CPU; a loaded CI host may give it less.
    assert!(cpu > 10.0, "a busy container shows CPU use: {cpu}");
}

/// A booking of `user` running now, whose stand-in container is this test's own process
/// (its pid answers `docker inspect`; its cgroup is then found from /proc/<pid>/cgroup).
fn running_booking(lab: &common::Lab, user: &str) {
    std::fs::write(
        lab.path().join("jobs/using.csv"),
        format!("{HEADER}2026-11-23 09:00:00,2026-11-24 12:00:00,{user},1.0,1,[],10002,,\n"),
    )
    .unwrap();
    let id = "c0ffee".repeat(10) + "c0ff";
    lab.fake_container(
        user,
        &format!(
            "{id}\t{user}\trunning\t{user}\t$INSTALLATION\t2026-11-23 09:00:00\t2026-11-24 12:00:00\t\t10002\t2020-01-01T00:00:00Z\t{}\n",
            std::process::id()
        ),
    );
}

fn usage_notes(lab: &common::Lab) -> Vec<String> {
    lab.file("jobs/monitor.log")
        .lines()
        .filter(|l| l.contains("usage sampling: no GPU driver answers"))
        .map(String::from)
        .collect()
}

#[test]
fn without_a_driver_the_gpu_cells_stay_empty_and_one_note_a_day_is_logged() {
    let lab = common::Lab::new(None);
    running_booking(&lab, "bob");
    for now in ["2026-11-23 10:00", "2026-11-23 10:05", "2026-11-23 10:10"] {
        let out = lab.monitor(now, &["--sample"], &[]);
        assert_ok(&out);
        assert_eq!(
            String::from_utf8_lossy(&out.stderr),
            "",
            "nothing on stderr"
        );
    }
    let all = samples(&lab, "2026-11-23 10:00", "2026-11-23 10:10");
    let gpus: Vec<&Sample> = all
        .iter()
        .filter(|s| matches!(s.subject, Subject::Gpu(_)))
        .collect();
    // max.gpus of the base fixture: 2 GPUs, 3 samples each, all cells empty.
    assert_eq!(gpus.len(), 6, "{all:?}");
    assert!(gpus
        .iter()
        .all(|s| s.gpu_util_percent.is_none() && s.gpu_memory_mib.is_none()));
    assert_eq!(
        usage_notes(&lab).len(),
        1,
        "{}",
        lab.file("jobs/monitor.log")
    );
    // The booking's row: its "container" is this process, found through its pid.
    let bob = of(&all, &Subject::User("bob".into()));
    assert_eq!(bob.len(), 3);
    assert!(bob.iter().all(|s| s.memory_mib.is_some()), "{bob:?}");
    assert!(bob[2].cpu_percent.is_some(), "{bob:?}");

    assert_ok(&lab.monitor("2026-11-24 00:00", &["--sample"], &[]));
    assert_eq!(usage_notes(&lab).len(), 2, "a new day, a new note");
}

#[test]
fn one_file_a_day_and_days_past_keep_days_are_pruned() {
    let lab = common::Lab::new(None);
    let dir = lab.path().join("jobs/usage");
    std::fs::create_dir(&dir).unwrap();
    let head = "time,subject,gpu_util_percent,gpu_memory_mib,cpu_percent,memory_mib\n";
    for day in ["2026-08-17", "2026-08-24", "2026-08-25"] {
        std::fs::write(dir.join(format!("{day}.csv")), head).unwrap();
    }
    for now in ["2026-11-23 23:55", "2026-11-24 00:00"] {
        assert_ok(&lab.monitor(now, &["--sample"], &[]));
    }
    let mut files: Vec<String> = std::fs::read_dir(&dir)
        .unwrap()
        .map(|e| e.unwrap().file_name().into_string().unwrap())
        .collect();
    files.sort();
    // 91 days (KEEP_DAYS) kept before 2026-11-24: from 2026-08-25 on.
    assert_eq!(
        files,
        ["2026-08-25.csv", "2026-11-23.csv", "2026-11-24.csv"]
    );
    assert_eq!(
        samples(&lab, "2026-11-23 23:55", "2026-11-23 23:55").len(),
        2
    );
    assert_eq!(
        samples(&lab, "2026-11-24 00:00", "2026-11-24 00:00").len(),
        2
    );
}

#[test]
fn sample_conflicts_with_dry_run_and_deliver() {
    let lab = common::Lab::new(None);
    for other in ["--dry-run", "--deliver"] {
        let out = lab.monitor(common::NOW, &["--sample", other], &[]);
        assert_eq!(out.status.code(), Some(2), "{other}");
    }
}

/// End to end on real parts: the sampling timer's `monitor --sample` (stand-in NVML, a real
/// container's cgroup) takes samples in which the booked GPU and the container are idle;
/// the idle check that follows each sampling warns, then reclaims: the booking's end moves
/// to the next slot.
#[test]
fn samples_of_an_idle_booking_taken_by_the_timer_lead_to_a_warning_then_a_reclaim() {
    docker::standin_image();
    let lab = common::Lab::new(None);
    let _cleanup = docker::InstallationCleanup(lab.installation.clone());
    let id = docker::unique_name("idle");
    let port = docker::free_port();
    lab.add_user(&id, port);
    let caps = lab.path().join("cfg/capability_config.yaml");
    let text = std::fs::read_to_string(&caps).unwrap()
        + "policies:\n  idle_reclaim: always\n  idle_timeout_minutes: 10\n  idle_grace_minutes: 0\n";
    std::fs::write(&caps, text).unwrap();
    std::fs::write(
        lab.path().join("jobs/booking.csv"),
        format!("{HEADER}2026-11-23 10:00:00,2026-11-23 12:00:00,{id},1.0,1,[],{port},,\n"),
    )
    .unwrap();
    std::fs::write(lab.path().join("jobs/monitor_exec"), "now\n").unwrap();
    let state = lab.docker.path().join("nvml-state");
    // GPU 0 is booked and idle: no utilisation, memory that does not change.
    std::fs::write(
        &state,
        "driver 550.54.15\ngpu 0 GPU-6b2c0d3e-0000-4000-8000-000000000000 81920 512 0 NVIDIA Stand-in 80GB\n",
    )
    .unwrap();
    start_on_the_engine(&lab, &id);
    // This engine has no GPU runtime, so the container started without one; the row says
    // it holds GPU 0, which the stand-in NVML shows idle.
    let path = lab.path().join("jobs/using.csv");
    let text = std::fs::read_to_string(&path).unwrap();
    std::fs::write(&path, text.replace(",1.0,1,[],", ",1.0,1,[0],")).unwrap();
    let using = || std::fs::read_to_string(lab.path().join("jobs/using.csv")).unwrap();
    let notices = || lab.file_or_empty("jobs/notices.csv");
    for now in ["2026-11-23 10:05", "2026-11-23 10:10", "2026-11-23 10:15"] {
        assert_ok(&real_sample(&lab, now, &state));
        std::thread::sleep(std::time::Duration::from_millis(300));
    }
    assert!(
        using().contains("2026-11-23 12:00:00"),
        "not yet: {}",
        using()
    );
    assert_ok(&real_sample(&lab, "2026-11-23 10:20", &state));
    assert!(notices().contains(",idle_warning,"), "{}", notices());
    assert!(
        using().contains("2026-11-23 12:00:00"),
        "warned first: {}",
        using()
    );
    std::thread::sleep(std::time::Duration::from_millis(300));
    assert_ok(&real_sample(&lab, "2026-11-23 10:25", &state));
    assert!(notices().contains(",idle_reclaimed,"), "{}", notices());
    assert!(
        using().contains(&format!("2026-11-23 10:00:00,2026-11-23 10:30:00,{id},")),
        "the end moved to the next slot: {}",
        using()
    );
}
