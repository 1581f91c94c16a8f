//! The group and fairness part of `cfg/capability_config.yaml` (docs/file-formats.md):
//! groups with members, a per-member tier and a total the members share; lab-wide policies,
//! overridden key by key by a group's and by a user's; and the reason an exception is given.
//! Every key is optional, so a file in the Python version's format means what it meant.

use std::collections::HashMap;
use std::path::{Path, PathBuf};

use serde::{Deserialize, Serialize};

use crate::config::Limits;
use crate::error::{Error, Result};
use crate::yaml::{self, OrderedMap, ScalarString};

/// As far ahead as a booking may ever start, in days (the horizon every tool uses).
pub const MAX_DAYS_AHEAD: u32 = crate::clock::HORIZON_DAYS as u32;

/// Fairness rules; a key left out falls back (user → group → lab), and one left out
/// everywhere is no limit.
#[derive(Debug, Clone, Copy, Default, PartialEq, Deserialize, Serialize)]
#[serde(deny_unknown_fields)]
pub struct Policies {
    /// Bookings not yet over (running and future) one user may hold.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub max_active_bookings: Option<u32>,
    /// The longest one booking may be.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub max_hours_per_booking: Option<f64>,
    /// GPU-hours one user may hold in bookings that have not started yet.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub max_gpu_hours_ahead: Option<f64>,
    /// How many days after the current slot a booking may start (at most 14).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub max_days_ahead: Option<u32>,
    /// Waitlist entries one user may have at a time.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub max_waitlist_entries: Option<u32>,
    /// Whether a running booking whose GPUs sit idle is ended early (`monitor`'s idle check).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub idle_reclaim: Option<IdleReclaim>,
    /// How long a booking's GPUs must be idle before it is reclaimed.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub idle_timeout_minutes: Option<u32>,
    /// From a booking's start, how long it is never counted idle.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub idle_grace_minutes: Option<u32>,
    /// A GPU under this utilisation (percent) counts as idle.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub idle_gpu_util_percent: Option<u32>,
    /// A container under this CPU use (percent of one CPU) counts as idle.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub idle_cpu_percent: Option<f64>,
    /// Whether the monitor stops this installation's container that uses a GPU its
    /// booking does not hold (resolved for the container's user).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub stop_unbooked_gpu_use: Option<bool>,
}

/// `idle_reclaim:` — off (the default), only when someone could use the GPUs, or always.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Deserialize, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum IdleReclaim {
    #[default]
    Off,
    WhenNeeded,
    Always,
}

impl IdleReclaim {
    pub fn as_str(self) -> &'static str {
        match self {
            IdleReclaim::Off => "off",
            IdleReclaim::WhenNeeded => "when_needed",
            IdleReclaim::Always => "always",
        }
    }
}

/// The idle keys' values when left out everywhere (docs/file-formats.md).
pub const IDLE_TIMEOUT_MINUTES: u32 = 120;
pub const IDLE_GRACE_MINUTES: u32 = 30;
pub const IDLE_GPU_UTIL_PERCENT: u32 = 5;
pub const IDLE_CPU_PERCENT: f64 = 10.0;

/// The policy keys, as written in the file.
pub const POLICY_KEYS: [&str; 11] = [
    "max_active_bookings",
    "max_hours_per_booking",
    "max_gpu_hours_ahead",
    "max_days_ahead",
    "max_waitlist_entries",
    "idle_reclaim",
    "idle_timeout_minutes",
    "idle_grace_minutes",
    "idle_gpu_util_percent",
    "idle_cpu_percent",
    "stop_unbooked_gpu_use",
];

