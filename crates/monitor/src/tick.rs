//! One tick of the monitor (docs/operations.md, What runs). The schedule is planned and committed under the
//! exclusive lock; the slow Docker work in between runs without it, so bookings never wait
//! on a `docker stop`. Rows are matched by (user, start) when committing, and every move
//! between files goes through hostinfo's journal.

use std::collections::{BTreeMap, HashSet};
use std::time::{Duration, Instant};

use chrono::NaiveDateTime;
use docker_client::{Client, Container, Owner};
use hostinfo::exec::Request;
use hostinfo::lock::{timeout_from_env, Held};
use hostinfo::log::{LogLine, Sign};
use hostinfo::schedule::Row;
use hostinfo::{start_failures, Config, Root, Table};

use crate::docker::RunContainer;
use crate::{gpuwatch, quota, Error};

/// A container that (re)started less than this long ago is not restarted again: however
/// often a student asks, their container restarts at most once a minute, and a tick is
/// never spent restarting one container over and over.
pub const RESTART_INTERVAL: Duration = Duration::from_secs(60);

/// How long measuring one user's folders may take; a folder not measured by then counts as
/// over the quota and the booking waits (`AIVC_QUOTA_SECONDS` in debug builds).
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
            #[allow(clippy::print_stderr)]
            // journald keeps the monitor's stderr (docs/operations.md)
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
    /// The users whose waitlist entries this tick booked, and whose expired.
    pub waitlist_booked: Vec<String>,
    pub waitlist_expired: Vec<String>,
    /// A dry run's commands, in order: run-container's close of each container that ended,
    /// and the `docker run` line of each start, as run-container's own `--dry-run` prints it.
    pub would_run: Vec<String>,
}

pub use hostinfo::crash_point;

/// Runs one tick over `root`. `dry_run` plans and reports, changing nothing.
///
/// One line per step; the crash points between them are where the crash tests kill a tick.
pub fn tick(root: &Root, dry_run: bool) -> Result<(Report, Vec<LogLine>), Error> {
    let mut t = Tick::begin(root, dry_run)?;
    t.serve_waitlist()?;
    t.plan()?;
    crash_point("planned");
    if t.config.cluster.is_some() {
        return cluster_tick(t);
    }
    t.survey_docker()?;
    t.close_ended()?;
    crash_point("closed");
    t.start_due()?;
    crash_point("started");
    t.warn_missed()?;
    if dry_run {
        return Ok(t.finish());
    }
    t.commit()?;
    t.reconcile_docker()?;
    crash_point("reconciled");
    t.answer_requests()?;
    crash_point("requests-done");
    t.watch_gpus()?;
    t.post_notices()?;
    t.deliver_notices()?;
    t.export()?;
    Ok(t.finish())
}

/// The rest of a tick in cluster mode: Slurm starts and ends the sessions on the nodes, so
/// the monitor mirrors the schedule into it, then files what ran and what ended as on a
/// single host. No container is started or closed here.
fn cluster_tick(mut t: Tick) -> Result<(Report, Vec<LogLine>), Error> {
    t.mirror_slurm()?;
    crash_point("mirrored");
    t.warn_missed()?;
    if t.dry_run {
        return Ok(t.finish());
    }
    t.commit()?;
    t.answer_requests()?;
    crash_point("requests-done");
    t.post_notices()?;
    t.deliver_notices()?;
    t.export()?;
    Ok(t.finish())
}

