//! The files on disk: atomic rewrites with the right mode, append-only history, the
//! request queue, the log, and the lock shared between processes.

use std::os::unix::fs::PermissionsExt;
use std::process::{Child, Command};
use std::time::{Duration, Instant};

use hostinfo::exec::Request;
use hostinfo::lock::SharedLock;
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
        node: None,
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
    let lock = root
        .lock_exclusive_with("test", Duration::from_secs(20), &mut |_| {})
        .unwrap();
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
    drop(
        root.lock_exclusive_with("monitor", Duration::from_secs(1), &mut |_| {})
            .unwrap(),
    );
    let mut holder = hold_lock_elsewhere(&root, "2");
    let err = root
        .lock_exclusive_with("test", Duration::from_millis(300), &mut |_| {})
        .unwrap_err();
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
    let exclusive = root.lock_exclusive_with("test", Duration::ZERO, &mut |_| {});
    assert!(matches!(exclusive, Err(Error::LockTimeout { .. })));
    drop((a, b));
    root.lock_exclusive_with("test", Duration::ZERO, &mut |_| {})
        .unwrap();
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

// --- Links and FIFOs in jobs/ -------------------------------------------------------------

/// A file outside `jobs/` that a planted link points at, with what it held.
fn outside_target(dir: &std::path::Path) -> (std::path::PathBuf, &'static str) {
    let target = dir.join("outside-secret");
    let text = "root:x:0:0::/root:/bin/bash\n";
    std::fs::write(&target, text).unwrap();
    (target, text)
}

/// Before, root opened `jobs/.lock` through the link (`O_CREAT`, no `O_NOFOLLOW`) and wrote
/// its holder note (`pid N (booking)`) over the target.
#[test]
fn a_symlinked_lock_is_refused_and_its_target_left_alone() {
    let (dir, root) = empty_root();
    let (target, text) = outside_target(dir.path());
    std::os::unix::fs::symlink(&target, root.lock_path()).unwrap();
    let err = root.lock_exclusive("booking").unwrap_err();
    let msg = err.to_string();
    assert!(msg.contains("jobs/.lock: cannot lock"), "{msg}");
    assert!(msg.contains("symbolic link"), "{msg}");
    assert_eq!(msg.lines().count(), 1, "{msg}");
    let err = root.lock_shared().unwrap_err();
    assert!(err.to_string().contains("jobs/.lock"), "{err}");
    assert_eq!(std::fs::read_to_string(&target).unwrap(), text);
}

/// Before, `monitor.log`, `monitor_exec` and `used.csv` were opened for appending through a
/// link, so root appended log lines, requests and history rows to the link's target.
#[test]
fn appends_to_jobs_files_never_follow_a_symlink() {
    let (dir, root) = empty_root();
    let (target, text) = outside_target(dir.path());
    let lock = root.lock_exclusive("test").unwrap();
    for name in ["monitor.log", "monitor_exec", "used.csv"] {
        let path = root.jobs_dir().join(name);
        let _ = std::fs::remove_file(&path);
        std::os::unix::fs::symlink(&target, &path).unwrap();
        let err = match name {
            "monitor.log" => root
                .append_log(&LogLine::info(t("2026-11-23 09:00"), "x"))
                .unwrap_err(),
            "monitor_exec" => root.push_request(&Request::Now, &lock).unwrap_err(),
            _ => root.append_used(&[row("u1")], &lock).unwrap_err(),
        };
        let msg = err.to_string();
        assert!(msg.contains(&format!("jobs/{name}: cannot write")), "{msg}");
        assert_eq!(msg.lines().count(), 1, "{msg}");
        assert_eq!(std::fs::read_to_string(&target).unwrap(), text, "{name}");
    }
}

/// Before, opening a FIFO planted as `monitor.log` for writing blocked until someone read
/// it: every monitor tick hung there.
#[test]
fn a_fifo_in_place_of_the_log_is_refused_without_blocking() {
    let (_dir, root) = empty_root();
    let ok = Command::new("mkfifo")
        .arg(root.monitor_log_path())
        .status()
        .unwrap();
    assert!(ok.success());
    let (tx, rx) = std::sync::mpsc::channel();
    let r = root.clone();
    std::thread::spawn(move || {
        let _ = tx.send(r.append_log(&LogLine::info(t("2026-11-23 09:00"), "x")));
    });
    let result = rx
        .recv_timeout(Duration::from_secs(10))
        .expect("appending to a FIFO blocked");
    let msg = result.unwrap_err().to_string();
    assert!(msg.contains("monitor.log: cannot write"), "{msg}");
    assert!(msg.contains("not a regular file"), "{msg}");
}

