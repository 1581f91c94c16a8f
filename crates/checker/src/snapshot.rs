//! The state the checker looks at: the configuration, and the `booking` and `using` rows
//! with the file and line each came from, read under one shared lock.

use std::path::Path;

use chrono::NaiveDateTime;
use hostinfo::lock::Held;
use hostinfo::schedule::Row;
use hostinfo::{Config, Root, StartFailure, Table};

/// A row and where it was read.
#[derive(Debug, Clone, PartialEq)]
pub struct TableRow {
    pub table: Table,
    pub line: u64,
    pub row: Row,
}

#[derive(Debug)]
pub struct Snapshot {
    pub root: Root,
    pub config: Config,
    /// `using` rows, then `booking` rows, each in file order.
    pub rows: Vec<TableRow>,
    /// Wall-clock time now in the configured zone.
    pub now: NaiveDateTime,
    /// Whether `now` was fixed by `AIVC_NOW`.
    pub clock_fixed: bool,
    /// The monitor's record of starts that failed (`jobs/start-failures.csv`), or why it
    /// cannot be read: a bad record is a problem to report, not a reason to report nothing.
    pub start_failures: Result<Vec<StartFailure>, hostinfo::Error>,
    /// `jobs/waitlist.csv` in join order, or why it cannot be read (reported as a problem).
    pub waitlist: Result<Vec<hostinfo::waitlist::Entry>, hostinfo::Error>,
    /// Why the schedule was read without the lock (a read-only `jobs/` without `.lock`).
    pub unlocked: Option<String>,
    /// On a cluster, `jobs/slurm-jobs.csv` (the monitor's record of the Slurm jobs it
    /// submitted, with the GPU ids Slurm bound), or why it cannot be read; empty on a single
    /// host.
    pub slurm_jobs: Result<Vec<hostinfo::cluster::SlurmJob>, hostinfo::Error>,
    /// `used.csv`, read under the same lock, when asked for ([`Snapshot::load_with_history`]);
    /// empty otherwise.
    pub history: Vec<Row>,
}

impl Snapshot {
    /// Reads the configuration and both live schedule files under a shared lock.
    pub fn load(root: Root) -> Result<Self, crate::Error> {
        Self::load_inner(root, false)
    }

    /// [`Snapshot::load`], and `used.csv` read under the same lock (for the usage report:
    /// a tick moving a row from `using.csv` to `used.csv` is seen before or after, never
    /// half).
    pub fn load_with_history(root: Root) -> Result<Self, crate::Error> {
        Self::load_inner(root, true)
    }

    fn load_inner(root: Root, with_history: bool) -> Result<Self, crate::Error> {
        let config = root.load_config()?;
        let clock = config.clock()?;
        let lock = root.lock_shared()?;
        let rows = read_rows(&root, &lock)?;
        let history = if with_history {
            root.read_schedule(Table::Used, &lock)?.rows
        } else {
            Vec::new()
        };
        let start_failures = root.read_start_failures(&lock);
        let waitlist = root.read_waitlist(&lock);
        let slurm_jobs = if config.cluster.is_some() {
            root.read_slurm_jobs(&lock)
        } else {
            Ok(Vec::new())
        };
        let unlocked = lock.unlocked().map(str::to_string);
        drop(lock);
        Ok(Snapshot {
            root,
            config,
            rows,
            now: clock.now(),
            clock_fixed: clock.is_fixed(),
            start_failures,
            waitlist,
            slurm_jobs,
            unlocked,
            history,
        })
    }

    /// The history (when loaded), then the `using` and `booking` rows: every booking the
    /// installation knows.
    pub fn all_rows(&self) -> Vec<Row> {
        self.history
            .iter()
            .cloned()
            .chain(self.rows.iter().map(|r| r.row.clone()))
            .collect()
    }

    /// A path as a person reads it: relative to the root when it lies inside.
    pub fn display_path(&self, path: &Path) -> String {
        display_path(&self.root, path)
    }
}

pub(crate) fn display_path(root: &Root, path: &Path) -> String {
    path.strip_prefix(root.dir())
        .unwrap_or(path)
        .display()
        .to_string()
}

/// The `using` and `booking` rows with their lines.
pub fn read_rows(root: &Root, lock: &impl Held) -> hostinfo::Result<Vec<TableRow>> {
    let mut rows = Vec::new();
    for table in [Table::Using, Table::Booking] {
        let s = root.read_schedule(table, lock)?;
        rows.extend(s.rows.into_iter().zip(s.lines).map(|(row, line)| TableRow {
            table,
            line,
            row,
        }));
    }
    Ok(rows)
}
