//! Unpacking the archive `docker cp CONTAINER:PATH -` streams into a new name in a folder of
//! root's, within a budget: names are created one at a time relative to their parent's
//! descriptor, never through a link, never outside the new name, never deeper than a cap.

use std::ffi::OsStr;
use std::fs::File;
use std::io::Read;
use std::os::unix::ffi::OsStrExt;
use std::path::{Path, PathBuf};

use rustix::fs::{AtFlags, Gid, Mode, OFlags, Uid};

use crate::copy::{spend, Budget, Copied, MAX_DEPTH};
use crate::{io, refused, Dir, Error, Result};

fn bad(path: &Path, why: &'static str) -> Error {
    refused(path.to_path_buf(), why)
}

fn tar_err(path: &Path, source: std::io::Error) -> Error {
    Error::Io {
        path: path.to_path_buf(),
        source,
    }
}

/// Unpacks `archive`, whose names all start with `top` (the copied path's last name), so
/// that what was `top` becomes `name` in `into`. Links are created as links, never
/// followed; hard links, devices and FIFOs are skipped; set-id bits are dropped. Stops with
/// an error when `budget` runs out; the caller removes the partial result.
pub fn unpack(
    archive: &mut dyn Read,
    top: &OsStr,
    into: &Dir,
    name: &OsStr,
    budget: &mut Budget,
) -> Result<Copied> {
    let mut copied = Copied::default();
    let base = into.sub(Path::new(name));
    let mut tar = tar::Archive::new(archive);
    let entries = tar.entries().map_err(|e| tar_err(&base, e))?;
    for entry in entries {
        let mut entry = entry.map_err(|e| tar_err(&base, e))?;
        let raw = entry.path_bytes().into_owned();
        let mut parts = Vec::new();
        for part in raw.split(|b| *b == b'/') {
            match part {
                b"" | b"." => {}
                b".." => return Err(bad(&base, "the archive names a path with `..`")),
                p => parts.push(OsStr::from_bytes(p).to_os_string()),
            }
        }
        if parts.first().map(|p| p.as_os_str()) != Some(top) {
            return Err(bad(
                &base,
                "the archive holds a name outside the copied path",
            ));
        }
        if parts.len() > MAX_DEPTH {
            return Err(bad(&base, "is nested too deep to keep"));
        }
        // What was `top` is `name`; the rest keeps its names.
        let mut rel = PathBuf::from(name);
        rel.extend(&parts[1..]);
        let header = entry.header();
        let kind = header.entry_type();
        let mode = Mode::from_raw_mode(header.mode().unwrap_or(0o600) & 0o777);
        let uid = header.uid().ok().and_then(|u| u32::try_from(u).ok());
        let gid = header.gid().ok().and_then(|g| u32::try_from(g).ok());
        let owner = (uid.map(Uid::from_raw), gid.map(Gid::from_raw));
        let size = entry.size();
        let path = into.sub(&rel);
        let (parent, last) = into.parent_of(&rel)?;
        if kind.is_dir() {
            spend(budget, &path, 0)?;
            match rustix::fs::mkdirat(parent.fd(), last, Mode::from_raw_mode(0o700)) {
                Ok(()) | Err(rustix::io::Errno::EXIST) => {}
                Err(e) => return Err(io(&path, e)),
            }
            let dir = parent.open_dir(Path::new(last))?;
            rustix::fs::fchown(dir.fd(), owner.0, owner.1).map_err(|e| io(&path, e))?;
            rustix::fs::fchmod(dir.fd(), mode).map_err(|e| io(&path, e))?;
        } else if kind.is_file() {
            spend(budget, &path, size)?;
            let fd = rustix::fs::openat(
                parent.fd(),
                last,
                OFlags::WRONLY | OFlags::CREATE | OFlags::EXCL | OFlags::NOFOLLOW | OFlags::CLOEXEC,
                Mode::from_raw_mode(0o600),
            )
            .map_err(|e| io(&path, e))?;
            let mut out = File::from(fd);
            let n = std::io::copy(&mut (&mut entry).take(size), &mut out)
                .map_err(|e| tar_err(&path, e))?;
            rustix::fs::fchown(&out, owner.0, owner.1).map_err(|e| io(&path, e))?;
            rustix::fs::fchmod(&out, mode).map_err(|e| io(&path, e))?;
            copied.files += 1;
            copied.bytes += n;
        } else if kind.is_symlink() {
            spend(budget, &path, 0)?;
            let target = entry
                .link_name_bytes()
                .ok_or_else(|| bad(&path, "a link without a target"))?
                .into_owned();
            rustix::fs::symlinkat(OsStr::from_bytes(&target), parent.fd(), last)
                .map_err(|e| io(&path, e))?;
            rustix::fs::chownat(
                parent.fd(),
                last,
                owner.0,
                owner.1,
                AtFlags::SYMLINK_NOFOLLOW,
            )
            .map_err(|e| io(&path, e))?;
        } else {
            copied.skipped += 1;
        }
    }
    Ok(copied)
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::time::{Duration, Instant};

    fn budget() -> Budget {
        Budget {
            bytes: 1 << 20,
            entries: 100,
            deadline: Instant::now() + Duration::from_secs(10),
        }
    }

    fn archive(build: impl FnOnce(&mut tar::Builder<Vec<u8>>)) -> Vec<u8> {
        let mut b = tar::Builder::new(Vec::new());
        build(&mut b);
        b.into_inner().unwrap()
    }

    fn file(b: &mut tar::Builder<Vec<u8>>, path: &str, data: &[u8]) {
        let mut h = tar::Header::new_gnu();
        h.set_size(data.len() as u64);
        h.set_mode(0o4755);
        h.set_entry_type(tar::EntryType::Regular);
        b.append_data(&mut h, path, data).unwrap();
    }

    fn raw_name(b: &mut tar::Builder<Vec<u8>>, path: &[u8], kind: tar::EntryType, link: &[u8]) {
        let mut h = tar::Header::new_old();
        h.set_size(0);
        h.set_entry_type(kind);
        h.as_old_mut().name[..path.len()].copy_from_slice(path);
        h.as_old_mut().linkname[..link.len()].copy_from_slice(link);
        h.set_cksum();
        b.append(&h, std::io::empty()).unwrap();
    }

    #[test]
    fn unpacks_a_folder_under_the_new_name_with_links_kept_as_links() {
        let t = tempfile::tempdir().unwrap();
        let into = Dir::open(t.path()).unwrap();
        let bytes = archive(|b| {
            let mut h = tar::Header::new_gnu();
            h.set_entry_type(tar::EntryType::Directory);
            h.set_mode(0o755);
            h.set_size(0);
            b.append_data(&mut h, ".ssh/", std::io::empty()).unwrap();
            file(b, ".ssh/authorized_keys", b"key\n");
            raw_name(b, b".ssh/out", tar::EntryType::Symlink, b"/etc/shadow");
        });
        let copied = unpack(
            &mut bytes.as_slice(),
            OsStr::new(".ssh"),
            &into,
            OsStr::new("slot"),
            &mut budget(),
        )
        .unwrap();
        assert_eq!((copied.files, copied.bytes), (1, 4));
        assert_eq!(
            std::fs::read(t.path().join("slot/authorized_keys")).unwrap(),
            b"key\n"
        );
        use std::os::unix::fs::PermissionsExt;
        let mode = std::fs::metadata(t.path().join("slot/authorized_keys"))
            .unwrap()
            .permissions()
            .mode();
        assert_eq!(mode & 0o7777, 0o755, "set-id bits dropped");
        let link = t.path().join("slot/out");
        assert_eq!(std::fs::read_link(link).unwrap(), Path::new("/etc/shadow"));
    }

    #[test]
    fn refuses_names_outside_the_copied_path_and_writes_nothing_through_a_link() {
        let t = tempfile::tempdir().unwrap();
        let outside = tempfile::tempdir().unwrap();
        let into = Dir::open(t.path()).unwrap();
        for (path, why) in [
            (&b".ssh/../../x"[..], "`..`"),
            (&b"other/x"[..], "outside the copied path"),
        ] {
            let bytes = archive(|b| raw_name(b, path, tar::EntryType::Regular, b""));
            let e = unpack(
                &mut bytes.as_slice(),
                OsStr::new(".ssh"),
                &into,
                OsStr::new("s"),
                &mut budget(),
            )
            .unwrap_err()
            .to_string();
            assert!(e.contains(why), "{e}");
        }
        // A link first, then a file "inside" it: the file must not land where the link points.
        let target = outside.path().to_str().unwrap().as_bytes().to_vec();
        let bytes = archive(|b| {
            raw_name(b, b".ssh", tar::EntryType::Directory, b"");
            raw_name(b, b".ssh/l", tar::EntryType::Symlink, &target);
            file(b, ".ssh/l/planted", b"x");
        });
        let r = unpack(
            &mut bytes.as_slice(),
            OsStr::new(".ssh"),
            &into,
            OsStr::new("s2"),
            &mut budget(),
        );
        assert!(r.is_err());
        assert!(std::fs::read_dir(outside.path()).unwrap().next().is_none());
    }

    /// Regression (review): folders and empty files cost nothing, so 150,000 empty
    /// folders in a 10 MB quota wrote 590 MB of folders. Each name costs a block now.
    #[test]
    fn a_tree_of_empty_folders_is_charged_a_block_each() {
        let t = tempfile::tempdir().unwrap();
        let into = Dir::open(t.path()).unwrap();
        let bytes = archive(|b| {
            raw_name(b, b"e", tar::EntryType::Directory, b"");
            for i in 0..300 {
                raw_name(
                    b,
                    format!("e/{i}").as_bytes(),
                    tar::EntryType::Directory,
                    b"",
                );
            }
        });
        let mut small = Budget {
            bytes: 256 * 4096,
            ..budget()
        };
        small.entries = 10_000;
        let e = unpack(
            &mut bytes.as_slice(),
            OsStr::new("e"),
            &into,
            OsStr::new("s"),
            &mut small,
        )
        .unwrap_err()
        .to_string();
        assert!(e.contains("larger than may be copied"), "{e}");
    }

    #[test]
    fn stops_at_the_byte_budget_before_writing_the_file() {
        let t = tempfile::tempdir().unwrap();
        let into = Dir::open(t.path()).unwrap();
        let bytes = archive(|b| file(b, "big", &vec![0u8; 4096]));
        let mut small = Budget {
            bytes: 100,
            ..budget()
        };
        let e = unpack(
            &mut bytes.as_slice(),
            OsStr::new("big"),
            &into,
            OsStr::new("s"),
            &mut small,
        )
        .unwrap_err()
        .to_string();
        assert!(e.contains("larger than may be copied"), "{e}");
        assert!(!t.path().join("s").exists());
    }
}
