//! Every change a student makes, from the CLI (`booking`) or the web (`dashboard`) alike,
//! each one transaction under the exclusive lock: what is checked and what is written are
//! the same files, so two students booking the last GPU at the same moment cannot both get
//! it, whichever of the two they book from.

use std::collections::HashSet;

use checker::rules::PortProblem;
use checker::{admit_fixed, admit_placed, Context, NodeChoice, Refusal, Request};
use chrono::NaiveDateTime;
use hostinfo::auth::{self, Credential, Policy, Refused};
use hostinfo::clock::{check_window, parse_when, Role, When};
use hostinfo::config::{Secret, UserEntry};
use hostinfo::exec::Request as MonitorRequest;
use hostinfo::lock::ExclusiveLock;
use hostinfo::log::LogLine;
use hostinfo::names::{user_id_problem, PORT_RANGE};
use hostinfo::schedule::{format_time, Row};
use hostinfo::{Config, LiveTable, Root, Table};

use crate::credentials;
use crate::Error;

/// What to book.
#[derive(Debug, Clone, PartialEq)]
pub struct Booking {
    pub user_id: String,
    pub cpus: f64,
    pub memory: u32,
    pub gpus: u32,
    pub start: When,
    pub end: NaiveDateTime,
    /// For this booking only; `None` is the user's own port.
    pub forward_port: Option<u16>,
    /// For this booking only; `None` is the user's default (then the host's first image).
    pub image: Option<String>,
    pub extra_command: Option<String>,
    /// On a cluster, the node to run on (`any`: the first where it fits); a single host
    /// has none to choose.
    pub node: NodeChoice,
}

/// A booking as a person typed it: the CLI's flags, the web's form or JSON. Times are in
/// the CLI's words (docs/user-guide.md: `now`, `2026-12-01 14:00`, `tomorrow 9:00`, `3h`).
#[derive(Debug, Clone, PartialEq)]
pub struct Typed<'a> {
    pub user_id: String,
    pub cpus: f64,
    pub memory: u32,
    pub gpus: u32,
    pub start: &'a str,
    pub end: &'a str,
    /// Wait on the waitlist when refused for capacity, for any start up to this one
    /// (implies `wait`).
    pub latest_start: Option<&'a str>,
    /// Wait on the waitlist when refused for capacity (for this start only, without
    /// `latest_start`).
    pub wait: bool,
    pub forward_port: Option<u16>,
    pub image: Option<String>,
    pub extra_command: Option<String>,
    /// `--node`: a node's name or `any`; `None` is `any` on a cluster. Given on a single
    /// host it is a usage error.
    pub node: Option<&'a str>,
}

/// The node choice as typed, against the installation: on a single host none may be given;
/// on a cluster `any` or one of `cfg/cluster.yaml`'s nodes (the error names them).
pub fn parse_node(config: &Config, typed: Option<&str>) -> Result<NodeChoice, Error> {
    match (&config.cluster, typed) {
        (_, None) => Ok(NodeChoice::Any),
        (None, Some(_)) => Err(Error::Usage(
            "a node can be chosen only on a cluster; this installation is a single host (it has no cfg/cluster.yaml)"
                .into(),
        )),
        (Some(cluster), Some(typed)) => {
            let choice = NodeChoice::parse(typed);
            checker::admission::check_node(cluster, &choice)
                .map_err(|refusal| Error::Usage(refusal.to_string()))?;
            Ok(choice)
        }
    }
}

/// The [`Booking`] and the latest start to wait for (when it may wait) of what was typed,
/// read with the installation's clock: one reading for the CLI and the web.
pub fn parse_typed(
    config: &Config,
    typed: &Typed,
) -> Result<(Booking, Option<NaiveDateTime>), Error> {
    let clock = config.clock()?;
    let node = parse_node(config, typed.node)?;
    let start = parse_when(typed.start, Role::Start, &clock)?;
    let end = parse_when(typed.end, Role::End { start: start.at }, &clock)?.at;
    let latest = match (typed.latest_start, typed.wait) {
        (Some(when), _) => Some(parse_when(when, Role::Start, &clock)?.at),
        (None, true) => Some(start.at),
        (None, false) => None,
    };
    Ok((
        Booking {
            user_id: typed.user_id.clone(),
            cpus: typed.cpus,
            memory: typed.memory,
            gpus: typed.gpus,
            start,
            end,
            forward_port: typed.forward_port,
            image: typed.image.clone(),
            extra_command: typed.extra_command.clone(),
            node,
        },
        latest,
    ))
}

