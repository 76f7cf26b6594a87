//! Per-tenant ingest rate limits: a token bucket per tenant.

use std::sync::Mutex;
use std::time::{Duration, Instant};

/// A token bucket: `rate` tokens per second, at most `burst` saved up.
#[derive(Debug)]
pub struct RateLimiter {
    state: Mutex<Bucket>,
}

#[derive(Debug, Clone, Copy)]
struct Bucket {
    rate: f64,
    burst: f64,
    tokens: f64,
    last: Instant,
}

impl RateLimiter {
    pub fn new(rate_per_sec: u32, burst: u32) -> Self {
        let burst = f64::from(burst.max(1));
        Self {
            state: Mutex::new(Bucket {
                rate: f64::from(rate_per_sec.max(1)),
                burst,
                tokens: burst,
                last: Instant::now(),
            }),
        }
    }

    /// Changes the rate and burst, keeping the tokens saved so far (capped at the new burst).
    pub fn reconfigure(&self, rate_per_sec: u32, burst: u32) {
        let mut bucket = self.lock();
        bucket.rate = f64::from(rate_per_sec.max(1));
        bucket.burst = f64::from(burst.max(1));
        bucket.tokens = bucket.tokens.min(bucket.burst);
    }

    /// Takes a token, or says how long until one is available.
    pub fn try_acquire(&self) -> Result<(), Duration> {
        self.try_acquire_at(Instant::now())
    }

    fn try_acquire_at(&self, now: Instant) -> Result<(), Duration> {
        let mut bucket = self.lock();
        let elapsed = now.saturating_duration_since(bucket.last).as_secs_f64();
        bucket.tokens = (bucket.tokens + elapsed * bucket.rate).min(bucket.burst);
        bucket.last = now;
        if bucket.tokens >= 1.0 {
            bucket.tokens -= 1.0;
            Ok(())
        } else {
            Err(Duration::from_secs_f64((1.0 - bucket.tokens) / bucket.rate))
        }
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, Bucket> {
        // A panic while holding this lock cannot leave the bucket inconsistent: every update is a
        // plain field write.
        self.state
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn allows_the_burst_then_the_rate() {
        let limiter = RateLimiter::new(10, 3);
        let start = Instant::now();
        for _ in 0..3 {
            assert!(limiter.try_acquire_at(start).is_ok());
        }
        let wait = limiter.try_acquire_at(start).unwrap_err();
        assert!(
            wait <= Duration::from_millis(100) && wait > Duration::ZERO,
            "{wait:?}"
        );
        assert!(
            limiter
                .try_acquire_at(start + Duration::from_millis(100))
                .is_ok()
        );
        assert!(
            limiter
                .try_acquire_at(start + Duration::from_millis(100))
                .is_err()
        );
        // Tokens never pile up beyond the burst.
        let later = start + Duration::from_secs(60);
        for _ in 0..3 {
            assert!(limiter.try_acquire_at(later).is_ok());
        }
        assert!(limiter.try_acquire_at(later).is_err());
    }
}
