//! The verifier's memory of accepted signatures, which catches a captured
//! request sent again with another number.

use std::collections::{HashMap, VecDeque};
use std::hash::{BuildHasher, BuildHasherDefault, Hash, Hasher, RandomState};
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Mutex, MutexGuard};
use std::time::Duration;

use chrono::{DateTime, Utc};

/// Most signatures remembered at once to detect reuse with another number.
const MAX_REMEMBERED_SIGNATURES: usize = 100_000;

/// Signatures accepted recently, each with the number it arrived with, in
/// the order they arrived: the oldest is forgotten first, when its time is
/// up or when the memory is full.
///
/// To keep the memory small, a signature is remembered by its first 16
/// bytes and the number by a keyed 64-bit hash. Both come from values an
/// attacker cannot choose without the secret (the signature verified, and
/// the hash key is random per process), so a false "same" or "different"
/// has odds of about 2^-64. One remembered signature takes a 24-byte table
/// entry with its control byte and a 24-byte queue entry, plus the free room
/// of both.
///
/// NOTE: the memory is per process. Another replica, or this one after a
/// restart, accepts a captured signature with another number until its
/// timestamp leaves the window. Sharing it through Redis would add a round
/// trip to every request, cache hits included.
pub(super) struct SeenSignatures {
    state: Mutex<SeenState>,
    /// How long a signature is remembered, in milliseconds.
    keep_for_ms: AtomicU64,
    numbers: RandomState,
}

#[derive(Default)]
struct SeenState {
    /// The number hash each remembered signature arrived with.
    numbers: HashMap<Prefix, u64, BuildHasherDefault<PrefixHasher>>,
    /// Each remembered signature with its arrival in milliseconds since the
    /// Unix epoch, oldest first.
    arrivals: VecDeque<(Prefix, u64)>,
}

fn millis(duration: Duration) -> u64 {
    u64::try_from(duration.as_millis()).unwrap_or(u64::MAX)
}

/// The first 16 bytes of a signature, as two words, so that a table entry
/// needs no 16-byte alignment.
#[derive(Clone, Copy, PartialEq, Eq)]
struct Prefix([u64; 2]);

impl Hash for Prefix {
    fn hash<H: Hasher>(&self, state: &mut H) {
        state.write_u64(self.0[0]);
    }
}

/// Uses a prefix's first word as its hash. Only verified signatures are
/// remembered, and they come from a digest keyed with the secret, so their
/// words are uniform and no client can choose them to crowd one bucket.
#[derive(Default)]
struct PrefixHasher(u64);

impl Hasher for PrefixHasher {
    fn write(&mut self, bytes: &[u8]) {
        // A `Prefix` calls `write_u64` only; other input is folded in.
        for byte in bytes {
            self.0 = self.0.rotate_left(8) ^ u64::from(*byte);
        }
    }

    fn write_u64(&mut self, word: u64) {
        self.0 = word;
    }

    fn finish(&self) -> u64 {
        self.0
    }
}

impl SeenSignatures {
    pub(super) fn new(keep_for: Duration) -> Self {
        SeenSignatures {
            state: Mutex::new(SeenState::default()),
            keep_for_ms: AtomicU64::new(millis(keep_for)),
            numbers: RandomState::new(),
        }
    }

    /// Raises the keep time to `keep_for` if it is shorter; never lowers it.
    pub(super) fn keep_at_least(&self, keep_for: Duration) {
        self.keep_for_ms
            .fetch_max(millis(keep_for), Ordering::Relaxed);
    }

    /// Records `signature` with `number`, arriving `now`, unless it is
    /// remembered already; returns whether it is new or came with the same
    /// number before.
    ///
    /// Arrivals are wall-clock times, as the timestamp window is. A clock set
    /// back keeps signatures longer, which rejects more, never fewer.
    pub(super) fn first_use_or_same_number(
        &self,
        signature: [u8; 32],
        number: &str,
        now: DateTime<Utc>,
    ) -> bool {
        let signature = Prefix::of(&signature);
        let number = self.numbers.hash_one(number);
        let mut state = self.lock_unexpired(now);
        match state.numbers.get(&signature) {
            Some(first) => *first == number,
            None => {
                if state.arrivals.len() >= MAX_REMEMBERED_SIGNATURES {
                    state.forget_oldest();
                }
                state.numbers.insert(signature, number);
                state.arrivals.push_back((signature, wall_millis(now)));
                true
            }
        }
    }

    /// Checks whether `signature` is remembered at `now`, without recording it.
    pub(super) fn remembers(&self, signature: [u8; 32], now: DateTime<Utc>) -> bool {
        self.lock_unexpired(now)
            .numbers
            .contains_key(&Prefix::of(&signature))
    }

    /// Locks the memory after forgetting the signatures older than the keep
    /// time at `now`.
    fn lock_unexpired(&self, now: DateTime<Utc>) -> MutexGuard<'_, SeenState> {
        let now = wall_millis(now);
        let keep_for = self.keep_for_ms.load(Ordering::Relaxed);
        let mut state = self
            .state
            .lock()
            .expect("signature memory lock is never poisoned");
        while state
            .arrivals
            .front()
            .is_some_and(|(_, arrived)| now.saturating_sub(*arrived) > keep_for)
        {
            state.forget_oldest();
        }
        state
    }
}

