//! The e-mail channel: one plain-text mail per notice and address over SMTP (lettre's
//! blocking transport, 10 s timeouts), Message-ID `<notice-id@aivc>`. The credentials come
//! from their root-only file and are never part of a message this module returns.

use std::time::Duration;

use hostinfo::notices::Notice;
use hostinfo::notify_config::{read_credentials, Security, Smtp};
use hostinfo::Root;
use lettre::message::header::ContentType;
use lettre::message::Mailbox;
use lettre::transport::smtp::authentication::Credentials;
use lettre::{Message, SmtpTransport, Transport};

use crate::{scrub, words, Failure};

/// How long one SMTP connection or answer may take.
pub const TIMEOUT: Duration = Duration::from_secs(10);

/// The SMTP transport of one run, built once: the credentials are read once.
#[derive(Debug)]
pub struct Mailer {
    ready: Result<(SmtpTransport, Mailbox), String>,
    /// What must never appear in a message: the user name and the password.
    secrets: Vec<String>,
}

impl Mailer {
    pub fn new(root: &Root, smtp: &Smtp) -> Self {
        let mut secrets = Vec::new();
        let ready = build(root, smtp, &mut secrets);
        let ready = ready.map_err(|why| scrub(&why, &secrets));
        Mailer { ready, secrets }
    }

    /// Sends `n` to `to`.
    pub fn send(&self, to: &str, n: &Notice) -> Result<(), Failure> {
        let (transport, sender) = self.ready.as_ref().map_err(Failure::server)?;
        let to: Mailbox = to
            .parse()
            .map_err(|_| Failure::permanent("the address is not one an e-mail can be sent to"))?;
        let mail = Message::builder()
            .from(sender.clone())
            .to(to)
            .subject(words::tagged_subject(n.kind))
            .message_id(Some(format!("<{}@aivc>", n.id)))
            .header(ContentType::TEXT_PLAIN)
            .body(words::email_body(n))
            .map_err(|e| Failure::permanent(format!("the mail could not be built: {e}")))?;
        transport.send(&mail).map(|_| ()).map_err(|e| {
            let why = scrub(&describe(&e), &self.secrets);
            // An answer about this mail (4xx, 5xx) is about this address; anything else
            // (no connection, no answer, TLS) is about the server.
            if e.is_permanent() || e.is_transient() {
                Failure::retry(why)
            } else {
                Failure::server(why)
            }
        })
    }
}

fn build(
    root: &Root,
    smtp: &Smtp,
    secrets: &mut Vec<String>,
) -> Result<(SmtpTransport, Mailbox), String> {
    let sender: Mailbox = smtp.sender.parse().map_err(|_| {
        "cfg/notify.yaml: smtp.sender is not an address like `AIVC <aivc@lab.example>`".to_string()
    })?;
    let builder = match smtp.security {
        Security::None => SmtpTransport::builder_dangerous(&smtp.server),
        Security::Starttls => {
            SmtpTransport::starttls_relay(&smtp.server).map_err(|e| describe(&e))?
        }
        Security::Tls => SmtpTransport::relay(&smtp.server).map_err(|e| describe(&e))?,
    };
    let mut builder = builder.port(smtp.port()).timeout(Some(TIMEOUT));
    if let Some(path) = &smtp.credentials_file {
        // The error names the file and what is wrong with it, never its content.
        let (user, password) =
            read_credentials(&root.resolve_path(path)).map_err(|e| e.to_string())?;
        // A very short user name is not scrubbed: it would blank out ordinary words.
        if user.len() >= 4 {
            secrets.push(user.clone());
        }
        secrets.push(password.expose().to_string());
        builder = builder.credentials(Credentials::new(user, password.expose().to_string()));
    }
    Ok((builder.build(), sender))
}

/// What went wrong, in words; lettre's own message is kept (it says what the server
/// answered) and scrubbed by the caller.
fn describe(e: &lettre::transport::smtp::Error) -> String {
    let what = if e.is_timeout() {
        "the mail server did not answer in time"
    } else if e.is_tls() {
        "TLS with the mail server failed"
    } else if e.is_permanent() {
        "the mail server refused it"
    } else if e.is_transient() {
        "the mail server deferred it"
    } else if e.is_client() {
        "the mail could not be sent"
    } else {
        "the mail server could not be reached"
    };
    let mut detail = e.to_string();
    let mut source = std::error::Error::source(e);
    while let Some(s) = source {
        let s_text = s.to_string();
        if !detail.contains(&s_text) {
            detail.push_str(": ");
            detail.push_str(&s_text);
        }
        source = s.source();
    }
    format!("{what} ({detail})")
}
