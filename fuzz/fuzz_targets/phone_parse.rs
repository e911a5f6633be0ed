//! Arbitrary bytes, read as text, through the phone parsing that every
//! caller's number and every stored number goes through. Besides not
//! panicking, a parsed number must parse back to itself from its E.164
//! form and match itself as a stored number, because the cache key and the
//! re-check of every CRM record rely on both.

#![no_main]

use badgegate_adapter::phone::{self, parse_caller, parse_stored, stored_matches, Region};
use libfuzzer_sys::fuzz_target;

/// Regions a number without a country code is read in: North America,
/// with trunk prefix 0, with variable lengths, and with 0 trunk and 00 exit.
const REGIONS: [&str; 5] = ["US", "GB", "DE", "IN", "BR"];

fuzz_target!(|data: &[u8]| {
    let text = String::from_utf8_lossy(data);
    let _ = phone::mask(&text);
    let _ = phone::clean(&text);
    for code in REGIONS {
        let region: Region = code
            .parse()
            .expect("REGIONS contains only valid region codes");
        for parsed in [parse_caller(&text, region), parse_stored(&text, region)] {
            let Ok(number) = parsed else {
                continue;
            };
            let _ = number.search_forms();
            let _ = number.masked();
            let again = parse_caller(number.e164(), region).unwrap_or_else(|error| {
                panic!(
                    "the E.164 form {} of {text:?} does not parse: {error}",
                    number.e164()
                )
            });
            assert_eq!(again.e164(), number.e164(), "input {text:?}, region {code}");
            assert_eq!(
                stored_matches(number.e164(), &number, region),
                Ok(true),
                "input {text:?}, region {code}"
            );
        }
    }
});
