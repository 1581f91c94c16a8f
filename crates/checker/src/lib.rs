//! checker: the booking rules as pure functions over loaded state, and the
//! state report (`checker --json`, docs/file-formats.md). No I/O here but through hostinfo.

pub mod admin;
pub mod admission;
pub mod capacity;
pub mod idle;
pub mod limits;
pub mod metrics;
pub mod placement;
pub mod policies;
pub mod problems;
pub mod report;
pub mod rules;
pub mod snapshot;
pub mod summary;
pub mod timeline;
pub mod usage;
pub mod waitlist;

pub use admission::{
    admit, admit_fixed, admit_placed, suggest, suggest_placed, Context, NodeChoice, Placed,
    Refusal, Request, Resource, ScopeName, Window,
};
pub use report::Report;
pub use snapshot::Snapshot;

#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum Error {
    #[error(transparent)]
    Files(#[from] hostinfo::Error),
    #[error(transparent)]
    Time(#[from] hostinfo::clock::TimeError),
    /// An admin command that cannot be done as asked (an unknown id, one signed up already).
    #[error("{0}")]
    Admin(String),
}

/// Loads and checks every file an installation has, strictly: what `booking` and
/// `monitor` would refuse to run on is an error here too (docs/exit-codes.md: exit 2).
pub fn validate(root: &hostinfo::Root) -> Result<ValidationSummary, Error> {
    use hostinfo::Table;
    let config = root.load_config()?;
    config.clock()?;
    if let Some(template) = root.backup_template() {
        hostinfo::config::BackupSpec::load(&template)?;
    }
    let lock = root.lock_shared()?;
    let mut rows = [0usize; 3];
    for (i, table) in [Table::Booking, Table::Using, Table::Used]
        .into_iter()
        .enumerate()
    {
        let schedule = root.read_schedule_strict(table, &lock)?;
        // Rows the monitor would refuse to start; the history is only ever read.
        if table != Table::Used {
            schedule.check_rows(&root.schedule_path(table))?;
        }
        rows[i] = schedule.rows.len();
    }
    let requests = root.read_requests(&lock)?.len();
    root.read_start_failures(&lock)?;
    let waitlist = root.read_waitlist(&lock)?.len();
    Ok(ValidationSummary {
        users: config.users.iter().count(),
        booking: rows[0],
        using: rows[1],
        used: rows[2],
        requests,
        waitlist,
    })
}

/// What [`validate`] read.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct ValidationSummary {
    pub users: usize,
    pub booking: usize,
    pub using: usize,
    pub used: usize,
    pub requests: usize,
    /// Entries in `jobs/waitlist.csv`.
    pub waitlist: usize,
}
