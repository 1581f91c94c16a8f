//! Property: random bookings admitted one by one never put the host or a group over its
//! capacity in any 30-minute slot, and every refusal was necessary: a separate
//! brute-force count, slot by slot, shows the rule that refused would really be broken
//! (and a group refusal goes away when that group's `total` is taken out). Every
//! suggested window is admitted when tried, and no earlier start would have been.
//!
//! Random configs (a small host, 2–3 groups with random totals and tiers, users in no
//! group, random policies and exceptions) come from a seeded xorshift generator, so a
//! failure names its seed and `CAPACITY_PROPERTY_SEED=<seed>` replays just that case.
//!
//! The cluster variant adds 2–3 nodes (`cfg/cluster.yaml`) that stand in for the host: no
//! node is ever over, GPU ids are checked per node, a request for `any` node went to the
//! first node that could take it, and a capacity refusal means no node it could go to had
//! room (`CLUSTER_PROPERTY_SEED=<seed>` replays one case).

mod common;

use checker::{admit_placed, Context, NodeChoice, Placed, Refusal, Request, Resource, ScopeName};
use chrono::{Duration, NaiveDateTime};
use hostinfo::config::Total;
use hostinfo::schedule::{GpuSet, Row};
use hostinfo::{Config, Root};

const CASES: u64 = 400;
const CLUSTER_CASES: u64 = 250;
const REQUESTS_PER_CASE: usize = 24;

/// xorshift64*: small, fixed, and the same on every machine.
#[derive(Debug)]
struct Rng(u64);

impl Rng {
    fn new(seed: u64) -> Self {
        Rng(seed.wrapping_mul(0x9E37_79B9_7F4A_7C15) | 1)
    }

    fn next(&mut self) -> u64 {
        self.0 ^= self.0 >> 12;
        self.0 ^= self.0 << 25;
        self.0 ^= self.0 >> 27;
        self.0.wrapping_mul(0x2545_F491_4F6C_DD1D)
    }

    /// In `lo..=hi`.
    fn range(&mut self, lo: i64, hi: i64) -> i64 {
        lo + (self.next() % (hi - lo + 1) as u64) as i64
    }

    /// True `num` times in `den`.
    fn chance(&mut self, num: u64, den: u64) -> bool {
        self.next() % den < num
    }

    /// A multiple of 0.5 in `lo..=hi`.
    fn halves(&mut self, lo: f64, hi: f64) -> f64 {
        self.range((lo * 2.0) as i64, (hi * 2.0) as i64) as f64 / 2.0
    }
}

/// A limit as written: a number, or `max` (the host's capacity).
#[derive(Debug, Clone, Copy, PartialEq)]
enum Lim {
    Value(f64),
    Max,
}

impl Lim {
    fn yaml(self) -> String {
        match self {
            Lim::Value(v) => format!("{v}"),
            Lim::Max => "max".into(),
        }
    }
}

/// Per-booking maximums of cpus, memory, GPUs, each maybe unset.
type Tier = [Option<Lim>; 3];

#[derive(Debug, Clone, Copy, Default, PartialEq)]
struct Pol {
    active: Option<u32>,
    hours: Option<f64>,
    gpu_hours: Option<f64>,
    days: Option<u32>,
}

impl Pol {
    fn random(rng: &mut Rng, den: u64) -> Pol {
        Pol {
            active: rng.chance(1, den).then(|| rng.range(1, 4) as u32),
            hours: rng.chance(1, den).then(|| rng.halves(0.5, 8.0)),
            gpu_hours: rng.chance(1, den).then(|| rng.halves(0.0, 16.0)),
            days: rng.chance(1, den).then(|| rng.range(1, 3) as u32),
        }
    }

    /// Each key of `self`, else of `fallback`.
    fn or(self, fallback: Pol) -> Pol {
        Pol {
            active: self.active.or(fallback.active),
            hours: self.hours.or(fallback.hours),
            gpu_hours: self.gpu_hours.or(fallback.gpu_hours),
            days: self.days.or(fallback.days),
        }
    }

    /// `policies: {…}` at `indent`, or nothing when no key is set.
    fn yaml(&self, indent: &str) -> String {
        let mut keys = Vec::new();
        if let Some(v) = self.active {
            keys.push(format!("max_active_bookings: {v}"));
        }
        if let Some(v) = self.hours {
            keys.push(format!("max_hours_per_booking: {v}"));
        }
        if let Some(v) = self.gpu_hours {
            keys.push(format!("max_gpu_hours_ahead: {v}"));
        }
        if let Some(v) = self.days {
            keys.push(format!("max_days_ahead: {v}"));
        }
        if keys.is_empty() {
            String::new()
        } else {
            format!("{indent}policies: {{{}}}\n", keys.join(", "))
        }
    }
}

