//! Races between the web and everything else that writes the schedule (issue 18): 16 web
//! clients and 16 `booking` processes for the last free GPU (one wins, the files stay
//! valid), web bookings while the real `monitor` ticks in a loop, and a web booking that
//! waits while another process holds `jobs/.lock`. Each booking must land exactly once,
//! and no GPU may be held twice at once. Who won each round, and how many ticks ran
//! meanwhile, go to stderr (shown with `--nocapture`).
#![allow(clippy::print_stderr)]

mod common;
#[path = "../../../tests/support/docker.rs"]
mod docker;

use std::io::{BufRead, BufReader, Write};
use std::path::Path;
use std::process::{Command, Stdio};
use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
use std::sync::{Arc, Barrier};
use std::time::{Duration, Instant};

use chrono::NaiveDateTime;
use common::{booking_body, booking_command, clock_env, sibling, t, Client, Dashboard, FAST_AUTH};
use hostinfo::schedule::{self, GpuSet, Row};

/// Clients of each kind in the race.
const RACERS: usize = 16;

/// Who holds GPUs 0, 1 and 2 from 2026-11-24 08:00 for three days: in those days GPU 3 is
/// the last free one.
const HOLDER: &str = "holder";

fn password(user: &str) -> String {
    format!("pw-{user}")
}

/// A lab of 4 GPUs, 64 CPUs and 256 GB at [`common::NOW`] for `users` (each with the
/// password `pw-ID`) and [`HOLDER`], whose one booking holds GPUs 0–2 from 2026-11-24 08:00
/// to 2026-11-27 08:00. Nothing runs, so a monitor tick has nothing to start or stop.
fn write_race_lab(dir: &Path, users: &[String]) {
    std::fs::create_dir_all(dir.join("cfg")).unwrap();
    std::fs::create_dir_all(dir.join("jobs")).unwrap();
    std::fs::write(
        dir.join("cfg/host_deploy.yaml"),
        "volume_work_dir: /w\nvolume_dataset_dir: /d\nvolume_backup_dir: /b\nusers_config_yaml: ./cfg/users_config.yaml\ncapability_config_yaml: ./cfg/capability_config.yaml\nimages: [img]\ntimezone: UTC\n",
    )
    .unwrap();
    let mut ids = vec![HOLDER.to_string()];
    ids.extend(users.iter().cloned());
    std::fs::write(
        dir.join("cfg/capability_config.yaml"),
        format!(
            "max:\n  cpus: 64\n  ram: 256\n  swap_size: 0\n  gpus: 4\n  backup_space: 100\n  work_space: 100\nallow_userIDs: [{}]\nmax_default_capability:\n  cpus: 16\n  memory: 64\n  gpus: 4\n",
            ids.join(", ")
        ),
    )
    .unwrap();
    let entries: String = ids
        .iter()
        .enumerate()
        .map(|(i, id)| {
            format!(
                "{id}:\n  password: {}\n  forward_port: {}\n  image: null\n  extra_command: null\n  volume_work_dir: /w/{id}\n  volume_dataset_dir: /d\n  volume_backup_dir: /b/{id}\n",
                password(id),
                10001 + i
            )
        })
        .collect();
    std::fs::write(dir.join("cfg/users_config.yaml"), entries).unwrap();
    let held = Row {
        start: t("2026-11-24 08:00:00"),
        end: t("2026-11-27 08:00:00"),
        user_id: HOLDER.into(),
        cpus: 1.0,
        memory: 1,
        gpus: GpuSet::new(vec![0, 1, 2]),
        forward_port: 10001,
        image: None,
        extra_command: None,
        node: None,
    };
    std::fs::write(dir.join("jobs/booking.csv"), schedule::to_bytes(&[held])).unwrap();
    std::fs::write(dir.join("jobs/using.csv"), schedule::HEADER_LINE).unwrap();
    std::fs::write(dir.join("jobs/used.csv"), schedule::HEADER_LINE).unwrap();
    std::fs::write(dir.join("jobs/monitor_exec"), "").unwrap();
}

/// The live rows (booked and running), read under the shared lock as every tool reads them.
fn live_rows(root: &Path) -> Vec<Row> {
    let root = hostinfo::Root::at(root);
    let lock = root.lock_shared().unwrap();
    let mut rows = Vec::new();
    for table in [hostinfo::Table::Using, hostinfo::Table::Booking] {
        rows.extend(root.read_schedule(table, &lock).unwrap().rows);
    }
    rows
}

