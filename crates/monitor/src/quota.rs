//! Disk use of a user's folders against their quota, measured by userfs's walk (allocated
//! blocks like `du`, links never followed) and bounded in time so one folder cannot stall a tick.

use std::path::Path;
use std::time::{Duration, Instant};

pub use userfs::walk::{Outcome, Usage, Why};

/// Bytes used below `dir`, the walk stopping once over `limit` or at `deadline`; see
/// [`userfs::walk::usage`]. What it could not finish counts as over ([`Usage::counts_as_over`]).
pub fn usage(dir: &Path, limit: u64, deadline: Instant) -> Usage {
    userfs::walk::usage(dir, limit, deadline)
}

/// How long measuring one user's folders may take: `default`, or in debug builds
/// `AIVC_QUOTA_SECONDS` so that tests can make any folder too slow to measure.
pub fn time_allowed(default: Duration) -> Duration {
    if !cfg!(debug_assertions) {
        return default;
    }
    std::env::var("AIVC_QUOTA_SECONDS")
        .ok()
        .and_then(|s| s.trim().parse::<u64>().ok())
        .map_or(default, Duration::from_secs)
}

/// Bytes in `gb` GiB (the unit docker's `--memory=8g` uses too).
pub fn gib(gb: f64) -> u64 {
    (gb * (1u64 << 30) as f64) as u64
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_quota_in_gib_is_bytes_of_1024_cubed() {
        assert_eq!(gib(1.0), 1 << 30);
        assert_eq!(gib(0.5), 1 << 29);
        assert_eq!(gib(0.000001), 1073);
    }

    #[test]
    fn measures_through_the_safe_walk() {
        let dir = tempfile::tempdir().unwrap();
        std::fs::write(dir.path().join("big"), vec![1u8; 1 << 20]).unwrap();
        std::os::unix::fs::symlink("/usr", dir.path().join("usr-link")).unwrap();
        let far = Instant::now() + Duration::from_secs(30);
        let u = usage(dir.path(), gib(1.0), far);
        assert_eq!(u.outcome, Outcome::Complete);
        assert!((1 << 20..1 << 22).contains(&u.bytes), "{u:?}");
        assert_eq!(usage(dir.path(), 1 << 10, far).outcome, Outcome::OverLimit);
    }
}