impl Policies {
    /// Each key of `self`, else of `fallback`.
    pub fn or(self, fallback: Policies) -> Policies {
        Policies {
            max_active_bookings: self.max_active_bookings.or(fallback.max_active_bookings),
            max_hours_per_booking: self
                .max_hours_per_booking
                .or(fallback.max_hours_per_booking),
            max_gpu_hours_ahead: self.max_gpu_hours_ahead.or(fallback.max_gpu_hours_ahead),
            max_days_ahead: self.max_days_ahead.or(fallback.max_days_ahead),
            max_waitlist_entries: self.max_waitlist_entries.or(fallback.max_waitlist_entries),
            idle_reclaim: self.idle_reclaim.or(fallback.idle_reclaim),
            idle_timeout_minutes: self.idle_timeout_minutes.or(fallback.idle_timeout_minutes),
            idle_grace_minutes: self.idle_grace_minutes.or(fallback.idle_grace_minutes),
            idle_gpu_util_percent: self
                .idle_gpu_util_percent
                .or(fallback.idle_gpu_util_percent),
            idle_cpu_percent: self.idle_cpu_percent.or(fallback.idle_cpu_percent),
            stop_unbooked_gpu_use: self
                .stop_unbooked_gpu_use
                .or(fallback.stop_unbooked_gpu_use),
        }
    }

    /// Whether a key is set, by its name in [`POLICY_KEYS`].
    pub fn has(&self, key: &str) -> bool {
        match key {
            "max_active_bookings" => self.max_active_bookings.is_some(),
            "max_hours_per_booking" => self.max_hours_per_booking.is_some(),
            "max_gpu_hours_ahead" => self.max_gpu_hours_ahead.is_some(),
            "max_days_ahead" => self.max_days_ahead.is_some(),
            "max_waitlist_entries" => self.max_waitlist_entries.is_some(),
            "idle_reclaim" => self.idle_reclaim.is_some(),
            "idle_timeout_minutes" => self.idle_timeout_minutes.is_some(),
            "idle_grace_minutes" => self.idle_grace_minutes.is_some(),
            "idle_gpu_util_percent" => self.idle_gpu_util_percent.is_some(),
            "idle_cpu_percent" => self.idle_cpu_percent.is_some(),
            "stop_unbooked_gpu_use" => self.stop_unbooked_gpu_use.is_some(),
            _ => false,
        }
    }

    /// The first value out of range, as (key, why).
    fn problem(&self) -> Option<(&'static str, String)> {
        if let Some(n) = self.max_active_bookings.filter(|n| *n == 0) {
            return Some((
                "max_active_bookings",
                format!("must be at least 1, found {n} (to stop someone booking, take them out of allow_userIDs)"),
            ));
        }
        if let Some(h) = self
            .max_hours_per_booking
            .filter(|h| !(h.is_finite() && *h >= 0.5))
        {
            return Some((
                "max_hours_per_booking",
                format!("must be a number of hours ≥ 0.5 (one slot), found {h}"),
            ));
        }
        if let Some(h) = self
            .max_gpu_hours_ahead
            .filter(|h| !(h.is_finite() && *h >= 0.0))
        {
            return Some((
                "max_gpu_hours_ahead",
                format!("must be a number ≥ 0, found {h}"),
            ));
        }
        if let Some(d) = self
            .max_days_ahead
            .filter(|d| !(1..=MAX_DAYS_AHEAD).contains(d))
        {
            return Some((
                "max_days_ahead",
                format!("must lie between 1 and {MAX_DAYS_AHEAD}, found {d}"),
            ));
        }
        // A timeout under one sampling interval would reclaim on one quiet sample.
        if let Some(m) = self
            .idle_timeout_minutes
            .filter(|m| !(10..=MAX_DAYS_AHEAD * 24 * 60).contains(m))
        {
            return Some((
                "idle_timeout_minutes",
                format!(
                    "must lie between 10 and {} minutes, found {m}",
                    MAX_DAYS_AHEAD * 24 * 60
                ),
            ));
        }
        if let Some(m) = self
            .idle_grace_minutes
            .filter(|m| *m > MAX_DAYS_AHEAD * 24 * 60)
        {
            return Some((
                "idle_grace_minutes",
                format!(
                    "must lie between 0 and {} minutes, found {m}",
                    MAX_DAYS_AHEAD * 24 * 60
                ),
            ));
        }
        if let Some(p) = self.idle_gpu_util_percent.filter(|p| *p > 100) {
            return Some((
                "idle_gpu_util_percent",
                format!("must lie between 0 and 100, found {p}"),
            ));
        }
        if let Some(p) = self
            .idle_cpu_percent
            .filter(|p| !(p.is_finite() && *p >= 0.0))
        {
            return Some((
                "idle_cpu_percent",
                format!("must be a percent of one CPU ≥ 0, found {p}"),
            ));
        }
        None
    }
}

