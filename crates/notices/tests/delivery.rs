//! Delivery against real servers on loopback that we did not write (aiosmtpd, busybox
//! httpd): every channel gets each notice once, a channel whose server is down keeps its
//! notices and gets them once after it comes back, the record never names a URL, and a
//! channel that keeps failing is given up after give_up_hours.

mod common;

use common::servers::{free_port, Http, Smtp};
use common::{alice, at, bob, now, smtp_yaml, Lab};
use hostinfo::notices::{Kind, Outcome, Recipient};

#[test]
fn a_users_notice_reaches_her_container_her_mailbox_and_her_webhook_once() {
    let lab = Lab::new();
    let smtp = Smtp::start(free_port());
    let http = Http::start(free_port());
    lab.notify(&format!(
        "{}user_webhooks:\n  alice: \"{}\"\n",
        smtp_yaml(smtp.port),
        http.hook_url("alice-secret-token")
    ));
    let n = lab.post(
        alice(),
        Kind::Started,
        "alice's container runs: ssh -p 10001 root@host, until 2026-11-24 12:00.",
    );

    let report = notices::deliver(&lab.root, now()).unwrap();
    assert_eq!((report.delivered, report.pending), (3, 0), "{report:?}");

    let mails = smtp.mails();
    assert_eq!(mails.len(), 1, "{mails:?}");
    let m = &mails[0];
    assert_eq!(m.header("To"), "alice@lab.example");
    assert_eq!(m.header("X-RcptTo"), "alice@lab.example");
    assert_eq!(m.header("From"), "\"AIVC booking\" <aivc@lab.example>");
    assert_eq!(m.header("Subject"), "[AIVC] Your container is running");
    assert_eq!(m.header("Message-ID"), format!("<{}@aivc>", n.id));
    assert!(
        m.body.starts_with(
            "alice's container runs: ssh -p 10001 root@host, until 2026-11-24 12:00.\n"
        ),
        "{}",
        m.body
    );

    let bodies = http.bodies();
    assert_eq!(bodies.len(), 1);
    let json: serde_json::Value = serde_json::from_str(&bodies[0]).unwrap();
    assert_eq!(
        json,
        serde_json::json!({"text": "[AIVC] Your container is running: alice's container runs: ssh -p 10001 root@host, until 2026-11-24 12:00."})
    );

    assert_eq!(lab.container_files("alice"), [format!("{}.txt", n.id)]);
    assert_eq!(
        std::fs::read_to_string(lab.work("alice").join(format!(".aivc/notices/{}.txt", n.id)))
            .unwrap(),
        "2026-11-24 10:00  Your container is running: alice's container runs: ssh -p 10001 root@host, until 2026-11-24 12:00.\n"
    );
    let mut channels: Vec<String> = lab.records().into_iter().map(|r| r.1).collect();
    channels.sort();
    assert_eq!(channels, ["container", "email", "webhook"]);

    // A second run finds nothing to do.
    let again = notices::deliver(&lab.root, now()).unwrap();
    assert_eq!((again.delivered, again.pending), (0, 0), "{again:?}");
    assert_eq!((smtp.mails().len(), http.bodies().len()), (1, 1));
    assert!(!lab.file("jobs/notices-delivered.csv").contains("token"));
}

#[test]
fn admins_get_one_mail_per_address_and_every_webhook_and_jobs_never_holds_a_url() {
    let lab = Lab::new();
    let smtp = Smtp::start(free_port());
    let http = Http::start(free_port());
    let (a, b) = (
        http.hook_url("T0-secret-one"),
        http.hook_url("T0-secret-two"),
    );
    lab.notify(&format!(
        "{}admin_emails: [ops@lab.example, head@lab.example]\nadmin_webhooks: [\"{a}\", \"{b}\"]\n",
        smtp_yaml(smtp.port)
    ));
    let n = lab.post(
        Recipient::Admins,
        Kind::GpuUnbooked,
        "GPU 1 runs pid 4242 of no booking.",
    );
    let report = notices::deliver(&lab.root, now()).unwrap();
    assert_eq!((report.delivered, report.pending), (4, 0), "{report:?}");

    let mut to: Vec<String> = smtp
        .mails()
        .iter()
        .map(|m| m.header("X-RcptTo").to_string())
        .collect();
    to.sort();
    assert_eq!(to, ["head@lab.example", "ops@lab.example"]);
    for m in smtp.mails() {
        assert_eq!(
            m.header("Subject"),
            "[AIVC] A GPU is used outside any booking"
        );
        assert_eq!(m.header("Message-ID"), format!("<{}@aivc>", n.id));
    }
    assert_eq!(http.bodies().len(), 2);
    for body in http.bodies() {
        let json: serde_json::Value = serde_json::from_str(&body).unwrap();
        assert_eq!(
            json["text"],
            "[AIVC admins] A GPU is used outside any booking: GPU 1 runs pid 4242 of no booking."
        );
    }
    // Each webhook is its own channel, named by a hash of its URL; no URL reaches jobs/.
    let mut channels: Vec<String> = lab.records().into_iter().map(|r| r.1).collect();
    channels.sort();
    let mut want = vec![
        format!("email:{}", notices::short_hash("head@lab.example")),
        format!("email:{}", notices::short_hash("ops@lab.example")),
        format!("webhook:{}", notices::short_hash(&a)),
        format!("webhook:{}", notices::short_hash(&b)),
    ];
    want.sort();
    assert_eq!(channels, want);
    for f in std::fs::read_dir(lab.path().join("jobs")).unwrap() {
        let text = std::fs::read_to_string(f.unwrap().path()).unwrap_or_default();
        assert!(
            !text.contains("secret") && !text.contains("http://"),
            "{text}"
        );
    }
}

