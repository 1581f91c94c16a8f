//! The timeline (`/`): one row per GPU, one column per 30-minute slot from two days back to
//! fourteen ahead; who holds each slot in their colour (hover, tap or Tab to a booking to
//! see it: no script), the CPU and memory booked as bands, and the current slot marked.

use checker::timeline::Timeline;
use chrono::{Duration, NaiveDateTime};
use hostinfo::clock::SLOT_MINUTES;
use hostinfo::schedule::Row;
use maud::{html, Markup};

use super::{colour, gpu_list, short};
use crate::view::View;

/// Days shown before the current slot.
pub const DAYS_BACK: i64 = 2;
/// Days shown after it.
pub const DAYS_AHEAD: i64 = 14;

/// The first slot shown (midnight [`DAYS_BACK`] days ago) and how many (to the end of the
/// day [`DAYS_AHEAD`] days ahead): whole days, so each day's label spans its own columns.
pub fn window(now: NaiveDateTime) -> (NaiveDateTime, usize) {
    let first = (now.date() - Duration::days(DAYS_BACK))
        .and_hms_opt(0, 0, 0)
        .unwrap_or(now);
    let slots = ((DAYS_BACK + 1 + DAYS_AHEAD) * 24 * 60 / SLOT_MINUTES) as usize;
    (first, slots)
}

fn slot_of(first: NaiveDateTime, t: NaiveDateTime) -> i64 {
    (t - first).num_minutes().div_euclid(SLOT_MINUTES)
}

/// A run of slots in one GPU's row: free, or one booking (its index in `View::rows`).
#[derive(Debug, Clone, Copy, PartialEq)]
enum Cell {
    Free { past: bool },
    Booked(usize),
}

/// The cells of GPU `gpu`: runs of (cell, first slot, slots).
fn gpu_cells(
    view: &View,
    shown: &[usize],
    gpu: u32,
    first: NaiveDateTime,
    slots: usize,
    now_slot: i64,
) -> Vec<(Cell, usize, usize)> {
    let mut owner: Vec<Option<usize>> = vec![None; slots];
    for &i in shown {
        let r = &view.rows[i];
        if !r.gpus.contains(gpu) {
            continue;
        }
        let a = slot_of(first, r.start).max(0) as usize;
        let b = (slot_of(first, r.end + Duration::minutes(SLOT_MINUTES - 1))).clamp(0, slots as i64)
            as usize;
        for o in owner.iter_mut().take(b).skip(a) {
            *o = Some(i);
        }
    }
    let mut runs: Vec<(Cell, usize, usize)> = Vec::new();
    for (s, o) in owner.into_iter().enumerate() {
        let cell = match o {
            Some(i) => Cell::Booked(i),
            None => Cell::Free {
                past: (s as i64) < now_slot,
            },
        };
        match runs.last_mut() {
            Some((c, _, n)) if *c == cell => *n += 1,
            _ => runs.push((cell, s, 1)),
        }
    }
    runs
}

/// Runs of equal load for a band: (level 0–4, text, slots).
fn band(values: &[f64], max: f64, unit: &str) -> Vec<(u8, String, usize)> {
    let mut runs: Vec<(u8, String, usize)> = Vec::new();
    for v in values {
        let level = if *v <= 0.0 || max <= 0.0 {
            0
        } else {
            ((v / max) * 4.0).ceil().clamp(1.0, 4.0) as u8
        };
        let text = format!("{} of {} {unit} booked", trim(*v), trim(max));
        match runs.last_mut() {
            Some((l, t, n)) if *l == level && *t == text => *n += 1,
            _ => runs.push((level, text, 1)),
        }
    }
    runs
}

fn trim(v: f64) -> String {
    if v.fract() == 0.0 {
        format!("{}", v as i64)
    } else {
        format!("{v:.1}")
    }
}

/// What a booking cell says on hover, tap or focus: who, when, which GPUs.
pub fn hover(r: &Row) -> String {
    let end = if r.end.date() == r.start.date() {
        r.end.format("%H:%M").to_string()
    } else {
        short(r.end)
    };
    format!(
        "{}: {}–{end} · GPU {}",
        r.user_id,
        short(r.start),
        gpu_list(r.gpus.ids())
    )
}

pub fn page(view: &View) -> Markup {
    page_for(view, None, None)
}

/// The link of a free slot for a signed-in user picking a range: the first pick is its
/// start; after one, a later slot ends it and opens the booking form.
fn pick_link(slot: NaiveDateTime, pick: Option<NaiveDateTime>) -> (String, String) {
    let end = slot + Duration::minutes(SLOT_MINUTES);
    let fmt = |t: NaiveDateTime| t.format("%Y-%m-%d %H:%M").to_string();
    match pick {
        Some(p) if slot >= p => (
            format!(
                "/book?start={}&end={}&gpus=1",
                fmt(p).replace(' ', "+"),
                fmt(end).replace(' ', "+")
            ),
            format!("book {} to {}", short(p), short(end)),
        ),
        _ => (
            format!("/?pick={}#now", fmt(slot).replace(' ', "+")),
            format!("start at {}", short(slot)),
        ),
    }
}

