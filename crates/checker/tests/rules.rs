//! The booking rules against the lab fixture (16 cpus, 80 GB, 2 GPUs; alice may
//! take the whole host, everyone else 8 cpus, 32 GB and 1 GPU).

mod common;

use checker::{admit, Context, Refusal, Request, Resource, Window};
use chrono::NaiveDateTime;
use hostinfo::schedule::{GpuSet, Row};
use hostinfo::{Config, Root};

fn t(text: &str) -> NaiveDateTime {
    NaiveDateTime::parse_from_str(text, "%Y-%m-%d %H:%M").unwrap()
}

fn lab() -> Config {
    Root::at(common::fixtures().join("roots/lab"))
        .load_config()
        .unwrap()
}

fn row(user: &str, from: &str, to: &str, cpus: f64, memory: u32, gpus: &[u32], port: u16) -> Row {
    Row {
        start: t(from),
        end: t(to),
        user_id: user.into(),
        cpus,
        memory,
        gpus: GpuSet::new(gpus.to_vec()),
        forward_port: port,
        image: None,
        extra_command: None,
        node: None,
    }
}

fn ask(user: &str, from: &str, to: &str, cpus: f64, memory: u32, gpus: u32) -> Request {
    let port = match user {
        "alice" => 10001,
        "bob" => 10002,
        "carol" => 10003,
        _ => 10004,
    };
    Request {
        user_id: user.into(),
        cpus,
        memory,
        gpus,
        start: t(from),
        end: t(to),
        forward_port: port,
        image: None,
        node: checker::NodeChoice::Any,
    }
}

fn check(config: &Config, rows: &[Row], req: &Request) -> Result<GpuSet, Refusal> {
    let ctx = Context {
        config,
        rows: rows.iter().collect(),
        now_slot: t("2026-11-21 15:30"),
    };
    admit(&ctx, req)
}

const D: (&str, &str) = ("2026-11-23 10:00", "2026-11-23 12:00");

#[test]
fn an_empty_schedule_admits_a_plain_request() {
    assert_eq!(
        check(&lab(), &[], &ask("bob", D.0, D.1, 4.0, 16, 1)),
        Ok(GpuSet::new(vec![0]))
    );
    assert_eq!(
        check(&lab(), &[], &ask("bob", D.0, D.1, 1.0, 1, 0)),
        Ok(GpuSet::default())
    );
}

#[test]
fn refuses_user_ids_that_could_become_paths_or_flags() {
    for id in ["../x", "-rm", "a b", ""] {
        let r = check(&lab(), &[], &ask(id, D.0, D.1, 1.0, 1, 0));
        assert!(matches!(r, Err(Refusal::BadUserId { .. })), "{id}: {r:?}");
    }
}

#[test]
fn refuses_users_not_in_the_allow_list() {
    let r = check(&lab(), &[], &ask("mallory", D.0, D.1, 1.0, 1, 0));
    assert_eq!(
        r,
        Err(Refusal::NotAllowed {
            id: "mallory".into()
        })
    );
}

#[test]
fn refuses_below_the_minimums() {
    let r = check(&lab(), &[], &ask("bob", D.0, D.1, 0.5, 1, 0));
    assert!(
        matches!(
            r,
            Err(Refusal::BelowMinimum {
                field: Resource::Cpus,
                ..
            })
        ),
        "{r:?}"
    );
    let r = check(&lab(), &[], &ask("bob", D.0, D.1, 1.0, 0, 0));
    assert!(
        matches!(
            r,
            Err(Refusal::BelowMinimum {
                field: Resource::Memory,
                ..
            })
        ),
        "{r:?}"
    );
    assert!(
        check(&lab(), &[], &ask("bob", D.0, D.1, 1.5, 1, 0)).is_ok(),
        "decimal cpus are fine"
    );
}

