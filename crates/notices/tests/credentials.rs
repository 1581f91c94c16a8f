//! The SMTP credentials live in a root-only file and never reach jobs/ or a message: a
//! file others could read is refused by name and mode, and a server that refuses the
//! login is reported without the user name or the password.

mod common;

use common::servers::{free_port, Smtp};
use common::{alice, now, smtp_yaml, Lab};
use hostinfo::notices::Kind;

const USER: &str = "mailer-account";
const PASSWORD: &str = "hunter2-very-secret";

fn credentials(lab: &Lab, mode: u32) {
    use std::os::unix::fs::PermissionsExt;
    let path = lab.path().join("cfg/smtp-credentials");
    std::fs::write(&path, format!("{USER}\n{PASSWORD}\n")).unwrap();
    std::fs::set_permissions(&path, std::fs::Permissions::from_mode(mode)).unwrap();
}

/// Everything in jobs/, as text.
fn jobs(lab: &Lab) -> String {
    std::fs::read_dir(lab.path().join("jobs"))
        .unwrap()
        .map(|e| std::fs::read_to_string(e.unwrap().path()).unwrap_or_default())
        .collect()
}

#[test]
fn a_credentials_file_others_can_read_is_refused_by_its_mode_and_never_quoted() {
    let lab = Lab::new();
    let smtp = Smtp::start(free_port());
    lab.notify(&format!(
        "{}  credentials_file: ./cfg/smtp-credentials\n",
        smtp_yaml(smtp.port)
    ));
    credentials(&lab, 0o644);
    lab.post(alice(), Kind::BookingMade, "alice booked.");
    let report = notices::deliver(&lab.root, now()).unwrap();
    assert_eq!((report.delivered, report.pending), (1, 1), "{report:?}");
    let log = lab.log();
    assert!(
        log.contains(
            "cfg/smtp-credentials: is mode 0644: others could read the SMTP password (chmod 0600)"
        ),
        "{log}"
    );
    let all = jobs(&lab) + &format!("{report:?}");
    assert!(!all.contains(PASSWORD) && !all.contains(USER), "{all}");
    assert!(smtp.mails().is_empty());
}

#[test]
fn a_login_the_server_cannot_take_is_reported_without_the_credentials() {
    let lab = Lab::new();
    // aiosmtpd offers no AUTH on a plain connection: the login cannot happen, and nothing
    // is sent without it.
    let smtp = Smtp::start(free_port());
    lab.notify(&format!(
        "{}  credentials_file: ./cfg/smtp-credentials\n",
        smtp_yaml(smtp.port)
    ));
    credentials(&lab, 0o600);
    lab.post(alice(), Kind::BookingMade, "alice booked.");
    let report = notices::deliver(&lab.root, now()).unwrap();
    assert_eq!((report.delivered, report.pending), (1, 1), "{report:?}");
    let log = lab.log();
    assert!(
        log.contains("NoticeWarning, notices for the mail server not delivered: "),
        "{log}"
    );
    let all = jobs(&lab) + &format!("{report:?}");
    assert!(!all.contains(PASSWORD) && !all.contains(USER), "{all}");
    assert!(smtp.mails().is_empty());
}
