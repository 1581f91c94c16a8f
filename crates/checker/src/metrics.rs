//! The Prometheus metrics (docs/operations.md, Metrics): the text the dashboard serves at
//! `/metrics` and the monitor writes to the admin's node_exporter textfile, from one function
//! so the two never differ. Every name has the prefix `aivc_`, base units (seconds, bytes,
//! ratios) and a `# HELP` line.

use std::collections::BTreeMap;
use std::fmt::Write as _;

use chrono::{Duration, NaiveDateTime, TimeZone};
use hostinfo::schedule::parse_time;
use hostinfo::tick_record::TickRecord;

use crate::problems::Severity;
use crate::report::{Report, State};
use crate::usage::{GpuPoint, UsageReport};

/// The windows of the usage metrics, in days.
pub const WINDOWS: [u32; 3] = [7, 30, 90];

/// A GPU's newest sample counts as "now" when it is at most this old (three missed
/// samplings at the 5-minute interval).
pub const LATEST_MAX_AGE: Duration = Duration::minutes(15);

/// What the metrics are made of; the caller reads it (the dashboard keeps it between
/// requests, the monitor reads it once).
#[derive(Debug)]
pub struct Input<'a> {
    pub report: &'a Report,
    /// The newest sample of each GPU ([`latest_points`]).
    pub latest: &'a [GpuPoint],
    /// One report per entry of [`WINDOWS`].
    pub usage: &'a [UsageReport],
    pub last_tick: Option<TickRecord>,
    /// The newest sample's time on the real clock, seconds since the Unix epoch.
    pub last_sample_unix: Option<f64>,
}

/// The newest sample of each GPU, when no older than [`LATEST_MAX_AGE`] at `now`; by GPU.
pub fn latest_points<'p>(
    points: impl IntoIterator<Item = &'p GpuPoint>,
    now: NaiveDateTime,
) -> Vec<GpuPoint> {
    let mut newest: BTreeMap<u32, GpuPoint> = BTreeMap::new();
    for p in points
        .into_iter()
        .filter(|p| p.time <= now && now - p.time <= LATEST_MAX_AGE)
    {
        let slot = newest.entry(p.gpu).or_insert(*p);
        if p.time > slot.time {
            *slot = *p;
        }
    }
    newest.into_values().collect()
}

/// What the metrics and the dashboard derive from the samples.
#[derive(Debug)]
pub struct FromSamples {
    /// The newest sample of each GPU ([`latest_points`]).
    pub latest: Vec<GpuPoint>,
    /// One report per entry of [`WINDOWS`].
    pub usage: Vec<UsageReport>,
    /// When the newest sample was taken, on the real clock.
    pub last_sample_unix: Option<f64>,
}

/// [`FromSamples`] of the points in `pieces` (any order; the dashboard keeps one vector a
/// day) against `rows` (every booking known) at `now`.
pub fn from_samples(
    config: &hostinfo::Config,
    rows: &[hostinfo::schedule::Row],
    pieces: &[&[GpuPoint]],
    now: NaiveDateTime,
) -> FromSamples {
    let all = || pieces.iter().flat_map(|p| p.iter());
    let latest = latest_points(all(), now);
    let usage = WINDOWS
        .iter()
        .map(|&days| crate::usage::report_from(config, rows, all(), now, days))
        .collect();
    let last_sample_unix = latest
        .iter()
        .map(|p| p.time)
        .max()
        .and_then(|t| unix_seconds(&config.zone, t));
    FromSamples {
        latest,
        usage,
        last_sample_unix,
    }
}

/// `t` (wall-clock in `zone`) as seconds since the Unix epoch.
pub fn unix_seconds(zone: &impl TimeZone, t: NaiveDateTime) -> Option<f64> {
    zone.from_local_datetime(&t)
        .earliest()
        .map(|t| t.timestamp_millis() as f64 / 1000.0)
}

/// Who holds each GPU at the report's instant: GPU → user.
pub fn holders(report: &Report) -> BTreeMap<u32, String> {
    let now = parse_time(&report.now).ok();
    let mut out = BTreeMap::new();
    for r in &report.rows {
        let (Ok(start), Ok(end)) = (parse_time(&r.start), parse_time(&r.end)) else {
            continue;
        };
        if now.is_some_and(|n| start <= n && n < end) {
            for g in &r.gpus {
                out.insert(*g, r.user_id.clone());
            }
        }
    }
    out
}

