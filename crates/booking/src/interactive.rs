//! The interactive flow (docs/user-guide.md), with the original's questions and messages: user id,
//! password (or sign-up), options, capability, times, then the booking or the refusal with
//! a suggested window — for a full schedule, the offer to join the waitlist — and back to
//! the capability question.

use std::io::Write;

use checker::limits::user_max;
use hostinfo::clock::{check_window, parse_when, Clock, Role, TimeError, When};
use hostinfo::config::Secret;
use hostinfo::Root;
use inquire::error::InquireError;
use inquire::{Confirm, Password, PasswordDisplayMode, Select, Text};
use termcolor::{Color, ColorChoice, ColorSpec, StandardStream, WriteColor};

use crate::ask::{self, BYE, INCORRECT, NOT_ENOUGH, ONCE_OR_DEFAULT, SUCCESS, WRONG_INPUT};
use crate::ops::{self, Booking, LoginState, UserChange};
use crate::Error;

/// Messages to the person at the terminal (stderr, where the prompts are).
#[derive(Debug)]
pub struct Say {
    color: ColorChoice,
}

impl Say {
    pub fn new(color: ColorChoice) -> Self {
        Say { color }
    }

    pub fn line(&self, text: &str) {
        self.colored(None, text);
    }

    pub fn green(&self, text: &str) {
        self.colored(Some(Color::Green), text);
    }

    pub fn red(&self, text: &str) {
        self.colored(Some(Color::Red), text);
    }

    fn colored(&self, color: Option<Color>, text: &str) {
        let mut err = StandardStream::stderr(self.color);
        let _ = err.set_color(ColorSpec::new().set_fg(color).set_bold(color.is_some()));
        let _ = write!(err, "{text}");
        let _ = err.reset();
        let _ = writeln!(err);
    }
}

fn prompt_error(e: InquireError) -> Error {
    match e {
        InquireError::OperationCanceled | InquireError::OperationInterrupted => Error::Interrupted,
        InquireError::NotTTY => Error::Usage(crate::NEEDS_TTY.into()),
        other => Error::Prompt(other.to_string()),
    }
}

pub fn text(message: &str) -> Result<String, Error> {
    Text::new(message).prompt().map_err(prompt_error)
}

pub fn secret(message: &str) -> Result<String, Error> {
    Password::new(message)
        .with_display_mode(PasswordDisplayMode::Hidden)
        .without_confirmation()
        .prompt()
        .map_err(prompt_error)
}

fn confirm(message: &str) -> Result<bool, Error> {
    Confirm::new(message)
        .with_default(false)
        .prompt()
        .map_err(prompt_error)
}

/// Asks for the user id when none was given on the command line. Typed or given, it is then
/// matched against `allow_userIDs` without regard to case ([`ops::resolve_user`]).
pub fn user_id(given: Option<String>) -> Result<String, Error> {
    match given {
        Some(id) => Ok(id),
        None => Ok(text("Please input your user ID:")?.trim().to_string()),
    }
}

/// Logs `id` in at the terminal: three tries at the password, then `ByeBye~~` and the
/// refusal (exit 1). Every try is counted like a `--password-stdin` one, so a lock-out ends
/// the session at once. After a reset by the admin it asks the code and a new password.
pub fn login(root: &Root, id: &str, say: &Say) -> Result<(), Error> {
    log_in(root, id, say).map(|_| ())
}

/// [`login`], saying whether it wrote a new password (after a reset by the admin).
fn log_in(root: &Root, id: &str, say: &Say) -> Result<bool, Error> {
    match ops::login_state(root, id)? {
        LoginState::Known => {}
        LoginState::ResetPending => {
            say.line(
                "The admin has reset your password: set a new one with the code you were given.",
            );
            let code = ask_code(root, id, say)?;
            ops::sign_up(root, id, new_password(say)?, Some(&code))?;
            say.line("Password changed.");
            return Ok(true);
        }
        LoginState::New { .. } => {
            return Err(Error::Nothing(format!(
                "`{id}` has not signed up; book once first"
            )))
        }
    }
    let mut last = None;
    for _ in 0..ask::PASSWORD_TRIES {
        let entered = Secret::new(secret("Please input your password:")?);
        match ops::authenticate(root, id, &entered) {
            Ok(()) => return Ok(false),
            Err(e @ Error::WrongPassword { .. }) => {
                say.red(INCORRECT);
                last = Some(e);
            }
            Err(e) => return Err(e),
        }
    }
    say.line(BYE);
    Err(last.unwrap_or_else(|| Error::WrongPassword {
        id: id.to_string(),
        locked_until: None,
    }))
}

