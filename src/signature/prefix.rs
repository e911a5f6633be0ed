//! Each thread's digest states for the URLs it verified signatures for
//! last, so that a request hashes only its own `request_id` and timestamp.
//!
//! The states are kept per thread rather than shared, because a shared map
//! would need a lock or a reference count that both worker threads write on
//! every request.

use std::cell::RefCell;
use std::sync::atomic::{AtomicU64, Ordering};

use super::scheme::{SigningKey, UrlPrefix};

/// The fewest URLs each thread keeps states for, and the most when the
/// URL is rebuilt from each request. JustCall posts to the one URL entered
/// in it, which reaches a gateway behind two host names in two spellings. A
/// client that makes up host names only replaces entries. A verifier with
/// more configured public URLs keeps one entry for each of them.
const URLS_PER_THREAD: usize = 4;

/// An identifier of one verifier's set of secrets. Each verifier gets its
/// own, so the states of the secrets before a reload are never used after it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(super) struct KeySet(u64);

impl KeySet {
    pub(super) fn new() -> Self {
        static NEXT: AtomicU64 = AtomicU64::new(0);
        KeySet(NEXT.fetch_add(1, Ordering::Relaxed))
    }
}

struct Entry {
    keys: KeySet,
    url: String,
    /// One state per secret, in the order of the verifier's secrets.
    prefixes: Vec<UrlPrefix>,
}

thread_local! {
    /// The most recently used first.
    static ENTRIES: RefCell<Vec<Entry>> = const { RefCell::new(Vec::new()) };
}

/// Calls `check` with one state per secret in `keys` for `url`, computing
/// them unless this thread has them for the same key set and URL.
/// `urls` is how many URLs the verifier tries per request.
///
/// Computing a new entry drops the entries of other key sets, so the states
/// of secrets that a reload replaced leave a thread at the first request it
/// verifies with the new secrets, rather than staying until pushed out.
pub(super) fn with_prefixes<T>(
    set: KeySet,
    keys: &[SigningKey],
    url: &str,
    urls: usize,
    check: impl FnOnce(&[UrlPrefix]) -> T,
) -> T {
    let compute = || keys.iter().map(|key| key.prefix(url)).collect::<Vec<_>>();
    ENTRIES.with(|entries| {
        // Verification runs no code that verifies again, so the borrow is
        // free; should that change, the states are computed anew.
        let Ok(mut entries) = entries.try_borrow_mut() else {
            return check(&compute());
        };
        match entries
            .iter()
            .position(|entry| entry.keys == set && entry.url == url)
        {
            Some(found) => entries[..=found].rotate_right(1),
            None => {
                entries.retain(|entry| entry.keys == set);
                entries.truncate(URLS_PER_THREAD.max(urls) - 1);
                let entry = Entry {
                    keys: set,
                    url: url.to_string(),
                    prefixes: compute(),
                };
                entries.insert(0, entry);
            }
        }
        check(&entries[0].prefixes)
    })
}

#[cfg(test)]
mod tests {
    use badgegate_adapter::Secret;

    use super::super::scheme::{decode_signature, sign, Scheme};
    use super::*;

    const REQUEST_ID: &str = "01HSGZRD0PHRCCHM46JRCRYMC4";
    const TIMESTAMP: &str = "2026-03-21 17:08:22";

    fn scheme_of(set: KeySet, keys: &[SigningKey], url: &str, signature: &str) -> Option<Scheme> {
        let provided = decode_signature(signature).unwrap();
        with_prefixes(set, keys, url, 1, |prefixes| {
            prefixes
                .iter()
                .find_map(|prefix| prefix.matching_scheme(&provided, REQUEST_ID, TIMESTAMP, false))
        })
    }

