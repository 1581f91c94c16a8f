//! Fuzzing every parser with proptest: random text, valid files mutated by random edits
//! (cut, insert, repeat, swap lines) from an alphabet of the characters YAML and CSV care
//! about, huge inputs (up to 1 MB: a file repeated, one character repeated) and deep ones
//! (up to 100,000 levels of `[`, `{`, `- `, `(`, quotes, indentation… put anywhere in a
//! valid file). Every input must give a value or a typed error naming the file — never a
//! panic, a stack overflow or an allocation failure. Each target reports how many inputs it
//! ran. AIVC_FUZZ_CASES sets inputs per target (default 3,000 in CI; e.g. 200000 for a long
//! local run).
//!
//! The deep inputs run in this process: every parser that recurses is bounded before it
//! does (the YAML pre-scan, the expression depth), and `every_parser_takes_the_extremes`
//! proves it at the largest sizes first. A stack overflow would kill the whole test run.

use std::path::Path;
use std::sync::atomic::{AtomicUsize, Ordering};

use chrono::NaiveDate;
use hostinfo::clock::{parse_when, Clock, Role};
use hostinfo::config::{BackupSpec, CapabilityConfig, HostDeploy, UsersConfig};
use hostinfo::journal::Journal;
use hostinfo::log::LogLine;
use hostinfo::schedule::{self, GpuSet};
use hostinfo::{auth, exec, expr, start_failures};
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

/// The largest input: 1 MB, the size cap of a `cfg/` file.
const MB: usize = 1 << 20;

/// The deepest input: 100,000 levels.
const DEEPEST: usize = 100_000;

/// What nests when repeated: flow collections, block ones, expression parentheses and
/// minus signs, quotes, YAML properties, and a block scalar on every level.
const OPENERS: &[&str] = &[
    "[", "{", "- ", "? ", "(", "-", "[a, ", "{a: ", "a: ", "\"", "'", "!t ", "&a ", "*a ", "|\n",
    "[\n",
];

/// `opener` `n` times (`"- "` as a staircase of lines when it is `"\n"`), at most 1 MB.
fn nest(opener: &str, n: usize) -> String {
    if opener == "\n" {
        // Each level one space deeper: n levels take n²/2 bytes, so 1 MB holds ~1,400.
        let mut text = String::new();
        for i in 0..n {
            if text.len() + i + 4 > MB {
                break;
            }
            text.push_str(&" ".repeat(i));
            text.push_str("a:\n");
        }
        return text;
    }
    opener.repeat(n.min(MB / opener.len()))
}

/// Up to 100,000 levels of one opener, put anywhere in `seed` (so also inside a value that
/// is parsed further, like `shm_rate:`).
fn deep(seed: &'static str) -> impl Strategy<Value = String> {
    let n = prop_oneof![2 => 1usize..200, 2 => 200usize..DEEPEST, 1 => Just(DEEPEST)];
    let opener = prop_oneof![
        proptest::sample::select(OPENERS).prop_map(str::to_string),
        Just("\n".to_string())
    ];
    (any::<usize>(), opener, n).prop_map(move |(at, opener, n)| {
        let at = (0..=at % (seed.len() + 1))
            .rev()
            .find(|i| seed.is_char_boundary(*i))
            .unwrap_or(0);
        format!("{}{}{}", &seed[..at], nest(&opener, n), &seed[at..])
    })
}

