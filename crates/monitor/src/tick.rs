//! One tick of the monitor (SPEC §7). The schedule is planned and committed under the
//! exclusive lock; the slow Docker work in between runs without it, so bookings never wait
//! on a `docker stop`. Rows are matched by (user, start) when committing, and every move
//! between files goes through hostinfo's journal.

use std::collections::{BTreeMap, HashSet};
use std::path::PathBuf;
use std::time::{Duration, Instant};

use chrono::NaiveDateTime;
use hostinfo::exec::Request;
use hostinfo::log::{LogLine, Sign};
use hostinfo::schedule::Row;
use hostinfo::{Config, Root, Table};

use crate::docker::{Container, Docker, RunContainer};
use crate::{gpuwatch, quota, Error};

/// How long measuring one user's folders may take before the start goes ahead unmeasured.
pub const QUOTA_TIME: Duration = Duration::from_secs(10);

type Key = (String, NaiveDateTime);

fn key(r: &Row) -> Key {
    (r.user_id.clone(), r.start)
}

fn short(t: NaiveDateTime) -> String {
    t.format("%Y-%m-%d %H:%M").to_string()
}

/// Where log lines go: `jobs/monitor.log` and stderr, or only a list in a dry run.
#[derive(Debug)]
pub struct Log<'r> {
    root: &'r Root,
    now: NaiveDateTime,
    dry_run: bool,
    pub lines: Vec<LogLine>,
}

impl Log<'_> {
    fn push(&mut self, line: LogLine) -> Result<(), Error> {
        if !self.dry_run {
            #[allow(clippy::print_stderr)] // journald keeps the monitor's stderr (SPEC §10)
            {
                eprintln!("{line}");
            }
            self.root.append_log(&line)?;
        }
        self.lines.push(line);
        Ok(())
    }
    fn info(&mut self, message: String) -> Result<(), Error> {
        self.push(LogLine::info(self.now, message))
    }
    fn warning(&mut self, sign: Sign, message: String) -> Result<(), Error> {
        self.push(LogLine::warning(self.now, sign, message))
    }
    fn error(&mut self, sign: Sign, message: String) -> Result<(), Error> {
        self.push(LogLine::error(self.now, sign, message))
    }
}

/// What a tick did (or, in a dry run, would do).
#[derive(Debug, Default, Clone, PartialEq)]
pub struct Report {
    pub recovered: bool,
    pub closed: Vec<String>,
    pub started: Vec<String>,
    pub over_quota: Vec<String>,
    pub failed: Vec<String>,
    pub missed: Vec<String>,
    pub restarted: Vec<String>,
    pub reconciled: Vec<String>,
    pub gpu_warnings: usize,
    pub requests: usize,
}

/// The crash hook of the tests: a debug build run with `AIVC_CRASH_AT=<step>` is killed
/// with SIGKILL when it reaches that step.
pub fn crash_point(step: &str) {
    if !cfg!(debug_assertions) {
        return;
    }
    if std::env::var("AIVC_CRASH_AT").is_ok_and(|s| s == step) {
        let _ = std::process::Command::new("kill")
            .args(["-9", &std::process::id().to_string()])
            .status();
        std::process::abort();
    }
}

