use std::sync::Arc;
use std::time::Duration;

use reqwest::header::{HeaderMap, RETRY_AFTER};
use reqwest::{StatusCode, Url};
use serde::Deserialize;
use serde_json::value::RawValue;

use crate::budget::Budgets;
use crate::cursor::{
    self, MAX_PAGE_SIZE, OffsetOutcome, offset_outcome, offset_request, users_next,
};
use crate::{ClerkSecretKey, Cursor, ListKind, Page};

/// Requests per window for one Clerk key.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct RateLimit {
    pub requests: u32,
    pub window: Duration,
}

/// The budgets the client keeps to, by the kind of instance a key belongs to. Clerk's defaults
/// for the Backend API: 1000 requests per 10 s on production instances, 100 on development ones.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct RateLimits {
    pub production: RateLimit,
    pub development: RateLimit,
}

impl Default for RateLimits {
    fn default() -> Self {
        Self {
            production: RateLimit {
                requests: 1000,
                window: Duration::from_secs(10),
            },
            development: RateLimit {
                requests: 100,
                window: Duration::from_secs(10),
            },
        }
    }
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ClientSettings {
    /// The Backend API's address, without `/v1`.
    pub api_url: String,
    /// How long one request may take, connecting and reading the page included.
    pub timeout: Duration,
    /// Objects asked for per page, 1 to 500.
    pub page_size: u32,
    /// How many objects before the offset reached an offset page starts, to find the last
    /// object returned again when earlier ones were deleted (below 500).
    pub overlap: u32,
    /// Retries of a page after a 5xx, a timeout or a connection failure.
    pub max_retries: u32,
    /// The wait before the first retry; it doubles with each retry, up to `backoff_cap`.
    pub backoff_base: Duration,
    pub backoff_cap: Duration,
    /// The longest a page may wait in all on 429 answers (which do not count as retries)
    /// before the listing gives up with [`ClerkError::RateLimited`].
    pub max_rate_limited_wait: Duration,
    pub limits: RateLimits,
}

impl Default for ClientSettings {
    fn default() -> Self {
        Self {
            api_url: "https://api.clerk.com".to_owned(),
            timeout: Duration::from_secs(30),
            page_size: MAX_PAGE_SIZE,
            overlap: 20,
            max_retries: 5,
            backoff_base: Duration::from_millis(500),
            backoff_cap: Duration::from_secs(30),
            max_rate_limited_wait: Duration::from_secs(300),
            limits: RateLimits::default(),
        }
    }
}

/// Settings the client cannot work with.
#[derive(Debug, thiserror::Error)]
pub enum SettingsError {
    #[error(
        "the Clerk API URL must be an http(s) URL without query or fragment, like https://api.clerk.com (got `{0}`)"
    )]
    ApiUrl(String),
    #[error("the Clerk page size must be 1 to {MAX_PAGE_SIZE}, not {0}")]
    PageSize(u32),
    #[error("the Clerk paging overlap must be below {MAX_PAGE_SIZE}, not {0}")]
    Overlap(u32),
    #[error("a Clerk rate limit needs at least one request and a window longer than zero")]
    RateLimit,
    #[error("the Clerk request timeout must be longer than zero")]
    Timeout,
    #[error("cannot build the HTTP client: {0}")]
    Client(String),
}

/// Why a page could not be listed. Never contains the secret key.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum ClerkError {
    #[error(
        "Clerk refused the secret key (HTTP {status}): it is wrong or revoked, or belongs to another instance. Clerk said: {message}"
    )]
    Unauthorized { status: u16, message: String },
    #[error("Clerk rejected the request (HTTP {status}): {message}")]
    Rejected { status: u16, message: String },
    #[error(
        "Clerk's Backend API is unavailable: {attempts} attempts failed, the last with: {last}"
    )]
    Unavailable { attempts: u32, last: String },
    #[error("Clerk kept answering 429 Too Many Requests; gave up after waiting {waited:?} in all")]
    RateLimited { waited: Duration },
    #[error("Clerk's answer is not what its Backend API documents: {0}")]
    Malformed(String),
    #[error("this cursor cannot page {kind}: {kind} pages by {}", if kind.pages_by_cursor() { "`starting_after`" } else { "offset" })]
    WrongCursor { kind: ListKind },
}

impl ClerkError {
    /// Whether the same request may succeed later without anything changing (Clerk down or
    /// busy), as opposed to needing another key, another request or a fix.
    pub fn is_transient(&self) -> bool {
        matches!(self, Self::Unavailable { .. } | Self::RateLimited { .. })
    }
}

