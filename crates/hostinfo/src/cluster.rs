//! Cluster mode (docs/cluster.md): `cfg/cluster.yaml`, the nodes a lab books and how they map
//! to Slurm, and `jobs/slurm-jobs.csv`, the monitor's record of the Slurm jobs it submitted
//! for bookings. Without `cfg/cluster.yaml` the installation is a single host, as before.

use std::path::Path;

use chrono::NaiveDateTime;

use crate::error::{Error, Result};
use crate::schedule::{format_time, parse_time, GpuSet};
use crate::yaml::{self, line_of_key, OrderedMap};

/// What one node offers to bookings: the part of it the lab sets aside for them.
#[derive(Debug, Clone, Copy, PartialEq, serde::Deserialize)]
#[serde(deny_unknown_fields)]
pub struct NodeCapacity {
    /// Whole cpus (Slurm reserves cores).
    pub cpus: u32,
    /// GB; checked by the rules and asked of Slurm by each job, never reserved.
    pub memory: u32,
    pub gpus: u32,
}

#[derive(Debug, Clone, PartialEq, serde::Deserialize)]
#[serde(deny_unknown_fields)]
struct ClusterFile {
    engine: String,
    nodes: OrderedMap<NodeCapacity>,
    #[serde(default = "default_license")]
    license: String,
    #[serde(default = "default_prefix")]
    reservation_prefix: String,
    #[serde(default = "default_unix_user")]
    unix_user: String,
}

fn default_license() -> String {
    "gpu_{node}".into()
}
fn default_prefix() -> String {
    "aivc_".into()
}
fn default_unix_user() -> String {
    "{id}".into()
}

/// `cfg/cluster.yaml`, checked.
#[derive(Debug, Clone, PartialEq)]
pub struct ClusterConfig {
    /// The nodes in the file's order (`--node any` tries them in it).
    pub nodes: Vec<(String, NodeCapacity)>,
    /// The Slurm license that stands for a node's GPUs, with `{node}` in it.
    pub license: String,
    /// Every reservation and job of ours has a name that starts with it.
    pub reservation_prefix: String,
    /// The Unix account a booking id runs as, with `{id}` in it.
    pub unix_user: String,
}

/// A node name as Slurm and the schedule files take it: 1 to 64 of ASCII letters, digits,
/// `-` and `_`, starting with a letter or digit.
pub fn is_node_name(name: &str) -> bool {
    !name.is_empty()
        && name.len() <= 64
        && name.as_bytes()[0].is_ascii_alphanumeric()
        && name
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || b == b'-' || b == b'_')
}

/// Letters, digits and `_` only (a license name or a name prefix).
fn is_word(text: &str) -> bool {
    !text.is_empty() && text.bytes().all(|b| b.is_ascii_alphanumeric() || b == b'_')
}

