//! The window while a monitor journal is pending (the monitor killed after writing it, before
//! committing): the real `booking`, several at once, books, cancels and shortens while
//! monitors are killed at each step with `AIVC_CRASH_AT`; readers look on; and a damaged
//! journal stops every tool cleanly. No booking is lost and no GPU is held twice.

mod common;

use std::io::Write;
use std::os::unix::process::ExitStatusExt;
use std::process::{Child, Command, Output, Stdio};

use chrono::NaiveDateTime;
use hostinfo::schedule::{self, Row};

const NOW: &str = common::NOW; // 2026-11-23 10:00

/// Every step the crash hook knows, in the order a tick reaches them.
const STEPS: [&str; 10] = [
    "planned",
    "closed",
    "started",
    "journal-written",
    "booking-written",
    "using-written",
    "used-appended",
    "committed",
    "reconciled",
    "requests-done",
];

const HEADER: &str = "start,end,user_id,cpus,memory,gpus,forward_port,image,extra_command\n";
const HISTORY: &str = "start,end,user_id,cpus,memory,gpus,forward_port,image,extra_command\n2026-11-20 09:00:00,2026-11-20 10:00:00,bob,1.0,1,[],10002,,\n";

/// alice's booking on GPU 0 ends now (her container runs), bob's on GPU 1 is due, carol's
/// was missed, and dora's on GPU 0 is later today. The host has two GPUs.
fn scenario() -> common::Lab {
    let lab = common::Lab::new(None);
    // CPUs enough for everyone, so that GPUs are what the racing bookings compete for.
    let cap = lab.path().join("cfg/capability_config.yaml");
    let text = std::fs::read_to_string(&cap).unwrap();
    assert!(text.starts_with("max:\n  cpus: 2\n"), "{text}");
    std::fs::write(&cap, text.replacen("  cpus: 2\n", "  cpus: 8\n", 1)).unwrap();
    let jobs = lab.path().join("jobs");
    std::fs::write(
        jobs.join("using.csv"),
        format!("{HEADER}2026-11-23 08:00:00,2026-11-23 10:00:00,alice,1.0,1,[0],10001,,\n"),
    )
    .unwrap();
    std::fs::write(
        jobs.join("booking.csv"),
        format!(
            "{HEADER}2026-11-23 07:00:00,2026-11-23 09:00:00,carol,1.0,1,[],10003,,\n\
             2026-11-23 10:00:00,2026-11-23 12:00:00,bob,1.0,1,[1],10002,,\n\
             2026-11-23 13:00:00,2026-11-23 14:00:00,dora,1.0,1,[0],10004,,\n"
        ),
    )
    .unwrap();
    std::fs::write(jobs.join("used.csv"), HISTORY).unwrap();
    std::fs::write(jobs.join("monitor_exec"), "").unwrap();
    let z = "0".repeat(64);
    lab.fake_container(
        "alice",
        &format!("{z}\talice\trunning\talice\t$INSTALLATION\t2026-11-23 08:00:00\t2026-11-23 10:00:00\t\t10001\t2020-01-01T00:00:00Z\n"),
    );
    lab
}

fn rows(lab: &common::Lab, file: &str) -> Vec<Row> {
    let path = lab.path().join("jobs").join(file);
    schedule::parse(&path, lab.file(&format!("jobs/{file}")).as_bytes())
        .unwrap()
        .rows
}

fn at(text: &str) -> NaiveDateTime {
    NaiveDateTime::parse_from_str(text, "%Y-%m-%d %H:%M").unwrap()
}

/// `booking --yes --password-stdin --user-id ID ARGS`, started and waiting for its password
/// on stdin, so that several can be released at the same moment.
fn booking(lab: &common::Lab, user: &str, args: &[&str]) -> Child {
    Command::new(common::sibling("booking"))
        .arg("--root")
        .arg(lab.path())
        .args(["--yes", "--password-stdin", "--user-id", user])
        .args(args)
        .env("AIVC_NOW", NOW)
        .env("NO_COLOR", "1")
        .env_remove("AIVC_ROOT")
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap()
}

