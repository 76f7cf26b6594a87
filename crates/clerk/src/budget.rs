//! The request budget of one Clerk key: at most `requests` in any window of `window`, as Clerk
//! counts them.
//!
//! A token bucket of capacity N refilled at N per window lets 2N through in one sliding window
//! after an idle spell (a full bucket, then the refill). This is a sliding-window log instead:
//! one entry per request, held from the moment it is sent until one window after it finished.
//! Clerk receives a request after it was sent and before its answer is read, so two requests N
//! apart in the log reach Clerk at least one window apart, whatever the network delay: Clerk
//! never sees more than N in a window from one client. (Requests that fail or time out count
//! too, as Clerk may have counted them.)

use std::collections::{HashMap, VecDeque};
use std::sync::{Arc, Mutex, PoisonError};
use std::time::Duration;

use tokio::sync::Notify;
use tokio::time::Instant;

use crate::{ClerkSecretKey, RateLimit, RateLimits};

/// The budgets of every key one client has used, by key fingerprint.
#[derive(Debug)]
pub(crate) struct Budgets {
    limits: RateLimits,
    buckets: Mutex<HashMap<String, Arc<Bucket>>>,
}

impl Budgets {
    pub(crate) fn new(limits: RateLimits) -> Self {
        Self {
            limits,
            buckets: Mutex::new(HashMap::new()),
        }
    }

    /// The budget of `key`'s instance when it is known, else of `key`, shared by every request
    /// made with it through this client.
    pub(crate) fn of(&self, key: &ClerkSecretKey, instance: Option<&str>) -> Arc<Bucket> {
        let limit = if key.is_production() {
            self.limits.production
        } else {
            self.limits.development
        };
        let mut buckets = self.buckets.lock().unwrap_or_else(PoisonError::into_inner);
        Arc::clone(
            buckets
                .entry(match instance {
                    Some(instance) => format!("instance {instance}"),
                    None => key.fingerprint(),
                })
                .or_insert_with(|| Arc::new(Bucket::new(limit))),
        )
    }
}

#[derive(Debug)]
pub(crate) struct Bucket {
    limit: RateLimit,
    log: Mutex<Log>,
    /// Told when a request finishes, for those waiting while every entry is still in flight.
    finished: Notify,
}

#[derive(Debug, Default)]
struct Log {
    in_flight: usize,
    /// When each of the recent requests finished, oldest first.
    finished: VecDeque<Instant>,
    /// No request before this (Clerk answered 429 with `Retry-After`).
    paused_until: Option<Instant>,
}

enum Wait {
    Until(Instant),
    Finish,
}

impl Bucket {
    fn new(limit: RateLimit) -> Self {
        Self {
            limit,
            log: Mutex::new(Log::default()),
            finished: Notify::new(),
        }
    }

    /// Waits until a request may be sent; the request holds the permit until its answer is read.
    pub(crate) async fn acquire(self: &Arc<Self>) -> Permit {
        let capacity = self.limit.requests.max(1) as usize;
        loop {
            let finished = self.finished.notified();
            let wait = {
                let mut log = self.log.lock().unwrap_or_else(PoisonError::into_inner);
                let now = Instant::now();
                while log
                    .finished
                    .front()
                    .is_some_and(|&at| at + self.limit.window <= now)
                {
                    log.finished.pop_front();
                }
                match log.paused_until {
                    Some(until) if until > now => Wait::Until(until),
                    _ if log.in_flight + log.finished.len() < capacity => {
                        log.in_flight += 1;
                        return Permit {
                            bucket: Arc::clone(self),
                        };
                    }
                    _ => match log.finished.front() {
                        Some(&oldest) => Wait::Until(oldest + self.limit.window),
                        None => Wait::Finish,
                    },
                }
            };
            match wait {
                Wait::Until(at) => tokio::time::sleep_until(at).await,
                // Created before the log was read, so a request finishing since is not missed.
                Wait::Finish => finished.await,
            }
        }
    }

    /// Holds every request of this key back for `pause` from now.
    pub(crate) fn pause(&self, pause: Duration) {
        let until = Instant::now() + pause;
        let mut log = self.log.lock().unwrap_or_else(PoisonError::into_inner);
        log.paused_until = Some(log.paused_until.map_or(until, |old| old.max(until)));
    }
}

