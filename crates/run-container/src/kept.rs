//! The entries of a user's `backup.yaml` (`.ssh`, `.pyenv`, …), kept across containers in a
//! root-only folder that no container sees, so that no user can ever re-point a mount source.
//!
//! dockerd resolves a bind mount's source path again at every start and restart of a
//! container. A source inside the user's own backup folder could be swapped for a symlink
//! from inside the container, and the next restart would mount whatever it names. So each
//! entry lives at `<kept>/<user>/<slot>`: every folder on that path is root's and mode 0700,
//! and the slot itself is a mount point inside the container, which cannot be renamed or
//! replaced from there. The user changes what is *in* an entry, never where it is.
//!
//! An entry gets its slot the first time it is needed: imported from the user's backup
//! folder when it is there (users moving from the old layout), else copied out of the
//! stopped container at the end of the booking, as the old system seeded entries.

use std::ffi::{OsStr, OsString};
use std::path::{Component, Path, PathBuf};
use std::time::{Duration, Instant};

use hostinfo::config::BackupSpec;
use userfs::copy::{copy_tree, Budget};
use userfs::{Dir, Kind};

/// The most of `backup.yaml` that is read; a larger file is refused.
pub const BACKUP_YAML_CAP: u64 = 64 * 1024;
/// The deepest nesting of `[`/`{` or `- ` that `backup.yaml` may use (it needs 3).
pub const MAX_NESTING: usize = 32;
/// The most entries one `backup.yaml` may list.
pub const MAX_ENTRIES: usize = 64;
/// The most refused entries listed one by one (and so logged) for one `backup.yaml`.
pub const MAX_REFUSALS: usize = 8;
/// How long importing one user's entries from the old layout may take.
pub const IMPORT_TIME: Duration = Duration::from_secs(600);
/// The most names one import may copy.
pub const IMPORT_ENTRIES: u64 = 1_000_000;

/// The container paths the booking's own folders use; no entry may take them.
const FIXED_TARGETS: [&str; 4] = [
    "/root/Work",
    "/root/Backup",
    "/root/Dataset",
    crate::argv::PROFILE_SCRIPT,
];

/// Why an entry of `backup.yaml` (or the file itself) was refused. Never holds the file's
/// content: only the entry's own paths, which the user typed for us.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Refused {
    pub entry: String,
    pub why: String,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum EntryKind {
    Dir,
    File,
}

impl EntryKind {
    fn matches(self, kind: Kind) -> bool {
        matches!(
            (self, kind),
            (EntryKind::Dir, Kind::Dir) | (EntryKind::File, Kind::File)
        )
    }
}

/// One checked entry.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Entry {
    /// Relative to the user's backup folder (where the old layout kept it).
    pub rel: PathBuf,
    /// Absolute, in the container.
    pub target: PathBuf,
    pub kind: EntryKind,
    /// Its name in the user's kept folder.
    pub slot: OsString,
}

impl Entry {
    pub fn describe(&self) -> String {
        describe(&self.rel, &self.target)
    }
}

fn describe(rel: &Path, target: &Path) -> String {
    let clean = |p: &Path| -> String {
        p.to_string_lossy()
            .chars()
            .map(|c| if c.is_control() { '?' } else { c })
            .take(200)
            .collect()
    };
    format!("{} -> {}", clean(rel), clean(target))
}

/// Characters docker's `-v src:dst` would read as more than one field, or a log as more
/// than one line.
fn docker_unsafe(p: &Path) -> bool {
    p.to_string_lossy()
        .contains(|c: char| c == ':' || c == ',' || c.is_control())
}

/// The slot name of `rel`: one file name that says which entry it keeps (`/` → `%2F`,
/// `%` → `%25`), so an admin can read the kept folder.
pub fn slot_name(rel: &Path) -> OsString {
    let text = rel.to_string_lossy();
    OsString::from(text.replace('%', "%25").replace('/', "%2F"))
}

/// The temporary name a slot is filled under before it is renamed into place; a bare `%`
/// followed by letters is never produced by [`slot_name`], so the two cannot collide.
fn staging_name(slot: &OsStr) -> OsString {
    let mut name = OsString::from("%staging%");
    name.push(slot);
    name
}

