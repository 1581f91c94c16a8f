//! The trust boundary of the user's folders, on the real Docker engine: everything below a
//! user's work and backup folders is theirs to rewrite at any moment from inside their
//! container, and none of it may reach the host through a restart, a close, or a read.

mod common;

use std::path::Path;
use std::process::{Command, Output, Stdio};
use std::time::Duration;

use common::docker::{self, inspect, Cleanup};
use common::{stderr, unique_id, TestRoot};
use wait_timeout::ChildExt;

const SSH_ONLY: &str =
    "Dir:\n  - - .home/.ssh\n    - /root/.ssh\nFile:\n  - - .home/.bashrc\n    - /root/.bashrc\n";

/// `docker exec <id> sh -c <script>`, as the user would from inside their container.
fn in_container(id: &str, script: &str) -> Output {
    Command::new("docker")
        .args(["exec", id, "sh", "-c", script])
        .output()
        .unwrap()
}

fn mount_sources(id: &str) -> Vec<(String, String)> {
    inspect(id).unwrap()["Mounts"]
        .as_array()
        .unwrap()
        .iter()
        .map(|m| {
            (
                m["Source"].as_str().unwrap().to_string(),
                m["Destination"].as_str().unwrap().to_string(),
            )
        })
        .collect()
}

fn restart(id: &str) {
    let out = Command::new("docker")
        .args(["restart", "-t", "1", id])
        .output()
        .unwrap();
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
}

/// Runs run-container with a deadline, so a read that blocks fails the test instead of
/// hanging it.
fn run_bounded(root: &TestRoot, args: &[&str], stdin: &str, limit: Duration) -> Output {
    let mut child = Command::new(env!("CARGO_BIN_EXE_run-container"))
        .arg("--root")
        .arg(root.path())
        .args(args)
        .env_remove("AIVC_ROOT")
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    use std::io::Write;
    let _ = child.stdin.take().unwrap().write_all(stdin.as_bytes());
    match child.wait_timeout(limit).unwrap() {
        Some(_) => child.wait_with_output().unwrap(),
        None => {
            let _ = child.kill();
            let _ = child.wait();
            panic!("run-container did not finish within {limit:?}: it blocked on a user's file");
        }
    }
}

fn start_args(id: &str, port: &str) -> Vec<String> {
    [
        "--user-id",
        id,
        "--forward-port",
        port,
        "--password-stdin",
        "--image",
        docker::IMAGE,
    ]
    .iter()
    .map(|s| s.to_string())
    .collect()
}

#[test]
fn an_entry_or_its_parent_swapped_for_a_symlink_is_never_mounted_on_restart() {
    docker::standin_image();
    let root = TestRoot::new();
    let id = unique_id("swap");
    let _cleanup = Cleanup::new(id.clone());
    let backup = root.backup(&id);
    std::fs::create_dir_all(backup.join(".home/.ssh")).unwrap();
    std::fs::write(backup.join("backup.yaml"), SSH_ONLY).unwrap();
    std::fs::write(backup.join(".home/.ssh/authorized_keys"), "mine\n").unwrap();
    // What a user must never see: a host folder outside their own.
    let host = tempfile::tempdir().unwrap();
    std::fs::create_dir(host.path().join(".ssh")).unwrap();
    std::fs::write(host.path().join(".ssh/authorized_keys"), "HOST-SECRET\n").unwrap();

    let out = root.start(&id, docker::free_port(), "pw", &[]);
    assert!(out.status.success(), "{}", stderr(&out));
    let read_keys = || in_container(&id, "cat /root/.ssh/authorized_keys");
    assert_eq!(String::from_utf8_lossy(&read_keys().stdout), "mine\n");

    // The entry itself, then its parent, swapped for a link from inside the container;
    // dockerd resolves every mount source again when the container restarts.
    let swaps = [
        format!(
            "rm -rf /root/Backup/.home/.ssh && ln -s {}/.ssh /root/Backup/.home/.ssh",
            host.path().display()
        ),
        format!(
            "rm -rf /root/Backup/.home && ln -s {} /root/Backup/.home",
            host.path().display()
        ),
    ];
    for swap in &swaps {
        let done = in_container(&id, swap);
        assert!(
            done.status.success(),
            "{}",
            String::from_utf8_lossy(&done.stderr)
        );
        restart(&id);
        let keys = String::from_utf8_lossy(&read_keys().stdout).into_owned();
        assert!(
            !keys.contains("HOST-SECRET"),
            "after `{swap}` the host's folder was mounted"
        );
        assert_eq!(keys, "mine\n", "the kept entry is still the user's own");
        for (source, _) in mount_sources(&id) {
            assert!(
                !source.starts_with(host.path().to_str().unwrap()),
                "{source} is mounted"
            );
        }
    }
    let close = root.run(&["close", "--user-id", &id], "", &[]);
    assert!(close.status.success(), "{}", stderr(&close));
}