/// The id checks every path starts with: the pattern, then the allow list.
pub fn check_user(config: &Config, id: &str) -> Result<(), Error> {
    if let Some(why) = user_id_problem(id) {
        return Err(Refusal::BadUserId { id: id.into(), why }.into());
    }
    if !config.capability.allow_user_ids.iter().any(|a| a == id) {
        return Err(Refusal::NotAllowed { id: id.into() }.into());
    }
    Ok(())
}

/// The id as the admin wrote it in `allow_userIDs` for an id typed at the prompt or given
/// with `--user-id`: spaces around it dropped, letters compared without regard to case (an
/// exact match wins). Every path goes through here, so `Dave`, `dave` and `DAVE` are the same
/// student at the prompt and with the flag, and files and containers use the admin's spelling.
pub fn resolve_user(config: &Config, given: &str) -> Result<String, Error> {
    let typed = given.trim();
    if let Some(why) = user_id_problem(typed) {
        return Err(Refusal::BadUserId {
            id: typed.into(),
            why,
        }
        .into());
    }
    let allowed = &config.capability.allow_user_ids;
    if allowed.iter().any(|a| a == typed) {
        return Ok(typed.to_string());
    }
    let mut same = allowed.iter().filter(|a| a.eq_ignore_ascii_case(typed));
    match (same.next(), same.next()) {
        (Some(one), None) => Ok(one.clone()),
        // Two entries that differ only in case: the typed spelling matches neither exactly.
        _ => Err(Refusal::NotAllowed { id: typed.into() }.into()),
    }
}

/// Why `id` cannot take `port` as a forward port, asked at the port prompt before any window
/// is known: out of range, another user's own port, or the port of another user's running or
/// future booking. `None` when it is free for `id`.
pub fn port_refusal(root: &Root, id: &str, port: u16) -> Result<Option<Refusal>, Error> {
    let config = root.load_config()?;
    let now = config.clock()?.now();
    let lock = root.lock_shared()?;
    let rows = checker::snapshot::read_rows(root, &lock)?;
    drop(lock);
    let far = chrono::NaiveDateTime::MAX;
    Ok(
        match checker::rules::port_problem(
            port,
            id,
            &config.users,
            rows.iter().map(|tr| &tr.row),
            now,
            far,
        ) {
            None => None,
            Some(PortProblem::OutOfRange) => Some(Refusal::PortOutOfRange { port }),
            Some(PortProblem::ConfiguredFor(other)) => {
                Some(Refusal::PortConfiguredForOther { port, other })
            }
            Some(PortProblem::InUse { by, start, end }) => Some(Refusal::PortInUse {
                port,
                other: by,
                start,
                end,
            }),
        },
    )
}

/// Where an (allowed) id stands before it logs in.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum LoginState {
    /// Signed up: logs in with the password.
    Known,
    /// Signed up, but the admin reset the password: a new one is set with the admin's code.
    ResetPending,
    /// Not signed up yet; `code_required` when a code from the admin is needed to.
    New { code_required: bool },
}

/// Where `id` stands: its users file entry and whether a code is pending for it.
pub fn login_state(root: &Root, id: &str) -> Result<LoginState, Error> {
    login_state_in(root, &root.load_config()?, id)
}

/// [`login_state`] with the configuration the caller has just loaded: it only picks the
/// path to take (every path checks again under the exclusive lock), and a booking's whole
/// process otherwise parses the users and capability files four times.
pub fn login_state_in(root: &Root, config: &Config, id: &str) -> Result<LoginState, Error> {
    let lock = root.lock_shared()?;
    let pending = auth::pending_code(&root.read_signup_codes(&lock)?, id).is_some();
    Ok(match (config.users.get(id).is_some(), pending) {
        (true, false) => LoginState::Known,
        (true, true) => LoginState::ResetPending,
        (false, pending) => LoginState::New {
            code_required: pending || config.host.require_signup_code,
        },
    })
}