#[derive(Debug, Clone)]
struct GroupSpec {
    name: String,
    /// cpus, memory, GPUs; `None` is no group limit.
    total: [Option<f64>; 3],
    tier: Tier,
    policies: Pol,
}

#[derive(Debug, Clone)]
struct UserSpec {
    id: String,
    port: u16,
    group: Option<usize>,
    exception: Option<(Tier, Pol)>,
}

/// The installation as the test generated it: what the brute force reads, never the
/// checker's own view of the config.
#[derive(Debug, Clone)]
struct Model {
    host: [f64; 3],
    default: Tier,
    groups: Vec<GroupSpec>,
    users: Vec<UserSpec>,
    policies: Pol,
    /// On a cluster, each node's name and cpus, memory and GPUs; empty on a single host.
    nodes: Vec<(String, [f64; 3])>,
}

fn tier_yaml(t: &Tier) -> String {
    let keys: Vec<String> = ["cpus", "memory", "gpus"]
        .iter()
        .zip(t)
        .filter_map(|(k, l)| l.map(|l| format!("{k}: {}", l.yaml())))
        .collect();
    format!("{{{}}}", keys.join(", "))
}

impl Model {
    fn random(rng: &mut Rng) -> Model {
        let host = [
            rng.halves(2.0, 8.0),
            rng.range(2, 16) as f64,
            rng.range(0, 4).max(rng.range(0, 4)) as f64,
        ];
        // Values from half the host up, so that most small requests stay within them.
        let random_lim = |rng: &mut Rng, r: usize, over: f64| -> Option<Lim> {
            let lo = (host[r] / 2.0).max(1.0).min(host[r] + over).floor();
            match rng.range(0, 5) {
                0 => Some(Lim::Max),
                1 | 2 if r == 0 => Some(Lim::Value(rng.halves(lo, host[0] + over))),
                1 | 2 => Some(Lim::Value(
                    rng.range(lo as i64, (host[r] + over) as i64) as f64
                )),
                _ => None,
            }
        };
        let default = [0, 1, 2].map(|r| random_lim(rng, r, 0.0));
        let groups = (0..rng.range(2, 3))
            .map(|i| GroupSpec {
                name: format!("g{i}"),
                total: [0, 1, 2].map(|r| {
                    rng.chance(2, 3).then(|| match r {
                        0 => rng.halves(1.0, host[0]),
                        _ => rng.range(0, host[r] as i64) as f64,
                    })
                }),
                tier: [0, 1, 2].map(|r| {
                    if rng.chance(1, 3) {
                        random_lim(rng, r, 0.0)
                    } else {
                        None
                    }
                }),
                policies: Pol::random(rng, 4),
            })
            .collect::<Vec<_>>();
        let n = groups.len() as i64;
        let users = (0..6)
            .map(|i| UserSpec {
                id: format!("u{i}"),
                port: 10100 + i as u16,
                // The last user is always in no group; the others sometimes.
                group: (i < 5 && rng.chance(2, 3)).then(|| rng.range(0, n - 1) as usize),
                exception: rng.chance(1, 4).then(|| {
                    (
                        [0, 1, 2].map(|r| {
                            if rng.chance(1, 2) {
                                random_lim(rng, r, 1.0)
                            } else {
                                None
                            }
                        }),
                        Pol::random(rng, 3),
                    )
                }),
            })
            .collect();
        Model {
            host,
            default,
            groups,
            users,
            policies: Pol::random(rng, 3),
            nodes: Vec::new(),
        }
    }

    /// 2–3 nodes, each no bigger than the host in cpus and memory: whole cpus, 0–4 GPUs.
    fn add_nodes(&mut self, rng: &mut Rng) {
        self.nodes = (0..rng.range(2, 3))
            .map(|i| {
                (
                    format!("n{i}"),
                    [
                        rng.range(1, self.host[0].max(1.0) as i64) as f64,
                        rng.range(1, self.host[1] as i64) as f64,
                        rng.range(0, 4) as f64,
                    ],
                )
            })
            .collect();
    }

    fn cluster_yaml(&self) -> String {
        let mut s = "engine: slurm\nnodes:\n".to_string();
        for (name, [cpus, memory, gpus]) in &self.nodes {
            s += &format!("  {name}: {{cpus: {cpus}, memory: {memory}, gpus: {gpus}}}\n");
        }
        s
    }

    fn node_index(&self, name: &str) -> Option<usize> {
        self.nodes.iter().position(|(n, _)| n == name)
    }