#[test]
fn a_folder_swapped_for_a_symlink_in_a_tight_loop_during_close_gets_nothing_written_outside() {
    docker::standin_image();
    let root = TestRoot::new();
    let id = unique_id("closerace");
    let _cleanup = Cleanup::new(id.clone());
    let outside = tempfile::tempdir().unwrap();
    let backup = root.backup(&id);
    std::fs::create_dir_all(&backup).unwrap();
    let files: String = (0..30)
        .map(|i| format!("  - - .home/f{i}\n    - /root/f{i}\n"))
        .collect();
    std::fs::write(
        backup.join("backup.yaml"),
        format!("Dir: []\nFile:\n{files}"),
    )
    .unwrap();
    let out = root.start(&id, docker::free_port(), "pw", &[]);
    assert!(out.status.success(), "{}", stderr(&out));
    let made = in_container(
        &id,
        "i=0; while [ $i -lt 30 ]; do echo data$i > /root/f$i; i=$((i+1)); done",
    );
    assert!(made.status.success());
    // The user flips /root/Backup/.home between a folder and a link to a host folder, as
    // fast as the shell can, while the monitor closes the container.
    let flip = format!(
        "while :; do rm -rf /root/Backup/.home; mkdir /root/Backup/.home; rm -rf /root/Backup/.home; ln -s {} /root/Backup/.home; done",
        outside.path().display()
    );
    let loop_started = Command::new("docker")
        .args(["exec", "-d", &id, "sh", "-c", &flip])
        .status()
        .unwrap();
    assert!(loop_started.success());
    std::thread::sleep(Duration::from_millis(300));
    let close = run_bounded(
        &root,
        &["close", "--user-id", &id],
        "",
        Duration::from_secs(120),
    );
    assert!(close.status.success(), "{}", stderr(&close));
    let written: Vec<_> = std::fs::read_dir(outside.path()).unwrap().collect();
    assert!(
        written.is_empty(),
        "the close wrote into a folder the user pointed at: {written:?}"
    );
    for i in 0..30 {
        let kept = root.kept(&id).join(format!(".home%2Ff{i}"));
        assert_eq!(
            std::fs::read_to_string(&kept).unwrap(),
            format!("data{i}\n")
        );
    }
}

#[test]
fn backup_yaml_as_a_fifo_a_device_link_a_secret_link_or_a_deep_or_huge_file_is_refused_quickly_and_never_quoted(
) {
    docker::standin_image();
    let root = TestRoot::new();
    let secret_dir = tempfile::tempdir().unwrap();
    let secret = secret_dir.path().join("id_rsa");
    std::fs::write(&secret, "Dir: TOPSECRET-KEY-MATERIAL\n").unwrap();
    type Plant = Box<dyn Fn(&Path)>;
    let cases: Vec<(&str, Plant)> = vec![
        (
            "fifo",
            Box::new(|p: &Path| {
                let ok = Command::new("mkfifo").arg(p).status().unwrap();
                assert!(ok.success());
            }),
        ),
        (
            "zero",
            Box::new(|p: &Path| std::os::unix::fs::symlink("/dev/zero", p).unwrap()),
        ),
        (
            "secret",
            Box::new(move |p: &Path| std::os::unix::fs::symlink(&secret, p).unwrap()),
        ),
        (
            "deep",
            Box::new(|p: &Path| std::fs::write(p, "[".repeat(60_000)).unwrap()),
        ),
        (
            "quoted",
            Box::new(|p: &Path| std::fs::write(p, "Dir: TOPSECRET-INLINE\n").unwrap()),
        ),
        (
            "huge",
            Box::new(|p: &Path| std::fs::write(p, vec![b'#'; 8 << 20]).unwrap()),
        ),
    ];
    for (tag, plant) in cases {
        let id = unique_id(&format!("yaml-{tag}"));
        let _cleanup = Cleanup::new(id.clone());
        let backup = root.backup(&id);
        std::fs::create_dir_all(&backup).unwrap();
        plant(&backup.join("backup.yaml"));
        let port = docker::free_port().to_string();
        let args = start_args(&id, &port);
        let args: Vec<&str> = args.iter().map(String::as_str).collect();
        let out = run_bounded(&root, &args, "pw\n", Duration::from_secs(30));
        assert!(out.status.success(), "{tag}: {}", stderr(&out));
        assert!(
            stderr(&out).contains("backup entry `backup.yaml` refused"),
            "{tag}: {}",
            stderr(&out)
        );
        let close = run_bounded(
            &root,
            &["close", "--user-id", &id],
            "",
            Duration::from_secs(60),
        );
        assert!(close.status.success(), "{tag}: {}", stderr(&close));
    }
    let log = std::fs::read_to_string(root.path().join("jobs/monitor.log")).unwrap();
    assert!(
        !log.contains("TOPSECRET"),
        "the log quotes a user's file:\n{log}"
    );
    assert!(log.lines().count() >= 6, "{log}");
}

