//! Now (`/now`): per GPU who holds it, until when, its utilisation and memory from the
//! newest usage sample, and use outside bookings flagged; per running booking its port,
//! its container's state and whether it is idle.

use checker::idle::{idle_run, IdlePolicy};
use checker::limits::user_policies;
use checker::metrics::{self, LATEST_MAX_AGE};
use chrono::{Duration, NaiveDateTime};
use hostinfo::groups::{self, IdleReclaim};
use hostinfo::schedule::Row;
use hostinfo::usage::Subject;
use maud::{html, Markup};

use super::{clock_or_day, colour, gpu_list, layout, short};
use crate::view::View;

/// The running booking's idle state in words.
fn idle_state(view: &View, row: &Row) -> String {
    let policies = user_policies(&view.config.capability, &row.user_id);
    let (policy, reclaim) = match IdlePolicy::of(&policies) {
        Some(p) => (p, true),
        // Reclaim off: idleness is still shown, by the lab's default thresholds.
        None => (
            IdlePolicy {
                mode: IdleReclaim::Off,
                timeout: Duration::minutes(i64::from(groups::IDLE_TIMEOUT_MINUTES)),
                grace: Duration::minutes(i64::from(groups::IDLE_GRACE_MINUTES)),
                gpu_util_percent: policies
                    .idle_gpu_util_percent
                    .unwrap_or(groups::IDLE_GPU_UTIL_PERCENT),
                cpu_percent: policies
                    .idle_cpu_percent
                    .unwrap_or(groups::IDLE_CPU_PERCENT),
            },
            false,
        ),
    };
    if row.gpus.is_empty() {
        return "no GPUs booked".into();
    }
    match idle_run(&view.recent, row, &policy, view.now) {
        Some((since, _, _)) => {
            let minutes = (view.now - since).num_minutes();
            if reclaim {
                format!(
                    "idle since {} ({minutes} of {} min before reclaim)",
                    clock_or_day(since, view.now.date()),
                    policy.timeout.num_minutes()
                )
            } else {
                format!(
                    "idle since {} ({minutes} min; reclaim off)",
                    clock_or_day(since, view.now.date())
                )
            }
        }
        None => "active (or not sampled yet)".into(),
    }
}

/// The container of a running booking as the files know it: the newest sample of it.
fn container_state(view: &View, row: &Row) -> String {
    let newest = view
        .recent
        .iter()
        .filter(|s| matches!(&s.subject, Subject::User(u) if *u == row.user_id))
        .filter(|s| s.time >= row.start && view.now - s.time <= LATEST_MAX_AGE)
        .max_by_key(|s| s.time);
    match newest {
        Some(s) => format!(
            "running: {} CPU, {} at {}",
            s.cpu_percent.map_or("?".into(), |c| format!("{c:.0}%")),
            s.memory_mib
                .map_or("? memory".into(), |m| format!("{m} MiB memory")),
            s.time.format("%H:%M")
        ),
        None => "running (no recent sample)".into(),
    }
}

fn until(view: &View, t: NaiveDateTime) -> String {
    clock_or_day(t, view.now.date())
}

