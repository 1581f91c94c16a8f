//! The units under real systemd: a Debian container (debootstrap, nothing pulled) boots
//! systemd as PID 1, scripts/setup.sh installs and enables the units in it, the timer fires
//! a tick, and a `now` booking made on the host starts its container through the path unit
//! within seconds; a notice posted on the host reaches the student's folder through
//! aivc-notices.path. The monitor inside drives the host's engine through its socket; the
//! test's root is mounted at the same path, so the volume paths it passes are the host's.
//! Only what the test created is removed: the systemd container and the lab's containers.

mod common;

#[path = "../../../tests/support/docker.rs"]
mod docker;

use std::path::{Path, PathBuf};
use std::process::{Command, Output};
use std::time::{Duration, Instant};

/// `docker exec <container> args…`.
fn exec(container: &str, args: &[&str]) -> Output {
    Command::new("docker")
        .arg("exec")
        .arg(container)
        .args(args)
        .output()
        .unwrap()
}

fn text(out: &Output) -> String {
    format!(
        "{}{}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    )
}

/// One property of a unit, as `systemctl show` gives it.
fn property(container: &str, unit: &str, name: &str) -> String {
    let out = exec(
        container,
        &["systemctl", "show", unit, "-p", name, "--value"],
    );
    String::from_utf8_lossy(&out.stdout).trim().to_string()
}

/// What `docker logs` holds: with `-t` it is systemd's console, its own words on failure.
fn logs(container: &str) -> String {
    Command::new("docker")
        .args(["logs", "--tail", "60", container])
        .output()
        .map(|o| text(&o))
        .unwrap_or_default()
}

/// Polls `done` every 100 ms for up to `limit`; true when it held.
fn wait_for(limit: Duration, mut done: impl FnMut() -> bool) -> bool {
    let until = Instant::now() + limit;
    while Instant::now() < until {
        if done() {
            return true;
        }
        std::thread::sleep(Duration::from_millis(100));
    }
    done()
}

/// The docker client the monitor inside uses: the host's own (static here; a dynamic one
/// needs only a libc, which the Debian image has).
fn docker_client() -> PathBuf {
    std::env::var_os("PATH")
        .into_iter()
        .flat_map(|p| std::env::split_paths(&p).collect::<Vec<_>>())
        .map(|d| d.join("docker"))
        .find(|p| p.is_file())
        .map(|p| std::fs::canonicalize(p).unwrap())
        .expect("the docker client is on PATH")
}

fn mount(path: &Path, mode: &str) -> String {
    format!("{0}:{0}:{mode}", path.display())
}

#[test]
#[allow(clippy::print_stderr)] // reports the measured times
fn systemd_as_pid_1_runs_the_units_setup_installs_the_timer_ticks_and_a_now_booking_starts() {
    let image = docker::debian_systemd();
    docker::standin_image();
    let booking = common::sibling("booking");
    for b in ["checker", "run-container", "dashboard"] {
        common::sibling(b);
    }
    let lab = common::Lab::new(None);
    let _cleanup = docker::InstallationCleanup(lab.installation.clone());
    let id = format!("sd-{}", std::process::id());
    lab.add_user(&id, docker::free_port());
    let root = std::fs::canonicalize(lab.path()).unwrap();
    let repo = std::fs::canonicalize(Path::new(env!("CARGO_MANIFEST_DIR")).join("../..")).unwrap();
    let bin = std::fs::canonicalize(booking.parent().unwrap()).unwrap();

    // systemd as PID 1, unprivileged: cgroups read-only, its own /run; `-t` gives it a
    // console, which `docker logs` shows.
    let name = docker::unique_name("aivc-systemd-test");
    let mut run = Command::new("docker");
    run.args(["run", "-d", "-t", "--name", &name])
        .args(["--tmpfs", "/run", "--tmpfs", "/run/lock"])
        .args(["-v", "/sys/fs/cgroup:/sys/fs/cgroup:ro"])
        .args(["-v", "/var/run/docker.sock:/var/run/docker.sock"])
        .args([
            "-v",
            &format!("{}:/usr/bin/docker:ro", docker_client().display()),
        ])
        .args(["-v", &mount(&repo, "ro"), "-v", &mount(&root, "rw")]);
    if !bin.starts_with(&repo) {
        run.args(["-v", &mount(&bin, "ro")]);
    }
    let made = run
        .args(["-e", "container=docker", image, "/sbin/init"])
        .output()
        .unwrap();
    assert!(made.status.success(), "docker run: {}", text(&made));
    let _systemd = docker::Cleanup::id(String::from_utf8_lossy(&made.stdout).trim());

    let booted = Instant::now();
    let mut state = String::new();
    let up = wait_for(Duration::from_secs(60), || {
        state = String::from_utf8_lossy(&exec(&name, &["systemctl", "is-system-running"]).stdout)
            .trim()
            .to_string();
        matches!(state.as_str(), "running" | "degraded")
    });
    assert!(
        up,
        "systemd did not come up as PID 1 on this engine (state `{state}`); the container \
         runs unprivileged with /sys/fs/cgroup read-only and tmpfs on /run. systemd said:\n{}",
        logs(&name)
    );
    eprintln!(
        "NOTE: systemd reached `{state}` as PID 1 in {:.1} s",
        booted.elapsed().as_secs_f64()
    );

    // A tick was missed while the "host" was down: Persistent=true runs it as soon as
    // setup enables the timer.
    let stamp = exec(
        &name,
        &[
            "sh",
            "-c",
            "mkdir -p /var/lib/systemd/timers && \
             touch -d '2 hours ago' /var/lib/systemd/timers/stamp-aivc-monitor.timer",
        ],
    );
    assert!(stamp.status.success(), "{}", text(&stamp));
    let setup = exec(
        &name,
        &[
            "bash",
            &repo.join("scripts/setup.sh").display().to_string(),
            "--root",
            &root.display().to_string(),
            "--bin-dir",
            &bin.display().to_string(),
            "--no-container",
        ],
    );
    let said = text(&setup);
    assert!(setup.status.success(), "setup.sh: {said}");
    assert!(
        said.contains("systemd: aivc-monitor.timer aivc-monitor.path aivc-notices.timer aivc-notices.path aivc-usage.timer aivc-dashboard.service enabled"),
        "{said}"
    );
    for unit in [
        "aivc-monitor.timer",
        "aivc-monitor.path",
        "aivc-notices.timer",
        "aivc-notices.path",
        "aivc-usage.timer",
        "aivc-dashboard.service",
    ] {
        assert_eq!(property(&name, unit, "ActiveState"), "active", "{unit}");
        assert_eq!(property(&name, unit, "UnitFileState"), "enabled", "{unit}");
    }
    let ticked = wait_for(Duration::from_secs(30), || {
        property(
            &name,
            "aivc-monitor.service",
            "ExecMainExitTimestampMonotonic",
        ) != "0"
            && property(&name, "aivc-monitor.service", "ActiveState") == "inactive"
    });
    let journal = || {
        text(&exec(
            &name,
            &["journalctl", "--no-pager", "-u", "aivc-monitor.service"],
        ))
    };
    assert!(ticked, "the timer fired no tick: {}", journal());
    assert_ne!(
        property(&name, "aivc-monitor.timer", "LastTriggerUSecMonotonic"),
        "0",
        "the tick came from the timer"
    );
    assert_eq!(
        property(&name, "aivc-monitor.service", "Result"),
        "success",
        "{}",
        journal()
    );
    assert!(
        property(&name, "aivc-monitor.timer", "NextElapseUSecRealtime").contains(":00:00")
            || property(&name, "aivc-monitor.timer", "NextElapseUSecRealtime").contains(":30:00"),
        "the next tick is on a slot boundary"
    );
    let ticks = || {
        property(
            &name,
            "aivc-monitor.service",
            "ExecMainStartTimestampMonotonic",
        )
    };
    let first_tick = ticks();

    // A student books `now` on the host (as booking does in the booking container): the
    // path unit sees jobs/monitor_exec change and the container starts.
    let out = {
        use std::io::Write;
        let mut child = Command::new(&booking)
            .arg("--root")
            .arg(&root)
            .args(["--yes", "--password-stdin", "--user-id", &id])
            .args([
                "--cpus", "1", "--memory", "1", "--start", "now", "--end", "1-day",
            ])
            .env_remove("AIVC_ROOT")
            .env_remove("AIVC_NOW")
            .stdin(std::process::Stdio::piped())
            .stdout(std::process::Stdio::piped())
            .stderr(std::process::Stdio::piped())
            .spawn()
            .unwrap();
        writeln!(child.stdin.take().unwrap(), "{id}-pw").unwrap();
        child.wait_with_output().unwrap()
    };
    let booked = Instant::now();
    assert!(out.status.success(), "booking: {}", text(&out));
    let mut container = None;
    let started = wait_for(Duration::from_secs(30), || {
        container = docker::inspect(&id)
            .filter(|c| c["Config"]["Labels"]["aivc.installation"] == lab.installation.as_str())
            .filter(|c| c["State"]["Running"] == true);
        container.is_some()
    });
    assert!(
        started,
        "no container for the now booking: {}\nmonitor.log: {}",
        journal(),
        lab.file("jobs/monitor.log")
    );
    eprintln!(
        "NOTE: the path unit's tick started the now booking's container {:.1} s after booking",
        booked.elapsed().as_secs_f64()
    );
    assert_ne!(ticks(), first_tick, "a second tick ran: the path unit's");
    assert!(lab.file("jobs/using.csv").contains(&id));
    assert!(lab
        .file("jobs/monitor.log")
        .contains(&format!("{id} is successfully run the container.")));
    assert!(
        journal().contains(&format!("{id} is successfully run the container.")),
        "the tick's lines reach the journal: {}",
        journal()
    );

    // The dashboard, started by its unit with every sandboxing option it carries, answers
    // on loopback inside the "host" and shows the booking (bash's /dev/tcp: no client
    // installed).
    let mut page = String::new();
    let served = wait_for(Duration::from_secs(20), || {
        page = text(&exec(
            &name,
            &[
                "bash",
                "-c",
                "exec 3<>/dev/tcp/127.0.0.1/8642 && printf 'GET /api/v1/state HTTP/1.0\\r\\nHost: localhost\\r\\n\\r\\n' >&3 && cat <&3",
            ],
        ));
        page.contains(&format!("\"user_id\":\"{id}\""))
    });
    assert!(
        served && (page.starts_with("HTTP/1.0 200") || page.starts_with("HTTP/1.1 200")),
        "the dashboard did not serve the state: {page}\n{}",
        text(&exec(
            &name,
            &["journalctl", "--no-pager", "-u", "aivc-dashboard.service"]
        ))
    );

    // The sandbox took: the serving process has no capability, no way to gain one, and a
    // system call filter.
    let pid = property(&name, "aivc-dashboard.service", "MainPID");
    let status = text(&exec(&name, &["cat", &format!("/proc/{pid}/status")]));
    for line in [
        "CapEff:\t0000000000000000",
        "CapBnd:\t0000000000000000",
        "NoNewPrivs:\t1",
        "Seccomp:\t2",
    ] {
        assert!(
            status.contains(line),
            "the dashboard's process lacks `{line}`:\n{status}"
        );
    }
    assert_eq!(
        property(&name, "aivc-dashboard.service", "RestrictAddressFamilies"),
        "AF_INET AF_INET6"
    );

    // A notice posted on the host reaches the student's folder through aivc-notices.path.
    let notice = hostinfo::notices::Notice::new(
        hostinfo::schedule::parse_time("2026-11-23 10:00:00").unwrap(),
        hostinfo::notices::Recipient::User(id.clone()),
        hostinfo::notices::Kind::EndingSoon,
        "systemd-test",
        "the booking ends in 30 minutes.",
    );
    hostinfo::Root::at(&root)
        .post_notices(std::slice::from_ref(&notice), chrono::Duration::zero())
        .unwrap();
    let file = root
        .join("vol/work")
        .join(&id)
        .join(format!(".aivc/notices/{}.txt", notice.id));
    let posted = Instant::now();
    let delivered = wait_for(Duration::from_secs(30), || file.is_file());
    assert!(
        delivered,
        "the path unit delivered nothing: {}",
        text(&exec(
            &name,
            &["journalctl", "--no-pager", "-u", "aivc-notices.service"]
        ))
    );
    eprintln!(
        "NOTE: aivc-notices.path delivered a notice {:.1} s after it was posted",
        posted.elapsed().as_secs_f64()
    );
}
