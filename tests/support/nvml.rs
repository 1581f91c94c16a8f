//! The stand-in NVML (tests/fixtures/nvml-standin) for the crates' tests (included with
//! `#[path]`): built with the system `cc` once per test binary, and the environment that
//! makes a debug build of a tool load it and read a state file the test writes.
#![allow(dead_code)]

use std::ffi::OsString;
use std::path::{Path, PathBuf};
use std::process::Command;
use std::sync::OnceLock;

/// The stand-in library, compiled into the target dir on first use.
pub fn library() -> &'static Path {
    static BUILT: OnceLock<PathBuf> = OnceLock::new();
    BUILT.get_or_init(|| {
        let source = Path::new(env!("CARGO_MANIFEST_DIR"))
            .join("../../tests/fixtures/nvml-standin/nvml_standin.c");
        let dir = Path::new(env!("CARGO_TARGET_TMPDIR")).join("nvml-standin");
        std::fs::create_dir_all(&dir).unwrap();
        // Test binaries build it at once: each writes its own file, then renames it into place.
        let own = dir.join(format!("libnvidia-ml.so.{}", std::process::id()));
        let out = Command::new("cc")
            .args(["-shared", "-fPIC", "-O1", "-o"])
            .arg(&own)
            .arg(&source)
            .output()
            .unwrap_or_else(|e| panic!("the stand-in NVML needs a C compiler (cc): {e}"));
        assert!(
            out.status.success(),
            "cc could not build the stand-in NVML: {}",
            String::from_utf8_lossy(&out.stderr)
        );
        let lib = dir.join("libnvidia-ml.so");
        #[allow(clippy::disallowed_methods)] // a build output in target/, not a booking file
        std::fs::rename(&own, &lib).unwrap();
        lib
    })
}

/// What a tool needs to read GPUs from the stand-in with the state file `state`
/// (its format is at the top of nvml_standin.c). `AIVC_NO_NVML` must not be set as well.
pub fn env(state: &Path) -> [(&'static str, OsString); 2] {
    [
        ("AIVC_NVML_LIB", library().into()),
        ("AIVC_NVML_STANDIN_STATE", state.into()),
    ]
}
