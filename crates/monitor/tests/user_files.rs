//! A tick over users' files shaped to stall or leak it: `backup.yaml` as a FIFO, as a link
//! to `/dev/zero` or to a secret, deeply nested. The tick (which starts the container
//! through the real `run-container`) finishes within its bound and the log quotes nothing.
//! Run from `/`, as systemd runs it, with the fixture's relative volume folders.

mod common;

use std::path::Path;
use std::process::{Command, Stdio};
use std::time::Duration;

use wait_timeout::ChildExt;

const HEADER: &str = "start,end,user_id,cpus,memory,gpus,forward_port,image,extra_command\n";

#[test]
fn a_tick_over_hostile_backup_yaml_files_finishes_starts_everyone_and_quotes_nothing() {
    let lab = common::Lab::new(None);
    let secret = lab.path().join("secret.key");
    std::fs::write(&secret, "Dir: TOPSECRET-KEY-MATERIAL\n").unwrap();
    let users = [
        ("fifo", 10011),
        ("zero", 10012),
        ("secret", 10013),
        ("deep", 10014),
    ];
    let mut rows = String::from(HEADER);
    for (id, port) in users {
        lab.add_user(id, port);
        rows.push_str(&format!(
            "2026-11-23 10:00:00,2026-11-23 12:00:00,{id},1.0,1,[],{port},,\n"
        ));
        let backup = lab.path().join("vol/backup").join(id);
        std::fs::create_dir_all(&backup).unwrap();
        let yaml = backup.join("backup.yaml");
        match id {
            "fifo" => assert!(Command::new("mkfifo")
                .arg(&yaml)
                .status()
                .unwrap()
                .success()),
            "zero" => std::os::unix::fs::symlink("/dev/zero", &yaml).unwrap(),
            "secret" => std::os::unix::fs::symlink(&secret, &yaml).unwrap(),
            _ => std::fs::write(&yaml, "[".repeat(60_000)).unwrap(),
        }
    }
    std::fs::write(lab.path().join("jobs/booking.csv"), rows).unwrap();

    let mut cmd = lab.monitor_command(common::NOW, &[], &[]);
    let mut child = cmd
        .current_dir(Path::new("/"))
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    let limit = Duration::from_secs(60);
    if child.wait_timeout(limit).unwrap().is_none() {
        let _ = child.kill();
        let _ = child.wait();
        panic!("the tick did not finish within {limit:?}: it blocked on a user's file");
    }
    let out = child.wait_with_output().unwrap();
    assert_eq!(out.status.code(), Some(0), "{out:?}");
    let log = lab.file("jobs/monitor.log");
    assert!(
        !log.contains("TOPSECRET"),
        "the log quotes a user's file:\n{log}"
    );
    for (id, _) in users {
        assert!(
            log.contains(&format!("{id}'s backup entry `backup.yaml` refused")),
            "{id}: {log}"
        );
        assert!(
            log.contains(&format!("{id} is successfully run the container.")),
            "{id}: {log}"
        );
    }
    let using = lab.file("jobs/using.csv");
    assert_eq!(using.lines().count(), 1 + users.len(), "{using}");
}
