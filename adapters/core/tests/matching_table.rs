//! The table of stored numbers, regions and caller numbers that must match,
//! or must not. Every format an integrator has met in a CRM belongs here.

use badgegate_adapter::phone::{parse_caller, stored_matches};
use badgegate_adapter::Region;

struct Case {
    stored: &'static str,
    region: &'static str,
    caller: &'static str,
    matches: bool,
}

const fn case(
    stored: &'static str,
    region: &'static str,
    caller: &'static str,
    matches: bool,
) -> Case {
    Case {
        stored,
        region,
        caller,
        matches,
    }
}

const CASES: &[Case] = &[
    // United States: punctuation, spaces, trunk 1, extensions, labels.
    case("+1 (415) 555-0123", "US", "14155550123", true),
    case("415.555.0123   ", "US", "14155550123", true),
    case("(415) 555-0123", "US", "+14155550123", true),
    case("4155550123", "US", "4155550123", true),
    case("1-415-555-0123", "US", "14155550123", true),
    case("+14155550123", "US", "+1 415 555 0123", true),
    case("+1 415 555 0123 ext. 12", "US", "14155550123", true),
    case("+1 415 555 0123 x12", "US", "14155550123", true),
    case("+1 415 555 0123 #12", "US", "14155550123", true),
    case("415-555-0123 extension 7", "US", "14155550123", true),
    case("tel:+1-415-555-0123", "US", "14155550123", true),
    case("+1\u{a0}415\u{a0}555\u{a0}0123", "US", "14155550123", true),
    case(
        "+1\u{2009}415\u{2009}555\u{2009}0123\u{3000}",
        "US",
        "14155550123",
        true,
    ),
    case("＋１ ４１５ ５５５ ０１２３", "US", "14155550123", true),
    case("+١ ٤١٥ ٥٥٥ ٠١٢٣", "US", "14155550123", true),
    case("1-800-FLOWERS", "US", "18003569377", true),
    case("0014155550123", "US", "14155550123", true),
    // Near misses and fragments never match.
    case("(415) 555-0124", "US", "14155550123", false),
    case("555-0123", "US", "14155550123", false),
    case("5550123", "US", "14155550123", false),
    case("0123", "US", "14155550123", false),
    case("n/a", "US", "14155550123", false),
    case("4155550123", "US", "+44 20 7946 0958", false),
    case("+1 415 555 0123", "US", "+1 415 555 0132", false),
    // United Kingdom: trunk 0, (0) inside international numbers, 00 and 011.
    case("020 7946 0958", "GB", "442079460958", true),
    case("020 7946 0958", "GB", "02079460958", true),
    case("+44 (0)20 7946 0958", "GB", "442079460958", true),
    case("+44 (0) 20 7946 0958", "US", "442079460958", true),
    case("0044 20 7946 0958", "GB", "+442079460958", true),
    case("011 44 20 7946 0958", "US", "442079460958", true),
    case("07700 900123", "GB", "447700900123", true),
    case("07700 900123", "US", "447700900123", false),
    case("+44 20 7946 0959", "GB", "442079460958", false),
    // Germany.
    case("+49 30 1234567", "DE", "49301234567", true),
    case("030 1234567", "DE", "49301234567", true),
    case("030/1234567", "DE", "+49 30 1234567", true),
    case("+49 (0)30 1234567", "US", "49301234567", true),
    case("0049 30 1234567", "US", "49301234567", true),
    case("+49 151 23456789", "DE", "4915123456789", true),
    case("4930901820", "US", "+49 30 901820", true),
    case("030 1234568", "DE", "49301234567", false),
    // France.
    case("+33 1 23 45 67 89", "FR", "33123456789", true),
    case("01 23 45 67 89", "FR", "33123456789", true),
    case("01.23.45.67.89", "FR", "+33 1 23 45 67 89", true),
    case("01 23 45 67 88", "FR", "33123456789", false),
    // India, with Devanagari digits too.
    case("+91 98765 43210", "IN", "919876543210", true),
    case("098765 43210", "IN", "919876543210", true),
    case("+९१ ९८७६५ ४३२१०", "IN", "919876543210", true),
    // Brazil.
    case("+55 11 91234-5678", "BR", "5511912345678", true),
    case("(11) 91234-5678", "BR", "5511912345678", true),
    // Australia.
    case("+61 2 5550 1234", "AU", "61255501234", true),
    case("(02) 5550 1234", "AU", "61255501234", true),
    case("(02) 5550 1235", "AU", "61255501234", false),
];

#[test]
fn matching_table() {
    assert!(CASES.len() >= 40);
    let mut failures = Vec::new();
    for case in CASES {
        let region: Region = case.region.parse().unwrap();
        let caller = parse_caller(case.caller, region)
            .unwrap_or_else(|error| panic!("caller `{}` in {}: {error}", case.caller, case.region));
        let matched = stored_matches(case.stored, &caller, region).unwrap_or(false);
        if matched != case.matches {
            failures.push(format!(
                "stored `{}` region {} caller `{}` (read as {}): expected {}, got {}",
                case.stored,
                case.region,
                case.caller,
                caller.e164(),
                case.matches,
                matched
            ));
        }
    }
    assert!(
        failures.is_empty(),
        "{} of {} cases failed:\n{}",
        failures.len(),
        CASES.len(),
        failures.join("\n")
    );
}
