//! Slurm as the monitor sees it: its client commands (`squeue`, `scontrol`, `sbatch`,
//! `scancel`) run with a time bound and counted, and what they print read back into
//! [`Reservation`]s and [`Job`]s. Times cross in the schedule's zone (`TZ` is set for every
//! command, `SLURM_TIME_FORMAT=standard`), shifted by the schedule clock's shift (zero but in
//! debug builds' tests).

use std::io::Read;
use std::path::PathBuf;
use std::process::{Command, Stdio};
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::Duration as StdDuration;

use chrono::{Duration, NaiveDateTime};
use wait_timeout::ChildExt;

use crate::Error;

/// How long one Slurm command may take (slurmctld answering slowly, or not at all).
const COMMAND_TIMEOUT: StdDuration = StdDuration::from_secs(30);

/// The most a Slurm command may print that we read (a cluster's whole queue fits).
const OUTPUT_LIMIT: u64 = 64 << 20;

/// The field separator of our `squeue` format: a character no field we read can hold.
const SEP: char = '\u{1f}';

/// Runs Slurm's client commands for the monitor.
#[derive(Debug)]
pub struct Slurm {
    /// Where the commands are (`AIVC_SLURM_BIN` in tests), else found on `PATH`.
    bin: Option<PathBuf>,
    /// The zone name the schedule's times are in.
    tz: String,
    /// The schedule clock's shift: schedule time `t` is Slurm's `t - shift`.
    shift: Duration,
    calls: AtomicUsize,
}

/// What a command printed, when it succeeded.
pub type Output = String;

impl Slurm {
    /// Slurm's commands on `PATH` (or in `AIVC_SLURM_BIN`), times in zone `tz`.
    pub fn new(tz: &str, shift: Duration) -> Self {
        Slurm {
            bin: std::env::var_os("AIVC_SLURM_BIN")
                .filter(|v| !v.is_empty())
                .map(PathBuf::from),
            tz: tz.to_string(),
            shift,
            calls: AtomicUsize::new(0),
        }
    }

    /// How many commands this client has run.
    pub fn calls(&self) -> usize {
        self.calls.load(Ordering::Relaxed)
    }

    fn program(&self, name: &str) -> PathBuf {
        match &self.bin {
            Some(dir) => dir.join(name),
            None => PathBuf::from(name),
        }
    }

    /// Runs `program args`, bounded in time and output; its stdout when it exits 0, else
    /// an error with the first line of what it said.
    pub fn run(&self, program: &str, args: &[String]) -> Result<Output, Error> {
        self.calls.fetch_add(1, Ordering::Relaxed);
        let mut child = Command::new(self.program(program))
            .args(args)
            .env("TZ", &self.tz)
            .env("SLURM_TIME_FORMAT", "standard")
            .stdin(Stdio::null())
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .spawn()
            .map_err(|source| Error::Spawn {
                program: program.to_string(),
                source,
            })?;
        let mut stdout = child.stdout.take().expect("piped");
        let mut stderr = child.stderr.take().expect("piped");
        let out = std::thread::spawn(move || {
            let mut buf = Vec::new();
            let _ = (&mut stdout).take(OUTPUT_LIMIT).read_to_end(&mut buf);
            buf
        });
        let err = std::thread::spawn(move || {
            let mut buf = Vec::new();
            let _ = (&mut stderr).take(64 << 10).read_to_end(&mut buf);
            buf
        });
        let status = match child.wait_timeout(COMMAND_TIMEOUT) {
            Ok(Some(status)) => status,
            Ok(None) | Err(_) => {
                let _ = child.kill();
                let _ = child.wait();
                return Err(Error::Slurm {
                    command: describe(program, args),
                    said: format!("did not answer within {} s", COMMAND_TIMEOUT.as_secs()),
                });
            }
        };
        let out = out.join().unwrap_or_default();
        let err = err.join().unwrap_or_default();
        if !status.success() {
            let said = String::from_utf8_lossy(&err);
            let said = said
                .lines()
                .map(str::trim)
                .find(|l| !l.is_empty())
                .unwrap_or("(nothing)")
                .chars()
                .filter(|c| !c.is_control())
                .take(300)
                .collect();
            return Err(Error::Slurm {
                command: describe(program, args),
                said,
            });
        }
        Ok(String::from_utf8_lossy(&out).into_owned())
    }

