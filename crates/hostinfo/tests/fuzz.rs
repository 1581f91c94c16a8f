//! Fuzzing every parser with proptest: random text, and valid files mutated by random edits
//! (cut, insert, repeat, swap lines) from an alphabet of the characters YAML and CSV care
//! about. Every input must give a value or a typed error naming the file — never a panic.
//! Each target reports how many inputs it ran. AIVC_FUZZ_CASES sets inputs per target
//! (default 3,000 in CI; e.g. 200000 for a long local run).

use std::path::Path;
use std::sync::atomic::{AtomicUsize, Ordering};

use chrono::NaiveDate;
use hostinfo::clock::{parse_when, Clock, Role};
use hostinfo::config::{BackupSpec, CapabilityConfig, HostDeploy, UsersConfig};
use hostinfo::journal::Journal;
use hostinfo::log::LogLine;
use hostinfo::schedule::{self, GpuSet};
use hostinfo::{exec, expr};
use proptest::prelude::*;
use proptest::test_runner::{Config, TestRunner};

fn cases() -> u32 {
    std::env::var("AIVC_FUZZ_CASES")
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(3_000)
}

#[derive(Debug, Clone)]
enum Edit {
    Cut(usize, usize),
    Insert(usize, String),
    RepeatLine(usize),
    SwapLines(usize, usize),
}

fn edit() -> impl Strategy<Value = Edit> {
    let alphabet = r#"[-:,\[\]{}#"'| >&*!%@?\n\t 0-9a-z.=/\\$;()]{1,12}"#;
    prop_oneof![
        (any::<usize>(), 1usize..40).prop_map(|(a, n)| Edit::Cut(a, n)),
        (any::<usize>(), alphabet).prop_map(|(a, s)| Edit::Insert(a, s)),
        any::<usize>().prop_map(Edit::RepeatLine),
        (any::<usize>(), any::<usize>()).prop_map(|(a, b)| Edit::SwapLines(a, b)),
    ]
}

fn apply(seed: &str, edits: &[Edit]) -> String {
    let mut text = seed.to_string();
    for e in edits {
        let boundary = |t: &str, at: usize| {
            let mut i = at % (t.len() + 1);
            while !t.is_char_boundary(i) {
                i -= 1;
            }
            i
        };
        match e {
            Edit::Cut(at, n) => {
                let a = boundary(&text, *at);
                let b = boundary(&text, a + n);
                text.replace_range(a..b.max(a), "");
            }
            Edit::Insert(at, s) => {
                let a = boundary(&text, *at);
                text.insert_str(a, s);
            }
            Edit::RepeatLine(i) | Edit::SwapLines(i, _) if text.lines().count() == 0 => {
                let _ = i;
            }
            Edit::RepeatLine(i) => {
                let mut lines: Vec<&str> = text.lines().collect();
                let k = i % lines.len();
                lines.insert(k, lines[k]);
                text = lines.join("\n") + "\n";
            }
            Edit::SwapLines(i, j) => {
                let mut lines: Vec<&str> = text.lines().collect();
                let n = lines.len();
                lines.swap(i % n, j % n);
                text = lines.join("\n") + "\n";
            }
        }
    }
    text
}

/// Mutations of `seed`, and plain random text, in equal measure.
fn inputs(seed: &'static str) -> impl Strategy<Value = String> {
    prop_oneof![
        proptest::collection::vec(edit(), 1..8).prop_map(move |e| apply(seed, &e)),
        "\\PC{0,200}",
    ]
}

static TOTAL: AtomicUsize = AtomicUsize::new(0);

#[allow(clippy::print_stderr)] // the count is the record the issue asks for
fn fuzz(name: &str, strategy: impl Strategy<Value = String>, check: impl Fn(&str)) {
    let mut runner = TestRunner::new(Config {
        cases: cases(),
        failure_persistence: None,
        ..Config::default()
    });
    let ran = AtomicUsize::new(0);
    runner
        .run(&strategy, |input| {
            ran.fetch_add(1, Ordering::Relaxed);
            check(&input);
            Ok(())
        })
        .unwrap_or_else(|e| panic!("{name}: {e}"));
    let n = ran.load(Ordering::Relaxed);
    TOTAL.fetch_add(n, Ordering::Relaxed);
    eprintln!("NOTE: fuzz {name}: {n} inputs, no panic");
}

/// An error must name the file it is about.
fn named(result: Result<impl Sized, hostinfo::Error>, file: &str) {
    if let Err(e) = result {
        let text = e.to_string();
        assert!(
            text.starts_with(file) && text.lines().count() == 1,
            "{text}"
        );
    }
}

