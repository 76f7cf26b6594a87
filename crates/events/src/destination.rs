//! Where a destination sends events: its URL, parsed once when the destination is created. The
//! scheme picks the kind (HTTP, NATS JetStream, RabbitMQ, Redis Streams); the queue kinds name
//! their subject, routing key or stream with a template over `{tenant}` and `{type}`.
//!
//! It lives beside [`crate::EventFilter`] because together they are what a destination is, and
//! both the tenancy service (refusing a bad URL at creation) and the forwarder (sending) read it.

use std::fmt;

use url::Url;

/// Longest URL accepted, credentials included.
const MAX_LEN: usize = 2048;

/// What a destination sends events over.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum DestinationKind {
    Http,
    Nats,
    Amqp,
    Redis,
}

impl DestinationKind {
    /// The kind a stored URL names, by its scheme alone (for metric labels).
    pub fn of_scheme(url: &str) -> Option<Self> {
        let scheme = url.split_once("://")?.0;
        Some(match scheme {
            "http" | "https" => Self::Http,
            "nats" => Self::Nats,
            "amqp" => Self::Amqp,
            "redis" | "rediss" => Self::Redis,
            _ => return None,
        })
    }

    pub fn as_str(self) -> &'static str {
        match self {
            Self::Http => "http",
            Self::Nats => "nats",
            Self::Amqp => "amqp",
            Self::Redis => "redis",
        }
    }
}

impl fmt::Display for DestinationKind {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// Why a destination URL was refused; each message names the fault.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum DestinationUrlError {
    #[error("the destination url is not a valid URL: {0}")]
    Malformed(String),
    #[error("the destination url is longer than {MAX_LEN} characters")]
    TooLong,
    #[error(
        "the destination url's scheme `{0}` is not one of http, https, nats, amqp, redis, rediss"
    )]
    Scheme(String),
    #[error("the destination url has no host")]
    NoHost,
    #[error("an http(s) destination url carries no user information; put a token in its query")]
    HttpCredentials,
    #[error("a {kind} destination url needs the `{param}` parameter")]
    Missing {
        kind: DestinationKind,
        param: &'static str,
    },
    #[error("a {kind} destination url has no parameter `{param}`")]
    UnknownParameter {
        kind: DestinationKind,
        param: String,
    },
    #[error("the parameter `{param}` is given more than once")]
    Repeated { param: String },
    #[error("unknown placeholder `{{{0}}}` in `{1}`: only {{tenant}} and {{type}} are known")]
    UnknownPlaceholder(String, &'static str),
    #[error("an unmatched brace in `{0}`")]
    Unmatched(&'static str),
    #[error("`{param}` is invalid: {reason}")]
    Invalid {
        param: &'static str,
        reason: &'static str,
    },
}

/// A name (subject, routing key, stream) made of text and the placeholders `{tenant}` and
/// `{type}`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Template {
    parts: Vec<Part>,
}

#[derive(Debug, Clone, PartialEq, Eq)]
enum Part {
    Text(String),
    Tenant,
    Type,
}

impl Template {
    fn parse(text: &str, param: &'static str) -> Result<Self, DestinationUrlError> {
        let mut parts = Vec::new();
        let mut rest = text;
        while let Some(open) = rest.find(['{', '}']) {
            if rest[open..].starts_with('}') {
                return Err(DestinationUrlError::Unmatched(param));
            }
            if open > 0 {
                parts.push(Part::Text(rest[..open].to_owned()));
            }
            let after = &rest[open + 1..];
            let close = after
                .find('}')
                .ok_or(DestinationUrlError::Unmatched(param))?;
            parts.push(match &after[..close] {
                "tenant" => Part::Tenant,
                "type" => Part::Type,
                other if other.contains('{') => return Err(DestinationUrlError::Unmatched(param)),
                other => {
                    return Err(DestinationUrlError::UnknownPlaceholder(
                        other.to_owned(),
                        param,
                    ));
                }
            });
            rest = &after[close + 1..];
        }
        if !rest.is_empty() {
            parts.push(Part::Text(rest.to_owned()));
        }
        Ok(Self { parts })
    }