/// One tick's state: what it runs with, then what each step read or did, for the steps after.
#[derive(Debug)]
struct Tick<'r> {
    root: &'r Root,
    config: Config,
    now: NaiveDateTime,
    dry_run: bool,
    docker: Client,
    /// When the tick began, on the real clock and as a stopwatch (`jobs/last-tick.csv`).
    began: (std::time::SystemTime, Instant),
    runner: RunContainer,
    /// This installation's id; empty in a dry run of an installation that has none yet.
    installation: String,
    log: Log<'r>,
    report: Report,
    /// `jobs/monitor_exec` as the plan read it.
    requests: Vec<Request>,
    /// `booking.csv` as the plan read it, then as the commit left it.
    booking: Vec<Row>,
    /// `using.csv` as the plan read it, then as the commit left it.
    using: Vec<Row>,
    /// The plan: the using rows that ended.
    close: Vec<Row>,
    /// The plan: the booking rows due now, earliest start first.
    start: Vec<Row>,
    /// The plan: the booking rows that ended without being started.
    missed: Vec<Row>,
    /// `jobs/start-failures.csv` held something, or could not be read: the commit rewrites it.
    failures_kept: bool,
    /// Docker as last surveyed.
    seen: Seen,
    /// The rows closed this tick, for the commit to move to used.csv.
    closed: HashSet<Key>,
    /// The rows started (or found running) this tick, for the commit to move to using.csv.
    started: HashSet<Key>,
    /// The starts that failed or wait on the quota, with the reason to record for each.
    failed_starts: Vec<(Row, String)>,
    /// What the GPU watch found.
    gpu_findings: Vec<gpuwatch::Finding>,
    /// Cluster mode: the bookings Slurm has or had a job of ours for.
    submitted: HashSet<Key>,
}

impl<'r> Tick<'r> {
    /// Loads the config and the clock, and finds Docker, run-container and the installation id.
    fn begin(root: &'r Root, dry_run: bool) -> Result<Self, Error> {
        let config = root.load_config()?;
        let now = config.clock()?.now();
        let log = Log {
            root,
            now,
            dry_run,
            lines: Vec::new(),
        };
        let docker = Client::from_env();
        let runner = RunContainer::locate(root.dir());
        // A dry run creates nothing: without an id file this installation has labelled no
        // container yet, and the empty id matches none.
        let installation = if dry_run {
            root.existing_installation_id()?.unwrap_or_default()
        } else {
            root.installation_id()?
        };
        Ok(Tick {
            root,
            config,
            now,
            dry_run,
            began: (std::time::SystemTime::now(), Instant::now()),
            docker,
            runner,
            installation,
            log,
            report: Report::default(),
            requests: Vec::new(),
            booking: Vec::new(),
            using: Vec::new(),
            close: Vec::new(),
            start: Vec::new(),
            missed: Vec::new(),
            failures_kept: false,
            seen: Seen::default(),
            closed: HashSet::new(),
            started: HashSet::new(),
            failed_starts: Vec::new(),
            gpu_findings: Vec::new(),
            submitted: HashSet::new(),
        })
    }

    /// Under the lock, books the waitlist entries that fit and expires those whose latest
    /// start passed (see [`checker::waitlist::serve_and_write`]), so the plan starts a
    /// booked entry that is due this very tick. A waitlist that cannot be read is logged
    /// and left as it is: the tick goes on. A dry run serves nothing.
    fn serve_waitlist(&mut self) -> Result<(), Error> {
        if self.dry_run {
            return Ok(());
        }
        let lock =
            self.root
                .lock_exclusive_with("monitor", timeout_from_env(), &mut crash_point)?;
        if lock.completed_journal() {
            self.report.recovered = true;
            self.log
                .info("completed the schedule moves of an interrupted tick".into())?;
        }
        match checker::waitlist::serve_and_write(self.root, &lock, &self.config, self.now) {
            Ok(outcome) => {
                for (e, _) in &outcome.booked {
                    self.report.waitlist_booked.push(e.user_id.clone());
                }
                for e in &outcome.expired {
                    self.report.waitlist_expired.push(e.user_id.clone());
                }
                for line in outcome.lines {
                    self.log.push(line)?;
                }
            }
            Err(e) => self.log.error(
                Sign::UpdateError,
                format!("the waitlist was not served: {e}"),
            )?,
        }
        Ok(())
    }

    /// Under the lock, completes an interrupted tick's journal and reads what this tick is to do.
    fn plan(&mut self) -> Result<(), Error> {
        let lock = self.lock_and_recover()?;
        self.requests = self.root.read_requests(&lock)?;
        self.report.requests = self.requests.len();
        self.read_schedule(&lock)?;
        // Anything but a readable, empty record means the commit has work on it.
        self.failures_kept = !matches!(self.root.read_start_failures(&lock), Ok(f) if f.is_empty());
        Ok(())
    }