// --- A read-only jobs/ -------------------------------------------------------------------
//
// The tests run as root, whom neither a mode nor (without a mount) anything else stops from
// writing, so the decision a reader takes when `open(O_RDWR | O_CREAT)` fails is a function
// of its own, given the error, and is tested directly; one test also runs the real case as
// an unprivileged user when we are root.

const EROFS: i32 = 30;
const EACCES: i32 = 13;
const EIO: i32 = 5;

/// Before, a reader whose read-write open failed (a read-only `jobs/`) got
/// `cannot lock: Read-only file system` and `checker` reported nothing.
#[test]
fn a_reader_on_a_read_only_jobs_takes_the_shared_lock_on_a_read_only_open() {
    let (_dir, root) = empty_root();
    drop(root.lock_exclusive("monitor").unwrap());
    let before = std::fs::read(root.lock_path()).unwrap();
    for errno in [EROFS, EACCES] {
        let lock = SharedLock::acquire_after_read_write_failed(
            &root.lock_path(),
            std::io::Error::from_raw_os_error(errno),
            Duration::from_secs(1),
        )
        .unwrap();
        assert_eq!(lock.unlocked(), None);
        // It really holds the lock: a writer cannot take it meanwhile.
        let writer = root.lock_exclusive_with("test", Duration::ZERO, &mut |_| {});
        assert!(
            matches!(writer, Err(Error::LockTimeout { .. })),
            "{writer:?}"
        );
        assert_eq!(root.read_schedule(Table::Booking, &lock).unwrap().rows, []);
        drop(lock);
        assert_eq!(std::fs::read(root.lock_path()).unwrap(), before);
    }
}

/// Before, a reader that could not create a missing `jobs/.lock` failed.
#[test]
fn a_reader_goes_on_without_a_lock_it_cannot_create_and_says_so() {
    let (_dir, root) = empty_root();
    let lock = SharedLock::acquire_after_read_write_failed(
        &root.lock_path(),
        std::io::Error::from_raw_os_error(EROFS),
        Duration::from_secs(1),
    )
    .unwrap();
    let why = lock.unlocked().expect("says it holds no lock");
    assert!(why.contains("jobs/.lock: read without the lock"), "{why}");
    assert!(!root.lock_path().exists(), "nothing was created");
    assert_eq!(root.read_schedule(Table::Booking, &lock).unwrap().rows, []);
}

#[test]
fn other_failures_to_open_the_lock_are_errors_naming_it() {
    let (_dir, root) = empty_root();
    let err = SharedLock::acquire_after_read_write_failed(
        &root.lock_path(),
        std::io::Error::from_raw_os_error(EIO),
        Duration::from_secs(1),
    )
    .unwrap_err();
    assert!(err.to_string().contains("jobs/.lock: cannot lock"), "{err}");
}

/// The real case: a user who may not write `jobs/` (root's, mode 0755) reads the schedule
/// under the shared lock, with and without an existing lock file, and creates nothing.
/// Before, the read-write open failed with EACCES and nothing could be read. Root is
/// never refused, so as root the helper below runs as `nobody`; otherwise `jobs/` is
/// made read-only with chmod.
#[test]
fn a_user_who_may_not_write_jobs_reads_the_schedule_under_the_shared_lock() {
    use std::os::unix::process::CommandExt;
    let (dir, root) = empty_root();
    std::fs::write(
        root.schedule_path(Table::Booking),
        schedule::to_bytes(&[row("u1")]),
    )
    .unwrap();
    drop(root.lock_exclusive("monitor").unwrap());
    // A file we create is owned by our effective user.
    let as_root =
        std::os::unix::fs::MetadataExt::uid(&std::fs::metadata(root.lock_path()).unwrap()) == 0;
    let mode = |p: &std::path::Path, m: u32| {
        std::fs::set_permissions(p, std::fs::Permissions::from_mode(m)).unwrap()
    };
    mode(dir.path(), 0o755);
    if !as_root {
        mode(&root.jobs_dir(), 0o555);
    }
    for lock_file in [true, false] {
        if !lock_file {
            mode(&root.jobs_dir(), 0o755);
            std::fs::remove_file(root.lock_path()).unwrap();
            if !as_root {
                mode(&root.jobs_dir(), 0o555);
            }
        }
        let mut helper = Command::new(std::env::current_exe().unwrap());
        helper
            .args(["--exact", "read_only_helper", "--ignored", "--nocapture"])
            .env("AIVC_TEST_READ_ONLY_ROOT", dir.path());
        if as_root {
            helper.uid(65534).gid(65534);
        }
        let out = helper.output().unwrap();
        let text = String::from_utf8_lossy(&out.stdout);
        assert!(
            out.status.success() && text.contains("READ u1"),
            "lock file {lock_file}: {text}{}",
            String::from_utf8_lossy(&out.stderr)
        );
        assert_eq!(root.lock_path().exists(), lock_file);
        assert_eq!(text.contains("WITHOUT LOCK"), !lock_file, "{text}");
    }
    mode(&root.jobs_dir(), 0o755);
}

