//! The pages: server-rendered HTML (maud escapes every value), readable without JavaScript,
//! refreshing themselves every 30 seconds, one stylesheet, no outside resource.

pub mod account;
pub mod lists;
pub mod now;
pub mod timeline;
pub mod usage;

use chrono::NaiveDateTime;
use maud::{html, Markup, DOCTYPE};

use crate::session::Session;
use crate::view::View;

/// The stylesheet (`/style.css`): twelve user colours, four load levels.
pub const STYLE: &str = include_str!("style.css");

/// How many user colours there are; users beyond share them in order.
pub const COLOURS: usize = 12;

/// How often a page reloads itself, in seconds.
pub const REFRESH_SECONDS: u32 = 30;

const NAV: [(&str, &str); 5] = [
    ("/", "Timeline"),
    ("/now", "Now"),
    ("/waitlist", "Waitlist"),
    ("/problems", "Problems"),
    ("/usage", "Usage"),
];

/// The navigation of every page; with booking on, who is signed in (and a sign-out
/// button carrying the session's CSRF token) or a sign-in link.
pub fn nav(current: &str, me: Option<&Session>, booking: bool) -> Markup {
    html! {
        nav aria-label="Pages" {
            span.brand { "AIVC booking" }
            @for (href, name) in NAV {
                @if href == current {
                    a href=(href) aria-current="page" { (name) }
                } @else {
                    a href=(href) { (name) }
                }
            }
            @if let Some(me) = me {
                a href="/book" { "Book" }
                a href="/my" { "My bookings" }
                span.me { "Signed in as " strong { (me.user) } }
                form.inline method="post" action="/signout" {
                    input type="hidden" name="csrf" value=(me.csrf);
                    button type="submit" { "Sign out" }
                }
            } @else if booking {
                a href="/signin" { "Sign in to book" }
            }
        }
    }
}

/// The frame of every page: title, navigation, the view's time, any read error.
pub fn layout(view: &View, current: &str, title: &str, body: Markup) -> Markup {
    layout_as(view, current, title, body, None)
}

/// [`layout`] for a signed-in user (`me`, and whether booking on the web is on), or for
/// anyone with booking on (`None`, `true`: a sign-in link).
pub fn layout_as(
    view: &View,
    current: &str,
    title: &str,
    body: Markup,
    me: Option<(&Session, bool)>,
) -> Markup {
    html! {
        (DOCTYPE)
        html lang="en" {
            head {
                meta charset="utf-8";
                meta name="viewport" content="width=device-width, initial-scale=1";
                meta http-equiv="refresh" content=(REFRESH_SECONDS);
                title { (title) " · AIVC booking" }
                link rel="stylesheet" href="/style.css";
            }
            body {
                header {
                    (nav(current, me.map(|m| m.0), me.is_some_and(|m| m.1) || view.booking_on))
                    p.clock {
                        "As of " time datetime=(iso(view.now)) { (view.report.now) }
                        " (" (view.report.timezone) ")"
                        @if let Some(t) = &view.last_tick {
                            " · last tick " (short(t.started)) " took " (format!("{:.1}", t.duration_seconds)) " s"
                        }
                    }
                }
                @for e in &view.errors {
                    p.error role="alert" { "Could not read: " (e) " — showing the last good reading." }
                }
                main id="main" {
                    h1 { (title) }
                    (body)
                }
                footer { "Refreshes every " (REFRESH_SECONDS) " s · " a href="/api/v1/state" { "state as JSON" } " · " a href="/metrics" { "metrics" } }
            }
        }
    }
}

/// A page for a request that cannot be answered (the installation unreadable, no route).
pub fn error_page(title: &str, message: &str) -> String {
    html! {
        (DOCTYPE)
        html lang="en" {
            head {
                meta charset="utf-8";
                meta http-equiv="refresh" content=(REFRESH_SECONDS);
                title { (title) " · AIVC booking" }
                link rel="stylesheet" href="/style.css";
            }
            body {
                main { h1 { (title) } p.error role="alert" { (message) } p { a href="/" { "Timeline" } } }
            }
        }
    }
    .into_string()
}

/// The colour class of `user`: by their place among the report's users.
pub fn colour(view: &View, user: &str) -> String {
    let i = view
        .report
        .users
        .iter()
        .position(|u| u.id == user)
        .unwrap_or_else(|| user.bytes().map(usize::from).sum());
    format!("u{}", i % COLOURS)
}

pub fn iso(t: NaiveDateTime) -> String {
    t.format("%Y-%m-%dT%H:%M:%S").to_string()
}

/// `Thu 26 Nov 14:30`.
pub fn short(t: NaiveDateTime) -> String {
    t.format("%a %d %b %H:%M").to_string()
}

/// `14:30`, with the day when it is not `today`'s.
pub fn clock_or_day(t: NaiveDateTime, today: chrono::NaiveDate) -> String {
    if t.date() == today {
        t.format("%H:%M").to_string()
    } else {
        short(t)
    }
}

pub fn hours(h: f64) -> String {
    if h >= 100.0 {
        format!("{h:.0}")
    } else {
        format!("{h:.1}")
    }
}

/// A booking's GPUs on a cluster: the ids Slurm bound once it runs, else how many (its own
/// ids are only places in its node's plan).
pub fn cluster_gpus(row: &hostinfo::schedule::Row, bound: Option<&[u32]>) -> String {
    match (bound, row.gpus.len()) {
        (Some(ids), _) => format!("{} (bound by Slurm)", gpu_list(ids)),
        (None, 0) => "none".into(),
        (None, 1) => "1 GPU".into(),
        (None, n) => format!("{n} GPUs"),
    }
}

pub fn gpu_list(gpus: &[u32]) -> String {
    gpus.iter()
        .map(u32::to_string)
        .collect::<Vec<_>>()
        .join(", ")
}
