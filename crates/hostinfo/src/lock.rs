//! The one lock (docs/reliability.md, Locking): `jobs/.lock`, a file that is never renamed, taken shared by
//! readers that need one consistent view and exclusive by every read-modify-write. It is
//! never opened through a symbolic link (root would write its holder note into the target).
#![allow(clippy::disallowed_methods)] // this module is the one place allowed to lock

use std::fs::{File, TryLockError};
use std::io::{Seek, Write};
use std::path::{Path, PathBuf};
use std::time::{Duration, Instant};

use rustix::fs::OFlags;
use rustix::io::Errno;

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
    /// `None` when the lock file does not exist and cannot be created (a read-only `jobs/`).
    _file: Option<File>,
    unlocked: Option<String>,
}

/// `jobs/.lock` held exclusive: the holder alone reads and writes the schedule. Only
/// [`crate::Root::lock_exclusive`] makes one, after completing a pending monitor journal,
/// so no holder ever sees or writes the half-moved schedule of an interrupted tick.
#[derive(Debug)]
pub struct ExclusiveLock {
    _file: File,
    pub(crate) completed_journal: bool,
}

impl Held for SharedLock {}
impl Held for ExclusiveLock {}
/// A lock of either kind chosen at run time (the monitor's dry run reads under the shared one).
impl<T: Held + ?Sized> Held for Box<T> {}

/// Opens the lock file read-write, created when missing; never through a link.
fn open(path: &Path) -> std::io::Result<File> {
    crate::atomic::open_plain(path, OFlags::RDWR | OFlags::CREATE, 0o644)
}

fn lock_err(path: &Path) -> impl FnOnce(std::io::Error) -> Error + '_ {
    move |source| Error::Lock {
        path: path.to_path_buf(),
        source,
    }
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
                holder: holder_note(file),
            });
        }
        std::thread::sleep(pause.min(timeout.saturating_sub(started.elapsed())));
        pause = (pause * 2).min(Duration::from_millis(50));
    }
}

/// Who last took the lock exclusive, as that holder wrote it into the file: read from the
/// file we opened (not the name again), and only its first line, bounded.
fn holder_note(file: &File) -> String {
    use std::os::unix::fs::FileExt;
    let mut buf = [0u8; 200];
    let n = file.read_at(&mut buf, 0).unwrap_or(0);
    let text = String::from_utf8_lossy(&buf[..n]);
    let text = text.lines().next().unwrap_or("").trim();
    if text.is_empty() {
        "another process".to_string()
    } else {
        format!("another process (last writer: {text})")
    }
}

impl ExclusiveLock {
    /// Takes the lock exclusive, waiting up to `timeout`; `who` names the holder for others.
    /// Only the lock: [`crate::Root::lock_exclusive`] also completes a pending journal.
    pub(crate) fn acquire(path: &Path, who: &str, timeout: Duration) -> Result<Self> {
        let mut file = open(path).map_err(lock_err(path))?;
        wait_for(path, &file, true, timeout)?;
        // A note for whoever waits on us next; the lock itself is the flock, not this text.
        let note = format!("pid {} ({who})\n", std::process::id());
        let _ = file
            .set_len(0)
            .and_then(|()| file.rewind())
            .and_then(|()| file.write_all(note.as_bytes()));
        Ok(ExclusiveLock {
            _file: file,
            completed_journal: false,
        })
    }

    /// Whether taking this lock completed the schedule moves of an interrupted monitor tick.
    pub fn completed_journal(&self) -> bool {
        self.completed_journal
    }
}

impl SharedLock {
    /// Takes the lock shared, waiting up to `timeout`. On a `jobs/` this process may not
    /// write (`checker` run by an admin without root, a read-only mount), see
    /// [`SharedLock::acquire_after_read_write_failed`].
    pub fn acquire(path: &Path, timeout: Duration) -> Result<Self> {
        match open(path) {
            Ok(file) => Self::hold(path, file, timeout),
            Err(e) => Self::acquire_after_read_write_failed(path, e, timeout),
        }
    }

    /// A reader's way on when opening the lock read-write failed with `error`. When the
    /// folder or file may not be written (EROFS, EACCES, EPERM) the lock is taken on a
    /// read-only open — flock(2) needs no write access — and when the file does not exist
    /// either, the reader goes on without a lock and [`SharedLock::unlocked`] says so: it
    /// cannot create the file, and refusing would leave an admin no report at all. Any other
    /// error (a link, a FIFO, an I/O error) is the error.
    pub fn acquire_after_read_write_failed(
        path: &Path,
        error: std::io::Error,
        timeout: Duration,
    ) -> Result<Self> {
        let read_only = matches!(
            Errno::from_io_error(&error),
            Some(Errno::ROFS | Errno::ACCESS | Errno::PERM)
        );
        if !read_only {
            return Err(lock_err(path)(error));
        }
        match crate::atomic::open_plain(path, OFlags::RDONLY, 0) {
            Ok(file) => Self::hold(path, file, timeout),
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => Ok(SharedLock {
                _file: None,
                unlocked: Some(format!(
                    "{}: read without the lock: the file is missing and cannot be created ({error}), so booking.csv and using.csv may be seen at different instants",
                    path.display()
                )),
            }),
            Err(e) => Err(lock_err(path)(e)),
        }
    }

    fn hold(path: &Path, file: File, timeout: Duration) -> Result<Self> {
        wait_for(path, &file, false, timeout)?;
        Ok(SharedLock {
            _file: Some(file),
            unlocked: None,
        })
    }

    /// Why this reader holds no lock at all (a missing lock file in a read-only `jobs/`),
    /// one line naming the file; `None` when it holds the lock.
    pub fn unlocked(&self) -> Option<&str> {
        self.unlocked.as_deref()
    }
}

/// `jobs/.notices-lock` held: this process alone delivers notices. Its own file, not
/// `jobs/.lock`, so a slow SMTP server never holds up a booking or a tick.
#[derive(Debug)]
pub struct DeliveryLock {
    _file: File,
}

impl DeliveryLock {
    /// Takes the lock at `path` when nobody holds it; `None` when another deliverer does
    /// (it re-reads the outbox before it ends, so nothing waits on us).
    pub(crate) fn try_acquire(path: &Path) -> Result<Option<Self>> {
        let file = open(path).map_err(lock_err(path))?;
        match file.try_lock() {
            Ok(()) => Ok(Some(DeliveryLock { _file: file })),
            Err(TryLockError::WouldBlock) => Ok(None),
            Err(TryLockError::Error(source)) => Err(lock_err(path)(source)),
        }
    }
}

/// The path of the lock file in a jobs directory.
pub fn lock_path(jobs_dir: &Path) -> PathBuf {
    jobs_dir.join(".lock")
}
