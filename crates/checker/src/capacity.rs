//! Capacity over time, in one place: a *scope* is a budget that some rows share at every
//! instant (the host: every row; on a cluster, each node instead: the rows booked on it; a
//! group: its members' rows, on whichever node), and the same arithmetic
//! answers the three questions asked of it — would a request overflow a scope somewhere
//! in its window (admission), which candidate windows can fit (the suggestion's screen),
//! and where is a scope over as the schedule stands (the problem report). A new scope is
//! one more entry in [`scopes`].

use chrono::NaiveDateTime;
use hostinfo::cluster::ClusterConfig;
use hostinfo::config::CapabilityConfig;
use hostinfo::schedule::Row;
use serde::{Deserialize, Serialize};

use crate::timeline::{SlidingMax, Timeline};

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Resource {
    Cpus,
    Memory,
    Gpus,
}

impl Resource {
    pub const ALL: [Resource; 3] = [Resource::Cpus, Resource::Memory, Resource::Gpus];

    /// How a number of it reads: `4 GPUs`, `32 GB of memory`, `6 cpus`.
    pub fn amount(self, n: f64) -> String {
        match self {
            Resource::Cpus => format!("{n} cpus"),
            Resource::Memory => format!("{n} GB of memory"),
            Resource::Gpus if n == 1.0 => "1 GPU".into(),
            Resource::Gpus => format!("{n} GPUs"),
        }
    }
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

/// Which budget: the host's, a cluster node's, or a group's `total`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum ScopeName {
    Host,
    Group(String),
    /// A node of `cfg/cluster.yaml`: on a cluster, the nodes stand in for the host.
    Node(String),
}

impl std::fmt::Display for ScopeName {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            ScopeName::Host => f.write_str("the host"),
            ScopeName::Group(g) => write!(f, "group {g}"),
            ScopeName::Node(n) => write!(f, "node {n}"),
        }
    }
}

/// Whose budget a scope is.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Owner<'c> {
    Host,
    Node(&'c str),
    Group(&'c str),
}

/// A budget and the rows that draw on it.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Scope<'c> {
    owner: Owner<'c>,
    /// Capacity of cpus, memory and GPUs, in [`Resource::ALL`] order; `None` is no limit.
    capacity: [Option<f64>; 3],
}

/// Every scope of the installation: the host (on a cluster, each node in the file's
/// order instead), then each group with a `total`. Groups span the whole cluster.
pub fn scopes<'c>(cap: &'c CapabilityConfig, cluster: Option<&'c ClusterConfig>) -> Vec<Scope<'c>> {
    let machines: Vec<Scope<'c>> = match cluster {
        None => vec![Scope {
            owner: Owner::Host,
            capacity: [
                Some(cap.max.cpus),
                Some(cap.max.memory),
                Some(f64::from(cap.max.gpus)),
            ],
        }],
        Some(cluster) => cluster
            .nodes
            .iter()
            .map(|(name, node)| Scope {
                owner: Owner::Node(name.as_str()),
                capacity: [
                    Some(f64::from(node.cpus)),
                    Some(f64::from(node.memory)),
                    Some(f64::from(node.gpus)),
                ],
            })
            .collect(),
    };
    let groups = cap.groups.0.iter().map(|(name, g)| Scope {
        owner: Owner::Group(name.as_str()),
        capacity: [g.total.cpus, g.total.memory, g.total.gpus.map(f64::from)],
    });
    machines
        .into_iter()
        .chain(groups)
        .filter(|s| s.capacity.iter().any(Option::is_some))
        .collect()
}

/// The scopes a booking of `user_id` draws on: the host (on a cluster, node `node`; every
/// node when `None`), and the user's group when it has a `total`.
pub fn scopes_of<'c>(
    cap: &'c CapabilityConfig,
    cluster: Option<&'c ClusterConfig>,
    user_id: &str,
    node: Option<&str>,
) -> Vec<Scope<'c>> {
    let group = cap.group_of(user_id).map(|(name, _)| name);
    scopes(cap, cluster)
        .into_iter()
        .filter(|s| match s.owner {
            Owner::Host => true,
            Owner::Node(n) => node.is_none_or(|want| want == n),
            Owner::Group(g) => Some(g) == group,
        })
        .collect()
}

