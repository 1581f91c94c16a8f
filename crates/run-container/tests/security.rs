//! Nothing a user types becomes a docker flag, a path outside their folders, or a shell
//! command on the host (docs/security.md).

mod common;

use common::docker::{self, inspect, Cleanup};
use common::{stderr, unique_id, TestRoot};

/// Starts `id`'s container with `password` on standard input and `extra` flags; it must start.
fn start(root: &TestRoot, id: &str, password: &str, extra: &[&str]) -> std::process::Output {
    let out = root.start(id, docker::free_port(), password, extra);
    assert!(out.status.success(), "{}", stderr(&out));
    out
}

fn env_of(id: &str) -> Vec<String> {
    inspect(id).unwrap()["Config"]["Env"]
        .as_array()
        .unwrap()
        .iter()
        .map(|e| e.as_str().unwrap().to_string())
        .collect()
}

#[test]
fn a_password_that_looks_like_flags_stays_one_env_value() {
    docker::standin_image();
    let root = TestRoot::new();
    let id = unique_id("pwflags");
    let _cleanup = Cleanup::new(id.clone());
    let password = "abcd --privileged -v /:/hostfs";
    start(&root, &id, password, &[]);
    let c = inspect(&id).unwrap();
    assert_eq!(c["HostConfig"]["Privileged"], false);
    assert!(!c["Mounts"].to_string().contains("hostfs"));
    assert!(env_of(&id).contains(&format!("PASSWORD={password}")));
}

#[test]
fn a_password_with_quotes_spaces_and_dollars_round_trips_intact() {
    docker::standin_image();
    let root = TestRoot::new();
    let id = unique_id("pwquote");
    let _cleanup = Cleanup::new(id.clone());
    let password = r#"it's "q" $HOME `id` ;|& \n"#;
    start(&root, &id, password, &[]);
    assert!(env_of(&id).contains(&format!("PASSWORD={password}")));
}

#[test]
fn an_extra_command_runs_inside_the_container_only() {
    docker::standin_image();
    let root = TestRoot::new();
    let id = unique_id("extra");
    let _cleanup = Cleanup::new(id.clone());
    let host_marker = root.path().join("ran-on-host");
    let command = format!(
        "echo one > /root/Work/a; echo $(echo two) > /root/Work/b; touch {}",
        host_marker.display()
    );
    start(&root, &id, "pw", &["--extra-command", &command]);
    // The command runs at container start; wait for its files (bounded).
    let b = root.work(&id).join("b");
    for _ in 0..100 {
        if b.exists() {
            break;
        }
        std::thread::sleep(std::time::Duration::from_millis(100));
    }
    assert_eq!(
        std::fs::read_to_string(root.work(&id).join("a")).unwrap(),
        "one\n"
    );
    assert_eq!(
        std::fs::read_to_string(&b).unwrap(),
        "two\n",
        "$(...) was expanded by the container's shell"
    );
    assert!(!host_marker.exists(), "nothing ran on the host");
    let cmd = inspect(&id).unwrap()["Config"]["Cmd"].clone();
    assert_eq!(cmd, serde_json::json!(["bash", "-c", command]));
}

#[test]
fn backup_entries_that_escape_are_refused_and_logged_and_the_rest_still_mount() {
    docker::standin_image();
    let root = TestRoot::new();
    let id = unique_id("escape");
    let _cleanup = Cleanup::new(id.clone());
    let backup = root.backup(&id);
    std::fs::create_dir_all(backup.join("ok")).unwrap();
    std::os::unix::fs::symlink("/", backup.join("root-link")).unwrap();
    std::fs::write(
        backup.join("backup.yaml"),
        "Dir:\n  - - ../../etc\n    - /hostetc\n  - - root-link\n    - /hostfs\n  - - ok\n    - /root/ok\nFile: []\n",
    )
    .unwrap();
    let out = start(&root, &id, "pw", &[]);
    let mounts = inspect(&id).unwrap()["Mounts"].to_string();
    assert!(
        !mounts.contains("/hostetc") && !mounts.contains("/hostfs"),
        "{mounts}"
    );
    assert!(
        mounts.contains("/root/ok"),
        "the good entry still mounts: {mounts}"
    );
    let log = std::fs::read_to_string(root.path().join("jobs/monitor.log")).unwrap();
    assert_eq!(
        log.lines().filter(|l| l.contains("[WARNING]")).count(),
        2,
        "{log}"
    );
    assert!(
        log.contains("[WARNING] ContainerWarning, ")
            && log.contains("../../etc")
            && log.contains("root-link"),
        "{log}"
    );
    assert!(stderr(&out).contains("symbolic link, which is never followed"));
}

#[test]
fn an_image_outside_the_list_is_refused() {
    let root = TestRoot::new();
    let out = root.run(
        &[
            "--user-id",
            "someone",
            "--forward-port",
            "10500",
            "--password-stdin",
            "--image",
            "alpine:latest",
        ],
        "pw\n",
        &[],
    );
    assert_eq!(out.status.code(), Some(2));
    assert_eq!(stderr(&out), "run-container: error: image `alpine:latest` is not one of the images in host_deploy.yaml\n");
}

#[test]
fn user_ids_that_look_like_paths_or_flags_are_refused_before_docker_is_called() {
    let root = TestRoot::new();
    let record = root.path().join("docker-was-called");
    let recorder = root.path().join("fake-docker");
    std::fs::write(
        &recorder,
        format!("#!/bin/sh\necho \"$@\" >> {}\n", record.display()),
    )
    .unwrap();
    std::os::unix::fs::PermissionsExt::set_mode(
        &mut std::fs::metadata(&recorder).unwrap().permissions(),
        0o755,
    );
    std::fs::set_permissions(
        &recorder,
        std::os::unix::fs::PermissionsExt::from_mode(0o755),
    )
    .unwrap();
    let docker_env = [("AIVC_DOCKER", recorder.to_str().unwrap())];
    for id in ["../x", "-rm", "a b", "x;reboot"] {
        let flag = format!("--user-id={id}");
        let out = root.run(
            &[&flag, "--forward-port", "10500", "--password-stdin"],
            "pw\n",
            &docker_env,
        );
        assert_eq!(out.status.code(), Some(2), "{id}");
        assert!(
            stderr(&out).contains("refused before calling docker"),
            "{id}: {}",
            stderr(&out)
        );
        let close = root.run(&["close", &flag], "", &docker_env);
        assert_eq!(close.status.code(), Some(2), "{id}");
    }
    assert!(!record.exists(), "docker was called");
    assert!(!root
        .path()
        .join("vol/work/../x")
        .join("..")
        .join("x")
        .exists());
}

#[test]
fn a_container_of_the_same_name_without_our_label_is_left_alone() {
    docker::standin_image();
    let id = unique_id("foreign");
    let _cleanup = Cleanup::new(id.clone());
    let made = std::process::Command::new("docker")
        .args(["run", "-d", "--name", &id, docker::IMAGE])
        .output()
        .unwrap();
    assert!(
        made.status.success(),
        "{}",
        String::from_utf8_lossy(&made.stderr)
    );
    let root = TestRoot::new();
    let out = root.run(&["close", "--user-id", &id], "", &[]);
    assert_eq!(out.status.code(), Some(2));
    assert!(
        stderr(&out).contains("it is not ours and was left alone"),
        "{}",
        stderr(&out)
    );
    assert_eq!(inspect(&id).unwrap()["State"]["Running"], true);
}
