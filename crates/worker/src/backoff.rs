use std::time::Duration;

use chrono::{DateTime, Utc};
use hookgate_store::RetryPolicy;

/// Exponential backoff with jitter: attempt `n` waits a random time between half and all of
/// `base × 2^(n-1)`, capped at `cap`; after `max_attempts` attempts the event is dead.
#[derive(Debug, Clone, Copy)]
pub struct Backoff {
    pub base: Duration,
    pub cap: Duration,
    pub max_attempts: i32,
}

impl Backoff {
    /// The delay before attempt `attempts + 1`, with `unit` in `[0, 1)` choosing the jitter.
    pub fn delay(&self, attempts: i32, unit: f64) -> Duration {
        let exponent = u32::try_from(attempts.saturating_sub(1).clamp(0, 30)).unwrap_or(30);
        let full = self.base.saturating_mul(1u32 << exponent).min(self.cap);
        full.mul_f64(0.5 + 0.5 * unit.clamp(0.0, 1.0))
    }
}

impl RetryPolicy for Backoff {
    fn next_attempt(&self, attempts: i32, now: DateTime<Utc>) -> Option<DateTime<Utc>> {
        if attempts >= self.max_attempts {
            return None;
        }
        let delay = self.delay(attempts, random_unit());
        Some(now + chrono::Duration::from_std(delay).unwrap_or(chrono::Duration::hours(1)))
    }
}

/// A number in `[0, 1)` from the operating system's random source (through UUID v4).
fn random_unit() -> f64 {
    let bytes = uuid::Uuid::new_v4().into_bytes();
    let n = u64::from_le_bytes([
        bytes[0], bytes[1], bytes[2], bytes[3], bytes[4], bytes[5], bytes[7], bytes[9],
    ]);
    (n >> 11) as f64 / (1u64 << 53) as f64
}

#[cfg(test)]
mod tests {
    use super::*;

    const B: Backoff = Backoff {
        base: Duration::from_secs(1),
        cap: Duration::from_secs(60),
        max_attempts: 5,
    };

    #[test]
    fn doubles_with_jitter_up_to_the_cap() {
        assert_eq!(B.delay(1, 1.0), Duration::from_secs(1));
        assert_eq!(B.delay(1, 0.0), Duration::from_millis(500));
        assert_eq!(B.delay(3, 1.0), Duration::from_secs(4));
        assert_eq!(B.delay(10, 1.0), Duration::from_secs(60));
        assert_eq!(B.delay(i32::MAX, 1.0), Duration::from_secs(60));
        for _ in 0..100 {
            let unit = random_unit();
            assert!((0.0..1.0).contains(&unit));
        }
    }

    #[test]
    fn gives_up_after_max_attempts() {
        let now = Utc::now();
        let next = B.next_attempt(1, now).unwrap();
        assert!(
            next >= now + chrono::Duration::milliseconds(500)
                && next <= now + chrono::Duration::seconds(1)
        );
        assert!(B.next_attempt(4, now).is_some());
        assert_eq!(B.next_attempt(5, now), None);
    }
}
