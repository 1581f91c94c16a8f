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

/// The flags that log alice in without a terminal (her password on stdin).
const LOGIN: [&str; 4] = ["--yes", "--password-stdin", "--user-id", "alice"];

/// The start and end of alice's one booking in jobs/booking.csv, if she has one.
fn alice_booking(root: &Path) -> Option<(chrono::NaiveDateTime, chrono::NaiveDateTime)> {
    let rows = std::fs::read_to_string(root.join("jobs/booking.csv")).unwrap();
    let row = rows
        .lines()
        .find(|l| l.split(',').nth(2) == Some("alice"))?;
    let at = |i: usize| {
        chrono::NaiveDateTime::parse_from_str(row.split(',').nth(i).unwrap(), "%Y-%m-%d %H:%M:%S")
            .unwrap()
    };
    Some((at(0), at(1)))
}

/// The words after `--` of each `ssh ... -- ...` example in docs/user-guide.md's code
/// blocks, as the student's shell passes them to ssh: lines ending in `\` continued, quotes
/// (`'…'`, `"…"`; the guide needs no escapes) removed, a trailing `# comment` dropped.
fn guide_examples() -> Vec<Vec<String>> {
    let guide = std::fs::read_to_string(
        Path::new(env!("CARGO_MANIFEST_DIR")).join("../../docs/user-guide.md"),
    )
    .unwrap();
    let joined = guide.replace("\\\n", " ");
    let mut examples = Vec::new();
    for line in joined.lines().filter(|l| l.starts_with("    ")) {
        let Some((_, rest)) = line.trim().split_once(" -- ") else {
            continue;
        };
        if !line.trim().starts_with("ssh ") && !line.contains("| ssh ") {
            continue;
        }
        let mut words = Vec::new();
        let (mut word, mut quote, mut any) = (String::new(), None, false);
        for c in rest.chars() {
            match (quote, c) {
                (None, '#') if !any => break,
                (None, '\'' | '"') => (quote, any) = (Some(c), true),
                (Some(q), c) if c == q => quote = None,
                (None, ' ') => {
                    if any {
                        words.push(std::mem::take(&mut word));
                    }
                    any = false;
                }
                (_, c) => {
                    word.push(c);
                    any = true;
                }
            }
        }
        if any {
            words.push(word);
        }
        examples.push(words);
    }
    examples
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
    let booked_rows = std::fs::read_to_string(root.path().join("jobs/booking.csv")).unwrap();
    assert!(
        booked_rows.lines().any(|l| l.contains(",alice,1.0,1,[],")),
        "{booked_rows}"
    );
    assert!(
        std::fs::read_to_string(root.path().join("cfg/users_config.yaml"))
            .unwrap()
            .contains("alice:")
    );

    let login = LOGIN;
    // Nothing typed reaches a shell, and the root cannot be moved: each word reaches booking
    // as the text it is (the error names it), or the line is refused as a whole.
    for (attack, named) in [
        (&["id"][..], "'id'"),
        (&["$(id)"][..], "'$(id)'"),
        (&["`id`"][..], "'`id`'"),
        (&["-ls;", "id"][..], "unexpected argument '-l'"),
        (&["-ls", "|", "id"][..], "'|'"),
        (&["-ls", "&&", "id"][..], "'&&'"),
        (&["-ls", ">", "/aivc/jobs/planted"][..], "'>'"),
        (&["/usr/local/bin/boo*"][..], "'/usr/local/bin/boo*'"),
        (
            &["--root", "/", "-ls"][..],
            "--root cannot be given over ssh",
        ),
        (
            &["-ls", "'--root=/'"][..],
            "--root cannot be given over ssh",
        ),
        (&["--cancel", "'2026"][..], "a quote is not closed"),
        (&["-ls", "#", "id"][..], "shell comment"),
    ] {
        let out = ssh(port, &password, attack, "");
        let all = format!(
            "{}{}",
            String::from_utf8_lossy(&out.stdout),
            String::from_utf8_lossy(&out.stderr)
        );
        assert!(!out.status.success(), "{attack:?} succeeded: {all}");
        assert!(!all.contains("uid="), "{attack:?} ran a command: {all}");
        assert!(all.contains(named), "{attack:?} should name {named}: {all}");
    }
    assert!(
        !root.path().join("jobs/planted").exists(),
        "a redirection ran"
    );
    // Quoted, shell characters are one value of booking's, read by booking's own rules.
    let out = ssh(
        port,
        &password,
        &[&login[..], &["--cancel", "'$(id) `id` *'"]].concat(),
        "alice's pass\n",
    );
    let err = String::from_utf8_lossy(&out.stderr);
    assert_eq!(out.status.code(), Some(2), "{err}");
    assert!(
        err.contains("$(id) `id` *") && !err.contains("uid="),
        "{err}"
    );

    // The user guide's --end-at and --cancel examples, as a student's shell hands them to
    // ssh (which joins them with spaces, losing the quotes), with the guide's times moved
    // onto alice's booking.
    let (start, end) = alice_booking(root.path()).expect("alice's booking");
    let guide = guide_examples();
    let (end_at, guide_end) = guide
        .iter()
        .find_map(|w| (w[0] == "--end-at").then(|| (w.clone(), w[1].clone())))
        .expect("docs/user-guide.md shows --end-at over ssh");
    let (cancel, guide_start) = guide
        .iter()
        .find_map(|w| (w[0] == "--cancel").then(|| (w.clone(), w[1].clone())))
        .expect("docs/user-guide.md shows --cancel over ssh");
    let shorter = start + chrono::Duration::minutes(60);
    let moved = |words: &[String], from: &str, to: chrono::NaiveDateTime| -> Vec<String> {
        let mut w: Vec<String> = words
            .iter()
            .map(|w| w.replace(from, &to.format("%Y-%m-%d %H:%M").to_string()))
            .collect();
        w.extend(login.iter().map(|s| s.to_string()));
        w
    };
    let words = moved(&end_at, &guide_end, shorter);
    let words: Vec<&str> = words.iter().map(String::as_str).collect();
    let out = ssh(port, &password, &words, "alice's pass\n");
    assert!(
        out.status.success(),
        "{words:?}: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    assert_eq!(
        alice_booking(root.path()),
        Some((start, shorter)),
        "was {end}"
    );
    let words = moved(&cancel, &guide_start, start);
    let words: Vec<&str> = words.iter().map(String::as_str).collect();
    let out = ssh(port, &password, &words, "alice's pass\n");
    assert!(
        out.status.success(),
        "{words:?}: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    assert_eq!(alice_booking(root.path()), None, "cancelled");
    // A student who quotes twice (the whole command in one word, the time quoted inside),
    // and the spelling with spaces only.
    let spaced = start.format("%Y %m %d %H %M").to_string();
    for when in [format!("'{spaced}'"), spaced.clone()] {
        let book = format!(
            "{} --cpus 1 --memory 1 --start \"{}\" --end 1-day",
            login.join(" "),
            start.format("%Y-%m-%d %H:%M")
        );
        let out = ssh(port, &password, &[&book], "alice's pass\n");
        assert!(
            out.status.success(),
            "{}",
            String::from_utf8_lossy(&out.stderr)
        );
        assert!(alice_booking(root.path()).is_some());
        let line = format!("{} --cancel {when}", login.join(" "));
        let out = ssh(port, &password, &[&line], "alice's pass\n");
        assert!(
            out.status.success(),
            "{line}: {}",
            String::from_utf8_lossy(&out.stderr)
        );
        assert_eq!(alice_booking(root.path()), None, "{line}");
    }
    // The guide's example of a value with spaces: quoted twice, it arrives as one value.
    let extra = guide
        .iter()
        .find(|w| w.iter().any(|w| w == "--extra-command"))
        .expect("docs/user-guide.md shows --extra-command over ssh");
    let words: Vec<String> = extra.iter().map(|w| w.replace("<id>", "alice")).collect();
    let words: Vec<&str> = words.iter().map(String::as_str).collect();
    let out = ssh(port, &password, &words, "alice's pass\n");
    assert!(
        out.status.success(),
        "{words:?}: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    let rows = std::fs::read_to_string(root.path().join("jobs/booking.csv")).unwrap();
    assert!(
        rows.lines()
            .any(|l| l.contains(",alice,") && l.ends_with(",python train.py")),
        "{rows}"
    );
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
