//! Atomic rewrites (docs/reliability.md): a temp file in the same directory with its final mode, fsync,
//! rename over the target, fsync of the directory. A reader sees the old file or the new.
//! Also every other open of a file in `jobs/` for writing: never through a symbolic link.
#![allow(clippy::disallowed_methods)] // this module is the one place allowed to rename

use std::fs::{File, Permissions};
use std::io::{self, Write};
use std::os::unix::fs::{FileExt, PermissionsExt};
use std::path::Path;

use rustix::fs::{Mode, OFlags};

use crate::error::{Error, Result};

/// Replaces `path` with `bytes` atomically; the new file gets `mode` (0o644 for the
/// schedule, 0o600 for files holding passwords).
pub fn replace(path: &Path, bytes: &[u8], mode: u32) -> Result<()> {
    let write_err = |source| Error::Write {
        path: path.to_path_buf(),
        source,
    };
    let dir = parent(path);
    let name = path
        .file_name()
        .map(|n| n.to_string_lossy().into_owned())
        .unwrap_or_default();
    let mut temp = tempfile::Builder::new()
        .prefix(&format!(".{name}."))
        .suffix(".tmp")
        .tempfile_in(dir)
        .map_err(write_err)?;
    temp.as_file()
        .set_permissions(Permissions::from_mode(mode))
        .map_err(write_err)?;
    temp.write_all(bytes).map_err(write_err)?;
    temp.as_file().sync_all().map_err(write_err)?;
    temp.persist(path).map_err(|e| write_err(e.error))?;
    File::open(dir)
        .and_then(|d| d.sync_all())
        .map_err(write_err)?;
    Ok(())
}

/// Opens a file of `jobs/` never through a symbolic link and never blocking on a FIFO, and
/// refuses anything but a regular file: root writes here, and a link planted in place of
/// `.lock` or `monitor.log` would otherwise make it write wherever the link points.
/// `O_NONBLOCK` only matters for the FIFO case; on a regular file it changes nothing.
pub(crate) fn open_plain(path: &Path, flags: OFlags, mode: u32) -> io::Result<File> {
    let flags = flags | OFlags::NOFOLLOW | OFlags::NONBLOCK | OFlags::CLOEXEC;
    let file = match rustix::fs::open(path, flags, Mode::from_raw_mode(mode)) {
        Ok(fd) => File::from(fd),
        Err(rustix::io::Errno::LOOP) => {
            return Err(io::Error::other(
                "it is a symbolic link, which is never followed here",
            ))
        }
        Err(e) => return Err(e.into()),
    };
    if !file.metadata()?.is_file() {
        return Err(io::Error::other("it is not a regular file"));
    }
    Ok(file)
}

/// Appends `bytes` to `path` (creating it with `header` first when it is missing or
/// empty) in one write, so a reader never sees half of it, and syncs it: the file only
/// ever grows.
pub fn append(path: &Path, header: &[u8], bytes: &[u8]) -> Result<()> {
    let write_err = |source| Error::Write {
        path: path.to_path_buf(),
        source,
    };
    let mut file = open_plain(path, OFlags::RDWR | OFlags::APPEND | OFlags::CREATE, 0o644)
        .map_err(write_err)?;
    let len = file.metadata().map_err(write_err)?.len();
    let mut all = Vec::with_capacity(header.len() + bytes.len() + 1);
    if len == 0 {
        all.extend_from_slice(header);
    } else if last_byte_of(&file, len) != Some(b'\n') {
        // A file edited by hand may lack its final newline; never glue two rows together.
        all.push(b'\n');
    }
    all.extend_from_slice(bytes);
    file.write_all(&all).map_err(write_err)?;
    file.sync_data().map_err(write_err)
}