impl ClusterConfig {
    pub fn parse(path: &Path, text: &str) -> Result<Self> {
        let file: ClusterFile = yaml::parse(path, text)?.ok_or_else(|| {
            Error::invalid(
                path,
                Some(1),
                None,
                "is empty; cluster mode needs `engine: slurm` and `nodes:`",
            )
        })?;
        let bad = |section: &str, key: &str, why: String| {
            let line = if section.is_empty() {
                line_of_key(text, "", key)
            } else {
                line_of_key(text, section, key)
            };
            let field = if section.is_empty() {
                key.to_string()
            } else {
                format!("{section}.{key}")
            };
            Error::invalid(path, line, Some(field), why)
        };
        if file.engine != "slurm" {
            return Err(bad(
                "",
                "engine",
                format!(
                    "`{}` is not an engine this version drives; the one engine is `slurm`",
                    file.engine.escape_debug()
                ),
            ));
        }
        if file.nodes.0.is_empty() {
            return Err(bad("", "nodes", "names no node".into()));
        }
        for (name, cap) in &file.nodes.0 {
            if !is_node_name(name) {
                return Err(bad(
                    "nodes",
                    name,
                    "is not a node name (letters, digits, `-` and `_`, at most 64)".into(),
                ));
            }
            if cap.cpus == 0 || cap.memory == 0 {
                return Err(bad(
                    "nodes",
                    name,
                    "needs at least 1 cpu and 1 GB of memory".into(),
                ));
            }
        }
        let with_node = file.license.replace("{node}", "x");
        if !file.license.contains("{node}") || !is_word(&with_node.replace('-', "_")) {
            return Err(bad(
                "",
                "license",
                format!(
                    "`{}` must contain `{{node}}` and otherwise only letters, digits and `_`",
                    file.license.escape_debug()
                ),
            ));
        }
        // `-` becomes `_` in license names: two nodes must not end up with one license.
        let mut seen: Vec<(String, &str)> = Vec::new();
        for (name, _) in &file.nodes.0 {
            let license = file.license.replace("{node}", &name.replace('-', "_"));
            if let Some((_, other)) = seen.iter().find(|(l, _)| *l == license) {
                return Err(bad(
                    "nodes",
                    name,
                    format!("would share the license `{license}` with node {other}; rename one"),
                ));
            }
            seen.push((license, name));
        }
        if !is_word(&file.reservation_prefix) || file.reservation_prefix.len() > 32 {
            return Err(bad(
                "",
                "reservation_prefix",
                format!(
                    "`{}` must be 1 to 32 letters, digits or `_`",
                    file.reservation_prefix.escape_debug()
                ),
            ));
        }
        let user_rest = file.unix_user.replace("{id}", "");
        if !file.unix_user.contains("{id}")
            || !user_rest
                .bytes()
                .all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || b == b'_' || b == b'-')
        {
            return Err(bad(
                "",
                "unix_user",
                format!(
                    "`{}` must contain `{{id}}` and otherwise only a-z, digits, `_` and `-`",
                    file.unix_user.escape_debug()
                ),
            ));
        }
        Ok(ClusterConfig {
            nodes: file.nodes.0,
            license: file.license,
            reservation_prefix: file.reservation_prefix,
            unix_user: file.unix_user,
        })
    }

    /// The file, `None` when there is none (a single host).
    pub fn load(path: &Path) -> Result<Option<Self>> {
        match yaml::read_optional(path)? {
            Some(text) => Self::parse(path, &text).map(Some),
            None => Ok(None),
        }
    }

    pub fn node(&self, name: &str) -> Option<&NodeCapacity> {
        self.nodes.iter().find(|(n, _)| n == name).map(|(_, c)| c)
    }

    pub fn node_names(&self) -> impl Iterator<Item = &str> {
        self.nodes.iter().map(|(n, _)| n.as_str())
    }

    /// The Slurm license that stands for `node`'s GPUs (node names' `-` become `_`).
    pub fn license_of(&self, node: &str) -> String {
        self.license.replace("{node}", &node.replace('-', "_"))
    }

    /// The Unix account booking id `id` runs as.
    pub fn unix_user_of(&self, id: &str) -> String {
        self.unix_user.replace("{id}", id)
    }
}

/// What the monitor knows of one Slurm job it submitted for a booking.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SlurmJob {
    pub job_id: u64,
    /// The booking, as the schedule files key it: (user, start), and its node.
    pub user_id: String,
    pub start: NaiveDateTime,
    pub node: String,
    /// The GPU ids Slurm bound, once the job runs; empty before.
    pub bound_gpus: GpuSet,
}

/// The header `jobs/slurm-jobs.csv` carries.
pub const JOBS_HEADER: [&str; 5] = ["job_id", "user_id", "start", "node", "bound_gpus"];

/// Reads `jobs/slurm-jobs.csv`.
pub fn parse_jobs(path: &Path, text: &str) -> Result<Vec<SlurmJob>> {
    let mut jobs = Vec::new();
    crate::small_csv::each(path, text, &JOBS_HEADER, |line, f| {
        let bad = |k: usize, why: String| {
            Error::invalid(path, Some(line), Some(JOBS_HEADER[k].into()), why)
        };
        let job_id = f[0]
            .parse::<u64>()
            .map_err(|_| bad(0, format!("`{}` is not a job id", f[0].escape_debug())))?;
        let start = parse_time(&f[2]).map_err(|why| bad(2, why))?;
        if !is_node_name(&f[3]) {
            return Err(bad(
                3,
                format!("`{}` is not a node name", f[3].escape_debug()),
            ));
        }
        let bound_gpus = if f[4].is_empty() {
            GpuSet::default()
        } else {
            GpuSet::parse(&f[4]).map_err(|why| bad(4, why))?
        };
        jobs.push(SlurmJob {
            job_id,
            user_id: f[1].clone(),
            start,
            node: f[3].clone(),
            bound_gpus,
        });
        Ok(())
    })?;
    Ok(jobs)
}

