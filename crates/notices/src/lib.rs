//! notices: delivers the outbox `jobs/notices.csv` — to the student's own container, by
//! e-mail and by webhook — recording each (notice, channel) in `jobs/notices-delivered.csv`
//! right after it went out (docs/file-formats.md, docs/operations.md).
//!
//! What a crash can do: a notice's record is written after its send, so a kill between the
//! two repeats that one send on the next run — never for the container channel, whose file
//! under the notice's id is itself the proof of delivery, and at most once per crash for an
//! e-mail (same Message-ID, which mail clients fold together) or a webhook. Nothing is lost:
//! a channel is pending until its record is there.

use std::collections::{BTreeMap, HashSet};

use chrono::{Duration, NaiveDateTime};
use hostinfo::log::{LogLine, Sign};
use hostinfo::notices::{Delivered, Notice, Outcome, Recipient};
use hostinfo::notify_config::NotifyConfig;
use hostinfo::{Config, Root};
use sha2::{Digest, Sha256};

pub mod container;
pub mod email;
pub mod webhook;
pub mod words;

/// How often one run re-reads the outbox for notices posted while it delivered.
pub const MAX_ROUNDS: usize = 5;
/// The outbox is compacted once it holds more notices than this.
pub const COMPACT_AT: usize = 1000;
/// A notice every channel is done with stays this long in the outbox before compaction
/// drops it (the rate limit of `post_notices` looks back at it).
pub const KEEP_DAYS: i64 = 7;

#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum Error {
    #[error(transparent)]
    Files(#[from] hostinfo::Error),
}

/// What one run did.
#[derive(Debug, Default, Clone, PartialEq, Eq)]
pub struct Report {
    /// Another deliverer held `jobs/.notices-lock`: this run did nothing (that one re-reads
    /// the outbox before it ends).
    pub busy: bool,
    /// (notice, channel) pairs delivered this run.
    pub delivered: usize,
    /// (notice, channel) pairs given up this run.
    pub gave_up: usize,
    /// (notice, channel) pairs still pending after this run.
    pub pending: usize,
    /// The channels that failed this run, as logged: no address, URL or notice text.
    pub failing: Vec<String>,
    /// How many times the outbox was read and worked through.
    pub rounds: usize,
    /// Notices compaction dropped from the outbox.
    pub compacted: usize,
}

/// Why a channel could not take a notice. The text names no credential, URL or notice text.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Failure {
    pub why: String,
    /// Trying again cannot help (an unknown user, an id that is no file name): given up now.
    pub permanent: bool,
    /// The mail server failed as a whole (unreachable, silent, TLS): every e-mail channel
    /// waits for the next run.
    pub server: bool,
}

/// The label under which a mail server that failed as a whole is reported.
const MAIL_SERVER: &str = "the mail server";

impl Failure {
    pub fn retry(why: impl Into<String>) -> Self {
        Failure {
            why: why.into(),
            permanent: false,
            server: false,
        }
    }
    pub fn permanent(why: impl Into<String>) -> Self {
        Failure {
            why: why.into(),
            permanent: true,
            server: false,
        }
    }
    /// The mail server as a whole failed.
    pub fn server(why: impl Into<String>) -> Self {
        Failure {
            why: why.into(),
            permanent: false,
            server: true,
        }
    }
}

pub use hostinfo::crash_point;

/// `text` with every secret replaced by `***`, on one line.
pub(crate) fn scrub(text: &str, secrets: &[String]) -> String {
    let mut out = text.to_string();
    for s in secrets.iter().filter(|s| !s.is_empty()) {
        out = out.replace(s.as_str(), "***");
    }
    out
}

/// A short, stable name for a secret (a webhook URL) or an address: 12 hex digits of its
/// SHA-256.
pub fn short_hash(text: &str) -> String {
    Sha256::digest(text.as_bytes())
        .iter()
        .take(6)
        .map(|b| format!("{b:02x}"))
        .collect()
}

/// Where a channel sends.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Target {
    /// The user's notices folder.
    Container(String),
    /// An e-mail address.
    Email(String),
    /// A webhook URL (a secret).
    Webhook(String),
}

