//! Time as the booking system sees it (docs/user-guide.md): wall-clock times in the configured zone on
//! a 30-minute grid, the current slot, a clock fixed by `AIVC_NOW` in debug builds, and the
//! parser of what a user types for a start or an end.

use chrono::{DateTime, Duration, LocalResult, NaiveDate, NaiveDateTime, TimeZone, Timelike, Utc};
use chrono_tz::Tz;

/// One slot: 30 minutes.
pub const SLOT_MINUTES: i64 = 30;
/// How far ahead a start may lie, and how long a booking may last.
pub const HORIZON_DAYS: i64 = 14;

pub fn slot() -> Duration {
    Duration::minutes(SLOT_MINUTES)
}

pub fn horizon() -> Duration {
    Duration::days(HORIZON_DAYS)
}

/// The start of the slot holding `t`.
pub fn floor_slot(t: NaiveDateTime) -> NaiveDateTime {
    let minute = t.minute() - t.minute() % SLOT_MINUTES as u32;
    t.with_minute(minute)
        .and_then(|t| t.with_second(0))
        .and_then(|t| t.with_nanosecond(0))
        .expect("flooring the minute keeps a valid time")
}

/// Whether `t` is exactly :00 or :30.
pub fn is_on_grid(t: NaiveDateTime) -> bool {
    floor_slot(t) == t
}

/// What went wrong with a time a user typed or a window they asked for.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum TimeError {
    #[error(
        "`{0}` is not a time: use now, N-day, N-week, `YYYY MM DD hh mm` or `YYYY-MM-DD hh:mm`"
    )]
    Syntax(String),
    #[error("`{0}`: minutes must be 00 or 30")]
    OffGrid(String),
    #[error("`{0}` is not a date and time that exists")]
    NoSuchDate(String),
    #[error(
        "`{input}`: {days} days is out of range (N-day takes 1..14, N-week 1..2, 14 days at most)"
    )]
    RelativeRange { input: String, days: i64 },
    #[error("`now` is only a start, not an end")]
    NowAsEnd,
    #[error("{time} does not exist in {zone} (the clocks skip it for daylight saving time)")]
    DstGap { time: String, zone: String },
    #[error("{time} happens twice in {zone} (the clocks fall back); pick another slot")]
    DstAmbiguous { time: String, zone: String },
    #[error("the start {start} is in the past; the current slot is booked with `now`")]
    StartInPast { start: String },
    #[error("the start {start} is more than {HORIZON_DAYS} days ahead")]
    StartTooFar { start: String },
    #[error("the end {end} is not after the start {start}")]
    EndNotAfterStart { start: String, end: String },
    #[error("the end {end} is more than {HORIZON_DAYS} days after the start {start}")]
    TooLong { start: String, end: String },
    #[error("AIVC_NOW=`{0}` is not a time like `2026-01-31 13:30`")]
    BadFixedNow(String),
    #[error("AIVC_CLOCK_SHIFT_SECONDS=`{0}` is not a whole number of seconds under a year")]
    BadShift(String),
}

/// Where the clock's zone came from, for the state report.
#[derive(Debug, Clone, Copy, PartialEq, Eq, serde::Serialize)]
#[serde(rename_all = "snake_case")]
pub enum ZoneSource {
    Config,
    Host,
    DefaultUtc,
}

/// The clock in the configured zone, possibly fixed for tests.
#[derive(Debug, Clone, Copy)]
pub struct Clock {
    tz: Tz,
    fixed: Option<NaiveDateTime>,
    /// A fixed instant instead of the system clock (tests of the DST repeat).
    instant: Option<DateTime<Utc>>,
    /// Added to the system clock: `AIVC_CLOCK_SHIFT_SECONDS` in debug builds, so that a test
    /// of cluster mode stands a few seconds before a slot boundary while Slurm keeps real
    /// time ([`Clock::shift`] turns schedule times into Slurm's). Zero in release builds.
    shift: Duration,
}

