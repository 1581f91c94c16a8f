//! The node side of cluster mode through a real Slurm 22.05 lab (scripts/slurm-lab): slurmd
//! runs `run-container slurm-prolog` / `slurm-epilog` as its root Prolog and Epilog for every
//! job, and only the jobs the monitor recorded for a booking on that node start or close a
//! container. One test runs the session's container on the real Docker engine.

mod common;

#[path = "../../../tests/support/slurm.rs"]
mod slurm;

use std::path::Path;
use std::time::Duration;

use chrono::NaiveDateTime;
use common::docker::{self, inspect, InstallationCleanup};
use common::TestRoot;
use hostinfo::cluster::SlurmJob;
use hostinfo::schedule::{format_time, GpuSet};
use hostinfo::Root;
use slurm::{ensure_unix_user, wait_until, LabOptions, SlurmLab};

const CLUSTER_YAML: &str = "engine: slurm\nnodes:\n  node0: {cpus: 8, memory: 32, gpus: 4}\n  node1: {cpus: 8, memory: 32, gpus: 4}\nlicense: \"gpu_{node}\"\nreservation_prefix: aivc_\nunix_user: \"{id}\"\n";

/// A test root in cluster mode, with `user` signed up (password, forward port).
fn cluster_root(user: &str, port: u16) -> TestRoot {
    let root = TestRoot::new();
    std::fs::write(root.path().join("cfg/cluster.yaml"), CLUSTER_YAML).unwrap();
    std::fs::write(
        root.path().join("cfg/users_config.yaml"),
        format!(
            "{user}:\n  password: pw-{user}-slurm\n  forward_port: {port}\n  image: null\n  extra_command: null\n  \
             volume_work_dir: {w}\n  volume_dataset_dir: {d}\n  volume_backup_dir: {b}\n",
            w = root.work(user).display(),
            d = root.path().join("vol/dataset").display(),
            b = root.backup(user).display(),
        ),
    )
    .unwrap();
    root
}

/// The root's clock now (its zone is Asia/Taipei).
fn now(root: &TestRoot) -> NaiveDateTime {
    Root::at(root.path())
        .load_config()
        .unwrap()
        .clock()
        .unwrap()
        .now()
}

/// Writes `user`'s booking (one hour from the current half-hour slot, on `node`, with one
/// GPU and `extra_command`) into using.csv, and an empty booking.csv.
fn book(root: &TestRoot, user: &str, port: u16, node: &str, extra_command: &str) -> NaiveDateTime {
    use chrono::Timelike;
    let n = now(root);
    let start = n
        .with_minute(n.minute() / 30 * 30)
        .unwrap()
        .with_second(0)
        .unwrap();
    let end = start + chrono::Duration::hours(1);
    let header = hostinfo::schedule::HEADER_LINE_WITH_NODE;
    std::fs::write(
        root.path().join("jobs/using.csv"),
        format!(
            "{header}{},{},{user},1.0,1,[0],{port},,{extra_command},{node}\n",
            format_time(start),
            format_time(end)
        ),
    )
    .unwrap();
    std::fs::write(root.path().join("jobs/booking.csv"), header).unwrap();
    start
}

/// Records `job` as the monitor's job for `user`'s booking from `start` on `node`.
fn record(root: &TestRoot, job: u32, user: &str, start: NaiveDateTime, node: &str) {
    let r = Root::at(root.path());
    let lock = r.lock_exclusive("test").unwrap();
    let mut jobs = r.read_slurm_jobs(&lock).unwrap();
    jobs.push(SlurmJob {
        job_id: u64::from(job),
        user_id: user.into(),
        start,
        node: node.into(),
        bound_gpus: GpuSet::default(),
    });
    r.write_slurm_jobs(&jobs, &lock).unwrap();
}

/// The Prolog and Epilog of a test: scripts that run this build's run-container on the
/// test's root (slurmd passes them none of its own environment), and note each job they
/// ran for with run-container's exit status in `ran-prolog` / `ran-epilog`.
struct Wrappers {
    dir: tempfile::TempDir,
}

