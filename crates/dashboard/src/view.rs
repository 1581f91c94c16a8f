//! What the pages show, read through hostinfo and checker and kept between requests: a file
//! is re-read only when its stamp (device, inode, length, modification time) changes, and
//! the report is rebuilt from what was read when the clock has moved on. Every page, the
//! state document and the metrics of one view are rendered once and served as bytes.

use std::collections::BTreeMap;
use std::path::PathBuf;
use std::sync::{Arc, Mutex, OnceLock, RwLock, TryLockError};
use std::time::{Duration as StdDuration, Instant};

use checker::report::Report;
use checker::usage::{GpuPoint, UsageReport};
use checker::Snapshot;
use chrono::{Duration, NaiveDate, NaiveDateTime};
use hostinfo::gpu::GpuInventory;
use hostinfo::tick_record::TickRecord;
use hostinfo::usage::{Sample, Subject};
use hostinfo::{FileStamp, Root, Table};

/// Days of samples kept in memory: the longest usage window.
pub const USAGE_DAYS: u32 = 90;

/// How long a view serves before the report is rebuilt for the moving clock (the files
/// unchanged: nothing is re-read but NVML and the machine's size).
pub const REBUILD_AFTER: StdDuration = StdDuration::from_secs(15);

/// How often the files' stamps are looked at, at most.
pub const STAT_EVERY: StdDuration = StdDuration::from_secs(1);

/// The user samples kept for the running bookings' idle state and last CPU and memory.
pub const USER_SAMPLES_HOURS: i64 = 24;

/// The most GPU samples kept of one day: one a minute for 64 GPUs. A day's file holds
/// far fewer (one every 5 minutes); one that holds more keeps the first of each GPU's
/// minutes, so a damaged or runaway file cannot grow the server.
pub const MAX_DAY_POINTS: usize = 64 * 24 * 60;

/// The most user samples kept of one day (one a minute for 200 bookings).
pub const MAX_DAY_USER_SAMPLES: usize = 200 * 24 * 60;

/// `points` with at most one per GPU and minute, and no more than [`MAX_DAY_POINTS`].
fn thin(mut points: Vec<GpuPoint>) -> Vec<GpuPoint> {
    if points.len() <= MAX_DAY_POINTS {
        return points;
    }
    let mut seen = std::collections::HashSet::new();
    points.retain(|p| seen.insert((p.gpu, p.time.and_utc().timestamp().div_euclid(60))));
    points.truncate(MAX_DAY_POINTS);
    points.shrink_to_fit();
    points
}

/// Everything one rendering needs.
#[derive(Debug)]
pub struct View {
    /// As `checker --json` builds it, with every `extra_command` withheld.
    pub report: Report,
    pub now: NaiveDateTime,
    pub config: hostinfo::Config,
    /// Every booking the installation knows: `used.csv`, `using.csv`, `booking.csv`.
    pub rows: Arc<Vec<hostinfo::schedule::Row>>,
    /// The monitor's records of starts that failed, by user and start.
    pub start_failures: Vec<hostinfo::StartFailure>,
    /// The newest sample of each GPU, when recent.
    pub latest: Vec<GpuPoint>,
    /// The user samples of the last day, and the GPU samples of the same span.
    pub recent: Vec<Sample>,
    /// One report per window of [`checker::metrics::WINDOWS`].
    pub usage: Vec<UsageReport>,
    pub last_tick: Option<TickRecord>,
    pub last_sample_unix: Option<f64>,
    /// What could not be read (a damaged file): shown on every page instead of failing.
    pub errors: Vec<String>,
    /// The GPU samples of the usage window, one vector per day (shared with the cache).
    pub days: Vec<Arc<Vec<GpuPoint>>>,
    /// Booking on the web is on (the pages offer a sign-in).
    pub booking_on: bool,
    /// What was rendered from this view, by route (and query): each once.
    pub rendered: Mutex<BTreeMap<String, Arc<OnceLock<Rendered>>>>,
}

/// A response body made once per view.
#[derive(Debug, Clone)]
pub struct Rendered {
    pub content_type: &'static str,
    pub body: bytes::Bytes,
}

impl View {
    /// The usage report of `days`, when it is one of the windows.
    pub fn usage_of(&self, days: u32) -> Option<&UsageReport> {
        self.usage.iter().find(|u| u.days == days)
    }

