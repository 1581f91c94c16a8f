//! The booking container as students meet it: setup.sh builds it (from a Debian base made
//! with debootstrap) and starts it with cfg/ and jobs/ mounted; `ssh booking@host` runs only
//! `booking`, whose writes land in the host's jobs/; nothing typed reaches a shell. The
//! container and its image get names of this run's own, and only they are removed.

#[path = "../../../tests/support/docker.rs"]
mod docker;

#[path = "../../../tests/support/process.rs"]
mod process;

use std::path::Path;
use std::process::{Command, Output};

fn ssh(port: u16, password: &str, args: &[&str], stdin: &str) -> Output {
    let mut cmd = Command::new("sshpass");
    cmd.args([
        "-p",
        password,
        "ssh",
        "-o",
        "StrictHostKeyChecking=no",
        "-o",
        "UserKnownHostsFile=/dev/null",
        "-o",
        "LogLevel=ERROR",
    ])
    .args(["-p", &port.to_string(), "booking@127.0.0.1", "--"])
    .args(args);
    process::run_with_input(cmd, stdin.as_bytes())
}

/// The booking container's name and image tag for this run.
struct Names {
    container: String,
    image: String,
}

/// scripts/setup.sh for this test: no systemd, the container on `port`, built on `base`.
fn setup(
    repo: &Path,
    root: &Path,
    prefix: &Path,
    bin: &Path,
    port: u16,
    base: &str,
    names: &Names,
) -> Output {
    Command::new("bash")
        .arg(repo.join("scripts/setup.sh"))
        .arg("--root")
        .arg(root)
        .arg("--prefix")
        .arg(prefix)
        .arg("--bin-dir")
        .arg(bin)
        .args([
            "--no-systemd",
            "--booking-port",
            &port.to_string(),
            "--base-image",
            base,
            "--booking-name",
            &names.container,
            "--booking-image",
            &names.image,
        ])
        .output()
        .unwrap()
}

#[test]
fn students_reach_only_booking_and_its_writes_land_in_the_hosts_jobs() {
    let base = docker::debian_base();
    let root = tempfile::tempdir().unwrap();
    // The id setup labels the container with: made first, so the guard knows it.
    std::fs::create_dir(root.path().join("cfg")).unwrap();
    let installation = hostinfo::Root::at(root.path()).installation_id().unwrap();
    let names = Names {
        container: docker::unique_name("aivc-booking-test"),
        image: format!("aivc-test/booking:{}", docker::unique_name("run")),
    };
    let _image = docker::ImageCleanup(names.image.clone());
    let _cleanup = docker::InstallationCleanup(installation.clone());
    let prefix = tempfile::tempdir().unwrap();
    let bin = Path::new(env!("CARGO_BIN_EXE_monitor")).parent().unwrap();
    assert!(
        bin.join("booking").exists(),
        "build the workspace first (cargo test --workspace does)"
    );
    let port = docker::free_port();
    let repo = Path::new(env!("CARGO_MANIFEST_DIR")).join("../..");
    let out = setup(&repo, root.path(), prefix.path(), bin, port, base, &names);
    assert!(
        out.status.success(),
        "setup.sh: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    // One user may book.
    let cap = root.path().join("cfg/capability_config.yaml");
    std::fs::write(
        &cap,
        std::fs::read_to_string(&cap)
            .unwrap()
            .replace("  -\n", "  - alice\n"),
    )
    .unwrap();
    let password = std::fs::read_to_string(root.path().join("cfg/booking-ssh/password"))
        .unwrap()
        .trim()
        .to_string();

    // sshd takes a moment to come up.
    let mut listing = ssh(port, &password, &["-ls"], "");
    for _ in 0..50 {
        if listing.status.success() {
            break;
        }
        std::thread::sleep(std::time::Duration::from_millis(200));
        listing = ssh(port, &password, &["-ls"], "");
    }
    assert!(
        listing.status.success(),
        "{}",
        String::from_utf8_lossy(&listing.stderr)
    );
    assert!(String::from_utf8_lossy(&listing.stdout).contains("nothing booked"));

    // A booking through ssh lands in the host's jobs/booking.csv, and the user's entry in cfg/.
    let booked = ssh(
        port,
        &password,
        &[
            "--yes",
            "--password-stdin",
            "--user-id",
            "alice",
            "--cpus",
            "1",
            "--memory",
            "1",
            "--start",
            "1-day",
            "--end",
            "1-day",
        ],
        "alice's pass\n",
    );
    assert!(
        booked.status.success(),
        "{}",
        String::from_utf8_lossy(&booked.stderr)
    );
    let rows = std::fs::read_to_string(root.path().join("jobs/booking.csv")).unwrap();
    assert!(
        rows.lines().any(|l| l.contains(",alice,1.0,1,[],")),
        "{rows}"
    );
    assert!(
        std::fs::read_to_string(root.path().join("cfg/users_config.yaml"))
            .unwrap()
            .contains("alice:")
    );

    // Nothing typed reaches a shell, and the root cannot be moved.
    for attack in [
        &["id"][..],
        &["$(id)"][..],
        &["-ls;", "id"][..],
        &["--root", "/", "-ls"][..],
    ] {
        let out = ssh(port, &password, attack, "");
        let all = format!(
            "{}{}",
            String::from_utf8_lossy(&out.stdout),
            String::from_utf8_lossy(&out.stderr)
        );
        assert!(!out.status.success(), "{attack:?} succeeded: {all}");
        assert!(!all.contains("uid="), "{attack:?} ran a command: {all}");
    }
    // A wrong shared password does not log in.
    let out = ssh(port, "wrong", &["-ls"], "");
    assert!(!out.status.success());

    // Running setup again (an update) rebuilds and restarts the container, keeping the files.
    let first = docker::inspect(&names.container).unwrap();
    assert_eq!(
        first["Config"]["Labels"]["aivc.installation"],
        installation.as_str()
    );
    let again = setup(&repo, root.path(), prefix.path(), bin, port, base, &names);
    assert!(
        again.status.success(),
        "{}",
        String::from_utf8_lossy(&again.stderr)
    );
    assert_eq!(
        std::fs::read_to_string(root.path().join("jobs/booking.csv")).unwrap(),
        rows
    );
    let second = docker::inspect(&names.container).unwrap();
    assert_ne!(second["Id"], first["Id"], "the container was replaced");
}
