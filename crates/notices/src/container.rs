//! The container channel: each notice is its own file `.aivc/notices/<id>.txt` in the
//! student's work folder (`/root/Work` in the container), written only through userfs.
//! A file already there under the notice's name means it was delivered: exactly once.

use std::ffi::OsStr;
use std::path::Path;

use hostinfo::notices::Notice;
use hostinfo::{Config, Root};
use userfs::{Dir, Kind};

use crate::{words, Failure};

/// The folder below the work folder, and its place in the container.
pub const FOLDER: &str = ".aivc/notices";
/// How many notice files a folder keeps; older ones are removed.
pub const KEEP_FILES: usize = 100;
/// A folder with more names than this is not read (the user filled it): the channel fails.
const MOST_NAMES: usize = 10_000;

/// Whether `id` can be a file name: letters, digits, `-`, `_`, `.`, not starting with a
/// dot, at most 100 bytes (the outbox's ids are `<time>-<pid>-<digits>`).
fn plain_id(id: &str) -> bool {
    !id.is_empty()
        && id.len() <= 100
        && !id.starts_with('.')
        && id
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || b"-_.".contains(&b))
}

fn refused(e: &userfs::Error) -> Failure {
    Failure::retry(format!("the notices folder was refused: {}", e.reason()))
}

/// Opens (creating when missing) `<work>/.aivc/notices` without following any link the
/// user put there.
fn open_folder(root: &Root, config: &Config, user: &str) -> Result<Dir, Failure> {
    if let Some(why) = hostinfo::names::user_id_problem(user) {
        return Err(Failure::permanent(format!("the user id {why}")));
    }
    if config.users.get(user).is_none() {
        return Err(Failure::permanent("the user is not in users_config.yaml"));
    }
    let work = config.user_folders(root, user).work;
    let work = Dir::open_or_create(&work).map_err(|e| refused(&e))?;
    let aivc = work
        .create_dir(OsStr::new(".aivc"), 0o755)
        .map_err(|e| refused(&e))?;
    aivc.create_dir(OsStr::new("notices"), 0o755)
        .map_err(|e| refused(&e))
}

/// Writes `n` into `user`'s notices folder unless it is there already. The file appears
/// whole or not at all (written under a temporary name, then renamed without replacing).
pub fn write(root: &Root, config: &Config, user: &str, n: &Notice) -> Result<(), Failure> {
    if !plain_id(&n.id) {
        return Err(Failure::permanent(
            "the notice id cannot be a file name".to_string(),
        ));
    }
    let dir = open_folder(root, config, user)?;
    let name = format!("{}.txt", n.id);
    let name = OsStr::new(&name);
    if already_there(&dir, name)? {
        return Ok(());
    }
    let temp = format!(".{}.tmp", n.id);
    let temp = OsStr::new(&temp);
    // What an interrupted run left (or the user put there): unlinked, never followed; a
    // folder there is refused rather than walked.
    dir.remove_file(temp).map_err(|e| refused(&e))?;
    let bytes = words::container_line(n);
    if !dir
        .create_file(temp, bytes.as_bytes(), 0o644)
        .map_err(|e| refused(&e))?
    {
        return Err(Failure::retry(
            "something appeared at the notice's temporary name",
        ));
    }
    if let Err(e) = dir.rename_new(temp, name) {
        let _ = dir.remove_file(temp);
        // Another writer (or the user) put a file there meanwhile: judged as above.
        if already_there(&dir, name)? {
            return Ok(());
        }
        return Err(refused(&e));
    }
    Ok(())
}

/// Whether a regular file holds `name`; a link, FIFO, device or folder there is refused.
fn already_there(dir: &Dir, name: &OsStr) -> Result<bool, Failure> {
    match dir.kind(Path::new(name)) {
        Ok(Kind::File) => Ok(true),
        Ok(_) => Err(Failure::retry(
            "something other than a plain file stands at the notice's name",
        )),
        Err(e) if e.is_missing() => Ok(false),
        Err(e) => Err(refused(&e)),
    }
}

/// Removes the oldest notice files beyond [`KEEP_FILES`] (names sort by time: ids start
/// with it). Only names a notice could have (`<plain id>.txt`) that are plain files are
/// unlinked, one each: nothing is followed, and no folder a user put there is walked.
pub fn prune(root: &Root, config: &Config, user: &str) -> Result<(), Failure> {
    let dir = open_folder(root, config, user)?;
    let mut names: Vec<_> = dir
        .names_at_most(MOST_NAMES)
        .map_err(|e| refused(&e))?
        .into_iter()
        .filter(|n| {
            n.to_str()
                .and_then(|n| n.strip_suffix(".txt"))
                .is_some_and(plain_id)
        })
        .filter(|n| matches!(dir.kind(Path::new(n)), Ok(Kind::File)))
        .collect();
    if names.len() <= KEEP_FILES {
        return Ok(());
    }
    names.sort();
    let extra = names.len() - KEEP_FILES;
    for name in &names[..extra] {
        dir.remove_file(name).map_err(|e| refused(&e))?;
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::plain_id;

    #[test]
    fn only_plain_ids_become_file_names() {
        assert!(plain_id("20261124T100000-4242-000012345"));
        for bad in ["", ".hidden", "a/b", "..", "a b", &"x".repeat(101)] {
            assert!(!plain_id(bad), "{bad}");
        }
    }
}