#[test]
fn with_the_servers_down_notices_stay_pending_and_arrive_exactly_once_after_they_come_back() {
    let lab = Lab::new();
    let (smtp_port, http_port) = (free_port(), free_port());
    let hook = format!("http://127.0.0.1:{http_port}/cgi-bin/hook?token=down-secret");
    lab.notify(&format!(
        "{}user_webhooks:\n  alice: \"{hook}\"\n",
        smtp_yaml(smtp_port)
    ));
    let first = lab.post(
        alice(),
        Kind::BookingMade,
        "alice booked 2 GPUs from 11:00.",
    );
    let second = lab.post(
        alice(),
        Kind::BookingChanged,
        "alice's booking now ends at 14:00.",
    );

    let down = notices::deliver(&lab.root, now()).unwrap();
    assert_eq!((down.delivered, down.pending), (2, 4), "{down:?}");
    // A server that does not answer fails as a whole: every address waits, one timeout.
    assert_eq!(down.failing, ["alice's webhook", "the mail server"]);
    let log = lab.log();
    let warnings: Vec<&str> = log
        .lines()
        .filter(|l| l.contains("NoticeWarning"))
        .collect();
    assert_eq!(warnings.len(), 2, "one line per failing channel: {log}");
    let mail = warnings
        .iter()
        .find(|w| w.contains("notices for the mail server not delivered: "))
        .expect("a line for the mail server");
    assert!(
        mail.ends_with("2 pending, retried on the next run."),
        "{mail}"
    );
    assert!(
        !log.contains("down-secret") && !log.contains("http://") && !log.contains("2 GPUs"),
        "no URL and no notice text in the log: {log}"
    );

    // Still down on the next run: still pending, nothing given up within give_up_hours.
    let later = at("2026-11-24 10:05:00");
    let still = notices::deliver(&lab.root, later).unwrap();
    assert_eq!((still.delivered, still.gave_up, still.pending), (0, 0, 4));

    let smtp = Smtp::start(smtp_port);
    let http = Http::start(http_port);
    let third = lab.post(
        alice(),
        Kind::EndingSoon,
        "alice's booking ends in 30 minutes.",
    );
    let up = notices::deliver(&lab.root, at("2026-11-24 10:10:00")).unwrap();
    assert_eq!((up.delivered, up.pending), (7, 0), "{up:?}");
    let mut ids: Vec<String> = smtp
        .mails()
        .iter()
        .map(|m| m.header("Message-ID").to_string())
        .collect();
    ids.sort();
    let mut want: Vec<String> = [&first, &second, &third]
        .iter()
        .map(|n| format!("<{}@aivc>", n.id))
        .collect();
    want.sort();
    assert_eq!(ids, want, "each exactly once");
    let texts: Vec<String> = http
        .bodies()
        .iter()
        .map(|b| serde_json::from_str::<serde_json::Value>(b).unwrap()["text"].to_string())
        .collect();
    assert_eq!(texts.len(), 3, "{texts:?}");
    assert!(texts[0].contains("alice booked 2 GPUs from 11:00."));
    assert!(texts[2].contains("ends in 30 minutes"));

    let none = notices::deliver(&lab.root, at("2026-11-24 10:15:00")).unwrap();
    assert_eq!(none.delivered, 0);
    assert_eq!((smtp.mails().len(), http.bodies().len()), (3, 3));
}

