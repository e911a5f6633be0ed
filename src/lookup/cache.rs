//! Cached answers and how long they stay fresh, and then stale.
//!
//! An answer is fresh for `cache.ttl_secs` (found) or
//! `cache.not_found_ttl_secs` (not found). The cache keeps it for
//! `cache.stale_if_error_secs` longer, to answer with when every source fails.

use std::time::Duration;

use moka::Expiry;
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

/// Keeps each entry for its freshness plus the stale-if-error period.
pub struct Retention(pub Freshness);

impl Expiry<String, CachedAnswer> for Retention {
    fn expire_after_create(
        &self,
        _key: &String,
        cached: &CachedAnswer,
        _created_at: std::time::Instant,
    ) -> Option<Duration> {
        Some(self.0.fresh_for(&cached.answer) + self.0.stale_if_error)
    }

    fn expire_after_update(
        &self,
        key: &String,
        cached: &CachedAnswer,
        updated_at: std::time::Instant,
        _duration_until_expiry: Option<Duration>,
    ) -> Option<Duration> {
        self.expire_after_create(key, cached, updated_at)
    }
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
