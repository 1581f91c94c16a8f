//! The command line as a user sees it: `--dry-run` output, refusals and `--help`, as
//! trycmd cases in tests/cmd/ (each runs the real binary in a copy of its `.in` root).

#[test]
fn cli_cases() {
    trycmd::TestCases::new()
        .register_bin("run-container", trycmd::cargo::cargo_bin!("run-container"))
        .case("tests/cmd/*.toml");
}

/// Regression: `--gpus 0,3` (device ids here) read like booking's `--gpus 1` (a count).
#[test]
fn gpu_ids_are_named_as_ids_and_the_old_name_still_works_hidden() {
    let out = std::process::Command::new(env!("CARGO_BIN_EXE_run-container"))
        .arg("--help")
        .output()
        .unwrap();
    let help = String::from_utf8(out.stdout).unwrap();
    assert!(help.contains("--gpu-ids <ID,ID,...>"), "{help}");
    assert!(help.contains("ids, not a count"), "{help}");
    assert!(!help.contains("--gpus <"), "the old name is hidden: {help}");
    // tests/cmd/refused-gpu.toml still passes `--gpus`: scripts that used it keep working.
    let case = std::fs::read_to_string("tests/cmd/refused-gpu.toml").unwrap();
    assert!(case.contains("\"--gpus\""));
}
