//! Property tests: the time parser, slot arithmetic and the CSV round trip hold for any
//! input, and no input makes a parser panic.

use chrono::{Duration, NaiveDate, NaiveDateTime, Timelike};
use hostinfo::clock::{self, floor_slot, is_on_grid, parse_when, Clock, Role};
use hostinfo::schedule::{self, GpuSet, Row};
use proptest::prelude::*;
use std::path::Path;

fn any_time() -> impl Strategy<Value = NaiveDateTime> {
    (
        2000i32..2100,
        1u32..=12,
        1u32..=28,
        0u32..24,
        0u32..60,
        0u32..60,
    )
        .prop_map(|(y, mo, d, h, mi, s)| {
            NaiveDate::from_ymd_opt(y, mo, d)
                .unwrap()
                .and_hms_opt(h, mi, s)
                .unwrap()
        })
}

fn any_slot() -> impl Strategy<Value = NaiveDateTime> {
    any_time().prop_map(floor_slot)
}

fn utc_clock(now: NaiveDateTime) -> Clock {
    Clock::fixed(chrono_tz::UTC, now)
}

fn cell_text() -> impl Strategy<Value = Option<String>> {
    prop_oneof![
        Just(None),
        "[a-zA-Z0-9 ,\"'$;:/._()\n\r-]{1,24}"
            .prop_filter("an empty cell reads as none", |s| !s.is_empty())
            .prop_map(Some),
    ]
}

fn any_row() -> impl Strategy<Value = Row> {
    (
        any_slot(),
        1i64..=(14 * 48),
        "[A-Za-z0-9][A-Za-z0-9_.-]{0,31}",
        (1u32..=640).prop_map(|c| f64::from(c) / 10.0),
        0u32..=4096,
        proptest::collection::btree_set(0u32..16, 0..4),
        10001u16..=11000,
        cell_text(),
        cell_text(),
    )
        .prop_map(
            |(start, slots, user_id, cpus, memory, gpus, forward_port, image, extra_command)| Row {
                start,
                end: start + Duration::minutes(30 * slots),
                user_id,
                cpus,
                memory,
                gpus: GpuSet::new(gpus.into_iter().collect()),
                forward_port,
                image,
                extra_command,
                node: None,
            },
        )
}

proptest! {
    #[test]
    fn floor_slot_is_on_the_grid_at_or_before_and_within_one_slot(t in any_time()) {
        let f = floor_slot(t);
        prop_assert!(is_on_grid(f));
        prop_assert!(f <= t);
        prop_assert!(t - f < clock::slot());
        prop_assert_eq!(floor_slot(f), f);
        prop_assert!(f.minute() == 0 || f.minute() == 30);
    }

    #[test]
    fn both_absolute_forms_give_the_slot_they_name(now in any_time(), ahead in 1i64..=(14 * 48)) {
        let clock = utc_clock(now);
        let target = clock.current_slot() + Duration::minutes(30 * ahead);
        let spaced = target.format("%Y %m %d %H %M").to_string();
        let dashed = target.format("%Y-%m-%d %H:%M").to_string();
        prop_assert_eq!(parse_when(&spaced, Role::Start, &clock).unwrap().at, target);
        prop_assert_eq!(parse_when(&dashed, Role::Start, &clock).unwrap().at, target);
    }

    #[test]
    fn relative_days_count_from_the_current_slot_and_from_the_start(now in any_time(), weeks in 0i64..=2, days in 0i64..=14) {
        prop_assume!(weeks * 7 + days >= 1 && weeks * 7 + days <= 14);
        let clock = utc_clock(now);
        let mut words = Vec::new();
        if weeks > 0 { words.push(format!("{weeks}-week")); }
        if days > 0 { words.push(format!("{days}-day")); }
        let text = words.join(" ");
        let total = Duration::days(weeks * 7 + days);
        let start = parse_when(&text, Role::Start, &clock).unwrap().at;
        prop_assert_eq!(start, clock.current_slot() + total);
        let end = parse_when(&text, Role::End { start }, &clock).unwrap().at;
        prop_assert_eq!(end, start + total);
    }

    #[test]
    fn the_time_parser_never_panics(text in "\\PC{0,40}", now in any_time()) {
        let clock = utc_clock(now);
        let _ = parse_when(&text, Role::Start, &clock);
        let _ = parse_when(&text, Role::End { start: clock.current_slot() }, &clock);
    }

    #[test]
    fn rows_round_trip_through_csv_to_the_same_rows_and_bytes(rows in proptest::collection::vec(any_row(), 0..20)) {
        let bytes = schedule::to_bytes(&rows);
        let back = schedule::parse(Path::new("b.csv"), &bytes).unwrap();
        prop_assert_eq!(&back.rows, &rows);
        prop_assert_eq!(schedule::to_bytes(&back.rows), bytes);
    }

    #[test]
    fn the_csv_reader_never_panics(text in "\\PC{0,200}") {
        let with_header = format!("{}{}", schedule::HEADER_LINE, text);
        let _ = schedule::parse(Path::new("b.csv"), with_header.as_bytes());
        let _ = schedule::parse(Path::new("b.csv"), text.as_bytes());
        let _ = GpuSet::parse(&text);
        let _ = schedule::parse_time(&text);
    }
}

