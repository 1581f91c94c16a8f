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

/// [`NOW`] as the libraries take it.
pub fn now() -> chrono::NaiveDateTime {
    hostinfo::schedule::parse_time(&format!("{NOW}:00")).unwrap()
}

/// Runs the real `booking` binary on `root` with the fixed clock and `stdin`.
pub fn booking(root: &Path, args: &[&str], stdin: &str) -> Output {
    booking_env(root, args, stdin.as_bytes(), &[])
}

/// The `booking` command on `root` with the fixed clock and no wait after a wrong password
/// (the tests that measure the wait set `AIVC_AUTH_DELAY_MS` in `env`).
pub fn booking_command(root: &Path, args: &[&str], env: &[(&str, &str)]) -> Command {
    let mut cmd = Command::new(env!("CARGO_BIN_EXE_booking"));
    cmd.arg("--root")
        .arg(root)
        .args(args)
        .env("AIVC_NOW", NOW)
        .env("AIVC_AUTH_DELAY_MS", "0")
        .env_remove("AIVC_ROOT");
    for (k, v) in env {
        cmd.env(k, v);
    }
    cmd
}

/// Runs `booking` as [`booking_command`] makes it, with `stdin`.
pub fn booking_env(root: &Path, args: &[&str], stdin: &[u8], env: &[(&str, &str)]) -> Output {
    process::run_with_input(booking_command(root, args, env), stdin)
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
