//! Starting and closing one booking's container together with the monitor.log lines that go
//! with it: the one path `run-container`, `run-container close` and the Slurm node side share.

use docker_client::{Client, Container};
use hostinfo::log::{LogLine, Sign};
use hostinfo::{Config, Root};

use crate::plan::{self, Plan};
use crate::{Closed, Error};

/// A started container and the lines appended to jobs/monitor.log on the way.
#[derive(Debug)]
pub struct Started {
    /// The new container's full id.
    pub id: String,
    pub logged: Vec<LogLine>,
}

/// Prepares the user's folders and kept entries for `plan`, logs what was imported or
/// refused, and runs the container.
pub fn start(
    root: &Root,
    config: &Config,
    mut plan: Plan,
    client: &Client,
) -> Result<Started, Error> {
    let prepared = plan.prepare(root)?;
    let now = config.clock().map(|c| c.now()).unwrap_or_default();
    let user = plan.launch.user_id.clone();
    let mut logged = Vec::new();
    for entry in &prepared.imported {
        logged.push(LogLine::info(
            now,
            format!("{user}'s backup entry `{entry}` is now kept by the host (imported from the backup folder)."),
        ));
    }
    for r in prepared.refused {
        logged.push(LogLine::warning(
            now,
            Sign::ContainerWarning,
            format!("{user}'s backup entry `{}` refused: {}", r.entry, r.why),
        ));
    }
    for line in &logged {
        root.append_log(line)?;
    }
    let id = crate::docker::run(client, &plan.args(), &plan.password)?;
    Ok(Started { id, logged })
}

/// A close and the lines appended to jobs/monitor.log for it.
#[derive(Debug)]
pub struct ClosedLogged {
    pub closed: Closed,
    pub logged: Vec<LogLine>,
}

/// Closes `user_id`'s container when `accept` takes it (see [`crate::docker::close_if`]):
/// backs up the entries not kept yet, then removes it; logs each entry not kept.
pub fn close(
    root: &Root,
    config: &Config,
    user_id: &str,
    client: &Client,
    accept: &dyn Fn(&Container, &str) -> bool,
) -> Result<ClosedLogged, Error> {
    if let Some(why) = hostinfo::names::user_id_problem(user_id) {
        return Err(Error::BadUserId {
            id: user_id.to_string(),
            why,
        });
    }
    let folders = plan::folders(root, config, user_id)?;
    let keep = plan::keep_bytes(config, user_id);
    let closed = crate::docker::close_if(client, root, &folders, user_id, keep, accept)?;
    let now = config.clock().map(|c| c.now()).unwrap_or_default();
    let mut logged = Vec::new();
    for r in &closed.refused {
        let line = LogLine::warning(
            now,
            Sign::ContainerWarning,
            format!("{user_id}'s backup entry `{}` not kept: {}", r.entry, r.why),
        );
        root.append_log(&line)?;
        logged.push(line);
    }
    Ok(ClosedLogged { closed, logged })
}