    /// The name for one event of one tenant.
    pub fn render(&self, tenant: &str, event_type: &str) -> String {
        let mut out = String::new();
        for part in &self.parts {
            match part {
                Part::Text(text) => out.push_str(text),
                Part::Tenant => out.push_str(tenant),
                Part::Type => out.push_str(event_type),
            }
        }
        out
    }

    fn is_empty(&self) -> bool {
        self.parts.is_empty()
    }

    fn has_text(&self, pred: impl Fn(char) -> bool) -> bool {
        self.parts.iter().any(|part| match part {
            Part::Text(text) => text.chars().any(&pred),
            _ => false,
        })
    }
}

/// How a NATS destination authenticates.
#[derive(Clone, PartialEq, Eq)]
pub enum NatsAuth {
    None,
    UserPassword {
        user: String,
        password: String,
    },
    Token(String),
    /// A `.creds` file on the hookgate host (JWT and nkey seed).
    CredsFile(String),
}

impl fmt::Debug for NatsAuth {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            Self::None => "None",
            Self::UserPassword { .. } => "UserPassword([redacted])",
            Self::Token(_) => "Token([redacted])",
            Self::CredsFile(_) => "CredsFile",
        })
    }
}

/// What a destination's URL says, by kind.
#[derive(Clone, PartialEq, Eq)]
pub enum Target {
    Http {
        url: String,
    },
    Nats {
        /// `host:port`.
        server: String,
        auth: NatsAuth,
        subject: Template,
    },
    Amqp {
        /// The URL lapin connects with: the given one without hookgate's parameters.
        uri: String,
        exchange: String,
        routing_key: Template,
    },
    Redis {
        /// The URL the Redis client connects with: the given one without hookgate's parameters.
        uri: String,
        stream: Template,
        /// Trims the stream to about this many entries (`MAXLEN ~`); `None` keeps every entry.
        maxlen: Option<u64>,
    },
}

impl fmt::Debug for Target {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        // The connection URLs may hold passwords; only the kind and names are printed.
        match self {
            Self::Http { .. } => f.write_str("Target::Http"),
            Self::Nats { subject, auth, .. } => f
                .debug_struct("Target::Nats")
                .field("auth", auth)
                .field("subject", subject)
                .finish_non_exhaustive(),
            Self::Amqp {
                exchange,
                routing_key,
                ..
            } => f
                .debug_struct("Target::Amqp")
                .field("exchange", exchange)
                .field("routing_key", routing_key)
                .finish_non_exhaustive(),
            Self::Redis { stream, maxlen, .. } => f
                .debug_struct("Target::Redis")
                .field("stream", stream)
                .field("maxlen", maxlen)
                .finish_non_exhaustive(),
        }
    }
}

/// A destination URL, parsed. Its credentials (a password, a NATS token) are kept apart from the
/// [`redacted`](Self::redacted) form that is shown and stored in the clear.
#[derive(Clone, PartialEq, Eq)]
pub struct DestinationUrl {
    full: String,
    redacted: String,
    has_credentials: bool,
    target: Target,
}

impl fmt::Debug for DestinationUrl {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("DestinationUrl")
            .field("url", &self.redacted)
            .finish_non_exhaustive()
    }
}

