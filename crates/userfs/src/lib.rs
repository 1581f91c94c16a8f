//! userfs: root's only way into a user's folders. Everything below a user's work and backup
//! folders is written by that user from inside their container at any moment, so here no
//! symlink is ever followed (each name is opened relative to its parent's descriptor with
//! `O_NOFOLLOW`, and only plain names are accepted, never `..`), no open blocks (a FIFO or a
//! device is refused before it is opened for reading), every read has a size cap, and every
//! write lands below the folder it was meant for by construction.

use std::ffi::OsStr;
use std::fs::File;
use std::io::{Read, Write};
use std::os::fd::{AsFd, AsRawFd, OwnedFd};
use std::os::unix::ffi::OsStrExt;
use std::path::{Component, Path, PathBuf};

use rustix::fs::{AtFlags, FileType, Mode, OFlags};

pub mod copy;
pub mod untar;
pub mod walk;

/// Why a user's file was not read or written. The messages never quote the file's content.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum Error {
    #[error("{}: {why}", path.display())]
    Refused { path: PathBuf, why: &'static str },
    #[error("{}: {source}", path.display())]
    Io {
        path: PathBuf,
        #[source]
        source: std::io::Error,
    },
}

impl Error {
    /// What went wrong, without the path (for a message that names the entry instead).
    pub fn reason(&self) -> String {
        match self {
            Error::Refused { why, .. } => (*why).to_string(),
            Error::Io { source, .. } => source.to_string(),
        }
    }

    /// Whether the file or folder simply is not there.
    pub fn is_missing(&self) -> bool {
        matches!(self, Error::Io { source, .. } if source.kind() == std::io::ErrorKind::NotFound)
    }
}

pub type Result<T, E = Error> = std::result::Result<T, E>;

/// What is at a name, without following it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Kind {
    File,
    Dir,
    Symlink,
    /// A FIFO, socket or device node.
    Other,
}

pub(crate) fn kind_of(mode: u32) -> Kind {
    match FileType::from_raw_mode(mode) {
        FileType::RegularFile => Kind::File,
        FileType::Directory => Kind::Dir,
        FileType::Symlink => Kind::Symlink,
        _ => Kind::Other,
    }
}

/// Checks that `rel` is a relative path of plain names (no `..`, `.`, root or empty).
pub fn plain_relative(rel: &Path) -> Result<(), &'static str> {
    if rel.as_os_str().is_empty() {
        return Err("empty path");
    }
    if !rel.components().all(|c| matches!(c, Component::Normal(_))) {
        return Err("must be a relative path of plain names, without `..` or `.`");
    }
    Ok(())
}

/// An open folder; every path given to its methods is resolved below it, one plain name at
/// a time, never through a symlink.
#[derive(Debug)]
pub struct Dir {
    fd: OwnedFd,
    path: PathBuf,
}

const DIR_FLAGS: OFlags = OFlags::RDONLY
    .union(OFlags::DIRECTORY)
    .union(OFlags::NOFOLLOW)
    .union(OFlags::CLOEXEC);

impl Dir {
    /// Opens a folder the admin configured (its path may pass through the admin's own
    /// links; the last name must be a real folder).
    pub fn open(path: &Path) -> Result<Dir> {
        let fd = rustix::fs::open(path, DIR_FLAGS, Mode::empty()).map_err(|e| io(path, e))?;
        Ok(Dir {
            fd,
            path: path.to_path_buf(),
        })
    }

    /// Like [`Dir::open`], creating the folder (mode 0755) and its missing parents first.
    /// Only the admin's part of the path is created this way: callers then go below it
    /// with [`Dir::create_dir`].
    pub fn open_or_create(path: &Path) -> Result<Dir> {
        match Dir::open(path) {
            Err(e) if e.is_missing() => {
                std::fs::create_dir_all(path).map_err(|source| Error::Io {
                    path: path.to_path_buf(),
                    source,
                })?;
                Dir::open(path)
            }
            other => other,
        }
    }

    pub fn path(&self) -> &Path {
        &self.path
    }

    pub fn fd(&self) -> &OwnedFd {
        &self.fd
    }

    pub(crate) fn sub(&self, rel: &Path) -> PathBuf {
        self.path.join(rel)
    }

