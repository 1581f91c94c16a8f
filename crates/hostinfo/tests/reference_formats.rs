//! A lab moving from the Python version points the new tools at its files unchanged: every
//! sample under `shared/reference/original-formats/` must load, and the schedule files must
//! be written back byte for byte. The samples are copied into a temp root at test time.

use std::path::{Path, PathBuf};

use hostinfo::config::{BackupSpec, CapabilityConfig, HostDeploy, UsersConfig};
use hostinfo::{schedule, LiveTable, Root, Table};

fn reference() -> PathBuf {
    let dir =
        Path::new(env!("CARGO_MANIFEST_DIR")).join("../../../shared/reference/original-formats");
    assert!(
        dir.is_dir(),
        "the reference samples are missing at {}: CI clones the project with shared/ beside it",
        dir.display()
    );
    dir
}

fn copy(from: &Path, to: &Path) {
    std::fs::create_dir_all(to.parent().unwrap()).unwrap();
    std::fs::copy(from, to).unwrap();
}

#[test]
fn every_original_config_sample_loads() {
    let r = reference();
    for dir in ["example", "templates"] {
        HostDeploy::load(&r.join(dir).join("host_deploy.yaml")).unwrap();
        CapabilityConfig::load(&r.join(dir).join("capability_config.yaml")).unwrap();
        UsersConfig::load(&r.join(dir).join("users_config.yaml")).unwrap();
    }
    let backup = BackupSpec::load(&r.join("templates/backup.yaml")).unwrap();
    assert_eq!(backup.dirs.len(), 6);
    assert_eq!(backup.files.len(), 5);
    assert!(backup
        .dirs
        .iter()
        .all(|(rel, abs)| rel.is_relative() && abs.is_absolute()));
}

#[test]
fn the_example_installation_loads_through_its_own_relative_paths() {
    let r = reference();
    let root = tempfile::tempdir().unwrap();
    copy(
        &r.join("example/host_deploy.yaml"),
        &root.path().join("cfg/host_deploy.yaml"),
    );
    for f in ["users_config.yaml", "capability_config.yaml"] {
        copy(
            &r.join("example").join(f),
            &root.path().join("cfg/example").join(f),
        );
    }
    let config = Root::at(root.path()).load_config().unwrap();
    assert_eq!(config.capability.max.memory, 40.0);
    assert_eq!(config.capability.max.shm_rate, 0.75);
    assert_eq!(config.capability.allow_user_ids.len(), 4);
    assert_eq!(config.users.get("m11007s05").unwrap().forward_port, 10001);
    assert_eq!(config.host.default_image(), "rober5566a/aivc-server:latest");
    // A custom entry with only a comment falls back to the defaults.
    assert!(config
        .capability
        .custom_limits
        .get("m11007s05-1")
        .unwrap()
        .gpus
        .is_none());
}

#[test]
fn schedule_samples_are_written_back_byte_for_byte() {
    let r = reference().join("jobs-sample");
    let root = tempfile::tempdir().unwrap();
    for t in [Table::Booking, Table::Using, Table::Used] {
        copy(
            &r.join(t.file_name()),
            &root.path().join("jobs").join(t.file_name()),
        );
    }
    let root = Root::at(root.path());
    let lock = root.lock_exclusive("test").unwrap();
    for (table, live) in [
        (Table::Booking, LiveTable::Booking),
        (Table::Using, LiveTable::Using),
    ] {
        let before = std::fs::read(root.schedule_path(table)).unwrap();
        let s = root.read_schedule_strict(table, &lock).unwrap();
        assert!(s.rows.len() >= 20, "{table:?} has {} rows", s.rows.len());
        root.write_schedule(live, &s.rows, &lock).unwrap();
        let after = std::fs::read(root.schedule_path(table)).unwrap();
        assert_eq!(
            String::from_utf8(after).unwrap(),
            String::from_utf8(before).unwrap()
        );
    }
    // used.csv is only ever appended to: its existing bytes stay a prefix.
    let before = std::fs::read(root.schedule_path(Table::Used)).unwrap();
    let used = root.read_schedule(Table::Used, &lock).unwrap();
    assert_eq!(schedule::to_bytes(&used.rows), before);
    root.append_used(&used.rows[..1], &lock).unwrap();
    let after = std::fs::read(root.schedule_path(Table::Used)).unwrap();
    assert!(after.starts_with(&before));
    assert_eq!(
        root.read_schedule(Table::Used, &lock).unwrap().rows.len(),
        used.rows.len() + 1
    );
}

#[test]
fn the_template_schedule_is_an_empty_schedule() {
    let s = schedule::read(&reference().join("templates/schedule.csv")).unwrap();
    assert!(s.rows.is_empty());
    assert_eq!(
        schedule::to_bytes(&s.rows),
        std::fs::read(reference().join("templates/schedule.csv")).unwrap()
    );
}
