//! One booking request against the schedule: every rule in order, the GPU ids
//! it gets, or a typed refusal; for a capacity refusal, the earliest window of the same
//! length and size that fits within the two-week horizon.

use chrono::NaiveDateTime;
use hostinfo::clock;
use hostinfo::schedule::{format_time, GpuSet, Row};
use hostinfo::Config;
use serde::Serialize;

use crate::limits::user_max;
use crate::placement;
use crate::rules::{self, PortProblem, PORT_RANGE};
use crate::timeline::{minutes, peak_within, SlidingMax, Timeline};

/// What a user asks for.
#[derive(Debug, Clone, PartialEq)]
pub struct Request {
    pub user_id: String,
    pub cpus: f64,
    /// GB.
    pub memory: u32,
    /// How many GPUs; which ones is the checker's choice.
    pub gpus: u32,
    pub start: NaiveDateTime,
    pub end: NaiveDateTime,
    pub forward_port: u16,
    pub image: Option<String>,
}

/// The state a request is checked against.
#[derive(Debug)]
pub struct Context<'a> {
    pub config: &'a Config,
    /// `booking` and `using` rows, less any row the request replaces.
    pub rows: Vec<&'a Row>,
    /// The current slot: suggestions start no later than two weeks after it.
    pub now_slot: NaiveDateTime,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum Resource {
    Cpus,
    Memory,
    Gpus,
}

impl std::fmt::Display for Resource {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(match self {
            Resource::Cpus => "cpus",
            Resource::Memory => "memory",
            Resource::Gpus => "gpus",
        })
    }
}

/// A window that would fit.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Window {
    pub start: NaiveDateTime,
    pub end: NaiveDateTime,
}

impl std::fmt::Display for Window {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "{} to {}", short(self.start), short(self.end))
    }
}

fn short(t: NaiveDateTime) -> String {
    t.format("%Y-%m-%d %H:%M").to_string()
}

fn suggestion_text(s: &Option<Window>) -> String {
    match s {
        Some(w) => format!("; the earliest window that fits is {w}"),
        None => "; no window of that length and size fits in the next two weeks".into(),
    }
}

/// Why a request was refused: the rule that failed.
#[derive(Debug, Clone, PartialEq, thiserror::Error)]
#[non_exhaustive]
pub enum Refusal {
    #[error("user id `{id}` {why}")]
    BadUserId { id: String, why: &'static str },
    #[error("user `{id}` is not in allow_userIDs of the capability config")]
    NotAllowed { id: String },
    #[error("{field} must be at least {min}, asked {asked}")]
    BelowMinimum {
        field: Resource,
        asked: f64,
        min: f64,
    },
    #[error("over the maximum: {field} {asked} asked, at most {max} for this user")]
    OverMaximum {
        field: Resource,
        asked: f64,
        max: f64,
    },
    #[error("image `{image}` is not one of the images in host_deploy.yaml")]
    ImageNotAllowed { image: String },
    #[error("forward port {port} is outside {}..{}", PORT_RANGE.start(), PORT_RANGE.end())]
    PortOutOfRange { port: u16 },
    #[error("forward port {port} belongs to user `{other}`")]
    PortConfiguredForOther { port: u16, other: String },
    #[error("forward port {port} is used by `{other}` from {} to {}", short(*start), short(*end))]
    PortInUse {
        port: u16,
        other: String,
        start: NaiveDateTime,
        end: NaiveDateTime,
    },
    #[error("overlaps your own booking from {} to {}", short(*start), short(*end))]
    OwnOverlap {
        start: NaiveDateTime,
        end: NaiveDateTime,
    },
    #[error("not enough {resource} at {}: {booked} of {capacity} booked, {asked} asked{}", short(*at), suggestion_text(suggestion))]
    Capacity {
        resource: Resource,
        at: NaiveDateTime,
        booked: f64,
        asked: f64,
        capacity: f64,
        suggestion: Option<Window>,
    },
    #[error(
        "no {asked} GPU(s) free for the whole window (each GPU must be free from start to end){}",
        suggestion_text(suggestion)
    )]
    NoGpuFree {
        asked: u32,
        suggestion: Option<Window>,
    },
}

impl Refusal {
    /// The window to offer instead, for capacity refusals.
    pub fn suggestion(&self) -> Option<Window> {
        match self {
            Refusal::Capacity { suggestion, .. } | Refusal::NoGpuFree { suggestion, .. } => {
                *suggestion
            }
            _ => None,
        }
    }

    /// Whether the schedule is what refused (rather than the request itself).
    pub fn is_capacity(&self) -> bool {
        matches!(self, Refusal::Capacity { .. } | Refusal::NoGpuFree { .. })
    }
}

