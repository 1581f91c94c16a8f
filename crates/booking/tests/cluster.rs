//! `booking` on a cluster (`cfg/cluster.yaml`), run as the real binary: `--node` picks a
//! node (`any` by default), the row is written with its node, every change asks the monitor
//! for a tick (it mirrors the schedule into Slurm), and `-ls` shows each booking's node and
//! the GPU ids Slurm bound. On a single host `--node` is a usage error.

mod common;

use std::path::Path;

use common::{booking, file, stderr, stdout};

/// node0 takes 8 cpus, 32 GB and 1 GPU; node1 16 cpus, 64 GB and 2 GPUs.
const CLUSTER: &str = "\
engine: slurm
nodes:
  node0: {cpus: 8, memory: 32, gpus: 1}
  node1: {cpus: 16, memory: 64, gpus: 2}
";

const HEADER: &str = "start,end,user_id,cpus,memory,gpus,forward_port,image,extra_command\n";

/// The lab root as a cluster with nothing booked yet.
fn cluster_root() -> tempfile::TempDir {
    let root = common::root_from("lab");
    std::fs::write(root.path().join("cfg/cluster.yaml"), CLUSTER).unwrap();
    for table in ["booking.csv", "using.csv"] {
        std::fs::write(root.path().join("jobs").join(table), HEADER).unwrap();
    }
    root
}

fn book(root: &Path, user: &str, gpus: &str, extra: &[&str]) -> std::process::Output {
    let mut args = vec![
        "--yes",
        "--password-stdin",
        "--user-id",
        user,
        "--cpus",
        "2",
        "--memory",
        "8",
        "--gpus",
        gpus,
        "--start",
        "2026-11-23 09:00",
        "--end",
        "2026-11-23 12:00",
    ];
    args.extend_from_slice(extra);
    booking(root, &args, &format!("{user}-secret-pw\n"))
}

#[test]
fn a_booking_on_a_named_node_is_written_with_its_node_and_asks_for_a_tick() {
    let root = cluster_root();
    let out = book(root.path(), "bob", "1", &["--node", "node1"]);
    assert_eq!(out.status.code(), Some(0), "{}", stderr(&out));
    let line = "2026-11-23 09:00:00,2026-11-23 12:00:00,bob,2.0,8,[0],10002,,,node1\n";
    assert_eq!(stdout(&out), line);
    assert!(stderr(&out).contains("node=node1"), "{}", stderr(&out));
    assert_eq!(
        file(root.path(), "jobs/booking.csv"),
        format!("{}{line}", HEADER.replace('\n', ",node\n"))
    );
    // A start days away asks for a tick too: the monitor mirrors it into Slurm now.
    assert_eq!(file(root.path(), "jobs/monitor_exec"), "now\n");
}

#[test]
fn any_node_is_the_first_where_the_booking_fits() {
    let root = cluster_root();
    let out = book(root.path(), "alice", "1", &[]);
    assert_eq!(out.status.code(), Some(0), "{}", stderr(&out));
    assert!(stdout(&out).ends_with(",node0\n"), "{}", stdout(&out));
    // node0's one GPU is alice's now: carol's goes to node1, with `any` said out loud.
    let out = book(root.path(), "carol", "1", &["--node", "any"]);
    assert_eq!(out.status.code(), Some(0), "{}", stderr(&out));
    assert!(stdout(&out).ends_with(",node1\n"), "{}", stdout(&out));
    // Both are GPU 0 of their own node.
    let rows = file(root.path(), "jobs/booking.csv");
    assert_eq!(rows.matches(",[0],").count(), 2, "{rows}");
}

#[test]
fn a_full_named_node_is_refused_with_a_window_there() {
    let root = cluster_root();
    assert_eq!(book(root.path(), "alice", "1", &[]).status.code(), Some(0));
    let before = common::tree(root.path());
    let out = book(root.path(), "carol", "1", &["--node", "node0"]);
    assert_eq!(out.status.code(), Some(1), "{}", stderr(&out));
    let err = stderr(&out);
    assert!(err.contains("not enough gpus on node0"), "{err}");
    assert!(
        err.contains("2026-11-23 12:00 to 2026-11-23 15:00 on node0"),
        "{err}"
    );
    assert_eq!(common::tree(root.path()), before);
}

