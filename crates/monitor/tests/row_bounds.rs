//! Rows the monitor must never start (below the minimums, longer than 14 days): each tick
//! skips them with a ContainerWarning saying why, and starts the sound rows beside them.

mod common;

const HEADER: &str = "start,end,user_id,cpus,memory,gpus,forward_port,image,extra_command\n";

/// Regression: a row with cpus 0.5, memory 0 or a 15-day window was started like any other
/// (docker got `--cpus=0.5`, `--memory=0g`, and a container that outlived the horizon).
#[test]
fn unsound_rows_are_never_started_and_each_tick_says_why() {
    let lab = common::Lab::new(None);
    std::fs::write(
        lab.path().join("jobs/booking.csv"),
        format!(
            "{HEADER}\
             2026-11-23 10:00:00,2026-11-23 12:00:00,alice,0.5,4,[],10001,,\n\
             2026-11-23 10:00:00,2026-11-23 12:00:00,bob,1.0,0,[],10002,,\n\
             2026-11-23 09:30:00,2026-12-08 09:30:00,carol,1.0,1,[],10003,,\n\
             2026-11-23 10:00:00,2026-11-23 12:00:00,dora,1.0,1,[],10004,,\n"
        ),
    )
    .unwrap();
    std::fs::write(lab.path().join("jobs/using.csv"), HEADER).unwrap();
    let warnings = [
        "alice's booking from 2026-11-23 10:00 to 2026-11-23 12:00 is not started: cpus: cpus 0.5 is below the minimum of 1.",
        "bob's booking from 2026-11-23 10:00 to 2026-11-23 12:00 is not started: memory: memory 0 is below the minimum of 1.",
        "carol's booking from 2026-11-23 09:30 to 2026-12-08 09:30 is not started: end: lasts from 2026-11-23 09:30:00 to 2026-12-08 09:30:00, longer than the 14 days a booking may.",
    ];
    for tick in 1..=2 {
        let before = lab.file("jobs/monitor.log");
        let out = lab.monitor(common::NOW, &[], &[]);
        assert_eq!(
            out.status.code(),
            Some(0),
            "{}",
            String::from_utf8_lossy(&out.stderr)
        );
        let logged = lab.file("jobs/monitor.log")[before.len()..].to_string();
        for w in warnings {
            let line = format!("20261123 10:00 [WARNING] ContainerWarning, {w}\n");
            assert_eq!(logged.matches(&line).count(), 1, "tick {tick}: {logged}");
        }
        assert_eq!(lab.fake_containers(), ["dora"], "tick {tick}");
        let docker_log = lab.docker_log();
        let run: Vec<&str> = docker_log
            .lines()
            .filter(|l| l.starts_with("run "))
            .map(|l| l.split(' ').find(|w| w.starts_with("--name=")).unwrap())
            .collect();
        assert_eq!(
            run,
            ["--name=dora"],
            "tick {tick}: only the sound row ever ran"
        );
    }
    // The unsound rows wait in booking.csv (until their end files them as missed).
    let booking = lab.file("jobs/booking.csv");
    assert!(["alice", "bob", "carol"]
        .iter()
        .all(|id| booking.contains(&format!(",{id},"))));
    assert!(lab.file("jobs/using.csv").contains(",dora,"));
}
