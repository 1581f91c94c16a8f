//! The dashboard's cache, through the library: the schedule and configuration are read
//! once while their files keep their stamps, looked at no more than once a second
//! (`view::STAT_EVERY`), read again when one changes; a usage day file that changes is
//! read again on its own. The cache's clock is real time, so these tests wait on it.

mod common;

use std::sync::{Arc, Once};
use std::time::Duration;

use chrono::Duration as Span;
use common::dashboard_lab;
use common::{t, Lab, NOW, SERVE_NOW};
use dashboard::Cache;
use hostinfo::usage::{Sample, Subject};
use hostinfo::{LiveTable, Root};

/// A moment past `view::STAT_EVERY`.
const PAST_STAT: Duration = Duration::from_millis(1100);

/// The clock every test here reads (the library reads `AIVC_NOW` as the binary does), set
/// once before any test reads the environment.
fn fixed_clock() {
    static SET: Once = Once::new();
    SET.call_once(|| {
        std::env::set_var("AIVC_NOW", SERVE_NOW);
        std::env::set_var("AIVC_NO_NVML", "1");
    });
}

/// The small lab, written once the clock is set.
fn lab() -> Lab {
    fixed_clock();
    Lab::small()
}

fn cache_of(lab: &Lab) -> Cache {
    Cache::new(Root::at(lab.path()))
}

#[test]
fn two_views_within_a_second_read_the_files_once() {
    let lab = lab();
    let cache = cache_of(&lab);
    assert_eq!(cache.reads(), 0);
    let first = cache.view().unwrap();
    let second = cache.view().unwrap();
    assert_eq!(cache.reads(), 1);
    assert!(
        Arc::ptr_eq(&first, &second),
        "the second view was built again"
    );
    assert_eq!(first.now, t(SERVE_NOW));
    assert!(first.errors.is_empty(), "{:?}", first.errors);
}

#[test]
fn with_nothing_changed_three_views_over_two_and_a_half_seconds_read_once() {
    let lab = lab();
    let cache = cache_of(&lab);
    let first = cache.view().unwrap();
    std::thread::sleep(Duration::from_millis(1250));
    let second = cache.view().unwrap();
    std::thread::sleep(Duration::from_millis(1250));
    let third = cache.view().unwrap();
    assert_eq!(cache.reads(), 1);
    assert!(Arc::ptr_eq(&first, &second) && Arc::ptr_eq(&second, &third));
}

#[test]
fn a_changed_booking_csv_is_read_again_after_a_second_and_its_new_row_shows() {
    let lab = lab();
    let cache = cache_of(&lab);
    let before = cache.view().unwrap();
    assert_eq!(cache.reads(), 1);
    let is_erins = |r: &hostinfo::schedule::Row| r.user_id == "erin";
    assert!(!before.rows.iter().any(is_erins));

    let erin = dashboard_lab::row("erin", t(NOW) + Span::days(5), 2, &[3], 10005);
    let root = Root::at(lab.path());
    let lock = root.lock_exclusive("cache test").unwrap();
    root.add_rows(LiveTable::Booking, std::slice::from_ref(&erin), &lock)
        .unwrap();
    drop(lock);
    std::thread::sleep(PAST_STAT);

    let after = cache.view().unwrap();
    assert_eq!(cache.reads(), 2);
    let rows: Vec<_> = after.rows.iter().filter(|r| is_erins(r)).collect();
    assert_eq!(rows.len(), 1, "{:?}", after.rows);
    assert_eq!((rows[0].start, rows[0].end), (erin.start, erin.end));
    assert!(after
        .report
        .rows
        .iter()
        .any(|r| r.user_id == "erin" && r.table == "booking" && r.gpus == [3]));
    // Then still once, until the next change.
    std::thread::sleep(PAST_STAT);
    cache.view().unwrap();
    assert_eq!(cache.reads(), 2);
}

#[test]
fn a_usage_day_file_that_changes_is_read_again_and_its_new_sample_is_the_latest() {
    let lab = lab();
    let cache = cache_of(&lab);
    let gpu0 = |v: &dashboard::View| {
        *v.latest
            .iter()
            .find(|p| p.gpu == 0)
            .unwrap_or_else(|| panic!("no recent sample of GPU 0: {:?}", v.latest))
    };
    let before = gpu0(&cache.view().unwrap());
    assert_eq!((before.time, before.util_percent), (t(NOW), Some(0)));

    let at = t(NOW) + Span::minutes(5);
    Root::at(lab.path())
        .append_usage(&[Sample {
            time: at,
            subject: Subject::Gpu(0),
            gpu_util_percent: Some(42),
            gpu_memory_mib: Some(1234),
            cpu_percent: None,
            memory_mib: None,
        }])
        .unwrap();
    std::thread::sleep(PAST_STAT);

    let view = cache.view().unwrap();
    let after = gpu0(&view);
    assert_eq!(
        (after.time, after.util_percent, after.memory_mib),
        (at, Some(42), Some(1234))
    );
    // Only the day's samples were read again, not the schedule and configuration.
    assert_eq!(cache.reads(), 1);
}
