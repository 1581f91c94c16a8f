//! The booking rules that need no sweep: user ids, minimums and maximums, a user's own
//! bookings, the forward port and the image.

use chrono::NaiveDateTime;
use hostinfo::config::{HostDeploy, UsersConfig};
use hostinfo::schedule::Row;

pub use hostinfo::names::{user_id_problem, PORT_RANGE};

/// What a prompt does with a typed id: trims it and lower-cases it.
pub fn normalize_typed_id(typed: &str) -> String {
    typed.trim().to_lowercase()
}

/// A user's own booking that overlaps `[start, end)` (touching is fine).
pub fn own_overlap<'a>(
    rows: impl IntoIterator<Item = &'a Row>,
    user_id: &str,
    start: NaiveDateTime,
    end: NaiveDateTime,
) -> Option<&'a Row> {
    // The times sit in the row; the id is behind a pointer: test the cheap part first.
    rows.into_iter()
        .find(|r| r.overlaps(start, end) && r.user_id == user_id)
}

/// Why `port` cannot be used by `user_id` over `[start, end)`, or `None`.
pub fn port_problem<'a>(
    port: u16,
    user_id: &str,
    users: &UsersConfig,
    rows: impl IntoIterator<Item = &'a Row>,
    start: NaiveDateTime,
    end: NaiveDateTime,
) -> Option<PortProblem> {
    if !PORT_RANGE.contains(&port) {
        return Some(PortProblem::OutOfRange);
    }
    if let Some((other, _)) = users
        .iter()
        .find(|(id, u)| *id != user_id && u.forward_port == port)
    {
        return Some(PortProblem::ConfiguredFor(other.to_string()));
    }
    rows.into_iter()
        .find(|r| r.forward_port == port && r.overlaps(start, end) && r.user_id != user_id)
        .map(|r| PortProblem::InUse {
            by: r.user_id.clone(),
            start: r.start,
            end: r.end,
        })
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub enum PortProblem {
    OutOfRange,
    ConfiguredFor(String),
    InUse {
        by: String,
        start: NaiveDateTime,
        end: NaiveDateTime,
    },
}

/// Whether `image` may be used (none means the default, which always may).
pub fn image_allowed(host: &HostDeploy, image: Option<&str>) -> bool {
    image.is_none_or(|i| host.images.iter().any(|allowed| allowed == i))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn typed_ids_are_trimmed_and_lower_cased() {
        assert_eq!(normalize_typed_id("  M11007S05 "), "m11007s05");
    }
}
