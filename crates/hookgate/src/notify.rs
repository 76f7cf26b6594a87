//! Test notifications, for the admin API and the CLI alike: a signed `notification.test` to a
//! tenant's notification URL or the operator's.

use std::sync::Arc;
use std::time::Duration;

use anyhow::Context as _;
use hookgate_http::{TestFailure, TestNotifier, TestRecipient};
use hookgate_worker::{NotificationRecipient, notification_client, send_test_notification};

use crate::settings::Settings;

/// Sends test notifications with the forwarders' timeout, to the tenant's URL or the global one.
pub fn test_notifier(settings: &Settings) -> anyhow::Result<TestNotifier> {
    let global = settings.notification_recipient()?;
    let client = notification_client(Duration::from_millis(settings.forward.timeout_ms))
        .context("building the HTTP client for notifications")?;
    Ok(TestNotifier(Arc::new(move |recipient| {
        let (client, global) = (client.clone(), global.clone());
        Box::pin(async move {
            let sent = match recipient {
                TestRecipient::Tenant { slug, url, secret } => {
                    let to = NotificationRecipient { url, secret };
                    send_test_notification(&client, &to, Some(&slug)).await
                }
                TestRecipient::Global => match &global {
                    Some(to) => send_test_notification(&client, to, None).await,
                    None => {
                        return Err(TestFailure::NoRecipient(
                            "no global notification URL is configured (notifications.url)".into(),
                        ));
                    }
                },
            };
            sent.map_err(TestFailure::Refused)
        })
    })))
}