/// Run by the test above as a user who may not write `jobs/`.
#[test]
#[ignore = "run by a_user_who_may_not_write_jobs_reads_the_schedule_under_the_shared_lock"]
#[allow(clippy::print_stdout)] // the answer to the parent test
fn read_only_helper() {
    let dir = std::env::var_os("AIVC_TEST_READ_ONLY_ROOT").expect("run by its parent test");
    let root = Root::at(dir);
    let lock = root.lock_shared().unwrap();
    if lock.unlocked().is_some() {
        println!("WITHOUT LOCK");
    }
    for r in root.read_schedule(Table::Booking, &lock).unwrap().rows {
        println!("READ {}", r.user_id);
    }
}

// --- The monitor's journal and everyone else ----------------------------------------------

/// A journal as an interrupted tick leaves it: u1's booking moves from booking.csv to
/// using.csv and u0's ended one goes to the history.
fn pending_journal(root: &Root) -> hostinfo::journal::Journal {
    let used = std::fs::read(root.schedule_path(Table::Used)).unwrap();
    let mut append = Vec::new();
    schedule::append_rows_to(&mut append, &[row("u0")]);
    let j = hostinfo::journal::Journal {
        booking: schedule::to_bytes(&[]),
        using: schedule::to_bytes(&[row("u1")]),
        used_len: used.len() as u64,
        append,
    };
    std::fs::write(root.jobs_dir().join(".monitor-journal"), j.to_bytes()).unwrap();
    j
}

/// Every file in `jobs/` but the lock (whose holder note any locker rewrites).
fn jobs_files(root: &Root) -> Vec<(String, Vec<u8>)> {
    let mut files: Vec<_> = std::fs::read_dir(root.jobs_dir())
        .unwrap()
        .map(|e| e.unwrap())
        .filter(|e| e.file_name() != ".lock")
        .map(|e| {
            (
                e.file_name().into_string().unwrap(),
                std::fs::read(e.path()).unwrap(),
            )
        })
        .collect();
    files.sort();
    files
}

/// Before, only the monitor's next tick completed a journal: a booking taking the lock
/// meanwhile worked on the half-moved files (u1 in neither booking.csv nor using.csv, its
/// GPUs free) and the tick's replay then overwrote what it wrote.
#[test]
fn taking_the_lock_exclusive_completes_a_pending_journal_first() {
    let (_dir, root) = empty_root();
    // Killed after booking.csv was written: u1 is in neither file.
    std::fs::write(
        root.schedule_path(Table::Using),
        schedule::to_bytes(&[row("u0")]),
    )
    .unwrap();
    let history = std::fs::read(root.schedule_path(Table::Used)).unwrap();
    let j = pending_journal(&root);
    let lock = root.lock_exclusive("booking").unwrap();
    assert!(lock.completed_journal());
    assert!(!root.jobs_dir().join(".monitor-journal").exists());
    assert_eq!(
        std::fs::read(root.schedule_path(Table::Using)).unwrap(),
        j.using
    );
    let used = std::fs::read(root.schedule_path(Table::Used)).unwrap();
    assert_eq!(used, [history, j.append].concat(), "appended exactly once");
    drop(lock);
    assert!(!root.lock_exclusive("booking").unwrap().completed_journal());
}

