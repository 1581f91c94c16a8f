//! The node side of cluster mode (docs/cluster.md): what Slurm's root Prolog and Epilog run
//! on a node. It starts and closes the container of a booking whose job the monitor submitted,
//! and leaves every other job — most of them students' own — alone without a trace.
//!
//! Nothing here trusts what a job's owner can set (its name, comment, environment or working
//! folder): a job is ours only when its id is in the monitor's record (jobs/slurm-jobs.csv,
//! written by root on the controller) for this node and this Unix user, and its booking is in
//! the schedule on this node, now. The variables read here are set by slurmd itself.

use chrono::{Duration, NaiveDateTime};
use docker_client::{Client, Container};
use hostinfo::cluster::SlurmJob;
use hostinfo::log::{LogLine, Sign};
use hostinfo::schedule::{format_time, GpuSet, Row};
use hostinfo::{Config, Root, Table};

use crate::plan::{self, Ask};
use crate::session;

/// How long before its booking's start a job may start its container: the monitor submits
/// each job to begin at the booking's start, and a node's clock may run a little ahead.
pub const EARLY_START: Duration = Duration::minutes(5);

/// The most GPU ids one job may be bound.
pub const MAX_GPUS: usize = 256;

/// What slurmd tells the Prolog and Epilog about the job, checked.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct JobEnv {
    /// `SLURM_JOB_ID`.
    pub job_id: u64,
    /// `SLURMD_NODENAME`: the node this slurmd runs as.
    pub node: String,
    /// `SLURM_JOB_USER`: the job's Unix user.
    pub user: String,
    /// `SLURM_JOB_GPUS`: the GPU indices Slurm bound (positions in gres.conf's `File=` list).
    pub gpus: GpuSet,
}

/// Why the environment is not one slurmd gives a job's Prolog or Epilog.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum EnvProblem {
    #[error("{0} is not set (this runs as Slurm's Prolog or Epilog, which sets it)")]
    Missing(&'static str),
    #[error("{name} is not {what}")]
    Bad {
        name: &'static str,
        what: &'static str,
    },
}

impl JobEnv {
    /// From this process's environment.
    pub fn from_env() -> Result<JobEnv, EnvProblem> {
        JobEnv::from_vars(|name| std::env::var(name).ok())
    }

    /// From `get`, which answers a variable's value.
    pub fn from_vars(get: impl Fn(&str) -> Option<String>) -> Result<JobEnv, EnvProblem> {
        let need = |name: &'static str| get(name).ok_or(EnvProblem::Missing(name));
        let job_id = parse_job_id(&need("SLURM_JOB_ID")?).ok_or(EnvProblem::Bad {
            name: "SLURM_JOB_ID",
            what: "a job id (1 to 19 digits)",
        })?;
        let node = need("SLURMD_NODENAME")?;
        if !hostinfo::cluster::is_node_name(&node) {
            return Err(EnvProblem::Bad {
                name: "SLURMD_NODENAME",
                what: "a node name",
            });
        }
        let user = need("SLURM_JOB_USER")?;
        if user.is_empty() || user.len() > 64 || user.contains(|c: char| c.is_control()) {
            return Err(EnvProblem::Bad {
                name: "SLURM_JOB_USER",
                what: "a Unix user name",
            });
        }
        let gpus =
            parse_gpus(get("SLURM_JOB_GPUS").as_deref()).map_err(|what| EnvProblem::Bad {
                name: "SLURM_JOB_GPUS",
                what,
            })?;
        Ok(JobEnv {
            job_id,
            node,
            user,
            gpus,
        })
    }
}

/// A job id as slurmd writes it: ASCII digits only, no sign or space, at most 19 of them.
pub fn parse_job_id(text: &str) -> Option<u64> {
    if text.is_empty() || text.len() > 19 || !text.bytes().all(|b| b.is_ascii_digit()) {
        return None;
    }
    text.parse().ok().filter(|id| *id > 0)
}

