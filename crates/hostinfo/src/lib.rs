//! hostinfo: the only code that reads or writes the files of an AIVC booking installation
//! (`cfg/*.yaml`, `jobs/*.csv`, `jobs/monitor_exec`, `jobs/monitor.log`), with the typed
//! models, the lock, the clock and slot arithmetic, and the GPU inventory (docs/data-flow.md, docs/file-formats.md).
//!
//! Libraries never print: every failure is an [`Error`] naming the file, line and field.

mod atomic;
pub mod auth;
pub mod clock;
pub mod cluster;
pub mod config;
pub mod dashboard_config;
mod error;
pub mod exec;
pub mod expr;
pub mod gpu;
pub mod groups;
mod installation;
pub mod journal;
pub mod lock;
pub mod log;
pub mod machine;
pub mod names;
pub mod notices;
pub mod notify_config;
mod root;
pub mod schedule;
mod small_csv;
pub mod start_failures;
pub mod tick_record;
pub mod usage;
pub mod waitlist;
pub mod yaml;

pub use error::{Error, Location, Result};
pub use root::{Config, FileStamp, LiveTable, Root, Table, UserFolders};
pub use start_failures::StartFailure;

/// The crash hook of the tests: a debug build run with `AIVC_CRASH_AT=<step>` is killed
/// with SIGKILL when it first reaches that step (the monitor's tick steps, the journal's
/// stages, the notice delivery's `notice-sent:<channel>` and `notice-recorded`). Release
/// builds never stop here.
pub fn crash_point(step: &str) {
    if !cfg!(debug_assertions) {
        return;
    }
    if std::env::var("AIVC_CRASH_AT").is_ok_and(|s| s == step) {
        let _ = std::process::Command::new("kill")
            .args(["-9", &std::process::id().to_string()])
            .status();
        std::process::abort();
    }
}