/// Before, a reader under the shared lock read the half-moved files.
#[test]
fn a_shared_reader_sees_the_schedule_a_pending_journal_describes_and_changes_nothing() {
    let (_dir, root) = empty_root();
    let j = pending_journal(&root);
    let before = jobs_files(&root);
    let lock = root.lock_shared().unwrap();
    assert!(root.journal_pending(&lock).unwrap());
    let users = |t| {
        root.read_schedule(t, &lock)
            .unwrap()
            .rows
            .into_iter()
            .map(|r| r.user_id)
            .collect::<Vec<_>>()
    };
    assert_eq!(users(Table::Booking), Vec::<String>::new());
    assert_eq!(users(Table::Using), ["u1"]);
    assert_eq!(users(Table::Used), ["u0"]);
    drop(lock);
    assert_eq!(jobs_files(&root), before, "a reader writes nothing");
    let _ = j;
}

/// Before, the used.csv length was only compared, and a history shorter than the journal
/// recorded was "cut back" with set_len, which pads it with NUL bytes.
#[test]
fn a_history_shorter_than_the_journal_recorded_is_an_error_and_left_as_it_is() {
    let (_dir, root) = empty_root();
    let mut j = pending_journal(&root);
    j.used_len += 1000;
    std::fs::write(root.jobs_dir().join(".monitor-journal"), j.to_bytes()).unwrap();
    let before = jobs_files(&root);
    let err = root.lock_exclusive("monitor").unwrap_err().to_string();
    assert!(err.contains("used.csv: is "), "{err}");
    assert!(err.contains("monitor journal expects"), "{err}");
    assert_eq!(jobs_files(&root), before);
}

/// A history append torn by a crash (part of it written) is cut back and written once.
#[test]
fn a_torn_history_append_is_completed_exactly_once() {
    let (_dir, root) = empty_root();
    let history = std::fs::read(root.schedule_path(Table::Used)).unwrap();
    let j = pending_journal(&root);
    let torn = [history.clone(), j.append[..5].to_vec()].concat();
    std::fs::write(root.schedule_path(Table::Used), torn).unwrap();
    drop(root.lock_exclusive("monitor").unwrap());
    assert_eq!(
        std::fs::read(root.schedule_path(Table::Used)).unwrap(),
        [history, j.append].concat()
    );
}

/// Before, the old parser summed lengths near u64::MAX (a panic in debug builds), applied a
/// journal whose payload had changed, and ignored the journal entirely outside the monitor.
#[test]
fn a_damaged_or_foreign_journal_is_one_error_naming_it_for_writers_and_readers_alike() {
    let (dir, root) = empty_root();
    let good = pending_journal(&root).to_bytes();
    let mut flipped = good.clone();
    let at = flipped.len() / 2;
    flipped[at] ^= 1;
    let huge = format!(
        "AIVC-JOURNAL 2\nused_len 0\nbooking {m}\nusing {m}\nappend 2\nxx",
        m = u64::MAX
    );
    let cases: Vec<(&str, Vec<u8>)> = vec![
        ("a flipped bit", flipped),
        ("cut short", good[..good.len() - 3].to_vec()),
        ("lengths that overflow", huge.into_bytes()),
        (
            "the first format",
            b"AIVC-JOURNAL 1\nused_len 0\nbooking 0\nusing 0\nappend 0\nEND\n".to_vec(),
        ),
        ("empty", Vec::new()),
        ("foreign", b"{\"hello\": 1}\n".to_vec()),
    ];
    let path = root.jobs_dir().join(".monitor-journal");
    for (what, bytes) in cases {
        std::fs::write(&path, &bytes).unwrap();
        let before = jobs_files(&root);
        let e = root.lock_exclusive("booking").unwrap_err().to_string();
        assert!(
            e.contains("jobs/.monitor-journal: not a monitor journal"),
            "{what}: {e}"
        );
        assert_eq!(e.lines().count(), 1, "{what}: {e}");
        let lock = root.lock_shared().unwrap();
        let e = root.read_schedule(Table::Booking, &lock).unwrap_err();
        assert!(e.to_string().contains(".monitor-journal"), "{what}: {e}");
        drop(lock);
        assert_eq!(jobs_files(&root), before, "{what}: nothing applied");
    }
    // A link in the journal's place is never followed, whatever it points at.
    std::fs::remove_file(&path).unwrap();
    let (target, _) = outside_target(dir.path());
    std::fs::write(&target, &good).unwrap();
    std::os::unix::fs::symlink(&target, &path).unwrap();
    let e = root.lock_exclusive("booking").unwrap_err().to_string();
    assert!(
        e.contains(".monitor-journal: cannot read") && e.contains("symbolic link"),
        "{e}"
    );
}

