//! Usage sampling (issue 16): `monitor --sample` as a whole process — 8 GPUs and 50 running
//! bookings, the stand-in docker of tests/fixtures/bin (each container's pid is this
//! process, so the cgroup files are found through `/proc/<pid>/cgroup` and read for real)
//! — next to `monitor --version`; and a booking (`booking --yes`) and a tick at 10,000
//! rows with and without a week of 5-minute samples of 8 GPUs and 50 users in jobs/usage/,
//! taken in turn in the same run. Release builds ignore `AIVC_NVML_LIB`, so the release
//! sampling runs without NVML (empty GPU cells: "50 ms plus NVML's own time"); when a debug
//! `monitor` is there (`cargo build -p monitor`), its sampling with the stand-in NVML is
//! shown as well, labelled as the debug build it is.
//! Run: `cargo bench -p monitor --bench usage`.
#![allow(clippy::print_stdout)]

#[path = "../../../tests/support/synthetic_lab.rs"]
mod synthetic_lab;

#[path = "../../../tests/support/process.rs"]
mod process;

#[path = "../../../tests/support/nvml.rs"]
mod nvml;

use std::io::Write;
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

use chrono::Duration as Minutes;
use hostinfo::usage::{Sample, Subject};

const RUNS: usize = 31;

fn median(mut v: Vec<Duration>) -> Duration {
    v.sort();
    v[v.len() / 2]
}

fn ms(d: Duration) -> String {
    format!("{:.2} ms", d.as_secs_f64() * 1e3)
}

fn timed(cmd: &mut Command, stdin: &[u8]) -> Duration {
    let started = Instant::now();
    let mut child = process::spawn_piped(cmd);
    process::feed(&mut child, stdin);
    let out = child.wait_with_output().unwrap();
    assert!(
        out.status.success(),
        "{:?}: {}",
        cmd.get_program(),
        String::from_utf8_lossy(&out.stderr)
    );
    started.elapsed()
}

fn fake_docker() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("../../tests/fixtures/bin/fake-docker")
}

/// A root with `rows` booked, one running booking per user, and the stand-in docker's
/// running container for each (pid: this process).
fn sampling_root(dir: &Path, docker_state: &Path) {
    let now = synthetic_lab::now_slot();
    synthetic_lab::write_root(
        dir,
        &synthetic_lab::rows(10_000, now + Minutes::minutes(60)),
    );
    let installation = hostinfo::Root::at(dir).installation_id().unwrap();
    let mut using =
        String::from("start,end,user_id,cpus,memory,gpus,forward_port,image,extra_command\n");
    for u in 0..synthetic_lab::USERS {
        let (start, end) = (
            hostinfo::schedule::format_time(now),
            hostinfo::schedule::format_time(now + Minutes::minutes(60)),
        );
        let user = format!("u{u:03}");
        using.push_str(&format!("{start},{end},{user},1.0,4,[],{},,\n", 10001 + u));
        let id = format!("{u:064x}");
        std::fs::write(
            docker_state.join(&user),
            format!(
                "{id}\t{user}\trunning\t{user}\t{installation}\t{start}\t{end}\t\t{}\t2020-01-01T00:00:00Z\t{}\n",
                10001 + u,
                std::process::id()
            ),
        )
        .unwrap();
    }
    std::fs::write(dir.join("jobs/using.csv"), using).unwrap();
}

fn sample_cmd(bin: &Path, root: &Path, state: &Path, nvml_state: Option<&Path>) -> Command {
    let mut cmd = Command::new(bin);
    cmd.arg("--root")
        .arg(root)
        .arg("--sample")
        .env("AIVC_DOCKER", fake_docker())
        .env("AIVC_FAKE_DOCKER_STATE", state)
        .env_remove("AIVC_NOW")
        .env_remove("AIVC_ROOT");
    match nvml_state {
        Some(s) => {
            cmd.env_remove("AIVC_NO_NVML").envs(nvml::env(s));
        }
        None => {
            cmd.env("AIVC_NO_NVML", "1");
        }
    }
    cmd
}

/// A week of 5-minute samples (8 GPUs, 50 users) up to now, in jobs/usage/.
fn write_week(root: &Path) -> u64 {
    let end = chrono::Utc::now().naive_utc();
    let mut t = end - Minutes::days(7);
    let mut samples = Vec::new();
    let root = hostinfo::Root::at(root);
    let mut bytes = 0;
    while t < end {
        for g in 0..synthetic_lab::GPUS {
            samples.push(Sample {
                time: t,
                subject: Subject::Gpu(g),
                gpu_util_percent: Some(50 + g),
                gpu_memory_mib: Some(40_000),
                cpu_percent: None,
                memory_mib: None,
            });
        }
        for u in 0..synthetic_lab::USERS {
            samples.push(Sample {
                time: t,
                subject: Subject::User(format!("u{u:03}")),
                gpu_util_percent: None,
                gpu_memory_mib: None,
                cpu_percent: Some(123.4),
                memory_mib: Some(8192),
            });
        }
        if samples.len() > 10_000 {
            root.append_usage(&samples).unwrap();
            samples.clear();
        }
        t += Minutes::minutes(5);
    }
    root.append_usage(&samples).unwrap();
    for e in std::fs::read_dir(root.usage_dir()).unwrap() {
        bytes += e.unwrap().metadata().unwrap().len();
    }
    bytes
}