impl Clock {
    /// The real clock in `tz`, or a fixed one when a debug build runs with `AIVC_NOW`.
    pub fn from_env(tz: Tz) -> Result<Self, TimeError> {
        let fixed = if cfg!(debug_assertions) {
            match std::env::var("AIVC_NOW") {
                Ok(text) if !text.trim().is_empty() => Some(parse_fixed_now(&text)?),
                _ => None,
            }
        } else {
            None
        };
        let shift = if cfg!(debug_assertions) {
            match std::env::var("AIVC_CLOCK_SHIFT_SECONDS") {
                Ok(text) if !text.trim().is_empty() => Duration::seconds(
                    text.trim()
                        .parse::<i64>()
                        .ok()
                        .filter(|s| s.abs() < 366 * 86_400)
                        .ok_or_else(|| TimeError::BadShift(text.clone()))?,
                ),
                _ => Duration::zero(),
            }
        } else {
            Duration::zero()
        };
        Ok(Clock {
            tz,
            fixed,
            instant: None,
            shift,
        })
    }

    /// How far the schedule's clock runs ahead of the system clock: zero, but for a debug
    /// build run with `AIVC_CLOCK_SHIFT_SECONDS`. A schedule time `t` happens at the
    /// system's `t - shift`.
    pub fn shift(&self) -> Duration {
        self.shift
    }

    /// A clock stopped at `now` (wall-clock time in `tz`).
    pub fn fixed(tz: Tz, now: NaiveDateTime) -> Self {
        Clock {
            tz,
            fixed: Some(now),
            instant: None,
            shift: Duration::zero(),
        }
    }

    /// A clock stopped at the instant `at` (which tells the two passes of a repeated hour
    /// apart, as the system clock does).
    pub fn at_instant(tz: Tz, at: DateTime<Utc>) -> Self {
        Clock {
            tz,
            fixed: None,
            instant: Some(at),
            shift: Duration::zero(),
        }
    }

    pub fn tz(&self) -> Tz {
        self.tz
    }

    /// Whether the time comes from `AIVC_NOW` rather than the system clock.
    pub fn is_fixed(&self) -> bool {
        self.fixed.is_some()
    }

    /// The wall-clock time now in the configured zone.
    pub fn now(&self) -> NaiveDateTime {
        self.fixed.unwrap_or_else(|| {
            (self.instant.unwrap_or_else(Utc::now) + self.shift)
                .with_timezone(&self.tz)
                .naive_local()
        })
    }

    /// The start a booking made `now` gets: the current slot — except in the second pass
    /// of an hour that a DST fall-back repeats. Times in `jobs/` are wall-clock times and
    /// cannot say which pass they mean; they mean the first, which is over by then, so the
    /// start is the first slot after the repeated hour. A clock fixed by `AIVC_NOW` is
    /// taken to be in the first pass.
    pub fn now_start(&self) -> NaiveDateTime {
        let slot = self.current_slot();
        if self.fixed.is_some() {
            return slot;
        }
        let instant = self.instant.unwrap_or_else(Utc::now) + self.shift;
        let LocalResult::Ambiguous(first, _) = self
            .tz
            .from_local_datetime(&instant.with_timezone(&self.tz).naive_local())
        else {
            return slot;
        };
        if first.naive_utc() == instant.naive_utc() {
            return slot;
        }
        let mut at = slot;
        while matches!(self.tz.from_local_datetime(&at), LocalResult::Ambiguous(..)) {
            at += Duration::minutes(SLOT_MINUTES);
        }
        at
    }

    /// The start of the current slot.
    pub fn current_slot(&self) -> NaiveDateTime {
        floor_slot(self.now())
    }

    /// Refuses a wall-clock time that the zone skips or repeats.
    pub fn check_exists(&self, t: NaiveDateTime) -> Result<(), TimeError> {
        let time = crate::schedule::format_time(t);
        let zone = self.tz.name().to_string();
        match self.tz.from_local_datetime(&t) {
            LocalResult::Single(_) => Ok(()),
            LocalResult::None => Err(TimeError::DstGap { time, zone }),
            LocalResult::Ambiguous(..) => Err(TimeError::DstAmbiguous { time, zone }),
        }
    }
}

fn parse_fixed_now(text: &str) -> Result<NaiveDateTime, TimeError> {
    NaiveDateTime::parse_from_str(text.trim(), "%Y-%m-%d %H:%M")
        .or_else(|_| NaiveDateTime::parse_from_str(text.trim(), "%Y-%m-%d %H:%M:%S"))
        .map_err(|_| TimeError::BadFixedNow(text.to_string()))
}

