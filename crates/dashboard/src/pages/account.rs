//! The pages of a signed-in student: sign in, book, and their own bookings with the `ssh`
//! line and what they can change. Plain forms: every action works without JavaScript and
//! by keyboard; each form carries the session's CSRF token.

use chrono::NaiveDateTime;
use hostinfo::schedule::{format_time, Row};
use maud::{html, Markup, DOCTYPE};

use super::{gpu_list, short};
use crate::routes::App;
use crate::session::Session;
use crate::web::{ssh_line, BookQuery, Refused};

/// The frame of an account page: the same navigation as the others, who is signed in.
pub fn frame(app: &App, me: Option<&Session>, title: &str, body: Markup) -> Markup {
    html! {
        (DOCTYPE)
        html lang="en" {
            head {
                meta charset="utf-8";
                meta name="viewport" content="width=device-width, initial-scale=1";
                title { (title) " · AIVC booking" }
                link rel="stylesheet" href="/style.css";
            }
            body {
                header {
                    (super::nav("", me, app.web.enabled))
                }
                main id="main" {
                    h1 { (title) }
                    (body)
                }
            }
        }
    }
}

pub fn message(app: &App, me: Option<&Session>, title: &str, text: &str) -> Markup {
    frame(app, me, title, html! { p.error role="alert" { (text) } })
}

pub fn signin(app: &App, me: Option<&Session>, error: Option<&str>, user: &str) -> Markup {
    let body = html! {
        @if let Some(me) = me {
            p { "You are signed in as " strong { (me.user) } ". " a href="/my" { "Your bookings" } }
        }
        @if !app.web.enabled {
            p.note { "Booking on the web is turned off here; the pages stay readable without signing in." }
        }
        @if let Some(e) = error { p.error role="alert" id="signin-error" { (e) } }
        form method="post" action="/signin" id="signin" {
            p {
                label for="user" { "User id" } br;
                input id="user" name="user" type="text" autocomplete="username" required value=(user);
            }
            p {
                label for="password" { "Booking password" } br;
                input id="password" name="password" type="password" autocomplete="current-password" required;
            }
            p { button type="submit" { "Sign in" } }
        }
        p.note {
            "The same id and password as " code { "booking" } " over ssh; wrong passwords count there too. "
            "First time, or the admin reset your password? " a href="/signup" { "Sign up" } "."
        }
    };
    frame(app, me, "Sign in", body)
}

pub fn signup(app: &App, error: Option<&str>, user: &str) -> Markup {
    let body = html! {
        @if let Some(e) = error { p.error role="alert" id="signup-error" { (e) } }
        form method="post" action="/signup" id="signup" {
            p {
                label for="user" { "User id (as the admin allowed it)" } br;
                input id="user" name="user" type="text" autocomplete="username" required value=(user);
            }
            p {
                label for="password" { "New booking password" } br;
                input id="password" name="password" type="password" autocomplete="new-password" required;
            }
            p {
                label for="again" { "The same again" } br;
                input id="again" name="again" type="password" autocomplete="new-password" required;
            }
            p {
                label for="code" { "Sign-up code, if the admin gave you one" } br;
                input id="code" name="code" type="password" autocomplete="off";
            }
            p { button type="submit" { "Sign up" } }
        }
        p.note { "The password also logs you in to your containers over ssh. The lab decides whether a code is needed, as for " code { "booking" } "." }
    };
    frame(app, None, "Sign up", body)
}

/// The booking form; `refused` is the answer to the last try, with its suggestion.
pub fn book_form(app: &App, me: &Session, filled: &BookQuery, refused: Option<&Refused>) -> Markup {
    let value = |v: &Option<String>, d: &str| v.clone().unwrap_or_else(|| d.to_string());
    // On a cluster only: which node (any, or one by name).
    let nodes = crate::web::cluster_nodes(app);
    let chosen = value(&filled.node, "any");
    let hidden = |start: &str, end: &str, wait: bool, node: &str| {
        html! {
            @if nodes.is_some() { input type="hidden" name="node" value=(node); }
            input type="hidden" name="csrf" value=(me.csrf);
            input type="hidden" name="cpus" value=(value(&filled.cpus, "1"));
            input type="hidden" name="memory" value=(value(&filled.memory, "4"));
            input type="hidden" name="gpus" value=(value(&filled.gpus, "1"));
            input type="hidden" name="start" value=(start);
            input type="hidden" name="end" value=(end);
            @if wait { input type="hidden" name="wait" value="1"; }
        }
    };
    let body = html! {
        @if let Some(r) = refused {
            div.error role="alert" id="refusal" {
                p { (r.message) }
                @if let Some((start, end)) = &r.suggested {
                    @let node = r.suggested_node.clone().unwrap_or_else(|| chosen.clone());
                    form method="post" action="/book" {
                        (hidden(start, end, false, &node))
                        button type="submit" id="take-suggestion" {
                            "Book " (start) " to " (end)
                            @if let Some(n) = &r.suggested_node { " on " (n) }
                            " instead"
                        }
                    }
                }
                @if r.may_wait {
                    form method="post" action="/book" {
                        (hidden(&value(&filled.start, ""), &value(&filled.end, ""), true, "any"))
                        button type="submit" id="join-waitlist" { "Join the waitlist for this start" }
                    }
                }
            }
        }
        form method="post" action="/book" id="book" {
            input type="hidden" name="csrf" value=(me.csrf);
            p {
                label for="cpus" { "CPUs" } br;
                input id="cpus" name="cpus" inputmode="decimal" required value=(value(&filled.cpus, "1"));
            }
            p {
                label for="memory" { "Memory (GB)" } br;
                input id="memory" name="memory" inputmode="numeric" required value=(value(&filled.memory, "4"));
            }
            p {
                label for="gpus" { "GPUs" } br;
                input id="gpus" name="gpus" inputmode="numeric" value=(value(&filled.gpus, "1"));
            }
            p {
                label for="start" { "Start" } br;
                input id="start" name="start" required value=(value(&filled.start, "now"));
            }
            p {
                label for="end" { "End" } br;
                input id="end" name="end" required value=(value(&filled.end, "1-day"));
            }
            @if let Some(nodes) = &nodes {
                p {
                    label for="node" { "Node" } br;
                    select id="node" name="node" {
                        option value="any" selected[chosen.eq_ignore_ascii_case("any")] { "any (the first where it fits)" }
                        @for n in nodes {
                            option value=(n) selected[chosen == *n] { (n) }
                        }
                    }
                }
            }
            p.note { "Times as " code { "booking" } " takes them: " code { "now" } ", " code { "2026-12-01 14:00" } ", " code { "1-day" } "." }
            p { button type="submit" { "Book" } }
        }
        p { "Or pick a free range on the " a href="/" { "timeline" } ": its start, then its end." }
    };
    frame(app, Some(me), "Book", body)
}

