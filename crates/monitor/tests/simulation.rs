//! A simulated lab fortnight: 20 users on a host of 64 cpus, 320 GB and 8 GPUs make, cancel,
//! shorten and extend random bookings through the real `booking` binary (several at once),
//! and the real `monitor` ticks every 30 minutes against the real Docker engine (GPU
//! bookings go to a recording stand-in: this host has no NVIDIA runtime). After every step:
//! no GPU held twice at any instant; cpus and memory within capacity; every booking in
//! exactly one file; the running containers are exactly the `using` rows; the history only
//! grows. Some requests ask to wait (`--wait`, some with `--latest-start`), and some
//! students leave the waitlist again: every entry that joined is waiting in
//! `jobs/waitlist.csv`, was booked exactly once (inside its window, with what it asked
//! for), expired after its latest start, or was left — never two of these. Seeded and
//! reproducible: a failure names the seed and the step.
//!
//! CI runs two simulated days; the whole fortnight: `cargo test -p monitor --test simulation
//! -- --ignored` (AIVC_SIM_SEED picks another seed).

#[path = "../../../tests/support/docker.rs"]
mod docker;

#[path = "../../../tests/support/process.rs"]
mod process;

use std::collections::{BTreeMap, BTreeSet, HashSet};
use std::path::{Path, PathBuf};
use std::process::{Command, Output};

use chrono::{Duration, NaiveDate, NaiveDateTime};
use hostinfo::schedule::{self, format_time, Row};

const USERS: usize = 20;
const CPUS: f64 = 64.0;
const MEMORY: f64 = 320.0;
const GPUS: u32 = 8;
/// The first users share a group whose small total makes them wait often.
const GROUP_MEMBERS: usize = 8;
const GROUP_CPUS: f64 = 6.0;
const GROUP_MEMORY: u64 = 64;
const GROUP_GPUS: u32 = 1;

/// splitmix64: small, seeded, reproducible.
struct Rng(u64);

