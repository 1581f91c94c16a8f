//! The webhook channel: a JSON POST `{"text": "..."}` (what Slack, Mattermost and Teams
//! incoming webhooks take) with ureq, 10 s at most, no redirect followed; any 2xx answer is
//! delivered. A webhook URL is a secret: no message here ever holds it.

use std::time::Duration;

use hostinfo::notices::Notice;

use crate::{words, Failure};

/// How long one POST may take, connecting included.
pub const TIMEOUT: Duration = Duration::from_secs(10);

/// The HTTP client of one run.
#[derive(Debug)]
pub struct Poster {
    agent: ureq::Agent,
}

impl Default for Poster {
    fn default() -> Self {
        let config = ureq::Agent::config_builder()
            .timeout_global(Some(TIMEOUT))
            // A status is an answer to judge here, not an error carrying the URL.
            .http_status_as_error(false)
            // A redirect could take the notice elsewhere: a 3xx is a failure.
            .max_redirects(0)
            .max_redirects_will_error(false)
            .build();
        Poster {
            agent: config.into(),
        }
    }
}

impl Poster {
    /// POSTs `n` to `url`.
    pub fn send(&self, url: &str, n: &Notice) -> Result<(), Failure> {
        let body = serde_json::json!({ "text": words::webhook_text(n) }).to_string();
        let answer = self
            .agent
            .post(url)
            .header("Content-Type", "application/json")
            .send(body.as_bytes());
        match answer {
            Ok(response) if response.status().is_success() => Ok(()),
            Ok(response) => Err(Failure::retry(format!(
                "the webhook answered HTTP {}",
                response.status().as_u16()
            ))),
            Err(e) => Err(Failure::retry(describe(&e))),
        }
    }
}

/// ureq's error in words of our own: several of its messages quote the URL.
fn describe(e: &ureq::Error) -> String {
    use ureq::Error as E;
    match e {
        E::Timeout(_) => "the webhook did not answer within 10 s".into(),
        E::HostNotFound => "the webhook's host name was not found".into(),
        E::ConnectionFailed => "the connection to the webhook failed".into(),
        E::Io(io) => format!("the connection to the webhook failed ({:?})", io.kind()),
        E::Tls(why) => format!("TLS with the webhook failed ({why})"),
        E::StatusCode(code) => format!("the webhook answered HTTP {code}"),
        _ => "the webhook request failed".into(),
    }
}
