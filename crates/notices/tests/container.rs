//! The container channel writes only through userfs: a `.aivc` the student replaced with a
//! link or a file gets nothing written anywhere, a FIFO at a notice's name is refused
//! without blocking, the folder keeps the newest 100 files, and the login script shows
//! each notice once, newest last.

mod common;

use std::os::unix::fs::symlink;
use std::path::Path;
use std::process::Command;
use std::time::Duration;

use common::{alice, now, Lab};
use hostinfo::notices::Kind;

/// Every path below `dir`, sorted.
fn listing(dir: &Path) -> Vec<String> {
    let mut out = Vec::new();
    let mut stack = vec![dir.to_path_buf()];
    while let Some(d) = stack.pop() {
        for e in std::fs::read_dir(&d).unwrap() {
            let p = e.unwrap().path();
            out.push(p.strip_prefix(dir).unwrap().display().to_string());
            if p.is_dir() && !p.is_symlink() {
                stack.push(p);
            }
        }
    }
    out.sort();
    out
}

/// Runs a delivery on a thread and fails the test if it does not end within 20 s (a
/// blocked open would otherwise hang the test run).
fn deliver_within_20_s(lab: &Lab) -> notices::Report {
    let root = lab.root.clone();
    let (tx, rx) = std::sync::mpsc::channel();
    std::thread::spawn(move || tx.send(notices::deliver(&root, now()).unwrap()));
    rx.recv_timeout(Duration::from_secs(20))
        .expect("the delivery blocked: it must never wait on a user's file")
}

#[test]
fn a_symlinked_aivc_folder_gets_nothing_written_inside_or_outside() {
    let lab = Lab::new();
    let outside = tempfile::tempdir().unwrap();
    std::fs::create_dir_all(lab.work("alice")).unwrap();
    symlink(outside.path(), lab.work("alice").join(".aivc")).unwrap();
    lab.post(alice(), Kind::BookingMade, "alice booked.");

    let report = deliver_within_20_s(&lab);
    assert_eq!((report.delivered, report.pending), (0, 1), "{report:?}");
    assert!(
        listing(outside.path()).is_empty(),
        "{:?}",
        listing(outside.path())
    );
    assert_eq!(listing(&lab.work("alice")), [".aivc"]);
    let log = lab.log();
    assert!(
        log.contains("NoticeWarning, notices for alice's container not delivered: the notices folder was refused: ")
            && log.contains("symbolic link"),
        "{log}"
    );
}

#[test]
fn an_aivc_that_is_a_file_or_a_link_below_it_gets_nothing_written() {
    let lab = Lab::new();
    let outside = tempfile::tempdir().unwrap();
    std::fs::create_dir_all(lab.work("alice").join(".aivc")).unwrap();
    symlink(outside.path(), lab.work("alice").join(".aivc/notices")).unwrap();
    lab.post(alice(), Kind::BookingMade, "alice booked.");
    let report = deliver_within_20_s(&lab);
    assert_eq!(report.pending, 1, "{report:?}");
    assert!(listing(outside.path()).is_empty());

    std::fs::remove_file(lab.work("alice").join(".aivc/notices")).unwrap();
    std::fs::remove_dir(lab.work("alice").join(".aivc")).unwrap();
    std::fs::write(lab.work("alice").join(".aivc"), "mine").unwrap();
    let report = deliver_within_20_s(&lab);
    assert_eq!(report.pending, 1, "{report:?}");
    assert_eq!(
        std::fs::read_to_string(lab.work("alice").join(".aivc")).unwrap(),
        "mine"
    );
}

