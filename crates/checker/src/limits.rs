//! Per-user maximums (`cfg/capability_config.yaml` in docs/file-formats.md): the custom entry, else the default, else the host's
//! capacity; `max` means the host's capacity of that field.

use hostinfo::config::{CapabilityConfig, Limit};
use serde::Serialize;

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

/// Resolves a user's maximums: custom → default → host max.
pub fn user_max(cap: &CapabilityConfig, user_id: &str) -> UserMax {
    let custom = cap.custom_limits.get(user_id).copied().unwrap_or_default();
    let default = cap.default_limits;
    let host = &cap.max;
    let pick = |c: Option<Limit>, d: Option<Limit>, host_max: f64| {
        c.or(d).map_or(host_max, |l| l.resolve(host_max))
    };
    UserMax {
        cpus: pick(custom.cpus, default.cpus, host.cpus),
        memory: pick(custom.memory, default.memory, host.memory),
        gpus: pick(custom.gpus, default.gpus, f64::from(host.gpus)) as u32,
        backup_space: pick(custom.backup_space, default.backup_space, host.backup_space),
        work_space: pick(custom.work_space, default.work_space, host.work_space),
    }
}
