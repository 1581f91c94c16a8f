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

/// The lab's capability config with groups and policies: alice (an exception with a reason)
/// and bob in `phd`, which shares 12 cpus, 48 GB and 2 GPUs and books at most 6 hours at a
/// time; carol in `staff`, which shares 1 GPU; dave in no group. Lab-wide, all four policies.
pub const GROUPS_CAPABILITY: &str = "\
max:
  cpus: 16
  ram: 64
  swap_size: 16
  gpus: 2
  shm_rate: ram / (ram + swap_size)
  memory: ram + swap_size
  backup_space: 100
  work_space: 400
allow_userIDs:
  - alice
  - bob
  - carol
  - dave
max_default_capability:
  cpus: 8
  memory: 32
  gpus: 1
  backup_space: 20
  work_space: 100
max_custom_capability:
  alice:
    gpus: max
    reason: thesis runs, approved by the PI
    policies: {max_hours_per_booking: 48}
groups:
  phd:
    members: [alice, bob]
    max_capability: {cpus: 12, memory: 48}
    total: {cpus: 12, memory: 48, gpus: 2}
    policies: {max_hours_per_booking: 6}
  staff:
    members: [carol]
    total: {gpus: 1}
policies:
  max_active_bookings: 3
  max_hours_per_booking: 24
  max_gpu_hours_ahead: 96
  max_days_ahead: 14
";

/// A temp copy of the lab fixture with [`GROUPS_CAPABILITY`] as its capability config.
pub fn groups_root() -> tempfile::TempDir {
    let root = root_from("lab");
    std::fs::write(
        root.path().join("cfg/capability_config.yaml"),
        GROUPS_CAPABILITY,
    )
    .unwrap();
    root
}