impl DestinationUrl {
    pub fn parse(text: &str) -> Result<Self, DestinationUrlError> {
        if text.len() > MAX_LEN {
            return Err(DestinationUrlError::TooLong);
        }
        if !text.chars().all(|c| c.is_ascii_graphic()) {
            return Err(DestinationUrlError::Malformed(
                "only printable ASCII without spaces is allowed (percent-encode the rest)".into(),
            ));
        }
        let url =
            Url::parse(text).map_err(|err| DestinationUrlError::Malformed(err.to_string()))?;
        // WHATWG parsing reads `https:///path` as the host `path`; the text itself must name one.
        let authority = text
            .split_once("://")
            .map(|(_, rest)| rest.split(['/', '?', '#']).next().unwrap_or_default())
            .unwrap_or_default();
        let host = authority.rsplit('@').next().unwrap_or_default();
        if host.is_empty() || host.starts_with(':') || url.host_str().is_none_or(str::is_empty) {
            return Err(DestinationUrlError::NoHost);
        }
        let target = match url.scheme() {
            "http" | "https" => {
                if !url.username().is_empty() || url.password().is_some() {
                    return Err(DestinationUrlError::HttpCredentials);
                }
                Target::Http {
                    url: text.to_owned(),
                }
            }
            "nats" => nats(&url)?,
            "amqp" => amqp(&url)?,
            "redis" | "rediss" => redis(&url)?,
            other => return Err(DestinationUrlError::Scheme(other.to_owned())),
        };
        let secret_user = matches!(
            target,
            Target::Nats {
                auth: NatsAuth::Token(_),
                ..
            }
        );
        let has_credentials = url.password().is_some() || secret_user;
        let redacted = if has_credentials {
            let mut shown = url.clone();
            // Setting either only fails for URLs that cannot have credentials, which these have.
            if secret_user {
                let _ = shown.set_username("***");
            } else {
                let _ = shown.set_password(Some("***"));
            }
            shown.to_string()
        } else {
            text.to_owned()
        };
        Ok(Self {
            full: text.to_owned(),
            redacted,
            has_credentials,
            target,
        })
    }

    pub fn kind(&self) -> DestinationKind {
        match self.target {
            Target::Http { .. } => DestinationKind::Http,
            Target::Nats { .. } => DestinationKind::Nats,
            Target::Amqp { .. } => DestinationKind::Amqp,
            Target::Redis { .. } => DestinationKind::Redis,
        }
    }

    pub fn target(&self) -> &Target {
        &self.target
    }

    /// The URL as given, credentials included: for sealing, never for showing.
    pub fn expose(&self) -> &str {
        &self.full
    }

    /// The URL with its password (or NATS token) replaced by `***`.
    pub fn redacted(&self) -> &str {
        &self.redacted
    }

    /// Whether the URL holds a password or token that must be stored sealed.
    pub fn has_credentials(&self) -> bool {
        self.has_credentials
    }
}

/// The query parameters, each at most once; hookgate's own are taken out by `take`.
struct Params {
    kind: DestinationKind,
    pairs: Vec<(String, String)>,
}

impl Params {
    fn of(url: &Url, kind: DestinationKind) -> Result<Self, DestinationUrlError> {
        let mut pairs: Vec<(String, String)> = Vec::new();
        for (key, value) in url.query_pairs() {
            if pairs.iter().any(|(k, _)| *k == key) {
                return Err(DestinationUrlError::Repeated {
                    param: key.into_owned(),
                });
            }
            pairs.push((key.into_owned(), value.into_owned()));
        }
        Ok(Self { kind, pairs })
    }

    fn take(&mut self, param: &str) -> Option<String> {
        let at = self.pairs.iter().position(|(k, _)| k == param)?;
        Some(self.pairs.remove(at).1)
    }

    fn require(&mut self, param: &'static str) -> Result<String, DestinationUrlError> {
        self.take(param).ok_or(DestinationUrlError::Missing {
            kind: self.kind,
            param,
        })
    }

    /// Refuses what is left, except the parameters the kind's client reads itself.
    fn finish(self, passed_on: &[&str]) -> Result<Vec<(String, String)>, DestinationUrlError> {
        match self
            .pairs
            .iter()
            .find(|(k, _)| !passed_on.contains(&k.as_str()))
        {
            Some((param, _)) => Err(DestinationUrlError::UnknownParameter {
                kind: self.kind,
                param: param.clone(),
            }),
            None => Ok(self.pairs),
        }
    }
}

/// `url` without its query, then `passed_on` as the query.
fn connection_uri(url: &Url, passed_on: &[(String, String)]) -> String {
    let mut uri = url.clone();
    uri.set_query(None);
    uri.set_fragment(None);
    if !passed_on.is_empty() {
        uri.query_pairs_mut().extend_pairs(passed_on);
    }
    uri.to_string()
}