    /// The usage report of any window up to [`USAGE_DAYS`].
    pub fn usage_report(&self, days: u32) -> UsageReport {
        if let Some(u) = self.usage_of(days) {
            return u.clone();
        }
        let points = self.days.iter().flat_map(|d| d.iter());
        checker::usage::report_from(&self.config, &self.rows, points, self.now, days)
    }

    /// `key`'s body, rendered by `make` the first time it is asked for; a request that asks
    /// while it is being rendered waits for that one rather than rendering it again.
    pub fn rendered(&self, key: &str, make: impl FnOnce(&View) -> Rendered) -> Rendered {
        let cell = {
            let mut map = self.rendered.lock().unwrap_or_else(|p| p.into_inner());
            map.entry(key.to_string()).or_default().clone()
        };
        cell.get_or_init(|| make(self)).clone()
    }
}

/// The samples of one day as the dashboard keeps them.
#[derive(Debug)]
struct Day {
    stamp: Option<FileStamp>,
    points: Arc<Vec<GpuPoint>>,
    users: Arc<Vec<Sample>>,
    /// Why the day's file could not be read (a bad line): its samples count as none.
    error: Option<String>,
}

/// The view being served, readable while another request rebuilds the next one.
#[derive(Debug, Default)]
struct Shown {
    view: Option<Arc<View>>,
    /// When the files' stamps were last looked at.
    checked: Option<Instant>,
    /// When `view` was built.
    built: Option<Instant>,
}

#[derive(Debug, Default)]
struct Inner {
    /// The stamps the current snapshot was read at (taken before it was read: a write
    /// during the read shows as a change next time).
    stamps: Vec<Option<FileStamp>>,
    snapshot: Option<Snapshot>,
    /// The snapshot's history and live rows together, shared by every view built from it.
    rows: Arc<Vec<hostinfo::schedule::Row>>,
    snapshot_error: Option<String>,
    /// `jobs/last-tick.csv` as read with the snapshot (it is one of the watched files).
    last_tick: Option<Result<Option<TickRecord>, String>>,
    days: BTreeMap<NaiveDate, Day>,
    /// How many times the files were read (the tests and the benchmark count them).
    reads: u64,
}

/// The dashboard's one cache; shared by every request.
#[derive(Debug)]
pub struct Cache {
    root: Root,
    /// Held by the one request that looks at the files and rebuilds; the others serve
    /// `shown` meanwhile.
    inner: Mutex<Inner>,
    shown: RwLock<Shown>,
    /// Booking on the web is on: the pages offer a sign-in.
    booking_on: bool,
}

/// A damaged file names itself; never more than one line.
fn one_line(e: impl std::fmt::Display) -> String {
    e.to_string().lines().next().unwrap_or_default().to_string()
}

impl Cache {
    pub fn new(root: Root) -> Self {
        Self::with_booking(root, false)
    }

    /// A cache whose pages offer a sign-in when `booking_on`.
    pub fn with_booking(root: Root, booking_on: bool) -> Self {
        Cache {
            root,
            inner: Mutex::new(Inner::default()),
            shown: RwLock::new(Shown::default()),
            booking_on,
        }
    }

    /// Makes the next view look at the files' stamps at once (after a change made here).
    pub fn invalidate(&self) {
        if let Ok(mut shown) = self.shown.write() {
            shown.checked = None;
        }
    }

    pub fn root(&self) -> &Root {
        &self.root
    }

    /// How many times the schedule and configuration were read so far.
    pub fn reads(&self) -> u64 {
        self.inner.lock().map(|i| i.reads).unwrap_or(0)
    }

    /// The files the snapshot is made of, in a fixed order.
    fn watched(&self, snapshot: Option<&Snapshot>) -> Vec<PathBuf> {
        let root = &self.root;
        let mut paths = vec![
            root.host_deploy_path(),
            root.cfg_dir().join("capability_config.yaml"),
            root.cfg_dir().join("users_config.yaml"),
            root.schedule_path(Table::Booking),
            root.schedule_path(Table::Using),
            root.schedule_path(Table::Used),
            root.waitlist_path(),
            root.start_failures_path(),
            root.jobs_dir().join(".monitor-journal"),
            root.last_tick_path(),
            // Cluster mode: the nodes, and the GPU ids Slurm bound.
            root.cluster_config_path(),
            root.slurm_jobs_path(),
        ];
        if let Some(s) = snapshot {
            paths.push(s.config.capability_path.clone());
            paths.push(s.config.users_path.clone());
            for (_, g) in s.config.capability.groups.0.iter() {
                if let Some(f) = &g.members_file {
                    paths.push(root.resolve_path(f));
                }
            }
        }
        paths
    }