/// What all members of a group may hold together at any instant; a key left out is no
/// group limit on that resource.
#[derive(Debug, Clone, Copy, Default, PartialEq, Deserialize, Serialize)]
#[serde(deny_unknown_fields)]
pub struct Total {
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub cpus: Option<f64>,
    /// GB.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub memory: Option<f64>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub gpus: Option<u32>,
}

/// One entry of `groups:`.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct Group {
    /// The inline members, then those of `members_file`, in order.
    pub members: Vec<String>,
    /// As written; relative paths are relative to the installation's root.
    pub members_file: Option<PathBuf>,
    /// Each member's tier: the most one booking may take.
    pub max_capability: Limits,
    pub total: Total,
    pub policies: Policies,
}

/// One entry of `max_custom_capability:`: the limits, and why the exception was made.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct Exception {
    pub limits: Limits,
    pub reason: Option<String>,
    pub policies: Policies,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
pub(crate) struct RawGroup {
    #[serde(default)]
    members: Option<Vec<Option<ScalarString>>>,
    #[serde(default)]
    members_file: Option<PathBuf>,
    #[serde(default)]
    max_capability: Option<Limits>,
    #[serde(default)]
    total: Option<Total>,
    #[serde(default)]
    policies: Option<Policies>,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
pub(crate) struct RawException {
    #[serde(default)]
    cpus: Option<crate::config::Limit>,
    #[serde(default)]
    memory: Option<crate::config::Limit>,
    #[serde(default)]
    gpus: Option<crate::config::Limit>,
    #[serde(default)]
    backup_space: Option<crate::config::Limit>,
    #[serde(default)]
    work_space: Option<crate::config::Limit>,
    #[serde(default)]
    reason: Option<ScalarString>,
    #[serde(default)]
    policies: Option<Policies>,
}

/// The line of the key at `keys` (each nested in the one before), else of the deepest key
/// found: for errors found after deserializing.
pub(crate) fn line_of_path(text: &str, keys: &[&str]) -> Option<usize> {
    let mut found = None;
    let mut from = 0;
    let mut indent: Option<usize> = None;
    'keys: for key in keys {
        for (i, raw) in text.lines().enumerate().skip(from) {
            let line = raw.split('#').next().unwrap_or("");
            if line.trim().is_empty() {
                continue;
            }
            let here = line.len() - line.trim_start().len();
            if indent.is_some_and(|outer| here <= outer) {
                break 'keys;
            }
            let name = line.trim_start().trim_start_matches("- ");
            let plain = name.strip_prefix(&format!("{key}:"));
            let quoted = name.strip_prefix(&format!("'{key}':"));
            let double = name.strip_prefix(&format!("\"{key}\":"));
            if plain.or(quoted).or(double).is_some() {
                found = Some(i + 1);
                from = i + 1;
                indent = Some(here);
                continue 'keys;
            }
        }
        break;
    }
    found
}

fn invalid(path: &Path, text: &str, keys: &[&str], message: impl Into<String>) -> Error {
    Error::invalid(
        path,
        line_of_path(text, keys),
        Some(keys.join(".")),
        message,
    )
}

