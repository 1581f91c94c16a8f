//! Every route of the real `dashboard` binary, serving the small lab on a loopback port:
//! status, exact content type and security headers, HEAD, the refusal of every method that
//! could write, 404 and 400, no secret in any body, the state document against
//! `checker --json`, the usage numbers worked out from the lab, the metrics as Prometheus
//! text, a schedule file damaged while serving, a configuration broken from the start, and
//! the loopback default.

#[path = "../../../tests/support/browser.rs"]
mod browser;
mod common;
#[path = "../../../tests/support/roots.rs"]
mod roots;

use std::collections::{BTreeMap, BTreeSet};
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

use checker::report::Report;
use checker::usage::UsageReport;
use common::dashboard_lab::SECRETS;
use common::{clock_env, Dashboard, Lab, SERVE_NOW};

const HTML: &str = "text/html; charset=utf-8";
const CSS: &str = "text/css; charset=utf-8";
const JSON: &str = "application/json";
const METRICS: &str = "text/plain; version=0.0.4; charset=utf-8";
const CSP: &str = "default-src 'none'; style-src 'self'; img-src 'self'; base-uri 'none'; form-action 'self'; frame-ancestors 'none'";

/// Every route (with each query the pages link to) and the content type it must carry.
const ROUTES: [(&str, &str); 15] = [
    ("/", HTML),
    ("/now", HTML),
    ("/waitlist", HTML),
    ("/problems", HTML),
    ("/usage", HTML),
    ("/usage?days=7", HTML),
    ("/usage?days=30", HTML),
    ("/usage?days=90", HTML),
    ("/style.css", CSS),
    ("/api/v1/state", JSON),
    ("/api/v1/usage", JSON),
    ("/api/v1/usage?days=1", JSON),
    ("/api/v1/usage?days=7", JSON),
    ("/api/v1/usage?days=90", JSON),
    ("/metrics", METRICS),
];

const HTML_PAGES: [&str; 5] = ["/", "/now", "/waitlist", "/problems", "/usage"];

/// The security headers every answer of the dashboard carries (and the CSP on HTML).
fn assert_security_headers(a: &common::Answer) {
    let what = format!("{} {}", a.method, a.path);
    assert_eq!(
        a.header("x-content-type-options"),
        Some("nosniff"),
        "{what}"
    );
    assert_eq!(a.header("cache-control"), Some("no-store"), "{what}");
    // Same-origin, not no-referrer: under no-referrer a browser posts its own forms with
    // `Origin: null`, which the origin check must refuse.
    assert_eq!(a.header("referrer-policy"), Some("same-origin"), "{what}");
    assert_eq!(a.header("x-frame-options"), Some("DENY"), "{what}");
    if a.header("content-type") == Some(HTML) {
        assert_eq!(a.header("content-security-policy"), Some(CSP), "{what}");
    } else {
        assert_eq!(a.header("content-security-policy"), None, "{what}");
    }
}

#[test]
fn every_route_answers_get_and_head_with_its_exact_content_type_and_the_security_headers() {
    let lab = Lab::small();
    let d = Dashboard::start(lab.path());
    for (path, kind) in ROUTES {
        let get = d.get(path);
        get.expect_status(200);
        assert_eq!(get.header("content-type"), Some(kind), "GET {path}");
        assert_security_headers(&get);
        assert!(!get.body.is_empty(), "GET {path} has an empty body");
        if kind == HTML {
            assert!(get.body.starts_with("<!DOCTYPE html>"), "GET {path}");
        }
        if kind == JSON {
            get.json();
        }

        let head = d.request("HEAD", path);
        head.expect_status(200);
        assert_eq!(head.header("content-type"), Some(kind), "HEAD {path}");
        assert_security_headers(&head);
        assert_eq!(head.body, "", "HEAD {path} sent a body");
    }
}

