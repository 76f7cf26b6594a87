//! End-to-end tests: the real application on port 0, spoken to over HTTP, on SQLite and on
//! PostgreSQL (`HOOKGATE_TEST_DATABASE_URL`).

#![allow(clippy::unwrap_used, clippy::expect_used)] // Tests may panic on what they set up.

mod api;
mod backfill;
mod cluster;
mod forward;
mod health;
mod helpers;
mod hostile;
mod ingest;
mod notifications;
mod outage;
mod proxy;
mod queues;
mod restart;
mod sync;
