//! Workers: claim due inbox events with a lease, decode them, apply a batch to the sync tables in
//! one transaction, and retry failures with exponential backoff until they are dead.

mod backoff;
mod forwarder;
mod jobs;
mod notifier;
pub mod outputs;
mod recorder;
mod trace_context;
mod worker;

pub use backoff::Backoff;
pub use forwarder::{
    Forwarder, ForwarderSettings, OpenSecret, OpenUrl, SecretOpener, install_tls_provider,
};
pub use jobs::{ClerkKeyOpener, JobOutcome, JobRunner, JobSettings, OpenClerkKey};
pub use notifier::{
    NotificationRecipient, Notifier, NotifierSettings, notification_client, notification_id,
    send_notification, send_test_notification,
};
pub use worker::{BatchReport, Worker, WorkerSettings};
