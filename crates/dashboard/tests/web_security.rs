//! The defences of booking from the browser (issue 18), tried against the real `dashboard`
//! serving the small lab: every state-changing request without the session's CSRF token,
//! from another site's page, with a dead or forged session, or for another user's booking
//! is refused and changes no file; wrong passwords count once for the web and the CLI;
//! bad input is a 4xx with a readable JSON message; read-only mode refuses; the cookie's
//! flags; and no signed-in page shows a password, an e-mail or another's extra command.

mod common;
#[path = "../../../tests/support/roots.rs"]
mod roots;

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

use common::dashboard_lab::SECRETS;
use common::{booking_body, booking_cli, url_encode, Answer, Client, Dashboard, Lab, FAST_AUTH};
use serde_json::json;

/// carol's booking in the small lab: GPU 0 from tomorrow 10:00 for 6 hours.
const CAROL_START: &str = "2026-11-24 10:00";
/// A window nobody holds a GPU in but dave (GPU 3, 2026-11-26 10:00–12:00).
const FREE: (&str, &str) = ("2026-11-25 10:00", "2026-11-25 12:00");

type Tree = BTreeMap<PathBuf, Vec<u8>>;

/// Panics, naming the files that came, went or changed, unless `root` is as `before`.
fn assert_unchanged(root: &Path, before: &Tree, what: &str) {
    let after = roots::tree(root);
    let mut changed: Vec<String> = Vec::new();
    for (p, bytes) in before {
        match after.get(p) {
            None => changed.push(format!("{} went", p.display())),
            Some(b) if b != bytes => changed.push(format!(
                "{} changed:\n{}",
                p.display(),
                String::from_utf8_lossy(b)
            )),
            Some(_) => {}
        }
    }
    for p in after.keys().filter(|p| !before.contains_key(*p)) {
        changed.push(format!("{} came", p.display()));
    }
    assert!(changed.is_empty(), "{what} changed files: {changed:#?}");
}

fn at(start: &str) -> String {
    format!("/api/v1/bookings?start={}", url_encode(start))
}

/// A JSON refusal: its status is `status` and its `error` a sentence a person can read.
fn assert_json_error(a: &Answer, status: u16, what: &str) -> String {
    assert_eq!(a.status, status, "{what}: {} {}", a.status, a.body);
    assert_eq!(
        a.header("content-type"),
        Some("application/json"),
        "{what}: {}",
        a.body
    );
    readable(a, what)
}

/// The `error` of a JSON answer, checked to be one plain line of words.
fn readable(a: &Answer, what: &str) -> String {
    let message = a.json()["error"]
        .as_str()
        .unwrap_or_else(|| panic!("{what}: no \"error\" text in {}", a.body))
        .to_string();
    assert!(
        message.len() >= 10
            && message.len() <= 400
            && !message.contains('\n')
            && message.contains(' ')
            && !message.contains("Error {"),
        "{what}: not a readable message: {message:?}"
    );
    message
}

fn status_4xx(a: &Answer) -> bool {
    (400..500).contains(&a.status)
}

