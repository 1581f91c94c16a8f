//! Cluster mode (`cfg/cluster.yaml`), as the rules see it: each node is a capacity scope of
//! its own and a plan of its own GPU ids, `any` takes the first node where a request fits,
//! a named node is checked alone, groups and policies span the nodes, and the report names
//! each row's node and the GPU ids Slurm bound. Without the file nothing changes.
//!
//! The lab here: node0 offers 8 cpus, 32 GB and 2 GPUs, node1 16 cpus, 64 GB and 4 GPUs;
//! everyone may take 8 cpus, 32 GB and 2 GPUs a booking; group phd (bob, carol) holds at
//! most 3 GPUs together, wherever they run.

mod common;

use std::path::Path;
use std::process::Command;

use checker::report::Report;
use checker::{
    admit_fixed, admit_placed, Context, NodeChoice, Placed, Refusal, Request, ScopeName, Window,
};
use chrono::NaiveDateTime;
use hostinfo::schedule::{GpuSet, Row};
use hostinfo::{Config, Root};

const CAPABILITY: &str = "\
max:
  cpus: 32
  ram: 128
  swap_size: 0
  gpus: 8
  backup_space: 100
  work_space: 400
allow_userIDs:
  - alice
  - bob
  - carol
  - dave
max_default_capability:
  cpus: 8
  memory: 32
  gpus: 2
  work_space: 100
groups:
  phd:
    members: [bob, carol]
    total: {gpus: 3}
";

const CLUSTER: &str = "\
engine: slurm
nodes:
  node0: {cpus: 8, memory: 32, gpus: 2}
  node1: {cpus: 16, memory: 64, gpus: 4}
license: \"gpu_{node}\"
reservation_prefix: aivc_
unix_user: \"{id}\"
";

const NOW: &str = "2026-11-21 15:30";

struct Lab {
    dir: tempfile::TempDir,
    config: Config,
}

/// The lab root with the capability config above, and `cfg/cluster.yaml` when `cluster`.
fn lab(cluster: bool) -> Lab {
    let dir = common::root_from("lab");
    std::fs::write(dir.path().join("cfg/capability_config.yaml"), CAPABILITY).unwrap();
    if cluster {
        std::fs::write(dir.path().join("cfg/cluster.yaml"), CLUSTER).unwrap();
    }
    let config = Root::at(dir.path()).load_config().unwrap();
    Lab { dir, config }
}

fn t(text: &str) -> NaiveDateTime {
    NaiveDateTime::parse_from_str(text, "%Y-%m-%d %H:%M").unwrap()
}

fn port(user: &str) -> u16 {
    match user {
        "alice" => 10001,
        "bob" => 10002,
        "carol" => 10003,
        _ => 10004,
    }
}

/// A row on `node` from `from` to `to` (hours of 2026-11-24) holding `gpus`.
fn row(user: &str, node: &str, from: u32, to: u32, cpus: f64, gpus: &[u32]) -> Row {
    Row {
        start: t(&format!("2026-11-24 {from:02}:00")),
        end: t(&format!("2026-11-24 {to:02}:00")),
        user_id: user.into(),
        cpus,
        memory: 4,
        gpus: GpuSet::new(gpus.to_vec()),
        forward_port: port(user),
        image: None,
        extra_command: None,
        node: Some(node.into()),
    }
}

fn ask(user: &str, from: u32, to: u32, gpus: u32, node: NodeChoice) -> Request {
    Request {
        user_id: user.into(),
        cpus: 2.0,
        memory: 4,
        gpus,
        start: t(&format!("2026-11-24 {from:02}:00")),
        end: t(&format!("2026-11-24 {to:02}:00")),
        forward_port: port(user),
        image: None,
        node,
    }
}

fn named(node: &str) -> NodeChoice {
    NodeChoice::Named(node.into())
}

fn check(config: &Config, rows: &[Row], req: &Request) -> Result<Placed, Refusal> {
    let ctx = Context {
        config,
        rows: rows.iter().collect(),
        now_slot: t(NOW),
    };
    admit_placed(&ctx, req)
}

