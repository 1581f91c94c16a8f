//! Sixteen students book the last free GPU at the same moment through the non-interactive
//! path: the check, the GPU choice and the write share one exclusive lock, so exactly one
//! gets it and booking.csv gains exactly one row. The same holds for a group's last GPU
//! while the host still has free ones: one member wins, and other groups are unaffected.

mod common;

use std::path::Path;
use std::process::{Command, Output};

const RACERS: usize = 16;

/// Adds `ids` to `allow_userIDs` (after dave) and to the users file, passwords `pw-<id>`.
fn add_racers(p: &Path, ids: &[String]) {
    let cap = std::fs::read_to_string(p.join("cfg/capability_config.yaml")).unwrap();
    let listed: String = ids.iter().map(|id| format!("  - {id}\n")).collect();
    std::fs::write(
        p.join("cfg/capability_config.yaml"),
        cap.replace("  - dave\n", &format!("  - dave\n{listed}")),
    )
    .unwrap();
    let mut users = std::fs::read_to_string(p.join("cfg/users_config.yaml")).unwrap();
    for (i, id) in ids.iter().enumerate() {
        users.push_str(&format!(
            "{id}:\n  password: pw-{id}\n  forward_port: {}\n  image: null\n  extra_command: null\n  volume_work_dir: /w/{id}\n  volume_dataset_dir: /d\n  volume_backup_dir: /b/{id}\n",
            10100 + i
        ));
    }
    std::fs::write(p.join("cfg/users_config.yaml"), users).unwrap();
}

/// Starts `booking --yes` for each of `ids` (1 cpu, 1 GB, 1 GPU over `window`) before any
/// of them gets its password, so they all run at once; their outputs in the order of `ids`.
fn race(p: &Path, ids: &[String], window: [&str; 2]) -> Vec<Output> {
    let mut children: Vec<_> = ids
        .iter()
        .map(|id| {
            common::process::spawn_piped(
                Command::new(env!("CARGO_BIN_EXE_booking"))
                    .arg("--root")
                    .arg(p)
                    .args([
                        "--yes",
                        "--password-stdin",
                        "--user-id",
                        id,
                        "--cpus",
                        "1",
                        "--memory",
                        "1",
                        "--gpus",
                        "1",
                    ])
                    .args(["--start", window[0], "--end", window[1]])
                    .env("AIVC_NOW", common::NOW)
                    .env("AIVC_AUTH_DELAY_MS", "0")
                    .env_remove("AIVC_ROOT"),
            )
        })
        .collect();
    for (child, id) in children.iter_mut().zip(ids) {
        common::process::feed(child, format!("pw-{id}\n").as_bytes());
    }
    children
        .into_iter()
        .map(|c| c.wait_with_output().unwrap())
        .collect()
}

#[test]
fn sixteen_processes_race_for_the_last_gpu_and_exactly_one_wins() {
    let root = common::root_from("lab");
    let p = root.path();
    // Sixteen more users, each allowed one GPU.
    let ids: Vec<String> = (0..RACERS).map(|i| format!("racer{i:02}")).collect();
    add_racers(p, &ids);
    // GPU 0 is taken on the 23rd: GPU 1 is the last one free.
    let mut rows = std::fs::read_to_string(p.join("jobs/booking.csv")).unwrap();
    rows.push_str("2026-11-23 08:00:00,2026-11-23 12:00:00,alice,1.0,1,[0],10001,,\n");
    std::fs::write(p.join("jobs/booking.csv"), &rows).unwrap();
    let before = rows.lines().count();

    let outputs = race(p, &ids, ["2026-11-23 09:00", "2026-11-23 10:00"]);

    let winners: Vec<_> = outputs
        .iter()
        .filter(|o| o.status.code() == Some(0))
        .collect();
    assert_eq!(winners.len(), 1, "exactly one booking succeeds");
    for o in outputs.iter().filter(|o| o.status.code() != Some(0)) {
        assert_eq!(o.status.code(), Some(1), "{}", common::stderr(o));
        let err = common::stderr(o);
        assert!(
            err.contains("not enough gpus") || err.contains("GPU(s) free for the whole window"),
            "{err}"
        );
    }
    let after = std::fs::read_to_string(p.join("jobs/booking.csv")).unwrap();
    assert_eq!(after.lines().count(), before + 1, "{after}");
    let won = common::stdout(winners[0]);
    assert!(won.contains(",[1],"), "the winner got GPU 1: {won}");
    assert!(after.contains(won.trim_end()));
}