/// Whether `password` is `id`'s, counted: every path that checks a password comes here, so
/// wrong ones from the prompt, `--password-stdin`, cancel, end-at and restart all count
/// toward one lock-out. Under the exclusive lock, so parallel guesses are counted too; the
/// growing delay is waited with the lock let go.
pub fn authenticate(root: &Root, id: &str, password: &Secret) -> Result<(), Error> {
    authenticate_in(root, &root.load_config()?, id, password)
}

/// [`authenticate`] with the configuration the caller loaded a moment ago (a booking from
/// the command line reads it once: it is a third of the work of a booking at 10,000 rows).
pub fn authenticate_in(
    root: &Root,
    config: &Config,
    id: &str,
    password: &Secret,
) -> Result<(), Error> {
    let policy = Policy::from_env();
    let lock = root.lock_exclusive("booking")?;
    let Some(user) = config.users.get(id) else {
        return Err(Error::Nothing(format!(
            "`{id}` has not signed up; book once first"
        )));
    };
    if auth::pending_code(&root.read_signup_codes(&lock)?, id).is_some() {
        // The old password is void; saying so counts nothing against the user.
        return Err(Error::ResetPending(id.to_string()));
    }
    let now = config.clock()?.now();
    let checked = root.check_secret(id, Credential::Password, now, &policy, &lock, || {
        // Never compare more than a password can hold: the cost stays bounded.
        password.expose().len() <= auth::PASSWORD_MAX_BYTES
            && credentials::password_matches(password.expose(), user.password.expose())
    })?;
    drop(lock);
    checked.map_err(|r| refusal(r, id, Credential::Password, &policy))
}

/// Waits a refusal's delay (call it with no lock held), then gives its error.
fn refusal(refused: Refused, id: &str, what: Credential, policy: &Policy) -> Error {
    std::thread::sleep(refused.delay(policy));
    let minute = |t: NaiveDateTime| t.format("%Y-%m-%d %H:%M").to_string();
    let id = id.to_string();
    match refused {
        Refused::Locked { until } => Error::LockedOut {
            id,
            until: minute(until),
        },
        Refused::Wrong { locked_until, .. } => {
            let locked_until = locked_until.map(minute);
            match what {
                Credential::Password => Error::WrongPassword { id, locked_until },
                Credential::SignupCode => Error::WrongCode { id, locked_until },
            }
        }
    }
}

/// Under the exclusive lock: checks `code` against `id`'s pending code, counted like a
/// password. An id with no code pending, or an expired one, is refused without a comparison.
fn check_code(
    root: &Root,
    lock: &ExclusiveLock,
    id: &str,
    code: Option<&Secret>,
    now: NaiveDateTime,
    policy: &Policy,
) -> Result<Result<(), Refused>, Error> {
    let codes = root.read_signup_codes(lock)?;
    let Some(pending) = auth::pending_code(&codes, id) else {
        return Err(Error::Nothing(format!(
            "no sign-up code has been issued for `{id}`; ask the admin"
        )));
    };
    let Some(code) = code else {
        return Err(Error::Usage(format!(
            "`{id}` needs the code the admin issued: at the prompt, or on the line after the password with --password-stdin"
        )));
    };
    if pending.expires <= now {
        return Err(Error::Nothing(format!(
            "the sign-up code of `{id}` has expired; ask the admin for a new one"
        )));
    }
    Ok(
        root.check_secret(id, Credential::SignupCode, now, policy, lock, || {
            auth::code_matches(pending, code.expose())
        })?,
    )
}

/// Whether `code` is the code the admin issued for `id` (counted like a password); the
/// interactive flow asks it before the new password. [`sign_up`] checks it again and uses it.
pub fn verify_code(root: &Root, id: &str, code: &Secret) -> Result<(), Error> {
    let policy = Policy::from_env();
    let lock = root.lock_exclusive("booking")?;
    let config = root.load_config()?;
    check_user(&config, id)?;
    let now = config.clock()?.now();
    let checked = check_code(root, &lock, id, Some(code), now, &policy)?;
    drop(lock);
    checked.map_err(|r| refusal(r, id, Credential::SignupCode, &policy))
}

/// Books `b`: checks every rule, picks the GPUs, writes `booking.csv`, and asks the monitor
/// for a tick when the booking starts in the current slot.
pub fn book(root: &Root, b: &Booking) -> Result<Row, Error> {
    match book_or_wait(root, b, None)? {
        Booked::Row(row) => Ok(row),
        Booked::Waiting(_) => unreachable!("only a request that may wait joins the waitlist"),
    }
}

