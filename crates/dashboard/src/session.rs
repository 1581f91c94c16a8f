//! Signed-in sessions (docs/dashboard.md, Booking from the browser): a random token kept
//! here, in the server's memory, with its user, its CSRF token and its expiry. The cookie
//! holds only the token; nothing about a session is written to a file, so a restart signs
//! everyone out.

use std::collections::HashMap;
use std::sync::Mutex;
use std::time::{Duration, Instant};

/// The cookie's name.
pub const COOKIE: &str = "aivc_session";

/// How long a session lasts from sign-in.
pub const LIFETIME: Duration = Duration::from_secs(8 * 3600);

/// The most sessions kept; past it the oldest of whoever holds the most go first (a flood
/// of sign-ins cannot grow the server without bound).
pub const MAX_SESSIONS: usize = 10_000;

/// The most sessions one user holds; a new one ends their oldest. One student signing in
/// again and again ends only their own sessions, never another's.
pub const MAX_PER_USER: usize = 16;

/// One signed-in user.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Session {
    pub user: String,
    /// Sent back with every state-changing request (`X-CSRF-Token`, or the form's `csrf`).
    pub csrf: String,
    pub expires: Instant,
}

#[derive(Debug, Default)]
pub struct Sessions {
    map: Mutex<HashMap<String, Session>>,
}

/// 32 random bytes from the kernel as hex; `None` only if the kernel has none to give.
pub fn random_token() -> Option<String> {
    let mut bytes = [0u8; 32];
    getrandom::fill(&mut bytes).ok()?;
    Some(bytes.iter().map(|b| format!("{b:02x}")).collect())
}

/// Whether `a` and `b` are equal, in time that does not depend on where they differ.
pub fn same_secret(a: &str, b: &str) -> bool {
    let (a, b) = (a.as_bytes(), b.as_bytes());
    a.len() == b.len() && a.iter().zip(b).fold(0u8, |acc, (x, y)| acc | (x ^ y)) == 0
}

impl Sessions {
    /// A new session for `user`: (its token, the session).
    pub fn create(&self, user: &str) -> Option<(String, Session)> {
        let token = random_token()?;
        let session = Session {
            user: user.to_string(),
            csrf: random_token()?,
            expires: Instant::now() + LIFETIME,
        };
        let mut map = self.map.lock().unwrap_or_else(|p| p.into_inner());
        let now = Instant::now();
        map.retain(|_, s| s.expires > now);
        let oldest_of = |map: &HashMap<String, Session>, user: &str| {
            map.iter()
                .filter(|(_, s)| s.user == user)
                .min_by_key(|(_, s)| s.expires)
                .map(|(t, _)| t.clone())
        };
        if map.values().filter(|s| s.user == user).count() >= MAX_PER_USER {
            if let Some(t) = oldest_of(&map, user) {
                map.remove(&t);
            }
        }
        if map.len() >= MAX_SESSIONS {
            let mut counts: HashMap<&str, usize> = HashMap::new();
            for s in map.values() {
                *counts.entry(s.user.as_str()).or_default() += 1;
            }
            let most = counts
                .into_iter()
                .max_by_key(|(_, n)| *n)
                .map(|(u, _)| u.to_string());
            if let Some(t) = most.and_then(|u| oldest_of(&map, &u)) {
                map.remove(&t);
            }
        }
        map.insert(token.clone(), session.clone());
        Some((token, session))
    }

    /// The live session of `token`; an expired one is forgotten.
    pub fn get(&self, token: &str) -> Option<Session> {
        let mut map = self.map.lock().unwrap_or_else(|p| p.into_inner());
        match map.get(token) {
            Some(s) if s.expires > Instant::now() => Some(s.clone()),
            Some(_) => {
                map.remove(token);
                None
            }
            None => None,
        }
    }

    /// Signs out.
    pub fn end(&self, token: &str) {
        self.map
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .remove(token);
    }

    /// Ends every session now (the tests of expiry).
    pub fn expire_all(&self) {
        let past = Instant::now();
        for s in self
            .map
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .values_mut()
        {
            s.expires = past;
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn tokens_are_64_hex_digits_and_differ() {
        let (a, b) = (random_token().unwrap(), random_token().unwrap());
        assert_eq!(a.len(), 64);
        assert!(a.chars().all(|c| c.is_ascii_hexdigit()));
        assert_ne!(a, b);
    }

    #[test]
    fn a_session_is_found_by_its_token_until_it_ends_or_expires() {
        let s = Sessions::default();
        let (token, session) = s.create("alice").unwrap();
        assert_eq!(s.get(&token).unwrap().user, "alice");
        assert_eq!(s.get(&token).unwrap().csrf, session.csrf);
        assert!(s.get("forged").is_none());
        s.end(&token);
        assert!(s.get(&token).is_none());
        let (token, _) = s.create("bob").unwrap();
        s.expire_all();
        assert!(s.get(&token).is_none());
    }

    #[test]
    fn signing_in_again_and_again_ends_only_ones_own_oldest_sessions() {
        let s = Sessions::default();
        let (alice, _) = s.create("alice").unwrap();
        let carol: Vec<String> = (0..MAX_PER_USER + 5)
            .map(|_| s.create("carol").unwrap().0)
            .collect();
        assert!(
            s.get(&alice).is_some(),
            "alice was signed out by carol's sign-ins"
        );
        let live = carol.iter().filter(|t| s.get(t).is_some()).count();
        assert_eq!(live, MAX_PER_USER);
        assert!(s.get(&carol[0]).is_none() && s.get(carol.last().unwrap()).is_some());
    }

    #[test]
    fn secrets_compare_whole() {
        assert!(same_secret("abc", "abc"));
        assert!(!same_secret("abc", "abd"));
        assert!(!same_secret("abc", "abcd"));
    }
}
