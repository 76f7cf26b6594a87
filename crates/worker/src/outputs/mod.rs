//! Where forwarded events go: one module per kind of destination (HTTP, NATS JetStream,
//! RabbitMQ, Redis Streams) behind [`Output`]. The forwarder knows only the trait and the
//! [`Outputs`] pool, which keeps one connection per destination and makes a new one when the
//! destination's URL or secret changes or its connection broke.

mod amqp;
mod http;
mod nats;
mod redis;

use std::collections::HashMap;
use std::future::Future;
use std::pin::Pin;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use hookgate_events::{DestinationUrl, Target};
use hookgate_verify::Secret;
use uuid::Uuid;

/// One event, as an output sends it.
#[derive(Debug, Clone, Copy)]
pub struct Message<'a> {
    pub svix_id: &'a str,
    /// The event's type, or `unknown` when the body named none hookgate could read.
    pub event_type: &'a str,
    /// The tenant's slug.
    pub tenant: &'a str,
    /// When hookgate received the event (Unix seconds).
    pub received_at: i64,
    /// The event exactly as Clerk sent it.
    pub body: &'a [u8],
}

/// A send that did not succeed.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Failure {
    /// The HTTP status, when an HTTP destination answered.
    pub status: Option<u16>,
    pub error: String,
    /// The connection is unusable: the pool makes a new one for the next send.
    pub broken: bool,
    /// The destination asked for a pause (`Retry-After`).
    pub retry_after: Option<Duration>,
}

impl Failure {
    pub fn new(error: impl Into<String>) -> Self {
        Self {
            status: None,
            error: error.into(),
            broken: false,
            retry_after: None,
        }
    }

    pub(crate) fn broken(error: impl Into<String>) -> Self {
        Self {
            broken: true,
            ..Self::new(error)
        }
    }
}

/// What a send came to: the HTTP status of a 2xx answer, `None` for a broker's acknowledgement.
pub type SendResult = Result<Option<u16>, Failure>;

pub type SendFuture<'a> = Pin<Box<dyn Future<Output = SendResult> + Send + 'a>>;

/// A connected destination. A send returns once the destination has the event: a 2xx answer,
/// a JetStream PubAck, a RabbitMQ publisher confirm, a Redis stream entry id.
pub trait Output: Send + Sync {
    fn send<'a>(&'a self, message: &'a Message<'a>) -> SendFuture<'a>;
}

/// How outputs connect.
#[derive(Debug, Clone, Copy)]
pub struct OutputSettings {
    /// Connecting, and each send, may take this long.
    pub timeout: Duration,
}

/// A destination as stored: what its pooled connection is made from. One whose URL or secret
/// changed gets a new connection; the sealed parts are opened only then.
#[derive(Debug, Clone, Copy)]
pub struct StoredDestination<'a> {
    pub id: Uuid,
    /// The URL as shown (credentials as `***`).
    pub url: &'a str,
    pub url_ciphertext: Option<&'a [u8]>,
    pub secret_ciphertext: &'a [u8],
}

/// A destination's opened URL (credentials included) and signing secret.
pub type Opened = (String, Secret);

impl StoredDestination<'_> {
    fn fingerprint(&self) -> Vec<u8> {
        let mut out = Vec::new();
        for part in [
            self.url.as_bytes(),
            self.url_ciphertext.unwrap_or_default(),
            self.secret_ciphertext,
        ] {
            out.extend_from_slice(&(part.len() as u64).to_le_bytes());
            out.extend_from_slice(part);
        }
        out
    }
}

type Slot = Arc<tokio::sync::Mutex<Option<(Vec<u8>, Arc<dyn Output>)>>>;

/// One connection (or HTTP client) per destination, shared by every attempt in the process.
#[derive(Clone)]
pub struct Outputs {
    settings: OutputSettings,
    http: reqwest::Client,
    slots: Arc<Mutex<HashMap<Uuid, Slot>>>,
}

impl std::fmt::Debug for Outputs {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Outputs")
            .field("settings", &self.settings)
            .finish_non_exhaustive()
    }
}

impl Outputs {
    pub fn new(settings: OutputSettings) -> Result<Self, reqwest::Error> {
        Ok(Self {
            settings,
            http: http::client(settings.timeout)?,
            slots: Arc::default(),
        })
    }

    /// Sends `message` to `destination`; `open` gives its URL and secret when a connection is
    /// made.
    pub async fn send(
        &self,
        destination: StoredDestination<'_>,
        open: impl FnOnce() -> Result<Opened, String>,
        message: &Message<'_>,
    ) -> SendResult {
        let slot = {
            let mut slots = self
                .slots
                .lock()
                .unwrap_or_else(std::sync::PoisonError::into_inner);
            slots.entry(destination.id).or_default().clone()
        };
        let made = destination.fingerprint();
        let output = {
            // Held while connecting: attempts for one destination wait for one connection
            // rather than each opening their own; other destinations have their own slot.
            let mut held = slot.lock().await;
            match &*held {
                Some((was, output)) if *was == made => output.clone(),
                _ => {
                    let (url, secret) = open().map_err(Failure::new)?;
                    let output = self.connect(&url, secret).await?;
                    *held = Some((made, output.clone()));
                    output
                }
            }
        };
        let result = output.send(message).await;
        if let Err(failure) = &result
            && failure.broken
        {
            let mut held = slot.lock().await;
            if held
                .as_ref()
                .is_some_and(|(_, current)| Arc::ptr_eq(current, &output))
            {
                *held = None;
            }
        }
        result
    }

    async fn connect(&self, url: &str, secret: Secret) -> Result<Arc<dyn Output>, Failure> {
        // Stored URLs were parsed when the destination was made; one that no longer parses
        // (made by an older hookgate) fails its deliveries with the reason.
        let url = DestinationUrl::parse(url).map_err(|err| Failure::new(err.to_string()))?;
        let timeout = self.settings.timeout;
        Ok(match url.target() {
            Target::Http { url } => Arc::new(http::HttpOutput::new(
                self.http.clone(),
                url.clone(),
                secret,
            )),
            Target::Nats {
                server,
                auth,
                subject,
            } => Arc::new(nats::NatsOutput::connect(server, auth, subject.clone(), timeout).await?),
            Target::Amqp {
                uri,
                exchange,
                routing_key,
            } => Arc::new(
                amqp::AmqpOutput::connect(uri, exchange.clone(), routing_key.clone(), timeout)
                    .await?,
            ),
            Target::Redis {
                uri,
                stream,
                maxlen,
            } => {
                Arc::new(redis::RedisOutput::connect(uri, stream.clone(), *maxlen, timeout).await?)
            }
        })
    }
}

/// The HTTP client of HTTP destinations (no redirects, bounded by `timeout`), for other senders
/// of signed webhooks.
pub(crate) fn http_client(timeout: Duration) -> Result<reqwest::Client, reqwest::Error> {
    http::client(timeout)
}

/// An error and its sources on one line, for `last_error` (never a URL: callers strip it).
pub(crate) fn chain(err: &dyn std::error::Error) -> String {
    let mut text = err.to_string();
    let mut source = err.source();
    while let Some(inner) = source {
        let inner_text = inner.to_string();
        if !text.contains(&inner_text) {
            text.push_str(": ");
            text.push_str(&inner_text);
        }
        source = inner.source();
    }
    text
}
