//! The root folder of an installation and every file in it: where each lives, and the
//! reads and writes the tools are allowed, each under the lock it needs (docs/data-flow.md, docs/reliability.md).

use std::path::{Path, PathBuf};

use chrono_tz::Tz;

use crate::atomic;
use crate::clock::{self, Clock, TimeError, ZoneSource};
use crate::config::{CapabilityConfig, HostDeploy, UsersConfig};
use crate::error::{read_text, Error, Result};
use crate::exec::{self, Request};
use crate::lock::{self, ExclusiveLock, Held, SharedLock};
use crate::log::LogLine;
use crate::schedule::{self, Row, Schedule};
use crate::start_failures::{self, StartFailure};

/// The three schedule files.
#[derive(Debug, Clone, Copy, PartialEq, Eq, serde::Serialize)]
#[serde(rename_all = "snake_case")]
pub enum Table {
    /// Future bookings.
    Booking,
    /// Running bookings.
    Using,
    /// History: appended to, never rewritten.
    Used,
}

impl Table {
    pub fn file_name(self) -> &'static str {
        match self {
            Table::Booking => "booking.csv",
            Table::Using => "using.csv",
            Table::Used => "used.csv",
        }
    }
}

/// The two schedule files that are rewritten in place.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum LiveTable {
    Booking,
    Using,
}

impl From<LiveTable> for Table {
    fn from(t: LiveTable) -> Table {
        match t {
            LiveTable::Booking => Table::Booking,
            LiveTable::Using => Table::Using,
        }
    }
}

/// An installation's root folder (`cfg/`, `jobs/` below it).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Root {
    dir: PathBuf,
}

impl Root {
    /// `--root` when given, else `AIVC_ROOT`, else the current directory; it must be a folder.
    pub fn resolve(flag: Option<PathBuf>) -> Result<Self> {
        let dir = match flag {
            Some(dir) => dir,
            None => match std::env::var_os("AIVC_ROOT").filter(|v| !v.is_empty()) {
                Some(dir) => PathBuf::from(dir),
                None => PathBuf::from("."),
            },
        };
        if !dir.is_dir() {
            return Err(Error::Root {
                path: dir,
                message: "root is not a folder (give --root DIR or set AIVC_ROOT)".into(),
            });
        }
        Ok(Root { dir })
    }

    /// A root at `dir`, unchecked.
    pub fn at(dir: impl Into<PathBuf>) -> Self {
        Root { dir: dir.into() }
    }

    pub fn dir(&self) -> &Path {
        &self.dir
    }
    pub fn cfg_dir(&self) -> PathBuf {
        self.dir.join("cfg")
    }
    pub fn templates_dir(&self) -> PathBuf {
        self.dir.join("cfg").join("templates")
    }

    /// The lab's template `backup.yaml`: `cfg/templates/backup.yaml`, or where the Python
    /// version's layout keeps it, `cfg/templates/Backup/backup.yaml`. None is fine: a new
    /// backup folder then starts empty.
    pub fn backup_template(&self) -> Option<PathBuf> {
        let dir = self.templates_dir();
        [
            dir.join("backup.yaml"),
            dir.join("Backup").join("backup.yaml"),
        ]
        .into_iter()
        .find(|p| p.is_file())
    }
    pub fn jobs_dir(&self) -> PathBuf {
        self.dir.join("jobs")
    }
    pub fn host_deploy_path(&self) -> PathBuf {
        self.cfg_dir().join("host_deploy.yaml")
    }
    pub fn schedule_path(&self, table: Table) -> PathBuf {
        self.jobs_dir().join(table.file_name())
    }
    pub fn monitor_exec_path(&self) -> PathBuf {
        self.jobs_dir().join("monitor_exec")
    }
    pub fn monitor_log_path(&self) -> PathBuf {
        self.jobs_dir().join("monitor.log")
    }
    pub fn lock_path(&self) -> PathBuf {
        lock::lock_path(&self.jobs_dir())
    }
    pub fn installation_id_path(&self) -> PathBuf {
        self.cfg_dir().join("installation-id")
    }
    pub fn start_failures_path(&self) -> PathBuf {
        self.jobs_dir().join("start-failures.csv")
    }
    pub fn notices_path(&self) -> PathBuf {
        self.jobs_dir().join("notices.csv")
    }
    pub fn notices_delivered_path(&self) -> PathBuf {
        self.jobs_dir().join("notices-delivered.csv")
    }
    pub fn notices_lock_path(&self) -> PathBuf {
        self.jobs_dir().join(".notices-lock")
    }
    pub fn waitlist_path(&self) -> PathBuf {
        self.jobs_dir().join("waitlist.csv")
    }
    pub fn notify_config_path(&self) -> PathBuf {
        self.cfg_dir().join("notify.yaml")
    }

