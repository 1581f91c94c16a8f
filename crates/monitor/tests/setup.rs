//! scripts/setup.sh on a fresh root: the live files appear from the templates, the zone is
//! written, the binaries are installed, and a second run changes nothing the admin edited.
//! (The booking container itself needs a Debian base image: see booking_container.rs.)
//! setup never replaces a container that is not this installation's booking container.

#[path = "../../../tests/support/docker.rs"]
mod docker;

use std::path::Path;
use std::process::Command;

fn setup(root: &Path, prefix: &Path) -> std::process::Output {
    setup_with(root, prefix, &["--no-systemd", "--no-container"])
}

fn setup_with(root: &Path, prefix: &Path, args: &[&str]) -> std::process::Output {
    let repo = Path::new(env!("CARGO_MANIFEST_DIR")).join("../..");
    let bin = Path::new(env!("CARGO_BIN_EXE_monitor"))
        .parent()
        .unwrap()
        .to_path_buf();
    for b in ["booking", "checker", "run-container"] {
        if !bin.join(b).exists() {
            let cargo = std::env::var("CARGO").unwrap_or_else(|_| "cargo".into());
            assert!(Command::new(cargo)
                .args(["build", "--bins"])
                .current_dir(&repo)
                .status()
                .unwrap()
                .success());
        }
    }
    Command::new("bash")
        .arg(repo.join("scripts/setup.sh"))
        .arg("--root")
        .arg(root)
        .arg("--prefix")
        .arg(prefix)
        .arg("--bin-dir")
        .arg(&bin)
        .args(args)
        .env("TZ", "Asia/Taipei")
        .output()
        .unwrap()
}

/// The live files the test edits by hand, as bytes.
fn edited_files(root: &Path) -> Vec<Vec<u8>> {
    [
        "cfg/host_deploy.yaml",
        "cfg/capability_config.yaml",
        "jobs/booking.csv",
    ]
    .iter()
    .map(|f| std::fs::read(root.join(f)).unwrap())
    .collect()
}

#[test]
fn setup_creates_the_live_files_once_and_never_overwrites_them() {
    let root = tempfile::tempdir().unwrap();
    let prefix = tempfile::tempdir().unwrap();
    let out = setup(root.path(), prefix.path());
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(out.status.success(), "{err}");
    for f in [
        "cfg/host_deploy.yaml",
        "cfg/capability_config.yaml",
        "cfg/users_config.yaml",
        "cfg/templates/backup.yaml",
        "jobs/booking.csv",
        "jobs/using.csv",
        "jobs/used.csv",
        "jobs/monitor_exec",
        "jobs/monitor.log",
        "jobs/.lock",
        "cfg/installation-id",
    ] {
        assert!(root.path().join(f).exists(), "{f} missing");
    }
    let id = std::fs::read_to_string(root.path().join("cfg/installation-id")).unwrap();
    assert_eq!(id.len(), 17, "16 hex digits and a newline: {id:?}");
    assert_eq!(
        hostinfo::Root::at(root.path()).installation_id().unwrap(),
        id.trim(),
        "the tools read the id setup wrote"
    );
    let host = std::fs::read_to_string(root.path().join("cfg/host_deploy.yaml")).unwrap();
    assert_eq!(host.matches("\ntimezone: ").count(), 1, "{host}");
    let mode = std::os::unix::fs::PermissionsExt::mode(
        &std::fs::metadata(root.path().join("cfg/users_config.yaml"))
            .unwrap()
            .permissions(),
    );
    assert_eq!(mode & 0o777, 0o600);
    for b in ["booking", "checker", "monitor", "run-container"] {
        assert!(
            prefix.path().join("bin").join(b).exists(),
            "{b} not installed"
        );
    }
    assert!(prefix.path().join("share/doc/aivc/operations.md").exists());
    for b in ["booking", "checker", "monitor", "run-container"] {
        let man =
            std::fs::read_to_string(prefix.path().join(format!("share/man/man1/{b}.1"))).unwrap();
        assert!(man.contains(&format!(".TH {b} 1")), "{b}.1 is a man page");
        let completion = std::fs::read_to_string(
            prefix
                .path()
                .join(format!("share/bash-completion/completions/{b}")),
        )
        .unwrap();
        assert!(
            completion.contains("complete -F"),
            "{b} has bash completion"
        );
    }
    assert!(err.contains("systemctl daemon-reload && systemctl enable --now aivc-monitor.timer aivc-monitor.path aivc-notices.timer aivc-notices.path aivc-usage.timer"), "says how to install the units: {err}");
    // The notices' login script, for run-container to mount in each container.
    let script = root.path().join("cfg/container/aivc-notices.sh");
    assert_eq!(
        std::fs::read(&script).unwrap(),
        std::fs::read(
            Path::new(env!("CARGO_MANIFEST_DIR")).join("../../scripts/container/aivc-notices.sh")
        )
        .unwrap()
    );

    // The admin edits the live files; a second run (an update) keeps every byte.
    let cap = root.path().join("cfg/capability_config.yaml");
    std::fs::write(
        &cap,
        std::fs::read_to_string(&cap)
            .unwrap()
            .replace("  -\n", "  - alice\n"),
    )
    .unwrap();
    let booked = "2026-11-23 09:00:00,2026-11-23 10:00:00,alice,1.0,1,[],10001,,\n";
    let booking = root.path().join("jobs/booking.csv");
    std::fs::write(
        &booking,
        format!("{}{booked}", std::fs::read_to_string(&booking).unwrap()),
    )
    .unwrap();
    let before = edited_files(root.path());
    let again = setup(root.path(), prefix.path());
    assert!(
        again.status.success(),
        "{}",
        String::from_utf8_lossy(&again.stderr)
    );
    let after = edited_files(root.path());
    assert_eq!(before, after);
    assert_eq!(
        std::fs::read_to_string(root.path().join("cfg/installation-id")).unwrap(),
        id,
        "the installation keeps its id"
    );
    assert!(
        !String::from_utf8_lossy(&again.stderr).contains("created"),
        "nothing is created twice"
    );
}