    fn yaml(&self) -> String {
        let [cpus, memory, gpus] = self.host;
        let mut s = format!(
            "max:\n  cpus: {cpus}\n  ram: {memory}\n  swap_size: 0\n  gpus: {gpus}\n  backup_space: 100\n  work_space: 100\nallow_userIDs:\n"
        );
        for u in &self.users {
            s += &format!("  - {}\n", u.id);
        }
        s += &format!("max_default_capability: {}\n", tier_yaml(&self.default));
        let exceptions: Vec<_> = self
            .users
            .iter()
            .filter_map(|u| u.exception.as_ref().map(|e| (&u.id, e)))
            .collect();
        if !exceptions.is_empty() {
            s += "max_custom_capability:\n";
            for (id, (tier, pol)) in exceptions {
                s += &format!("  {id}:\n    reason: random exception of {id}\n");
                for (k, l) in ["cpus", "memory", "gpus"].iter().zip(tier) {
                    if let Some(l) = l {
                        s += &format!("    {k}: {}\n", l.yaml());
                    }
                }
                s += &pol.yaml("    ");
            }
        }
        s += "groups:\n";
        for (i, g) in self.groups.iter().enumerate() {
            let members: Vec<&str> = self
                .users
                .iter()
                .filter(|u| u.group == Some(i))
                .map(|u| u.id.as_str())
                .collect();
            s += &format!("  {}:\n    members: [{}]\n", g.name, members.join(", "));
            s += &format!("    max_capability: {}\n", tier_yaml(&g.tier));
            let total: Vec<String> = ["cpus", "memory", "gpus"]
                .iter()
                .zip(g.total)
                .filter_map(|(k, v)| v.map(|v| format!("{k}: {v}")))
                .collect();
            s += &format!("    total: {{{}}}\n", total.join(", "));
            s += &g.policies.yaml("    ");
        }
        s += &self.policies.yaml("");
        s
    }

    fn user(&self, id: &str) -> &UserSpec {
        self.users.iter().find(|u| u.id == id).unwrap()
    }

    /// The group a row's user is in, by the test's own record.
    fn group_of(&self, id: &str) -> Option<usize> {
        self.user(id).group
    }

    /// Exception → group tier → lab default → host capacity.
    fn user_max(&self, id: &str) -> [f64; 3] {
        let u = self.user(id);
        let none: Tier = [None; 3];
        let own = u.exception.as_ref().map_or(none, |e| e.0);
        let tier = u.group.map_or(none, |g| self.groups[g].tier);
        [0, 1, 2].map(|r| {
            let host = self.host[r];
            match own[r].or(tier[r]).or(self.default[r]) {
                None | Some(Lim::Max) => host,
                Some(Lim::Value(v)) if r == 2 => v.trunc(),
                Some(Lim::Value(v)) => v,
            }
        })
    }

    /// Exception → group → lab, key by key.
    fn policies(&self, id: &str) -> Pol {
        let u = self.user(id);
        let own = u.exception.as_ref().map_or(Pol::default(), |e| e.1);
        let group = u.group.map_or(Pol::default(), |g| self.groups[g].policies);
        own.or(group).or(self.policies)
    }
}

fn now() -> NaiveDateTime {
    NaiveDateTime::parse_from_str("2026-11-21 16:00", "%Y-%m-%d %H:%M").unwrap()
}

fn slot(i: i64) -> NaiveDateTime {
    now() + Duration::minutes(30 * i)
}

fn hours(r: &Request) -> f64 {
    (r.end - r.start).num_minutes() as f64 / 60.0
}

/// Which rows a brute-force count takes: every row (the host), one node's rows, or one
/// group's members'.
#[derive(Debug, Clone, Copy, PartialEq)]
enum Count {
    Host,
    Node(usize),
    Group(usize),
}

/// Slot by slot, over `[from, to)`, each resource in use by the rows `count` takes.
fn use_per_slot(
    m: &Model,
    rows: &[Row],
    count: Count,
    from: NaiveDateTime,
    to: NaiveDateTime,
) -> Vec<(NaiveDateTime, [f64; 3])> {
    let mut out = Vec::new();
    let mut s = from;
    while s < to {
        let e = s + Duration::minutes(30);
        let mut sum = [0.0; 3];
        for r in rows {
            let counted = match count {
                Count::Host => true,
                Count::Node(n) => r.node.as_deref() == Some(m.nodes[n].0.as_str()),
                Count::Group(g) => m.group_of(&r.user_id) == Some(g),
            };
            if counted && r.start < e && s < r.end {
                sum[0] += r.cpus;
                sum[1] += f64::from(r.memory);
                sum[2] += r.gpus.len() as f64;
            }
        }
        out.push((s, sum));
        s = e;
    }
    out
}

