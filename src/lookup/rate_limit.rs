//! A per-source call limit that holds in every one-second window.
//!
//! CRMs count calls per window: HubSpot's search allows a few per second. A
//! token bucket whose burst equals its rate lets twice the rate through in
//! the second after an idle period, so this limiter keeps the times of the
//! last `rate` calls instead and gives each new call a slot at least one
//! second after the call `rate` places before it.

use std::collections::VecDeque;
use std::sync::Mutex;
use std::time::Duration;

use tokio::time::Instant;

/// The window vendors count calls in.
const WINDOW: Duration = Duration::from_secs(1);

/// Slack added to the window. The limiter spaces the moments calls start,
/// but the vendor counts them when they arrive, and a call that opens a new
/// connection (TCP and TLS) arrives later than one on a pooled connection.
/// Measured here: up to 150 ms on a busy 2-core machine against a local
/// mock, so the margin covers that with room for a TLS handshake.
pub const WINDOW_MARGIN: Duration = Duration::from_millis(250);

/// Sliding-window call limiter shared by every lookup of one source.
#[derive(Debug)]
pub struct RateLimiter {
    rate: usize,
    /// Start times of the most recent calls, granted or reserved, ascending.
    slots: Mutex<VecDeque<Instant>>,
}

/// A granted call slot.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Slot {
    /// The call may start now.
    Now,
    /// The call may start at this time.
    At(Instant),
}

impl RateLimiter {
    /// Creates a limiter for `rate` calls per second; `rate` must be positive.
    pub fn new(rate: u32) -> Self {
        let rate = rate.max(1) as usize;
        RateLimiter {
            rate,
            slots: Mutex::new(VecDeque::with_capacity(rate + 1)),
        }
    }

    pub fn rate(&self) -> usize {
        self.rate
    }

    /// Reserves the earliest slot for a call, unless it would start after
    /// `latest`: then nothing is reserved and `None` is returned.
    pub fn reserve(&self, now: Instant, latest: Instant) -> Option<Slot> {
        let mut slots = self
            .slots
            .lock()
            .expect("rate limiter lock is never poisoned");
        let earliest = if slots.len() < self.rate {
            now
        } else {
            let blocking = slots[slots.len() - self.rate];
            now.max(blocking + WINDOW + WINDOW_MARGIN)
        };
        if earliest > latest {
            return None;
        }
        slots.push_back(earliest);
        while slots.len() > self.rate {
            slots.pop_front();
        }
        Some(if earliest <= now {
            Slot::Now
        } else {
            Slot::At(earliest)
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn reserve_all(limiter: &RateLimiter, now: Instant, count: usize) -> Vec<Instant> {
        (0..count)
            .map(
                |_| match limiter.reserve(now, now + Duration::from_secs(60)).unwrap() {
                    Slot::Now => now,
                    Slot::At(time) => time,
                },
            )
            .collect()
    }

    #[test]
    fn burst_up_to_rate_starts_now() {
        let limiter = RateLimiter::new(4);
        let now = Instant::now();
        for _ in 0..4 {
            assert_eq!(limiter.reserve(now, now), Some(Slot::Now));
        }
        assert_eq!(limiter.reserve(now, now), None);
    }

    #[test]
    fn no_window_holds_more_than_rate_calls() {
        let limiter = RateLimiter::new(4);
        let now = Instant::now();
        let slots = reserve_all(&limiter, now, 30);
        for (index, start) in slots.iter().enumerate() {
            let in_window = slots[index..]
                .iter()
                .filter(|slot| **slot < *start + WINDOW)
                .count();
            assert!(
                in_window <= 4,
                "{in_window} calls in the window starting with call {index}"
            );
        }
    }

    #[test]
    fn slot_past_latest_is_refused_without_reserving() {
        let limiter = RateLimiter::new(1);
        let now = Instant::now();
        assert_eq!(limiter.reserve(now, now), Some(Slot::Now));
        assert_eq!(limiter.reserve(now, now + Duration::from_millis(500)), None);
        let later = limiter.reserve(now, now + Duration::from_secs(2));
        assert_eq!(later, Some(Slot::At(now + WINDOW + WINDOW_MARGIN)));
    }

    #[test]
    fn idle_time_frees_the_window() {
        let limiter = RateLimiter::new(2);
        let now = Instant::now();
        reserve_all(&limiter, now, 2);
        let later = now + Duration::from_secs(2);
        assert_eq!(limiter.reserve(later, later), Some(Slot::Now));
    }
}
