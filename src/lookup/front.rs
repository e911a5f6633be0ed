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
//! It forgets everything when another cache, such as the one a reload built,
//! starts using it.

use std::borrow::Borrow;
use std::sync::atomic::{AtomicU64, Ordering};

/// Slots per front. Each slot holds one entry; a key can sit only in the slot
/// its hash picks, [`slot_of`].
pub(super) const SLOTS: usize = 64;

/// Hands out owner numbers, one per shared cache.
static NEXT_OWNER: AtomicU64 = AtomicU64::new(1);

pub(super) fn next_owner() -> u64 {
    NEXT_OWNER.fetch_add(1, Ordering::Relaxed)
}

/// What a front knows about a key.
pub(super) enum Probe<'a, V> {
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
    /// marked as seen, so that its next probe answers [`Probe::SeenBefore`].
    pub(super) fn probe<Q>(&mut self, owner: u64, hash: u64, key: &Q) -> Probe<'_, V>
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

    /// Keeps `value` for `key`, in place of whatever its slot held. Call it
    /// only right after a probe for the same owner.
    pub(super) fn hold(&mut self, hash: u64, key: K, value: V) {
        if let Some(slot) = self.slots.get_mut(slot_of(hash)) {
            *slot = Slot::Held { hash, key, value };
        }
    }
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