/// The code the admin issued for `id`, three tries (each counted), then `ByeBye~~`.
fn ask_code(root: &Root, id: &str, say: &Say) -> Result<Secret, Error> {
    let mut last = None;
    for _ in 0..ask::PASSWORD_TRIES {
        let code = Secret::new(secret("Please input the code the admin gave you:")?);
        match ops::verify_code(root, id, &code) {
            Ok(()) => return Ok(code),
            Err(e @ Error::WrongCode { .. }) => {
                say.red(INCORRECT);
                last = Some(e);
            }
            Err(e) => return Err(e),
        }
    }
    say.line(BYE);
    Err(last.unwrap_or_else(|| Error::WrongCode {
        id: id.to_string(),
        locked_until: None,
    }))
}

/// A new password, asked twice, until it is strong enough and both agree.
fn new_password(say: &Say) -> Result<Secret, Error> {
    loop {
        let first = secret("Please set your password:")?;
        if let Some(why) = crate::credentials::password_problem(&first) {
            say.red(&ask::sentence(why));
            continue;
        }
        let second = secret("Please input the password again:")?;
        if first != second {
            say.red(INCORRECT);
            continue;
        }
        return Ok(Secret::new(first));
    }
}

/// The whole flow. `use_options` adds the questions of `-use-opt`.
pub fn run(
    root: &Root,
    given_id: Option<String>,
    use_options: bool,
    say: &Say,
) -> Result<(), Error> {
    let typed = user_id(given_id)?;
    let config = root.load_config()?;
    let id = ops::resolve_user(&config, &typed)?;
    // What was written before a Ctrl-C, so that its message tells the truth.
    let mut saved: Vec<&'static str> = Vec::new();
    let outcome = ask_and_book(root, &id, use_options, say, &mut saved);
    match outcome {
        Err(Error::Interrupted) if !saved.is_empty() => {
            Err(Error::InterruptedAfter(saved.join(" and ")))
        }
        other => other,
    }
}