/// The capability config of the group race: a host of 8 GPUs; `phd` (alice, bob and the
/// sixteen racers) shares 3, `staff` (carol and dave) shares 4.
fn group_capability(racers: &[String]) -> String {
    format!(
        "max:\n  cpus: 64\n  ram: 256\n  swap_size: 0\n  gpus: 8\n  memory: ram + swap_size\n  backup_space: 100\n  work_space: 400\n\
         allow_userIDs: [alice, bob, carol, dave, {ids}]\n\
         max_default_capability:\n  cpus: 8\n  memory: 32\n  gpus: 1\n\
         groups:\n  phd:\n    members: [alice, bob, {ids}]\n    total: {{gpus: 3}}\n    policies: {{max_active_bookings: 2}}\n  \
         staff:\n    members: [carol, dave]\n    total: {{gpus: 4}}\n\
         policies:\n  max_active_bookings: 3\n  max_hours_per_booking: 72\n  max_gpu_hours_ahead: 96\n  max_days_ahead: 14\n",
        ids = racers.join(", ")
    )
}

#[test]
fn sixteen_members_race_for_their_groups_last_gpu_one_wins_and_other_groups_still_book() {
    let root = common::root_from("lab");
    let p = root.path();
    let ids: Vec<String> = (0..RACERS).map(|i| format!("phd{i:02}")).collect();
    add_racers(p, &ids);
    std::fs::write(p.join("cfg/capability_config.yaml"), group_capability(&ids)).unwrap();
    // dave signs up, so that he can book after the race.
    let mut users = std::fs::read_to_string(p.join("cfg/users_config.yaml")).unwrap();
    users.push_str("dave:\n  password: pw-dave\n  forward_port: 10099\n  image: null\n  extra_command: null\n  volume_work_dir: /w/dave\n  volume_dataset_dir: /d\n  volume_backup_dir: /b/dave\n");
    std::fs::write(p.join("cfg/users_config.yaml"), users).unwrap();
    // On the 23rd alice and bob hold 2 of phd's 3 GPUs, and carol 1 of staff's 4: the host
    // has 5 GPUs free, phd one.
    let mut rows = std::fs::read_to_string(p.join("jobs/booking.csv")).unwrap();
    rows.push_str(
        "2026-11-23 08:00:00,2026-11-23 12:00:00,alice,1.0,1,[0],10001,,\n\
         2026-11-23 08:00:00,2026-11-23 12:00:00,bob,1.0,1,[1],10002,,\n\
         2026-11-23 08:00:00,2026-11-23 12:00:00,carol,1.0,1,[2],10003,,\n",
    );
    std::fs::write(p.join("jobs/booking.csv"), &rows).unwrap();
    let before = rows.lines().count();
    let window = ["2026-11-23 09:00", "2026-11-23 10:00"];

    let outputs = race(p, &ids, window);

    let winners: Vec<&Output> = outputs
        .iter()
        .filter(|o| o.status.code() == Some(0))
        .collect();
    assert_eq!(winners.len(), 1, "exactly one member gets phd's last GPU");
    for o in outputs.iter().filter(|o| o.status.code() != Some(0)) {
        let err = common::stderr(o);
        assert_eq!(o.status.code(), Some(1), "{err}");
        assert!(
            err.contains("booking: group phd already holds 3 of its 3 GPUs from 09:00 to 10:00 on Mon 2026-11-23"),
            "refused by the group's total, not the host: {err}"
        );
    }
    let after = std::fs::read_to_string(p.join("jobs/booking.csv")).unwrap();
    assert_eq!(after.lines().count(), before + 1, "{after}");
    let won = common::stdout(winners[0]);
    assert!(after.contains(won.trim_end()), "{after}");
    assert!(
        won.contains(",[3],"),
        "the winner got the lowest free GPU: {won}"
    );

    // staff is unaffected: dave books a GPU in the same hour.
    let out = common::booking(
        p,
        &[
            "--yes",
            "--password-stdin",
            "--user-id",
            "dave",
            "--cpus",
            "1",
            "--memory",
            "1",
            "--gpus",
            "1",
            "--start",
            window[0],
            "--end",
            window[1],
        ],
        "pw-dave\n",
    );
    assert_eq!(out.status.code(), Some(0), "{}", common::stderr(&out));

    // The files are consistent: no scope over, no GPU held twice, nothing the checker calls
    // an error.
    let snapshot = checker::Snapshot::load(hostinfo::Root::at(p)).unwrap();
    let errors: Vec<_> = checker::problems::find(&snapshot)
        .into_iter()
        .filter(|pr| pr.severity == checker::problems::Severity::Error)
        .collect();
    assert!(errors.is_empty(), "{errors:#?}");
    let rows: Vec<_> = snapshot.rows.iter().map(|tr| &tr.row).collect();
    assert!(checker::capacity::all_over(
        &snapshot.config.capability,
        snapshot.config.cluster.as_ref(),
        rows.iter().copied(),
    )
    .is_empty());
}