pub fn page(view: &View) -> Markup {
    let now = view.now;
    let holders = metrics::holders(&view.report);
    let input = metrics::Input {
        report: &view.report,
        latest: &view.latest,
        usage: &view.usage,
        last_tick: view.last_tick,
        last_sample_unix: view.last_sample_unix,
    };
    let unbooked = metrics::unbooked_use(&input);
    let holding = |g: u32| -> Option<&Row> {
        view.rows
            .iter()
            .find(|r| r.start <= now && now < r.end && r.gpus.contains(g))
    };
    let running: Vec<&Row> = {
        let mut v: Vec<&Row> = view
            .rows
            .iter()
            .filter(|r| r.start <= now && now < r.end)
            .collect();
        v.sort_by_key(|r| (r.start, r.user_id.clone()));
        v
    };
    let is_using = |r: &Row| {
        view.report.rows.iter().any(|s| {
            s.table == "using"
                && s.user_id == r.user_id
                && s.start == hostinfo::schedule::format_time(r.start)
        })
    };
    let failure = |r: &Row| {
        view.start_failures
            .iter()
            .find(|f| f.user_id == r.user_id && f.start == r.start)
    };
    let newest_sample = view.latest.iter().map(|p| p.time).max();
    // On a cluster the host's GPU table gives way to one line per node: its GPU ids are
    // Slurm's to bind, and the samples are the controller's.
    let nodes = &view.report.nodes;
    let cluster = !nodes.is_empty();
    let held_now = |usage: &[checker::report::UsePoint]| {
        let at = hostinfo::schedule::format_time(now);
        usage
            .iter()
            .take_while(|u| u.at <= at)
            .last()
            .map_or((0.0, 0, 0), |u| (u.cpus, u.memory, u.gpus))
    };

    let body = html! {
        @if cluster {
            h2 { "Nodes" }
            table.data id="nodes" {
                thead { tr { th { "Node" } th.num { "CPUs held" } th.num { "Memory held" } th.num { "GPUs held" } } }
                tbody {
                    @for n in nodes {
                        @let (cpus, memory, gpus) = held_now(&n.usage);
                        tr data-node=(n.name) {
                            td { (n.name) }
                            td.num { (cpus) " of " (n.cpus) }
                            td.num { (memory) " of " (n.memory) " GB" }
                            td.num { (gpus) " of " (n.gpus) }
                        }
                    }
                }
            }
        } @else {
        h2 { "GPUs" }
        p.note {
            @match newest_sample {
                Some(t) => { "Utilisation and memory from the usage sample of " (short(t)) "." }
                None => { "No usage sample in the last " (LATEST_MAX_AGE.num_minutes()) " minutes: utilisation is unknown." }
            }
        }
        table.data id="gpus" {
            thead { tr { th { "GPU" } th { "Held by" } th { "Until" } th.num { "Utilisation" } th.num { "Memory" } th { "Outside bookings" } } }
            tbody {
                @for g in 0..view.report.host.gpus {
                    @let point = view.latest.iter().find(|p| p.gpu == g);
                    @let row = holding(g);
                    tr data-gpu=(g) {
                        td {
                            "GPU " (g)
                            @if let Some(name) = view.report.gpus.devices.iter().find(|d| d.index == g).and_then(|d| d.name.as_ref()) { " · " (name) }
                        }
                        td {
                            @match holders.get(&g) {
                                Some(u) => { span class=(format!("swatch {}", colour(view, u))) {} " " (u) }
                                None => { "free" }
                            }
                        }
                        td { @if let Some(r) = row { (until(view, r.end)) } }
                        td.num { (point.and_then(|p| p.util_percent).map_or("–".into(), |u| format!("{u}%"))) }
                        td.num { (point.and_then(|p| p.memory_mib).map_or("–".into(), |m| format!("{m} MiB"))) }
                        td {
                            @if unbooked.get(&g).copied().unwrap_or(false) {
                                span.flag data-unbooked="true" { "in use without a booking" }
                            } @else { span.ok { "no" } }
                        }
                    }
                }
            }
        }
        }
        h2 { "Running bookings" }
        @if running.is_empty() {
            p { "No booking holds this moment." }
        } @else {
            table.data id="running" {
                thead { tr { th { "User" } @if cluster { th { "Node" } } th { "GPUs" } th { "Since" } th { "Until" } th.num { "Port" } th { "Container" } th { "Idle" } } }
                tbody {
                    @for r in &running {
                        tr data-user=(r.user_id) {
                            td { (r.user_id) }
                            @if cluster {
                                td data-node=(r.node.as_deref().unwrap_or("")) { (r.node.as_deref().unwrap_or("–")) }
                                td { (super::cluster_gpus(r, crate::web::bound_in(&view.report, r).as_deref())) }
                            } @else {
                                td { (gpu_list(r.gpus.ids())) }
                            }
                            td { (until(view, r.start)) }
                            td { (until(view, r.end)) }
                            td.num { (r.forward_port) }
                            td {
                                @if is_using(r) { (container_state(view, r)) }
                                @else if let Some(f) = failure(r) {
                                    "not started: " (f.attempts) " failed attempts since " (until(view, f.since)) " (the admins are told)"
                                } @else { "starting at the next tick" }
                            }
                            td { @if is_using(r) { (idle_state(view, r)) } }
                        }
                    }
                }
            }
        }
    };
    layout(view, "/now", "Now", body)
}
