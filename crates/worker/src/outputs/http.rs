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
            Ok(response) => Err(Failure {
                status: Some(response.status().as_u16()),
                error: format!("the destination answered {}", response.status()),
                broken: false,
            }),
            Err(err) => Err(Failure::new(describe(err))),
        }
    }
}

impl Output for HttpOutput {
    fn send<'a>(&'a self, message: &'a Message<'a>) -> SendFuture<'a> {
        Box::pin(self.post(message))
    }
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