/// What [`book_or_wait`] did.
#[derive(Debug, Clone, PartialEq)]
pub enum Booked {
    /// The row written to `booking.csv`.
    Row(Row),
    /// Refused for capacity: on the waitlist (docs/user-guide.md, The waitlist).
    Waiting(hostinfo::waitlist::Entry),
}

/// [`book`], and with `latest` (the student asked to wait) a capacity refusal joins the
/// waitlist in the same lock, for any start from `b`'s to `latest`; a later start in that
/// window that fits already is booked at once.
pub fn book_or_wait(
    root: &Root,
    b: &Booking,
    latest: Option<NaiveDateTime>,
) -> Result<Booked, Error> {
    book_or_wait_in(root, &root.load_config()?, b, latest)
}

/// [`book_or_wait`] with the configuration the caller loaded a moment ago. The rules read
/// the schedule under the lock; the configuration is the admin's, replaced whole when it
/// changes, and a booking checked against the one read a few milliseconds earlier is one the
/// admin's change could not have caught either.
pub fn book_or_wait_in(
    root: &Root,
    config: &Config,
    b: &Booking,
    latest: Option<NaiveDateTime>,
) -> Result<Booked, Error> {
    if let Some(why) = b
        .extra_command
        .as_deref()
        .and_then(auth::extra_command_problem)
    {
        return Err(Error::Usage(format!("the extra command {why}")));
    }
    let lock = root.lock_exclusive("booking")?;
    let clock = config.clock()?;
    check_user(config, &b.user_id)?;
    let user = config
        .users
        .get(&b.user_id)
        .ok_or_else(|| Error::Usage(format!("`{}` has not signed up yet", b.user_id)))?;
    check_window(b.start, b.end, &clock)?;
    if let Some(latest) = latest {
        crate::waitlist::check_latest(config, &clock, &b.user_id, b.start.at, latest)?;
    }
    let booking = root.read_schedule_strict(Table::Booking, &lock)?;
    let using = root.read_schedule_strict(Table::Using, &lock)?;
    let request = Request {
        user_id: b.user_id.clone(),
        cpus: b.cpus,
        memory: b.memory,
        gpus: b.gpus,
        start: b.start.at,
        end: b.end,
        forward_port: b.forward_port.unwrap_or(user.forward_port),
        image: b.image.clone(),
        node: b.node.clone(),
    };
    let ctx = Context {
        config,
        rows: using.rows.iter().chain(&booking.rows).collect(),
        now_slot: clock.current_slot(),
    };
    let placed = match (admit_placed(&ctx, &request), latest) {
        (Ok(placed), _) => placed,
        (Err(refusal), Some(latest)) if refusal.is_capacity() => {
            let rows: Vec<Row> = ctx.rows.iter().map(|r| (*r).clone()).collect();
            let joined = crate::waitlist::join(
                root,
                &lock,
                config,
                &clock,
                &rows,
                &request,
                b.extra_command.clone(),
                latest,
                refusal,
            )?;
            return Ok(match joined {
                crate::waitlist::Joined::Booked(row) => {
                    root.notify(&[crate::events::booked(&row, clock.now())]);
                    Booked::Row(row)
                }
                crate::waitlist::Joined::Waiting(entry) => Booked::Waiting(entry),
            });
        }
        (Err(refusal), _) => return Err(refusal.into()),
    };
    let row = Row {
        start: request.start,
        end: request.end,
        user_id: request.user_id,
        cpus: request.cpus,
        memory: request.memory,
        gpus: placed.gpus,
        forward_port: request.forward_port,
        image: request.image,
        extra_command: b.extra_command.clone(),
        node: placed.node,
    };
    root.add_rows(LiveTable::Booking, std::slice::from_ref(&row), &lock)?;
    if row.start <= clock.now() || config.cluster.is_some() {
        root.push_request(&MonitorRequest::Now, &lock)?;
    }
    root.notify(&[crate::events::booked(&row, clock.now())]);
    Ok(Booked::Row(row))
}

/// What [`sign_up`] did.
#[derive(Debug, Clone, PartialEq)]
pub struct SignedUp {
    pub entry: UserEntry,
    /// The user had an entry whose password the admin reset; it keeps everything else.
    pub was_reset: bool,
}