/// The host's own zone: `TZ`, then `/etc/timezone`, then the `/etc/localtime` link.
pub fn host_zone() -> Option<Tz> {
    let from_tz = std::env::var("TZ")
        .ok()
        .map(|v| v.trim_start_matches(':').to_string());
    let from_file = || std::fs::read_to_string("/etc/timezone").ok();
    let from_link = || {
        std::fs::read_link("/etc/localtime").ok().and_then(|p| {
            let p = p.to_string_lossy().into_owned();
            p.split_once("zoneinfo/").map(|(_, name)| name.to_string())
        })
    };
    [from_tz, from_file(), from_link()]
        .into_iter()
        .flatten()
        .find_map(|name| name.trim().parse::<Tz>().ok())
}

/// The zone to use: the configured one, else the host's, else UTC.
pub fn resolve_zone(configured: Option<&str>) -> (Tz, ZoneSource) {
    if let Some(tz) = configured.and_then(|name| name.parse::<Tz>().ok()) {
        return (tz, ZoneSource::Config);
    }
    match host_zone() {
        Some(tz) => (tz, ZoneSource::Host),
        None => (Tz::UTC, ZoneSource::DefaultUtc),
    }
}

/// Whether a time is asked for as a start or as the end of a window that starts at `start`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Role {
    Start,
    End { start: NaiveDateTime },
}

/// A parsed time, and whether the user said `now`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct When {
    pub at: NaiveDateTime,
    pub via_now: bool,
}

/// Parses what a user typed for a start or an end (docs/user-guide.md). The result exists in the zone
/// and lies on the grid; the window rules are [`check_window`]'s.
pub fn parse_when(input: &str, role: Role, clock: &Clock) -> Result<When, TimeError> {
    let text = input.trim();
    let words: Vec<&str> = text.split_whitespace().collect();
    if words.is_empty() {
        return Err(TimeError::Syntax(input.to_string()));
    }
    if text.eq_ignore_ascii_case("now") {
        return match role {
            Role::Start => Ok(When {
                at: clock.now_start(),
                via_now: true,
            }),
            Role::End { .. } => Err(TimeError::NowAsEnd),
        };
    }
    let at = if let Some(days) = relative_days(&words, input)? {
        let base = match role {
            Role::Start => clock.current_slot(),
            Role::End { start } => start,
        };
        base + Duration::days(days)
    } else {
        absolute(&words, input)?
    };
    if !is_on_grid(at) {
        return Err(TimeError::OffGrid(input.to_string()));
    }
    clock.check_exists(at)?;
    Ok(When { at, via_now: false })
}

/// `N-day`, `N-week` and their combinations, in days; `None` when the text is not of that form.
fn relative_days(words: &[&str], input: &str) -> Result<Option<i64>, TimeError> {
    let mut total = 0i64;
    for word in words {
        let lower = word.to_ascii_lowercase();
        let (number, per, max) = if let Some(n) = lower.strip_suffix("-day") {
            (n, 1, HORIZON_DAYS)
        } else if let Some(n) = lower.strip_suffix("-week") {
            (n, 7, HORIZON_DAYS / 7)
        } else {
            return Ok(None);
        };
        let n: i64 = number
            .parse()
            .map_err(|_| TimeError::Syntax(input.to_string()))?;
        if !(1..=max).contains(&n) {
            return Err(TimeError::RelativeRange {
                input: input.to_string(),
                days: n * per,
            });
        }
        total += n * per;
    }
    if total > HORIZON_DAYS {
        return Err(TimeError::RelativeRange {
            input: input.to_string(),
            days: total,
        });
    }
    Ok(Some(total))
}

