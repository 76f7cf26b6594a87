//! The notifier: sends hookgate's own events (queued in `notifications`) to the tenant's
//! notification URL and the global one, signed in the Standard Webhooks format
//! (`webhook-id`, `webhook-timestamp`, `webhook-signature`) with each recipient's secret, and
//! retries the recipients that did not answer 2xx.

use std::sync::Arc;
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use hookgate_store::{
    Finish, NotificationJob, RetryPolicy as _, SealedKind, SealedRow, Store, TO_GLOBAL, TO_TENANT,
};
use hookgate_verify::{Secret, sign};
use tokio::sync::watch;

use crate::{Backoff, OpenSecret};

/// Where notifications go: a URL and the secret they are signed with.
#[derive(Clone)]
pub struct NotificationRecipient {
    pub url: String,
    pub secret: Secret,
}

impl std::fmt::Debug for NotificationRecipient {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("NotificationRecipient")
            .field("url", &self.url)
            .finish_non_exhaustive()
    }
}

#[derive(Debug, Clone)]
pub struct NotifierSettings {
    /// The operator's URL, told about every tenant.
    pub global: Option<NotificationRecipient>,
    pub timeout: Duration,
    pub lease: Duration,
    pub poll_interval: Duration,
    pub backoff: Backoff,
}

/// Sends one notification body to `to`, signed; the status of a 2xx answer, or why not.
pub async fn send_notification(
    client: &reqwest::Client,
    to: &NotificationRecipient,
    id: &str,
    body: &str,
) -> Result<u16, String> {
    let timestamp = SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map_or(0, |d| i64::try_from(d.as_secs()).unwrap_or(i64::MAX));
    let signature = sign(&to.secret, id, timestamp, body.as_bytes());
    let response = client
        .post(&to.url)
        .header("content-type", "application/json")
        .header("webhook-id", id)
        .header("webhook-timestamp", timestamp.to_string())
        .header("webhook-signature", signature)
        .body(body.to_owned())
        .send()
        .await
        // Without the URL: a notification URL may carry a token.
        .map_err(|err| {
            format!(
                "could not send: {}",
                crate::outputs::chain(&err.without_url())
            )
        })?;
    let status = response.status();
    if status.is_success() {
        Ok(status.as_u16())
    } else {
        Err(format!("the notification URL answered {status}"))
    }
}

/// Sends a signed `notification.test` to `to`, about `tenant` (none for the operator's URL).
pub async fn send_test_notification(
    client: &reqwest::Client,
    to: &NotificationRecipient,
    tenant: Option<&str>,
) -> Result<u16, String> {
    let body = serde_json::json!({
        "type": "notification.test",
        "timestamp": chrono::Utc::now().to_rfc3339_opts(chrono::SecondsFormat::Millis, true),
        "data": {
            "tenant": tenant,
            "message": "hookgate can reach this notification URL, and signs with this secret",
        },
    });
    let id = notification_id(uuid::Uuid::now_v7());
    send_notification(client, to, &id, &body.to_string()).await
}

/// The HTTP client notifications are sent with: no redirects, bounded by `timeout`.
pub fn notification_client(timeout: Duration) -> Result<reqwest::Client, reqwest::Error> {
    crate::outputs::http_client(timeout)
}

/// The Standard Webhooks id of a notification.
pub fn notification_id(id: uuid::Uuid) -> String {
    format!("ntf_{}", id.simple())
}

/// One notifying loop; several processes may run one each on the same queue.
#[derive(Clone)]
pub struct Notifier {
    store: Store,
    settings: NotifierSettings,
    client: reqwest::Client,
    open: Arc<OpenSecret>,
    owner: String,
}

impl std::fmt::Debug for Notifier {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Notifier")
            .field("owner", &self.owner)
            .finish_non_exhaustive()
    }
}

/// Notifications claimed at once.
const BATCH: u64 = 1;

