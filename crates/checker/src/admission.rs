//! One booking request against the schedule: every rule in order, the GPU ids
//! it gets, or a typed refusal; for a capacity refusal, the earliest window of the same
//! length and size that fits within the two-week horizon (and the user's `max_days_ahead`).
//!
//! The order: the request itself (id, minimums, maximums, image, port, own overlap), the
//! fairness policies, the host's capacity and GPU placement, then the user's group's total.
//! So a group refusal means the host alone would have taken the booking.
//!
//! On a cluster (`cfg/cluster.yaml`) each node stands in for the host: a request goes to the
//! node it names, or with `any` to the first node in the file's order where it fits; its
//! GPU ids are places in that node's plan (0 to the node's GPUs − 1), counted against the
//! rows on the same node only. Slurm binds the real devices when the job starts and the
//! monitor records them in `jobs/slurm-jobs.csv`. Policies, groups and a user's own
//! overlap span the cluster.

use chrono::NaiveDateTime;
use hostinfo::clock;
use hostinfo::cluster::ClusterConfig;
use hostinfo::schedule::{format_time, GpuSet, Row};
use hostinfo::Config;

use crate::capacity::{self, Screen};
pub use crate::capacity::{Resource, ScopeName};
use crate::limits::{user_max, user_policies};
use crate::placement;
use crate::policies::{self, Broken};
use crate::rules::{self, PortProblem, PORT_RANGE};
use crate::timeline::minutes;

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
    /// Which node, on a cluster; ignored on a single host.
    pub node: NodeChoice,
}

/// The node a request asks for (cluster mode).
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub enum NodeChoice {
    /// The first node in `cfg/cluster.yaml`'s order where the request fits.
    #[default]
    Any,
    Named(String),
}

impl NodeChoice {
    /// `any` (any case) or a node's name, as typed.
    pub fn parse(typed: &str) -> NodeChoice {
        let typed = typed.trim();
        if typed.eq_ignore_ascii_case("any") {
            NodeChoice::Any
        } else {
            NodeChoice::Named(typed.to_string())
        }
    }

    /// A row's node, kept when the row changes (`None`: the row names no node).
    pub fn of_row(row: &Row) -> NodeChoice {
        row.node.clone().map_or(NodeChoice::Any, NodeChoice::Named)
    }

    pub fn named(&self) -> Option<&str> {
        match self {
            NodeChoice::Any => None,
            NodeChoice::Named(n) => Some(n),
        }
    }
}

impl std::fmt::Display for NodeChoice {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.named().unwrap_or("any"))
    }
}

/// Whether `choice` may be asked of `cluster`: `any`, or one of its nodes. The error names
/// the nodes there are.
pub fn check_node(cluster: &ClusterConfig, choice: &NodeChoice) -> Result<(), Refusal> {
    match choice.named() {
        Some(n) if cluster.node(n).is_none() => Err(Refusal::UnknownNode {
            node: Some(n.to_string()),
            known: known_nodes(cluster),
        }),
        _ => Ok(()),
    }
}

fn known_nodes(cluster: &ClusterConfig) -> String {
    cluster.node_names().collect::<Vec<_>>().join(", ")
}

/// What an admitted request gets: its GPU ids, and on a cluster the node they are on.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Placed {
    pub gpus: GpuSet,
    /// `None` on a single host.
    pub node: Option<String>,
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