impl SeenState {
    fn forget_oldest(&mut self) {
        if let Some((oldest, _)) = self.arrivals.pop_front() {
            self.numbers.remove(&oldest);
        }
    }
}

impl Prefix {
    /// Returns the first 16 bytes of `signature` as two words.
    fn of(signature: &[u8; 32]) -> Prefix {
        let word = |at: usize| {
            let mut bytes = [0u8; 8];
            bytes.copy_from_slice(&signature[at..at + 8]);
            u64::from_le_bytes(bytes)
        };
        Prefix([word(0), word(8)])
    }
}

/// Returns `now` in milliseconds since the Unix epoch, or 0 before it.
fn wall_millis(now: DateTime<Utc>) -> u64 {
    u64::try_from(now.timestamp_millis()).unwrap_or(0)
}

#[cfg(test)]
mod tests {
    use super::*;

    const ADA: &str = "14155550123";
    const GRACE: &str = "14155550199";

    /// Returns the wall-clock time `seconds` after a fixed start.
    fn at(seconds: i64) -> DateTime<Utc> {
        DateTime::from_timestamp(1_780_000_000 + seconds, 0).expect("the time is in range")
    }

    #[test]
    fn remembers_without_recording() {
        let seen = SeenSignatures::new(Duration::from_secs(600));
        assert!(!seen.remembers([7; 32], at(0)));
        assert!(!seen.remembers([7; 32], at(1)));
        assert!(seen.first_use_or_same_number([7; 32], ADA, at(2)));
        assert!(seen.remembers([7; 32], at(3)));
        assert!(!seen.remembers([7; 32], at(603)));
    }

    #[test]
    fn seen_signature_rejects_another_number() {
        let seen = SeenSignatures::new(Duration::from_secs(600));
        assert!(seen.first_use_or_same_number([7; 32], ADA, at(0)));
        assert!(seen.first_use_or_same_number([7; 32], ADA, at(1)));
        assert!(!seen.first_use_or_same_number([7; 32], GRACE, at(2)));
        assert!(seen.first_use_or_same_number([8; 32], GRACE, at(3)));
    }

    #[test]
    fn seen_signature_expires_after_keep_time() {
        let seen = SeenSignatures::new(Duration::from_secs(600));
        assert!(seen.first_use_or_same_number([7; 32], ADA, at(0)));
        assert!(!seen.first_use_or_same_number([7; 32], GRACE, at(600)));
        assert!(seen.first_use_or_same_number([7; 32], GRACE, at(601)));
    }

    #[test]
    fn keep_time_only_grows() {
        let seen = SeenSignatures::new(Duration::from_secs(600));
        seen.keep_at_least(Duration::from_secs(1200));
        seen.keep_at_least(Duration::from_secs(4));
        assert!(seen.first_use_or_same_number([7; 32], ADA, at(0)));
        assert!(!seen.first_use_or_same_number([7; 32], GRACE, at(1200)));
        assert!(seen.first_use_or_same_number([7; 32], GRACE, at(1201)));
    }

    #[test]
    fn clock_set_back_keeps_signatures() {
        let seen = SeenSignatures::new(Duration::from_secs(600));
        assert!(seen.first_use_or_same_number([7; 32], ADA, at(0)));
        assert!(!seen.first_use_or_same_number([7; 32], GRACE, at(-3600)));
        assert!(!seen.first_use_or_same_number([7; 32], GRACE, at(599)));
    }

    #[test]
    fn seen_signatures_drop_oldest_when_full() {
        let seen = SeenSignatures::new(Duration::from_secs(600));
        let signature = |index: usize| {
            let mut bytes = [0u8; 32];
            bytes[..8].copy_from_slice(&(index as u64).to_le_bytes());
            bytes
        };
        for index in 0..=MAX_REMEMBERED_SIGNATURES {
            assert!(seen.first_use_or_same_number(signature(index), ADA, at(0)));
        }
        // The first signature made room for the last one; the second is still held.
        assert!(seen.first_use_or_same_number(signature(0), GRACE, at(1)));
        assert!(!seen.first_use_or_same_number(signature(2), GRACE, at(1)));
    }

    #[test]
    fn prefixes_differing_in_second_word() {
        let seen = SeenSignatures::new(Duration::from_secs(600));
        let mut other = [7; 32];
        other[12] = 0;
        assert!(seen.first_use_or_same_number([7; 32], ADA, at(0)));
        assert!(seen.first_use_or_same_number(other, GRACE, at(1)));
        assert!(!seen.first_use_or_same_number(other, ADA, at(2)));
    }

    #[test]
    fn table_and_queue_entries_take_24_bytes() {
        // The table and the queue both hold a prefix with one word.
        assert_eq!(std::mem::size_of::<(Prefix, u64)>(), 24);
    }
}
