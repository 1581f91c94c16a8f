//! Groups, group totals and the fairness policies (issue 14), rule by rule: each policy
//! admits at its limit and refuses one past it under its own code, a group's total is
//! checked at every instant like the host's, and each limit resolves key by key.
//!
//! The configs are capability_config.yaml texts written into a copy of the lab root, so
//! they go through the same reader as an installation's. The host here is bigger than
//! the lab's: 32 cpus, 128 GB, 8 GPUs; everyone may take 8 cpus, 32 GB and 2 GPUs.

mod common;

use checker::limits::{explain, user_max, Explained, Explanation, Source};
use checker::{admit, admit_fixed, Context, Refusal, Request, Resource, ScopeName, Window};
use chrono::NaiveDateTime;
use hostinfo::schedule::{GpuSet, Row};
use hostinfo::{Config, Root};

const HOST: &str = "\
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
  - erin
  - frank
max_default_capability:
  cpus: 8
  memory: 32
  gpus: 2
  work_space: 100
";

/// phd (bob, carol, frank) shares 12 cpus, 48 GB and 4 GPUs; staff (dave) 2 GPUs; erin
/// is in no group; alice has an exception.
const GROUPS: &str = "\
max_custom_capability:
  alice:
    gpus: max
    reason: thesis runs, approved by the PI
groups:
  phd:
    members: [bob, carol, frank]
    max_capability: {gpus: 4}
    total: {cpus: 12, memory: 48, gpus: 4}
  staff:
    members:
      - dave
    total:
      gpus: 2
";

/// A lab root whose capability config is `HOST` + `rest`, with `files` (path relative to
/// the root, text) written beside it.
struct Lab {
    dir: tempfile::TempDir,
    config: Config,
}

fn lab_with(rest: &str, files: &[(&str, &str)]) -> Lab {
    let dir = common::root_from("lab");
    std::fs::write(
        dir.path().join("cfg/capability_config.yaml"),
        format!("{HOST}{rest}"),
    )
    .unwrap();
    for (rel, text) in files {
        let path = dir.path().join(rel);
        std::fs::create_dir_all(path.parent().unwrap()).unwrap();
        std::fs::write(path, text).unwrap();
    }
    let config = Root::at(dir.path())
        .load_config()
        .unwrap_or_else(|e| panic!("{e}\n{HOST}{rest}"));
    Lab { dir, config }
}

fn lab(rest: &str) -> Lab {
    lab_with(rest, &[])
}

fn t(text: &str) -> NaiveDateTime {
    NaiveDateTime::parse_from_str(text, "%Y-%m-%d %H:%M").unwrap()
}

const NOW: &str = "2026-11-21 15:30";

fn port(user: &str) -> u16 {
    match user {
        "alice" => 10001,
        "bob" => 10002,
        "carol" => 10003,
        "dave" => 10004,
        "erin" => 10005,
        _ => 10006,
    }
}

fn row(user: &str, from: &str, to: &str, cpus: f64, memory: u32, gpus: &[u32]) -> Row {
    Row {
        start: t(from),
        end: t(to),
        user_id: user.into(),
        cpus,
        memory,
        gpus: GpuSet::new(gpus.to_vec()),
        forward_port: port(user),
        image: None,
        extra_command: None,
        node: None,
    }
}

fn ask(user: &str, from: &str, to: &str, cpus: f64, memory: u32, gpus: u32) -> Request {
    Request {
        user_id: user.into(),
        cpus,
        memory,
        gpus,
        start: t(from),
        end: t(to),
        forward_port: port(user),
        image: None,
        node: checker::NodeChoice::Any,
    }
}

fn context<'a>(config: &'a Config, rows: &'a [Row]) -> Context<'a> {
    Context {
        config,
        rows: rows.iter().collect(),
        now_slot: t(NOW),
    }
}

fn check(config: &Config, rows: &[Row], req: &Request) -> Result<GpuSet, Refusal> {
    admit(&context(config, rows), req)
}

/// The refusal, or a panic naming what was admitted.
fn refused(config: &Config, rows: &[Row], req: &Request) -> Refusal {
    match check(config, rows, req) {
        Ok(gpus) => panic!("{req} was admitted with GPUs {gpus}"),
        Err(r) => r,
    }
}

// ---------------------------------------------------------------------------------------
// The four policies, each set by the lab, by a group and by an exception.

/// Where a policy is set for the test, the user it then applies to, and how the refusal
/// names the source. The other two places set a tighter value, so a pass at the limit
/// also proves the nearer one wins.
#[derive(Debug, Clone, Copy)]
struct Source3 {
    name: &'static str,
    user: &'static str,
    words: &'static str,
}

