#![allow(dead_code)]

#[path = "../../../../tests/support/roots.rs"]
mod roots;
pub use roots::*;

#[path = "../../../../tests/support/process.rs"]
pub mod process;

use std::path::Path;
use std::process::{Command, Output};

/// The fixed clock of these tests: Saturday 2026-11-21 15:47 in Asia/Taipei.
pub const NOW: &str = "2026-11-21 15:47";

/// Runs the real `booking` binary on `root` with the fixed clock and `stdin`.
pub fn booking(root: &Path, args: &[&str], stdin: &str) -> Output {
    let mut cmd = Command::new(env!("CARGO_BIN_EXE_booking"));
    cmd.arg("--root")
        .arg(root)
        .args(args)
        .env("AIVC_NOW", NOW)
        .env_remove("AIVC_ROOT");
    process::run_with_input(cmd, stdin.as_bytes())
}

pub fn stderr(o: &Output) -> String {
    String::from_utf8_lossy(&o.stderr).into_owned()
}

pub fn stdout(o: &Output) -> String {
    String::from_utf8_lossy(&o.stdout).into_owned()
}

pub fn file(root: &Path, rel: &str) -> String {
    std::fs::read_to_string(root.join(rel)).unwrap_or_default()
}