fn decoded(text: &str) -> String {
    percent_encoding::percent_decode_str(text)
        .decode_utf8_lossy()
        .into_owned()
}

fn nats(url: &Url) -> Result<Target, DestinationUrlError> {
    let mut params = Params::of(url, DestinationKind::Nats)?;
    let subject = Template::parse(&params.require("subject")?, "subject")?;
    if subject.is_empty() || subject.has_text(|c| c == '*' || c == '>') {
        return Err(DestinationUrlError::Invalid {
            param: "subject",
            reason: "a subject to publish to is not empty and has no wildcard (`*`, `>`)",
        });
    }
    let creds = params.take("creds");
    params.finish(&[])?;
    if url.path() != "" && url.path() != "/" {
        return Err(DestinationUrlError::Invalid {
            param: "path",
            reason: "a nats url has no path: name the subject with `?subject=`",
        });
    }
    let user = decoded(url.username());
    let auth = match (creds, url.password()) {
        (Some(_), _) if !user.is_empty() => {
            return Err(DestinationUrlError::Invalid {
                param: "creds",
                reason: "a creds file is the only credential when it is given",
            });
        }
        (Some(path), _) if path.is_empty() => {
            return Err(DestinationUrlError::Invalid {
                param: "creds",
                reason: "the path of a .creds file on the hookgate host",
            });
        }
        (Some(path), _) => NatsAuth::CredsFile(path),
        (None, Some(password)) => NatsAuth::UserPassword {
            user,
            password: decoded(password),
        },
        (None, None) if !user.is_empty() => NatsAuth::Token(user),
        (None, None) => NatsAuth::None,
    };
    let host = url.host_str().unwrap_or_default();
    Ok(Target::Nats {
        server: format!("{host}:{}", url.port().unwrap_or(4222)),
        auth,
        subject,
    })
}

fn amqp(url: &Url) -> Result<Target, DestinationUrlError> {
    let mut params = Params::of(url, DestinationKind::Amqp)?;
    let exchange = params.require("exchange")?;
    let routing_key = Template::parse(
        &params
            .take("routing_key")
            .unwrap_or_else(|| "{type}".into()),
        "routing_key",
    )?;
    if exchange.is_empty() && routing_key.is_empty() {
        return Err(DestinationUrlError::Invalid {
            param: "routing_key",
            reason: "the default exchange (`exchange=`) routes by queue name: give the queue as routing_key",
        });
    }
    let passed_on = params.finish(&[
        "heartbeat",
        "connection_timeout",
        "channel_max",
        "frame_max",
    ])?;
    Ok(Target::Amqp {
        uri: connection_uri(url, &passed_on),
        exchange,
        routing_key,
    })
}

fn redis(url: &Url) -> Result<Target, DestinationUrlError> {
    let mut params = Params::of(url, DestinationKind::Redis)?;
    let stream = Template::parse(&params.require("stream")?, "stream")?;
    if stream.is_empty() {
        return Err(DestinationUrlError::Invalid {
            param: "stream",
            reason: "a stream key is not empty",
        });
    }
    let maxlen = match params.take("maxlen") {
        None => None,
        Some(text) => match text.parse::<u64>() {
            Ok(n) if n > 0 => Some(n),
            _ => {
                return Err(DestinationUrlError::Invalid {
                    param: "maxlen",
                    reason: "a whole number of entries above 0",
                });
            }
        },
    };
    let db = url.path().trim_start_matches('/');
    if !db.is_empty() && db.parse::<u16>().is_err() {
        return Err(DestinationUrlError::Invalid {
            param: "path",
            reason: "a redis url's path is the database number",
        });
    }
    let passed_on = params.finish(&[])?;
    Ok(Target::Redis {
        uri: connection_uri(url, &passed_on),
        stream,
        maxlen,
    })
}

#[cfg(test)]
mod tests;
