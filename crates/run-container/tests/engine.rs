//! run-container against the real Docker engine: a container starts with the booked limits,
//! labels, port, volumes and password, closes, and closing again succeeds.

mod common;

use common::docker::{self, inspect, Cleanup};
use common::{stderr, unique_id, TestRoot};

const PASSWORD: &str = "pw-for-engine-test";

/// A booking's container: 1.5 cpus, 5 GB, 09:00 to 11:00, plus `extra` flags.
fn start(root: &TestRoot, id: &str, port: u16, extra: &[&str]) -> std::process::Output {
    let mut args = vec![
        "--cpus",
        "1.5",
        "--memory",
        "5",
        "--start",
        "2026-11-23 09:00:00",
        "--end",
        "2026-11-23 11:00:00",
    ];
    args.extend_from_slice(extra);
    root.start(id, port, PASSWORD, &args)
}

#[test]
fn a_container_runs_with_the_booked_limits_then_closes_idempotently() {
    docker::standin_image();
    let root = TestRoot::new();
    let id = unique_id("limits");
    let _cleanup = Cleanup::new(id.clone());
    let port = docker::free_port();
    let out = start(&root, &id, port, &[]);
    assert!(out.status.success(), "{}", stderr(&out));

    let c = inspect(&id).expect("the container exists");
    assert_eq!(c["Name"], format!("/{id}"));
    assert_eq!(c["State"]["Running"], true);
    let labels = &c["Config"]["Labels"];
    assert_eq!(labels["aivc.user"], id.as_str());
    assert_eq!(labels["aivc.start"], "2026-11-23 09:00:00");
    assert_eq!(labels["aivc.end"], "2026-11-23 11:00:00");
    let hc = &c["HostConfig"];
    assert_eq!(hc["NanoCpus"], 1_500_000_000u64);
    // shm_rate = 4 / (4 + 1) = 0.8: ram = ceil(5 × 0.8) = 4 GB, shm = 1 GB.
    let gb = 1u64 << 30;
    assert_eq!(hc["Memory"], 4 * gb);
    assert_eq!(hc["ShmSize"], gb);
    assert_eq!(hc["Privileged"], false);
    assert_eq!(hc["RestartPolicy"]["Name"], "always");
    assert_eq!(
        hc["PortBindings"]["22/tcp"][0]["HostPort"],
        port.to_string()
    );
    let mounts = c["Mounts"].as_array().unwrap();
    let mount = |dest: &str| {
        mounts
            .iter()
            .find(|m| m["Destination"] == dest)
            .unwrap_or_else(|| panic!("no {dest}"))
    };
    assert_eq!(
        mount("/root/Dataset")["RW"],
        false,
        "the dataset is read-only"
    );
    assert_eq!(mount("/root/Work")["RW"], true);
    assert_eq!(
        mount("/root/Work")["Source"],
        root.work(&id).to_str().unwrap()
    );
    assert_eq!(
        mount("/root/Backup")["Source"],
        root.backup(&id).to_str().unwrap()
    );
    let env: Vec<&str> = c["Config"]["Env"]
        .as_array()
        .unwrap()
        .iter()
        .map(|e| e.as_str().unwrap())
        .collect();
    assert!(
        env.contains(&format!("PASSWORD={PASSWORD}").as_str()),
        "{env:?}"
    );
    assert!(env.contains(&"LOGO=AIVC"));
    // The password is not on docker's recorded command line either.
    assert!(!c["Args"].to_string().contains(PASSWORD));
    assert!(!c["Config"]["Cmd"].to_string().contains(PASSWORD));

    // The folders were made, and the backup folder seeded from the template.
    assert!(root.work(&id).is_dir());
    assert!(root.backup(&id).join("backup.yaml").is_file());

    let close = root.run(&["close", "--user-id", &id], "", &[]);
    assert!(close.status.success(), "{}", stderr(&close));
    assert!(inspect(&id).is_none(), "the container is gone");
    let again = root.run(&["close", "--user-id", &id], "", &[]);
    assert!(
        again.status.success(),
        "closing again succeeds: {}",
        stderr(&again)
    );
    assert!(stderr(&again).contains("nothing to close"));
}

#[test]
fn closing_keeps_what_the_container_made_and_the_next_run_mounts_it_from_the_kept_folder() {
    docker::standin_image();
    let root = TestRoot::new();
    let id = unique_id("backup");
    let _cleanup = Cleanup::new(id.clone());
    // The template keeps .home/.bashrc -> /root/.bashrc; the extra command writes one.
    let out = start(
        &root,
        &id,
        docker::free_port(),
        &["--extra-command", "echo kept-across > /root/.bashrc"],
    );
    assert!(out.status.success(), "{}", stderr(&out));
    let close = root.run(&["close", "--user-id", &id], "", &[]);
    assert!(close.status.success(), "{}", stderr(&close));
    let kept = root.kept(&id).join(".home%2F.bashrc");
    assert_eq!(std::fs::read_to_string(&kept).unwrap(), "kept-across\n");
    assert!(
        !root.backup(&id).join(".home").exists(),
        "nothing is written into the user's own backup folder"
    );

    let out = start(&root, &id, docker::free_port(), &[]);
    assert!(out.status.success(), "{}", stderr(&out));
    let c = inspect(&id).unwrap();
    let source = c["Mounts"]
        .as_array()
        .unwrap()
        .iter()
        .find(|m| m["Destination"] == "/root/.bashrc")
        .map(|m| m["Source"].as_str().unwrap().to_string());
    assert_eq!(
        source.as_deref(),
        Some(kept.to_str().unwrap()),
        "the kept file is mounted on the next run"
    );
}