#[test]
fn relative_volume_folders_are_the_roots_even_when_closing_from_slash() {
    docker::standin_image();
    let root = TestRoot::new();
    let host = root.path().join("cfg/host_deploy.yaml");
    let text = std::fs::read_to_string(&host).unwrap();
    let prefix = format!("{}/", root.path().display());
    std::fs::write(&host, text.replace(&prefix, "./")).unwrap();
    let id = unique_id("relative");
    let _cleanup = Cleanup::new(id.clone());
    let port = docker::free_port().to_string();
    let mut cmd = Command::new(env!("CARGO_BIN_EXE_run-container"));
    cmd.arg("--root")
        .arg(root.path())
        .args(start_args(&id, &port))
        .args(["--extra-command", "echo from-the-container > /root/.bashrc"])
        .current_dir("/");
    let mut child = cmd
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    use std::io::Write;
    child.stdin.take().unwrap().write_all(b"pw\n").unwrap();
    let out = child.wait_with_output().unwrap();
    assert!(out.status.success(), "{}", stderr(&out));
    assert!(
        root.backup(&id).join("backup.yaml").exists(),
        "seeded below the root"
    );
    // As systemd runs the monitor: from `/`.
    let close = Command::new(env!("CARGO_BIN_EXE_run-container"))
        .arg("--root")
        .arg(root.path())
        .args(["close", "--user-id", &id])
        .current_dir("/")
        .output()
        .unwrap();
    assert!(close.status.success(), "{}", stderr(&close));
    let kept = root.kept(&id).join(".home%2F.bashrc");
    assert_eq!(
        std::fs::read_to_string(kept).unwrap(),
        "from-the-container\n",
        "the close found the user's folders below the root, not below `/`"
    );
    assert!(!Path::new("/vol").exists() && !Path::new("/kept").exists());
}

#[test]
fn a_migrated_users_entries_are_imported_once_and_a_linked_one_is_not() {
    docker::standin_image();
    let root = TestRoot::new();
    let id = unique_id("migrate");
    let _cleanup = Cleanup::new(id.clone());
    let backup = root.backup(&id);
    let host = tempfile::tempdir().unwrap();
    std::fs::write(host.path().join("shadow"), "HOST-SECRET\n").unwrap();
    std::fs::create_dir_all(backup.join(".home/.ssh")).unwrap();
    std::fs::write(backup.join(".home/.ssh/authorized_keys"), "old-key\n").unwrap();
    std::fs::write(backup.join(".home/.bashrc"), "old-rc\n").unwrap();
    std::os::unix::fs::symlink(host.path(), backup.join(".home/.config")).unwrap();
    // The old layout: the template's list, entries kept in the backup folder itself.
    std::fs::copy(
        root.path().join("cfg/templates/backup.yaml"),
        backup.join("backup.yaml"),
    )
    .unwrap();
    let out = root.start(&id, docker::free_port(), "pw", &[]);
    assert!(out.status.success(), "{}", stderr(&out));
    let err = stderr(&out);
    assert!(
        err.contains(".home/.config -> /root/.config` refused: not imported"),
        "{err}"
    );
    let kept = root.kept(&id);
    assert_eq!(
        std::fs::read_to_string(kept.join(".home%2F.ssh/authorized_keys")).unwrap(),
        "old-key\n"
    );
    assert!(!kept.join(".home%2F.config").exists());
    let seen = in_container(
        &id,
        "cat /root/.ssh/authorized_keys /root/.bashrc; ls /root/.config 2>&1",
    );
    let seen = String::from_utf8_lossy(&seen.stdout).into_owned();
    assert!(seen.starts_with("old-key\nold-rc\n"), "{seen}");
    assert!(!seen.contains("shadow"), "{seen}");
    let log = std::fs::read_to_string(root.path().join("jobs/monitor.log")).unwrap();
    assert!(log.contains("is now kept by the host"), "{log}");
    // Later changes in the backup folder no longer matter: the kept copy is the entry.
    std::fs::write(backup.join(".home/.bashrc"), "changed\n").unwrap();
    let close = root.run(&["close", "--user-id", &id], "", &[]);
    assert!(close.status.success(), "{}", stderr(&close));
    let out = root.start(&id, docker::free_port(), "pw", &[]);
    assert!(out.status.success(), "{}", stderr(&out));
    let rc = in_container(&id, "cat /root/.bashrc");
    assert_eq!(String::from_utf8_lossy(&rc.stdout), "old-rc\n");
}