/// The GPUs in use while no booking holds them: busy in their newest sample (at least the
/// usage report's busy threshold), or running a process NVML saw (`gpu_unbooked_process`).
pub fn unbooked_use(input: &Input) -> BTreeMap<u32, bool> {
    let held = holders(input.report);
    let busy = input
        .usage
        .first()
        .map_or(hostinfo::groups::IDLE_GPU_UTIL_PERCENT, |u| u.busy_percent);
    let mut out: BTreeMap<u32, bool> = (0..input.report.host.gpus).map(|g| (g, false)).collect();
    for p in input.latest {
        if !held.contains_key(&p.gpu) && p.util_percent.is_some_and(|u| u >= busy) {
            out.insert(p.gpu, true);
        }
    }
    for d in &input.report.gpus.devices {
        if !held.contains_key(&d.index) && !d.processes.is_empty() {
            out.insert(d.index, true);
        }
    }
    out
}

struct Out(String);

impl Out {
    fn family(&mut self, name: &str, kind: &str, help: &str) {
        let _ = writeln!(self.0, "# HELP {name} {help}");
        let _ = writeln!(self.0, "# TYPE {name} {kind}");
    }

    fn sample(&mut self, name: &str, labels: &[(&str, &str)], value: f64) {
        self.0.push_str(name);
        if !labels.is_empty() {
            self.0.push('{');
            for (i, (k, v)) in labels.iter().enumerate() {
                if i > 0 {
                    self.0.push(',');
                }
                let _ = write!(self.0, "{k}=\"{}\"", escape(v));
            }
            self.0.push('}');
        }
        let _ = writeln!(self.0, " {}", number(value));
    }
}

/// A label value as the text format wants it: `\`, `"` and newlines escaped.
fn escape(v: &str) -> String {
    v.replace('\\', "\\\\")
        .replace('"', "\\\"")
        .replace('\n', "\\n")
}

/// A value with at most three decimals (sums of float hours leave noise past them).
fn number(v: f64) -> String {
    if !v.is_finite() {
        return if v.is_nan() {
            "NaN".into()
        } else if v > 0.0 {
            "+Inf".into()
        } else {
            "-Inf".into()
        };
    }
    let s = format!("{v:.3}");
    let s = s.trim_end_matches('0').trim_end_matches('.');
    if s == "-0" {
        "0".into()
    } else {
        s.to_string()
    }
}

