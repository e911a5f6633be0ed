//! badgegate's stand-in for the `regex-cache` crate, patched into the
//! workspace for the `phonenumber` crate's metadata. It differs from the
//! published crate in five ways, each measured on badgegate's phone parsing
//! (`cargo bench --bench phone_parsing`):
//!
//! - Compiled patterns are looked up by a number given to each pattern text
//!   when it is built. The published crate looks them up by the pattern's
//!   text, hashed with SipHash on every match. The US fixed-line and mobile
//!   patterns have 655 characters each, so for a North American number the
//!   hashing cost more than the matching. Parsing `14155550123` takes 4.6 µs
//!   instead of 9.1 µs.
//! - At least [`MIN_CAPACITY`] compiled patterns are kept, which is more
//!   than the metadata has, so no pattern is compiled twice. `phonenumber`
//!   requests 100, but numbers from a few dozen countries use several hundred
//!   patterns, and the published crate then compiled patterns again on
//!   nearly every parse: 2.4 ms per number for a mix of 55 countries,
//!   against 7.5 µs here.
//! - A pattern text that the metadata repeats (about a third of them) is
//!   compiled once.
//! - Each thread matches with its own clone of a compiled pattern, kept
//!   after its first use, so a match takes no lock. The published crate
//!   locks the shared cache on every match, and the `regex` crate's search
//!   caches serve only the thread that used a pattern first without a lock.
//! - Patterns are compiled without Unicode classes, so `\d` is `[0-9]`.
//!   `phonenumber` matches them only against ASCII digits, because its parser
//!   rejects other digits, so matches are the same, and a compiled pattern
//!   takes far less memory.
//!
//! NOTE: keeping every pattern costs memory when callers come from many
//! countries. This was measured once, with a program that parsed every
//! example number of libphonenumber's metadata (1,144 numbers, 254
//! territories) three times on long-lived threads. The process grew from 7
//! MB after loading the metadata to 37 MB on one thread and 49 MB on two,
//! against 27 and 35 MB with the published crate. A parse took 6 µs, against
//! 480 and 940 µs.
//! Each thread that parses keeps its own clones and search caches of the
//! patterns it used, so memory grows with the number of threads that parse.
//! A clone shares the compiled pattern, so it adds the bookkeeping of one
//! more set of search caches, not a compiled program. After 160,000 signed
//! lookups of numbers from every country code, a gateway with two workers
//! held 176 MB, about 13 MB more than before the clones. A gateway called
//! from a few countries compiles a few hundred patterns.
//!
//! Only the part of the API that `phonenumber` uses is provided.

use std::borrow::Cow;
use std::cell::RefCell;
use std::collections::HashMap;
use std::fmt;
use std::hash::{BuildHasherDefault, Hasher};
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex, Weak};

use regex::{Captures, Match, Replacer};
pub use regex::{Error, Regex, RegexBuilder};

/// The fewest compiled patterns a cache keeps, whatever capacity it is
/// created with: more than the metadata's 3,815 patterns.
pub const MIN_CAPACITY: usize = 4096;

/// The source of each cache's id, which no other cache of the process has.
static NEXT_CACHE_ID: AtomicU64 = AtomicU64::new(0);

/// Compiled patterns by their number, at most `capacity` of them.
pub struct RegexCache {
    id: u64,
    /// Counts evicted patterns, so that threads drop their clones of them.
    evictions: Arc<AtomicU64>,
    capacity: usize,
    compiled: HashMap<u64, Compiled, BuildHasherDefault<NumberHasher>>,
    /// Counts lookups, so that each entry records when it was last used.
    clock: u64,
    /// The number of each pattern text and flag built so far, so that a
    /// pattern written twice in the metadata compiles once.
    numbers: HashMap<(String, bool), u64>,
}

struct Compiled {
    regex: Arc<Regex>,
    last_used: u64,
}

impl RegexCache {
    /// Creates a cache that keeps at most `capacity` compiled patterns, and
    /// at least [`MIN_CAPACITY`].
    pub fn new(capacity: usize) -> RegexCache {
        RegexCache {
            id: NEXT_CACHE_ID.fetch_add(1, Ordering::Relaxed),
            evictions: Arc::new(AtomicU64::new(0)),
            capacity: capacity.max(MIN_CAPACITY),
            compiled: HashMap::default(),
            clock: 0,
            numbers: HashMap::new(),
        }
    }

