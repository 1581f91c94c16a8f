//! A container's cgroup: where it is (by the documented path rules, or from its main
//! process's `/proc/<pid>/cgroup`) and its cumulative CPU time and memory in use.

use std::io::Read;
use std::path::{Path, PathBuf};

/// The most read of one cgroup file: each holds a number or a few short lines.
const MAX_FILE_BYTES: u64 = 4096;

/// The cgroup hierarchy's layout.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Layout {
    /// cgroup v2: one tree; `cpu.stat` (`usage_usec`) and `memory.current`.
    Unified,
    /// cgroup v1 (or hybrid): one tree per controller; `cpuacct/…/cpuacct.usage` (ns) and
    /// `memory/…/memory.usage_in_bytes`.
    PerController,
}

/// The two files a container's use is read from.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Files {
    pub layout: Layout,
    pub cpu: PathBuf,
    pub memory: PathBuf,
}

/// What one read of a container's cgroup gave.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Reading {
    pub cpu_nanos: Option<u64>,
    pub memory_bytes: Option<u64>,
}

/// The cgroup file system, mounted at `/sys/fs/cgroup` on a host (tests build one in a
/// temporary folder).
#[derive(Debug, Clone)]
pub struct Cgroups {
    mount: PathBuf,
}

/// The v1 trees that hold the CPU accounting, in the order tried: a kernel may mount it
/// alone or with `cpu` (usually with a `cpuacct` link to the pair).
const V1_CPU_TREES: [&str; 2] = ["cpuacct", "cpu,cpuacct"];

impl Cgroups {
    pub fn system() -> Self {
        Cgroups::at("/sys/fs/cgroup")
    }

    pub fn at(mount: impl Into<PathBuf>) -> Self {
        Cgroups {
            mount: mount.into(),
        }
    }

    /// v2 exactly when the mount's root has `cgroup.controllers` (a hybrid host's v2 tree
    /// sits at `unified/` and holds no controllers).
    pub fn layout(&self) -> Layout {
        if self.mount.join("cgroup.controllers").is_file() {
            Layout::Unified
        } else {
            Layout::PerController
        }
    }

    /// The files of container `id` (its full id) by the path rules Docker follows: the
    /// `cgroupfs` driver puts it at `docker/<id>`, the `systemd` driver at
    /// `system.slice/docker-<id>.scope`, in each controller's tree (v1) or the one tree (v2).
    /// `None` when neither exists (a custom `--cgroup-parent`: then [`Cgroups::from_proc`]).
    pub fn find(&self, id: &str) -> Option<Files> {
        let full_id = id.len() == 64 && id.bytes().all(|b| b.is_ascii_hexdigit());
        if !full_id {
            return None;
        }
        [
            format!("docker/{id}"),
            format!("system.slice/docker-{id}.scope"),
        ]
        .into_iter()
        .find_map(|rel| self.files_at(&rel, &rel))
    }

    /// The files of the cgroup a process is in, from the text of its `/proc/<pid>/cgroup`
    /// (v2: `0::/path`; v1: `N:controllers:/path`, the `memory` and `cpuacct` lines).
    pub fn from_proc(&self, text: &str) -> Option<Files> {
        let mut unified = None;
        let mut memory = None;
        let mut cpu = None;
        for line in text.lines() {
            let mut f = line.splitn(3, ':');
            let (Some(_), Some(controllers), Some(path)) = (f.next(), f.next(), f.next()) else {
                continue;
            };
            let path = path.trim_start_matches('/').to_string();
            if controllers.is_empty() {
                unified = Some(path);
            } else {
                let names: Vec<&str> = controllers.split(',').collect();
                if names.contains(&"memory") {
                    memory = Some(path.clone());
                }
                if names.contains(&"cpuacct") {
                    cpu = Some(path);
                }
            }
        }
        match self.layout() {
            Layout::Unified => unified.and_then(|p| self.files_at(&p, &p)),
            Layout::PerController => self.files_at(&cpu?, &memory?),
        }
    }

    /// The files below `cpu_rel` and `memory_rel` (relative cgroup paths), when their
    /// cgroups exist; never a path outside the mount.
    fn files_at(&self, cpu_rel: &str, memory_rel: &str) -> Option<Files> {
        let safe = |rel: &str| {
            Path::new(rel)
                .components()
                .all(|c| matches!(c, std::path::Component::Normal(_)))
        };
        if !safe(cpu_rel) || !safe(memory_rel) {
            return None;
        }
        match self.layout() {
            Layout::Unified => {
                let dir = self.mount.join(cpu_rel);
                dir.is_dir().then(|| Files {
                    layout: Layout::Unified,
                    cpu: dir.join("cpu.stat"),
                    memory: dir.join("memory.current"),
                })
            }
            Layout::PerController => {
                let memory = self.mount.join("memory").join(memory_rel);
                let cpu = V1_CPU_TREES
                    .iter()
                    .map(|tree| self.mount.join(tree).join(cpu_rel))
                    .find(|d| d.is_dir())?;
                memory.is_dir().then(|| Files {
                    layout: Layout::PerController,
                    cpu: cpu.join("cpuacct.usage"),
                    memory: memory.join("memory.usage_in_bytes"),
                })
            }
        }
    }
}

