//! What user-given values may look like where they become names on the host: a user id is a
//! container name and a folder name; a forward port is a host port.

/// The range of host ports a container's ssh may be forwarded from.
pub const PORT_RANGE: std::ops::RangeInclusive<u16> = 10001..=11000;

/// Why a user id is unusable (`[A-Za-z0-9][A-Za-z0-9_.-]{1,31}`), or `None`. The id names the
/// user's container, so it must also be a Docker container name, which takes at least two
/// characters: a one-character id would book and then never start.
pub fn user_id_problem(id: &str) -> Option<&'static str> {
    let bytes = id.as_bytes();
    if bytes.is_empty() {
        return Some("is empty");
    }
    if bytes.len() < 2 {
        return Some("is shorter than 2 characters (a Docker container name needs 2)");
    }
    if bytes.len() > 32 {
        return Some("is longer than 32 characters");
    }
    if !bytes[0].is_ascii_alphanumeric() {
        return Some("must start with a letter or a digit");
    }
    if !bytes
        .iter()
        .all(|b| b.is_ascii_alphanumeric() || matches!(b, b'_' | b'.' | b'-'))
    {
        return Some("may hold only letters, digits, `_`, `.` and `-`");
    }
    None
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn user_ids_follow_the_spec_pattern() {
        for ok in ["u001", "m11007s05-1", "A.b_c", "07", &"a".repeat(32)] {
            assert_eq!(user_id_problem(ok), None, "{ok}");
        }
        for bad in [
            "",
            "../x",
            "-rm",
            ".hidden",
            "a b",
            "a/b",
            "é",
            &"a".repeat(33),
            "x;ls",
            "a:b",
        ] {
            assert!(user_id_problem(bad).is_some(), "{bad}");
        }
    }

    /// Regression: a one-character id passed, booked, and then its container never started
    /// (Docker refuses container names shorter than two characters).
    #[test]
    fn a_one_character_id_is_refused_as_no_container_name() {
        for one in ["7", "a", "Z"] {
            assert_eq!(
                user_id_problem(one),
                Some("is shorter than 2 characters (a Docker container name needs 2)"),
                "{one}"
            );
        }
        assert_eq!(user_id_problem("a7"), None);
    }
}