    /// `cfg/notify.yaml`, or the default (notices reach containers only) without one.
    pub fn load_notify_config(&self) -> Result<crate::notify_config::NotifyConfig> {
        crate::notify_config::NotifyConfig::load(&self.notify_config_path())
    }

    pub fn dashboard_config_path(&self) -> PathBuf {
        self.cfg_dir().join("dashboard.yaml")
    }

    /// `cfg/dashboard.yaml`, or the defaults without one.
    pub fn load_dashboard_config(&self) -> Result<crate::dashboard_config::DashboardConfig> {
        crate::dashboard_config::DashboardConfig::load(&self.dashboard_config_path())
    }

    pub fn cluster_config_path(&self) -> PathBuf {
        self.cfg_dir().join("cluster.yaml")
    }

    /// `cfg/cluster.yaml`: `None` for a single host (no such file), else cluster mode.
    pub fn load_cluster(&self) -> Result<Option<crate::cluster::ClusterConfig>> {
        crate::cluster::ClusterConfig::load(&self.cluster_config_path())
    }

    pub fn slurm_jobs_path(&self) -> PathBuf {
        self.jobs_dir().join("slurm-jobs.csv")
    }

    /// The monitor's record of the Slurm jobs it submitted (cluster mode); none without one.
    pub fn read_slurm_jobs(&self, _lock: &impl Held) -> Result<Vec<crate::cluster::SlurmJob>> {
        let path = self.slurm_jobs_path();
        none_when_missing(read_text(&path), |text| {
            crate::cluster::parse_jobs(&path, text)
        })
    }

    /// [`Root::read_slurm_jobs`] without the lock, for the node side and the readers that
    /// only show it: the file is replaced whole, never written in place.
    pub fn read_slurm_jobs_unlocked(&self) -> Result<Vec<crate::cluster::SlurmJob>> {
        let path = self.slurm_jobs_path();
        none_when_missing(read_text(&path), |text| {
            crate::cluster::parse_jobs(&path, text)
        })
    }

    /// Rewrites `jobs/slurm-jobs.csv` atomically.
    pub fn write_slurm_jobs(
        &self,
        jobs: &[crate::cluster::SlurmJob],
        _lock: &ExclusiveLock,
    ) -> Result<()> {
        atomic::replace(
            &self.slurm_jobs_path(),
            &crate::cluster::jobs_to_bytes(jobs),
            0o644,
        )
    }

    pub fn last_tick_path(&self) -> PathBuf {
        self.jobs_dir().join("last-tick.csv")
    }

    /// The monitor's last tick (`jobs/last-tick.csv`); `None` before the first.
    pub fn read_last_tick(&self) -> Result<Option<crate::tick_record::TickRecord>> {
        use std::io::Read;
        let path = self.last_tick_path();
        let mut file = match atomic::open_plain(&path, rustix::fs::OFlags::RDONLY, 0) {
            Ok(f) => f,
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(None),
            Err(e) => return Err(crate::error::read_error(&path, e)),
        };
        // Two short lines; anything longer is not ours.
        let mut text = String::new();
        (&mut file)
            .take(4096)
            .read_to_string(&mut text)
            .map_err(|e| crate::error::read_error(&path, e))?;
        crate::tick_record::TickRecord::parse(&path, &text)
    }

    /// Replaces `jobs/last-tick.csv` (the monitor, at the end of each tick).
    pub fn write_last_tick(&self, record: &crate::tick_record::TickRecord) -> Result<()> {
        atomic::replace(&self.last_tick_path(), &record.to_bytes(), 0o644)
    }

    /// Replaces the admin's metrics textfile (`metrics_textfile` of `cfg/dashboard.yaml`)
    /// atomically, so node_exporter never reads half of it; mode 0644. Its folder is
    /// reached without following any link (the folders on the way may be another
    /// account's).
    pub fn write_metrics_textfile(&self, path: &Path, text: &str) -> Result<()> {
        atomic::replace_no_links(path, text.as_bytes(), 0o644)
    }

    /// What identifies this version of `path` (device, inode, length, modification time)
    /// — of the file a link leads to, as the readers read it (an admin may link a `cfg/`
    /// file); `None` when it is missing or unreadable. A reader that keeps what it parsed
    /// re-reads a file only when its stamp changes.
    pub fn stamp(&self, path: &Path) -> Option<FileStamp> {
        use std::os::unix::fs::MetadataExt;
        let m = std::fs::metadata(path).ok()?;
        Some(FileStamp {
            dev: m.dev(),
            ino: m.ino(),
            len: m.len(),
            mtime_nanos: m.mtime() as i128 * 1_000_000_000 + i128::from(m.mtime_nsec()),
        })
    }

