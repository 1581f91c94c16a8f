//! The GPU watch: NVML reports host pids per GPU; `/proc/<pid>/cgroup` names the
//! container (or `/proc/<pid>/status` the host user); a process on a GPU its booking does
//! not hold, outside any booking, or a GPU used by two containers is a `GPUDuplicateWarning`.

use std::collections::{BTreeMap, BTreeSet};

use hostinfo::gpu::{GpuInfo, ProcessOwner};
use hostinfo::schedule::Row;

/// The 64-hex container id in a `/proc/<pid>/cgroup` text (see [`hostinfo::gpu::container_id`]).
pub fn container_id(cgroup: &str) -> Option<String> {
    hostinfo::gpu::container_id(cgroup)
}

/// One use of a GPU outside the bookings.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Finding {
    pub gpu: u32,
    /// The process, when the finding is about one (not for a GPU shared by two containers).
    pub pid: Option<u32>,
    /// The user of this installation's container the process runs in.
    pub user: Option<String>,
    /// Else who runs it: another container, or a host user.
    pub owner: Option<ProcessOwner>,
    pub memory_mib: Option<u64>,
    /// A container of ours on a GPU its booking does not hold (what `stop_unbooked_gpu_use`
    /// may stop).
    pub unbooked_container: bool,
    /// The log line's message.
    pub message: String,
}

impl Finding {
    /// `pid 4242 (host user ann, 3000 MiB)`: the process for people.
    pub fn process(&self) -> String {
        let mut parts: Vec<String> = Vec::new();
        if let Some(u) = &self.user {
            parts.push(format!("{u}'s container"));
        } else if let Some(o) = &self.owner {
            parts.push(o.to_string());
        }
        if let Some(m) = self.memory_mib {
            parts.push(format!("{m} MiB"));
        }
        let pid = self.pid.map_or("a process".into(), |p| format!("pid {p}"));
        if parts.is_empty() {
            pid
        } else {
            format!("{pid} ({})", parts.join(", "))
        }
    }
}

/// What the watch found. `owner_of` names the user of this installation's container a pid
/// runs in; `who` says who else runs it.
pub fn findings(
    gpus: &[GpuInfo],
    owner_of: &dyn Fn(u32) -> Option<String>,
    who: &dyn Fn(u32) -> Option<ProcessOwner>,
    running: &[Row],
) -> Vec<Finding> {
    let mut out = Vec::new();
    for g in gpus {
        let mut users: BTreeSet<String> = BTreeSet::new();
        let holder = running.iter().find(|r| r.gpus.contains(g.index));
        for p in &g.processes {
            let mut f = Finding {
                gpu: g.index,
                pid: Some(p.pid),
                user: None,
                owner: None,
                memory_mib: p.used_memory_mib,
                unbooked_container: false,
                message: String::new(),
            };
            match owner_of(p.pid) {
                Some(user) => {
                    let booked = running
                        .iter()
                        .any(|r| r.user_id == user && r.gpus.contains(g.index));
                    f.user = Some(user.clone());
                    users.insert(user);
                    if booked {
                        continue;
                    }
                    f.unbooked_container = true;
                    f.message = format!(
                        "{} uses GPU {}, which it did not book",
                        f.process(),
                        g.index
                    );
                }
                None => {
                    f.owner = who(p.pid);
                    f.message = match holder {
                        Some(r) => format!(
                            "{} outside any booking container uses GPU {}, booked by {}",
                            f.process(),
                            g.index,
                            r.user_id
                        ),
                        None => format!(
                            "{} uses GPU {}, which no running booking holds",
                            f.process(),
                            g.index
                        ),
                    };
                }
            }
            out.push(f);
        }
        if users.len() > 1 {
            let names: Vec<String> = users.into_iter().collect();
            out.push(Finding {
                gpu: g.index,
                pid: None,
                user: None,
                owner: None,
                memory_mib: None,
                unbooked_container: false,
                message: format!(
                    "GPU {} is used by the containers of {}",
                    g.index,
                    names.join(" and ")
                ),
            });
        }
    }
    out
}