/// One way a notice goes out.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Channel {
    /// As recorded in `jobs/notices-delivered.csv`: `container`, `email`, `webhook` for a
    /// user; `email:<hash>` and `webhook:<hash>` for each admin address and URL.
    pub name: String,
    /// For the log: whose and which, never an address or a URL.
    pub label: String,
    pub target: Target,
}

/// The channels of `n` under `notify` and the users file: a user's container always, their
/// e-mail when SMTP is set up and they gave an address, their webhook when the admin set
/// one; the admins' addresses (one mail each, so one refused address holds up no other)
/// and webhooks (each named by a hash of its URL).
///
/// Without the configuration (`None`: it does not load), a user's notice has no channel
/// this run and waits; the admins' need none.
pub fn channels(n: &Notice, config: Option<&Config>, notify: &NotifyConfig) -> Vec<Channel> {
    let mut out = Vec::new();
    match &n.recipient {
        Recipient::User(_) if config.is_none() => {}
        Recipient::User(id) => {
            out.push(Channel {
                name: "container".into(),
                label: format!("{id}'s container"),
                target: Target::Container(id.clone()),
            });
            let email = config
                .and_then(|c| c.users.get(id))
                .and_then(|u| u.email.clone());
            if let (Some(_), Some(address)) = (&notify.smtp, email) {
                out.push(Channel {
                    name: "email".into(),
                    label: format!("{id} by e-mail"),
                    target: Target::Email(address),
                });
            }
            if let Some(url) = notify.user_webhooks.get(id) {
                out.push(Channel {
                    name: "webhook".into(),
                    label: format!("{id}'s webhook"),
                    target: Target::Webhook(url.clone()),
                });
            }
        }
        Recipient::Admins => {
            if notify.smtp.is_some() {
                for address in &notify.admin_emails {
                    let h = short_hash(address);
                    out.push(Channel {
                        name: format!("email:{h}"),
                        label: format!("the admins by e-mail ({h})"),
                        target: Target::Email(address.clone()),
                    });
                }
            }
            for url in &notify.admin_webhooks {
                let h = short_hash(url);
                out.push(Channel {
                    name: format!("webhook:{h}"),
                    label: format!("the admins' webhook {h}"),
                    target: Target::Webhook(url.clone()),
                });
            }
        }
    }
    out
}

/// A channel instance that failed this run: later notices on it wait for the next run.
#[derive(Debug, Default)]
struct Failing {
    why: String,
    pending: usize,
    gave_up: usize,
}

/// One run's state.
struct Run<'a> {
    root: &'a Root,
    /// `None` when it does not load: then only the admins' notices go out.
    config: Option<Config>,
    notify: NotifyConfig,
    now: NaiveDateTime,
    mailer: Option<email::Mailer>,
    poster: Option<webhook::Poster>,
    /// By channel label.
    failing: BTreeMap<String, Failing>,
    /// Users whose notices folder got a file (pruned at the end).
    written: HashSet<String>,
    report: Report,
}

