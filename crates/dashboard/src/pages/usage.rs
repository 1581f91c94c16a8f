//! Usage (`/usage?days=7|30|90`): GPU-hours per user and per group, booked against used
//! (from the usage samples), as a bar chart of the chosen window and a table of all three.

use checker::metrics::WINDOWS;
use checker::usage::UsageReport;
use maud::{html, Markup, PreEscaped};

use super::{hours, layout};
use crate::view::View;

/// One bar pair per user: booked (light) and used (dark) on one scale. An SVG drawn here:
/// no script, and it prints.
fn chart(report: &UsageReport) -> Markup {
    let users = &report.users;
    let max = users
        .iter()
        .map(|u| u.booked_gpu_hours.max(u.used_gpu_hours))
        .fold(0.0f64, f64::max)
        .max(1.0);
    let (label_w, bar_w, row_h) = (120.0, 520.0, 34.0);
    let height = row_h * users.len() as f64 + 30.0;
    let width = label_w + bar_w + 90.0;
    let w = |h: f64| (h / max * bar_w).max(0.0);
    html! {
        svg.chart id="usage-chart" role="img" width=(width) height=(height) viewBox=(format!("0 0 {width} {height}"))
            aria-label=(format!("GPU-hours per user over {} days, booked and used", report.days)) {
            @for (i, u) in users.iter().enumerate() {
                @let y = i as f64 * row_h + 4.0;
                g data-user=(u.id) {
                    text x="0" y=(y + 20.0) { (u.id) }
                    rect.booked x=(label_w) y=(y) width=(w(u.booked_gpu_hours)) height="13" {
                        title { (u.id) ": " (hours(u.booked_gpu_hours)) " GPU-hours booked" }
                    }
                    rect.used x=(label_w) y=(y + 15.0) width=(w(u.used_gpu_hours)) height="13" {
                        title { (u.id) ": " (hours(u.used_gpu_hours)) " GPU-hours used" }
                    }
                    text x=(label_w + w(u.booked_gpu_hours.max(u.used_gpu_hours)) + 6.0) y=(y + 20.0) {
                        (hours(u.used_gpu_hours)) " / " (hours(u.booked_gpu_hours))
                    }
                }
            }
            @let y = height - 8.0;
            rect.booked x=(label_w) y=(y - 10.0) width="12" height="10" {}
            text x=(label_w + 16.0) y=(y) { "booked" }
            rect.used x=(label_w + 90.0) y=(y - 10.0) width="12" height="10" {}
            text x=(label_w + 106.0) y=(y) { "used (busy in the samples)" }
        }
    }
}

fn percent(used: f64, booked: f64) -> String {
    if booked > 0.0 {
        format!("{:.0}%", used / booked * 100.0)
    } else {
        "–".into()
    }
}

pub fn page(view: &View, days: u32) -> Markup {
    let Some(chosen) = view.usage_of(days) else {
        return layout(view, "/usage", "Usage", html! { p { "No usage report." } });
    };
    // Everyone in any window, in the order of the longest.
    let mut ids: Vec<(String, Option<String>)> = Vec::new();
    for u in view.usage.iter().rev().flat_map(|r| r.users.iter()) {
        if !ids.iter().any(|(id, _)| *id == u.id) {
            ids.push((u.id.clone(), u.group.clone()));
        }
    }
    let cell = |r: &UsageReport, id: &str| {
        r.users
            .iter()
            .find(|u| u.id == id)
            .map_or((0.0, 0.0), |u| (u.booked_gpu_hours, u.used_gpu_hours))
    };
    let group_cell = |r: &UsageReport, name: &str| {
        r.groups
            .iter()
            .find(|g| g.name == name)
            .map_or((0.0, 0.0), |g| (g.booked_gpu_hours, g.used_gpu_hours))
    };
    let groups: Vec<String> = view
        .usage
        .first()
        .map(|r| r.groups.iter().map(|g| g.name.clone()).collect())
        .unwrap_or_default();
    let body = html! {
        p.window {
            "Window: "
            @for d in WINDOWS {
                @if d == days { a href=(format!("/usage?days={d}")) aria-current="page" { (d) " days" } }
                @else { a href=(format!("/usage?days={d}")) { (d) " days" } }
            }
        }
        p.note {
            "GPU-hours from " (chosen.from) " to " (chosen.to) ". Booked: the hours of each booking × its GPUs. "
            "Used: the time a booked GPU was at least " (chosen.busy_percent) "% busy in the usage samples. "
            "Samples cover " (hours(chosen.sampled_hours)) " hours of this window."
        }
        @if chosen.users.is_empty() {
            p { "Nothing was booked or used in these " (days) " days." }
        } @else {
            (chart(chosen))
        }
        p { "Busy GPU time without a booking: " strong id="unbooked" { (hours(chosen.unbooked_gpu_hours)) " GPU-hours" } "." }
        h2 { "Per user" }
        table.data id="usage-users" {
            thead {
                tr { th rowspan="2" { "User" } th rowspan="2" { "Group" }
                    @for d in WINDOWS { th colspan="3" { (d) " days" } } }
                tr { @for _ in WINDOWS { th.num { "Booked" } th.num { "Used" } th.num { "Used %" } } }
            }
            tbody {
                @for (id, group) in &ids {
                    tr data-user=(id) {
                        td { (id) }
                        td { (group.as_deref().unwrap_or("–")) }
                        @for r in &view.usage {
                            @let (b, u) = cell(r, id);
                            td.num data-window=(r.days) data-kind="booked" { (hours(b)) }
                            td.num data-window=(r.days) data-kind="used" { (hours(u)) }
                            td.num { (percent(u, b)) }
                        }
                    }
                }
            }
        }
        @if !groups.is_empty() {
            h2 { "Per group" }
            table.data id="usage-groups" {
                thead {
                    tr { th rowspan="2" { "Group" } @for d in WINDOWS { th colspan="3" { (d) " days" } } }
                    tr { @for _ in WINDOWS { th.num { "Booked" } th.num { "Used" } th.num { "Used %" } } }
                }
                tbody {
                    @for name in &groups {
                        tr data-group=(name) {
                            td { (name) }
                            @for r in &view.usage {
                                @let (b, u) = group_cell(r, name);
                                td.num data-window=(r.days) data-kind="booked" { (hours(b)) }
                                td.num data-window=(r.days) data-kind="used" { (hours(u)) }
                                td.num { (percent(u, b)) }
                            }
                        }
                    }
                }
            }
        }
        p.note { (PreEscaped("The same numbers: <code>checker usage --days N</code>, <a href=\"/api/v1/usage?days=30\">/api/v1/usage?days=30</a>.")) }
    };
    layout(view, "/usage", "Usage", body)
}