#[test]
fn changes_without_the_csrf_token_from_another_site_or_with_a_forged_session_are_refused_and_change_nothing(
) {
    let lab = Lab::small();
    let d = Dashboard::start_with(lab.path(), &[FAST_AUTH]);
    let carol = Client::sign_in(&d, "carol", "pw-carol");
    let csrf = carol.csrf.clone().unwrap();
    let ours = d.origin();
    let forged_token = Client {
        token: Some("ab".repeat(32)),
        ..carol.clone()
    };
    let no_cookie = Client {
        token: None,
        ..carol.clone()
    };
    let before = roots::tree(lab.path());

    let book = booking_body(1, FREE.0, FREE.1).to_string().into_bytes();
    let patch = json!({ "end": "2026-11-24 18:00" })
        .to_string()
        .into_bytes();
    let json_type = ("content-type", "application/json");
    let right = ("x-csrf-token", csrf.as_str());
    let forged = "f".repeat(64);
    let other_port = format!("http://127.0.0.1:{}", d.port.wrapping_add(1));
    let form = ("content-type", "application/x-www-form-urlencoded");
    let q = at(CAROL_START);
    let json_cases: Vec<(&str, Answer, u16)> = vec![
        (
            "POST /api/v1/bookings without the CSRF token",
            carol.send("POST", "/api/v1/bookings", &[json_type], Some(&book)),
            403,
        ),
        (
            "POST /api/v1/bookings with a forged CSRF token",
            carol.send(
                "POST",
                "/api/v1/bookings",
                &[json_type, ("x-csrf-token", &forged)],
                Some(&book),
            ),
            403,
        ),
        (
            "POST /api/v1/bookings with an empty CSRF token",
            carol.send(
                "POST",
                "/api/v1/bookings",
                &[json_type, ("x-csrf-token", "")],
                Some(&book),
            ),
            403,
        ),
        (
            "POST /api/v1/bookings from another site's page",
            carol.send(
                "POST",
                "/api/v1/bookings",
                &[json_type, right, ("origin", "http://evil.example")],
                Some(&book),
            ),
            403,
        ),
        (
            "POST /api/v1/bookings from another port of this host",
            carol.send(
                "POST",
                "/api/v1/bookings",
                &[json_type, right, ("origin", &other_port)],
                Some(&book),
            ),
            403,
        ),
        (
            "POST /api/v1/bookings with Origin: null (a sandboxed frame)",
            carol.send(
                "POST",
                "/api/v1/bookings",
                &[json_type, right, ("origin", "null")],
                Some(&book),
            ),
            403,
        ),
        (
            "POST /api/v1/bookings the browser marks cross-site",
            carol.send(
                "POST",
                "/api/v1/bookings",
                &[json_type, right, ("sec-fetch-site", "cross-site")],
                Some(&book),
            ),
            403,
        ),
        (
            "DELETE /api/v1/bookings without the CSRF token",
            carol.send("DELETE", &q, &[], None),
            403,
        ),
        (
            "DELETE /api/v1/bookings from another site's page",
            carol.send(
                "DELETE",
                &q,
                &[right, ("origin", "http://evil.example")],
                None,
            ),
            403,
        ),
        (
            "PATCH /api/v1/bookings without the CSRF token",
            carol.send("PATCH", &q, &[json_type], Some(&patch)),
            403,
        ),
        (
            "PATCH /api/v1/bookings from another site's page",
            carol.send(
                "PATCH",
                &q,
                &[json_type, right, ("origin", "https://evil.example")],
                Some(&patch),
            ),
            403,
        ),
        (
            "DELETE /api/v1/session without the CSRF token",
            carol.send("DELETE", "/api/v1/session", &[], None),
            403,
        ),
        (
            "POST /api/v1/session from another site's page (the right password)",
            Client::anonymous(&d).send(
                "POST",
                "/api/v1/session",
                &[json_type, ("origin", "http://evil.example")],
                Some(
                    json!({ "user": "carol", "password": "pw-carol" })
                        .to_string()
                        .as_bytes(),
                ),
            ),
            403,
        ),
        (
            "POST /api/v1/bookings with a forged session (and a real CSRF token)",
            forged_token.api(
                "POST",
                "/api/v1/bookings",
                Some(&booking_body(1, FREE.0, FREE.1)),
            ),
            401,
        ),
        (
            "DELETE /api/v1/bookings with a forged session",
            forged_token.api("DELETE", &q, None),
            401,
        ),
        (
            "PATCH /api/v1/bookings with a forged session",
            forged_token.api("PATCH", &q, Some(&json!({ "end": "2026-11-24 18:00" }))),
            401,
        ),
        (
            "POST /api/v1/bookings with no session (the CSRF token alone)",
            no_cookie.api(
                "POST",
                "/api/v1/bookings",
                Some(&booking_body(1, FREE.0, FREE.1)),
            ),
            401,
        ),
        (
            "GET /api/v1/bookings with a forged session",
            forged_token.get("/api/v1/bookings"),
            401,
        ),
    ];
    for (what, a, status) in &json_cases {
        assert_json_error(a, *status, what);
    }

    // The pages' forms: the same checks, answered with a page.
    let forms: Vec<(&str, Answer, u16)> = vec![
        (
            "POST /book with a forged csrf field",
            carol.form(
                "/book",
                &[
                    ("csrf", &forged),
                    ("cpus", "1"),
                    ("memory", "1"),
                    ("gpus", "1"),
                    ("start", FREE.0),
                    ("end", FREE.1),
                ],
            ),
            403,
        ),
        (
            "POST /book with an empty csrf field",
            carol.form(
                "/book",
                &[
                    ("csrf", ""),
                    ("cpus", "1"),
                    ("memory", "1"),
                    ("gpus", "1"),
                    ("start", FREE.0),
                    ("end", FREE.1),
                ],
            ),
            403,
        ),
        (
            "POST /book from another site's page (the right csrf field)",
            carol.send(
                "POST",
                "/book",
                &[form, ("origin", "http://evil.example")],
                Some(
                    common::form_encode(&[
                        ("csrf", &csrf),
                        ("cpus", "1"),
                        ("memory", "1"),
                        ("gpus", "1"),
                        ("start", FREE.0),
                        ("end", FREE.1),
                    ])
                    .as_bytes(),
                ),
            ),
            403,
        ),
        (
            "POST /my cancel with a forged csrf field",
            carol.form(
                "/my",
                &[
                    ("csrf", &forged),
                    ("start", CAROL_START),
                    ("action", "cancel"),
                ],
            ),
            403,
        ),
        (
            "POST /my move from another site's page",
            carol.send(
                "POST",
                "/my",
                &[form, ("origin", "http://evil.example")],
                Some(
                    common::form_encode(&[
                        ("csrf", &csrf),
                        ("start", CAROL_START),
                        ("action", "move"),
                        ("end", "2026-11-24 18:00"),
                    ])
                    .as_bytes(),
                ),
            ),
            403,
        ),
        (
            "POST /my cancel with a forged session",
            forged_token.form(
                "/my",
                &[
                    ("csrf", &csrf),
                    ("start", CAROL_START),
                    ("action", "cancel"),
                ],
            ),
            401,
        ),
        (
            "POST /signout with a forged csrf field",
            carol.form("/signout", &[("csrf", &forged)]),
            403,
        ),
        (
            "POST /signin from another site's page (the right password)",
            Client::anonymous(&d).send(
                "POST",
                "/signin",
                &[form, ("origin", "http://evil.example")],
                Some(
                    common::form_encode(&[("user", "carol"), ("password", "pw-carol")]).as_bytes(),
                ),
            ),
            403,
        ),
    ];
    for (what, a, status) in &forms {
        assert_eq!(a.status, *status, "{what}: {}", a.body);
        assert!(
            a.header("set-cookie").is_none(),
            "{what} set a cookie: {a:?}"
        );
    }
    // A form that lacks the csrf field altogether is refused before any handler runs.
    let missing = carol.form("/my", &[("start", CAROL_START), ("action", "cancel")]);
    assert!(status_4xx(&missing), "POST /my without csrf: {missing:?}");

    assert_unchanged(lab.path(), &before, "the refused requests");
    let mine = carol.get("/api/v1/bookings");
    mine.expect_status(200);
    assert_eq!(
        mine.json()["bookings"].as_array().unwrap().len(),
        1,
        "{}",
        mine.body
    );

    // The control: the same session with its token, from this site, is let through.
    let done = carol.send("DELETE", &q, &[right, ("origin", &ours)], None);
    done.expect_status(200);
    assert_eq!(
        done.json()["cancelled"]["start"],
        "2026-11-24 10:00:00",
        "{}",
        done.body
    );
}

