//! The switch from the Python version, on a root laid out as its setup.sh leaves it (its
//! templates, the backup template in `cfg/templates/Backup/`, no installation id, no lock)
//! and with containers started the way its run_container.py starts them: by name, without
//! any label, `-p PORT:22`, the backup entries mounted from inside the user's backup folder.
//! The first tick adopts the running booking's container and re-creates it with the entries
//! kept by root, closes the ended booking's container (its entries imported through userfs,
//! never read through `docker cp`), and leaves every other unlabelled container alone;
//! `checker` finds the old backup template, and setup.sh names the Python version's cron
//! lines and booking container and changes nothing until they are gone.
//!
//! The format samples are the Python version's own (`../shared/reference/original-formats`)
//! when that folder lies beside the clone, else the project's own in the same format
//! (`tests/fixtures/python-reference`); a NOTE on stderr says which.

mod common;

#[path = "../../../tests/support/docker.rs"]
mod docker;

use std::path::{Path, PathBuf};
use std::process::{Command, Output};

const HEADER: &str = "start,end,user_id,cpus,memory,gpus,forward_port,image,extra_command\n";

/// The Python version's format samples, saying loudly which ones.
#[allow(clippy::print_stderr)] // a run without ../shared must say so
fn samples() -> PathBuf {
    static SAID: std::sync::Once = std::sync::Once::new();
    let repo = Path::new(env!("CARGO_MANIFEST_DIR")).join("../..");
    let shared = repo.join("../shared/reference/original-formats");
    let (dir, note) = if shared.is_dir() {
        (
            shared,
            "migration: the root is laid out from the Python version's own samples (../shared/reference/original-formats)",
        )
    } else {
        (
            repo.join("tests/fixtures/python-reference"),
            "NOTE: ../shared/reference is NOT beside this clone: the migration tests lay the Python version's root out from the project's own samples in that format (tests/fixtures/python-reference)",
        )
    };
    SAID.call_once(|| eprintln!("{note}"));
    dir
}

/// One user of the Python root: id, forward port.
struct User {
    id: String,
    port: u16,
}

impl User {
    fn new(prefix: &str) -> User {
        User {
            id: docker::unique_name(prefix),
            port: docker::free_port(),
        }
    }
}

/// A root as the Python version's setup.sh leaves it, plus what its booking and
/// run_container.py wrote for `users`: their entries in users_config.yaml and their backup
/// folders (seeded from the template, with an `.ssh` entry holding `keys-<id>`).
fn python_root(users: &[&User]) -> tempfile::TempDir {
    let s = samples();
    let dir = tempfile::tempdir().unwrap();
    let root = dir.path();
    let put = |rel: &str, text: &str| {
        let p = root.join(rel);
        std::fs::create_dir_all(p.parent().unwrap()).unwrap();
        std::fs::write(p, text).unwrap();
    };
    let read = |rel: &str| std::fs::read_to_string(s.join(rel)).unwrap();
    for t in [
        "host_deploy.yaml",
        "capability_config.yaml",
        "users_config.yaml",
        "schedule.csv",
    ] {
        put(
            &format!("cfg/templates/{t}"),
            &read(&format!("templates/{t}")),
        );
    }
    // Where the Python version keeps its backup template.
    let template = read("templates/backup.yaml");
    assert!(template.contains("/root/.ssh"), "{template}");
    put("cfg/templates/Backup/backup.yaml", &template);

    // cfg/: the templates as the admin filled them in: folders on this host, the lab's
    // image (the stand-in), its users.
    let mut host = String::new();
    let mut first_image = true;
    for line in read("templates/host_deploy.yaml").lines() {
        let key = line.split(':').next().unwrap_or("");
        let folder = match key {
            "volume_work_dir" => Some("Users"),
            "volume_dataset_dir" => Some("Dataset"),
            "volume_backup_dir" => Some("Backup"),
            _ => None,
        };
        if let Some(f) = folder {
            host.push_str(&format!("{key}: {}/mnt/{f}\n", root.display()));
        } else if line.starts_with("  - ") && first_image {
            first_image = false;
            host.push_str(&format!("  - {} # the lab's image\n", docker::IMAGE));
        } else {
            host.push_str(line);
            host.push('\n');
        }
    }
    put("cfg/host_deploy.yaml", &host);
    let cap = read("templates/capability_config.yaml");
    let ids: String = users.iter().map(|u| format!("  - {}\n", u.id)).collect();
    assert!(cap.contains("allow_userIDs:\n"), "{cap}");
    put(
        "cfg/capability_config.yaml",
        &cap.replacen("allow_userIDs:\n", &format!("allow_userIDs:\n{ids}"), 1),
    );
    let mut entries = read("templates/users_config.yaml");
    for u in users {
        let (id, r) = (&u.id, root.display());
        entries.push_str(&format!(
            "{id}:\n  password: \"pw-{id}\"\n  forward_port: {}\n  image: null\n  extra_command: null\n  volume_work_dir: {r}/mnt/Users/{id}\n  volume_dataset_dir: {r}/mnt/Dataset\n  volume_backup_dir: {r}/mnt/Backup/{id}\n",
            u.port
        ));
        // run_container.py copies cfg/templates/Backup into a new backup folder; the user's
        // environment then lives there.
        put(&format!("mnt/Backup/{id}/backup.yaml"), &template);
        put(
            &format!("mnt/Backup/{id}/.default/.ssh/authorized_keys"),
            &format!("keys-{id}\n"),
        );
        std::fs::create_dir_all(root.join(format!("mnt/Users/{id}"))).unwrap();
    }
    std::fs::create_dir_all(root.join("mnt/Dataset")).unwrap();
    put("cfg/users_config.yaml", &entries);
    let schedule = read("templates/schedule.csv");
    for t in ["booking", "using", "used"] {
        put(&format!("jobs/{t}.csv"), &schedule);
    }
    put("jobs/monitor_exec", "");
    put("jobs/monitor.log", "");
    dir
}