    /// A schedule time as Slurm takes it.
    pub fn time(&self, t: NaiveDateTime) -> String {
        (t - self.shift).format("%Y-%m-%dT%H:%M:%S").to_string()
    }

    /// A time Slurm printed, as a schedule time; `None` for `N/A`, `Unknown` and the like.
    pub fn parse_time(&self, text: &str) -> Option<NaiveDateTime> {
        // hostinfo's reader of `YYYY-MM-DD HH:MM:SS` (by hand, fast), given Slurm's `T`.
        let text = text.trim();
        if text.len() != 19 || text.as_bytes()[10] != b'T' {
            return None;
        }
        let mut spaced = [0u8; 19];
        spaced.copy_from_slice(text.as_bytes());
        spaced[10] = b' ';
        let spaced = std::str::from_utf8(&spaced).ok()?;
        hostinfo::schedule::parse_time(spaced)
            .ok()
            .map(|t| t + self.shift)
    }

    /// Every reservation Slurm holds and every job of ours (named with `prefix`): the two
    /// listings a mirroring starts from, asked at once.
    pub fn list(&self, prefix: &str) -> Result<(Vec<Reservation>, Vec<Job>), Error> {
        let (reservations, jobs) = std::thread::scope(|s| {
            let reservations = s.spawn(|| self.reservations());
            let jobs = self.jobs(prefix);
            (reservations.join(), jobs)
        });
        let reservations = reservations.unwrap_or_else(|_| {
            Err(Error::Slurm {
                command: "scontrol show reservation".into(),
                said: "its reader failed".into(),
            })
        })?;
        Ok((reservations, jobs?))
    }

    /// Every reservation Slurm holds (ours are picked out by the caller).
    pub fn reservations(&self) -> Result<Vec<Reservation>, Error> {
        let text = self.run(
            "scontrol",
            &["show".into(), "reservation".into(), "-o".into()],
        )?;
        Ok(text
            .lines()
            .filter_map(|l| Reservation::parse(l, self))
            .collect())
    }

    /// Every job in the queue whose name starts with `prefix`.
    pub fn jobs(&self, prefix: &str) -> Result<Vec<Job>, Error> {
        // Anyone names their jobs as they like, line breaks included, and squeue prints names
        // as they are: a name could carry a whole line of its own. So every line of ours
        // opens and closes with a token drawn for this call, which no job's owner can know,
        // and a line without both is no job's; the name comes last, just before the closing
        // token, so whatever it holds cannot shift the fields before it.
        let token = token()?;
        let fields = ["%i", "%T", "%u", "%v", "%r", "%S", "%l", "%N", "%j"].join(&SEP.to_string());
        let text = self.run(
            "squeue",
            &[
                "--noheader".into(),
                "--states=PENDING,RUNNING,CONFIGURING,COMPLETING,SUSPENDED".into(),
                format!("--format={token}{SEP}{fields}{SEP}{token}"),
            ],
        )?;
        let (open, close) = (format!("{token}{SEP}"), format!("{SEP}{token}"));
        Ok(text
            .lines()
            .filter_map(|l| l.strip_prefix(&open)?.strip_suffix(&close))
            .filter_map(|l| Job::parse(l, self))
            .filter(|j| j.name.starts_with(prefix) && !j.name.chars().any(char::is_control))
            .collect())
    }

    /// The GPU indices bound to a running job (`GRES=gpu:2(IDX:0-1)` of `scontrol show job -d`).
    pub fn bound_gpus(&self, job: u64) -> Result<Vec<u32>, Error> {
        let text = self.run(
            "scontrol",
            &["show".into(), "job".into(), "-d".into(), job.to_string()],
        )?;
        Ok(parse_bound_gpus(&text))
    }
}

fn describe(program: &str, args: &[String]) -> String {
    let mut s = program.to_string();
    for a in args {
        s.push(' ');
        s.push_str(a);
    }
    s
}

/// The ids in `IDX:...)` of a `GRES=gpu...` field: `0`, `1-3`, `0,2`.
pub fn parse_bound_gpus(text: &str) -> Vec<u32> {
    let mut ids = Vec::new();
    for field in text.split_whitespace() {
        let Some(gres) = field.strip_prefix("GRES=") else {
            continue;
        };
        for part in gres.split("IDX:").skip(1) {
            let list = part.split(')').next().unwrap_or("");
            for item in list.split(',') {
                match item.split_once('-') {
                    Some((a, b)) => {
                        if let (Ok(a), Ok(b)) = (a.parse::<u32>(), b.parse::<u32>()) {
                            if b >= a && b - a < 1024 {
                                ids.extend(a..=b);
                            }
                        }
                    }
                    None => ids.extend(item.parse::<u32>().ok()),
                }
            }
        }
    }
    ids.sort_unstable();
    ids.dedup();
    ids
}

