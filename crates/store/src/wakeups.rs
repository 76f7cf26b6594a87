//! Waking workers and forwarders in other processes: on PostgreSQL, whatever makes events or
//! deliveries due now (ingest, applying an event with destinations, a replay) sends a `NOTIFY`,
//! and processes that run workers `LISTEN`. Best effort: a wake-up lost on the way only means
//! the next poll finds the work. SQLite has no such channel; there, other processes poll.

use sea_orm::sqlx::postgres::{PgListener, PgPoolOptions};

use crate::error::sqlx_error;
use crate::{Backend, Store, StoreError};

const EVENTS: &str = "hookgate_events";
const DELIVERIES: &str = "hookgate_deliveries";

/// What another process made due.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Wakeup {
    /// Stored or replayed events wait to be applied.
    Events,
    /// Queued or replayed deliveries wait to be sent.
    Deliveries,
    /// The listening connection was lost and is back: wake-ups sent meanwhile are gone, so
    /// look for both.
    Missed,
}

impl Wakeup {
    pub(crate) fn channel(self) -> Option<&'static str> {
        match self {
            Self::Events => Some(EVENTS),
            Self::Deliveries => Some(DELIVERIES),
            Self::Missed => None,
        }
    }
}

/// A connection of its own listening for wake-ups, so it never takes one of the pool's.
pub struct Wakeups {
    listener: PgListener,
}

impl std::fmt::Debug for Wakeups {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Wakeups").finish_non_exhaustive()
    }
}

impl Wakeups {
    /// The next wake-up; reconnects by itself after a lost connection (answering `Missed`).
    pub async fn next(&mut self) -> Result<Wakeup, StoreError> {
        match self.listener.try_recv().await.map_err(sqlx_error)? {
            Some(notification) if notification.channel() == EVENTS => Ok(Wakeup::Events),
            Some(notification) if notification.channel() == DELIVERIES => Ok(Wakeup::Deliveries),
            Some(_) | None => Ok(Wakeup::Missed),
        }
    }
}

impl Store {
    /// Listens for wake-ups from other processes: `None` on SQLite, which has no channel.
    pub async fn listen(&self) -> Result<Option<Wakeups>, StoreError> {
        if self.backend() != Backend::Postgres {
            return Ok(None);
        }
        let options = self.writer.get_postgres_connection_pool().connect_options();
        let pool = PgPoolOptions::new()
            .max_connections(1)
            .min_connections(0)
            .connect_lazy_with((*options).clone());
        let mut listener = PgListener::connect_with(&pool).await.map_err(sqlx_error)?;
        listener
            .listen_all([EVENTS, DELIVERIES])
            .await
            .map_err(sqlx_error)?;
        Ok(Some(Wakeups { listener }))
    }

    /// [`Store::announce`] without waiting for it: for the paths (ingest, applying) whose
    /// callers should not wait a round trip more.
    pub(crate) fn announce_soon(&self, wakeup: Wakeup) {
        if self.backend() == Backend::Postgres {
            let store = self.clone();
            tokio::spawn(async move { store.announce(wakeup).await });
        }
    }

    /// Tells listening processes that `wakeup`'s work is due, after the change is committed
    /// (a listener woken before it could not see the rows). Failures are logged, not returned:
    /// the work is stored, and polling finds it.
    pub(crate) async fn announce(&self, wakeup: Wakeup) {
        let Some(channel) = wakeup.channel() else {
            return;
        };
        if self.backend() != Backend::Postgres {
            return;
        }
        let pool = self.writer.get_postgres_connection_pool();
        if let Err(err) = sea_orm::sqlx::query("SELECT pg_notify($1, '')")
            .bind(channel)
            .execute(pool)
            .await
        {
            tracing::debug!(%err, channel, "wake-up not sent; listeners will poll");
        }
    }
}