/// `SLURM_JOB_GPUS`: absent or empty for a job without GPUs, else a comma list of indices
/// (`0`, `0,1`); a range `2-3` is taken too. Anything else is refused, as are repeats.
pub fn parse_gpus(text: Option<&str>) -> Result<GpuSet, &'static str> {
    const WHAT: &str = "a comma list of GPU indices (like 0,1)";
    let Some(text) = text.filter(|t| !t.is_empty()) else {
        return Ok(GpuSet::default());
    };
    let index = |t: &str| -> Result<u32, &'static str> {
        if t.is_empty() || t.len() > 4 || !t.bytes().all(|b| b.is_ascii_digit()) {
            return Err(WHAT);
        }
        t.parse().map_err(|_| WHAT)
    };
    let mut ids: Vec<u32> = Vec::new();
    for part in text.split(',') {
        let (first, last) = match part.split_once('-') {
            Some((a, b)) => (index(a)?, index(b)?),
            None => {
                let i = index(part)?;
                (i, i)
            }
        };
        if first > last {
            return Err(WHAT);
        }
        for id in first..=last {
            if ids.contains(&id) {
                return Err("a list without repeated GPU indices");
            }
            ids.push(id);
            if ids.len() > MAX_GPUS {
                return Err("a list of at most 256 GPU indices");
            }
        }
    }
    Ok(GpuSet::new(ids))
}

/// What the Prolog or Epilog did with one job.
#[derive(Debug, Clone, PartialEq)]
#[non_exhaustive]
pub enum Outcome {
    /// Not a job of ours: nothing was touched and nothing logged.
    Ignored,
    /// A recorded job that failed a check: nothing was started or closed; a warning says why.
    Refused(String),
    /// The booking's container runs now (the prolog).
    Started { user: String, container: String },
    /// The booking's container was already running (a prolog run again).
    AlreadyRunning { user: String },
    /// The booking's container was backed up and removed (the epilog).
    Closed { user: String, kept: usize },
    /// The epilog found no container of this booking: gone already, or the user's next
    /// booking's by now.
    NothingToClose { user: String },
    /// Something failed; an error line says what.
    Failed(String),
}

/// The record of `env`'s job, when the monitor submitted it; `Err` when the record cannot be
/// read (then nobody can tell, and the caller says so).
fn recorded(root: &Root, env: &JobEnv) -> Result<Option<SlurmJob>, hostinfo::Error> {
    Ok(root
        .read_slurm_jobs_unlocked()?
        .into_iter()
        .find(|j| j.job_id == env.job_id))
}

/// Appends one line to jobs/monitor.log; a log that cannot be written is reported in the
/// outcome's text, as nothing else can be done from a Prolog.
fn log(root: &Root, line: LogLine) -> String {
    let text = line.to_string();
    match root.append_log(&line) {
        Ok(()) => text,
        Err(e) => format!("{text} (not logged: {e})"),
    }
}

fn now_of(config: &Config) -> Result<NaiveDateTime, String> {
    config.clock().map(|c| c.now()).map_err(|e| e.to_string())
}

/// The checks both sides make before acting: the job is recorded, cluster mode is on, the
/// record names this node and the job runs as the booking's Unix user.
fn ours(root: &Root, env: &JobEnv, side: &str) -> Result<(SlurmJob, Config), Outcome> {
    // Without the record or the configuration no job can be told ours; say so once per job.
    let cannot_check = |e: hostinfo::Error| {
        let line = LogLine::error(
            chrono::Local::now().naive_local(),
            Sign::ContainerError,
            format!(
                "the {side} on node {} could not check Slurm job {}: {e}",
                env.node, env.job_id
            ),
        );
        Outcome::Failed(log(root, line))
    };
    let record = match recorded(root, env) {
        Ok(Some(r)) => r,
        Ok(None) => return Err(Outcome::Ignored),
        Err(e) => return Err(cannot_check(e)),
    };
    let config = root.load_config().map_err(cannot_check)?;
    let Some(cluster) = &config.cluster else {
        return Err(Outcome::Ignored);
    };
    let now = now_of(&config).unwrap_or_default();
    let refuse = |why: String| {
        Outcome::Refused(log(
            root,
            LogLine::warning(now, Sign::ContainerWarning, why),
        ))
    };
    if record.node != env.node || cluster.node(&env.node).is_none() {
        return Err(refuse(format!(
            "Slurm job {} ran on node {}, but the monitor submitted it for {}'s booking on node {}; the {side} did nothing.",
            env.job_id, env.node, record.user_id, record.node
        )));
    }
    let unix_user = cluster.unix_user_of(&record.user_id);
    if env.user != unix_user {
        // The job's own user name is not repeated: only what the record says it should be.
        return Err(refuse(format!(
            "Slurm job {} on node {} does not run as {unix_user}, the Unix user of {}'s booking; the {side} did nothing.",
            env.job_id, env.node, record.user_id
        )));
    }
    Ok((record, config))
}