/// A reservation as `scontrol show reservation -o` prints it.
#[derive(Debug, Clone, PartialEq)]
pub struct Reservation {
    pub name: String,
    pub start: NaiveDateTime,
    pub end: NaiveDateTime,
    pub nodes: String,
    pub cores: u32,
    pub users: Vec<String>,
    pub licenses: String,
    pub active: bool,
}

/// The value of `key=` in a line of `key=value` words.
fn field<'a>(line: &'a str, key: &str) -> Option<&'a str> {
    line.split_whitespace()
        .find_map(|w| w.strip_prefix(key).and_then(|v| v.strip_prefix('=')))
}

impl Reservation {
    /// One line of `scontrol show reservation -o`; `None` for anything else. Only root and
    /// Slurm's own account make reservations, so the words are the controller's.
    pub fn parse(line: &str, slurm: &Slurm) -> Option<Self> {
        let name = field(line, "ReservationName")?.to_string();
        let start = slurm.parse_time(field(line, "StartTime")?)?;
        let end = slurm.parse_time(field(line, "EndTime")?)?;
        let list = |v: Option<&str>| -> Vec<String> {
            match v {
                None | Some("(null)") => Vec::new(),
                Some(v) => v.split(',').map(str::to_string).collect(),
            }
        };
        Some(Reservation {
            name,
            start,
            end,
            nodes: field(line, "Nodes").unwrap_or("").to_string(),
            cores: field(line, "CoreCnt")
                .and_then(|c| c.parse().ok())
                .unwrap_or(0),
            users: list(field(line, "Users")),
            licenses: field(line, "Licenses")
                .filter(|l| *l != "(null)")
                .unwrap_or("")
                .to_string(),
            active: field(line, "State") == Some("ACTIVE"),
        })
    }
}

/// A job's state, as far as mirroring cares.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum JobState {
    Pending,
    Running,
    /// Ending (the epilog runs): neither to start nor to cancel.
    Completing,
}

/// A job as our `squeue` format prints it.
#[derive(Debug, Clone, PartialEq)]
pub struct Job {
    pub id: u64,
    pub state: JobState,
    pub user: String,
    pub reservation: String,
    /// Held (`JobHeldUser` after our `sbatch --hold`, or `JobHeldAdmin`): not yet released.
    pub held: bool,
    /// When it started (running), or is expected to.
    pub start: Option<NaiveDateTime>,
    /// Its time limit.
    pub limit: Option<Duration>,
    pub nodes: String,
    pub name: String,
}

impl Job {
    pub fn parse(line: &str, slurm: &Slurm) -> Option<Self> {
        let mut f = line.splitn(9, SEP);
        let id = f.next()?.trim().parse().ok()?;
        let state = match f.next()?.trim() {
            "PENDING" => JobState::Pending,
            "RUNNING" | "CONFIGURING" | "SUSPENDED" => JobState::Running,
            "COMPLETING" => JobState::Completing,
            _ => return None,
        };
        let user = f.next()?.trim().to_string();
        let reservation = f.next()?.trim().to_string();
        let reason = f.next()?.trim();
        let start = slurm.parse_time(f.next()?);
        let limit = parse_limit(f.next()?);
        let nodes = f.next()?.trim().to_string();
        let name = f.next()?.to_string();
        Some(Job {
            id,
            state,
            user,
            reservation: if reservation == "(null)" {
                String::new()
            } else {
                reservation
            },
            // Root's `sbatch --hold` shows as JobHeldUser.
            held: matches!(reason, "JobHeldAdmin" | "JobHeldUser"),
            start,
            limit,
            nodes,
            name,
        })
    }
}

/// A time limit as squeue prints it: `[D-]H:MM:SS`, `M:SS`, `MM`; `None` for `UNLIMITED`.
pub fn parse_limit(text: &str) -> Option<Duration> {
    let text = text.trim();
    let (days, rest) = match text.split_once('-') {
        Some((d, r)) => (d.parse::<i64>().ok()?, r),
        None => (0, text),
    };
    let parts: Vec<i64> = rest
        .split(':')
        .map(|p| p.parse::<i64>().ok())
        .collect::<Option<_>>()?;
    let seconds = match parts.as_slice() {
        [h, m, s] => h * 3600 + m * 60 + s,
        [m, s] => m * 60 + s,
        [m] => m * 60,
        _ => return None,
    };
    Some(Duration::seconds(days * 86_400 + seconds))
}