/// Checks `req` against every rule; on success, the GPU ids it gets.
pub fn admit(ctx: &Context, req: &Request) -> Result<GpuSet, Refusal> {
    check(ctx, req, true)
}

/// Checks `req` keeping exactly the GPU ids `gpus` (a booking whose window changes keeps
/// the GPUs it has): each must be free over the whole new window.
pub fn admit_fixed(ctx: &Context, req: &Request, gpus: &GpuSet) -> Result<(), Refusal> {
    check_request(ctx, req)?;
    check_capacity(ctx, req, false)?;
    let gaps = placement::free_gaps(
        ctx.rows.iter().copied(),
        ctx.config.capability.max.gpus,
        req.start,
        req.end,
    );
    let all_free = gpus
        .ids()
        .iter()
        .all(|&id| gaps.get(id as usize).is_some_and(Option::is_some));
    if all_free {
        Ok(())
    } else {
        Err(Refusal::NoGpuFree {
            asked: gpus.len() as u32,
            suggestion: None,
        })
    }
}

fn check(ctx: &Context, req: &Request, suggest_on_refusal: bool) -> Result<GpuSet, Refusal> {
    check_request(ctx, req)?;
    check_capacity(ctx, req, suggest_on_refusal)?;
    if req.gpus == 0 {
        return Ok(GpuSet::default());
    }
    let cap = &ctx.config.capability.max;
    let gaps = placement::free_gaps(ctx.rows.iter().copied(), cap.gpus, req.start, req.end);
    placement::place(&gaps, req.gpus).ok_or_else(|| Refusal::NoGpuFree {
        asked: req.gpus,
        suggestion: if suggest_on_refusal {
            suggest(ctx, req)
        } else {
            None
        },
    })
}

/// cpus, memory and the GPU count at every instant of the window.
fn check_capacity(ctx: &Context, req: &Request, suggest_on_refusal: bool) -> Result<(), Refusal> {
    let cap = &ctx.config.capability.max;
    let peak = peak_within(ctx.rows.iter().copied(), req.start, req.end);
    let over = [
        (Resource::Cpus, peak.cpus.0, peak.cpus.1, req.cpus, cap.cpus),
        (
            Resource::Memory,
            peak.memory.0 as f64,
            peak.memory.1,
            f64::from(req.memory),
            cap.memory,
        ),
        (
            Resource::Gpus,
            f64::from(peak.gpus.0),
            peak.gpus.1,
            f64::from(req.gpus),
            f64::from(cap.gpus),
        ),
    ]
    .into_iter()
    .find(|(_, booked, _, asked, capacity)| booked + asked > capacity + 1e-9);
    match over {
        None => Ok(()),
        Some((resource, booked, at, asked, capacity)) => Err(Refusal::Capacity {
            resource,
            at,
            booked,
            asked,
            capacity,
            suggestion: if suggest_on_refusal {
                suggest(ctx, req)
            } else {
                None
            },
        }),
    }
}

/// The rules that do not depend on what others booked, and the user's own overlap.
fn check_request(ctx: &Context, req: &Request) -> Result<(), Refusal> {
    let config = ctx.config;
    if let Some(why) = rules::user_id_problem(&req.user_id) {
        return Err(Refusal::BadUserId {
            id: req.user_id.clone(),
            why,
        });
    }
    if !config.capability.allow_user_ids.contains(&req.user_id) {
        return Err(Refusal::NotAllowed {
            id: req.user_id.clone(),
        });
    }
    for (field, asked) in [
        (Resource::Cpus, req.cpus),
        (Resource::Memory, f64::from(req.memory)),
    ] {
        if asked.is_nan() || asked < 1.0 {
            return Err(Refusal::BelowMinimum {
                field,
                asked,
                min: 1.0,
            });
        }
    }
    let max = user_max(&config.capability, &req.user_id);
    for (field, asked, limit) in [
        (Resource::Cpus, req.cpus, max.cpus),
        (Resource::Memory, f64::from(req.memory), max.memory),
        (Resource::Gpus, f64::from(req.gpus), f64::from(max.gpus)),
    ] {
        if asked > limit + 1e-9 {
            return Err(Refusal::OverMaximum {
                field,
                asked,
                max: limit,
            });
        }
    }
    if !rules::image_allowed(&config.host, req.image.as_deref()) {
        return Err(Refusal::ImageNotAllowed {
            image: req.image.clone().unwrap_or_default(),
        });
    }
    let rows = ctx.rows.iter().copied();
    match rules::port_problem(
        req.forward_port,
        &req.user_id,
        &config.users,
        rows,
        req.start,
        req.end,
    ) {
        None => {}
        Some(PortProblem::OutOfRange) => {
            return Err(Refusal::PortOutOfRange {
                port: req.forward_port,
            })
        }
        Some(PortProblem::ConfiguredFor(other)) => {
            return Err(Refusal::PortConfiguredForOther {
                port: req.forward_port,
                other,
            })
        }
        Some(PortProblem::InUse { by, start, end }) => {
            return Err(Refusal::PortInUse {
                port: req.forward_port,
                other: by,
                start,
                end,
            })
        }
    }
    if let Some(r) = rules::own_overlap(ctx.rows.iter().copied(), &req.user_id, req.start, req.end)
    {
        return Err(Refusal::OwnOverlap {
            start: r.start,
            end: r.end,
        });
    }
    Ok(())
}