fn placed(node: &str, gpus: &[u32]) -> Placed {
    Placed {
        gpus: GpuSet::new(gpus.to_vec()),
        node: Some(node.into()),
    }
}

fn window(from: u32, to: u32) -> Option<Window> {
    Some(Window {
        start: t(&format!("2026-11-24 {from:02}:00")),
        end: t(&format!("2026-11-24 {to:02}:00")),
    })
}

#[test]
fn any_takes_the_first_node_in_the_files_order_where_the_request_fits() {
    let lab = lab(true);
    // Nothing booked: node0 comes first.
    assert_eq!(
        check(&lab.config, &[], &ask("bob", 10, 12, 1, NodeChoice::Any)),
        Ok(placed("node0", &[0]))
    );
    // node0's two GPUs are alice's from 10 to 12: only node1 can take it.
    let rows = [row("alice", "node0", 10, 12, 2.0, &[0, 1])];
    assert_eq!(
        check(&lab.config, &rows, &ask("bob", 10, 12, 1, NodeChoice::Any)),
        Ok(placed("node1", &[0]))
    );
    // A request without GPUs still fits node0 (it has cpus and memory to spare).
    assert_eq!(
        check(&lab.config, &rows, &ask("bob", 10, 12, 0, NodeChoice::Any)),
        Ok(placed("node0", &[]))
    );
}

#[test]
fn a_full_named_node_is_refused_with_the_earliest_window_on_that_node() {
    let lab = lab(true);
    let rows = [row("alice", "node0", 10, 12, 2.0, &[0, 1])];
    let r = check(&lab.config, &rows, &ask("bob", 10, 12, 1, named("node0"))).unwrap_err();
    assert_eq!(r.code(), "node_capacity", "{r}");
    let Refusal::Capacity { scope, .. } = &r else {
        panic!("{r:?}")
    };
    assert_eq!(*scope, ScopeName::Node("node0".into()));
    // node1 is free at 10:00, but bob asked for node0: the window is node0's.
    assert_eq!(r.suggestion(), window(12, 14));
    assert_eq!(r.suggested_node(), Some("node0"));
    let text = r.to_string();
    assert!(
        text.contains("not enough gpus on node0 at 2026-11-24 10:00"),
        "{text}"
    );
    assert!(
        text.ends_with("2026-11-24 12:00 to 2026-11-24 14:00 on node0"),
        "{text}"
    );
    // The same request for node1 is admitted there.
    assert_eq!(
        check(&lab.config, &rows, &ask("bob", 10, 12, 1, named("node1"))),
        Ok(placed("node1", &[0]))
    );
}

#[test]
fn any_with_every_node_full_suggests_the_earliest_window_on_any_node() {
    let lab = lab(true);
    // node0 is full until 14:00, node1 until 12:00.
    let rows = [
        row("alice", "node0", 10, 14, 2.0, &[0, 1]),
        row("dave", "node1", 10, 12, 2.0, &[0, 1, 2, 3]),
    ];
    let r = check(&lab.config, &rows, &ask("bob", 10, 12, 1, NodeChoice::Any)).unwrap_err();
    assert!(r.is_capacity(), "{r}");
    assert_eq!(r.suggestion(), window(12, 14));
    assert_eq!(r.suggested_node(), Some("node1"));
    assert!(r.to_string().ends_with(" on node1"), "{r}");
    // Taking the suggestion with `any` lands on that node.
    assert_eq!(
        check(&lab.config, &rows, &ask("bob", 12, 14, 1, NodeChoice::Any)),
        Ok(placed("node1", &[0]))
    );
}

#[test]
fn a_groups_total_spans_every_node() {
    let lab = lab(true);
    // bob (phd) holds 2 of the group's 3 GPUs on node0.
    let rows = [row("bob", "node0", 10, 12, 2.0, &[0, 1])];
    // carol (phd) would fit node1 alone, but the group would hold 4.
    let r = check(
        &lab.config,
        &rows,
        &ask("carol", 10, 12, 2, NodeChoice::Any),
    )
    .unwrap_err();
    assert_eq!(r.code(), "group_total", "{r}");
    assert_eq!(r.suggestion(), window(12, 14));
    // One GPU keeps the group at its 3.
    assert_eq!(
        check(
            &lab.config,
            &rows,
            &ask("carol", 10, 12, 1, NodeChoice::Any)
        ),
        Ok(placed("node1", &[0]))
    );
    // dave is in no group: two more GPUs on node1 are his.
    assert_eq!(
        check(&lab.config, &rows, &ask("dave", 10, 12, 2, NodeChoice::Any)),
        Ok(placed("node1", &[0, 1]))
    );
}