#[test]
fn a_fifo_or_a_link_at_a_notices_name_is_refused_without_blocking_and_left_alone() {
    let lab = Lab::new();
    let fifo = lab.post(alice(), Kind::BookingMade, "first");
    let link = lab.post(alice(), Kind::BookingChanged, "second");
    let dir = lab.work("alice").join(".aivc/notices");
    std::fs::create_dir_all(&dir).unwrap();
    let fifo_path = dir.join(format!("{}.txt", fifo.id));
    let made = Command::new("mkfifo").arg(&fifo_path).status().unwrap();
    assert!(made.success());
    let target = lab.path().join("target-of-link");
    symlink(&target, dir.join(format!("{}.txt", link.id))).unwrap();

    let report = deliver_within_20_s(&lab);
    assert_eq!((report.delivered, report.pending), (0, 2), "{report:?}");
    use std::os::unix::fs::FileTypeExt;
    assert!(std::fs::symlink_metadata(&fifo_path)
        .unwrap()
        .file_type()
        .is_fifo());
    assert!(!target.exists(), "the link was not followed");
    assert!(lab
        .log()
        .contains("something other than a plain file stands at the notice's name"));
}

#[test]
fn a_file_already_there_is_taken_as_delivered_and_not_rewritten() {
    let lab = Lab::new();
    let n = lab.post(alice(), Kind::BookingMade, "alice booked.");
    let dir = lab.work("alice").join(".aivc/notices");
    std::fs::create_dir_all(&dir).unwrap();
    std::fs::write(
        dir.join(format!("{}.txt", n.id)),
        "written before a crash\n",
    )
    .unwrap();
    std::fs::write(dir.join(format!(".{}.tmp", n.id)), "half").unwrap();
    let report = deliver_within_20_s(&lab);
    assert_eq!(report.delivered, 1);
    assert_eq!(
        std::fs::read_to_string(dir.join(format!("{}.txt", n.id))).unwrap(),
        "written before a crash\n"
    );
}

#[test]
fn the_folder_keeps_the_newest_hundred_notices() {
    let lab = Lab::new();
    let posted: Vec<_> = (0..105)
        .map(|i| {
            // Two minutes apart: a student is posted at most 30 notices an hour.
            let t = common::at("2026-11-21 08:00:00") + chrono::Duration::minutes(2 * i);
            lab.post_at(t, alice(), Kind::EndingSoon, &format!("notice {i}"))
        })
        .collect();
    let report = deliver_within_20_s(&lab);
    assert_eq!(report.delivered, 105);
    let want: Vec<String> = posted[5..]
        .iter()
        .map(|n| format!("{}.txt", n.id))
        .collect();
    assert_eq!(lab.container_files("alice"), want);
}

/// Sources the login script in an interactive POSIX shell as a login would, with the
/// notices folder and HOME of the test.
fn login(lab: &Lab, home: &Path) -> String {
    let script =
        Path::new(env!("CARGO_MANIFEST_DIR")).join("../../scripts/container/aivc-notices.sh");
    let out = Command::new("sh")
        .arg("-i")
        .arg("-c")
        .arg(format!(". '{}'", script.display()))
        .env("HOME", home)
        .env("AIVC_NOTICES_DIR", lab.work("alice").join(".aivc/notices"))
        .env("PS1", "")
        .stdin(std::process::Stdio::null())
        .output()
        .unwrap();
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    String::from_utf8(out.stdout).unwrap()
}

#[test]
fn the_login_script_shows_each_notice_once_newest_last() {
    let lab = Lab::new();
    let home = tempfile::tempdir().unwrap();
    lab.post_at(
        common::at("2026-11-24 09:00:00"),
        alice(),
        Kind::BookingMade,
        "alice booked 1 GPU from 10:00.",
    );
    lab.post(
        alice(),
        Kind::Started,
        "alice's container runs on port 10001.",
    );
    deliver_within_20_s(&lab);

    assert_eq!(
        login(&lab, home.path()),
        format!(
            "\nAIVC notices (newest last; all of them are in {}):\n  2026-11-24 09:00  Your booking is made: alice booked 1 GPU from 10:00.\n  2026-11-24 10:00  Your container is running: alice's container runs on port 10001.\n\n",
            lab.work("alice").join(".aivc/notices").display()
        )
    );
    assert_eq!(login(&lab, home.path()), "", "shown once");

    lab.post(
        alice(),
        Kind::EndingSoon,
        "alice's booking ends in 10 minutes.",
    );
    deliver_within_20_s(&lab);
    let third = login(&lab, home.path());
    assert!(
        third.contains("Your booking ends soon: alice's booking ends in 10 minutes.")
            && !third.contains("booked 1 GPU"),
        "{third}"
    );
}
