//! Cluster mode end to end on a real Slurm 22.05 and the real Docker engine: students book with
//! `booking --node`, the monitor (the path unit's command) mirrors the bookings, slurmd's
//! Prolog starts each session's container with the GPUs Slurm bound and its Epilog backs it
//! up and removes it. One booking begins at a slot boundary seconds away (its session must be
//! up within 5 s of it, with the GPU ids `booking -ls` then shows); another, running, is
//! shortened to that boundary (its session must be over, backed up, within 30 s of it).
//!
//! Slurm keeps real time: the schedule's clock is shifted (`AIVC_CLOCK_SHIFT_SECONDS`, debug
//! builds only) to stand seconds before a boundary, in every process of ours, the Prolog's
//! and Epilog's included.

mod common;

#[path = "../../../tests/support/docker.rs"]
mod docker;
#[path = "../../../tests/support/slurm.rs"]
mod slurm;

use std::path::{Path, PathBuf};
use std::process::{Command, Output};
use std::time::{Duration, Instant};

use chrono::NaiveDateTime;
use slurm::{ensure_unix_user, wait_until, LabOptions, SlurmLab};

const ZONE: chrono_tz::Tz = chrono_tz::Asia::Taipei;

/// The schedule's clock `lead` seconds before the next slot boundary (see
/// [`slurm::before_boundary`]).
fn before_boundary(lead: i64) -> (i64, NaiveDateTime, Instant) {
    slurm::before_boundary(chrono::Utc::now().with_timezone(&ZONE).naive_local(), lead)
}

/// The Prolog and Epilog: this build's run-container on the lab's root, with the clock
/// shift and the docker shim (slurmd gives them no environment of ours).
fn wrappers(dir: &Path, root: &Path, shift: i64, docker: &Path) -> String {
    use std::os::unix::fs::PermissionsExt;
    for side in ["prolog", "epilog"] {
        let script = format!(
            "#!/bin/sh\nexport PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin\n\
             export AIVC_CLOCK_SHIFT_SECONDS={shift}\nexport AIVC_DOCKER='{docker}'\n\
             exec '{bin}' --root '{root}' slurm-{side} 2>>'{dir}/{side}.err'\n",
            docker = docker.display(),
            bin = common::run_container().display(),
            root = root.display(),
            dir = dir.display(),
        );
        let path = dir.join(side);
        std::fs::write(&path, script).unwrap();
        std::fs::set_permissions(&path, std::fs::Permissions::from_mode(0o755)).unwrap();
    }
    format!(
        "Prolog={0}/prolog\nEpilog={0}/epilog\nPrologEpilogTimeout=300\n",
        dir.display()
    )
}

fn run(mut cmd: Command, shift: i64, slurm: &SlurmLab) -> Output {
    cmd.env("SLURM_CONF", slurm.conf())
        .env("AIVC_CLOCK_SHIFT_SECONDS", shift.to_string())
        .env("AIVC_NO_NVML", "1")
        .env("AIVC_AUTH_DELAY_MS", "0")
        .env_remove("AIVC_NOW")
        .env_remove("AIVC_ROOT")
        .env_remove("AIVC_DOCKER");
    cmd.output().unwrap()
}