    /// The folder at `rel` below this one, each name opened without following links.
    pub fn open_dir(&self, rel: &Path) -> Result<Dir> {
        plain_relative(rel).map_err(|why| refused(self.sub(rel), why))?;
        let mut fd: Option<OwnedFd> = None;
        for name in rel.components() {
            let parent = fd.as_ref().map_or(self.fd.as_fd(), |f| f.as_fd());
            let next = rustix::fs::openat(parent, name.as_os_str(), DIR_FLAGS, Mode::empty())
                .map_err(|e| self.not_a_folder(rel, e))?;
            fd = Some(next);
        }
        Ok(Dir {
            fd: fd.ok_or_else(|| refused(self.sub(rel), "empty path"))?,
            path: self.sub(rel),
        })
    }

    fn not_a_folder(&self, rel: &Path, e: rustix::io::Errno) -> Error {
        // O_NOFOLLOW on a link gives ELOOP; O_DIRECTORY on a file, ENOTDIR.
        if e == rustix::io::Errno::LOOP || e == rustix::io::Errno::NOTDIR {
            refused(
                self.sub(rel),
                "a name on the way is a symbolic link or not a folder",
            )
        } else {
            io(&self.sub(rel), e)
        }
    }

    /// The parent folder of `rel` and its last name.
    pub(crate) fn parent_of<'a>(&self, rel: &'a Path) -> Result<(Dir, &'a OsStr)> {
        plain_relative(rel).map_err(|why| refused(self.sub(rel), why))?;
        let name = rel
            .file_name()
            .ok_or_else(|| refused(self.sub(rel), "empty path"))?;
        let parent = match rel.parent().filter(|p| !p.as_os_str().is_empty()) {
            Some(p) => self.open_dir(p)?,
            None => self.try_clone()?,
        };
        Ok((parent, name))
    }

    fn try_clone(&self) -> Result<Dir> {
        Ok(Dir {
            fd: self.fd.try_clone().map_err(|source| Error::Io {
                path: self.path.clone(),
                source,
            })?,
            path: self.path.clone(),
        })
    }

    /// What is at `rel`, not following a link at its end (nor anywhere on the way).
    pub fn kind(&self, rel: &Path) -> Result<Kind> {
        let (parent, name) = self.parent_of(rel)?;
        let st = rustix::fs::statat(&parent.fd, name, AtFlags::SYMLINK_NOFOLLOW)
            .map_err(|e| io(&self.sub(rel), e))?;
        Ok(kind_of(st.st_mode))
    }

    /// Creates the folder `name` (one plain name) here when missing, and opens it; a link
    /// or a file in its place is refused, never followed.
    pub fn create_dir(&self, name: &OsStr, mode: u32) -> Result<Dir> {
        let rel = Path::new(name);
        if rel.components().count() != 1 {
            return Err(refused(self.sub(rel), "must be one plain name"));
        }
        match rustix::fs::mkdirat(&self.fd, name, Mode::from_raw_mode(mode)) {
            Ok(()) | Err(rustix::io::Errno::EXIST) => {}
            Err(e) => return Err(io(&self.sub(rel), e)),
        }
        self.open_dir(rel)
    }

    /// Opens the regular file `name` (one plain name) here for reading. A link, FIFO,
    /// device or folder is refused without being opened for I/O, so nothing blocks and no
    /// device is touched. Returns the file and its status.
    pub fn open_regular(&self, name: &OsStr) -> Result<(File, rustix::fs::Stat)> {
        let path = self.sub(Path::new(name));
        // O_PATH opens nothing for I/O: no FIFO waits for a writer, no device is touched.
        let handle = rustix::fs::openat(
            &self.fd,
            name,
            OFlags::PATH | OFlags::NOFOLLOW | OFlags::CLOEXEC,
            Mode::empty(),
        )
        .map_err(|e| io(&path, e))?;
        let st = rustix::fs::fstat(&handle).map_err(|e| io(&path, e))?;
        match kind_of(st.st_mode) {
            Kind::File => {}
            Kind::Symlink => return Err(refused(path, "is a symbolic link; not followed")),
            Kind::Dir => return Err(refused(path, "is a folder, not a file")),
            Kind::Other => return Err(refused(path, "is a FIFO, socket or device, not a file")),
        }
        // Reopen the very inode checked above (not the name, which may have changed).
        let proc_path = format!("/proc/self/fd/{}", handle.as_raw_fd());
        let fd = rustix::fs::open(
            proc_path.as_str(),
            OFlags::RDONLY | OFlags::NONBLOCK | OFlags::NOCTTY | OFlags::CLOEXEC,
            Mode::empty(),
        )
        .map_err(|e| io(&path, e))?;
        Ok((File::from(fd), st))
    }

    /// Reads the regular file at `rel`, at most `cap` bytes; anything else, or a larger
    /// file, is refused (see [`Dir::open_regular`]).
    pub fn read_file(&self, rel: &Path, cap: u64) -> Result<Vec<u8>> {
        let (parent, name) = self.parent_of(rel)?;
        let path = self.sub(rel);
        let (file, st) = parent.open_regular(name).map_err(|e| match e {
            Error::Refused { why, .. } => refused(path.clone(), why),
            Error::Io { source, .. } => Error::Io {
                path: path.clone(),
                source,
            },
        })?;
        if u64::try_from(st.st_size).unwrap_or(u64::MAX) > cap {
            return Err(refused(path, "is larger than the limit for this file"));
        }
        let mut bytes = Vec::new();
        file.take(cap + 1)
            .read_to_end(&mut bytes)
            .map_err(|source| Error::Io {
                path: path.clone(),
                source,
            })?;
        if bytes.len() as u64 > cap {
            return Err(refused(path, "is larger than the limit for this file"));
        }
        Ok(bytes)
    }

    /// Creates the file `name` (one plain name) here with `bytes`, only when nothing is
    /// there yet: an existing file, link or anything else is left alone (`Ok(false)`).
    pub fn create_file(&self, name: &OsStr, bytes: &[u8], mode: u32) -> Result<bool> {
        let path = self.sub(Path::new(name));
        if Path::new(name).components().count() != 1 {
            return Err(refused(path, "must be one plain name"));
        }
        let fd = match rustix::fs::openat(
            &self.fd,
            name,
            OFlags::WRONLY | OFlags::CREATE | OFlags::EXCL | OFlags::NOFOLLOW | OFlags::CLOEXEC,
            Mode::from_raw_mode(mode),
        ) {
            Ok(fd) => fd,
            Err(rustix::io::Errno::EXIST) => return Ok(false),
            Err(e) => return Err(io(&path, e)),
        };
        let mut file = File::from(fd);
        file.write_all(bytes)
            .and_then(|()| file.sync_all())
            .map_err(|source| Error::Io { path, source })?;
        Ok(true)
    }

    /// Renames `from` to `to`, both plain names in this folder; `to` must not exist.
    pub fn rename_new(&self, from: &OsStr, to: &OsStr) -> Result<()> {
        rustix::fs::renameat_with(
            &self.fd,
            from,
            &self.fd,
            to,
            rustix::fs::RenameFlags::NOREPLACE,
        )
        .map_err(|e| io(&self.sub(Path::new(to)), e))
    }

    /// Removes `name` (one plain name) when it is anything but a folder (a file, a link —
    /// the link itself —, a FIFO); a folder is left alone and refused, so no user can make
    /// this walk a tree. Nothing there is fine.
    pub fn remove_file(&self, name: &OsStr) -> Result<()> {
        let rel = Path::new(name);
        match rustix::fs::unlinkat(&self.fd, name, AtFlags::empty()) {
            Ok(()) => Ok(()),
            Err(rustix::io::Errno::NOENT) => Ok(()),
            Err(e) => Err(io(&self.sub(rel), e)),
        }
    }

    /// Removes `name` (one plain name) and everything below it, never following a link;
    /// nothing there is fine.
    pub fn remove_all(&self, name: &OsStr) -> Result<()> {
        let rel = Path::new(name);
        match self.kind(rel) {
            Err(e) if e.is_missing() => Ok(()),
            Err(e) => Err(e),
            Ok(Kind::Dir) => {
                let sub = self.open_dir(rel)?;
                for entry in sub.names()? {
                    sub.remove_all(&entry)?;
                }
                rustix::fs::unlinkat(&self.fd, name, AtFlags::REMOVEDIR)
                    .map_err(|e| io(&self.sub(rel), e))
            }
            Ok(_) => rustix::fs::unlinkat(&self.fd, name, AtFlags::empty())
                .map_err(|e| io(&self.sub(rel), e)),
        }
    }

    /// The names in this folder (without `.` and `..`).
    pub fn names(&self) -> Result<Vec<std::ffi::OsString>> {
        self.names_at_most(usize::MAX)
    }

    /// The names in this folder, refusing a folder of more than `most` names before
    /// holding them all in memory.
    pub fn names_at_most(&self, most: usize) -> Result<Vec<std::ffi::OsString>> {
        let dir = rustix::fs::Dir::read_from(&self.fd).map_err(|e| io(&self.path, e))?;
        let mut names = Vec::new();
        for entry in dir {
            let entry = entry.map_err(|e| io(&self.path, e))?;
            let name = entry.file_name().to_bytes();
            if name != b"." && name != b".." {
                if names.len() >= most {
                    return Err(refused(
                        self.path.clone(),
                        "holds more names than may be read",
                    ));
                }
                names.push(OsStr::from_bytes(name).to_os_string());
            }
        }
        Ok(names)
    }

    /// Sets this folder's mode (e.g. 0700 for a folder only root may enter).
    pub fn set_mode(&self, mode: u32) -> Result<()> {
        rustix::fs::fchmod(&self.fd, Mode::from_raw_mode(mode)).map_err(|e| io(&self.path, e))
    }
}

