//! A throwaway two-node Slurm 22.05 cluster on loopback for the crates' tests (included with
//! `#[path]`): scripts/slurm-lab/up.sh into a fresh temp dir, down.sh when dropped.
//!
//! Needs root and Debian's `slurmctld slurmd slurm-client munge` (scripts/test.sh installs
//! them). A test that asks for a lab where they are missing panics loudly: CI runs these tests,
//! and a silent skip would hide that cluster mode went untested.
#![allow(dead_code)]

use std::path::{Path, PathBuf};
use std::process::{Command, Output, Stdio};
use std::time::{Duration, Instant};

/// What the lab's slurm.conf gets beyond up.sh's defaults.
#[derive(Debug, Clone)]
pub struct LabOptions {
    /// Extra slurm.conf lines (e.g. `Prolog=...`), placed before the node lines.
    pub extra_conf: String,
    /// A ready job_submit.lua to install next to slurm.conf (`JobSubmitPlugins=lua`).
    pub job_submit_lua: Option<PathBuf>,
    /// CPUs each node declares.
    pub cpus: u32,
}

impl Default for LabOptions {
    fn default() -> Self {
        LabOptions {
            extra_conf: String::new(),
            job_submit_lua: None,
            cpus: 8,
        }
    }
}

/// One running lab; dropping it runs down.sh, which stops only what this lab started.
pub struct SlurmLab {
    dir: PathBuf,
    conf: PathBuf,
}

/// The repository's scripts/slurm-lab folder.
pub fn lab_scripts() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("../../scripts/slurm-lab")
}

/// Panics with a clear message unless this process is root and Slurm's daemons, client and
/// munge are installed.
pub fn require_slurm() {
    let euid = Command::new("id")
        .arg("-u")
        .output()
        .map(|o| String::from_utf8_lossy(&o.stdout).trim().to_string())
        .unwrap_or_default();
    assert_eq!(
        euid, "0",
        "the Slurm lab tests need root (they start munged, slurmctld and slurmd); run them as root \
         (scripts/test.sh does in CI)"
    );
    let missing: Vec<&str> = [
        "slurmctld",
        "slurmd",
        "sbatch",
        "scontrol",
        "squeue",
        "munged",
    ]
    .into_iter()
    .filter(|p| !on_path(p))
    .collect();
    assert!(
        missing.is_empty(),
        "\n\n*** the Slurm lab tests need Debian's Slurm 22.05 and munge, and {} cannot be found.\n\
         *** install them: apt-get install -y --no-install-recommends slurmctld slurmd slurm-client munge\n\
         *** (scripts/test.sh does this on a fresh machine)\n",
        missing.join(", ")
    );
}

fn on_path(program: &str) -> bool {
    let path = std::env::var_os("PATH").unwrap_or_default();
    std::env::split_paths(&path)
        .chain(["/usr/sbin".into(), "/sbin".into()])
        .any(|d| d.join(program).is_file())
}

impl SlurmLab {
    /// Starts a lab (both nodes idle, ~1 s) in a fresh temp dir, or panics with up.sh's output.
    pub fn start(options: LabOptions) -> SlurmLab {
        require_slurm();
        let dir = tempfile::Builder::new()
            .prefix("slurmlab.")
            .tempdir()
            .unwrap()
            .keep();
        let mut up = Command::new("bash");
        up.arg(lab_scripts().join("up.sh"))
            .arg(&dir)
            .env("CPUS", options.cpus.to_string())
            // Each lab its own fake GPU devices: a lab's down.sh removes the ones it made, which
            // must not pull them from under another lab running beside it.
            .env("FAKEGPU_DIR", dir.join("dev"))
            .env("EXTRA_CONF", &options.extra_conf)
            .env_remove("SLURM_CONF")
            .stdin(Stdio::null());
        match &options.job_submit_lua {
            Some(lua) => up.env("JOB_SUBMIT_LUA", lua),
            None => up.env_remove("JOB_SUBMIT_LUA"),
        };
        let out = with_timeout(Duration::from_secs(60), &mut up);
        let lab = SlurmLab {
            conf: dir.join("etc/slurm.conf"),
            dir,
        };
        if !out.status.success() {
            let logs = lab.logs();
            // `lab` drops here and runs down.sh on whatever did start.
            panic!(
                "scripts/slurm-lab/up.sh failed ({}):\n{}{}\n{logs}",
                out.status,
                String::from_utf8_lossy(&out.stdout),
                String::from_utf8_lossy(&out.stderr)
            );
        }
        lab
    }

