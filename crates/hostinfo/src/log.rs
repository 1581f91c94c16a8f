//! `jobs/monitor.log` lines (docs/file-formats.md): `YYYYMMDD HH:MM [INFO] message` or
//! `YYYYMMDD HH:MM [WARNING|ERROR] Sign, message`, written and parsed back.

use chrono::NaiveDateTime;

#[derive(Debug, Clone, Copy, PartialEq, Eq, serde::Serialize)]
#[serde(rename_all = "UPPERCASE")]
pub enum Level {
    Info,
    Warning,
    Error,
}

impl Level {
    fn as_str(self) -> &'static str {
        match self {
            Level::Info => "INFO",
            Level::Warning => "WARNING",
            Level::Error => "ERROR",
        }
    }
}

/// The signs a warning or an error carries, as the original wrote them.
#[derive(Debug, Clone, Copy, PartialEq, Eq, serde::Serialize)]
pub enum Sign {
    SpaceWarning,
    ContainerWarning,
    ContainerError,
    GPUDuplicateWarning,
    UpdateError,
    /// A wrong password or sign-up code, a lock-out, or a refusal while locked out.
    AuthWarning,
    /// A notice channel (container file, e-mail, webhook) that failed this run.
    NoticeWarning,
    /// A running booking's GPUs have been idle for 80 % or 95 % of its idle timeout, or
    /// past it with nobody who could use them (report only).
    IdleWarning,
    /// A booking idle past its timeout was reclaimed: its end moved to the next slot.
    IdleReclaim,
    /// A container of this installation that used a GPU it did not book was stopped.
    GPUUnbookedStop,
    /// The metrics textfile for node_exporter (`cfg/dashboard.yaml`) could not be written.
    MetricsWarning,
    /// Cluster mode: Slurm could not be read or refused a change (retried next tick), or
    /// the node side refused a job.
    SlurmError,
}

impl Sign {
    pub const ALL: [Sign; 12] = [
        Sign::SpaceWarning,
        Sign::ContainerWarning,
        Sign::ContainerError,
        Sign::GPUDuplicateWarning,
        Sign::UpdateError,
        Sign::AuthWarning,
        Sign::NoticeWarning,
        Sign::IdleWarning,
        Sign::IdleReclaim,
        Sign::GPUUnbookedStop,
        Sign::MetricsWarning,
        Sign::SlurmError,
    ];

    pub fn as_str(self) -> &'static str {
        match self {
            Sign::SpaceWarning => "SpaceWarning",
            Sign::ContainerWarning => "ContainerWarning",
            Sign::ContainerError => "ContainerError",
            Sign::GPUDuplicateWarning => "GPUDuplicateWarning",
            Sign::UpdateError => "UpdateError",
            Sign::AuthWarning => "AuthWarning",
            Sign::NoticeWarning => "NoticeWarning",
            Sign::IdleWarning => "IdleWarning",
            Sign::IdleReclaim => "IdleReclaim",
            Sign::GPUUnbookedStop => "GPUUnbookedStop",
            Sign::MetricsWarning => "MetricsWarning",
            Sign::SlurmError => "SlurmError",
        }
    }
}

/// One line of the log.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct LogLine {
    /// Wall-clock time, to the minute.
    pub at: NaiveDateTime,
    pub level: Level,
    /// Present exactly for warnings and errors.
    pub sign: Option<Sign>,
    pub message: String,
}

impl LogLine {
    pub fn info(at: NaiveDateTime, message: impl Into<String>) -> Self {
        Self::new(at, Level::Info, None, message)
    }

    pub fn warning(at: NaiveDateTime, sign: Sign, message: impl Into<String>) -> Self {
        Self::new(at, Level::Warning, Some(sign), message)
    }

    pub fn error(at: NaiveDateTime, sign: Sign, message: impl Into<String>) -> Self {
        Self::new(at, Level::Error, Some(sign), message)
    }

