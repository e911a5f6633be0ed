//! Cached answers and how long they stay fresh, and then stale.
//!
//! An answer is fresh for `cache.ttl_secs` (found) or
//! `cache.not_found_ttl_secs` (not found). The cache keeps it for
//! `cache.stale_if_error_secs` longer, to answer with when every source fails.

use std::cell::RefCell;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Arc;
use std::time::Duration;

use tokio::time::Instant;

use super::front::{self, Front, Read};
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
    /// Returns a copy that shares no memory with `self`.
    fn unshared(&self) -> CachedAnswer {
        CachedAnswer {
            answer: match &self.answer {
                Answer::Found(badge) => Answer::Found(badge.unshared()),
                Answer::NotFound => Answer::NotFound,
            },
            stored_at: self.stored_at,
        }
    }

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
///
/// Each worker thread also keeps copies of the answers it read more than once
/// in a front (see the `front` module). A copy is used only while the version
/// of its front slot is unchanged: every insert and removal bumps the version
/// of the key's slot after the change, an eviction for room does too, and a
/// clear bumps them all, so no thread serves an answer that was replaced,
/// purged, evicted or found expired.
pub struct AnswerCache {
    entries: quick_cache::sync::Cache<
        u64,
        CachedAnswer,
        quick_cache::UnitWeighter,
        quick_cache::DefaultHashBuilder,
        BumpOnEvict,
    >,
    freshness: Freshness,
    owner: u64,
    versions: Arc<Versions>,
}

/// One version per front slot.
type Versions = [AtomicU64; front::SLOTS];

/// Bumps the version of an evicted answer's slot, so that no thread keeps
/// serving its copy of an answer the cache no longer holds.
#[derive(Clone)]
struct BumpOnEvict(Arc<Versions>);

impl quick_cache::Lifecycle<u64, CachedAnswer> for BumpOnEvict {
    type RequestState = ();

    fn begin_request(&self) -> Self::RequestState {}

    fn on_evict(&self, _state: &mut Self::RequestState, key: u64, _answer: CachedAnswer) {
        self.0[front::slot_of(key)].fetch_add(1, Ordering::AcqRel);
    }
}

thread_local! {
    /// This thread's copies, each with the slot version it was read under.
    static FRONT: RefCell<Front<u64, (u64, CachedAnswer)>> = const { RefCell::new(Front::new()) };
}

impl AnswerCache {
    pub fn new(max_entries: u64, freshness: Freshness) -> Self {
        let versions: Arc<Versions> = Arc::new(std::array::from_fn(|_| AtomicU64::new(0)));
        AnswerCache {
            entries: quick_cache::sync::Cache::with(
                usize::try_from(max_entries).unwrap_or(usize::MAX),
                max_entries,
                quick_cache::UnitWeighter,
                quick_cache::DefaultHashBuilder::default(),
                BumpOnEvict(Arc::clone(&versions)),
            ),
            freshness,
            owner: front::next_owner(),
            versions,
        }
    }

    fn version(&self, key: u64) -> &AtomicU64 {
        &self.versions[front::slot_of(key)]
    }

    /// Marks the copies of `key` outdated. Called after the entry changed, so
    /// that a thread which reads the new version also reads the new entry.
    fn changed(&self, key: u64) {
        self.version(key).fetch_add(1, Ordering::AcqRel);
    }

    /// Returns the answer cached for `e164`, unless at `now` it is past its
    /// freshness and its stale-if-error period.
    ///
    // NOTE: an answer past that period stays in memory until it is read
    // again or evicted for room. The cache is bounded by `cache.max_entries`
    // either way, and sweeping it on a timer would cost a pass over every entry.
    pub fn get(&self, e164: &str, now: Instant) -> Option<CachedAnswer> {
        let key = key(e164);
        let version = self.version(key).load(Ordering::Acquire);
        let read = front::read(&FRONT, self.owner, key, &key, |(held_version, cached)| {
            (*held_version == version).then(|| cached.clone())
        });
        let admit = match read {
            Read::Copy(cached) if cached.is_retained(now, &self.freshness) => return Some(cached),
            // Expired: the shared entry, read below, has the same age.
            Read::Copy(_) | Read::Skip => false,
            Read::Admit => true,
        };
        let cached = self.entries.get(&key)?;
        if !cached.is_retained(now, &self.freshness) {
            let removed = self
                .entries
                .remove_if(&key, |current| current.stored_at == cached.stored_at);
            if removed.is_some() {
                self.changed(key);
            }
            return None;
        }
        if admit {
            front::hold(&FRONT, key, key, (version, cached.unshared()));
        }
        Some(cached)
    }

    pub fn insert(&self, e164: &str, cached: CachedAnswer) {
        let key = key(e164);
        self.entries.insert(key, cached);
        self.changed(key);
    }

