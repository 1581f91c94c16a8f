//! dashboard: the lab's web pages, JSON API and Prometheus metrics (docs/dashboard.md). It
//! reads the installation through hostinfo and checker, like `checker --json`; a signed-in
//! student books, cancels and changes their bookings through booking-ops, the library the
//! `booking` command books through.

pub mod pages;
pub mod routes;
pub mod serve;
pub mod session;
pub mod view;
pub mod web;

pub use routes::{router, App};
pub use view::{Cache, View};

/// The address the dashboard listens on unless told otherwise: loopback only (students
/// reach it through an ssh tunnel; docs/dashboard.md).
pub const DEFAULT_LISTEN: &str = "127.0.0.1:8642";