#[test]
fn cancelling_on_a_cluster_asks_for_a_tick() {
    let root = cluster_root();
    assert_eq!(book(root.path(), "bob", "0", &[]).status.code(), Some(0));
    std::fs::write(root.path().join("jobs/monitor_exec"), "").unwrap();
    let out = booking(
        root.path(),
        &[
            "--yes",
            "--password-stdin",
            "--user-id",
            "bob",
            "--cancel",
            "2026-11-23 09:00",
        ],
        "bob-secret-pw\n",
    );
    assert_eq!(out.status.code(), Some(0), "{}", stderr(&out));
    assert_eq!(file(root.path(), "jobs/monitor_exec"), "now\n");
}

#[test]
fn fractional_cpus_are_refused_on_a_cluster() {
    let root = cluster_root();
    let before = common::tree(root.path());
    let mut args = vec!["--yes", "--password-stdin", "--user-id", "bob"];
    args.extend([
        "--cpus",
        "1.5",
        "--memory",
        "8",
        "--start",
        "2026-11-23 09:00",
        "--end",
        "2026-11-23 12:00",
    ]);
    let out = booking(root.path(), &args, "bob-secret-pw\n");
    assert_eq!(out.status.code(), Some(1), "{}", stderr(&out));
    assert!(stderr(&out).contains("whole cores"), "{}", stderr(&out));
    assert_eq!(common::tree(root.path()), before);
}

#[test]
fn an_unknown_node_is_a_usage_error_naming_the_nodes_and_changes_nothing() {
    let root = cluster_root();
    let before = common::tree(root.path());
    let out = book(root.path(), "bob", "1", &["--node", "node9"]);
    assert_eq!(out.status.code(), Some(2), "{}", stderr(&out));
    assert_eq!(
        stderr(&out),
        "booking: error: node `node9` is not in cfg/cluster.yaml; its nodes are node0, node1 (or `any`)\n"
    );
    assert_eq!(common::tree(root.path()), before);
}

#[test]
fn node_on_a_single_host_is_a_usage_error_and_changes_nothing() {
    let root = common::root_from("lab");
    let before = common::tree(root.path());
    let out = book(root.path(), "bob", "1", &["--node", "node0"]);
    assert_eq!(out.status.code(), Some(2), "{}", stderr(&out));
    assert!(
        stderr(&out).starts_with("booking: error: a node can be chosen only on a cluster"),
        "{}",
        stderr(&out)
    );
    assert_eq!(common::tree(root.path()), before);
}

#[test]
fn the_listing_shows_each_node_and_the_gpus_slurm_bound() {
    let root = cluster_root();
    assert_eq!(book(root.path(), "bob", "1", &[]).status.code(), Some(0));
    // alice may take both of node1's GPUs (her exception).
    assert_eq!(book(root.path(), "alice", "2", &[]).status.code(), Some(0));
    // Slurm bound both of node1's devices to alice's job; bob's is not bound yet.
    std::fs::write(
        root.path().join("jobs/slurm-jobs.csv"),
        "job_id,user_id,start,node,bound_gpus\n\
7,bob,2026-11-23 09:00:00,node0,\n\
8,alice,2026-11-23 09:00:00,node1,\"[1, 0]\"\n",
    )
    .unwrap();
    let out = booking(root.path(), &["-ls"], "");
    assert_eq!(out.status.code(), Some(0), "{}", stderr(&out));
    let text = stdout(&out);
    let line = |user: &str| {
        text.lines()
            .find(|l| l.trim_start().starts_with(user))
            .unwrap_or_else(|| panic!("no line of {user}:\n{text}"))
            .split_whitespace()
            .collect::<Vec<_>>()
            .join(" ")
    };
    assert!(text.contains(" NODE "), "{text}");
    // bob: one GPU, not bound yet: its count; alice: the ids Slurm bound.
    assert!(line("bob").ends_with("2 8 1 10002 node0 waiting"), "{text}");
    assert!(
        line("alice").ends_with("2 8 0,1 bound 10001 node1 waiting"),
        "{text}"
    );
    assert!(text.contains("  node1 GPU 1: alice"), "{text}");
    assert!(text.contains("  node0 GPU 0: bob"), "{text}");
    let json = booking(root.path(), &["--list-schedule", "--json"], "");
    let value: serde_json::Value = serde_json::from_slice(&json.stdout).unwrap();
    let alice = value["rows"]
        .as_array()
        .unwrap()
        .iter()
        .find(|r| r["user_id"] == "alice")
        .unwrap();
    assert_eq!(alice["node"], "node1");
    assert_eq!(alice["bound_gpus"], serde_json::json!([0, 1]));
}