/// Signs a new user up (a `users_config.yaml` entry, docs/file-formats.md, with a random free port), or sets the new
/// password of a user whose password the admin reset. A code is needed when the admin
/// issued one for `id`, and for every new id when `require_signup_code` is on; it is
/// checked like a password, and used up. Logged, never with the password or the code.
pub fn sign_up(
    root: &Root,
    id: &str,
    password: Secret,
    code: Option<&Secret>,
) -> Result<SignedUp, Error> {
    if let Some(why) = credentials::password_problem(password.expose()) {
        return Err(Error::WeakPassword(why));
    }
    let policy = Policy::from_env();
    let lock = root.lock_exclusive("booking")?;
    let mut config = root.load_config()?;
    check_user(&config, id)?;
    let now = config.clock()?.now();
    let mut codes = root.read_signup_codes(&lock)?;
    let pending = auth::pending_code(&codes, id).is_some();
    let existing = config.users.get(id).cloned();
    if existing.is_some() && !pending {
        return Err(Error::Usage(format!("`{id}` has signed up already")));
    }
    if pending || config.host.require_signup_code {
        if let Err(refused) = check_code(root, &lock, id, code, now, &policy)? {
            drop(lock);
            return Err(refusal(refused, id, Credential::SignupCode, &policy));
        }
    }
    let (entry, was_reset) = match existing {
        Some(old) => (UserEntry { password, ..old }, true),
        None => {
            let mut taken: HashSet<u16> =
                config.users.iter().map(|(_, u)| u.forward_port).collect();
            for table in [Table::Booking, Table::Using] {
                taken.extend(
                    root.read_schedule(table, &lock)?
                        .rows
                        .iter()
                        .map(|r| r.forward_port),
                );
            }
            let port =
                credentials::pick_port(&taken, credentials::seed()).ok_or(Error::NoFreePort)?;
            (UserEntry::new_user(id, &config.host, password, port), false)
        }
    };
    config.users.upsert(id, entry.clone());
    root.write_users(&config, &config.users, &lock)?;
    // After the users file: a crash in between leaves a code that can do nothing more
    // (the id has its entry) rather than an entry without its code used up.
    if pending {
        codes.retain(|c| c.user_id != id);
        root.write_signup_codes(&codes, &lock)?;
    }
    let how = if pending {
        " with the admin's code"
    } else {
        ""
    };
    let message = if was_reset {
        format!("{id} set a new password{how}.")
    } else {
        format!("{id} signed up{how}, forward port {}.", entry.forward_port)
    };
    root.append_log(&LogLine::info(now, message))?;
    Ok(SignedUp { entry, was_reset })
}

/// A change to a user's defaults; `None` leaves a field as it is.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct UserChange {
    pub forward_port: Option<u16>,
    pub image: Option<Option<String>>,
    pub extra_command: Option<Option<String>>,
    pub password: Option<Secret>,
    /// Where notices are mailed; `Some(None)` removes the address.
    pub email: Option<Option<String>>,
}

/// Updates a user's defaults in `users_config.yaml`.
pub fn update_user(root: &Root, id: &str, change: &UserChange) -> Result<(), Error> {
    if let Some(p) = &change.password {
        if let Some(why) = credentials::password_problem(p.expose()) {
            return Err(Error::WeakPassword(why));
        }
    }
    if let Some(Some(command)) = &change.extra_command {
        if let Some(why) = auth::extra_command_problem(command) {
            return Err(Error::Usage(format!("the extra command {why}")));
        }
    }
    if let Some(Some(address)) = &change.email {
        if let Some(why) = hostinfo::notify_config::email_problem(address) {
            return Err(Error::Usage(format!("the e-mail address {why}")));
        }
    }
    let lock = root.lock_exclusive("booking")?;
    let mut config = root.load_config()?;
    let mut entry = config
        .users
        .get(id)
        .cloned()
        .ok_or_else(|| Error::Usage(format!("`{id}` has not signed up yet")))?;
    if let Some(port) = change.forward_port {
        if !PORT_RANGE.contains(&port) {
            return Err(Refusal::PortOutOfRange { port }.into());
        }
        if let Some((other, _)) = config
            .users
            .iter()
            .find(|(o, u)| *o != id && u.forward_port == port)
        {
            return Err(Refusal::PortConfiguredForOther {
                port,
                other: other.to_string(),
            }
            .into());
        }
        entry.forward_port = port;
    }
    if let Some(image) = &change.image {
        if !checker::rules::image_allowed(&config.host, image.as_deref()) {
            return Err(Refusal::ImageNotAllowed {
                image: image.clone().unwrap_or_default(),
            }
            .into());
        }
        entry.image = image.clone();
    }
    if let Some(command) = &change.extra_command {
        entry.extra_command = command.clone();
    }
    if let Some(p) = &change.password {
        entry.password = p.clone();
    }
    if let Some(email) = &change.email {
        entry.email = email.clone();
    }
    config.users.upsert(id, entry);
    root.write_users(&config, &config.users, &lock)?;
    if change.password.is_some() {
        let now = config.clock()?.now();
        root.append_log(&LogLine::info(now, format!("{id} changed their password.")))?;
    }
    Ok(())
}