    /// Removes the answer for `e164`; returns whether there was one.
    pub fn remove(&self, e164: &str) -> bool {
        let key = key(e164);
        let removed = self.entries.remove(&key).is_some();
        self.changed(key);
        removed
    }

    pub fn clear(&self) {
        self.entries.clear();
        for version in self.versions.iter() {
            version.fetch_add(1, Ordering::AcqRel);
        }
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
                other.changed(key);
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

#[cfg(test)]
mod front_tests {
    use super::*;
    use crate::lookup::outcome::Badge;

    const NUMBER: &str = "+14155550123";

    fn cache() -> AnswerCache {
        AnswerCache::new(
            100,
            Freshness {
                found: Duration::from_secs(900),
                not_found: Duration::from_secs(120),
                stale_if_error: Duration::from_secs(0),
                refresh_after: None,
            },
        )
    }

    fn found(name: &str, stored_at: Instant) -> CachedAnswer {
        CachedAnswer {
            answer: Answer::Found(Badge::new(name, "https://crm/1", None, "crm", "1")),
            stored_at,
        }
    }

    fn name(cached: Option<CachedAnswer>) -> Option<String> {
        match cached?.answer {
            Answer::Found(badge) => Some(badge.contact_name().to_string()),
            Answer::NotFound => Some(String::new()),
        }
    }

    /// Reads `NUMBER` often enough for this thread to hold a copy.
    fn read_until_held(cache: &AnswerCache, now: Instant) {
        for _ in 0..3 {
            cache.get(NUMBER, now);
        }
    }

    /// Stores Ada's answer for `NUMBER` and reads it until this thread holds
    /// a copy.
    fn store_and_copy(cache: &AnswerCache, now: Instant) {
        cache.insert(NUMBER, found("Ada", now));
        read_until_held(cache, now);
    }

    #[test]
    fn held_copy_has_its_own_text() {
        let cache = cache();
        let now = Instant::now();
        cache.insert(NUMBER, found("Ada", now));
        let text_at = |cached: Option<CachedAnswer>| match cached.unwrap().answer {
            Answer::Found(badge) => badge.contact_name().as_ptr(),
            Answer::NotFound => panic!("the answer is a badge"),
        };
        let shared = text_at(cache.get(NUMBER, now));
        read_until_held(&cache, now);
        assert_ne!(text_at(cache.get(NUMBER, now)), shared);
    }

    #[test]
    fn replaced_answer_is_read_after_copy() {
        let cache = cache();
        let now = Instant::now();
        store_and_copy(&cache, now);
        cache.insert(NUMBER, found("Grace", now));
        assert_eq!(name(cache.get(NUMBER, now)).as_deref(), Some("Grace"));
    }

    #[test]
    fn removed_answer_is_gone_from_copy() {
        let cache = cache();
        let now = Instant::now();
        store_and_copy(&cache, now);
        assert!(cache.remove(NUMBER));
        assert_eq!(name(cache.get(NUMBER, now)), None);
    }

    #[test]
    fn cleared_answer_is_gone_from_copy() {
        let cache = cache();
        let now = Instant::now();
        store_and_copy(&cache, now);
        cache.clear();
        assert_eq!(name(cache.get(NUMBER, now)), None);
    }

    #[test]
    fn expired_copy_is_not_served() {
        let cache = cache();
        let now = Instant::now();
        store_and_copy(&cache, now);
        let later = now + Duration::from_secs(901);
        assert_eq!(name(cache.get(NUMBER, later)), None);
    }

    #[test]
    fn evicted_answer_is_gone_from_copy() {
        let cache = AnswerCache::new(4, cache().freshness);
        let now = Instant::now();
        store_and_copy(&cache, now);
        // Numbers of other front slots, so that only the eviction itself
        // can outdate the copy.
        let slot = front::slot_of(key(NUMBER));
        let others = (14_155_560_000u64..)
            .filter(|number| front::slot_of(*number) != slot)
            .take(2000);
        // Each is read as often as the number, so that S3-FIFO, which keeps
        // entries read again, has to evict the number too.
        for other in others {
            let other = format!("+{other}");
            cache.insert(&other, found("Other", now));
            for _ in 0..4 {
                cache.entries.get(&key(&other));
            }
        }
        assert!(cache.entries.peek(&key(NUMBER)).is_none());
        assert_eq!(name(cache.get(NUMBER, now)), None);
    }

    #[test]
    fn other_thread_sees_replacement() {
        let cache = Arc::new(cache());
        let now = Instant::now();
        store_and_copy(&cache, now);
        let writer = Arc::clone(&cache);
        std::thread::spawn(move || writer.insert(NUMBER, found("Grace", now)))
            .join()
            .expect("the writing thread panicked");
        assert_eq!(name(cache.get(NUMBER, now)).as_deref(), Some("Grace"));
    }
}
