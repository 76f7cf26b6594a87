//! NATS JetStream destinations: a publish that returns when JetStream acknowledges it, with the
//! svix-id as `Nats-Msg-Id` so the stream's duplicate window drops a re-send. hookgate creates no
//! streams: a subject none captures fails the delivery and says so.

use std::time::Duration;

use async_nats::HeaderMap;
use async_nats::jetstream::{self, context::PublishErrorKind};
use hookgate_events::{NatsAuth, Template};

use super::{Failure, Message, Output, SendFuture};

pub(super) struct NatsOutput {
    jetstream: jetstream::Context,
    subject: Template,
}

impl NatsOutput {
    pub(super) async fn connect(
        server: &str,
        auth: &NatsAuth,
        subject: Template,
        timeout: Duration,
    ) -> Result<Self, Failure> {
        let options = match auth {
            NatsAuth::None => async_nats::ConnectOptions::new(),
            NatsAuth::UserPassword { user, password } => {
                async_nats::ConnectOptions::with_user_and_password(user.clone(), password.clone())
            }
            NatsAuth::Token(token) => async_nats::ConnectOptions::with_token(token.clone()),
            NatsAuth::CredsFile(path) => async_nats::ConnectOptions::with_credentials_file(path)
                .await
                .map_err(|err| {
                    Failure::new(format!("cannot read the NATS credentials file: {err}"))
                })?,
        };
        // Once connected, the client reconnects by itself after a server restart; publishes
        // made meanwhile time out and are retried as failed attempts.
        let client = options
            .name(concat!("hookgate/", env!("CARGO_PKG_VERSION")))
            .connection_timeout(timeout)
            .request_timeout(Some(timeout))
            .connect(server)
            .await
            .map_err(|err| Failure::new(format!("could not connect to NATS: {err}")))?;
        let mut jetstream = jetstream::new(client);
        jetstream.set_timeout(timeout);
        Ok(Self { jetstream, subject })
    }

    async fn publish(&self, message: &Message<'_>) -> Result<Option<u16>, Failure> {
        let subject = self.subject.render(message.tenant, message.event_type);
        let mut headers = HeaderMap::new();
        headers.insert(async_nats::header::NATS_MESSAGE_ID, message.svix_id);
        headers.insert("svix-id", message.svix_id);
        headers.insert("timestamp", message.received_at.to_string().as_str());
        headers.insert("type", message.event_type);
        headers.insert("tenant", message.tenant);
        headers.insert("content-type", "application/json");
        let publish_error = |err: jetstream::context::PublishError| match err.kind() {
            PublishErrorKind::StreamNotFound => Failure::new(format!(
                "no JetStream stream captures the subject `{subject}`: create one that does"
            )),
            PublishErrorKind::TimedOut => {
                Failure::new("JetStream did not acknowledge the publish in time")
            }
            _ => Failure::new(format!("JetStream refused the publish: {err}")),
        };
        let ack = self
            .jetstream
            .publish_with_headers(subject.clone(), headers, message.body.to_vec().into())
            .await
            .map_err(publish_error)?;
        ack.await.map_err(publish_error)?;
        Ok(None)
    }
}

impl Output for NatsOutput {
    fn send<'a>(&'a self, message: &'a Message<'a>) -> SendFuture<'a> {
        Box::pin(self.publish(message))
    }
}