fn ask_and_book(
    root: &Root,
    id: &str,
    use_options: bool,
    say: &Say,
    saved: &mut Vec<&'static str>,
) -> Result<(), Error> {
    let id = id.to_string();
    if let LoginState::New { code_required } = ops::login_state(root, &id)? {
        say.line(&format!(
            "Welcome, {id}! You are new here: set a password for your container."
        ));
        let code = if code_required {
            Some(ask_code(root, &id, say)?)
        } else {
            None
        };
        let entry = ops::sign_up(root, &id, new_password(say)?, code.as_ref())?.entry;
        saved.push("your sign-up");
        if ops::mails_notices(root) {
            ask_email(root, &id, None, say, saved)?;
        }
        say.line(&format!(
            "Your config: forward_port={} image={} extra_command={} work={} dataset={} backup={}",
            entry.forward_port,
            entry.image.as_deref().unwrap_or("(default)"),
            entry.extra_command.as_deref().unwrap_or("(none)"),
            entry.volume_work_dir.display(),
            entry.volume_dataset_dir.display(),
            entry.volume_backup_dir.display()
        ));
    } else if log_in(root, &id, say)? {
        saved.push("your new password");
    }
    let once = if use_options {
        options(root, &id, say, saved)?
    } else {
        UserChange::default()
    };
    loop {
        let config = root.load_config()?;
        let clock = config.clock()?;
        let max = user_max(&config.capability, &id);
        say.line(&ask::max_line(&max));
        for line in ask::max_origin(&config.capability, &id) {
            say.line(&line);
        }
        let (cpus, memory, gpus) = loop {
            let answer = text("Please input the cpus memory gpus you need (like: 4 16 1):")?;
            match ask::parse_capability(&answer, &max) {
                Ok(c) => break c,
                Err(message) => say.red(message),
            }
        };
        let (start, end) = loop {
            let start = loop {
                let answer = text("Start time (now, N-day, N-week, YYYY MM DD hh mm):")?;
                // A start in the past is refused here, not after the end is asked.
                match parse_when(&answer, Role::Start, &clock)
                    .and_then(|w| start_problem(w, &clock).map_or(Ok(w), Err))
                {
                    Ok(w) => break w,
                    Err(e) => say.red(&format!("{WRONG_INPUT} {e}")),
                }
            };
            let end = loop {
                let answer = text("End time (N-day, N-week, YYYY MM DD hh mm):")?;
                match parse_when(&answer, Role::End { start: start.at }, &clock) {
                    Ok(w) => break w.at,
                    Err(e) => say.red(&format!("{WRONG_INPUT} {e}")),
                }
            };
            match check_window(start, end, &clock) {
                Ok(()) => break (start, end),
                Err(e) => say.red(&format!("{WRONG_INPUT} {e}")),
            }
        };
        let node = match &config.cluster {
            None => checker::NodeChoice::Any,
            Some(cluster) => loop {
                let answer = Text::new(&ask::node_question(cluster))
                    .with_default("any")
                    .prompt()
                    .map_err(prompt_error)?;
                match ops::parse_node(&config, Some(&answer)) {
                    Ok(node) => break node,
                    Err(e) => say.red(&format!("{WRONG_INPUT} {e}")),
                }
            },
        };
        let booking = Booking {
            user_id: id.clone(),
            cpus,
            memory,
            gpus,
            start,
            end,
            forward_port: once.forward_port,
            image: once.image.clone().flatten(),
            extra_command: once.extra_command.clone().flatten(),
            node,
        };
        match ops::book(root, &booking) {
            Ok(row) => {
                say.green(SUCCESS);
                say.line(&crate::describe(&row));
                return Ok(());
            }
            Err(Error::Refused(r)) => {
                if r.is_capacity() {
                    say.red(NOT_ENOUGH);
                }
                // The refusal names the earliest window that fits, once.
                say.red(&r.to_string());
                if r.is_capacity() && offer_waitlist(root, &booking, &r, say)? {
                    return Ok(());
                }
            }
            Err(Error::Time(e)) => say.red(&format!("{WRONG_INPUT} {e}")),
            Err(e) => return Err(e),
        }
    }
}

/// After a capacity refusal, when the request could wait: asks whether to join the
/// waitlist and the latest start that would do, then joins (or books, when a start in that
/// window fits by now). `true` when it booked or joined; `false` goes back to the questions.
fn offer_waitlist(
    root: &Root,
    booking: &Booking,
    refusal: &checker::Refusal,
    say: &Say,
) -> Result<bool, Error> {
    let config = root.load_config()?;
    let clock = config.clock()?;
    let request = checker::Request {
        user_id: booking.user_id.clone(),
        cpus: booking.cpus,
        memory: booking.memory,
        gpus: booking.gpus,
        start: booking.start.at,
        end: booking.end,
        forward_port: booking.forward_port.unwrap_or_default(),
        image: booking.image.clone(),
        node: booking.node.clone(),
    };
    if !crate::waitlist::could_wait(&config, &request, refusal) {
        return Ok(false);
    }
    if !confirm(JOIN_WAITLIST)? {
        return Ok(false);
    }
    let start = booking.start.at;
    let first = start.format("%Y-%m-%d %H:%M").to_string();
    let latest = loop {
        let answer = Text::new(LATEST_START)
            .with_default(&first)
            .prompt()
            .map_err(prompt_error)?;
        let checked = parse_when(&answer, Role::Start, &clock)
            .map_err(Error::from)
            .and_then(|w| {
                crate::waitlist::check_latest(&config, &clock, &booking.user_id, start, w.at)
                    .map(|()| w.at)
            });
        match checked {
            Ok(at) => break at,
            Err(e) => say.red(&format!("{WRONG_INPUT} {e}")),
        }
    };
    match ops::book_or_wait(root, booking, Some(latest)) {
        Ok(ops::Booked::Row(row)) => {
            say.green(SUCCESS);
            say.line(&crate::describe(&row));
            Ok(true)
        }
        Ok(ops::Booked::Waiting(entry)) => {
            say.line(&crate::waitlist::joined_text(&entry));
            Ok(true)
        }
        Err(Error::Refused(r)) => {
            say.red(&r.to_string());
            Ok(false)
        }
        Err(Error::Time(e)) => {
            say.red(&format!("{WRONG_INPUT} {e}"));
            Ok(false)
        }
        Err(e) => Err(e),
    }
}