fn capacity(m: &Model, count: Count) -> [Option<f64>; 3] {
    match count {
        Count::Host => m.host.map(Some),
        Count::Node(n) => m.nodes[n].1.map(Some),
        Count::Group(g) => m.groups[g].total,
    }
}

fn span(rows: &[Row]) -> Option<(NaiveDateTime, NaiveDateTime)> {
    let from = rows.iter().map(|r| r.start).min()?;
    let to = rows.iter().map(|r| r.end).max()?;
    Some((from, to))
}

/// The machines: the host, or each node.
fn machines(m: &Model) -> Vec<Count> {
    if m.nodes.is_empty() {
        vec![Count::Host]
    } else {
        (0..m.nodes.len()).map(Count::Node).collect()
    }
}

/// How many GPUs a machine has, and whether `row` is on it.
fn gpus_of(m: &Model, machine: Count) -> f64 {
    match machine {
        Count::Node(n) => m.nodes[n].1[2],
        _ => m.host[2],
    }
}

fn on(m: &Model, machine: Count, row: &Row) -> bool {
    match machine {
        Count::Node(n) => row.node.as_deref() == Some(m.nodes[n].0.as_str()),
        _ => true,
    }
}

/// No slot has the host (each node) or any group over, and no GPU id of a machine is held
/// twice at once.
fn invariants(m: &Model, rows: &[Row]) -> Result<(), String> {
    let Some((from, to)) = span(rows) else {
        return Ok(());
    };
    if !m.nodes.is_empty() {
        if let Some(r) = rows
            .iter()
            .find(|r| r.node.as_deref().and_then(|n| m.node_index(n)).is_none())
        {
            return Err(format!("a row on no known node: {r:?}"));
        }
    }
    let counts = machines(m)
        .into_iter()
        .chain((0..m.groups.len()).map(Count::Group));
    for count in counts {
        let cap = capacity(m, count);
        for (s, sum) in use_per_slot(m, rows, count, from, to) {
            for r in 0..3 {
                if cap[r].is_some_and(|c| sum[r] > c + 1e-9) {
                    return Err(format!(
                        "{count:?} over at {s}: resource {r} holds {} of {:?}",
                        sum[r], cap[r]
                    ));
                }
            }
        }
    }
    for machine in machines(m) {
        let mut s = from;
        while s < to {
            let e = s + Duration::minutes(30);
            let mut held = vec![0; gpus_of(m, machine) as usize];
            for r in rows
                .iter()
                .filter(|r| r.start < e && s < r.end && on(m, machine, r))
            {
                for &id in r.gpus.ids() {
                    let Some(n) = held.get_mut(id as usize) else {
                        return Err(format!(
                            "GPU {id} is past {machine:?}'s {} GPUs",
                            gpus_of(m, machine)
                        ));
                    };
                    *n += 1;
                    if *n > 1 {
                        return Err(format!("GPU {id} of {machine:?} is held twice at {s}"));
                    }
                }
            }
            s = e;
        }
    }
    Ok(())
}

/// Whether `machine` could take `req` by the brute force: room in every resource in every
/// slot, and enough GPU ids free throughout.
fn machine_fits(m: &Model, rows: &[Row], req: &Request, machine: Count) -> bool {
    (0..3).all(|r| !would_exceed(m, rows, req, machine, r))
        && gpus_free_throughout_on(m, rows, req, machine) >= req.gpus as usize
}

/// The machines `req` may go to: the host; on a cluster its node, or every node for `any`.
fn candidates(m: &Model, req: &Request) -> Vec<Count> {
    match (&req.node, m.nodes.is_empty()) {
        (_, true) => vec![Count::Host],
        (NodeChoice::Named(n), false) => vec![Count::Node(m.node_index(n).unwrap())],
        (NodeChoice::Any, false) => machines(m),
    }
}

/// Whether adding `req` puts `count` over in `resource` at some slot of its window.
fn would_exceed(m: &Model, rows: &[Row], req: &Request, count: Count, r: usize) -> bool {
    let Some(cap) = capacity(m, count)[r] else {
        return false;
    };
    let asked = [req.cpus, f64::from(req.memory), f64::from(req.gpus)][r];
    use_per_slot(m, rows, count, req.start, req.end)
        .iter()
        .any(|(_, sum)| sum[r] + asked > cap + 1e-9)
}

/// GPU ids of `machine` free in every slot of `req`'s window.
fn gpus_free_throughout_on(m: &Model, rows: &[Row], req: &Request, machine: Count) -> usize {
    (0..gpus_of(m, machine) as u32)
        .filter(|&id| {
            !rows.iter().any(|r| {
                on(m, machine, r) && r.gpus.contains(id) && r.start < req.end && req.start < r.end
            })
        })
        .count()
}