    /// Returns the number of the pattern `source` with the `x` flag set to
    /// `ignore_whitespace`, giving it the next one when it is new. Patterns
    /// with the same text and flag, and clones of a pattern, share a number,
    /// because they compile to the same regex.
    fn number_of(&mut self, source: &str, ignore_whitespace: bool) -> u64 {
        let next = self.numbers.len() as u64;
        *self
            .numbers
            .entry((source.to_owned(), ignore_whitespace))
            .or_insert(next)
    }

    /// Returns the compiled pattern `number`, compiling it with `compile`
    /// when it is not kept.
    fn get_or_compile(&mut self, number: u64, compile: impl FnOnce() -> Regex) -> Arc<Regex> {
        self.clock += 1;
        if let Some(entry) = self.compiled.get_mut(&number) {
            entry.last_used = self.clock;
            return Arc::clone(&entry.regex);
        }
        if self.compiled.len() >= self.capacity {
            // A scan of at most `capacity` entries, only when a pattern is
            // compiled, which costs far more.
            let oldest = self
                .compiled
                .iter()
                .min_by_key(|(_, entry)| entry.last_used)
                .map(|(number, _)| *number);
            if let Some(oldest) = oldest {
                self.compiled.remove(&oldest);
                self.evictions.fetch_add(1, Ordering::Release);
            }
        }
        let regex = Arc::new(compile());
        self.compiled.insert(
            number,
            Compiled {
                regex: Arc::clone(&regex),
                last_used: self.clock,
            },
        );
        regex
    }

    /// Returns how many compiled patterns are kept.
    pub fn len(&self) -> usize {
        self.compiled.len()
    }

    /// Returns whether no compiled pattern is kept.
    pub fn is_empty(&self) -> bool {
        self.compiled.is_empty()
    }
}

impl fmt::Debug for RegexCache {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("RegexCache")
            .field("capacity", &self.capacity)
            .field("len", &self.compiled.len())
            .finish()
    }
}

/// Hashes a pattern's number as itself: the numbers are distinct and
/// assigned in order, so they need no mixing.
#[derive(Default)]
struct NumberHasher(u64);

impl Hasher for NumberHasher {
    fn finish(&self) -> u64 {
        self.0
    }

    fn write(&mut self, bytes: &[u8]) {
        for byte in bytes {
            self.0 = (self.0 << 8) | u64::from(*byte);
        }
    }

    fn write_u64(&mut self, number: u64) {
        self.0 = number;
    }
}

/// A pattern compiled on first use and kept in a shared [`RegexCache`].
#[derive(Clone)]
pub struct CachedRegex {
    number: u64,
    /// The id of the cache that gave `number`.
    cache_id: u64,
    /// The cache's eviction count.
    evictions: Arc<AtomicU64>,
    builder: CachedRegexBuilder,
}

thread_local! {
    /// This thread's clones of the compiled patterns it used, by cache.
    static THREAD_COPIES: RefCell<Vec<ThreadCopies>> = const { RefCell::new(Vec::new()) };
}

/// One thread's clones of the patterns of one cache. A clone shares the
/// compiled pattern and has search caches of its own, so a match on this
/// thread takes no lock.
///
/// NOTE: a match through a clone does not count as a use in the shared
/// cache, so the cache evicts the pattern that threads fetched least
/// recently, which may be one they still match often. Eviction needs more
/// patterns than [`MIN_CAPACITY`], more than libphonenumber's metadata has.
struct ThreadCopies {
    cache_id: u64,
    /// The cache's eviction count, gone when the cache and its patterns are.
    evictions: Weak<AtomicU64>,
    /// The eviction count when the clones were taken. After an eviction the
    /// clones are dropped, so that they do not keep evicted patterns alive.
    evictions_seen: u64,
    /// Clones by pattern number.
    regexes: Vec<Option<Regex>>,
}

impl CachedRegex {
    /// Creates a pattern after checking its syntax.
    pub fn new(cache: Arc<Mutex<RegexCache>>, source: &str) -> Result<CachedRegex, Error> {
        CachedRegexBuilder::new(cache, source).build()
    }