fn ok(what: &str, out: &Output) -> String {
    assert_eq!(
        out.status.code(),
        Some(0),
        "{what}: {}{}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
    String::from_utf8_lossy(&out.stdout).into_owned()
}

#[test]
#[allow(clippy::print_stderr)] // reports the measured start and end
fn a_session_starts_on_time_with_the_gpus_slurm_bound_and_shortening_ends_it_with_its_backup() {
    docker::standin_image();
    let lab = common::Lab::new(None);
    let _cleanup = docker::InstallationCleanup(lab.installation.clone());
    // The booking ids are the Unix users and the container names: test names of their own.
    let (early, late) = ("aivcs6", "aivcs7");
    for (i, id) in [early, late].into_iter().enumerate() {
        assert!(
            docker::inspect(id).is_none(),
            "a container named {id} exists already; this test needs the name"
        );
        ensure_unix_user(id);
        lab.add_user(id, docker::free_port() + i as u16);
    }
    std::fs::write(
        lab.path().join("cfg/cluster.yaml"),
        "engine: slurm\nnodes:\n  node0: {cpus: 8, memory: 32, gpus: 4}\n  node1: {cpus: 8, memory: 32, gpus: 4}\n",
    )
    .unwrap();
    let (shift, b, boundary) = before_boundary(40);
    let shim_dir = tempfile::tempdir().unwrap();
    let shim = slurm::gpu_shim(shim_dir.path());
    let wrap_dir = tempfile::tempdir().unwrap();
    let slurm = SlurmLab::start(LabOptions {
        extra_conf: wrappers(wrap_dir.path(), lab.path(), shift, &shim),
        ..LabOptions::default()
    });
    let booking = |args: &[&str], stdin: &str| {
        let mut cmd = Command::new(common::sibling("booking"));
        cmd.arg("--root").arg(lab.path()).args(args);
        let mut child = cmd
            .env("SLURM_CONF", slurm.conf())
            .env("AIVC_CLOCK_SHIFT_SECONDS", shift.to_string())
            .env("AIVC_AUTH_DELAY_MS", "0")
            .env_remove("AIVC_NOW")
            .env_remove("AIVC_ROOT")
            .stdin(std::process::Stdio::piped())
            .stdout(std::process::Stdio::piped())
            .stderr(std::process::Stdio::piped())
            .spawn()
            .unwrap();
        use std::io::Write;
        child
            .stdin
            .take()
            .unwrap()
            .write_all(stdin.as_bytes())
            .unwrap();
        child.wait_with_output().unwrap()
    };
    let tick = || {
        let mut cmd = Command::new(env!("CARGO_BIN_EXE_monitor"));
        cmd.arg("--root").arg(lab.path());
        ok("monitor", &run(cmd, shift, &slurm))
    };
    let fmt = |t: NaiveDateTime| t.format("%Y-%m-%d %H:%M").to_string();
    let h = chrono::Duration::minutes(30);

    // `late` is running already (the slot that ends at b) and booked until an hour past b;
    // `early` books from b on node0: both through booking, which asks for a tick each.
    let out = booking(
        &[
            "--yes",
            "--password-stdin",
            "--user-id",
            late,
            "--cpus",
            "1",
            "--memory",
            "1",
            "--gpus",
            "1",
            "--node",
            "node1",
            "--start",
            "now",
            "--end",
            &fmt(b + h * 2),
            "--extra-command",
            "echo kept-by-epilog > /root/.bashrc",
        ],
        &format!("{late}-pw\n"),
    );
    ok("booking (late)", &out);
    let out = booking(
        &[
            "--yes",
            "--password-stdin",
            "--user-id",
            early,
            "--cpus",
            "1",
            "--memory",
            "1",
            "--gpus",
            "1",
            "--node",
            "node0",
            "--start",
            &fmt(b),
            "--end",
            &fmt(b + h),
        ],
        &format!("{early}-pw\n"),
    );
    ok("booking (early)", &out);
    assert!(
        lab.file("jobs/monitor_exec").contains("now"),
        "booking asked for a tick"
    );
    tick();
    // `late`'s session runs; `early`'s job waits for b.
    assert!(
        wait_until(Duration::from_secs(20), || docker::inspect(late).is_some()),
        "{}\n{}",
        lab.file("jobs/monitor.log"),
        slurm.logs()
    );

    // `late` shortens the running booking to end at b (booking --end-at), seconds away.
    let out = booking(
        &[
            "--yes",
            "--password-stdin",
            "--user-id",
            late,
            "--end-at",
            &fmt(b),
        ],
        &format!("{late}-pw\n"),
    );
    ok("booking --end-at", &out);
    tick();
    assert!(
        Instant::now() < boundary,
        "the test ran past the boundary before it was due"
    );

    // At b: early's session is up within 5 s, with the GPUs Slurm bound.
    assert!(
        wait_until(
            (boundary + Duration::from_secs(30)).saturating_duration_since(Instant::now()),
            || { docker::inspect(early).is_some_and(|c| c["State"]["Running"] == true) }
        ),
        "{}\n{}",
        lab.file("jobs/monitor.log"),
        slurm.logs()
    );
    let up = Instant::now().saturating_duration_since(boundary);
    eprintln!(
        "NOTE: the session was up {:.1} s after its window opened",
        up.as_secs_f64()
    );
    assert!(
        up < Duration::from_secs(5),
        "up {up:?} after its window opened"
    );
    let c = docker::inspect(early).unwrap();
    let asked = c["Config"]["Labels"]["aivc.test.gpus"]
        .as_str()
        .unwrap()
        .to_string();
    // The tick at the boundary files it and reads back the GPUs Slurm bound; -ls shows them.
    tick();
    let record = lab.file("jobs/slurm-jobs.csv");
    let line = record
        .lines()
        .find(|l| l.contains(early))
        .unwrap_or_else(|| panic!("no job of {early} recorded: {record}"));
    let ids: Vec<String> = line
        .split_once('[')
        .and_then(|(_, rest)| rest.split_once(']'))
        .map(|(list, _)| list.split(", ").map(String::from).collect())
        .unwrap_or_else(|| panic!("no bound GPUs recorded: {record}"));
    assert_eq!(ids.len(), 1, "{record}");
    assert_eq!(
        asked,
        format!("\"device={}\"", ids.join(",")),
        "the container got them"
    );
    let listing = ok("booking -ls", &booking(&["-ls"], ""));
    let shown = ids.join(",");
    assert!(
        listing.lines().any(|l| l.contains(early)
            && l.contains(&format!("{shown} bound"))
            && l.contains("node0")),
        "{listing}"
    );

    // late's session ended at b: backed up, then removed, within 30 s.
    assert!(
        wait_until(
            (boundary + Duration::from_secs(40)).saturating_duration_since(Instant::now()),
            || docker::inspect(late).is_none()
        ),
        "{}\n{}",
        lab.file("jobs/monitor.log"),
        slurm.logs()
    );
    let over = Instant::now().saturating_duration_since(boundary);
    eprintln!(
        "NOTE: the shortened session was gone {:.1} s after its new end",
        over.as_secs_f64()
    );
    assert!(
        over < Duration::from_secs(30),
        "gone {over:?} after its new end"
    );
    let kept = walk(lab.path())
        .into_iter()
        .find(|p| p.ends_with(format!("{late}/.home%2F.bashrc")))
        .unwrap_or_else(|| panic!("no kept .bashrc: {}", lab.file("jobs/monitor.log")));
    assert_eq!(std::fs::read_to_string(kept).unwrap(), "kept-by-epilog\n");
    let log = lab.file("jobs/monitor.log");
    assert!(
        !log.contains("SlurmError") && !log.contains("ContainerError"),
        "{log}"
    );
}

/// Every file below `dir`.
fn walk(dir: &Path) -> Vec<PathBuf> {
    let mut out = Vec::new();
    let mut todo = vec![dir.to_path_buf()];
    while let Some(d) = todo.pop() {
        for e in std::fs::read_dir(&d).into_iter().flatten().flatten() {
            let p = e.path();
            match e.file_type() {
                Ok(t) if t.is_dir() => todo.push(p),
                Ok(t) if t.is_file() => out.push(p),
                _ => {}
            }
        }
    }
    out
}
