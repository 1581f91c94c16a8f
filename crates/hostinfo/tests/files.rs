//! The files on disk: atomic rewrites with the right mode, append-only history, the
//! request queue, the log, and the lock shared between processes.

use std::os::unix::fs::PermissionsExt;
use std::process::{Child, Command};
use std::time::{Duration, Instant};

use hostinfo::exec::Request;
use hostinfo::lock::{ExclusiveLock, SharedLock};
use hostinfo::log::{LogLine, Sign};
use hostinfo::schedule::{self, GpuSet, Row};
use hostinfo::{Error, LiveTable, Root, Table};

fn t(text: &str) -> chrono::NaiveDateTime {
    chrono::NaiveDateTime::parse_from_str(text, "%Y-%m-%d %H:%M").unwrap()
}

fn row(user: &str) -> Row {
    Row {
        start: t("2026-11-23 09:00"),
        end: t("2026-11-23 11:00"),
        user_id: user.into(),
        cpus: 2.0,
        memory: 8,
        gpus: GpuSet::new(vec![1, 0]),
        forward_port: 10001,
        image: None,
        extra_command: Some("echo a, b".into()),
    }
}

fn empty_root() -> (tempfile::TempDir, Root) {
    let dir = tempfile::tempdir().unwrap();
    std::fs::create_dir_all(dir.path().join("jobs")).unwrap();
    for t in ["booking.csv", "using.csv", "used.csv"] {
        std::fs::write(dir.path().join("jobs").join(t), schedule::HEADER_LINE).unwrap();
    }
    let root = Root::at(dir.path());
    (dir, root)
}

#[test]
fn a_rewrite_is_mode_0644_and_leaves_no_temp_file() {
    let (_dir, root) = empty_root();
    let lock = root.lock_exclusive("test").unwrap();
    root.write_schedule(LiveTable::Booking, &[row("u1")], &lock)
        .unwrap();
    let path = root.schedule_path(Table::Booking);
    assert_eq!(
        std::fs::metadata(&path).unwrap().permissions().mode() & 0o777,
        0o644
    );
    let names: Vec<_> = std::fs::read_dir(root.jobs_dir())
        .unwrap()
        .map(|e| e.unwrap().file_name().into_string().unwrap())
        .collect();
    assert!(names.iter().all(|n| !n.ends_with(".tmp")), "{names:?}");
    assert_eq!(
        root.read_schedule(Table::Booking, &lock).unwrap().rows,
        [row("u1")]
    );
}

#[test]
fn appending_to_history_never_glues_rows_to_a_line_without_newline() {
    let (_dir, root) = empty_root();
    let path = root.schedule_path(Table::Used);
    let mut text = String::from(schedule::HEADER_LINE);
    text.push_str("2026-11-01 09:00:00,2026-11-01 10:00:00,u0,1.0,1,[],10001,,");
    std::fs::write(&path, &text).unwrap();
    let lock = root.lock_exclusive("test").unwrap();
    root.append_used(&[row("u1")], &lock).unwrap();
    let rows = root.read_schedule(Table::Used, &lock).unwrap().rows;
    assert_eq!(
        rows.iter().map(|r| r.user_id.as_str()).collect::<Vec<_>>(),
        ["u0", "u1"]
    );
}

#[test]
fn requests_are_dropped_once_acted_on() {
    let (_dir, root) = empty_root();
    let lock = root.lock_exclusive("test").unwrap();
    assert!(root.read_requests(&lock).unwrap().is_empty());
    root.push_request(&Request::Now, &lock).unwrap();
    root.push_request(&Request::Restart("u1".into()), &lock)
        .unwrap();
    let seen = root.read_requests(&lock).unwrap();
    assert_eq!(seen, [Request::Now, Request::Restart("u1".into())]);
    root.drop_requests(seen.len(), &lock).unwrap();
    assert!(root.read_requests(&lock).unwrap().is_empty());
}

#[test]
fn a_request_that_arrives_during_a_tick_outlives_the_tick() {
    let (_dir, root) = empty_root();
    let lock = root.lock_exclusive("test").unwrap();
    root.push_request(&Request::Now, &lock).unwrap();
    root.push_request(&Request::Restart("u1".into()), &lock)
        .unwrap();
    let seen = root.read_requests(&lock).unwrap();
    // While the tick works without the lock, a booking adds one more.
    root.push_request(&Request::Now, &lock).unwrap();
    root.drop_requests(seen.len(), &lock).unwrap();
    assert_eq!(root.read_requests(&lock).unwrap(), [Request::Now]);
}

