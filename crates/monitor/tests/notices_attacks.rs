//! Attacks on what the monitor posts (security review). A failing test here is a finding.

use chrono::NaiveDateTime;
use hostinfo::schedule::{GpuSet, Row};

fn t(s: &str) -> NaiveDateTime {
    NaiveDateTime::parse_from_str(s, "%Y-%m-%d %H:%M").unwrap()
}

/// The student chooses both the backup path and the container path of a `backup.yaml`
/// entry (kept.rs forbids only `:`, `,` and control characters), and runc's error for a
/// mount it refuses quotes both (e.g. a target inside /proc:
/// `error mounting "<kept>/alice/<rel>" to rootfs at "/proc/<!channel>": ... inside /proc`).
/// docker-client's `explain` keeps the first 300 characters, the tick records it as the
/// start's reason, and after three failed starts `keeps_failing` posts it to the admins,
/// whose webhook (Slack, Mattermost) gets it as `text`: `<!channel>` / `<!here>` pings the
/// whole admin channel, `<@U…>` pings anyone, `<!subteam^…>` a group — every half hour,
/// worded by the student. Slack's docs ask senders to escape `&`, `<`, `>` in `text`.
#[test]
fn docker_text_a_student_chose_cannot_ping_the_admins_channel_through_the_webhook() {
    let row = Row {
        start: t("2026-11-24 09:00"),
        end: t("2026-11-24 12:00"),
        user_id: "alice".into(),
        cpus: 1.0,
        memory: 1,
        gpus: GpuSet::default(),
        forward_port: 10001,
        image: None,
        extra_command: None,
        node: None,
    };
    let reason = "Error response from daemon: failed to create task for container: \
        error mounting \"/srv/aivc/kept/alice/x\" to rootfs at \"/proc/<!channel> <!here> URGENT root password leaked, rotate now at <https|evil.example/rotate>\": \
        cannot be mounted because it is inside /proc";
    let n = monitor::events::keeps_failing(&row, 3, reason, t("2026-11-24 10:00"));
    let text = notices::words::webhook_text(&n);
    assert!(
        !text.contains("<!channel>") && !text.contains("<!here>") && !text.contains("<https|"),
        "the student's words reach the admins' chat as markup: {text}"
    );
}