    #[test]
    fn cached_states_match_their_url_only() {
        let keys = [
            SigningKey::new(&Secret::new("first-secret")),
            SigningKey::new(&Secret::new("second-secret")),
        ];
        let set = KeySet::new();
        // More URLs than a thread keeps, twice over, so entries are found,
        // moved to the front and replaced.
        let urls: Vec<String> = (0..URLS_PER_THREAD * 2 + 1)
            .map(|n| format!("https://badges{n}.example.com/justcall/contact-badge?x=1 2"))
            .collect();
        for _ in 0..2 {
            for (n, url) in urls.iter().enumerate() {
                let secret = ["first-secret", "second-secret"][n % 2];
                let signature = sign(secret, url, REQUEST_ID, TIMESTAMP);
                assert_eq!(
                    scheme_of(set, &keys, url, &signature),
                    Some(Scheme::Hmac),
                    "{url}"
                );
                let other_url = &urls[(n + 1) % urls.len()];
                assert_eq!(scheme_of(set, &keys, other_url, &signature), None, "{url}");
            }
        }
    }

    #[test]
    fn states_of_replaced_secrets_are_not_used() {
        let url = "http://127.0.0.1:8080/justcall/contact-badge";
        let old = [SigningKey::new(&Secret::new("old-secret"))];
        let new = [SigningKey::new(&Secret::new("new-secret"))];
        let (old_set, new_set) = (KeySet::new(), KeySet::new());
        let old_signature = sign("old-secret", url, REQUEST_ID, TIMESTAMP);
        let new_signature = sign("new-secret", url, REQUEST_ID, TIMESTAMP);

        assert_eq!(
            scheme_of(old_set, &old, url, &old_signature),
            Some(Scheme::Hmac)
        );
        // The same URL on the same thread, right after: the new secret's
        // state is computed, not the old one's reused.
        assert_eq!(scheme_of(new_set, &new, url, &old_signature), None);
        assert_eq!(
            scheme_of(new_set, &new, url, &new_signature),
            Some(Scheme::Hmac)
        );
        assert_eq!(scheme_of(old_set, &old, url, &new_signature), None);
    }

    /// Returns the URLs this thread has states for, most recent first, each
    /// with its key set.
    fn held() -> Vec<(String, KeySet)> {
        ENTRIES.with_borrow(|entries| {
            entries
                .iter()
                .map(|entry| (entry.url.clone(), entry.keys))
                .collect()
        })
    }

    #[test]
    fn every_configured_url_is_kept() {
        let keys = [SigningKey::new(&Secret::new("a-secret"))];
        let set = KeySet::new();
        let urls: Vec<String> = (0..URLS_PER_THREAD + 2)
            .map(|n| format!("https://badges{n}.example.com/justcall/contact-badge"))
            .collect();
        for _ in 0..2 {
            for url in &urls {
                with_prefixes(set, &keys, url, urls.len(), |_| ());
            }
        }
        let mut kept: Vec<String> = held().into_iter().map(|(url, _)| url).collect();
        kept.sort();
        assert_eq!(kept, urls);

        // A URL rebuilt from each request keeps the fewest.
        for n in 0..URLS_PER_THREAD + 2 {
            with_prefixes(
                set,
                &keys,
                &format!("http://host{n}.example/badge"),
                1,
                |_| (),
            );
        }
        assert_eq!(held().len(), URLS_PER_THREAD);
    }

    #[test]
    fn new_key_set_drops_the_old_states() {
        let url = "http://127.0.0.1:8080/justcall/contact-badge";
        let old = [SigningKey::new(&Secret::new("old-secret"))];
        let new = [SigningKey::new(&Secret::new("new-secret"))];
        let (old_set, new_set) = (KeySet::new(), KeySet::new());
        with_prefixes(old_set, &old, url, 1, |_| ());
        with_prefixes(old_set, &old, "http://other.example/badge", 1, |_| ());
        assert_eq!(held().len(), 2);

        with_prefixes(new_set, &new, url, 1, |_| ());
        assert_eq!(held(), vec![(url.to_string(), new_set)]);
    }
}