const SOURCES: [Source3; 3] = [
    Source3 {
        name: "lab",
        user: "erin",
        words: "the lab's policy",
    },
    Source3 {
        name: "group",
        user: "bob",
        words: "group phd's policy",
    },
    Source3 {
        name: "exception",
        user: "alice",
        words: "your exception, thesis runs, approved by the PI",
    },
];

/// A config where `key` is `value` at `source` and `tight` everywhere nearer the lab.
/// alice is a member of staff, so her exception overrides a group's value too.
fn policy_lab(source: Source3, key: &str, value: &str, tight: &str) -> Lab {
    let (everyone, group, own) = match source.name {
        "lab" => (value, None, None),
        "group" => (tight, Some(value), None),
        _ => (tight, Some(tight), Some(value)),
    };
    let own = own.map_or(String::new(), |v| format!("    policies: {{{key}: {v}}}\n"));
    let phd = group.map_or(String::new(), |v| format!("    policies: {{{key}: {v}}}\n"));
    let staff = group.map_or(String::new(), |v| format!("    policies: {{{key}: {v}}}\n"));
    lab(&format!(
        "\
max_custom_capability:
  alice:
    gpus: max
    reason: thesis runs, approved by the PI
{own}groups:
  phd:
    members: [bob, carol, frank]
    total: {{cpus: 12, memory: 48, gpus: 4}}
{phd}  staff:
    members: [dave, alice]
{staff}policies:
  {key}: {everyone}
"
    ))
}

fn assert_policy_refusal(r: &Refusal, key: &str, message: &str, case: &str) {
    assert_eq!(r.code(), key, "{case}: {r}");
    assert!(matches!(r, Refusal::Policy { .. }), "{case}: {r:?}");
    assert!(!r.is_capacity() && r.suggestion().is_none(), "{case}");
    assert_eq!(r.to_string(), message, "{case}");
}

#[test]
fn max_active_bookings_admits_at_its_limit_and_refuses_one_more() {
    for source in SOURCES {
        let lab = policy_lab(source, "max_active_bookings", "3", "1");
        let u = source.user;
        // Over before now, or ending exactly at the current slot: not active.
        let over = [
            row(u, "2026-11-20 10:00", "2026-11-20 11:00", 1.0, 1, &[]),
            row(u, "2026-11-21 14:00", "2026-11-21 15:30", 1.0, 1, &[]),
        ];
        // Running (started before the current slot) and future: active.
        let running = row(u, "2026-11-21 15:00", "2026-11-21 17:00", 1.0, 1, &[]);
        let future = [
            row(u, "2026-11-22 10:00", "2026-11-22 11:00", 1.0, 1, &[]),
            row(u, "2026-11-23 10:00", "2026-11-23 11:00", 1.0, 1, &[]),
        ];
        let req = ask(u, "2026-11-24 10:00", "2026-11-24 12:00", 1.0, 1, 0);
        let case = format!("set by the {}", source.name);

        let two: Vec<Row> = [over.to_vec(), vec![running.clone(), future[0].clone()]].concat();
        assert!(check(&lab.config, &two, &req).is_ok(), "{case}: the 3rd");

        let three: Vec<Row> = [over.to_vec(), vec![running], future.to_vec()].concat();
        let r = refused(&lab.config, &three, &req);
        assert_policy_refusal(
            &r,
            "max_active_bookings",
            &format!(
                "you already hold 3 bookings that have not ended; 3 at a time is the most ({}: max_active_bookings)",
                source.words
            ),
            &case,
        );
    }
}

#[test]
fn max_hours_per_booking_admits_at_its_limit_and_refuses_one_slot_more() {
    for source in SOURCES {
        let lab = policy_lab(source, "max_hours_per_booking", "6", "1");
        let u = source.user;
        let case = format!("set by the {}", source.name);
        let at_limit = ask(u, "2026-11-24 10:00", "2026-11-24 16:00", 1.0, 1, 1);
        assert!(
            check(&lab.config, &[], &at_limit).is_ok(),
            "{case}: 6 hours"
        );
        // Across midnight, to be sure it is hours and not clock times that count.
        let night = ask(u, "2026-11-24 21:00", "2026-11-25 03:00", 1.0, 1, 1);
        assert!(check(&lab.config, &[], &night).is_ok(), "{case}: overnight");

        let over = ask(u, "2026-11-24 10:00", "2026-11-24 16:30", 1.0, 1, 1);
        let r = refused(&lab.config, &[], &over);
        assert_policy_refusal(
            &r,
            "max_hours_per_booking",
            &format!(
                "the booking is 6.5 hours long; 6 hours is the longest one booking may be ({}: max_hours_per_booking)",
                source.words
            ),
            &case,
        );
    }
}