/// The booking `record` stands for, from booking.csv or using.csv, read under the shared
/// lock (whose wait is bounded: `AIVC_LOCK_TIMEOUT`, else 10 s).
fn booking_of(root: &Root, record: &SlurmJob) -> Result<Option<Row>, hostinfo::Error> {
    let lock = root.lock_shared()?;
    for table in [Table::Using, Table::Booking] {
        let rows = match root.read_schedule(table, &lock) {
            Ok(s) => s.rows,
            Err(hostinfo::Error::Missing { .. }) => continue,
            Err(e) => return Err(e),
        };
        if let Some(row) = rows
            .into_iter()
            .find(|r| r.user_id == record.user_id && r.start == record.start)
        {
            return Ok(Some(row));
        }
    }
    Ok(None)
}

/// The Prolog: starts the container of the booking whose job begins on this node, with the
/// GPUs Slurm bound. A container of this installation that still bears the user's name (their
/// previous booking, whose epilog has not run yet) is closed first, as at any close.
pub fn prolog(root: &Root, env: &JobEnv, client: &Client) -> Outcome {
    let (record, config) = match ours(root, env, "prolog") {
        Ok(found) => found,
        Err(outcome) => return outcome,
    };
    let cluster = config.cluster.as_ref().expect("checked by ours()");
    let now = match now_of(&config) {
        Ok(now) => now,
        Err(e) => {
            let line = LogLine::error(
                chrono::Local::now().naive_local(),
                Sign::ContainerError,
                format!(
                    "the prolog on node {} could not read the clock for Slurm job {}: {e}",
                    env.node, env.job_id
                ),
            );
            return Outcome::Failed(log(root, line));
        }
    };
    let user = record.user_id.clone();
    let job = env.job_id;
    let node = &env.node;
    let refuse = |why: String| {
        Outcome::Refused(log(
            root,
            LogLine::warning(now, Sign::ContainerWarning, why),
        ))
    };
    let fail =
        |why: String| Outcome::Failed(log(root, LogLine::error(now, Sign::ContainerError, why)));
    let row = match booking_of(root, &record) {
        Ok(Some(row)) => row,
        Ok(None) => {
            return refuse(format!(
                "Slurm job {job} on node {node} stands for {user}'s booking from {}, which is in neither booking.csv nor using.csv; nothing started.",
                format_time(record.start)
            ))
        }
        Err(e) => {
            return fail(format!(
                "{user}'s container was not started on node {node} for Slurm job {job}: {e}"
            ))
        }
    };
    if row.node.as_deref() != Some(node.as_str()) {
        return refuse(format!(
            "Slurm job {job} ran on node {node}, but {user}'s booking from {} is {}; nothing started.",
            format_time(row.start),
            match &row.node {
                Some(n) => format!("on node {n}"),
                None => "on no node".into(),
            }
        ));
    }
    if now < row.start - EARLY_START || now >= row.end {
        return refuse(format!(
            "Slurm job {job} began on node {node} at {}, outside {user}'s booking from {} to {}; nothing started.",
            format_time(now),
            format_time(row.start),
            format_time(row.end)
        ));
    }
    if env.gpus.len() != row.gpus.len() {
        return refuse(format!(
            "Slurm job {job} on node {node} was bound {} GPUs, but {user}'s booking has {}; nothing started.",
            env.gpus.len(),
            row.gpus.len()
        ));
    }
    let gpu_count = cluster.node(node).map(|c| c.gpus);
    let ask = Ask {
        user_id: user.clone(),
        forward_port: Some(row.forward_port),
        password: None,
        cpus: Some(row.cpus),
        memory: Some(row.memory),
        gpus: env.gpus.clone(),
        image: row.image.clone(),
        extra_command: row.extra_command.clone(),
        window: Some((row.start, row.end)),
        gpu_count,
    };
    let plan = match plan::plan(root, &config, ask) {
        Ok(p) => p,
        Err(e) => {
            return fail(format!(
                "{user}'s container was not started on node {node} for Slurm job {job}: {e}"
            ))
        }
    };
    // Clear the name: a container of this booking that runs already stays; one of the
    // user's earlier booking is closed. Twice at most, for an epilog closing it meanwhile.
    for _ in 0..3 {
        let existing = match client.inspect(&user) {
            Ok(c) => c.filter(|c| c.name == user),
            Err(e) => {
                return fail(format!(
                    "{user}'s container was not started on node {node} for Slurm job {job}: {e}"
                ))
            }
        };
        let Some(existing) = existing else { break };
        if existing.start == Some(row.start)
            && existing.running
            && existing.installation == plan_installation(root)
        {
            let line = LogLine::info(
                now,
                format!("{user}'s container was already running on node {node} (Slurm job {job})."),
            );
            log(root, line);
            return Outcome::AlreadyRunning { user };
        }
        let id = existing.id.clone();
        match session::close(root, &config, &user, client, &|c: &Container, _: &str| c.id == id) {
            Ok(_) => {}
            Err(crate::Error::NotOurs(_)) => {
                return fail(format!(
                    "{user}'s container was not started on node {node} for Slurm job {job}: a container named {user} is there and is not this installation's"
                ))
            }
            // Closed by someone else meanwhile (the previous job's epilog): look again.
            Err(_) if client.inspect(&id).ok().flatten().is_none() => {}
            Err(e) => {
                return fail(format!(
                    "{user}'s container was not started on node {node} for Slurm job {job}: the container of the earlier booking could not be closed: {e}"
                ))
            }
        }
    }
    match session::start(root, &config, plan, client) {
        Ok(started) => {
            let gpus = if env.gpus.is_empty() {
                "no GPUs".to_string()
            } else {
                format!("GPUs {}", env.gpus)
            };
            log(
                root,
                LogLine::info(now, format!("{user}'s container started on node {node} for Slurm job {job} with {gpus}.")),
            );
            Outcome::Started {
                user,
                container: started.id,
            }
        }
        Err(e) => fail(format!(
            "{user}'s container could not start on node {node} for Slurm job {job}: {e}"
        )),
    }
}

