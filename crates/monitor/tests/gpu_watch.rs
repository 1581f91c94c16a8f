//! The monitor's GPU watch through real NVML loading, from the stand-in library of
//! tests/fixtures/nvml-standin (`AIVC_NVML_LIB`): a process outside any booking is logged
//! with its pid, host user and memory, and the admins are told once per pid; a real
//! container's process is traced to its booking through `/proc/<pid>/cgroup`, and stopped
//! under `stop_unbooked_gpu_use`. Before, the watch was tested only on hand-made
//! structs, and the pid-to-container step not at all.

mod common;

#[path = "../../../tests/support/docker.rs"]
mod docker;
#[path = "../../../tests/support/nvml.rs"]
mod nvml;

use std::path::Path;
use std::process::{Command, Output};

const HEADER: &str = "start,end,user_id,cpus,memory,gpus,forward_port,image,extra_command\n";

fn assert_ticks(out: &Output) {
    assert_eq!(
        out.status.code(),
        Some(0),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
}

/// The stand-in's state: two GPUs and `procs` (`proc` lines without the word).
fn write_state(path: &Path, procs: &[&str]) {
    let mut text = String::from(
        "driver 550.54.15\n\
         gpu 0 GPU-6b2c0d3e-0000-4000-8000-000000000000 81920 4096 55 NVIDIA Stand-in 80GB\n\
         gpu 1 GPU-6b2c0d3e-0000-4000-8000-000000000001 81920 2048 40 NVIDIA Stand-in 80GB\n",
    );
    for p in procs {
        text.push_str(&format!("proc {p}\n"));
    }
    std::fs::write(path, text).unwrap();
}

fn gpu_warnings(log: &str) -> Vec<&str> {
    log.lines()
        .filter(|l| l.contains("[WARNING] GPUDuplicateWarning, "))
        .collect()
}

#[test]
fn a_process_outside_any_booking_is_logged_with_its_pid_and_the_admins_are_told() {
    let lab = common::Lab::new(None);
    std::fs::write(
        lab.path().join("jobs/using.csv"),
        format!("{HEADER}2026-11-23 09:00:00,2026-11-23 12:00:00,bob,1.0,1,[0],10002,,\n"),
    )
    .unwrap();
    lab.fake_container(
        "bob",
        "b0b\tbob\trunning\tbob\t$INSTALLATION\t2026-11-23 09:00:00\t2026-11-23 12:00:00\t\t10002\t2020-01-01T00:00:00Z\n",
    );
    // This test's own process: a host process, in no container of the lab (named by its
    // host user, or by its container where the tests themselves run in one).
    let host = std::process::id();
    let owner = hostinfo::gpu::process_owner(host).unwrap();
    let state = lab.docker.path().join("nvml-state");
    write_state(
        &state,
        &[&format!("0 {host} 3000"), &format!("1 {host} 1000")],
    );
    let out = lab
        .monitor_command(common::NOW, &[], &[])
        .env_remove("AIVC_NO_NVML")
        .envs(nvml::env(&state))
        .output()
        .unwrap();
    assert_ticks(&out);
    let log = lab.file("jobs/monitor.log");
    assert_eq!(
        gpu_warnings(&log),
        [
            format!("20261123 10:00 [WARNING] GPUDuplicateWarning, pid {host} ({owner}, 3000 MiB) outside any booking container uses GPU 0, booked by bob"),
            format!("20261123 10:00 [WARNING] GPUDuplicateWarning, pid {host} ({owner}, 1000 MiB) uses GPU 1, which no running booking holds"),
        ],
        "{log}"
    );
    let notices = hostinfo::Root::at(lab.path()).read_notices().unwrap();
    let unbooked: Vec<_> = notices
        .iter()
        .filter(|n| n.kind == hostinfo::notices::Kind::GpuUnbooked)
        .map(|n| (n.key.as_str(), n.text.as_str()))
        .collect();
    // One notice per pid (the rate limit's key), naming each GPU it is on.
    let key = format!("gpu-unbooked:{host}");
    let text = format!("pid {host} ({owner}, 3000 MiB) outside any booking container uses GPU 0, booked by bob; pid {host} ({owner}, 1000 MiB) uses GPU 1, which no running booking holds (monitor.log: GPUDuplicateWarning).");
    assert_eq!(unbooked, [(key.as_str(), text.as_str())]);
    assert_eq!(lab.fake_containers(), ["bob"], "the watch only reports");
}

#[test]
fn with_no_process_on_any_gpu_the_watch_is_silent() {
    let lab = common::Lab::new(None);
    let state = lab.docker.path().join("nvml-state");
    write_state(&state, &[]);
    let out = lab
        .monitor_command(common::NOW, &[], &[])
        .env_remove("AIVC_NO_NVML")
        .envs(nvml::env(&state))
        .output()
        .unwrap();
    assert_ticks(&out);
    assert_eq!(lab.file("jobs/monitor.log"), "");
}

/// A booking without GPUs runs in a real container; the stand-in then shows that
/// container's main process on GPU 0. The watch must find the container from the pid
/// (`/proc/<pid>/cgroup`) and name its user.
#[test]
fn a_real_containers_process_is_traced_to_its_booking_and_stopped_under_the_policy() {
    docker::standin_image();
    let lab = common::Lab::new(None);
    let _cleanup = docker::InstallationCleanup(lab.installation.clone());
    let id = docker::unique_name("gpuw");
    let port = docker::free_port();
    lab.add_user(&id, port);
    std::fs::write(
        lab.path().join("jobs/booking.csv"),
        format!("{HEADER}2026-11-23 10:00:00,2026-11-23 11:00:00,{id},1.0,1,[],{port},,\n"),
    )
    .unwrap();
    std::fs::write(lab.path().join("jobs/monitor_exec"), "now\n").unwrap();
    let state = lab.docker.path().join("nvml-state");
    write_state(&state, &[]);
    assert_ticks(&real_tick(&lab, common::NOW, &state));
    let container = docker::inspect(&id).expect("the booking's container runs");
    let pid = container["State"]["Pid"].as_u64().unwrap();
    assert!(pid > 0, "{container}");

    write_state(&state, &[&format!("0 {pid} 512")]);
    assert_ticks(&real_tick(&lab, "2026-11-23 10:30", &state));
    let log = lab.file("jobs/monitor.log");
    assert_eq!(
        gpu_warnings(&log),
        [format!("20261123 10:30 [WARNING] GPUDuplicateWarning, pid {pid} ({id}'s container, 512 MiB) uses GPU 0, which it did not book")],
        "{log}"
    );
    assert_eq!(
        docker::inspect(&id).unwrap()["State"]["Running"],
        true,
        "reported only"
    );

    // With `stop_unbooked_gpu_use`, the next watch stops the container.
    let cap = lab.path().join("cfg/capability_config.yaml");
    let mut text = std::fs::read_to_string(&cap).unwrap();
    text.push_str("policies:\n  stop_unbooked_gpu_use: true\n");
    std::fs::write(cap, text).unwrap();
    assert_ticks(&real_tick(&lab, "2026-11-23 10:30", &state));
    let log = lab.file("jobs/monitor.log");
    assert!(
        log.contains(&format!("[WARNING] GPUUnbookedStop, {id}'s container used GPU 0, which it did not book; stopped (stop_unbooked_gpu_use).")),
        "{log}"
    );
    assert_eq!(docker::inspect(&id).unwrap()["State"]["Running"], false);
}

/// A tick against the real Docker engine with the stand-in NVML reading `state`.
fn real_tick(lab: &common::Lab, now: &str, state: &Path) -> Output {
    Command::new(env!("CARGO_BIN_EXE_monitor"))
        .arg("--root")
        .arg(lab.path())
        .env("AIVC_NOW", now)
        .env("AIVC_RUN_CONTAINER", common::run_container())
        .env_remove("AIVC_NO_NVML")
        .envs(nvml::env(state))
        .env_remove("AIVC_DOCKER")
        .env_remove("AIVC_ROOT")
        .output()
        .unwrap()
}
