//! Disk use of a folder a user writes: every entry's allocated blocks, counted like `du -s`,
//! by a walk whose time, depth, open descriptors and memory are bounded whatever the tree.
//!
//! The walk goes from each folder's descriptor to its entries (`statat` without following,
//! `openat` with `O_NOFOLLOW|O_DIRECTORY`), so a symlink is counted as itself and never
//! entered, a FIFO or device is only looked at, never opened, and a path longer than
//! `PATH_MAX` is no obstacle because no full path is ever built. What it cannot walk to the
//! end (too deep, unreadable, out of time) is reported as unfinished rather than as the part
//! it did count, so that a caller can hold it against the user who shaped the tree that way.

use std::collections::HashSet;
use std::fmt;
use std::os::fd::OwnedFd;
use std::path::Path;
use std::time::Instant;

use rustix::fs::{AtFlags, FileType, Mode, Stat};
use rustix::io::Errno;

use crate::DIR_FLAGS;

/// The most folders open at once (the top one included); one descriptor each.
pub const MAX_DEPTH: usize = 256;

/// The most distinct hard-linked files remembered to count each once (about 100 MB at most).
const MAX_LINKED: usize = 1 << 22;

/// What a walk counted and whether that is the whole of it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Usage {
    /// Allocated bytes counted: all of them when complete, a lower bound otherwise.
    pub bytes: u64,
    pub outcome: Outcome,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Outcome {
    /// Every entry was counted and the total is within the limit.
    Complete,
    /// The count passed the limit; the walk stopped there.
    OverLimit,
    /// The walk could not reach every entry.
    Unfinished(Why),
}

/// Why a walk is unfinished. The reasons never name a file, so they may be logged.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[non_exhaustive]
pub enum Why {
    /// The deadline passed.
    Deadline,
    /// Folders nest deeper than [`MAX_DEPTH`].
    TooDeep,
    /// A folder could not be opened or listed, or an entry not examined.
    Unreadable,
    /// The folder itself is a symbolic link or not a folder.
    NotAFolder,
    /// More distinct hard-linked files than can be remembered.
    TooManyLinks,
}

impl fmt::Display for Why {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            Why::Deadline => "not measured before the deadline",
            Why::TooDeep => "folders nested deeper than 256 levels",
            Why::Unreadable => "a folder below could not be read",
            Why::NotAFolder => "it is a symbolic link or not a folder",
            Why::TooManyLinks => "too many hard-linked files",
        })
    }
}

impl Usage {
    /// Whether this counts as over the limit: what the walk cannot traverse counts against
    /// the user, or hiding data from the walk would be a way past the quota.
    pub fn counts_as_over(&self) -> bool {
        !matches!(self.outcome, Outcome::Complete)
    }

    fn done(bytes: u64, outcome: Outcome) -> Usage {
        Usage { bytes, outcome }
    }
}

/// Measures the folder at `dir`, stopping as soon as the count exceeds `limit` or
/// `deadline` passes. `dir` is a path the admin configured: links on the way to it are
/// theirs and followed, but its last name must be a real folder. A missing folder is
/// complete with 0 bytes.
pub fn usage(dir: &Path, limit: u64, deadline: Instant) -> Usage {
    let top = match rustix::fs::open(dir, DIR_FLAGS, Mode::empty()) {
        Ok(fd) => fd,
        Err(Errno::NOENT) => return Usage::done(0, Outcome::Complete),
        Err(Errno::LOOP | Errno::NOTDIR) => {
            return Usage::done(0, Outcome::Unfinished(Why::NotAFolder))
        }
        Err(_) => return Usage::done(0, Outcome::Unfinished(Why::Unreadable)),
    };
    let mut walk = Walk {
        bytes: 0,
        limit,
        linked: HashSet::new(),
    };
    let outcome = match walk.run(top, deadline) {
        Ok(()) => Outcome::Complete,
        Err(outcome) => outcome,
    };
    Usage::done(walk.bytes, outcome)
}

struct Walk {
    bytes: u64,
    limit: u64,
    /// (device, inode) of files with more than one link already counted.
    linked: HashSet<(u64, u64)>,
}