/// A client for the Backend API's list endpoints. Cheap to clone; clones share the rate budget
/// of every key (one per key, whichever listing uses it).
#[derive(Debug, Clone)]
pub struct ClerkClient {
    inner: Arc<Inner>,
}

#[derive(Debug)]
struct Inner {
    http: reqwest::Client,
    /// Each kind's list endpoint, in the order of [`ListKind::ALL`].
    urls: Vec<(ListKind, Url)>,
    settings: ClientSettings,
    budgets: Budgets,
}

/// How one attempt ended, when it did not bring a page.
enum Failure {
    /// Worth trying again after a backoff.
    Transient(String),
    /// 429, with Clerk's `Retry-After` when it gave one.
    RateLimited(Option<Duration>),
    Fatal(ClerkError),
}

impl ClerkClient {
    pub fn new(settings: ClientSettings) -> Result<Self, SettingsError> {
        let base = settings.api_url.trim_end_matches('/');
        let bad_url = || SettingsError::ApiUrl(settings.api_url.clone());
        match Url::parse(base) {
            Ok(url)
                if matches!(url.scheme(), "http" | "https")
                    && url.has_host()
                    && url.query().is_none()
                    && url.fragment().is_none() => {}
            _ => return Err(bad_url()),
        }
        let urls = ListKind::ALL
            .into_iter()
            .map(|kind| {
                let url = Url::parse(&format!("{base}{}", kind.path())).map_err(|_| bad_url())?;
                Ok((kind, url))
            })
            .collect::<Result<_, SettingsError>>()?;
        if !(1..=MAX_PAGE_SIZE).contains(&settings.page_size) {
            return Err(SettingsError::PageSize(settings.page_size));
        }
        if settings.overlap >= MAX_PAGE_SIZE {
            return Err(SettingsError::Overlap(settings.overlap));
        }
        for limit in [settings.limits.production, settings.limits.development] {
            if limit.requests == 0 || limit.window.is_zero() {
                return Err(SettingsError::RateLimit);
            }
        }
        if settings.timeout.is_zero() {
            return Err(SettingsError::Timeout);
        }
        // The process's TLS provider, as the forwarder installs it: ring, which the database
        // driver already uses (reqwest is built without a provider of its own).
        let _ = rustls::crypto::ring::default_provider().install_default();
        let http = reqwest::Client::builder()
            .timeout(settings.timeout)
            .connect_timeout(settings.timeout)
            // A redirect would carry the key somewhere the operator never configured.
            .redirect(reqwest::redirect::Policy::none())
            .user_agent(concat!("hookgate/", env!("CARGO_PKG_VERSION")))
            .build()
            .map_err(|e| SettingsError::Client(e.to_string()))?;
        Ok(Self {
            inner: Arc::new(Inner {
                http,
                urls,
                budgets: Budgets::new(settings.limits),
                settings,
            }),
        })
    }

    pub fn settings(&self) -> &ClientSettings {
        &self.inner.settings
    }

    /// Lists the page of `kind` at `cursor` (start with [`Cursor::start`], go on with the
    /// page's `next` until it is `None`), oldest objects first.
    ///
    /// Waits for the key's rate budget, retries 5xx answers, timeouts and connection failures
    /// with backoff up to `max_retries` times, and waits out 429 answers as long as Clerk's
    /// `Retry-After` asks (up to `max_rate_limited_wait` in all).
    pub async fn list(
        &self,
        key: &ClerkSecretKey,
        kind: ListKind,
        cursor: &Cursor,
    ) -> Result<Page, ClerkError> {
        self.list_in(None, key, kind, cursor).await
    }

