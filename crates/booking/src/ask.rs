//! The question logic of the interactive flow as plain functions: what an answer means,
//! and which of the original messages a wrong one gets. Whether a password may be used is
//! [`crate::credentials`]'s (booking-ops), shared with the web.

use std::io::{BufRead, BufReader, Read};

use checker::limits::{explain, source_text, Source, UserMax};
use hostinfo::auth::PASSWORD_MAX_BYTES;
use hostinfo::config::CapabilityConfig;
use hostinfo::config::Secret;

pub const WRONG_INPUT: &str = "Wrong Input!";
pub const OVER_MAXIMUM: &str = "Over the maximum required.";
pub const BELOW_ONE: &str = "The value can not lower than 1.";
pub const INCORRECT: &str = "Incorrect!!";
pub const BYE: &str = "ByeBye~~";
pub const SUCCESS: &str = "Booking successful!";
pub const NOT_ENOUGH: &str =
    "There is not enough computing power for the time you need, book again.";
pub const ONCE_OR_DEFAULT: &str =
    "The previous setting is for the once, do you want to update the default config?";

/// How many password attempts an existing user gets.
pub const PASSWORD_TRIES: usize = 3;

/// The node question, asked on a cluster only: `Node (any, node0, node1):`.
pub fn node_question(cluster: &hostinfo::cluster::ClusterConfig) -> String {
    let names: Vec<&str> = cluster.node_names().collect();
    format!("Node to run on (any, {}):", names.join(", "))
}

/// The maximum line shown before the capability question.
pub fn max_line(max: &UserMax) -> String {
    format!(
        "Your Maximum Capability Information: cpus={} memory={} gpus={}",
        max.cpus, max.memory, max.gpus
    )
}

/// Said under [`max_line`]: where the maximums come from when a group or an exception sets
/// any of them (`group phd's tier`, `your exception, thesis runs`), and what the group's
/// members may hold together. Empty for a user in no group and without an exception, who
/// sees the original's screen.
pub fn max_origin(cap: &CapabilityConfig, id: &str) -> Vec<String> {
    let group = cap.group_of(id);
    let exception = cap.exception(id);
    if group.is_none() && exception.is_none() {
        return Vec::new();
    }
    let mut sources: Vec<(String, Vec<&str>)> = Vec::new();
    for key in ["cpus", "memory", "gpus"] {
        let from = source_text(cap, id, key);
        match sources.iter_mut().find(|(f, _)| *f == from) {
            Some((_, keys)) => keys.push(key),
            None => sources.push((from, vec![key])),
        }
    }
    let said: Vec<String> = sources
        .iter()
        .map(|(from, keys)| format!("{}: {from}", keys.join(", ")))
        .collect();
    let mut out = vec![format!("  ({})", said.join("; "))];
    // An exception that sets only policies still has its reason said.
    let explained = explain(cap, id);
    let mentioned = sources
        .iter()
        .any(|(from, _)| from.starts_with("your exception"));
    if let (false, Some(reason)) = (mentioned, &explained.reason) {
        let keys: Vec<&str> = explained
            .limits
            .iter()
            .filter(|l| l.from == Source::Exception)
            .map(|l| l.key.as_str())
            .collect();
        if !keys.is_empty() {
            out.push(format!("  Your exception ({}): {reason}", keys.join(", ")));
        }
    }
    if let Some((name, g)) = group {
        out.push(match crate::list::total_text(&g.total) {
            Some(total) => {
                format!("  Group {name}: its members together hold at most {total} at any time.")
            }
            None => format!("  Group {name}: no limit on what its members hold together."),
        });
    }
    out
}

/// Parses `cpus memory gpus` (gpus may be left out: 0). cpus may be a decimal.
pub fn parse_capability(input: &str, max: &UserMax) -> Result<(f64, u32, u32), &'static str> {
    let words: Vec<&str> = input.split_whitespace().collect();
    let (cpus, memory, gpus) = match words.as_slice() {
        [c, m] => (*c, *m, "0"),
        [c, m, g] => (*c, *m, *g),
        _ => return Err(WRONG_INPUT),
    };
    let cpus: f64 = cpus
        .parse()
        .ok()
        .filter(|c: &f64| c.is_finite())
        .ok_or(WRONG_INPUT)?;
    let memory: i64 = memory.parse().map_err(|_| WRONG_INPUT)?;
    let gpus: i64 = gpus.parse().map_err(|_| WRONG_INPUT)?;
    if cpus < 1.0 || memory < 1 || gpus < 0 {
        return Err(BELOW_ONE);
    }
    if cpus > max.cpus + 1e-9 || memory as f64 > max.memory + 1e-9 || gpus > i64::from(max.gpus) {
        return Err(OVER_MAXIMUM);
    }
    Ok((cpus, memory as u32, gpus as u32))
}

