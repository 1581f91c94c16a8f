//! monitor: the scheduled tick (docs/operations.md) — close ended bookings, start due ones, reconcile
//! with Docker by label, watch the GPUs, answer requests — logging to `jobs/monitor.log` (docs/file-formats.md).

pub mod docker;
pub mod events;
pub mod export;
pub mod gpuwatch;
pub mod idle;
pub mod mirror;
pub mod quota;
pub mod tick;

#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum Error {
    #[error(transparent)]
    Files(#[from] hostinfo::Error),
    #[error(transparent)]
    Time(#[from] hostinfo::clock::TimeError),
    #[error("docker does not answer: {0}")]
    Docker(#[from] docker_client::Error),
    #[error(transparent)]
    Notices(#[from] notices::Error),
    #[error("usage sampling: {0}")]
    Usage(#[from] usage::Error),
}