    /// [`Self::list`] keeping to the budget of the Clerk instance `instance` (`ins_…`) when it
    /// is known: every key of one instance then shares one budget, as Clerk counts requests per
    /// instance. Without it, the budget is the key's.
    pub async fn list_in(
        &self,
        instance: Option<&str>,
        key: &ClerkSecretKey,
        kind: ListKind,
        cursor: &Cursor,
    ) -> Result<Page, ClerkError> {
        if !cursor.fits(kind) {
            return Err(ClerkError::WrongCursor { kind });
        }
        let settings = &self.inner.settings;
        let mut url = self.url(kind);
        // Oldest first: objects created while the listing runs come at its end.
        url.query_pairs_mut().append_pair("order_by", "+created_at");
        match cursor {
            Cursor::After(after) => {
                url.query_pairs_mut()
                    .append_pair("limit", &settings.page_size.to_string());
                if let Some(after) = after {
                    url.query_pairs_mut().append_pair("starting_after", after);
                }
                let body = self.fetch(instance, key, kind, url).await?;
                let objects = parse_array(&body)?;
                let ids = ids_of(&objects)?;
                tracing::debug!(kind = %kind, objects = objects.len(), "listed a page of Clerk objects");
                Ok(Page {
                    next: users_next(settings.page_size, &ids),
                    objects,
                    gap: false,
                    total_count: None,
                })
            }
            Cursor::Offset { offset, last_id } => {
                let request = offset_request(
                    *offset,
                    last_id.as_deref(),
                    settings.page_size,
                    settings.overlap,
                );
                url.query_pairs_mut()
                    .append_pair("limit", &request.limit.to_string())
                    .append_pair("offset", &request.offset.to_string());
                let body = self.fetch(instance, key, kind, url).await?;
                let (mut objects, total_count) = parse_listing(&body)?;
                let ids = ids_of(&objects)?;
                let OffsetOutcome { skip, gap, next } =
                    offset_outcome(*offset, last_id.as_deref(), request, &ids);
                if gap {
                    tracing::warn!(kind = %kind, offset, "objects may have been missed: the last object listed is not where it can be (deleted, or more deletions than the overlap)");
                }
                objects.drain(..skip);
                tracing::debug!(kind = %kind, objects = objects.len(), "listed a page of Clerk objects");
                Ok(Page {
                    objects,
                    next,
                    gap,
                    total_count,
                })
            }
        }
    }

    /// The list endpoint of `kind`, without a query.
    fn url(&self, kind: ListKind) -> Url {
        let (_, url) = &self.inner.urls[kind as usize];
        url.clone()
    }

    /// GETs `url` with the key until it answers a page, retrying as `list` says.
    async fn fetch(
        &self,
        instance: Option<&str>,
        key: &ClerkSecretKey,
        kind: ListKind,
        url: Url,
    ) -> Result<Vec<u8>, ClerkError> {
        let settings = &self.inner.settings;
        let bucket = self.inner.budgets.of(key, instance);
        let (mut failures, mut limited, mut waited) = (0u32, 0u32, Duration::ZERO);
        loop {
            let permit = bucket.acquire().await;
            let outcome = self.attempt(key, url.clone()).await;
            drop(permit);
            match outcome {
                Ok(body) => return Ok(body),
                Err(Failure::Fatal(err)) => return Err(err),
                Err(Failure::RateLimited(retry_after)) => {
                    // Without `Retry-After` (a proxy's 429), back off as after a failure.
                    limited += 1;
                    let wait = retry_after
                        .unwrap_or_else(|| {
                            backoff(settings.backoff_base, settings.backoff_cap, limited)
                        })
                        .max(settings.backoff_base);
                    // Every listing with this key waits, not only this one.
                    bucket.pause(wait);
                    if waited + wait > settings.max_rate_limited_wait {
                        return Err(ClerkError::RateLimited { waited });
                    }
                    waited += wait;
                    tracing::info!(kind = %kind, key = %key.fingerprint(), wait_ms = wait.as_millis() as u64, "Clerk answered 429; waiting as it asks");
                }
                Err(Failure::Transient(last)) => {
                    failures += 1;
                    if failures > settings.max_retries {
                        return Err(ClerkError::Unavailable {
                            attempts: failures,
                            last,
                        });
                    }
                    let wait = backoff(settings.backoff_base, settings.backoff_cap, failures);
                    tracing::warn!(kind = %kind, key = %key.fingerprint(), attempt = failures, error = %last, wait_ms = wait.as_millis() as u64, "Clerk request failed; retrying");
                    tokio::time::sleep(wait).await;
                }
            }
        }
    }

    async fn attempt(&self, key: &ClerkSecretKey, url: Url) -> Result<Vec<u8>, Failure> {
        let response = self
            .inner
            .http
            .get(url)
            .bearer_auth(key.expose())
            .header(reqwest::header::ACCEPT, "application/json")
            .send()
            .await
            .map_err(|e| Failure::Transient(describe(e)))?;
        let status = response.status();
        let retry_after = retry_after(response.headers());
        let body = response
            .bytes()
            .await
            .map_err(|e| Failure::Transient(describe(e)))?;
        classify(status, retry_after, &body).map(|()| body.to_vec())
    }
}