#[test]
fn a_session_ends_with_sign_out_and_with_a_restart_and_its_token_then_changes_nothing() {
    let lab = Lab::small();
    let d = Dashboard::start_with(lab.path(), &[FAST_AUTH]);
    let old = Client::sign_in(&d, "carol", "pw-carol");
    old.get("/api/v1/bookings").expect_status(200);
    drop(d);
    // Sessions live in the server's memory: a restart is the end of every one of them.
    let d = Dashboard::start_with(lab.path(), &[FAST_AUTH]);
    let old = old.at(&d);
    let before = roots::tree(lab.path());
    let q = at(CAROL_START);
    for (what, a) in [
        ("GET /api/v1/bookings", old.get("/api/v1/bookings")),
        (
            "POST /api/v1/bookings",
            old.api(
                "POST",
                "/api/v1/bookings",
                Some(&booking_body(1, FREE.0, FREE.1)),
            ),
        ),
        ("DELETE /api/v1/bookings", old.api("DELETE", &q, None)),
        (
            "PATCH /api/v1/bookings",
            old.api("PATCH", &q, Some(&json!({ "end": "2026-11-24 18:00" }))),
        ),
        (
            "DELETE /api/v1/session",
            old.api("DELETE", "/api/v1/session", None),
        ),
    ] {
        let message = assert_json_error(&a, 401, &format!("{what} with a dead session"));
        assert!(message.contains("sign in"), "{what}: {message}");
    }
    let csrf = old.csrf.clone().unwrap();
    let form = old.form(
        "/my",
        &[
            ("csrf", &csrf),
            ("start", CAROL_START),
            ("action", "cancel"),
        ],
    );
    assert_eq!(
        form.status, 401,
        "POST /my with a dead session: {}",
        form.body
    );
    let my = old.get("/my");
    my.expect_status(303);
    assert_eq!(my.header("location"), Some("/signin"));
    assert_unchanged(lab.path(), &before, "the dead session's requests");

    // Sign-out ends the session at once, and clears the cookie.
    let fresh = Client::sign_in(&d, "carol", "pw-carol");
    fresh.get("/api/v1/bookings").expect_status(200);
    let out = fresh.api("DELETE", "/api/v1/session", None);
    out.expect_status(204);
    let cleared = out.header("set-cookie").unwrap_or_default();
    assert!(
        cleared.starts_with("aivc_session=;") && cleared.contains("Max-Age=0"),
        "{cleared}"
    );
    let after = fresh.api("DELETE", &q, None);
    assert_json_error(&after, 401, "DELETE after sign-out");
    assert_unchanged(lab.path(), &before, "the signed-out session's request");
}

#[test]
fn a_student_cannot_cancel_move_or_end_another_students_booking() {
    let lab = Lab::small();
    let d = Dashboard::start_with(lab.path(), &[FAST_AUTH]);
    let dave = Client::sign_in(&d, "dave", "pw-dave");
    let csrf = dave.csrf.clone().unwrap();
    let before = roots::tree(lab.path());
    let q = at(CAROL_START);
    for (what, a) in [
        ("DELETE carol's booking", dave.api("DELETE", &q, None)),
        (
            "PATCH carol's booking later",
            dave.api("PATCH", &q, Some(&json!({ "end": "2026-11-24 18:00" }))),
        ),
        (
            "PATCH carol's booking shorter",
            dave.api("PATCH", &q, Some(&json!({ "end": "2026-11-24 12:00" }))),
        ),
        (
            "DELETE bob's running booking",
            dave.api("DELETE", &at("2026-11-23 08:00"), None),
        ),
        (
            "PATCH bob's running booking",
            dave.api(
                "PATCH",
                &at("2026-11-23 08:00"),
                Some(&json!({ "end": "2026-11-23 11:00" })),
            ),
        ),
    ] {
        let message = assert_json_error(&a, 404, what);
        assert!(
            message.contains("you have no") && !message.contains("carol"),
            "{what}: {message}"
        );
    }
    for (what, fields) in [
        (
            "cancel carol's booking",
            vec![("start", CAROL_START), ("action", "cancel")],
        ),
        (
            "move carol's end",
            vec![
                ("start", CAROL_START),
                ("action", "move"),
                ("end", "2026-11-24 18:00"),
            ],
        ),
        (
            "end bob's booking now",
            vec![("start", "2026-11-23 08:00"), ("action", "end")],
        ),
        (
            "take erin off the waitlist",
            vec![("start", ""), ("action", "leave"), ("entry", "1")],
        ),
    ] {
        let mut all = vec![("csrf", csrf.as_str())];
        all.extend(fields);
        let a = dave.form("/my", &all);
        assert!(
            status_4xx(&a),
            "POST /my to {what}: {} {}",
            a.status,
            a.body
        );
        assert!(
            a.body.contains("role=\"alert\""),
            "POST /my to {what}: {}",
            a.body
        );
    }
    assert_unchanged(lab.path(), &before, "dave's tries on others' bookings");

    // dave's list holds his own booking alone.
    let mine = dave.get("/api/v1/bookings");
    mine.expect_status(200);
    let v = mine.json();
    let starts: Vec<&str> = v["bookings"]
        .as_array()
        .unwrap()
        .iter()
        .map(|b| b["start"].as_str().unwrap())
        .collect();
    assert_eq!(starts, ["2026-11-26 10:00:00"], "{}", mine.body);
    assert_eq!(v["waitlist"], json!([]), "{}", mine.body);
}