/// A clause as a sentence for the prompt: capital first letter, a full stop.
pub fn sentence(clause: &str) -> String {
    let mut chars = clause.chars();
    match chars.next() {
        Some(first) => format!("{}{}.", first.to_uppercase(), chars.as_str()),
        None => String::new(),
    }
}

/// What `--password-stdin` gives: the password on the first line and, for a sign-up with a
/// code or a password reset by the admin, the code on the second.
#[derive(Debug)]
pub struct StdinSecrets {
    pub password: Secret,
    pub code: Option<Secret>,
}

/// The longest code line read; codes are 19 characters, typed with spaces perhaps.
const CODE_LINE_MAX: usize = 64;

/// Reads [`StdinSecrets`] from `input`, never more than a 128-byte password line and a
/// 64-byte code line (each with its CR LF): a huge or endless input is refused as soon as
/// a line passes its bound, without waiting for its end. Messages never quote the input.
pub fn read_secrets(input: impl Read) -> Result<StdinSecrets, String> {
    // A small buffer: what is read past the two lines is never more than this.
    let mut input = BufReader::with_capacity(256, input);
    let password = match read_capped_line(&mut input, PASSWORD_MAX_BYTES)? {
        Line::Text(t) if t.is_empty() => {
            return Err("no password on standard input".into());
        }
        Line::Text(t) => t,
        Line::TooLong => {
            return Err(format!(
                "the password on standard input is longer than {PASSWORD_MAX_BYTES} bytes"
            ))
        }
    };
    let code = match read_capped_line(&mut input, CODE_LINE_MAX)? {
        Line::Text(t) if t.trim().is_empty() => None,
        Line::Text(t) => Some(Secret::new(t)),
        Line::TooLong => return Err("the sign-up code on standard input is too long".into()),
    };
    Ok(StdinSecrets {
        password: Secret::new(password),
        code,
    })
}

enum Line {
    Text(String),
    TooLong,
}

/// One line of at most `max` bytes (without its LF or CR LF), reading at most `max + 2`.
fn read_capped_line(input: &mut impl BufRead, max: usize) -> Result<Line, String> {
    let mut bytes = Vec::new();
    input
        .take(max as u64 + 2)
        .read_until(b'\n', &mut bytes)
        .map_err(|e| format!("cannot read standard input: {e}"))?;
    if bytes.last() == Some(&b'\n') {
        bytes.pop();
        if bytes.last() == Some(&b'\r') {
            bytes.pop();
        }
    }
    if bytes.len() > max {
        return Ok(Line::TooLong);
    }
    String::from_utf8(bytes)
        .map(Line::Text)
        .map_err(|_| "standard input is not UTF-8 text".to_string())
}