/// Merged busy intervals in minutes, sorted: free for `[s, e)` when none overlaps it.
#[derive(Debug, Default)]
struct Busy(Vec<(i64, i64)>);

impl Busy {
    fn from_unsorted(mut v: Vec<(i64, i64)>) -> Self {
        v.sort_unstable();
        let mut merged: Vec<(i64, i64)> = Vec::with_capacity(v.len());
        for (s, e) in v {
            match merged.last_mut() {
                Some(last) if s <= last.1 => last.1 = last.1.max(e),
                _ => merged.push((s, e)),
            }
        }
        Busy(merged)
    }

    fn is_free(&self, s: i64, e: i64) -> bool {
        // The last interval starting before `e` must end by `s`.
        let i = self.0.partition_point(|iv| iv.0 < e);
        i == 0 || self.0[i - 1].1 <= s
    }
}

/// The earliest window of the request's length and size that passes every rule, starting
/// at or after the requested start and no later than two weeks after the current slot.
/// Candidates are the requested start and every moment something ends; each is screened
/// in O(log n) (cpus and memory by a sliding maximum over the timeline, GPUs and the
/// user's own bookings by binary search), and the first that passes is confirmed by
/// [`admit`]'s full rules.
pub fn suggest(ctx: &Context, req: &Request) -> Option<Window> {
    let length = req.end - req.start;
    let latest_start = ctx.now_slot + clock::horizon();
    let mut candidates: Vec<NaiveDateTime> = ctx
        .rows
        .iter()
        .map(|r| r.end)
        .filter(|t| *t > req.start && *t <= latest_start && clock::is_on_grid(*t))
        .collect();
    candidates.push(req.start);
    candidates.sort_unstable();
    candidates.dedup();

    let cap = &ctx.config.capability.max;
    let timeline = Timeline::build(ctx.rows.iter().copied());
    let mut cpus = SlidingMax::new(timeline.cpus.clone());
    let mut memory = SlidingMax::new(timeline.memory.clone());
    let mut per_gpu: Vec<Vec<(i64, i64)>> = vec![Vec::new(); cap.gpus as usize];
    let mut own = Vec::new();
    for r in &ctx.rows {
        let iv = (minutes(r.start), minutes(r.end));
        for &id in r.gpus.ids() {
            if let Some(list) = per_gpu.get_mut(id as usize) {
                list.push(iv);
            }
        }
        if r.user_id == req.user_id {
            own.push(iv);
        }
    }
    let per_gpu: Vec<Busy> = per_gpu.into_iter().map(Busy::from_unsorted).collect();
    let own = Busy::from_unsorted(own);

    for start in candidates {
        let end = start + length;
        let steps = timeline.steps_within(start, end);
        let booked_cpus = cpus.max(steps.start, steps.end).unwrap_or(0.0);
        let booked_memory = memory.max(steps.start, steps.end).unwrap_or(0) as f64;
        if booked_cpus + req.cpus > cap.cpus + 1e-9
            || booked_memory + f64::from(req.memory) > cap.memory + 1e-9
        {
            continue;
        }
        let (s, e) = (minutes(start), minutes(end));
        if !own.is_free(s, e) {
            continue;
        }
        let free_gpus = per_gpu.iter().filter(|b| b.is_free(s, e)).count();
        if free_gpus < req.gpus as usize {
            continue;
        }
        let moved = Request {
            start,
            end,
            ..req.clone()
        };
        if check(ctx, &moved, false).is_ok() {
            return Some(Window { start, end });
        }
    }
    None
}

impl std::fmt::Display for Request {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(
            f,
            "{} cpus={} memory={} gpus={} {} to {}",
            self.user_id,
            self.cpus,
            self.memory,
            self.gpus,
            format_time(self.start),
            format_time(self.end)
        )
    }
}