/// The question after a capacity refusal.
pub const JOIN_WAITLIST: &str = "Join the waitlist? You are booked as soon as it fits.";
/// The latest start of the window a waitlist entry accepts.
pub const LATEST_START: &str = "Latest start you would take (Enter: only the start you asked):";

/// Asks for the address notices are mailed to (empty for none), until one is good, and
/// saves it at once.
fn ask_email(
    root: &Root,
    id: &str,
    current: Option<&str>,
    say: &Say,
    saved: &mut Vec<&'static str>,
) -> Result<(), Error> {
    loop {
        let answer = Text::new("E-mail for your notices (empty for none):")
            .with_default(current.unwrap_or(""))
            .prompt()
            .map_err(prompt_error)?;
        let email = ops::typed_email(&answer);
        if email.as_deref() == current {
            return Ok(());
        }
        let change = UserChange {
            email: Some(email),
            ..Default::default()
        };
        match ops::update_user(root, id, &change) {
            Ok(()) => {
                saved.push("your e-mail address");
                return Ok(());
            }
            Err(Error::Usage(why)) => say.red(&format!("{WRONG_INPUT} {why}.")),
            Err(e) => return Err(e),
        }
    }
}

/// Why a start typed at the prompt cannot be one, checked before the end is asked: in the
/// past (or the current slot typed out rather than `now`), or more than two weeks ahead.
fn start_problem(start: When, clock: &Clock) -> Option<TimeError> {
    // Any end that is short enough: only the start rules can fail.
    match check_window(start, start.at + hostinfo::clock::slot(), clock) {
        Err(e @ (TimeError::StartInPast { .. } | TimeError::StartTooFar { .. })) => Some(e),
        _ => None,
    }
}

/// The `-use-opt` questions: port, image, extra command for this booking, a password
/// change, and whether the first three become the user's defaults.
fn options(
    root: &Root,
    id: &str,
    say: &Say,
    saved: &mut Vec<&'static str>,
) -> Result<UserChange, Error> {
    let config = root.load_config()?;
    let entry = config
        .users
        .get(id)
        .cloned()
        .ok_or_else(|| Error::Usage("no user entry".into()))?;
    let port = loop {
        let answer = Text::new("Forward port (10001..11000):")
            .with_default(&entry.forward_port.to_string())
            .prompt()
            .map_err(prompt_error)?;
        // Refused here when another user holds it, not after the remaining questions.
        match answer.trim().parse::<u16>() {
            Ok(p) => match ops::port_refusal(root, id, p)? {
                None => break p,
                Some(r) => say.red(&format!("{WRONG_INPUT} The {r}.")),
            },
            _ => say.red(WRONG_INPUT),
        }
    };
    let images = config.host.images.clone();
    let current = entry
        .image
        .as_ref()
        .and_then(|i| images.iter().position(|x| x == i))
        .unwrap_or(0);
    let image = Select::new("Image:", images)
        .with_starting_cursor(current)
        .prompt()
        .map_err(prompt_error)?;
    let extra = loop {
        let answer = Text::new("Extra command run at container start (empty for none):")
            .with_default(entry.extra_command.as_deref().unwrap_or(""))
            .prompt()
            .map_err(prompt_error)?;
        match ask::parse_extra_command(&answer) {
            Ok(extra) => break extra,
            Err(why) => say.red(&format!("{WRONG_INPUT} The extra command {why}.")),
        }
    };
    if confirm("Change your password?")? {
        let password = new_password(say)?;
        ops::update_user(
            root,
            id,
            &UserChange {
                password: Some(password),
                ..Default::default()
            },
        )?;
        say.line("Password changed.");
        saved.push("your new password");
    }
    if ops::mails_notices(root) {
        ask_email(root, id, entry.email.as_deref(), say, saved)?;
    }
    let change = UserChange {
        forward_port: Some(port),
        image: Some(Some(image)),
        extra_command: Some(extra),
        password: None,
        email: None,
    };
    if confirm(ONCE_OR_DEFAULT)? {
        ops::update_user(root, id, &change)?;
        say.line("Default config updated.");
        saved.push("your new defaults");
    }
    Ok(change)
}
