//! booking: the user-facing CLI (docs/user-guide.md) — interactive (inquire) and non-interactive
//! booking, the schedule listing, cancel, end-at and restart. What it changes it changes through
//! booking-ops, the operations the web dashboard books through too, over the checker's rules.

pub mod ask;
pub mod interactive;
pub mod legacy;
pub mod list;

// The operations themselves are booking-ops', shared with the web dashboard; re-exported so
// `booking::ops`, `booking::Error` and the rest read as they did.
pub use booking_ops::{credentials, describe, events, ops, waitlist, Error};

/// Said when there is no terminal to ask on and `--yes` was not given.
pub const NEEDS_TTY: &str = "booking needs an interactive terminal (or use --yes with flags)";
