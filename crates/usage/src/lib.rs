//! usage: one sampling of the host (docs/operations.md, "Usage sampling"): each GPU's
//! utilisation and memory in use through NVML, and each running booking's container CPU and
//! memory use from its cgroup, appended to `jobs/usage/YYYY-MM-DD.csv` through `hostinfo`.
//!
//! The docker calls are read-only queries (`ps`, and `inspect` only for a container whose
//! cgroup the path rules do not find), each bounded by `docker-client`; `docker stats` is
//! never used (it waits a second per container). CPU use is the average since the previous
//! sample: each run keeps every container's cumulative CPU time in `jobs/usage/.cpu-state`,
//! so a run never sleeps to measure, and the first sample of a container has an empty CPU
//! cell.

pub mod cgroup;

use std::time::{SystemTime, UNIX_EPOCH};

use chrono::NaiveDateTime;
use docker_client::{Client, Owner};
use hostinfo::gpu::{GpuProbe, GpuSource, NvmlProbe};
use hostinfo::log::LogLine;
use hostinfo::schedule::Row;
use hostinfo::usage::{CpuReading, Sample, Subject, KEEP_DAYS};
use hostinfo::{Root, Table};

pub use cgroup::Cgroups;

/// A previous CPU reading older than this gives no average (the timer stopped for long).
const MAX_CPU_INTERVAL_SECS: u128 = 3600;

const MIB: u64 = 1024 * 1024;

#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum Error {
    #[error(transparent)]
    Files(#[from] hostinfo::Error),
    /// The samples were written (the bookings' cells empty); docker did not answer.
    #[error(
        "docker does not answer; the running bookings were sampled without their containers: {0}"
    )]
    Docker(#[from] docker_client::Error),
}

/// What one sampling did.
#[derive(Debug, Clone, PartialEq)]
pub struct Report {
    pub time: NaiveDateTime,
    /// The samples appended (GPUs first, then bookings).
    pub samples: Vec<Sample>,
    /// Why the GPU cells are empty, when no driver answered.
    pub gpu_note: Option<String>,
    /// Whether that note went to monitor.log in this run (the day's first sampling).
    pub gpu_note_logged: bool,
    /// Running bookings whose container or cgroup was not found: their cells are empty.
    pub unmeasured: Vec<String>,
    /// Days of samples removed (older than [`KEEP_DAYS`]).
    pub pruned: usize,
}

/// Where a sampling reads from: the real host in [`sample`], stand-ins in tests.
pub struct Sources<'a> {
    pub gpus: &'a dyn GpuProbe,
    pub docker: Client,
    pub cgroups: Cgroups,
}

impl std::fmt::Debug for Sources<'_> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Sources")
            .field("docker", &self.docker)
            .field("cgroups", &self.cgroups)
            .finish_non_exhaustive()
    }
}

/// One sampling of the host at `now` (the installation's clock, which the samples carry).
pub fn sample(root: &Root, now: NaiveDateTime) -> Result<Report, Error> {
    sample_from(
        root,
        now,
        &Sources {
            gpus: &NvmlProbe,
            docker: Client::from_env(),
            cgroups: Cgroups::system(),
        },
    )
}

/// [`sample`] from `sources`.
pub fn sample_from(root: &Root, now: NaiveDateTime, sources: &Sources) -> Result<Report, Error> {
    let config = root.load_config()?;
    let mut report = Report {
        time: now,
        samples: Vec::new(),
        gpu_note: None,
        gpu_note_logged: false,
        unmeasured: Vec::new(),
        pruned: 0,
    };

    let inventory = hostinfo::gpu::inventory(sources.gpus, config.fallback_gpu_count());
    if let GpuSource::Config { reason } = &inventory.source {
        // A host configured without GPUs has nothing to say about a driver.
        if !inventory.gpus.is_empty() {
            report.gpu_note = Some(reason.clone());
        }
    }
    report.samples.extend(inventory.gpus.iter().map(|g| Sample {
        time: now,
        subject: Subject::Gpu(g.index),
        gpu_util_percent: g.utilization_percent,
        gpu_memory_mib: g.memory_used_mib,
        cpu_percent: None,
        memory_mib: None,
    }));

    let using = {
        let lock = root.lock_shared()?;
        root.read_schedule(Table::Using, &lock)?.rows
    };
    let running: Vec<&Row> = using
        .iter()
        .filter(|r| r.start <= now && now < r.end)
        .collect();
    let measured = if running.is_empty() {
        // No booking runs: no docker call at all.
        Ok(Vec::new())
    } else {
        measure(root, &using, &running, sources)
    };
    let (readings, docker_error) = match measured {
        Ok(r) => (r, None),
        Err(e) => (Vec::new(), Some(e)),
    };
    let previous = root.read_usage_cpu_state();
    let real_now = unix_nanos();
    let mut state = Vec::new();
    for row in &running {
        let found = readings.iter().find(|(user, _, _)| *user == row.user_id);
        let (cpu_percent, memory_mib) = match found {
            Some((_, id, reading)) => {
                if let Some(cpu) = reading.cpu_nanos {
                    state.push(CpuReading {
                        container: id.clone(),
                        cpu_nanos: cpu,
                        at_unix_nanos: real_now,
                    });
                }
                (
                    cpu_percent(&previous, id, reading.cpu_nanos, real_now),
                    reading.memory_bytes.map(|b| b / MIB),
                )
            }
            None => {
                report.unmeasured.push(row.user_id.clone());
                (None, None)
            }
        };
        report.samples.push(Sample {
            time: now,
            subject: Subject::User(row.user_id.clone()),
            gpu_util_percent: None,
            gpu_memory_mib: None,
            cpu_percent,
            memory_mib,
        });
    }

    // The note goes to the log once a day: with the day's first samples.
    let first_of_day = !root
        .usage_dir()
        .join(hostinfo::usage::file_name(now.date()))
        .exists();
    root.append_usage(&report.samples)?;
    if !(state.is_empty() && previous.is_empty()) {
        root.write_usage_cpu_state(&state)?;
    }
    if let (Some(reason), true) = (&report.gpu_note, first_of_day) {
        root.append_log(&LogLine::info(
            now,
            format!("usage sampling: no GPU driver answers ({reason}); the GPU columns of jobs/usage/ stay empty"),
        ))?;
        report.gpu_note_logged = true;
    }
    report.pruned = root.prune_usage(now.date(), KEEP_DAYS)?;
    match docker_error {
        Some(e) => Err(e),
        None => Ok(report),
    }
}

