//! Every class of bad input: `checker validate` names the file, line and field in one
//! line on stderr, exits 2, and leaves every file exactly as it was.

mod common;

use std::path::Path;
use std::process::{Command, Output};

fn validate(root: &Path, envs: &[(&str, &str)]) -> Output {
    Command::new(env!("CARGO_BIN_EXE_checker"))
        .current_dir(root)
        .args(["--root", ".", "validate"])
        .envs(envs.iter().copied())
        .output()
        .unwrap()
}

/// Copies the lab root, lays the case's files over it, removes what its `remove` lists.
fn prepare(case: &Path) -> tempfile::TempDir {
    let root = common::root_from("lab");
    for (rel, bytes) in common::tree(case) {
        let name = rel.to_str().unwrap();
        if name == "expected" || name == "remove" {
            continue;
        }
        std::fs::write(root.path().join(&rel), bytes).unwrap();
    }
    if let Ok(list) = std::fs::read_to_string(case.join("remove")) {
        for rel in list.lines() {
            std::fs::remove_file(root.path().join(rel)).unwrap();
        }
    }
    root
}

#[test]
fn the_lab_fixture_itself_is_valid() {
    let root = common::root_from("lab");
    let out = validate(root.path(), &[]);
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
}

#[test]
fn each_bad_input_gets_its_one_line_error_exit_2_and_no_change() {
    let cases = common::fixtures().join("bad-input");
    let mut seen = 0;
    for entry in std::fs::read_dir(&cases).unwrap() {
        let case = entry.unwrap().path();
        if !case.join("expected").exists() {
            continue;
        }
        seen += 1;
        let root = prepare(&case);
        let before = common::tree(root.path());
        let out = validate(root.path(), &[]);
        let name = case.file_name().unwrap().to_string_lossy();
        assert_eq!(out.status.code(), Some(2), "{name}");
        assert_eq!(
            String::from_utf8_lossy(&out.stderr),
            std::fs::read_to_string(case.join("expected")).unwrap(),
            "{name}"
        );
        assert!(out.stdout.is_empty(), "{name}: stdout is for data");
        assert_eq!(common::tree(root.path()), before, "{name}: a file changed");
    }
    assert!(seen >= 14, "only {seen} bad-input cases found");
}

#[test]
fn a_lock_held_by_another_process_is_a_clear_error_not_a_hang() {
    let root = common::root_from("lab");
    let jobs = root.path().join("jobs");
    let mut holder = Command::new("flock")
        .arg("-x")
        .arg(jobs.join(".lock"))
        .args([
            "sh",
            "-c",
            &format!("touch '{}'; sleep 3", jobs.join("held").display()),
        ])
        .spawn()
        .expect("flock(1) from util-linux is needed");
    while !jobs.join("held").exists() {
        std::thread::sleep(std::time::Duration::from_millis(10));
    }
    let before = common::tree(root.path());
    let out = validate(root.path(), &[("AIVC_LOCK_TIMEOUT", "0.3")]);
    assert_eq!(out.status.code(), Some(2));
    assert_eq!(
        String::from_utf8_lossy(&out.stderr),
        "checker: error: ./jobs/.lock: lock not taken within 0.3 s: held by another process; is a monitor tick or a booking stuck?\n"
    );
    assert_eq!(common::tree(root.path()), before);
    holder.wait().unwrap();
}

#[test]
fn a_root_that_is_not_a_folder_is_refused() {
    let out = Command::new(env!("CARGO_BIN_EXE_checker"))
        .args(["--root", "/nonexistent/aivc", "validate"])
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(2));
    assert_eq!(
        String::from_utf8_lossy(&out.stderr),
        "checker: error: /nonexistent/aivc: root is not a folder (give --root DIR or set AIVC_ROOT)\n"
    );
}
