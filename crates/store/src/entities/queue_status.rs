use sea_orm::entity::prelude::*;

/// Where a row of a leased work queue (inbox events, deliveries) is in its life. Every queue
/// shares these four states; who holds a row right now is its lease, not its status.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, EnumIter, DeriveActiveEnum, serde::Serialize)]
#[sea_orm(rs_type = "String", db_type = "String(StringLen::N(16))")]
#[serde(rename_all = "snake_case")]
pub enum QueueStatus {
    /// Waiting for its first attempt (or put back by a replay).
    #[sea_orm(string_value = "pending")]
    Pending,
    /// Finished: applied, or delivered.
    #[sea_orm(string_value = "done")]
    Done,
    /// The last attempt failed; it is retried at `next_attempt_at`.
    #[sea_orm(string_value = "failed")]
    Failed,
    /// Will not be retried (see `last_error`); kept for inspection and replay.
    #[sea_orm(string_value = "dead")]
    Dead,
}

impl QueueStatus {
    /// Every status, in the order listings show them.
    pub const ALL: [Self; 4] = [Self::Pending, Self::Failed, Self::Done, Self::Dead];

    /// The name stored in the database and shown by the CLI and the APIs.
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Pending => "pending",
            Self::Done => "done",
            Self::Failed => "failed",
            Self::Dead => "dead",
        }
    }

    /// Waiting for a worker: pending, or failed and to be retried.
    pub fn is_waiting(self) -> bool {
        matches!(self, Self::Pending | Self::Failed)
    }
}

impl std::fmt::Display for QueueStatus {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.as_str())
    }
}

/// A name that is not one of the four statuses.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("`{0}` is not a status: pending, failed, done or dead")]
pub struct UnknownStatus(pub String);

impl std::str::FromStr for QueueStatus {
    type Err = UnknownStatus;

    fn from_str(text: &str) -> Result<Self, Self::Err> {
        Self::ALL
            .into_iter()
            .find(|s| s.as_str() == text)
            .ok_or_else(|| UnknownStatus(text.to_owned()))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names_round_trip_and_match_the_stored_values() {
        for status in QueueStatus::ALL {
            assert_eq!(status.as_str().parse::<QueueStatus>(), Ok(status));
            assert_eq!(status.to_string(), status.as_str());
            assert_eq!(status.to_value(), status.as_str());
        }
        assert_eq!(
            "Done".parse::<QueueStatus>().unwrap_err().to_string(),
            "`Done` is not a status: pending, failed, done or dead"
        );
    }
}