    /// Returns the compiled pattern from the shared cache, compiling it when
    /// the cache does not keep it.
    fn regex(&self) -> Arc<Regex> {
        let builder = &self.builder;
        let mut cache = builder
            .cache
            .lock()
            .unwrap_or_else(|poisoned| poisoned.into_inner());
        cache.get_or_compile(self.number, || builder.compile())
    }

    /// Calls `search` with this thread's clone of the compiled pattern,
    /// taking the clone from the shared cache on the thread's first use.
    fn with_regex<T>(&self, search: impl FnOnce(&Regex) -> T) -> T {
        let mut search = Some(search);
        let copied = THREAD_COPIES.try_with(|copies| {
            // Already borrowed only if a replacer matches a pattern itself.
            let mut copies = copies.try_borrow_mut().ok()?;
            let evictions = self.evictions.load(Ordering::Acquire);
            let copies = self.thread_copies(&mut copies, evictions);
            let slot = usize::try_from(self.number).ok()?;
            if copies.regexes.len() <= slot {
                copies.regexes.resize(slot + 1, None);
            }
            let regex = copies.regexes[slot].get_or_insert_with(|| (*self.regex()).clone());
            search.take().map(|search| search(regex))
        });
        match (copied, search) {
            (Ok(Some(found)), _) => found,
            // The thread is exiting, or its clones are in use.
            (_, Some(search)) => search(&self.regex()),
            (_, None) => unreachable!("a search that ran returned its result"),
        }
    }

    /// Returns this thread's clones of the patterns of this pattern's cache,
    /// emptied when the cache evicted a pattern since they were taken.
    fn thread_copies<'c>(
        &self,
        copies: &'c mut Vec<ThreadCopies>,
        evictions: u64,
    ) -> &'c mut ThreadCopies {
        let index = match copies
            .iter()
            .position(|copy| copy.cache_id == self.cache_id)
        {
            Some(index) => index,
            None => {
                copies.retain(|copy| copy.evictions.strong_count() > 0);
                copies.push(ThreadCopies {
                    cache_id: self.cache_id,
                    evictions: Arc::downgrade(&self.evictions),
                    evictions_seen: evictions,
                    regexes: Vec::new(),
                });
                copies.len() - 1
            }
        };
        let copy = &mut copies[index];
        if copy.evictions_seen != evictions {
            copy.regexes.clear();
            copy.evictions_seen = evictions;
        }
        copy
    }

    /// See [`Regex::is_match`].
    pub fn is_match(&self, text: &str) -> bool {
        self.with_regex(|regex| regex.is_match(text))
    }

    /// See [`Regex::find`].
    pub fn find<'t>(&self, text: &'t str) -> Option<Match<'t>> {
        self.with_regex(|regex| regex.find(text))
    }

    /// See [`Regex::captures`].
    pub fn captures<'t>(&self, text: &'t str) -> Option<Captures<'t>> {
        self.with_regex(|regex| regex.captures(text))
    }

    /// See [`Regex::replace`].
    pub fn replace<'t, R: Replacer>(&self, text: &'t str, replacer: R) -> Cow<'t, str> {
        self.with_regex(|regex| regex.replace(text, replacer))
    }

    /// See [`Regex::replace_all`].
    pub fn replace_all<'t, R: Replacer>(&self, text: &'t str, replacer: R) -> Cow<'t, str> {
        self.with_regex(|regex| regex.replace_all(text, replacer))
    }

    /// See [`Regex::shortest_match`].
    pub fn shortest_match(&self, text: &str) -> Option<usize> {
        self.with_regex(|regex| regex.shortest_match(text))
    }

    /// See [`Regex::captures_len`].
    pub fn captures_len(&self) -> usize {
        self.with_regex(|regex| regex.captures_len())
    }

    /// Returns the pattern as written, without the builder's flags.
    pub fn as_str(&self) -> &str {
        &self.builder.source
    }
}

impl fmt::Debug for CachedRegex {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        fmt::Debug::fmt(self.as_str(), f)
    }
}

impl fmt::Display for CachedRegex {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// A builder for a [`CachedRegex`] with flags.
#[derive(Clone, Debug)]
pub struct CachedRegexBuilder {
    cache: Arc<Mutex<RegexCache>>,
    source: String,
    ignore_whitespace: bool,
}

impl CachedRegexBuilder {
    /// Creates a builder for the pattern `source`.
    pub fn new(cache: Arc<Mutex<RegexCache>>, source: &str) -> CachedRegexBuilder {
        CachedRegexBuilder {
            cache,
            source: source.to_owned(),
            ignore_whitespace: false,
        }
    }

