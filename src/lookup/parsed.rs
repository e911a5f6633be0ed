//! Callers' number texts with what they parsed to.
//!
//! libphonenumber takes 13 to 26 µs per number, most of a cache hit's work,
//! and a caller who calls again sends the same text. So recent texts and what
//! they parsed to are kept in a cache that every worker thread shares. A text
//! that a thread read more than once is also kept in that thread's front (see
//! the `front` module). What a text parses to never changes for a given
//! region, so a front's copy needs no version.

use std::cell::RefCell;
use std::sync::Arc;

use badgegate_adapter::phone::{PhoneError, PhoneNumber, Region};

use super::front::{self, Front, Read};

/// Number texts whose parse is kept in the shared cache.
const SHARED_ENTRIES: usize = 4096;

type Parsed = Result<Arc<PhoneNumber>, PhoneError>;

pub(super) struct ParsedNumbers {
    region: Region,
    shared: quick_cache::sync::Cache<String, Parsed>,
    owner: u64,
}

thread_local! {
    static FRONT: RefCell<Front<String, Parsed>> = const { RefCell::new(Front::new()) };
}

impl ParsedNumbers {
    pub(super) fn new(region: Region) -> Self {
        ParsedNumbers {
            region,
            shared: quick_cache::sync::Cache::new(SHARED_ENTRIES),
            owner: front::next_owner(),
        }
    }

    pub(super) fn region(&self) -> Region {
        self.region
    }

    /// Parses `raw` in the region, or returns what it parsed to before.
    pub(super) fn parse(&self, raw: &str) -> Parsed {
        let hash = front::hash_text(raw.as_bytes());
        let admit = match front::read(&FRONT, self.owner, hash, raw, |parsed| Some(parsed.clone()))
        {
            Read::Copy(parsed) => return parsed,
            Read::Admit => true,
            Read::Skip => false,
        };
        let parsed = match self.shared.get(raw) {
            Some(parsed) => parsed,
            None => {
                let parsed = badgegate_adapter::phone::parse_caller(raw, self.region).map(Arc::new);
                self.shared.insert(raw.to_string(), parsed.clone());
                parsed
            }
        };
        if admit {
            // A copy of its own, so that this thread's clones and drops write
            // no reference count that another thread shares.
            let copy = match &parsed {
                Ok(number) => Ok(Arc::new(PhoneNumber::clone(number))),
                Err(error) => Err(error.clone()),
            };
            front::hold(&FRONT, hash, raw.to_string(), copy);
        }
        parsed
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn region(code: &str) -> Region {
        code.parse().expect("a known region code")
    }

    #[test]
    fn repeated_text_parses_the_same() {
        let numbers = ParsedNumbers::new(region("US"));
        let first = numbers.parse("(415) 555-0123").unwrap();
        for _ in 0..3 {
            let again = numbers.parse("(415) 555-0123").unwrap();
            assert_eq!(again.e164(), first.e164());
        }
        assert_eq!(first.e164(), "+14155550123");
    }

    #[test]
    fn held_copy_shares_no_count() {
        let numbers = ParsedNumbers::new(region("US"));
        let shared = numbers.parse("4155550123").unwrap();
        let _ = numbers.parse("4155550123");
        let copy = numbers.parse("4155550123").unwrap();
        assert!(!Arc::ptr_eq(&shared, &copy));
        assert_eq!(copy.e164(), shared.e164());
    }

    #[test]
    fn invalid_text_stays_invalid() {
        let numbers = ParsedNumbers::new(region("US"));
        for _ in 0..3 {
            assert!(numbers.parse("not a number").is_err());
        }
    }

    #[test]
    fn region_change_is_not_served_from_front() {
        let us = ParsedNumbers::new(region("US"));
        let gb = ParsedNumbers::new(region("GB"));
        for _ in 0..3 {
            us.parse("020 7946 0000").ok();
        }
        let in_gb = gb.parse("020 7946 0000").unwrap();
        assert_eq!(in_gb.e164(), "+442079460000");
    }
}