fn state_of(row: &Row, now: NaiveDateTime) -> &'static str {
    if row.start <= now {
        "running"
    } else {
        "waiting"
    }
}

pub fn my(
    app: &App,
    me: &Session,
    rows: &[Row],
    entries: &[hostinfo::waitlist::Entry],
    now: NaiveDateTime,
    done: Option<&str>,
    error: Option<&str>,
) -> Markup {
    let said = match done {
        Some("booked") => Some("Booked."),
        Some("waiting") => Some("On the waitlist: you get a notice when it is booked."),
        Some("cancelled") => Some("Cancelled."),
        Some("ended") => Some("It ends at the next half hour."),
        Some("changed") => Some("The end is moved."),
        Some("left") => Some("Left the waitlist."),
        Some("signed-up") => Some("Signed up: your ssh port is in the table once you book."),
        _ => None,
    };
    let cluster = crate::web::cluster_nodes(app).is_some();
    let body = html! {
        @if let Some(s) = said { p.ok role="status" id="done" { (s) } }
        @if let Some(e) = error { p.error role="alert" id="error" { (e) } }
        @if rows.is_empty() {
            p { "You have no booking. " a href="/book" { "Book" } }
        } @else {
            table.data id="my-bookings" {
                thead { tr { th { "Start" } th { "End" } @if cluster { th { "Node" } } th { "GPUs" } th.num { "CPUs" } th.num { "Memory" } th { "State" } th { "Connect" } th { "Change" } } }
                tbody {
                    @for r in rows {
                        @let start = format_time(r.start);
                        tr data-start=(start) {
                            td { (short(r.start)) }
                            td { (short(r.end)) }
                            @if cluster {
                                td data-node=(r.node.as_deref().unwrap_or("")) { (r.node.as_deref().unwrap_or("–")) }
                                td { (super::cluster_gpus(r, crate::web::bound_gpus(app, r).as_deref())) }
                            } @else {
                                td { @if r.gpus.is_empty() { "none" } @else { (gpu_list(r.gpus.ids())) } }
                            }
                            td.num { (r.cpus) }
                            td.num { (r.memory) " GB" }
                            td { (state_of(r, now)) }
                            td { code.ssh { (ssh_line(app, r.forward_port)) } }
                            td {
                                form method="post" action="/my" class="inline" {
                                    input type="hidden" name="csrf" value=(me.csrf);
                                    input type="hidden" name="start" value=(start);
                                    label { "End at " input name="end" size="16" value=(r.end.format("%Y-%m-%d %H:%M").to_string()) aria-label="New end"; }
                                    button type="submit" name="action" value="move" { "Change the end" }
                                }
                                form method="post" action="/my" class="inline" {
                                    input type="hidden" name="csrf" value=(me.csrf);
                                    input type="hidden" name="start" value=(start);
                                    @if r.start <= now {
                                        button type="submit" name="action" value="end" { "End now" }
                                    } @else {
                                        button type="submit" name="action" value="cancel" { "Cancel" }
                                    }
                                }
                            }
                        }
                    }
                }
            }
        }
        @if !entries.is_empty() {
            h2 { "Waiting" }
            table.data id="my-waitlist" {
                thead { tr { th.num { "#" } th.num { "GPUs" } th.num { "CPUs" } th.num { "Memory" } th.num { "Hours" } th { "Start from" } th { "At the latest" } th {} } }
                tbody {
                    @for e in entries {
                        tr {
                            td.num { (e.id) }
                            td.num { (e.gpus) }
                            td.num { (e.cpus) }
                            td.num { (e.memory) " GB" }
                            td.num { (format!("{:.1}", f64::from(e.minutes) / 60.0)) }
                            td { (short(e.earliest_start)) }
                            td { (short(e.latest_start)) }
                            td {
                                form method="post" action="/my" {
                                    input type="hidden" name="csrf" value=(me.csrf);
                                    input type="hidden" name="start" value="";
                                    input type="hidden" name="entry" value=(e.id);
                                    button type="submit" name="action" value="leave" { "Leave" }
                                }
                            }
                        }
                    }
                }
            }
        }
        p { a href="/book" { "Book another" } " · " a href="/" { "Timeline" } }
    };
    frame(app, Some(me), "My bookings", body)
}
