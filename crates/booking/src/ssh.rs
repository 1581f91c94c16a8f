//! The booking container's entry point: `booking --root DIR --ssh-command LINE` turns the
//! command line a student gave ssh into booking's arguments, never through a shell.
//!
//! ssh sends the words after the host joined by spaces (the student's quotes are gone by
//! then), and sshd hands them over as one string, `SSH_ORIGINAL_COMMAND`. booking-shell
//! passes that string on as one argument. Here it is split by the POSIX shell's quoting
//! rules (`'…'`, `"…"` with `\` escapes, `\` outside quotes) and by nothing else: no
//! globbing, no `$`, `` ` ``, `;`, `|`, `&` or redirection — those characters stay in their
//! word as text, and every word is an argument of booking, which the normal parser then
//! reads. A quote left open, a word that starts a shell comment (`#`) and a `--root` are
//! refused. Because ssh loses the student's quotes, the plain words after a time option
//! (`--cancel 2026-12-06 10:00`) are joined back into its value: booking takes no
//! positional arguments, so such a word could be nothing else.

use std::ffi::OsString;
use std::os::unix::ffi::{OsStrExt, OsStringExt};

/// The flag booking-shell passes, followed by the original command line as one argument.
pub const FLAG: &str = "--ssh-command";

/// Options whose value is a time, which may be several words (`2026 12 06 10 00`,
/// `1-week 2-day`).
const TIME_OPTIONS: [&str; 6] = [
    "--start",
    "--end",
    "--cancel",
    "--end-at",
    "--which",
    "--latest-start",
];

/// The arguments to parse: `args` as they are unless they hold [`FLAG`]; then exactly
/// `booking --root DIR --ssh-command LINE` is accepted and becomes `booking --root DIR`
/// followed by the words of LINE.
pub fn arguments(args: impl IntoIterator<Item = OsString>) -> Result<Vec<OsString>, String> {
    let args: Vec<OsString> = args.into_iter().collect();
    let flagged = |a: &OsString| {
        let b = a.as_bytes();
        b == FLAG.as_bytes() || b.starts_with(format!("{FLAG}=").as_bytes())
    };
    if !args.iter().skip(1).any(flagged) {
        return Ok(args);
    }
    let [program, root_flag, root, flag, line] = &args[..] else {
        return Err(format!(
            "{FLAG} takes one argument and comes last, after --root DIR"
        ));
    };
    if root_flag != "--root" || flag != FLAG {
        return Err(format!(
            "{FLAG} takes one argument and comes last, after --root DIR"
        ));
    }
    let words = split(line.as_bytes())?;
    let mut out = vec![program.clone(), root_flag.clone(), root.clone()];
    out.extend(words.into_iter().map(OsString::from_vec));
    Ok(out)
}