    /// Takes the plan's lock, completing (in a dry run, only noting) an interrupted tick's journal.
    fn lock_and_recover(&mut self) -> Result<Box<dyn Held>, Error> {
        // Taking it exclusive completes an interrupted tick's journal; a dry run changes
        // nothing, so it reads under the shared lock, which shows the schedule as that
        // journal leaves it.
        if self.dry_run {
            let lock = self.root.lock_shared()?;
            self.report.recovered = self.root.journal_pending(&lock)?;
            return Ok(Box::new(lock));
        }
        let lock =
            self.root
                .lock_exclusive_with("monitor", timeout_from_env(), &mut crash_point)?;
        if lock.completed_journal() {
            self.report.recovered = true;
            self.log
                .info("completed the schedule moves of an interrupted tick".into())?;
        }
        Ok(Box::new(lock))
    }

    /// Reads both schedules and picks the rows to close, to start and to file as missed.
    fn read_schedule(&mut self, lock: &impl Held) -> Result<(), Error> {
        let now = self.now;
        self.booking = self.root.read_schedule_strict(Table::Booking, lock)?.rows;
        self.using = self.root.read_schedule_strict(Table::Using, lock)?.rows;
        self.close = self
            .using
            .iter()
            .filter(|r| r.end <= now)
            .cloned()
            .collect();
        self.missed = self
            .booking
            .iter()
            .filter(|r| r.end <= now)
            .cloned()
            .collect();
        self.start = self
            .booking
            .iter()
            .filter(|r| r.start <= now && now < r.end)
            .cloned()
            .collect();
        self.start.sort_by_key(|r| r.start);
        Ok(())
    }

    /// Lists the containers this tick may act on, and the names other installations hold.
    fn survey_docker(&mut self) -> Result<(), Error> {
        self.seen = survey(&self.docker, &self.installation, &self.using)?;
        Ok(())
    }

    /// Closes the container of each booking that ended.
    fn close_ended(&mut self) -> Result<(), Error> {
        // Close what ended before starting what is due: a user's back-to-back bookings reuse
        // the name.
        let containers = &self.seen.ours;
        for row in &self.close {
            if self.dry_run {
                self.report.closed.push(row.user_id.clone());
                if containers.iter().any(|c| c.name == row.user_id) {
                    self.report
                        .would_run
                        .push(self.runner.close_line(&row.user_id));
                }
                continue;
            }
            if !containers.iter().any(|c| c.name == row.user_id) {
                // Nothing of ours to close: whatever holds the name now is someone else's, and
                // run-container would refuse it every tick, keeping the row forever.
                self.closed.insert(key(row));
                self.report.closed.push(row.user_id.clone());
                let (id, end) = (&row.user_id, short(row.end));
                if self.seen.foreign.contains(id) {
                    self.log.warning(
                        Sign::ContainerWarning,
                        format!("{id}'s booking ended at {end}; the container named {id} is another installation's and is left alone."),
                    )?;
                } else {
                    self.log.info(format!(
                        "{id}'s booking ended at {end}; its container was already gone."
                    ))?;
                }
                continue;
            }
            match self.runner.close(&row.user_id) {
                Ok(()) => {
                    self.closed.insert(key(row));
                    self.report.closed.push(row.user_id.clone());
                    self.log.info(format!(
                        "{}'s booking ended at {}; the container is removed.",
                        row.user_id,
                        short(row.end)
                    ))?;
                }
                Err(e) => {
                    self.report.failed.push(row.user_id.clone());
                    self.log.error(
                        Sign::ContainerError,
                        format!("{}'s container could not be closed: {e}", row.user_id),
                    )?;
                }
            }
        }
        Ok(())
    }

