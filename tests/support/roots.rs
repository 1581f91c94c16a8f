//! Test support shared by the crates' tests (included with `#[path]`): fixture roots copied
//! into temp dirs, and a snapshot of every file in a tree so a test can prove nothing changed.
#![allow(dead_code)]

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

/// The shared fixtures folder (`tests/fixtures` at the workspace top).
pub fn fixtures() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("../../tests/fixtures")
}

/// The Python version's format samples: the originals in `../shared/reference` when that
/// folder lies beside the clone, else the project's own (`tests/fixtures/python-reference`).
/// Which one is used is written once to stderr, past the test harness's capture, so a run
/// without the originals says so.
pub fn reference() -> PathBuf {
    use std::io::Write;
    static SAID: std::sync::Once = std::sync::Once::new();
    let shared =
        Path::new(env!("CARGO_MANIFEST_DIR")).join("../../../shared/reference/original-formats");
    let (dir, note) = if shared.is_dir() {
        (
            shared,
            "the Python version's own samples (../shared/reference)",
        )
    } else {
        (
            fixtures().join("python-reference"),
            "NOTE: ../shared/reference is not beside this clone; the format tests read the project's own samples in that format (tests/fixtures/python-reference)",
        )
    };
    SAID.call_once(|| {
        let _ = writeln!(std::io::stderr(), "format samples: {note}");
    });
    dir
}

/// A temp copy of `tests/fixtures/roots/<name>`; the copy is the root.
pub fn root_from(name: &str) -> tempfile::TempDir {
    let dir = tempfile::tempdir().unwrap();
    let options = fs_extra::dir::CopyOptions::new().content_only(true);
    fs_extra::dir::copy(fixtures().join("roots").join(name), dir.path(), &options).unwrap();
    // As scripts/setup.sh leaves it: the users file is its owner's alone.
    let users = dir.path().join("cfg/users_config.yaml");
    if users.exists() {
        use std::os::unix::fs::PermissionsExt;
        std::fs::set_permissions(&users, std::fs::Permissions::from_mode(0o600)).unwrap();
    }
    dir
}

/// A temp root holding the Python version's example config and sample schedule.
pub fn reference_root() -> tempfile::TempDir {
    let r = reference();
    let dir = tempfile::tempdir().unwrap();
    let copy = |from: PathBuf, to: &str| {
        let to = dir.path().join(to);
        std::fs::create_dir_all(to.parent().unwrap()).unwrap();
        std::fs::copy(from, to).unwrap();
    };
    copy(r.join("example/host_deploy.yaml"), "cfg/host_deploy.yaml");
    copy(
        r.join("example/users_config.yaml"),
        "cfg/example/users_config.yaml",
    );
    copy(
        r.join("example/capability_config.yaml"),
        "cfg/example/capability_config.yaml",
    );
    for t in ["booking.csv", "using.csv", "used.csv"] {
        copy(r.join("jobs-sample").join(t), &format!("jobs/{t}"));
    }
    dir
}

/// Every file below `dir` with its bytes, except the lock file (which exists to be
/// created and never carries data).
pub fn tree(dir: &Path) -> BTreeMap<PathBuf, Vec<u8>> {
    let mut out = BTreeMap::new();
    let mut stack = vec![dir.to_path_buf()];
    while let Some(d) = stack.pop() {
        for entry in std::fs::read_dir(&d).unwrap() {
            let path = entry.unwrap().path();
            if path.is_dir() {
                stack.push(path);
            } else if path.file_name().unwrap() != ".lock" {
                out.insert(
                    path.strip_prefix(dir).unwrap().to_path_buf(),
                    std::fs::read(&path).unwrap(),
                );
            }
        }
    }
    out
}