    /// The outbox; a missing file has no notices.
    pub fn read_notices(&self) -> Result<Vec<crate::notices::Notice>> {
        let path = self.notices_path();
        none_when_missing(atomic::read_locked(&path), |text| {
            crate::notices::parse(&path, text)
        })
    }

    /// Appends `notices` to the outbox with one write under the outbox's own lock (not
    /// `jobs/.lock`), leaving out each one whose recipient, kind and key were posted within
    /// `rate_limit` before its time. Returns the notices posted.
    pub fn post_notices(
        &self,
        notices: &[crate::notices::Notice],
        rate_limit: chrono::Duration,
    ) -> Result<Vec<crate::notices::Notice>> {
        if notices.is_empty() {
            return Ok(Vec::new());
        }
        let path = self.notices_path();
        let posted = std::cell::RefCell::new(Vec::new());
        let header = crate::notices::HEADER.join(",") + "\n";
        atomic::append_locked(&path, header.as_bytes(), |text| {
            let mut seen = if text.is_empty() {
                Vec::new()
            } else {
                crate::notices::parse(&path, text)?
            };
            let mut fresh = Vec::new();
            for n in notices {
                let recent = seen.iter().any(|o| {
                    o.recipient == n.recipient
                        && o.kind == n.kind
                        && o.key == n.key
                        && o.time > n.time - rate_limit
                });
                // However they are keyed, a student gets at most so many notices an hour:
                // a loop of bookings and cancels cannot turn the lab's mail server on an
                // address of their choosing.
                let hour = n.time - chrono::Duration::hours(1);
                let flood = matches!(n.recipient, crate::notices::Recipient::User(_))
                    && seen
                        .iter()
                        .filter(|o| o.recipient == n.recipient && o.time > hour && o.time <= n.time)
                        .count()
                        >= crate::notices::MAX_PER_USER_HOUR;
                if !recent && !flood {
                    fresh.push(n.clone());
                    seen.push(n.clone());
                }
            }
            let bytes = if fresh.is_empty() {
                Vec::new()
            } else {
                crate::notices::to_bytes(&fresh, false)
            };
            *posted.borrow_mut() = fresh;
            Ok(bytes)
        })?;
        Ok(posted.into_inner())
    }

    /// Posts `notices` at the rate limit of `cfg/notify.yaml`, best effort: a notice is
    /// never a reason for a booking or a tick to fail, so a failure is one warning in
    /// `monitor.log` (which says what could not be posted, never the text).
    pub fn notify(&self, notices: &[crate::notices::Notice]) {
        if notices.is_empty() {
            return;
        }
        let posted = self
            .load_notify_config()
            .and_then(|c| self.post_notices(notices, c.rate_limit()));
        if let Err(e) = posted {
            let kinds: Vec<&str> = notices.iter().map(|n| n.kind.as_str()).collect();
            let _ = self.append_log(&crate::log::LogLine::warning(
                notices[0].time,
                crate::log::Sign::NoticeWarning,
                format!(
                    "could not post {} notice(s) ({}): {e}",
                    notices.len(),
                    kinds.join(", ")
                ),
            ));
        }
    }

    /// What the channels are done with; a missing file is nothing yet.
    pub fn read_notices_delivered(&self) -> Result<Vec<crate::notices::Delivered>> {
        let path = self.notices_delivered_path();
        none_when_missing(read_text(&path), |text| {
            crate::notices::parse_delivered(&path, text)
        })
    }

    /// Records that a channel is done with a notice: one line, one write, synced.
    pub fn record_delivered(&self, record: &crate::notices::Delivered) -> Result<()> {
        let header = crate::notices::DELIVERED_HEADER.join(",") + "\n";
        atomic::append(
            &self.notices_delivered_path(),
            header.as_bytes(),
            &crate::notices::delivered_to_bytes(std::slice::from_ref(record), false),
        )
    }

    /// Drops the notices `drop` names from the outbox, and their lines from the delivery
    /// record (the delivery step drops notices every channel is done with). The outbox is
    /// re-read under its own lock, so a notice posted meanwhile is kept.
    pub fn compact_notices(
        &self,
        drop: &std::collections::HashSet<String>,
        _lock: &ExclusiveLock,
    ) -> Result<()> {
        let path = self.notices_path();
        atomic::rewrite_locked(&path, |text| {
            let keep: Vec<_> = crate::notices::parse(&path, text)?
                .into_iter()
                .filter(|n| !drop.contains(&n.id))
                .collect();
            Ok(crate::notices::to_bytes(&keep, true))
        })?;
        let records: Vec<_> = self
            .read_notices_delivered()?
            .into_iter()
            .filter(|d| !drop.contains(&d.id))
            .collect();
        atomic::replace(
            &self.notices_delivered_path(),
            &crate::notices::delivered_to_bytes(&records, true),
            0o644,
        )
    }