#[test]
fn max_gpu_hours_ahead_counts_only_bookings_not_started_and_refuses_past_its_limit() {
    for source in SOURCES {
        let lab = policy_lab(source, "max_gpu_hours_ahead", "8", "0.5");
        let u = source.user;
        let case = format!("set by the {}", source.name);
        let rows = [
            // Running: its GPU-hours are no longer "ahead".
            row(u, "2026-11-21 14:00", "2026-11-21 18:00", 1.0, 1, &[0]),
            // Not started: 1 GPU × 4 hours.
            row(u, "2026-11-25 10:00", "2026-11-25 14:00", 1.0, 1, &[1]),
        ];
        let at_limit = ask(u, "2026-11-24 10:00", "2026-11-24 14:00", 1.0, 1, 1);
        assert!(
            check(&lab.config, &rows, &at_limit).is_ok(),
            "{case}: 4 + 4"
        );
        // No GPUs asked: nothing added, whatever the length.
        let cpu_only = ask(u, "2026-11-24 10:00", "2026-11-24 20:00", 1.0, 1, 0);
        assert!(
            check(&lab.config, &rows, &cpu_only).is_ok(),
            "{case}: no GPU"
        );

        let over = ask(u, "2026-11-24 10:00", "2026-11-24 14:30", 1.0, 1, 1);
        let r = refused(&lab.config, &rows, &over);
        assert_policy_refusal(
            &r,
            "max_gpu_hours_ahead",
            &format!(
                "you already hold 4 GPU-hours in bookings that have not started and this one adds 4.5; 8 is the most ({}: max_gpu_hours_ahead)",
                source.words
            ),
            &case,
        );
    }
}

#[test]
fn max_days_ahead_admits_a_start_exactly_that_far_and_refuses_one_slot_later() {
    for source in SOURCES {
        let lab = policy_lab(source, "max_days_ahead", "3", "1");
        let u = source.user;
        let case = format!("set by the {}", source.name);
        // Now is 2026-11-21 15:30: three days on is 2026-11-24 15:30.
        let at_limit = ask(u, "2026-11-24 15:30", "2026-11-24 16:30", 1.0, 1, 0);
        assert!(check(&lab.config, &[], &at_limit).is_ok(), "{case}");

        let over = ask(u, "2026-11-24 16:00", "2026-11-24 17:00", 1.0, 1, 0);
        let r = refused(&lab.config, &[], &over);
        assert_policy_refusal(
            &r,
            "max_days_ahead",
            &format!(
                "the start 2026-11-24 16:00 is more than 3 days ahead; the latest start now is 2026-11-24 15:30 ({}: max_days_ahead)",
                source.words
            ),
            &case,
        );
    }
}

#[test]
fn a_policy_set_nowhere_is_no_limit() {
    let lab = lab(GROUPS);
    let rows: Vec<Row> = (1..=9)
        .map(|d| {
            let day = format!("2026-11-{:02}", 21 + d);
            row(
                "erin",
                &format!("{day} 00:00"),
                &format!("{day} 20:00"),
                1.0,
                1,
                &[0],
            )
        })
        .collect();
    let long = ask("erin", "2026-12-01 00:00", "2026-12-04 00:00", 1.0, 1, 2);
    assert_eq!(
        check(&lab.config, &rows, &long),
        Ok(GpuSet::new(vec![0, 1]))
    );
}

// ---------------------------------------------------------------------------------------
// A group's total, at every instant, like the host's capacity.

const TUE: (&str, &str) = ("2026-11-24 10:00", "2026-11-24 12:00");

