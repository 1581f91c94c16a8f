//! Copying a tree out of a user's folder into a folder only root can reach: the import of
//! a migrated user's backup entries. Read without following links, within a byte budget.

use std::ffi::OsStr;
use std::fs::File;
use std::os::unix::ffi::OsStrExt;
use std::path::Path;
use std::time::Instant;

use rustix::fs::{AtFlags, Gid, Mode, OFlags, Uid};

use crate::{io, kind_of, refused, Dir, Error, Kind, Result};

/// Folders deeper than this are not copied (each level holds one open descriptor).
pub const MAX_DEPTH: usize = 128;

/// How much one copy may take.
#[derive(Debug, Clone, Copy)]
pub struct Budget {
    /// Bytes of file content.
    pub bytes: u64,
    /// Names of any kind.
    pub entries: u64,
    pub deadline: Instant,
}

/// What a copy left out.
#[derive(Debug, Default, Clone, PartialEq, Eq)]
pub struct Copied {
    pub files: u64,
    pub bytes: u64,
    /// FIFOs, sockets and device nodes: not copied.
    pub skipped: u64,
}

/// Copies what is at `name` in `from` (a file, a folder with everything below it, or a
/// link, copied as a link and never followed) to the new name `to` in `into`, keeping
/// owners and permission bits (without set-id bits). Stops with an error when the budget
/// runs out; the caller removes the partial copy.
pub fn copy_tree(
    from: &Dir,
    name: &OsStr,
    into: &Dir,
    to: &OsStr,
    budget: &mut Budget,
) -> Result<Copied> {
    let mut copied = Copied::default();
    copy_one(from, name, into, to, budget, &mut copied, 0)?;
    Ok(copied)
}

pub(crate) fn spend(budget: &mut Budget, path: &Path, bytes: u64) -> Result<()> {
    if Instant::now() > budget.deadline {
        return Err(refused(
            path.to_path_buf(),
            "not copied within the time allowed",
        ));
    }
    budget.entries = budget
        .entries
        .checked_sub(1)
        .ok_or_else(|| refused(path.to_path_buf(), "holds more files than may be copied"))?;
    // What a name costs on disk: its size in whole blocks, and at least one block, so
    // that a tree of empty folders or files is not free.
    let cost = bytes.div_ceil(BLOCK).max(1).saturating_mul(BLOCK);
    budget.bytes = budget
        .bytes
        .checked_sub(cost)
        .ok_or_else(|| refused(path.to_path_buf(), "is larger than may be copied"))?;
    Ok(())
}

/// The block every name is charged at least (a folder, a link, an empty file).
pub const BLOCK: u64 = 4096;

pub(crate) fn owner(st: &rustix::fs::Stat) -> (Option<Uid>, Option<Gid>) {
    (
        Some(Uid::from_raw(st.st_uid)),
        Some(Gid::from_raw(st.st_gid)),
    )
}

/// Permission bits only: a set-uid file of a user never becomes root's on the host.
fn perm(st: &rustix::fs::Stat) -> Mode {
    Mode::from_raw_mode(st.st_mode & 0o777)
}

