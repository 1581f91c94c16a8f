//! What the monitor leaves for the dashboard and for Prometheus (docs/dashboard.md): after
//! each tick the record of when it ran and how long it took (`jobs/last-tick.csv`), and
//! after each tick and each sampling the metrics in the admin's node_exporter textfile,
//! the same text the dashboard serves at `/metrics`.

use std::time::{Duration, SystemTime, UNIX_EPOCH};

use chrono::NaiveDateTime;
use hostinfo::log::{LogLine, Sign};
use hostinfo::tick_record::TickRecord;
use hostinfo::Root;

/// Records a finished tick that started at `started` (the installation's clock) and
/// `began` (the real one) and took `took`.
pub fn record_tick(
    root: &Root,
    started: NaiveDateTime,
    began: SystemTime,
    took: Duration,
) -> Result<(), hostinfo::Error> {
    root.write_last_tick(&TickRecord {
        started,
        unix_seconds: began
            .duration_since(UNIX_EPOCH)
            .map_or(0.0, |d| d.as_secs_f64()),
        duration_seconds: took.as_secs_f64(),
    })
}

/// Writes the metrics textfile when `cfg/dashboard.yaml` names one; a failure is a
/// `MetricsWarning` line for the log (the metrics are a view: they never fail a tick).
pub fn write_metrics(root: &Root, now: NaiveDateTime) -> Option<LogLine> {
    let path = match root.load_dashboard_config() {
        Ok(c) => c.metrics_textfile?,
        Err(e) => {
            return Some(LogLine::warning(
                now,
                Sign::MetricsWarning,
                format!("no metrics textfile: {e}"),
            ))
        }
    };
    let written = checker::metrics::load(root)
        .map_err(|e| e.to_string())
        .and_then(|text| {
            root.write_metrics_textfile(&path, &text)
                .map_err(|e| e.to_string())
        });
    written.err().map(|e| {
        LogLine::warning(
            now,
            Sign::MetricsWarning,
            format!(
                "the metrics textfile {} was not written: {e}",
                path.display()
            ),
        )
    })
}