pub(crate) fn refused(path: PathBuf, why: &'static str) -> Error {
    Error::Refused { path, why }
}

pub(crate) fn io(path: &Path, e: rustix::io::Errno) -> Error {
    Error::Io {
        path: path.to_path_buf(),
        source: e.into(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::os::unix::fs::symlink;

    fn setup() -> (tempfile::TempDir, Dir) {
        let t = tempfile::tempdir().unwrap();
        let d = Dir::open(t.path()).unwrap();
        (t, d)
    }

    #[test]
    fn reads_a_plain_file_and_refuses_links_fifos_devices_and_large_files() {
        let (t, d) = setup();
        std::fs::create_dir(t.path().join("a")).unwrap();
        std::fs::write(t.path().join("a/ok.yaml"), "Dir: []\n").unwrap();
        assert_eq!(
            d.read_file(Path::new("a/ok.yaml"), 64).unwrap(),
            b"Dir: []\n"
        );
        std::fs::write(t.path().join("secret"), "PRIVATE KEY").unwrap();
        symlink(t.path().join("secret"), t.path().join("link")).unwrap();
        symlink("/dev/zero", t.path().join("zero")).unwrap();
        symlink(t.path().join("a"), t.path().join("via")).unwrap();
        rustix::fs::mknodat(&d.fd, "fifo", FileType::Fifo, Mode::from_raw_mode(0o600), 0).unwrap();
        std::fs::write(t.path().join("big"), vec![b'x'; 100]).unwrap();
        for (name, why) in [
            ("link", "symbolic link"),
            ("zero", "symbolic link"),
            ("fifo", "FIFO"),
            ("big", "larger"),
            ("a", "folder"),
            ("via/ok.yaml", "symbolic link or not a folder"),
            ("../x", "plain names"),
        ] {
            let e = d.read_file(Path::new(name), 64).unwrap_err().to_string();
            assert!(e.contains(why), "{name}: {e}");
            assert!(!e.contains("PRIVATE"), "{e}");
        }
    }

    #[test]
    fn creates_only_below_itself_and_never_through_a_link() {
        let (t, d) = setup();
        let outside = tempfile::tempdir().unwrap();
        symlink(outside.path(), t.path().join("planted")).unwrap();
        assert!(d.create_dir(OsStr::new("planted"), 0o755).is_err());
        assert!(d.open_dir(Path::new("planted")).is_err());
        symlink(outside.path().join("f"), t.path().join("f")).unwrap();
        assert!(!d.create_file(OsStr::new("f"), b"x", 0o644).unwrap());
        assert!(!outside.path().join("f").exists());
        let sub = d.create_dir(OsStr::new("sub"), 0o755).unwrap();
        assert!(sub.create_file(OsStr::new("g"), b"y", 0o644).unwrap());
        assert_eq!(std::fs::read(t.path().join("sub/g")).unwrap(), b"y");
    }

    #[test]
    fn removes_a_tree_without_following_its_links() {
        let (t, d) = setup();
        let outside = tempfile::tempdir().unwrap();
        std::fs::write(outside.path().join("keep"), "k").unwrap();
        std::fs::create_dir_all(t.path().join("x/y")).unwrap();
        symlink(outside.path(), t.path().join("x/y/out")).unwrap();
        d.remove_all(OsStr::new("x")).unwrap();
        assert!(!t.path().join("x").exists());
        assert!(outside.path().join("keep").exists());
    }
}