/// The line of `user` in jobs/auth-failures.csv, if any.
fn failures_of(root: &Path, user: &str) -> Option<String> {
    std::fs::read_to_string(root.join("jobs/auth-failures.csv"))
        .ok()?
        .lines()
        .find(|l| l.starts_with(&format!("{user},")))
        .map(str::to_string)
}

/// The count of wrong answers in a row in `user`'s line (its second field).
fn failure_count(root: &Path, user: &str) -> u32 {
    failures_of(root, user)
        .and_then(|l| l.split(',').nth(1).and_then(|n| n.parse().ok()))
        .unwrap_or(0)
}

fn cli_booking(root: &Path, user: &str, password: &str) -> std::process::Output {
    booking_cli(
        root,
        user,
        password,
        &[
            "--cpus", "1", "--memory", "1", "--gpus", "1", "--start", FREE.0, "--end", FREE.1,
        ],
    )
}

#[test]
fn five_wrong_passwords_on_the_web_lock_the_cli_out_too() {
    let lab = Lab::small();
    let d = Dashboard::start_with(lab.path(), &[FAST_AUTH]);
    for n in 1..=5 {
        let (a, c) = Client::try_sign_in(&d, "dave", &format!("wrong-guess-{n}"));
        assert!(c.is_none());
        let message = assert_json_error(&a, 401, &format!("wrong password {n}"));
        // One wording for a wrong password and an unknown id; the fifth says it locked.
        assert!(
            message.contains("the user id or the password is wrong")
                || (n == 5 && message.contains("locked out")),
            "{message}"
        );
        assert!(a.header("set-cookie").is_none(), "{a:?}");
        assert_eq!(failure_count(lab.path(), "dave"), n);
    }
    let line = failures_of(lab.path(), "dave").unwrap();
    assert!(
        line.ends_with(",2026-11-23 10:25:00")
            || line.split(',').nth(4).is_some_and(|l| !l.is_empty()),
        "dave is not locked out in auth-failures.csv: {line}"
    );
    // The right password is refused now, on the web…
    let (a, _) = Client::try_sign_in(&d, "dave", "pw-dave");
    let message = assert_json_error(&a, 429, "the right password while locked out");
    assert!(message.contains("locked out"), "{message}");
    // …and on the command line.
    let out = cli_booking(lab.path(), "dave", "pw-dave");
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert_eq!(out.status.code(), Some(1), "booking: {stderr}");
    assert!(stderr.contains("locked out"), "booking: {stderr}");
    let booked = std::fs::read_to_string(lab.path().join("jobs/booking.csv")).unwrap();
    assert!(!booked.contains("2026-11-25 10:00"), "{booked}");
}

#[test]
fn a_wrong_password_on_the_cli_counts_on_the_web() {
    let lab = Lab::small();
    let d = Dashboard::start_with(lab.path(), &[FAST_AUTH]);
    let out = cli_booking(lab.path(), "erin", "wrong-on-the-cli");
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert_eq!(out.status.code(), Some(1), "booking: {stderr}");
    assert!(stderr.contains("incorrect password"), "booking: {stderr}");
    assert_eq!(failure_count(lab.path(), "erin"), 1);
    // Four more on the web make five: the lock-out.
    for n in 2..=5 {
        let (a, _) = Client::try_sign_in(&d, "erin", &format!("wrong-on-the-web-{n}"));
        assert_json_error(&a, 401, &format!("wrong password {n}"));
        assert_eq!(failure_count(lab.path(), "erin"), n);
    }
    let (a, _) = Client::try_sign_in(&d, "erin", "pw-erin");
    let message = assert_json_error(&a, 429, "the right password after 1 + 4 wrong ones");
    assert!(message.contains("locked out"), "{message}");
    // The form says so too.
    let page = Client::anonymous(&d).form("/signin", &[("user", "erin"), ("password", "pw-erin")]);
    assert_eq!(page.status, 429, "{}", page.body);
    assert!(page.body.contains("id=\"signin-error\""), "{}", page.body);
    assert!(page.body.contains("locked out"), "{}", page.body);
}