impl Wrappers {
    fn new(root: &Path, docker: Option<&Path>) -> Wrappers {
        use std::os::unix::fs::PermissionsExt;
        let dir = tempfile::tempdir().unwrap();
        for side in ["prolog", "epilog"] {
            let docker_line = docker
                .map(|d| format!("export AIVC_DOCKER='{}'\n", d.display()))
                .unwrap_or_default();
            let script = format!(
                "#!/bin/sh\nexport PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin\n{docker_line}\
                 '{bin}' --root '{root}' slurm-{side} 2>>'{dir}/{side}.err'\nrc=$?\necho \"$SLURM_JOB_ID $rc\" >> '{dir}/ran-{side}'\nexit $rc\n",
                bin = env!("CARGO_BIN_EXE_run-container"),
                root = root.display(),
                dir = dir.path().display(),
            );
            let path = dir.path().join(side);
            std::fs::write(&path, script).unwrap();
            std::fs::set_permissions(&path, std::fs::Permissions::from_mode(0o755)).unwrap();
        }
        Wrappers { dir }
    }

    fn conf(&self) -> String {
        format!(
            "Prolog={0}/prolog\nEpilog={0}/epilog\nPrologEpilogTimeout=300\n",
            self.dir.path().display()
        )
    }

    /// The exit status run-container had for `job` on `side`, once it ran.
    fn ran(&self, side: &str, job: u32) -> Option<i32> {
        let text = std::fs::read_to_string(self.dir.path().join(format!("ran-{side}"))).ok()?;
        text.lines().find_map(|l| {
            let (id, rc) = l.split_once(' ')?;
            (id == job.to_string()).then(|| rc.parse().unwrap_or(-1))
        })
    }

    fn stderr(&self, side: &str) -> String {
        std::fs::read_to_string(self.dir.path().join(format!("{side}.err"))).unwrap_or_default()
    }
}

fn monitor_log(root: &TestRoot) -> String {
    std::fs::read_to_string(root.path().join("jobs/monitor.log")).unwrap_or_default()
}

/// `sbatch` as root for `user`, held, on `node` with one GPU: the way the monitor submits.
fn submit_held(lab: &SlurmLab, user: &str, node: &str, extra: &[&str]) -> u32 {
    let (uid, gid) = ensure_unix_user(user);
    let uid = format!("--uid={uid}");
    let gid = format!("--gid={gid}");
    let license = format!("--licenses=gpu_{node}:1");
    let mut args = vec![
        "--hold",
        &uid,
        &gid,
        "-w",
        node,
        "--gres=gpu:1",
        &license,
        "-c",
        "1",
        "--mem=100",
        "--time=5",
        "--chdir=/tmp",
        "--output=/dev/null",
    ];
    args.extend_from_slice(extra);
    args.push("--wrap=exec sleep 300");
    lab.sbatch(&args)
}

/// A non-zero Prolog or Epilog exit drains the node: ours must never.
fn assert_not_drained(lab: &SlurmLab, node: &str) {
    let state = lab.node_state(node);
    assert!(
        ["idle", "mixed", "allocated"].contains(&state.as_str()),
        "{node} is {state}"
    );
}

fn installation(root: &TestRoot) -> String {
    Root::at(root.path()).installation_id().unwrap()
}

#[test]
fn the_prolog_ignores_a_job_the_monitor_did_not_submit() {
    let user = "aivcs1";
    ensure_unix_user(user);
    let port = docker::free_port();
    let root = cluster_root(user, port);
    let ours = installation(&root);
    let _cleanup = InstallationCleanup(ours.clone());
    let start = book(&root, user, port, "node0", "");
    // The record holds another job: this one is not in it.
    record(&root, 999_999, user, start, "node0");
    let wrappers = Wrappers::new(root.path(), None);
    let lab = SlurmLab::start(LabOptions {
        extra_conf: wrappers.conf(),
        ..LabOptions::default()
    });

    // A student's own GPU job on the booked node, named like ours (no guard in this lab).
    let out = lab.sbatch_as(
        user,
        &[
            "-w",
            "node0",
            "--gres=gpu:1",
            "--job-name=aivc_looks_ours",
            "--mem=100",
            "--time=5",
            "--output=/dev/null",
            "--wrap=exec sleep 300",
        ],
    );
    assert!(out.status.success(), "{out:?}");
    let job = slurm::parse_job_id(&String::from_utf8_lossy(&out.stdout)).unwrap();
    assert!(
        wait_until(Duration::from_secs(20), || wrappers
            .ran("prolog", job)
            .is_some()),
        "the prolog never ran for job {job}:\n{}",
        lab.logs()
    );
    assert_eq!(wrappers.ran("prolog", job), Some(0));
    assert_eq!(lab.job_state(job).as_deref(), Some("RUNNING"));
    assert!(
        docker::containers_of(&ours).is_empty(),
        "no container started"
    );
    assert_eq!(monitor_log(&root), "", "nothing logged");

    lab.run("scancel", &[&job.to_string()]);
    assert!(wait_until(Duration::from_secs(30), || wrappers
        .ran("epilog", job)
        .is_some()));
    assert_eq!(wrappers.ran("epilog", job), Some(0));
    assert_eq!(monitor_log(&root), "", "the epilog logged nothing either");
    assert_not_drained(&lab, "node0");
}

