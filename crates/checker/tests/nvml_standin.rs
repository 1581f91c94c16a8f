//! `checker` reading GPUs through real NVML loading, from the stand-in library of
//! tests/fixtures/nvml-standin (`AIVC_NVML_LIB`): the inventory in `--json`, a process on a
//! GPU no running booking holds, and the fall-back to the configured count when the library
//! does not answer. Before, the NVML path was tested only through hand-made structs.

mod common;

#[path = "../../../tests/support/nvml.rs"]
mod nvml;

use std::path::Path;
use std::process::Command;

use hostinfo::gpu::{GpuInfo, GpuProcess};

/// The lab fixture: alice's booking holds GPU 0 from 2026-11-21 09:00 to 2026-11-22 09:00.
const NOW: &str = "2026-11-21 15:47";

const UUID0: &str = "GPU-5a1b0c2d-0000-4000-8000-000000000000";
const UUID1: &str = "GPU-5a1b0c2d-0000-4000-8000-000000000001";

/// `checker --json` of `root` with the stand-in reading `state`; its exit code and report.
fn checker_json(root: &Path, state: &Path, lib: Option<&Path>) -> (Option<i32>, checker::Report) {
    let mut cmd = Command::new(env!("CARGO_BIN_EXE_checker"));
    cmd.arg("--root")
        .arg(root)
        .arg("--json")
        .env("AIVC_NOW", NOW)
        .env_remove("AIVC_ROOT")
        .env_remove("AIVC_NO_NVML")
        .envs(nvml::env(state));
    if let Some(lib) = lib {
        cmd.env("AIVC_NVML_LIB", lib);
    }
    let out = cmd.output().unwrap();
    let report = serde_json::from_slice(&out.stdout).unwrap_or_else(|e| {
        panic!(
            "checker --json printed no report ({e}): {}",
            String::from_utf8_lossy(&out.stderr)
        )
    });
    (out.status.code(), report)
}

fn unbooked(report: &checker::Report) -> Vec<&str> {
    report
        .problems
        .iter()
        .filter(|p| p.code == "gpu_unbooked_process")
        .map(|p| p.message.as_str())
        .collect()
}

#[test]
fn json_shows_the_standin_gpus_with_driver_memory_utilisation_and_processes() {
    let root = common::root_from("lab");
    let state = root.path().join("nvml-state");
    std::fs::write(
        &state,
        format!(
            "# alice's process on her GPU; nothing on the other\n\
             driver 550.54.15\n\
             gpu 0 {UUID0} 81920 20480 87 NVIDIA Stand-in 80GB\n\
             gpu 1 {UUID1} 40960 0 0 NVIDIA Stand-in 40GB\n\
             proc 0 4242 20000\n\
             proc 0 4243 -\n"
        ),
    )
    .unwrap();
    let (_, report) = checker_json(root.path(), &state, None);
    assert_eq!(report.gpus.source, "nvml", "note: {:?}", report.gpus.note);
    assert_eq!(report.gpus.driver_version.as_deref(), Some("550.54.15"));
    assert_eq!(report.gpus.note, None);
    let process = |pid, used_memory_mib| GpuProcess {
        pid,
        used_memory_mib,
    };
    assert_eq!(
        report.gpus.devices,
        [
            GpuInfo {
                index: 0,
                uuid: Some(UUID0.into()),
                name: Some("NVIDIA Stand-in 80GB".into()),
                memory_used_mib: Some(20480),
                memory_total_mib: Some(81920),
                utilization_percent: Some(87),
                processes: vec![process(4242, Some(20000)), process(4243, None)],
            },
            GpuInfo {
                index: 1,
                uuid: Some(UUID1.into()),
                name: Some("NVIDIA Stand-in 40GB".into()),
                memory_used_mib: Some(0),
                memory_total_mib: Some(40960),
                utilization_percent: Some(0),
                processes: vec![],
            },
        ]
    );
    assert_eq!(
        unbooked(&report),
        Vec::<&str>::new(),
        "processes on a booked GPU"
    );
}

#[test]
fn a_process_on_a_gpu_no_running_booking_holds_is_a_problem_named_with_its_owner_and_memory() {
    let own = std::process::id();
    let root = common::root_from("lab");
    let state = root.path().join("nvml-state");
    std::fs::write(
        &state,
        format!(
            "driver 550.54.15\n\
             gpu 0 {UUID0} 81920 20480 87 NVIDIA Stand-in 80GB\n\
             gpu 1 {UUID1} 81920 1024 12 NVIDIA Stand-in 80GB\n\
             proc 0 4242 20000\n\
             proc 1 {own} 1000\n"
        ),
    )
    .unwrap();
    let (code, report) = checker_json(root.path(), &state, None);
    // The test's own process: a host process (or, where the tests run in a container, that
    // container's), named with its memory.
    let owner = hostinfo::gpu::process_owner(own).unwrap();
    assert_eq!(
        unbooked(&report),
        [format!(
            "process {own} ({owner}) runs on GPU 1 with 1000 MiB, which no running booking holds"
        )]
    );
    assert_eq!(code, Some(1), "a problem is a negative answer");
}

#[test]
fn without_a_state_file_the_standin_fails_like_a_missing_driver_and_the_count_stands_in() {
    let root = common::root_from("lab");
    let (code, report) = checker_json(root.path(), &root.path().join("no-such-state"), None);
    assert_eq!(report.gpus.source, "config");
    let note = report.gpus.note.clone().unwrap_or_default();
    assert!(note.contains("AIVC_NVML_LIB="), "{note}");
    assert_eq!(
        report
            .gpus
            .devices
            .iter()
            .map(|g| (g.index, g.uuid.is_none()))
            .collect::<Vec<_>>(),
        [(0, true), (1, true)],
        "max.gpus is 2"
    );
    assert!(unbooked(&report).is_empty());
    assert!(matches!(code, Some(0 | 1)));
}

#[test]
fn a_library_that_is_not_there_is_named_in_the_note() {
    let root = common::root_from("lab");
    let missing = root.path().join("no-such-libnvidia-ml.so");
    let (_, report) = checker_json(root.path(), Path::new("/dev/null"), Some(&missing));
    assert_eq!(report.gpus.source, "config");
    let note = report.gpus.note.clone().unwrap_or_default();
    assert!(note.contains("no-such-libnvidia-ml.so"), "{note}");
}
