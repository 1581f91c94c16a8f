//! Attacks on the issue-16 GPU watch (independent review).
//!
//! `hostinfo::gpu::container_id` takes the *innermost* (last) 64-hex path segment of any
//! line of `/proc/<pid>/cgroup`, anywhere in the path. A student whose container can make a
//! child cgroup (a `--privileged` image — the operations manual names it as the way a
//! container reaches a GPU it did not book — or a `docker_run_args` that mounts the cgroup
//! tree read-write for a systemd image) makes `/sys/fs/cgroup/<victim-id>` inside the
//! container; seen from the host, its process is then in
//! `/system.slice/docker-<own-id>.scope/<victim-id>` (v2) or `/docker/<own-id>/<victim-id>`
//! (v1), and the watch names the *victim* as the user of that process. With the victim's
//! `stop_unbooked_gpu_use`, root stops the victim's container; without it, the log and the
//! admins' notice blame the victim. A made-up id instead of a victim's one makes the
//! student's own process "container xxxx…", outside the policy.

mod common;

#[path = "../../../tests/support/nvml.rs"]
mod nvml;

use std::path::{Path, PathBuf};
use std::process::{Child, Command};

const ATTACKER: &str = "a11ce0000000000000000000000000000000000000000000000000000000000a";
const VICTIM: &str = "b0b0000000000000000000000000000000000000000000000000000000000b0b";

/// A process inside the attacker's container, in a child cgroup the attacker named after
/// the victim's container, is still the attacker's container's process.
#[test]
fn a_child_cgroup_named_after_another_container_is_not_that_container() {
    // v2, systemd driver: the container's own cgroup, then a child it made.
    assert_eq!(
        hostinfo::gpu::container_id(&format!(
            "0::/system.slice/docker-{ATTACKER}.scope/{VICTIM}\n"
        ))
        .as_deref(),
        Some(ATTACKER),
    );
    // v2, the child named the systemd driver's way.
    assert_eq!(
        hostinfo::gpu::container_id(&format!(
            "0::/system.slice/docker-{ATTACKER}.scope/docker-{VICTIM}.scope\n"
        ))
        .as_deref(),
        Some(ATTACKER),
    );
    // v1, cgroupfs driver.
    assert_eq!(
        hostinfo::gpu::container_id(&format!(
            "12:memory:/docker/{ATTACKER}/{VICTIM}\n0::/docker/{ATTACKER}/{VICTIM}\n"
        ))
        .as_deref(),
        Some(ATTACKER),
    );
    // The monitor's wrapper is the same function.
    assert_eq!(
        monitor::gpuwatch::container_id(&format!(
            "0::/system.slice/docker-{ATTACKER}.scope/{VICTIM}\n"
        ))
        .as_deref(),
        Some(ATTACKER),
    );
}

/// A cgroup where this test (root) can make folders and move a process: v2's tree, else
/// v1's `pids` tree. `None` where neither (not root, or a read-only cgroup mount).
fn writable_cgroup_tree() -> Option<PathBuf> {
    let base = Path::new("/sys/fs/cgroup");
    let tree = if base.join("cgroup.controllers").is_file() {
        base.to_path_buf()
    } else {
        base.join("pids")
    };
    let probe = tree.join(format!("aivc-issue16-probe-{}", std::process::id()));
    std::fs::create_dir(&probe).ok()?;
    let _ = std::fs::remove_dir(&probe);
    Some(tree)
}

struct Planted {
    child: Child,
    dirs: Vec<PathBuf>,
}

impl Drop for Planted {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
        // Innermost first; a cgroup folder goes once its process is gone.
        for d in self.dirs.iter().rev() {
            for _ in 0..50 {
                if std::fs::remove_dir(d).is_ok() || !d.exists() {
                    break;
                }
                std::thread::sleep(std::time::Duration::from_millis(20));
            }
        }
    }
}