#[test]
fn the_prolog_refuses_a_recorded_job_on_another_node_or_as_another_user() {
    let user = "aivcs1";
    ensure_unix_user(user);
    ensure_unix_user("aivcs2");
    let port = docker::free_port();
    let root = cluster_root(user, port);
    let ours = installation(&root);
    let _cleanup = InstallationCleanup(ours.clone());
    let start = book(&root, user, port, "node0", "");
    let wrappers = Wrappers::new(root.path(), None);
    let lab = SlurmLab::start(LabOptions {
        extra_conf: wrappers.conf(),
        ..LabOptions::default()
    });

    // Recorded for node0, runs on node1; names and comments a user could set are never logged.
    let elsewhere = submit_held(
        &lab,
        user,
        "node1",
        &["--job-name=SECRET-NAME", "--comment=SECRET-COMMENT"],
    );
    record(&root, elsewhere, user, start, "node0");
    // Recorded for aivcs1's booking, runs as aivcs2.
    let other_user = submit_held(&lab, "aivcs2", "node0", &["--job-name=SECRET-NAME"]);
    record(&root, other_user, user, start, "node0");
    for job in [elsewhere, other_user] {
        lab.scontrol(&["release", &job.to_string()]);
    }
    for job in [elsewhere, other_user] {
        assert!(
            wait_until(Duration::from_secs(20), || wrappers
                .ran("prolog", job)
                .is_some()),
            "the prolog never ran for job {job}:\n{}",
            lab.logs()
        );
        assert_eq!(wrappers.ran("prolog", job), Some(0), "always exit 0");
    }
    assert!(docker::containers_of(&ours).is_empty(), "nothing started");
    let log = monitor_log(&root);
    let warnings: Vec<&str> = log
        .lines()
        .filter(|l| l.contains("[WARNING] ContainerWarning, "))
        .collect();
    assert_eq!(warnings.len(), 2, "{log}");
    assert!(
        warnings.iter().any(|l| l.contains(&format!(
            "Slurm job {elsewhere} ran on node node1, but the monitor submitted it for {user}'s booking on node node0"
        ))),
        "{log}"
    );
    assert!(
        warnings.iter().any(|l| l.contains(&format!(
            "Slurm job {other_user} on node node0 does not run as {user}, the Unix user of {user}'s booking"
        ))),
        "{log}"
    );
    assert!(!log.contains("SECRET") && !log.contains("aivcs2"), "{log}");
    assert_not_drained(&lab, "node0");
    assert_not_drained(&lab, "node1");
}