impl Run<'_> {
    fn send(&mut self, n: &Notice, ch: &Channel) -> Result<(), Failure> {
        match &ch.target {
            Target::Container(user) => match &self.config {
                Some(config) => container::write(self.root, config, user, n),
                None => Err(Failure::retry("the configuration does not load")),
            },
            Target::Email(address) => {
                let Some(smtp) = &self.notify.smtp else {
                    return Err(Failure::retry("smtp is not set up in cfg/notify.yaml"));
                };
                let root = self.root;
                self.mailer
                    .get_or_insert_with(|| email::Mailer::new(root, smtp))
                    .send(address, n)
            }
            Target::Webhook(url) => self
                .poster
                .get_or_insert_with(webhook::Poster::default)
                .send(url, n),
        }
    }

    fn record(&mut self, n: &Notice, ch: &Channel, outcome: Outcome) -> Result<(), Error> {
        self.root.record_delivered(&Delivered {
            id: n.id.clone(),
            channel: ch.name.clone(),
            time: self.now,
            outcome,
        })?;
        match outcome {
            Outcome::Delivered => self.report.delivered += 1,
            Outcome::GaveUp => self.report.gave_up += 1,
        }
        Ok(())
    }

    /// Sends every (notice, channel) pair of `notices` that has no record yet.
    fn round(&mut self, notices: &[&Notice]) -> Result<(), Error> {
        let done: HashSet<(String, String)> = self
            .root
            .read_notices_delivered()?
            .into_iter()
            .map(|d| (d.id, d.channel))
            .collect();
        let give_up_after = self.notify.give_up_after();
        for n in notices {
            for ch in channels(n, self.config.as_ref(), &self.notify) {
                if done.contains(&(n.id.clone(), ch.name.clone())) {
                    continue;
                }
                let expired = self.now - n.time >= give_up_after;
                // A mail server that failed as a whole (no answer, no TLS) fails every
                // address this run: one timeout per run, not one per student.
                let label = match ch.target {
                    Target::Email(_) if self.failing.contains_key(MAIL_SERVER) => MAIL_SERVER,
                    _ => ch.label.as_str(),
                }
                .to_string();
                if let Some(f) = self.failing.get_mut(&label) {
                    // Failed already this run: not tried again until the next.
                    if expired {
                        f.gave_up += 1;
                        self.record(n, &ch, Outcome::GaveUp)?;
                    } else {
                        f.pending += 1;
                    }
                    continue;
                }
                match self.send(n, &ch) {
                    Ok(()) => {
                        crash_point(match ch.target {
                            Target::Container(_) => "notice-sent:container",
                            Target::Email(_) => "notice-sent:email",
                            Target::Webhook(_) => "notice-sent:webhook",
                        });
                        self.record(n, &ch, Outcome::Delivered)?;
                        crash_point("notice-recorded");
                        if let Target::Container(user) = &ch.target {
                            self.written.insert(user.clone());
                        }
                    }
                    Err(failure) => {
                        let give_up = failure.permanent || expired;
                        let label = if failure.server {
                            MAIL_SERVER.to_string()
                        } else {
                            ch.label.clone()
                        };
                        let f = self.failing.entry(label).or_default();
                        f.why = failure.why;
                        if give_up {
                            f.gave_up += 1;
                            self.record(n, &ch, Outcome::GaveUp)?;
                        } else {
                            f.pending += 1;
                        }
                    }
                }
            }
        }
        Ok(())
    }

    /// One WARNING line per channel that failed this run, then the oldest files pruned.
    fn finish(&mut self) -> Result<(), Error> {
        let hours = self.notify.give_up_after().num_hours();
        for (label, f) in &self.failing {
            let mut parts = Vec::new();
            if f.pending > 0 {
                parts.push(format!("{} pending, retried on the next run", f.pending));
            }
            if f.gave_up > 0 {
                parts.push(format!(
                    "{} given up (failed for {hours} h, or cannot succeed)",
                    f.gave_up
                ));
            }
            let line = format!(
                "notices for {label} not delivered: {}; {}.",
                f.why,
                parts.join(", ")
            );
            self.root
                .append_log(&LogLine::warning(self.now, Sign::NoticeWarning, line))?;
            self.report.failing.push(label.clone());
        }
        let written: Vec<String> = self.written.drain().collect();
        for user in written {
            let Some(config) = &self.config else { break };
            if let Err(f) = container::prune(self.root, config, &user) {
                self.root.append_log(&LogLine::warning(
                    self.now,
                    Sign::NoticeWarning,
                    format!("{user}'s old notice files could not be removed: {}.", f.why),
                ))?;
            }
        }
        Ok(())
    }

    /// The (notice, channel) pairs of `notices` without a record.
    fn pending(&self, notices: &[Notice]) -> Result<(usize, Vec<Notice>), Error> {
        let done: HashSet<(String, String)> = self
            .root
            .read_notices_delivered()?
            .into_iter()
            .map(|d| (d.id, d.channel))
            .collect();
        let mut pending = 0;
        let mut finished = Vec::new();
        for n in notices {
            if self.config.is_none() && matches!(n.recipient, Recipient::User(_)) {
                // Not known without the configuration: never counted as finished.
                pending += 1;
                continue;
            }
            let open = channels(n, self.config.as_ref(), &self.notify)
                .iter()
                .filter(|ch| !done.contains(&(n.id.clone(), ch.name.clone())))
                .count();
            pending += open;
            if open == 0 {
                finished.push(n.clone());
            }
        }
        Ok((pending, finished))
    }
}