    /// `jobs/.notices-lock`, when no other process delivers notices now; `None` when one does.
    pub fn try_lock_delivery(&self) -> Result<Option<crate::lock::DeliveryLock>> {
        crate::lock::DeliveryLock::try_acquire(&self.notices_lock_path())
    }

    pub fn usage_dir(&self) -> PathBuf {
        self.jobs_dir().join("usage")
    }

    /// Appends `samples` to the file of their day (`jobs/usage/YYYY-MM-DD.csv`, created with
    /// its header), one write per day; no lock needed (one writer: the sampling timer).
    pub fn append_usage(&self, samples: &[crate::usage::Sample]) -> Result<()> {
        let dir = self.usage_dir();
        if let Err(e) = std::fs::create_dir(&dir) {
            if e.kind() != std::io::ErrorKind::AlreadyExists {
                return Err(Error::Write {
                    path: dir,
                    source: e,
                });
            }
        }
        let mut days: Vec<chrono::NaiveDate> = samples.iter().map(|s| s.time.date()).collect();
        days.dedup();
        let header = crate::usage::HEADER.join(",") + "\n";
        for day in days {
            let of_day: Vec<_> = samples
                .iter()
                .filter(|s| s.time.date() == day)
                .cloned()
                .collect();
            atomic::append(
                &dir.join(crate::usage::file_name(day)),
                header.as_bytes(),
                &crate::usage::to_lines(&of_day),
            )?;
        }
        Ok(())
    }

    /// The samples taken at or after `since` (and no later than `until`), read from the end
    /// of each day's file back: at most [`crate::usage::MAX_TAIL_BYTES`] of each, so a long
    /// history costs a reader nothing. Missing files are no samples.
    pub fn read_usage_since(
        &self,
        since: chrono::NaiveDateTime,
        until: chrono::NaiveDateTime,
    ) -> Result<Vec<crate::usage::Sample>> {
        use std::io::{Read, Seek, SeekFrom};
        let mut out = Vec::new();
        let mut day = since.date();
        while day <= until.date() {
            let path = self.usage_dir().join(crate::usage::file_name(day));
            day = day.succ_opt().unwrap_or(day);
            let mut file = match atomic::open_plain(&path, rustix::fs::OFlags::RDONLY, 0) {
                Ok(f) => f,
                Err(e) if e.kind() == std::io::ErrorKind::NotFound => continue,
                Err(e) => return Err(crate::error::read_error(&path, e)),
            };
            let len = file
                .metadata()
                .map_err(|e| crate::error::read_error(&path, e))?
                .len();
            let from = len.saturating_sub(crate::usage::MAX_TAIL_BYTES);
            file.seek(SeekFrom::Start(from))
                .map_err(|e| crate::error::read_error(&path, e))?;
            let mut bytes = Vec::new();
            file.take(crate::usage::MAX_TAIL_BYTES)
                .read_to_end(&mut bytes)
                .map_err(|e| crate::error::read_error(&path, e))?;
            let text = String::from_utf8_lossy(&bytes);
            // A tail starts mid-line: from the first full line (the header when whole).
            let text = if from > 0 {
                text.split_once('\n').map_or("", |(_, rest)| rest)
            } else {
                &text
            };
            // A line still being written has no newline yet: left for the next read.
            let whole = text.rfind('\n').map_or("", |i| &text[..=i]);
            let samples = crate::usage::parse_lines(&path, if from > 0 { 0 } else { 1 }, whole)?;
            out.extend(
                samples
                    .into_iter()
                    .filter(|s| s.time >= since && s.time <= until),
            );
        }
        Ok(out)
    }

    /// Removes the days of samples older than `keep_days` before `today`.
    pub fn prune_usage(&self, today: chrono::NaiveDate, keep_days: i64) -> Result<usize> {
        let dir = self.usage_dir();
        let Ok(entries) = std::fs::read_dir(&dir) else {
            return Ok(0);
        };
        let oldest = today - chrono::Duration::days(keep_days);
        let mut removed = 0;
        for e in entries.flatten() {
            let name = e.file_name();
            let Some(day) = name
                .to_str()
                .and_then(|n| n.strip_suffix(".csv"))
                .and_then(|d| chrono::NaiveDate::parse_from_str(d, "%Y-%m-%d").ok())
            else {
                continue;
            };
            if day < oldest {
                atomic::remove(&dir.join(&name))?;
                removed += 1;
            }
        }
        Ok(removed)
    }

    /// The containers' last CPU readings (`jobs/usage/.cpu-state`); none when missing or
    /// unreadable as text.
    pub fn read_usage_cpu_state(&self) -> Vec<crate::usage::CpuReading> {
        use std::io::Read;
        let path = self.usage_dir().join(crate::usage::CPU_STATE_FILE);
        let Ok(file) = atomic::open_plain(&path, rustix::fs::OFlags::RDONLY, 0) else {
            return Vec::new();
        };
        // A line per running booking: far below this.
        let mut text = String::new();
        let _ = file.take(1 << 20).read_to_string(&mut text);
        crate::usage::parse_cpu_state(&text)
    }