#[test]
fn post_put_and_delete_are_refused_on_every_route_and_change_no_file() {
    let lab = Lab::small();
    let before = roots::tree(lab.path());
    let d = Dashboard::start(lab.path());
    for (path, _) in ROUTES {
        d.get(path).expect_status(200);
        for method in ["POST", "PUT", "DELETE"] {
            let a = d.request(method, path);
            a.expect_status(405);
            // The router's own refusal carries the same headers as every answer.
            assert_eq!(
                a.header("x-content-type-options"),
                Some("nosniff"),
                "{method} {path}"
            );
            assert_eq!(
                a.header("cache-control"),
                Some("no-store"),
                "{method} {path}"
            );
            let allow = a.header("allow").unwrap_or_default().to_string();
            assert!(
                allow.split(',').any(|m| m.trim() == "GET") && !allow.contains(method),
                "{method} {path}: Allow: {allow}"
            );
        }
    }
    drop(d);
    let after = roots::tree(lab.path());
    let names = |t: &BTreeMap<std::path::PathBuf, Vec<u8>>| t.keys().cloned().collect::<Vec<_>>();
    assert_eq!(names(&before), names(&after), "files came or went");
    assert!(before == after, "a file's bytes changed");
}

#[test]
fn an_unknown_path_is_404_and_a_days_out_of_range_is_400_with_a_json_error_on_the_api() {
    let lab = Lab::small();
    let d = Dashboard::start(lab.path());
    for path in [
        "/nope",
        "/now/",
        "/api/v1/nope",
        "/api/v2/state",
        "/style.css/x",
        "/metrics.txt",
    ] {
        let a = d.get(path);
        a.expect_status(404);
        assert_eq!(a.header("content-type"), Some(HTML), "GET {path}");
        assert_security_headers(&a);
        let alert = browser::by_attr(&a.body, "role", "alert");
        assert_eq!(alert.len(), 1, "GET {path}: {}", a.body);
    }
    for path in [
        "/usage?days=5",
        "/usage?days=0",
        "/usage?days=abc",
        "/usage?days=91",
    ] {
        let a = d.get(path);
        a.expect_status(400);
        assert_eq!(a.header("content-type"), Some(HTML), "GET {path}");
        assert_security_headers(&a);
        assert!(a.body.contains("7, 30 or 90"), "GET {path}: {}", a.body);
    }
    for path in [
        "/api/v1/usage?days=0",
        "/api/v1/usage?days=91",
        "/api/v1/usage?days=abc",
        "/api/v1/usage?days=-1",
        "/api/v1/usage?days=7.5",
    ] {
        let a = d.get(path);
        a.expect_status(400);
        assert_eq!(a.header("content-type"), Some(JSON), "GET {path}");
        assert_security_headers(&a);
        let error = a.json();
        let object = error.as_object().expect("a JSON object");
        assert_eq!(object.len(), 1, "GET {path}: {error}");
        let message = error["error"].as_str().unwrap_or_default();
        assert!(
            message.contains("days") && message.contains("90"),
            "GET {path}: the error says {error}"
        );
    }
}

/// Whether `body` holds something like an e-mail address (`x@y`): CSS at-rules such as
/// `@media` have no word character before the `@`.
fn address_in(body: &str) -> Option<String> {
    let b = body.as_bytes();
    let word = |c: u8| c.is_ascii_alphanumeric() || b"._%+-".contains(&c);
    (1..b.len().saturating_sub(1))
        .find(|&i| b[i] == b'@' && word(b[i - 1]) && b[i + 1].is_ascii_alphanumeric())
        .map(|i| common::truncate(&body[i.saturating_sub(30)..], 60).to_string())
}

#[test]
fn no_password_email_address_or_extra_command_appears_in_any_answer() {
    assert!(address_in("to: alice@lab.example.").is_some());
    assert_eq!(address_in("}\n@media (max-width: 40em) {"), None);
    let lab = Lab::small();
    let d = Dashboard::start(lab.path());
    let mut answers: Vec<common::Answer> = ROUTES.iter().map(|(p, _)| d.get(p)).collect();
    for path in ["/nope", "/usage?days=5", "/api/v1/usage?days=0"] {
        answers.push(d.get(path));
    }
    let forbidden: Vec<&str> = SECRETS
        .iter()
        .copied()
        .chain(["pw-bob", "pw-carol", "pw-dave", "pw-erin", "lab.example"])
        .collect();
    for a in &answers {
        for secret in &forbidden {
            assert!(!a.body.contains(secret), "GET {} shows {secret:?}", a.path);
        }
        assert_eq!(address_in(&a.body), None, "GET {} shows an address", a.path);
    }
    // The lab does hold them, where the pages could have picked them up.
    let users = std::fs::read_to_string(lab.path().join("cfg/users_config.yaml")).unwrap();
    assert!(users.contains(SECRETS[0]) && users.contains("pw-bob") && users.contains(SECRETS[1]));
    assert!(std::fs::read_to_string(lab.path().join("jobs/using.csv"))
        .unwrap()
        .contains(SECRETS[2]));
}

