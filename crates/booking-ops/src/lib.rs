//! booking-ops: every change a student makes to the schedule — book, wait, cancel, shorten,
//! extend, sign up, authenticate — one implementation that the CLI (`booking`) and the web
//! (`dashboard`) both call, so no rule, lock or log line is written twice.

pub mod credentials;
pub mod events;
pub mod ops;
pub mod waitlist;

use hostinfo::schedule::{format_time, Row};

#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum Error {
    #[error(transparent)]
    Files(#[from] hostinfo::Error),
    #[error(transparent)]
    Time(#[from] hostinfo::clock::TimeError),
    #[error("{0}")]
    Refused(#[from] checker::Refusal),
    /// `--end-at` later than the booking ends, refused by a rule. No other window is
    /// looked for: the booking keeps its start and its GPUs.
    #[error("cannot move the end to {end}: {}", extension_text(refusal))]
    NotExtended {
        end: String,
        refusal: Box<checker::Refusal>,
    },
    #[error("incorrect password for `{id}`{}", locked_note(locked_until.as_deref()))]
    WrongPassword {
        id: String,
        /// When this wrong password locked the user out, until when.
        locked_until: Option<String>,
    },
    #[error("incorrect sign-up code for `{id}`{}", locked_note(locked_until.as_deref()))]
    WrongCode {
        id: String,
        locked_until: Option<String>,
    },
    #[error("`{id}` is locked out until {until} after too many wrong passwords or sign-up codes; wait, or ask the admin to unlock it")]
    LockedOut { id: String, until: String },
    /// A password reset by the admin waits for the user's new password and the code.
    #[error("the admin has reset the password of `{0}`: give a new password and the code the admin gave you (at the prompts, or as two lines on --password-stdin)")]
    ResetPending(String),
    /// Why a new password cannot be used, in plain English (see
    /// [`credentials::password_problem`]).
    #[error("{0}")]
    WeakPassword(&'static str),
    #[error("every forward port in 10001..11000 is taken; ask the admin")]
    NoFreePort,
    /// A negative answer that is not a rule: nothing to cancel, nothing running.
    #[error("{0}")]
    Nothing(String),
    #[error("{0}")]
    Usage(String),
    #[error("{0}")]
    Prompt(String),
    #[error("interrupted; nothing was booked")]
    Interrupted,
    /// Ctrl-C or Esc after something was saved (a sign-up, a new password, new defaults):
    /// what was saved stays; no booking was written.
    #[error("interrupted; nothing was booked (saved: {0})")]
    InterruptedAfter(String),
}

impl Error {
    /// 1 for a negative answer, 130 for Ctrl-C or Esc, 2 for every error.
    pub fn exit_code(&self) -> u8 {
        match self {
            Error::Refused(_)
            | Error::NotExtended { .. }
            | Error::WrongPassword { .. }
            | Error::WrongCode { .. }
            | Error::LockedOut { .. }
            | Error::ResetPending(_)
            | Error::Nothing(_) => 1,
            Error::Interrupted | Error::InterruptedAfter(_) => 130,
            _ => 2,
        }
    }
}

/// A refusal of an extension without the clause about other windows: none was looked for,
/// so "no window of that length and size fits" would not be true.
fn extension_text(refusal: &checker::Refusal) -> String {
    let text = refusal.to_string();
    match text.split_once("; no window of that length and size fits") {
        Some((rule, _)) => rule.to_string(),
        None => text,
    }
}

fn locked_note(until: Option<&str>) -> String {
    until
        .map(|u| format!("; it is now locked out until {u}"))
        .unwrap_or_default()
}

/// One line describing a booked row, for people.
pub fn describe(row: &Row) -> String {
    format!(
        "{} from {} to {}: cpus={} memory={} gpus={} port={}{}",
        row.user_id,
        format_time(row.start),
        format_time(row.end),
        row.cpus,
        row.memory,
        row.gpus,
        row.forward_port,
        row.image
            .as_deref()
            .map(|i| format!(" image={i}"))
            .unwrap_or_default()
    ) + &row
        .node
        .as_deref()
        .map(|n| format!(" node={n}"))
        .unwrap_or_default()
}