    fn new(
        at: NaiveDateTime,
        level: Level,
        sign: Option<Sign>,
        message: impl Into<String>,
    ) -> Self {
        // One event, one line: whatever a message quotes cannot forge another line.
        let message = message
            .into()
            .chars()
            .map(|c| if c.is_control() { ' ' } else { c })
            .collect();
        LogLine {
            at,
            level,
            sign,
            message,
        }
    }

    /// Parses one line as [`std::fmt::Display`] writes it.
    pub fn parse(line: &str) -> Result<Self, String> {
        let bad = |why: &str| format!("`{line}` is not a monitor.log line: {why}");
        let stamp = line.get(..14).ok_or_else(|| bad("too short"))?;
        let at = NaiveDateTime::parse_from_str(stamp, "%Y%m%d %H:%M")
            .map_err(|_| bad("no `YYYYMMDD HH:MM` time"))?;
        let rest = line[14..]
            .strip_prefix(" [")
            .ok_or_else(|| bad("no [LEVEL]"))?;
        let (level, rest) = rest.split_once("] ").ok_or_else(|| bad("no [LEVEL]"))?;
        let level = match level {
            "INFO" => Level::Info,
            "WARNING" => Level::Warning,
            "ERROR" => Level::Error,
            _ => return Err(bad("level is not INFO, WARNING or ERROR")),
        };
        let (sign, message) = if level == Level::Info {
            (None, rest)
        } else {
            let (sign, message) = rest.split_once(", ").ok_or_else(|| bad("no `Sign, `"))?;
            let sign = Sign::ALL
                .into_iter()
                .find(|s| s.as_str() == sign)
                .ok_or_else(|| bad("unknown sign"))?;
            (Some(sign), message)
        };
        Ok(LogLine {
            at,
            level,
            sign,
            message: message.to_string(),
        })
    }
}

impl std::fmt::Display for LogLine {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(
            f,
            "{} [{}] ",
            self.at.format("%Y%m%d %H:%M"),
            self.level.as_str()
        )?;
        if let Some(sign) = self.sign {
            write!(f, "{}, ", sign.as_str())?;
        }
        f.write_str(&self.message)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn at() -> NaiveDateTime {
        NaiveDateTime::parse_from_str("2023-01-01 13:30", "%Y-%m-%d %H:%M").unwrap()
    }

    #[test]
    fn writes_the_spec_examples_exactly() {
        let w = LogLine::warning(
            at(),
            Sign::SpaceWarning,
            "m11007s05 is over-use the work_dir 10GB, and backup_dir 2GB.",
        );
        assert_eq!(
            w.to_string(),
            "20230101 13:30 [WARNING] SpaceWarning, m11007s05 is over-use the work_dir 10GB, and backup_dir 2GB."
        );
        let i = LogLine::info(at(), "m11007s05 is successfully run the container.");
        assert_eq!(
            i.to_string(),
            "20230101 13:30 [INFO] m11007s05 is successfully run the container."
        );
        assert_eq!(LogLine::parse(&w.to_string()).unwrap(), w);
        assert_eq!(LogLine::parse(&i.to_string()).unwrap(), i);
    }

    #[test]
    fn an_auth_warning_is_written_and_read_back_with_its_sign() {
        let w = LogLine::warning(at(), Sign::AuthWarning, "bob: wrong password (1 in a row).");
        assert_eq!(
            w.to_string(),
            "20230101 13:30 [WARNING] AuthWarning, bob: wrong password (1 in a row)."
        );
        assert_eq!(LogLine::parse(&w.to_string()).unwrap(), w);
    }

    #[test]
    fn a_newline_in_a_message_cannot_forge_a_second_line() {
        let l = LogLine::info(at(), "x\n20230101 13:30 [INFO] forged");
        assert_eq!(l.to_string().lines().count(), 1);
    }

    #[test]
    fn refuses_lines_that_are_not_log_lines() {
        for line in [
            "",
            "hello",
            "20230101 13:30 [DEBUG] x",
            "20230101 13:30 [WARNING] x",
            "20230101 13:30 [ERROR] Nope, x",
        ] {
            assert!(LogLine::parse(line).is_err(), "{line}");
        }
    }
}
