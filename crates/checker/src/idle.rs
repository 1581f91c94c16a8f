//! Whether a running booking's GPUs sit idle, read from the usage samples: the idle policy
//! a user is under and the idle run of one booking. Pure: the monitor's idle reclaim
//! (`monitor::idle::check`) acts on it, the dashboard shows it.

use std::collections::BTreeMap;

use chrono::{Duration, NaiveDateTime};
use hostinfo::groups::{self, IdleReclaim, Policies};
use hostinfo::schedule::Row;
use hostinfo::usage::{Sample, Subject};

/// Samples further apart than this break an idle run: a sampler that did not run is no
/// evidence of idleness.
pub const MAX_GAP: Duration = Duration::minutes(20);

/// The newest sample must be this recent, or nothing counts as idle.
pub const MAX_AGE: Duration = Duration::minutes(15);

/// The resolved idle policy of one user; `None` when idle reclaim is off.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct IdlePolicy {
    pub mode: IdleReclaim,
    pub timeout: Duration,
    pub grace: Duration,
    pub gpu_util_percent: u32,
    pub cpu_percent: f64,
}

impl IdlePolicy {
    pub fn of(p: &Policies) -> Option<Self> {
        let mode = p.idle_reclaim.unwrap_or_default();
        if mode == IdleReclaim::Off {
            return None;
        }
        let minutes = |v: Option<u32>, d: u32| Duration::minutes(i64::from(v.unwrap_or(d)));
        Some(IdlePolicy {
            mode,
            timeout: minutes(p.idle_timeout_minutes, groups::IDLE_TIMEOUT_MINUTES),
            grace: minutes(p.idle_grace_minutes, groups::IDLE_GRACE_MINUTES),
            gpu_util_percent: p
                .idle_gpu_util_percent
                .unwrap_or(groups::IDLE_GPU_UTIL_PERCENT),
            cpu_percent: p.idle_cpu_percent.unwrap_or(groups::IDLE_CPU_PERCENT),
        })
    }
}

/// One sampling time: each GPU's (utilisation, memory), and the user's container CPU.
#[derive(Debug, Default)]
struct At {
    gpus: BTreeMap<u32, (Option<u32>, Option<u64>)>,
    cpu: Option<f64>,
}

/// Since when `row`'s booking has been idle without a break, up to its newest sample
/// (`None`: not idle now). Idle at a sampling time means every booked GPU under the
/// utilisation threshold with the same memory in use as at the next sampling, and the
/// container's CPU under its threshold; a missing value, or a gap over [`MAX_GAP`], is not
/// idle. Returns (idle since, newest sample, the sample before it).
pub fn idle_run(
    samples: &[Sample],
    row: &Row,
    policy: &IdlePolicy,
    now: NaiveDateTime,
) -> Option<(NaiveDateTime, NaiveDateTime, Option<NaiveDateTime>)> {
    let mut times: BTreeMap<NaiveDateTime, At> = BTreeMap::new();
    for s in samples
        .iter()
        .filter(|s| s.time >= row.start && s.time <= now)
    {
        match &s.subject {
            Subject::Gpu(i) if row.gpus.contains(*i) => {
                times
                    .entry(s.time)
                    .or_default()
                    .gpus
                    .insert(*i, (s.gpu_util_percent, s.gpu_memory_mib));
            }
            Subject::User(id) if *id == row.user_id => {
                times.entry(s.time).or_default().cpu = s.cpu_percent;
            }
            _ => {}
        }
    }
    let newest = *times.keys().next_back()?;
    if now - newest > MAX_AGE {
        return None;
    }
    let quiet = |at: &At| {
        row.gpus.ids().iter().all(
            |g| matches!(at.gpus.get(g), Some((Some(u), Some(_))) if *u < policy.gpu_util_percent),
        ) && at.cpu.is_some_and(|c| c < policy.cpu_percent)
    };
    let mut since: Option<NaiveDateTime> = None;
    let mut later: Option<&At> = None;
    let mut before_newest = None;
    for (t, at) in times.iter().rev() {
        if !quiet(at) {
            break;
        }
        if let (Some(s), Some(l)) = (since, later) {
            let same_memory = row
                .gpus
                .ids()
                .iter()
                .all(|g| at.gpus.get(g).map(|v| v.1) == l.gpus.get(g).map(|v| v.1));
            if s - *t > MAX_GAP || !same_memory {
                break;
            }
        }
        if since == Some(newest) {
            before_newest = Some(*t);
        }
        since = Some(*t);
        later = Some(at);
    }
    since.map(|s| (s, newest, before_newest))
}