#[test]
fn the_maximum_is_custom_then_default_then_host() {
    let config = lab();
    let over = |r: Result<GpuSet, Refusal>, f: Resource| matches!(r, Err(Refusal::OverMaximum { field, .. }) if field == f);
    assert!(over(
        check(&config, &[], &ask("bob", D.0, D.1, 9.0, 1, 0)),
        Resource::Cpus
    ));
    assert!(over(
        check(&config, &[], &ask("bob", D.0, D.1, 1.0, 33, 0)),
        Resource::Memory
    ));
    assert!(over(
        check(&config, &[], &ask("bob", D.0, D.1, 1.0, 1, 2)),
        Resource::Gpus
    ));
    // alice: cpus and gpus `max` (the host's), memory from the default.
    assert!(check(&config, &[], &ask("alice", D.0, D.1, 16.0, 32, 2)).is_ok());
    assert!(over(
        check(&config, &[], &ask("alice", D.0, D.1, 17.0, 1, 0)),
        Resource::Cpus
    ));
    assert!(over(
        check(&config, &[], &ask("alice", D.0, D.1, 1.0, 33, 0)),
        Resource::Memory
    ));
}

#[test]
fn refuses_an_image_outside_the_list_and_takes_none_as_the_default() {
    let mut req = ask("bob", D.0, D.1, 1.0, 1, 0);
    req.image = Some("evil/image:latest".into());
    assert!(matches!(
        check(&lab(), &[], &req),
        Err(Refusal::ImageNotAllowed { .. })
    ));
    req.image = Some("aivc/workspace:cuda12".into());
    assert!(check(&lab(), &[], &req).is_ok());
}

#[test]
fn ports_must_be_in_range_not_anothers_and_not_in_use_meanwhile() {
    let config = lab();
    let mut req = ask("dave", D.0, D.1, 1.0, 1, 0);
    req.forward_port = 10000;
    assert_eq!(
        check(&config, &[], &req),
        Err(Refusal::PortOutOfRange { port: 10000 })
    );
    req.forward_port = 10002;
    assert!(
        matches!(check(&config, &[], &req), Err(Refusal::PortConfiguredForOther { ref other, .. }) if other == "bob")
    );
    req.forward_port = 10050;
    let rows = [row(
        "eve",
        "2026-11-23 11:00",
        "2026-11-23 13:00",
        1.0,
        1,
        &[],
        10050,
    )];
    assert!(matches!(
        check(&config, &rows, &req),
        Err(Refusal::PortInUse { .. })
    ));
    let touching = [row(
        "eve",
        "2026-11-23 12:00",
        "2026-11-23 13:00",
        1.0,
        1,
        &[],
        10050,
    )];
    assert!(check(&config, &touching, &req).is_ok());
}

#[test]
fn own_bookings_may_touch_but_not_overlap() {
    let config = lab();
    let before = [row(
        "bob",
        "2026-11-23 08:00",
        "2026-11-23 10:00",
        1.0,
        1,
        &[],
        10002,
    )];
    assert!(check(&config, &before, &ask("bob", D.0, D.1, 1.0, 1, 0)).is_ok());
    let overlapping = [row(
        "bob",
        "2026-11-23 08:00",
        "2026-11-23 10:30",
        1.0,
        1,
        &[],
        10002,
    )];
    assert!(matches!(
        check(&config, &overlapping, &ask("bob", D.0, D.1, 1.0, 1, 0)),
        Err(Refusal::OwnOverlap { .. })
    ));
}

#[test]
fn cpus_are_checked_at_every_instant_not_per_booking() {
    let config = lab();
    // 6 + 6 cpus overlap only 11:00–11:30; a 5-cpu request over 10–12 hits 17 there.
    let rows = [
        row(
            "alice",
            "2026-11-23 09:00",
            "2026-11-23 11:30",
            6.0,
            1,
            &[],
            10001,
        ),
        row(
            "carol",
            "2026-11-23 11:00",
            "2026-11-23 14:00",
            6.0,
            1,
            &[],
            10003,
        ),
    ];
    let r = check(&config, &rows, &ask("bob", D.0, D.1, 5.0, 1, 0));
    match r {
        Err(Refusal::Capacity {
            resource: Resource::Cpus,
            at,
            booked,
            suggestion,
            ..
        }) => {
            assert_eq!(at, t("2026-11-23 11:00"));
            assert_eq!(booked, 12.0);
            // alice's booking ends at 11:30: from then carol's 6 and bob's 5 fit in 16.
            assert_eq!(
                suggestion,
                Some(Window {
                    start: t("2026-11-23 11:30"),
                    end: t("2026-11-23 13:30")
                })
            );
        }
        other => panic!("{other:?}"),
    }
    assert!(
        check(&config, &rows, &ask("bob", D.0, D.1, 4.0, 1, 0)).is_ok(),
        "16 of 16 fits exactly"
    );
}