/// [`page`] for a signed-in user (`me`, and whether booking on the web is on): their own
/// bookings outlined, and with booking on every free slot to come a link that picks a
/// range (`pick`: the start picked so far).
pub fn page_for(
    view: &View,
    me: Option<(&crate::session::Session, bool)>,
    pick: Option<NaiveDateTime>,
) -> Markup {
    let now = view.now;
    let mine = |user: &str| me.is_some_and(|(s, _)| s.user == user);
    let picking = me.is_some_and(|(_, on)| on);
    let (first, slots) = window(now);
    let last = first + Duration::minutes(SLOT_MINUTES * slots as i64);
    let now_slot = slot_of(first, now);
    let mut shown: Vec<usize> = (0..view.rows.len())
        .filter(|&i| view.rows[i].overlaps(first, last))
        .collect();
    shown.sort_by_key(|&i| (view.rows[i].start, view.rows[i].user_id.clone()));
    let gpus = view.report.host.gpus;
    let names: Vec<Option<String>> = (0..gpus)
        .map(|g| {
            view.report
                .gpus
                .devices
                .iter()
                .find(|d| d.index == g)
                .and_then(|d| d.name.clone())
        })
        .collect();

    // CPU and memory booked at each slot's start.
    let rows_shown: Vec<&Row> = shown.iter().map(|&i| &view.rows[i]).collect();
    let tl = Timeline::build(rows_shown.iter().copied());
    let at = |t: NaiveDateTime| -> (f64, f64) {
        match tl.points.partition_point(|p| *p <= t) {
            0 => (0.0, 0.0),
            k => (tl.cpus[k - 1], tl.memory[k - 1] as f64),
        }
    };
    let loads: Vec<(f64, f64)> = (0..slots)
        .map(|s| at(first + Duration::minutes(SLOT_MINUTES * s as i64)))
        .collect();
    let cpu_band = band(
        &loads.iter().map(|l| l.0).collect::<Vec<_>>(),
        view.report.host.cpus,
        "CPUs",
    );
    let mem_band = band(
        &loads.iter().map(|l| l.1).collect::<Vec<_>>(),
        view.report.host.memory,
        "GB memory",
    );
    let mut users: Vec<&str> = rows_shown.iter().map(|r| r.user_id.as_str()).collect();
    users.sort_unstable();
    users.dedup();
    let days = (DAYS_BACK + 1 + DAYS_AHEAD) as usize;
    let per_day = slots / days;
    let marker = |label: &str| {
        html! {
            tr.nowrow aria-hidden="true" {
                th.row { (label) }
                @if now_slot > 0 { td colspan=(now_slot) {} }
                td.nowmark id=(label) title=(format!("now: {}", short(now))) {}
                @if (now_slot as usize) + 1 < slots { td colspan=(slots - now_slot as usize - 1) {} }
            }
        }
    };

    let body = html! {
        p.note {
            "GPUs by 30-minute slot, " (short(first)) " to " (short(last))
            ". Hover over a booking, or tap it (or Tab to it), to see it. The red mark is now ("
            a href="#now" { "scroll to it" } ")."
        }
        @if users.is_empty() {
            p { "Nothing is booked in these days." }
        } @else {
            ul.legend aria-label="Users" {
                @for u in &users {
                    li { span class=(format!("swatch {}", colour(view, u))) {} (u) }
                }
            }
        }
        div.scroll {
            table.timeline id="timeline" aria-label="Bookings by GPU and slot" {
                colgroup { col.label; @for _ in 0..slots { col.slot; } }
                thead {
                    tr {
                        th.row scope="col" { "Day" }
                        @for d in 0..days {
                            th colspan=(per_day) scope="colgroup" { (( first + Duration::days(d as i64)).format("%a %d %b")) }
                        }
                    }
                    tr {
                        th.row scope="col" { "Hour" }
                        @for h in 0..(days * 8) {
                            th colspan=(per_day / 8) { (((first + Duration::hours(3 * h as i64)).format("%H"))) }
                        }
                    }
                }
                tbody {
                    @if now_slot >= 0 && (now_slot as usize) < slots { (marker("now")) }
                    @for g in 0..gpus {
                        tr data-gpu=(g) {
                            th.row scope="row" title=[names[g as usize].as_ref()] { "GPU " (g) }
                            @for (cell, at, n) in gpu_cells(view, &shown, g, first, slots, now_slot) {
                                @match cell {
                                    Cell::Free { past: false } if picking => {
                                        @for k in 0..n {
                                            @let slot = first + Duration::minutes(SLOT_MINUTES * ((at + k) as i64));
                                            @let (href, what) = pick_link(slot, pick);
                                            td class=(if pick == Some(slot) { "free pick picked" } else { "free pick" }) {
                                                a href=(href) title=(what) aria-label=(what) {}
                                            }
                                        }
                                    }
                                    Cell::Free { past } => {
                                        td colspan=(n) class=(if past { "past" } else { "free" }) {}
                                    }
                                    Cell::Booked(i) => {
                                        @let r = &view.rows[i];
                                        td colspan=(n) class=(format!("b {}{}", colour(view, &r.user_id), if mine(&r.user_id) { " mine" } else { "" })) data-user=(r.user_id) {
                                            // Focusable: a tap or Tab shows the booking (style.css).
                                            span tabindex="0" title=(hover(r)) {
                                                @if n >= 4 { (r.user_id) }
                                            }
                                        }
                                    }
                                }
                            }
                        }
                    }
                    tr data-band="cpus" {
                        th.row scope="row" { "CPUs" }
                        @for (level, text, n) in &cpu_band {
                            td colspan=(n) class=(format!("l{level}")) title=(text) {}
                        }
                    }
                    tr data-band="memory" {
                        th.row scope="row" { "Memory" }
                        @for (level, text, n) in &mem_band {
                            td colspan=(n) class=(format!("l{level}")) title=(text) {}
                        }
                    }
                }
            }
        }
    };
    crate::pages::layout_as(view, "/", "Timeline", body, me)
}
