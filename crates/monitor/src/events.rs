//! The notices the monitor posts (docs/user-guide.md, Notices): a container started or could
//! not start, a booking waiting on the disk quota, the end coming up; and for the admins a
//! start that keeps failing, GPU use outside the bookings, a failed tick. Posting is best
//! effort ([`hostinfo::Root::notify`]); the rate limit of `cfg/notify.yaml` keeps a notice
//! that every tick would repeat (a start failing, a GPU used) to one per period.

use chrono::{Duration, NaiveDateTime};
use hostinfo::notices::{Kind, Notice, Recipient};
use hostinfo::schedule::Row;
use hostinfo::{Root, Table};

fn minute(t: NaiveDateTime) -> String {
    t.format("%a %Y-%m-%d %H:%M").to_string()
}

fn user(row: &Row) -> Recipient {
    Recipient::User(row.user_id.clone())
}

fn about(row: &Row) -> String {
    format!("{}:{}", row.user_id, row.start)
}

pub fn started(row: &Row, now: NaiveDateTime) -> Notice {
    Notice::new(
        now,
        user(row),
        Kind::Started,
        format!("started:{}", about(row)),
        &format!(
            "Your container is running: ssh to this host on port {} (user root, your booking password). It ends {}.",
            row.forward_port,
            minute(row.end)
        ),
    )
}

/// A start that failed in docker, or that waits because the user is over the disk quota.
pub fn not_started(row: &Row, reason: &str, now: NaiveDateTime) -> Notice {
    if reason.starts_with(hostinfo::start_failures::QUOTA_WAIT) {
        return Notice::new(
            now,
            user(row),
            Kind::QuotaWait,
            format!("quota:{}", about(row)),
            &format!(
                "Your booking from {} waits: {reason}. Free some space and it starts at the next half hour.",
                minute(row.start)
            ),
        );
    }
    Notice::new(
        now,
        user(row),
        Kind::StartFailed,
        format!("failed:{}", about(row)),
        &format!(
            "Your container for the booking from {} could not start; the host tries again every half hour. Docker said: {reason}",
            minute(row.start)
        ),
    )
}

/// For the admins, once a booking's start has failed `attempts` ≥ 3 times.
pub fn keeps_failing(row: &Row, attempts: u32, reason: &str, now: NaiveDateTime) -> Notice {
    Notice::new(
        now,
        Recipient::Admins,
        Kind::StartKeepsFailing,
        format!("keeps-failing:{}", about(row)),
        &format!(
            "{}'s container for the booking from {} failed to start {attempts} times; the latest: {reason}",
            row.user_id,
            minute(row.start)
        ),
    )
}

/// For the admins, one notice per process on a GPU outside the bookings (and per GPU
/// shared by two containers): its pid, its container or host user, its memory, each GPU it
/// is on. The key holds the pid, so the rate limit keeps each process to one notice per
/// period.
pub fn gpu_unbooked(findings: &[crate::gpuwatch::Finding], now: NaiveDateTime) -> Vec<Notice> {
    let mut by_key: Vec<(String, Vec<&str>)> = Vec::new();
    for f in findings {
        let key = match f.pid {
            Some(pid) => format!("gpu-unbooked:{pid}"),
            None => format!("gpu-shared:{}", f.gpu),
        };
        match by_key.iter_mut().find(|(k, _)| *k == key) {
            Some((_, messages)) => messages.push(&f.message),
            None => by_key.push((key, vec![&f.message])),
        }
    }
    by_key
        .into_iter()
        .map(|(key, messages)| {
            Notice::new(
                now,
                Recipient::Admins,
                Kind::GpuUnbooked,
                key,
                &format!(
                    "{} (monitor.log: GPUDuplicateWarning).",
                    messages.join("; ")
                ),
            )
        })
        .collect()
}

/// A failed tick leaves every file as it was (that is how bad input is handled), so this
/// notice is posted by the unit systemd starts on the failure, and says where to look.
pub fn tick_failed(now: NaiveDateTime) -> Notice {
    Notice::new(
        now,
        Recipient::Admins,
        Kind::TickFailed,
        "tick-failed",
        "A monitor tick failed: bookings are not started or closed until it runs again. `journalctl -t aivc-monitor` shows why; `checker validate` names a bad file.",
    )
}

/// The reminders due at `now` for the running rows `using`: 30 minutes before the end
/// (when 10 < minutes left ≤ 30) and 10 minutes before (≤ 10), each once per end (the key
/// holds the end, so an extended booking is reminded again).
pub fn reminders(using: &[Row], now: NaiveDateTime) -> Vec<Notice> {
    using
        .iter()
        .filter(|r| r.start <= now && now < r.end && r.end - now <= Duration::minutes(30))
        .map(|r| {
            let left = (r.end - now).num_minutes();
            let mark = if left <= 10 { 10 } else { 30 };
            Notice::new(
                now,
                user(r),
                Kind::EndingSoon,
                format!("ending{mark}:{}:{}", r.user_id, r.end),
                &format!(
                    "Your booking ends in {left} minutes, at {}: save your work (the container is removed; your work folder stays). To extend: booking --end-at.",
                    minute(r.end)
                ),
            )
        })
        .collect()
}

/// Posts the reminders due now (the five-minute timer's `monitor --deliver` and every tick).
pub fn post_reminders(root: &Root, now: NaiveDateTime) -> Result<(), hostinfo::Error> {
    let lock = root.lock_shared()?;
    let using = root.read_schedule(Table::Using, &lock)?.rows;
    drop(lock);
    // The rate limit would let a reminder through again after its period; the key's end
    // makes each one distinct, and a longer window than the booking keeps it once.
    root.notify(&reminders(&using, now));
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;
    use hostinfo::schedule::GpuSet;

    fn t(s: &str) -> NaiveDateTime {
        NaiveDateTime::parse_from_str(s, "%Y-%m-%d %H:%M").unwrap()
    }

    fn row(end: &str) -> Row {
        Row {
            start: t("2026-11-24 09:00"),
            end: t(end),
            user_id: "alice".into(),
            cpus: 1.0,
            memory: 1,
            gpus: GpuSet::default(),
            forward_port: 10001,
            image: None,
            extra_command: None,
            node: None,
        }
    }

    #[test]
    fn reminders_come_at_thirty_and_ten_minutes_and_not_before() {
        let rows = [row("2026-11-24 12:00")];
        assert!(reminders(&rows, t("2026-11-24 11:25")).is_empty());
        let at30 = reminders(&rows, t("2026-11-24 11:30"));
        assert_eq!(at30.len(), 1);
        assert_eq!(at30[0].key, "ending30:alice:2026-11-24 12:00:00");
        assert!(at30[0].text.starts_with("Your booking ends in 30 minutes"));
        let at10 = reminders(&rows, t("2026-11-24 11:50"));
        assert_eq!(at10[0].key, "ending10:alice:2026-11-24 12:00:00");
        assert!(reminders(&rows, t("2026-11-24 12:00")).is_empty());
    }

    #[test]
    fn a_quota_wait_and_a_docker_failure_are_told_apart() {
        let r = row("2026-11-24 12:00");
        let now = t("2026-11-24 09:00");
        let quota = not_started(&r, "over the disk quota: work 12 of 10 GB", now);
        assert_eq!(quota.kind, Kind::QuotaWait);
        let failed = not_started(&r, "no such image", now);
        assert_eq!(failed.kind, Kind::StartFailed);
        assert!(failed.text.ends_with("Docker said: no such image"));
    }
}