/// The policy, if any, that `req` breaks, by a recount of the user's own rows.
fn broken_policy(m: &Model, rows: &[Row], req: &Request) -> Vec<&'static str> {
    let p = m.policies(&req.user_id);
    let now = now();
    let mine: Vec<&Row> = rows.iter().filter(|r| r.user_id == req.user_id).collect();
    let mut out = Vec::new();
    if p.hours.is_some_and(|h| hours(req) > h) {
        out.push("max_hours_per_booking");
    }
    if p.days
        .is_some_and(|d| req.start > now + Duration::days(i64::from(d)))
    {
        out.push("max_days_ahead");
    }
    let active = mine.iter().filter(|r| r.end > now).count() as u32;
    if p.active.is_some_and(|a| active >= a) {
        out.push("max_active_bookings");
    }
    let held: f64 = mine
        .iter()
        .filter(|r| r.start > now)
        .map(|r| r.gpus.len() as f64 * (r.end - r.start).num_minutes() as f64 / 60.0)
        .sum();
    let asked = if req.start > now {
        f64::from(req.gpus) * hours(req)
    } else {
        0.0
    };
    if p.gpu_hours.is_some_and(|g| asked > 0.0 && held + asked > g) {
        out.push("max_gpu_hours_ahead");
    }
    out
}

fn admit_with(config: &Config, rows: &[Row], req: &Request) -> Result<Placed, Refusal> {
    let ctx = Context {
        config,
        rows: rows.iter().collect(),
        now_slot: now(),
    };
    admit_placed(&ctx, req)
}

fn moved(req: &Request, start: NaiveDateTime) -> Request {
    Request {
        start,
        end: start + (req.end - req.start),
        ..req.clone()
    }
}

/// Why `refusal` of `req` was necessary, or why it was not.
fn necessary(
    m: &Model,
    config: &Config,
    rows: &[Row],
    req: &Request,
    refusal: &Refusal,
) -> Result<(), String> {
    let max = m.user_max(&req.user_id);
    let asked = [req.cpus, f64::from(req.memory), f64::from(req.gpus)];
    match refusal {
        Refusal::OverMaximum { field, .. } => {
            let r = *field as usize;
            if asked[r] <= max[r] + 1e-9 {
                return Err(format!("over_maximum but the user's max is {max:?}"));
            }
        }
        Refusal::OwnOverlap { .. } => {
            if !rows
                .iter()
                .any(|r| r.user_id == req.user_id && r.start < req.end && req.start < r.end)
            {
                return Err("own_overlap without an overlapping own row".into());
            }
        }
        Refusal::Policy { .. } => {
            let code = refusal.code();
            if !broken_policy(m, rows, req).contains(&code) {
                return Err(format!("{code}, but a recount breaks no such policy"));
            }
        }
        Refusal::Capacity {
            scope,
            resource,
            at,
            until,
            ..
        } => {
            let count = match scope {
                ScopeName::Host => Count::Host,
                ScopeName::Node(n) => Count::Node(m.node_index(n).ok_or("an unknown node")?),
                ScopeName::Group(name) => {
                    let g = m
                        .group_of(&req.user_id)
                        .ok_or("a group refusal for a user in no group")?;
                    if m.groups[g].name != *name {
                        return Err(format!("refused by {name}, not the user's group"));
                    }
                    Count::Group(g)
                }
            };
            let r = *resource as usize;
            if !would_exceed(m, rows, req, count, r) {
                return Err(format!(
                    "{count:?} {resource} refused, but the brute force fits it"
                ));
            }
            if !matches!(count, Count::Group(_)) {
                machines_all_full(m, rows, req)?;
            }
            if !(req.start <= *at && at < until && *until <= req.end) {
                return Err(format!("stretch {at} to {until} is outside the window"));
            }
            // The stretch named really is over, in its first slot.
            let one = Request {
                start: *at,
                end: *at + Duration::minutes(30),
                ..req.clone()
            };
            if !would_exceed(m, rows, &one, count, r) {
                return Err(format!("not over at {at}, where the refusal says"));
            }
            let mut without = config.clone();
            match count {
                Count::Group(g) => {
                    // Take out that group's total: the host alone must take the booking.
                    without.capability.groups.0[g].1.total = Total::default();
                    if let Err(again) = admit_with(&without, rows, req) {
                        return Err(format!(
                            "refused by group {} but without its total still refused: {again}",
                            m.groups[g].name
                        ));
                    }
                }
                Count::Host if *resource != Resource::Gpus => {
                    // Make the host's cpus or memory boundless: not refused for it again.
                    if *resource == Resource::Cpus {
                        without.capability.max.cpus = 1e9;
                    } else {
                        without.capability.max.memory = 1e9;
                    }
                    if let Err(Refusal::Capacity {
                        scope: ScopeName::Host,
                        resource: again,
                        ..
                    }) = admit_with(&without, rows, req)
                    {
                        if again == *resource {
                            return Err("still refused with a boundless host".into());
                        }
                    }
                }
                Count::Host | Count::Node(_) => {}
            }
        }
        Refusal::NoGpuFree { asked, node, .. } => {
            let machine = match node {
                Some(n) => Count::Node(m.node_index(n).ok_or("an unknown node")?),
                None => Count::Host,
            };
            let free = gpus_free_throughout_on(m, rows, req, machine);
            if free >= *asked as usize {
                return Err(format!("no_gpu_free, but GPUs free throughout: {free}"));
            }
            machines_all_full(m, rows, req)?;
        }
        other => return Err(format!("a refusal the generator never provokes: {other:?}")),
    }
    Ok(())
}

