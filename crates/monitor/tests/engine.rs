//! The monitor against the real Docker engine: a `now` booking is started by the very
//! command the systemd path unit runs, with the booked limits, and removed at its end;
//! another installation's containers on the same engine survive our ticks; a start that
//! fails on a taken port leaves nothing behind, is shown by `checker`, and succeeds once
//! the port is free. Each lab is an installation of its own, and each test removes only
//! what it created.

mod common;

#[path = "../../../tests/support/docker.rs"]
mod docker;

use std::time::Instant;

use hostinfo::log::LogLine;

#[test]
#[allow(clippy::print_stderr)] // reports the measured start time
fn a_now_booking_runs_with_its_limits_then_is_removed_at_its_end() {
    docker::standin_image();
    let lab = common::Lab::new(None);
    let id = format!("mon-{}", std::process::id());
    let _cleanup = docker::InstallationCleanup(lab.installation.clone());
    lab.add_user(&id, docker::free_port());
    let port = lab
        .file("cfg/users_config.yaml")
        .lines()
        .rev()
        .find(|l| l.contains("forward_port"))
        .unwrap()
        .split(": ")
        .nth(1)
        .unwrap()
        .to_string();
    // What `booking` writes for a booking that starts now.
    let h = "start,end,user_id,cpus,memory,gpus,forward_port,image,extra_command\n";
    std::fs::write(
        lab.path().join("jobs/booking.csv"),
        format!("{h}2026-11-23 10:00:00,2026-11-23 11:00:00,{id},1.5,5,[],{port},,\n"),
    )
    .unwrap();
    std::fs::write(lab.path().join("jobs/monitor_exec"), "now\n").unwrap();

    // Someone else's container on the same engine, without our labels.
    let foreign = format!("foreign-{}", std::process::id());
    let _cleanup_foreign = create(&["--name", &foreign]);

    // aivc-monitor.path runs aivc-monitor.service, whose ExecStart is this command.
    let started = Instant::now();
    let out = lab.monitor_real(common::NOW);
    eprintln!(
        "NOTE: the path unit's command started the container in {:.2} s",
        started.elapsed().as_secs_f64()
    );
    assert_eq!(
        out.status.code(),
        Some(0),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let c = docker::inspect(&id).expect("the container runs");
    assert_eq!(c["State"]["Running"], true);
    assert_eq!(c["HostConfig"]["NanoCpus"], 1_500_000_000u64);
    assert_eq!(c["HostConfig"]["Memory"], 4u64 << 30);
    assert_eq!(c["Config"]["Labels"]["aivc.end"], "2026-11-23 11:00:00");
    assert!(lab.file("jobs/using.csv").contains(&id));
    assert_eq!(
        lab.file("jobs/monitor_exec"),
        "",
        "the request was consumed"
    );

    let out = lab.monitor_real("2026-11-23 11:00");
    assert_eq!(
        out.status.code(),
        Some(0),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    assert!(
        docker::inspect(&id).is_none(),
        "the container is gone at the booking's end"
    );
    assert!(lab.file("jobs/used.csv").contains(&format!(
        "2026-11-23 10:00:00,2026-11-23 11:00:00,{id},1.5,5,[],{port},,"
    )));
    assert!(!lab.file("jobs/using.csv").contains(&id));
    assert_eq!(
        docker::inspect(&foreign).unwrap()["State"]["Running"],
        true,
        "an unlabelled container is never touched"
    );
    let log = lab.file("jobs/monitor.log");
    let lines: Vec<LogLine> = log.lines().map(|l| LogLine::parse(l).unwrap()).collect();
    assert_eq!(lines.len(), 2, "{log}");
    assert_eq!(
        lines[0].to_string(),
        format!("20261123 10:00 [INFO] {id} is successfully run the container.")
    );
    assert_eq!(lines[1].to_string(), format!("20261123 11:00 [INFO] {id}'s booking ended at 2026-11-23 11:00; the container is removed."));
}

/// `docker run -d args… <stand-in image>`, which the test removes by id at its end.
fn create(args: &[&str]) -> docker::Cleanup {
    let made = std::process::Command::new("docker")
        .args(["run", "-d"])
        .args(args)
        .arg(docker::standin_image())
        .output()
        .unwrap();
    assert!(
        made.status.success(),
        "{}",
        String::from_utf8_lossy(&made.stderr)
    );
    docker::Cleanup::id(&String::from_utf8_lossy(&made.stdout))
}

fn assert_ticks(out: &std::process::Output) {
    assert_eq!(
        out.status.code(),
        Some(0),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
}

/// Regression: the reconcile closed every `aivc.user` container its root did not know, so
/// two installations on one engine (a lab's, the test suite's, the demo's) removed each
/// other's containers every tick.
#[test]
fn another_installations_labelled_container_survives_two_of_our_ticks() {
    docker::standin_image();
    let lab = common::Lab::new(None);
    let name = format!("other-{}", std::process::id());
    let other = "0123456789abcdef";
    assert_ne!(lab.installation, other);
    let _cleanup = create(&[
        "--name",
        &name,
        "--label",
        &format!("aivc.user={name}"),
        "--label",
        &format!("aivc.installation={other}"),
        "--label",
        "aivc.start=2026-11-23 08:00:00",
        "--label",
        "aivc.end=2026-11-23 09:00:00",
    ]);

    for now in [common::NOW, "2026-11-23 10:30"] {
        assert_ticks(&lab.monitor_real(now));
        let c = docker::inspect(&name).expect("the other installation's container is still there");
        assert_eq!(c["State"]["Running"], true, "at {now}");
    }
    assert_eq!(
        lab.file("jobs/monitor.log"),
        "",
        "our ticks had nothing to do"
    );
}

/// Regression: a `docker run` that failed on a taken port left a Created container, every
/// later start failed with "name already in use", and nothing told the admin why.
#[test]
fn a_port_taken_at_start_fails_cleanly_is_shown_by_checker_and_starts_once_freed() {
    docker::standin_image();
    let lab = common::Lab::new(None);
    let _cleanup = docker::InstallationCleanup(lab.installation.clone());
    let id = format!("port-{}", std::process::id());
    let port = docker::free_port();
    lab.add_user(&id, port);
    let h = "start,end,user_id,cpus,memory,gpus,forward_port,image,extra_command\n";
    std::fs::write(
        lab.path().join("jobs/booking.csv"),
        format!("{h}2026-11-23 10:00:00,2026-11-23 11:00:00,{id},1.0,1,[],{port},,\n"),
    )
    .unwrap();

    let taken = std::net::TcpListener::bind(("0.0.0.0", port)).unwrap();
    assert_ticks(&lab.monitor_real(common::NOW));
    assert_eq!(
        docker::containers_of(&lab.installation),
        Vec::<String>::new(),
        "the failed start left nothing behind"
    );
    assert!(lab.file("jobs/booking.csv").contains(&id), "it waits");
    let report = lab.checker(common::NOW);
    let problem = report
        .problems
        .iter()
        .find(|p| p.code == "start_failing")
        .unwrap_or_else(|| panic!("{:?}", report.problems));
    assert_eq!(problem.file, "jobs/booking.csv");
    assert!(
        problem.message.contains("(1 attempt)")
            && problem
                .message
                .contains("the forward port is already taken on the host"),
        "{}",
        problem.message
    );

    drop(taken);
    assert_ticks(&lab.monitor_real(common::NOW));
    let c = docker::inspect(&id).expect("the container runs now");
    assert_eq!(c["State"]["Running"], true);
    assert_eq!(
        c["Config"]["Labels"]["aivc.installation"],
        lab.installation.as_str()
    );
    assert!(lab.file("jobs/using.csv").contains(&id));
    assert_eq!(
        lab.file("jobs/start-failures.csv"),
        "user_id,start,since,attempts,reason\n",
        "a booking that started has no failure on record"
    );
    assert!(lab
        .checker(common::NOW)
        .problems
        .iter()
        .all(|p| p.code != "start_failing"));
}

/// A container the first version started, still running mid-booking: no installation
/// label, and its backup entry mounted from inside the user's backup folder, a source the
/// user can re-point before dockerd's next restart. The tick adopts it (the real engine
/// prints a missing label as `<no value>`, which the stand-in docker never did) and
/// re-creates it with our label, its entry imported into the kept folder and mounted from
/// there.
#[test]
fn a_first_version_container_running_now_is_re_created_with_our_label_and_kept_entries() {
    docker::standin_image();
    let lab = common::Lab::new(None);
    let _cleanup = docker::InstallationCleanup(lab.installation.clone());
    let id = format!("old-{}", std::process::id());
    let port = docker::free_port();
    lab.add_user(&id, port);
    let backup = lab.path().join("vol/backup").join(&id);
    std::fs::create_dir_all(backup.join(".home/.ssh")).unwrap();
    std::fs::create_dir_all(lab.path().join("vol/work").join(&id)).unwrap();
    std::fs::write(
        backup.join("backup.yaml"),
        "Dir:\n  - - .home/.ssh\n    - /root/.ssh\nFile: []\n",
    )
    .unwrap();
    std::fs::write(backup.join(".home/.ssh/authorized_keys"), "mine\n").unwrap();
    let h = "start,end,user_id,cpus,memory,gpus,forward_port,image,extra_command\n";
    std::fs::write(
        lab.path().join("jobs/using.csv"),
        format!("{h}2026-11-23 10:00:00,2026-11-23 12:00:00,{id},1.0,1,[],{port},,\n"),
    )
    .unwrap();
    // As the first version started it: by name, user and window labels, the entry mounted
    // straight from the backup folder.
    let root = std::fs::canonicalize(lab.path()).unwrap();
    let vol = |p: &str| root.join(p).display().to_string();
    let old = create(&[
        "--name",
        &id,
        "--label",
        &format!("aivc.user={id}"),
        "--label",
        "aivc.start=2026-11-23 10:00:00",
        "--label",
        "aivc.end=2026-11-23 12:00:00",
        "-p",
        &format!("{port}:22"),
        "-v",
        &format!("{}:/root/Work", vol(&format!("vol/work/{id}"))),
        "-v",
        &format!("{}:/root/Backup", vol(&format!("vol/backup/{id}"))),
        "-v",
        &format!("{}:/root/.ssh", vol(&format!("vol/backup/{id}/.home/.ssh"))),
    ]);
    let old_id = docker::inspect(&id).unwrap()["Id"]
        .as_str()
        .unwrap()
        .to_string();

    assert_ticks(&lab.monitor_real("2026-11-23 10:30"));
    let log = lab.file("jobs/monitor.log");
    assert!(
        log.contains(&format!(
            "{id}'s container was started by an earlier version"
        )),
        "{log}"
    );
    let c = docker::inspect(&id).expect("the booking's container runs again");
    assert_ne!(c["Id"].as_str().unwrap(), old_id, "a new container");
    assert_eq!(
        c["Config"]["Labels"]["aivc.installation"],
        lab.installation.as_str()
    );
    let ssh_source = c["Mounts"]
        .as_array()
        .unwrap()
        .iter()
        .find(|m| m["Destination"] == "/root/.ssh")
        .map(|m| m["Source"].as_str().unwrap().to_string())
        .expect("the entry is mounted");
    assert!(
        ssh_source.ends_with(&format!("kept/{id}/.home%2F.ssh")),
        "{ssh_source}"
    );
    let keys = std::process::Command::new("docker")
        .args(["exec", &id, "cat", "/root/.ssh/authorized_keys"])
        .output()
        .unwrap();
    assert_eq!(String::from_utf8_lossy(&keys.stdout), "mine\n");
    drop(old);
}