/// Maps container ids (any prefix length docker printed) to their user, for `owner_of`.
pub fn owners(ids_to_user: &BTreeMap<String, String>, pid: u32) -> Option<String> {
    let cgroup = hostinfo::gpu::read_proc_bounded(&format!("/proc/{pid}/cgroup"))?;
    let id = container_id(&cgroup)?;
    ids_to_user
        .iter()
        .find(|(k, _)| id.starts_with(k.as_str()))
        .map(|(_, user)| user.clone())
}

#[cfg(test)]
mod tests {
    use super::*;
    use hostinfo::gpu::GpuProcess;
    use hostinfo::schedule::GpuSet;

    const ID: &str = "4f1c2d3e4f5a6b7c8d9e0f1a2b3c4d5e6f7a8b9c0d1e2f3a4b5c6d7e8f9a0b1c";

    #[test]
    fn finds_the_container_in_v1_and_v2_cgroup_paths() {
        assert_eq!(
            container_id(&format!("12:memory:/docker/{ID}\n")).as_deref(),
            Some(ID)
        );
        assert_eq!(
            container_id(&format!("0::/system.slice/docker-{ID}.scope\n")).as_deref(),
            Some(ID)
        );
        assert_eq!(
            container_id("0::/user.slice/user-1000.slice/session-2.scope\n"),
            None
        );
    }

    fn gpu(index: u32, pids: &[u32]) -> GpuInfo {
        GpuInfo {
            processes: pids
                .iter()
                .map(|&pid| GpuProcess {
                    pid,
                    used_memory_mib: Some(100),
                })
                .collect(),
            ..GpuInfo::bare(index)
        }
    }

    fn running(user: &str, gpus: &[u32]) -> Row {
        let t = chrono::NaiveDate::from_ymd_opt(2026, 11, 23)
            .unwrap()
            .and_hms_opt(9, 0, 0)
            .unwrap();
        Row {
            start: t,
            end: t + chrono::Duration::hours(2),
            user_id: user.into(),
            cpus: 1.0,
            memory: 1,
            gpus: GpuSet::new(gpus.to_vec()),
            forward_port: 10001,
            image: None,
            extra_command: None,
            node: None,
        }
    }

    #[test]
    fn each_kind_of_misuse_is_named_with_its_pid_owner_and_memory() {
        let owner = |pid: u32| match pid {
            1 => Some("alice".to_string()),
            2 => Some("bob".to_string()),
            _ => None,
        };
        let who = |_: u32| Some(ProcessOwner::HostUser("ann".into()));
        let rows = [running("alice", &[0]), running("bob", &[1])];
        let messages = |gpus: &[GpuInfo]| -> Vec<String> {
            findings(gpus, &owner, &who, &rows)
                .into_iter()
                .map(|f| f.message)
                .collect()
        };
        // alice on her GPU: fine.
        assert!(messages(&[gpu(0, &[1])]).is_empty());
        // bob on alice's GPU, next to her: two findings.
        let f = findings(&[gpu(0, &[1, 2])], &owner, &who, &rows);
        assert_eq!(f.len(), 2, "{f:?}");
        assert_eq!(
            f[0].message,
            "pid 2 (bob's container, 100 MiB) uses GPU 0, which it did not book"
        );
        assert!(f[0].unbooked_container);
        assert_eq!(
            f[1].message,
            "GPU 0 is used by the containers of alice and bob"
        );
        // A host process on a booked GPU, and on an unbooked one.
        assert_eq!(
            messages(&[gpu(1, &[9])]),
            ["pid 9 (host user ann, 100 MiB) outside any booking container uses GPU 1, booked by bob"]
        );
        assert_eq!(
            messages(&[gpu(2, &[9])]),
            ["pid 9 (host user ann, 100 MiB) uses GPU 2, which no running booking holds"]
        );
    }
}