    /// Replaces the containers' last CPU readings; one writer (the sampling timer).
    pub fn write_usage_cpu_state(&self, readings: &[crate::usage::CpuReading]) -> Result<()> {
        let dir = self.usage_dir();
        if let Err(e) = std::fs::create_dir(&dir) {
            if e.kind() != std::io::ErrorKind::AlreadyExists {
                return Err(Error::Write {
                    path: dir,
                    source: e,
                });
            }
        }
        atomic::replace(
            &dir.join(crate::usage::CPU_STATE_FILE),
            &crate::usage::cpu_state_to_bytes(readings),
            0o644,
        )
    }

    /// The waitlist in join order; a missing file is an empty list.
    pub fn read_waitlist(&self, _lock: &impl Held) -> Result<Vec<crate::waitlist::Entry>> {
        let path = self.waitlist_path();
        none_when_missing(read_text(&path), |text| crate::waitlist::parse(&path, text))
    }

    /// Rewrites the waitlist atomically.
    pub fn write_waitlist(
        &self,
        entries: &[crate::waitlist::Entry],
        _lock: &ExclusiveLock,
    ) -> Result<()> {
        atomic::replace(
            &self.waitlist_path(),
            &crate::waitlist::to_bytes(entries),
            0o644,
        )
    }

    /// This installation's id, which labels every container it starts so that it acts only
    /// on its own. Created (16 random hex digits) on first use when setup has not made it.
    pub fn installation_id(&self) -> Result<String> {
        crate::installation::read_or_create(&self.installation_id_path())
    }

    /// This installation's id when it has one yet (for dry runs, which create nothing).
    pub fn existing_installation_id(&self) -> Result<Option<String>> {
        crate::installation::read(&self.installation_id_path())
    }

    /// A path from a config file: relative ones (`./cfg/x.yaml`) are relative to the root.
    pub fn resolve_path(&self, path: &Path) -> PathBuf {
        if path.is_absolute() {
            path.to_path_buf()
        } else {
            let clean: PathBuf = path
                .components()
                .filter(|c| !matches!(c, std::path::Component::CurDir))
                .collect();
            self.dir.join(clean)
        }
    }

    /// Takes `jobs/.lock` exclusive for a read-modify-write; `who` names us to waiters.
    /// A monitor journal left by an interrupted tick is completed first, so every writer —
    /// booking, monitor, anything else — works on the whole move, never on half of it.
    pub fn lock_exclusive(&self, who: &str) -> Result<ExclusiveLock> {
        self.lock_exclusive_with(who, lock::timeout_from_env(), &mut |_| {})
    }

    /// [`Root::lock_exclusive`] waiting up to `timeout`, telling `step` each stage of a
    /// completion (the monitor's crash hook); [`ExclusiveLock::completed_journal`] says
    /// whether there was one. A journal that cannot be read is the error, and nothing is
    /// written.
    pub fn lock_exclusive_with(
        &self,
        who: &str,
        timeout: std::time::Duration,
        step: &mut dyn FnMut(&str),
    ) -> Result<ExclusiveLock> {
        let mut lock = ExclusiveLock::acquire(&self.lock_path(), who, timeout)?;
        if let Some(journal) = self.read_journal()? {
            self.apply(&journal, &lock, step)?;
            lock.completed_journal = true;
        }
        Ok(lock)
    }

    /// Takes `jobs/.lock` shared for a consistent read across files.
    pub fn lock_shared(&self) -> Result<SharedLock> {
        SharedLock::acquire(&self.lock_path(), lock::timeout_from_env())
    }

    /// Reads and checks every file in `cfg/`.
    pub fn load_config(&self) -> Result<Config> {
        let host_path = self.host_deploy_path();
        let host = HostDeploy::load(&host_path)?;
        let capability_path = self.resolve_path(&host.capability_config_yaml);
        let capability_text = crate::yaml::read(&capability_path)?;
        let mut capability = CapabilityConfig::parse(&capability_path, &capability_text)?;
        capability
            .read_member_files(&capability_path, &capability_text, |p| self.resolve_path(p))?;
        let users_path = self.resolve_path(&host.users_config_yaml);
        let users = UsersConfig::load(&users_path)?;
        let (zone, zone_source) = clock::resolve_zone(host.timezone.as_deref());
        let cluster = self.load_cluster()?;
        Ok(Config {
            host,
            capability,
            users,
            host_path,
            capability_path,
            users_path,
            zone,
            zone_source,
            cluster,
        })
    }