/// `docker run` as run_container.py runs it for `user` (without `--pid=host` and
/// `--gpus "device=none"`, which this engine's runtime may refuse; the image's entrypoint
/// starts sshd as `/.script/ssh_start.sh` did), publishing `port`: by name, no label, the
/// entries mounted from the backup folder. The guard removes it by id.
fn python_container(root: &Path, user: &User, port: u16) -> docker::Cleanup {
    let (r, id) = (root.display(), &user.id);
    let out = Command::new("docker")
        .args(["run", "-dit", "--restart=always", "--cpus=1", "--memory=1G"])
        .args(["--memory-swap=2G", "--shm-size=1G"])
        .arg(format!("--name={id}"))
        .args(["-p", &format!("{port}:22")])
        .args(["-v", &format!("{r}/mnt/Users/{id}:/root/Work")])
        .args(["-v", &format!("{r}/mnt/Backup/{id}:/root/Backup")])
        .args(["-v", &format!("{r}/mnt/Dataset:/root/Dataset:ro")])
        .args([
            "-v",
            &format!("{r}/mnt/Backup/{id}/.default/.ssh:/root/.ssh"),
        ])
        .arg(docker::standin_image())
        .output()
        .unwrap();
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    docker::Cleanup::id(&String::from_utf8_lossy(&out.stdout))
}

fn monitor(root: &Path, now: &str) -> Output {
    Command::new(env!("CARGO_BIN_EXE_monitor"))
        .arg("--root")
        .arg(root)
        .env("AIVC_NOW", now)
        .env("AIVC_RUN_CONTAINER", common::run_container())
        .env("AIVC_NO_NVML", "1")
        .env_remove("AIVC_DOCKER")
        .env_remove("AIVC_ROOT")
        .output()
        .unwrap()
}

