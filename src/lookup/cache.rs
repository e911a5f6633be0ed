//! Cached answers and how long they stay fresh, and then stale.
//!
//! An answer is fresh for `cache.ttl_secs` (found) or
//! `cache.not_found_ttl_secs` (not found). The cache keeps it for
//! `cache.stale_if_error_secs` longer, to answer with when every source fails.

use std::time::Duration;

use tokio::time::Instant;

use super::outcome::Answer;

/// Lifetimes of cached answers.
#[derive(Debug, Clone, Copy)]
pub struct Freshness {
    pub found: Duration,
    pub not_found: Duration,
    /// How long past freshness an answer is kept for when every source fails.
    pub stale_if_error: Duration,
    /// Age after which a fresh answer is refreshed in the background.
    pub refresh_after: Option<Duration>,
}

impl Freshness {
    pub fn fresh_for(&self, answer: &Answer) -> Duration {
        match answer {
            Answer::Found(_) => self.found,
            Answer::NotFound => self.not_found,
        }
    }
}

/// An answer with the time it was stored.
#[derive(Debug, Clone)]
pub struct CachedAnswer {
    pub answer: Answer,
    pub stored_at: Instant,
}

/// Where a cached answer stands at a given time.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Age {
    Fresh,
    /// Fresh, but old enough to be refreshed in the background.
    RefreshDue,
    /// Past its freshness, kept only to answer when every source fails.
    Stale,
}

impl CachedAnswer {
    /// Whether the cache still holds the answer at `now`: fresh, or within
    /// the stale-if-error period that follows.
    fn is_retained(&self, now: Instant, freshness: &Freshness) -> bool {
        now.saturating_duration_since(self.stored_at)
            < freshness.fresh_for(&self.answer) + freshness.stale_if_error
    }

    pub fn age(&self, now: Instant, freshness: &Freshness) -> Age {
        let age = now.saturating_duration_since(self.stored_at);
        if age >= freshness.fresh_for(&self.answer) {
            Age::Stale
        } else if freshness
            .refresh_after
            .is_some_and(|refresh_after| age >= refresh_after)
        {
            Age::RefreshDue
        } else {
            Age::Fresh
        }
    }
}

/// The in-process answer cache.
///
/// Entries are keyed by the caller's E.164 digits as a number: E.164 numbers
/// have at most 15 digits and no country code starts with 0, so the number is
/// unique per line and fits a `u64`, and a key costs no allocation. The cache
/// holds at most `cache.max_entries` answers and evicts by S3-FIFO, which
/// keeps numbers that call again over numbers seen once.
pub struct AnswerCache {
    entries: quick_cache::sync::Cache<u64, CachedAnswer>,
    freshness: Freshness,
}

impl AnswerCache {
    pub fn new(max_entries: u64, freshness: Freshness) -> Self {
        AnswerCache {
            entries: quick_cache::sync::Cache::new(
                usize::try_from(max_entries).unwrap_or(usize::MAX),
            ),
            freshness,
        }
    }

    /// Returns the answer cached for `e164`, unless at `now` it is past its
    /// freshness and its stale-if-error period.
    ///
    // NOTE: an answer past that period stays in memory until it is read
    // again or evicted for room. The cache is bounded by `cache.max_entries`
    // either way, and sweeping it on a timer would cost a pass over every entry.
    pub fn get(&self, e164: &str, now: Instant) -> Option<CachedAnswer> {
        let key = key(e164);
        let cached = self.entries.get(&key)?;
        if cached.is_retained(now, &self.freshness) {
            Some(cached)
        } else {
            self.entries
                .remove_if(&key, |current| current.stored_at == cached.stored_at);
            None
        }
    }

    pub fn insert(&self, e164: &str, cached: CachedAnswer) {
        self.entries.insert(key(e164), cached);
    }

    /// Removes the answer for `e164`; returns whether there was one.
    pub fn remove(&self, e164: &str) -> bool {
        self.entries.remove(&key(e164)).is_some()
    }

    pub fn clear(&self) {
        self.entries.clear();
    }

    /// Counts the answers held, fresh or stale.
    pub fn len(&self) -> u64 {
        self.entries.len() as u64
    }

    /// Copies every answer still within its retention into `other`.
    pub fn copy_into(&self, other: &AnswerCache) {
        let now = Instant::now();
        for (key, cached) in self.entries.iter() {
            if cached.is_retained(now, &self.freshness) {
                other.entries.insert(key, cached);
            }
        }
    }
}

/// Reads E.164 text (`+14155550123`) as the number its digits spell. Only
/// numbers the phone module produced reach here, so every character after
/// the plus is a digit and there are at most 15 of them.
fn key(e164: &str) -> u64 {
    e164.bytes()
        .filter(u8::is_ascii_digit)
        .fold(0u64, |key, digit| {
            key.wrapping_mul(10).wrapping_add(u64::from(digit - b'0'))
        })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn freshness(refresh_after: Option<u64>) -> Freshness {
        Freshness {
            found: Duration::from_secs(900),
            not_found: Duration::from_secs(120),
            stale_if_error: Duration::from_secs(3600),
            refresh_after: refresh_after.map(Duration::from_secs),
        }
    }

    #[test]
    fn ages_of_a_not_found_answer() {
        let stored_at = Instant::now();
        let cached = CachedAnswer {
            answer: Answer::NotFound,
            stored_at,
        };
        let freshness = freshness(Some(60));
        assert_eq!(cached.age(stored_at, &freshness), Age::Fresh);
        assert_eq!(
            cached.age(stored_at + Duration::from_secs(60), &freshness),
            Age::RefreshDue
        );
        assert_eq!(
            cached.age(stored_at + Duration::from_secs(120), &freshness),
            Age::Stale
        );
    }

    #[test]
    fn no_refresh_without_refresh_after() {
        let stored_at = Instant::now();
        let cached = CachedAnswer {
            answer: Answer::NotFound,
            stored_at,
        };
        assert_eq!(
            cached.age(stored_at + Duration::from_secs(119), &freshness(None)),
            Age::Fresh
        );
    }
}