    /// Reads a schedule file as it is (times off the grid included). While a monitor journal
    /// is pending (only a shared holder can see one: the exclusive lock completes it), this is
    /// the file as the journal will leave it, so a reader never sees a row in neither file.
    pub fn read_schedule(&self, table: Table, _lock: &impl Held) -> Result<Schedule> {
        let path = self.schedule_path(table);
        match self.read_journal()? {
            None => schedule::read(&path),
            Some(j) => schedule::parse(&path, &self.as_journal_leaves(&j, table)?),
        }
    }

    /// Whether a monitor journal is pending (an interrupted tick's moves, not yet completed);
    /// a journal that cannot be read is the error.
    pub fn journal_pending(&self, _lock: &SharedLock) -> Result<bool> {
        Ok(self.read_journal()?.is_some())
    }

    /// The bytes `table` will have once `j` is applied; nothing is written.
    fn as_journal_leaves(&self, j: &crate::journal::Journal, table: Table) -> Result<Vec<u8>> {
        match table {
            Table::Booking => Ok(j.booking.clone()),
            Table::Using => Ok(j.using.clone()),
            Table::Used => {
                let path = self.schedule_path(Table::Used);
                let mut bytes = std::fs::read(&path).map_err(|source| Error::Read {
                    path: path.clone(),
                    source,
                })?;
                let before = usize::try_from(j.used_len)
                    .ok()
                    .filter(|n| *n <= bytes.len())
                    .ok_or_else(|| {
                        Error::invalid(
                            &path,
                            None,
                            None,
                            format!(
                                "is {} bytes, but the monitor journal expects {} before its rows: the history changed while a tick was interrupted; restore it, then run the monitor",
                                bytes.len(),
                                j.used_len
                            ),
                        )
                    })?;
                bytes.truncate(before);
                bytes.extend_from_slice(&j.append);
                Ok(bytes)
            }
        }
    }

    /// Reads a schedule file and refuses it when a row is off the grid.
    pub fn read_schedule_strict(&self, table: Table, lock: &impl Held) -> Result<Schedule> {
        let s = self.read_schedule(table, lock)?;
        s.check_grid(&self.schedule_path(table))?;
        Ok(s)
    }

    /// Rewrites `booking.csv` or `using.csv` atomically.
    pub fn write_schedule(
        &self,
        table: LiveTable,
        rows: &[Row],
        _lock: &ExclusiveLock,
    ) -> Result<()> {
        atomic::replace(
            &self.schedule_path(table.into()),
            &schedule::to_bytes(rows),
            0o644,
        )
    }

    /// Adds rows at the end of `booking.csv` or `using.csv`, atomically: the file's other
    /// rows keep their bytes, and nothing is re-serialized.
    pub fn add_rows(&self, table: LiveTable, rows: &[Row], _lock: &ExclusiveLock) -> Result<()> {
        let path = self.schedule_path(table.into());
        let mut bytes = std::fs::read(&path).map_err(|source| Error::Read {
            path: path.clone(),
            source,
        })?;
        // A row glued onto an open quote would vanish into that field.
        schedule::check_appendable(&path, &bytes)?;
        if bytes.is_empty() {
            bytes = schedule::to_bytes(rows);
            return atomic::replace(&path, &bytes, 0o644);
        }
        let file_has_node = schedule::has_node_column(&bytes);
        if !file_has_node && schedule::needs_node_column(rows) {
            // The first booking of a node in a file begun in the single-host format: the
            // file is written anew with the node column, every earlier row on no node.
            let mut all = schedule::parse(&path, &bytes)?.rows;
            all.extend_from_slice(rows);
            return atomic::replace(&path, &schedule::to_bytes(&all), 0o644);
        }
        if bytes.last() != Some(&b'\n') {
            bytes.push(b'\n');
        }
        schedule::append_rows_with(&mut bytes, rows, file_has_node);
        atomic::replace(&path, &bytes, 0o644)
    }

    /// Appends rows to `used.csv`, the history that is never rewritten.
    pub fn append_used(&self, rows: &[Row], _lock: &ExclusiveLock) -> Result<()> {
        if rows.is_empty() {
            return Ok(());
        }
        // The history is never rewritten: rows take the columns its header has (a history
        // begun in the single-host format keeps them, and drops the node).
        let path = self.schedule_path(Table::Used);
        let head = read_head(&path, 256);
        let with_node = match &head {
            Some(h) if !h.is_empty() => schedule::has_node_column(h),
            _ => schedule::needs_node_column(rows),
        };
        let header = if with_node {
            schedule::HEADER_LINE_WITH_NODE
        } else {
            schedule::HEADER_LINE
        };
        let mut bytes = Vec::new();
        schedule::append_rows_with(&mut bytes, rows, with_node);
        atomic::append(&path, header.as_bytes(), &bytes)
    }

