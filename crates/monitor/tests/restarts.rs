//! Restart requests (`restart <id>` in jobs/monitor_exec) against the stand-in docker:
//! however many arrive, a user's container restarts once per tick and at most once a
//! minute, and every request is consumed.

mod common;

const HEADER: &str = "start,end,user_id,cpus,memory,gpus,forward_port,image,extra_command\n";

/// bob's booking runs 09:00 to 12:00 and his container last started long ago.
fn lab_with_bobs_container() -> common::Lab {
    let lab = common::Lab::new(None);
    std::fs::write(
        lab.path().join("jobs/using.csv"),
        format!("{HEADER}2026-11-23 09:00:00,2026-11-23 12:00:00,bob,1.0,1,[],10002,,\n"),
    )
    .unwrap();
    lab.fake_container(
        "bob",
        "b0b\tbob\trunning\tbob\t$INSTALLATION\t2026-11-23 09:00:00\t2026-11-23 12:00:00\t\t10002\t2020-01-01T00:00:00Z\n",
    );
    lab
}

fn restarts(lab: &common::Lab) -> usize {
    lab.docker_log()
        .lines()
        .filter(|l| l.starts_with("restart "))
        .count()
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

/// Regression: 20 requests gave 20 serial 30-second restarts.
#[test]
fn twenty_requests_in_one_tick_restart_once_and_a_tick_right_after_restarts_none() {
    let lab = lab_with_bobs_container();
    std::fs::write(
        lab.path().join("jobs/monitor_exec"),
        "restart bob\n".repeat(20),
    )
    .unwrap();
    tick(&lab);
    assert_eq!(restarts(&lab), 1, "{}", lab.docker_log());
    assert!(
        lab.docker_log().contains("restart -t 10 b0b\n"),
        "by id, with a bounded grace: {}",
        lab.docker_log()
    );
    assert_eq!(lab.file("jobs/monitor_exec"), "", "all 20 were consumed");
    assert_eq!(
        lab.file("jobs/monitor.log"),
        "20261123 10:00 [INFO] bob's container is restarted.\n"
    );

    std::fs::write(lab.path().join("jobs/monitor_exec"), "restart bob\n").unwrap();
    tick(&lab);
    assert_eq!(restarts(&lab), 1, "{}", lab.docker_log());
    assert_eq!(
        lab.file("jobs/monitor_exec"),
        "",
        "the request was consumed"
    );
    let last = lab.file("jobs/monitor.log");
    let last = last.lines().last().unwrap();
    assert!(
        last.starts_with("20261123 10:00 [WARNING] ContainerWarning, bob's container started ")
            && last.ends_with(
                " s ago; a restart is done at most once every 60 s, so this request is dropped."
            ),
        "{last}"
    );
}

#[test]
fn another_installations_container_is_never_restarted() {
    let lab = lab_with_bobs_container();
    lab.fake_container(
        "bob",
        "b0b\tbob\trunning\tbob\tfeedfeedfeedfeed\t2026-11-23 09:00:00\t2026-11-23 12:00:00\t\t10002\t2020-01-01T00:00:00Z\n",
    );
    std::fs::write(lab.path().join("jobs/monitor_exec"), "restart bob\n").unwrap();
    tick(&lab);
    assert_eq!(restarts(&lab), 0, "{}", lab.docker_log());
    assert!(
        lab.file("jobs/monitor.log")
            .contains("restart asked for bob, who has no running container"),
        "{}",
        lab.file("jobs/monitor.log")
    );
    assert_eq!(lab.fake_containers(), ["bob"], "and never closed");
}
