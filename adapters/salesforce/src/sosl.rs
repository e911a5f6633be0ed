//! The SOSL search for a caller's number.

use badgegate_adapter::PhoneNumber;

/// Characters that SOSL reserves inside `FIND {...}`, each of which must be
/// preceded by a backslash to be searched for literally.
const RESERVED: [char; 19] = [
    '&', '|', '!', '(', ')', '{', '}', '[', ']', '^', '"', '~', '*', '?', ':', '\\', '\'', '+', '-',
];

/// Maximum number of records returned per object. The most recently
/// modified records come first, because the gateway prefers them among
/// several matches.
pub(crate) const RECORD_LIMIT: u32 = 20;

/// Fields returned for Contact and Lead.
const PERSON_FIELDS: &str = "Id, Name, Email, Phone, MobilePhone, LastModifiedDate";

/// Fields returned for any other object. They exist on Account and on
/// custom objects with a `Phone` field. `Email` and `MobilePhone` are left
/// out, because few objects besides Contact and Lead have them.
const OTHER_FIELDS: &str = "Id, Name, Phone, LastModifiedDate";

/// Returns the terms the search looks for, without duplicates: the caller's
/// national digits (`4155550123`), the digits with the country code
/// (`14155550123`), and the digits of the national form when it has a trunk
/// prefix (`02079460958` for the UK's `020 7946 0958`).
///
/// SOSL splits a stored phone value into tokens and matches formatted
/// values such as `(415) 555-0123` by their digits, which is why digits are
/// searched rather than a formatted form. Salesforce's own search example
/// uses the national digits.
// NOTE: Salesforce does not document whether a value stored with its
// country code (`+1 415 555 0123`) or trunk prefix matches the national
// digits alone, so those spellings are searched as well.
pub(crate) fn search_terms(caller: &PhoneNumber) -> Vec<String> {
    let trunk_digits: String = caller
        .national_formatted()
        .chars()
        .filter(char::is_ascii_digit)
        .collect();
    let mut terms: Vec<String> = Vec::with_capacity(3);
    for term in [
        caller.national_digits().to_string(),
        caller.e164_digits().to_string(),
        trunk_digits,
    ] {
        if !term.is_empty() && !terms.contains(&term) {
            terms.push(term);
        }
    }
    terms
}

/// Builds the SOSL statement that finds `terms` in the phone fields of
/// `objects`, such as
/// `FIND {4155550123 OR 14155550123} IN PHONE FIELDS RETURNING Contact(...), Lead(...)`.
///
/// Contact and Lead return [`PERSON_FIELDS`], other objects
/// [`OTHER_FIELDS`]. Leads that were converted into a contact are left out,
/// because their contact is found instead. Each object returns its
/// [`RECORD_LIMIT`] most recently modified records.
pub(crate) fn build_search(terms: &[String], objects: &[String]) -> String {
    let terms = terms
        .iter()
        .map(|term| escape_search_term(term))
        .collect::<Vec<_>>()
        .join(" OR ");
    let returning = objects
        .iter()
        .map(|object| returning_clause(object))
        .collect::<Vec<_>>()
        .join(", ");
    format!("FIND {{{terms}}} IN PHONE FIELDS RETURNING {returning}")
}

/// Builds one object's part of the `RETURNING` list. `object` must be an
/// API name, which the config validation ensures.
fn returning_clause(object: &str) -> String {
    let order = format!("ORDER BY LastModifiedDate DESC LIMIT {RECORD_LIMIT}");
    if object.eq_ignore_ascii_case("Lead") {
        format!("{object}({PERSON_FIELDS} WHERE IsConverted = false {order})")
    } else if object.eq_ignore_ascii_case("Contact") {
        format!("{object}({PERSON_FIELDS} {order})")
    } else {
        format!("{object}({OTHER_FIELDS} {order})")
    }
}

/// Escapes every SOSL reserved character of `term` with a backslash, so the
/// term is searched for literally inside `FIND {...}`.
pub(crate) fn escape_search_term(term: &str) -> String {
    let mut escaped = String::with_capacity(term.len() * 2);
    for c in term.chars() {
        if RESERVED.contains(&c) {
            escaped.push('\\');
        }
        escaped.push(c);
    }
    escaped
}

#[cfg(test)]
mod tests {
    use super::*;
    use badgegate_adapter::phone::parse_caller;

    fn strings(texts: &[&str]) -> Vec<String> {
        texts.iter().map(|text| text.to_string()).collect()
    }

    #[test]
    fn escape_leaves_digits_alone() {
        assert_eq!(escape_search_term("4155550123"), "4155550123");
    }

    #[test]
    fn escape_plus_minus_and_parentheses() {
        assert_eq!(
            escape_search_term("+1 (415) 555-0123"),
            r"\+1 \(415\) 555\-0123"
        );
    }

    #[test]
    fn escape_every_reserved_character() {
        for c in RESERVED {
            assert_eq!(escape_search_term(&c.to_string()), format!("\\{c}"), "{c}");
        }
        assert_eq!(escape_search_term(r#"a&b|c"d'e\f"#), r#"a\&b\|c\"d\'e\\f"#);
    }

    #[test]
    fn escape_closing_brace_cannot_end_find() {
        let escaped = escape_search_term("1} IN ALL FIELDS RETURNING User(Id");
        assert_eq!(escaped, r"1\} IN ALL FIELDS RETURNING User\(Id");
    }

    #[test]
    fn search_terms_of_us_number() {
        let caller = parse_caller("14155550123", "US".parse().unwrap()).unwrap();
        assert_eq!(search_terms(&caller), vec!["4155550123", "14155550123"]);
    }

    #[test]
    fn search_terms_with_trunk_prefix() {
        let caller = parse_caller("+442079460958", "US".parse().unwrap()).unwrap();
        assert_eq!(
            search_terms(&caller),
            vec!["2079460958", "442079460958", "02079460958"]
        );
    }

    #[test]
    fn search_for_contact_and_lead() {
        let terms = strings(&["4155550123", "14155550123"]);
        let query = build_search(&terms, &strings(&["Contact", "Lead"]));
        assert_eq!(
            query,
            "FIND {4155550123 OR 14155550123} IN PHONE FIELDS RETURNING \
             Contact(Id, Name, Email, Phone, MobilePhone, LastModifiedDate ORDER BY LastModifiedDate DESC LIMIT 20), \
             Lead(Id, Name, Email, Phone, MobilePhone, LastModifiedDate WHERE IsConverted = false ORDER BY LastModifiedDate DESC LIMIT 20)"
        );
    }

    #[test]
    fn search_escapes_its_terms() {
        let query = build_search(&strings(&["+1 (415) 555-0123"]), &strings(&["Contact"]));
        assert!(
            query.starts_with(r"FIND {\+1 \(415\) 555\-0123} IN PHONE FIELDS"),
            "{query}"
        );
    }

    #[test]
    fn search_other_object_fields() {
        let query = build_search(&strings(&["4155550123"]), &strings(&["Account"]));
        assert!(
            query.ends_with(
                "RETURNING Account(Id, Name, Phone, LastModifiedDate ORDER BY LastModifiedDate DESC LIMIT 20)"
            ),
            "{query}"
        );
    }
}
