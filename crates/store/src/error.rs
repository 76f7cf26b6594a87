use sea_orm::{DbErr, RuntimeErr};

/// What went wrong in storage. `Unavailable` means "try again later": the database could not be
/// reached or was busy; nothing was written.
#[derive(Debug, thiserror::Error)]
pub enum StoreError {
    #[error("database unavailable: {0}")]
    Unavailable(#[source] DbErr),
    #[error("{what} already exists")]
    Conflict { what: &'static str },
    #[error("{what} not found")]
    NotFound { what: &'static str },
    #[error("invalid database url: {0}")]
    InvalidUrl(String),
    #[error("could not prepare the database file: {0}")]
    Io(#[from] std::io::Error),
    #[error("database error: {0}")]
    Database(#[source] DbErr),
    /// A group-commit batch failed: every delivery in it gets this, with the batch's error.
    #[error("storing the batch failed: {0}")]
    Batch(String),
}

impl StoreError {
    /// Whether the same operation may succeed later without any change on the caller's side.
    pub fn is_unavailable(&self) -> bool {
        matches!(self, Self::Unavailable(_))
    }
}

impl From<DbErr> for StoreError {
    fn from(err: DbErr) -> Self {
        if is_transient(&err) {
            Self::Unavailable(err)
        } else {
            Self::Database(err)
        }
    }
}

fn is_transient(err: &DbErr) -> bool {
    use sea_orm::sqlx::Error as Sqlx;
    let runtime = match err {
        DbErr::ConnectionAcquire(_) | DbErr::Conn(_) => return true,
        DbErr::Exec(runtime) | DbErr::Query(runtime) => runtime,
        _ => return false,
    };
    let RuntimeErr::SqlxError(sqlx) = runtime else {
        return false;
    };
    match sqlx.as_ref() {
        Sqlx::Io(_)
        | Sqlx::Tls(_)
        | Sqlx::Protocol(_)
        | Sqlx::PoolTimedOut
        | Sqlx::PoolClosed
        | Sqlx::WorkerCrashed => true,
        Sqlx::Database(db) => {
            // SQLite: SQLITE_BUSY (5) and SQLITE_LOCKED (6), with their extended codes.
            // PostgreSQL: class 08 (connection), 53 (resources), 57P0x (shutdown), 40001/40P01.
            let code = db.code().unwrap_or_default();
            let sqlite_busy = code.parse::<i64>().is_ok_and(|c| matches!(c & 0xff, 5 | 6));
            sqlite_busy
                || code.starts_with("08")
                || code.starts_with("53")
                || code.starts_with("57P0")
                || code == "40001"
                || code == "40P01"
        }
        _ => false,
    }
}

/// An error of a statement sent through sqlx directly (the hot paths that bypass sea-orm).
pub(crate) fn sqlx_error(err: sea_orm::sqlx::Error) -> StoreError {
    StoreError::from(sea_orm::DbErr::Exec(sea_orm::RuntimeErr::SqlxError(
        err.into(),
    )))
}