/// What an answer's status means for the listing.
fn classify(status: StatusCode, retry_after: Option<Duration>, body: &[u8]) -> Result<(), Failure> {
    let code = status.as_u16();
    match code {
        200..=299 => Ok(()),
        429 => Err(Failure::RateLimited(retry_after)),
        401 | 403 => Err(Failure::Fatal(ClerkError::Unauthorized {
            status: code,
            message: error_message(body),
        })),
        408 | 500..=599 => Err(Failure::Transient(format!(
            "HTTP {code}: {}",
            error_message(body)
        ))),
        _ => Err(Failure::Fatal(ClerkError::Rejected {
            status: code,
            message: error_message(body),
        })),
    }
}

/// `Retry-After` in seconds (Clerk sends seconds; a date is ignored and the backoff used).
fn retry_after(headers: &HeaderMap) -> Option<Duration> {
    let text = headers.get(RETRY_AFTER)?.to_str().ok()?;
    let seconds: f64 = text.trim().parse().ok()?;
    (seconds.is_finite() && seconds >= 0.0).then(|| Duration::from_secs_f64(seconds.min(86_400.0)))
}

fn backoff(base: Duration, cap: Duration, failures: u32) -> Duration {
    let factor = 1u32 << failures.saturating_sub(1).min(20);
    base.saturating_mul(factor).min(cap)
}

#[derive(Deserialize)]
struct ErrorBody {
    errors: Vec<ErrorItem>,
}

#[derive(Deserialize)]
struct ErrorItem {
    #[serde(default)]
    message: Option<String>,
    #[serde(default)]
    long_message: Option<String>,
    #[serde(default)]
    code: Option<String>,
}

/// Clerk's error messages (`{"errors":[{"message","long_message","code"}]}`), or the start of a
/// body of another shape.
fn error_message(body: &[u8]) -> String {
    if let Ok(parsed) = serde_json::from_slice::<ErrorBody>(body) {
        let messages: Vec<String> = parsed
            .errors
            .into_iter()
            .map(|item| {
                let text = item
                    .long_message
                    .or(item.message)
                    .unwrap_or_else(|| "no message".to_owned());
                match item.code {
                    Some(code) => format!("{text} ({code})"),
                    None => text,
                }
            })
            .collect();
        if !messages.is_empty() {
            return messages.join("; ");
        }
    }
    let text = String::from_utf8_lossy(body);
    let text = text.trim();
    if text.is_empty() {
        return "no error message".to_owned();
    }
    let mut short: String = text.chars().take(200).collect();
    if short.len() < text.len() {
        short.push('…');
    }
    short
}

/// Why a request failed, without its URL.
fn describe(err: reqwest::Error) -> String {
    let err = err.without_url();
    let kind = if err.is_timeout() {
        "timed out"
    } else if err.is_connect() {
        "could not connect"
    } else {
        "request failed"
    };
    let mut text = format!("{kind}: {err}");
    let mut source = std::error::Error::source(&err);
    while let Some(inner) = source {
        text.push_str(": ");
        text.push_str(&inner.to_string());
        source = inner.source();
    }
    text
}

fn parse_array(body: &[u8]) -> Result<Vec<Box<RawValue>>, ClerkError> {
    serde_json::from_slice(body)
        .map_err(|e| ClerkError::Malformed(format!("expected a JSON array of objects: {e}")))
}

#[derive(Deserialize)]
struct Listing {
    data: Vec<Box<RawValue>>,
    #[serde(default)]
    total_count: Option<u64>,
}

fn parse_listing(body: &[u8]) -> Result<(Vec<Box<RawValue>>, Option<u64>), ClerkError> {
    let listing: Listing = serde_json::from_slice(body).map_err(|e| {
        ClerkError::Malformed(format!(
            "expected an object with a `data` array and `total_count`: {e}"
        ))
    })?;
    Ok((listing.data, listing.total_count))
}

fn ids_of(objects: &[Box<RawValue>]) -> Result<Vec<String>, ClerkError> {
    objects
        .iter()
        .enumerate()
        .map(|(n, object)| {
            cursor::object_id(object)
                .map_err(|why| ClerkError::Malformed(format!("object {n} of the page {why}")))
        })
        .collect()
}

#[cfg(test)]
#[path = "client_tests.rs"]
mod tests;
