//! The user's backup folder: created and seeded from the template, and the `backup.yaml`
//! entries checked so that none reaches outside it — not by `..`, not by an absolute path,
//! not through a symlink the user planted (SPEC §9).

use std::path::{Component, Path, PathBuf};

use hostinfo::config::BackupSpec;

/// Why an entry of `backup.yaml` was refused.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Refused {
    pub entry: String,
    pub why: String,
}

/// A path with a `:` or `,` would be read by docker as more than one field of `-v`.
fn docker_safe(p: &Path) -> bool {
    let s = p.to_string_lossy();
    !s.contains([':', ',', '\n', '\r']) && !s.is_empty()
}

/// Checks a relative path inside the backup dir: plain names only.
pub fn check_relative(rel: &Path) -> Result<(), String> {
    if rel.as_os_str().is_empty() {
        return Err("empty path".into());
    }
    if !rel.components().all(|c| matches!(c, Component::Normal(_))) {
        return Err("must be a relative path without `..` or `.`".into());
    }
    if !docker_safe(rel) {
        return Err("may not contain `:` or `,`".into());
    }
    Ok(())
}

/// Whether `path` (which exists) resolves to a place inside `dir` (already canonical).
pub fn resolves_inside(path: &Path, dir: &Path) -> Result<PathBuf, String> {
    let real = path
        .canonicalize()
        .map_err(|e| format!("cannot resolve: {e}"))?;
    if real.starts_with(dir) {
        Ok(real)
    } else {
        Err(format!(
            "resolves to {}, outside the backup folder",
            real.display()
        ))
    }
}

/// The entries to mount: those that exist in the backup dir and stay inside it. The rest
/// are either not there yet (copied out of the container at close) or refused.
pub fn mounts(backup_dir: &Path, spec: &BackupSpec) -> (Vec<(PathBuf, PathBuf)>, Vec<Refused>) {
    let mut ok = Vec::new();
    let mut refused = Vec::new();
    let Ok(dir) = backup_dir.canonicalize() else {
        return (ok, refused);
    };
    for (rel, container) in spec.dirs.iter().chain(&spec.files) {
        let entry = format!("{} -> {}", rel.display(), container.display());
        let checked = check_relative(rel).and_then(|()| {
            if !container.is_absolute() || !docker_safe(container) {
                return Err("the container path must be absolute, without `:` or `,`".into());
            }
            Ok(())
        });
        if let Err(why) = checked {
            refused.push(Refused { entry, why });
            continue;
        }
        let host = dir.join(rel);
        if host.symlink_metadata().is_err() {
            continue;
        }
        match resolves_inside(&host, &dir) {
            Ok(real) if docker_safe(&real) => ok.push((real, container.clone())),
            Ok(real) => refused.push(Refused {
                entry,
                why: format!("resolves to {}, which docker cannot mount", real.display()),
            }),
            Err(why) => refused.push(Refused { entry, why }),
        }
    }
    (ok, refused)
}

/// Creates the work and backup folders when missing, and puts a copy of the template
/// `backup.yaml` in the backup folder when it has none.
pub fn prepare(work: &Path, backup: &Path, template: &Path) -> std::io::Result<()> {
    std::fs::create_dir_all(work)?;
    std::fs::create_dir_all(backup)?;
    let own = backup.join("backup.yaml");
    if own.symlink_metadata().is_err() {
        std::fs::copy(template, &own)?;
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn spec(entries: &[(&str, &str)]) -> BackupSpec {
        BackupSpec {
            dirs: entries.iter().map(|(a, b)| (a.into(), b.into())).collect(),
            files: Vec::new(),
        }
    }

    #[test]
    fn refuses_dot_dot_absolute_and_colon_entries() {
        let dir = tempfile::tempdir().unwrap();
        let (ok, refused) = mounts(
            dir.path(),
            &spec(&[
                ("../../etc", "/x"),
                ("/etc", "/x"),
                ("a:b", "/x"),
                ("ok", "relative"),
                ("ok", "/y:ro"),
            ]),
        );
        assert!(ok.is_empty());
        assert_eq!(refused.len(), 5, "{refused:?}");
    }

    #[test]
    fn refuses_a_symlink_that_escapes_and_mounts_the_rest() {
        let dir = tempfile::tempdir().unwrap();
        std::os::unix::fs::symlink("/", dir.path().join("root")).unwrap();
        std::fs::create_dir_all(dir.path().join(".home/.ssh")).unwrap();
        let (ok, refused) = mounts(
            dir.path(),
            &spec(&[
                ("root", "/hostfs"),
                (".home/.ssh", "/root/.ssh"),
                ("missing", "/m"),
            ]),
        );
        assert_eq!(refused.len(), 1);
        assert!(
            refused[0].why.contains("outside the backup folder"),
            "{refused:?}"
        );
        assert_eq!(ok.len(), 1);
        assert!(ok[0].0.ends_with(".home/.ssh"));
    }
}