/// A container the first version started mounts each entry from inside the user's backup
/// folder. `docker cp` of a stopped container mounts its volumes again, resolving each
/// source anew, so a source swapped for a link would be read through docker: such a
/// container's entries are imported from the backup folder through userfs instead, where
/// the link is refused.
#[test]
fn closing_a_first_version_container_never_reads_a_swapped_mount_source_through_docker() {
    docker::standin_image();
    let root = TestRoot::new();
    // The admin's folders are named through a link, as `/home` → `/data/home` would be; the
    // first version mounted entries by their resolved paths, so the two never match as text.
    let alias = tempfile::tempdir().unwrap();
    let link = alias.path().join("lab");
    std::os::unix::fs::symlink(root.path(), &link).unwrap();
    let host_deploy = root.path().join("cfg/host_deploy.yaml");
    let text = std::fs::read_to_string(&host_deploy).unwrap();
    let real = format!("{}/vol", root.path().display());
    std::fs::write(
        &host_deploy,
        text.replace(&real, &format!("{}/vol", link.display())),
    )
    .unwrap();
    let id = unique_id("oldclose");
    let _cleanup = Cleanup::new(id.clone());
    let backup = root.backup(&id);
    std::fs::create_dir_all(backup.join(".home/.ssh")).unwrap();
    std::fs::create_dir_all(root.work(&id)).unwrap();
    std::fs::write(backup.join("backup.yaml"), SSH_ONLY).unwrap();
    std::fs::write(backup.join(".home/.ssh/authorized_keys"), "mine\n").unwrap();
    let host = tempfile::tempdir().unwrap();
    std::fs::create_dir(host.path().join(".ssh")).unwrap();
    std::fs::write(host.path().join(".ssh/authorized_keys"), "HOST-SECRET\n").unwrap();
    let port = docker::free_port();
    std::fs::write(
        root.path().join("jobs/using.csv"),
        format!(
            "start,end,user_id,cpus,memory,gpus,forward_port,image,extra_command\n\
             2026-11-23 10:00:00,2026-11-23 12:00:00,{id},1.0,1,[],{port},,\n"
        ),
    )
    .unwrap();
    let made = Command::new("docker")
        .args([
            "run",
            "-d",
            "--name",
            &id,
            "--label",
            &format!("aivc.user={id}"),
        ])
        .args([
            "--label",
            "aivc.start=2026-11-23 10:00:00",
            "-p",
            &format!("{port}:22"),
        ])
        .arg("-v")
        .arg(format!("{}:/root/Backup", backup.display()))
        .arg("-v")
        .arg(format!(
            "{}:/root/.ssh",
            backup.join(".home/.ssh").display()
        ))
        .arg(docker::IMAGE)
        .output()
        .unwrap();
    assert!(
        made.status.success(),
        "{}",
        String::from_utf8_lossy(&made.stderr)
    );
    let swap = format!(
        "rm -rf /root/Backup/.home/.ssh && ln -s {}/.ssh /root/Backup/.home/.ssh; echo rc > /root/.bashrc",
        host.path().display()
    );
    assert!(in_container(&id, &swap).status.success());

    let close = run_bounded(
        &root,
        &["close", "--user-id", &id],
        "",
        Duration::from_secs(120),
    );
    assert!(close.status.success(), "{}", stderr(&close));
    assert!(inspect(&id).is_none(), "the container is gone");
    let mut seen = String::new();
    let kept = root.kept(&id);
    for entry in std::fs::read_dir(&kept).unwrap() {
        let p = entry.unwrap().path();
        let files: Vec<_> = if p.is_dir() {
            std::fs::read_dir(&p)
                .unwrap()
                .map(|e| e.unwrap().path())
                .collect()
        } else {
            vec![p]
        };
        for f in files {
            seen.push_str(&std::fs::read_to_string(f).unwrap_or_default());
        }
    }
    assert!(
        !seen.contains("HOST-SECRET"),
        "a host file was kept: {seen}"
    );
    assert!(
        stderr(&close).contains("symbolic link, which is never followed"),
        "{}",
        stderr(&close)
    );
}