    /// The current view: the cached one while nothing changed, else a new one. An error
    /// (one line naming the file) only when nothing could ever be read; after that a damaged
    /// file leaves the last good reading in place, with the error on every page.
    pub fn view(&self) -> Result<Arc<View>, String> {
        let fresh =
            |at: Option<Instant>, every: StdDuration| at.is_some_and(|t| t.elapsed() < every);
        let serving = || {
            let shown = self.shown.read().unwrap_or_else(|p| p.into_inner());
            let current = fresh(shown.checked, STAT_EVERY) && fresh(shown.built, REBUILD_AFTER);
            (shown.view.clone(), current)
        };
        if let (Some(view), true) = serving() {
            return Ok(view);
        }
        // One request looks and rebuilds; while it does (a read may wait on the lock a
        // booking holds), the others are served the view there is.
        let mut inner = match self.inner.try_lock() {
            Ok(inner) => inner,
            Err(TryLockError::Poisoned(p)) => p.into_inner(),
            Err(TryLockError::WouldBlock) => {
                if let (Some(view), _) = serving() {
                    return Ok(view);
                }
                self.inner.lock().unwrap_or_else(|p| p.into_inner())
            }
        };
        if let (Some(view), true) = serving() {
            return Ok(view);
        }
        let (previous, built) = {
            let mut shown = self.shown.write().unwrap_or_else(|p| p.into_inner());
            shown.checked = Some(Instant::now());
            (shown.view.clone(), shown.built)
        };
        let paths = self.watched(inner.snapshot.as_ref());
        let stamps: Vec<_> = paths.iter().map(|p| self.root.stamp(p)).collect();
        let files_changed = inner.snapshot.is_none() || stamps != inner.stamps;
        if files_changed {
            inner.reads += 1;
            inner.last_tick = Some(self.root.read_last_tick().map_err(one_line));
            match Snapshot::load_with_history(self.root.clone()) {
                Ok(mut s) => {
                    // The history is only for the usage: kept once, with the live rows.
                    inner.rows = Arc::new(s.all_rows());
                    s.history = Vec::new();
                    // The stamps from before the read; a file the new configuration
                    // brings in (a members file) is looked at now.
                    inner.stamps = self
                        .watched(Some(&s))
                        .iter()
                        .map(|p| match paths.iter().position(|q| q == p) {
                            Some(i) => stamps[i],
                            None => self.root.stamp(p),
                        })
                        .collect();
                    inner.snapshot = Some(s);
                    inner.snapshot_error = None;
                }
                Err(e) => {
                    // Nothing recorded: the next look (a second later) reads again.
                    inner.stamps = Vec::new();
                    inner.snapshot_error = Some(one_line(e));
                }
            }
        }
        let days_changed = self.refresh_days(&mut inner);
        if !files_changed && !days_changed && fresh(built, REBUILD_AFTER) {
            if let Some(view) = previous {
                return Ok(view);
            }
        }
        drop(previous);
        let view = Arc::new(self.build(&mut inner)?);
        let mut shown = self.shown.write().unwrap_or_else(|p| p.into_inner());
        shown.view = Some(view.clone());
        shown.built = Some(Instant::now());
        Ok(view)
    }