#[test]
#[allow(clippy::print_stderr)] // says loudly what this host could not exercise
fn docker_failures_become_one_clear_line_with_dockers_exit_code() {
    docker::standin_image();
    let root = TestRoot::new();
    let id = unique_id("fail");
    let _cleanup = Cleanup::new(id.clone());

    let missing = root.run(
        &[
            "--user-id",
            &id,
            "--forward-port",
            "10999",
            "--password-stdin",
            "--image",
            "aivc-test/never-built:1",
        ],
        "pw\n",
        &[],
    );
    assert_eq!(missing.status.code(), Some(125), "{}", stderr(&missing));
    assert!(
        stderr(&missing).starts_with("run-container: error: docker: the image is not on this host"),
        "{}",
        stderr(&missing)
    );
    assert_eq!(stderr(&missing).lines().count(), 1);

    let port = docker::free_port();
    assert!(start(&root, &id, port, &[]).status.success());
    let twice = start(&root, &id, docker::free_port(), &[]);
    assert_eq!(twice.status.code(), Some(125));
    assert!(
        stderr(&twice).contains("a container with this name already exists"),
        "{}",
        stderr(&twice)
    );

    let other = unique_id("port");
    let _cleanup2 = Cleanup::new(other.clone());
    let taken = start(&root, &other, port, &[]);
    assert_ne!(taken.status.code(), Some(0));
    assert!(
        stderr(&taken).contains("the forward port is already taken"),
        "{}",
        stderr(&taken)
    );
    // Regression: docker had created the container before the port failed, and it stayed
    // (Created), so every retry failed with "name already in use".
    assert!(
        inspect(&other).is_none(),
        "a failed start leaves no container behind"
    );

    let gpu_user = unique_id("gpu");
    let _cleanup3 = Cleanup::new(gpu_user.clone());
    let gpu = start(&root, &gpu_user, docker::free_port(), &["--gpus", "0"]);
    if gpu.status.success() {
        eprintln!("NOTE: this host has an NVIDIA container runtime; the no-runtime message was not exercised");
    } else {
        assert!(
            stderr(&gpu).contains("this host has no NVIDIA container runtime"),
            "{}",
            stderr(&gpu)
        );
        assert!(
            inspect(&gpu_user).is_none(),
            "a failed start leaves no container behind"
        );
    }

    let unreachable = root.run(
        &[
            "--user-id",
            &unique_id("down"),
            "--forward-port",
            "10998",
            "--password-stdin",
            "--image",
            docker::IMAGE,
        ],
        "pw\n",
        &[("DOCKER_HOST", "unix:///nonexistent/docker.sock")],
    );
    assert_ne!(unreachable.status.code(), Some(0));
    assert_eq!(
        stderr(&unreachable),
        "run-container: error: docker: the Docker daemon does not answer; is docker running?\n"
    );
}

#[test]
fn the_notices_login_script_setup_installed_is_mounted_read_only_and_shows_the_notices() {
    docker::standin_image();
    let root = TestRoot::new();
    let script = root.path().join("cfg/container/aivc-notices.sh");
    std::fs::create_dir_all(script.parent().unwrap()).unwrap();
    std::fs::copy(
        std::path::Path::new(env!("CARGO_MANIFEST_DIR"))
            .join("../../scripts/container/aivc-notices.sh"),
        &script,
    )
    .unwrap();
    let id = unique_id("notices");
    let _cleanup = Cleanup::new(id.clone());
    let out = start(&root, &id, docker::free_port(), &[]);
    assert!(out.status.success(), "{}", stderr(&out));

    let c = inspect(&id).expect("the container exists");
    let mount = c["Mounts"]
        .as_array()
        .unwrap()
        .iter()
        .find(|m| m["Destination"] == "/etc/profile.d/aivc-notices.sh")
        .cloned()
        .expect("the login script is mounted");
    assert_eq!(mount["RW"], false, "read-only");
    assert_eq!(mount["Source"], script.to_str().unwrap());

    // A notice as the delivery writes it, then a login shell in the container.
    let notices = root.work(&id).join(".aivc/notices");
    std::fs::create_dir_all(&notices).unwrap();
    std::fs::write(
        notices.join("20261124T100000-1-1.txt"),
        "2026-11-24 10:00  Your container is running: ssh on port 10001.\n",
    )
    .unwrap();
    let login = || {
        std::process::Command::new("docker")
            .args([
                "exec",
                &id,
                "sh",
                "-i",
                "-c",
                ". /etc/profile.d/aivc-notices.sh",
            ])
            .output()
            .unwrap()
    };
    let first = login();
    let shown = String::from_utf8_lossy(&first.stdout);
    assert!(
        shown.contains("AIVC notices (newest last")
            && shown.contains("  2026-11-24 10:00  Your container is running: ssh on port 10001."),
        "{shown}\n{}",
        stderr(&first)
    );
    // (busybox's interactive shell prints its banner; the notice is not shown again)
    let second = login();
    let again = String::from_utf8_lossy(&second.stdout);
    assert!(
        !again.contains("AIVC notices") && !again.contains("ssh on port 10001"),
        "shown once: {again}"
    );
}