/// Panics naming the two rows when any GPU is held by two rows at once.
fn assert_no_gpu_twice(rows: &[Row]) {
    for (i, a) in rows.iter().enumerate() {
        for b in &rows[i + 1..] {
            let shared: Vec<u32> = a
                .gpus
                .ids()
                .iter()
                .copied()
                .filter(|g| b.gpus.contains(*g))
                .collect();
            assert!(
                shared.is_empty() || !a.overlaps(b.start, b.end),
                "GPU {shared:?} is held twice:\n{a:?}\n{b:?}"
            );
        }
    }
}

/// `checker --root ROOT validate` at the tests' clock exits 0.
fn assert_valid(root: &Path) {
    let out = clock_env(&mut Command::new(sibling("checker")))
        .arg("--root")
        .arg(root)
        .arg("validate")
        .output()
        .unwrap();
    assert!(
        out.status.success(),
        "checker validate exited {:?}:\n{}{}",
        out.status.code(),
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
}

fn in_window(r: &Row, start: NaiveDateTime, end: NaiveDateTime) -> bool {
    r.start == start && r.end == end
}

#[test]
fn sixteen_web_clients_and_sixteen_cli_processes_race_for_the_last_gpu_and_one_wins() {
    let web: Vec<String> = (0..RACERS).map(|i| format!("web{i:02}")).collect();
    let cli: Vec<String> = (0..RACERS).map(|i| format!("cli{i:02}")).collect();
    let users: Vec<String> = web.iter().chain(&cli).cloned().collect();
    let lab = tempfile::tempdir().unwrap();
    write_race_lab(lab.path(), &users);
    let d = Arc::new(Dashboard::start_with(lab.path(), &[FAST_AUTH]));
    let sibling_built = sibling("booking");
    assert!(sibling_built.exists());

    // Three rounds, a day apart, each over a window in which GPU 3 alone is free. A CLI
    // process has its files read before its password comes, so at an even start it tends
    // to win: the later rounds give the web clients a head start of some milliseconds, so
    // that each side meets the other's row.
    for (round, (start, end, head_start)) in [
        ("2026-11-24 10:00", "2026-11-24 12:00", 0),
        ("2026-11-25 09:00", "2026-11-25 17:00", 40),
        ("2026-11-26 10:00", "2026-11-26 10:30", 10),
    ]
    .into_iter()
    .enumerate()
    {
        let clients: Vec<Client> = web
            .iter()
            .map(|u| Client::sign_in(&d, u, &password(u)))
            .collect();
        // The CLI processes start first and wait for their password on stdin.
        let mut children: Vec<_> = cli
            .iter()
            .map(|u| {
                let child = booking_command(
                    lab.path(),
                    u,
                    &[
                        "--cpus", "1", "--memory", "1", "--gpus", "1", "--start", start, "--end",
                        end,
                    ],
                )
                .stdin(Stdio::piped())
                .stdout(Stdio::piped())
                .stderr(Stdio::piped())
                .spawn()
                .unwrap();
                (u.clone(), child)
            })
            .collect();
        let gate = Arc::new(Barrier::new(RACERS + 1));
        let threads: Vec<_> = clients
            .into_iter()
            .map(|c| {
                let gate = gate.clone();
                let body = booking_body(1, start, end);
                std::thread::spawn(move || {
                    gate.wait();
                    let a = c.api("POST", "/api/v1/bookings", Some(&body));
                    (c.user, a)
                })
            })
            .collect();
        gate.wait();
        std::thread::sleep(Duration::from_millis(head_start));
        for (u, child) in &mut children {
            let mut stdin = child.stdin.take().unwrap();
            writeln!(stdin, "{}", password(u)).unwrap();
        }
        let mut wins = Vec::new();
        let mut odd = Vec::new();
        for h in threads {
            let (user, a) = h.join().unwrap();
            match a.status {
                201 => wins.push(format!("web {user}: {}", a.body)),
                409 => {}
                _ => odd.push(format!("web {user}: {} {}", a.status, a.body)),
            }
        }
        for (user, child) in children {
            let out = child.wait_with_output().unwrap();
            let stderr = String::from_utf8_lossy(&out.stderr).trim().to_string();
            match out.status.code() {
                Some(0) => wins.push(format!("cli {user}: {stderr}")),
                Some(1) => {}
                code => odd.push(format!("cli {user}: exit {code:?}: {stderr}")),
            }
        }
        assert!(
            odd.is_empty(),
            "round {round}: answers other than booked or refused:\n{}\n{}",
            odd.join("\n"),
            d.log_text()
        );
        assert_eq!(
            wins.len(),
            1,
            "round {round}: {} won the last GPU:\n{}",
            wins.len(),
            wins.join("\n")
        );

        let rows = live_rows(lab.path());
        let (start_t, end_t) = (t(&format!("{start}:00")), t(&format!("{end}:00")));
        let won: Vec<&Row> = rows
            .iter()
            .filter(|r| in_window(r, start_t, end_t))
            .collect();
        assert_eq!(won.len(), 1, "round {round}: rows in the window: {won:#?}");
        assert_eq!(won[0].gpus.ids(), [3], "round {round}: {:?}", won[0]);
        assert!(
            wins[0].contains(&won[0].user_id),
            "round {round}: the row is {}'s but {} won",
            won[0].user_id,
            wins[0]
        );
        assert_no_gpu_twice(&rows);
        assert_valid(lab.path());
        eprintln!("round {round}: {}", wins[0]);
    }
}

/// Runs `monitor --root ROOT` again and again until `stop`; counts the ticks that finished.
fn monitor_loop(root: &Path, stop: Arc<AtomicBool>, ticks: Arc<AtomicUsize>) -> Vec<String> {
    let monitor = sibling("monitor");
    let mut failures = Vec::new();
    while !stop.load(Ordering::SeqCst) {
        let out = clock_env(&mut Command::new(&monitor))
            .arg("--root")
            .arg(root)
            .output()
            .unwrap();
        if !out.status.success() {
            failures.push(format!(
                "monitor exited {:?}: {}",
                out.status.code(),
                String::from_utf8_lossy(&out.stderr)
            ));
        }
        ticks.fetch_add(1, Ordering::SeqCst);
    }
    failures
}

#[test]
fn web_bookings_and_cancels_while_the_monitor_ticks_are_neither_lost_nor_placed_twice() {
    docker::require_engine();
    let users: Vec<String> = (0..8).map(|i| format!("web{i:02}")).collect();
    let lab = tempfile::tempdir().unwrap();
    write_race_lab(lab.path(), &users);
    // Built before the clock starts: the first tick must not wait for cargo.
    sibling("monitor");
    sibling("checker");
    let d = Dashboard::start_with(lab.path(), &[FAST_AUTH]);
    let clients: Vec<Client> = users
        .iter()
        .map(|u| Client::sign_in(&d, u, &password(u)))
        .collect();

    let stop = Arc::new(AtomicBool::new(false));
    let ticks = Arc::new(AtomicUsize::new(0));
    let looping = {
        let (root, stop, ticks) = (lab.path().to_path_buf(), stop.clone(), ticks.clone());
        std::thread::spawn(move || monitor_loop(&root, stop, ticks))
    };
    while ticks.load(Ordering::SeqCst) == 0 {
        std::thread::sleep(Duration::from_millis(10));
    }

    // Rounds of 8 clients for the 4 GPUs of one window (2 hours, on 2026-11-28) until the
    // monitor has finished 3 ticks during them; each round, last round's winners cancel.
    let ticks_before = ticks.load(Ordering::SeqCst);
    let mut booked: Vec<(String, String, Vec<u32>)> = Vec::new();
    let mut cancelled: Vec<(String, String)> = Vec::new();
    let mut round = 0;
    while round < 4 || (ticks.load(Ordering::SeqCst) < ticks_before + 3 && round < 12) {
        let start = format!("2026-11-28 {:02}:00", 2 * round);
        let end = format!("2026-11-28 {:02}:00", 2 * round + 2);
        let gate = Arc::new(Barrier::new(clients.len()));
        let last: Vec<(String, String)> = booked
            .iter()
            .filter(|(_, s, _)| {
                round > 0 && *s == format!("2026-11-28 {:02}:00:00", 2 * (round - 1))
            })
            .map(|(u, s, _)| (u.clone(), s.clone()))
            .collect();
        let threads: Vec<_> = clients
            .iter()
            .cloned()
            .map(|c| {
                let (gate, start, end) = (gate.clone(), start.clone(), end.clone());
                let mine = last
                    .iter()
                    .find(|(u, _)| *u == c.user)
                    .map(|(_, s)| s.clone());
                std::thread::spawn(move || {
                    gate.wait();
                    let a = c.api(
                        "POST",
                        "/api/v1/bookings",
                        Some(&booking_body(1, &start, &end)),
                    );
                    let gone = mine.map(|s| {
                        // In the CLI's format: the API's own (with seconds) is refused,
                        // which web_security.rs holds against it.
                        let path =
                            format!("/api/v1/bookings?start={}", common::url_encode(&s[..16]));
                        (s, c.api("DELETE", &path, None))
                    });
                    (c.user, a, gone)
                })
            })
            .collect();
        let mut winners = 0;
        for h in threads {
            let (user, a, gone) = h.join().unwrap();
            match a.status {
                201 => {
                    winners += 1;
                    let v = a.json();
                    let gpus = v["gpus"]
                        .as_array()
                        .unwrap()
                        .iter()
                        .map(|g| g.as_u64().unwrap() as u32)
                        .collect();
                    let start = v["booking"]["start"].as_str().unwrap().to_string();
                    booked.push((user.clone(), start, gpus));
                }
                409 => {}
                other => panic!(
                    "round {round}: {user} got {other}: {}\n{}",
                    a.body,
                    d.log_text()
                ),
            }
            if let Some((s, g)) = gone {
                assert_eq!(
                    g.status, 200,
                    "round {round}: {user} cancelling {s}: {}",
                    g.body
                );
                cancelled.push((user, s));
            }
        }
        assert_eq!(winners, 4, "round {round}: 4 GPUs, {winners} bookings");
        round += 1;
    }
    let during = ticks.load(Ordering::SeqCst) - ticks_before;
    stop.store(true, Ordering::SeqCst);
    let failures = looping.join().unwrap();
    assert!(failures.is_empty(), "{}", failures.join("\n"));
    assert!(
        during >= 1,
        "no monitor tick finished while {round} rounds booked"
    );

    let rows = live_rows(lab.path());
    for (user, start, gpus) in &booked {
        let found: Vec<&Row> = rows
            .iter()
            .filter(|r| r.user_id == *user && schedule::format_time(r.start) == *start)
            .collect();
        let expected = usize::from(!cancelled.contains(&(user.clone(), start.clone())));
        assert_eq!(
            found.len(),
            expected,
            "{user}'s booking at {start} (GPUs {gpus:?}) is in the files {} times: {found:#?}",
            found.len()
        );
        if let Some(r) = found.first() {
            assert_eq!(r.gpus.ids(), gpus.as_slice(), "{user} at {start}");
        }
    }
    let ours = rows.iter().filter(|r| r.user_id != HOLDER).count();
    assert_eq!(
        ours,
        booked.len() - cancelled.len(),
        "rows nobody was told of: {rows:#?}"
    );
    assert_no_gpu_twice(&rows);
    assert_valid(lab.path());
    eprintln!(
        "{round} rounds: {} booked, {} cancelled, {during} monitor ticks finished meanwhile",
        booked.len(),
        cancelled.len()
    );
}

#[test]
fn a_web_booking_waits_while_another_process_holds_the_lock_and_then_lands_once() {
    let lab = tempfile::tempdir().unwrap();
    write_race_lab(lab.path(), &["web00".to_string(), "web01".to_string()]);
    let d = Dashboard::start_with(lab.path(), &[FAST_AUTH]);
    let web = Client::sign_in(&d, "web00", &password("web00"));
    let mut holder = Command::new("flock")
        .arg(lab.path().join("jobs/.lock"))
        .args(["-c", "echo held; sleep 2"])
        .stdout(Stdio::piped())
        .spawn()
        .expect("flock (util-linux) runs");
    let mut line = String::new();
    BufReader::new(holder.stdout.take().unwrap())
        .read_line(&mut line)
        .unwrap();
    assert_eq!(line.trim(), "held");
    let started = Instant::now();
    let a = web.api(
        "POST",
        "/api/v1/bookings",
        Some(&booking_body(1, "2026-11-24 10:00", "2026-11-24 12:00")),
    );
    let waited = started.elapsed();
    assert!(holder.wait().unwrap().success());
    a.expect_status(201);
    assert!(
        waited >= Duration::from_millis(1500),
        "the booking did not wait for the lock: {waited:?}"
    );
    assert_eq!(a.json()["gpus"], serde_json::json!([3]), "{}", a.body);
    let rows = live_rows(lab.path());
    let mine: Vec<&Row> = rows.iter().filter(|r| r.user_id == "web00").collect();
    assert_eq!(mine.len(), 1, "{rows:#?}");
    assert_no_gpu_twice(&rows);
    assert_valid(lab.path());
}