#[test]
fn every_bad_input_is_a_4xx_with_a_readable_json_message_and_changes_nothing() {
    let lab = Lab::small();
    let d = Dashboard::start_with(lab.path(), &[FAST_AUTH]);
    let carol = Client::sign_in(&d, "carol", "pw-carol");
    let csrf = carol.csrf.clone().unwrap();
    let before = roots::tree(lab.path());
    let good = booking_body(1, FREE.0, FREE.1);
    let with = |k: &str, v: serde_json::Value| {
        let mut b = good.clone();
        b[k] = v;
        b.to_string()
    };
    let without = |k: &str| {
        let mut b = good.clone();
        b.as_object_mut().unwrap().remove(k);
        b.to_string()
    };
    let huge = with(
        "start",
        json!(format!("{}{}", FREE.0, " ".repeat(17 * 1024))),
    );
    let cases: Vec<(&str, String, &str)> = vec![
        ("a missing field (end)", without("end"), "end"),
        ("a missing field (cpus)", without("cpus"), "cpus"),
        (
            "an unknown field (image)",
            with("image", json!("evil:latest")),
            "image",
        ),
        (
            "an unknown field (extra_command)",
            with("extra_command", json!("rm -rf /")),
            "extra_command",
        ),
        ("cpus \"abc\"", with("cpus", json!("abc")), "abc"),
        ("cpus -1", with("cpus", json!(-1)), "cpus"),
        ("cpus 0", with("cpus", json!(0)), "cpus"),
        ("memory -1", with("memory", json!(-1)), "-1"),
        ("memory 1.5", with("memory", json!(1.5)), "1.5"),
        ("gpus 99", with("gpus", json!(99)), "GPU"),
        ("gpus -1", with("gpus", json!(-1)), "-1"),
        ("start \"soon\"", with("start", json!("soon")), "soon"),
        ("end \"later\"", with("end", json!("later")), "later"),
        (
            "end before start",
            with("end", json!("2026-11-25 09:00")),
            "end",
        ),
        (
            "a start in the past",
            with("start", json!("2026-11-20 10:00")),
            "past",
        ),
        (
            "minutes off the slot",
            with("start", json!("2026-11-25 10:15")),
            "30",
        ),
        ("wait \"yes\"", with("wait", json!("yes")), "yes"),
        (
            "latest_start \"soon\"",
            with("latest_start", json!("soon")),
            "soon",
        ),
        ("a body over 16 KiB", huge, "16 KiB"),
        ("not JSON", "cpus=1&memory=1".to_string(), "JSON"),
        ("an empty body", String::new(), "JSON"),
        ("a JSON list", "[1, 2]".to_string(), "JSON"),
        ("JSON null", "null".to_string(), "JSON"),
    ];
    for (what, body, word) in &cases {
        let a = carol.send(
            "POST",
            "/api/v1/bookings",
            &[
                ("content-type", "application/json"),
                ("x-csrf-token", &csrf),
            ],
            Some(body.as_bytes()),
        );
        assert!(
            status_4xx(&a),
            "POST {what}: {} {}",
            a.status,
            common::truncate(&a.body, 300)
        );
        assert_eq!(
            a.header("content-type"),
            Some("application/json"),
            "POST {what}: {}",
            a.body
        );
        let message = readable(&a, what);
        assert!(
            message.to_lowercase().contains(&word.to_lowercase()),
            "POST {what}: the message does not name `{word}`: {message}"
        );
    }
    let q = at(CAROL_START);
    let others: Vec<(&str, Answer)> = vec![
        (
            "PATCH with end \"soon\"",
            carol.api("PATCH", &q, Some(&json!({ "end": "soon" }))),
        ),
        (
            "PATCH with an unknown field",
            carol.api(
                "PATCH",
                &q,
                Some(&json!({ "end": "2026-11-24 18:00", "gpus": 4 })),
            ),
        ),
        (
            "PATCH without ?start",
            carol.api(
                "PATCH",
                "/api/v1/bookings",
                Some(&json!({ "end": "2026-11-24 18:00" })),
            ),
        ),
        ("PATCH with no body", carol.api("PATCH", &q, None)),
        (
            "PATCH to an end before the start",
            carol.api("PATCH", &q, Some(&json!({ "end": "2026-11-24 09:00" }))),
        ),
        (
            "DELETE without ?start",
            carol.api("DELETE", "/api/v1/bookings", None),
        ),
        (
            "DELETE with ?start=soon",
            carol.api("DELETE", &at("soon"), None),
        ),
        (
            "DELETE of a start nobody booked",
            carol.api("DELETE", &at("2026-11-27 10:00"), None),
        ),
        (
            "POST /api/v1/session that is not JSON",
            Client::anonymous(&d).send(
                "POST",
                "/api/v1/session",
                &[("content-type", "application/json")],
                Some(b"user=carol&password=pw-carol"),
            ),
        ),
        (
            "POST /api/v1/session without a password",
            Client::anonymous(&d).api("POST", "/api/v1/session", Some(&json!({ "user": "carol" }))),
        ),
        (
            "POST /api/v1/session for an unknown user",
            Client::anonymous(&d).api(
                "POST",
                "/api/v1/session",
                Some(&json!({ "user": "mallory", "password": "pw-mallory" })),
            ),
        ),
        (
            "POST /api/v1/session over 16 KiB",
            Client::anonymous(&d).api(
                "POST",
                "/api/v1/session",
                Some(&json!({ "user": "carol", "password": "x".repeat(17 * 1024) })),
            ),
        ),
    ];
    for (what, a) in &others {
        assert!(
            status_4xx(a),
            "{what}: {} {}",
            a.status,
            common::truncate(&a.body, 300)
        );
        assert_eq!(
            a.header("content-type"),
            Some("application/json"),
            "{what}: {}",
            a.body
        );
        readable(a, what);
    }
    // The form: a word for a number comes back as the form, with what is wrong.
    let page = carol.form(
        "/book",
        &[
            ("csrf", &csrf),
            ("cpus", "abc"),
            ("memory", "1"),
            ("gpus", "1"),
            ("start", FREE.0),
            ("end", FREE.1),
        ],
    );
    assert_eq!(page.status, 422, "{}", page.body);
    assert!(page.body.contains("id=\"refusal\""), "{}", page.body);
    assert!(page.body.contains("`abc` is not a number"), "{}", page.body);
    assert_unchanged(lab.path(), &before, "the bad requests");
}

