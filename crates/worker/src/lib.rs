//! Workers: claim due inbox events with a lease, decode them, apply a batch to the sync tables in
//! one transaction, and retry failures with exponential backoff until they are dead.

mod backoff;
mod trace_context;
mod worker;

pub use backoff::Backoff;
pub use worker::{BatchReport, Worker, WorkerSettings};