/// Up to 1 MB: `seed` repeated and cut (then edited), or one character repeated.
fn huge(seed: &'static str) -> impl Strategy<Value = String> {
    let size = || prop_oneof![8 => 1_000usize..65_536, 2 => 65_536usize..MB, 1 => Just(MB)];
    prop_oneof![
        (size(), proptest::collection::vec(edit(), 0..4)).prop_map(move |(n, edits)| {
            let text = seed.repeat(n / seed.len().max(1) + 1);
            let cut = (0..=n)
                .rev()
                .find(|i| text.is_char_boundary(*i))
                .unwrap_or(0);
            apply(&text[..cut], &edits)
        }),
        (size(), r#"[-:,\[\]{}#"'| >&*!%@?\n\t 0-9a-z.=/\\$;()]"#)
            .prop_map(|(n, c)| c.repeat(n / c.len())),
    ]
}

/// Mutations of `seed` and plain random text in equal measure, with now and then a huge or a
/// deep input (rare, so that CI's 3,000 cases stay quick in a debug build).
fn inputs(seed: &'static str) -> impl Strategy<Value = String> {
    prop_oneof![
        40 => proptest::collection::vec(edit(), 1..8).prop_map(move |e| apply(seed, &e)),
        40 => "\\PC{0,200}",
        1 => huge(seed),
        1 => deep(seed),
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
    let started = std::time::Instant::now();
    runner
        .run(&strategy, |input| {
            ran.fetch_add(1, Ordering::Relaxed);
            check(&input);
            Ok(())
        })
        .unwrap_or_else(|e| panic!("{name}: {e}"));
    let n = ran.load(Ordering::Relaxed);
    TOTAL.fetch_add(n, Ordering::Relaxed);
    eprintln!(
        "NOTE: fuzz {name}: {n} inputs in {:.1} s, no panic",
        started.elapsed().as_secs_f64()
    );
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
const FAILURES: &str = "user_id,start,since,attempts,reason\nu004,2026-11-23 09:00:00,2026-11-23 09:00:00,3,\"no such image, it says\"\n";
const AUTH_FAILURES: &str = "user_id,failures,lockouts,last_failure,locked_until\nu004,5,1,2026-11-23 09:00:00,2026-11-23 09:15:00\nu005,2,0,2026-11-23 09:01:00,\n";
const SIGNUP_CODES: &str = "user_id,code_sha256,expires\nu004,9f86d081884c7d659a2feaa0c55ad015a3bf4f1b2b0b822cd15d6c15b0f00a08,2026-11-30 09:00:00\n";
const LOG: &str = "20230101 13:30 [WARNING] SpaceWarning, m11007s05 is over-use the work_dir 10GB, and backup_dir 2GB.\n";

/// Every parser on `text`, each result checked as its target checks it.
fn every_parser(text: &str, clock: &Clock) {
    named(HostDeploy::parse(Path::new("h.yaml"), text), "h.yaml");
    named(CapabilityConfig::parse(Path::new("c.yaml"), text), "c.yaml");
    named(UsersConfig::parse(Path::new("u.yaml"), text), "u.yaml");
    named(BackupSpec::parse(Path::new("b.yaml"), text), "b.yaml");
    named(
        schedule::parse(Path::new("s.csv"), text.as_bytes()),
        "s.csv",
    );
    named(exec::parse(Path::new("x"), text), "x");
    named(start_failures::parse(Path::new("f.csv"), text), "f.csv");
    named(auth::parse_failures(Path::new("a.csv"), text), "a.csv");
    named(auth::parse_codes(Path::new("k.csv"), text), "k.csv");
    named(Journal::parse(Path::new("j"), text.as_bytes()), "j");
    for line in text.lines().take(3) {
        let _ = LogLine::parse(line);
    }
    let _ = parse_when(text, Role::Start, clock);
    let _ = expr::evaluate(text, 30.0, 10.0);
    let _ = GpuSet::parse(text);
    let _ = schedule::parse_time(text);
}

/// The largest inputs the fuzz reaches, each through every parser, before the random runs
/// count on them being bounded: 100,000 levels of each opener, each file repeated to 1 MB,
/// 100,000 levels inside each file and inside `shm_rate:`, 1 MB of one character. Each
/// gives a value or an error naming the file, in seconds: before, 20,000 `(` overflowed
/// the stack, and libyaml took minutes over a megabyte of `[` (time quadratic in depth).
#[test]
#[allow(clippy::print_stderr)] // the slowest input is the record of how bounded they are
fn every_parser_takes_the_extremes() {
    let clock = Clock::fixed(
        chrono_tz::UTC,
        NaiveDate::from_ymd_opt(2026, 11, 23)
            .unwrap()
            .and_hms_opt(9, 0, 0)
            .unwrap(),
    );
    let mut extremes: Vec<String> = OPENERS.iter().map(|o| nest(o, DEEPEST)).collect();
    extremes.push(nest("\n", DEEPEST));
    for seed in [
        HOST, CAPABILITY, USERS, BACKUP, SCHEDULE, EXEC, LOG, FAILURES,
    ] {
        extremes.push(seed.repeat(MB / seed.len()));
        extremes.push(format!("{seed}{}", nest("[", DEEPEST)));
        extremes.push(format!("{}{seed}", nest("- ", DEEPEST)));
    }
    for opener in ["(", "-", "- (", "[", "{"] {
        let expression = format!("{}ram", nest(opener, DEEPEST));
        extremes.push(CAPABILITY.replace("ram / (ram + swap_size)", &expression));
        extremes.push(expression);
    }
    for c in ["\"", "'", ",", "[", "(", "-", "a", "\n", " ", "#", "\t"] {
        extremes.push(c.repeat(MB));
    }
    // In parallel: a debug build reads a megabyte of YAML in about a second.
    let threads = std::thread::available_parallelism().map_or(4, |n| n.get());
    let chunk = extremes.len().div_ceil(threads);
    let slowest = std::thread::scope(|scope| {
        let workers: Vec<_> = extremes
            .chunks(chunk)
            .map(|texts| {
                let clock = &clock;
                scope.spawn(move || {
                    let mut slowest = (std::time::Duration::ZERO, String::new());
                    for text in texts {
                        assert!(text.len() <= MB + CAPABILITY.len());
                        let started = std::time::Instant::now();
                        every_parser(text, clock);
                        let took = started.elapsed();
                        if took > slowest.0 {
                            slowest = (took, text.chars().take(24).collect());
                        }
                    }
                    slowest
                })
            })
            .collect();
        workers
            .into_iter()
            .map(|w| w.join().unwrap())
            .max_by_key(|s| s.0)
            .unwrap()
    });
    eprintln!(
        "NOTE: {} extreme inputs; the slowest took {:?}: {:?}…",
        extremes.len(),
        slowest.0,
        slowest.1
    );
    assert!(
        slowest.0 < std::time::Duration::from_secs(30),
        "{slowest:?}"
    );
}

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
        prop_oneof![40 => phrases, 40 => "\\PC{0,40}", 1 => huge("1-week 2-day "), 1 => deep("now")],
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
fn start_failures_never_panic() {
    fuzz("jobs/start-failures.csv", inputs(FAILURES), |t| {
        named(
            start_failures::parse(Path::new("jobs/start-failures.csv"), t),
            "jobs/start-failures.csv",
        )
    });
}

#[test]
fn auth_files_never_panic() {
    fuzz("jobs/auth-failures.csv", inputs(AUTH_FAILURES), |t| {
        named(
            auth::parse_failures(Path::new("jobs/auth-failures.csv"), t),
            "jobs/auth-failures.csv",
        )
    });
    fuzz("jobs/signup-codes.csv", inputs(SIGNUP_CODES), |t| {
        named(
            auth::parse_codes(Path::new("jobs/signup-codes.csv"), t),
            "jobs/signup-codes.csv",
        )
    });
}

#[test]
fn small_parsers_never_panic() {
    fuzz(
        "expressions, GPU lists, times, journals",
        prop_oneof![
            80 => "\\PC{0,60}",
            1 => huge("ram / (ram + swap_size) * 2 - 1"),
            1 => deep("ram / (ram + swap_size)"),
            1 => deep("[0, 1]"),
        ],
        |t| {
            let _ = expr::evaluate(t, 30.0, 10.0);
            let _ = GpuSet::parse(t);
            let _ = schedule::parse_time(t);
            named(Journal::parse(Path::new("j"), t.as_bytes()), "j");
        },
    );
}

/// A valid monitor journal whose `booking.csv` payload is `size` bytes of schedule rows.
fn journal_of(size: usize, used_len: u64) -> String {
    let row = "2026-11-23 09:00:00,2026-11-23 11:00:00,u004,4.0,16,[],10004,,\n";
    let booking = row.repeat(size / row.len() + 1)[..size].to_string();
    let j = Journal {
        booking: booking.into_bytes(),
        using: SCHEDULE.as_bytes().to_vec(),
        used_len,
        append: row.as_bytes().to_vec(),
    };
    String::from_utf8(j.to_bytes()).unwrap()
}

/// A journal with forged header numbers under a checksum that matches them, so that the
/// length checks, not the checksum, are what decides.
fn forged_journal(used_len: u64, lens: [u64; 3], payload: &str) -> String {
    let body = format!(
        "AIVC-JOURNAL 2\nused_len {used_len}\nbooking {}\nusing {}\nappend {}\n{payload}",
        lens[0], lens[1], lens[2]
    );
    let sum = hostinfo::journal::fnv1a64(body.as_bytes());
    format!("{body}fnv1a64 {sum:016x}\n")
}

/// The journal the monitor leaves in `jobs/` before it moves rows: inputs up to 1 MB (valid
/// journals of every size mutated by the usual edits), forged lengths up to u64::MAX in both
/// formats, and random text. Whatever parses is exactly a journal we would have written.
/// Before, the first format's parser added such lengths unchecked and panicked.
#[test]
fn monitor_journal_never_panics() {
    let size = prop_oneof![4 => 0usize..4_000, 1 => 0usize..=1 << 20];
    let mutated = (size, any::<u64>(), proptest::collection::vec(edit(), 0..6))
        .prop_map(|(n, used, edits)| apply(&journal_of(n, used), &edits));
    let length = || prop_oneof![0u64..400, any::<u64>(), Just(u64::MAX)];
    let forged = (length(), [length(), length(), length()], "\\PC{0,300}")
        .prop_map(|(used, lens, payload)| forged_journal(used, lens, &payload));
    // The first format (no checksum) with the same lengths: its parser summed them unchecked.
    let first_format = (length(), [length(), length(), length()], "\\PC{0,300}").prop_map(
        |(used, [b, u, a], payload)| {
            format!("AIVC-JOURNAL 1\nused_len {used}\nbooking {b}\nusing {u}\nappend {a}\n{payload}END\n")
        },
    );
    fuzz(
        "jobs/.monitor-journal",
        prop_oneof![mutated, forged, first_format, "\\PC{0,200}"],
        |t| {
            let parsed = Journal::parse(Path::new("jobs/.monitor-journal"), t.as_bytes());
            if let Ok(j) = &parsed {
                assert_eq!(j.to_bytes(), t.as_bytes(), "only our own journals parse");
            }
            named(parsed, "jobs/.monitor-journal");
        },
    );
}