#[test]
fn read_only_mode_refuses_sign_in_and_every_change_with_403_and_counts_no_password() {
    let lab = Lab::small();
    std::fs::write(
        lab.path().join("cfg/dashboard.yaml"),
        "web_booking: false\n",
    )
    .unwrap();
    let d = Dashboard::start_with(lab.path(), &[FAST_AUTH]);
    let before = roots::tree(lab.path());
    let anyone = Client::anonymous(&d);
    let fake = Client {
        token: Some("ab".repeat(32)),
        csrf: Some("cd".repeat(32)),
        ..anyone.clone()
    };
    let q = at(CAROL_START);
    for (what, a) in [
        (
            "sign-in with the right password",
            anyone.api(
                "POST",
                "/api/v1/session",
                Some(&json!({ "user": "carol", "password": "pw-carol" })),
            ),
        ),
        (
            "sign-in with a wrong password",
            anyone.api(
                "POST",
                "/api/v1/session",
                Some(&json!({ "user": "carol", "password": "wrong-one" })),
            ),
        ),
        (
            "a booking",
            fake.api(
                "POST",
                "/api/v1/bookings",
                Some(&booking_body(1, FREE.0, FREE.1)),
            ),
        ),
        ("a cancel", fake.api("DELETE", &q, None)),
        (
            "a new end",
            fake.api("PATCH", &q, Some(&json!({ "end": "2026-11-24 18:00" }))),
        ),
        ("a sign-out", fake.api("DELETE", "/api/v1/session", None)),
    ] {
        let message = assert_json_error(&a, 403, &format!("read-only: {what}"));
        assert!(message.contains("read-only"), "{what}: {message}");
    }
    let csrf = fake.csrf.clone().unwrap();
    for (what, path, fields) in [
        (
            "the sign-in form",
            "/signin",
            vec![("user", "carol"), ("password", "pw-carol")],
        ),
        (
            "the booking form",
            "/book",
            vec![
                ("csrf", csrf.as_str()),
                ("cpus", "1"),
                ("memory", "1"),
                ("gpus", "1"),
                ("start", FREE.0),
                ("end", FREE.1),
            ],
        ),
        (
            "a cancel on my bookings",
            "/my",
            vec![
                ("csrf", csrf.as_str()),
                ("start", CAROL_START),
                ("action", "cancel"),
            ],
        ),
        ("sign-out", "/signout", vec![("csrf", csrf.as_str())]),
    ] {
        let a = fake.form(path, &fields);
        assert_eq!(a.status, 403, "read-only: {what}: {}", a.body);
        assert!(a.header("set-cookie").is_none(), "read-only: {what}: {a:?}");
    }
    // The pages still read, and the timeline offers nothing to pick.
    let page = anyone.get("/");
    page.expect_status(200);
    assert!(
        !page.body.contains("?pick="),
        "read-only timeline links a pick"
    );
    assert_unchanged(lab.path(), &before, "read-only mode");
    assert!(failures_of(lab.path(), "carol").is_none());
}

fn set_cookie(a: &Answer) -> String {
    a.header("set-cookie")
        .unwrap_or_else(|| panic!("{} {} set no cookie", a.method, a.path))
        .to_string()
}

/// The flags of a `Set-Cookie` value, by name (lowercase) and value.
fn flags(cookie: &str) -> Vec<String> {
    cookie
        .split(';')
        .skip(1)
        .map(|f| f.trim().to_ascii_lowercase())
        .collect()
}

#[test]
fn the_session_cookie_is_httponly_and_samesite_strict_and_secure_only_behind_tls() {
    let lab = Lab::small();
    let d = Dashboard::start_with(lab.path(), &[FAST_AUTH]);
    let (api, _) = Client::try_sign_in(&d, "carol", "pw-carol");
    let form =
        Client::anonymous(&d).form("/signin", &[("user", "carol"), ("password", "pw-carol")]);
    form.expect_status(303);
    assert_eq!(form.header("location"), Some("/my"));
    for (what, a) in [("the API's sign-in", &api), ("the form's sign-in", &form)] {
        let c = set_cookie(a);
        let f = flags(&c);
        assert!(c.starts_with("aivc_session="), "{what}: {c}");
        let token = common::cookie_value(&c, "aivc_session").unwrap();
        assert!(
            token.len() == 64 && token.chars().all(|c| c.is_ascii_hexdigit()),
            "{what}: {c}"
        );
        assert!(f.contains(&"httponly".to_string()), "{what}: {c}");
        assert!(f.contains(&"samesite=strict".to_string()), "{what}: {c}");
        assert!(f.contains(&"path=/".to_string()), "{what}: {c}");
        assert!(
            !f.contains(&"secure".to_string()),
            "{what} without TLS: {c}"
        );
    }
    assert_ne!(
        common::cookie_value(&set_cookie(&api), "aivc_session"),
        common::cookie_value(&set_cookie(&form), "aivc_session"),
        "two sign-ins got one token"
    );
    drop(d);

    std::fs::write(lab.path().join("cfg/dashboard.yaml"), "behind_tls: true\n").unwrap();
    let d = Dashboard::start_with(lab.path(), &[FAST_AUTH]);
    let (api, carol) = Client::try_sign_in(&d, "carol", "pw-carol");
    let https = format!("https://127.0.0.1:{}", d.port);
    let form = Client::anonymous(&d).send(
        "POST",
        "/signin",
        &[
            ("content-type", "application/x-www-form-urlencoded"),
            ("origin", &https),
        ],
        Some(common::form_encode(&[("user", "carol"), ("password", "pw-carol")]).as_bytes()),
    );
    form.expect_status(303);
    for (what, a) in [("the API's sign-in", &api), ("the form's sign-in", &form)] {
        let c = set_cookie(a);
        let f = flags(&c);
        assert!(f.contains(&"secure".to_string()), "{what} behind TLS: {c}");
        assert!(f.contains(&"httponly".to_string()), "{what}: {c}");
        assert!(f.contains(&"samesite=strict".to_string()), "{what}: {c}");
    }
    // Behind TLS the site's own origin is https: a plain-http Origin is another site.
    let carol = carol.unwrap();
    let csrf = carol.csrf.clone().unwrap();
    let plain = carol.send(
        "DELETE",
        "/api/v1/session",
        &[("x-csrf-token", &csrf), ("origin", &d.origin())],
        None,
    );
    assert_json_error(&plain, 403, "an http Origin behind TLS");
    let out = carol.send(
        "DELETE",
        "/api/v1/session",
        &[("x-csrf-token", &csrf), ("origin", &https)],
        None,
    );
    out.expect_status(204);
    let cleared = set_cookie(&out);
    assert!(flags(&cleared).contains(&"secure".to_string()), "{cleared}");
}