/// (user, container id, reading) for each running booking whose container of this
/// installation runs and whose cgroup is found.
fn measure(
    root: &Root,
    using: &[Row],
    running: &[&Row],
    sources: &Sources,
) -> Result<Vec<(String, String, cgroup::Reading)>, Error> {
    let installation = root.existing_installation_id()?.unwrap_or_default();
    let containers: Vec<_> = sources
        .docker
        .list_owned(&installation, using)?
        .into_iter()
        .filter(|(c, owner)| *owner != Owner::Foreign && c.running)
        .map(|(c, _)| c)
        .collect();
    // The booking's own container; else the user's running one (a container started
    // before containers carried their window).
    let chosen: Vec<(&Row, &docker_client::Container)> = running
        .iter()
        .filter_map(|row| {
            containers
                .iter()
                .find(|c| c.serves(row))
                .or_else(|| containers.iter().find(|c| c.user == row.user_id))
                .map(|c| (*row, c))
        })
        .collect();
    let unfound: Vec<&str> = chosen
        .iter()
        .filter(|(_, c)| sources.cgroups.find(&c.id).is_none())
        .map(|(_, c)| c.id.as_str())
        .collect();
    let pids = main_pids(&sources.docker, &unfound)?;
    let mut out = Vec::new();
    for (row, c) in chosen {
        let files = sources.cgroups.find(&c.id).or_else(|| {
            let pid = pids.iter().find(|(id, _)| *id == c.id)?.1;
            let text = read_proc_cgroup(pid)?;
            sources.cgroups.from_proc(&text)
        });
        if let Some(files) = files {
            out.push((row.user_id.clone(), c.id.clone(), files.read()));
        }
    }
    Ok(out)
}

/// The host pids of the main processes of containers `ids`, in one bounded `docker
/// inspect`; a container that is gone or stopped has none.
fn main_pids(docker: &Client, ids: &[&str]) -> Result<Vec<(String, u32)>, Error> {
    if ids.is_empty() {
        return Ok(Vec::new());
    }
    let mut args = vec![
        "inspect",
        "--type",
        "container",
        "--format",
        "{{.Id}} {{.State.Pid}}",
    ];
    args.extend_from_slice(ids);
    let out = match docker.call(&args, None, docker_client::limit::QUERY) {
        Ok(out) => out.stdout,
        // One of them was removed since `ps`: the others are measured next time.
        Err(e) if e.is_no_such_container() => return Ok(Vec::new()),
        Err(e) => return Err(e.into()),
    };
    Ok(out
        .lines()
        .filter_map(|l| {
            let (id, pid) = l.trim().split_once(' ')?;
            let pid: u32 = pid.parse().ok().filter(|&p| p > 0)?;
            Some((id.to_string(), pid))
        })
        .collect())
}

/// `/proc/<pid>/cgroup`: a few short lines, read bounded.
fn read_proc_cgroup(pid: u32) -> Option<String> {
    use std::io::Read;
    let mut text = String::new();
    std::fs::File::open(format!("/proc/{pid}/cgroup"))
        .ok()?
        .take(64 * 1024)
        .read_to_string(&mut text)
        .ok()?;
    Some(text)
}

/// Percent of one CPU since the previous reading of the same container; `None` for its
/// first reading, after a restart (the counter went back) or a long gap.
fn cpu_percent(
    previous: &[CpuReading],
    id: &str,
    cpu_nanos: Option<u64>,
    now_nanos: u128,
) -> Option<f64> {
    let cpu = cpu_nanos?;
    let before = previous.iter().find(|p| p.container == id)?;
    let wall = now_nanos.checked_sub(before.at_unix_nanos)?;
    if wall == 0 || wall > MAX_CPU_INTERVAL_SECS * 1_000_000_000 || cpu < before.cpu_nanos {
        return None;
    }
    let percent = (cpu - before.cpu_nanos) as f64 / wall as f64 * 100.0;
    // One decimal, as the file writes it.
    Some((percent * 10.0).round() / 10.0)
}

fn unix_nanos() -> u128 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map_or(0, |d| d.as_nanos())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn cpu_is_the_average_since_the_previous_reading_of_the_same_container() {
        let before = [CpuReading {
            container: "c1".into(),
            cpu_nanos: 1_000_000_000,
            at_unix_nanos: 10_000_000_000,
        }];
        // 1.5 s of CPU over 2 s: 75 % of one CPU.
        assert_eq!(
            cpu_percent(&before, "c1", Some(2_500_000_000), 12_000_000_000),
            Some(75.0)
        );
        assert_eq!(cpu_percent(&before, "c2", Some(5), 12_000_000_000), None);
        // Restarted: the counter began again.
        assert_eq!(cpu_percent(&before, "c1", Some(5), 12_000_000_000), None);
        // An hour and more since: no average worth the name.
        assert_eq!(
            cpu_percent(
                &before,
                "c1",
                Some(2_000_000_000),
                10_000_000_000 + 3_601_000_000_000
            ),
            None
        );
    }
}