#[allow(clippy::box_collection)]
fn suggestion_text(s: &Option<Window>, node: &Option<Box<String>>) -> String {
    match (s, node) {
        (Some(w), Some(n)) => format!("; the earliest window that fits is {w} on {n}"),
        (Some(w), None) => format!("; the earliest window that fits is {w}"),
        (None, _) => "; no window of that length and size fits as far ahead as you may book".into(),
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
    #[error("over the maximum: {field} {asked} asked, at most {max} for this user ({from})")]
    OverMaximum {
        field: Resource,
        asked: f64,
        max: f64,
        /// Where the maximum comes from, in words: `group phd's tier`.
        from: String,
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
    /// A scope (the host or a node, or the user's group) would be over somewhere in the window.
    #[error("{}{}", capacity_text(scope, *resource, *at, *until, *booked, *asked, *capacity), suggestion_text(suggestion, suggested_node))]
    Capacity {
        scope: ScopeName,
        resource: Resource,
        /// Where the stretch that would be over begins, and where it ends.
        at: NaiveDateTime,
        until: NaiveDateTime,
        /// The most already booked within that stretch.
        booked: f64,
        asked: f64,
        capacity: f64,
        suggestion: Option<Window>,
        /// On a cluster, the node the suggestion is on (behind one thin pointer: every
        /// `Result` that carries a refusal stays small).
        #[allow(clippy::box_collection)]
        suggested_node: Option<Box<String>>,
    },
    /// More than a scope (the host, or the user's group) could ever hold: no waiting helps.
    #[error("{asked} {resource} asked, more than {scope} can ever hold ({capacity}), so it cannot wait for room")]
    NeverFits {
        scope: ScopeName,
        resource: Resource,
        asked: f64,
        capacity: f64,
    },
    /// A fairness policy (`policies:` in the capability config) refuses it.
    #[error("{broken}")]
    Policy { broken: Broken },
    #[error(
        "no {asked} GPU(s) free{} for the whole window (each GPU must be free from start to end){}",
        node.as_deref().map(|n| format!(" on {n}")).unwrap_or_default(),
        suggestion_text(suggestion, suggested_node)
    )]
    NoGpuFree {
        asked: u32,
        /// On a cluster, the node that has too few.
        node: Option<String>,
        suggestion: Option<Window>,
        #[allow(clippy::box_collection)]
        suggested_node: Option<Box<String>>,
    },
    /// On a cluster: a node that `cfg/cluster.yaml` does not name, or (`None`) a booking
    /// that names no node.
    #[error("{}", unknown_node_text(node.as_deref(), known))]
    UnknownNode {
        node: Option<String>,
        /// The nodes there are, comma-separated.
        known: String,
    },
    /// On a cluster cpus are whole cores: Slurm reserves cores, not parts of them.
    #[error("{asked} cpus asked: on this cluster cpus are whole cores (Slurm reserves cores), so ask for {} or {}", asked.floor().max(1.0), asked.ceil())]
    WholeCpus { asked: f64 },
}

fn unknown_node_text(node: Option<&str>, known: &str) -> String {
    match node {
        Some(n) => {
            format!("node `{n}` is not in cfg/cluster.yaml; its nodes are {known} (or `any`)")
        }
        None => format!(
            "the booking names no node; on this cluster each booking runs on one of {known}"
        ),
    }
}

/// `not enough cpus at …` for the host; `group phd already holds 4 of its 4 GPUs from
/// 10:00 to 12:00 on Tue 2026-11-24, and 1 more asked` for a group.
fn capacity_text(
    scope: &ScopeName,
    resource: Resource,
    at: NaiveDateTime,
    until: NaiveDateTime,
    booked: f64,
    asked: f64,
    capacity: f64,
) -> String {
    match scope {
        ScopeName::Host => format!(
            "not enough {resource} at {}: {booked} of {capacity} booked, {asked} asked",
            short(at)
        ),
        ScopeName::Node(n) => format!(
            "not enough {resource} on {n} at {}: {booked} of {capacity} booked, {asked} asked",
            short(at)
        ),
        ScopeName::Group(g) => format!(
            "group {g} already holds {booked} of its {} {}, and {asked} more asked",
            resource.amount(capacity),
            span(at, until)
        ),
    }
}

/// `from 10:00 to 12:00 on Tue 2026-11-24`, or with both days when it spans two.
pub(crate) fn span(from: NaiveDateTime, until: NaiveDateTime) -> String {
    if from.date() == until.date() {
        format!(
            "from {} to {} on {}",
            from.format("%H:%M"),
            until.format("%H:%M"),
            from.format("%a %Y-%m-%d")
        )
    } else {
        format!(
            "from {} to {}",
            from.format("%a %Y-%m-%d %H:%M"),
            until.format("%a %Y-%m-%d %H:%M")
        )
    }
}

