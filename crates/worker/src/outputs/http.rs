//! HTTP destinations: a POST of the event exactly as Clerk sent it, signed with the destination's
//! secret in both Svix (`svix-*`) and Standard Webhooks (`webhook-*`) headers; a 2xx answer
//! delivers it.

use std::time::{Duration, SystemTime, UNIX_EPOCH};

use hookgate_verify::{Secret, sign};

use super::{Failure, Message, Output, SendFuture};

pub(super) fn client(timeout: Duration) -> Result<reqwest::Client, reqwest::Error> {
    crate::install_tls_provider();
    reqwest::Client::builder()
        .timeout(timeout)
        .connect_timeout(timeout)
        // A destination answers itself: following redirects would send the event (and its
        // signature) somewhere the operator never configured.
        .redirect(reqwest::redirect::Policy::none())
        .user_agent(concat!("hookgate/", env!("CARGO_PKG_VERSION")))
        .build()
}

pub(super) struct HttpOutput {
    client: reqwest::Client,
    url: String,
    secret: Secret,
}

impl HttpOutput {
    pub(super) fn new(client: reqwest::Client, url: String, secret: Secret) -> Self {
        Self {
            client,
            url,
            secret,
        }
    }

    async fn post(&self, message: &Message<'_>) -> Result<Option<u16>, Failure> {
        let timestamp = SystemTime::now()
            .duration_since(UNIX_EPOCH)
            .map_or(0, |d| i64::try_from(d.as_secs()).unwrap_or(i64::MAX));
        let signature = sign(&self.secret, message.svix_id, timestamp, message.body);
        let timestamp = timestamp.to_string();
        let request = self
            .client
            .post(&self.url)
            .header("content-type", "application/json")
            .header("svix-id", message.svix_id)
            .header("svix-timestamp", &timestamp)
            .header("svix-signature", &signature)
            .header("webhook-id", message.svix_id)
            .header("webhook-timestamp", &timestamp)
            .header("webhook-signature", &signature)
            .body(message.body.to_vec());
        match request.send().await {
            Ok(response) if response.status().is_success() => Ok(Some(response.status().as_u16())),
            Ok(response) => {
                let status = response.status().as_u16();
                let retry_after = match status {
                    429 | 503 => response
                        .headers()
                        .get(reqwest::header::RETRY_AFTER)
                        .and_then(|value| value.to_str().ok())
                        .and_then(|value| retry_after(value, chrono::Utc::now())),
                    _ => None,
                };
                Err(Failure {
                    status: Some(status),
                    error: format!("the destination answered {}", response.status()),
                    broken: false,
                    retry_after,
                })
            }
            Err(err) => Err(Failure::new(describe(err))),
        }
    }
}

impl Output for HttpOutput {
    fn send<'a>(&'a self, message: &'a Message<'a>) -> SendFuture<'a> {
        Box::pin(self.post(message))
    }
}

/// Longest pause a `Retry-After` can ask for: a receiver asking for more is paused this long,
/// then tried again.
const MAX_RETRY_AFTER: Duration = Duration::from_secs(24 * 60 * 60);

/// A `Retry-After` value: seconds, or an HTTP date. `None` for one that is neither.
fn retry_after(value: &str, now: chrono::DateTime<chrono::Utc>) -> Option<Duration> {
    let value = value.trim();
    let wait = match value.parse::<u64>() {
        Ok(seconds) => Duration::from_secs(seconds),
        Err(_) => {
            let at = chrono::DateTime::parse_from_rfc2822(value).ok()?;
            (at.with_timezone(&chrono::Utc) - now)
                .to_std()
                .unwrap_or_default()
        }
    };
    Some(wait.min(MAX_RETRY_AFTER))
}

/// Why a request failed, without its URL: a destination's URL may carry a token in its query,
/// and this text goes to logs, spans and `last_error`.
fn describe(err: reqwest::Error) -> String {
    let err = err.without_url();
    let kind = if err.is_timeout() {
        "timed out"
    } else if err.is_connect() {
        "could not connect"
    } else {
        "request failed"
    };
    format!("{kind}: {}", super::chain(&err))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn retry_after_reads_seconds_and_dates() {
        let now = chrono::DateTime::parse_from_rfc3339("2026-12-01T20:00:00Z")
            .unwrap()
            .with_timezone(&chrono::Utc);
        assert_eq!(retry_after("120", now), Some(Duration::from_secs(120)));
        assert_eq!(
            retry_after("Tue, 01 Dec 2026 20:01:30 GMT", now),
            Some(Duration::from_secs(90))
        );
        assert_eq!(
            retry_after("Tue, 01 Dec 2026 19:00:00 GMT", now),
            Some(Duration::ZERO)
        );
        assert_eq!(retry_after("9999999", now), Some(MAX_RETRY_AFTER));
        assert_eq!(retry_after("soon", now), None);
    }
}
