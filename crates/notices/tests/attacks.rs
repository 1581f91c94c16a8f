//! Attacks on the notice delivery (security review): each test states what an attacker
//! does and what must hold. A failing test here is a finding.
#![allow(clippy::print_stderr)]

mod common;

use std::net::TcpListener;
use std::time::{Duration, Instant};

use common::{alice, now, Lab};
use hostinfo::notices::{Kind, Notice, Recipient};

/// Runs a delivery on a thread (8 MiB stack, as a main thread has) and fails the test if
/// it does not end within `secs`.
fn deliver_within(lab: &Lab, secs: u64) -> (notices::Report, Duration) {
    let root = lab.root.clone();
    let (tx, rx) = std::sync::mpsc::channel();
    std::thread::Builder::new()
        .stack_size(8 << 20)
        .spawn(move || {
            let t = Instant::now();
            let r = notices::deliver(&root, now()).unwrap();
            let _ = tx.send((r, t.elapsed()));
        })
        .unwrap();
    rx.recv_timeout(Duration::from_secs(secs))
        .expect("the delivery did not end in time")
}

/// The student fills their notices folder (which they own, from inside the container)
/// with 100 plain `*.txt` files that sort after the monitor's, plus a *folder* named
/// `0000.txt` holding a tree of their own. Pruning (root, at the end of each delivery
/// that wrote alice a notice — so inside every monitor tick) picks the oldest names and
/// calls `remove_all` on them: root descends into the student's tree and deletes all of
/// it, reading each folder's names with no bound (`Dir::names()` is `usize::MAX`) and
/// recursing once per level. With millions of entries (inodes, no bytes: no disk quota
/// stops it) that is minutes to hours of root work inside the tick, and memory for all
/// names of a folder at once. Prune must only remove plain files it could have written.
#[test]
fn prune_never_descends_into_a_folder_the_student_put_in_the_notices_folder() {
    let lab = Lab::new();
    let folder = lab.work("alice").join(".aivc/notices");
    std::fs::create_dir_all(&folder).unwrap();
    for i in 0..100 {
        std::fs::write(folder.join(format!("2099{i:04}.txt")), "mine").unwrap();
    }
    // The student's tree: wide and a little deep.
    let tree = folder.join("0000.txt");
    let mut d = tree.clone();
    for level in 0..50 {
        d = d.join(format!("l{level}"));
    }
    std::fs::create_dir_all(&d).unwrap();
    let wide = tree.join("wide");
    std::fs::create_dir_all(&wide).unwrap();
    for i in 0..20_000 {
        std::fs::File::create(wide.join(format!("f{i}"))).unwrap();
    }
    lab.post(alice(), Kind::BookingMade, "alice booked.");

    let (report, took) = deliver_within(&lab, 120);
    eprintln!("delivery with a 20 000-entry tree to prune took {took:?}: {report:?}");
    assert!(
        tree.join("wide").exists() && d.exists(),
        "root walked into and deleted the student's own folder tree `0000.txt` \
         (20 000 entries, 50 levels) while pruning; it took {took:?}"
    );
}

/// A student's webhook-style or a typo'd admin webhook URL is a secret (webhook.rs: "A
/// webhook URL is a secret: no message here ever holds it"). One character wrong in
/// `cfg/notify.yaml` and every post (booking, tick) logs the whole URL to monitor.log:
/// `notify()` writes the load error, which quotes the URL.
#[test]
fn a_mistyped_webhook_url_is_never_quoted_into_monitor_log() {
    let lab = Lab::new();
    let secret = "T0AAAAAAA/B0BBBBBBB/SuperSecretToken123";
    std::fs::write(
        lab.path().join("cfg/notify.yaml"),
        format!("admin_webhooks: [\"htps://hooks.slack.example/services/{secret}\"]\nuser_webhooks:\n  alice: \"hooks.slack.example/services/{secret}-alice\"\n"),
    )
    .unwrap();
    let n = Notice::new(now(), alice(), Kind::BookingMade, "k", "alice booked.");
    lab.root.notify(&[n]);
    // And the delivery's error, which the tick logs as `notices could not be delivered: {e}`.
    let lab2 = Lab::new();
    std::fs::write(
        lab2.path().join("cfg/notify.yaml"),
        format!("admin_webhooks: [\"htps://hooks.slack.example/services/{secret}\"]\n"),
    )
    .unwrap();
    lab2.post(Recipient::Admins, Kind::GpuUnbooked, "x");
    let err = notices::deliver(&lab2.root, now()).unwrap_err().to_string();
    let log = lab.log();
    assert!(
        !log.contains("SuperSecretToken123") && !err.contains("SuperSecretToken123"),
        "the webhook URL (a secret) reached monitor.log / the tick's warning:\nlog: {log}\nerr: {err}"
    );
}

/// A mail server that accepts and never answers (down behind a firewall that drops, a
/// tarpit). The tick delivers inline (tick.rs `deliver_notices`), and a failing channel
/// is remembered per *user* label (`alice by e-mail`, `bob by e-mail`), not per server:
/// each user with an address costs the full 10 s timeout again, every tick. With 200
/// students that is over 30 minutes — past the tick unit's TimeoutStartSec — every tick.
/// The same SMTP server failing should be tried once per run.
#[test]
fn a_silent_mail_server_costs_one_timeout_per_run_not_one_per_user() {
    let lab = Lab::new();
    // bob gets an address too.
    let users = lab.path().join("cfg/users_config.yaml");
    let text = std::fs::read_to_string(&users).unwrap();
    let text = text.replace(
        "  volume_backup_dir: ./vol/backup/bob\n",
        "  volume_backup_dir: ./vol/backup/bob\n  email: bob@lab.example\n",
    );
    std::fs::write(&users, text).unwrap();
    lab.root.load_config().unwrap();

    let listener = TcpListener::bind(("127.0.0.1", 0)).unwrap();
    let port = listener.local_addr().unwrap().port();
    std::thread::spawn(move || {
        let mut held = Vec::new();
        for s in listener.incoming().flatten() {
            held.push(s); // accept, never greet
        }
    });
    lab.notify(&common::smtp_yaml(port));
    lab.post(alice(), Kind::BookingMade, "alice booked.");
    lab.post(
        Recipient::User("bob".into()),
        Kind::BookingMade,
        "bob booked.",
    );

    let (report, took) = deliver_within(&lab, 60);
    eprintln!("{report:?} in {took:?}");
    assert!(
        took < Duration::from_secs(15),
        "two users' mails to one silent server took {took:?}: one 10 s timeout per user, \
         inside the monitor tick"
    );
}
