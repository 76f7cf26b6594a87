//! `hookgate tenant notifications …` and `hookgate admin notifications test`: where hookgate's
//! own events about a tenant go, a signed test of each URL, and what was sent lately.

use anyhow::{Context as _, bail};
use clap::Subcommand;
use hookgate_http::{TestFailure, TestRecipient};
use hookgate_store::{Notification, Uuid};
use hookgate_tenancy::{Tenancy, TenantSlug};
use serde::Serialize;

use super::common::parse_secret;
use super::output::{self, Column, Format, Line, Row};
use crate::settings::Settings;

#[derive(Subcommand)]
pub enum NotificationsCommand {
    /// Send the tenant's notifications (destination.disabled, destination.recovered, event.dead,
    /// delivery.dead, reconcile.drift) to `url`, signed in the Standard Webhooks format with a
    /// secret of their own (given, or generated and printed once).
    Set {
        slug: TenantSlug,
        url: String,
        #[arg(long, env = "HOOKGATE_NOTIFICATIONS_SECRET", hide_env_values = true)]
        secret: Option<String>,
    },
    /// Where the tenant's notifications go.
    Show { slug: TenantSlug },
    /// Stop the tenant's notifications.
    Clear { slug: TenantSlug },
    /// Send a signed `notification.test` to the tenant's URL and print its answer.
    Test { slug: TenantSlug },
    /// The tenant's latest notifications, newest first.
    Sent {
        slug: TenantSlug,
        #[arg(long, default_value_t = 20)]
        limit: u64,
        #[command(flatten)]
        format: Format,
    },
}

impl std::fmt::Debug for NotificationsCommand {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Self::Set { slug, url, .. } => {
                write!(f, "Set {{ slug: {slug}, url: {url}, secret: [redacted] }}")
            }
            Self::Show { slug } => write!(f, "Show {{ slug: {slug} }}"),
            Self::Clear { slug } => write!(f, "Clear {{ slug: {slug} }}"),
            Self::Test { slug } => write!(f, "Test {{ slug: {slug} }}"),
            Self::Sent { slug, limit, .. } => write!(f, "Sent {{ slug: {slug}, limit: {limit} }}"),
        }
    }
}

pub(super) async fn run(
    command: NotificationsCommand,
    tenancy: &Tenancy,
    settings: &Settings,
) -> anyhow::Result<()> {
    match command {
        NotificationsCommand::Set { slug, url, secret } => {
            let secret = secret.as_deref().map(parse_secret).transpose()?;
            let generated = secret.is_none();
            let setup = tenancy.set_notifications(&slug, &url, secret).await?;
            println!("notifications of {slug} go to {}", setup.target.url);
            if generated {
                println!(
                    "signing secret (shown once; the receiver verifies with it): {}",
                    setup.secret.expose_encoded()
                );
            }
        }
        NotificationsCommand::Show { slug } => match tenancy.notifications(&slug).await? {
            Some(target) => println!(
                "notifications of {slug} go to {} (set {})",
                target.url,
                target.created_at.to_rfc3339()
            ),
            None => bail!("{slug} has no notification URL"),
        },
        NotificationsCommand::Clear { slug } => {
            if !tenancy.clear_notifications(&slug).await? {
                bail!("{slug} has no notification URL");
            }
            println!("notifications of {slug} stopped");
        }
        NotificationsCommand::Test { slug } => {
            let (url, secret) = tenancy
                .notification_recipient(&slug)
                .await?
                .with_context(|| format!("{slug} has no notification URL"))?;
            let recipient = TestRecipient::Tenant {
                slug: slug.to_string(),
                url: url.clone(),
                secret,
            };
            test(settings, recipient, &url).await?;
        }
        NotificationsCommand::Sent {
            slug,
            limit,
            format,
        } => {
            let sent = tenancy
                .sent_notifications(&slug, limit.clamp(1, 500))
                .await?;
            output::print_rows::<NotificationRow>(sent, format)?;
        }
    }
    Ok(())
}

/// Sends a test notification and says what came of it.
pub(super) async fn test(
    settings: &Settings,
    recipient: TestRecipient,
    url: &str,
) -> anyhow::Result<()> {
    let notifier = crate::notify::test_notifier(settings)?;
    match (notifier.0)(recipient).await {
        Ok(status) => {
            println!("{url} accepted a signed notification.test ({status})");
            Ok(())
        }
        Err(TestFailure::Refused(err)) => {
            bail!("{url} did not accept the test notification: {err}")
        }
        Err(TestFailure::NoRecipient(err)) => bail!("{err}"),
    }
}

/// A line of `tenant notifications sent`.
#[derive(Debug, Serialize)]
struct NotificationRow {
    id: Uuid,
    r#type: String,
    status: &'static str,
    attempts: i32,
    last_error: Option<String>,
    created_at: String,
}

impl From<Notification> for NotificationRow {
    fn from(n: Notification) -> Self {
        Self {
            id: n.id,
            r#type: n.event_type,
            status: n.status.as_str(),
            attempts: n.attempts,
            last_error: n.last_error,
            created_at: n.created_at.to_rfc3339(),
        }
    }
}

impl Row for NotificationRow {
    const COLUMNS: &'static [Column] = &[
        Column::left("id", 38),
        Column::left("type", 22),
        Column::left("status", 8),
        Column::right("attempts", 8),
        Column::last("last error").after(2),
    ];

    fn cells(&self, line: &mut Line) {
        line.cell(self.id)
            .cell(&self.r#type)
            .cell(self.status)
            .cell(self.attempts)
            .cell(self.last_error.as_deref().unwrap_or_default());
    }
}