/// Cancels the user's booking that starts at `start` (as typed; docs/user-guide.md), if it has not
/// started yet.
pub fn cancel(root: &Root, id: &str, start: &str) -> Result<Row, Error> {
    let lock = root.lock_exclusive("booking")?;
    let config = root.load_config()?;
    let clock = config.clock()?;
    let at = parse_when(start, Role::Start, &clock)?.at;
    let mut booking = root.read_schedule_strict(Table::Booking, &lock)?.rows;
    // Read before anything is written: a waitlist that cannot be read changes nothing.
    root.read_waitlist(&lock)?;
    let Some(i) = booking
        .iter()
        .position(|r| r.user_id == id && r.start == at)
    else {
        return Err(Error::Nothing(format!(
            "you have no booking starting at {}",
            format_time(at)
        )));
    };
    if booking[i].start <= clock.now() {
        return Err(Error::Nothing(format!(
            "your booking from {} has started; shorten it with --end-at instead",
            format_time(at)
        )));
    }
    let row = booking.remove(i);
    root.write_schedule(LiveTable::Booking, &booking, &lock)?;
    mirror_now(root, &config, &lock)?;
    root.notify(&[crate::events::cancelled(&row, clock.now())]);
    // The capacity it frees goes to the waitlist in the same lock.
    crate::waitlist::serve_after_change(root, &lock, &config, clock.now());
    Ok(row)
}