#[test]
fn gpu_ids_are_places_in_each_nodes_own_plan() {
    let lab = lab(true);
    let mut rows = Vec::new();
    let a = check(&lab.config, &rows, &ask("alice", 10, 12, 1, named("node0"))).unwrap();
    assert_eq!(a, placed("node0", &[0]));
    rows.push(row("alice", "node0", 10, 12, 2.0, a.gpus.ids()));
    // GPU 0 of node0 is taken; GPU 0 of node1 is another GPU, and free.
    let b = check(&lab.config, &rows, &ask("bob", 10, 12, 1, named("node1"))).unwrap();
    assert_eq!(b, placed("node1", &[0]));
    // On node0 the next booking gets the next id.
    assert_eq!(
        check(&lab.config, &rows, &ask("carol", 10, 12, 1, named("node0"))),
        Ok(placed("node0", &[1]))
    );
}

#[test]
fn an_extension_is_checked_on_the_bookings_own_node() {
    let lab = lab(true);
    let held = GpuSet::new(vec![0]);
    let extend = |rows: &[Row]| {
        let ctx = Context {
            config: &lab.config,
            rows: rows.iter().collect(),
            now_slot: t(NOW),
        };
        admit_fixed(&ctx, &ask("bob", 10, 14, 1, named("node1")), &held)
    };
    // GPU 0 of node0 from 12:00 is another node's: bob's GPU 0 of node1 stays free.
    assert_eq!(extend(&[row("alice", "node0", 12, 14, 2.0, &[0])]), Ok(()));
    // GPU 0 of node1 from 12:00 is the one bob holds.
    let r = extend(&[row("alice", "node1", 12, 14, 2.0, &[0])]).unwrap_err();
    assert_eq!(r.code(), "no_gpu_free", "{r}");
    assert!(r.to_string().contains("free on node1"), "{r}");
}

#[test]
fn fractional_cpus_and_unknown_nodes_are_refused_on_a_cluster_only() {
    let cluster = lab(true);
    let mut half = ask("bob", 10, 12, 0, NodeChoice::Any);
    half.cpus = 1.5;
    let r = check(&cluster.config, &[], &half).unwrap_err();
    assert_eq!(r.code(), "whole_cpus", "{r}");
    assert!(r.to_string().contains("ask for 1 or 2"), "{r}");

    let r = check(&cluster.config, &[], &ask("bob", 10, 12, 0, named("node9"))).unwrap_err();
    assert_eq!(r.code(), "unknown_node", "{r}");
    assert!(r.to_string().contains("node0, node1"), "{r}");

    // A single host takes the half cpu, and has no nodes to choose: the name is ignored.
    let single = lab(false);
    let got = check(&single.config, &[], &half).unwrap();
    assert_eq!(got.node, None);
    let got = check(&single.config, &[], &ask("bob", 10, 12, 1, named("node9"))).unwrap();
    assert_eq!(
        got,
        Placed {
            gpus: GpuSet::new(vec![0]),
            node: None
        }
    );
}

#[test]
fn a_single_host_counts_every_row_whatever_node_it_names() {
    let single = lab(false);
    // Eight GPUs, all held, one on a "node": the host is full all the same.
    let rows = [
        row("alice", "node0", 10, 12, 2.0, &[0, 1, 2, 3]),
        row("dave", "elsewhere", 10, 12, 2.0, &[4, 5, 6, 7]),
    ];
    let r = check(
        &single.config,
        &rows,
        &ask("bob", 10, 12, 1, NodeChoice::Any),
    )
    .unwrap_err();
    assert_eq!(r.code(), "host_capacity", "{r}");
    assert_eq!(r.suggested_node(), None);
    assert!(
        r.to_string()
            .ends_with("2026-11-24 12:00 to 2026-11-24 14:00"),
        "{r}"
    );
}