    /// The lab's folder (etc/, log/, state/ ...).
    pub fn dir(&self) -> &Path {
        &self.dir
    }

    /// The lab's slurm.conf: what SLURM_CONF must name for its client commands.
    pub fn conf(&self) -> &Path {
        &self.conf
    }

    /// `program` (a Slurm client command) with SLURM_CONF naming this lab.
    pub fn cmd(&self, program: &str) -> Command {
        let mut c = Command::new(program);
        c.env("SLURM_CONF", &self.conf).stdin(Stdio::null());
        c
    }

    /// Runs `program args` against this lab (30 s at most) and returns what it did.
    pub fn try_run(&self, program: &str, args: &[&str]) -> Output {
        let mut c = self.cmd(program);
        c.args(args);
        with_timeout(Duration::from_secs(30), &mut c)
    }

    /// Runs `program args` against this lab and returns its stdout; panics when it fails.
    pub fn run(&self, program: &str, args: &[&str]) -> String {
        let out = self.try_run(program, args);
        assert!(
            out.status.success(),
            "{program} {args:?} failed ({}): {}{}",
            out.status,
            String::from_utf8_lossy(&out.stdout),
            String::from_utf8_lossy(&out.stderr)
        );
        String::from_utf8_lossy(&out.stdout).into_owned()
    }

    pub fn scontrol(&self, args: &[&str]) -> String {
        self.run("scontrol", args)
    }

    pub fn squeue(&self, args: &[&str]) -> String {
        self.run("squeue", args)
    }

    /// Submits with `sbatch --parsable args` and returns the job id; panics when refused.
    pub fn sbatch(&self, args: &[&str]) -> u32 {
        let out = self.try_sbatch(args);
        assert!(
            out.status.success(),
            "sbatch {args:?} was refused ({}): {}",
            out.status,
            String::from_utf8_lossy(&out.stderr)
        );
        parse_job_id(&String::from_utf8_lossy(&out.stdout))
            .unwrap_or_else(|| panic!("sbatch printed no job id: {out:?}"))
    }

    /// `sbatch --parsable args`, whatever its outcome.
    pub fn try_sbatch(&self, args: &[&str]) -> Output {
        let mut all = vec!["--parsable"];
        all.extend_from_slice(args);
        self.try_run("sbatch", &all)
    }

    /// `sbatch --parsable args` run as the Unix user `user` (through runuser), whatever its
    /// outcome: how a student submits.
    pub fn sbatch_as(&self, user: &str, args: &[&str]) -> Output {
        let mut c = Command::new("runuser");
        c.args(["-u", user, "--", "sbatch", "--parsable"])
            .args(args)
            .env("SLURM_CONF", &self.conf)
            .current_dir("/tmp")
            .stdin(Stdio::null());
        with_timeout(Duration::from_secs(30), &mut c)
    }

    /// The job's state (`PENDING`, `RUNNING`, `COMPLETED`, ...), or `None` once Slurm has
    /// forgotten it (MinJobAge=5 in the lab).
    pub fn job_state(&self, job: u32) -> Option<String> {
        let out = self.try_run("scontrol", &["-o", "show", "job", &job.to_string()]);
        if !out.status.success() {
            return None;
        }
        field(&String::from_utf8_lossy(&out.stdout), "JobState")
    }

    /// `scontrol -o show job -d JOB`, one line, or `None` once Slurm has forgotten it.
    pub fn show_job(&self, job: u32) -> Option<String> {
        let out = self.try_run("scontrol", &["-o", "show", "job", "-d", &job.to_string()]);
        out.status
            .success()
            .then(|| String::from_utf8_lossy(&out.stdout).into_owned())
    }

