//! A user's effective limits (`cfg/capability_config.yaml` in docs/file-formats.md), each
//! resolved key by key: the user's exception, else their group's tier, else the lab
//! default, else the host's capacity (for the maximums) or no limit (for the policies).
//! `max` means the host's capacity of that field.

use hostinfo::config::{CapabilityConfig, Limit, Limits, Policies};
use serde::{Deserialize, Serialize};

/// The most one booking of a user may take.
#[derive(Debug, Clone, Copy, PartialEq, Serialize)]
pub struct UserMax {
    pub cpus: f64,
    /// GB.
    pub memory: f64,
    pub gpus: u32,
    /// GB.
    pub backup_space: f64,
    /// GB.
    pub work_space: f64,
}

/// Where an effective limit came from.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Source {
    /// The user's entry in `max_custom_capability`.
    Exception,
    /// The `max_capability` or `policies` of the user's group.
    Group,
    /// `max_default_capability` or the lab-wide `policies`.
    Default,
    /// Nothing set it: the host's capacity (a maximum) or no limit (a policy).
    Host,
}

/// The five per-booking maximums, each as (value in the file, where it came from).
fn max_sources(
    cap: &CapabilityConfig,
    user_id: &str,
) -> [(&'static str, Option<Limit>, Source); 5] {
    let none = Limits::default();
    let custom = cap.exception(user_id).map_or(&none, |e| &e.limits);
    let group = cap
        .group_of(user_id)
        .map_or(&none, |(_, g)| &g.max_capability);
    let default = &cap.default_limits;
    let pick = |f: fn(&Limits) -> Option<Limit>| {
        f(custom)
            .map(|l| (Some(l), Source::Exception))
            .or_else(|| f(group).map(|l| (Some(l), Source::Group)))
            .or_else(|| f(default).map(|l| (Some(l), Source::Default)))
            .unwrap_or((None, Source::Host))
    };
    let at = |key, (l, s): (Option<Limit>, Source)| (key, l, s);
    [
        at("cpus", pick(|l| l.cpus)),
        at("memory", pick(|l| l.memory)),
        at("gpus", pick(|l| l.gpus)),
        at("backup_space", pick(|l| l.backup_space)),
        at("work_space", pick(|l| l.work_space)),
    ]
}

/// Resolves a user's maximums: exception → group tier → default → host max.
pub fn user_max(cap: &CapabilityConfig, user_id: &str) -> UserMax {
    let host = &cap.max;
    let [cpus, memory, gpus, backup, work] = max_sources(cap, user_id);
    let value = |(_, l, _): (&str, Option<Limit>, Source), host_max: f64| {
        l.map_or(host_max, |l| l.resolve(host_max))
    };
    UserMax {
        cpus: value(cpus, host.cpus),
        memory: value(memory, host.memory),
        gpus: value(gpus, f64::from(host.gpus)) as u32,
        backup_space: value(backup, host.backup_space),
        work_space: value(work, host.work_space),
    }
}

/// The user's own policies (their exception's) and their group's, as written.
fn policy_layers(cap: &CapabilityConfig, user_id: &str) -> (Policies, Policies) {
    let own = cap
        .exception(user_id)
        .map(|e| e.policies)
        .unwrap_or_default();
    let group = cap
        .group_of(user_id)
        .map(|(_, g)| g.policies)
        .unwrap_or_default();
    (own, group)
}

/// Resolves a user's policies: exception → group → lab; a key set nowhere is no limit.
pub fn user_policies(cap: &CapabilityConfig, user_id: &str) -> Policies {
    let (own, group) = policy_layers(cap, user_id);
    own.or(group).or(cap.policies)
}

/// One effective limit, explained.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Explained {
    /// The key as written in the file: `cpus` … `work_space`, or a policy's name.
    pub key: String,
    /// The number in force; `null` for a policy that is not set anywhere (no limit), and
    /// for a policy that is not a number (`text` holds it).
    pub value: Option<f64>,
    /// A policy in words: `idle_reclaim` (`off`, `when_needed`, `always`),
    /// `stop_unbooked_gpu_use` (`true`, `false`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub text: Option<String>,
    pub from: Source,
}

/// Everything that bounds one user's bookings, and where each limit came from.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Explanation {
    pub version: u32,
    pub user_id: String,
    pub allowed: bool,
    pub group: Option<String>,
    /// Why the user has an exception (`reason:` of their `max_custom_capability` entry).
    pub reason: Option<String>,
    /// The per-booking maximums, then the policies.
    pub limits: Vec<Explained>,
    /// On a cluster, what each node offers (a booking runs on one); left out on a single
    /// host. See [`Explanation::with_nodes`].
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub nodes: Vec<NodeCapacity>,
}

/// What one cluster node offers to bookings.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct NodeCapacity {
    pub name: String,
    pub cpus: u32,
    /// GB.
    pub memory: u32,
    pub gpus: u32,
}

/// What each node of `cluster` offers, in its order; none on a single host.
pub fn node_capacities(cluster: Option<&hostinfo::cluster::ClusterConfig>) -> Vec<NodeCapacity> {
    cluster.map_or_else(Vec::new, |c| {
        c.nodes
            .iter()
            .map(|(name, n)| NodeCapacity {
                name: name.clone(),
                cpus: n.cpus,
                memory: n.memory,
                gpus: n.gpus,
            })
            .collect()
    })
}