/// A duration as Slurm's `--time`/`TimeLimit=` take it: `D-HH:MM:SS`, at least a second.
pub fn format_limit(d: Duration) -> String {
    let s = d.num_seconds().max(1);
    format!(
        "{}-{:02}:{:02}:{:02}",
        s / 86_400,
        s % 86_400 / 3600,
        s % 3600 / 60,
        s % 60
    )
}

/// 128 bits from the kernel's random source, as hex: the token of one `squeue` call.
fn token() -> Result<String, Error> {
    let mut bytes = [0u8; 16];
    getrandom::fill(&mut bytes).map_err(|e| Error::Slurm {
        command: "squeue".into(),
        said: format!("no random token for its lines: {e}"),
    })?;
    Ok(bytes.iter().map(|b| format!("{b:02x}")).collect())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn slurm() -> Slurm {
        Slurm::new("UTC", Duration::zero())
    }

    #[test]
    fn a_reservation_line_is_read() {
        let line = "ReservationName=aivc_node0.202611261000 StartTime=2026-11-26T10:00:00 EndTime=2026-11-26T12:00:00 Duration=02:00:00 Nodes=node0 NodeCnt=1 CoreCnt=8 Features=(null) PartitionName=lab Flags=SPEC_NODES TRES=cpu=8 Users=alice,bob Groups=(null) Accounts=(null) Licenses=gpu_node0:4 State=INACTIVE BurstBuffer=(null) Watts=n/a MaxStartDelay=(null)";
        let r = Reservation::parse(line, &slurm()).unwrap();
        assert_eq!(r.name, "aivc_node0.202611261000");
        assert_eq!(r.users, ["alice", "bob"]);
        assert_eq!(
            (r.cores, r.licenses.as_str(), r.active),
            (8, "gpu_node0:4", false)
        );
        assert_eq!(r.end - r.start, Duration::hours(2));
        assert!(Reservation::parse("No reservations in the system", &slurm()).is_none());
    }

    #[test]
    fn a_job_line_is_read_with_its_name_last() {
        let line = [
            "12",
            "PENDING",
            "alice",
            "aivc_node0.x",
            "JobHeldAdmin",
            "2026-11-26T10:00:00",
            "1:00:00",
            "",
            "aivc_node0.202611261000.a\u{1f}b",
        ]
        .join("\u{1f}");
        let j = Job::parse(&line, &slurm()).unwrap();
        assert_eq!((j.id, j.state, j.held), (12, JobState::Pending, true));
        assert_eq!(j.limit, Some(Duration::hours(1)));
        assert_eq!(j.name, "aivc_node0.202611261000.a\u{1f}b");
        assert!(Job::parse("garbage", &slurm()).is_none());
    }

    #[test]
    fn limits_and_bound_gpus_read_in_every_form_slurm_prints() {
        assert_eq!(parse_limit("1-02:00:00"), Some(Duration::hours(26)));
        assert_eq!(parse_limit("30:05"), Some(Duration::seconds(1805)));
        assert_eq!(parse_limit("UNLIMITED"), None);
        assert_eq!(format_limit(Duration::seconds(3723)), "0-01:02:03");
        let text = "   Nodes=node0 CPU_IDs=0-1 Mem=100 GRES=gpu:3(IDX:0,2-3)\n";
        assert_eq!(parse_bound_gpus(text), [0, 2, 3]);
        assert_eq!(parse_bound_gpus("JOB_GRES=gpu:1 GRES=gpu:1(IDX:1)"), [1]);
        assert!(parse_bound_gpus("GRES=").is_empty());
    }

    #[test]
    fn times_cross_with_the_shift() {
        let s = Slurm::new("UTC", Duration::seconds(100));
        let t = NaiveDateTime::parse_from_str("2026-11-26 10:00:00", "%Y-%m-%d %H:%M:%S").unwrap();
        assert_eq!(s.time(t), "2026-11-26T09:58:20");
        assert_eq!(s.parse_time("2026-11-26T09:58:20"), Some(t));
    }
}