/// The bytes of `jobs/slurm-jobs.csv` holding `jobs`.
pub fn jobs_to_bytes(jobs: &[SlurmJob]) -> Vec<u8> {
    crate::small_csv::to_bytes(
        &JOBS_HEADER,
        jobs.iter().map(|j| {
            vec![
                j.job_id.to_string(),
                j.user_id.clone(),
                format_time(j.start),
                j.node.clone(),
                if j.bound_gpus.is_empty() {
                    String::new()
                } else {
                    j.bound_gpus.to_string()
                },
            ]
        }),
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    fn parse(text: &str) -> Result<ClusterConfig> {
        ClusterConfig::parse(Path::new("cfg/cluster.yaml"), text)
    }

    const GOOD: &str = "engine: slurm\nnodes:\n  node0: {cpus: 8, memory: 32, gpus: 4}\n  node1: {cpus: 8, memory: 32, gpus: 4}\nlicense: \"gpu_{node}\"\nreservation_prefix: aivc_\nunix_user: \"{id}\"\n";

    #[test]
    fn the_example_is_read_with_its_nodes_in_order() {
        let c = parse(GOOD).unwrap();
        assert_eq!(c.node_names().collect::<Vec<_>>(), ["node0", "node1"]);
        assert_eq!(c.node("node1").unwrap().gpus, 4);
        assert_eq!(c.license_of("node1"), "gpu_node1");
        assert_eq!(c.unix_user_of("alice"), "alice");
    }

    #[test]
    fn bad_values_name_their_line_and_key() {
        for (text, line, words) in [
            (GOOD.replace("slurm", "kubernetes"), 1, "engine"),
            (GOOD.replace("node1:", "node 1:"), 4, "node name"),
            (GOOD.replace("gpu_{node}", "gpu"), 5, "{node}"),
            (GOOD.replace("gpu_{node}", "gpu;{node}"), 5, "license"),
            (GOOD.replace("aivc_", "aivc-x"), 6, "reservation_prefix"),
            (GOOD.replace("\"{id}\"", "\"../{id}\""), 7, "unix_user"),
            (
                GOOD.replace(
                    "cpus: 8, memory: 32, gpus: 4}\n  node1",
                    "cpus: 0, memory: 32, gpus: 4}\n  node1",
                ),
                3,
                "at least 1 cpu",
            ),
        ] {
            let e = parse(&text).unwrap_err().to_string();
            assert!(e.contains(&format!("cluster.yaml:{line}:")), "{text}: {e}");
            assert!(e.contains(words), "{text}: {e}");
        }
        let e = parse(&GOOD.replace("gpus: 4}\n  node1", "gpus: 4, disks: 1}\n  node1"))
            .unwrap_err()
            .to_string();
        assert!(e.contains("disks"), "{e}");
    }

    #[test]
    fn two_nodes_that_would_share_one_license_are_refused() {
        let e = parse("engine: slurm\nnodes:\n  gpu-b: {cpus: 1, memory: 1, gpus: 1}\n  gpu_b: {cpus: 1, memory: 1, gpus: 1}\n")
            .unwrap_err()
            .to_string();
        assert!(
            e.contains("cluster.yaml:4:") && e.contains("gpu_gpu_b"),
            "{e}"
        );
    }

    #[test]
    fn the_job_record_reads_back_what_it_wrote() {
        let jobs = vec![SlurmJob {
            job_id: 42,
            user_id: "alice".into(),
            start: parse_time("2026-11-26 10:00:00").unwrap(),
            node: "node0".into(),
            bound_gpus: GpuSet::new(vec![2, 3]),
        }];
        let bytes = jobs_to_bytes(&jobs);
        let text = String::from_utf8(bytes).unwrap();
        assert_eq!(
            parse_jobs(Path::new("jobs/slurm-jobs.csv"), &text).unwrap(),
            jobs
        );
        let e = parse_jobs(
            Path::new("jobs/slurm-jobs.csv"),
            "job_id,user_id,start,node,bound_gpus\nx,a,2026-11-26 10:00:00,n,\n",
        )
        .unwrap_err()
        .to_string();
        assert!(
            e.contains("slurm-jobs.csv:2:") && e.contains("job_id"),
            "{e}"
        );
    }
}
