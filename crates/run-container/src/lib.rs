//! run-container: builds and runs the `docker run` of one booking, prepares the user's
//! folders and kept backup entries, and closes a container for the monitor. Docker is only
//! ever called with an argument vector, never through a shell.

pub mod argv;
pub mod docker;
pub mod kept;
pub mod plan;
pub mod session;
pub mod slurm_guard;
pub mod slurm_node;

pub use argv::{docker_run_args, Launch, Volumes};
pub use docker::Closed;

#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum Error {
    #[error(transparent)]
    Files(#[from] hostinfo::Error),
    #[error("user id `{id}` {why}; refused before calling docker")]
    BadUserId { id: String, why: &'static str },
    #[error("image `{0}` is not one of the images in host_deploy.yaml")]
    ImageNotAllowed(String),
    #[error("forward port {0} is outside 10001..11000")]
    BadPort(u16),
    #[error("GPU {id} does not exist on this host (max.gpus is {count})")]
    NoSuchGpu { id: u32, count: u32 },
    #[error("`{0}` has no entry in users_config.yaml: give --password-stdin, or sign up with `booking` first")]
    UnknownUser(String),
    #[error("{}: {why}", path.display())]
    BadPath {
        path: std::path::PathBuf,
        why: String,
    },
    #[error("cannot prepare {}: {source}", path.display())]
    Prepare {
        path: std::path::PathBuf,
        #[source]
        source: std::io::Error,
    },
    #[error(transparent)]
    Docker(#[from] docker_client::Error),
    #[error("container `{0}` exists but is not this installation's (no matching aivc.installation label, nor a using.csv row it matches by name and port); it is not ours and was left alone")]
    NotOurs(String),
}

impl Error {
    /// The exit code: docker's own when docker failed, else 2.
    pub fn exit_code(&self) -> u8 {
        match self {
            Error::Docker(e) => u8::try_from(e.code()).ok().filter(|c| *c != 0).unwrap_or(1),
            _ => 2,
        }
    }
}