/// A refusal for the machine's room: no machine the request could go to had it.
fn machines_all_full(m: &Model, rows: &[Row], req: &Request) -> Result<(), String> {
    match candidates(m, req)
        .into_iter()
        .find(|&c| machine_fits(m, rows, req, c))
    {
        Some(c) => Err(format!("refused for room, but {c:?} has it")),
        None => Ok(()),
    }
}

/// On a cluster: the node chosen is one the request may go to, and with `any` no node
/// before it in the file could have taken it.
fn placed_well(m: &Model, rows: &[Row], req: &Request, node: Option<&str>) -> Result<(), String> {
    if m.nodes.is_empty() {
        return match node {
            None => Ok(()),
            Some(n) => Err(format!("a single host placed it on {n}")),
        };
    }
    let chosen = node
        .and_then(|n| m.node_index(n))
        .ok_or_else(|| format!("placed on {node:?}"))?;
    let allowed = candidates(m, req);
    if !allowed.contains(&Count::Node(chosen)) {
        return Err(format!("placed on {node:?}, not asked for"));
    }
    if let Some(earlier) = (0..chosen)
        .find(|&i| allowed.contains(&Count::Node(i)) && machine_fits(m, rows, req, Count::Node(i)))
    {
        return Err(format!(
            "placed on {node:?}, but {earlier} came first and had room"
        ));
    }
    Ok(())
}

/// An admitted request breaks no maximum, no policy and no own booking.
fn admissible(m: &Model, rows: &[Row], req: &Request, gpus: &GpuSet) -> Result<(), String> {
    let max = m.user_max(&req.user_id);
    let asked = [req.cpus, f64::from(req.memory), f64::from(req.gpus)];
    if (0..3).any(|r| asked[r] > max[r] + 1e-9) {
        return Err(format!("admitted past the user's max {max:?}"));
    }
    let broken = broken_policy(m, rows, req);
    if !broken.is_empty() {
        return Err(format!("admitted though it breaks {broken:?}"));
    }
    if rows
        .iter()
        .any(|r| r.user_id == req.user_id && r.start < req.end && req.start < r.end)
    {
        return Err("admitted over the user's own booking".into());
    }
    if gpus.len() != req.gpus as usize {
        return Err(format!("{} GPUs asked, got {gpus}", req.gpus));
    }
    Ok(())
}

/// The suggestion is admitted, as long and no earlier than asked, within the user's
/// `max_days_ahead`, and no start between the asked one and it would have been admitted;
/// no suggestion means no start up to the last moment that matters is admitted.
fn suggestion_holds(
    m: &Model,
    config: &Config,
    rows: &[Row],
    req: &Request,
    refusal: &Refusal,
) -> Result<(), String> {
    if !refusal.is_capacity() {
        return match refusal.suggestion() {
            None => Ok(()),
            Some(w) => Err(format!(
                "a suggestion {w} for a refusal of the request itself"
            )),
        };
    }
    let days = m.policies(&req.user_id).days.unwrap_or(14);
    let latest = now() + Duration::days(i64::from(days));
    let tried_until = match refusal.suggestion() {
        Some(w) => {
            if w.end - w.start != req.end - req.start || w.start < req.start {
                return Err(format!("suggested {w} for {req}"));
            }
            if w.start > latest {
                return Err(format!("suggested {w} past max_days_ahead {days}"));
            }
            let there = moved(req, w.start);
            let got = admit_with(config, rows, &there)
                .map_err(|e| format!("the suggestion {w} is refused: {e}"))?;
            if got.node.as_deref() != refusal.suggested_node() {
                return Err(format!(
                    "suggested {w} on {:?}, admitted there on {:?}",
                    refusal.suggested_node(),
                    got.node
                ));
            }
            w.start - Duration::minutes(30)
        }
        // Past the last row's end nothing changes but the days ahead.
        None => latest.min(span(rows).map_or(req.start, |(_, to)| to.max(req.start))),
    };
    let mut s = req.start;
    while s <= tried_until {
        if admit_with(config, rows, &moved(req, s)).is_ok() {
            return Err(format!(
                "{s} is admitted, earlier than the suggestion {:?}",
                refusal.suggestion()
            ));
        }
        s += Duration::minutes(30);
    }
    Ok(())
}