impl<'c> Scope<'c> {
    pub fn name(&self) -> ScopeName {
        match self.owner {
            Owner::Host => ScopeName::Host,
            Owner::Node(n) => ScopeName::Node(n.to_string()),
            Owner::Group(g) => ScopeName::Group(g.to_string()),
        }
    }

    /// The machine's own budget: the host, or on a cluster a node (not a group's total).
    pub fn is_host(&self) -> bool {
        !matches!(self.owner, Owner::Group(_))
    }

    /// The node this scope is, on a cluster.
    pub fn node(&self) -> Option<&'c str> {
        match self.owner {
            Owner::Node(n) => Some(n),
            _ => None,
        }
    }

    pub fn capacity(&self, r: Resource) -> Option<f64> {
        self.capacity[r as usize]
    }

    /// Whether `row` draws on this scope: every row draws on the host, a node's rows on
    /// that node (a row without a node draws on none: the problem report names it), a
    /// group's members' rows on its total.
    pub fn holds(&self, cap: &CapabilityConfig, row: &Row) -> bool {
        match self.owner {
            Owner::Host => true,
            Owner::Node(n) => row.node.as_deref() == Some(n),
            Owner::Group(g) => cap
                .group_of(&row.user_id)
                .is_some_and(|(name, _)| name == g),
        }
    }

    /// The rows among `rows` that draw on this scope.
    pub fn rows<'r>(
        &self,
        cap: &CapabilityConfig,
        rows: impl IntoIterator<Item = &'r Row>,
    ) -> Vec<&'r Row> {
        rows.into_iter().filter(|r| self.holds(cap, r)).collect()
    }
}

/// An amount of each resource, in [`Resource::ALL`] order.
pub type Amounts = [f64; 3];

/// What a row takes of each resource.
pub fn amounts_of(row: &Row) -> Amounts {
    [row.cpus, f64::from(row.memory), row.gpus.len() as f64]
}

/// A stretch of time where a scope's use, plus what was asked, is over its capacity.
#[derive(Debug, Clone, PartialEq)]
pub struct Over {
    pub scope: ScopeName,
    pub resource: Resource,
    pub from: NaiveDateTime,
    pub until: NaiveDateTime,
    /// The most already booked within the stretch.
    pub booked: f64,
    pub asked: f64,
    pub capacity: f64,
}

/// Use of one resource on each step of `t`.
fn used(t: &Timeline, r: Resource, i: usize) -> f64 {
    match r {
        Resource::Cpus => t.cpus[i],
        Resource::Memory => t.memory[i] as f64,
        Resource::Gpus => f64::from(t.gpus[i]),
    }
}

/// Every stretch of `[from, until)` where `t`'s use of `r` plus `asked` passes
/// `capacity` (use is 0 outside `t`'s steps).
fn stretches(
    t: &Timeline,
    r: Resource,
    asked: f64,
    capacity: f64,
    from: NaiveDateTime,
    until: NaiveDateTime,
) -> Vec<(NaiveDateTime, NaiveDateTime, f64)> {
    // (start of step, use) over the window, with the gaps as use 0.
    let mut steps: Vec<(NaiveDateTime, f64)> = Vec::new();
    let range = t.steps_within(from, until);
    if t.points.first().is_none_or(|p| *p > from) {
        steps.push((from, 0.0));
    }
    for i in range {
        steps.push((t.points[i].max(from), used(t, r, i)));
    }
    let over = |u: f64| u + asked > capacity + 1e-9;
    let mut out = Vec::new();
    let mut i = 0;
    while i < steps.len() {
        if !over(steps[i].1) {
            i += 1;
            continue;
        }
        let start = steps[i].0;
        let mut peak = steps[i].1;
        while i < steps.len() && over(steps[i].1) {
            peak = peak.max(steps[i].1);
            i += 1;
        }
        let end = steps.get(i).map_or(until, |s| s.0).min(until);
        if end > start {
            out.push((start, end, peak));
        }
    }
    out
}

