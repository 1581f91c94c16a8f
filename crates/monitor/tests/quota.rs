//! The disk-quota check of a tick against folders shaped to slip past it: data below a path
//! longer than PATH_MAX, and a folder too large to measure in the time allowed.

mod common;

use std::ffi::OsStr;

use userfs::Dir;

const HEADER: &str = "start,end,user_id,cpus,memory,gpus,forward_port,image,extra_command\n";

/// A root where `user` has a booking due now (at [`common::NOW`]).
fn due_booking(lab: &common::Lab, user: &str, port: u16) -> String {
    let row = format!("2026-11-23 10:00:00,2026-11-23 12:00:00,{user},1.0,1,[],{port},,\n");
    std::fs::write(
        lab.path().join("jobs/booking.csv"),
        format!("{HEADER}{row}"),
    )
    .unwrap();
    row
}

fn containers(lab: &common::Lab) -> Vec<String> {
    std::fs::read_dir(lab.state())
        .unwrap()
        .map(|e| e.unwrap().file_name().into_string().unwrap())
        .collect()
}

fn waited(lab: &common::Lab, user: &str, row: &str) {
    assert!(lab.file("jobs/booking.csv").ends_with(row), "booking.csv");
    assert!(!lab.file("jobs/using.csv").contains(user), "using.csv");
    assert!(!lab.docker_log().contains("run "), "{}", lab.docker_log());
    assert!(containers(lab).is_empty());
}

/// Regression: a path-based walk got ENAMETOOLONG below PATH_MAX and counted nothing
/// there, so any amount of data hidden that deep started the booking anyway.
#[test]
fn data_below_a_path_longer_than_path_max_counts_against_the_quota() {
    let lab = common::Lab::new(None);
    lab.add_user("erin", 10005);
    let cap = lab.path().join("cfg/capability_config.yaml");
    let text = std::fs::read_to_string(&cap).unwrap().replace(
        "max_custom_capability:\n",
        "max_custom_capability:\n  erin:\n    work_space: 0.005  # about 5 MB\n",
    );
    std::fs::write(cap, text).unwrap();
    let row = due_booking(&lab, "erin", 10005);

    // 40 folders of 200-character names: a path of over 8000 bytes, twice PATH_MAX.
    let work = Dir::open_or_create(&lab.path().join("vol/work/erin")).unwrap();
    let name = "h".repeat(200);
    let mut dir = work.create_dir(OsStr::new(&name), 0o755).unwrap();
    for _ in 1..40 {
        dir = dir.create_dir(OsStr::new(&name), 0o755).unwrap();
    }
    assert!(dir.path().as_os_str().len() > 8000);
    let hidden = vec![7u8; 8 << 20];
    assert!(dir
        .create_file(OsStr::new("hidden"), &hidden, 0o644)
        .unwrap());
    drop(dir);

    let out = lab.monitor(common::NOW, &[], &[]);
    assert_eq!(out.status.code(), Some(0), "{out:?}");
    let log = lab.file("jobs/monitor.log");
    assert!(
        log.contains(
            "[WARNING] SpaceWarning, erin is over-use the work_dir 1GB, and backup_dir 0GB."
        ),
        "{log}"
    );
    assert!(
        !log.contains(&name),
        "the log quotes a name from the user's folder: {log}"
    );
    waited(&lab, "erin", &row);
    work.remove_all(OsStr::new(&name)).unwrap();
}

/// Regression: a walk that ran out of time counted as zero bytes, so a folder too large to
/// measure started the booking whatever it held.
#[test]
fn a_folder_not_measured_in_time_counts_as_over_and_the_booking_waits() {
    let lab = common::Lab::new(None);
    let row = due_booking(&lab, "alice", 10001);
    // Far within alice's 1 GB: only the time allowed can hold the booking back.
    let work = lab.path().join("vol/work/alice");
    for d in 0..20 {
        std::fs::create_dir_all(work.join(d.to_string())).unwrap();
        for f in 0..50 {
            std::fs::write(work.join(format!("{d}/{f}")), "x").unwrap();
        }
    }

    let out = lab.monitor(common::NOW, &[], &[("AIVC_QUOTA_SECONDS", "0")]);
    assert_eq!(out.status.code(), Some(0), "{out:?}");
    assert_eq!(
        lab.file("jobs/monitor.log"),
        "20261123 10:00 [WARNING] SpaceWarning, alice's work_dir could not be measured (not measured within 0 s); counted as over the quota, the booking waits.\n"
    );
    waited(&lab, "alice", &row);

    // Given the usual time, the same folder is measured and the booking starts.
    let out = lab.monitor(common::NOW, &[], &[]);
    assert_eq!(out.status.code(), Some(0), "{out:?}");
    assert!(lab.file("jobs/using.csv").contains("alice"));
    assert!(lab
        .file("jobs/monitor.log")
        .ends_with("alice is successfully run the container.\n"));
}

/// The kept backup entries (root's copy of `.ssh`, caches, …) are the user's backup data:
/// they count with the backup folder, or moving data into an entry would escape the quota.
#[test]
fn kept_backup_entries_count_with_the_backup_folder() {
    let lab = common::Lab::new(None);
    lab.add_user("erin", 10005);
    let cap = lab.path().join("cfg/capability_config.yaml");
    let text = std::fs::read_to_string(&cap).unwrap().replace(
        "max_custom_capability:\n",
        "max_custom_capability:\n  erin:\n    backup_space: 0.005  # about 5 MB\n",
    );
    std::fs::write(cap, text).unwrap();
    let row = due_booking(&lab, "erin", 10005);
    let slot = lab.path().join("kept/erin/.home%2F.cache");
    std::fs::create_dir_all(&slot).unwrap();
    std::fs::write(slot.join("big"), vec![1u8; 8 << 20]).unwrap();

    let out = lab.monitor(common::NOW, &[], &[]);
    assert_eq!(out.status.code(), Some(0), "{out:?}");
    let log = lab.file("jobs/monitor.log");
    assert!(
        log.contains(
            "[WARNING] SpaceWarning, erin is over-use the work_dir 0GB, and backup_dir 1GB."
        ),
        "{log}"
    );
    waited(&lab, "erin", &row);
}
