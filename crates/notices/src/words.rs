//! What a notice says on each channel: the subject line of its kind in plain words, the
//! container file's line, the e-mail's body and the webhook's text.

use hostinfo::notices::{Kind, Notice, Recipient};
use hostinfo::schedule::format_time;

/// The subject of a notice of `kind`, without the `[AIVC]` tag.
pub fn subject(kind: Kind) -> &'static str {
    match kind {
        Kind::BookingMade => "Your booking is made",
        Kind::BookingChanged => "Your booking was changed",
        Kind::BookingCancelled => "Your booking was cancelled",
        Kind::Started => "Your container is running",
        Kind::StartFailed => "Your container could not start",
        Kind::QuotaWait => "Your booking waits on the disk quota",
        Kind::EndingSoon => "Your booking ends soon",
        Kind::WaitlistJoined => "You joined the waitlist",
        Kind::WaitlistBooked => "Your waitlist entry was booked",
        Kind::WaitlistExpired => "Your waitlist entry expired",
        Kind::IdleWarning => "Your booked GPUs are idle",
        Kind::IdleReclaimed => "Your idle booking ends early",
        Kind::GpuUnbooked => "A GPU is used outside any booking",
        Kind::StartKeepsFailing => "A container start keeps failing",
        Kind::TickFailed => "A monitor tick failed",
    }
}

/// `[AIVC] <subject>`: the e-mail's subject.
pub fn tagged_subject(kind: Kind) -> String {
    format!("[AIVC] {}", subject(kind))
}

/// The time as the notice gives it, to the minute.
fn when(n: &Notice) -> String {
    let t = format_time(n.time);
    t.get(..16).unwrap_or(&t).to_string()
}

/// The container file: one line, `<time>  <subject>: <text>`.
pub fn container_line(n: &Notice) -> String {
    format!("{}  {}: {}\n", when(n), subject(n.kind), n.text)
}

/// The e-mail's plain-text body.
pub fn email_body(n: &Notice) -> String {
    let mut body = format!("{}\n\n-- \nAIVC booking, {}", n.text, when(n));
    if matches!(n.recipient, Recipient::User(_)) {
        body.push_str(
            "\nYour container shows this notice at your next ssh login (/root/Work/.aivc/notices).",
        );
    }
    body.push('\n');
    body
}

/// The webhook's `text`: one line, with the notice's words made inert as chat markup. A
/// notice may quote text a student chose (docker's message about their mount, say): `&`,
/// `<` and `>` are escaped as Slack asks of senders (so no `<!channel>` and no disguised
/// link), and `@channel`, `@here` and `@all` get a zero-width joiner so that Mattermost and
/// Teams do not ping everyone.
pub fn webhook_text(n: &Notice) -> String {
    let text = inert(&n.text);
    match &n.recipient {
        Recipient::User(_) => format!("[AIVC] {}: {text}", subject(n.kind)),
        Recipient::Admins => format!("[AIVC admins] {}: {text}", subject(n.kind)),
    }
}

fn inert(text: &str) -> String {
    let mut out = text
        .replace('&', "&amp;")
        .replace('<', "&lt;")
        .replace('>', "&gt;");
    for word in ["channel", "here", "all", "everyone"] {
        for at in ["@", "＠"] {
            let from = format!("{at}{word}");
            // Case-insensitively: `@Channel` pings as well.
            let mut i = 0;
            while let Some(pos) = out[i..].to_lowercase().find(&from) {
                let at_pos = i + pos + at.len();
                out.insert(at_pos, '\u{200D}');
                i = at_pos + '\u{200D}'.len_utf8() + word.len();
            }
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn webhook_text_cannot_ping_or_link() {
        let n = Notice::new(
            chrono::NaiveDateTime::default(),
            Recipient::Admins,
            hostinfo::notices::Kind::StartKeepsFailing,
            "k",
            "mount <!channel> to <https://evil.example|docs> @here & @Channel",
        );
        let t = webhook_text(&n);
        assert!(!t.contains('<') && !t.contains('>'), "{t}");
        assert!(
            t.contains("&lt;!channel&gt;") && t.contains(" &amp; "),
            "{t}"
        );
        assert!(
            !t.contains("@here") && !t.to_lowercase().contains("@channel"),
            "{t}"
        );
        assert!(t.contains("@\u{200D}here"), "{t}");
    }

    #[test]
    fn every_kind_has_a_subject_in_words() {
        for kind in Kind::ALL {
            let s = subject(*kind);
            assert!(
                s.chars().next().unwrap().is_uppercase() && !s.contains('_'),
                "{s}"
            );
        }
    }
}