/// Reads the user's `backup.yaml` from their backup folder: never through a link, never
/// blocking on a FIFO, at most [`BACKUP_YAML_CAP`] bytes and [`MAX_NESTING`] levels. A
/// missing file is an empty list. A refusal says why without quoting the file.
pub fn read_spec(backup: &Dir) -> Result<BackupSpec, Refused> {
    let whole = |why: String| Refused {
        entry: "backup.yaml".into(),
        why,
    };
    let bytes = match backup.read_file(Path::new("backup.yaml"), BACKUP_YAML_CAP) {
        Ok(b) => b,
        Err(e) if e.is_missing() => return Ok(BackupSpec::default()),
        Err(e) => return Err(whole(format!("not read: it {}", e.reason()))),
    };
    let text =
        String::from_utf8(bytes).map_err(|_| whole("not read: it is not UTF-8 text".into()))?;
    // The same scan the config files get, with a tighter bound: the file needs 3 levels.
    if hostinfo::yaml::nesting(&text, MAX_NESTING).is_err() {
        return Err(whole(format!(
            "not read: it nests deeper than {MAX_NESTING} levels"
        )));
    }
    BackupSpec::parse(Path::new("backup.yaml"), &text).map_err(|e| {
        // The parser's message may quote the file; say only where it went wrong.
        let line = match &e {
            hostinfo::Error::Invalid { at, .. } => at.line,
            _ => None,
        };
        whole(match line {
            Some(n) => format!("not used: line {n} is not a `Dir:`/`File:` list of [backup path, container path] pairs"),
            None => "not used: it is not a `Dir:`/`File:` list of [backup path, container path] pairs".into(),
        })
    })
}

/// The entries of `spec` that may be kept and mounted, and the refused ones.
pub fn entries(spec: &BackupSpec) -> (Vec<Entry>, Vec<Refused>) {
    let mut ok: Vec<Entry> = Vec::new();
    let mut refused = Vec::new();
    // Each list has its own cap, so a long `Dir:` list cannot crowd out the `File:` one.
    let all = (spec
        .dirs
        .iter()
        .take(MAX_ENTRIES)
        .map(|e| (e, EntryKind::Dir)))
    .chain(
        spec.files
            .iter()
            .take(MAX_ENTRIES)
            .map(|e| (e, EntryKind::File)),
    );
    let over =
        spec.dirs.len().saturating_sub(MAX_ENTRIES) + spec.files.len().saturating_sub(MAX_ENTRIES);
    if over > 0 {
        refused.push(Refused {
            entry: format!("{over} entries"),
            why: format!("backup.yaml lists more than {MAX_ENTRIES} entries of a kind"),
        });
    }
    for ((rel, target), kind) in all {
        let entry = describe(rel, target);
        let why = if let Err(why) = userfs::plain_relative(rel) {
            Some(why.to_string())
        } else if docker_unsafe(rel) || docker_unsafe(target) {
            Some("may not contain `:`, `,` or control characters".into())
        } else if !target.is_absolute()
            || !target
                .components()
                .skip(1)
                .all(|c| matches!(c, Component::Normal(_)))
            || target.components().count() < 2
        {
            Some("the container path must be absolute, below `/`, without `..` or `.`".into())
        } else if FIXED_TARGETS.iter().any(|t| Path::new(t) == target) {
            Some("the container path is one of the booking's own folders".into())
        } else if ok.iter().any(|e| e.target == *target) {
            Some("another entry already mounts at that container path".into())
        } else if ok.iter().any(|e| e.rel == *rel) {
            Some("another entry already keeps that backup path".into())
        } else if slot_name(rel).len() > 255 {
            Some("the backup path is too long".into())
        } else {
            None
        };
        match why {
            Some(why) => refused.push(Refused { entry, why }),
            None => ok.push(Entry {
                rel: rel.clone(),
                target: target.clone(),
                kind,
                slot: slot_name(rel),
            }),
        }
    }
    // One line per refusal reaches the log: a file of thousands of bad entries gets a
    // count, not thousands of lines.
    if refused.len() > MAX_REFUSALS {
        let more = refused.len() - MAX_REFUSALS;
        refused.truncate(MAX_REFUSALS);
        refused.push(Refused {
            entry: format!("{more} more entries"),
            why: "refused too (not listed one by one)".into(),
        });
    }
    (ok, refused)
}

/// One user's kept folder, `<kept>/<user>`, root's alone.
#[derive(Debug)]
pub struct Kept {
    dir: Dir,
}