fn release(child: &mut Child, user: &str) {
    let mut stdin = child.stdin.take().unwrap();
    // A booking that fails before it reads (a broken journal) closes its stdin first.
    let _ = stdin.write_all(format!("{user}-pw\n").as_bytes());
}

fn listing(lab: &common::Lab) -> Output {
    Command::new(common::sibling("booking"))
        .arg("--root")
        .arg(lab.path())
        .args(["--list-schedule", "--json"])
        .env("AIVC_NOW", NOW)
        .env_remove("AIVC_ROOT")
        .output()
        .unwrap()
}

fn text(o: &Output) -> String {
    format!(
        "exit {:?} signal {:?}\nstdout: {}\nstderr: {}",
        o.status.code(),
        o.status.signal(),
        String::from_utf8_lossy(&o.stdout),
        String::from_utf8_lossy(&o.stderr)
    )
}

/// Two rows that overlap in time never share a GPU.
fn assert_no_gpu_held_twice(live: &[Row], what: &str) {
    for (i, a) in live.iter().enumerate() {
        for b in &live[i + 1..] {
            if a.start < b.end && b.start < a.end {
                let shared: Vec<u32> = a
                    .gpus
                    .ids()
                    .iter()
                    .filter(|g| b.gpus.contains(**g))
                    .copied()
                    .collect();
                assert!(
                    shared.is_empty(),
                    "{what}: GPU {shared:?} held twice: {a:?} and {b:?}"
                );
            }
        }
    }
}

/// The GPUs of `booking --list-schedule --json`, each with its holders: none held twice.
fn assert_listing_consistent(out: &Output, what: &str) -> serde_json::Value {
    assert_eq!(out.status.code(), Some(0), "{what}: {}", text(out));
    let json: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    for gpu in json["gpus"].as_array().unwrap() {
        let holders = gpu["holders"].as_array().unwrap();
        for (i, a) in holders.iter().enumerate() {
            for b in &holders[i + 1..] {
                let (s1, e1) = (a["start"].as_str().unwrap(), a["end"].as_str().unwrap());
                let (s2, e2) = (b["start"].as_str().unwrap(), b["end"].as_str().unwrap());
                assert!(
                    !(s1 < e2 && s2 < e1),
                    "{what}: GPU {} listed twice: {a} and {b}",
                    gpu["index"]
                );
            }
        }
    }
    json
}

