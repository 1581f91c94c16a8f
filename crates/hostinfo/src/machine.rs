//! What this machine has, to hold the configured host capacity against: its CPUs from the OS
//! and its memory and swap from `/proc/meminfo` (its GPUs are [`crate::gpu`]'s NVML count).

use std::path::Path;

/// This machine's CPUs and memory.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Machine {
    /// CPUs online (`/sys/devices/system/cpu/online`, else what the OS lets this process use).
    pub cpus: u32,
    /// GiB of RAM (`MemTotal`), when `/proc/meminfo` could be read.
    pub ram_gb: Option<f64>,
    /// GiB of swap (`SwapTotal`).
    pub swap_gb: Option<f64>,
}

impl Machine {
    /// RAM plus swap, the most a container can be given (`--memory-swap`).
    pub fn memory_gb(&self) -> Option<f64> {
        Some(self.ram_gb? + self.swap_gb.unwrap_or(0.0))
    }
}

/// This machine as the OS describes it. A debug build run with
/// `AIVC_MACHINE=cpus=N,ram=GB[,swap=GB]` describes the one given instead, for tests.
pub fn probe() -> Machine {
    if cfg!(debug_assertions) {
        if let Some(m) = std::env::var("AIVC_MACHINE")
            .ok()
            .and_then(|s| parse_override(&s))
        {
            return m;
        }
    }
    let cpus = std::fs::read_to_string("/sys/devices/system/cpu/online")
        .ok()
        .and_then(|s| count_cpu_list(&s))
        .or_else(|| {
            std::thread::available_parallelism()
                .ok()
                .and_then(|n| u32::try_from(n.get()).ok())
        })
        .unwrap_or(1);
    let (ram_gb, swap_gb) = meminfo(Path::new("/proc/meminfo"));
    Machine {
        cpus,
        ram_gb,
        swap_gb,
    }
}

/// `MemTotal` and `SwapTotal` of a meminfo file, in GiB.
fn meminfo(path: &Path) -> (Option<f64>, Option<f64>) {
    match std::fs::read_to_string(path) {
        Ok(text) => parse_meminfo(&text),
        Err(_) => (None, None),
    }
}

/// `MemTotal` and `SwapTotal` of `/proc/meminfo`'s text, in GiB.
pub fn parse_meminfo(text: &str) -> (Option<f64>, Option<f64>) {
    let field = |name: &str| {
        text.lines().find_map(|l| {
            let rest = l.strip_prefix(name)?.strip_prefix(':')?;
            let kib: u64 = rest.trim().strip_suffix("kB")?.trim().parse().ok()?;
            Some(kib as f64 / (1024.0 * 1024.0))
        })
    };
    (field("MemTotal"), field("SwapTotal"))
}

/// How many CPUs a list like `0-3,8,10-11` names.
pub fn count_cpu_list(list: &str) -> Option<u32> {
    let mut n = 0u32;
    for part in list.trim().split(',') {
        let (a, b) = match part.split_once('-') {
            Some((a, b)) => (a.parse::<u32>().ok()?, b.parse::<u32>().ok()?),
            None => {
                let a = part.parse::<u32>().ok()?;
                (a, a)
            }
        };
        n = n.checked_add(b.checked_sub(a)?.checked_add(1)?)?;
    }
    (n > 0).then_some(n)
}

fn parse_override(s: &str) -> Option<Machine> {
    let mut m = Machine {
        cpus: 0,
        ram_gb: None,
        swap_gb: Some(0.0),
    };
    for part in s.split(',') {
        let (k, v) = part.split_once('=')?;
        match k.trim() {
            "cpus" => m.cpus = v.trim().parse().ok()?,
            "ram" => m.ram_gb = Some(v.trim().parse().ok()?),
            "swap" => m.swap_gb = Some(v.trim().parse().ok()?),
            _ => return None,
        }
    }
    (m.cpus > 0).then_some(m)
}

/// This machine's name (`/proc/sys/kernel/hostname`), when it reads as one.
pub fn host_name() -> Option<String> {
    use std::io::Read;
    let mut text = String::new();
    std::fs::File::open("/proc/sys/kernel/hostname")
        .ok()?
        .take(256)
        .read_to_string(&mut text)
        .ok()?;
    let name = text.trim();
    (!name.is_empty()
        && name
            .chars()
            .all(|c| c.is_ascii_alphanumeric() || c == '.' || c == '-'))
    .then(|| name.to_string())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn meminfo_gives_ram_and_swap_in_gib() {
        let text = "MemTotal:       16777216 kB\nMemFree:  1 kB\nSwapTotal:       4194304 kB\n";
        assert_eq!(parse_meminfo(text), (Some(16.0), Some(4.0)));
        assert_eq!(parse_meminfo("nothing"), (None, None));
    }

    #[test]
    fn cpu_lists_are_counted() {
        assert_eq!(count_cpu_list("0-15\n"), Some(16));
        assert_eq!(count_cpu_list("0-3,8,10-11"), Some(7));
        assert_eq!(count_cpu_list("3-1"), None);
        assert_eq!(count_cpu_list(""), None);
    }

    #[test]
    fn the_override_describes_a_machine() {
        let m = parse_override("cpus=64,ram=512,swap=16").unwrap();
        assert_eq!((m.cpus, m.memory_gb()), (64, Some(528.0)));
        assert_eq!(parse_override("cpus=0"), None);
        assert_eq!(parse_override("disks=3"), None);
    }

    #[test]
    fn this_machine_has_at_least_one_cpu() {
        assert!(probe().cpus >= 1);
    }
}