/// Mostly small requests, a few large ones; mostly one GPU, so that GPUs held for part
/// of a window (no single id free throughout) come up as well as full scopes.
fn random_request(m: &Model, rng: &mut Rng) -> Request {
    let u = &m.users[rng.range(0, m.users.len() as i64 - 1) as usize];
    let start = slot(if rng.chance(4, 5) {
        rng.range(-4, 40)
    } else {
        rng.range(40, 160)
    });
    let length = rng.range(1, 12);
    let big = rng.chance(1, 4);
    let gpus = match rng.range(0, 9) {
        0 | 1 => 0,
        2 | 3 => rng.range(0, m.host[2] as i64),
        _ => 1.min(m.host[2] as i64),
    };
    Request {
        user_id: u.id.clone(),
        cpus: if big {
            rng.halves(1.0, m.host[0] + 0.5)
        } else {
            rng.halves(1.0, 2.0)
        },
        memory: if big {
            rng.range(1, m.host[1] as i64)
        } else {
            rng.range(1, 3)
        } as u32,
        gpus: gpus as u32,
        start,
        end: start + Duration::minutes(30 * length),
        forward_port: u.port,
        image: None,
        node: NodeChoice::Any,
    }
}

/// [`random_request`] on a cluster: whole cpus, and `any` node or a named one.
fn random_cluster_request(m: &Model, rng: &mut Rng) -> Request {
    let mut req = random_request(m, rng);
    req.cpus = req.cpus.ceil();
    if rng.chance(1, 2) {
        let i = rng.range(0, m.nodes.len() as i64 - 1) as usize;
        req.node = NodeChoice::Named(m.nodes[i].0.clone());
    }
    req
}

/// What one case saw, for the totals checked at the end.
#[derive(Debug, Default)]
struct Seen {
    admitted: usize,
    codes: std::collections::BTreeMap<&'static str, usize>,
    suggestions: usize,
}

/// A few rows placed by hand rather than by the checker (GPU ids picked at random, as
/// an older schedule or an admin's edit may have them), kept only where they break no
/// limit: they leave GPUs free at every instant but no single one free throughout.
fn seed_rows(m: &Model, rng: &mut Rng) -> Vec<Row> {
    let mut rows = Vec::new();
    // Spread over nodes, a cluster needs more of them to leave the same gaps.
    let per_machine = if m.nodes.is_empty() {
        1
    } else {
        m.nodes.len() as i64
    };
    for _ in 0..rng.range(0, 12) * per_machine {
        let u = &m.users[rng.range(0, m.users.len() as i64 - 1) as usize];
        let start = slot(rng.range(-4, 40));
        let gpus = if m.host[2] > 0.0 {
            vec![rng.range(0, m.host[2] as i64 - 1) as u32]
        } else {
            vec![]
        };
        let mut row = Row {
            start,
            end: start + Duration::minutes(30 * rng.range(1, 3)),
            user_id: u.id.clone(),
            cpus: 1.0,
            memory: 1,
            gpus: GpuSet::new(gpus),
            forward_port: u.port,
            image: None,
            extra_command: None,
            node: None,
        };
        if !m.nodes.is_empty() {
            let (name, cap) = &m.nodes[rng.range(0, m.nodes.len() as i64 - 1) as usize];
            row.node = Some(name.clone());
            // An id of that node's, or none when it has no GPUs.
            let ids: Vec<u32> = row.gpus.ids().iter().map(|&id| id % 3).collect();
            row.gpus = GpuSet::new(
                ids.into_iter()
                    .filter(|&id| f64::from(id) < cap[2])
                    .collect(),
            );
        }
        let own = rows
            .iter()
            .any(|r: &Row| r.user_id == row.user_id && r.start < row.end && row.start < r.end);
        rows.push(row);
        if own || invariants(m, &rows).is_err() {
            rows.pop();
        }
    }
    rows
}