/// A YAML document as a tree, rendered in block or flow style with scalars that hold the
/// characters a looser nesting scan would trip on (brackets in quotes and block scalars).
#[derive(Debug, Clone)]
enum Tree {
    Leaf(String),
    Seq(Vec<Tree>, bool),
    Map(Vec<(String, Tree)>, bool),
}

fn tree() -> impl Strategy<Value = Tree> {
    let leaf = prop_oneof![
        "[a-z0-9]{1,5}",
        "'[a-z\\[\\]{}#\" ]{0,6}'",
        "\"[a-z\\[\\]{}#' ]{0,6}\"",
        "\\|\n[a-z\\[\\]{}#'\" ]{1,8}",
    ]
    .prop_map(Tree::Leaf);
    leaf.prop_recursive(12, 80, 4, |inner| {
        prop_oneof![
            (
                proptest::collection::vec(inner.clone(), 1..4),
                any::<bool>()
            )
                .prop_map(|(v, flow)| Tree::Seq(v, flow)),
            (
                proptest::collection::vec(("[a-z]{1,4}", inner), 1..4),
                any::<bool>()
            )
                .prop_map(|(v, flow)| Tree::Map(v, flow)),
        ]
    })
}

fn flow_text(t: &Tree) -> String {
    match t {
        // A block scalar cannot sit in flow context: it becomes a quoted one there.
        Tree::Leaf(s) if s.starts_with('|') => format!("'{}'", s[2..].replace('\'', "''")),
        Tree::Leaf(s) => s.clone(),
        Tree::Seq(v, _) => format!(
            "[{}]",
            v.iter().map(flow_text).collect::<Vec<_>>().join(", ")
        ),
        Tree::Map(v, _) => format!(
            "{{{}}}",
            v.iter()
                .enumerate()
                .map(|(i, (k, t))| format!("{k}{i}: {}", flow_text(t)))
                .collect::<Vec<_>>()
                .join(", ")
        ),
    }
}

/// The text after `key:` or `-` at `indent`, ending in a line break.
fn value_text(t: &Tree, indent: usize) -> String {
    match t {
        Tree::Leaf(s) if s.starts_with('|') => {
            format!(" |\n{}{}\n", " ".repeat(indent + 2), &s[2..])
        }
        Tree::Leaf(_) | Tree::Seq(_, true) | Tree::Map(_, true) => format!(" {}\n", flow_text(t)),
        _ => format!("\n{}", block_text(t, indent + 2)),
    }
}

fn block_text(t: &Tree, indent: usize) -> String {
    let pad = " ".repeat(indent);
    match t {
        Tree::Seq(v, false) => v
            .iter()
            .map(|t| format!("{pad}-{}", value_text(t, indent)))
            .collect(),
        Tree::Map(v, false) => v
            .iter()
            .enumerate()
            .map(|(i, (k, t))| format!("{pad}{k}{i}:{}", value_text(t, indent)))
            .collect(),
        other => format!("{pad}{}\n", flow_text(other)),
    }
}

fn value_depth(v: &serde_yaml::Value) -> usize {
    match v {
        serde_yaml::Value::Sequence(s) => 1 + s.iter().map(value_depth).max().unwrap_or(0),
        serde_yaml::Value::Mapping(m) => {
            1 + m
                .iter()
                .map(|(k, v)| value_depth(k).max(value_depth(v)))
                .max()
                .unwrap_or(0)
        }
        serde_yaml::Value::Tagged(t) => value_depth(&t.value),
        _ => 0,
    }
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(2_000))]

    /// The pre-scan that bounds YAML nesting before serde_yaml reads a file counts exactly
    /// the levels serde_yaml builds, whatever the style and whatever brackets sit inside
    /// quoted and block scalars: it neither lets a deep file through nor refuses a flat one.
    #[test]
    fn the_yaml_nesting_scan_counts_the_levels_serde_yaml_builds(t in tree()) {
        let text = block_text(&t, 0);
        let value: serde_yaml::Value = serde_yaml::from_str(&text)
            .map_err(|e| TestCaseError::fail(format!("{e}\n{text}")))?;
        let depth = hostinfo::yaml::nesting(&text, usize::MAX)
            .map_err(|line| TestCaseError::fail(format!("refused at {line}\n{text}")))?;
        prop_assert_eq!(depth, value_depth(&value), "{}", text);
    }
}
