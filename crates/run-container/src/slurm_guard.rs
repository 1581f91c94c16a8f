//! The Slurm guard of cluster mode: scripts/slurm/job_submit.lua with this lab's prefix and
//! node licenses filled in from cfg/cluster.yaml, for `scripts/setup.sh --slurm` to install.

use hostinfo::cluster::ClusterConfig;

/// scripts/slurm/job_submit.lua as the repository has it, placeholders and all.
pub const TEMPLATE: &str = include_str!("../../../scripts/slurm/job_submit.lua");

const PREFIX_MARK: &str = "\"@RESERVATION_PREFIX@\"";
const LICENSES_MARK: &str = "-- @NODE_LICENSES@";

/// A Lua string literal of `text`, which cluster.yaml's checks keep to letters, digits, `-`
/// and `_`; anything else would be a bug upstream and is refused rather than escaped.
fn lua_string(text: &str) -> Option<String> {
    (!text.is_empty()
        && text
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || b == b'_' || b == b'-'))
    .then(|| format!("\"{text}\""))
}

/// `template` with the prefix and the node → license table of `cluster` filled in.
pub fn render(template: &str, cluster: &ClusterConfig) -> Result<String, String> {
    if !template.contains(PREFIX_MARK) || !template.contains(LICENSES_MARK) {
        return Err("job_submit.lua lacks its placeholders".into());
    }
    let prefix = lua_string(&cluster.reservation_prefix)
        .ok_or("reservation_prefix cannot be written into job_submit.lua")?;
    let mut table = String::new();
    for node in cluster.node_names() {
        let name = lua_string(node).ok_or("a node name cannot be written into job_submit.lua")?;
        let license = lua_string(&cluster.license_of(node))
            .ok_or("a license name cannot be written into job_submit.lua")?;
        table.push_str(&format!("[{name}] = {license}, "));
    }
    Ok(template
        .replace(PREFIX_MARK, &prefix)
        .replace(LICENSES_MARK, table.trim_end()))
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::path::Path;

    #[test]
    fn fills_the_prefix_and_one_license_per_node() {
        let cluster = ClusterConfig::parse(
            Path::new("cfg/cluster.yaml"),
            "engine: slurm\nnodes:\n  node0: {cpus: 8, memory: 32, gpus: 4}\n  gpu-b: {cpus: 8, memory: 32, gpus: 2}\nlicense: \"tok_{node}\"\nreservation_prefix: lab_\nunix_user: \"{id}\"\n",
        )
        .unwrap();
        let lua = render(TEMPLATE, &cluster).unwrap();
        assert!(lua.contains("local PREFIX = \"lab_\""), "{lua}");
        assert!(
            lua.contains("[\"node0\"] = \"tok_node0\", [\"gpu-b\"] = \"tok_gpu_b\","),
            "{lua}"
        );
        assert!(!lua.contains('@'), "every placeholder is filled");
    }
}