impl Walk {
    /// Depth first, one open folder per level: descriptors stay at most [`MAX_DEPTH`] and
    /// memory at one directory buffer per level, however wide or deep the tree.
    fn run(&mut self, top: OwnedFd, deadline: Instant) -> Result<(), Outcome> {
        let unreadable = Outcome::Unfinished(Why::Unreadable);
        let st = rustix::fs::fstat(&top).map_err(|_| unreadable)?;
        self.add(&st)?;
        let mut stack = vec![rustix::fs::Dir::new(top).map_err(|_| unreadable)?];
        loop {
            let depth = stack.len();
            let Some(dir) = stack.last_mut() else {
                break;
            };
            if Instant::now() >= deadline {
                return Err(Outcome::Unfinished(Why::Deadline));
            }
            let entry = match dir.read() {
                None => {
                    stack.pop();
                    continue;
                }
                Some(Err(_)) => return Err(unreadable),
                Some(Ok(entry)) => entry,
            };
            let name = entry.file_name();
            if name.to_bytes() == b"." || name.to_bytes() == b".." {
                continue;
            }
            let parent = dir.fd().map_err(|_| unreadable)?;
            let st = match rustix::fs::statat(parent, name, AtFlags::SYMLINK_NOFOLLOW) {
                Ok(st) => st,
                // Removed since it was listed: it no longer takes space.
                Err(Errno::NOENT) => continue,
                Err(_) => return Err(unreadable),
            };
            if FileType::from_raw_mode(st.st_mode) != FileType::Directory {
                self.add(&st)?;
                continue;
            }
            if depth >= MAX_DEPTH {
                return Err(Outcome::Unfinished(Why::TooDeep));
            }
            let sub = match rustix::fs::openat(parent, name, DIR_FLAGS, Mode::empty()) {
                Ok(fd) => fd,
                Err(Errno::NOENT) => continue,
                // Swapped for a link or a file since the `statat`: not walked, so not finished.
                Err(_) => return Err(unreadable),
            };
            // Count the folder actually opened, not whatever the name held a moment before.
            let st = rustix::fs::fstat(&sub).map_err(|_| unreadable)?;
            self.add(&st)?;
            stack.push(rustix::fs::Dir::new(sub).map_err(|_| unreadable)?);
        }
        Ok(())
    }