/// [`append`] for a file that is also rewritten whole (the notice outbox): holding an
/// exclusive `flock` on the file, `more` is given the file's content and returns what to
/// append (nothing: no write); when the name was replaced while it waited, it is done again
/// on the new file. So a rewrite under the same lock ([`rewrite_locked`]) never drops a
/// line appended beside it, and readers under the shared lock ([`read_locked`]) never see
/// half of one.
pub fn append_locked(
    path: &Path,
    header: &[u8],
    more: impl Fn(&str) -> Result<Vec<u8>>,
) -> Result<()> {
    use std::io::Read;
    use std::os::unix::fs::MetadataExt;
    let write_err = |source| Error::Write {
        path: path.to_path_buf(),
        source,
    };
    loop {
        let mut file = open_plain(path, OFlags::RDWR | OFlags::APPEND | OFlags::CREATE, 0o644)
            .map_err(write_err)?;
        rustix::fs::flock(&file, rustix::fs::FlockOperation::LockExclusive)
            .map_err(|e| write_err(e.into()))?;
        let held = file.metadata().map_err(write_err)?;
        match std::fs::symlink_metadata(path) {
            Ok(now) if (now.dev(), now.ino()) == (held.dev(), held.ino()) => {}
            // Replaced (or removed) while we waited: append to what the name holds now.
            _ => continue,
        }
        let mut text = String::new();
        file.read_to_string(&mut text)
            .map_err(|source| Error::Read {
                path: path.to_path_buf(),
                source,
            })?;
        let bytes = more(&text)?;
        if bytes.is_empty() {
            return Ok(());
        }
        let mut all = Vec::with_capacity(header.len() + bytes.len() + 1);
        if text.is_empty() {
            all.extend_from_slice(header);
        } else if !text.ends_with('\n') {
            all.push(b'\n');
        }
        all.extend_from_slice(&bytes);
        file.write_all(&all).map_err(write_err)?;
        return file.sync_data().map_err(write_err);
    }
}

/// The content of `path` read under a shared `flock` (see [`append_locked`]).
pub fn read_locked(path: &Path) -> Result<String> {
    use std::io::Read;
    let mut file =
        open_plain(path, OFlags::RDONLY, 0).map_err(|e| crate::error::read_error(path, e))?;
    rustix::fs::flock(&file, rustix::fs::FlockOperation::LockShared)
        .map_err(|e| crate::error::read_error(path, e.into()))?;
    let mut text = String::new();
    file.read_to_string(&mut text)
        .map_err(|e| crate::error::read_error(path, e))?;
    Ok(text)
}

/// Rewrites `path` as `rewrite` makes it from its current content, holding the file's
/// exclusive `flock` from the read through the rename, so that [`append_locked`] lines
/// are either read here or appended to the new file.
pub fn rewrite_locked(path: &Path, rewrite: impl FnOnce(&str) -> Result<Vec<u8>>) -> Result<()> {
    use std::io::Read;
    let read_err = |source| Error::Read {
        path: path.to_path_buf(),
        source,
    };
    let mut file = open_plain(path, OFlags::RDWR, 0).map_err(read_err)?;
    rustix::fs::flock(&file, rustix::fs::FlockOperation::LockExclusive)
        .map_err(|e| read_err(e.into()))?;
    let mut text = String::new();
    file.read_to_string(&mut text).map_err(read_err)?;
    let bytes = rewrite(&text)?;
    replace(path, &bytes, 0o644)
    // The lock goes with `file`, after the rename.
}

/// The length of `path` and its last byte, read alone (the history is never read whole).
pub(crate) fn length_and_last_byte(path: &Path) -> Result<(u64, Option<u8>)> {
    let file = open_plain(path, OFlags::RDONLY, 0).map_err(|source| Error::Read {
        path: path.to_path_buf(),
        source,
    })?;
    let len = file
        .metadata()
        .map_err(|source| Error::Read {
            path: path.to_path_buf(),
            source,
        })?
        .len();
    Ok((len, last_byte_of(&file, len)))
}

fn last_byte_of(file: &File, len: u64) -> Option<u8> {
    let mut byte = [0u8];
    file.read_exact_at(&mut byte, len.checked_sub(1)?).ok()?;
    Some(byte[0])
}

/// Makes `path` its first `before` bytes followed by `bytes`, whatever an interrupted
/// earlier attempt left: done already (nothing to do), not started, or torn (cut back to
/// `before`, then written). Only the redo journal calls it, under the exclusive lock, and
/// only it appends while the journal exists — so bytes past `before` are its own.
pub(crate) fn redo_append(path: &Path, before: u64, bytes: &[u8]) -> Result<()> {
    let write_err = |source| Error::Write {
        path: path.to_path_buf(),
        source,
    };
    let (file, len, want) = open_for_redo(path, before, bytes)?;
    if len == want {
        let mut tail = vec![0u8; bytes.len()];
        if file.read_exact_at(&mut tail, before).is_ok() && tail == bytes {
            return Ok(());
        }
    }
    file.set_len(before).map_err(write_err)?;
    file.write_all_at(bytes, before).map_err(write_err)?;
    file.sync_data().map_err(write_err)
}