#[test]
#[allow(clippy::print_stderr)] // says how long the start took
fn a_recorded_job_runs_its_session_with_the_gpu_slurm_bound_and_the_epilog_backs_it_up() {
    docker::standin_image();
    // The Unix user is the booking id (unix_user: "{id}"), and so the container's name: a
    // fixed test name, guarded by this root's own installation id.
    let user = "aivcs3";
    ensure_unix_user(user);
    let port = docker::free_port();
    let root = cluster_root(user, port);
    let ours = installation(&root);
    let _cleanup = InstallationCleanup(ours.clone());
    assert!(
        inspect(user).is_none(),
        "a container named {user} exists already (another test run's?); this test needs the name"
    );
    // The booking says GPU [0]; Slurm decides, and GPU 0 is taken below.
    let start = book(
        &root,
        user,
        port,
        "node0",
        "echo kept-by-epilog > /root/.bashrc",
    );
    let shim_dir = tempfile::tempdir().unwrap();
    let shim = slurm::gpu_shim(shim_dir.path());
    let wrappers = Wrappers::new(root.path(), Some(&shim));
    let lab = SlurmLab::start(LabOptions {
        extra_conf: wrappers.conf(),
        ..LabOptions::default()
    });

    // Someone else's GPU job takes node0's first GPU.
    let other = lab.sbatch(&[
        "-w",
        "node0",
        "--gres=gpu:1",
        "--licenses=gpu_node0:1",
        "--mem=100",
        "--time=5",
        "--output=/dev/null",
        "--wrap=exec sleep 300",
    ]);
    assert!(wait_until(Duration::from_secs(20), || lab
        .job_state(other)
        .as_deref()
        == Some("RUNNING")));

    let job = submit_held(&lab, user, "node0", &[]);
    record(&root, job, user, start, "node0");
    let released = std::time::Instant::now();
    lab.scontrol(&["release", &job.to_string()]);
    let started = wait_until(Duration::from_secs(60), || {
        inspect(user).is_some_and(|c| c["Config"]["Labels"]["aivc.installation"] == ours.as_str())
    });
    assert!(
        started,
        "no container after 60 s; prolog: {:?} {}\nlog: {}\n{}",
        wrappers.ran("prolog", job),
        wrappers.stderr("prolog"),
        monitor_log(&root),
        lab.logs()
    );
    let start_secs = released.elapsed().as_secs_f64();
    let shown = lab.show_job(job).unwrap();
    let bound = shown
        .split_whitespace()
        .find_map(|w| w.strip_prefix("GRES=gpu:1(IDX:"))
        .and_then(|w| w.strip_suffix(')'))
        .unwrap_or_else(|| panic!("no bound GPU in {shown}"))
        .to_string();
    assert_ne!(bound, "0", "GPU 0 was taken by the other job: {shown}");

    let c = inspect(user).unwrap();
    let labels = &c["Config"]["Labels"];
    assert_eq!(labels["aivc.user"], user);
    assert_eq!(labels["aivc.start"], format_time(start).as_str());
    assert_eq!(
        labels["aivc.test.gpus"],
        format!("\"device={bound}\"").as_str(),
        "the container gets exactly the GPU Slurm bound"
    );
    assert_eq!(c["State"]["Running"], true);
    assert_eq!(
        c["HostConfig"]["PortBindings"]["22/tcp"][0]["HostPort"],
        port.to_string()
    );
    let env = c["Config"]["Env"].to_string();
    assert!(env.contains(&format!("PASSWORD=pw-{user}-slurm")), "{env}");
    assert_eq!(
        c["Mounts"]
            .as_array()
            .unwrap()
            .iter()
            .find(|m| m["Destination"] == "/root/Work")
            .map(|m| m["Source"].clone()),
        Some(serde_json::Value::from(root.work(user).to_str().unwrap()))
    );
    let log = monitor_log(&root);
    assert!(
        log.contains(&format!(
            "{user}'s container started on node node0 for Slurm job {job} with GPUs [{bound}]."
        )),
        "{log}"
    );
    assert_eq!(wrappers.ran("prolog", job), Some(0));

    // The job ends: the epilog keeps what the container wrote, then removes it.
    lab.run("scancel", &[&job.to_string()]);
    assert!(
        wait_until(Duration::from_secs(90), || wrappers
            .ran("epilog", job)
            .is_some()),
        "the epilog never ran:\n{}",
        lab.logs()
    );
    assert_eq!(
        wrappers.ran("epilog", job),
        Some(0),
        "{}",
        wrappers.stderr("epilog")
    );
    assert!(inspect(user).is_none(), "the container is gone");
    let kept = root.kept(user).join(".home%2F.bashrc");
    assert_eq!(
        std::fs::read_to_string(&kept).unwrap_or_default(),
        "kept-by-epilog\n",
        "the epilog backed up the container's entry; log: {}",
        monitor_log(&root)
    );
    assert!(
        monitor_log(&root).contains(&format!(
            "{user}'s container on node node0 was closed at the end of Slurm job {job}"
        )),
        "{}",
        monitor_log(&root)
    );
    assert_not_drained(&lab, "node0");
    eprintln!("session container up {start_secs:.1} s after the job's release");
}