#[test]
fn a_webhook_that_does_not_answer_2xx_keeps_the_notice() {
    let lab = Lab::new();
    let http = Http::start(free_port());
    let url = format!(
        "http://127.0.0.1:{}/cgi-bin/missing?token=x-secret",
        http.port
    );
    lab.notify(&format!("admin_webhooks: [\"{url}\"]\n"));
    lab.post(
        Recipient::Admins,
        Kind::TickFailed,
        "the tick failed: disk full.",
    );
    let report = notices::deliver(&lab.root, now()).unwrap();
    assert_eq!((report.delivered, report.pending), (0, 1), "{report:?}");
    let log = lab.log();
    assert!(log.contains("the webhook answered HTTP 404"), "{log}");
    assert!(
        !log.contains("x-secret") && !log.contains("disk full"),
        "{log}"
    );
    assert!(http.bodies().is_empty());
}

#[test]
fn a_channel_that_fails_past_give_up_hours_is_given_up_and_a_younger_notice_waits() {
    let lab = Lab::new();
    lab.notify(&format!("{}give_up_hours: 2\n", smtp_yaml(free_port())));
    let old = lab.post_at(
        at("2026-11-24 07:00:00"),
        alice(),
        Kind::QuotaWait,
        "alice's booking waits: work over its 1 GB.",
    );
    let young = lab.post(alice(), Kind::BookingMade, "alice booked 1 GPU.");
    let report = notices::deliver(&lab.root, now()).unwrap();
    assert_eq!(
        (report.delivered, report.gave_up, report.pending),
        (2, 1, 1),
        "{report:?}"
    );
    let records = lab.records();
    assert!(records.contains(&(old.id.clone(), "email".into(), Outcome::GaveUp)));
    assert!(!records.iter().any(|r| r.0 == young.id && r.1 == "email"));
    let log = lab.log();
    assert!(
        log.contains(
            "1 pending, retried on the next run, 1 given up (failed for 2 h, or cannot succeed)."
        ),
        "{log}"
    );
    // The young one is given up once it, too, is 2 hours old and the server still down.
    let later = notices::deliver(&lab.root, at("2026-11-24 12:00:00")).unwrap();
    assert_eq!((later.gave_up, later.pending), (1, 0), "{later:?}");
}

#[test]
fn a_user_without_an_address_gets_no_mail_and_one_unknown_to_the_users_file_is_given_up() {
    let lab = Lab::new();
    let smtp = Smtp::start(free_port());
    lab.notify(&smtp_yaml(smtp.port));
    lab.post(
        bob(),
        Kind::BookingCancelled,
        "bob's booking was cancelled.",
    );
    lab.post(
        Recipient::User("mallory".into()),
        Kind::BookingMade,
        "no such user",
    );
    let report = notices::deliver(&lab.root, now()).unwrap();
    assert_eq!(
        (report.delivered, report.gave_up, report.pending),
        (1, 1, 0),
        "{report:?}"
    );
    assert!(smtp.mails().is_empty());
    assert_eq!(lab.container_files("bob").len(), 1);
    assert!(!lab.path().join("vol/work/mallory").exists());
    assert!(lab.log().contains(
        "notices for mallory's container not delivered: the user is not in users_config.yaml"
    ));
}

#[test]
fn a_second_deliverer_does_nothing_while_one_holds_the_lock() {
    let lab = Lab::new();
    lab.post(alice(), Kind::BookingMade, "alice booked.");
    let held = lab.root.try_lock_delivery().unwrap().expect("free");
    let report = notices::deliver(&lab.root, now()).unwrap();
    assert!(report.busy && report.delivered == 0, "{report:?}");
    assert!(lab.container_files("alice").is_empty());
    drop(held);
    assert_eq!(notices::deliver(&lab.root, now()).unwrap().delivered, 1);
}

#[test]
fn without_an_outbox_nothing_is_read_or_created() {
    let lab = Lab::new();
    std::fs::write(lab.path().join("cfg/notify.yaml"), "smtp: [broken\n").unwrap();
    let report = notices::deliver(&lab.root, now()).unwrap();
    assert_eq!(report, notices::Report::default());
    let mut names: Vec<_> = std::fs::read_dir(lab.path().join("jobs"))
        .unwrap()
        .map(|e| e.unwrap().file_name())
        .collect();
    names.sort();
    assert!(names.is_empty(), "{names:?}");
}

