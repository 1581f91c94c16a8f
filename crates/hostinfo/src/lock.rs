//! The one lock of SPEC §3: `jobs/.lock`, a file that is never renamed, taken shared by
//! readers that need one consistent view and exclusive by every read-modify-write.
#![allow(clippy::disallowed_methods)] // this module is the one place allowed to lock

use std::fs::{File, OpenOptions, TryLockError};
use std::io::{Read, Seek, Write};
use std::os::unix::fs::OpenOptionsExt;
use std::path::{Path, PathBuf};
use std::time::{Duration, Instant};

use crate::error::{Error, Result};

/// How long to wait for the lock when nothing else is said (`AIVC_LOCK_TIMEOUT` overrides).
pub const DEFAULT_TIMEOUT: Duration = Duration::from_secs(10);

/// The wait a binary uses: `AIVC_LOCK_TIMEOUT` seconds, else [`DEFAULT_TIMEOUT`].
pub fn timeout_from_env() -> Duration {
    std::env::var("AIVC_LOCK_TIMEOUT")
        .ok()
        .and_then(|v| v.trim().parse::<f64>().ok())
        .filter(|s| s.is_finite() && *s >= 0.0)
        .map_or(DEFAULT_TIMEOUT, Duration::from_secs_f64)
}

/// Proof that the caller holds `jobs/.lock`, shared or exclusive. Readers take `&impl Held`.
pub trait Held: std::fmt::Debug {}

/// `jobs/.lock` held shared: others may read, nobody may write.
#[derive(Debug)]
pub struct SharedLock {
    _file: File,
}

/// `jobs/.lock` held exclusive: the holder alone reads and writes the schedule.
#[derive(Debug)]
pub struct ExclusiveLock {
    _file: File,
}

impl Held for SharedLock {}
impl Held for ExclusiveLock {}

fn open(path: &Path) -> Result<File> {
    OpenOptions::new()
        .read(true)
        .write(true)
        .create(true)
        .truncate(false)
        .mode(0o644)
        .open(path)
        .map_err(|source| Error::Lock {
            path: path.to_path_buf(),
            source,
        })
}

fn wait_for(path: &Path, file: &File, exclusive: bool, timeout: Duration) -> Result<()> {
    let started = Instant::now();
    let mut pause = Duration::from_millis(2);
    loop {
        let attempt = if exclusive {
            file.try_lock()
        } else {
            file.try_lock_shared()
        };
        match attempt {
            Ok(()) => return Ok(()),
            Err(TryLockError::WouldBlock) => {}
            Err(TryLockError::Error(source)) => {
                return Err(Error::Lock {
                    path: path.to_path_buf(),
                    source,
                })
            }
        }
        if started.elapsed() >= timeout {
            return Err(Error::LockTimeout {
                path: path.to_path_buf(),
                waited_s: (timeout.as_secs_f64() * 10.0).round() / 10.0,
                holder: holder_note(path),
            });
        }
        std::thread::sleep(pause.min(timeout.saturating_sub(started.elapsed())));
        pause = (pause * 2).min(Duration::from_millis(50));
    }
}

/// Who last took the lock exclusive, as that holder wrote it into the file.
fn holder_note(path: &Path) -> String {
    let mut text = String::new();
    let _ = File::open(path).and_then(|mut f| f.read_to_string(&mut text));
    let text = text.trim();
    if text.is_empty() {
        "another process".to_string()
    } else {
        format!("another process (last writer: {text})")
    }
}

impl ExclusiveLock {
    /// Takes the lock exclusive, waiting up to `timeout`; `who` names the holder for others.
    pub fn acquire(path: &Path, who: &str, timeout: Duration) -> Result<Self> {
        let mut file = open(path)?;
        wait_for(path, &file, true, timeout)?;
        // A note for whoever waits on us next; the lock itself is the flock, not this text.
        let note = format!("pid {} ({who})\n", std::process::id());
        let _ = file
            .set_len(0)
            .and_then(|()| file.rewind())
            .and_then(|()| file.write_all(note.as_bytes()));
        Ok(ExclusiveLock { _file: file })
    }
}

impl SharedLock {
    /// Takes the lock shared, waiting up to `timeout`.
    pub fn acquire(path: &Path, timeout: Duration) -> Result<Self> {
        let file = open(path)?;
        wait_for(path, &file, false, timeout)?;
        Ok(SharedLock { _file: file })
    }
}

/// The path of the lock file in a jobs directory.
pub fn lock_path(jobs_dir: &Path) -> PathBuf {
    jobs_dir.join(".lock")
}