/// One request's place in its key's budget; dropping it (answer read, failed or abandoned)
/// starts the window it keeps its place for.
#[derive(Debug)]
pub(crate) struct Permit {
    bucket: Arc<Bucket>,
}

impl Drop for Permit {
    fn drop(&mut self) {
        {
            let mut log = self
                .bucket
                .log
                .lock()
                .unwrap_or_else(PoisonError::into_inner);
            log.in_flight = log.in_flight.saturating_sub(1);
            log.finished.push_back(Instant::now());
        }
        self.bucket.finished.notify_waiters();
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn bucket(requests: u32, window_ms: u64) -> Arc<Bucket> {
        Arc::new(Bucket::new(RateLimit {
            requests,
            window: Duration::from_millis(window_ms),
        }))
    }

    const MS: Duration = Duration::from_millis(1);

    #[tokio::test]
    async fn lets_a_burst_of_the_limit_through_then_waits_a_window() {
        let bucket = bucket(3, 300);
        let start = Instant::now();
        for _ in 0..3 {
            drop(bucket.acquire().await);
        }
        assert!(start.elapsed() < 250 * MS, "{:?}", start.elapsed());
        drop(bucket.acquire().await);
        assert!(start.elapsed() >= 300 * MS, "{:?}", start.elapsed());
    }

    #[tokio::test]
    async fn never_more_than_the_limit_in_any_window_after_idling() {
        let window = 200 * MS;
        let bucket = bucket(5, 200);
        let mut sent = Vec::new();
        for round in 0..3 {
            for _ in 0..7 {
                let permit = bucket.acquire().await;
                sent.push(Instant::now());
                drop(permit);
            }
            // Idle long enough for a token bucket to fill up again.
            tokio::time::sleep(window + 50 * MS * round).await;
        }
        for (i, &at) in sent.iter().enumerate() {
            let in_window = sent[i..]
                .iter()
                .take_while(|&&later| later < at + window)
                .count();
            assert!(in_window <= 5, "{in_window} requests in a window");
        }
    }

    #[tokio::test]
    async fn a_slow_request_keeps_its_place_until_a_window_after_it_ends() {
        let bucket = bucket(1, 200);
        let permit = bucket.acquire().await;
        let waiter = {
            let bucket = Arc::clone(&bucket);
            tokio::spawn(async move {
                drop(bucket.acquire().await);
                Instant::now()
            })
        };
        tokio::time::sleep(150 * MS).await;
        let finished = Instant::now();
        drop(permit);
        let second = waiter.await.unwrap();
        assert!(second - finished >= 200 * MS, "{:?}", second - finished);
    }

    #[tokio::test]
    async fn a_pause_holds_every_request_back() {
        let bucket = bucket(100, 1000);
        let start = Instant::now();
        bucket.pause(300 * MS);
        bucket.pause(100 * MS);
        drop(bucket.acquire().await);
        assert!(start.elapsed() >= 300 * MS, "{:?}", start.elapsed());
    }

    #[test]
    fn keys_have_budgets_of_their_own_by_instance_type() {
        let budgets = Budgets::new(RateLimits::default());
        let live = ClerkSecretKey::parse("sk_live_0123456789abcdefghijKLM").unwrap();
        let test = ClerkSecretKey::parse("sk_test_0123456789abcdefghijKLM").unwrap();
        assert!(Arc::ptr_eq(
            &budgets.of(&live, None),
            &budgets.of(&live.clone(), None)
        ));
        assert!(!Arc::ptr_eq(
            &budgets.of(&live, None),
            &budgets.of(&test, None)
        ));
        assert_eq!(
            budgets.of(&live, None).limit,
            RateLimits::default().production
        );
        assert_eq!(
            budgets.of(&test, None).limit,
            RateLimits::default().development
        );
    }

    #[test]
    fn keys_of_one_instance_share_its_budget() {
        let budgets = Budgets::new(RateLimits::default());
        let first = ClerkSecretKey::parse("sk_live_0123456789abcdefghijKLM").unwrap();
        let second = ClerkSecretKey::parse("sk_live_9876543210abcdefghijKLM").unwrap();
        let shared = budgets.of(&first, Some("ins_one"));
        assert!(Arc::ptr_eq(&shared, &budgets.of(&second, Some("ins_one"))));
        assert!(!Arc::ptr_eq(&shared, &budgets.of(&second, Some("ins_two"))));
        assert!(!Arc::ptr_eq(&shared, &budgets.of(&second, None)));
    }
}