impl Notifier {
    /// `open` decrypts a tenant's sealed notification secret.
    pub fn new(
        store: Store,
        settings: NotifierSettings,
        open: Arc<OpenSecret>,
    ) -> Result<Self, reqwest::Error> {
        Ok(Self {
            client: notification_client(settings.timeout)?,
            owner: format!("{}-{}", std::process::id(), uuid::Uuid::new_v4().simple()),
            store,
            settings,
            open,
        })
    }

    /// Sends until `stop` turns true.
    pub async fn run(&self, mut stop: watch::Receiver<bool>) {
        while !*stop.borrow() {
            let claimed = self
                .store
                .claim_notifications(&self.owner, BATCH, self.settings.lease)
                .await;
            let busy = match claimed {
                Ok(jobs) => {
                    let full = jobs.len() as u64 == BATCH;
                    // One after another: notifications are rare, and each send is bounded by
                    // the timeout, well inside the lease.
                    for job in jobs {
                        self.send_and_record(job).await;
                    }
                    full
                }
                Err(err) => {
                    tracing::warn!(%err, "notifier could not reach the database");
                    false
                }
            };
            if busy {
                continue;
            }
            tokio::select! {
                () = tokio::time::sleep(self.settings.poll_interval) => {}
                _ = stop.changed() => {}
            }
        }
        if let Err(err) = self.store.release_notifications(&self.owner).await {
            tracing::warn!(%err, "could not release notification leases; they expire on their own");
        }
    }

    async fn send_and_record(&self, job: NotificationJob) {
        let n = &job.notification;
        let mut recipients: Vec<(i32, Result<NotificationRecipient, String>)> = Vec::new();
        if let Some(target) = &job.target {
            let sealed = SealedRow {
                kind: SealedKind::NotificationSecret,
                tenant_id: n.tenant_id,
                row_id: n.tenant_id,
            };
            let opened = (self.open)(sealed, &target.ciphertext)
                .map(|secret| NotificationRecipient {
                    url: target.url.clone(),
                    secret,
                })
                .map_err(|err| format!("the tenant's notification secret cannot be opened: {err}"));
            recipients.push((TO_TENANT, opened));
        }
        if let Some(global) = &self.settings.global {
            recipients.push((TO_GLOBAL, Ok(global.clone())));
        }
        let id = notification_id(n.id);
        let mut sent_to = n.sent_to;
        let mut errors = Vec::new();
        for (bit, recipient) in recipients {
            if sent_to & bit != 0 {
                continue;
            }
            let which = if bit == TO_TENANT { "tenant" } else { "global" };
            let sent = match recipient {
                Ok(to) => send_notification(&self.client, &to, &id, &n.payload).await,
                Err(err) => Err(err),
            };
            match sent {
                Ok(_) => sent_to |= bit,
                Err(err) => errors.push(format!("{which}: {err}")),
            }
        }
        let attempts = n.attempts + 1;
        let now = chrono::Utc::now();
        let finish = if errors.is_empty() {
            Finish::Done {
                attempts: Some(attempts),
            }
        } else {
            let retry_at = self.settings.backoff.next_attempt(attempts, now);
            let error = errors.join("; ");
            tracing::warn!(
                tenant = %job.tenant_slug,
                notification = n.event_type,
                %error,
                "a notification was not accepted"
            );
            Finish::Failed {
                attempts,
                retry_at,
                error,
            }
        };
        let outcome = match &finish {
            Finish::Done { .. } => "delivered",
            Finish::Failed { retry_at: None, .. } => "dead",
            Finish::Failed { .. } => "retry",
        };
        metrics::counter!("hookgate_notifications_total", "outcome" => outcome).increment(1);
        if let Err(err) = self
            .store
            .finish_notification(&self.owner, n.id, sent_to, &finish)
            .await
        {
            tracing::warn!(%err, "could not record a notification attempt; it is sent again when its lease expires");
        }
    }
}