/// Checks, before anything is written, that [`redo_append`] can do its work: the file holds
/// at least the `before` bytes and at most the append on top of them.
pub(crate) fn check_redo_append(path: &Path, before: u64, bytes: &[u8]) -> Result<()> {
    open_for_redo(path, before, bytes).map(drop)
}

fn open_for_redo(path: &Path, before: u64, bytes: &[u8]) -> Result<(File, u64, u64)> {
    let write_err = |source| Error::Write {
        path: path.to_path_buf(),
        source,
    };
    // A history that vanished is created again only when the journal expects it empty.
    let create = if before == 0 {
        OFlags::CREATE
    } else {
        OFlags::empty()
    };
    let file = open_plain(path, OFlags::RDWR | create, 0o644).map_err(write_err)?;
    let len = file.metadata().map_err(write_err)?.len();
    let want = u64::try_from(bytes.len())
        .ok()
        .and_then(|n| before.checked_add(n));
    match want.filter(|w| len <= *w && len >= before) {
        Some(want) => Ok((file, len, want)),
        None => Err(Error::invalid(
            path,
            None,
            None,
            format!(
                "is {len} bytes, but the monitor journal expects {before} before its rows: the history changed while a tick was interrupted; restore it, then run the monitor"
            ),
        )),
    }
}

/// Removes `path` (gone already is fine) and syncs its folder, so that the removal is on
/// disk before anything that follows it: a journal that came back after a power cut would
/// replay over the changes made since.
pub(crate) fn remove(path: &Path) -> Result<()> {
    let write_err = |source| Error::Write {
        path: path.to_path_buf(),
        source,
    };
    match std::fs::remove_file(path) {
        Ok(()) => {}
        Err(e) if e.kind() == io::ErrorKind::NotFound => return Ok(()),
        Err(e) => return Err(write_err(e)),
    }
    File::open(parent(path))
        .and_then(|d| d.sync_all())
        .map_err(write_err)
}

/// [`replace`] for a file outside the installation (the admin's metrics textfile): its
/// folder is reached without following a link anywhere on the way (`openat2` with
/// `RESOLVE_NO_SYMLINKS`), and the temporary file is made, written and renamed relative to
/// that folder. Whoever owns a folder on the path (on Debian, the `prometheus` account owns
/// `/var/lib/prometheus`) cannot send root's write elsewhere by swapping in a link.
pub fn replace_no_links(path: &Path, bytes: &[u8], mode: u32) -> Result<()> {
    use rustix::fs::{openat, openat2, renameat, unlinkat, AtFlags, ResolveFlags, CWD};
    let write_err = |source: io::Error| Error::Write {
        path: path.to_path_buf(),
        source,
    };
    let name = path
        .file_name()
        .ok_or_else(|| write_err(io::Error::other("it names no file")))?;
    let dir = openat2(
        CWD,
        parent(path),
        OFlags::DIRECTORY | OFlags::RDONLY | OFlags::CLOEXEC,
        Mode::empty(),
        ResolveFlags::NO_SYMLINKS,
    )
    .map_err(|e| match e {
        rustix::io::Errno::LOOP | rustix::io::Errno::XDEV => write_err(io::Error::other(
            "a folder on its path is a symbolic link, which is never followed here",
        )),
        e => write_err(e.into()),
    })?;
    let temp = format!(
        ".{}.{}.{}.tmp",
        name.to_string_lossy(),
        std::process::id(),
        std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .map_or(0, |d| d.as_nanos())
    );
    let fd = openat(
        &dir,
        temp.as_str(),
        OFlags::CREATE | OFlags::EXCL | OFlags::WRONLY | OFlags::NOFOLLOW | OFlags::CLOEXEC,
        Mode::from_raw_mode(mode),
    )
    .map_err(|e| write_err(e.into()))?;
    let mut file = File::from(fd);
    let written = file
        .set_permissions(Permissions::from_mode(mode))
        .and_then(|()| file.write_all(bytes))
        .and_then(|()| file.sync_all())
        .and_then(|()| renameat(&dir, temp.as_str(), &dir, name).map_err(io::Error::from));
    if let Err(e) = written {
        let _ = unlinkat(&dir, temp.as_str(), AtFlags::empty());
        return Err(write_err(e));
    }
    rustix::fs::fsync(&dir).map_err(|e| write_err(e.into()))?;
    Ok(())
}

fn parent(path: &Path) -> &Path {
    path.parent()
        .filter(|d| !d.as_os_str().is_empty())
        .unwrap_or(Path::new("."))
}