fn booking_bin(monitor: &Path) -> PathBuf {
    let path = monitor.with_file_name("booking");
    if !path.exists() {
        let cargo = std::env::var("CARGO").unwrap_or_else(|_| "cargo".into());
        let ok = Command::new(cargo)
            .args(["build", "--release", "-p", "booking"])
            .status()
            .unwrap();
        assert!(ok.success(), "could not build booking");
    }
    path
}

fn main() {
    let bin = Path::new(env!("CARGO_BIN_EXE_monitor"));
    let version = median(
        (0..RUNS)
            .map(|_| timed(Command::new(bin).arg("--version"), b""))
            .collect(),
    );
    println!(
        "baseline: monitor --version {} (median of {RUNS})\n",
        ms(version)
    );

    // Sampling.
    let dir = tempfile::tempdir().unwrap();
    let state = tempfile::tempdir().unwrap();
    sampling_root(dir.path(), state.path());
    let t = median(
        (0..RUNS)
            .map(|_| timed(&mut sample_cmd(bin, dir.path(), state.path(), None), b""))
            .collect(),
    );
    let rows = hostinfo::Root::at(dir.path())
        .read_usage_since(
            chrono::Utc::now().naive_utc() - Minutes::hours(1),
            chrono::Utc::now().naive_utc() + Minutes::hours(1),
        )
        .unwrap();
    let last = &rows[rows.len() - 58..];
    assert!(
        last.iter()
            .filter(|s| matches!(s.subject, Subject::User(_)))
            .all(|s| s.memory_mib.is_some()),
        "every booking measured"
    );
    println!(
        "monitor --sample (release, no NVML, 8 GPUs, 50 bookings, fake docker): {} median; {:.1}× --version; {} over it",
        ms(t),
        t.as_secs_f64() / version.as_secs_f64(),
        ms(t.saturating_sub(version))
    );
    let debug = bin
        .parent()
        .and_then(Path::parent)
        .map(|t| t.join("debug/monitor"))
        .filter(|p| p.exists());
    if let Some(debug) = debug {
        let nvml_state = state.path().join("../nvml-state");
        let mut text = String::from("driver 550.54.15\n");
        for g in 0..synthetic_lab::GPUS {
            text.push_str(&format!(
                "gpu {g} GPU-6b2c0d3e-0000-4000-8000-00000000000{g} 81920 4096 55 NVIDIA Stand-in 80GB\n"
            ));
        }
        std::fs::write(&nvml_state, text).unwrap();
        let dv = median(
            (0..RUNS)
                .map(|_| timed(Command::new(&debug).arg("--version"), b""))
                .collect(),
        );
        let ds = median(
            (0..RUNS)
                .map(|_| {
                    timed(
                        &mut sample_cmd(&debug, dir.path(), state.path(), Some(&nvml_state)),
                        b"",
                    )
                })
                .collect(),
        );
        println!(
            "monitor --sample (debug build, stand-in NVML, 8 GPUs, 50 bookings, fake docker): {} median; debug --version {}",
            ms(ds),
            ms(dv)
        );
    }

    // A booking and a tick at 10,000 rows, without and with a week of samples.
    let booking = booking_bin(bin);
    let rows = synthetic_lab::rows(10_000, synthetic_lab::now_slot());
    let plain = tempfile::tempdir().unwrap();
    let week = tempfile::tempdir().unwrap();
    synthetic_lab::write_root(plain.path(), &rows);
    synthetic_lab::write_root(week.path(), &rows);
    let bytes = write_week(week.path());
    let pristine = std::fs::read(plain.path().join("jobs/booking.csv")).unwrap();
    let book = |dir: &Path| {
        std::fs::write(dir.join("jobs/booking.csv"), &pristine).unwrap();
        let mut cmd = Command::new(&booking);
        cmd.arg("--root").arg(dir).args([
            "--yes",
            "--password-stdin",
            "--user-id",
            "bench",
            "--cpus",
            "4",
            "--memory",
            "16",
            "--gpus",
            "1",
            "--start",
            "3-day",
            "--end",
            "1-day",
        ]);
        timed(&mut cmd, b"bench-pw\n")
    };
    let tick = |dir: &Path| {
        std::fs::write(dir.join("jobs/booking.csv"), &pristine).unwrap();
        let mut cmd = Command::new(bin);
        cmd.arg("--root")
            .arg(dir)
            .env("AIVC_DOCKER", "true")
            .env("AIVC_NO_NVML", "1")
            .stdout(Stdio::null());
        timed(&mut cmd, b"")
    };
    let (mut b, mut bw, mut k, mut kw) = (Vec::new(), Vec::new(), Vec::new(), Vec::new());
    for _ in 0..RUNS {
        b.push(book(plain.path()));
        bw.push(book(week.path()));
        k.push(tick(plain.path()));
        kw.push(tick(week.path()));
    }
    let _ = std::io::stdout().flush();
    println!(
        "\n| 10,000 rows | without samples (median) | with a week of samples, {:.1} MB (median) | difference |",
        bytes as f64 / 1e6
    );
    println!("|---|---:|---:|---:|");
    for (what, a, b) in [("booking --yes", b, bw), ("monitor tick", k, kw)] {
        let (a, b) = (median(a), median(b));
        println!(
            "| {what} | {} | {} | {:+.2} ms |",
            ms(a),
            ms(b),
            (b.as_secs_f64() - a.as_secs_f64()) * 1e3
        );
    }
}
