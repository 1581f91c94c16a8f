//! The Python version's single-dash long options (`-id`, `-use-opt`, `-ls`, `-rst`) keep
//! working: they are rewritten to ours before the parser sees them.

use std::ffi::OsString;

const SPELLINGS: [(&str, &str); 4] = [
    ("-id", "--user-id"),
    ("-use-opt", "--use-options"),
    ("-ls", "--list-schedule"),
    ("-rst", "--restart"),
];

/// The arguments with the original spellings replaced; nothing after `--` is touched.
pub fn normalize(args: impl IntoIterator<Item = OsString>) -> Vec<OsString> {
    let mut out = Vec::new();
    let mut rest = false;
    for arg in args {
        if rest {
            out.push(arg);
            continue;
        }
        let Some(text) = arg.to_str() else {
            out.push(arg);
            continue;
        };
        if text == "--" {
            rest = true;
            out.push(arg);
            continue;
        }
        let (name, value) = match text.split_once('=') {
            Some((n, v)) => (n, Some(v)),
            None => (text, None),
        };
        match SPELLINGS.iter().find(|(old, _)| *old == name) {
            Some((_, new)) => out.push(match value {
                Some(v) => format!("{new}={v}").into(),
                None => (*new).into(),
            }),
            None => out.push(arg),
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    fn n(args: &[&str]) -> Vec<String> {
        normalize(args.iter().map(OsString::from))
            .into_iter()
            .map(|a| a.into_string().unwrap())
            .collect()
    }

    #[test]
    fn the_original_spellings_become_long_options() {
        assert_eq!(
            n(&["booking", "-id", "u1", "-use-opt"]),
            ["booking", "--user-id", "u1", "--use-options"]
        );
        assert_eq!(n(&["booking", "-ls"]), ["booking", "--list-schedule"]);
        assert_eq!(
            n(&["booking", "-rst", "-id=u1"]),
            ["booking", "--restart", "--user-id=u1"]
        );
    }

    #[test]
    fn values_and_everything_after_double_dash_stay_as_they_are() {
        assert_eq!(
            n(&["booking", "--extra-command", "-ls"]),
            ["booking", "--extra-command", "--list-schedule"]
        );
        assert_eq!(n(&["booking", "--", "-ls"]), ["booking", "--", "-ls"]);
        assert_eq!(
            n(&["booking", "--user-id", "-idx"]),
            ["booking", "--user-id", "-idx"]
        );
    }
}
