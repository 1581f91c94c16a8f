//! Cluster mode (docs/cluster.md): a lab with several hosts books as on one, and Slurm
//! starts, binds and ends each booking's session on its node. This crate is the monitor's
//! side of it: [`slurm`] runs Slurm's commands and reads what they print, [`mirror`] turns
//! the schedule into reservations and jobs and keeps Slurm in line with it, and [`check`]
//! compares the lab's slurm.conf with `cfg/cluster.yaml`. The node side (the prolog and
//! epilog that start and close a session's container) is `run-container`'s.

pub mod check;
pub mod mirror;
pub mod sim;
pub mod slurm;

/// Why a Slurm step failed.
#[derive(Debug, thiserror::Error)]
pub enum Error {
    #[error("{program} could not run: {source}")]
    Spawn {
        program: String,
        source: std::io::Error,
    },
    #[error("`{command}` failed: {said}")]
    Slurm { command: String, said: String },
    #[error("Unix account `{user}`: {why}")]
    NoAccount { user: String, why: String },
    #[error(transparent)]
    Files(#[from] hostinfo::Error),
}