// ---------------------------------------------------------------------------------------
// The report: problems, the node and the bound GPU ids.

fn checker_json(root: &Path) -> Report {
    let out = Command::new(env!("CARGO_BIN_EXE_checker"))
        .arg("--root")
        .arg(root)
        .arg("--json")
        .env("AIVC_NOW", "2026-11-24 11:00")
        .env("AIVC_MACHINE", "cpus=256,ram=1024,swap=64")
        .output()
        .unwrap();
    let text = String::from_utf8(out.stdout).unwrap();
    serde_json::from_str(&text).unwrap_or_else(|e| panic!("{e}: {text}"))
}

const HEADER: &str = "start,end,user_id,cpus,memory,gpus,forward_port,image,extra_command,node\n";

#[test]
fn rows_on_no_node_or_an_unknown_one_are_problems_and_nodes_are_checked_one_by_one() {
    let lab = lab(true);
    let jobs = lab.dir.path().join("jobs");
    std::fs::write(jobs.join("using.csv"), HEADER).unwrap();
    std::fs::write(
        jobs.join("booking.csv"),
        format!(
            "{HEADER}\
2026-11-25 10:00:00,2026-11-25 12:00:00,alice,6.0,4,[0],10001,,,node0
2026-11-25 10:00:00,2026-11-25 12:00:00,bob,6.0,4,[0],10002,,,node0
2026-11-25 10:00:00,2026-11-25 12:00:00,carol,6.0,4,[0],10003,,,node1
2026-11-26 10:00:00,2026-11-26 12:00:00,carol,1.0,4,[],10003,,,node7
2026-11-27 10:00:00,2026-11-27 12:00:00,carol,1.0,4,[],10003,,,
"
        ),
    )
    .unwrap();
    let report = checker_json(lab.dir.path());
    let found = |code: &str| -> Vec<(u64, String)> {
        report
            .problems
            .iter()
            .filter(|p| p.code == code)
            .map(|p| (p.line.unwrap_or(0), p.message.clone()))
            .collect()
    };
    let unknown = found("unknown_node");
    assert_eq!(
        unknown.iter().map(|u| u.0).collect::<Vec<_>>(),
        [5, 6],
        "{unknown:?}"
    );
    assert!(unknown[0].1.contains("`node7`"), "{unknown:?}");
    assert!(unknown[1].1.contains("names no node"), "{unknown:?}");
    // 12 cpus on node0's 8; node1's 6 of 16 and the host's old 32 are no problem.
    let over = found("node_overcommit_cpus");
    assert_eq!(over.len(), 1, "{:?}", report.problems);
    assert!(
        over[0].1.starts_with("node node0's cpus over capacity"),
        "{over:?}"
    );
    assert!(found("overcommit_cpus").is_empty());
    // GPU 0 on node0 twice is a double booking; carol's GPU 0 on node1 is another GPU.
    let double = found("gpu_double_booked");
    assert_eq!(double.len(), 1, "{double:?}");
    assert!(
        double[0].1.starts_with("GPU 0 on node0 is held"),
        "{double:?}"
    );
    // Each row carries its node; the nodes are listed with what they offer.
    assert_eq!(report.rows[0].node.as_deref(), Some("node0"));
    assert_eq!(report.rows[4].node, None);
    let names: Vec<&str> = report.nodes.iter().map(|n| n.name.as_str()).collect();
    assert_eq!(names, ["node0", "node1"]);
    assert_eq!((report.nodes[1].cpus, report.nodes[1].gpus), (16, 4));
    assert_eq!(report.nodes[0].license, "gpu_node0");
}

