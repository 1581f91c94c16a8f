//! `monitor --deliver` (what aivc-notices.path and .timer run) and the tick's last step, with
//! Debian's aiosmtpd and busybox httpd on loopback: a delivery killed with SIGKILL between a
//! send and its record, or between two sends, loses nothing and repeats no container file;
//! the one thing it can repeat is the one mail or webhook POST in flight (a mail keeps its
//! Message-ID). The SMTP credentials
//! never reach stderr or monitor.log; a bad cfg/notify.yaml is one line and exit 2.

mod common;

#[path = "../../../tests/support/notify_servers.rs"]
mod servers;

use std::collections::BTreeMap;
use std::os::unix::fs::MetadataExt;
use std::os::unix::process::ExitStatusExt;

use hostinfo::notices::{Kind, Notice, Recipient};
use servers::{free_port, Http, Smtp};

const PASSWORD: &str = "hunter2-very-secret";
const USER: &str = "mailer-account";

/// A lab whose alice has an e-mail address, with SMTP on `port` and `extra` notify keys.
fn lab_with_mail(port: u16, extra: &str) -> common::Lab {
    let lab = common::Lab::new(None);
    let users = lab.path().join("cfg/users_config.yaml");
    let text = std::fs::read_to_string(&users).unwrap().replace(
        "  volume_backup_dir: ./vol/backup/alice\n",
        "  volume_backup_dir: ./vol/backup/alice\n  email: alice@lab.example\n",
    );
    std::fs::write(&users, text).unwrap();
    std::fs::write(
        lab.path().join("cfg/notify.yaml"),
        format!("smtp:\n  server: 127.0.0.1\n  port: {port}\n  security: none\n  sender: aivc@lab.example\n{extra}"),
    )
    .unwrap();
    lab
}

fn post(lab: &common::Lab, texts: &[&str]) -> Vec<Notice> {
    let root = hostinfo::Root::at(lab.path());
    let now = hostinfo::schedule::parse_time(&format!("{}:00", common::NOW)).unwrap();
    let notices: Vec<Notice> = texts
        .iter()
        .map(|t| {
            Notice::new(
                now,
                Recipient::User("alice".into()),
                Kind::BookingMade,
                *t,
                t,
            )
        })
        .collect();
    root.post_notices(&notices, chrono::Duration::zero())
        .unwrap();
    notices
}

/// How many mails carry each Message-ID.
fn mail_counts(smtp: &Smtp) -> BTreeMap<String, usize> {
    let mut out = BTreeMap::new();
    for m in smtp.mails() {
        *out.entry(m.header("Message-ID").to_string()).or_default() += 1;
    }
    out
}

/// The (id, channel) pairs of the record, each with how often it is there.
fn records(lab: &common::Lab) -> BTreeMap<(String, String), usize> {
    let mut out = BTreeMap::new();
    for d in hostinfo::Root::at(lab.path())
        .read_notices_delivered()
        .unwrap()
    {
        *out.entry((d.id, d.channel)).or_default() += 1;
    }
    out
}

