//! Properties of number parsing that must hold for any input.

use badgegate_adapter::phone::{parse_caller, parse_stored, stored_matches};
use badgegate_adapter::Region;
use proptest::prelude::*;

const REGIONS: [&str; 7] = ["US", "GB", "DE", "FR", "IN", "BR", "AU"];

fn region() -> impl Strategy<Value = Region> {
    prop::sample::select(REGIONS.to_vec()).prop_map(|code| code.parse().unwrap())
}

/// Text shaped like a phone field: a country code, digits and the
/// punctuation people type between them.
fn phone_like() -> impl Strategy<Value = String> {
    (
        prop::sample::select(vec!["+1", "+44", "+49", "+33", "+91", "+55", "+61", "", "00", "0"]),
        prop::collection::vec(
            prop_oneof![
                4 => "[0-9]".prop_map(|digit| digit.to_string()),
                1 => prop::sample::select(vec![" ", "-", ".", "(", ")", "\u{a0}", "/"]).prop_map(str::to_string),
            ],
            4..16,
        ),
    )
        .prop_map(|(prefix, parts)| format!("{prefix}{}", parts.concat()))
}

proptest! {
    #![proptest_config(ProptestConfig {
        cases: 500,
        failure_persistence: None,
        ..ProptestConfig::default()
    })]

    #[test]
    fn parsing_never_panics(text in any::<String>(), region in region()) {
        let _ = parse_caller(&text, region);
        let _ = parse_stored(&text, region);
    }

    #[test]
    fn parsing_phone_like_text_never_panics(text in phone_like(), region in region()) {
        let _ = parse_caller(&text, region);
        let _ = parse_stored(&text, region);
    }

    #[test]
    fn parsing_is_idempotent(text in phone_like(), region in region()) {
        if let Ok(number) = parse_caller(&text, region) {
            let again = parse_caller(number.e164(), region).expect("an E.164 form parses again");
            prop_assert_eq!(again.e164(), number.e164());
            let stored = parse_stored(number.e164(), region).expect("an E.164 form parses as stored");
            prop_assert_eq!(stored.e164(), number.e164());
        }
    }

    #[test]
    fn written_forms_parse_to_the_same_number(text in phone_like(), region in region()) {
        if let Ok(number) = parse_caller(&text, region) {
            for form in [number.international_formatted(), number.e164()] {
                let again = parse_stored(form, region).expect("a formatted form parses");
                prop_assert_eq!(again.e164(), number.e164(), "form {}", form);
            }
        }
    }

    #[test]
    fn matching_is_symmetric(first in phone_like(), second in phone_like(), region in region()) {
        if let (Ok(a), Ok(b)) = (parse_caller(&first, region), parse_caller(&second, region)) {
            let a_matches_b = stored_matches(a.e164(), &b, region).unwrap();
            let b_matches_a = stored_matches(b.e164(), &a, region).unwrap();
            prop_assert_eq!(a_matches_b, b_matches_a);
        }
    }
}