/// Regression: setup force-removed any container named `aivc-booking` with the booking
/// role, whichever installation it served.
#[test]
fn setup_leaves_a_booking_container_of_another_installation_alone() {
    let image = docker::standin_image();
    let name = docker::unique_name("aivc-booking-other");
    let made = Command::new("docker")
        .args(["run", "-d", "--name", &name])
        .args(["--label", "aivc.role=booking-container"])
        .args(["--label", "aivc.installation=0123456789abcdef"])
        .arg(image)
        .output()
        .unwrap();
    assert!(
        made.status.success(),
        "{}",
        String::from_utf8_lossy(&made.stderr)
    );
    let id = String::from_utf8_lossy(&made.stdout).trim().to_string();
    let _cleanup = docker::Cleanup::id(&id);
    let tag = format!("aivc-test/booking:{}", docker::unique_name("refused"));
    let _image = docker::ImageCleanup(tag.clone());

    let root = tempfile::tempdir().unwrap();
    let prefix = tempfile::tempdir().unwrap();
    let out = setup_with(
        root.path(),
        prefix.path(),
        &[
            "--no-systemd",
            "--booking-port",
            &docker::free_port().to_string(),
            "--booking-name",
            &name,
            "--booking-image",
            &tag,
        ],
    );
    let err = String::from_utf8_lossy(&out.stderr);
    assert_eq!(out.status.code(), Some(1), "{err}");
    assert!(
        err.contains(&format!(
            "a container named {name} exists and is not this installation's booking container"
        )),
        "{err}"
    );
    let c = docker::inspect(&name).expect("the other container is still there");
    assert_eq!(c["Id"], id.as_str(), "and it is the same container");
    assert_eq!(c["State"]["Running"], true);
    let built = Command::new("docker")
        .args(["image", "inspect", &tag])
        .output()
        .unwrap();
    assert!(!built.status.success(), "nothing was built before refusing");
}

/// Regression: `setup.sh --help` printed the first lines of the script's code after the help.
#[test]
fn setup_help_prints_only_the_help() {
    let script = Path::new(env!("CARGO_MANIFEST_DIR")).join("../../scripts/setup.sh");
    let out = Command::new(&script).arg("--help").output().unwrap();
    assert_eq!(out.status.code(), Some(0));
    let help = String::from_utf8(out.stdout).unwrap();
    assert!(
        help.starts_with("Install or update an AIVC booking host"),
        "{help}"
    );
    assert!(help.contains("--no-container"), "{help}");
    for code in ["set -euo", "repo=", "$(", "#"] {
        assert!(!help.contains(code), "`{code}` in the help:\n{help}");
    }
}
