//! The GPU watch: NVML reports host pids per GPU; `/proc/<pid>/cgroup` names the
//! container; a process on a GPU its booking does not hold, outside any booking, or a GPU
//! used by two containers is a `GPUDuplicateWarning`.

use std::collections::{BTreeMap, BTreeSet};

use hostinfo::gpu::GpuInfo;
use hostinfo::schedule::Row;

/// The 64-hex container id in a `/proc/<pid>/cgroup` text (cgroup v1 `/docker/<id>` or
/// v2 `docker-<id>.scope`), if the process runs in a container.
pub fn container_id(cgroup: &str) -> Option<String> {
    for line in cgroup.lines() {
        let path = line.rsplit(':').next().unwrap_or("");
        for part in path.split('/').rev() {
            let id = part
                .strip_prefix("docker-")
                .and_then(|p| p.strip_suffix(".scope"))
                .unwrap_or(part);
            if id.len() == 64 && id.bytes().all(|b| b.is_ascii_hexdigit()) {
                return Some(id.to_string());
            }
        }
    }
    None
}

/// What the watch found, one line each.
pub fn findings(
    gpus: &[GpuInfo],
    owner_of: &dyn Fn(u32) -> Option<String>,
    running: &[Row],
) -> Vec<String> {
    let mut out = Vec::new();
    for g in gpus {
        let mut users: BTreeSet<String> = BTreeSet::new();
        let holder = running.iter().find(|r| r.gpus.contains(g.index));
        for p in &g.processes {
            match owner_of(p.pid) {
                Some(user) => {
                    let booked = running
                        .iter()
                        .any(|r| r.user_id == user && r.gpus.contains(g.index));
                    if !booked {
                        out.push(format!(
                            "{user}'s container (pid {}) uses GPU {}, which it did not book",
                            p.pid, g.index
                        ));
                    }
                    users.insert(user);
                }
                None => match holder {
                    Some(r) => out.push(format!(
                        "pid {} outside any booking container uses GPU {}, booked by {}",
                        p.pid, g.index, r.user_id
                    )),
                    None => out.push(format!(
                        "pid {} uses GPU {}, which no running booking holds",
                        p.pid, g.index
                    )),
                },
            }
        }
        if users.len() > 1 {
            let names: Vec<String> = users.into_iter().collect();
            out.push(format!(
                "GPU {} is used by the containers of {}",
                g.index,
                names.join(" and ")
            ));
        }
    }
    out
}

/// Maps container ids (any prefix length docker printed) to their user, for `owner_of`.
pub fn owners(ids_to_user: &BTreeMap<String, String>, pid: u32) -> Option<String> {
    let cgroup = std::fs::read_to_string(format!("/proc/{pid}/cgroup")).ok()?;
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
                    used_memory_mib: None,
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
        }
    }

    #[test]
    fn each_kind_of_misuse_is_named() {
        let owner = |pid: u32| match pid {
            1 => Some("alice".to_string()),
            2 => Some("bob".to_string()),
            _ => None,
        };
        let rows = [running("alice", &[0]), running("bob", &[1])];
        // alice on her GPU: fine.
        assert!(findings(&[gpu(0, &[1])], &owner, &rows).is_empty());
        // bob on alice's GPU, next to her: two findings.
        let f = findings(&[gpu(0, &[1, 2])], &owner, &rows);
        assert_eq!(f.len(), 2, "{f:?}");
        assert!(f[0].contains("bob's container (pid 2) uses GPU 0, which it did not book"));
        assert!(f[1].contains("GPU 0 is used by the containers of alice and bob"));
        // A host process on a booked GPU, and on an unbooked one.
        assert!(findings(&[gpu(1, &[9])], &owner, &rows)[0].contains("booked by bob"));
        assert!(
            findings(&[gpu(2, &[9])], &owner, &rows)[0].contains("which no running booking holds")
        );
    }
}