const HOST: &str = "volume_work_dir: /w\nvolume_dataset_dir: /d\nvolume_backup_dir: /b\nusers_config_yaml: ./cfg/u.yaml\ncapability_config_yaml: ./cfg/c.yaml\nimages:\n  - a:latest # default\n  - b:1\ntimezone: Asia/Taipei\ndocker_run_args: [\"--pids-limit=64\"]\ngpu_count: 2\n";
const CAPABILITY: &str = "max:\n  cpus: 62 # cores\n  ram: 30\n  swap_size: 10\n  gpus: 4\n  shm_rate: ram / (ram + swap_size)\n  memory: ram + swap_size\n  backup_space: 200\n  work_space: 500\nallow_userIDs:\n  - u1\n  -\nmax_default_capability:\n  cpus: 8\n  memory: 32\n  gpus: 1\nmax_custom_capability:\n  u1:\n    cpus: max\n    memory: 12\n";
const USERS: &str = "u1:\n  password: \"0000\"\n  forward_port: 10001\n  image: null\n  extra_command: echo hi\n  volume_work_dir: /w/u1\n  volume_dataset_dir: /d\n  volume_backup_dir: /b/u1\n";
const BACKUP: &str = "Dir:\n  - - .home/.ssh\n    - /root/.ssh\nFile:\n  - - .home/.bashrc # kept\n    - /root/.bashrc\n";
const SCHEDULE: &str = "start,end,user_id,cpus,memory,gpus,forward_port,image,extra_command\n2026-11-23 09:00:00,2026-11-23 11:00:00,u004,4.0,16,[],10004,,\n2026-11-27 17:00:00,2026-12-03 18:00:00,u049,4.0,4,\"[0, 1]\",10049,img:1,\"echo \"\"a, b\"\"\"\n";
const EXEC: &str = "now\nrestart u001\n\nnow\n";
const LOG: &str = "20230101 13:30 [WARNING] SpaceWarning, m11007s05 is over-use the work_dir 10GB, and backup_dir 2GB.\n";

#[test]
fn host_deploy_never_panics() {
    fuzz("host_deploy.yaml", inputs(HOST), |t| {
        named(HostDeploy::parse(Path::new("h.yaml"), t), "h.yaml")
    });
}

#[test]
fn capability_config_never_panics() {
    fuzz("capability_config.yaml", inputs(CAPABILITY), |t| {
        named(CapabilityConfig::parse(Path::new("c.yaml"), t), "c.yaml")
    });
}

#[test]
fn users_config_never_panics() {
    fuzz("users_config.yaml", inputs(USERS), |t| {
        named(UsersConfig::parse(Path::new("u.yaml"), t), "u.yaml")
    });
}

#[test]
fn backup_yaml_never_panics() {
    fuzz("backup.yaml", inputs(BACKUP), |t| {
        named(BackupSpec::parse(Path::new("b.yaml"), t), "b.yaml")
    });
}

#[test]
fn schedule_csv_never_panics() {
    fuzz("schedule CSV", inputs(SCHEDULE), |t| {
        let parsed = schedule::parse(Path::new("s.csv"), t.as_bytes());
        if let Ok(s) = &parsed {
            // Whatever parses writes back to something that parses to the same rows.
            let again = schedule::parse(Path::new("s.csv"), &schedule::to_bytes(&s.rows)).unwrap();
            assert_eq!(again.rows, s.rows);
        }
        named(parsed, "s.csv");
    });
}

#[test]
fn time_expressions_never_panic() {
    let words = prop_oneof![
        Just("now".to_string()),
        (0i64..30).prop_map(|n| format!("{n}-day")),
        (0i64..5).prop_map(|n| format!("{n}-week")),
        "[0-9]{1,5}",
        "[0-9]{4}-[0-9]{2}-[0-9]{2}",
        "[0-9]{2}:[0-9]{2}",
        "\\PC{0,6}",
    ];
    let phrases = proptest::collection::vec(words, 0..6).prop_map(|w| w.join(" "));
    let now = NaiveDate::from_ymd_opt(2026, 3, 28)
        .unwrap()
        .and_hms_opt(23, 47, 0)
        .unwrap();
    let clock = Clock::fixed(chrono_tz::Europe::Berlin, now);
    fuzz(
        "time expressions",
        prop_oneof![phrases, "\\PC{0,40}"],
        |t| {
            let _ = parse_when(t, Role::Start, &clock);
            let _ = parse_when(t, Role::End { start: now }, &clock);
        },
    );
}

#[test]
fn monitor_exec_never_panics() {
    fuzz("monitor_exec", inputs(EXEC), |t| {
        named(
            exec::parse(Path::new("jobs/monitor_exec"), t),
            "jobs/monitor_exec",
        )
    });
}

#[test]
fn log_lines_never_panic() {
    fuzz("monitor.log lines", inputs(LOG), |t| {
        for line in t.lines() {
            if let Ok(l) = LogLine::parse(line) {
                assert_eq!(LogLine::parse(&l.to_string()).unwrap(), l);
            }
        }
    });
}

#[test]
fn small_parsers_never_panic() {
    fuzz(
        "expressions, GPU lists, times, journals",
        "\\PC{0,60}",
        |t| {
            let _ = expr::evaluate(t, 30.0, 10.0);
            let _ = GpuSet::parse(t);
            let _ = schedule::parse_time(t);
            named(Journal::parse(Path::new("j"), t.as_bytes()), "j");
        },
    );
}