/// An answer to the extra-command question: `None` for none, or why it cannot be one.
pub fn parse_extra_command(answer: &str) -> Result<Option<String>, &'static str> {
    if answer.trim().is_empty() {
        return Ok(None);
    }
    match hostinfo::auth::extra_command_problem(answer) {
        Some(why) => Err(why),
        None => Ok(Some(answer.to_string())),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::credentials::password_problem;

    fn max() -> UserMax {
        UserMax {
            cpus: 8.0,
            memory: 32.0,
            gpus: 1,
            backup_space: 1.0,
            work_space: 1.0,
        }
    }

    fn capability(extra: &str) -> CapabilityConfig {
        let text = format!(
            "max:\n  cpus: 16\n  ram: 64\n  swap_size: 16\n  gpus: 2\n  backup_space: 100\n  work_space: 400\nallow_userIDs: [alice, bob, carol, dave]\nmax_default_capability:\n  cpus: 8\n  memory: 32\n  gpus: 1\n{extra}"
        );
        CapabilityConfig::parse(std::path::Path::new("c.yaml"), &text).unwrap()
    }

    #[test]
    fn the_maximums_say_the_group_and_the_exceptions_reason() {
        let cap = capability(
            "max_custom_capability:\n  alice:\n    gpus: max\n    reason: thesis runs, approved by the PI\n  carol:\n    reason: night jobs\n    policies: {max_hours_per_booking: 120}\ngroups:\n  phd:\n    members: [alice, bob]\n    max_capability: {cpus: 12, memory: 48}\n    total: {cpus: 12, memory: 48, gpus: 2}\n  staff:\n    members: [carol]\n",
        );
        assert_eq!(
            max_origin(&cap, "alice"),
            [
                "  (cpus, memory: group phd's tier; gpus: your exception, thesis runs, approved by the PI)",
                "  Group phd: its members together hold at most 2 GPUs, 12 cpus, 48 GB at any time.",
            ]
        );
        assert_eq!(
            max_origin(&cap, "bob"),
            [
                "  (cpus, memory: group phd's tier; gpus: the lab default)",
                "  Group phd: its members together hold at most 2 GPUs, 12 cpus, 48 GB at any time.",
            ]
        );
        assert_eq!(
            max_origin(&cap, "carol"),
            [
                "  (cpus, memory, gpus: the lab default)",
                "  Your exception (max_hours_per_booking): night jobs",
                "  Group staff: no limit on what its members hold together.",
            ]
        );
        assert!(
            max_origin(&cap, "dave").is_empty(),
            "no group, no exception: the original's screen"
        );
    }

    #[test]
    fn capability_answers_and_their_messages() {
        assert_eq!(parse_capability("4 16 1", &max()), Ok((4.0, 16, 1)));
        assert_eq!(parse_capability(" 1.5  2 ", &max()), Ok((1.5, 2, 0)));
        assert_eq!(parse_capability("9 16 1", &max()), Err(OVER_MAXIMUM));
        assert_eq!(parse_capability("4 33 0", &max()), Err(OVER_MAXIMUM));
        assert_eq!(parse_capability("4 16 2", &max()), Err(OVER_MAXIMUM));
        assert_eq!(parse_capability("0.5 16 0", &max()), Err(BELOW_ONE));
        assert_eq!(parse_capability("4 0 0", &max()), Err(BELOW_ONE));
        assert_eq!(parse_capability("4 1 -1", &max()), Err(BELOW_ONE));
        for bad in [
            "", "4", "four 1 1", "4 1.5 0", "4 1 1 1", "NaN 1 1", "inf 1 1",
        ] {
            assert_eq!(parse_capability(bad, &max()), Err(WRONG_INPUT), "{bad}");
        }
    }

    /// Regression: the prompt said "The password needs too common." and "The password
    /// needs not one character repeated."; every rule now reads as an English sentence.
    #[test]
    fn password_rules_read_as_plain_english() {
        for (weak, says) in [
            ("abc", "The password is too short: use at least 4 characters."),
            (
                "1qaz",
                "The password is too common (1234, 4321, 1qaz and =0-9 are refused): choose another.",
            ),
            (
                "zzzzz",
                "The password is one character repeated: use at least two different characters.",
            ),
        ] {
            let why = password_problem(weak).unwrap();
            assert_eq!(sentence(why), says);
            assert!(!why.contains("needs too") && !why.contains("needs not"), "{why}");
        }
    }

    fn secrets(input: &[u8]) -> Result<(String, Option<String>), String> {
        read_secrets(input).map(|s| {
            (
                s.password.expose().to_string(),
                s.code.map(|c| c.expose().to_string()),
            )
        })
    }

    #[test]
    fn stdin_gives_a_password_line_and_perhaps_a_code_line() {
        assert_eq!(secrets(b"pw-1\n"), Ok(("pw-1".into(), None)));
        assert_eq!(secrets(b"pw-1"), Ok(("pw-1".into(), None)));
        assert_eq!(secrets(b"pw 1\r\n\r\n"), Ok(("pw 1".into(), None)));
        assert_eq!(
            secrets(b"pw-1\nABCD-EFGH\nignored"),
            Ok(("pw-1".into(), Some("ABCD-EFGH".into())))
        );
        let max = "x".repeat(128);
        assert_eq!(secrets(format!("{max}\r\n").as_bytes()), Ok((max, None)));
    }

    #[test]
    fn stdin_stops_reading_at_the_bound_and_never_quotes_the_input() {
        /// Counts what was read, and would give 30 MB of `x` without a line break.
        struct Endless(usize);
        impl Read for Endless {
            fn read(&mut self, buf: &mut [u8]) -> std::io::Result<usize> {
                let n = buf.len().min(30_000_000 - self.0);
                buf[..n].fill(b'x');
                self.0 += n;
                Ok(n)
            }
        }
        let mut endless = Endless(0);
        let e = read_secrets(&mut endless).unwrap_err();
        assert_eq!(e, "the password on standard input is longer than 128 bytes");
        assert!(endless.0 <= 256, "read {} bytes", endless.0);
        for bad in [&b"x".repeat(129)[..], b"\n", b"", b"\xff\xfepw\n"] {
            let e = secrets(bad).unwrap_err();
            assert!(!e.contains("xxx") && !e.contains("pw"), "{e}");
        }
        let long_code = format!("pw-1\n{}\n", "A".repeat(65));
        assert!(secrets(long_code.as_bytes()).is_err());
    }

    #[test]
    fn an_extra_command_answer_is_none_or_bounded() {
        assert_eq!(parse_extra_command("  "), Ok(None));
        assert_eq!(parse_extra_command("echo hi"), Ok(Some("echo hi".into())));
        assert!(parse_extra_command(&"x".repeat(4097)).is_err());
        assert!(parse_extra_command("a\0b").is_err());
    }
}
