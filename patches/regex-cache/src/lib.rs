//! badgegate's stand-in for the `regex-cache` crate, patched into the
//! workspace for the `phonenumber` crate's metadata. It differs from the
//! published crate in four ways, each measured on badgegate's phone parsing
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
//! Each thread that parses keeps its own search caches of the patterns it
//! used, so memory grows with the number of threads that parse. A gateway
//! called from a few countries compiles a few hundred patterns.
//!
//! Only the part of the API that `phonenumber` uses is provided.

use std::borrow::Cow;
use std::collections::HashMap;
use std::fmt;
use std::hash::{BuildHasherDefault, Hasher};
use std::sync::{Arc, Mutex};

use regex::{Captures, Match, Replacer};
pub use regex::{Error, Regex, RegexBuilder};

/// The fewest compiled patterns a cache keeps, whatever capacity it is
/// created with: more than the metadata's 3,815 patterns.
pub const MIN_CAPACITY: usize = 4096;

/// Compiled patterns by their number, at most `capacity` of them.
pub struct RegexCache {
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
    builder: CachedRegexBuilder,
}

impl CachedRegex {
    /// Creates a pattern after checking its syntax.
    pub fn new(cache: Arc<Mutex<RegexCache>>, source: &str) -> Result<CachedRegex, Error> {
        CachedRegexBuilder::new(cache, source).build()
    }

    fn regex(&self) -> Arc<Regex> {
        let builder = &self.builder;
        let mut cache = builder
            .cache
            .lock()
            .unwrap_or_else(|poisoned| poisoned.into_inner());
        cache.get_or_compile(self.number, || builder.compile())
    }

    /// See [`Regex::is_match`].
    pub fn is_match(&self, text: &str) -> bool {
        self.regex().is_match(text)
    }

    /// See [`Regex::find`].
    pub fn find<'t>(&self, text: &'t str) -> Option<Match<'t>> {
        self.regex().find(text)
    }

    /// See [`Regex::captures`].
    pub fn captures<'t>(&self, text: &'t str) -> Option<Captures<'t>> {
        self.regex().captures(text)
    }

    /// See [`Regex::replace`].
    pub fn replace<'t, R: Replacer>(&self, text: &'t str, replacer: R) -> Cow<'t, str> {
        self.regex().replace(text, replacer)
    }

    /// See [`Regex::replace_all`].
    pub fn replace_all<'t, R: Replacer>(&self, text: &'t str, replacer: R) -> Cow<'t, str> {
        self.regex().replace_all(text, replacer)
    }

    /// See [`Regex::shortest_match`].
    pub fn shortest_match(&self, text: &str) -> Option<usize> {
        self.regex().shortest_match(text)
    }

    /// See [`Regex::captures_len`].
    pub fn captures_len(&self) -> usize {
        self.regex().captures_len()
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
        let number = self
            .cache
            .lock()
            .unwrap_or_else(|poisoned| poisoned.into_inner())
            .number_of(&self.source, self.ignore_whitespace);
        Ok(CachedRegex {
            number,
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

    #[test]
    fn least_recently_used_is_evicted() {
        let shared = cache(2);
        let first = CachedRegex::new(Arc::clone(&shared), "a").unwrap();
        let second = CachedRegex::new(Arc::clone(&shared), "b").unwrap();
        let third = CachedRegex::new(Arc::clone(&shared), "c").unwrap();
        first.is_match("a");
        second.is_match("b");
        first.is_match("a");
        third.is_match("c");
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
