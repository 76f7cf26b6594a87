//! Redis Streams destinations: an `XADD` (trimmed with `MAXLEN ~` when the URL asks) whose entry
//! id delivers the event. Fields: `svix_id`, `timestamp`, `type`, `tenant`, `body`.

use std::time::Duration;

use hookgate_events::Template;
use redis::aio::{ConnectionManager, ConnectionManagerConfig};

use super::{Failure, Message, Output, SendFuture};

pub(super) struct RedisOutput {
    // Reconnects by itself after the server restarts.
    connection: ConnectionManager,
    stream: Template,
    maxlen: Option<u64>,
}

impl RedisOutput {
    pub(super) async fn connect(
        uri: &str,
        stream: Template,
        maxlen: Option<u64>,
        timeout: Duration,
    ) -> Result<Self, Failure> {
        let client = redis::Client::open(uri)
            .map_err(|err| Failure::new(format!("invalid Redis url: {}", describe(&err))))?;
        let config = ConnectionManagerConfig::new()
            .set_connection_timeout(Some(timeout))
            .set_response_timeout(Some(timeout))
            .set_number_of_retries(1);
        let connection =
            tokio::time::timeout(timeout, client.get_connection_manager_with_config(config))
                .await
                .map_err(|_| Failure::new("could not connect to Redis in time"))?
                .map_err(|err| {
                    Failure::new(format!("could not connect to Redis: {}", describe(&err)))
                })?;
        Ok(Self {
            connection,
            stream,
            maxlen,
        })
    }

    async fn add(&self, message: &Message<'_>) -> Result<Option<u16>, Failure> {
        let key = self.stream.render(message.tenant, message.event_type);
        let mut command = redis::cmd("XADD");
        command.arg(&key);
        if let Some(maxlen) = self.maxlen {
            command.arg("MAXLEN").arg("~").arg(maxlen);
        }
        command
            .arg("*")
            .arg("svix_id")
            .arg(message.svix_id)
            .arg("timestamp")
            .arg(message.received_at)
            .arg("type")
            .arg(message.event_type)
            .arg("tenant")
            .arg(message.tenant)
            .arg("body")
            .arg(message.body);
        let mut connection = self.connection.clone();
        command
            .query_async::<String>(&mut connection)
            .await
            .map(|_| None)
            .map_err(|err| {
                Failure::new(format!("Redis refused XADD to `{key}`: {}", describe(&err)))
            })
    }
}

/// A Redis error without the URL it may carry.
fn describe(err: &redis::RedisError) -> String {
    match err.detail() {
        Some(detail) => format!("{:?}: {detail}", err.kind()),
        None => format!("{:?}", err.kind()),
    }
}

impl Output for RedisOutput {
    fn send<'a>(&'a self, message: &'a Message<'a>) -> SendFuture<'a> {
        Box::pin(self.add(message))
    }
}
