//! The units in systemd/ pass `systemd-analyze verify`, installed the way setup.sh installs
//! them (the real binary folder and root written in), and say what docs/operations.md describes.

use std::path::Path;
use std::process::Command;

fn unit(name: &str) -> String {
    std::fs::read_to_string(
        Path::new(env!("CARGO_MANIFEST_DIR"))
            .join("../../systemd")
            .join(name),
    )
    .unwrap()
}

#[test]
fn the_units_pass_systemd_analyze_verify() {
    let bin = Path::new(env!("CARGO_BIN_EXE_monitor")).parent().unwrap();
    let root = tempfile::tempdir().unwrap();
    std::fs::create_dir(root.path().join("jobs")).unwrap();
    let dir = tempfile::tempdir().unwrap();
    let names = [
        "aivc-monitor.service",
        "aivc-monitor.timer",
        "aivc-monitor.path",
        "aivc-monitor-failed.service",
        "aivc-notices.service",
        "aivc-notices.timer",
        "aivc-notices.path",
        "aivc-usage.service",
        "aivc-usage.timer",
        "aivc-dashboard.service",
    ];
    for name in names {
        let text = unit(name)
            .replace("/usr/local/bin", bin.to_str().unwrap())
            .replace("/srv/aivc", root.path().to_str().unwrap());
        std::fs::write(dir.path().join(name), text).unwrap();
    }
    let out = Command::new("systemd-analyze")
        .arg("verify")
        .args(names.map(|n| dir.path().join(n)))
        .output()
        .expect("systemd-analyze is needed (Debian's systemd package; .ci/run installs it)");
    let stderr = String::from_utf8_lossy(&out.stderr);
    // Without systemd as PID 1 verify may note that it cannot reach the manager; anything
    // about our units is a failure.
    let ours: Vec<&str> = stderr.lines().filter(|l| l.contains("aivc-")).collect();
    assert!(
        out.status.success() && ours.is_empty(),
        "systemd-analyze verify:\n{stderr}"
    );
}

#[test]
fn the_timer_fires_every_half_hour_on_the_boundary_and_catches_up() {
    let timer = unit("aivc-monitor.timer");
    for line in [
        "OnCalendar=*-*-* *:00/30:00",
        "Persistent=true",
        "AccuracySec=1s",
        "Unit=aivc-monitor.service",
    ] {
        assert!(timer.lines().any(|l| l == line), "{line}");
    }
    let path = unit("aivc-monitor.path");
    assert!(path
        .lines()
        .any(|l| l == "PathModified=/srv/aivc/jobs/monitor_exec"));
    let service = unit("aivc-monitor.service");
    assert!(service.lines().any(|l| l == "Type=oneshot"));
    assert!(service
        .lines()
        .any(|l| l == "ExecStart=/usr/local/bin/monitor"));
}

#[test]
fn the_notices_are_delivered_on_arrival_and_every_five_minutes() {
    let timer = unit("aivc-notices.timer");
    for line in [
        "OnCalendar=*-*-* *:00/5:00",
        "Persistent=true",
        "Unit=aivc-notices.service",
    ] {
        assert!(timer.lines().any(|l| l == line), "{line}");
    }
    let path = unit("aivc-notices.path");
    assert!(path
        .lines()
        .any(|l| l == "PathModified=/srv/aivc/jobs/notices.csv"));
    let service = unit("aivc-notices.service");
    assert!(service.lines().any(|l| l == "Type=oneshot"));
    assert!(service
        .lines()
        .any(|l| l == "ExecStart=/usr/local/bin/monitor --deliver"));
    let out = Command::new("systemd-analyze")
        .args([
            "calendar",
            "--iterations=2",
            "--base-time=2026-11-23 10:07:00 UTC",
            "*-*-* *:00/5:00 UTC",
        ])
        .output()
        .expect("systemd-analyze is needed");
    let text = String::from_utf8_lossy(&out.stdout);
    assert!(
        text.contains("2026-11-23 10:10:00") && text.contains("2026-11-23 10:15:00"),
        "{text}"
    );
}

#[test]
fn the_calendar_expression_means_every_00_and_30() {
    let out = Command::new("systemd-analyze")
        .args([
            "calendar",
            "--iterations=3",
            "--base-time=2026-11-23 10:05:00 UTC",
            "*-*-* *:00/30:00 UTC",
        ])
        .output()
        .expect("systemd-analyze is needed");
    let text = String::from_utf8_lossy(&out.stdout);
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    for when in [
        "2026-11-23 10:30:00",
        "2026-11-23 11:00:00",
        "2026-11-23 11:30:00",
    ] {
        assert!(text.contains(when), "{when} missing from\n{text}");
    }
}

/// A failed tick changes no file itself; systemd starts aivc-monitor-failed.service, which
/// tells the admins.
#[test]
fn a_failed_tick_starts_the_unit_that_tells_the_admins() {
    let tick = unit("aivc-monitor.service");
    assert!(
        tick.lines()
            .any(|l| l == "OnFailure=aivc-monitor-failed.service"),
        "{tick}"
    );
    let failed = unit("aivc-monitor-failed.service");
    assert!(
        failed
            .lines()
            .any(|l| l == "ExecStart=/usr/local/bin/monitor --tick-failed"),
        "{failed}"
    );
}

#[test]
fn the_usage_timer_samples_every_5_minutes_with_monitor_sample() {
    let timer = unit("aivc-usage.timer");
    for line in ["OnCalendar=*-*-* *:02/5:30", "Unit=aivc-usage.service"] {
        assert!(timer.lines().any(|l| l == line), "{line}");
    }
    let service = unit("aivc-usage.service");
    assert!(service
        .lines()
        .any(|l| l == "ExecStart=/usr/local/bin/monitor --sample"));
}
