//! Atomic rewrites (SPEC §3): a temp file in the same directory with its final mode, fsync,
//! rename over the target, fsync of the directory. A reader sees the old file or the new.
#![allow(clippy::disallowed_methods)] // this module is the one place allowed to rename

use std::fs::{File, OpenOptions, Permissions};
use std::io::Write;
use std::os::unix::fs::PermissionsExt;
use std::path::Path;

use crate::error::{Error, Result};

/// Replaces `path` with `bytes` atomically; the new file gets `mode` (0o644 for the
/// schedule, 0o600 for files holding passwords).
pub fn replace(path: &Path, bytes: &[u8], mode: u32) -> Result<()> {
    let write_err = |source| Error::Write {
        path: path.to_path_buf(),
        source,
    };
    let dir = path
        .parent()
        .filter(|d| !d.as_os_str().is_empty())
        .unwrap_or(Path::new("."));
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

/// Appends `bytes` to `path` (creating it with `header` first when it is missing or
/// empty) and syncs it: the file only ever grows.
pub fn append(path: &Path, header: &[u8], bytes: &[u8]) -> Result<()> {
    let len = std::fs::metadata(path).map(|m| m.len()).unwrap_or(0);
    let mut all = Vec::with_capacity(header.len() + bytes.len() + 1);
    if len == 0 {
        all.extend_from_slice(header);
    } else if last_byte(path, len) != Some(b'\n') {
        // A file edited by hand may lack its final newline; never glue two rows together.
        all.push(b'\n');
    }
    all.extend_from_slice(bytes);
    append_exact(path, &all)
}

/// Appends exactly `bytes` to `path` in one write (so a reader never sees half of it) and
/// syncs it; the monitor's journal relies on the resulting length.
pub fn append_exact(path: &Path, bytes: &[u8]) -> Result<()> {
    let write_err = |source| Error::Write {
        path: path.to_path_buf(),
        source,
    };
    let mut file = OpenOptions::new()
        .append(true)
        .create(true)
        .open(path)
        .map_err(write_err)?;
    file.write_all(bytes).map_err(write_err)?;
    file.sync_data().map_err(write_err)
}

/// The byte at `len - 1`, read alone (the history is never read whole).
pub(crate) fn last_byte(path: &Path, len: u64) -> Option<u8> {
    use std::os::unix::fs::FileExt;
    let mut byte = [0u8];
    File::open(path)
        .ok()?
        .read_exact_at(&mut byte, len - 1)
        .ok()?;
    Some(byte[0])
}