#[test]
fn log_lines_are_appended_and_parse_back() {
    let (_dir, root) = empty_root();
    let a = LogLine::info(
        t("2026-11-23 09:00"),
        "u1 is successfully run the container.",
    );
    let b = LogLine::warning(
        t("2026-11-23 09:30"),
        Sign::SpaceWarning,
        "u1 is over-use the work_dir 10GB, and backup_dir 2GB.",
    );
    root.append_log(&a).unwrap();
    root.append_log(&b).unwrap();
    let text = std::fs::read_to_string(root.monitor_log_path()).unwrap();
    let parsed: Vec<_> = text.lines().map(|l| LogLine::parse(l).unwrap()).collect();
    assert_eq!(parsed, [a, b]);
}

/// Starts `flock -x <lock> sh -c 'touch held; sleep S; touch released'` and waits until it
/// holds the lock. `flock(1)` and std's `File::lock` both use flock(2), as the booking
/// container and the host do across their shared directory mount.
fn hold_lock_elsewhere(root: &Root, seconds: &str) -> Child {
    let jobs = root.jobs_dir();
    let script = format!(
        "touch '{0}/held'; sleep {seconds}; touch '{0}/released'",
        jobs.display()
    );
    let child = Command::new("flock")
        .arg("-x")
        .arg(root.lock_path())
        .args(["sh", "-c", &script])
        .spawn()
        .expect("flock(1) from util-linux is needed for this test");
    let deadline = Instant::now() + Duration::from_secs(10);
    while !jobs.join("held").exists() {
        assert!(Instant::now() < deadline, "the helper never took the lock");
        std::thread::sleep(Duration::from_millis(10));
    }
    child
}

#[test]
fn a_second_process_waits_for_the_lock_then_proceeds() {
    let (_dir, root) = empty_root();
    let mut holder = hold_lock_elsewhere(&root, "1");
    let lock = ExclusiveLock::acquire(&root.lock_path(), "test", Duration::from_secs(20)).unwrap();
    // The holder writes `released` before it lets go: seeing it proves we waited.
    assert!(root.jobs_dir().join("released").exists());
    drop(lock);
    holder.wait().unwrap();
}

#[test]
fn readers_wait_for_a_writer_too() {
    let (_dir, root) = empty_root();
    let mut holder = hold_lock_elsewhere(&root, "1");
    let _shared = SharedLock::acquire(&root.lock_path(), Duration::from_secs(20)).unwrap();
    assert!(root.jobs_dir().join("released").exists());
    holder.wait().unwrap();
}

#[test]
fn a_lock_held_too_long_gives_a_clear_error_naming_the_file() {
    let (_dir, root) = empty_root();
    // Leave a note as an earlier exclusive holder would have.
    drop(ExclusiveLock::acquire(&root.lock_path(), "monitor", Duration::from_secs(1)).unwrap());
    let mut holder = hold_lock_elsewhere(&root, "2");
    let err =
        ExclusiveLock::acquire(&root.lock_path(), "test", Duration::from_millis(300)).unwrap_err();
    assert!(matches!(err, Error::LockTimeout { .. }), "{err:?}");
    let text = err.to_string();
    assert!(
        text.contains("jobs/.lock: lock not taken within 0.3 s"),
        "{text}"
    );
    assert!(text.contains("(monitor)"), "{text}");
    assert!(
        !root.jobs_dir().join("released").exists(),
        "the holder was still holding"
    );
    holder.wait().unwrap();
}

#[test]
fn shared_holders_do_not_block_each_other() {
    let (_dir, root) = empty_root();
    let a = SharedLock::acquire(&root.lock_path(), Duration::from_secs(1)).unwrap();
    let b = SharedLock::acquire(&root.lock_path(), Duration::ZERO).unwrap();
    let exclusive = ExclusiveLock::acquire(&root.lock_path(), "test", Duration::ZERO);
    assert!(matches!(exclusive, Err(Error::LockTimeout { .. })));
    drop((a, b));
    ExclusiveLock::acquire(&root.lock_path(), "test", Duration::ZERO).unwrap();
}

#[test]
fn a_missing_schedule_file_says_how_to_create_it() {
    let dir = tempfile::tempdir().unwrap();
    std::fs::create_dir(dir.path().join("jobs")).unwrap();
    let root = Root::at(dir.path());
    let lock = root.lock_shared().unwrap();
    let err = root.read_schedule(Table::Booking, &lock).unwrap_err();
    assert!(matches!(err, Error::Missing { .. }));
    assert!(
        err.to_string()
            .contains("booking.csv: file is missing; run scripts/setup.sh"),
        "{err}"
    );
}