/// What [`Kept::mounts`] found.
#[derive(Debug, Default)]
pub struct Mounts {
    /// (host path of the slot, path in the container).
    pub mounts: Vec<(PathBuf, PathBuf)>,
    pub refused: Vec<Refused>,
    /// Entries imported from the user's backup folder just now.
    pub imported: Vec<String>,
}

impl Kept {
    /// Opens (creating when missing) `<kept_root>/<user>`, both mode 0700.
    pub fn open(kept_root: &Path, user: &str) -> userfs::Result<Kept> {
        let root = Dir::open_or_create(kept_root)?;
        root.set_mode(0o700)?;
        let dir = root.create_dir(OsStr::new(user), 0o700)?;
        dir.set_mode(0o700)?;
        Ok(Kept { dir })
    }

    pub fn path(&self) -> &Path {
        self.dir.path()
    }

    fn slot_kind(&self, entry: &Entry) -> Option<Kind> {
        self.dir.kind(Path::new(&entry.slot)).ok()
    }

    /// The mounts for `entries`: each slot that holds the right kind of thing. A missing
    /// slot is imported from `backup` (the user's backup folder) when the entry is there;
    /// else it stays missing, the image's own content shows, and the close copies it.
    pub fn mounts(&self, backup: Option<&Dir>, entries: &[Entry], import_bytes: u64) -> Mounts {
        let mut found = Mounts::default();
        let mut budget = Budget {
            bytes: import_bytes,
            entries: IMPORT_ENTRIES,
            deadline: Instant::now() + IMPORT_TIME,
        };
        for entry in entries {
            let mut kind = self.slot_kind(entry);
            if kind.is_none() {
                if let Some(backup) = backup {
                    match self.import(backup, entry, &mut budget) {
                        Ok(true) => {
                            found.imported.push(entry.describe());
                            kind = self.slot_kind(entry);
                        }
                        Ok(false) => {}
                        Err(why) => found.refused.push(Refused {
                            entry: entry.describe(),
                            why,
                        }),
                    }
                }
            }
            match kind {
                None => {}
                Some(k) if entry.kind.matches(k) => found
                    .mounts
                    .push((self.dir.path().join(&entry.slot), entry.target.clone())),
                Some(_) => found.refused.push(Refused {
                    entry: entry.describe(),
                    why: format!(
                        "its kept copy in {} is not a {}",
                        self.dir.path().display(),
                        if entry.kind == EntryKind::Dir {
                            "folder"
                        } else {
                            "file"
                        }
                    ),
                }),
            }
        }
        found
    }

    /// The kept folder itself, for writing a new slot under [`Kept::fill`].
    pub fn dir(&self) -> &Dir {
        &self.dir
    }

    /// Imports each of `entries` from the user's backup folder, within `budget`.
    pub fn import_missing(&self, backup: &Dir, entries: &[Entry], budget: &mut Budget) -> Mounts {
        let mut found = Mounts::default();
        for entry in entries {
            match self.import(backup, entry, budget) {
                Ok(true) => found.imported.push(entry.describe()),
                Ok(false) => {}
                Err(why) => found.refused.push(Refused {
                    entry: entry.describe(),
                    why,
                }),
            }
        }
        found
    }

    /// Copies `entry` from the user's backup folder into its slot; `Ok(false)` when the
    /// backup folder does not have it (as the right kind, reached without links).
    fn import(&self, backup: &Dir, entry: &Entry, budget: &mut Budget) -> Result<bool, String> {
        let kind = match backup.kind(&entry.rel) {
            Ok(kind) => kind,
            Err(e) if e.is_missing() => return Ok(false),
            Err(e) => {
                return Err(format!(
                    "not imported from the backup folder: {}",
                    e.reason()
                ))
            }
        };
        if !entry.kind.matches(kind) {
            return Err(format!(
                "not imported: in the backup folder it is {}",
                match kind {
                    Kind::Symlink => "a symbolic link, which is never followed",
                    Kind::Dir => "a folder, but the entry is a file",
                    Kind::File => "a file, but the entry is a folder",
                    Kind::Other => "a FIFO, socket or device",
                }
            ));
        }
        let parent = match entry.rel.parent().filter(|p| !p.as_os_str().is_empty()) {
            Some(p) => backup.open_dir(p).map_err(|e| e.to_string())?,
            None => Dir::open(backup.path()).map_err(|e| e.to_string())?,
        };
        let name = entry.rel.file_name().unwrap_or_default();
        self.fill(entry, |staging| {
            copy_tree(&parent, name, &self.dir, staging, budget)
                .map(|_| ())
                .map_err(|e| format!("not imported from the backup folder: {}", e.reason()))
        })?;
        Ok(true)
    }