    /// True once the job is gone or in a final state (and so its epilog has run: a job stays
    /// COMPLETING until its epilog ends).
    pub fn job_finished(&self, job: u32) -> bool {
        match self.job_state(job).as_deref() {
            None => true,
            Some(s) => !matches!(
                s,
                "PENDING" | "RUNNING" | "CONFIGURING" | "COMPLETING" | "SUSPENDED" | "REQUEUED"
            ),
        }
    }

    /// The node's state as `sinfo` prints it (`idle`, `alloc`, `drain`, ...).
    pub fn node_state(&self, node: &str) -> String {
        self.run("sinfo", &["-h", "-N", "-n", node, "-o", "%T"])
            .lines()
            .next()
            .unwrap_or_default()
            .to_string()
    }

    /// A log file of the lab (`slurmctld.log`, `slurmd-node0.log`, `munged.log`).
    pub fn log(&self, name: &str) -> String {
        std::fs::read_to_string(self.dir.join("log").join(name)).unwrap_or_default()
    }

    /// Every log of the lab, for a failing test's message.
    pub fn logs(&self) -> String {
        let mut s = String::new();
        if let Ok(entries) = std::fs::read_dir(self.dir.join("log")) {
            for e in entries.flatten() {
                let text = std::fs::read_to_string(e.path()).unwrap_or_default();
                let tail: Vec<&str> = text.lines().rev().take(40).collect();
                s.push_str(&format!("--- {} (last lines)\n", e.path().display()));
                for l in tail.into_iter().rev() {
                    s.push_str(l);
                    s.push('\n');
                }
            }
        }
        s
    }
}

impl Drop for SlurmLab {
    fn drop(&mut self) {
        if !self.dir.join("etc/slurm.conf").exists() && !self.dir.join("run").exists() {
            let _ = std::fs::remove_dir_all(&self.dir);
            return;
        }
        let mut down = Command::new("bash");
        down.arg(lab_scripts().join("down.sh"))
            .arg(&self.dir)
            .stdin(Stdio::null());
        let _ = with_timeout(Duration::from_secs(60), &mut down);
    }
}

/// The value of `Key=` in one `scontrol -o` line.
pub fn field(line: &str, key: &str) -> Option<String> {
    let prefix = format!("{key}=");
    line.split_whitespace()
        .find_map(|w| w.strip_prefix(&prefix))
        .map(String::from)
}

/// The job id in `sbatch --parsable`'s output (`ID` or `ID;CLUSTER`).
pub fn parse_job_id(stdout: &str) -> Option<u32> {
    stdout.trim().split(';').next()?.trim().parse().ok()
}

/// Polls `check` every 100 ms until it holds or `timeout` passes; true when it held.
pub fn wait_until(timeout: Duration, mut check: impl FnMut() -> bool) -> bool {
    let end = Instant::now() + timeout;
    loop {
        if check() {
            return true;
        }
        if Instant::now() >= end {
            return false;
        }
        std::thread::sleep(Duration::from_millis(100));
    }
}

/// The uid and gid of the Unix user `name`, made first (`useradd -M -U`, no home, no login
/// shell) when missing. Use the fixed test names `aivcs1`..`aivcs4`.
pub fn ensure_unix_user(name: &str) -> (u32, u32) {
    static LOCK: std::sync::Mutex<()> = std::sync::Mutex::new(());
    let _held = LOCK.lock().unwrap_or_else(|e| e.into_inner());
    for attempt in 0..50 {
        if let Some(ids) = unix_ids(name) {
            return ids;
        }
        // Another test process may hold /etc/passwd's lock: try again shortly.
        let out = Command::new("useradd")
            .args(["-M", "-U", "-s", "/usr/sbin/nologin", name])
            .output()
            .expect("useradd (Debian's passwd package) is needed to make the test users");
        if !out.status.success() && attempt == 49 {
            panic!(
                "useradd {name} failed: {}",
                String::from_utf8_lossy(&out.stderr)
            );
        }
        if !out.status.success() {
            std::thread::sleep(Duration::from_millis(100));
        }
    }
    unix_ids(name).unwrap_or_else(|| panic!("cannot make the test user {name}"))
}