fn check_policies(path: &Path, text: &str, at: &[&str], p: &Policies) -> Result<()> {
    match p.problem() {
        None => Ok(()),
        Some((key, why)) => {
            let mut keys = at.to_vec();
            keys.push(key);
            Err(invalid(path, text, &keys, why))
        }
    }
}

/// The lab-wide `policies:`, checked.
pub(crate) fn lab_policies(path: &Path, text: &str, raw: Option<Policies>) -> Result<Policies> {
    let p = raw.unwrap_or_default();
    check_policies(path, text, &["policies"], &p)?;
    Ok(p)
}

/// `max_custom_capability:`, checked.
pub(crate) fn exceptions(
    path: &Path,
    text: &str,
    raw: Option<OrderedMap<Option<RawException>>>,
) -> Result<OrderedMap<Exception>> {
    let mut out = Vec::new();
    for (id, entry) in raw.unwrap_or_default().0 {
        let Some(e) = entry else {
            out.push((id, Exception::default()));
            continue;
        };
        let policies = e.policies.unwrap_or_default();
        check_policies(
            path,
            text,
            &["max_custom_capability", &id, "policies"],
            &policies,
        )?;
        let reason = e.reason.map(|r| r.0).filter(|r| !r.trim().is_empty());
        out.push((
            id,
            Exception {
                limits: Limits {
                    cpus: e.cpus,
                    memory: e.memory,
                    gpus: e.gpus,
                    backup_space: e.backup_space,
                    work_space: e.work_space,
                },
                reason,
                policies,
            },
        ));
    }
    Ok(OrderedMap(out))
}

/// `groups:`, checked, with the inline members only (the members files are read by
/// [`read_member_files`], which needs the root).
pub(crate) fn groups(
    path: &Path,
    text: &str,
    raw: Option<OrderedMap<Option<RawGroup>>>,
) -> Result<OrderedMap<Group>> {
    let mut out = Vec::new();
    for (name, entry) in raw.unwrap_or_default().0 {
        if let Some(why) = crate::names::user_id_problem(&name) {
            return Err(invalid(
                path,
                text,
                &["groups", &name],
                format!("group name `{name}` {why}"),
            ));
        }
        let g = entry.unwrap_or(RawGroup {
            members: None,
            members_file: None,
            max_capability: None,
            total: None,
            policies: None,
        });
        let total = g.total.unwrap_or_default();
        for (key, value) in [("cpus", total.cpus), ("memory", total.memory)] {
            if let Some(v) = value.filter(|v| !(v.is_finite() && *v >= 0.0)) {
                return Err(invalid(
                    path,
                    text,
                    &["groups", &name, "total", key],
                    format!("must be a number ≥ 0, found {v}"),
                ));
            }
        }
        let policies = g.policies.unwrap_or_default();
        check_policies(path, text, &["groups", &name, "policies"], &policies)?;
        let mut members: Vec<String> = Vec::new();
        for id in g.members.unwrap_or_default().into_iter().flatten() {
            let id = id.0.trim().to_string();
            if !id.is_empty() && !members.contains(&id) {
                members.push(id);
            }
        }
        out.push((
            name,
            Group {
                members,
                members_file: g.members_file,
                max_capability: g.max_capability.unwrap_or_default(),
                total,
                policies,
            },
        ));
    }
    let groups = OrderedMap(out);
    index_members(&groups).map_err(|(id, first, second)| {
        invalid(
            path,
            text,
            &["groups", &second, "members"],
            format!("`{id}` is a member of `{first}` and of `{second}`; a user belongs to at most one group"),
        )
    })?;
    Ok(groups)
}