/// Moves the end of one of the user's bookings (running or future). Shortening is always
/// allowed; extending is checked against every rule with the GPUs the booking holds.
/// `pick` names the booking by its start when the user has more than one.
pub fn end_at(root: &Root, id: &str, pick: Option<&str>, when: &str) -> Result<(Row, Row), Error> {
    let lock = root.lock_exclusive("booking")?;
    let config = root.load_config()?;
    let clock = config.clock()?;
    let now = clock.now();
    let mut tables = [
        (
            LiveTable::Using,
            root.read_schedule_strict(Table::Using, &lock)?.rows,
        ),
        (
            LiveTable::Booking,
            root.read_schedule_strict(Table::Booking, &lock)?.rows,
        ),
    ];
    let wanted = pick
        .map(|p| parse_when(p, Role::Start, &clock))
        .transpose()?
        .map(|w| w.at);
    let all: Vec<(usize, usize)> = tables
        .iter()
        .enumerate()
        .flat_map(|(t, (_, rows))| {
            rows.iter()
                .enumerate()
                .filter(|(_, r)| r.user_id == id && r.end > now)
                .map(move |(i, _)| (t, i))
        })
        .collect();
    let mine: Vec<(usize, usize)> = all
        .iter()
        .copied()
        .filter(|&(t, i)| wanted.is_none_or(|w| tables[t].1[i].start == w))
        .collect();
    // The starts of all of them, earliest first, for the message that asks to pick one.
    let starts = || {
        let mut starts: Vec<NaiveDateTime> =
            all.iter().map(|&(t, i)| tables[t].1[i].start).collect();
        starts.sort();
        starts
            .iter()
            .map(|s| format!("`{}`", short_time(*s)))
            .collect::<Vec<_>>()
            .join(", ")
    };
    let (t, i) = match (mine.as_slice(), wanted) {
        ([], _) if all.is_empty() => {
            return Err(Error::Nothing(
                "you have no running or future booking to change".into(),
            ))
        }
        ([], Some(w)) => {
            return Err(Error::Nothing(format!(
                "you have no running or future booking starting at {}; yours start at {}",
                short_time(w),
                starts()
            )))
        }
        ([one], _) => *one,
        _ => {
            return Err(Error::Usage(format!(
                "you have {} bookings; name one with --which START (they start at {})",
                mine.len(),
                starts()
            )))
        }
    };
    let old = tables[t].1[i].clone();
    let new_end = parse_when(when, Role::End { start: old.start }, &clock)?.at;
    check_window(
        When {
            at: old.start,
            via_now: true,
        },
        new_end,
        &clock,
    )
    .or_else(|e| match e {
        // A running booking's start is in the past; only the end rules apply here.
        hostinfo::clock::TimeError::StartInPast { .. } => Ok(()),
        e => Err(e),
    })?;
    if new_end <= now {
        return Err(Error::Usage(format!(
            "the new end {} is not in the future",
            format_time(new_end)
        )));
    }
    if new_end > old.end {
        let rows: Vec<&Row> = tables
            .iter()
            .enumerate()
            .flat_map(|(tt, (_, rows))| {
                rows.iter()
                    .enumerate()
                    .filter(move |(ii, _)| (tt, *ii) != (t, i))
                    .map(|(_, r)| r)
            })
            .collect();
        let ctx = Context {
            config: &config,
            rows,
            now_slot: clock.current_slot(),
        };
        let request = Request {
            user_id: old.user_id.clone(),
            cpus: old.cpus,
            memory: old.memory,
            gpus: old.gpus.len() as u32,
            start: old.start,
            end: new_end,
            forward_port: old.forward_port,
            image: old.image.clone(),
            node: NodeChoice::of_row(&old),
        };
        admit_fixed(&ctx, &request, &old.gpus).map_err(|refusal| Error::NotExtended {
            end: short_time(new_end),
            refusal: Box::new(refusal),
        })?;
    }
    if new_end < old.end {
        // Read before anything is written: a waitlist that cannot be read changes nothing.
        root.read_waitlist(&lock)?;
    }
    let new = Row {
        end: new_end,
        ..old.clone()
    };
    tables[t].1[i] = new.clone();
    root.write_schedule(tables[t].0, &tables[t].1, &lock)?;
    mirror_now(root, &config, &lock)?;
    root.notify(&[crate::events::changed(&old, &new, now)]);
    if new.end < old.end {
        // The capacity a shortening frees goes to the waitlist in the same lock.
        crate::waitlist::serve_after_change(root, &lock, &config, now);
    }
    Ok((old, new))
}

/// On a cluster every change to the schedule asks the monitor for a tick at once (through
/// `jobs/monitor_exec` and its path unit): the monitor mirrors the change into Slurm's
/// reservations and jobs, and a future booking's job must be there before it starts.
fn mirror_now(root: &Root, config: &Config, lock: &ExclusiveLock) -> Result<(), Error> {
    if config.cluster.is_some() {
        root.push_request(&MonitorRequest::Now, lock)?;
    }
    Ok(())
}

/// A time as a student types it back: `2026-11-23 09:30`.
fn short_time(t: NaiveDateTime) -> String {
    t.format("%Y-%m-%d %H:%M").to_string()
}

/// Asks the monitor to restart the user's container, when the user has one running.
pub fn restart(root: &Root, id: &str) -> Result<(), Error> {
    let lock = root.lock_exclusive("booking")?;
    let config = root.load_config()?;
    let now = config.clock()?.now();
    let using = root.read_schedule_strict(Table::Using, &lock)?;
    if !using
        .rows
        .iter()
        .any(|r| r.user_id == id && r.start <= now && now < r.end)
    {
        return Err(Error::Nothing(
            "you have no running container to restart".into(),
        ));
    }
    root.push_request(&MonitorRequest::Restart(id.to_string()), &lock)?;
    Ok(())
}

/// Whether the lab mails notices (`cfg/notify.yaml` sets up SMTP): only then is a student
/// asked for an address.
pub fn mails_notices(root: &Root) -> bool {
    root.load_notify_config().is_ok_and(|c| c.smtp.is_some())
}

/// An address as typed: trimmed; empty is none.
pub fn typed_email(typed: &str) -> Option<String> {
    Some(typed.trim().to_string()).filter(|t| !t.is_empty())
}