fn unix_ids(name: &str) -> Option<(u32, u32)> {
    let id = |flag: &str| -> Option<u32> {
        let out = Command::new("id").args([flag, name]).output().ok()?;
        if !out.status.success() {
            return None;
        }
        String::from_utf8_lossy(&out.stdout).trim().parse().ok()
    };
    Some((id("-u")?, id("-g")?))
}

/// Runs `cmd` to its end, killed after `timeout` (then its status says so). Output goes
/// through files, not pipes: up.sh starts daemons that would hold a pipe open for ever.
fn with_timeout(timeout: Duration, cmd: &mut Command) -> Output {
    let out = tempfile::tempfile().unwrap();
    let err = tempfile::tempfile().unwrap();
    let mut child = cmd
        .stdout(out.try_clone().unwrap())
        .stderr(err.try_clone().unwrap())
        .spawn()
        .unwrap_or_else(|e| panic!("cannot run {:?}: {e}", cmd.get_program()));
    let end = Instant::now() + timeout;
    let status = loop {
        if let Some(s) = child.try_wait().unwrap() {
            break s;
        }
        if Instant::now() >= end {
            let _ = child.kill();
            break child.wait().unwrap();
        }
        std::thread::sleep(Duration::from_millis(20));
    };
    let read = |mut f: std::fs::File| {
        use std::io::{Read, Seek};
        let mut b = Vec::new();
        let _ = f.seek(std::io::SeekFrom::Start(0));
        let _ = f.read_to_end(&mut b);
        b
    };
    Output {
        status,
        stdout: read(out),
        stderr: read(err),
    }
}

impl SlurmLab {
    /// A job `user` submits (`sbatch_as` with `args` and a 10-minute sleep), once it runs.
    pub fn running_job_of(&self, user: &str, args: &[&str]) -> u32 {
        let mut all = args.to_vec();
        all.extend_from_slice(&["--output=/dev/null", "--wrap=sleep 600"]);
        let out = self.sbatch_as(user, &all);
        assert!(out.status.success(), "{user}'s sbatch {args:?}: {out:?}");
        let job = parse_job_id(&String::from_utf8_lossy(&out.stdout)).unwrap();
        assert!(
            wait_until(Duration::from_secs(15), || self.job_state(job).as_deref()
                == Some("RUNNING")),
            "{user}'s job {job} never ran: {:?}",
            self.show_job(job)
        );
        job
    }
}

/// A `docker` standing in for one with NVIDIA's runtime, which the test machines lack: each
/// `--gpus VALUE` becomes the label `aivc.test.gpus=VALUE`, and everything else runs on the
/// real engine, so a container runs and shows which GPU ids it was given.
pub fn gpu_shim(dir: &Path) -> PathBuf {
    use std::os::unix::fs::PermissionsExt;
    let path = dir.join("docker");
    std::fs::write(
        &path,
        "#!/bin/bash\nargs=()\nwhile [ $# -gt 0 ]; do\n  if [ \"$1\" = --gpus ]; then args+=(--label \"aivc.test.gpus=$2\"); shift 2; continue; fi\n  args+=(\"$1\"); shift\ndone\nexec docker \"${args[@]}\"\n",
    )
    .unwrap();
    std::fs::set_permissions(&path, std::fs::Permissions::from_mode(0o755)).unwrap();
    path
}

/// How a test stands `lead` seconds before a slot boundary while Slurm keeps real time:
/// given the zone's wall time `now`, the clock shift (`AIVC_CLOCK_SHIFT_SECONDS`) that puts
/// the schedule's clock there, the boundary as a schedule time, and when it comes on this
/// machine's clock.
pub fn before_boundary(
    now: chrono::NaiveDateTime,
    lead: i64,
) -> (i64, chrono::NaiveDateTime, Instant) {
    use chrono::Timelike;
    let floor = now
        .with_second(0)
        .and_then(|t| t.with_nanosecond(0))
        .and_then(|t| t.with_minute(now.minute() - now.minute() % 30))
        .unwrap();
    let boundary = floor + chrono::Duration::minutes(30);
    let ahead = boundary - now;
    let shift = ahead.num_seconds() - lead;
    let when = Instant::now()
        + Duration::from_millis((ahead.num_milliseconds() - shift * 1000).max(0) as u64);
    (shift, boundary, when)
}