/// Every e-mail-like word of `text` (`x@y.z`), but the `root@` of an ssh line.
fn emails(text: &str) -> Vec<String> {
    let word = |c: char| c.is_ascii_alphanumeric() || "._%+-".contains(c);
    let mut found = Vec::new();
    for (i, _) in text.match_indices('@') {
        let left: String = text[..i]
            .chars()
            .rev()
            .take_while(|c| word(*c))
            .collect::<Vec<_>>()
            .into_iter()
            .rev()
            .collect();
        let right: String = text[i + 1..].chars().take_while(|c| word(*c)).collect();
        if !left.is_empty() && right.contains('.') && left != "root" {
            found.push(format!("{left}@{right}"));
        }
    }
    found
}

#[test]
fn no_signed_in_page_or_answer_shows_a_password_an_email_or_another_users_extra_command() {
    let lab = Lab::small();
    let d = Dashboard::start_with(lab.path(), &[FAST_AUTH]);
    // alice's is the password and the e-mail of the lab's secrets.
    let alice = Client::sign_in(&d, "alice", SECRETS[0]);
    alice
        .api(
            "POST",
            "/api/v1/bookings",
            Some(&booking_body(1, FREE.0, FREE.1)),
        )
        .expect_status(201);
    let carol = Client::sign_in(&d, "carol", "pw-carol");
    let erin = Client::sign_in(&d, "erin", "pw-erin");
    let forbidden: Vec<&str> = SECRETS
        .iter()
        .copied()
        .chain(["pw-bob", "pw-carol", "pw-dave", "pw-erin", "typed-wrong-pw"])
        .collect();
    let mut answers: Vec<Answer> = Vec::new();
    for c in [&alice, &carol, &erin] {
        let csrf = c.csrf.clone().unwrap();
        for path in [
            "/",
            "/?pick=2026-11-25%2010:00",
            "/?pick=2026-11-25%2010:00:00",
            "/my",
            "/my?done=booked",
            "/book",
            "/book?start=2026-11-25+10:00&end=2026-11-25+12:00&gpus=1",
            "/api/v1/bookings",
            "/now",
            "/waitlist",
            "/problems",
            "/signin",
            "/api/v1/state",
        ] {
            answers.push(c.get(path));
        }
        // A refusal with its suggestion, through the form and the API.
        let full = [
            ("csrf", csrf.as_str()),
            ("cpus", "1"),
            ("memory", "1"),
            ("gpus", "4"),
            ("start", "2026-11-23 11:00"),
            ("end", "2026-11-23 12:00"),
        ];
        answers.push(c.form("/book", &full));
        answers.push(c.api(
            "POST",
            "/api/v1/bookings",
            Some(&booking_body(4, "2026-11-23 11:00", "2026-11-23 12:00")),
        ));
        answers.push(c.form(
            "/my",
            &[
                ("csrf", &csrf),
                ("start", "2026-11-20 10:00"),
                ("action", "cancel"),
            ],
        ));
    }
    let anyone = Client::anonymous(&d);
    answers.push(anyone.form(
        "/signin",
        &[("user", "alice"), ("password", "typed-wrong-pw")],
    ));
    answers.push(anyone.api(
        "POST",
        "/api/v1/session",
        Some(&json!({ "user": "alice", "password": "typed-wrong-pw" })),
    ));
    for a in &answers {
        assert!(
            a.status < 500,
            "{} {}: {} {}",
            a.method,
            a.path,
            a.status,
            a.body
        );
        for secret in &forbidden {
            assert!(
                !a.body.contains(secret),
                "{} {} shows `{secret}`",
                a.method,
                a.path
            );
        }
        let found = emails(&a.body);
        assert!(
            found.is_empty(),
            "{} {} shows e-mail addresses: {found:?}",
            a.method,
            a.path
        );
    }
    // The API's own bookings carry no field for a command or an image at all.
    let own = alice.get("/api/v1/bookings");
    assert!(
        !own.body.contains("extra_command") && !own.body.contains("image"),
        "{}",
        own.body
    );
    // The refusals did answer with a suggestion, so their pages were checked whole.
    assert!(
        answers
            .iter()
            .any(|a| a.body.contains("id=\"take-suggestion\"")),
        "no refusal page offered the suggested window"
    );
    // The signed-in pages did show the user's own booking with its ssh line.
    let mine = alice.get("/my");
    assert!(mine.body.contains("ssh -p 10001 root@"), "{}", mine.body);
}