impl Refusal {
    /// The rule that refused, stable for scripts and the docs (docs/file-formats.md).
    pub fn code(&self) -> &'static str {
        match self {
            Refusal::BadUserId { .. } => "bad_user_id",
            Refusal::NotAllowed { .. } => "not_allowed",
            Refusal::BelowMinimum { .. } => "below_minimum",
            Refusal::OverMaximum { .. } => "over_maximum",
            Refusal::ImageNotAllowed { .. } => "image_not_allowed",
            Refusal::PortOutOfRange { .. } => "port_out_of_range",
            Refusal::PortConfiguredForOther { .. } => "port_configured_for_other",
            Refusal::PortInUse { .. } => "port_in_use",
            Refusal::OwnOverlap { .. } => "own_overlap",
            Refusal::Capacity {
                scope: ScopeName::Host,
                ..
            } => "host_capacity",
            Refusal::Capacity {
                scope: ScopeName::Node(_),
                ..
            } => "node_capacity",
            Refusal::Capacity { .. } => "group_total",
            Refusal::NoGpuFree { .. } => "no_gpu_free",
            Refusal::NeverFits { .. } => "never_fits",
            Refusal::UnknownNode { .. } => "unknown_node",
            Refusal::WholeCpus { .. } => "whole_cpus",
            Refusal::Policy { broken } => broken.code(),
        }
    }

    /// The window to offer instead, for capacity refusals.
    pub fn suggestion(&self) -> Option<Window> {
        match self {
            Refusal::Capacity { suggestion, .. } | Refusal::NoGpuFree { suggestion, .. } => {
                *suggestion
            }
            _ => None,
        }
    }

    /// On a cluster, the node the suggested window is on.
    pub fn suggested_node(&self) -> Option<&str> {
        match self {
            Refusal::Capacity { suggested_node, .. }
            | Refusal::NoGpuFree { suggested_node, .. } => {
                suggested_node.as_deref().map(String::as_str)
            }
            _ => None,
        }
    }

    /// The same refusal offering `found` (a window, and its node on a cluster) instead.
    fn suggesting(mut self, found: Option<(Window, Option<String>)>) -> Refusal {
        if let Refusal::Capacity {
            suggestion,
            suggested_node,
            ..
        }
        | Refusal::NoGpuFree {
            suggestion,
            suggested_node,
            ..
        } = &mut self
        {
            (*suggestion, *suggested_node) = match found {
                Some((w, node)) => (Some(w), node.map(Box::new)),
                None => (None, None),
            };
        }
        self
    }

    /// Whether the schedule is what refused (rather than the request itself).
    pub fn is_capacity(&self) -> bool {
        matches!(self, Refusal::Capacity { .. } | Refusal::NoGpuFree { .. })
    }
}

/// Checks `req` against every rule; on success, the GPU ids it gets.
pub fn admit(ctx: &Context, req: &Request) -> Result<GpuSet, Refusal> {
    admit_placed(ctx, req).map(|p| p.gpus)
}

/// [`admit`], and on a cluster the node chosen.
pub fn admit_placed(ctx: &Context, req: &Request) -> Result<Placed, Refusal> {
    check(ctx, req, true)
}

/// Checks `req` keeping exactly the GPU ids `gpus` (a booking whose window changes keeps
/// the GPUs it has): each must be free over the whole new window. On a cluster the
/// request names the booking's own node ([`NodeChoice::of_row`]).
pub fn admit_fixed(ctx: &Context, req: &Request, gpus: &GpuSet) -> Result<(), Refusal> {
    check_request(ctx, req)?;
    check_policies(ctx, req)?;
    let node = match (&ctx.config.cluster, req.node.named()) {
        (None, _) => None,
        (Some(_), Some(n)) => Some(n),
        (Some(cluster), None) => {
            return Err(Refusal::UnknownNode {
                node: None,
                known: known_nodes(cluster),
            })
        }
    };
    check_machine_capacity(ctx, req, node)?;
    let gaps = placement::free_gaps(
        rows_on(ctx, node),
        gpu_count(ctx.config, node),
        req.start,
        req.end,
    );
    let all_free = gpus
        .ids()
        .iter()
        .all(|&id| gaps.get(id as usize).is_some_and(Option::is_some));
    if !all_free {
        return Err(Refusal::NoGpuFree {
            asked: gpus.len() as u32,
            node: node.map(str::to_string),
            suggestion: None,
            suggested_node: None,
        });
    }
    check_group_capacity(ctx, req)
}

