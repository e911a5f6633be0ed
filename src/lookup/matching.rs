//! Re-checking what sources return against the caller's number, and choosing
//! one record when several match. Sources search loosely (HubSpot's search
//! is not exact, SOSL tokenises), so no candidate is trusted until one of its
//! stored numbers parses to the caller's E.164.

use badgegate_adapter::phone::{mask, parse_stored, spells_e164};
use badgegate_adapter::{Contact, PhoneNumber, Printable, Region};

use crate::config::MultipleMatches;

/// What became of one candidate, for the trace.
#[derive(Debug, Clone, serde::Serialize)]
pub struct Verdict {
    pub id: String,
    pub kept: bool,
    pub reason: String,
}

/// Splits `contacts` into those with a number equal to the caller's and a
/// verdict for every contact.
pub fn recheck(
    contacts: Vec<Contact>,
    caller: &PhoneNumber,
    region: Region,
) -> (Vec<Contact>, Vec<Verdict>) {
    let mut matched = Vec::new();
    let mut verdicts = Vec::new();
    for contact in contacts {
        let mut reasons = Vec::new();
        let mut found = false;
        for stored in &contact.phones {
            if spells_e164(stored, caller) {
                found = true;
                break;
            }
            match parse_stored(stored, region) {
                Ok(number) if number.same_number(caller) => {
                    found = true;
                    break;
                }
                Ok(number) => reasons.push(format!("{} is another number", number.masked())),
                Err(error) => {
                    tracing::debug!(contact = %Printable(&contact.id), number = %mask(stored), %error, "skipped a stored number that is not a phone number");
                    reasons.push(format!("{} {error}", mask(stored)));
                }
            }
        }
        let verdict = Verdict {
            id: contact.id.clone(),
            kept: found,
            reason: if found {
                format!("a stored number equals {}", caller.masked())
            } else if contact.phones.is_empty() {
                "has no phone number".to_string()
            } else {
                reasons.join("; ")
            },
        };
        if found {
            matched.push(contact);
        } else {
            tracing::debug!(contact = %Printable(&contact.id), reason = %verdict.reason, "discarded a candidate whose numbers differ from the caller's");
        }
        verdicts.push(verdict);
    }
    (matched, verdicts)
}

/// Picks one of several matching contacts, or none, by the configured policy.
pub fn choose(mut matched: Vec<Contact>, policy: MultipleMatches) -> Option<Contact> {
    if matched.len() <= 1 {
        return matched.pop();
    }
    match policy {
        MultipleMatches::None => None,
        MultipleMatches::First => Some(matched.swap_remove(0)),
        MultipleMatches::MostRecent => {
            // Contacts without a time sort after those with one; among equals
            // the earlier position in the source's order wins.
            let best = matched
                .iter()
                .enumerate()
                .max_by(|(left_index, left), (right_index, right)| {
                    left.updated_at
                        .cmp(&right.updated_at)
                        .then(right_index.cmp(left_index))
                })
                .map(|(index, _)| index)?;
            Some(matched.swap_remove(best))
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use badgegate_adapter::phone::parse_caller;
    use chrono::{DateTime, Utc};

    fn us() -> Region {
        "US".parse().unwrap()
    }

    fn contact(id: &str, phones: &[&str], updated: Option<&str>) -> Contact {
        Contact {
            id: id.into(),
            name: Some(format!("Contact {id}")),
            email: None,
            link: format!("https://crm.example.com/{id}"),
            phones: phones.iter().map(|p| p.to_string()).collect(),
            updated_at: updated
                .map(|t| DateTime::parse_from_rfc3339(t).unwrap().with_timezone(&Utc)),
        }
    }

    #[test]
    fn recheck_keeps_other_formats_of_the_number() {
        let caller = parse_caller("14155550123", us()).unwrap();
        let contacts = vec![
            contact("a", &["+1 (415) 555-0123"], None),
            contact("b", &["415.555.0123 "], None),
            contact("c", &["(415) 555-0124"], None),
            contact("d", &[], None),
            contact("e", &["n/a", "14155550123"], None),
        ];
        let (matched, verdicts) = recheck(contacts, &caller, us());
        let ids: Vec<&str> = matched.iter().map(|c| c.id.as_str()).collect();
        assert_eq!(ids, ["a", "b", "e"]);
        assert_eq!(verdicts.len(), 5);
        assert!(!verdicts[2].kept);
        assert!(
            !verdicts[2].reason.contains("4155550124"),
            "{}",
            verdicts[2].reason
        );
    }

    #[test]
    fn most_recent_wins_and_ties_keep_source_order() {
        let contacts = vec![
            contact("old", &[], Some("2025-01-01T00:00:00Z")),
            contact("new", &[], Some("2026-01-01T00:00:00Z")),
            contact("undated", &[], None),
        ];
        assert_eq!(
            choose(contacts, MultipleMatches::MostRecent).unwrap().id,
            "new"
        );
        let undated = vec![contact("x", &[], None), contact("y", &[], None)];
        assert_eq!(
            choose(undated, MultipleMatches::MostRecent).unwrap().id,
            "x"
        );
    }

    #[test]
    fn first_and_none_policies() {
        let two = || {
            vec![
                contact("x", &[], None),
                contact("y", &[], Some("2026-01-01T00:00:00Z")),
            ]
        };
        assert_eq!(choose(two(), MultipleMatches::First).unwrap().id, "x");
        assert!(choose(two(), MultipleMatches::None).is_none());
        let one = vec![contact("only", &[], None)];
        assert_eq!(choose(one, MultipleMatches::None).unwrap().id, "only");
    }
}
