//! Sixteen students book the last free GPU at the same moment through the non-interactive
//! path: the check, the GPU choice and the write share one exclusive lock, so exactly one
//! gets it and booking.csv gains exactly one row.

mod common;

use std::process::Command;

const RACERS: usize = 16;

#[test]
fn sixteen_processes_race_for_the_last_gpu_and_exactly_one_wins() {
    let root = common::root_from("lab");
    let p = root.path();
    // Sixteen more users, each allowed one GPU.
    let ids: Vec<String> = (0..RACERS).map(|i| format!("racer{i:02}")).collect();
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
    // GPU 0 is taken on the 23rd: GPU 1 is the last one free.
    let mut rows = std::fs::read_to_string(p.join("jobs/booking.csv")).unwrap();
    rows.push_str("2026-11-23 08:00:00,2026-11-23 12:00:00,alice,1.0,1,[0],10001,,\n");
    std::fs::write(p.join("jobs/booking.csv"), &rows).unwrap();
    let before = rows.lines().count();

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
                    .args(["--start", "2026-11-23 09:00", "--end", "2026-11-23 10:00"])
                    .env("AIVC_NOW", common::NOW),
            )
        })
        .collect();
    // Every process is started before any gets its password, so they all run at once.
    for (child, id) in children.iter_mut().zip(&ids) {
        common::process::feed(
            child,
            format!(
                "pw-{id}
"
            )
            .as_bytes(),
        );
    }
    let outputs: Vec<_> = children
        .into_iter()
        .map(|c| c.wait_with_output().unwrap())
        .collect();

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
