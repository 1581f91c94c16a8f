//! Does the lab's slurm.conf give each node of `cfg/cluster.yaml` the GPU license it needs?
//! `monitor --check-cluster` (and `scripts/setup.sh --slurm`) prints one line per mismatch.

use hostinfo::cluster::ClusterConfig;

/// The licenses a slurm.conf declares (`Licenses=gpu_node0:4,gpu_node1:4`, a license
/// without a count is 1), in file order; later lines add to earlier ones.
pub fn declared_licenses(slurm_conf: &str) -> Vec<(String, u32)> {
    let mut out: Vec<(String, u32)> = Vec::new();
    for line in slurm_conf.lines() {
        let line = line.split('#').next().unwrap_or("").trim();
        // Keys are case-insensitive in slurm.conf.
        let Some((key, value)) = line.split_once('=') else {
            continue;
        };
        if !key.trim().eq_ignore_ascii_case("licenses") {
            continue;
        }
        for item in value.split(',') {
            let item = item.trim();
            if item.is_empty() {
                continue;
            }
            let (name, count) = match item.split_once(':') {
                Some((n, c)) => (n.trim(), c.trim().parse().unwrap_or(0)),
                None => (item, 1),
            };
            match out.iter_mut().find(|(n, _)| n == name) {
                Some((_, c)) => *c = count,
                None => out.push((name.to_string(), count)),
            }
        }
    }
    out
}

/// Every way `slurm_conf` (at `path`) fails `cluster`: a node's license missing, or fewer
/// than its bookable GPUs. Empty when they match.
pub fn mismatches(cluster: &ClusterConfig, path: &str, slurm_conf: &str) -> Vec<String> {
    let declared = declared_licenses(slurm_conf);
    let mut out = Vec::new();
    for (node, cap) in &cluster.nodes {
        if cap.gpus == 0 {
            continue;
        }
        let license = cluster.license_of(node);
        match declared.iter().find(|(n, _)| *n == license) {
            None => out.push(format!(
                "{path}: Licenses= has no `{license}`, which stands for node {node}'s {} GPUs in cfg/cluster.yaml; add `{license}:{}`",
                cap.gpus, cap.gpus
            )),
            Some((_, count)) if *count != cap.gpus => out.push(format!(
                "{path}: Licenses= gives `{license}:{count}`, but cfg/cluster.yaml books {} GPUs on node {node}",
                cap.gpus
            )),
            Some(_) => {}
        }
    }
    out
}

/// What a node needs so that a job outside the bookings cannot open a booked GPU's device
/// (the guard only keeps such jobs from *asking* for GPUs): Slurm's cgroup task and process
/// tracking with devices constrained. One line per setting missing; the lab decides (the
/// check warns, it does not refuse).
pub fn device_isolation_missing(slurm_conf: &str, cgroup_conf: Option<&str>) -> Vec<String> {
    let value = |text: &str, key: &str| -> Option<String> {
        text.lines()
            .map(|l| l.split('#').next().unwrap_or("").trim())
            .filter_map(|l| l.split_once('='))
            .filter(|(k, _)| k.trim().eq_ignore_ascii_case(key))
            .map(|(_, v)| v.trim().to_string())
            .next_back()
    };
    let mut out = Vec::new();
    if !value(slurm_conf, "TaskPlugin").is_some_and(|v| v.contains("task/cgroup")) {
        out.push("TaskPlugin=task/cgroup (in slurm.conf)".to_string());
    }
    if value(slurm_conf, "ProctrackType").as_deref() != Some("proctrack/cgroup") {
        out.push("ProctrackType=proctrack/cgroup (in slurm.conf)".to_string());
    }
    if !cgroup_conf
        .and_then(|t| value(t, "ConstrainDevices"))
        .is_some_and(|v| v.eq_ignore_ascii_case("yes"))
    {
        out.push("ConstrainDevices=yes (in cgroup.conf)".to_string());
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::path::Path;

    fn cluster() -> ClusterConfig {
        ClusterConfig::parse(
            Path::new("cfg/cluster.yaml"),
            "engine: slurm\nnodes:\n  node0: {cpus: 8, memory: 32, gpus: 4}\n  node1: {cpus: 8, memory: 32, gpus: 2}\n",
        )
        .unwrap()
    }

    #[test]
    fn matching_licenses_pass_and_each_mismatch_is_named() {
        let good = "ClusterName=x\nLicenses=gpu_node0:4,gpu_node1:2 # tokens\n";
        assert!(mismatches(&cluster(), "slurm.conf", good).is_empty());
        let bad = "licenses=gpu_node0:3\n";
        let found = mismatches(&cluster(), "slurm.conf", bad);
        assert_eq!(found.len(), 2, "{found:?}");
        assert!(found[0].contains("gpu_node0:3") && found[0].contains("4 GPUs on node node0"));
        assert!(found[1].contains("no `gpu_node1`") && found[1].contains("gpu_node1:2"));
    }

    #[test]
    fn device_isolation_names_each_setting_missing() {
        let all = "TaskPlugin=task/affinity,task/cgroup\nProctrackType=proctrack/cgroup\n";
        assert!(device_isolation_missing(all, Some("ConstrainDevices=yes\n")).is_empty());
        let missing = device_isolation_missing("TaskPlugin=task/none\n", None);
        assert_eq!(missing.len(), 3, "{missing:?}");
        assert!(missing[2].starts_with("ConstrainDevices=yes"));
    }
}