/// `report` with every `extra_command` withheld, as the dashboard must serve it.
fn withheld(mut report: Report) -> Report {
    for r in &mut report.rows {
        r.extra_command = None;
    }
    for w in &mut report.waitlist {
        w.extra_command = None;
    }
    report
}

#[test]
fn the_state_document_is_checkers_json_with_every_extra_command_withheld() {
    let lab = Lab::small();
    let d = Dashboard::start(lab.path());
    let answer = d.get("/api/v1/state");
    answer.expect_status(200);

    // Every extra_command is there, and null.
    let raw = answer.json();
    let rows = raw["rows"].as_array().unwrap();
    let waitlist = raw["waitlist"].as_array().unwrap();
    assert!(!rows.is_empty() && !waitlist.is_empty(), "{raw}");
    for item in rows.iter().chain(waitlist) {
        let field = item.as_object().unwrap().get("extra_command");
        assert_eq!(field, Some(&serde_json::Value::Null), "{item}");
    }

    let served: Report = serde_json::from_str(&answer.body).unwrap();
    let out = clock_env(&mut Command::new(common::sibling("checker")))
        .arg("--root")
        .arg(lab.path())
        .arg("--json")
        .output()
        .unwrap();
    assert!(
        out.status.code() == Some(0) || out.status.code() == Some(1),
        "checker --json: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    let checked: Report = serde_json::from_slice(&out.stdout).unwrap();
    assert!(
        checked.rows.iter().any(|r| r.extra_command.is_some()),
        "checker shows the extra_command the dashboard must withhold"
    );
    let checked = withheld(checked);

    assert_eq!(served.version, checked.version);
    assert_eq!(served.now, SERVE_NOW);
    assert_eq!(checked.now, SERVE_NOW);
    assert!(served.clock_fixed);
    assert_eq!(served.timezone, checked.timezone);
    assert_eq!(served.rows, checked.rows);
    let ids = |r: &Report| r.waitlist.iter().map(|w| w.id).collect::<Vec<_>>();
    assert_eq!(ids(&served), ids(&checked));
    assert_eq!(ids(&served), [1]);
    assert_eq!(served.waitlist, checked.waitlist);
    assert_eq!(served.users, checked.users);
    assert_eq!(served.groups, checked.groups);
    assert_eq!(served.host, checked.host);
    assert_eq!(served.timeline, checked.timeline);
    let codes = |r: &Report| {
        r.problems
            .iter()
            .map(|p| p.code.to_string())
            .collect::<Vec<_>>()
    };
    assert_eq!(codes(&served), codes(&checked));

    // The lab as the state shows it: bob runs on GPUs 1 and 2, carol and dave wait.
    let states: Vec<(String, String, Vec<u32>)> = served
        .rows
        .iter()
        .map(|r| (r.user_id.clone(), r.table.clone(), r.gpus.clone()))
        .collect();
    assert_eq!(
        states,
        [
            ("bob".to_string(), "using".to_string(), vec![1, 2]),
            ("carol".into(), "booking".into(), vec![0]),
            ("dave".into(), "booking".into(), vec![3]),
        ]
    );
}

fn close(a: f64, b: f64) -> bool {
    (a - b).abs() < 1e-9
}

#[test]
fn usage_over_7_days_gives_alice_4_booked_and_4_used_hours_and_bob_what_his_samples_give() {
    let lab = Lab::small();
    let d = Dashboard::start(lab.path());
    let answer = d.get("/api/v1/usage?days=7");
    answer.expect_status(200);
    let r: UsageReport = serde_json::from_str(&answer.body).unwrap();

    // The window is the 7 days before the dashboard's clock.
    assert_eq!(r.days, 7);
    assert_eq!(r.from, "2026-11-16 10:10:00");
    assert_eq!(r.to, SERVE_NOW);
    let user = |id: &str| {
        r.users
            .iter()
            .find(|u| u.id == id)
            .unwrap_or_else(|| panic!("{id} is not in {:?}", r.users))
    };
    // alice: GPU 0 for 4 hours yesterday; its samples, every 5 minutes at 80 %, cover all
    // 4 hours (48 samples of 5 minutes).
    let alice = user("alice");
    assert!(close(alice.booked_gpu_hours, 4.0), "{alice:?}");
    assert!(close(alice.used_gpu_hours, 4.0), "{alice:?}");
    assert_eq!(alice.group.as_deref(), Some("phd"));
    // bob: GPUs 1 and 2 since 08:00; booked up to the clock (10:10): 2 h 10 min × 2 GPUs;
    // used: the samples of 08:00 to 10:00 at 50 %, 25 per GPU of 5 minutes each.
    let bob = user("bob");
    assert!(close(bob.booked_gpu_hours, 2.0 * 130.0 / 60.0), "{bob:?}");
    assert!(
        close(bob.used_gpu_hours, 2.0 * 25.0 * 5.0 / 60.0),
        "{bob:?}"
    );
    // Most booked first; carol and dave book only the future, erin only waits.
    let ids: Vec<&str> = r.users.iter().map(|u| u.id.as_str()).collect();
    assert_eq!(ids, ["bob", "alice"]);
    // GPU 3 at 90 % from 09:05 to 10:00 with nobody holding it: 12 samples of 5 minutes.
    assert!(close(r.unbooked_gpu_hours, 1.0), "{}", r.unbooked_gpu_hours);
    // The groups: phd holds alice and bob; msc (carol) used nothing.
    let groups: Vec<(&str, f64, f64)> = r
        .groups
        .iter()
        .map(|g| (g.name.as_str(), g.booked_gpu_hours, g.used_gpu_hours))
        .collect();
    assert_eq!(groups.len(), 2, "{groups:?}");
    assert_eq!((groups[0].0, groups[1].0), ("phd", "msc"));
    assert!(close(groups[0].1, 4.0 + 260.0 / 60.0), "{groups:?}");
    assert!(close(groups[0].2, 4.0 + 250.0 / 60.0), "{groups:?}");
    assert!(
        close(groups[1].1, 0.0) && close(groups[1].2, 0.0),
        "{groups:?}"
    );
    // Samples every 5 minutes over the whole window, the last at 10:00: the window less
    // the 10 minutes since.
    assert!(
        close(r.sampled_hours, 7.0 * 24.0 - 10.0 / 60.0),
        "{}",
        r.sampled_hours
    );

    // Without `days`: 30 days, with the same hours (all of them lie in the last day).
    let r30: UsageReport = serde_json::from_str(&d.get("/api/v1/usage").body).unwrap();
    assert_eq!(r30.days, 30);
    assert_eq!(r30.users, r.users);
}

/// One sample line of the Prometheus text format.
#[derive(Debug, Clone, PartialEq)]
struct MetricSample {
    name: String,
    labels: Vec<(String, String)>,
    value: f64,
}

fn is_name(s: &str, colon: bool) -> bool {
    let mut chars = s.chars();
    chars
        .next()
        .is_some_and(|c| c.is_ascii_alphabetic() || c == '_' || (colon && c == ':'))
        && chars.all(|c| c.is_ascii_alphanumeric() || c == '_' || (colon && c == ':'))
}

/// Parses `name{label="value",...} value [timestamp]` as the text format (0.0.4) has it.
fn parse_sample(line: &str) -> Result<MetricSample, String> {
    let name_end = line.find(['{', ' ']).ok_or("no value")?;
    let name = &line[..name_end];
    if !is_name(name, true) {
        return Err(format!("bad metric name {name:?}"));
    }
    let mut rest = &line[name_end..];
    let mut labels = Vec::new();
    if let Some(after) = rest.strip_prefix('{') {
        let mut s = after;
        loop {
            if let Some(r) = s.strip_prefix('}') {
                rest = r;
                break;
            }
            let eq = s.find('=').ok_or("a label without =")?;
            let label = &s[..eq];
            if !is_name(label, false) {
                return Err(format!("bad label name {label:?}"));
            }
            s = s[eq + 1..]
                .strip_prefix('"')
                .ok_or("a label value without quotes")?;
            let mut value = String::new();
            let mut chars = s.char_indices();
            let end = loop {
                match chars.next() {
                    None => return Err("an unterminated label value".into()),
                    Some((i, '"')) => break i,
                    Some((_, '\\')) => match chars.next() {
                        Some((_, '\\')) => value.push('\\'),
                        Some((_, '"')) => value.push('"'),
                        Some((_, 'n')) => value.push('\n'),
                        other => return Err(format!("a bad escape {other:?}")),
                    },
                    Some((_, c)) => value.push(c),
                }
            };
            labels.push((label.to_string(), value));
            s = &s[end + 1..];
            if let Some(r) = s.strip_prefix(',') {
                s = r;
            } else if !s.starts_with('}') {
                return Err("labels not separated by commas".into());
            }
        }
    }
    let mut fields = rest
        .strip_prefix(' ')
        .ok_or("no space before the value")?
        .split(' ');
    let value = match fields.next().ok_or("no value")? {
        "NaN" => f64::NAN,
        "+Inf" => f64::INFINITY,
        "-Inf" => f64::NEG_INFINITY,
        v => v
            .parse::<f64>()
            .map_err(|e| format!("bad value {v:?}: {e}"))?,
    };
    if let Some(ts) = fields.next() {
        ts.parse::<i64>()
            .map_err(|e| format!("bad timestamp {ts:?}: {e}"))?;
    }
    if fields.next().is_some() {
        return Err("more after the timestamp".into());
    }
    Ok(MetricSample {
        name: name.to_string(),
        labels,
        value,
    })
}

#[test]
fn the_sample_parser_reads_labels_escapes_and_special_values_and_refuses_broken_lines() {
    assert_eq!(
        parse_sample(r#"a_b{x="1",y="q\"\\\n"} -2.5e3 1700000000"#).unwrap(),
        MetricSample {
            name: "a_b".into(),
            labels: vec![("x".into(), "1".into()), ("y".into(), "q\"\\\n".into())],
            value: -2500.0,
        }
    );
    assert!(parse_sample("a +Inf").unwrap().value.is_infinite());
    for bad in [
        "a",
        "a{x=1} 2",
        "a{x=\"1\" 2",
        "1a 2",
        "a 2 x",
        "a{x=\"1\"y=\"2\"} 1",
        "a  1",
    ] {
        assert!(parse_sample(bad).is_err(), "{bad:?} parsed");
    }
}

#[test]
fn metrics_are_prometheus_text_with_help_and_type_for_every_aivc_family() {
    let lab = Lab::small();
    let d = Dashboard::start(lab.path());
    let a = d.get("/metrics");
    a.expect_status(200);
    assert!(a.body.ends_with('\n'));

    let mut help: BTreeMap<String, String> = BTreeMap::new();
    let mut kind: BTreeMap<String, String> = BTreeMap::new();
    let mut samples: Vec<MetricSample> = Vec::new();
    // The families in the order their lines come: each one's lines must be one group.
    let mut order: Vec<String> = Vec::new();
    let enter = |family: &str, order: &mut Vec<String>| {
        if order.last().map(String::as_str) != Some(family) {
            assert!(
                !order.iter().any(|f| f == family),
                "the lines of {family} are not one group"
            );
            order.push(family.to_string());
        }
    };
    for line in a.body.lines() {
        if let Some(rest) = line.strip_prefix("# HELP ") {
            let (name, text) = rest.split_once(' ').expect("HELP with a text");
            assert!(is_name(name, true) && !text.trim().is_empty(), "{line}");
            assert!(
                help.insert(name.into(), text.into()).is_none(),
                "two HELP for {name}"
            );
            enter(name, &mut order);
        } else if let Some(rest) = line.strip_prefix("# TYPE ") {
            let (name, t) = rest.split_once(' ').expect("TYPE with a type");
            assert!(
                ["counter", "gauge", "histogram", "summary", "untyped"].contains(&t),
                "{line}"
            );
            assert!(
                kind.insert(name.into(), t.into()).is_none(),
                "two TYPE for {name}"
            );
            enter(name, &mut order);
        } else {
            assert!(
                !line.starts_with('#') && !line.is_empty(),
                "a stray line: {line:?}"
            );
            let s = parse_sample(line).unwrap_or_else(|e| panic!("{line:?}: {e}"));
            assert!(
                help.contains_key(&s.name) && kind.contains_key(&s.name),
                "{} has no HELP and TYPE before its first sample",
                s.name
            );
            enter(&s.name, &mut order);
            samples.push(s);
        }
    }
    assert!(order.len() >= 10, "only {} families", order.len());
    for family in &order {
        assert!(
            family.starts_with("aivc_"),
            "{family} lacks the aivc_ prefix"
        );
        assert!(
            help.contains_key(family) && kind.contains_key(family),
            "{family}"
        );
    }
    let mut series = BTreeSet::new();
    for s in &samples {
        assert!(
            series.insert((s.name.clone(), s.labels.clone())),
            "{s:?} twice"
        );
    }

    let value = |name: &str, labels: &[(&str, &str)]| -> f64 {
        let want: Vec<(String, String)> = labels
            .iter()
            .map(|(k, v)| (k.to_string(), v.to_string()))
            .collect();
        samples
            .iter()
            .find(|s| s.name == name && s.labels == want)
            .unwrap_or_else(|| panic!("no {name}{labels:?} in:\n{}", a.body))
            .value
    };
    assert_eq!(value("aivc_gpus", &[]), 4.0);
    assert_eq!(
        value("aivc_gpu_booked", &[("gpu", "1"), ("user", "bob")]),
        1.0
    );
    assert_eq!(
        value("aivc_gpu_booked", &[("gpu", "2"), ("user", "bob")]),
        1.0
    );
    assert_eq!(value("aivc_gpu_booked", &[("gpu", "0"), ("user", "")]), 0.0);
    assert_eq!(value("aivc_gpu_unbooked_use", &[("gpu", "3")]), 1.0);
    assert_eq!(value("aivc_gpu_unbooked_use", &[("gpu", "0")]), 0.0);
    assert_eq!(value("aivc_gpu_unbooked_use", &[("gpu", "1")]), 0.0);
    assert_eq!(value("aivc_waitlist_entries", &[]), 1.0);
    assert_eq!(value("aivc_bookings", &[("state", "running")]), 1.0);
    assert_eq!(value("aivc_bookings", &[("state", "waiting")]), 2.0);
    assert_eq!(
        value(
            "aivc_user_gpu_used_seconds",
            &[("user", "alice"), ("group", "phd"), ("window", "7d")]
        ),
        14400.0
    );
    assert_eq!(
        value(
            "aivc_user_gpu_booked_seconds",
            &[("user", "bob"), ("group", "phd"), ("window", "7d")]
        ),
        2.0 * 130.0 * 60.0
    );
    assert_eq!(
        value("aivc_gpu_unbooked_busy_seconds", &[("window", "30d")]),
        3600.0
    );
    assert_eq!(
        value("aivc_gpu_utilization_ratio", &[("gpu", "3"), ("user", "")]),
        0.9
    );
}

#[test]
fn a_booking_csv_garbled_while_serving_shows_an_alert_naming_it_and_keeps_the_last_good_rows() {
    let lab = Lab::small();
    let d = Dashboard::start(lab.path());
    for path in HTML_PAGES {
        let a = d.get(path);
        a.expect_status(200);
        assert!(
            browser::by_attr(&a.body, "role", "alert").is_empty(),
            "GET {path}"
        );
    }
    let booking = lab.path().join("jobs/booking.csv");
    let good = std::fs::read(&booking).unwrap();
    std::fs::write(&booking, "start,end,user_id\n\"2026-11-24 10:00,carol\n").unwrap();
    // Stamps are looked at once a second at most.
    std::thread::sleep(Duration::from_millis(1100));

    for path in HTML_PAGES {
        let a = d.get(path);
        a.expect_status(200);
        let alerts = browser::by_attr(&a.body, "role", "alert");
        assert_eq!(alerts.len(), 1, "GET {path}: {}", a.body);
        let text = alerts[0].text();
        assert!(
            text.contains("booking.csv"),
            "GET {path}: the alert says {text:?}"
        );
        assert!(!text.contains('\n'), "{text:?}");
    }
    // The last good reading stays: carol's and dave's bookings (booking.csv) with bob's.
    let timeline = d.get("/").body;
    let legend = browser::by_class(&timeline, "legend");
    assert_eq!(legend.len(), 1);
    for user in ["alice", "bob", "carol", "dave"] {
        assert!(legend[0].text().contains(user), "{}", legend[0].text());
    }
    let state: Report = serde_json::from_str(&d.get("/api/v1/state").body).unwrap();
    let users: Vec<&str> = state.rows.iter().map(|r| r.user_id.as_str()).collect();
    assert_eq!(users, ["bob", "carol", "dave"]);
    d.get("/metrics").expect_status(200);

    // Mended, the alert goes.
    std::fs::write(&booking, good).unwrap();
    std::thread::sleep(Duration::from_millis(1100));
    for path in HTML_PAGES {
        let a = d.get(path);
        assert!(
            browser::by_attr(&a.body, "role", "alert").is_empty(),
            "GET {path}"
        );
    }
}

#[test]
fn a_root_whose_configuration_is_broken_from_the_start_exits_2_with_one_line_naming_the_file() {
    let lab = Lab::small();
    std::fs::write(
        lab.path().join("cfg/capability_config.yaml"),
        "max:\n  cpus: [32\n",
    )
    .unwrap();
    let port = common::free_port();
    let mut child = clock_env(&mut Command::new(env!("CARGO_BIN_EXE_dashboard")))
        .arg("--root")
        .arg(lab.path())
        .arg("--listen")
        .arg(format!("127.0.0.1:{port}"))
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    let started = Instant::now();
    let status = loop {
        if let Some(status) = child.try_wait().unwrap() {
            break status;
        }
        if started.elapsed() > Duration::from_secs(20) {
            let _ = child.kill();
            let _ = child.wait();
            panic!("the dashboard served a root with a broken configuration");
        }
        std::thread::sleep(Duration::from_millis(20));
    };
    let out = child.wait_with_output().unwrap();
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert_eq!(status.code(), Some(2), "{stderr}");
    assert_eq!(stderr.trim_end().lines().count(), 1, "{stderr}");
    assert!(stderr.starts_with("dashboard: error: "), "{stderr}");
    assert!(stderr.contains("capability_config.yaml"), "{stderr}");
    assert!(out.stdout.is_empty());
    assert!(std::net::TcpStream::connect(("127.0.0.1", port)).is_err());
}

#[test]
fn the_listen_default_is_loopback_port_8642() {
    assert_eq!(dashboard::DEFAULT_LISTEN, "127.0.0.1:8642");
    let out = Command::new(env!("CARGO_BIN_EXE_dashboard"))
        .arg("--help")
        .output()
        .unwrap();
    assert!(out.status.success());
    let help = String::from_utf8_lossy(&out.stdout);
    let listen = help
        .lines()
        .find(|l| l.trim_start().starts_with("--listen"))
        .unwrap_or_else(|| panic!("no --listen in:\n{help}"));
    assert!(listen.contains("[default: 127.0.0.1:8642]"), "{listen}");
}

#[test]
fn a_client_that_opens_connections_and_sends_nothing_is_cut_off_and_others_are_served() {
    use std::io::{Read, Write};
    let lab = Lab::small();
    let d = Dashboard::start(lab.path());
    // Idle connections and one that sends half a request line, then nothing.
    let mut idle: Vec<std::net::TcpStream> = (0..50)
        .map(|_| std::net::TcpStream::connect(d.address()).unwrap())
        .collect();
    idle[0].write_all(b"GET / HTTP/1.1\r\nHost: x").unwrap();
    // Another client is served meanwhile.
    d.get("/now").expect_status(200);
    // The server closes the silent ones once the header-read timeout (10 s) is over.
    let began = std::time::Instant::now();
    let mut first = idle.remove(0);
    first
        .set_read_timeout(Some(std::time::Duration::from_secs(30)))
        .unwrap();
    let mut rest = Vec::new();
    let _ = first.read_to_end(&mut rest);
    let waited = began.elapsed();
    assert!(
        waited < std::time::Duration::from_secs(20),
        "a half-sent request held its connection {waited:?}"
    );
    for mut c in idle {
        c.set_read_timeout(Some(std::time::Duration::from_secs(5)))
            .unwrap();
        let mut buf = [0u8; 16];
        assert_eq!(
            c.read(&mut buf).unwrap_or(0),
            0,
            "an idle connection was still open after the timeout"
        );
    }
}

#[test]
fn a_request_whose_body_never_arrives_is_answered_408_and_its_connection_closed() {
    use std::io::{Read, Write};
    let lab = Lab::small();
    let d = Dashboard::start(lab.path());
    let mut c = std::net::TcpStream::connect(d.address()).unwrap();
    c.write_all(
        b"POST /signin HTTP/1.1\r\nHost: x\r\nContent-Type: application/x-www-form-urlencoded\r\nContent-Length: 1000\r\n\r\nuser=bob",
    )
    .unwrap();
    c.set_read_timeout(Some(std::time::Duration::from_secs(60)))
        .unwrap();
    let began = std::time::Instant::now();
    let mut answer = Vec::new();
    let _ = c.read_to_end(&mut answer);
    let answer = String::from_utf8_lossy(&answer);
    assert!(
        answer.starts_with("HTTP/1.1 408"),
        "after {:?}: {answer}",
        began.elapsed()
    );
}