#[test]
fn a_bad_notify_yaml_is_an_error_naming_its_line_and_nothing_is_delivered() {
    let lab = Lab::new();
    lab.post(alice(), Kind::BookingMade, "alice booked.");
    std::fs::write(
        lab.path().join("cfg/notify.yaml"),
        "admin_webhooks: [ftp://x]\n",
    )
    .unwrap();
    let before = lab.file("jobs/notices.csv");
    let e = notices::deliver(&lab.root, now()).unwrap_err().to_string();
    assert!(
        e.ends_with(
            "cfg/notify.yaml:1: admin_webhooks: entry 1 is not an http:// or https:// URL of at most 2048 bytes"
        ),
        "{e}"
    );
    assert_eq!(lab.file("jobs/notices.csv"), before);
    assert!(lab.records().is_empty() && lab.container_files("alice").is_empty());
}

#[test]
fn a_large_outbox_is_compacted_of_old_notices_every_channel_is_done_with() {
    use hostinfo::notices::{Delivered, Notice};
    let lab = Lab::new();
    let old_time = at("2026-11-10 10:00:00");
    // The stuck one below is posted an hour before the others: a student is posted at
    // most 30 notices an hour.
    let old: Vec<Notice> = (0..notices::COMPACT_AT)
        .map(|i| Notice::new(old_time, alice(), Kind::BookingMade, format!("k{i}"), "old"))
        .collect();
    std::fs::write(
        lab.root.notices_path(),
        hostinfo::notices::to_bytes(&old, true),
    )
    .unwrap();
    let records: Vec<Delivered> = old
        .iter()
        .map(|n| Delivered {
            id: n.id.clone(),
            channel: "container".into(),
            time: old_time,
            outcome: Outcome::Delivered,
        })
        .collect();
    std::fs::write(
        lab.root.notices_delivered_path(),
        hostinfo::notices::delivered_to_bytes(&records, true),
    )
    .unwrap();
    // One old notice still pending (give_up_hours is long here) stays, as does a new one.
    lab.notify("give_up_hours: 1000\n");
    std::fs::create_dir_all(lab.work("alice")).unwrap();
    std::fs::write(lab.work("alice").join(".aivc"), "a file, not a folder").unwrap();
    let stuck = lab.post_at(
        old_time - chrono::Duration::hours(1),
        alice(),
        Kind::StartFailed,
        "stuck",
    );
    let new = lab.post(bob(), Kind::BookingMade, "new");

    let report = notices::deliver(&lab.root, now()).unwrap();
    assert_eq!(report.compacted, notices::COMPACT_AT, "{report:?}");
    let left: Vec<String> = lab
        .root
        .read_notices()
        .unwrap()
        .into_iter()
        .map(|n| n.id)
        .collect();
    assert_eq!(left, [stuck.id.clone(), new.id.clone()]);
    let records = lab.records();
    assert_eq!(
        records,
        [(new.id, "container".to_string(), Outcome::Delivered)]
    );
}

#[test]
fn a_notice_posted_while_a_delivery_runs_goes_out_in_the_same_run() {
    use hostinfo::notices::Notice;
    let lab = Lab::new();
    // The webhook's first POST appends a second notice to the outbox, as a booking made
    // during the delivery would.
    let later = Notice::new(now(), Recipient::Admins, Kind::TickFailed, "k2", "second");
    let line = lab.path().join("later-line");
    std::fs::write(
        &line,
        hostinfo::notices::to_bytes(std::slice::from_ref(&later), false),
    )
    .unwrap();
    let flag = lab.path().join("posted-once");
    let http = Http::start_with(
        free_port(),
        &format!(
            "[ -e {flag} ] || {{ touch {flag}; cat {line} >> {outbox}; }}",
            flag = flag.display(),
            line = line.display(),
            outbox = lab.root.notices_path().display()
        ),
    );
    lab.notify(&format!("admin_webhooks: [\"{}\"]\n", http.hook_url("t")));
    lab.post(Recipient::Admins, Kind::TickFailed, "first");

    let report = notices::deliver(&lab.root, now()).unwrap();
    assert!(flag.exists(), "the hook ran");
    assert_eq!(
        (report.rounds, report.delivered, report.pending),
        (2, 2, 0),
        "{report:?}"
    );
    let texts: Vec<String> = http
        .bodies()
        .iter()
        .map(|b| serde_json::from_str::<serde_json::Value>(b).unwrap()["text"].to_string())
        .collect();
    assert_eq!(texts.len(), 2, "{texts:?}");
    assert!(texts[1].contains("second"), "{texts:?}");
}