/// The words of an ssh command line, checked and with the time values joined back.
pub fn split(line: &[u8]) -> Result<Vec<Vec<u8>>, String> {
    let words = shlex::bytes::split(line).ok_or_else(|| {
        "a quote is not closed (or the line ends in a backslash); over ssh, quote a value \
         with spaces twice: -- --extra-command \"'python train.py'\""
            .to_string()
    })?;
    // shlex drops a word starting with `#` and the rest of the line, as a shell does. A
    // NUL never occurs in an argument, so splitting again with `#` hidden as NUL shows
    // whether a comment was dropped.
    let hidden: Vec<u8> = line
        .iter()
        .map(|&b| if b == b'#' { 0 } else { b })
        .collect();
    let unhidden: Option<Vec<Vec<u8>>> = shlex::bytes::split(&hidden).map(|ws| {
        ws.into_iter()
            .map(|w| {
                w.into_iter()
                    .map(|b| if b == 0 { b'#' } else { b })
                    .collect()
            })
            .collect()
    });
    if unhidden.as_ref() != Some(&words) {
        return Err(
            "a word starting with `#` would be a shell comment; booking has no use for one \
             (quote it twice to pass it as text)"
                .into(),
        );
    }
    let mut out: Vec<Vec<u8>> = Vec::with_capacity(words.len());
    let mut words = words.into_iter().peekable();
    while let Some(word) = words.next() {
        if word == b"--root" || word.starts_with(b"--root=") {
            return Err("--root cannot be given over ssh: the booking account has one root".into());
        }
        if word == b"--" {
            out.push(word);
            out.extend(words);
            break;
        }
        let name = word.split(|&b| b == b'=').next().unwrap_or_default();
        let time = TIME_OPTIONS.iter().any(|o| o.as_bytes() == name);
        let inline = word.len() > name.len();
        out.push(word);
        if !time {
            continue;
        }
        if !inline {
            match words.next_if(|w| !w.starts_with(b"-")) {
                Some(value) => out.push(value),
                None => continue,
            }
        }
        let value = out.last_mut().expect("just pushed");
        while let Some(more) = words.next_if(|w| !w.starts_with(b"-")) {
            value.push(b' ');
            value.extend(more);
        }
    }
    Ok(out)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn words(line: &str) -> Result<Vec<String>, String> {
        split(line.as_bytes()).map(|ws| {
            ws.into_iter()
                .map(|w| String::from_utf8(w).unwrap())
                .collect()
        })
    }

    #[test]
    fn quoted_times_arrive_as_one_argument() {
        assert_eq!(
            words("--cancel '2026-12-06 10:00'").unwrap(),
            ["--cancel", "2026-12-06 10:00"]
        );
        assert_eq!(
            words(r#"--end-at "2026 12 06 18 00" --yes"#).unwrap(),
            ["--end-at", "2026 12 06 18 00", "--yes"]
        );
        assert_eq!(
            words(r"--start 2026-12-06\ 10:00").unwrap(),
            ["--start", "2026-12-06 10:00"]
        );
    }

    #[test]
    fn the_plain_words_after_a_time_option_are_its_value_as_ssh_lost_the_quotes() {
        assert_eq!(
            words("--cancel 2026-12-06 10:00 --yes").unwrap(),
            ["--cancel", "2026-12-06 10:00", "--yes"]
        );
        assert_eq!(
            words("--start 1-week 2-day --end=1-day 3-day -id alice").unwrap(),
            [
                "--start",
                "1-week 2-day",
                "--end=1-day 3-day",
                "-id",
                "alice"
            ]
        );
        assert_eq!(
            words("--which 2026 12 06 10 00").unwrap(),
            ["--which", "2026 12 06 10 00"]
        );
        // Other options keep to one word each.
        assert_eq!(
            words("--user-id alice bob").unwrap(),
            ["--user-id", "alice", "bob"]
        );
        assert_eq!(words("--start --yes").unwrap(), ["--start", "--yes"]);
    }

    #[test]
    fn shell_characters_stay_text_in_their_word() {
        assert_eq!(
            words("$(id) `id` -ls; id | x > /tmp/f & * ~ $HOME").unwrap(),
            ["$(id)", "`id`", "-ls;", "id", "|", "x", ">", "/tmp/f", "&", "*", "~", "$HOME"]
        );
        assert_eq!(
            words(r#"--extra-command "echo \"\$x\" \\ 'y'""#).unwrap(),
            ["--extra-command", r#"echo "$x" \ 'y'"#]
        );
        assert_eq!(
            words("--image 'a#b' x#y").unwrap(),
            ["--image", "a#b", "x#y"]
        );
    }

    #[test]
    fn open_quotes_comments_and_a_root_are_refused() {
        assert!(words("--cancel '2026-12-06 10:00")
            .unwrap_err()
            .contains("quote"));
        assert!(words("-ls \\").unwrap_err().contains("backslash"));
        assert!(words("-ls #--root /").unwrap_err().contains("comment"));
        assert!(words("--root / -ls").unwrap_err().contains("--root"));
        assert!(words("-ls --root=/").unwrap_err().contains("--root"));
        assert!(words("'--root' /").unwrap_err().contains("--root"));
        // After `--` nothing is an option, so a `--root` there is no root either.
        assert_eq!(words("-- --root").unwrap(), ["--", "--root"]);
    }

    #[test]
    fn only_the_exact_form_booking_shell_uses_is_accepted() {
        let os = |a: &[&str]| a.iter().map(OsString::from).collect::<Vec<_>>();
        assert_eq!(
            arguments(os(&["booking", "--root", "/aivc", FLAG, "-ls"])).unwrap(),
            os(&["booking", "--root", "/aivc", "-ls"])
        );
        assert_eq!(
            arguments(os(&["booking", "--root", "/aivc", FLAG, ""])).unwrap(),
            os(&["booking", "--root", "/aivc"])
        );
        assert_eq!(
            arguments(os(&["booking", "-ls"])).unwrap(),
            os(&["booking", "-ls"])
        );
        for bad in [
            &["booking", FLAG, "-ls"][..],
            &["booking", "--root", "/aivc", FLAG, "-ls", "--root"][..],
            &["booking", "--root", "/aivc", "-ls", FLAG, "x"][..],
            &["booking", "--root", "/aivc", "--ssh-command=-ls"][..],
        ] {
            assert!(arguments(os(bad)).is_err(), "{bad:?}");
        }
    }
}
