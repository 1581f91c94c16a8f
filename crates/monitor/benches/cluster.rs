//! Cluster mode at 10,000 bookings over 8 nodes.
//!
//! 1. Slurm calls per change, counted on the in-memory Slurm of `cluster::sim` (one call per
//!    command the monitor would run): the first mirroring, a quiet run, then 1, 10 and 100
//!    changes (new bookings, cancellations, extensions), each from the converged state.
//! 2. A quiet tick as a whole process in cluster mode, with `squeue` and `scontrol` replaced
//!    by scripts that print the converged state's listing (so the time is the monitor's own,
//!    not slurmctld's), next to a single-host tick of the same 10,000 rows from the same run,
//!    with docker replaced by `true` and with the real engine: medians of 31, and ratios.
//!
//! Run: `cargo bench -p monitor --bench cluster`.
#![allow(clippy::print_stdout)]

#[path = "../../../tests/support/synthetic_lab.rs"]
mod synthetic_lab;

use std::path::Path;
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

use chrono::NaiveDateTime;
use cluster::mirror;
use cluster::sim::Sim;
use hostinfo::cluster::{ClusterConfig, SlurmJob};
use hostinfo::schedule::{self, Row};

const NODES: usize = 8;
const CLUSTER_YAML: &str = "engine: slurm\nnodes:\n  node0: {cpus: 64, memory: 512, gpus: 8}\n  node1: {cpus: 64, memory: 512, gpus: 8}\n  node2: {cpus: 64, memory: 512, gpus: 8}\n  node3: {cpus: 64, memory: 512, gpus: 8}\n  node4: {cpus: 64, memory: 512, gpus: 8}\n  node5: {cpus: 64, memory: 512, gpus: 8}\n  node6: {cpus: 64, memory: 512, gpus: 8}\n  node7: {cpus: 64, memory: 512, gpus: 8}\n";

fn median(mut v: Vec<Duration>) -> Duration {
    v.sort();
    v[v.len() / 2]
}

fn ms(d: Duration) -> String {
    format!("{:.2} ms", d.as_secs_f64() * 1e3)
}

/// One mirroring against `sim`: list, compare, apply; the record as apply leaves it.
fn mirror_once(
    sim: &mut Sim,
    cluster: &ClusterConfig,
    rows: &[Row],
    record: &mut Vec<SlurmJob>,
    now: NaiveDateTime,
) -> usize {
    let before = sim.calls;
    let (resv, jobs) = sim.list();
    let refs: Vec<&Row> = rows.iter().collect();
    let plan = mirror::plan(cluster, &refs, record, &resv, &jobs, now);
    sim.apply(&plan, now);
    *record = sim
        .jobs
        .iter()
        .filter_map(|j| {
            let (node, start, user) = mirror::parse_job_name("aivc_", &j.name)?;
            Some(SlurmJob {
                job_id: j.id,
                user_id: user,
                start,
                node,
                bound_gpus: Default::default(),
            })
        })
        .collect();
    assert!(sim.refused.is_empty(), "{:?}", sim.refused);
    sim.calls - before
}

fn tick(bin: &Path, root: &Path, envs: &[(&str, &std::ffi::OsStr)]) -> Duration {
    let started = Instant::now();
    let status = Command::new(bin)
        .arg("--root")
        .arg(root)
        .env("AIVC_DOCKER", "true")
        .env("AIVC_NO_NVML", "1")
        .envs(envs.iter().copied())
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .status()
        .unwrap();
    assert!(status.success());
    started.elapsed()
}

