//! `scripts/setup.sh --slurm` against a real Slurm 22.05 lab: it installs the guard next to
//! slurm.conf and the Prolog/Epilog wrappers, refuses licenses that do not match
//! cfg/cluster.yaml, names the slurm.conf lines still missing, and once the admin has added
//! them (and reconfigured Slurm, which setup never does) the guard and wrappers are live.

#[path = "../../../tests/support/slurm.rs"]
mod slurm;

use std::path::{Path, PathBuf};
use std::process::{Command, Output};
use std::time::Duration;

use slurm::{ensure_unix_user, wait_until, LabOptions, SlurmLab};

const CLUSTER_YAML: &str = "engine: slurm\nnodes:\n  node0: {cpus: 8, memory: 32, gpus: 4}\n  node1: {cpus: 8, memory: 32, gpus: 4}\nlicense: \"gpu_{node}\"\nreservation_prefix: aivc_\nunix_user: \"{id}\"\n";

/// The folder of this build's binaries, with every binary setup.sh installs.
fn bin_dir() -> PathBuf {
    let bin = Path::new(env!("CARGO_BIN_EXE_run-container"))
        .parent()
        .unwrap()
        .to_path_buf();
    let repo = Path::new(env!("CARGO_MANIFEST_DIR")).join("../..");
    for b in ["booking", "checker", "monitor", "dashboard"] {
        if !bin.join(b).exists() {
            let cargo = std::env::var("CARGO").unwrap_or_else(|_| "cargo".into());
            assert!(Command::new(cargo)
                .args(["build", "--bins"])
                .current_dir(&repo)
                .status()
                .unwrap()
                .success());
        }
    }
    bin
}

fn setup(root: &Path, prefix: &Path, slurm_conf: &Path) -> Output {
    let repo = Path::new(env!("CARGO_MANIFEST_DIR")).join("../..");
    Command::new("bash")
        .arg(repo.join("scripts/setup.sh"))
        .arg("--root")
        .arg(root)
        .arg("--prefix")
        .arg(prefix)
        .arg("--bin-dir")
        .arg(bin_dir())
        .args(["--no-systemd", "--no-container", "--slurm"])
        .env("TZ", "Asia/Taipei")
        .env("SLURM_CONF", slurm_conf)
        .output()
        .unwrap()
}

fn stderr(o: &Output) -> String {
    String::from_utf8_lossy(&o.stderr).into_owned()
}

#[test]
fn setup_slurm_installs_the_guard_and_wrappers_and_checks_the_licenses() {
    let (uid, gid) = ensure_unix_user("aivcs4");
    let lab = SlurmLab::start(LabOptions::default());
    let root = tempfile::tempdir().unwrap();
    let prefix = tempfile::tempdir().unwrap();
    let etc = lab.conf().parent().unwrap().to_path_buf();

    // Without cluster.yaml there is no cluster mode to set up.
    let out = setup(root.path(), prefix.path(), lab.conf());
    assert_eq!(out.status.code(), Some(2), "{}", stderr(&out));
    assert!(stderr(&out).contains("--slurm needs"), "{}", stderr(&out));
    assert!(!etc.join("job_submit.lua").exists());

    // Licenses that do not match: one line naming the mismatch, exit 2.
    std::fs::write(
        root.path().join("cfg/cluster.yaml"),
        CLUSTER_YAML.replace(
            "node1: {cpus: 8, memory: 32, gpus: 4}",
            "node1: {cpus: 8, memory: 32, gpus: 6}",
        ),
    )
    .unwrap();
    let out = setup(root.path(), prefix.path(), lab.conf());
    assert_eq!(out.status.code(), Some(2), "{}", stderr(&out));
    assert!(
        stderr(&out).contains(
            "Licenses= gives `gpu_node1:4`, but cfg/cluster.yaml books 6 GPUs on node node1"
        ),
        "{}",
        stderr(&out)
    );

    // Matching: the guard and wrappers are installed, and the missing lines named.
    std::fs::write(root.path().join("cfg/cluster.yaml"), CLUSTER_YAML).unwrap();
    let out = setup(root.path(), prefix.path(), lab.conf());
    let err = stderr(&out);
    assert!(out.status.success(), "{err}");
    let lua = std::fs::read_to_string(etc.join("job_submit.lua")).unwrap();
    assert!(lua.contains("local PREFIX = \"aivc_\""), "{lua}");
    assert!(lua.contains("[\"node1\"] = \"gpu_node1\""), "{lua}");
    let prolog = prefix.path().join("lib/aivc/slurm-prolog");
    let epilog = prefix.path().join("lib/aivc/slurm-epilog");
    let wrapper = std::fs::read_to_string(&prolog).unwrap();
    assert!(
        wrapper.contains(&format!(
            "exec '{}/bin/run-container' --root '{}' slurm-prolog",
            prefix.path().display(),
            root.path().display()
        )),
        "{wrapper}"
    );
    for line in [
        "JobSubmitPlugins=lua".to_string(),
        format!("Prolog={}", prolog.display()),
        format!("Epilog={}", epilog.display()),
        "PrologEpilogTimeout=600".to_string(),
    ] {
        assert!(err.contains(&line), "{line} not named:\n{err}");
    }
    assert!(
        !err.contains("GresTypes=gpu "),
        "the lab has GresTypes: {err}"
    );

    // The admin adds the lines and reconfigures; setup then finds nothing missing.
    let mut conf = std::fs::read_to_string(lab.conf()).unwrap();
    conf.push_str(&format!(
        "JobSubmitPlugins=lua\nProlog={}\nEpilog={}\nPrologEpilogTimeout=600\n",
        prolog.display(),
        epilog.display()
    ));
    std::fs::write(lab.conf(), conf).unwrap();
    lab.scontrol(&["reconfigure"]);
    let out = setup(root.path(), prefix.path(), lab.conf());
    assert!(out.status.success(), "{}", stderr(&out));
    assert!(
        stderr(&out).contains("has the guard, the Prolog and the Epilog of cluster mode"),
        "{}",
        stderr(&out)
    );

    // Live: the guard refuses a GPU job without its license ...
    let no_license = lab.try_sbatch(&[
        "-w",
        "node0",
        "--gres=gpu:1",
        "--mem=100",
        "--time=5",
        "--chdir=/tmp",
        "--output=/dev/null",
        "--wrap=exec sleep 300",
    ]);
    let said = stderr(&no_license);
    assert!(
        !no_license.status.success() && said.contains("gpu_node0"),
        "{said}"
    );
    // ... and the wrappers run for a job the monitor never recorded, leaving the node up.
    let job = lab.sbatch(&[
        &format!("--uid={uid}"),
        &format!("--gid={gid}"),
        "-w",
        "node0",
        "--gres=gpu:1",
        "--licenses=gpu_node0:1",
        "--mem=100",
        "--time=5",
        "--chdir=/tmp",
        "--output=/dev/null",
        "--wrap=exec sleep 300",
    ]);
    assert!(
        wait_until(Duration::from_secs(20), || lab.job_state(job).as_deref()
            == Some("RUNNING")),
        "{}",
        lab.logs()
    );
    lab.run("scancel", &[&job.to_string()]);
    assert!(wait_until(Duration::from_secs(30), || lab.job_finished(job)));
    let state = lab.node_state("node0");
    assert!(!state.contains("drain"), "node0 is {state}");
    assert_eq!(
        std::fs::read_to_string(root.path().join("jobs/monitor.log")).unwrap(),
        "",
        "an unrecorded job leaves no log line"
    );
}