#[test]
fn memory_is_checked_over_time_too() {
    let config = lab();
    let rows = [row(
        "alice",
        "2026-11-23 11:30",
        "2026-11-23 12:30",
        1.0,
        60,
        &[],
        10001,
    )];
    let r = check(&config, &rows, &ask("bob", D.0, D.1, 1.0, 21, 0));
    assert!(
        matches!(
            r,
            Err(Refusal::Capacity {
                resource: Resource::Memory,
                ..
            })
        ),
        "{r:?}"
    );
    assert!(check(&config, &rows, &ask("bob", D.0, D.1, 1.0, 20, 0)).is_ok());
}

/// Regression: the Python version checked slot by slot and handed out GPU 0 here.
#[test]
fn refuses_gpu_busy_for_part_of_window() {
    let config = lab();
    let rows = [
        row(
            "alice",
            "2026-11-23 10:00",
            "2026-11-23 11:00",
            1.0,
            1,
            &[0],
            10001,
        ),
        row(
            "carol",
            "2026-11-23 11:00",
            "2026-11-23 12:00",
            1.0,
            1,
            &[1],
            10003,
        ),
    ];
    let r = check(&config, &rows, &ask("bob", D.0, D.1, 1.0, 1, 1));
    match r {
        Err(Refusal::NoGpuFree {
            asked: 1,
            suggestion,
            ..
        }) => {
            assert_eq!(
                suggestion,
                Some(Window {
                    start: t("2026-11-23 11:00"),
                    end: t("2026-11-23 13:00")
                })
            );
        }
        other => panic!("{other:?}"),
    }
}

#[test]
fn gpu_choice_keeps_long_free_stretches_whole() {
    let config = lab();
    // GPU 1 is busy right before and right after the window; GPU 0 is free all week.
    let rows = [
        row(
            "alice",
            "2026-11-23 08:00",
            "2026-11-23 10:00",
            1.0,
            1,
            &[1],
            10001,
        ),
        row(
            "carol",
            "2026-11-23 12:00",
            "2026-11-23 14:00",
            1.0,
            1,
            &[1],
            10003,
        ),
    ];
    assert_eq!(
        check(&config, &rows, &ask("bob", D.0, D.1, 1.0, 1, 1)),
        Ok(GpuSet::new(vec![1]))
    );
}

#[test]
fn no_suggestion_when_nothing_fits_in_two_weeks() {
    let config = lab();
    let rows = [row(
        "alice",
        "2026-11-21 09:00",
        "2026-12-20 09:00",
        16.0,
        1,
        &[],
        10001,
    )];
    let r = check(&config, &rows, &ask("bob", D.0, D.1, 1.0, 1, 0));
    match r {
        Err(
            e @ Refusal::Capacity {
                suggestion: None, ..
            },
        ) => {
            assert!(
                e.to_string()
                    .contains("no window of that length and size fits"),
                "{e}"
            );
        }
        other => panic!("{other:?}"),
    }
}

#[test]
fn a_suggestion_also_avoids_the_users_own_bookings() {
    let config = lab();
    let rows = [
        row(
            "alice",
            "2026-11-23 09:00",
            "2026-11-23 12:00",
            16.0,
            1,
            &[],
            10001,
        ),
        row(
            "bob",
            "2026-11-23 12:00",
            "2026-11-23 13:00",
            0.0,
            1,
            &[],
            10002,
        ),
    ];
    let r = check(&config, &rows, &ask("bob", D.0, D.1, 1.0, 1, 0)).unwrap_err();
    assert_eq!(
        r.suggestion(),
        Some(Window {
            start: t("2026-11-23 13:00"),
            end: t("2026-11-23 15:00")
        })
    );
}