/// Delivers every pending notice of `root` as of `now`: reads the configuration, the notify
/// configuration, the outbox and the record; sends each (notice, channel) pair not yet
/// recorded and records it right after; goes again (at most [`MAX_ROUNDS`] times) while new
/// notices arrive; compacts a large outbox. A channel that fails stays pending for the next
/// run and is given up once its notice is `give_up_hours` old; each failing channel is one
/// WARNING line in `jobs/monitor.log`. Without an outbox nothing is read or created.
pub fn deliver(root: &Root, now: NaiveDateTime) -> Result<Report, Error> {
    let config = root.load_config()?;
    deliver_with(root, Some(config), now)
}

/// [`deliver`] for when the configuration may not load (a failed tick's notice): the
/// admins' notices go out with `cfg/notify.yaml` alone; the users' wait for a good one.
pub fn deliver_to_admins(root: &Root, now: NaiveDateTime) -> Result<Report, Error> {
    let config = root.load_config().ok();
    deliver_with(root, config, now)
}

fn deliver_with(root: &Root, config: Option<Config>, now: NaiveDateTime) -> Result<Report, Error> {
    if !root.notices_path().exists() {
        return Ok(Report::default());
    }
    let Some(_lock) = root.try_lock_delivery()? else {
        return Ok(Report {
            busy: true,
            ..Report::default()
        });
    };
    let mut run = Run {
        root,
        config,
        notify: root.load_notify_config()?,
        now,
        mailer: None,
        poster: None,
        failing: BTreeMap::new(),
        written: HashSet::new(),
        report: Report::default(),
    };
    let mut seen: HashSet<String> = HashSet::new();
    let mut notices = Vec::new();
    for _ in 0..MAX_ROUNDS {
        notices = root.read_notices()?;
        let fresh: Vec<&Notice> = notices.iter().filter(|n| !seen.contains(&n.id)).collect();
        if fresh.is_empty() {
            break;
        }
        run.round(&fresh)?;
        run.report.rounds += 1;
        seen.extend(fresh.iter().map(|n| n.id.clone()));
    }
    run.finish()?;
    let (pending, _) = run.pending(&notices)?;
    run.report.pending = pending;
    if notices.len() > COMPACT_AT {
        run.report.compacted = compact(&run, now)?;
    }
    Ok(run.report)
}

/// Drops the notices every channel is done with that are older than [`KEEP_DAYS`], under
/// the exclusive lock, from the outbox as read under that lock. Returns how many.
fn compact(run: &Run, now: NaiveDateTime) -> Result<usize, Error> {
    let lock = run.root.lock_exclusive("notices")?;
    let notices = run.root.read_notices()?;
    let (_, finished) = run.pending(&notices)?;
    let old = now - Duration::days(KEEP_DAYS);
    let drop: HashSet<&str> = finished
        .iter()
        .filter(|n| n.time < old)
        .map(|n| n.id.as_str())
        .collect();
    if drop.is_empty() {
        return Ok(0);
    }
    let drop: HashSet<String> = drop.into_iter().map(str::to_string).collect();
    run.root.compact_notices(&drop, &lock)?;
    Ok(drop.len())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn secrets_are_scrubbed_and_hashes_are_short_and_stable() {
        assert_eq!(
            scrub(
                "535 auth failed for mailer/hunter2",
                &["hunter2".into(), "".into()]
            ),
            "535 auth failed for mailer/***"
        );
        let h = short_hash("https://hooks.example/T000/B000/XXXX");
        assert_eq!(h.len(), 12);
        assert_eq!(h, short_hash("https://hooks.example/T000/B000/XXXX"));
        assert_ne!(h, short_hash("https://hooks.example/T000/B000/YYYY"));
    }
}