/// The machines a request may go to, in the order tried: `[None]` on a single host; on a
/// cluster the node it names, or with `any` every node in the file's order.
fn candidate_nodes<'c>(config: &'c Config, req: &'c Request) -> Vec<Option<&'c str>> {
    match (&config.cluster, req.node.named()) {
        (None, _) => vec![None],
        (Some(_), Some(n)) => vec![Some(n)],
        (Some(cluster), None) => cluster.node_names().map(Some).collect(),
    }
}

/// The rows that share a machine's GPU ids: every row on a single host, a node's own rows
/// on a cluster.
fn rows_on<'a>(ctx: &'a Context, node: Option<&'a str>) -> impl Iterator<Item = &'a Row> + 'a {
    ctx.rows
        .iter()
        .copied()
        .filter(move |r| node.is_none() || r.node.as_deref() == node)
}

/// How many GPUs the machine has: the host's, or the node's.
fn gpu_count(config: &Config, node: Option<&str>) -> u32 {
    match (node, &config.cluster) {
        (Some(n), Some(cluster)) => cluster.node(n).map_or(0, |c| c.gpus),
        _ => config.capability.max.gpus,
    }
}

fn check(ctx: &Context, req: &Request, suggest_on_refusal: bool) -> Result<Placed, Refusal> {
    check_request(ctx, req)?;
    check_policies(ctx, req)?;
    let mut first_refusal = None;
    for node in candidate_nodes(ctx.config, req) {
        match check_machine(ctx, req, node) {
            Ok(gpus) => {
                return match check_group_capacity(ctx, req) {
                    Ok(()) => Ok(Placed {
                        gpus,
                        node: node.map(str::to_string),
                    }),
                    Err(refusal) => Err(with_suggestion(ctx, req, refusal, suggest_on_refusal)),
                };
            }
            Err(refusal) => {
                first_refusal.get_or_insert(refusal);
            }
        }
    }
    let refusal = first_refusal.expect("a configuration has a host or at least one node");
    Err(with_suggestion(ctx, req, refusal, suggest_on_refusal))
}

fn with_suggestion(ctx: &Context, req: &Request, refusal: Refusal, suggest: bool) -> Refusal {
    if suggest && refusal.is_capacity() {
        refusal.suggesting(suggest_placed(ctx, req))
    } else {
        refusal
    }
}

/// The machine's capacity over the window, then its GPU ids: the ids placed, or why not.
fn check_machine(ctx: &Context, req: &Request, node: Option<&str>) -> Result<GpuSet, Refusal> {
    check_machine_capacity(ctx, req, node)?;
    if req.gpus == 0 {
        return Ok(GpuSet::default());
    }
    let gaps = placement::free_gaps(
        rows_on(ctx, node),
        gpu_count(ctx.config, node),
        req.start,
        req.end,
    );
    placement::place(&gaps, req.gpus).ok_or_else(|| Refusal::NoGpuFree {
        asked: req.gpus,
        node: node.map(str::to_string),
        suggestion: None,
        suggested_node: None,
    })
}

/// cpus, memory and the GPU count at every instant of the window: on the host (a node on
/// a cluster), or in the user's group (`node` is `None` then).
fn check_capacity_of(
    ctx: &Context,
    req: &Request,
    machine: bool,
    node: Option<&str>,
) -> Result<(), Refusal> {
    let cap = &ctx.config.capability;
    let scopes: Vec<_> = capacity::scopes_of(cap, ctx.config.cluster.as_ref(), &req.user_id, node)
        .into_iter()
        .filter(|s| s.is_host() == machine)
        .collect();
    let asked = [req.cpus, f64::from(req.memory), f64::from(req.gpus)];
    match capacity::first_over(cap, &scopes, &ctx.rows, asked, req.start, req.end) {
        None => Ok(()),
        Some(over) => Err(Refusal::Capacity {
            scope: over.scope,
            resource: over.resource,
            at: over.from,
            until: over.until,
            booked: over.booked,
            asked: over.asked,
            capacity: over.capacity,
            suggestion: None,
            suggested_node: None,
        }),
    }
}

fn check_machine_capacity(ctx: &Context, req: &Request, node: Option<&str>) -> Result<(), Refusal> {
    check_capacity_of(ctx, req, true, node)
}

fn check_group_capacity(ctx: &Context, req: &Request) -> Result<(), Refusal> {
    check_capacity_of(ctx, req, false, None)
}

