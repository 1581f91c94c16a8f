//! docs/data-flow.md and the workspace cannot drift: the diagram's crate nodes are exactly
//! the workspace members, and its `uses` arrows exactly their dependencies on each other,
//! as `cargo metadata` reports them.

use std::collections::BTreeSet;
use std::path::Path;
use std::process::Command;

fn workspace() -> &'static Path {
    Path::new(concat!(env!("CARGO_MANIFEST_DIR"), "/../.."))
}

/// (crate names, internal dependency edges) from cargo metadata.
fn cargo_graph() -> (BTreeSet<String>, BTreeSet<(String, String)>) {
    let cargo = std::env::var("CARGO").unwrap_or_else(|_| "cargo".into());
    let out = Command::new(cargo)
        .args([
            "metadata",
            "--format-version",
            "1",
            "--no-deps",
            "--offline",
        ])
        .current_dir(workspace())
        .output()
        .unwrap();
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let meta: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    let packages = meta["packages"].as_array().unwrap();
    let names: BTreeSet<String> = packages
        .iter()
        .map(|p| p["name"].as_str().unwrap().to_string())
        .collect();
    let mut edges = BTreeSet::new();
    for p in packages {
        for d in p["dependencies"].as_array().unwrap() {
            let dep = d["name"].as_str().unwrap();
            let normal = d["kind"].is_null();
            if normal && names.contains(dep) {
                edges.insert((p["name"].as_str().unwrap().to_string(), dep.to_string()));
            }
        }
    }
    (names, edges)
}

/// (crate names, `uses` edges) from the Mermaid diagram; node ids map to the crate name
/// written first in the node's label.
fn diagram_graph() -> (BTreeSet<String>, BTreeSet<(String, String)>) {
    let text = std::fs::read_to_string(workspace().join("docs/data-flow.md")).unwrap();
    let mut ids = std::collections::BTreeMap::new();
    let mut edges = Vec::new();
    for line in text.lines().map(str::trim) {
        if let Some(decl) = line.strip_suffix(":::crate") {
            let (id, label) = decl
                .split_once("[\"")
                .expect("crate node: id[\"name<br/>kind\"]");
            let name = label.split(['<', '"']).next().unwrap();
            ids.insert(id.to_string(), name.to_string());
        } else if let Some((from, to)) = line.split_once("==>|uses|") {
            edges.push((from.trim().to_string(), to.trim().to_string()));
        }
    }
    let names = ids.values().cloned().collect();
    let edges = edges
        .into_iter()
        .map(|(a, b)| {
            let name = |id: &str| {
                ids.get(id)
                    .unwrap_or_else(|| panic!("`{id}` is not a crate node"))
                    .clone()
            };
            (name(&a), name(&b))
        })
        .collect();
    (names, edges)
}

#[test]
fn the_data_flow_diagram_matches_the_crate_graph() {
    let (crates, deps) = cargo_graph();
    let (nodes, arrows) = diagram_graph();
    assert_eq!(
        nodes, crates,
        "crate nodes in docs/data-flow.md vs workspace members"
    );
    assert_eq!(
        arrows, deps,
        "`uses` arrows in docs/data-flow.md vs Cargo.toml dependencies"
    );
}

#[test]
fn only_the_allowed_dependencies_exist() {
    // booking → checker → hostinfo; monitor → hostinfo (and checker if it needs a rule);
    // run-container → hostinfo (and checker for the quota rule). The two that run docker and enter users' folders share
    // docker-client (→ hostinfo) and userfs (→ nothing). Nothing depends on a binary crate,
    // and the web and the CLI book through one library of booking operations (booking-ops).
    // An edge may be allowed before it exists; only the edges that exist are checked.
    let allowed: BTreeSet<(&str, &str)> = [
        ("booking", "checker"),
        ("booking", "hostinfo"),
        // The booking operations (book, wait, cancel, end-at, sign up, authenticate): one
        // library that the CLI and the web both book through, over checker's rules.
        ("booking", "booking-ops"),
        ("booking-ops", "checker"),
        ("booking-ops", "hostinfo"),
        ("checker", "hostinfo"),
        ("monitor", "hostinfo"),
        ("monitor", "checker"),
        ("run-container", "hostinfo"),
        ("run-container", "checker"),
        ("monitor", "docker-client"),
        ("monitor", "userfs"),
        ("run-container", "docker-client"),
        ("run-container", "userfs"),
        ("docker-client", "hostinfo"),
        // The notices' delivery: run by the monitor, writing into the students' folders
        // through userfs only.
        ("monitor", "notices"),
        ("notices", "hostinfo"),
        ("notices", "userfs"),
        // Usage sampling: run by the monitor (`--sample`); read-only docker queries.
        ("monitor", "usage"),
        ("usage", "hostinfo"),
        ("usage", "docker-client"),
        // The dashboard: reads through hostinfo, reports through checker; writes nothing.
        ("dashboard", "hostinfo"),
        ("dashboard", "checker"),
        // Booking from the web (issue 18) through the CLI's own operations, not a copy.
        ("dashboard", "booking-ops"),
        // Cluster mode (issue 19): the monitor mirrors the schedule into Slurm through a
        // crate of its own, which reads and writes only through hostinfo.
        ("monitor", "cluster"),
        ("cluster", "hostinfo"),
    ]
    .into();
    for (a, b) in cargo_graph().1 {
        assert!(
            allowed.contains(&(a.as_str(), b.as_str())),
            "{a} may not depend on {b}"
        );
    }
}