fn copy_one(
    from: &Dir,
    name: &OsStr,
    into: &Dir,
    to: &OsStr,
    budget: &mut Budget,
    copied: &mut Copied,
    depth: usize,
) -> Result<()> {
    let src = from.sub(Path::new(name));
    let dst = into.sub(Path::new(to));
    let st =
        rustix::fs::statat(from.fd(), name, AtFlags::SYMLINK_NOFOLLOW).map_err(|e| io(&src, e))?;
    match kind_of(st.st_mode) {
        Kind::File => {
            let size = u64::try_from(st.st_size).unwrap_or(u64::MAX);
            spend(budget, &src, size)?;
            let (mut input, _) = from.open_regular(name)?;
            let fd = rustix::fs::openat(
                into.fd(),
                to,
                OFlags::WRONLY | OFlags::CREATE | OFlags::EXCL | OFlags::NOFOLLOW | OFlags::CLOEXEC,
                Mode::from_raw_mode(0o600),
            )
            .map_err(|e| io(&dst, e))?;
            let mut output = File::from(fd);
            // The size seen above is the most we copy: a file growing meanwhile is cut.
            let n = std::io::copy(&mut std::io::Read::take(&mut input, size), &mut output)
                .map_err(|source| Error::Io {
                    path: dst.clone(),
                    source,
                })?;
            let (u, g) = owner(&st);
            rustix::fs::fchown(&output, u, g).map_err(|e| io(&dst, e))?;
            rustix::fs::fchmod(&output, perm(&st)).map_err(|e| io(&dst, e))?;
            copied.files += 1;
            copied.bytes += n;
        }
        Kind::Dir => {
            if depth >= MAX_DEPTH {
                return Err(refused(src, "is nested too deep to copy"));
            }
            spend(budget, &src, 0)?;
            let sub_from = from.open_dir(Path::new(name))?;
            rustix::fs::mkdirat(into.fd(), to, Mode::from_raw_mode(0o700))
                .map_err(|e| io(&dst, e))?;
            let sub_into = into.open_dir(Path::new(to))?;
            let most = usize::try_from(budget.entries).unwrap_or(usize::MAX);
            for entry in sub_from.names_at_most(most)? {
                copy_one(
                    &sub_from,
                    &entry,
                    &sub_into,
                    &entry,
                    budget,
                    copied,
                    depth + 1,
                )?;
            }
            let (u, g) = owner(&st);
            rustix::fs::fchown(sub_into.fd(), u, g).map_err(|e| io(&dst, e))?;
            rustix::fs::fchmod(sub_into.fd(), perm(&st)).map_err(|e| io(&dst, e))?;
        }
        Kind::Symlink => {
            spend(budget, &src, 0)?;
            let target =
                rustix::fs::readlinkat(from.fd(), name, Vec::new()).map_err(|e| io(&src, e))?;
            rustix::fs::symlinkat(OsStr::from_bytes(target.as_bytes()), into.fd(), to)
                .map_err(|e| io(&dst, e))?;
            let (u, g) = owner(&st);
            rustix::fs::chownat(into.fd(), to, u, g, AtFlags::SYMLINK_NOFOLLOW)
                .map_err(|e| io(&dst, e))?;
        }
        Kind::Other => copied.skipped += 1,
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::os::unix::fs::{symlink, PermissionsExt};
    use std::time::Duration;

    fn budget() -> Budget {
        Budget {
            bytes: 1 << 20,
            entries: 1000,
            deadline: Instant::now() + Duration::from_secs(10),
        }
    }

    #[test]
    fn copies_files_folders_and_links_as_links_and_drops_set_id_bits() {
        let src = tempfile::tempdir().unwrap();
        let dst = tempfile::tempdir().unwrap();
        let secret = tempfile::tempdir().unwrap();
        std::fs::write(secret.path().join("key"), "PRIVATE").unwrap();
        std::fs::create_dir_all(src.path().join("e/sub")).unwrap();
        std::fs::write(src.path().join("e/sub/f"), "data").unwrap();
        std::fs::set_permissions(
            src.path().join("e/sub/f"),
            std::fs::Permissions::from_mode(0o4755),
        )
        .unwrap();
        symlink(secret.path().join("key"), src.path().join("e/link")).unwrap();
        let from = Dir::open(src.path()).unwrap();
        let into = Dir::open(dst.path()).unwrap();
        let copied = copy_tree(
            &from,
            OsStr::new("e"),
            &into,
            OsStr::new("slot"),
            &mut budget(),
        )
        .unwrap();
        assert_eq!((copied.files, copied.bytes), (1, 4));
        assert_eq!(
            std::fs::read(dst.path().join("slot/sub/f")).unwrap(),
            b"data"
        );
        let mode = std::fs::metadata(dst.path().join("slot/sub/f"))
            .unwrap()
            .permissions()
            .mode();
        assert_eq!(mode & 0o7777, 0o755);
        let link = dst.path().join("slot/link");
        assert!(link.symlink_metadata().unwrap().file_type().is_symlink());
        assert_eq!(std::fs::read_link(link).unwrap(), secret.path().join("key"));
    }

    #[test]
    fn refuses_an_entry_that_is_a_link_at_its_top_or_on_its_way() {
        let src = tempfile::tempdir().unwrap();
        let dst = tempfile::tempdir().unwrap();
        symlink("/etc", src.path().join("etc")).unwrap();
        let from = Dir::open(src.path()).unwrap();
        let into = Dir::open(dst.path()).unwrap();
        // The top-level link is copied as a link, so nothing of /etc comes along.
        copy_tree(
            &from,
            OsStr::new("etc"),
            &into,
            OsStr::new("s"),
            &mut budget(),
        )
        .unwrap();
        assert!(dst
            .path()
            .join("s")
            .symlink_metadata()
            .unwrap()
            .file_type()
            .is_symlink());
        assert!(from.open_dir(Path::new("etc")).is_err());
    }

    #[test]
    fn stops_when_the_budget_runs_out() {
        let src = tempfile::tempdir().unwrap();
        let dst = tempfile::tempdir().unwrap();
        std::fs::create_dir(src.path().join("e")).unwrap();
        std::fs::write(src.path().join("e/big"), vec![0u8; 4096]).unwrap();
        let from = Dir::open(src.path()).unwrap();
        let into = Dir::open(dst.path()).unwrap();
        let mut small = Budget {
            bytes: 100,
            ..budget()
        };
        let e = copy_tree(&from, OsStr::new("e"), &into, OsStr::new("s"), &mut small).unwrap_err();
        assert!(e.to_string().contains("larger than may be copied"), "{e}");
    }
}