/// Starts `sleep` in `<tree>/aivc-issue16-<pid>/docker-<ATTACKER>.scope/<VICTIM>`: the
/// host's view of the attacker's container's process in a child cgroup it made.
fn plant(tree: &Path) -> Option<Planted> {
    let top = tree.join(format!("aivc-issue16-{}", std::process::id()));
    let scope = top.join(format!("docker-{ATTACKER}.scope"));
    let inner = scope.join(VICTIM);
    let child = Command::new("sleep").arg("300").spawn().ok()?;
    let planted = Planted {
        child,
        dirs: vec![top.clone(), scope.clone(), inner.clone()],
    };
    std::fs::create_dir_all(&inner).ok()?;
    std::fs::write(inner.join("cgroup.procs"), planted.child.id().to_string()).ok()?;
    let seen = std::fs::read_to_string(format!("/proc/{}/cgroup", planted.child.id())).ok()?;
    seen.contains(VICTIM).then_some(planted)
}

fn state_of(lab: &common::Lab, name: &str) -> String {
    std::fs::read_to_string(lab.state().join(name))
        .unwrap()
        .split('\t')
        .nth(2)
        .unwrap()
        .to_string()
}

/// End to end through the real tick: alice runs on GPU 0 (her booking), in a child cgroup
/// she named after bob's container; bob books GPU 1 and has `stop_unbooked_gpu_use`. The
/// watch must neither blame bob nor stop his container.
#[test]
#[allow(clippy::print_stderr)]
fn a_student_cannot_make_the_watch_stop_another_students_container() {
    // CI runs as root on a host with a writable cgroup tree: there the attack must run.
    let must_run = std::env::var_os("CI").is_some();
    let Some(tree) = writable_cgroup_tree() else {
        assert!(
            !must_run,
            "no writable cgroup tree under CI: the attack was not run"
        );
        eprintln!(
            "NOTE: no writable cgroup tree here (not root?); the end-to-end attack was not run"
        );
        return;
    };
    let Some(planted) = plant(&tree) else {
        assert!(
            !must_run,
            "could not plant a cgroup under CI: the attack was not run"
        );
        eprintln!("NOTE: could not move a process into a new cgroup here; not run");
        return;
    };
    let pid = planted.child.id();

    let lab = common::Lab::new(None);
    std::fs::write(
        lab.path().join("jobs/using.csv"),
        "start,end,user_id,cpus,memory,gpus,forward_port,image,extra_command\n\
         2026-11-23 09:00:00,2026-11-23 12:00:00,alice,1.0,1,[0],10001,,\n\
         2026-11-23 09:00:00,2026-11-23 12:00:00,bob,1.0,1,[1],10002,,\n",
    )
    .unwrap();
    lab.fake_container(
        "alice",
        &format!("{ATTACKER}\talice\trunning\talice\t$INSTALLATION\t2026-11-23 09:00:00\t2026-11-23 12:00:00\t\t10001\t2020-01-01T00:00:00Z\n"),
    );
    lab.fake_container(
        "bob",
        &format!("{VICTIM}\tbob\trunning\tbob\t$INSTALLATION\t2026-11-23 09:00:00\t2026-11-23 12:00:00\t\t10002\t2020-01-01T00:00:00Z\n"),
    );
    let cap = lab.path().join("cfg/capability_config.yaml");
    let mut text = std::fs::read_to_string(&cap).unwrap();
    text.push_str("policies:\n  stop_unbooked_gpu_use: true\n");
    std::fs::write(&cap, text).unwrap();

    let state = lab.docker.path().join("nvml-state");
    std::fs::write(
        &state,
        format!(
            "driver 550.54.15\n\
             gpu 0 GPU-6b2c0d3e-0000-4000-8000-000000000000 81920 4096 55 NVIDIA Stand-in 80GB\n\
             gpu 1 GPU-6b2c0d3e-0000-4000-8000-000000000001 81920 2048 40 NVIDIA Stand-in 80GB\n\
             proc 0 {pid} 3000\n"
        ),
    )
    .unwrap();
    let out = lab
        .monitor_command(common::NOW, &[], &[])
        .env_remove("AIVC_NO_NVML")
        .envs(nvml::env(&state))
        .output()
        .unwrap();
    drop(planted);
    assert_eq!(
        out.status.code(),
        Some(0),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let log = lab.file("jobs/monitor.log");
    assert!(
        !log.contains("bob's container"),
        "alice's process was blamed on bob:\n{log}"
    );
    assert_eq!(
        state_of(&lab, "bob"),
        "running",
        "root stopped bob's container for alice's process:\n{log}"
    );
}
