//! Per-thread copies of the cache entries a worker thread reads again and
//! again.
//!
//! Every worker thread reads the shared caches. A read there writes to memory
//! that all cores share: the shard's lock and the entry's reference count. When
//! several threads serve the same caller, each of those writes moves a cache
//! line between cores. A front keeps a thread's own copy of an entry it read
//! twice, so a third read writes only to memory of that thread.
//!
//! A front belongs to one shared cache at a time, named by its owner number.
//! It drops every copy when another cache, such as the one a reload built,
//! starts using it.

use std::borrow::Borrow;
use std::cell::RefCell;
use std::sync::atomic::{AtomicU64, Ordering};
use std::thread::LocalKey;

/// Slots per front. Each slot contains one entry, and a key can sit only in
/// the slot its hash picks, [`slot_of`].
pub(super) const SLOTS: usize = 64;

/// Hands out owner numbers, one per shared cache.
static NEXT_OWNER: AtomicU64 = AtomicU64::new(1);

pub(super) fn next_owner() -> u64 {
    NEXT_OWNER.fetch_add(1, Ordering::Relaxed)
}

/// The state of a key in a front.
enum Probe<'a, V> {
    /// The thread's copy.
    Held(&'a V),
    /// Read from the shared cache before: a copy is worth keeping now.
    SeenBefore,
    /// Not read here lately.
    New,
}

enum Slot<K, V> {
    Empty,
    /// Hash of the key last read through this slot, without a copy.
    Seen(u64),
    Held {
        hash: u64,
        key: K,
        value: V,
    },
}

pub(super) struct Front<K, V> {
    owner: u64,
    slots: Vec<Slot<K, V>>,
}

impl<K, V> Front<K, V> {
    pub(super) const fn new() -> Self {
        Front {
            owner: 0,
            slots: Vec::new(),
        }
    }

    /// Looks `key` up for the shared cache `owner`. A key that is not held is
    /// marked as seen, so that its next probe returns [`Probe::SeenBefore`].
    fn probe<Q>(&mut self, owner: u64, hash: u64, key: &Q) -> Probe<'_, V>
    where
        K: Borrow<Q>,
        Q: PartialEq + ?Sized,
    {
        if self.owner != owner || self.slots.is_empty() {
            self.owner = owner;
            self.slots.clear();
            self.slots.resize_with(SLOTS, || Slot::Empty);
        }
        let index = slot_of(hash);
        let (held, seen) = match &self.slots[index] {
            Slot::Held {
                hash: held_hash,
                key: held,
                ..
            } => (
                *held_hash == hash && <K as Borrow<Q>>::borrow(held) == key,
                false,
            ),
            Slot::Seen(seen) => (false, *seen == hash),
            Slot::Empty => (false, false),
        };
        if seen {
            return Probe::SeenBefore;
        }
        if !held {
            self.slots[index] = Slot::Seen(hash);
            return Probe::New;
        }
        match &self.slots[index] {
            Slot::Held { value, .. } => Probe::Held(value),
            Slot::Seen(_) | Slot::Empty => unreachable!("the slot was just matched as held"),
        }
    }

    /// Keeps `value` for `key`, in place of whatever its slot contained. Call
    /// it only right after a probe for the same owner.
    fn hold(&mut self, hash: u64, key: K, value: V) {
        if let Some(slot) = self.slots.get_mut(slot_of(hash)) {
            *slot = Slot::Held { hash, key, value };
        }
    }
}

/// A thread's front, one per kind of shared cache.
pub(super) type Local<K, V> = LocalKey<RefCell<Front<K, V>>>;

/// The result of reading a thread's front for a key.
pub(super) enum Read<T> {
    /// The thread's copy, as the reader's check returned it.
    Copy(T),
    /// No usable copy, but the key was read before: keep a copy of what the
    /// shared cache returns, with [`hold`].
    Admit,
    /// The key was not read here lately, or the thread is ending and its
    /// front is gone.
    Skip,
}

/// Reads this thread's front in `local` for `key` of the shared cache
/// `owner`. `check` returns what to use of a held copy, or `None` when the
/// copy is outdated.
pub(super) fn read<K, V, Q, T>(
    local: &'static Local<K, V>,
    owner: u64,
    hash: u64,
    key: &Q,
    check: impl FnOnce(&V) -> Option<T>,
) -> Read<T>
where
    K: Borrow<Q>,
    Q: PartialEq + ?Sized,
{
    local
        .try_with(|front| match front.borrow_mut().probe(owner, hash, key) {
            Probe::Held(value) => check(value).map_or(Read::Admit, Read::Copy),
            Probe::SeenBefore => Read::Admit,
            Probe::New => Read::Skip,
        })
        .unwrap_or(Read::Skip)
}

/// Keeps `value` for `key` in this thread's front in `local`, after a
/// [`read`] that returned [`Read::Admit`].
pub(super) fn hold<K, V>(local: &'static Local<K, V>, hash: u64, key: K, value: V) {
    // A thread that is ending keeps nothing.
    let _ = local.try_with(|front| front.borrow_mut().hold(hash, key, value));
}

/// Picks the slot, below [`SLOTS`], that a key with `hash` sits in.
pub(super) fn slot_of(hash: u64) -> usize {
    // The top bits of a multiplicative hash spread keys that differ only in
    // their last digits, such as neighbouring phone numbers.
    (hash.wrapping_mul(0x9E37_79B9_7F4A_7C15) >> (64 - SLOTS.trailing_zeros())) as usize
}

/// FNV-1a over `bytes`: enough to spread the short texts of phone numbers.
/// A collision costs only a read of the shared cache, because a slot is
/// matched by its whole key.
pub(super) fn hash_text(bytes: &[u8]) -> u64 {
    bytes.iter().fold(0xcbf2_9ce4_8422_2325, |hash, byte| {
        (hash ^ u64::from(*byte)).wrapping_mul(0x0000_0100_0000_01b3)
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn held<V: Copy>(probe: Probe<'_, V>) -> Option<V> {
        match probe {
            Probe::Held(value) => Some(*value),
            _ => None,
        }
    }

    #[test]
    fn copy_kept_only_after_second_read() {
        let mut front = Front::<u64, u32>::new();
        assert!(matches!(front.probe(1, 7, &7), Probe::New));
        assert!(matches!(front.probe(1, 7, &7), Probe::SeenBefore));
        front.hold(7, 7, 70);
        assert_eq!(held(front.probe(1, 7, &7)), Some(70));
    }

    #[test]
    fn another_owner_finds_nothing() {
        let mut front = Front::<u64, u32>::new();
        front.probe(1, 7, &7);
        front.hold(7, 7, 70);
        assert!(matches!(front.probe(2, 7, &7), Probe::New));
        assert!(matches!(front.probe(1, 7, &7), Probe::New));
    }

    #[test]
    fn equal_hash_with_other_key_misses() {
        let mut front = Front::<String, u32>::new();
        front.probe(1, 5, "a");
        front.hold(5, "a".to_string(), 1);
        assert_eq!(held(front.probe(1, 5, "a")), Some(1));
        assert_eq!(held(front.probe(1, 5, "b")), None);
    }

    #[test]
    fn neighbouring_numbers_use_different_slots() {
        let slots: std::collections::HashSet<usize> =
            (14_155_550_100u64..14_155_550_164).map(slot_of).collect();
        assert!(slots.len() > SLOTS / 2, "{} slots used", slots.len());
    }
}
