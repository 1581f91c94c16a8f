//! The guard job_submit.lua (scripts/slurm), filled in by `run-container slurm-job-submit`
//! from cfg/cluster.yaml, in a real Slurm 22.05 lab: students' GPU jobs must hold their
//! node's license, and our reservations and job names are root's alone.

mod common;

#[path = "../../../tests/support/slurm.rs"]
mod slurm;

use std::process::Output;

use common::TestRoot;
use slurm::{ensure_unix_user, LabOptions, SlurmLab};

const CLUSTER_YAML: &str = "engine: slurm\nnodes:\n  node0: {cpus: 8, memory: 32, gpus: 4}\n  node1: {cpus: 8, memory: 32, gpus: 4}\nlicense: \"gpu_{node}\"\nreservation_prefix: aivc_\nunix_user: \"{id}\"\n";

const STUDENT: &str = "aivcs4";

fn stderr(o: &Output) -> String {
    String::from_utf8_lossy(&o.stderr).into_owned()
}

/// A lab whose slurmctld runs the guard rendered from a cluster root, and the root.
fn guarded_lab() -> (SlurmLab, TestRoot) {
    let root = TestRoot::new();
    std::fs::write(root.path().join("cfg/cluster.yaml"), CLUSTER_YAML).unwrap();
    let out = root.run(&["slurm-job-submit"], "", &[]);
    assert!(out.status.success(), "{}", stderr(&out));
    let lua = root.path().join("job_submit.lua");
    std::fs::write(&lua, &out.stdout).unwrap();
    let lab = SlurmLab::start(LabOptions {
        job_submit_lua: Some(lua),
        ..LabOptions::default()
    });
    (lab, root)
}

/// A student's job: `args` and a 5-minute sleep.
fn student(lab: &SlurmLab, args: &[&str]) -> Output {
    let mut all = args.to_vec();
    all.extend_from_slice(&[
        "--mem=100",
        "--time=5",
        "--output=/dev/null",
        "--wrap=exec sleep 300",
    ]);
    lab.sbatch_as(STUDENT, &all)
}

fn refused(out: &Output, words: &str) {
    assert!(!out.status.success(), "accepted: {out:?}");
    assert!(stderr(out).contains(words), "{}", stderr(out));
}

fn accepted(out: &Output) -> u32 {
    assert!(out.status.success(), "refused: {}", stderr(out));
    slurm::parse_job_id(&String::from_utf8_lossy(&out.stdout)).unwrap()
}

#[test]
fn gpu_jobs_need_one_named_node_and_its_licenses() {
    ensure_unix_user(STUDENT);
    let (lab, _root) = guarded_lab();
    let how = "GPU jobs must name one node (-w NODE) and request its license";

    refused(&student(&lab, &["-w", "node0", "--gres=gpu:1"]), how);
    refused(
        &student(
            &lab,
            &["-w", "node0", "--gres=gpu:1", "--licenses=gpu_node1:1"],
        ),
        "must request gpu_node0:N",
    );
    refused(
        &student(
            &lab,
            &["-w", "node0", "--gres=gpu:3", "--licenses=gpu_node0:1"],
        ),
        "--licenses=gpu_node0:3",
    );
    refused(&student(&lab, &["--gpus=1", "--licenses=gpu_node0:1"]), how);
    refused(
        &student(
            &lab,
            &["-w", "node[0-1]", "--gres=gpu:1", "--licenses=gpu_node0:1"],
        ),
        how,
    );
    refused(
        &student(
            &lab,
            &[
                "-w",
                "node0",
                "-N",
                "2",
                "--gres=gpu:1",
                "--licenses=gpu_node0:1",
            ],
        ),
        how,
    );
    refused(
        &student(
            &lab,
            &[
                "-w",
                "node0",
                "-n",
                "2",
                "--gpus-per-task=1",
                "--licenses=gpu_node0:2",
            ],
        ),
        "not per task",
    );

    // With its license the job is taken, and so is any job without GPUs.
    let gpu = accepted(&student(
        &lab,
        &["-w", "node0", "--gpus=2", "--licenses=gpu_node0:2"],
    ));
    let cpu = accepted(&student(&lab, &[]));

    // Once submitted, a student may not move a GPU job or raise its GPUs.
    let update = |args: &[&str]| {
        let mut c = std::process::Command::new("runuser");
        c.args(["-u", STUDENT, "--", "scontrol", "update"])
            .args(args)
            .env("SLURM_CONF", lab.conf());
        c.output().unwrap()
    };
    let gpu_id = format!("JobId={gpu}");
    let moved = update(&[&gpu_id, "NodeList=node1"]);
    assert!(!moved.status.success(), "{moved:?}");
    let more = update(&[&gpu_id, "TresPerNode=gres:gpu:4"]);
    assert!(!more.status.success(), "{more:?}");
    // Changes that leave GPUs alone still go through.
    let renamed = update(&[&format!("JobId={cpu}"), "Name=mine"]);
    assert!(renamed.status.success(), "{}", stderr(&renamed));
    // The rule holds for root too (the monitor always asks for the license).
    let root_job = lab.try_sbatch(&[
        "-w",
        "node1",
        "--gres=gpu:1",
        "--mem=100",
        "--time=5",
        "--chdir=/tmp",
        "--output=/dev/null",
        "--wrap=exec sleep 300",
    ]);
    refused(&root_job, "must request gpu_node1:N");
}