    /// Starts the container of each booking that is due, unless unsound or over the quota.
    fn start_due(&mut self) -> Result<(), Error> {
        let containers = &self.seen.ours;
        for row in &self.start {
            let id = &row.user_id;
            if let Some(why) = unsound(row) {
                self.log.warning(Sign::ContainerWarning, why)?;
                continue;
            }
            if !self.dry_run && containers.iter().any(|c| c.serves(row) && c.running) {
                self.started.insert(key(row));
                self.report.started.push(id.clone());
                self.log
                    .info(format!("{id}'s container was already running."))?;
                continue;
            }
            if let Some((why, reason)) = over_quota(&self.config, self.root, row) {
                self.report.over_quota.push(id.clone());
                self.log.warning(Sign::SpaceWarning, why)?;
                // Recorded with the failed starts, so that `booking -ls` and `checker` say why
                // the booking waits instead of showing it due until it expires.
                self.failed_starts.push((row.clone(), reason));
                continue;
            }
            if self.dry_run {
                self.report.started.push(id.clone());
                self.report
                    .would_run
                    .push(match self.runner.start_dry_run(row) {
                        Ok(line) => line,
                        Err(e) => format!("# {id}'s container would not start: {e}"),
                    });
                continue;
            }
            match self.runner.start(row) {
                Ok(()) => {
                    self.started.insert(key(row));
                    self.report.started.push(id.clone());
                    self.log
                        .info(format!("{id} is successfully run the container."))?;
                }
                Err(e) => {
                    self.report.failed.push(id.clone());
                    self.log.error(
                        Sign::ContainerError,
                        format!("{id}'s container could not start, retried next tick: {e}"),
                    )?;
                    self.failed_starts.push((row.clone(), e));
                }
            }
        }
        Ok(())
    }

    /// Cluster mode: mirrors the schedule into Slurm (see [`crate::mirror`]); the bookings
    /// whose job runs are the ones started, those that ended are the ones closed.
    fn mirror_slurm(&mut self) -> Result<(), Error> {
        let done = crate::mirror::run(
            self.root,
            &self.config,
            self.now,
            &self.booking,
            &self.using,
            self.dry_run,
        )?;
        for line in done.lines {
            self.log.push(line)?;
        }
        self.report.would_run.extend(done.would_run);
        for row in &self.booking {
            let k = key(row);
            if row.end > self.now && done.running.contains(&k) {
                self.report.started.push(row.user_id.clone());
                self.started.insert(k);
            }
        }
        for row in &self.close {
            self.closed.insert(key(row));
            self.report.closed.push(row.user_id.clone());
        }
        self.submitted = done.submitted;
        Ok(())
    }

    /// Warns of each booking that ended without being started (the commit files it in used.csv).
    fn warn_missed(&mut self) -> Result<(), Error> {
        for row in &self.missed {
            if self.submitted.contains(&key(row)) {
                // Cluster mode: its job ran between two ticks; filed in used.csv all the same.
                self.log.info(format!(
                    "{}'s booking from {} to {} ended; its Slurm job ran between ticks.",
                    row.user_id,
                    short(row.start),
                    short(row.end)
                ))?;
                continue;
            }
            self.report.missed.push(row.user_id.clone());
            self.log.warning(
                Sign::ContainerWarning,
                format!(
                    "{}'s booking from {} to {} was never started; filed in used.csv.",
                    row.user_id,
                    short(row.start),
                    short(row.end)
                ),
            )?;
        }
        Ok(())
    }