/// The fairness policies in force for the user.
fn check_policies(ctx: &Context, req: &Request) -> Result<(), Refusal> {
    let cap = &ctx.config.capability;
    let p = user_policies(cap, &req.user_id);
    policies::check(cap, &p, &ctx.rows, req, ctx.now_slot)
        .map_err(|broken| Refusal::Policy { broken })
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
    if let Some(cluster) = &config.cluster {
        check_node(cluster, &req.node)?;
        if req.cpus.fract() != 0.0 {
            return Err(Refusal::WholeCpus { asked: req.cpus });
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
                from: crate::limits::source_text(
                    &config.capability,
                    &req.user_id,
                    &field.to_string(),
                ),
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
/// at or after the requested start and no later than two weeks (or the user's
/// `max_days_ahead`) after the current slot. Candidates are the requested start and every
/// moment something ends; each is screened in O(log n) (each scope's cpus, memory and GPU
/// count by a sliding maximum over its timeline, the machine's GPU ids and the user's own
/// bookings by binary search), and the first that passes is confirmed by [`admit`]'s full
/// rules. On a cluster, the first node (in the file's order) where it fits at that start.
pub fn suggest(ctx: &Context, req: &Request) -> Option<Window> {
    suggest_placed(ctx, req).map(|(w, _)| w)
}

/// One machine a suggestion may land on, screened on its own.
struct Target<'a> {
    node: Option<&'a str>,
    screen: Screen,
    per_gpu: Vec<Busy>,
}

/// [`suggest`], with the node the window is on (cluster mode).
pub fn suggest_placed(ctx: &Context, req: &Request) -> Option<(Window, Option<String>)> {
    let cap = &ctx.config.capability;
    let length = req.end - req.start;
    let latest_start = ctx.now_slot + policies::days_ahead(&user_policies(cap, &req.user_id));
    let mut candidates: Vec<NaiveDateTime> = ctx
        .rows
        .iter()
        .map(|r| r.end)
        .filter(|t| *t > req.start && *t <= latest_start && clock::is_on_grid(*t))
        .collect();
    candidates.push(req.start);
    candidates.sort_unstable();
    candidates.dedup();

    let asked = [req.cpus, f64::from(req.memory), f64::from(req.gpus)];
    let cluster = ctx.config.cluster.as_ref();
    let mut targets: Vec<Target> = candidate_nodes(ctx.config, req)
        .into_iter()
        .map(|node| {
            let scopes = capacity::scopes_of(cap, cluster, &req.user_id, node);
            let mut per_gpu: Vec<Vec<(i64, i64)>> =
                vec![Vec::new(); gpu_count(ctx.config, node) as usize];
            for r in rows_on(ctx, node) {
                let iv = (minutes(r.start), minutes(r.end));
                for &id in r.gpus.ids() {
                    if let Some(list) = per_gpu.get_mut(id as usize) {
                        list.push(iv);
                    }
                }
            }
            Target {
                node,
                screen: Screen::new(cap, &scopes, &ctx.rows, asked),
                per_gpu: per_gpu.into_iter().map(Busy::from_unsorted).collect(),
            }
        })
        .collect();
    let own = Busy::from_unsorted(
        ctx.rows
            .iter()
            .filter(|r| r.user_id == req.user_id)
            .map(|r| (minutes(r.start), minutes(r.end)))
            .collect(),
    );

    for start in candidates {
        let end = start + length;
        let (s, e) = (minutes(start), minutes(end));
        for target in &mut targets {
            // Every target's screen sees every candidate, in order of start.
            if !target.screen.fits(start, end) || !own.is_free(s, e) {
                continue;
            }
            let free_gpus = target.per_gpu.iter().filter(|b| b.is_free(s, e)).count();
            if free_gpus < req.gpus as usize {
                continue;
            }
            let moved = Request {
                start,
                end,
                node: target
                    .node
                    .map_or_else(|| req.node.clone(), |n| NodeChoice::Named(n.to_string())),
                ..req.clone()
            };
            if check(ctx, &moved, false).is_ok() {
                return Some((Window { start, end }, target.node.map(str::to_string)));
            }
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
        )?;
        match &self.node {
            NodeChoice::Any => Ok(()),
            NodeChoice::Named(n) => write!(f, " on {n}"),
        }
    }
}