#[test]
fn only_root_uses_our_reservations_and_job_names() {
    let (uid, gid) = ensure_unix_user(STUDENT);
    let (lab, _root) = guarded_lab();
    // Our reservation lists the student, as a booking's does: Slurm alone would let them in.
    lab.scontrol(&[
        "create",
        "reservation",
        "ReservationName=aivc_r1",
        "StartTime=now",
        "Duration=10",
        "Nodes=node0",
        "CoreCnt=2",
        "Licenses=gpu_node0:2",
        &format!("Users=root,{STUDENT}"),
    ]);
    let ours = "belong to the booking system; only root may use them";
    refused(
        &student(
            &lab,
            &[
                "--reservation=aivc_r1",
                "-w",
                "node0",
                "--gres=gpu:1",
                "--licenses=gpu_node0:1",
            ],
        ),
        ours,
    );
    refused(&student(&lab, &["--reservation=aivc_r1"]), ours);
    refused(&student(&lab, &["--job-name=aivc_b1"]), ours);
    refused(&student(&lab, &["--job-name=AIVC_b1"]), ours);

    // The monitor's way: root submits for the student into the reservation.
    let booked = lab.sbatch(&[
        &format!("--uid={uid}"),
        &format!("--gid={gid}"),
        "--job-name=aivc_b1",
        "--reservation=aivc_r1",
        "-w",
        "node0",
        "--gres=gpu:1",
        "--licenses=gpu_node0:1",
        "-c",
        "1",
        "--mem=100",
        "--time=5",
        "--chdir=/tmp",
        "--output=/dev/null",
        "--wrap=exec sleep 300",
    ]);
    assert!(slurm::wait_until(
        std::time::Duration::from_secs(20),
        || lab.job_state(booked).as_deref() == Some("RUNNING")
    ));

    // The student owns that job in Slurm's eyes, but may not change it, nor give their own
    // job our name.
    let update = |args: &[&str]| {
        let mut c = std::process::Command::new("runuser");
        c.args(["-u", STUDENT, "--", "scontrol", "update"])
            .args(args)
            .env("SLURM_CONF", lab.conf());
        c.output().unwrap()
    };
    // (22.05 does not pass the guard's message back to scontrol: the refusal and the job as
    // it stays are what show.)
    let changed = update(&[&format!("JobId={booked}"), "Name=mine"]);
    assert!(!changed.status.success(), "{changed:?}");
    let own = accepted(&student(&lab, &[]));
    let named = update(&[&format!("JobId={own}"), "Name=aivc_b2"]);
    assert!(!named.status.success(), "{named:?}");
    let into = update(&[&format!("JobId={own}"), "Reservation=aivc_r1"]);
    assert!(!into.status.success(), "{into:?}");
    let name_of = |job: u32| slurm::field(&lab.show_job(job).unwrap(), "JobName");
    assert_eq!(name_of(booked).as_deref(), Some("aivc_b1"));
    assert_eq!(name_of(own).as_deref(), Some("wrap"));
    let resv = slurm::field(&lab.show_job(own).unwrap(), "Reservation");
    assert!(
        resv.is_none() || resv.as_deref() == Some("(null)"),
        "{resv:?}"
    );
}

#[test]
fn a_gpu_job_stays_on_its_one_node_and_no_name_can_pose_as_a_line_of_squeue() {
    ensure_unix_user(STUDENT);
    let (lab, _root) = guarded_lab();
    // A node range that would carry one node's license onto another node's GPU.
    let how = "GPU jobs must name one node (-w NODE) and request its license";
    refused(
        &student(
            &lab,
            &[
                "-w",
                "node0",
                "--gres=gpu:1",
                "--licenses=gpu_node0:1",
                "--nodes=1-2",
                "-n2",
                "--ntasks-per-node=1",
            ],
        ),
        how,
    );
    // Without a node count, more tasks still stay on the one node named.
    let job = accepted(&student(
        &lab,
        &[
            "-w",
            "node0",
            "--gres=gpu:1",
            "--licenses=gpu_node0:1",
            "--ntasks-per-node=1",
            "--hold",
        ],
    ));
    let shown = lab.show_job(job).unwrap();
    assert!(
        shown.contains("NumNodes=1 ") || shown.contains("NumNodes=1-1 "),
        "{shown}"
    );
    // Nor can a change of the task count do it afterwards.
    let mut update = std::process::Command::new("runuser");
    update
        .args(["-u", STUDENT, "--", "scontrol", "update"])
        .arg(format!("JobId={job}"))
        .arg("NumTasks=2")
        .env("SLURM_CONF", lab.conf());
    let out = update.output().unwrap();
    assert!(!out.status.success(), "the task count of a GPU job changed");
    assert!(lab.show_job(job).unwrap().contains("NumTasks=1 "));
    // A line break in a name could make a line of its own in squeue's output.
    refused(
        &student(&lab, &["-c", "1", "--job-name=x\n1\u{1f}RUNNING"]),
        "control characters",
    );
}