fn main() {
    let cluster = ClusterConfig::parse(Path::new("cfg/cluster.yaml"), CLUSTER_YAML).unwrap();
    let now = synthetic_lab::now_slot();
    let first = now + chrono::Duration::minutes(30);
    let mut rows = synthetic_lab::rows(10_000, first);
    for (i, r) in rows.iter_mut().enumerate() {
        r.node = Some(format!("node{}", i % NODES));
    }

    // 1. Calls per change.
    let mut sim = Sim::default();
    let mut record = Vec::new();
    let t = Instant::now();
    let first_calls = mirror_once(&mut sim, &cluster, &rows, &mut record, now);
    let first_time = t.elapsed();
    let runs = sim.reservations.len();
    println!("| change (from the converged state) | Slurm calls |");
    println!("|---|---:|");
    println!(
        "| first mirroring: {} bookings, {runs} runs on {NODES} nodes | {first_calls} |",
        rows.len()
    );
    println!(
        "| none (a quiet run) | {} |",
        mirror_once(&mut sim, &cluster, &rows, &mut record, now)
    );
    for n in [1usize, 10, 100] {
        for (what, change) in [
            ("new bookings", 0u8),
            ("cancelled future bookings", 1),
            ("extended bookings (30 min more)", 2),
        ] {
            let mut changed = rows.clone();
            match change {
                0 => {
                    for (k, r) in rows.iter().take(n).enumerate() {
                        let mut r = r.clone();
                        r.user_id = format!("new{k:03}");
                        changed.push(r);
                    }
                }
                1 => {
                    changed.drain(5000..5000 + n);
                }
                _ => {
                    for r in &mut changed[5000..5000 + n] {
                        r.end += chrono::Duration::minutes(30);
                    }
                }
            }
            let mut s = sim.clone();
            let mut rec = record.clone();
            let calls = mirror_once(&mut s, &cluster, &changed, &mut rec, now);
            println!("| {n} {what} | {calls} |");
        }
    }
    // The comparison alone, in process, at 10,000 bookings.
    let (resv, jobs) = (sim.reservations.clone(), sim.jobs.clone());
    let refs: Vec<&Row> = rows.iter().collect();
    let plan_time = median(
        (0..31)
            .map(|_| {
                let t = Instant::now();
                let p = mirror::plan(&cluster, &refs, &record, &resv, &jobs, now);
                assert!(p.actions.is_empty());
                t.elapsed()
            })
            .collect(),
    );
    println!(
        "\nfirst mirroring in memory: {}; comparing 10,000 bookings with Slurm's listing (quiet): {} (median of 31)",
        ms(first_time),
        ms(plan_time)
    );

    // 2. A quiet tick as a whole process, cluster mode against single host.
    let bin = Path::new(env!("CARGO_BIN_EXE_monitor"));
    let single = tempfile::tempdir().unwrap();
    let mut plain = rows.clone();
    for r in &mut plain {
        r.node = None;
    }
    synthetic_lab::write_root(single.path(), &plain);
    let clustered = tempfile::tempdir().unwrap();
    synthetic_lab::write_root(clustered.path(), &rows);
    std::fs::write(clustered.path().join("cfg/cluster.yaml"), CLUSTER_YAML).unwrap();
    std::fs::write(
        clustered.path().join("jobs/slurm-jobs.csv"),
        hostinfo::cluster::jobs_to_bytes(&record),
    )
    .unwrap();
    assert!(schedule::has_node_column(
        &std::fs::read(clustered.path().join("jobs/booking.csv")).unwrap()
    ));
    let bin_dir = tempfile::tempdir().unwrap();
    let listing = |name: &str, text: String| {
        let data = bin_dir.path().join(format!("{name}.out"));
        std::fs::write(&data, text).unwrap();
        let script = bin_dir.path().join(name);
        // squeue's stand-in answers with the line token the monitor drew (the text before
        // the first field separator of its --format), as squeue does.
        std::fs::write(
            &script,
            format!(
                "#!/bin/bash\nfor a in \"$@\"; do case \"$a\" in --format=*) f=\"${{a#--format=}}\";; esac; done\nt=\"${{f%%$'\\x1f'*}}\"\nexec sed \"s/NONCE/$t/g\" '{}'\n",
                data.display()
            ),
        )
        .unwrap();
        use std::os::unix::fs::PermissionsExt;
        std::fs::set_permissions(&script, std::fs::Permissions::from_mode(0o755)).unwrap();
    };
    let time = |t: NaiveDateTime| t.format("%Y-%m-%dT%H:%M:%S").to_string();
    listing(
        "scontrol",
        sim.reservations
            .iter()
            .map(|r| {
                format!(
                    "ReservationName={} StartTime={} EndTime={} Duration=1 Nodes={} NodeCnt=1 CoreCnt={} Features=(null) PartitionName=lab Flags=SPEC_NODES Users={} Licenses={} State={}\n",
                    r.name,
                    time(r.start),
                    time(r.end),
                    r.nodes,
                    r.cores,
                    r.users.join(","),
                    r.licenses,
                    if r.active { "ACTIVE" } else { "INACTIVE" }
                )
            })
            .collect(),
    );
    let sep = '\u{1f}';
    listing(
        "squeue",
        sim.jobs
            .iter()
            .map(|j| {
                let limit = j.limit.unwrap().num_seconds();
                format!(
                    "NONCE{sep}{}{sep}PENDING{sep}{}{sep}{}{sep}BeginTime{sep}{}{sep}{}:{:02}:{:02}{sep}{sep}{}{sep}NONCE\n",
                    j.id,
                    j.user,
                    j.reservation,
                    time(j.start.unwrap()),
                    limit / 3600,
                    limit % 3600 / 60,
                    limit % 60,
                    j.name
                )
            })
            .collect(),
    );
    // The stand-ins answer as the converged state: the tick must find nothing to change.
    let out = Command::new(bin)
        .arg("--root")
        .arg(clustered.path())
        .arg("--dry-run")
        .env("AIVC_SLURM_BIN", bin_dir.path())
        .env("AIVC_NO_NVML", "1")
        .output()
        .unwrap();
    let said = String::from_utf8_lossy(&out.stdout);
    assert!(
        out.status.success() && !said.contains("would run"),
        "{said}{}",
        String::from_utf8_lossy(&out.stderr)
    );
    if std::env::var_os("AIVC_BENCH_KEEP").is_some() {
        println!(
            "kept: root {} slurm {}",
            clustered.keep().display(),
            bin_dir.keep().display()
        );
        return;
    }
    let single_t = median((0..31).map(|_| tick(bin, single.path(), &[])).collect());
    // The single host as it runs: listing this installation's containers from the real
    // engine (read only; `docker` on PATH), when one answers.
    let engine = Command::new("docker")
        .args(["version", "--format", "{{.Server.Version}}"])
        .output()
        .is_ok_and(|o| o.status.success());
    let docker = std::ffi::OsString::from("docker");
    let single_real = engine.then(|| {
        median(
            (0..31)
                .map(|_| tick(bin, single.path(), &[("AIVC_DOCKER", docker.as_os_str())]))
                .collect(),
        )
    });
    let slurm_bin = bin_dir.path().as_os_str();
    let cluster_t = median(
        (0..31)
            .map(|_| tick(bin, clustered.path(), &[("AIVC_SLURM_BIN", slurm_bin)]))
            .collect(),
    );
    println!("\n| quiet tick, 10,000 bookings | median of 31 |");
    println!("|---|---:|");
    println!("| single host (docker: `true`) | {} |", ms(single_t));
    println!(
        "| cluster mode, 8 nodes (squeue, scontrol: listing stand-ins) | {} |",
        ms(cluster_t)
    );
    println!(
        "| ratio: cluster / single host with `true` | {:.2}× |",
        cluster_t.as_secs_f64() / single_t.as_secs_f64()
    );
    match single_real {
        Some(real) => {
            println!("| single host, the real Docker engine | {} |", ms(real));
            println!(
                "| ratio: cluster / single host with the real engine | {:.2}× |",
                cluster_t.as_secs_f64() / real.as_secs_f64()
            );
        }
        None => println!("| single host, the real Docker engine | (no engine answers) |"),
    }
}