/// The first place where adding `asked` over `[start, end)` would put a scope of
/// `scopes` over, trying each scope in order and cpus, memory, GPUs within each.
pub fn first_over(
    cap: &CapabilityConfig,
    scopes: &[Scope],
    rows: &[&Row],
    asked: Amounts,
    start: NaiveDateTime,
    end: NaiveDateTime,
) -> Option<Over> {
    for scope in scopes {
        let t = Timeline::build_clipped(scope.rows(cap, rows.iter().copied()), Some((start, end)));
        for r in Resource::ALL {
            let Some(capacity) = scope.capacity(r) else {
                continue;
            };
            let a = asked[r as usize];
            if let Some(&(from, until, booked)) = stretches(&t, r, a, capacity, start, end).first()
            {
                return Some(Over {
                    scope: scope.name(),
                    resource: r,
                    from,
                    until,
                    booked,
                    asked: a,
                    capacity,
                });
            }
        }
    }
    None
}

/// Every stretch where a scope is over as the schedule stands (nothing asked); `cluster`
/// is `config.cluster` (`None` on a single host).
pub fn all_over<'r>(
    cap: &CapabilityConfig,
    cluster: Option<&ClusterConfig>,
    rows: impl IntoIterator<Item = &'r Row> + Clone,
) -> Vec<Over> {
    let mut out = Vec::new();
    for scope in scopes(cap, cluster) {
        let t = Timeline::build(scope.rows(cap, rows.clone()));
        let (Some(&first), Some(&last)) = (t.points.first(), t.points.last()) else {
            continue;
        };
        for r in Resource::ALL {
            let Some(capacity) = scope.capacity(r) else {
                continue;
            };
            for (from, until, booked) in stretches(&t, r, 0.0, capacity, first, last) {
                out.push(Over {
                    scope: scope.name(),
                    resource: r,
                    from,
                    until,
                    booked,
                    asked: 0.0,
                    capacity,
                });
            }
        }
    }
    out
}

/// Screens many candidate windows of one request against its scopes, each in O(log n):
/// a sliding maximum of every limited resource over each scope's timeline. Windows must
/// be tried in order of start (the sliding maximum only moves forward).
#[derive(Debug)]
pub struct Screen {
    scopes: Vec<(Timeline, Vec<Limited>)>,
}

/// One limited resource of a scope: its use over the timeline, what is asked, the capacity.
type Limited = (SlidingMax<f64>, f64, f64);

impl Screen {
    pub fn new(cap: &CapabilityConfig, scopes: &[Scope], rows: &[&Row], asked: Amounts) -> Self {
        let scopes = scopes
            .iter()
            .map(|scope| {
                let t = Timeline::build(scope.rows(cap, rows.iter().copied()));
                let limited = Resource::ALL
                    .into_iter()
                    .filter_map(|r| {
                        let capacity = scope.capacity(r)?;
                        let series = (0..t.points.len()).map(|i| used(&t, r, i)).collect();
                        Some((SlidingMax::new(series), asked[r as usize], capacity))
                    })
                    .collect();
                (t, limited)
            })
            .collect();
        Screen { scopes }
    }

    /// Whether the request fits every scope over `[start, end)`.
    pub fn fits(&mut self, start: NaiveDateTime, end: NaiveDateTime) -> bool {
        self.scopes.iter_mut().all(|(t, limited)| {
            let steps = t.steps_within(start, end);
            limited.iter_mut().all(|(max, asked, capacity)| {
                let booked = max.max(steps.start, steps.end).unwrap_or(0.0);
                booked + *asked <= *capacity + 1e-9
            })
        })
    }
}
