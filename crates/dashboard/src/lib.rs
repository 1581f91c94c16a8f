//! dashboard: the lab's read-only web pages, JSON API and Prometheus metrics
//! (docs/dashboard.md). It reads the installation through hostinfo and checker, like
//! `checker --json`, and writes nothing.

pub mod pages;
pub mod routes;
pub mod view;

pub use routes::router;
pub use view::{Cache, View};

/// The address the dashboard listens on unless told otherwise: loopback only (students
/// reach it through an ssh tunnel; docs/dashboard.md).
pub const DEFAULT_LISTEN: &str = "127.0.0.1:8642";