/// The metrics in the Prometheus text exposition format (version 0.0.4).
pub fn render(input: &Input) -> String {
    let report = input.report;
    let mut out = Out(String::with_capacity(4096));
    let held = holders(report);
    let latest: BTreeMap<u32, &GpuPoint> = input.latest.iter().map(|p| (p.gpu, p)).collect();
    let gpus: Vec<u32> = (0..report.host.gpus).collect();
    let label = |g: u32| g.to_string();

    out.family("aivc_gpus", "gauge", "GPUs the lab may book on this host.");
    out.sample("aivc_gpus", &[], f64::from(report.host.gpus));

    out.family(
        "aivc_gpu_booked",
        "gauge",
        "1 when a booking holds the GPU now, with its holder in `user` (empty when free).",
    );
    for &g in &gpus {
        let user = held.get(&g).map_or("", String::as_str);
        let v = if held.contains_key(&g) { 1.0 } else { 0.0 };
        out.sample("aivc_gpu_booked", &[("gpu", &label(g)), ("user", user)], v);
    }

    out.family(
        "aivc_gpu_utilization_ratio",
        "gauge",
        "The GPU's utilisation in its newest usage sample (0 to 1), with the holder in `user`.",
    );
    for &g in &gpus {
        if let Some(u) = latest.get(&g).and_then(|p| p.util_percent) {
            let user = held.get(&g).map_or("", String::as_str);
            out.sample(
                "aivc_gpu_utilization_ratio",
                &[("gpu", &label(g)), ("user", user)],
                f64::from(u) / 100.0,
            );
        }
    }

    out.family(
        "aivc_gpu_memory_used_bytes",
        "gauge",
        "The GPU memory in use in the GPU's newest usage sample, with the holder in `user`.",
    );
    for &g in &gpus {
        if let Some(m) = latest.get(&g).and_then(|p| p.memory_mib) {
            let user = held.get(&g).map_or("", String::as_str);
            out.sample(
                "aivc_gpu_memory_used_bytes",
                &[("gpu", &label(g)), ("user", user)],
                m as f64 * 1_048_576.0,
            );
        }
    }

    out.family(
        "aivc_gpu_unbooked_use",
        "gauge",
        "1 when the GPU is in use (busy in its newest sample, or running a process) while no booking holds it.",
    );
    for (g, used) in unbooked_use(input) {
        out.sample(
            "aivc_gpu_unbooked_use",
            &[("gpu", &label(g))],
            if used { 1.0 } else { 0.0 },
        );
    }

    out.family(
        "aivc_bookings",
        "gauge",
        "Bookings in booking.csv and using.csv by state (waiting, due, missed, running, ended).",
    );
    for (state, name) in [
        (State::Waiting, "waiting"),
        (State::Due, "due"),
        (State::Missed, "missed"),
        (State::Running, "running"),
        (State::Ended, "ended"),
    ] {
        let n = report.rows.iter().filter(|r| r.state == state).count();
        out.sample("aivc_bookings", &[("state", name)], n as f64);
    }

    out.family("aivc_waitlist_entries", "gauge", "Entries on the waitlist.");
    out.sample("aivc_waitlist_entries", &[], report.waitlist.len() as f64);

    out.family(
        "aivc_problems",
        "gauge",
        "Problems the checker finds, by severity.",
    );
    for (severity, name) in [(Severity::Error, "error"), (Severity::Warning, "warning")] {
        let n = report
            .problems
            .iter()
            .filter(|p| p.severity == severity)
            .count();
        out.sample("aivc_problems", &[("severity", name)], n as f64);
    }

    let windows: Vec<(String, &UsageReport)> = input
        .usage
        .iter()
        .map(|u| (format!("{}d", u.days), u))
        .collect();
    type Hours<T> = fn(&T) -> f64;
    let user_series: [(&str, &str, Hours<crate::usage::UserUsage>); 2] = [
        (
            "aivc_user_gpu_booked_seconds",
            "GPU time the user booked in the window before now (GPU-hours × 3600).",
            |u| u.booked_gpu_hours,
        ),
        (
            "aivc_user_gpu_used_seconds",
            "GPU time the user's booked GPUs were busy in the window, from the usage samples.",
            |u| u.used_gpu_hours,
        ),
    ];
    for (name, help, hours) in user_series {
        out.family(name, "gauge", help);
        for (window, u) in &windows {
            for user in &u.users {
                let group = user.group.as_deref().unwrap_or("");
                let labels = [
                    ("user", user.id.as_str()),
                    ("group", group),
                    ("window", window),
                ];
                out.sample(name, &labels, hours(user) * 3600.0);
            }
        }
    }
    let group_series: [(&str, &str, Hours<crate::usage::GroupUsage>); 2] = [
        (
            "aivc_group_gpu_booked_seconds",
            "GPU time the group's members booked in the window before now.",
            |g| g.booked_gpu_hours,
        ),
        (
            "aivc_group_gpu_used_seconds",
            "GPU time the group's members' booked GPUs were busy in the window.",
            |g| g.used_gpu_hours,
        ),
    ];
    for (name, help, hours) in group_series {
        out.family(name, "gauge", help);
        for (window, u) in &windows {
            for group in &u.groups {
                let labels = [("group", group.name.as_str()), ("window", window)];
                out.sample(name, &labels, hours(group) * 3600.0);
            }
        }
    }
    out.family(
        "aivc_gpu_unbooked_busy_seconds",
        "gauge",
        "GPU time in the window when a GPU was busy while no booking held it.",
    );
    for (window, u) in &windows {
        out.sample(
            "aivc_gpu_unbooked_busy_seconds",
            &[("window", window)],
            u.unbooked_gpu_hours * 3600.0,
        );
    }

    if let Some(t) = input.last_sample_unix {
        out.family(
            "aivc_last_sample_timestamp_seconds",
            "gauge",
            "When the newest usage sample was taken, seconds since the Unix epoch.",
        );
        out.sample("aivc_last_sample_timestamp_seconds", &[], t);
    }
    if let Some(tick) = input.last_tick {
        out.family(
            "aivc_last_tick_timestamp_seconds",
            "gauge",
            "When the monitor's last tick started, seconds since the Unix epoch.",
        );
        out.sample("aivc_last_tick_timestamp_seconds", &[], tick.unix_seconds);
        out.family(
            "aivc_last_tick_duration_seconds",
            "gauge",
            "How long the monitor's last tick took.",
        );
        out.sample(
            "aivc_last_tick_duration_seconds",
            &[],
            tick.duration_seconds,
        );
    }
    out.0
}

/// The metrics of `root` read afresh (the monitor's textfile): the report as `checker
/// --json` builds it, the usage of each window, the newest samples, the last tick.
pub fn load(root: &hostinfo::Root) -> Result<String, crate::Error> {
    let snapshot = crate::Snapshot::load_with_history(root.clone())?;
    let inventory = hostinfo::gpu::inventory(
        &hostinfo::gpu::NvmlProbe,
        snapshot.config.fallback_gpu_count(),
    );
    let report = crate::report::build(&snapshot, inventory);
    let now = snapshot.now;
    let longest = WINDOWS.iter().copied().max().unwrap_or(1);
    let rows = snapshot.all_rows();
    let samples = root.read_usage_since(now - Duration::days(i64::from(longest)), now)?;
    let points = crate::usage::gpu_points(&samples);
    drop(samples);
    let derived = from_samples(&snapshot.config, &rows, &[&points], now);
    Ok(render(&Input {
        report: &report,
        latest: &derived.latest,
        usage: &derived.usage,
        last_tick: root.read_last_tick()?,
        last_sample_unix: derived.last_sample_unix,
    }))
}