/// Keeping entries at a close is bounded by the user's backup quota: a 50 MB file (sparse
/// or not) in a 10 MB quota is not kept, and nothing is left half-written.
#[test]
fn an_entry_larger_than_the_backup_quota_is_not_kept_at_close() {
    docker::standin_image();
    let root = TestRoot::new();
    let cap = root.path().join("cfg/capability_config.yaml");
    let text = std::fs::read_to_string(&cap).unwrap();
    std::fs::write(
        &cap,
        text.replace("backup_space: 1\n", "backup_space: 0.01\n"),
    )
    .unwrap();
    let id = unique_id("bigkeep");
    let _cleanup = Cleanup::new(id.clone());
    std::fs::create_dir_all(root.backup(&id)).unwrap();
    std::fs::write(
        root.backup(&id).join("backup.yaml"),
        "Dir: []\nFile:\n  - - big\n    - /root/big\n  - - small\n    - /root/small\n",
    )
    .unwrap();
    let out = root.start(&id, docker::free_port(), "pw", &[]);
    assert!(out.status.success(), "{}", stderr(&out));
    let made = in_container(
        &id,
        "dd if=/dev/zero of=/root/big bs=1048576 count=50 2>/dev/null; echo small > /root/small",
    );
    assert!(made.status.success());
    let close = run_bounded(
        &root,
        &["close", "--user-id", &id],
        "",
        Duration::from_secs(120),
    );
    assert!(close.status.success(), "{}", stderr(&close));
    assert!(
        stderr(&close).contains("larger than may be copied"),
        "{}",
        stderr(&close)
    );
    let names: Vec<String> = std::fs::read_dir(root.kept(&id))
        .unwrap()
        .map(|e| e.unwrap().file_name().to_string_lossy().into_owned())
        .collect();
    assert_eq!(
        names,
        ["small"],
        "only what fits is kept, no partial copy is left"
    );
}

/// `docker inspect` answers to an id prefix too; a user id that happens to be one must not
/// close someone else's container.
#[test]
fn closing_a_user_whose_id_is_another_containers_id_prefix_touches_nothing() {
    docker::standin_image();
    let root = TestRoot::new();
    let id = unique_id("prefix");
    let _cleanup = Cleanup::new(id.clone());
    let out = root.start(&id, docker::free_port(), "pw", &[]);
    assert!(out.status.success(), "{}", stderr(&out));
    let full = inspect(&id).unwrap()["Id"].as_str().unwrap().to_string();
    let prefix = &full[..16];
    let close = root.run(&["close", "--user-id", prefix], "", &[]);
    assert!(close.status.success(), "{}", stderr(&close));
    assert!(
        stderr(&close).contains("nothing to close"),
        "{}",
        stderr(&close)
    );
    assert_eq!(inspect(&id).unwrap()["State"]["Running"], true);
}

/// Regression (review): a tar reader stops at the first zero block of the archive's
/// trailer; when docker had the second block still to write, it died of a broken pipe and
/// the entry was refused. Archives of these sizes end on a 32 KiB boundary.
#[test]
fn entries_whose_archive_ends_on_a_pipe_buffer_boundary_are_kept() {
    docker::standin_image();
    let root = TestRoot::new();
    let id = unique_id("trailer");
    let _cleanup = Cleanup::new(id.clone());
    std::fs::create_dir_all(root.backup(&id)).unwrap();
    let sizes = [31232, 64000, 1000, 97280];
    let dirs: String = sizes
        .iter()
        .map(|n| format!("  - - d{n}\n    - /root/d{n}\n"))
        .collect();
    std::fs::write(
        root.backup(&id).join("backup.yaml"),
        format!("Dir:\n{dirs}File: []\n"),
    )
    .unwrap();
    let out = root.start(&id, docker::free_port(), "pw", &[]);
    assert!(out.status.success(), "{}", stderr(&out));
    let script: String = sizes
        .iter()
        .map(|n| format!("mkdir -p /root/d{n}; head -c {n} /dev/zero > /root/d{n}/f; "))
        .collect();
    assert!(in_container(&id, &script).status.success());
    let close = run_bounded(
        &root,
        &["close", "--user-id", &id],
        "",
        Duration::from_secs(120),
    );
    assert!(close.status.success(), "{}", stderr(&close));
    for n in sizes {
        let f = root.kept(&id).join(format!("d{n}/f"));
        assert_eq!(
            std::fs::metadata(&f).map(|m| m.len()).ok(),
            Some(n),
            "d{n}: {}",
            stderr(&close)
        );
    }
}
