//! The waitlist (`/waitlist`) and the problems (`/problems`), as the checker reports them.

use maud::{html, Markup};

use super::layout;
use crate::view::View;

pub fn waitlist(view: &View) -> Markup {
    let entries = &view.report.waitlist;
    let body = html! {
        p.note { "Waiting bookings, served in order whenever room frees up (a cancellation, an early end, each tick)." }
        @if entries.is_empty() {
            p { "Nobody is waiting." }
        } @else {
            table.data id="waitlist" {
                thead { tr { th.num { "#" } th { "User" } th.num { "GPUs" } th.num { "CPUs" } th.num { "Memory" } th.num { "Hours" } th { "Earliest start" } th { "Latest start" } th { "Joined" } th { "State" } } }
                tbody {
                    @for e in entries {
                        tr data-user=(e.user_id) {
                            td.num { (e.id) }
                            td { (e.user_id) }
                            td.num { (e.gpus) }
                            td.num { (e.cpus) }
                            td.num { (e.memory) " GB" }
                            td.num { (format!("{:.1}", f64::from(e.minutes) / 60.0)) }
                            td { (e.earliest_start) }
                            td { (e.latest_start) }
                            td { (e.joined) }
                            td { (e.state) }
                        }
                    }
                }
            }
        }
    };
    layout(view, "/waitlist", "Waitlist", body)
}

pub fn problems(view: &View) -> Markup {
    let problems = &view.report.problems;
    let body = html! {
        p.note { "What the checker finds wrong with the installation's state (" code { "checker" } " prints the same)." }
        @if problems.is_empty() {
            p.ok id="no-problems" { "No problems." }
        } @else {
            table.data id="problems" {
                thead { tr { th { "Severity" } th { "Code" } th { "Problem" } th { "Where" } } }
                tbody {
                    @for p in problems {
                        tr data-code=(p.code) {
                            td { (format!("{:?}", p.severity).to_lowercase()) }
                            td { code { (p.code) } }
                            td { (p.message) }
                            td { (p.file) @if let Some(l) = p.line { " line " (l) } }
                        }
                    }
                }
            }
        }
    };
    layout(view, "/problems", "Problems", body)
}