/// Runs one tick over `root`. `dry_run` plans and reports, changing nothing.
pub fn tick(root: &Root, dry_run: bool) -> Result<(Report, Vec<LogLine>), Error> {
    let config = root.load_config()?;
    let now = config.clock()?.now();
    let mut log = Log {
        root,
        now,
        dry_run,
        lines: Vec::new(),
    };
    let mut report = Report::default();
    let docker = Docker::from_env();
    let runner = RunContainer::locate(root.dir());
    let mut crash = |step: &str| crash_point(step);

    // Plan, under the lock.
    let (requests, close, start, missed, booking_now, using_now) = {
        let lock = root.lock_exclusive("monitor")?;
        if dry_run {
            report.recovered = root.jobs_dir().join(".monitor-journal").exists();
        } else if root.recover(&lock, &mut crash)? {
            report.recovered = true;
            log.info("completed the schedule moves of an interrupted tick".into())?;
        }
        let requests = root.read_requests(&lock)?;
        let booking = root.read_schedule_strict(Table::Booking, &lock)?.rows;
        let using = root.read_schedule_strict(Table::Using, &lock)?.rows;
        let close: Vec<Row> = using.iter().filter(|r| r.end <= now).cloned().collect();
        let missed: Vec<Row> = booking.iter().filter(|r| r.end <= now).cloned().collect();
        let mut start: Vec<Row> = booking
            .iter()
            .filter(|r| r.start <= now && now < r.end)
            .cloned()
            .collect();
        start.sort_by_key(|r| r.start);
        (requests, close, start, missed, booking, using)
    };
    crash("planned");
    report.requests = requests.len();
    let containers = docker.list().map_err(Error::Docker)?;

    // Close what ended, then start what is due: a user's back-to-back bookings reuse the name.
    let mut closed: HashSet<Key> = HashSet::new();
    for row in &close {
        if dry_run {
            report.closed.push(row.user_id.clone());
            continue;
        }
        match runner.close(&row.user_id) {
            Ok(()) => {
                closed.insert(key(row));
                report.closed.push(row.user_id.clone());
                log.info(format!(
                    "{}'s booking ended at {}; the container is removed.",
                    row.user_id,
                    short(row.end)
                ))?;
            }
            Err(e) => {
                report.failed.push(row.user_id.clone());
                log.error(
                    Sign::ContainerError,
                    format!("{}'s container could not be closed: {e}", row.user_id),
                )?;
            }
        }
    }
    crash("closed");
    let mut started: HashSet<Key> = HashSet::new();
    for row in &start {
        let id = &row.user_id;
        if !dry_run && containers.iter().any(|c| c.serves(row) && c.running) {
            started.insert(key(row));
            report.started.push(id.clone());
            log.info(format!("{id}'s container was already running."))?;
            continue;
        }
        if let Some((work, backup)) = over_quota(&config, root, row) {
            report.over_quota.push(id.clone());
            log.warning(
                Sign::SpaceWarning,
                format!("{id} is over-use the work_dir {work}GB, and backup_dir {backup}GB."),
            )?;
            continue;
        }
        if dry_run {
            report.started.push(id.clone());
            continue;
        }
        match runner.start(row) {
            Ok(()) => {
                started.insert(key(row));
                report.started.push(id.clone());
                log.info(format!("{id} is successfully run the container."))?;
            }
            Err(e) => {
                report.failed.push(id.clone());
                log.error(
                    Sign::ContainerError,
                    format!("{id}'s container could not start, retried next tick: {e}"),
                )?;
            }
        }
    }
    crash("started");
    for row in &missed {
        report.missed.push(row.user_id.clone());
        log.warning(
            Sign::ContainerWarning,
            format!(
                "{}'s booking from {} to {} was never started; filed in used.csv.",
                row.user_id,
                short(row.start),
                short(row.end)
            ),
        )?;
    }
    if dry_run {
        return Ok((report, log.lines));
    }

    // Commit, under the lock: move the current version of each row by (user, start). A
    // tick with nothing to move reads nothing again.
    let missed_keys: HashSet<Key> = missed.iter().map(key).collect();
    let moved = !closed.is_empty() || !started.is_empty() || !missed_keys.is_empty();
    let (live_using, live_booking) = if !moved {
        (using_now, booking_now)
    } else {
        let lock = root.lock_exclusive("monitor")?;
        let booking = root.read_schedule_strict(Table::Booking, &lock)?.rows;
        let using = root.read_schedule_strict(Table::Using, &lock)?.rows;
        let (mut new_using, mut new_booking, mut to_used) = (Vec::new(), Vec::new(), Vec::new());
        for r in &using {
            if closed.contains(&key(r)) && r.end <= now {
                to_used.push(r.clone());
            } else {
                new_using.push(r.clone());
            }
        }
        for r in &booking {
            let k = key(r);
            if started.contains(&k) {
                new_using.push(r.clone());
            } else if missed_keys.contains(&k) && r.end <= now {
                to_used.push(r.clone());
            } else {
                new_booking.push(r.clone());
            }
        }
        if !to_used.is_empty()
            || new_using.len() != using.len()
            || new_booking.len() != booking.len()
        {
            root.commit_moves(&new_booking, &new_using, &to_used, &lock, &mut crash)?;
        }
        (new_using, new_booking)
    };

    // Docker changed only if this tick closed or started something.
    let acted = !close.is_empty() || !start.is_empty();
    let containers = if acted {
        docker.list().map_err(Error::Docker)?
    } else {
        containers
    };
    reconcile(
        &containers,
        &runner,
        &live_using,
        &live_booking,
        now,
        &mut log,
        &mut report,
    )?;
    crash("reconciled");

    // Requests: a tick was the answer to `now`; restarts are done here. Only then are they
    // removed from the file, so one that arrived meanwhile stays for the next tick.
    if !requests.is_empty() {
        let containers = docker.list().map_err(Error::Docker)?;
        for request in &requests {
            let Request::Restart(id) = request else {
                continue;
            };
            match containers
                .iter()
                .find(|c| c.user == *id && c.running && !c.manual)
            {
                Some(c) => match docker.restart(&c.name) {
                    Ok(()) => {
                        report.restarted.push(id.clone());
                        log.info(format!("{id}'s container is restarted."))?;
                    }
                    Err(e) => log.error(
                        Sign::ContainerError,
                        format!("{id}'s container could not restart: {e}"),
                    )?,
                },
                None => log.warning(
                    Sign::ContainerWarning,
                    format!("restart asked for {id}, who has no running container"),
                )?,
            }
        }
        let lock = root.lock_exclusive("monitor")?;
        root.drop_requests(requests.len(), &lock)?;
    }
    crash("requests-done");

    report.gpu_warnings = gpu_watch(&docker, &config, &live_using, now, &mut log)?;
    Ok((report, log.lines))
}

