//! Signing up on the web (issue 18): only as `booking` allows it — an id the lab allows,
//! the lab's sign-up code when the lab asks for one, the password rules — and then the new
//! password opens the web and the CLI alike. Every refusal changes no file.

mod common;
#[path = "../../../tests/support/roots.rs"]
mod roots;

use common::{booking_cli, Client, Dashboard, Lab};

/// The small lab, with `frank` allowed but not signed up.
fn lab_with_frank() -> Lab {
    let lab = Lab::small();
    let cap = lab.path().join("cfg/capability_config.yaml");
    let text = std::fs::read_to_string(&cap).unwrap();
    std::fs::write(&cap, text.replace("erin]", "erin, frank]")).unwrap();
    lab
}

fn sign_up(d: &Dashboard, user: &str, password: &str, again: &str, code: &str) -> common::Answer {
    Client::anonymous(d).form(
        "/signup",
        &[
            ("user", user),
            ("password", password),
            ("again", again),
            ("code", code),
        ],
    )
}

#[test]
fn an_allowed_new_id_signs_up_on_the_web_and_its_password_then_works_on_the_web_and_the_cli() {
    let lab = lab_with_frank();
    let d = Dashboard::start(lab.path());
    d.get("/signup").expect_status(200);

    let before = roots::tree(lab.path());
    let a = sign_up(&d, "frank", "Frank-pw-2026", "Frank-pw-2027", "");
    a.expect_status(422);
    assert!(a.body.contains("the two passwords differ"), "{}", a.body);
    assert!(
        before == roots::tree(lab.path()),
        "a refused sign-up changed files"
    );

    let a = sign_up(&d, "frank", "Frank-pw-2026", "Frank-pw-2026", "");
    a.expect_status(303);
    assert_eq!(a.header("location"), Some("/my?done=signed-up"));
    assert!(a
        .header("set-cookie")
        .is_some_and(|c| c.starts_with("aivc_session=")));
    let users = std::fs::read_to_string(lab.path().join("cfg/users_config.yaml")).unwrap();
    assert!(users.contains("frank:"), "{users}");

    // The same password signs in on the web, and books with the CLI.
    let frank = Client::sign_in(&d, "frank", "Frank-pw-2026");
    frank.get("/my").expect_status(200);
    let out = booking_cli(
        lab.path(),
        "frank",
        "Frank-pw-2026",
        &[
            "--cpus",
            "1",
            "--memory",
            "1",
            "--start",
            "2026-11-25 10:00",
            "--end",
            "2026-11-25 11:00",
        ],
    );
    assert!(
        out.status.success(),
        "booking with the web's password: {}",
        String::from_utf8_lossy(&out.stderr)
    );

    // Signed up once is signed up.
    let before = roots::tree(lab.path());
    let a = sign_up(&d, "frank", "Other-pw-2026", "Other-pw-2026", "");
    a.expect_status(409);
    assert!(a.body.contains("signed up already"), "{}", a.body);
    assert!(before == roots::tree(lab.path()));
}

#[test]
fn an_id_the_lab_does_not_allow_or_a_missing_code_the_lab_requires_signs_nobody_up() {
    let lab = lab_with_frank();
    let deploy = lab.path().join("cfg/host_deploy.yaml");
    let text = std::fs::read_to_string(&deploy).unwrap();
    std::fs::write(&deploy, format!("{text}require_signup_code: true\n")).unwrap();
    let d = Dashboard::start(lab.path());
    let before = roots::tree(lab.path());

    let a = sign_up(&d, "mallory", "Mallory-pw-2026", "Mallory-pw-2026", "");
    assert!((400..500).contains(&a.status), "{} {}", a.status, a.body);
    let a = sign_up(&d, "frank", "Frank-pw-2026", "Frank-pw-2026", "");
    a.expect_status(422);
    assert!(a.body.contains("sign-up code"), "{}", a.body);
    let a = sign_up(
        &d,
        "frank",
        "Frank-pw-2026",
        "Frank-pw-2026",
        "not-the-code",
    );
    assert!((400..500).contains(&a.status), "{} {}", a.status, a.body);

    let after = roots::tree(lab.path());
    let changed: Vec<_> = after
        .iter()
        .filter(|(p, b)| before.get(*p) != Some(*b))
        .map(|(p, _)| p.display().to_string())
        .collect();
    // A wrong code is counted like a wrong password (jobs/auth-failures.csv); nothing else.
    assert!(
        changed
            .iter()
            .all(|p| p.ends_with("auth-failures.csv") || p.ends_with("monitor.log")),
        "a refused sign-up changed {changed:?}"
    );
    let users = std::fs::read_to_string(lab.path().join("cfg/users_config.yaml")).unwrap();
    assert!(
        !users.contains("frank:") && !users.contains("mallory"),
        "{users}"
    );
}