    /// The pending requests to the monitor; a missing file has none.
    pub fn read_requests(&self, _lock: &impl Held) -> Result<Vec<Request>> {
        let path = self.monitor_exec_path();
        none_when_missing(read_text(&path), |text| exec::parse(&path, text))
    }

    /// Adds a request for the monitor.
    pub fn push_request(&self, request: &Request, _lock: &ExclusiveLock) -> Result<()> {
        atomic::append(
            &self.monitor_exec_path(),
            b"",
            format!("{request}\n").as_bytes(),
        )
    }

    /// Removes the first `n` requests (those a tick has acted on), keeping any that arrived
    /// since: the file only grows between two removals, and both happen under the lock.
    pub fn drop_requests(&self, n: usize, _lock: &ExclusiveLock) -> Result<()> {
        let path = self.monitor_exec_path();
        let text = match read_text(&path) {
            Ok(text) => text,
            Err(Error::Missing { .. }) => return Ok(()),
            Err(e) => return Err(e),
        };
        let mut seen = 0;
        let mut keep = String::new();
        for line in text.lines() {
            if seen < n && !line.trim().is_empty() {
                seen += 1;
                continue;
            }
            if !line.trim().is_empty() {
                keep.push_str(line);
                keep.push('\n');
            }
        }
        if keep != text {
            atomic::replace(&path, keep.as_bytes(), 0o644)?;
        }
        Ok(())
    }

    /// The bookings whose start keeps failing; a missing file has none.
    pub fn read_start_failures(&self, _lock: &impl Held) -> Result<Vec<StartFailure>> {
        let path = self.start_failures_path();
        none_when_missing(read_text(&path), |text| start_failures::parse(&path, text))
    }

    /// Rewrites `jobs/start-failures.csv` atomically.
    pub fn write_start_failures(
        &self,
        failures: &[StartFailure],
        _lock: &ExclusiveLock,
    ) -> Result<()> {
        atomic::replace(
            &self.start_failures_path(),
            &start_failures::to_bytes(failures),
            0o644,
        )
    }

    fn journal_path(&self) -> PathBuf {
        self.jobs_dir().join(".monitor-journal")
    }

    /// Moves rows between the schedule files as one unit: `booking` and `using` become the
    /// given rows and `to_used` is appended to the history. A journal is written first, so a
    /// crash at any `step` is completed by the next [`Root::lock_exclusive`], whoever takes
    /// it. `step` is told each stage.
    pub fn commit_moves(
        &self,
        booking: &[Row],
        using: &[Row],
        to_used: &[Row],
        lock: &ExclusiveLock,
        step: &mut dyn FnMut(&str),
    ) -> Result<()> {
        let used_path = self.schedule_path(Table::Used);
        let (used_len, last) = atomic::length_and_last_byte(&used_path)?;
        let mut append = Vec::new();
        if used_len == 0 {
            append.extend_from_slice(schedule::HEADER_LINE.as_bytes());
        } else if last != Some(b'\n') {
            append.push(b'\n');
        }
        schedule::append_rows_to(&mut append, to_used);
        let journal = crate::journal::Journal {
            booking: schedule::to_bytes(booking),
            using: schedule::to_bytes(using),
            used_len,
            append,
        };
        atomic::replace(&self.journal_path(), &journal.to_bytes(), 0o600)?;
        step("journal-written");
        self.apply(&journal, lock, step)
    }

    /// The pending journal of an interrupted tick, if any: never through a link, and one that
    /// is damaged, foreign or of the first format is an error naming it.
    fn read_journal(&self) -> Result<Option<crate::journal::Journal>> {
        use std::io::Read;
        let path = self.journal_path();
        let read_err = |source| Error::Read {
            path: path.clone(),
            source,
        };
        let mut file = match atomic::open_plain(&path, rustix::fs::OFlags::RDONLY, 0) {
            Ok(file) => file,
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(None),
            Err(e) => return Err(read_err(e)),
        };
        let mut bytes = Vec::new();
        file.read_to_end(&mut bytes).map_err(read_err)?;
        crate::journal::Journal::parse(&path, &bytes).map(Some)
    }

    fn apply(
        &self,
        j: &crate::journal::Journal,
        _lock: &ExclusiveLock,
        step: &mut dyn FnMut(&str),
    ) -> Result<()> {
        // A history that does not fit the journal stops everything before the first write.
        let used = self.schedule_path(Table::Used);
        atomic::check_redo_append(&used, j.used_len, &j.append)?;
        atomic::replace(&self.schedule_path(Table::Booking), &j.booking, 0o644)?;
        step("booking-written");
        atomic::replace(&self.schedule_path(Table::Using), &j.using, 0o644)?;
        step("using-written");
        atomic::redo_append(&used, j.used_len, &j.append)?;
        step("used-appended");
        atomic::remove(&self.journal_path())?;
        step("committed");
        Ok(())
    }