/// Posting takes no `jobs/.lock`, and compaction rewrites the outbox whole: a notice posted
/// while a compaction runs must be kept (found by a review: the first compaction read,
/// then renamed, and dropped what was appended in between).
#[test]
fn notices_posted_while_the_outbox_is_compacted_are_never_lost() {
    use hostinfo::notices::{Kind, Notice, Recipient};
    let dir = tempfile::tempdir().unwrap();
    std::fs::create_dir_all(dir.path().join("jobs")).unwrap();
    let root = Root::at(dir.path());
    let now = t("2026-11-24 10:00");
    let old: Vec<Notice> = (0..200)
        .map(|i| {
            Notice::new(
                now,
                Recipient::Admins,
                Kind::TickFailed,
                format!("old{i}"),
                "x",
            )
        })
        .collect();
    root.post_notices(&old, chrono::Duration::zero()).unwrap();
    let posters: Vec<_> = (0..4)
        .map(|p| {
            let root = Root::at(dir.path());
            std::thread::spawn(move || {
                let mut ids = Vec::new();
                for i in 0..50 {
                    // The admins: a student is posted at most 30 notices an hour.
                    let n = Notice::new(
                        now,
                        Recipient::Admins,
                        Kind::BookingMade,
                        format!("new{p}-{i}"),
                        "y",
                    );
                    ids.push(n.id.clone());
                    root.post_notices(&[n], chrono::Duration::zero()).unwrap();
                }
                ids
            })
        })
        .collect();
    for chunk in old.chunks(20) {
        let drop = chunk.iter().map(|n| n.id.clone()).collect();
        let lock = root.lock_exclusive("test").unwrap();
        root.compact_notices(&drop, &lock).unwrap();
    }
    let posted: Vec<String> = posters
        .into_iter()
        .flat_map(|p| p.join().unwrap())
        .collect();
    let left: std::collections::HashSet<String> = root
        .read_notices()
        .unwrap()
        .into_iter()
        .map(|n| n.id)
        .collect();
    assert_eq!(posted.len(), 200);
    for id in &posted {
        assert!(left.contains(id), "notice {id} was lost by a compaction");
    }
    assert!(old.iter().all(|n| !left.contains(&n.id)));
}

/// The usage history is read from its end: a reader gets the recent samples however long
/// the day's file is, and a line still being written is left for the next read.
#[test]
fn usage_samples_are_read_from_the_tail_and_old_days_are_pruned() {
    use hostinfo::usage::{Sample, Subject};
    let dir = tempfile::tempdir().unwrap();
    std::fs::create_dir_all(dir.path().join("jobs")).unwrap();
    let root = Root::at(dir.path());
    let sample = |time: &str, gpu: u32| Sample {
        time: t(time),
        subject: Subject::Gpu(gpu),
        gpu_util_percent: Some(gpu),
        gpu_memory_mib: Some(1),
        cpu_percent: None,
        memory_mib: None,
    };
    // A long day: more than the tail a reader takes.
    let filler: Vec<Sample> = (0..200_000)
        .map(|i| sample("2026-11-24 00:00", i % 8))
        .collect();
    root.append_usage(&filler).unwrap();
    root.append_usage(&[sample("2026-11-24 23:55", 1), sample("2026-11-25 00:05", 2)])
        .unwrap();
    let path = root.usage_dir().join("2026-11-25.csv");
    // A torn last line (a sampler killed mid-write) is not read.
    std::fs::OpenOptions::new()
        .append(true)
        .open(&path)
        .and_then(|mut f| std::io::Write::write_all(&mut f, b"2026-11-25 00:10:00,gpu:"))
        .unwrap();
    assert!(
        std::fs::metadata(root.usage_dir().join("2026-11-24.csv"))
            .unwrap()
            .len()
            > hostinfo::usage::MAX_TAIL_BYTES
    );
    let recent = root
        .read_usage_since(t("2026-11-24 23:50"), t("2026-11-25 01:00"))
        .unwrap();
    assert_eq!(
        recent,
        [sample("2026-11-24 23:55", 1), sample("2026-11-25 00:05", 2)]
    );

    std::fs::write(root.usage_dir().join("2026-11-01.csv"), "").unwrap();
    std::fs::write(root.usage_dir().join("notes.txt"), "").unwrap();
    assert_eq!(
        root.prune_usage(t("2026-11-25 00:00").date(), 15).unwrap(),
        1
    );
    assert!(root.usage_dir().join("notes.txt").exists());
    assert!(root.usage_dir().join("2026-11-24.csv").exists());
}