    /// Sets the `x` flag: whitespace and `#` comments in the pattern are ignored.
    pub fn ignore_whitespace(&mut self, enabled: bool) -> &mut CachedRegexBuilder {
        self.ignore_whitespace = enabled;
        self
    }

    /// Compiles the pattern with ASCII classes, or with Unicode classes when
    /// it could match text that is not ASCII, such as `.` or `[^0-9]`.
    fn compile(&self) -> Regex {
        let compile = |unicode| {
            RegexBuilder::new(&self.source)
                .ignore_whitespace(self.ignore_whitespace)
                .unicode(unicode)
                .build()
        };
        compile(false)
            .or_else(|_| compile(true))
            .expect("the syntax was checked when the pattern was built")
    }

    /// Checks the pattern's syntax and builds the pattern, which compiles on
    /// first use.
    pub fn build(&self) -> Result<CachedRegex, Error> {
        regex_syntax::ParserBuilder::new()
            .ignore_whitespace(self.ignore_whitespace)
            .build()
            .parse(&self.source)
            .map_err(|error| Error::Syntax(error.to_string()))?;
        let mut cache = self
            .cache
            .lock()
            .unwrap_or_else(|poisoned| poisoned.into_inner());
        let number = cache.number_of(&self.source, self.ignore_whitespace);
        Ok(CachedRegex {
            number,
            cache_id: cache.id,
            evictions: Arc::clone(&cache.evictions),
            builder: self.clone(),
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Builds a cache of exactly `capacity` patterns, below the floor `new` sets.
    fn cache(capacity: usize) -> Arc<Mutex<RegexCache>> {
        let mut cache = RegexCache::new(capacity);
        cache.capacity = capacity;
        Arc::new(Mutex::new(cache))
    }

    #[test]
    fn pattern_matches_with_its_flags() {
        let shared = cache(10);
        let spaced = CachedRegexBuilder::new(Arc::clone(&shared), "4 1 5 \\d{3}")
            .ignore_whitespace(true)
            .build()
            .unwrap();
        assert!(spaced.is_match("415555"));
        assert_eq!(spaced.find("x415555").map(|m| m.start()), Some(1));
        assert_eq!(spaced.replace("415555", "a"), "a");
        let plain = CachedRegex::new(shared, "4 1").unwrap();
        assert!(!plain.is_match("41"));
        assert!(plain.is_match("4 1"));
    }

    #[test]
    fn digit_class_is_ascii() {
        let digits = CachedRegex::new(cache(10), "^\\d+$").unwrap();
        assert!(digits.is_match("4155550123"));
        assert!(!digits.is_match("٤١٥"));
    }

    #[test]
    fn pattern_beyond_ascii_keeps_unicode() {
        let any = CachedRegex::new(cache(10), "^.$").unwrap();
        assert!(any.is_match("é"));
    }

    #[test]
    fn invalid_syntax_fails_to_build() {
        let error = CachedRegex::new(cache(10), "(\\d").unwrap_err();
        assert!(matches!(error, Error::Syntax(_)), "{error:?}");
    }

    #[test]
    fn cache_keeps_at_most_its_capacity() {
        let shared = cache(2);
        let patterns: Vec<CachedRegex> = ["1", "2", "3"]
            .iter()
            .map(|digit| CachedRegex::new(Arc::clone(&shared), digit).unwrap())
            .collect();
        for (pattern, digit) in patterns.iter().zip(["1", "2", "3"]) {
            assert!(pattern.is_match(digit));
        }
        assert_eq!(shared.lock().unwrap().len(), 2);
        // The evicted pattern compiles again and still matches.
        assert!(patterns[0].is_match("1"));
        assert!(!patterns[0].is_match("2"));
        assert_eq!(shared.lock().unwrap().len(), 2);
    }

    /// Matches `pattern` on a new thread, which fetches it from the shared
    /// cache as every thread's first use does.
    fn is_match_on_new_thread(pattern: &CachedRegex, text: &str) -> bool {
        std::thread::scope(|scope| scope.spawn(|| pattern.is_match(text)).join().unwrap())
    }

    /// Counts this thread's clones of the patterns of `pattern`'s cache.
    fn thread_clones(pattern: &CachedRegex) -> Option<usize> {
        THREAD_COPIES.with(|copies| {
            copies
                .borrow()
                .iter()
                .find(|copy| copy.cache_id == pattern.cache_id)
                .map(|copy| copy.regexes.iter().flatten().count())
        })
    }

    #[test]
    fn least_recently_used_is_evicted() {
        let shared = cache(2);
        let first = CachedRegex::new(Arc::clone(&shared), "a").unwrap();
        let second = CachedRegex::new(Arc::clone(&shared), "b").unwrap();
        let third = CachedRegex::new(Arc::clone(&shared), "c").unwrap();
        is_match_on_new_thread(&first, "a");
        is_match_on_new_thread(&second, "b");
        is_match_on_new_thread(&first, "a");
        is_match_on_new_thread(&third, "c");
        let entries = shared.lock().unwrap();
        assert!(entries.compiled.contains_key(&first.number));
        assert!(!entries.compiled.contains_key(&second.number));
        assert!(entries.compiled.contains_key(&third.number));
    }

    #[test]
    fn same_pattern_compiles_once() {
        let shared = cache(10);
        let first = CachedRegex::new(Arc::clone(&shared), "\\d{3}").unwrap();
        let again = CachedRegex::new(Arc::clone(&shared), "\\d{3}").unwrap();
        let spaced = CachedRegexBuilder::new(Arc::clone(&shared), "\\d{3}")
            .ignore_whitespace(true)
            .build()
            .unwrap();
        assert_eq!(first.number, again.number);
        assert_ne!(first.number, spaced.number);
        assert!(first.is_match("415"));
        assert!(again.is_match("415"));
        assert_eq!(shared.lock().unwrap().len(), 1);
    }

    #[test]
    fn second_match_on_a_thread_skips_the_cache() {
        let shared = cache(10);
        let pattern = CachedRegex::new(Arc::clone(&shared), "\\d+").unwrap();
        assert!(pattern.is_match("12"));
        let fetches = shared.lock().unwrap().clock;
        assert!(pattern.is_match("34"));
        assert_eq!(pattern.find("x56").map(|found| found.start()), Some(1));
        assert_eq!(shared.lock().unwrap().clock, fetches);
        assert_eq!(thread_clones(&pattern), Some(1));
    }

    #[test]
    fn eviction_drops_thread_clones() {
        let shared = cache(1);
        let first = CachedRegex::new(Arc::clone(&shared), "a").unwrap();
        let second = CachedRegex::new(Arc::clone(&shared), "b").unwrap();
        assert!(first.is_match("a"));
        assert!(second.is_match("b"));
        assert_eq!(shared.lock().unwrap().evictions.load(Ordering::Acquire), 1);
        // The next match finds a new eviction count and keeps only its own pattern.
        assert!(second.is_match("b"));
        assert_eq!(thread_clones(&second), Some(1));
        assert!(first.is_match("a"));
        assert!(!first.is_match("b"));
    }

    #[test]
    fn clones_of_a_dropped_cache_are_dropped() {
        let dropped = CachedRegex::new(cache(10), "a").unwrap();
        assert!(dropped.is_match("a"));
        let dropped_id = dropped.cache_id;
        drop(dropped);
        let kept = CachedRegex::new(cache(10), "b").unwrap();
        assert!(kept.is_match("b"));
        let ids: Vec<u64> =
            THREAD_COPIES.with(|copies| copies.borrow().iter().map(|copy| copy.cache_id).collect());
        assert_eq!(ids, vec![kept.cache_id]);
        assert_ne!(dropped_id, kept.cache_id);
    }

    #[test]
    fn capacity_has_a_floor() {
        assert_eq!(RegexCache::new(100).capacity, MIN_CAPACITY);
        assert_eq!(RegexCache::new(5000).capacity, 5000);
    }

    #[test]
    fn clones_share_one_compiled_pattern() {
        let shared = cache(10);
        let pattern = CachedRegex::new(Arc::clone(&shared), "\\d+").unwrap();
        let clone = pattern.clone();
        assert!(pattern.is_match("12"));
        assert!(clone.is_match("34"));
        assert_eq!(shared.lock().unwrap().len(), 1);
    }
}