#[test]
fn a_delivery_killed_at_any_step_loses_nothing_and_repeats_at_most_the_one_send_in_flight() {
    for step in [
        "notice-sent:container",
        "notice-sent:email",
        "notice-sent:webhook",
        "notice-recorded",
    ] {
        let smtp = Smtp::start(free_port());
        let http = Http::start(free_port());
        let lab = lab_with_mail(
            smtp.port,
            &format!("user_webhooks:\n  alice: \"{}\"\n", http.hook_url("t")),
        );
        let posted = post(&lab, &["first", "second", "third"]);
        let killed = lab.monitor(common::NOW, &["--deliver"], &[("AIVC_CRASH_AT", step)]);
        assert_eq!(
            killed.status.signal(),
            Some(9),
            "{step}: not killed there: {}",
            String::from_utf8_lossy(&killed.stderr)
        );
        let first_file = lab
            .path()
            .join(format!("vol/work/alice/.aivc/notices/{}.txt", posted[0].id));
        // Every step comes after the first notice's file was written.
        let inode_before = std::fs::metadata(&first_file)
            .unwrap_or_else(|e| panic!("{step}: {e}"))
            .ino();

        let again = lab.monitor(common::NOW, &["--deliver"], &[]);
        assert!(
            again.status.success(),
            "{step}: {}",
            String::from_utf8_lossy(&again.stderr)
        );

        // Nothing lost, nothing recorded twice.
        let recorded = records(&lab);
        assert_eq!(recorded.len(), 9, "{step}: {recorded:?}");
        assert!(recorded.values().all(|n| *n == 1), "{step}: {recorded:?}");
        // The container's files: one per notice, the first never rewritten.
        let mut files: Vec<String> =
            std::fs::read_dir(lab.path().join("vol/work/alice/.aivc/notices"))
                .unwrap()
                .map(|e| e.unwrap().file_name().into_string().unwrap())
                .collect();
        files.sort();
        let want: Vec<String> = posted.iter().map(|n| format!("{}.txt", n.id)).collect();
        assert_eq!(files, want, "{step}");
        assert_eq!(
            std::fs::metadata(&first_file).unwrap().ino(),
            inode_before,
            "{step}: the first notice's file was written again"
        );
        // Every mail arrived; only a kill right after a mail went out repeats that mail.
        let counts = mail_counts(&smtp);
        let ids: Vec<String> = posted.iter().map(|n| format!("<{}@aivc>", n.id)).collect();
        let expected: BTreeMap<String, usize> = ids
            .iter()
            .enumerate()
            .map(|(i, id)| {
                let repeated = step == "notice-sent:email" && i == 0;
                (id.clone(), if repeated { 2 } else { 1 })
            })
            .collect();
        assert_eq!(counts, expected, "{step}");
        let mut bodies: BTreeMap<String, usize> = BTreeMap::new();
        for b in http.bodies() {
            let json: serde_json::Value = serde_json::from_str(&b).unwrap();
            *bodies
                .entry(json["text"].as_str().unwrap().to_string())
                .or_default() += 1;
        }
        let expected: BTreeMap<String, usize> = ["first", "second", "third"]
            .iter()
            .enumerate()
            .map(|(i, t)| {
                let repeated = step == "notice-sent:webhook" && i == 0;
                (
                    format!("[AIVC] Your booking is made: {t}"),
                    if repeated { 2 } else { 1 },
                )
            })
            .collect();
        assert_eq!(bodies, expected, "{step}");
    }
}

#[test]
fn the_credentials_never_reach_stderr_or_monitor_log() {
    use std::os::unix::fs::PermissionsExt;
    let smtp = Smtp::start(free_port());
    let lab = lab_with_mail(smtp.port, "");
    let notify = lab.path().join("cfg/notify.yaml");
    let text = std::fs::read_to_string(&notify).unwrap();
    std::fs::write(
        &notify,
        text.replace(
            "  security: none\n",
            "  security: none\n  credentials_file: ./cfg/smtp-credentials\n",
        ),
    )
    .unwrap();
    let creds = lab.path().join("cfg/smtp-credentials");
    std::fs::write(&creds, format!("{USER}\n{PASSWORD}\n")).unwrap();
    post(&lab, &["one"]);
    for mode in [0o644, 0o600] {
        std::fs::set_permissions(&creds, std::fs::Permissions::from_mode(mode)).unwrap();
        let out = lab.monitor(common::NOW, &["--deliver"], &[]);
        assert!(out.status.success());
        let stderr = String::from_utf8_lossy(&out.stderr);
        let log = lab.file("jobs/monitor.log");
        assert!(
            stderr.contains("1 pending") && log.contains("the mail server not delivered"),
            "{mode:o}: {stderr}\n{log}"
        );
        for text in [&*stderr, &log] {
            assert!(
                !text.contains(PASSWORD) && !text.contains(USER),
                "{mode:o}: {text}"
            );
        }
    }
    assert!(smtp.mails().is_empty());
}

#[test]
fn a_bad_notify_yaml_is_one_line_exit_2_and_nothing_changes() {
    let lab = lab_with_mail(free_port(), "rate_limit_minutes: soon\n");
    post(&lab, &["one"]);
    let before = lab.file("jobs/notices.csv");
    let out = lab.monitor(common::NOW, &["--deliver"], &[]);
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert_eq!(out.status.code(), Some(2), "{stderr}");
    assert_eq!(stderr.lines().count(), 1, "{stderr}");
    assert!(
        stderr.starts_with("monitor: error: ") && stderr.contains("cfg/notify.yaml:"),
        "{stderr}"
    );
    assert_eq!(lab.file("jobs/notices.csv"), before);
    assert!(!lab.path().join("jobs/notices-delivered.csv").exists());
    assert!(!lab.path().join("vol/work/alice/.aivc").exists());
}

