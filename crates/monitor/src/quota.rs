//! Disk use of a user's folders, measured like `du` (allocated blocks, links not followed)
//! and bounded in time so one huge folder cannot stall a tick.

use std::os::unix::fs::MetadataExt;
use std::path::Path;
use std::time::Instant;

/// Bytes used below `dir`, or `Err` with what was counted when `deadline` passed.
pub fn usage(dir: &Path, deadline: Instant) -> Result<u64, u64> {
    let mut total = 0u64;
    let mut stack = vec![dir.to_path_buf()];
    while let Some(d) = stack.pop() {
        if Instant::now() > deadline {
            return Err(total);
        }
        let Ok(meta) = d.symlink_metadata() else {
            continue;
        };
        total += meta.blocks() * 512;
        if !meta.is_dir() {
            continue;
        }
        let Ok(entries) = std::fs::read_dir(&d) else {
            continue;
        };
        for entry in entries.flatten() {
            let path = entry.path();
            match entry.file_type() {
                Ok(t) if t.is_dir() => stack.push(path),
                Ok(_) => {
                    if let Ok(m) = path.symlink_metadata() {
                        total += m.blocks() * 512;
                    }
                }
                Err(_) => {}
            }
        }
    }
    Ok(total)
}

/// Bytes in `gb` GiB (the unit docker's `--memory=8g` uses too).
pub fn gib(gb: f64) -> u64 {
    (gb * (1u64 << 30) as f64) as u64
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::time::Duration;

    #[test]
    fn counts_files_below_and_does_not_follow_links() {
        let dir = tempfile::tempdir().unwrap();
        std::fs::create_dir(dir.path().join("sub")).unwrap();
        std::fs::write(dir.path().join("sub/big"), vec![1u8; 1 << 20]).unwrap();
        std::os::unix::fs::symlink("/usr", dir.path().join("usr-link")).unwrap();
        let used = usage(dir.path(), Instant::now() + Duration::from_secs(10)).unwrap();
        assert!((1 << 20..1 << 22).contains(&used), "{used}");
    }

    #[test]
    fn stops_at_the_deadline() {
        let dir = tempfile::tempdir().unwrap();
        assert!(usage(dir.path(), Instant::now() - Duration::from_secs(1)).is_err());
    }
}