fn run_case(seed: u64, seen: &mut Seen, cluster: bool) -> Result<(), String> {
    let mut rng = Rng::new(seed);
    let mut m = Model::random(&mut rng);
    let dir = common::root_from("lab");
    let mut yaml = m.yaml();
    std::fs::write(dir.path().join("cfg/capability_config.yaml"), &yaml).unwrap();
    if cluster {
        m.add_nodes(&mut rng);
        let nodes = m.cluster_yaml();
        std::fs::write(dir.path().join("cfg/cluster.yaml"), &nodes).unwrap();
        yaml += &format!("cluster.yaml:\n{nodes}");
    }
    let config = Root::at(dir.path())
        .load_config()
        .map_err(|e| format!("the generated config does not load: {e}\n{yaml}"))?;
    let mut rows = seed_rows(&m, &mut rng);
    for step in 0..REQUESTS_PER_CASE {
        let req = if cluster {
            random_cluster_request(&m, &mut rng)
        } else {
            random_request(&m, &mut rng)
        };
        let at = |rows: &[Row], e: String| {
            format!("step {step}, {req}: {e}\nconfig:\n{yaml}rows: {rows:#?}")
        };
        match admit_with(&config, &rows, &req) {
            Ok(Placed { gpus, node }) => {
                admissible(&m, &rows, &req, &gpus).map_err(|e| at(&rows, e))?;
                placed_well(&m, &rows, &req, node.as_deref()).map_err(|e| at(&rows, e))?;
                seen.admitted += 1;
                rows.push(Row {
                    start: req.start,
                    end: req.end,
                    user_id: req.user_id.clone(),
                    cpus: req.cpus,
                    memory: req.memory,
                    gpus,
                    forward_port: req.forward_port,
                    image: None,
                    extra_command: None,
                    node,
                });
                invariants(&m, &rows).map_err(|e| at(&rows, e))?;
            }
            Err(refusal) => {
                *seen.codes.entry(refusal.code()).or_default() += 1;
                seen.suggestions += usize::from(refusal.suggestion().is_some());
                necessary(&m, &config, &rows, &req, &refusal)
                    .map_err(|e| at(&rows, format!("{refusal}: {e}")))?;
                suggestion_holds(&m, &config, &rows, &req, &refusal)
                    .map_err(|e| at(&rows, format!("{refusal}: {e}")))?;
            }
        }
    }
    Ok(())
}

#[test]
fn random_bookings_never_overfill_a_scope_and_every_refusal_was_necessary() {
    let seeds: Vec<u64> = match std::env::var("CAPACITY_PROPERTY_SEED") {
        Ok(s) => vec![s.parse().expect("CAPACITY_PROPERTY_SEED is a number")],
        Err(_) => (0..CASES).collect(),
    };
    let mut seen = Seen::default();
    for &seed in &seeds {
        if let Err(e) = run_case(seed, &mut seen, false) {
            panic!("seed {seed} (replay with CAPACITY_PROPERTY_SEED={seed}): {e}");
        }
    }
    if seeds.len() > 1 {
        // The generator must reach every rule, or the property proves little.
        for code in [
            "host_capacity",
            "group_total",
            "no_gpu_free",
            "over_maximum",
            "own_overlap",
            "max_active_bookings",
            "max_hours_per_booking",
            "max_gpu_hours_ahead",
            "max_days_ahead",
        ] {
            assert!(
                seen.codes.get(code).is_some_and(|n| *n >= 5),
                "{code} seen too rarely: {:?}",
                seen.codes
            );
        }
        assert!(seen.admitted > seeds.len() * 3, "{seen:?}");
        assert!(seen.suggestions > 50, "{seen:?}");
    }
}

#[test]
fn on_a_cluster_random_bookings_never_overfill_a_node_and_every_refusal_was_necessary() {
    let seeds: Vec<u64> = match std::env::var("CLUSTER_PROPERTY_SEED") {
        Ok(s) => vec![s.parse().expect("CLUSTER_PROPERTY_SEED is a number")],
        Err(_) => (0..CLUSTER_CASES).collect(),
    };
    let mut seen = Seen::default();
    for &seed in &seeds {
        if let Err(e) = run_case(seed, &mut seen, true) {
            panic!("seed {seed} (replay with CLUSTER_PROPERTY_SEED={seed}): {e}");
        }
    }
    if seeds.len() > 1 {
        // A GPU free at every instant but no id free throughout is rarer spread over
        // nodes: once is enough to have checked it.
        for (code, least) in [
            ("node_capacity", 5),
            ("group_total", 5),
            ("own_overlap", 5),
            ("no_gpu_free", 1),
        ] {
            assert!(
                seen.codes.get(code).is_some_and(|n| *n >= least),
                "{code} seen too rarely: {:?}",
                seen.codes
            );
        }
        assert!(seen.admitted > seeds.len() * 3, "{seen:?}");
        assert!(seen.suggestions > 50, "{seen:?}");
    }
}