    fn add(&mut self, st: &Stat) -> Result<(), Outcome> {
        let is_dir = FileType::from_raw_mode(st.st_mode) == FileType::Directory;
        if !is_dir && st.st_nlink > 1 {
            if !self.linked.insert((st.st_dev, st.st_ino)) {
                return Ok(());
            }
            if self.linked.len() > MAX_LINKED {
                return Err(Outcome::Unfinished(Why::TooManyLinks));
            }
        }
        let blocks = u64::try_from(st.st_blocks).unwrap_or(0);
        self.bytes = self.bytes.saturating_add(blocks.saturating_mul(512));
        if self.bytes > self.limit {
            return Err(Outcome::OverLimit);
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::Dir;
    use std::ffi::OsStr;
    use std::os::unix::fs::symlink;
    use std::time::Duration;

    const MIB: u64 = 1 << 20;

    fn soon() -> Instant {
        Instant::now() + Duration::from_secs(30)
    }

    #[test]
    fn counts_files_below_and_does_not_follow_links() {
        let t = tempfile::tempdir().unwrap();
        std::fs::create_dir(t.path().join("sub")).unwrap();
        std::fs::write(t.path().join("sub/big"), vec![1u8; MIB as usize]).unwrap();
        symlink("/usr", t.path().join("usr-link")).unwrap();
        let u = usage(t.path(), u64::MAX, soon());
        assert_eq!(u.outcome, Outcome::Complete);
        assert!((MIB..4 * MIB).contains(&u.bytes), "{u:?}");
        assert!(!u.counts_as_over());
    }

    #[test]
    fn counts_a_hard_linked_file_once() {
        let t = tempfile::tempdir().unwrap();
        std::fs::write(t.path().join("a"), vec![1u8; MIB as usize]).unwrap();
        for n in ["b", "c", "d"] {
            std::fs::hard_link(t.path().join("a"), t.path().join(n)).unwrap();
        }
        let u = usage(t.path(), u64::MAX, soon());
        assert_eq!(u.outcome, Outcome::Complete);
        assert!((MIB..2 * MIB).contains(&u.bytes), "{u:?}");
    }

    #[test]
    fn stops_as_soon_as_the_count_is_over_the_limit() {
        let t = tempfile::tempdir().unwrap();
        for i in 0..100 {
            std::fs::write(t.path().join(i.to_string()), vec![1u8; 64 << 10]).unwrap();
        }
        let u = usage(t.path(), 100 << 10, soon());
        assert_eq!(u.outcome, Outcome::OverLimit);
        // One 64 KiB file past the limit, not the 6.4 MB there.
        assert!(u.bytes > 100 << 10 && u.bytes < 200 << 10, "{u:?}");
        assert!(u.counts_as_over());
    }

    #[test]
    fn a_deadline_already_passed_leaves_it_unfinished_and_over() {
        let t = tempfile::tempdir().unwrap();
        std::fs::write(t.path().join("f"), "x").unwrap();
        let u = usage(t.path(), u64::MAX, Instant::now());
        assert_eq!(u.outcome, Outcome::Unfinished(Why::Deadline));
        assert!(u.counts_as_over());
    }

    #[test]
    fn a_missing_folder_is_complete_and_empty() {
        let t = tempfile::tempdir().unwrap();
        let u = usage(&t.path().join("nothing"), 0, Instant::now());
        assert_eq!(u, Usage::done(0, Outcome::Complete));
    }

    #[test]
    fn a_link_in_place_of_the_folder_is_not_followed() {
        let t = tempfile::tempdir().unwrap();
        symlink("/usr", t.path().join("work")).unwrap();
        let u = usage(&t.path().join("work"), u64::MAX, soon());
        assert_eq!(u.outcome, Outcome::Unfinished(Why::NotAFolder));
    }

    /// Regression: a path-based walk gets ENAMETOOLONG below PATH_MAX and counted nothing.
    #[test]
    fn counts_a_file_below_a_path_longer_than_path_max() {
        let t = tempfile::tempdir().unwrap();
        let top = Dir::open(t.path()).unwrap();
        let name = "d".repeat(200);
        let mut dir = top.create_dir(OsStr::new(&name), 0o755).unwrap();
        for _ in 1..40 {
            dir = dir.create_dir(OsStr::new(&name), 0o755).unwrap();
        }
        assert!(dir.path().as_os_str().len() > 8000);
        let bytes = vec![1u8; 4 * MIB as usize];
        assert!(dir.create_file(OsStr::new("big"), &bytes, 0o644).unwrap());

        let u = usage(t.path(), u64::MAX, soon());
        assert_eq!(u.outcome, Outcome::Complete);
        assert!(u.bytes >= 4 * MIB, "{u:?}");
        assert_eq!(usage(t.path(), MIB, soon()).outcome, Outcome::OverLimit);
        top.remove_all(OsStr::new(&name)).unwrap();
    }

    #[test]
    fn a_tree_deeper_than_the_cap_is_unfinished() {
        let t = tempfile::tempdir().unwrap();
        let top = Dir::open(t.path()).unwrap();
        let mut dir = top.create_dir(OsStr::new("d"), 0o755).unwrap();
        for _ in 0..MAX_DEPTH {
            dir = dir.create_dir(OsStr::new("d"), 0o755).unwrap();
        }
        let u = usage(t.path(), u64::MAX, soon());
        assert_eq!(u.outcome, Outcome::Unfinished(Why::TooDeep));
        top.remove_all(OsStr::new("d")).unwrap();
    }

    #[test]
    fn fifos_devices_and_link_loops_neither_hang_nor_count_as_their_targets() {
        let t = tempfile::tempdir().unwrap();
        let top = Dir::open(t.path()).unwrap();
        let mode = Mode::from_raw_mode(0o600);
        rustix::fs::mknodat(top.fd(), "fifo", FileType::Fifo, mode, 0).unwrap();
        // A character device (/dev/zero) where root may make one; reading it never ends.
        let _ = rustix::fs::mknodat(
            top.fd(),
            "zero",
            FileType::CharacterDevice,
            mode,
            rustix::fs::makedev(1, 5),
        );
        symlink("b", t.path().join("a")).unwrap();
        symlink("a", t.path().join("b")).unwrap();
        symlink(".", t.path().join("self")).unwrap();
        symlink("..", t.path().join("up")).unwrap();
        let started = Instant::now();
        let u = usage(t.path(), u64::MAX, soon());
        assert_eq!(u.outcome, Outcome::Complete);
        assert!(u.bytes < MIB, "{u:?}");
        assert!(started.elapsed() < Duration::from_secs(5));
    }
}
