//! The web on a cluster (`cfg/cluster.yaml`): the booking form offers a node (any, or one by
//! name), the JSON API takes an optional `node` and answers with it, the Now page lists
//! the nodes. On a single host none of it shows, and a `node` is refused.

mod common;
#[path = "../../../tests/support/roots.rs"]
mod roots;

use common::{Client, Dashboard, Lab};

const CLUSTER: &str = "\
engine: slurm
nodes:
  node0: {cpus: 16, memory: 64, gpus: 4}
  node1: {cpus: 16, memory: 64, gpus: 4}
";

/// The small lab as a cluster: its rows are moved onto node0.
fn cluster_lab() -> Lab {
    let lab = Lab::small();
    std::fs::write(lab.path().join("cfg/cluster.yaml"), CLUSTER).unwrap();
    for table in ["booking.csv", "using.csv"] {
        let path = lab.path().join("jobs").join(table);
        let text = std::fs::read_to_string(&path).unwrap();
        let mut lines = text.lines();
        let mut out = format!("{},node\n", lines.next().unwrap());
        for line in lines {
            out += &format!("{line},node0\n");
        }
        std::fs::write(&path, out).unwrap();
    }
    lab
}

fn body(node: Option<&str>) -> serde_json::Value {
    let mut b = serde_json::json!({
        "cpus": 1, "memory": 1, "gpus": 1,
        "start": "2026-11-25 10:00", "end": "2026-11-25 12:00",
    });
    if let Some(n) = node {
        b["node"] = n.into();
    }
    b
}

#[test]
fn a_cluster_books_on_the_node_asked_and_shows_it() {
    let lab = cluster_lab();
    let d = Dashboard::start(lab.path());
    let bob = Client::sign_in(&d, "bob", "pw-bob");

    let form = bob.get("/book");
    form.expect_status(200);
    assert!(
        form.body.contains(r#"<select id="node" name="node">"#),
        "{}",
        form.body
    );
    assert!(
        form.body
            .contains(r#"<option value="node1">node1</option>"#),
        "{}",
        form.body
    );

    bob.api("POST", "/api/v1/bookings", Some(&body(Some("node1"))))
        .expect_status(201);
    let rows = std::fs::read_to_string(lab.path().join("jobs/booking.csv")).unwrap();
    assert!(
        rows.contains("2026-11-25 10:00:00,2026-11-25 12:00:00,bob,1.0,1,[0],10002,,,node1\n"),
        "{rows}"
    );
    let mine = bob.get("/api/v1/bookings").json();
    let booked = mine["bookings"]
        .as_array()
        .unwrap()
        .iter()
        .find(|b| b["start"] == "2026-11-25 10:00:00")
        .unwrap()
        .clone();
    assert_eq!(booked["node"], "node1", "{mine}");
    assert!(
        booked.get("bound_gpus").is_none(),
        "not bound before it runs"
    );

    let my = bob.get("/my");
    assert!(my.body.contains(r#"data-node="node1""#), "{}", my.body);
    let now = d.get("/now");
    assert!(now.body.contains(r#"id="nodes""#), "{}", now.body);
    assert!(now.body.contains(r#"data-node="node0""#), "{}", now.body);
}

#[test]
fn an_unknown_node_is_refused_naming_the_nodes_and_changes_nothing() {
    let lab = cluster_lab();
    let d = Dashboard::start(lab.path());
    let bob = Client::sign_in(&d, "bob", "pw-bob");
    let before = roots::tree(lab.path());
    let a = bob.api("POST", "/api/v1/bookings", Some(&body(Some("node9"))));
    a.expect_status(422);
    assert!(a.body.contains("node0, node1"), "{}", a.body);
    assert!(roots::tree(lab.path()) == before, "a refusal changed files");
}

#[test]
fn a_single_host_offers_no_node_and_refuses_one() {
    let lab = Lab::small();
    let d = Dashboard::start(lab.path());
    let bob = Client::sign_in(&d, "bob", "pw-bob");
    let form = bob.get("/book");
    assert!(!form.body.contains("name=\"node\""), "{}", form.body);
    let before = roots::tree(lab.path());
    let a = bob.api("POST", "/api/v1/bookings", Some(&body(Some("node0"))));
    a.expect_status(422);
    assert!(
        a.body.contains("a node can be chosen only on a cluster"),
        "{}",
        a.body
    );
    assert!(roots::tree(lab.path()) == before, "a refusal changed files");
    // Without a node it books as always.
    bob.api("POST", "/api/v1/bookings", Some(&body(None)))
        .expect_status(201);
    assert!(!d.get("/now").body.contains(r#"id="nodes""#));
}