/// For each step: a monitor is killed there; then, all at once, carol books the current
/// slot and alice the next one (one GPU each: only GPU 0 is free, so exactly one can get
/// it), dora cancels, bob shortens his running booking with `--end-at`, a listing reads,
/// and another monitor is killed at the same step; then a monitor runs through.
///
/// Before, a booking taking the lock while a journal was pending worked on the half-moved
/// schedule: killed at `booking-written`, bob's row was in neither file, so alice and carol
/// both got a GPU (one of them bob's GPU 1), bob's `--end-at` found no booking, and the
/// listing showed no bob; and at every journal step the next tick's replay overwrote
/// booking.csv and using.csv, losing the new booking, undoing dora's cancel and bob's
/// `--end-at`.
#[test]
fn bookings_cancels_and_end_at_racing_killed_monitors_lose_nothing_and_never_share_a_gpu() {
    // Three rounds: which process gets the lock first differs from run to run.
    for step in STEPS.iter().cycle().take(3 * STEPS.len()) {
        let step = *step;
        let lab = scenario();
        let crash = [("AIVC_CRASH_AT", step)];
        let killed = lab.monitor(NOW, &[], &crash);
        assert_eq!(killed.status.signal(), Some(9), "{step}: {}", text(&killed));

        let one_gpu = ["--cpus", "1", "--memory", "1", "--gpus", "1"];
        let mut carol = booking(
            &lab,
            "carol",
            &[
                &one_gpu[..],
                &["--start", "now", "--end", "2026-11-23 11:00"],
            ]
            .concat(),
        );
        let mut alice = booking(
            &lab,
            "alice",
            &[
                &one_gpu[..],
                &["--start", "2026-11-23 10:30", "--end", "2026-11-23 11:30"],
            ]
            .concat(),
        );
        let mut dora = booking(&lab, "dora", &["--cancel", "2026-11-23 13:00"]);
        let mut bob = booking(&lab, "bob", &["--end-at", "2026-11-23 11:00"]);
        for (child, user) in [
            (&mut carol, "carol"),
            (&mut alice, "alice"),
            (&mut dora, "dora"),
            (&mut bob, "bob"),
        ] {
            release(child, user);
        }
        // Monitors never overlap each other (one systemd service), but they do overlap
        // bookings: this one runs while the four above do.
        let mut concurrent = lab
            .monitor_command(NOW, &[], &crash)
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .unwrap();
        let listed = listing(&lab);
        let [carol, alice, dora, bob] =
            [carol, alice, dora, bob].map(|c| c.wait_with_output().unwrap());
        let concurrent = concurrent.wait().unwrap();
        assert!(
            concurrent.signal() == Some(9) || concurrent.code() == Some(0),
            "{step}: the concurrent monitor: {concurrent:?}"
        );
        let json = assert_listing_consistent(&listed, step);
        let users: Vec<&str> = json["rows"]
            .as_array()
            .unwrap()
            .iter()
            .map(|r| r["user_id"].as_str().unwrap())
            .collect();
        assert!(
            users.contains(&"bob"),
            "{step}: the listing lost bob: {json}"
        );

        let done = lab.monitor(NOW, &[], &[]);
        assert_eq!(done.status.code(), Some(0), "{step}: {}", text(&done));
        assert!(
            !lab.path().join("jobs/.monitor-journal").exists(),
            "{step}: journal left"
        );

        let (booked, using, used) = (
            rows(&lab, "booking.csv"),
            rows(&lab, "using.csv"),
            rows(&lab, "used.csv"),
        );
        let live: Vec<Row> = booked.iter().chain(&using).cloned().collect();
        assert_no_gpu_held_twice(&live, step);

        // Exactly one of the two racing bookings gets GPU 0; the other is refused for want
        // of a GPU, and the one booked is there.
        let outcomes = [(&carol, "carol", "10:00"), (&alice, "alice", "10:30")];
        let won: Vec<_> = outcomes
            .iter()
            .filter(|(o, _, _)| o.status.code() == Some(0))
            .collect();
        assert_eq!(won.len(), 1, "{step}: {}\n{}", text(&carol), text(&alice));
        for (o, user, start) in outcomes {
            let start = at(&format!("2026-11-23 {start}"));
            let have = live
                .iter()
                .filter(|r| r.user_id == user && r.start == start)
                .count();
            if o.status.code() == Some(0) {
                assert_eq!(have, 1, "{step}: {user}'s booking lost: {live:?}");
                assert!(
                    live.iter()
                        .any(|r| r.user_id == user && r.start == start && r.gpus.ids() == [0]),
                    "{step}: {user} did not get GPU 0: {live:?}"
                );
            } else {
                assert_eq!(o.status.code(), Some(1), "{step}: {}", text(o));
                assert_eq!(have, 0, "{step}: a refused booking was written");
            }
        }

        // dora's cancel and bob's --end-at happened and stayed done.
        assert_eq!(dora.status.code(), Some(0), "{step}: {}", text(&dora));
        assert!(
            !live.iter().chain(&used).any(|r| r.user_id == "dora"),
            "{step}: dora's cancelled booking came back: {live:?}"
        );
        assert_eq!(bob.status.code(), Some(0), "{step}: {}", text(&bob));
        let bobs: Vec<&Row> = live.iter().filter(|r| r.user_id == "bob").collect();
        assert_eq!(bobs.len(), 1, "{step}: {bobs:?}");
        assert_eq!(
            (bobs[0].start, bobs[0].end),
            (at("2026-11-23 10:00"), at("2026-11-23 11:00")),
            "{step}: bob's --end-at was undone"
        );
        assert!(using.iter().any(|r| r.user_id == "bob"), "{step}");

        // The old rows moved exactly once, and the history kept its bytes.
        let mut filed: Vec<(String, NaiveDateTime)> =
            used.iter().map(|r| (r.user_id.clone(), r.start)).collect();
        filed.sort();
        assert_eq!(
            filed,
            [
                ("alice".to_string(), at("2026-11-23 08:00")),
                ("bob".to_string(), at("2026-11-20 09:00")),
                ("carol".to_string(), at("2026-11-23 07:00")),
            ],
            "{step}"
        );
        assert!(lab.file("jobs/used.csv").starts_with(HISTORY), "{step}");

        // The containers running are exactly the using rows current now.
        let mut running: Vec<String> = using
            .iter()
            .filter(|r| r.start <= at(NOW) && at(NOW) < r.end)
            .map(|r| r.user_id.clone())
            .collect();
        running.sort();
        assert_eq!(lab.fake_containers(), running, "{step}");
    }
}