/// user id → index of the user's group in `groups`, or the first id found twice, with its
/// two groups.
pub(crate) fn index_members(
    groups: &OrderedMap<Group>,
) -> std::result::Result<HashMap<String, usize>, (String, String, String)> {
    let mut index: HashMap<String, usize> = HashMap::new();
    for (i, (name, g)) in groups.0.iter().enumerate() {
        for id in &g.members {
            match index.get(id) {
                // Listed twice in one group: still one member.
                Some(&j) if j == i => {}
                Some(&j) => return Err((id.clone(), groups.0[j].0.clone(), name.clone())),
                None => {
                    index.insert(id.clone(), i);
                }
            }
        }
    }
    Ok(index)
}

/// Appends each group's `members_file` (one id a line; blank lines and `#` comments
/// skipped) to its members; `resolve` turns the path as written into one to open.
/// A file that cannot be read, and an id found in two groups, name the file and line.
pub(crate) fn read_member_files(
    capability_path: &Path,
    capability_text: &str,
    groups: &mut OrderedMap<Group>,
    resolve: impl Fn(&Path) -> PathBuf,
) -> Result<HashMap<String, usize>> {
    let mut index: HashMap<String, usize> = index_members(groups).unwrap_or_default();
    let names: Vec<String> = groups.0.iter().map(|(name, _)| name.clone()).collect();
    for (i, (name, g)) in groups.0.iter_mut().enumerate() {
        let Some(written) = g.members_file.clone() else {
            continue;
        };
        let file = resolve(&written);
        let text = yaml::read(&file).map_err(|e| {
            let why = match &e {
                Error::Missing { .. } => "no such file".to_string(),
                Error::Read { source, .. } => source.to_string(),
                Error::Invalid { message, .. } => message.clone(),
                other => other.to_string(),
            };
            invalid(
                capability_path,
                capability_text,
                &["groups", name, "members_file"],
                format!("cannot read {}: {why}", file.display()),
            )
        })?;
        for (n, raw) in text.lines().enumerate() {
            let id = raw.split('#').next().unwrap_or("").trim();
            if id.is_empty() {
                continue;
            }
            if let Some(why) = crate::names::user_id_problem(id) {
                return Err(Error::invalid(
                    &file,
                    Some(n + 1),
                    None,
                    format!("user id `{id}` {why}"),
                ));
            }
            match index.get(id) {
                Some(j) if *j == i => continue,
                Some(&j) => {
                    let other = &names[j];
                    let why = format!(
                        "`{id}` is already a member of `{other}`; a user belongs to at most one group"
                    );
                    return Err(Error::invalid(&file, Some(n + 1), None, why));
                }
                None => {
                    index.insert(id.to_string(), i);
                    g.members.push(id.to_string());
                }
            }
        }
    }
    Ok(index)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_nested_key_is_found_on_its_own_line() {
        let text = "max:\n  gpus: 4\ngroups:\n  phd:\n    members: [a]\n    policies:\n      max_days_ahead: 30\n  staff:\n    policies:\n      max_days_ahead: 2\n";
        assert_eq!(
            line_of_path(text, &["groups", "phd", "policies", "max_days_ahead"]),
            Some(7)
        );
        assert_eq!(
            line_of_path(text, &["groups", "staff", "policies", "max_days_ahead"]),
            Some(10)
        );
        // A key missing below its parent gives the parent's line.
        assert_eq!(line_of_path(text, &["groups", "phd", "total"]), Some(4));
    }

    #[test]
    fn policies_fall_back_key_by_key() {
        let user = Policies {
            max_hours_per_booking: Some(120.0),
            ..Default::default()
        };
        let group = Policies {
            max_active_bookings: Some(4),
            max_hours_per_booking: Some(24.0),
            ..Default::default()
        };
        let lab = Policies {
            max_active_bookings: Some(3),
            max_days_ahead: Some(14),
            ..Default::default()
        };
        let p = user.or(group).or(lab);
        assert_eq!(p.max_hours_per_booking, Some(120.0));
        assert_eq!(p.max_active_bookings, Some(4));
        assert_eq!(p.max_days_ahead, Some(14));
        assert_eq!(p.max_gpu_hours_ahead, None);
    }
}