#[test]
fn a_tick_ends_by_delivering_and_a_delivery_error_never_fails_it() {
    let lab = common::Lab::new(None);
    let posted = post(&lab, &["delivered by the tick"]);
    let out = lab.monitor(common::NOW, &[], &[]);
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    assert!(lab
        .path()
        .join(format!("vol/work/alice/.aivc/notices/{}.txt", posted[0].id))
        .is_file());

    std::fs::write(lab.path().join("cfg/notify.yaml"), "smtp: [broken\n").unwrap();
    post(&lab, &["waits for a good notify.yaml"]);
    let out = lab.monitor(common::NOW, &[], &[]);
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    assert!(
        lab.file("jobs/monitor.log")
            .contains("[WARNING] NoticeWarning, notices could not be delivered: "),
        "{}",
        lab.file("jobs/monitor.log")
    );
}

/// The texts of the notices in alice's container folder.
fn alice_notices(lab: &common::Lab) -> Vec<String> {
    let dir = lab.path().join("vol/work/alice/.aivc/notices");
    let mut texts: Vec<String> = std::fs::read_dir(dir)
        .map(|d| {
            d.map(|e| std::fs::read_to_string(e.unwrap().path()).unwrap())
                .collect()
        })
        .unwrap_or_default();
    texts.sort();
    texts
}

#[test]
fn the_five_minute_run_reminds_thirty_and_ten_minutes_before_the_end_once_each() {
    // alice's running booking ends at 10:00.
    let lab = common::Lab::new(None);
    std::fs::write(
        lab.path().join("jobs/using.csv"),
        "start,end,user_id,cpus,memory,gpus,forward_port,image,extra_command\n2026-11-23 08:00:00,2026-11-23 10:00:00,alice,1.0,1,[],10001,,\n",
    )
    .unwrap();
    let run = |now: &str| {
        let out = lab.monitor(now, &["--deliver"], &[]);
        assert!(
            out.status.success(),
            "{}",
            String::from_utf8_lossy(&out.stderr)
        );
        alice_notices(&lab)
            .iter()
            .filter(|t| t.contains("Your booking ends in"))
            .count()
    };
    assert_eq!(run("2026-11-23 09:25"), 0, "not yet");
    assert_eq!(run("2026-11-23 09:30"), 1, "thirty minutes before");
    assert_eq!(run("2026-11-23 09:35"), 1, "once");
    assert_eq!(run("2026-11-23 09:50"), 2, "ten minutes before");
    assert_eq!(run("2026-11-23 09:55"), 2, "once");
    assert!(alice_notices(&lab)
        .iter()
        .any(|t| t.contains("Your booking ends in 10 minutes")));
}

#[test]
fn a_tick_posts_the_start_and_the_failed_tick_unit_tells_the_admins_by_webhook() {
    let http = Http::start(free_port());
    let lab = common::Lab::new(None);
    std::fs::write(
        lab.path().join("cfg/notify.yaml"),
        format!("admin_webhooks: [\"{}\"]\n", http.hook_url("admins")),
    )
    .unwrap();
    std::fs::write(
        lab.path().join("jobs/booking.csv"),
        "start,end,user_id,cpus,memory,gpus,forward_port,image,extra_command\n2026-11-23 10:00:00,2026-11-23 12:00:00,bob,1.0,1,[],10002,,\n",
    )
    .unwrap();
    // The tick at 10:00 starts bob's booking and tells him in his container folder.
    let out = lab.monitor(common::NOW, &[], &[]);
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let notices = lab.file("jobs/notices.csv");
    assert!(
        notices.contains("user:bob,started,") && notices.contains("on port 10002"),
        "{notices}"
    );
    // A tick that fails on bad input changes no file; the unit systemd starts then does.
    std::fs::write(lab.path().join("cfg/host_deploy.yaml"), "images: [\n").unwrap();
    let before = lab.file("jobs/notices.csv");
    let out = lab.monitor(common::NOW, &[], &[]);
    assert_eq!(out.status.code(), Some(2));
    assert_eq!(lab.file("jobs/notices.csv"), before);
    let out = lab.monitor(common::NOW, &["--tick-failed"], &[]);
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let bodies = http.bodies();
    assert_eq!(bodies.len(), 1, "{bodies:?}");
    let body: serde_json::Value = serde_json::from_str(&bodies[0]).unwrap();
    assert!(
        body["text"]
            .as_str()
            .unwrap()
            .contains("A monitor tick failed"),
        "{body}"
    );
}
