//! Per-tenant ingest rate limits: a token bucket per tenant, its rate shared between the
//! processes that take deliveries.

use std::sync::atomic::{AtomicU32, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

/// How many processes take deliveries: each enforces `1/n` of every tenant's rate and burst, so
/// the limit holds for the whole deployment when deliveries are spread evenly. Kept up to date
/// by the process's heartbeat ([`crate::Presence`]). Cheap to clone; starts at one.
#[derive(Debug, Clone)]
pub struct Share(Arc<AtomicU32>);

impl Default for Share {
    fn default() -> Self {
        Self(Arc::new(AtomicU32::new(1)))
    }
}

impl Share {
    pub fn processes(&self) -> u32 {
        self.0.load(Ordering::Relaxed).max(1)
    }

    pub fn set_processes(&self, n: u32) {
        self.0.store(n.max(1), Ordering::Relaxed);
    }
}

/// A token bucket: `rate` tokens per second, at most `burst` saved up, both divided by the
/// processes sharing them.
#[derive(Debug)]
pub struct RateLimiter {
    state: Mutex<Bucket>,
    share: Share,
}

#[derive(Debug, Clone, Copy)]
struct Bucket {
    rate: f64,
    burst: f64,
    tokens: f64,
    last: Instant,
}

impl RateLimiter {
    pub fn new(rate_per_sec: u32, burst: u32, share: Share) -> Self {
        let burst = f64::from(burst.max(1));
        Self {
            state: Mutex::new(Bucket {
                rate: f64::from(rate_per_sec.max(1)),
                burst,
                tokens: burst / f64::from(share.processes()),
                last: Instant::now(),
            }),
            share,
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
        let processes = f64::from(self.share.processes());
        let mut bucket = self.lock();
        let rate = bucket.rate / processes;
        // Never below one token, or a small burst split many ways would refuse everything.
        let burst = (bucket.burst / processes).max(1.0);
        let elapsed = now.saturating_duration_since(bucket.last).as_secs_f64();
        bucket.tokens = (bucket.tokens + elapsed * rate).min(burst);
        bucket.last = now;
        if bucket.tokens >= 1.0 {
            bucket.tokens -= 1.0;
            Ok(())
        } else {
            Err(Duration::from_secs_f64((1.0 - bucket.tokens) / rate))
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
        let limiter = RateLimiter::new(10, 3, Share::default());
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

    #[test]
    fn each_process_enforces_its_share() {
        let share = Share::default();
        let limiter = RateLimiter::new(30, 6, share.clone());
        share.set_processes(3);
        let start = Instant::now();
        // A third of the burst (2), then a third of the rate (10/s: one token per 100 ms).
        assert!(limiter.try_acquire_at(start).is_ok());
        assert!(limiter.try_acquire_at(start).is_ok());
        let wait = limiter.try_acquire_at(start).unwrap_err();
        assert!(wait > Duration::from_millis(90), "{wait:?}");
        assert!(
            limiter
                .try_acquire_at(start + Duration::from_millis(101))
                .is_ok()
        );
        // One process again: the whole rate (30/s: a token per 33 ms).
        share.set_processes(1);
        let later = start + Duration::from_millis(101);
        assert!(
            limiter
                .try_acquire_at(later + Duration::from_millis(34))
                .is_ok()
        );
        share.set_processes(0);
        assert_eq!(share.processes(), 1, "never fewer than this process");
    }
}
