//! The command line as a user sees it: `--dry-run` output, refusals and `--help`, as
//! trycmd cases in tests/cmd/ (each runs the real binary in a copy of its `.in` root).

#[test]
fn cli_cases() {
    trycmd::TestCases::new()
        .register_bin("run-container", trycmd::cargo::cargo_bin!("run-container"))
        .case("tests/cmd/*.toml");
}