fn assert_ran(out: &Output) {
    assert_eq!(
        out.status.code(),
        Some(0),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
}

fn id_of(name: &str) -> String {
    docker::inspect(name).expect(name)["Id"]
        .as_str()
        .unwrap()
        .to_string()
}

fn row(user: &User, start: &str, end: &str) -> String {
    format!(
        "2026-11-23 {start}:00,2026-11-23 {end}:00,{},1.0,2,[],{},,\n",
        user.id, user.port
    )
}

/// Regression: the Python version's containers carry no label, so `ps --filter label=`
/// never showed them: the running booking kept mounts its user could re-point, and the
/// ended one ran on past its booking.
#[test]
fn the_first_tick_adopts_the_python_versions_containers_and_leaves_strangers_alone() {
    docker::standin_image();
    let running = User::new("pya");
    let ended = User::new("pyb");
    let other_port = User::new("pyc");
    let no_row = User::new("pyd");
    let lab = python_root(&[&running, &ended, &other_port, &no_row]);
    let root = lab.path();
    std::fs::write(
        root.join("jobs/using.csv"),
        format!(
            "{HEADER}{}{}{}",
            row(&running, "08:00", "12:00"),
            row(&ended, "08:00", "10:00"),
            row(&other_port, "08:00", "10:00"),
        ),
    )
    .unwrap();
    let _a = python_container(root, &running, running.port);
    let _b = python_container(root, &ended, ended.port);
    // Named like a user with a row here, but publishing another port; and one whose name
    // has no row at all.
    let _c = python_container(root, &other_port, docker::free_port());
    let _d = python_container(root, &no_row, no_row.port);
    let before: Vec<String> = [&running, &other_port, &no_row]
        .iter()
        .map(|u| id_of(&u.id))
        .collect();

    let out = monitor(root, "2026-11-23 10:00");
    // The first tick made the installation id: whatever it labelled goes at the end.
    let installation = hostinfo::Root::at(root)
        .existing_installation_id()
        .unwrap()
        .expect("the tick made an installation id");
    let _ours = docker::InstallationCleanup(installation.clone());
    assert_ran(&out);
    let log = std::fs::read_to_string(root.join("jobs/monitor.log")).unwrap();

    // The running booking: re-created, labelled, its entry imported into the kept folder
    // and mounted from there, with what the user had.
    let c = docker::inspect(&running.id).expect("the running booking has its container");
    assert_ne!(c["Id"].as_str().unwrap(), before[0], "re-created: {log}");
    assert_eq!(c["State"]["Running"], true);
    assert_eq!(
        c["Config"]["Labels"]["aivc.installation"],
        installation.as_str()
    );
    assert_eq!(c["Config"]["Labels"]["aivc.start"], "2026-11-23 08:00:00");
    let ssh = c["Mounts"]
        .as_array()
        .unwrap()
        .iter()
        .find(|m| m["Destination"] == "/root/.ssh")
        .map(|m| m["Source"].as_str().unwrap().to_string())
        .expect("the entry is mounted");
    assert!(
        ssh.ends_with(&format!("kept/{}/.default%2F.ssh", running.id)),
        "{ssh}"
    );
    let keys = Command::new("docker")
        .args(["exec", &running.id, "cat", "/root/.ssh/authorized_keys"])
        .output()
        .unwrap();
    assert_eq!(
        String::from_utf8_lossy(&keys.stdout),
        format!("keys-{}\n", running.id)
    );
    assert!(
        log.contains(&format!(
            "{}'s container was started by an earlier version",
            running.id
        )),
        "{log}"
    );

    // The ended booking: its container is gone, its row filed, its entry kept (imported
    // from the backup folder: the container was never read through docker).
    assert!(docker::inspect(&ended.id).is_none(), "{log}");
    assert!(
        log.contains(&format!(
            "{}'s booking ended at 2026-11-23 10:00; the container is removed.",
            ended.id
        )),
        "{log}"
    );
    let kept = root.join(format!("kept/{}/.default%2F.ssh/authorized_keys", ended.id));
    assert_eq!(
        std::fs::read_to_string(&kept).unwrap(),
        format!("keys-{}\n", ended.id)
    );

    // The strangers run on, untouched.
    for (u, id) in [(&other_port, &before[1]), (&no_row, &before[2])] {
        let c = docker::inspect(&u.id).expect("left alone");
        assert_eq!(c["Id"].as_str().unwrap(), id.as_str());
        assert_eq!(c["State"]["Running"], true, "{}", u.id);
    }
    assert!(
        log.contains(&format!(
            "the container named {} is another installation's and is left alone",
            other_port.id
        )),
        "{log}"
    );
    assert!(!log.contains(&no_row.id), "{log}");

    let using = std::fs::read_to_string(root.join("jobs/using.csv")).unwrap();
    assert_eq!(
        using,
        format!("{HEADER}{}", row(&running, "08:00", "12:00"))
    );
    let used = std::fs::read_to_string(root.join("jobs/used.csv")).unwrap();
    assert!(
        used.contains(&row(&ended, "08:00", "10:00"))
            && used.contains(&row(&other_port, "08:00", "10:00")),
        "{used}"
    );

    // The next tick leaves the new container alone.
    let new_id = id_of(&running.id);
    assert_ran(&monitor(root, "2026-11-23 10:30"));
    assert_eq!(id_of(&running.id), new_id);
    let after = std::fs::read_to_string(root.join("jobs/monitor.log")).unwrap();
    assert_eq!(after, log, "the second tick had nothing to do");

    // At its end it is closed like any of ours.
    assert_ran(&monitor(root, "2026-11-23 12:00"));
    assert!(docker::inspect(&running.id).is_none());
    for (u, id) in [(&other_port, &before[1]), (&no_row, &before[2])] {
        assert_eq!(id_of(&u.id), *id, "{} is still there", u.id);
    }
}

fn checker(root: &Path, args: &[&str]) -> Output {
    Command::new(common::sibling("checker"))
        .arg("--root")
        .arg(root)
        .args(args)
        .env("AIVC_NOW", common::NOW)
        .env("AIVC_NO_NVML", "1")
        .env_remove("AIVC_ROOT")
        .output()
        .unwrap()
}

/// Regression: `checker validate` looked only at `cfg/templates/backup.yaml`, so a broken
/// template where the Python layout keeps it passed, and every new user got it.
#[test]
fn checker_finds_the_backup_template_where_the_python_layout_keeps_it() {
    let user = User::new("pyt");
    let lab = python_root(&[&user]);
    let root = lab.path();
    let out = checker(root, &["validate"]);
    assert_eq!(
        out.status.code(),
        Some(0),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    std::fs::write(
        root.join("cfg/templates/Backup/backup.yaml"),
        "Dir: [[a, b]\n",
    )
    .unwrap();
    let out = checker(root, &["validate"]);
    let err = String::from_utf8_lossy(&out.stderr);
    assert_eq!(out.status.code(), Some(2), "{err}");
    assert!(err.contains("cfg/templates/Backup/backup.yaml"), "{err}");
    let out = checker(root, &["--json"]);
    let report: checker::Report = serde_json::from_slice(&out.stdout).unwrap();
    let p = report
        .problems
        .iter()
        .find(|p| p.code == "backup_template")
        .unwrap_or_else(|| panic!("{:?}", report.problems));
    assert_eq!(p.file, "cfg/templates/Backup/backup.yaml");
    // No template at all is fine: a new user's backup folder starts empty.
    std::fs::remove_dir_all(root.join("cfg/templates/Backup")).unwrap();
    assert_eq!(checker(root, &["validate"]).status.code(), Some(0));
}

fn setup(root: &Path, path: &str, prefix: &Path) -> Output {
    let repo = Path::new(env!("CARGO_MANIFEST_DIR")).join("../..");
    for b in ["booking", "checker", "run-container"] {
        common::sibling(b);
    }
    let bin = Path::new(env!("CARGO_BIN_EXE_monitor")).parent().unwrap();
    Command::new("bash")
        .arg(repo.join("scripts/setup.sh"))
        .arg("--root")
        .arg(root)
        .arg("--prefix")
        .arg(prefix)
        .arg("--bin-dir")
        .arg(bin)
        .args(["--no-systemd", "--no-container"])
        .env("PATH", path)
        .env("TZ", "Asia/Taipei")
        .env_remove("SUDO_USER")
        .output()
        .unwrap()
}

/// Every file below `dir`, with its bytes.
fn tree(dir: &Path) -> Vec<(PathBuf, Vec<u8>)> {
    let mut out = Vec::new();
    let mut stack = vec![dir.to_path_buf()];
    while let Some(d) = stack.pop() {
        for e in std::fs::read_dir(&d).unwrap() {
            let p = e.unwrap().path();
            if p.is_dir() {
                stack.push(p);
            } else {
                out.push((p.clone(), std::fs::read(&p).unwrap()));
            }
        }
    }
    out.sort();
    out
}

/// The Python version's cron lines and booking container would run on beside the new
/// tools; setup.sh names each with the exact command that removes it, removes neither,
/// changes nothing, and goes ahead once they are gone, keeping the lab's backup template.
#[test]
fn setup_names_the_python_versions_cron_lines_and_booking_container_and_removes_neither() {
    docker::standin_image();
    let user = User::new("pys");
    let lab = python_root(&[&user]);
    let root = lab.path();
    let prefix = tempfile::tempdir().unwrap();
    // The admin's crontab, as the Python version's setup.sh wrote it.
    let fake = tempfile::tempdir().unwrap();
    let monitor_py = format!("{}/src/monitor/Monitor.py", root.display());
    let restart_py = format!("{}/src/monitor/check_restart.py", root.display());
    let lines = fake.path().join("lines");
    std::fs::write(
        &lines,
        format!("0 3 * * * /usr/bin/backup-home\n*/30 * * * * python3 {monitor_py}\n@reboot python3 {restart_py}\n"),
    )
    .unwrap();
    let crontab = fake.path().join("crontab");
    std::fs::write(
        &crontab,
        format!(
            "#!/bin/sh\nprintf '%s\\n' \"$*\" >> {0}/calls\n[ \"$1\" = -l ] && cat {0}/lines\nexit 0\n",
            fake.path().display()
        ),
    )
    .unwrap();
    use std::os::unix::fs::PermissionsExt;
    std::fs::set_permissions(&crontab, std::fs::Permissions::from_mode(0o755)).unwrap();
    let path = format!(
        "{}:{}",
        fake.path().display(),
        std::env::var("PATH").unwrap_or_default()
    );
    // Its booking container, as run_booking.sh starts it (but under a name and without a
    // port of its own: the engine is shared).
    let booking = docker::unique_name("booking");
    let made = Command::new("docker")
        .args(["run", "-dit", "--restart=always", "--name", &booking])
        .args(["-v", &format!("{}/cfg/:/root/cfg", root.display())])
        .args(["-v", &format!("{}/jobs/:/root/jobs", root.display())])
        .arg(docker::standin_image())
        .output()
        .unwrap();
    assert!(
        made.status.success(),
        "{}",
        String::from_utf8_lossy(&made.stderr)
    );
    let guard = docker::Cleanup::id(&String::from_utf8_lossy(&made.stdout));

    let before = tree(root);
    let out = setup(root, &path, prefix.path());
    let err = String::from_utf8_lossy(&out.stderr);
    assert_eq!(out.status.code(), Some(1), "{err}");
    for said in [
        format!("*/30 * * * * python3 {monitor_py}"),
        format!("@reboot python3 {restart_py}"),
        "crontab -e".to_string(),
        "crontab -l | grep -Ev 'src/monitor/(Monitor|check_restart)\\.py' | crontab -".into(),
        format!("docker rm -f {booking}"),
        "nothing was changed".into(),
    ] {
        assert!(err.contains(&said), "missing `{said}` in:\n{err}");
    }
    assert!(!err.contains("backup-home"), "{err}");
    assert_eq!(tree(root), before, "setup changed the root");
    let calls = std::fs::read_to_string(fake.path().join("calls")).unwrap();
    assert!(calls.lines().all(|l| l == "-l"), "only read: {calls}");
    assert_eq!(
        docker::inspect(&booking).unwrap()["State"]["Running"],
        true,
        "setup never removes a container it did not create"
    );

    // The admin does what it said; setup then goes ahead, keeping the lab's template.
    std::fs::write(&lines, "0 3 * * * /usr/bin/backup-home\n").unwrap();
    drop(guard);
    let out = setup(root, &path, prefix.path());
    assert_eq!(
        out.status.code(),
        Some(0),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    assert!(root.join("cfg/installation-id").exists());
    assert!(
        !root.join("cfg/templates/backup.yaml").exists(),
        "the lab's cfg/templates/Backup/backup.yaml stays the template"
    );
}