/// Explains `user_id`'s limits.
pub fn explain(cap: &CapabilityConfig, user_id: &str) -> Explanation {
    let max = user_max(cap, user_id);
    let values = [
        max.cpus,
        max.memory,
        f64::from(max.gpus),
        max.backup_space,
        max.work_space,
    ];
    let mut limits: Vec<Explained> = max_sources(cap, user_id)
        .into_iter()
        .zip(values)
        .map(|((key, _, from), value)| Explained {
            key: key.into(),
            value: Some(value),
            text: None,
            from,
        })
        .collect();
    let (own, group) = policy_layers(cap, user_id);
    let resolved = user_policies(cap, user_id);
    for key in hostinfo::groups::POLICY_KEYS {
        let from = if own.has(key) {
            Source::Exception
        } else if group.has(key) {
            Source::Group
        } else if cap.policies.has(key) {
            Source::Default
        } else {
            Source::Host
        };
        use hostinfo::groups as g;
        let text = match key {
            "idle_reclaim" => Some(resolved.idle_reclaim.unwrap_or_default().as_str().into()),
            "stop_unbooked_gpu_use" => {
                Some(resolved.stop_unbooked_gpu_use.unwrap_or(false).to_string())
            }
            _ => None,
        };
        // The idle keys have defaults (they matter only once idle_reclaim is on).
        let idle = |v: Option<u32>, default: u32| Some(f64::from(v.unwrap_or(default)));
        let value = match key {
            "max_active_bookings" => resolved.max_active_bookings.map(f64::from),
            "max_hours_per_booking" => resolved.max_hours_per_booking,
            "max_gpu_hours_ahead" => resolved.max_gpu_hours_ahead,
            "max_waitlist_entries" => resolved.max_waitlist_entries.map(f64::from),
            "idle_reclaim" | "stop_unbooked_gpu_use" => None,
            "idle_timeout_minutes" => idle(resolved.idle_timeout_minutes, g::IDLE_TIMEOUT_MINUTES),
            "idle_grace_minutes" => idle(resolved.idle_grace_minutes, g::IDLE_GRACE_MINUTES),
            "idle_gpu_util_percent" => {
                idle(resolved.idle_gpu_util_percent, g::IDLE_GPU_UTIL_PERCENT)
            }
            "idle_cpu_percent" => Some(resolved.idle_cpu_percent.unwrap_or(g::IDLE_CPU_PERCENT)),
            // Unset, the horizon every tool keeps still applies.
            _ => Some(f64::from(
                resolved
                    .max_days_ahead
                    .unwrap_or(hostinfo::groups::MAX_DAYS_AHEAD),
            )),
        };
        limits.push(Explained {
            key: key.into(),
            value,
            text,
            from,
        });
    }
    Explanation {
        version: crate::report::VERSION,
        user_id: user_id.to_string(),
        allowed: cap.allow_user_ids.iter().any(|a| a == user_id),
        group: cap.group_of(user_id).map(|(name, _)| name.to_string()),
        reason: cap.exception(user_id).and_then(|e| e.reason.clone()),
        limits,
        nodes: Vec::new(),
    }
}

impl Explanation {
    /// With each node of `cluster` (`None`, a single host: unchanged).
    pub fn with_nodes(mut self, cluster: Option<&hostinfo::cluster::ClusterConfig>) -> Self {
        self.nodes = node_capacities(cluster);
        self
    }

    /// The readable form, one limit a line: `gpus  4  exception: thesis runs`.
    pub fn to_text(&self) -> String {
        let mut out = format!(
            "{}{}{}\n",
            self.user_id,
            match &self.group {
                Some(g) => format!(", group {g}"),
                None => ", in no group".into(),
            },
            if self.allowed {
                ""
            } else {
                " (not in allow_userIDs: may not book)"
            }
        );
        for l in &self.limits {
            let value = match (&l.text, l.value) {
                (Some(t), _) => t.clone(),
                (None, Some(v)) => format!("{v}"),
                (None, None) => "no limit".into(),
            };
            let from = match l.from {
                Source::Exception => match &self.reason {
                    Some(r) => format!("exception: {r}"),
                    None => "exception (no reason given)".into(),
                },
                Source::Group => format!("group {}", self.group.as_deref().unwrap_or("?")),
                Source::Default if hostinfo::groups::POLICY_KEYS.contains(&l.key.as_str()) => {
                    "lab policies".into()
                }
                Source::Default => "lab default".into(),
                Source::Host if l.key == "max_days_ahead" => "the two-week horizon".into(),
                Source::Host if l.key.starts_with("idle_") || l.key == "stop_unbooked_gpu_use" => {
                    "default".into()
                }
                Source::Host if l.value.is_some() => "host capacity".into(),
                Source::Host => "not set".into(),
            };
            out.push_str(&format!("  {:<22} {:<10} {from}\n", l.key, value));
        }
        if !self.nodes.is_empty() {
            out.push_str("each booking runs on one node, and fits within it:\n");
            for n in &self.nodes {
                out.push_str(&format!(
                    "  {:<22} {} cpus, {} GB, {} GPUs\n",
                    n.name, n.cpus, n.memory, n.gpus
                ));
            }
        }
        out
    }
}

/// Where `user_id`'s value of `key` (a maximum or a policy) comes from, in words, for
/// refusals: `group phd's policy`, `your exception, thesis runs`, `the lab default`.
pub fn source_text(cap: &CapabilityConfig, user_id: &str, key: &str) -> String {
    let e = explain(cap, user_id);
    let from = e
        .limits
        .iter()
        .find(|l| l.key == key)
        .map_or(Source::Default, |l| l.from);
    let policy = hostinfo::groups::POLICY_KEYS.contains(&key);
    match from {
        Source::Exception => match e.reason {
            Some(r) => format!("your exception, {r}"),
            None => "your exception".into(),
        },
        Source::Group if policy => format!("group {}'s policy", e.group.unwrap_or_default()),
        Source::Group => format!("group {}'s tier", e.group.unwrap_or_default()),
        Source::Default if policy => "the lab's policy".into(),
        Source::Default => "the lab default".into(),
        Source::Host => "the host's capacity".into(),
    }
}