/// This installation's id, or an empty string (which no container's label equals) when it
/// has none yet.
fn plan_installation(root: &Root) -> String {
    root.existing_installation_id()
        .ok()
        .flatten()
        .unwrap_or_default()
}

/// The Epilog: backs up and removes the container of the booking whose job ended on this
/// node — only while it serves that booking (its start label is the record's start), so a
/// late epilog never closes the user's next booking's container. The booking row itself may
/// be gone by now (cancelled, or filed in used.csv) and is not needed.
pub fn epilog(root: &Root, env: &JobEnv, client: &Client) -> Outcome {
    let (record, config) = match ours(root, env, "epilog") {
        Ok(found) => found,
        Err(outcome) => return outcome,
    };
    let now = now_of(&config).unwrap_or_default();
    let user = record.user_id.clone();
    let (job, node) = (env.job_id, &env.node);
    let start = record.start;
    let accept = |c: &Container, installation: &str| {
        c.installation == installation && c.user == c.name && c.start == Some(start)
    };
    match session::close(root, &config, &user, client, &accept) {
        Ok(done) if done.closed.existed => {
            log(
                root,
                LogLine::info(
                    now,
                    format!(
                        "{user}'s container on node {node} was closed at the end of Slurm job {job} ({} backup entries newly kept).",
                        done.closed.kept.len()
                    ),
                ),
            );
            Outcome::Closed {
                user,
                kept: done.closed.kept.len(),
            }
        }
        Ok(_) => Outcome::NothingToClose { user },
        Err(e) => Outcome::Failed(log(
            root,
            LogLine::error(
                now,
                Sign::ContainerError,
                format!("{user}'s container on node {node} could not be closed at the end of Slurm job {job}: {e}"),
            ),
        )),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn vars(pairs: &[(&str, &str)]) -> impl Fn(&str) -> Option<String> {
        let pairs: Vec<(String, String)> = pairs
            .iter()
            .map(|(k, v)| (k.to_string(), v.to_string()))
            .collect();
        move |name| {
            pairs
                .iter()
                .find(|(k, _)| k == name)
                .map(|(_, v)| v.clone())
        }
    }

    const GOOD: [(&str, &str); 4] = [
        ("SLURM_JOB_ID", "42"),
        ("SLURMD_NODENAME", "node0"),
        ("SLURM_JOB_USER", "alice"),
        ("SLURM_JOB_GPUS", "2,3"),
    ];

    fn with(name: &str, value: Option<&str>) -> Result<JobEnv, EnvProblem> {
        let mut pairs: Vec<(&str, &str)> =
            GOOD.iter().copied().filter(|(k, _)| *k != name).collect();
        if let Some(v) = value {
            pairs.push((name, v));
        }
        JobEnv::from_vars(vars(&pairs))
    }

    #[test]
    fn reads_what_slurmd_sets() {
        let env = JobEnv::from_vars(vars(&GOOD)).unwrap();
        assert_eq!(
            env,
            JobEnv {
                job_id: 42,
                node: "node0".into(),
                user: "alice".into(),
                gpus: GpuSet::new(vec![2, 3]),
            }
        );
    }

    #[test]
    fn refuses_a_job_id_that_is_not_plain_digits() {
        for bad in [
            "",
            "-1",
            "+4",
            " 4",
            "4 ",
            "4.0",
            "0x10",
            "1e3",
            "0",
            "42;7",
            "12345678901234567890",
            "٣",
        ] {
            assert!(
                matches!(
                    with("SLURM_JOB_ID", Some(bad)),
                    Err(EnvProblem::Bad {
                        name: "SLURM_JOB_ID",
                        ..
                    })
                ),
                "{bad:?}"
            );
        }
        assert_eq!(
            with("SLURM_JOB_ID", None),
            Err(EnvProblem::Missing("SLURM_JOB_ID"))
        );
        assert_eq!(parse_job_id("007"), Some(7));
        assert_eq!(parse_job_id("9223372036854775807"), Some(i64::MAX as u64));
    }

    #[test]
    fn takes_no_gpus_when_the_variable_is_absent_or_empty() {
        assert!(with("SLURM_JOB_GPUS", None).unwrap().gpus.is_empty());
        assert!(with("SLURM_JOB_GPUS", Some("")).unwrap().gpus.is_empty());
    }

    #[test]
    fn reads_gpu_lists_and_ranges_and_refuses_anything_else() {
        assert_eq!(parse_gpus(Some("0")).unwrap().ids(), [0]);
        assert_eq!(parse_gpus(Some("3,1")).unwrap().ids(), [1, 3]);
        assert_eq!(parse_gpus(Some("0-2,5")).unwrap().ids(), [0, 1, 2, 5]);
        for bad in [
            "0,", ",0", "0,,1", " 0", "0 ,1", "a", "-1", "1-", "3-1", "0,0", "0-1,1", "[0]", "0;1",
            "99999", "gpu:0", "0-9999",
        ] {
            assert!(parse_gpus(Some(bad)).is_err(), "{bad:?}");
        }
    }

    #[test]
    fn refuses_a_node_name_or_user_that_slurmd_would_not_set() {
        for bad in ["", "node 0", "../x", "-n", "node0\n"] {
            assert!(with("SLURMD_NODENAME", Some(bad)).is_err(), "{bad:?}");
        }
        for bad in ["", "al\nice"] {
            assert!(with("SLURM_JOB_USER", Some(bad)).is_err(), "{bad:?}");
        }
        assert_eq!(
            with("SLURM_JOB_USER", None),
            Err(EnvProblem::Missing("SLURM_JOB_USER"))
        );
    }
}