impl Files {
    /// Reads both files; a file that cannot be read (the container stopped just now) is a
    /// `None`.
    pub fn read(&self) -> Reading {
        let cpu_nanos = read_small(&self.cpu).and_then(|text| match self.layout {
            Layout::Unified => text
                .lines()
                .find_map(|l| l.strip_prefix("usage_usec "))
                .and_then(|v| v.trim().parse::<u64>().ok())
                .map(|usec| usec.saturating_mul(1000)),
            Layout::PerController => text.trim().parse().ok(),
        });
        let memory_bytes = read_small(&self.memory).and_then(|t| t.trim().parse().ok());
        Reading {
            cpu_nanos,
            memory_bytes,
        }
    }
}

/// A kernel file's text, at most [`MAX_FILE_BYTES`] of it.
fn read_small(path: &Path) -> Option<String> {
    let mut text = String::new();
    std::fs::File::open(path)
        .ok()?
        .take(MAX_FILE_BYTES)
        .read_to_string(&mut text)
        .ok()?;
    Some(text)
}

#[cfg(test)]
mod tests {
    use super::*;

    const ID: &str = "4f1c2d3e4f5a6b7c8d9e0f1a2b3c4d5e6f7a8b9c0d1e2f3a4b5c6d7e8f9a0b1c";

    fn put(dir: &Path, rel: &str, text: &str) {
        let path = dir.join(rel);
        std::fs::create_dir_all(path.parent().unwrap()).unwrap();
        std::fs::write(path, text).unwrap();
    }

    #[test]
    fn reads_a_v2_container_under_the_systemd_driver_and_the_cgroupfs_one() {
        let fs = tempfile::tempdir().unwrap();
        put(fs.path(), "cgroup.controllers", "cpu memory\n");
        let scope = format!("system.slice/docker-{ID}.scope");
        put(
            fs.path(),
            &format!("{scope}/cpu.stat"),
            "usage_usec 2500\nuser_usec 2000\n",
        );
        put(fs.path(), &format!("{scope}/memory.current"), "1048576\n");
        let cg = Cgroups::at(fs.path());
        assert_eq!(cg.layout(), Layout::Unified);
        let files = cg.find(ID).expect("the systemd driver's scope");
        assert_eq!(
            files.read(),
            Reading {
                cpu_nanos: Some(2_500_000),
                memory_bytes: Some(1 << 20)
            }
        );
        std::fs::remove_dir_all(fs.path().join("system.slice")).unwrap();
        put(
            fs.path(),
            &format!("docker/{ID}/cpu.stat"),
            "usage_usec 7\n",
        );
        put(fs.path(), &format!("docker/{ID}/memory.current"), "3\n");
        assert_eq!(cg.find(ID).unwrap().read().cpu_nanos, Some(7000));
    }

    #[test]
    fn reads_a_v1_container_in_each_controllers_tree() {
        let fs = tempfile::tempdir().unwrap();
        put(
            fs.path(),
            &format!("cpu,cpuacct/docker/{ID}/cpuacct.usage"),
            "39292005\n",
        );
        put(
            fs.path(),
            &format!("memory/docker/{ID}/memory.usage_in_bytes"),
            "2134016\n",
        );
        let cg = Cgroups::at(fs.path());
        assert_eq!(cg.layout(), Layout::PerController);
        assert_eq!(
            cg.find(ID).unwrap().read(),
            Reading {
                cpu_nanos: Some(39_292_005),
                memory_bytes: Some(2_134_016)
            }
        );
        assert_eq!(cg.find("4f1c"), None, "only a full id names a cgroup");
    }

    #[test]
    fn a_custom_parent_is_found_from_the_processes_cgroup_file() {
        let fs = tempfile::tempdir().unwrap();
        put(fs.path(), "cpuacct/lab/c1/cpuacct.usage", "5\n");
        put(fs.path(), "memory/lab/c1/memory.usage_in_bytes", "6\n");
        let cg = Cgroups::at(fs.path());
        assert_eq!(cg.find(ID), None);
        let proc = "4:memory:/lab/c1\n2:cpuacct:/lab/c1\n1:cpu:/lab/c1\n0::/lab/c1\n";
        assert_eq!(
            cg.from_proc(proc).unwrap().read(),
            Reading {
                cpu_nanos: Some(5),
                memory_bytes: Some(6)
            }
        );
        // A path that climbs out of the mount is no cgroup of ours.
        assert_eq!(cg.from_proc("4:memory:/../x\n2:cpuacct:/../x\n"), None);
    }
}