    /// Under the lock, moves the rows closed, started and missed, and records the failed starts.
    fn commit(&mut self) -> Result<(), Error> {
        // Move the current version of each row by (user, start), and record the starts that
        // failed. A tick with nothing to move or record reads nothing again.
        let now = self.now;
        let missed_keys: HashSet<Key> = self.missed.iter().map(key).collect();
        let moved = !self.closed.is_empty() || !self.started.is_empty() || !missed_keys.is_empty();
        let record = self.failures_kept || !self.failed_starts.is_empty();
        if !moved && !record {
            return Ok(());
        }
        let lock = self.root.lock_exclusive("monitor")?;
        let booking = self.root.read_schedule_strict(Table::Booking, &lock)?.rows;
        let using = self.root.read_schedule_strict(Table::Using, &lock)?.rows;
        let (mut new_using, mut new_booking, mut to_used) = (Vec::new(), Vec::new(), Vec::new());
        for r in &using {
            if self.closed.contains(&key(r)) && r.end <= now {
                to_used.push(r.clone());
            } else {
                new_using.push(r.clone());
            }
        }
        for r in &booking {
            let k = key(r);
            if self.started.contains(&k) {
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
            self.root
                .commit_moves(&new_booking, &new_using, &to_used, &lock, &mut crash_point)?;
        }
        record_start_failures(
            self.root,
            &lock,
            &self.failed_starts,
            &new_booking,
            now,
            &mut self.log,
        )?;
        self.using = new_using;
        self.booking = new_booking;
        Ok(())
    }

    /// Brings Docker in line with the schedule as committed (see [`reconcile`]).
    fn reconcile_docker(&mut self) -> Result<(), Error> {
        // Docker changed only if this tick closed or started something.
        if !self.close.is_empty() || !self.start.is_empty() {
            self.survey_docker()?;
        }
        reconcile(
            &self.seen.ours,
            &self.runner,
            &self.using,
            &self.booking,
            self.now,
            &mut self.log,
            &mut self.report,
        )
    }

    /// Answers the requests the plan read (restarts), then removes them from the file.
    fn answer_requests(&mut self) -> Result<(), Error> {
        // A tick was the answer to `now`; restarts are done here, one per user however often
        // they asked. Only then are they removed from the file, so one that arrived meanwhile
        // stays for the next tick.
        if self.requests.is_empty() {
            return Ok(());
        }
        if self.config.cluster.is_some() {
            // On a cluster the session's container lives on a node: this tick mirrored the
            // schedule, which is what `now` asks; a restart is the job's to make.
            for request in &self.requests {
                if let Request::Restart(id) = request {
                    self.log.info(format!(
                        "{id} asked for a restart, which a cluster does not offer; the session runs on its node until its booking ends."
                    ))?;
                }
            }
            let lock = self.root.lock_exclusive("monitor")?;
            self.root.drop_requests(self.requests.len(), &lock)?;
            return Ok(());
        }
        let containers = survey(&self.docker, &self.installation, &self.using)?.ours;
        let mut asked: Vec<&str> = Vec::new();
        for request in &self.requests {
            if let Request::Restart(id) = request {
                if !asked.contains(&id.as_str()) {
                    asked.push(id);
                }
            }
        }
        for id in asked {
            restart(
                &self.docker,
                &containers,
                id,
                &mut self.log,
                &mut self.report,
            )?;
        }
        let lock = self.root.lock_exclusive("monitor")?;
        self.root.drop_requests(self.requests.len(), &lock)?;
        Ok(())
    }

    /// Warns of GPU use outside the bookings (see [`gpu_watch`]).
    fn watch_gpus(&mut self) -> Result<(), Error> {
        self.gpu_findings = gpu_watch(
            &self.docker,
            &self.installation,
            &self.config,
            &self.using,
            self.now,
            &mut self.log,
        )?;
        self.report.gpu_warnings = self.gpu_findings.len();
        Ok(())
    }

    /// Posts what this tick has to tell: starts, failed starts, quota waits, the ends
    /// coming up, and for the admins starts that keep failing and GPU use outside bookings.
    fn post_notices(&mut self) -> Result<(), Error> {
        let now = self.now;
        let mut notices: Vec<_> = self
            .start
            .iter()
            .filter(|r| self.started.contains(&key(r)))
            .map(|r| crate::events::started(r, now))
            .collect();
        notices.extend(
            self.failed_starts
                .iter()
                .map(|(r, reason)| crate::events::not_started(r, reason, now)),
        );
        if self
            .failed_starts
            .iter()
            .any(|(_, reason)| !reason.starts_with(hostinfo::start_failures::QUOTA_WAIT))
        {
            let lock = self.root.lock_shared()?;
            let records = self.root.read_start_failures(&lock).unwrap_or_default();
            drop(lock);
            for (row, reason) in &self.failed_starts {
                if let Some(f) = records
                    .iter()
                    .find(|f| f.key() == (row.user_id.as_str(), row.start) && f.attempts >= 3)
                {
                    notices.push(crate::events::keeps_failing(row, f.attempts, reason, now));
                }
            }
        }
        notices.extend(crate::events::gpu_unbooked(&self.gpu_findings, now));
        notices.extend(crate::events::reminders(&self.using, now));
        self.root.notify(&notices);
        Ok(())
    }

    /// Delivers the pending notices (see [`notices::deliver`]); a failure is logged and
    /// never fails the tick.
    fn deliver_notices(&mut self) -> Result<(), Error> {
        if let Err(e) = notices::deliver(self.root, self.now) {
            self.log.warning(
                Sign::NoticeWarning,
                format!("notices could not be delivered: {e}"),
            )?;
        }
        Ok(())
    }

    /// What the tick did, and the lines it logged.
    /// Leaves the record of this tick, and the metrics for node_exporter when the admin
    /// asked for them (a failure there is a warning, never the tick's).
    fn export(&mut self) -> Result<(), Error> {
        crate::export::record_tick(self.root, self.now, self.began.0, self.began.1.elapsed())?;
        if let Some(line) = crate::export::write_metrics(self.root, self.now) {
            self.log.push(line)?;
        }
        Ok(())
    }

    fn finish(self) -> (Report, Vec<LogLine>) {
        (self.report, self.log.lines)
    }
}

/// What a tick sees of Docker: the containers it may act on (this installation's, and
/// pre-label ones it adopts: the first version's, and the Python version's, which carry no
/// label and are found by the name of a `using.csv` row), and the names held by every other
/// container it saw.
#[derive(Debug, Default)]
struct Seen {
    ours: Vec<Container>,
    foreign: HashSet<String>,
}

fn survey(docker: &Client, installation: &str, using: &[Row]) -> Result<Seen, Error> {
    let mut seen = Seen {
        ours: Vec::new(),
        foreign: HashSet::new(),
    };
    for (c, owner) in docker.list_owned(installation, using)? {
        match owner {
            Owner::Ours | Owner::Adopted => seen.ours.push(c),
            Owner::Foreign => {
                seen.foreign.insert(c.name);
            }
        }
    }
    Ok(seen)
}

/// Answers `restart <id>`: restarts the user's running container of this installation by
/// id, unless it (re)started less than [`RESTART_INTERVAL`] ago.
fn restart(
    docker: &Client,
    containers: &[Container],
    id: &str,
    log: &mut Log,
    report: &mut Report,
) -> Result<(), Error> {
    let none = |log: &mut Log| {
        log.warning(
            Sign::ContainerWarning,
            format!("restart asked for {id}, who has no running container"),
        )
    };
    let Some(c) = containers
        .iter()
        .find(|c| c.user == id && c.running && !c.manual)
    else {
        return none(log);
    };
    // `docker ps` does not say when a container last started; `inspect` does.
    let started_at = match docker.inspect(&c.id) {
        Ok(Some(full)) => full.started_at,
        Ok(None) => return none(log),
        Err(e) => {
            return log.error(
                Sign::ContainerError,
                format!("{id}'s container could not restart: {e}"),
            )
        }
    };
    // Real time, not the tick's (possibly fixed) clock: docker's is real.
    let ago = started_at.map(|at| chrono::Utc::now().signed_duration_since(at));
    if let Some(ago) = ago.filter(|a| a.to_std().map_or(true, |a| a < RESTART_INTERVAL)) {
        return log.warning(
            Sign::ContainerWarning,
            format!(
                "{id}'s container started {} s ago; a restart is done at most once every {} s, so this request is dropped.",
                ago.num_seconds().max(0),
                RESTART_INTERVAL.as_secs()
            ),
        );
    }
    match docker.restart(&c.id) {
        Ok(()) => {
            report.restarted.push(id.to_string());
            log.info(format!("{id}'s container is restarted."))
        }
        Err(e) => log.error(
            Sign::ContainerError,
            format!("{id}'s container could not restart: {e}"),
        ),
    }
}

/// Why `row` is not to be started (below the minimums, backwards, off the grid, over 14
/// days: only a hand edit makes such a row), as the ContainerWarning to log each tick.
fn unsound(row: &Row) -> Option<String> {
    let problems = hostinfo::schedule::row_problems(row);
    let first = problems.first()?;
    Some(format!(
        "{}'s booking from {} to {} is not started: {}: {first}.",
        row.user_id,
        short(row.start),
        short(row.end),
        first.column()
    ))
}

/// Records this tick's failed starts in `jobs/start-failures.csv`, under the exclusive lock
/// of the commit: only bookings still waiting in `booking.csv` keep a record, so one that
/// started, was missed or was cancelled drops out. A file that cannot be read is written
/// anew from what this tick knows.
fn record_start_failures(
    root: &Root,
    lock: &hostinfo::lock::ExclusiveLock,
    failed: &[(Row, String)],
    booking: &[Row],
    now: NaiveDateTime,
    log: &mut Log,
) -> Result<(), Error> {
    let (before, readable) = match root.read_start_failures(lock) {
        Ok(f) => (f, true),
        Err(e) => {
            log.error(Sign::UpdateError, format!("{e}; the file is written anew"))?;
            (Vec::new(), false)
        }
    };
    let mut failures = before.clone();
    for (row, reason) in failed {
        start_failures::record(&mut failures, &row.user_id, row.start, now, reason);
    }
    failures.retain(|f| {
        booking
            .iter()
            .any(|r| (r.user_id.as_str(), r.start) == f.key())
    });
    if failures != before || !readable {
        root.write_start_failures(&failures, lock)?;
    }
    Ok(())
}

/// The SpaceWarning for a user whose work or backup folder is over their quota or could not
/// be measured, and the short reason recorded for the booking (`over the disk quota: work
/// over its 10 GB`); `None` when both were measured within it. The messages name the
/// folders by role only, never a name or anything else the user wrote in them.
fn over_quota(config: &Config, root: &Root, row: &Row) -> Option<(String, String)> {
    let id = &row.user_id;
    let max = checker::limits::user_max(&config.capability, id);
    let f = config.user_folders(root, id);
    let time = quota::time_allowed(QUOTA_TIME);
    let deadline = Instant::now() + time;
    // Each walk stops once past the quota, so a huge folder costs no more than a full one.
    let used = |p: &std::path::Path, gb: f64| quota::usage(p, quota::gib(gb), deadline);
    // The kept backup entries are backup data too: they count with the backup folder.
    let backup = used(&f.backup, max.backup_space);
    let backup = if backup.counts_as_over() {
        backup
    } else {
        let left = quota::gib(max.backup_space).saturating_sub(backup.bytes);
        let kept = quota::usage(&f.kept, left, deadline);
        quota::Usage {
            bytes: backup.bytes + kept.bytes,
            outcome: kept.outcome,
        }
    };
    let folders = [
        ("work_dir", used(&f.work, max.work_space)),
        ("backup_dir", backup),
    ];
    if !folders.iter().any(|(_, u)| u.counts_as_over()) {
        return None;
    }
    let parts: Vec<String> = [
        ("work", &folders[0].1, max.work_space),
        ("backup", &folders[1].1, max.backup_space),
    ]
    .into_iter()
    .filter(|(_, u, _)| u.counts_as_over())
    .map(|(role, u, gb)| match u.outcome {
        quota::Outcome::Unfinished(_) => format!("{role} could not be measured"),
        // The walk stopped past the quota: how far past is not known.
        _ => format!("{role} over its {gb} GB"),
    })
    .collect();
    let reason = format!("{}: {}", start_failures::QUOTA_WAIT, parts.join(", "));
    // What the walk cannot finish counts against the user: otherwise a tree too deep, too
    // large or unreadable would be a way past the quota.
    let mut names = Vec::new();
    let mut whys: Vec<String> = Vec::new();
    for (name, u) in &folders {
        if let quota::Outcome::Unfinished(why) = u.outcome {
            names.push(*name);
            let why = match why {
                quota::Why::Deadline => format!("not measured within {} s", time.as_secs()),
                other => other.to_string(),
            };
            if !whys.contains(&why) {
                whys.push(why);
            }
        }
    }
    if !names.is_empty() {
        return Some((
            format!(
                "{id}'s {} could not be measured ({}); counted as over the quota, the booking waits.",
                names.join(" and "),
                whys.join("; ")
            ),
            reason,
        ));
    }
    // A walk over the limit stopped there: its GB are a lower bound of the folder's use.
    let gb = |u: &quota::Usage| u.bytes.div_ceil(1 << 30);
    Some((
        format!(
            "{id} is over-use the work_dir {}GB, and backup_dir {}GB.",
            gb(&folders[0].1),
            gb(&folders[1].1)
        ),
        reason,
    ))
}

/// Docker against the schedule: a running booking without its container gets one again; a
/// container of this installation (`containers`: ours and adopted ones only) without a
/// current booking is closed. Maintainer's containers and every other installation's are
/// never touched.
fn reconcile(
    containers: &[Container],
    runner: &RunContainer,
    using: &[Row],
    booking: &[Row],
    now: NaiveDateTime,
    log: &mut Log,
    report: &mut Report,
) -> Result<(), Error> {
    // A container is stale only when its row has left using.csv (or its booking row is
    // over), never because the clock stepped back before the row's start (a clock
    // correction, the repeated hour of a DST fall-back).
    let current = |c: &Container| {
        using.iter().any(|r| c.serves(r) && r.end > now)
            || booking.iter().any(|r| c.serves(r) && r.end > now)
    };
    // A close that already failed this tick is not tried twice.
    let stale = |c: &&Container| !c.manual && !current(c) && !report.failed.contains(&c.user);
    let stale: Vec<&Container> = containers.iter().filter(stale).collect();
    for c in stale {
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
        let held = containers.iter().find(|c| c.serves(row));
        // An adopted container (no installation label) was started by an earlier version —
        // the first Rust one or the Python one — which mounted backup entries from inside
        // the user's own folder: a source the user can re-point before the next restart.
        // It is re-created once, with kept entries (imported from that folder at its close).
        let earlier = held.is_some_and(|c| c.running && c.installation.is_empty());
        if held.is_some_and(|c| c.running) && !earlier {
            continue;
        }
        if let Some(why) = unsound(row) {
            log.warning(Sign::ContainerWarning, why)?;
            continue;
        }
        if held.is_some() {
            let _ = runner.close(&row.user_id);
        }
        let why = if earlier {
            "'s container was started by an earlier version whose backup mounts a user could re-point; re-creating it."
        } else {
            "'s container was gone; starting it again."
        };
        log.warning(Sign::ContainerWarning, format!("{}{why}", row.user_id))?;
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

/// The GPU watch, when NVML answers; silent otherwise. Only this installation's containers
/// count as booking containers: a process of any other is "outside any booking". A
/// container of ours on a GPU it did not book is stopped when its user's
/// `stop_unbooked_gpu_use` policy says so (the next tick starts it again from its booking,
/// as any container found gone).
fn gpu_watch(
    docker: &Client,
    installation: &str,
    config: &Config,
    using: &[Row],
    now: NaiveDateTime,
    log: &mut Log,
) -> Result<Vec<gpuwatch::Finding>, Error> {
    let inventory =
        hostinfo::gpu::inventory(&hostinfo::gpu::NvmlProbe, config.fallback_gpu_count());
    if !matches!(inventory.source, hostinfo::gpu::GpuSource::Nvml { .. }) {
        return Ok(Vec::new());
    }
    let containers = survey(docker, installation, using)
        .map(|s| s.ours)
        .unwrap_or_default();
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
        &hostinfo::gpu::process_owner,
        &running,
    );
    let mut stopped: Vec<&str> = Vec::new();
    for f in &found {
        log.warning(Sign::GPUDuplicateWarning, f.message.clone())?;
        let Some(user) = f.user.as_deref().filter(|_| f.unbooked_container) else {
            continue;
        };
        let policy = checker::limits::user_policies(&config.capability, user);
        if policy.stop_unbooked_gpu_use != Some(true) || stopped.contains(&user) {
            continue;
        }
        let Some(c) = containers
            .iter()
            .find(|c| c.user == user && c.running && !c.manual)
        else {
            continue;
        };
        stopped.push(user);
        match docker.stop(&c.id) {
            Ok(()) => log.warning(
                Sign::GPUUnbookedStop,
                format!(
                    "{user}'s container used GPU {}, which it did not book; stopped (stop_unbooked_gpu_use).",
                    f.gpu
                ),
            )?,
            Err(e) => log.error(
                Sign::ContainerError,
                format!("{user}'s container uses a GPU it did not book and could not be stopped: {e}"),
            )?,
        }
    }
    Ok(found)
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