    /// Fills `entry`'s slot through `copy`, which writes a fresh name in this folder: the
    /// result is renamed into place only when it is the entry's kind; anything else is
    /// removed. A leftover from an interrupted fill is removed first.
    pub fn fill(
        &self,
        entry: &Entry,
        copy: impl FnOnce(&OsStr) -> Result<(), String>,
    ) -> Result<(), String> {
        let staging = staging_name(&entry.slot);
        let clean = || self.dir.remove_all(&staging).map_err(|e| e.to_string());
        clean()?;
        if let Err(why) = copy(&staging) {
            clean()?;
            return Err(why);
        }
        match self.dir.kind(Path::new(&staging)) {
            Ok(k) if entry.kind.matches(k) => {}
            _ => {
                clean()?;
                return Err(format!(
                    "what was copied is not a {}; not kept",
                    if entry.kind == EntryKind::Dir {
                        "folder"
                    } else {
                        "file"
                    }
                ));
            }
        }
        if let Err(e) = self.dir.rename_new(&staging, &entry.slot) {
            clean()?;
            return Err(e.reason());
        }
        Ok(())
    }

    /// The host path under which [`Kept::fill`] wants `staging` written (for `docker cp`).
    pub fn staging_path(&self, staging: &OsStr) -> PathBuf {
        self.dir.path().join(staging)
    }

    /// Whether `entry` already has its slot.
    pub fn has(&self, entry: &Entry) -> bool {
        self.slot_kind(entry).is_some()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn spec(dirs: &[(&str, &str)], files: &[(&str, &str)]) -> BackupSpec {
        let pairs = |v: &[(&str, &str)]| v.iter().map(|(a, b)| (a.into(), b.into())).collect();
        BackupSpec {
            dirs: pairs(dirs),
            files: pairs(files),
        }
    }

    #[test]
    fn refuses_entries_that_leave_the_folder_or_break_the_mount_syntax() {
        let (ok, refused) = entries(&spec(
            &[
                ("../../etc", "/x"),
                ("/etc", "/x"),
                ("a:b", "/x"),
                ("ok", "relative"),
                ("ok", "/y:ro"),
                ("ok", "/root/../etc"),
                ("ok", "/root/Work"),
                ("ok", "/"),
                ("good", "/root/.ssh"),
                ("again", "/root/.ssh"),
            ],
            &[("line\nbreak", "/z")],
        ));
        assert_eq!(ok.len(), 1, "{ok:?}");
        assert_eq!(ok[0].slot, "good");
        // Ten refused: eight listed, the rest counted in one line.
        assert_eq!(refused.len(), MAX_REFUSALS + 1, "{refused:?}");
        assert_eq!(refused[MAX_REFUSALS].entry, "2 more entries");
        assert!(refused.iter().all(|r| !r.entry.contains('\n')));
    }

    #[test]
    fn slot_names_are_one_name_and_distinct() {
        assert_eq!(slot_name(Path::new(".default/.ssh")), ".default%2F.ssh");
        assert_ne!(slot_name(Path::new("a%2Fb")), slot_name(Path::new("a/b")));
        assert!(!slot_name(Path::new("a/b/c"))
            .to_string_lossy()
            .contains('/'));
        assert!(staging_name(OsStr::new("x"))
            .to_string_lossy()
            .starts_with("%staging%"));
    }

    #[test]
    fn a_refused_backup_yaml_is_never_quoted() {
        let dir = tempfile::tempdir().unwrap();
        std::fs::write(
            dir.path().join("backup.yaml"),
            "Dir: -----BEGIN PRIVATE KEY-----\n",
        )
        .unwrap();
        let d = Dir::open(dir.path()).unwrap();
        let r = read_spec(&d).unwrap_err();
        assert!(!r.why.contains("PRIVATE"), "{r:?}");
        std::fs::write(dir.path().join("backup.yaml"), "[".repeat(60_000)).unwrap();
        let start = Instant::now();
        let r = read_spec(&d).unwrap_err();
        assert!(r.why.contains("nests deeper"), "{r:?}");
        assert!(start.elapsed() < Duration::from_secs(1));
    }
}