#[test]
fn a_running_booking_shows_the_gpu_ids_slurm_bound() {
    let lab = lab(true);
    let jobs = lab.dir.path().join("jobs");
    std::fs::write(jobs.join("booking.csv"), HEADER).unwrap();
    std::fs::write(
        jobs.join("using.csv"),
        format!(
            "{HEADER}\
2026-11-24 10:00:00,2026-11-24 12:00:00,alice,2.0,4,\"[0, 1]\",10001,,,node1
2026-11-24 10:00:00,2026-11-24 12:00:00,bob,2.0,4,[0],10002,,,node0
"
        ),
    )
    .unwrap();
    // Slurm bound devices 1 and 3 of node1 to alice's job; bob's is not bound yet.
    std::fs::write(
        jobs.join("slurm-jobs.csv"),
        "job_id,user_id,start,node,bound_gpus\n\
41,alice,2026-11-24 10:00:00,node1,\"[1, 3]\"\n\
42,bob,2026-11-24 10:00:00,node0,\n",
    )
    .unwrap();
    let report = checker_json(lab.dir.path());
    let alice = report.rows.iter().find(|r| r.user_id == "alice").unwrap();
    assert_eq!(
        alice.gpus,
        [0, 1],
        "the places in node1's plan stay as booked"
    );
    assert_eq!(alice.bound_gpus, Some(vec![1, 3]));
    let bob = report.rows.iter().find(|r| r.user_id == "bob").unwrap();
    assert_eq!(bob.bound_gpus, None);
    assert!(report.problems.is_empty(), "{:?}", report.problems);
}

#[test]
fn a_single_hosts_document_has_no_node_keys() {
    let single = lab(false);
    let out = Command::new(env!("CARGO_BIN_EXE_checker"))
        .arg("--root")
        .arg(single.dir.path())
        .arg("--json")
        .env("AIVC_NOW", "2026-11-21 15:47")
        .env("AIVC_MACHINE", "cpus=256,ram=1024,swap=64")
        .output()
        .unwrap();
    let value: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    assert!(value.get("nodes").is_none(), "{value}");
    for row in value["rows"].as_array().unwrap() {
        assert!(
            row.get("node").is_none() && row.get("bound_gpus").is_none(),
            "{row}"
        );
    }
    assert!(!value["rows"].as_array().unwrap().is_empty());
}

#[test]
fn limits_list_each_node_on_a_cluster_only() {
    let run = |lab: &Lab| {
        let out = Command::new(env!("CARGO_BIN_EXE_checker"))
            .arg("--root")
            .arg(lab.dir.path())
            .args(["limits", "bob"])
            .output()
            .unwrap();
        String::from_utf8(out.stdout).unwrap()
    };
    let text = run(&lab(true));
    assert!(text.contains("each booking runs on one node"), "{text}");
    assert!(
        text.contains("node1") && text.contains("16 cpus, 64 GB, 4 GPUs"),
        "{text}"
    );
    assert!(!run(&lab(false)).contains("node"));
}

#[test]
fn limits_are_held_against_the_cluster_and_its_largest_node_not_the_hosts_max() {
    // The host's `max` says 32 cpus and 8 GPUs; the cluster has 24 cpus and 6 GPUs, the
    // largest node 16 cpus and 4 GPUs.
    let capability = CAPABILITY
        .replace("total: {gpus: 3}", "total: {gpus: 7, cpus: 20}")
        .replace(
            "max_default_capability:\n  cpus: 8",
            "max_default_capability:\n  cpus: 18",
        );
    let warnings = |cluster: bool| -> Vec<String> {
        let lab = lab(cluster);
        std::fs::write(
            lab.dir.path().join("cfg/capability_config.yaml"),
            &capability,
        )
        .unwrap();
        checker_json(lab.dir.path())
            .problems
            .into_iter()
            .filter(|p| p.code == "config")
            .map(|p| p.message)
            .filter(|m| m.contains("more than"))
            .collect()
    };
    let on_cluster = warnings(true);
    assert!(
        on_cluster.contains(&"group phd's total gpus is 7, more than the cluster's 6; the cluster's capacity binds first".to_string()),
        "{on_cluster:?}"
    );
    assert!(
        on_cluster
            .iter()
            .any(|m| m.contains("may book cpus 18, more than the largest node's 16")),
        "{on_cluster:?}"
    );
    assert!(
        !on_cluster.iter().any(|m| m.contains("host")),
        "{on_cluster:?}"
    );
    // A single host holds them against its own `max`: 7 GPUs and 18 cpus fit its 8 and 32.
    assert!(warnings(false).is_empty(), "{:?}", warnings(false));
}
