//! The admin's say over who may log in as whom: issue a one-time sign-up code, unlock an id
//! that wrong passwords locked out, reset a user's password. Each is one transaction under
//! the exclusive lock, logged to `jobs/monitor.log` without the code.

use chrono::{Duration, NaiveDateTime};
use hostinfo::auth;
use hostinfo::config::Secret;
use hostinfo::log::LogLine;
use hostinfo::names::user_id_problem;
use hostinfo::Root;

use crate::Error;

/// How long a code stays valid unless the admin says otherwise.
pub const DEFAULT_VALID_DAYS: u32 = 7;

/// A code just issued: shown once, kept nowhere but as its hash.
#[derive(Debug)]
pub struct Issued {
    pub code: Secret,
    pub expires: NaiveDateTime,
}

fn allowed(config: &hostinfo::Config, id: &str) -> Result<(), Error> {
    if let Some(why) = user_id_problem(id) {
        return Err(Error::Admin(format!("user id `{id}` {why}")));
    }
    if !config.capability.allow_user_ids.iter().any(|a| a == id) {
        return Err(Error::Admin(format!(
            "`{id}` is not in allow_userIDs of {}",
            config.capability_path.display()
        )));
    }
    Ok(())
}

fn random(what: &str) -> impl Fn(std::io::Error) -> Error + '_ {
    move |e| Error::Admin(format!("cannot make {what} from /dev/urandom: {e}"))
}

fn minute(t: NaiveDateTime) -> String {
    t.format("%Y-%m-%d %H:%M").to_string()
}

/// Issues a sign-up code for `id`, which has not signed up yet, valid `valid_days` days from
/// `now`; it replaces any earlier code of `id`. With it, `booking` lets `id` sign up once.
pub fn issue_signup_code(
    root: &Root,
    id: &str,
    valid_days: u32,
    now: NaiveDateTime,
) -> Result<Issued, Error> {
    let lock = root.lock_exclusive("checker issue-signup-code")?;
    let config = root.load_config()?;
    allowed(&config, id)?;
    if config.users.get(id).is_some() {
        return Err(Error::Admin(format!(
            "`{id}` has signed up already; `checker reset-user {id}` resets the password"
        )));
    }
    let expires = now + Duration::days(i64::from(valid_days));
    let mut codes = root.read_signup_codes(&lock)?;
    let code = auth::issue_code(&mut codes, id, expires).map_err(random("a code"))?;
    root.write_signup_codes(&codes, &lock)?;
    root.append_log(&LogLine::info(
        now,
        format!(
            "A sign-up code was issued for {id}, valid until {}.",
            minute(expires)
        ),
    ))?;
    Ok(Issued {
        code: Secret::new(code),
        expires,
    })
}

/// Clears `id`'s count of wrong answers and its lock-out; `false` when there was none.
pub fn unlock(root: &Root, id: &str, now: NaiveDateTime) -> Result<bool, Error> {
    let lock = root.lock_exclusive("checker unlock")?;
    let mut records = root.read_auth_failures(&lock)?;
    if !auth::clear(&mut records, id) {
        return Ok(false);
    }
    root.write_auth_failures(&records, &lock)?;
    root.append_log(&LogLine::info(
        now,
        format!("{id} was unlocked by the admin."),
    ))?;
    Ok(true)
}

/// Resets `id`'s password: the old one stops working at once (it is replaced by a random
/// one nobody is told), the lock-out is cleared, and a code is issued with which the user
/// sets a new password in `booking`, valid `valid_days` days from `now`. The rest of the
/// entry (port, image, command) stays.
pub fn reset_user(
    root: &Root,
    id: &str,
    valid_days: u32,
    now: NaiveDateTime,
) -> Result<Issued, Error> {
    let lock = root.lock_exclusive("checker reset-user")?;
    let mut config = root.load_config()?;
    allowed(&config, id)?;
    let Some(mut entry) = config.users.get(id).cloned() else {
        return Err(Error::Admin(format!(
            "`{id}` has not signed up; `checker issue-signup-code {id}` lets them"
        )));
    };
    let expires = now + Duration::days(i64::from(valid_days));
    let unknown = [auth::new_code(), auth::new_code()]
        .into_iter()
        .collect::<std::io::Result<Vec<_>>>()
        .map_err(random("a password"))?
        .concat();
    entry.password = Secret::new(unknown);
    let mut codes = root.read_signup_codes(&lock)?;
    let code = auth::issue_code(&mut codes, id, expires).map_err(random("a code"))?;
    config.users.upsert(id, entry);
    // The code first: after a crash between the two writes `booking` already treats the
    // old password as void and asks for the code, so the reset is never half-done.
    root.write_signup_codes(&codes, &lock)?;
    root.write_users(&config, &config.users, &lock)?;
    let mut records = root.read_auth_failures(&lock)?;
    if auth::clear(&mut records, id) {
        root.write_auth_failures(&records, &lock)?;
    }
    root.append_log(&LogLine::info(
        now,
        format!(
            "The admin reset the password of {id}; a code was issued, valid until {}.",
            minute(expires)
        ),
    ))?;
    Ok(Issued {
        code: Secret::new(code),
        expires,
    })
}