/// A value of the wrong type or range for a number or a yes/no is refused naming its field
/// in words a student knows: serde's own message ("invalid value: integer `-1`, expected
/// u32 at line 1 column 55") says neither which field nor what would do.
#[test]
fn a_value_of_the_wrong_type_is_refused_naming_its_field() {
    let lab = Lab::small();
    let d = Dashboard::start_with(lab.path(), &[FAST_AUTH]);
    let carol = Client::sign_in(&d, "carol", "pw-carol");
    let mut unnamed = Vec::new();
    for (field, value) in [
        ("cpus", json!("abc")),
        ("memory", json!(-1)),
        ("memory", json!(1.5)),
        ("memory", json!("4GB")),
        ("gpus", json!(-1)),
        ("gpus", json!("one")),
        ("wait", json!("yes")),
        ("start", json!(20261125)),
    ] {
        let mut body = booking_body(1, FREE.0, FREE.1);
        body[field] = value.clone();
        let a = carol.api("POST", "/api/v1/bookings", Some(&body));
        let message = assert_json_error(&a, 422, &format!("{field}: {value}"));
        if !message.contains(field) {
            unnamed.push(format!("{field}: {value} → {message}"));
        }
    }
    assert!(
        unnamed.is_empty(),
        "refusals that do not name the field:\n{}",
        unnamed.join("\n")
    );
}

/// A script names a booking by the start the API itself gave it (`"start": "2026-11-24
/// 10:00:00"`, with seconds) to cancel it or move its end.
#[test]
fn a_booking_is_moved_and_cancelled_by_the_start_the_api_gave() {
    let lab = Lab::small();
    let d = Dashboard::start_with(lab.path(), &[FAST_AUTH]);
    let carol = Client::sign_in(&d, "carol", "pw-carol");
    let listed = carol.get("/api/v1/bookings");
    listed.expect_status(200);
    let start = listed.json()["bookings"][0]["start"]
        .as_str()
        .unwrap()
        .to_string();
    let moved = carol.api(
        "PATCH",
        &at(&start),
        Some(&json!({ "end": "2026-11-24 18:00" })),
    );
    moved.expect_status(200);
    assert_eq!(moved.json()["booking"]["end"], "2026-11-24 18:00:00");
    let gone = carol.api("DELETE", &at(&start), None);
    gone.expect_status(200);
    assert_eq!(gone.json()["cancelled"]["start"], start.as_str());
}

/// What a browser sends as `Origin` with a form it posts to the page's own site, by the
/// Fetch standard ("serializing a request origin"): `null` when the page's referrer policy
/// is `no-referrer`, else the site's origin. Chromium does exactly this.
fn origin_a_browser_sends(d: &Dashboard, page: &Answer) -> String {
    match page.header("referrer-policy") {
        Some("no-referrer") => "null".to_string(),
        _ => d.origin(),
    }
}

/// A form of the site's own page, posted as a browser posts it (the `Origin` its referrer
/// policy leaves, `Sec-Fetch-Site: same-origin`), is let through: the origin check must
/// not refuse the site's own pages.
#[test]
fn the_sites_own_sign_in_form_is_accepted_as_a_browser_posts_it() {
    let lab = Lab::small();
    let d = Dashboard::start_with(lab.path(), &[FAST_AUTH]);
    let anyone = Client::anonymous(&d);
    let page = anyone.get("/signin");
    page.expect_status(200);
    let origin = origin_a_browser_sends(&d, &page);
    let a = anyone.send(
        "POST",
        "/signin",
        &[
            ("content-type", "application/x-www-form-urlencoded"),
            ("origin", &origin),
            ("sec-fetch-site", "same-origin"),
            ("sec-fetch-mode", "navigate"),
        ],
        Some(common::form_encode(&[("user", "carol"), ("password", "pw-carol")]).as_bytes()),
    );
    assert_eq!(
        a.status,
        303,
        "the sign-in form posted with Origin: {origin} (the page says Referrer-Policy: {:?}): {}",
        page.header("referrer-policy"),
        common::truncate(&a.body, 2000)
    );
}

#[test]
fn a_flood_of_wrong_passwords_waits_its_delays_without_stalling_the_pages() {
    // Wrong passwords wait 500 ms × their count in a row before their answer: 20 at once
    // are more than the threads the server reads pages on (the first version let them
    // take every one, so a page waited for the first guess to be answered).
    let lab = Lab::small();
    let d = std::sync::Arc::new(Dashboard::start_with(
        lab.path(),
        &[("AIVC_AUTH_DELAY_MS", "500")],
    ));
    d.get("/").expect_status(200);
    let began = std::time::Instant::now();
    let guesses: Vec<_> = (0..20)
        .map(|n| {
            let d = d.clone();
            std::thread::spawn(move || {
                let (a, _) = Client::try_sign_in(&d, "bob", &format!("guess-{n}"));
                assert!(
                    a.status == 401 || a.status == 429,
                    "{} {}",
                    a.status,
                    a.body
                );
                began.elapsed()
            })
        })
        .collect();
    std::thread::sleep(std::time::Duration::from_millis(100));
    // Pages and the state are answered while the guesses wait.
    for path in ["/now", "/waitlist", "/api/v1/state"] {
        d.get(path).expect_status(200);
    }
    let pages_done = began.elapsed();
    let first_guess_answered = guesses
        .into_iter()
        .map(|g| g.join().unwrap())
        .min()
        .unwrap();
    assert!(
        pages_done < first_guess_answered,
        "the pages waited behind the wrong passwords: answered after {pages_done:?}, the first guess after {first_guess_answered:?}"
    );
}
