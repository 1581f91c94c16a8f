//! Which containers a tick may act on, against the stand-in docker: its own installation's,
//! and a container started before containers carried an installation label only when it
//! matches a `using.csv` row of this root by name and port. Anyone else's is left alone.

mod common;

const HEADER: &str = "start,end,user_id,cpus,memory,gpus,forward_port,image,extra_command\n";

/// A fake container with no installation label, as run-container started them before.
fn unlabelled(lab: &common::Lab, name: &str, id: &str, port: u16) {
    lab.fake_container(
        name,
        &format!("{id}\t{name}\trunning\t{name}\t\t2026-11-23 08:00:00\t2026-11-23 10:00:00\t\t{port}\t2020-01-01T00:00:00Z\n"),
    );
}

fn tick(lab: &common::Lab) {
    let out = lab.monitor(common::NOW, &[], &[]);
    assert_eq!(
        out.status.code(),
        Some(0),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
}

#[test]
fn an_unlabelled_container_matching_a_using_row_by_name_and_port_is_adopted_and_closed_at_its_end()
{
    let lab = common::Lab::new(None);
    std::fs::write(
        lab.path().join("jobs/using.csv"),
        format!("{HEADER}2026-11-23 08:00:00,2026-11-23 10:00:00,alice,1.0,2,[],10001,,\n"),
    )
    .unwrap();
    unlabelled(&lab, "alice", "a11ce", 10001);
    tick(&lab);
    assert!(lab.fake_containers().is_empty(), "{}", lab.docker_log());
    assert!(
        lab.docker_log().contains("rm -f a11ce"),
        "{}",
        lab.docker_log()
    );
    assert!(lab.file("jobs/used.csv").contains(",alice,"));
    assert_eq!(
        lab.file("jobs/monitor.log"),
        "20261123 10:00 [INFO] alice's booking ended at 2026-11-23 10:00; the container is removed.\n"
    );
}

/// Regression: the reconcile closed every `aivc.user` container its root did not know.
#[test]
fn unlabelled_containers_matching_no_using_row_by_name_and_port_are_left_alone() {
    let lab = common::Lab::new(None);
    // alice's booking ends now, but the container named alice publishes another port: it
    // is not the one this root started. erin has no booking here at all.
    std::fs::write(
        lab.path().join("jobs/using.csv"),
        format!("{HEADER}2026-11-23 08:00:00,2026-11-23 10:00:00,alice,1.0,2,[],10001,,\n"),
    )
    .unwrap();
    unlabelled(&lab, "alice", "a11ce", 10009);
    unlabelled(&lab, "erin", "e1e1", 10005);
    tick(&lab);
    assert_eq!(lab.fake_containers(), ["alice", "erin"]);
    let log = lab.docker_log();
    assert!(
        log.lines()
            .all(|l| !l.starts_with("stop") && !l.starts_with("rm")),
        "{log}"
    );
    assert!(
        lab.file("jobs/used.csv").contains(",alice,"),
        "alice's booking is over all the same"
    );
    assert_eq!(
        lab.file("jobs/monitor.log"),
        "20261123 10:00 [WARNING] ContainerWarning, alice's booking ended at 2026-11-23 10:00; the container named alice is another installation's and is left alone.\n"
    );
}

#[test]
fn another_installations_labelled_container_is_left_alone() {
    let lab = common::Lab::new(None);
    lab.fake_container(
        "frank",
        "f4a4c\tfrank\trunning\tfrank\tfeedfeedfeedfeed\t2026-11-23 08:00:00\t2026-11-23 09:00:00\t\t10006\t2020-01-01T00:00:00Z\n",
    );
    tick(&lab);
    assert_eq!(lab.fake_containers(), ["frank"]);
    assert_eq!(
        lab.docker_log()
            .lines()
            .filter(|l| !l.starts_with("ps "))
            .count(),
        0,
        "{}",
        lab.docker_log()
    );
    assert_eq!(lab.file("jobs/monitor.log"), "");
}

#[test]
fn an_ended_booking_whose_container_is_gone_is_filed_without_touching_docker() {
    let lab = common::Lab::new(None);
    std::fs::write(
        lab.path().join("jobs/using.csv"),
        format!("{HEADER}2026-11-23 08:00:00,2026-11-23 10:00:00,alice,1.0,2,[],10001,,\n"),
    )
    .unwrap();
    tick(&lab);
    assert!(lab.file("jobs/used.csv").contains(",alice,"));
    // Reads only: `ps`, and the look-up by name that would find a Python-version container.
    assert!(
        lab.docker_log()
            .lines()
            .all(|l| l.starts_with("ps ") || l.starts_with("inspect ")),
        "{}",
        lab.docker_log()
    );
    assert_eq!(
        lab.file("jobs/monitor.log"),
        "20261123 10:00 [INFO] alice's booking ended at 2026-11-23 10:00; its container was already gone.\n"
    );
}

/// A container the first version started for a booking still running mounts its backup
/// entries from inside the user's own folder, which the user can re-point before dockerd's
/// next restart: it is re-created once, labelled, with its entries kept by the host.
#[test]
fn a_running_container_of_an_earlier_version_is_re_created_with_our_label() {
    let lab = common::Lab::new(None);
    std::fs::write(
        lab.path().join("jobs/using.csv"),
        format!("{HEADER}2026-11-23 08:00:00,2026-11-23 12:00:00,alice,1.0,2,[],10001,,\n"),
    )
    .unwrap();
    unlabelled(&lab, "alice", "a11ce", 10001);
    tick(&lab);
    let docker = lab.docker_log();
    assert!(
        docker.contains("stop -t 10 a11ce") && docker.contains("rm -f a11ce"),
        "{docker}"
    );
    assert_eq!(lab.fake_containers(), ["alice"]);
    let state = std::fs::read_to_string(lab.state().join("alice")).unwrap();
    assert!(!state.contains("a11ce"), "a new container: {state}");
    assert!(docker.contains("aivc.installation="), "{docker}");
    let log = lab.file("jobs/monitor.log");
    assert!(
        log.contains("alice's container was started by an earlier version"),
        "{log}"
    );
    // The next tick leaves the new one alone.
    let before = lab.docker_log().lines().count();
    tick(&lab);
    let after = lab.docker_log();
    assert!(
        after
            .lines()
            .skip(before)
            .all(|l| !l.starts_with("stop") && !l.starts_with("run")),
        "{after}"
    );
}