impl Rng {
    fn next(&mut self) -> u64 {
        self.0 = self.0.wrapping_add(0x9E37_79B9_7F4A_7C15);
        let mut z = self.0;
        z = (z ^ (z >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
        z = (z ^ (z >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
        z ^ (z >> 31)
    }
    fn below(&mut self, n: u64) -> u64 {
        self.next() % n
    }
    fn chance(&mut self, percent: u64) -> bool {
        self.below(100) < percent
    }
}

struct Sim {
    seed: u64,
    root: tempfile::TempDir,
    docker_dir: tempfile::TempDir,
    bin: PathBuf,
    users: Vec<String>,
    /// The root's installation id: its containers, and only those, are the simulation's.
    installation: String,
    /// Every booking that was made and not cancelled, by (user, start).
    live: BTreeSet<(String, NaiveDateTime)>,
    history: String,
    /// The waitlist entries that joined and are not yet booked, expired or left, by number.
    waiting: BTreeMap<u32, Waiting>,
    /// This step's requests that asked to wait, by user (one action per user per step).
    asked: BTreeMap<String, Waiting>,
    /// How far `monitor.log` has been read for the waitlist's events.
    log_read: usize,
    /// Entries that joined, were booked, expired and were left, for the closing note.
    waitlist_counts: [usize; 4],
}

/// A waitlist entry as the simulation asked for it.
#[derive(Debug, Clone, PartialEq)]
struct Waiting {
    user: String,
    cpus: f64,
    memory: u32,
    gpus: u32,
    minutes: i64,
    earliest: NaiveDateTime,
    latest: NaiveDateTime,
}

/// One waitlist event of `monitor.log`: (user, entry number, what happened).
#[derive(Debug)]
enum Event {
    Joined,
    Booked {
        start: NaiveDateTime,
        end: NaiveDateTime,
    },
    Expired,
    Left,
}

/// The waitlist's lines of `monitor.log` (docs/file-formats.md), in the order they were
/// written: under the exclusive lock, so in the order they happened.
fn waitlist_events(text: &str) -> Vec<(String, u32, Event)> {
    let time = |s: &str| NaiveDateTime::parse_from_str(s, "%Y-%m-%d %H:%M").unwrap();
    let number = |s: &str| -> u32 {
        s.trim_start_matches('#')
            .split(|c: char| !c.is_ascii_digit())
            .next()
            .unwrap()
            .parse()
            .unwrap()
    };
    let mut out = Vec::new();
    for line in text.lines() {
        let Some((_, message)) = line.split_once("[INFO] ") else {
            continue;
        };
        if let Some((user, rest)) = message.split_once(" joined the waitlist as ") {
            out.push((user.to_string(), number(rest), Event::Joined));
        } else if let Some((user, rest)) = message.split_once(" left the waitlist: ") {
            out.push((user.to_string(), number(rest), Event::Left));
        } else if let Some((user, rest)) = message.split_once("'s waitlist entry ") {
            let n = number(rest);
            if let Some((_, window)) = rest.split_once(" was booked: ") {
                let (start, rest) = window.split_once(" to ").unwrap();
                out.push((
                    user.to_string(),
                    n,
                    Event::Booked {
                        start: time(start),
                        end: time(&rest[..16]),
                    },
                ));
            } else if rest.contains(" expired: ") {
                out.push((user.to_string(), n, Event::Expired));
            }
        }
    }
    out
}

fn bin_dir() -> PathBuf {
    let dir = Path::new(env!("CARGO_BIN_EXE_monitor"))
        .parent()
        .unwrap()
        .to_path_buf();
    if !dir.join("booking").exists() || !dir.join("run-container").exists() {
        let cargo = std::env::var("CARGO").unwrap_or_else(|_| "cargo".into());
        assert!(Command::new(cargo)
            .args(["build", "--bins"])
            .status()
            .unwrap()
            .success());
    }
    dir
}

impl Sim {
    fn new(seed: u64) -> Self {
        let root = tempfile::tempdir().unwrap();
        let p = root.path();
        for d in [
            "cfg/templates",
            "jobs",
            "vol/work",
            "vol/backup",
            "vol/dataset",
        ] {
            std::fs::create_dir_all(p.join(d)).unwrap();
        }
        std::fs::write(
            p.join("cfg/host_deploy.yaml"),
            format!(
                "volume_work_dir: ./vol/work\nvolume_dataset_dir: ./vol/dataset\nvolume_backup_dir: ./vol/backup\nusers_config_yaml: ./cfg/users_config.yaml\ncapability_config_yaml: ./cfg/capability_config.yaml\nimages:\n  - {}\ntimezone: UTC\n",
                docker::IMAGE
            ),
        )
        .unwrap();
        let tag = std::process::id() % 100_000;
        let users: Vec<String> = (0..USERS).map(|i| format!("sim{tag}u{i:02}")).collect();
        let allow: String = users.iter().map(|u| format!("  - {u}\n")).collect();
        std::fs::write(
            p.join("cfg/capability_config.yaml"),
            format!("max:\n  cpus: {CPUS}\n  ram: 256\n  swap_size: 64\n  gpus: {GPUS}\n  backup_space: 100\n  work_space: 100\nallow_userIDs:\n{allow}max_default_capability:\n  cpus: 8\n  memory: 64\n  gpus: 2\n  backup_space: 10\n  work_space: 10\ngroups:\n  small:\n    members: [{}]\n    total: {{cpus: {GROUP_CPUS}, memory: {GROUP_MEMORY}, gpus: {GROUP_GPUS}}}\n", users[..GROUP_MEMBERS].join(", ")),
        )
        .unwrap();
        let mut entries = String::new();
        for (i, u) in users.iter().enumerate() {
            entries.push_str(&format!(
                "{u}:\n  password: pw-{u}\n  forward_port: {}\n  image: null\n  extra_command: null\n  volume_work_dir: ./vol/work/{u}\n  volume_dataset_dir: ./vol/dataset\n  volume_backup_dir: ./vol/backup/{u}\n",
                10900 + i
            ));
        }
        std::fs::write(p.join("cfg/users_config.yaml"), entries).unwrap();
        std::fs::write(p.join("cfg/templates/backup.yaml"), "Dir: []\nFile: []\n").unwrap();
        for t in ["booking", "using", "used"] {
            std::fs::write(p.join(format!("jobs/{t}.csv")), schedule::HEADER_LINE).unwrap();
        }
        std::fs::write(p.join("jobs/monitor_exec"), "").unwrap();
        let installation = hostinfo::Root::at(p).installation_id().unwrap();
        let docker_dir = tempfile::tempdir().unwrap();
        std::fs::create_dir(docker_dir.path().join("state")).unwrap();
        Sim {
            seed,
            root,
            docker_dir,
            bin: bin_dir(),
            users,
            installation,
            live: BTreeSet::new(),
            history: schedule::HEADER_LINE.to_string(),
            waiting: BTreeMap::new(),
            asked: BTreeMap::new(),
            log_read: 0,
            waitlist_counts: [0; 4],
        }
    }

    fn fail(&self, step: usize, what: String) -> ! {
        panic!(
            "simulation failed (seed {}, step {step}; rerun with AIVC_SIM_SEED={}): {what}",
            self.seed, self.seed
        );
    }

    fn rows(&self, table: &str) -> Vec<Row> {
        let path = self.root.path().join(format!("jobs/{table}.csv"));
        schedule::read(&path).unwrap().rows
    }

    fn booking(
        &self,
        now: NaiveDateTime,
        args: &[String],
        stdin: String,
    ) -> std::thread::JoinHandle<Output> {
        let mut cmd = Command::new(self.bin.join("booking"));
        cmd.arg("--root")
            .arg(self.root.path())
            .args(args)
            .env("AIVC_NOW", format_time(now))
            .env_remove("AIVC_ROOT");
        std::thread::spawn(move || process::run_with_input(cmd, stdin.as_bytes()))
    }

    fn tick(&self, now: NaiveDateTime) -> Output {
        let fixtures = Path::new(env!("CARGO_MANIFEST_DIR")).join("../../tests/fixtures/bin");
        Command::new(self.bin.join("monitor"))
            .arg("--root")
            .arg(self.root.path())
            .env("AIVC_NOW", format_time(now))
            .env("AIVC_DOCKER", fixtures.join("sim-docker"))
            .env("AIVC_RUN_CONTAINER", self.bin.join("run-container"))
            .env(
                "AIVC_FAKE_DOCKER_STATE",
                self.docker_dir.path().join("state"),
            )
            .env(
                "AIVC_FAKE_DOCKER_LOG",
                self.docker_dir.path().join("docker.log"),
            )
            .env("AIVC_NO_NVML", "1")
            .env_remove("AIVC_ROOT")
            .output()
            .unwrap()
    }

    /// (user, start) of every container of this simulation that runs: real and stand-in.
    fn containers(&self) -> BTreeSet<(String, String)> {
        let mut found = BTreeSet::new();
        let out = Command::new("docker")
            .args([
                "ps",
                "--filter",
                &format!("label=aivc.installation={}", self.installation),
                "--format",
                "{{.Label \"aivc.user\"}}\t{{.Label \"aivc.start\"}}\t{{.State}}",
            ])
            .output()
            .unwrap();
        let fake: String = std::fs::read_dir(self.docker_dir.path().join("state"))
            .unwrap()
            .map(|e| std::fs::read_to_string(e.unwrap().path()).unwrap())
            .map(|l| {
                let f: Vec<&str> = l.trim_end().split('\t').collect();
                // The fake's state line: id name state user installation start ...
                format!("{}\t{}\t{}\n", f[3], f[5], f[2])
            })
            .collect();
        for line in String::from_utf8_lossy(&out.stdout)
            .lines()
            .chain(fake.lines())
        {
            let f: Vec<&str> = line.split('\t').collect();
            if f.len() == 3 && self.users.iter().any(|u| u == f[0]) && f[2] == "running" {
                found.insert((f[0].to_string(), f[1].to_string()));
            }
        }
        found
    }

    /// One step's random actions, run at once.
    fn act(&mut self, rng: &mut Rng, now: NaiveDateTime, step: usize) {
        let mut jobs = Vec::new();
        let booking = self.rows("booking");
        let using = self.rows("using");
        let mut busy: HashSet<String> = HashSet::new();
        for _ in 0..rng.below(4) {
            let u = self.users[rng.below(USERS as u64) as usize].clone();
            if !busy.insert(u.clone()) {
                continue; // one action per user per step keeps the model exact
            }
            let pw = format!("pw-{u}\n");
            let mine: Vec<&Row> = using
                .iter()
                .chain(&booking)
                .filter(|r| r.user_id == u && r.end > now)
                .collect();
            let roll = rng.below(100);
            let base = vec![
                "--yes".to_string(),
                "--password-stdin".into(),
                "--user-id".into(),
                u.clone(),
            ];
            let t = |x: NaiveDateTime| x.format("%Y-%m-%d %H:%M").to_string();
            let entries: Vec<u32> = self
                .waiting
                .iter()
                .filter(|(_, w)| w.user == u)
                .map(|(n, _)| *n)
                .collect();
            let args: Vec<String> = if roll >= 95 && !entries.is_empty() {
                let n = entries[rng.below(entries.len() as u64) as usize];
                [
                    base,
                    vec!["--waitlist".into(), "--cancel-entry".into(), n.to_string()],
                ]
                .concat()
            } else if roll < 55 || mine.is_empty() {
                let gpus = if rng.chance(30) { 1 + rng.below(2) } else { 0 };
                // The real engine refuses more cpus than this machine has; the stand-in does not care.
                let cpus = if gpus > 0 {
                    1 + rng.below(8)
                } else {
                    1 + rng.below(2)
                };
                let memory = 1 + rng.below(64);
                let (start, start_at) = if rng.chance(25) {
                    ("now".to_string(), now)
                } else if rng.chance(35) {
                    // Everyone wants tomorrow morning: the requests that collide and wait.
                    let at = (now.date() + Duration::days(1))
                        .and_hms_opt(10, 0, 0)
                        .unwrap();
                    (t(at), at)
                } else {
                    let at = now + Duration::minutes(30 * (1 + rng.below(96) as i64));
                    (t(at), at)
                };
                let slots = 1 + rng.below(24) as i64;
                let end = t(start_at + Duration::minutes(30 * slots));
                let mut wait = Vec::new();
                if rng.chance(60) {
                    // A window of up to four hours more, or the exact start.
                    let latest = start_at + Duration::minutes(30 * rng.below(9) as i64);
                    wait.push("--wait".to_string());
                    if latest > start_at {
                        wait.extend(["--latest-start".to_string(), t(latest)]);
                    }
                    self.asked.insert(
                        u.clone(),
                        Waiting {
                            user: u.clone(),
                            cpus: cpus as f64,
                            memory: memory as u32,
                            gpus: gpus as u32,
                            minutes: 30 * slots,
                            earliest: start_at,
                            latest,
                        },
                    );
                }
                [
                    base,
                    vec![
                        "--cpus".into(),
                        cpus.to_string(),
                        "--memory".into(),
                        memory.to_string(),
                        "--gpus".into(),
                        gpus.to_string(),
                        "--start".into(),
                        start,
                        "--end".into(),
                        end,
                    ],
                    wait,
                ]
                .concat()
            } else {
                let r = mine[rng.below(mine.len() as u64) as usize];
                let which = t(r.start);
                if roll < 70 && r.start > now {
                    [base, vec!["--cancel".into(), which]].concat()
                } else if roll < 85 {
                    // Shorten to a slot still in the future.
                    let first = (r.start.max(now) - r.start).num_minutes() / 30 + 1;
                    let slots = (r.end - r.start).num_minutes() / 30;
                    if first >= slots {
                        continue;
                    }
                    let new_end = r.start
                        + Duration::minutes(
                            30 * (first + rng.below((slots - first) as u64) as i64),
                        );
                    [
                        base,
                        vec!["--end-at".into(), t(new_end), "--which".into(), which],
                    ]
                    .concat()
                } else {
                    let new_end = r.end + Duration::minutes(30 * (1 + rng.below(12) as i64));
                    if new_end > r.start + Duration::days(14) {
                        continue;
                    }
                    [
                        base,
                        vec!["--end-at".into(), t(new_end), "--which".into(), which],
                    ]
                    .concat()
                }
            };
            jobs.push((args.clone(), self.booking(now, &args, pw)));
        }
        for (args, job) in jobs {
            let out = job.join().unwrap();
            let code = out.status.code();
            if code != Some(0) && code != Some(1) {
                self.fail(
                    step,
                    format!(
                        "booking {args:?} exited {code:?}: {}",
                        String::from_utf8_lossy(&out.stderr)
                    ),
                );
            }
            if code == Some(0) {
                let user = args[3].clone();
                let said = String::from_utf8_lossy(&out.stderr);
                if args.contains(&"--wait".to_string()) && out.stdout.is_empty() {
                    if !said.contains("joined the waitlist as #") {
                        self.fail(step, format!("booking {args:?} booked nothing: {said}"));
                    }
                } else if args.contains(&"--cpus".to_string()) {
                    let line = String::from_utf8_lossy(&out.stdout).to_string();
                    let start =
                        hostinfo::schedule::parse_time(line.split(',').next().unwrap()).unwrap();
                    self.live.insert((user, start));
                } else if let Some(i) = args.iter().position(|a| a == "--cancel") {
                    let start =
                        hostinfo::schedule::parse_time(&format!("{}:00", args[i + 1])).unwrap();
                    self.live.remove(&(user, start));
                }
            }
        }
    }

    /// Follows the waitlist's events of this step in `monitor.log`: joins become waiting
    /// entries, a booked entry's booking joins the model. Each entry is booked, expires or
    /// is left at most once, and only while it waits.
    fn follow_waitlist(&mut self, now: NaiveDateTime, step: usize) {
        // No log yet is nothing logged yet.
        let log =
            std::fs::read_to_string(self.root.path().join("jobs/monitor.log")).unwrap_or_default();
        let events = waitlist_events(&log[self.log_read..]);
        self.log_read = log.len();
        let asked = std::mem::take(&mut self.asked);
        let now_slot = hostinfo::clock::floor_slot(now);
        for (user, n, event) in events {
            if let Event::Joined = event {
                let Some(w) = asked.get(&user) else {
                    self.fail(
                        step,
                        format!("{user} joined as #{n} without asking to wait"),
                    );
                };
                if let Some(other) = self.waiting.insert(n, w.clone()) {
                    self.fail(step, format!("#{n} joined while {other:?} still waits"));
                }
                self.waitlist_counts[0] += 1;
                continue;
            }
            let Some(w) = self.waiting.remove(&n).filter(|w| w.user == user) else {
                self.fail(
                    step,
                    format!("{user}'s #{n}: {event:?}, but no such entry waits (booked or ended twice?)"),
                );
            };
            match event {
                Event::Booked { start, end } => {
                    let row = self
                        .rows("booking")
                        .into_iter()
                        .chain(self.rows("using"))
                        .find(|r| r.user_id == user && r.start == start);
                    let fits = row.as_ref().is_some_and(|r| {
                        r.end == end
                            && (r.cpus - w.cpus).abs() < 1e-9
                            && r.memory == w.memory
                            && r.gpus.len() as u32 == w.gpus
                    });
                    if !fits
                        || start < w.earliest.max(now_slot)
                        || start > w.latest
                        || end - start != Duration::minutes(w.minutes)
                    {
                        self.fail(
                            step,
                            format!("#{n} {w:?} was booked as {row:?} ({start} to {end})"),
                        );
                    }
                    if !self.live.insert((user, start)) {
                        self.fail(step, format!("#{n}'s booking at {start} was made twice"));
                    }
                    self.waitlist_counts[1] += 1;
                }
                Event::Expired if w.latest >= now_slot => {
                    self.fail(step, format!("#{n} {w:?} expired before its latest start"));
                }
                Event::Expired => self.waitlist_counts[2] += 1,
                Event::Left => self.waitlist_counts[3] += 1,
                Event::Joined => unreachable!(),
            }
        }
        // The file holds exactly the entries that wait, none past its latest start (the
        // tick just served it).
        let path = self.root.path().join("jobs/waitlist.csv");
        let entries = match std::fs::read_to_string(&path) {
            Ok(text) => hostinfo::waitlist::parse(&path, &text).unwrap(),
            Err(_) => Vec::new(),
        };
        let in_file: BTreeMap<u32, String> =
            entries.iter().map(|e| (e.id, e.user_id.clone())).collect();
        let model: BTreeMap<u32, String> = self
            .waiting
            .iter()
            .map(|(n, w)| (*n, w.user.clone()))
            .collect();
        if in_file != model {
            self.fail(
                step,
                format!("waitlist.csv holds {in_file:?}, but {model:?} wait"),
            );
        }
        for e in &entries {
            let w = &self.waiting[&e.id];
            if e.latest_start < now_slot
                || (e.earliest_start, e.latest_start, e.gpus, e.memory)
                    != (w.earliest, w.latest, w.gpus, w.memory)
            {
                self.fail(
                    step,
                    format!(
                        "entry {e:?} is not what was asked ({w:?}) or is past its latest start"
                    ),
                );
            }
        }
    }

    fn check(&mut self, now: NaiveDateTime, step: usize) {
        self.follow_waitlist(now, step);
        let (booking, using, used) = (self.rows("booking"), self.rows("using"), self.rows("used"));
        // Every booking in exactly one file, and nothing else there.
        let mut seen: BTreeMap<(String, NaiveDateTime), usize> = BTreeMap::new();
        for r in booking.iter().chain(&using).chain(&used) {
            *seen.entry((r.user_id.clone(), r.start)).or_default() += 1;
        }
        for (k, n) in &seen {
            if *n != 1 {
                self.fail(step, format!("{k:?} is in {n} places"));
            }
            if !self.live.contains(k) {
                self.fail(
                    step,
                    format!("{k:?} is in the files but was never booked (or was cancelled)"),
                );
            }
        }
        for k in &self.live {
            if !seen.contains_key(k) {
                self.fail(step, format!("{k:?} was booked and is in no file"));
            }
        }
        // Capacity at every instant, and no GPU held twice.
        let current: Vec<&Row> = booking.iter().chain(&using).collect();
        let t = checker::timeline::Timeline::build(current.iter().copied());
        for i in 0..t.points.len() {
            if t.cpus[i] > CPUS + 1e-9 || t.memory[i] as f64 > MEMORY {
                self.fail(
                    step,
                    format!(
                        "over capacity at {}: {} cpus, {} GB",
                        t.points[i], t.cpus[i], t.memory[i]
                    ),
                );
            }
        }
        let members: Vec<&Row> = current
            .iter()
            .copied()
            .filter(|r| self.users[..GROUP_MEMBERS].contains(&r.user_id))
            .collect();
        let t = checker::timeline::Timeline::build(members);
        for i in 0..t.points.len() {
            if t.cpus[i] > GROUP_CPUS + 1e-9 || t.memory[i] > GROUP_MEMORY || t.gpus[i] > GROUP_GPUS
            {
                self.fail(
                    step,
                    format!(
                        "group small over its total at {}: {} cpus, {} GB, {} GPUs",
                        t.points[i], t.cpus[i], t.memory[i], t.gpus[i]
                    ),
                );
            }
        }
        for g in 0..GPUS {
            let mut held: Vec<&&Row> = current.iter().filter(|r| r.gpus.contains(g)).collect();
            held.sort_by_key(|r| r.start);
            for w in held.windows(2) {
                if w[0].end > w[1].start {
                    self.fail(
                        step,
                        format!(
                            "GPU {g} held by {} and {} at once",
                            w[0].user_id, w[1].user_id
                        ),
                    );
                }
            }
        }
        // The running containers are exactly the using rows.
        let running: BTreeSet<(String, String)> = using
            .iter()
            .filter(|r| r.start <= now && now < r.end)
            .map(|r| (r.user_id.clone(), format_time(r.start)))
            .collect();
        if using.iter().any(|r| r.end <= now) {
            self.fail(
                step,
                "an ended booking is still in using.csv after the tick".into(),
            );
        }
        let containers = self.containers();
        if containers != running {
            self.fail(
                step,
                format!("containers {containers:?} but using rows {running:?}"),
            );
        }
        // The history only grows.
        let text = std::fs::read_to_string(self.root.path().join("jobs/used.csv")).unwrap();
        if !text.starts_with(&self.history) {
            self.fail(step, "used.csv changed".into());
        }
        self.history = text;
    }

    /// Removes what the simulation's ticks started on the real engine: the containers
    /// labelled with its installation id, which no one else's carry.
    fn cleanup(&self) {
        drop(docker::InstallationCleanup(self.installation.clone()));
    }
}

fn simulate(steps: usize) {
    docker::standin_image();
    let seed = std::env::var("AIVC_SIM_SEED")
        .ok()
        .and_then(|s| s.parse().ok())
        .unwrap_or(20_261_121);
    let mut sim = Sim::new(seed);
    let mut rng = Rng(seed);
    let start = NaiveDate::from_ymd_opt(2026, 11, 23)
        .unwrap()
        .and_hms_opt(8, 0, 0)
        .unwrap();
    let result = std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| {
        for step in 0..steps {
            let now = start + Duration::minutes(30 * step as i64);
            sim.act(&mut rng, now, step);
            let out = sim.tick(now);
            if !out.status.success() {
                sim.fail(
                    step,
                    format!("monitor failed: {}", String::from_utf8_lossy(&out.stderr)),
                );
            }
            sim.check(now, step);
        }
        #[allow(clippy::print_stderr)]
        {
            let used = sim.rows("used").len();
            let [joined, booked, expired, left] = sim.waitlist_counts;
            eprintln!(
                "NOTE: seed {seed}: {steps} steps, {} bookings made, {used} finished; waitlist: {joined} joined, {booked} booked, {expired} expired, {left} left",
                sim.live.len()
            );
        }
    }));
    sim.cleanup();
    if let Err(e) = result {
        std::panic::resume_unwind(e);
    }
}

#[test]
fn two_simulated_days_keep_every_invariant() {
    simulate(96);
}

#[test]
#[ignore = "the whole fortnight takes several minutes; run it locally with --ignored"]
fn a_simulated_fortnight_keeps_every_invariant() {
    simulate(14 * 48);
}
