//! The tick's cluster step (docs/cluster.md): where a single host starts and closes
//! containers, a cluster's monitor mirrors the schedule into Slurm (`cluster::mirror`) and
//! learns which bookings' jobs run. The sessions themselves start and end on the nodes, in
//! the prolog and epilog (`run-container slurm-prolog|slurm-epilog`).

use std::collections::HashSet;
use std::time::{Duration, Instant};

use chrono::NaiveDateTime;
use cluster::mirror::{self, Key};
use cluster::slurm::Slurm;
use hostinfo::cluster::SlurmJob;
use hostinfo::log::{LogLine, Sign};
use hostinfo::schedule::Row;
use hostinfo::{Config, Root};

use crate::Error;

/// How long a tick waits for the jobs due now to start (Slurm starts one within a few
/// seconds of its begin time), so that the tick that starts a booking also moves it to
/// `using.csv` and reads the GPUs Slurm bound.
const DUE_WAIT: Duration = Duration::from_secs(10);

/// What the cluster step found and did.
#[derive(Debug, Default)]
pub struct Mirrored {
    /// The bookings whose job runs.
    pub running: HashSet<Key>,
    /// The bookings Slurm has (or had) a job of ours for.
    pub submitted: HashSet<Key>,
    /// Log lines: each change, each failure.
    pub lines: Vec<LogLine>,
    /// A dry run's changes, one line each.
    pub would_run: Vec<String>,
    /// Slurm commands run.
    pub calls: usize,
}

/// Mirrors `booking` and `using` into Slurm at `now` (a dry run lists the changes only).
pub fn run(
    root: &Root,
    config: &Config,
    now: NaiveDateTime,
    booking: &[Row],
    using: &[Row],
    dry_run: bool,
) -> Result<Mirrored, Error> {
    let cluster = config
        .cluster
        .as_ref()
        .expect("the cluster step runs in cluster mode only");
    let clock = config.clock()?;
    let slurm = Slurm::new(config.zone.name(), clock.shift());
    let mut out = Mirrored::default();
    let record = {
        let lock = root.lock_shared()?;
        match root.read_slurm_jobs(&lock) {
            Ok(r) => r,
            Err(e) => {
                // Rebuilt from Slurm's own names: every job of ours says whose booking it is.
                out.lines.push(LogLine::error(
                    now,
                    Sign::SlurmError,
                    format!("the job record was unreadable and is rebuilt from Slurm: {e}"),
                ));
                Vec::new()
            }
        }
    };
    let rows: Vec<&Row> = using.iter().chain(booking).collect();
    let due: Vec<Key> = rows
        .iter()
        .filter(|r| {
            r.start <= now
                && now < r.end
                && r.node.as_deref().is_some_and(|n| cluster.node(n).is_some())
        })
        .map(|r| (r.user_id.clone(), r.start))
        .collect();
    let began = Instant::now();
    let mut record = record;
    loop {
        let listed = slurm.list(&cluster.reservation_prefix);
        let (reservations, jobs) = match listed {
            Ok(l) => l,
            Err(e) => {
                out.lines.push(LogLine::error(
                    now,
                    Sign::SlurmError,
                    format!("Slurm could not be read, nothing mirrored this tick: {e}"),
                ));
                break;
            }
        };
        let plan = mirror::plan(cluster, &rows, &record, &reservations, &jobs, now);
        out.running.clone_from(&plan.running);
        out.submitted
            .extend(plan.record.iter().map(|j| (j.user_id.clone(), j.start)));
        if dry_run {
            out.would_run = plan.actions.iter().map(|a| a.describe()).collect();
            break;
        }
        let applied = mirror::apply(&slurm, plan, now, |jobs: &[SlurmJob]| {
            let lock = root.lock_exclusive("monitor")?;
            root.write_slurm_jobs(jobs, &lock)?;
            Ok(())
        });
        for line in applied.done {
            out.lines.push(LogLine::info(now, format!("Slurm: {line}")));
        }
        let failed = !applied.failed.is_empty();
        for line in applied.failed {
            out.lines.push(LogLine::error(
                now,
                Sign::SlurmError,
                format!("Slurm: {line}; retried next tick"),
            ));
        }
        out.submitted
            .extend(applied.record.iter().map(|j| (j.user_id.clone(), j.start)));
        record = applied.record;
        // A job whose booking is due should run within seconds: look again, every half
        // second, until it does (and its GPUs are read) or the wait is over. A change Slurm
        // refused is not tried again before the next tick.
        let waiting = due.iter().any(|k| !out.running.contains(k));
        if !waiting || failed || began.elapsed() >= DUE_WAIT {
            break;
        }
        std::thread::sleep(Duration::from_millis(500));
    }
    out.calls = slurm.calls();
    Ok(out)
}
