//! The secrets and ports of a user entry as plain functions: whether a new password may be
//! used, whether a password matches, a free forward port for a new user. Used by the booking
//! operations and by the prompts of the CLI and the forms of the web alike.

use std::collections::HashSet;

use hostinfo::auth::PASSWORD_MAX_BYTES;
use hostinfo::names::PORT_RANGE;

/// Why a new password cannot be used, as a plain clause ("the password is too common
/// ..."), or `None`: 4 to 128 bytes of printable characters, not a common one, not one
/// character repeated. Never quotes the password.
pub fn password_problem(password: &str) -> Option<&'static str> {
    const COMMON: [&str; 4] = ["1234", "4321", "1qaz", "=0-9"];
    if hostinfo::auth::password_bounds_problem(password).is_some() {
        if password.chars().count() < hostinfo::auth::PASSWORD_MIN_CHARS {
            return Some("the password is too short: use at least 4 characters");
        }
        if password.len() > PASSWORD_MAX_BYTES {
            return Some("the password is too long: use at most 128 bytes");
        }
        return Some(
            "the password may hold printable characters only (no tabs or other control characters)",
        );
    }
    let chars: Vec<char> = password.chars().collect();
    if COMMON.contains(&password.to_lowercase().as_str()) {
        return Some(
            "the password is too common (1234, 4321, 1qaz and =0-9 are refused): choose another",
        );
    }
    if chars.iter().all(|c| *c == chars[0]) {
        return Some(
            "the password is one character repeated: use at least two different characters",
        );
    }
    None
}

/// Compares passwords without stopping at the first difference.
pub fn password_matches(entered: &str, stored: &str) -> bool {
    let (a, b) = (entered.as_bytes(), stored.as_bytes());
    let mut diff = a.len() ^ b.len();
    for i in 0..a.len().max(b.len()) {
        diff |= usize::from(a.get(i).copied().unwrap_or(0) ^ b.get(i).copied().unwrap_or(0xff));
    }
    diff == 0
}

/// A port in 10001..11000 not in `taken`, chosen by `seed` (any number), or `None` when
/// every port is taken.
pub fn pick_port(taken: &HashSet<u16>, seed: u64) -> Option<u16> {
    let free: Vec<u16> = PORT_RANGE.filter(|p| !taken.contains(p)).collect();
    if free.is_empty() {
        return None;
    }
    // splitmix64: spreads close seeds far apart.
    let mut z = seed.wrapping_add(0x9E37_79B9_7F4A_7C15);
    z = (z ^ (z >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
    z = (z ^ (z >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
    z ^= z >> 31;
    Some(free[(z % free.len() as u64) as usize])
}

/// A seed that differs between runs and processes.
pub fn seed() -> u64 {
    let nanos = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map_or(0, |d| d.as_nanos() as u64);
    nanos ^ (u64::from(std::process::id()) << 32)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn weak_passwords_are_refused() {
        for weak in ["", "abc", "1234", "4321", "1QAZ", "=0-9", "aaaa", "0000"] {
            assert!(password_problem(weak).is_some(), "{weak}");
        }
        for ok in ["abcd", "12345", "correct horse"] {
            assert_eq!(password_problem(ok), None, "{ok}");
        }
    }

    #[test]
    fn new_passwords_have_bounds_as_well_as_strength() {
        assert_eq!(password_problem(&"ab".repeat(64)), None, "128 bytes");
        assert_eq!(
            password_problem(&"ab".repeat(65)),
            Some("the password is too long: use at most 128 bytes")
        );
        assert_eq!(
            password_problem("ab\0cd"),
            Some("the password may hold printable characters only (no tabs or other control characters)")
        );
    }

    #[test]
    fn passwords_match_only_exactly() {
        assert!(password_matches("s3cret", "s3cret"));
        assert!(!password_matches("s3cre", "s3cret"));
        assert!(!password_matches("s3cret ", "s3cret"));
        assert!(!password_matches("", "x"));
        assert!(password_matches("", ""));
    }

    #[test]
    fn a_picked_port_is_free_and_in_range() {
        let taken: HashSet<u16> = (10001..=10999).collect();
        for seed in 0..50 {
            assert_eq!(pick_port(&taken, seed), Some(11000));
        }
        let some: HashSet<u16> = [10001, 10002].into();
        for seed in 0..200 {
            let p = pick_port(&some, seed).unwrap();
            assert!(PORT_RANGE.contains(&p) && !some.contains(&p));
        }
        assert_eq!(pick_port(&PORT_RANGE.collect(), 1), None);
    }
}