/// Every file in `jobs/` but the lock, whose holder note any locker rewrites.
fn jobs_files(lab: &common::Lab) -> Vec<(String, Vec<u8>)> {
    let mut files: Vec<_> = std::fs::read_dir(lab.path().join("jobs"))
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

/// Killed at `booking-written`, bob's row is in neither file on disk. The readers — the
/// listing, `checker`, the monitor's dry run — see the schedule the journal describes (bob
/// running on GPU 1) and write nothing; the journal stays for the next writer.
///
/// Before, the listing and `checker` showed no bob and GPU 1 free.
#[test]
fn readers_during_a_pending_journal_see_the_state_it_describes_and_change_nothing() {
    let lab = scenario();
    let killed = lab.monitor(NOW, &[], &[("AIVC_CRASH_AT", "booking-written")]);
    assert_eq!(killed.status.signal(), Some(9), "{}", text(&killed));
    let journal = lab.path().join("jobs/.monitor-journal");
    assert!(journal.exists());
    let on_disk: Vec<String> = rows(&lab, "booking.csv")
        .into_iter()
        .chain(rows(&lab, "using.csv"))
        .map(|r| r.user_id)
        .collect();
    assert!(
        !on_disk.contains(&"bob".to_string()),
        "the crash left bob in neither file: {on_disk:?}"
    );
    let before = jobs_files(&lab);

    let json = assert_listing_consistent(&listing(&lab), "listing");
    let gpu1: Vec<&str> = json["gpus"][1]["holders"]
        .as_array()
        .unwrap()
        .iter()
        .map(|h| h["user_id"].as_str().unwrap())
        .collect();
    assert_eq!(gpu1, ["bob"], "{json}");

    let report = lab.checker(NOW);
    let bob: Vec<_> = report.rows.iter().filter(|r| r.user_id == "bob").collect();
    assert_eq!(bob.len(), 1, "{:?}", report.rows);
    assert_eq!(
        (bob[0].table.as_str(), &bob[0].gpus[..]),
        ("using", &[1][..])
    );
    assert!(
        !report.rows.iter().any(|r| r.user_id == "alice"),
        "alice's ended row is in the history: {:?}",
        report.rows
    );

    let dry = lab.monitor(NOW, &["--dry-run"], &[]);
    assert_eq!(dry.status.code(), Some(0), "{}", text(&dry));
    let said = String::from_utf8_lossy(&dry.stdout);
    assert!(said.contains("interrupted tick completed: yes"), "{said}");

    assert_eq!(jobs_files(&lab), before, "a reader wrote");
    assert!(journal.exists());
}

/// A journal that is damaged (one payload byte changed), of the first format, or with
/// lengths past u64::MAX stops every tool — booking, its listing, checker, checker validate,
/// the monitor and its dry run — with exit 2 and one line naming the journal, and nothing
/// changes: no file, no container.
///
/// Before, `booking` and `checker` ignored the journal (exit 0, and booking wrote a row the
/// replay then lost), the monitor applied the damaged and the first-format journal, and
/// lengths past u64::MAX made the monitor panic.
#[test]
fn a_damaged_old_or_foreign_journal_stops_every_tool_with_one_line_and_changes_nothing() {
    let lab = scenario();
    let killed = lab.monitor(NOW, &[], &[("AIVC_CRASH_AT", "journal-written")]);
    assert_eq!(killed.status.signal(), Some(9), "{}", text(&killed));
    let path = lab.path().join("jobs/.monitor-journal");
    let real = std::fs::read(&path).unwrap();
    // A byte in the middle of the payload: a digit of a time in booking.csv's copy.
    let mut flipped = real.clone();
    let at = real.windows(10).position(|w| w == b"2026-11-23").unwrap();
    flipped[at + 3] = b'7';
    let variants: [(&str, Vec<u8>); 3] = [
        ("one byte changed", flipped),
        (
            "the first format",
            b"AIVC-JOURNAL 1\nused_len 0\nbooking 0\nusing 0\nappend 0\nEND\n".to_vec(),
        ),
        (
            "lengths past u64::MAX",
            format!(
                "AIVC-JOURNAL 1\nused_len 0\nbooking {m}\nusing {m}\nappend 2\nEND\n",
                m = u64::MAX
            )
            .into_bytes(),
        ),
    ];
    for (what, bytes) in variants {
        std::fs::write(&path, &bytes).unwrap();
        let before = jobs_files(&lab);
        let containers = lab.fake_containers();

        let mut book = booking(
            &lab,
            "carol",
            &[
                "--cpus",
                "1",
                "--memory",
                "1",
                "--gpus",
                "1",
                "--start",
                "now",
                "--end",
                "2026-11-23 11:00",
            ],
        );
        release(&mut book, "carol");
        let runs: Vec<(&str, Output)> = vec![
            ("booking", book.wait_with_output().unwrap()),
            ("booking --list-schedule", listing(&lab)),
            (
                "checker",
                Command::new(common::sibling("checker"))
                    .arg("--root")
                    .arg(lab.path())
                    .env("AIVC_NOW", NOW)
                    .env("AIVC_NO_NVML", "1")
                    .env_remove("AIVC_ROOT")
                    .output()
                    .unwrap(),
            ),
            (
                "checker validate",
                Command::new(common::sibling("checker"))
                    .arg("--root")
                    .arg(lab.path())
                    .arg("validate")
                    .env("AIVC_NOW", NOW)
                    .env_remove("AIVC_ROOT")
                    .output()
                    .unwrap(),
            ),
            ("monitor", lab.monitor(NOW, &[], &[])),
            ("monitor --dry-run", lab.monitor(NOW, &["--dry-run"], &[])),
        ];
        for (tool, out) in runs {
            let err = String::from_utf8_lossy(&out.stderr);
            assert_eq!(out.status.code(), Some(2), "{what}, {tool}: {}", text(&out));
            assert!(
                err.contains("jobs/.monitor-journal: not a monitor journal"),
                "{what}, {tool}: {err}"
            );
            assert_eq!(err.trim_end().lines().count(), 1, "{what}, {tool}: {err}");
        }
        assert_eq!(jobs_files(&lab), before, "{what}: a file changed");
        assert_eq!(lab.fake_containers(), containers, "{what}");
    }
}