    /// Re-reads the days of samples whose files changed, drops those out of the window;
    /// whether anything changed.
    fn refresh_days(&self, inner: &mut Inner) -> bool {
        let Some(snapshot) = &inner.snapshot else {
            return false;
        };
        let today = snapshot
            .config
            .clock()
            .map(|c| c.now().date())
            .unwrap_or(snapshot.now.date());
        let first = today - Duration::days(i64::from(USAGE_DAYS));
        let mut changed = false;
        let before = inner.days.len();
        inner.days.retain(|d, _| *d >= first);
        changed |= inner.days.len() != before;
        let mut day = first;
        while day <= today {
            let path = self.root.usage_dir().join(hostinfo::usage::file_name(day));
            let stamp = self.root.stamp(&path);
            let known = inner.days.get(&day).map(|d| d.stamp);
            if known != Some(stamp) {
                changed = true;
                let start = day.and_hms_opt(0, 0, 0).unwrap_or_default();
                let end = day.and_hms_opt(23, 59, 59).unwrap_or_default();
                let (samples, error) = match stamp {
                    None => (Vec::new(), None),
                    Some(_) => match self.root.read_usage_since(start, end) {
                        Ok(s) => (s, None),
                        Err(e) => (Vec::new(), Some(one_line(e))),
                    },
                };
                let points = thin(checker::usage::gpu_points(&samples));
                let users: Vec<Sample> = if today - day <= Duration::days(1) {
                    samples
                        .into_iter()
                        .filter(|s| matches!(s.subject, Subject::User(_)))
                        .take(MAX_DAY_USER_SAMPLES)
                        .collect()
                } else {
                    Vec::new()
                };
                inner.days.insert(
                    day,
                    Day {
                        stamp,
                        points: Arc::new(points),
                        users: Arc::new(users),
                        error,
                    },
                );
            }
            day = day.succ_opt().unwrap_or(day + Duration::days(1));
        }
        changed
    }

    fn build(&self, inner: &mut Inner) -> Result<View, String> {
        let mut errors: Vec<String> = inner.snapshot_error.iter().cloned().collect();
        errors.extend(inner.days.values().filter_map(|d| d.error.clone()));
        let Some(snapshot) = inner.snapshot.as_mut() else {
            return Err(errors.pop().unwrap_or_else(|| "nothing read yet".into()));
        };
        if let Ok(clock) = snapshot.config.clock() {
            snapshot.now = clock.now();
        }
        let now = snapshot.now;
        let inventory: GpuInventory = hostinfo::gpu::inventory(
            &hostinfo::gpu::NvmlProbe,
            snapshot.config.fallback_gpu_count(),
        );
        let mut report = checker::report::build(snapshot, inventory);
        withhold_private(&mut report);
        let rows = inner.rows.clone();
        let pieces: Vec<Arc<Vec<GpuPoint>>> =
            inner.days.values().map(|d| d.points.clone()).collect();
        let slices: Vec<&[GpuPoint]> = pieces.iter().map(|p| p.as_slice()).collect();
        let since = now - Duration::hours(USER_SAMPLES_HOURS);
        let recent: Vec<Sample> = inner
            .days
            .values()
            .flat_map(|d| d.users.iter())
            .filter(|s| s.time >= since && s.time <= now)
            .cloned()
            .chain(
                slices
                    .iter()
                    .flat_map(|p| p.iter())
                    .filter(|p| p.time >= since && p.time <= now)
                    .map(|p| Sample {
                        time: p.time,
                        subject: Subject::Gpu(p.gpu),
                        gpu_util_percent: p.util_percent,
                        gpu_memory_mib: p.memory_mib,
                        cpu_percent: None,
                        memory_mib: None,
                    }),
            )
            .collect();
        let checker::metrics::FromSamples {
            latest,
            usage,
            last_sample_unix,
        } = checker::metrics::from_samples(&snapshot.config, &rows, &slices, now);
        let last_tick = match &inner.last_tick {
            Some(Ok(t)) => *t,
            Some(Err(e)) => {
                errors.push(e.clone());
                None
            }
            None => None,
        };
        let start_failures = match &snapshot.start_failures {
            Ok(f) => f.clone(),
            Err(_) => Vec::new(),
        };
        Ok(View {
            report,
            now,
            config: snapshot.config.clone(),
            rows,
            start_failures,
            latest,
            recent,
            usage,
            last_tick,
            last_sample_unix,
            errors,
            days: pieces,
            booking_on: self.booking_on,
            rendered: Mutex::new(BTreeMap::new()),
        })
    }
}

/// The web shows no `extra_command`: a student's command line is theirs (it may hold a
/// token or a path they would not publish); and no docker message of a failed start (host
/// paths, the admin's business: `booking -ls` does not show them to students either).
pub fn withhold_private(report: &mut Report) {
    for p in &mut report.problems {
        if p.code == "start_failing" {
            p.message =
                "a booking's container has failed to start; `checker` on the host says why".into();
        }
    }
    for r in &mut report.rows {
        r.extra_command = None;
    }
    for w in &mut report.waitlist {
        w.extra_command = None;
    }
}