/// Whether the user's work or backup folder is over their quota: the GB used of each.
fn over_quota(config: &Config, root: &Root, row: &Row) -> Option<(u64, u64)> {
    let max = checker::limits::user_max(&config.capability, &row.user_id);
    let (work, backup): (PathBuf, PathBuf) = match config.users.get(&row.user_id) {
        Some(u) => (u.volume_work_dir.clone(), u.volume_backup_dir.clone()),
        None => (
            config.host.volume_work_dir.join(&row.user_id),
            config.host.volume_backup_dir.join(&row.user_id),
        ),
    };
    let deadline = Instant::now() + QUOTA_TIME;
    // A folder that cannot be measured in time is not held against the user.
    let used = |p: PathBuf| quota::usage(&root.resolve_path(&p), deadline).unwrap_or(0);
    let (w, b) = (used(work), used(backup));
    let over = w > quota::gib(max.work_space) || b > quota::gib(max.backup_space);
    let gb = |bytes: u64| bytes.div_ceil(1 << 30);
    over.then(|| (gb(w), gb(b)))
}

/// Docker against the schedule: a running booking without its container gets one again; a
/// labelled container without a current booking is closed; unlabelled and maintainer's
/// containers are never touched.
fn reconcile(
    containers: &[Container],
    runner: &RunContainer,
    using: &[Row],
    booking: &[Row],
    now: NaiveDateTime,
    log: &mut Log,
    report: &mut Report,
) -> Result<(), Error> {
    let current = |c: &Container| {
        using
            .iter()
            .chain(booking)
            .any(|r| c.serves(r) && r.end > now && r.start <= now)
    };
    for c in containers.iter().filter(|c| !c.manual && !current(c)) {
        match runner.close(&c.user) {
            Ok(()) => {
                report.reconciled.push(c.user.clone());
                log.info(format!(
                    "{}'s container had no current booking; removed.",
                    c.user
                ))?;
            }
            Err(e) => log.error(
                Sign::ContainerError,
                format!("{}'s stale container could not be closed: {e}", c.user),
            )?,
        }
    }
    for row in using.iter().filter(|r| r.start <= now && now < r.end) {
        let live = containers.iter().any(|c| c.serves(row) && c.running);
        if live {
            continue;
        }
        if containers.iter().any(|c| c.serves(row)) {
            let _ = runner.close(&row.user_id);
        }
        log.warning(
            Sign::ContainerWarning,
            format!("{}'s container was gone; starting it again.", row.user_id),
        )?;
        match runner.start(row) {
            Ok(()) => {
                report.reconciled.push(row.user_id.clone());
                log.info(format!(
                    "{} is successfully run the container.",
                    row.user_id
                ))?;
            }
            Err(e) => log.error(
                Sign::ContainerError,
                format!("{}'s container could not start again: {e}", row.user_id),
            )?,
        }
    }
    Ok(())
}

/// The GPU watch, when NVML answers; silent otherwise.
fn gpu_watch(
    docker: &Docker,
    config: &Config,
    using: &[Row],
    now: NaiveDateTime,
    log: &mut Log,
) -> Result<usize, Error> {
    let inventory =
        hostinfo::gpu::inventory(&hostinfo::gpu::NvmlProbe, config.fallback_gpu_count());
    if !matches!(inventory.source, hostinfo::gpu::GpuSource::Nvml { .. }) {
        return Ok(0);
    }
    let containers = docker.list().unwrap_or_default();
    let ids: BTreeMap<String, String> = containers
        .iter()
        .map(|c| (c.id.clone(), c.user.clone()))
        .collect();
    let running: Vec<Row> = using
        .iter()
        .filter(|r| r.start <= now && now < r.end)
        .cloned()
        .collect();
    let found = gpuwatch::findings(
        &inventory.gpus,
        &|pid| gpuwatch::owners(&ids, pid),
        &running,
    );
    for f in &found {
        log.warning(Sign::GPUDuplicateWarning, f.clone())?;
    }
    Ok(found.len())
}

/// A short account of the tick for people (the dry run prints it on stdout).
pub fn describe(report: &Report) -> String {
    let list = |v: &[String]| {
        if v.is_empty() {
            "-".to_string()
        } else {
            v.join(", ")
        }
    };
    format!(
        "interrupted tick completed: {}\nclose: {}\nstart: {}\nover quota (waits): {}\nfailed (kept): {}\nmissed (to used.csv): {}\nrestarted: {}\nreconciled: {}\nrequests: {}",
        if report.recovered { "yes" } else { "no" },
        list(&report.closed),
        list(&report.started),
        list(&report.over_quota),
        list(&report.failed),
        list(&report.missed),
        list(&report.restarted),
        list(&report.reconciled),
        report.requests
    )
}