#[test]
fn a_group_total_refuses_each_resource_one_past_it_and_admits_at_it() {
    // (resource, bob's and carol's share leaving exactly 1 free, then leaving none, the
    // words for the total)
    type Use = (f64, u32, &'static [u32]);
    let cases: [(Resource, [Use; 2], [Use; 2], &str); 3] = [
        (
            Resource::Cpus,
            [(6.0, 1, &[]), (5.0, 1, &[])],
            [(6.0, 1, &[]), (6.0, 1, &[])],
            "12 of its 12 cpus",
        ),
        (
            Resource::Memory,
            [(1.0, 24, &[]), (1.0, 23, &[])],
            [(1.0, 24, &[]), (1.0, 24, &[])],
            "48 of its 48 GB of memory",
        ),
        (
            Resource::Gpus,
            [(1.0, 1, &[0, 1]), (1.0, 1, &[2])],
            [(1.0, 1, &[0, 1]), (1.0, 1, &[2, 3])],
            "4 of its 4 GPUs",
        ),
    ];
    let lab = lab(GROUPS);
    for (resource, room, full, words) in cases {
        let holds = |uses: [Use; 2]| -> Vec<Row> {
            ["bob", "carol"]
                .iter()
                .zip(uses)
                .map(|(u, (c, m, g))| row(u, TUE.0, TUE.1, c, m, g))
                .collect()
        };
        let req = match resource {
            Resource::Gpus => ask("frank", TUE.0, TUE.1, 1.0, 1, 1),
            _ => ask("frank", TUE.0, TUE.1, 1.0, 1, 0),
        };
        assert!(
            check(&lab.config, &holds(room), &req).is_ok(),
            "{resource}: the last one fits"
        );
        let r = refused(&lab.config, &holds(full), &req);
        assert_eq!(r.code(), "group_total", "{resource}");
        assert!(r.is_capacity());
        assert_eq!(
            r.to_string(),
            format!(
                "group phd already holds {words} from 10:00 to 12:00 on Tue 2026-11-24, and 1 more asked; the earliest window that fits is 2026-11-24 12:00 to 2026-11-24 14:00"
            ),
            "{resource}"
        );
        let Refusal::Capacity {
            scope,
            resource: named,
            at,
            until,
            ..
        } = r
        else {
            unreachable!()
        };
        assert_eq!(scope, ScopeName::Group("phd".into()));
        assert_eq!((named, at, until), (resource, t(TUE.0), t(TUE.1)));
    }
}

#[test]
fn a_group_refusal_names_only_the_stretch_that_is_over() {
    let lab = lab(GROUPS);
    let rows = [
        row(
            "bob",
            "2026-11-24 10:00",
            "2026-11-24 12:00",
            1.0,
            1,
            &[0, 1],
        ),
        row(
            "carol",
            "2026-11-24 11:00",
            "2026-11-24 13:00",
            1.0,
            1,
            &[2, 3],
        ),
    ];
    let r = refused(
        &lab.config,
        &rows,
        &ask("frank", "2026-11-24 09:00", "2026-11-24 14:00", 1.0, 1, 1),
    );
    assert_eq!(r.code(), "group_total");
    assert!(
        r.to_string().starts_with(
            "group phd already holds 4 of its 4 GPUs from 11:00 to 12:00 on Tue 2026-11-24, and 1 more asked"
        ),
        "{r}"
    );
}

#[test]
fn group_bookings_that_only_touch_do_not_add_up() {
    let lab = lab(GROUPS);
    // Intervals are half-open: [08:00, 10:00) and [10:00, 12:00) share no instant.
    let before = [
        row(
            "bob",
            "2026-11-24 08:00",
            "2026-11-24 10:00",
            6.0,
            24,
            &[0, 1],
        ),
        row(
            "carol",
            "2026-11-24 08:00",
            "2026-11-24 10:00",
            6.0,
            24,
            &[2, 3],
        ),
    ];
    let after = [
        row(
            "bob",
            "2026-11-24 12:00",
            "2026-11-24 14:00",
            6.0,
            24,
            &[0, 1],
        ),
        row(
            "carol",
            "2026-11-24 12:00",
            "2026-11-24 14:00",
            6.0,
            24,
            &[2, 3],
        ),
    ];
    for rows in [&before, &after] {
        let req = ask("frank", TUE.0, TUE.1, 8.0, 32, 2);
        assert!(check(&lab.config, rows, &req).is_ok(), "{rows:?}");
    }
    // One slot more on either side, and the group is over.
    let req = ask("frank", "2026-11-24 09:30", "2026-11-24 12:00", 1.0, 1, 1);
    assert_eq!(refused(&lab.config, &before, &req).code(), "group_total");
    let req = ask("frank", "2026-11-24 10:00", "2026-11-24 12:30", 1.0, 1, 1);
    assert_eq!(refused(&lab.config, &after, &req).code(), "group_total");
}

#[test]
fn a_full_group_leaves_other_groups_and_users_in_no_group_unaffected() {
    let lab = lab(GROUPS);
    let full = [
        row("bob", TUE.0, TUE.1, 6.0, 24, &[0, 1]),
        row("carol", TUE.0, TUE.1, 6.0, 24, &[2, 3]),
    ];
    assert_eq!(
        refused(&lab.config, &full, &ask("frank", TUE.0, TUE.1, 1.0, 1, 0)).code(),
        "group_total"
    );
    // staff's own total is 2 GPUs; erin and alice are in no group.
    for (user, gpus) in [("dave", 2), ("erin", 2), ("alice", 4)] {
        let req = ask(user, TUE.0, TUE.1, 8.0, 32, gpus);
        let got = check(&lab.config, &full, &req);
        assert_eq!(got.map(|g| g.len()), Ok(gpus as usize), "{user}");
    }
    // What non-members hold is not the group's: erin's 2 GPUs leave phd room for 2.
    let mixed = [
        row("bob", TUE.0, TUE.1, 1.0, 1, &[0, 1]),
        row("erin", TUE.0, TUE.1, 1.0, 1, &[2, 3]),
        row("dave", TUE.0, TUE.1, 1.0, 1, &[4, 5]),
    ];
    let req = ask("frank", TUE.0, TUE.1, 1.0, 1, 2);
    assert_eq!(
        check(&lab.config, &mixed, &req),
        Ok(GpuSet::new(vec![6, 7]))
    );
}

#[test]
fn when_the_host_is_full_too_the_host_is_named_not_the_group() {
    let lab = lab(GROUPS);
    let rows = [
        row("bob", TUE.0, TUE.1, 1.0, 1, &[0, 1]),
        row("carol", TUE.0, TUE.1, 1.0, 1, &[2, 3]),
        row("alice", TUE.0, TUE.1, 1.0, 1, &[4, 5, 6, 7]),
    ];
    let r = refused(&lab.config, &rows, &ask("frank", TUE.0, TUE.1, 1.0, 1, 1));
    assert_eq!(r.code(), "host_capacity", "{r}");
}

// ---------------------------------------------------------------------------------------
// Where each limit comes from.

/// alice: phd member with an exception; bob: phd member; erin: in no group; dave: staff,
/// whose tier says `max`.
const RESOLUTION: &str = "\
max_custom_capability:
  alice:
    gpus: 6
    reason: thesis runs, approved by the PI
    policies: {max_hours_per_booking: 120, idle_reclaim: always}
groups:
  phd:
    members: [alice, bob]
    max_capability: {cpus: 16, gpus: 4}
    policies: {max_active_bookings: 4, max_hours_per_booking: 24, idle_reclaim: when_needed, idle_grace_minutes: 60}
  staff:
    members: [dave]
    max_capability: {cpus: max}
policies:
  max_active_bookings: 3
  max_hours_per_booking: 72
  max_days_ahead: 10
  idle_timeout_minutes: 90
  stop_unbooked_gpu_use: true
";

fn limit(key: &str, value: Option<f64>, from: Source) -> Explained {
    Explained {
        key: key.into(),
        value,
        text: None,
        from,
    }
}

/// A policy that is a word, not a number.
fn limit_text(key: &str, text: &str, from: Source) -> Explained {
    Explained {
        key: key.into(),
        value: None,
        text: Some(text.into()),
        from,
    }
}

#[test]
fn each_maximum_resolves_key_by_key_exception_group_lab_host() {
    use Source::{Default, Exception, Group, Host};
    let lab = lab(RESOLUTION);
    let cap = &lab.config.capability;
    let alice = explain(cap, "alice");
    assert_eq!(alice.group.as_deref(), Some("phd"));
    assert_eq!(
        alice.reason.as_deref(),
        Some("thesis runs, approved by the PI")
    );
    assert_eq!(
        alice.limits,
        [
            limit("cpus", Some(16.0), Group),
            limit("memory", Some(32.0), Default),
            limit("gpus", Some(6.0), Exception),
            limit("backup_space", Some(100.0), Host),
            limit("work_space", Some(100.0), Default),
            limit("max_active_bookings", Some(4.0), Group),
            limit("max_hours_per_booking", Some(120.0), Exception),
            limit("max_gpu_hours_ahead", None, Host),
            limit("max_days_ahead", Some(10.0), Default),
            limit("max_waitlist_entries", None, Host),
            limit_text("idle_reclaim", "always", Exception),
            limit("idle_timeout_minutes", Some(90.0), Default),
            limit("idle_grace_minutes", Some(60.0), Group),
            limit("idle_gpu_util_percent", Some(5.0), Host),
            limit("idle_cpu_percent", Some(10.0), Host),
            limit_text("stop_unbooked_gpu_use", "true", Default),
        ]
    );
    let m = user_max(cap, "alice");
    assert_eq!((m.cpus, m.memory, m.gpus), (16.0, 32.0, 6));
    assert_eq!((m.backup_space, m.work_space), (100.0, 100.0));

    let bob = explain(cap, "bob");
    assert_eq!(bob.reason, None);
    let from: Vec<_> = bob
        .limits
        .iter()
        .map(|l| (l.key.as_str(), l.value, l.from))
        .collect();
    assert_eq!(
        from,
        [
            ("cpus", Some(16.0), Group),
            ("memory", Some(32.0), Default),
            ("gpus", Some(4.0), Group),
            ("backup_space", Some(100.0), Host),
            ("work_space", Some(100.0), Default),
            ("max_active_bookings", Some(4.0), Group),
            ("max_hours_per_booking", Some(24.0), Group),
            ("max_gpu_hours_ahead", None, Host),
            ("max_days_ahead", Some(10.0), Default),
            ("max_waitlist_entries", None, Host),
            ("idle_reclaim", None, Group),
            ("idle_timeout_minutes", Some(90.0), Default),
            ("idle_grace_minutes", Some(60.0), Group),
            ("idle_gpu_util_percent", Some(5.0), Host),
            ("idle_cpu_percent", Some(10.0), Host),
            ("stop_unbooked_gpu_use", None, Default),
        ]
    );

    let erin = explain(cap, "erin");
    assert_eq!(erin.group, None);
    let values: Vec<_> = erin.limits.iter().map(|l| (l.value, l.from)).collect();
    assert_eq!(
        values,
        [
            (Some(8.0), Default),
            (Some(32.0), Default),
            (Some(2.0), Default),
            (Some(100.0), Host),
            (Some(100.0), Default),
            (Some(3.0), Default),
            (Some(72.0), Default),
            (None, Host),
            (Some(10.0), Default),
            (None, Host),
            (None, Host),
            (Some(90.0), Default),
            (Some(30.0), Host),
            (Some(5.0), Host),
            (Some(10.0), Host),
            (None, Default),
        ]
    );
    let words: Vec<_> = [&bob, &erin]
        .iter()
        .map(|e| e.limits.iter().find(|l| l.key == "idle_reclaim").unwrap())
        .map(|l| l.text.as_deref())
        .collect();
    assert_eq!(words, [Some("when_needed"), Some("off")]);
    // `max` in a group's tier is the host's capacity, and still counts as the group's.
    assert_eq!(user_max(cap, "dave").cpus, 32.0);
    assert_eq!(
        explain(cap, "dave").limits[0],
        limit("cpus", Some(32.0), Group)
    );
}

#[test]
fn admission_uses_the_resolved_maximums_and_policies() {
    let lab = lab(RESOLUTION);
    let c = &lab.config;
    // bob's tier is 4 GPUs and 16 cpus; alice's exception 6 GPUs; erin's default 2.
    assert!(check(c, &[], &ask("bob", TUE.0, TUE.1, 16.0, 1, 4)).is_ok());
    for (user, gpus, max, from) in [
        ("bob", 5, 4.0, "group phd's tier"),
        (
            "alice",
            7,
            6.0,
            "your exception, thesis runs, approved by the PI",
        ),
        ("erin", 3, 2.0, "the lab default"),
    ] {
        let r = refused(c, &[], &ask(user, TUE.0, TUE.1, 1.0, 1, gpus));
        assert_eq!(r.code(), "over_maximum");
        assert_eq!(
            r.to_string(),
            format!("over the maximum: gpus {gpus} asked, at most {max} for this user ({from})"),
            "{user}"
        );
        assert!(
            matches!(r, Refusal::OverMaximum { field: Resource::Gpus, max: m, .. } if m == max),
            "{user}"
        );
    }
    // 30 hours: alice's 120 admits it, bob's group 24 refuses, erin's lab 72 admits.
    let (from, to) = ("2026-11-24 00:00", "2026-11-25 06:00");
    assert!(check(c, &[], &ask("alice", from, to, 1.0, 1, 0)).is_ok());
    assert_eq!(
        refused(c, &[], &ask("bob", from, to, 1.0, 1, 0)).code(),
        "max_hours_per_booking"
    );
    assert!(check(c, &[], &ask("erin", from, to, 1.0, 1, 0)).is_ok());
}

// ---------------------------------------------------------------------------------------
// The suggested window, and extensions.

#[test]
fn the_suggested_window_waits_until_the_group_has_room_not_only_the_host() {
    let lab = lab(GROUPS);
    let rows = [
        row(
            "bob",
            "2026-11-24 10:00",
            "2026-11-24 12:00",
            1.0,
            1,
            &[0, 1],
        ),
        row(
            "carol",
            "2026-11-24 10:00",
            "2026-11-24 14:00",
            1.0,
            1,
            &[2, 3],
        ),
    ];
    // The host has 6 GPUs free from 12:00, but phd only 2 until 14:00.
    let req = ask("frank", TUE.0, TUE.1, 1.0, 1, 3);
    let r = refused(&lab.config, &rows, &req);
    assert_eq!(r.code(), "group_total");
    let w = Window {
        start: t("2026-11-24 14:00"),
        end: t("2026-11-24 16:00"),
    };
    assert_eq!(r.suggestion(), Some(w));
    let moved = Request {
        start: w.start,
        end: w.end,
        ..req
    };
    assert!(check(&lab.config, &rows, &moved).is_ok());
}

#[test]
fn the_suggested_window_starts_no_later_than_max_days_ahead() {
    // Now is 2026-11-21 15:30; three days on is 2026-11-24 15:30.
    let lab = lab(&format!("{GROUPS}policies:\n  max_days_ahead: 3\n"));
    let full_until = |end: &str| {
        [
            row("bob", TUE.0, end, 1.0, 1, &[0, 1]),
            row("carol", TUE.0, end, 1.0, 1, &[2, 3]),
        ]
    };
    let req = ask("frank", TUE.0, TUE.1, 1.0, 1, 1);

    let rows = full_until("2026-11-24 15:30");
    let r = refused(&lab.config, &rows, &req);
    assert_eq!(
        r.suggestion(),
        Some(Window {
            start: t("2026-11-24 15:30"),
            end: t("2026-11-24 17:30"),
        })
    );

    let rows = full_until("2026-11-24 16:00");
    let r = refused(&lab.config, &rows, &req);
    assert_eq!(r.code(), "group_total");
    assert_eq!(r.suggestion(), None, "{r}");
    // The window 16:00 to 18:00 would fit the group, but starts past the limit.
    let late = ask("frank", "2026-11-24 16:00", "2026-11-24 18:00", 1.0, 1, 1);
    assert_eq!(refused(&lab.config, &rows, &late).code(), "max_days_ahead");
}

#[test]
fn an_extension_is_rechecked_against_the_group_total_and_max_hours_per_booking() {
    let lab = lab(&GROUPS.replace(
        "    total: {cpus: 12, memory: 48, gpus: 4}\n",
        "    total: {cpus: 12, memory: 48, gpus: 4}\n    policies: {max_hours_per_booking: 4}\n",
    ));
    let cfg = &lab.config;
    // bob's booking, 10:00 to 12:00 on GPUs 0 and 1, is what is extended: it is not among
    // the rows the extension is checked against.
    let held = GpuSet::new(vec![0, 1]);
    let carol = row(
        "carol",
        "2026-11-24 12:00",
        "2026-11-24 14:00",
        1.0,
        1,
        &[2, 3],
    );
    let frank = row(
        "frank",
        "2026-11-24 12:30",
        "2026-11-24 14:00",
        1.0,
        1,
        &[4],
    );
    let extend = |to: &str| ask("bob", TUE.0, to, 1.0, 1, 2);

    // With carol: 2 + 2 = 4 from 12:00 on; four hours is bob's longest.
    let rows = [carol.clone()];
    assert_eq!(
        admit_fixed(&context(cfg, &rows), &extend("2026-11-24 14:00"), &held),
        Ok(())
    );
    let r = admit_fixed(&context(cfg, &rows), &extend("2026-11-24 14:30"), &held).unwrap_err();
    assert_eq!(r.code(), "max_hours_per_booking", "{r}");

    // With frank too, 12:30 to 13:00 would be 5.
    let rows = [carol, frank];
    assert_eq!(
        admit_fixed(&context(cfg, &rows), &extend("2026-11-24 12:30"), &held),
        Ok(())
    );
    let r = admit_fixed(&context(cfg, &rows), &extend("2026-11-24 13:00"), &held).unwrap_err();
    assert_eq!(r.code(), "group_total", "{r}");
    assert_eq!(r.suggestion(), None);
    assert!(
        r.to_string().starts_with(
            "group phd already holds 3 of its 4 GPUs from 12:30 to 13:00 on Tue 2026-11-24, and 2 more asked"
        ),
        "{r}"
    );
}

// ---------------------------------------------------------------------------------------
// members_file

#[test]
fn a_members_file_gives_one_id_a_line_relative_to_the_root_with_comments() {
    let members = "# PhD students, one id a line\nbob\n\n   carol   # second year\n#dave\nfrank\n";
    let lab = lab_with(
        "\
groups:
  phd:
    members: [erin]
    members_file: ./phd.members
    total: {gpus: 1}
",
        &[("phd.members", members)],
    );
    let cap = &lab.config.capability;
    let phd = &cap.groups.get("phd").unwrap();
    assert_eq!(phd.members, ["erin", "bob", "carol", "frank"]);
    for id in ["erin", "bob", "carol", "frank"] {
        assert_eq!(cap.group_of(id).map(|(g, _)| g), Some("phd"), "{id}");
    }
    assert_eq!(
        cap.group_of("dave"),
        None,
        "a commented-out id is no member"
    );
    // The file's members share the total like the inline ones.
    let rows = [row("carol", TUE.0, TUE.1, 1.0, 1, &[0])];
    let r = refused(&lab.config, &rows, &ask("erin", TUE.0, TUE.1, 1.0, 1, 1));
    assert_eq!(r.code(), "group_total");
    assert!(check(&lab.config, &rows, &ask("dave", TUE.0, TUE.1, 1.0, 1, 1)).is_ok());
}

#[test]
fn a_members_file_path_is_relative_to_the_root_not_to_cfg() {
    let groups = "groups:\n  phd:\n    members_file: cfg/groups/phd.members\n";
    let lab = lab_with(groups, &[("cfg/groups/phd.members", "bob\n")]);
    assert_eq!(
        lab.config.capability.group_of("bob").map(|(g, _)| g),
        Some("phd")
    );
    // Not relative to cfg/: `groups/phd.members` beside the capability config is not found.
    let dir = common::root_from("lab");
    std::fs::write(
        dir.path().join("cfg/capability_config.yaml"),
        format!("{HOST}groups:\n  phd:\n    members_file: groups/phd.members\n"),
    )
    .unwrap();
    std::fs::create_dir_all(dir.path().join("cfg/groups")).unwrap();
    std::fs::write(dir.path().join("cfg/groups/phd.members"), "bob\n").unwrap();
    let err = Root::at(dir.path()).load_config().unwrap_err().to_string();
    assert!(err.contains("groups.phd.members_file"), "{err}");
}

// ---------------------------------------------------------------------------------------
// `checker limits USER`

fn limits_cli(root: &std::path::Path, args: &[&str]) -> std::process::Output {
    std::process::Command::new(env!("CARGO_BIN_EXE_checker"))
        .arg("--root")
        .arg(root)
        .args(args)
        .output()
        .unwrap()
}

#[test]
fn checker_limits_prints_each_limit_with_where_it_came_from_and_the_reason() {
    let lab = lab(RESOLUTION);
    let out = limits_cli(lab.dir.path(), &["limits", "alice"]);
    assert_eq!(
        out.status.code(),
        Some(0),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    assert!(out.stderr.is_empty());
    assert_eq!(
        String::from_utf8(out.stdout).unwrap(),
        "\
alice, group phd
  cpus                   16         group phd
  memory                 32         lab default
  gpus                   6          exception: thesis runs, approved by the PI
  backup_space           100        host capacity
  work_space             100        lab default
  max_active_bookings    4          group phd
  max_hours_per_booking  120        exception: thesis runs, approved by the PI
  max_gpu_hours_ahead    no limit   not set
  max_days_ahead         10         lab policies
  max_waitlist_entries   no limit   not set
  idle_reclaim           always     exception: thesis runs, approved by the PI
  idle_timeout_minutes   90         lab policies
  idle_grace_minutes     60         group phd
  idle_gpu_util_percent  5          default
  idle_cpu_percent       10         default
  stop_unbooked_gpu_use  true       lab policies
"
    );
    let out = limits_cli(lab.dir.path(), &["limits", "mallory"]);
    let text = String::from_utf8(out.stdout).unwrap();
    assert!(
        text.starts_with("mallory, in no group (not in allow_userIDs: may not book)\n"),
        "{text}"
    );
}

#[test]
fn checker_limits_json_is_one_document_that_parses_back() {
    let lab = lab(RESOLUTION);
    for args in [
        &["limits", "alice", "--json"][..],
        &["--json", "limits", "alice"],
    ] {
        let out = limits_cli(lab.dir.path(), args);
        assert_eq!(out.status.code(), Some(0), "{args:?}");
        let text = String::from_utf8(out.stdout).unwrap();
        assert_eq!(text.lines().count(), 1, "{text}");
        let parsed: Explanation = serde_json::from_str(&text).unwrap();
        assert_eq!(parsed, explain(&lab.config.capability, "alice"), "{args:?}");
        assert_eq!(parsed.version, 1);
        assert_eq!(
            parsed.reason.as_deref(),
            Some("thesis runs, approved by the PI")
        );
    }
}