#[cfg(test)]
mod tests {
    use super::*;
    use hostinfo::schedule::GpuSet;

    fn t(s: &str) -> NaiveDateTime {
        NaiveDateTime::parse_from_str(s, "%Y-%m-%d %H:%M").unwrap()
    }

    fn policy() -> IdlePolicy {
        IdlePolicy::of(&Policies {
            idle_reclaim: Some(IdleReclaim::Always),
            ..Policies::default()
        })
        .unwrap()
    }

    fn row() -> Row {
        Row {
            start: t("2026-11-23 09:00"),
            end: t("2026-11-23 13:00"),
            user_id: "alice".into(),
            cpus: 1.0,
            memory: 2,
            gpus: GpuSet::new(vec![0]),
            forward_port: 10001,
            image: None,
            extra_command: None,
            node: None,
        }
    }

    /// GPU 0 and alice's container at each of `times`, at `util` % and `cpu` %.
    fn samples(times: &[&str], util: u32, cpu: f64) -> Vec<Sample> {
        times
            .iter()
            .flat_map(|s| {
                [
                    Sample {
                        time: t(s),
                        subject: Subject::Gpu(0),
                        gpu_util_percent: Some(util),
                        gpu_memory_mib: Some(1000),
                        cpu_percent: None,
                        memory_mib: None,
                    },
                    Sample {
                        time: t(s),
                        subject: Subject::User("alice".into()),
                        gpu_util_percent: None,
                        gpu_memory_mib: None,
                        cpu_percent: Some(cpu),
                        memory_mib: Some(900),
                    },
                ]
            })
            .collect()
    }

    #[test]
    fn the_policy_is_none_when_idle_reclaim_is_off_and_takes_the_defaults_otherwise() {
        assert_eq!(IdlePolicy::of(&Policies::default()), None);
        let p = policy();
        assert_eq!(p.timeout, Duration::minutes(120));
        assert_eq!(p.gpu_util_percent, groups::IDLE_GPU_UTIL_PERCENT);
    }

    #[test]
    fn a_quiet_run_is_idle_since_its_first_sample() {
        let s = samples(
            &["2026-11-23 10:00", "2026-11-23 10:05", "2026-11-23 10:10"],
            0,
            1.0,
        );
        assert_eq!(
            idle_run(&s, &row(), &policy(), t("2026-11-23 10:12")),
            Some((
                t("2026-11-23 10:00"),
                t("2026-11-23 10:10"),
                Some(t("2026-11-23 10:05"))
            ))
        );
    }

    #[test]
    fn a_gap_over_max_gap_breaks_the_run_and_stale_samples_are_not_idle() {
        let s = samples(&["2026-11-23 10:00", "2026-11-23 10:25"], 0, 1.0);
        let run = idle_run(&s, &row(), &policy(), t("2026-11-23 10:25"));
        assert_eq!(
            run,
            Some((t("2026-11-23 10:25"), t("2026-11-23 10:25"), None))
        );
        assert_eq!(idle_run(&s, &row(), &policy(), t("2026-11-23 10:41")), None);
    }

    #[test]
    fn a_busy_gpu_or_a_busy_container_is_not_idle() {
        let now = t("2026-11-23 10:00");
        let busy_gpu = samples(&["2026-11-23 10:00"], 50, 1.0);
        assert_eq!(idle_run(&busy_gpu, &row(), &policy(), now), None);
        let busy_cpu = samples(&["2026-11-23 10:00"], 0, 100.0);
        assert_eq!(idle_run(&busy_cpu, &row(), &policy(), now), None);
    }
}