    /// Appends one line to `jobs/monitor.log` (one write, so lines never interleave).
    pub fn append_log(&self, line: &LogLine) -> Result<()> {
        atomic::append(
            &self.monitor_log_path(),
            b"",
            format!("{line}\n").as_bytes(),
        )
    }

    /// Rewrites the users file atomically, readable by its owner only (it holds passwords).
    pub fn write_users(
        &self,
        config: &Config,
        users: &UsersConfig,
        _lock: &ExclusiveLock,
    ) -> Result<()> {
        let text = users.to_yaml();
        // Every tool refuses a users file past the cap: never write one.
        if text.len() > crate::yaml::MAX_YAML_BYTES {
            return Err(Error::invalid(
                &config.users_path,
                None,
                None,
                "would grow past 1 MiB; nothing was written (ask the admin to remove old users)",
            ));
        }
        atomic::replace(&config.users_path, text.as_bytes(), 0o600)
    }
}

/// Everything in `cfg/`, read and checked, with where each file was.
#[derive(Debug, Clone)]
pub struct Config {
    pub host: HostDeploy,
    pub capability: CapabilityConfig,
    pub users: UsersConfig,
    pub host_path: PathBuf,
    pub capability_path: PathBuf,
    pub users_path: PathBuf,
    pub zone: Tz,
    pub zone_source: ZoneSource,
    /// `cfg/cluster.yaml` when there is one: cluster mode (docs/cluster.md).
    pub cluster: Option<crate::cluster::ClusterConfig>,
}

impl Config {
    /// The clock in the configured zone (`AIVC_NOW` honoured in debug builds).
    pub fn clock(&self) -> Result<Clock, TimeError> {
        Clock::from_env(self.zone)
    }

    /// How many GPUs to assume when NVML has no answer.
    pub fn fallback_gpu_count(&self) -> u32 {
        self.host.gpu_count.unwrap_or(self.capability.max.gpus)
    }

    /// Where `id`'s folders are — their users_config.yaml entry, else the host defaults —
    /// as absolute paths: relative ones are relative to the root, wherever the tool runs.
    pub fn user_folders(&self, root: &Root, id: &str) -> UserFolders {
        let host = &self.host;
        let (work, backup, dataset) = match self.users.get(id) {
            Some(e) => (
                e.volume_work_dir.clone(),
                e.volume_backup_dir.clone(),
                e.volume_dataset_dir.clone(),
            ),
            None => (
                host.volume_work_dir.join(id),
                host.volume_backup_dir.join(id),
                host.volume_dataset_dir.clone(),
            ),
        };
        let kept_root = host
            .volume_kept_dir
            .clone()
            .unwrap_or_else(|| PathBuf::from("kept"));
        let absolute = |p: &Path| {
            let p = root.resolve_path(p);
            std::path::absolute(&p).unwrap_or(p)
        };
        let kept_root = absolute(&kept_root);
        UserFolders {
            work: absolute(&work),
            backup: absolute(&backup),
            dataset: absolute(&dataset),
            kept: kept_root.join(id),
            kept_root,
        }
    }
}

/// One user's folders on the host, absolute.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct UserFolders {
    /// Mounted at `/root/Work`.
    pub work: PathBuf,
    /// Mounted at `/root/Backup`; holds the user's `backup.yaml`.
    pub backup: PathBuf,
    /// Shared by everyone, mounted read-only at `/root/Dataset`.
    pub dataset: PathBuf,
    /// Root's folder of every user's kept backup entries (`volume_kept_dir`).
    pub kept_root: PathBuf,
    /// This user's kept backup entries, `<kept_root>/<id>`; no container sees it.
    pub kept: PathBuf,
}

/// `parse` of a state file's text; a file that is not there holds nothing.
fn none_when_missing<T>(
    text: Result<String>,
    parse: impl FnOnce(&str) -> Result<Vec<T>>,
) -> Result<Vec<T>> {
    match text {
        Ok(text) => parse(&text),
        Err(Error::Missing { .. }) => Ok(Vec::new()),
        Err(e) => Err(e),
    }
}

/// See [`Root::stamp`].
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub struct FileStamp {
    pub dev: u64,
    pub ino: u64,
    pub len: u64,
    pub mtime_nanos: i128,
}

/// The first `limit` bytes of a file, `None` when it cannot be read (a missing file).
fn read_head(path: &Path, limit: u64) -> Option<Vec<u8>> {
    use std::io::Read;
    let file = std::fs::File::open(path).ok()?;
    let mut head = Vec::new();
    file.take(limit).read_to_end(&mut head).ok()?;
    Some(head)
}