/// `YYYY MM DD hh mm` or `YYYY-MM-DD hh:mm` (also `hh:mm:00`, as the files, `-ls --json`
/// and the dashboard write times, so a time copied from them reads back).
fn absolute(words: &[&str], input: &str) -> Result<NaiveDateTime, TimeError> {
    let parts: Vec<&str> = match words {
        [y, mo, d, h, mi] => vec![y, mo, d, h, mi],
        [date, time] => {
            let d: Vec<&str> = date.split('-').collect();
            let mut t: Vec<&str> = time.split(':').collect();
            if t.len() == 3 && t[2] == "00" {
                t.pop();
            }
            if d.len() != 3 || t.len() != 2 {
                return Err(TimeError::Syntax(input.to_string()));
            }
            d.into_iter().chain(t).collect()
        }
        _ => return Err(TimeError::Syntax(input.to_string())),
    };
    let nums: Vec<u32> = parts
        .iter()
        .map(|p| {
            if p.is_empty() || p.len() > 4 || !p.bytes().all(|b| b.is_ascii_digit()) {
                Err(TimeError::Syntax(input.to_string()))
            } else {
                Ok(p.parse().expect("digits only"))
            }
        })
        .collect::<Result<_, _>>()?;
    if parts[0].len() != 4 {
        return Err(TimeError::Syntax(input.to_string()));
    }
    if nums[4] != 0 && nums[4] != 30 {
        return Err(TimeError::OffGrid(input.to_string()));
    }
    NaiveDate::from_ymd_opt(nums[0] as i32, nums[1], nums[2])
        .and_then(|d| d.and_hms_opt(nums[3], nums[4], 0))
        .ok_or_else(|| TimeError::NoSuchDate(input.to_string()))
}

/// The window rules: a start not in the past (the current slot only via `now`),
/// at most 14 days ahead; an end after the start, at most 14 days after it.
pub fn check_window(start: When, end: NaiveDateTime, clock: &Clock) -> Result<(), TimeError> {
    let now_slot = clock.current_slot();
    let fmt = crate::schedule::format_time;
    // `now` books the current slot; a typed start must be a later slot.
    let in_past = if start.via_now {
        start.at < now_slot
    } else {
        start.at <= now_slot
    };
    if in_past {
        return Err(TimeError::StartInPast {
            start: fmt(start.at),
        });
    }
    if start.at > now_slot + horizon() {
        return Err(TimeError::StartTooFar {
            start: fmt(start.at),
        });
    }
    if end <= start.at {
        return Err(TimeError::EndNotAfterStart {
            start: fmt(start.at),
            end: fmt(end),
        });
    }
    if end > start.at + horizon() {
        return Err(TimeError::TooLong {
            start: fmt(start.at),
            end: fmt(end),
        });
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn t(text: &str) -> NaiveDateTime {
        NaiveDateTime::parse_from_str(text, "%Y-%m-%d %H:%M").unwrap()
    }

    fn taipei_at(now: &str) -> Clock {
        Clock::fixed(chrono_tz::Asia::Taipei, t(now))
    }

    #[test]
    fn now_is_the_current_slot_floored() {
        let clock = taipei_at("2026-11-21 15:47");
        let when = parse_when("now", Role::Start, &clock).unwrap();
        assert_eq!(when.at, t("2026-11-21 15:30"));
        assert!(when.via_now);
        assert_eq!(
            parse_when("now", Role::End { start: when.at }, &clock),
            Err(TimeError::NowAsEnd)
        );
    }

    #[test]
    fn relative_start_counts_from_the_slot_and_end_from_the_start() {
        let clock = taipei_at("2026-11-21 15:47");
        let start = parse_when("1-week 2-day", Role::Start, &clock).unwrap().at;
        assert_eq!(start, t("2026-11-30 15:30"));
        let end = parse_when("2-day", Role::End { start }, &clock).unwrap().at;
        assert_eq!(end, t("2026-12-02 15:30"));
    }

    #[test]
    fn relative_out_of_range_is_refused() {
        let clock = taipei_at("2026-11-21 15:47");
        for text in [
            "0-day",
            "15-day",
            "3-week",
            "2-week 1-day",
            "x-day",
            "1-days",
        ] {
            assert!(parse_when(text, Role::Start, &clock).is_err(), "{text}");
        }
    }

    #[test]
    fn a_time_copied_from_the_files_with_zero_seconds_reads_back_and_other_seconds_do_not() {
        let clock = taipei_at("2026-11-21 15:47");
        let at = parse_when("2026-11-25 14:00:00", Role::Start, &clock)
            .unwrap()
            .at;
        assert_eq!(at, t("2026-11-25 14:00"));
        for text in ["2026-11-25 14:00:30", "2026-11-25 14:00:00:00"] {
            assert!(parse_when(text, Role::Start, &clock).is_err(), "{text}");
        }
    }

    #[test]
    fn absolute_forms_both_parse_and_must_be_on_the_grid() {
        let clock = taipei_at("2026-11-21 15:47");
        let a = parse_when("2026 11 22 09 30", Role::Start, &clock)
            .unwrap()
            .at;
        let b = parse_when("2026-11-22 09:30", Role::Start, &clock)
            .unwrap()
            .at;
        assert_eq!(a, t("2026-11-22 09:30"));
        assert_eq!(a, b);
        assert!(matches!(
            parse_when("2026 11 22 09 15", Role::Start, &clock),
            Err(TimeError::OffGrid(_))
        ));
        assert!(matches!(
            parse_when("2026 02 30 09 00", Role::Start, &clock),
            Err(TimeError::NoSuchDate(_))
        ));
        assert!(matches!(
            parse_when("26 11 22 09 00", Role::Start, &clock),
            Err(TimeError::Syntax(_))
        ));
    }

    #[test]
    fn now_in_the_second_pass_of_a_repeated_hour_starts_after_it() {
        // Berlin falls back at 03:00 CEST on 2026-10-25: 02:00–03:00 happens twice.
        let utc = |s: &str| t(s).and_utc();
        let berlin = chrono_tz::Europe::Berlin;
        let first = Clock::at_instant(berlin, utc("2026-10-25 00:15"));
        let second = Clock::at_instant(berlin, utc("2026-10-25 01:15"));
        assert_eq!(first.now(), second.now(), "both read 02:15");
        let now = |c: &Clock| parse_when("now", Role::Start, c).unwrap().at;
        assert_eq!(now(&first), t("2026-10-25 02:00"));
        assert_eq!(now(&second), t("2026-10-25 03:00"));
        let after = Clock::at_instant(berlin, utc("2026-10-25 02:15"));
        assert_eq!(now(&after), t("2026-10-25 03:00"));
    }

    #[test]
    fn dst_gap_and_repeat_are_refused() {
        let berlin = Clock::fixed(chrono_tz::Europe::Berlin, t("2026-03-28 12:00"));
        assert!(matches!(
            parse_when("2026-03-29 02:30", Role::Start, &berlin),
            Err(TimeError::DstGap { .. })
        ));
        let berlin = Clock::fixed(chrono_tz::Europe::Berlin, t("2026-10-24 12:00"));
        assert!(matches!(
            parse_when("2026-10-25 02:30", Role::Start, &berlin),
            Err(TimeError::DstAmbiguous { .. })
        ));
    }

    #[test]
    fn window_rules_of_spec_section_4() {
        let clock = taipei_at("2026-11-21 15:47");
        let slot = t("2026-11-21 15:30");
        let typed = |at| When { at, via_now: false };
        let now = When {
            at: slot,
            via_now: true,
        };
        assert!(check_window(now, t("2026-11-21 16:00"), &clock).is_ok());
        assert!(matches!(
            check_window(typed(slot), t("2026-11-21 16:00"), &clock),
            Err(TimeError::StartInPast { .. })
        ));
        assert!(check_window(typed(t("2026-11-21 16:00")), t("2026-11-21 16:30"), &clock).is_ok());
        assert!(matches!(
            check_window(typed(t("2026-12-05 16:00")), t("2026-12-05 16:30"), &clock),
            Err(TimeError::StartTooFar { .. })
        ));
        assert!(check_window(typed(t("2026-12-05 15:30")), t("2026-12-05 16:30"), &clock).is_ok());
        assert!(matches!(
            check_window(typed(t("2026-11-22 10:00")), t("2026-11-22 10:00"), &clock),
            Err(TimeError::EndNotAfterStart { .. })
        ));
        assert!(matches!(
            check_window(typed(t("2026-11-22 10:00")), t("2026-12-06 10:30"), &clock),
            Err(TimeError::TooLong { .. })
        ));
    }
}
