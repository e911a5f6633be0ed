//! The records of a SOSL search response and how they become contacts.

use badgegate_adapter::phone::stored_matches;
use badgegate_adapter::{Contact, PhoneNumber, Region};
use chrono::{DateTime, Utc};
use serde::Deserialize;

use crate::config::is_identifier;

/// The search response: `{"searchRecords": [...]}`.
#[derive(Debug, Deserialize)]
pub(crate) struct SearchResponse {
    #[serde(rename = "searchRecords")]
    pub search_records: Vec<SearchRecord>,
}

/// One record of a search response. Salesforce sends `null` for an empty
/// field and leaves out fields the object's `RETURNING` part did not list.
#[derive(Debug, Deserialize)]
#[serde(rename_all = "PascalCase")]
pub(crate) struct SearchRecord {
    #[serde(rename = "attributes")]
    pub attributes: Attributes,
    pub id: String,
    #[serde(default)]
    name: Option<String>,
    #[serde(default)]
    email: Option<String>,
    #[serde(default)]
    phone: Option<String>,
    #[serde(default)]
    mobile_phone: Option<String>,
    /// Such as `2025-01-15T08:30:00.000+0000`.
    #[serde(default)]
    last_modified_date: Option<String>,
}

#[derive(Debug, Deserialize)]
pub(crate) struct Attributes {
    /// The object's API name, such as `Contact`.
    #[serde(rename = "type")]
    pub object: String,
}

impl SearchRecord {
    /// Returns whether the id and object name are safe to put in a link's
    /// path. Salesforce ids are 15 or 18 letters and digits, and object names
    /// are API names.
    pub fn has_valid_id(&self) -> bool {
        !self.id.is_empty()
            && self.id.chars().all(|c| c.is_ascii_alphanumeric())
            && is_identifier(&self.attributes.object)
    }

    /// Returns the phone numbers that are not blank, exactly as stored.
    fn phones(&self) -> impl Iterator<Item = &String> {
        [&self.phone, &self.mobile_phone]
            .into_iter()
            .flatten()
            .filter(|number| !number.trim().is_empty())
    }

    /// Returns whether one of the record's numbers is the caller's.
    fn matches(&self, caller: &PhoneNumber, region: Region) -> bool {
        self.phones()
            .any(|stored| stored_matches(stored, caller, region).unwrap_or(false))
    }

    /// Parses `LastModifiedDate`. Salesforce writes the offset without a
    /// colon (`+0000`), which RFC 3339 does not allow, so both forms are read.
    /// Returns `None` when it is missing or unreadable.
    pub fn parse_last_modified(&self) -> Option<DateTime<Utc>> {
        let text = self.last_modified_date.as_deref()?.trim();
        DateTime::parse_from_str(text, "%Y-%m-%dT%H:%M:%S%.f%z")
            .or_else(|_| DateTime::parse_from_rfc3339(text))
            .ok()
            .map(|time| time.with_timezone(&Utc))
    }

    /// Converts the record into a contact whose link opens it in Lightning
    /// Experience under `lightning_url`. The phone numbers stay exactly as
    /// stored, because the gateway re-parses them.
    pub fn into_contact(self, lightning_url: &str, updated_at: Option<DateTime<Utc>>) -> Contact {
        let link = format!(
            "{lightning_url}/lightning/r/{}/{}/view",
            self.attributes.object, self.id
        );
        let phones = self.phones().cloned().collect();
        Contact {
            id: self.id,
            name: non_blank(self.name),
            email: non_blank(self.email),
            link,
            phones,
            updated_at,
        }
    }
}

fn non_blank(text: Option<String>) -> Option<String> {
    text.map(|text| text.trim().to_string())
        .filter(|text| !text.is_empty())
}

/// Applies the rule that the object listed first in `objects` wins: returns
/// the records of the first object with a record whose number is the
/// caller's, or every record when none is.
///
/// The gateway picks among several matching records by the most recent
/// update, so without this a Lead edited yesterday would beat the Contact it
/// duplicates. Records of an object not in `objects` are only returned when
/// no object has a match. The object name is compared case-insensitively,
/// because Salesforce returns it as the API name spells it.
pub(crate) fn prefer_first_object(
    records: Vec<SearchRecord>,
    objects: &[String],
    caller: &PhoneNumber,
    region: Region,
) -> Vec<SearchRecord> {
    let winner = objects.iter().find(|object| {
        records.iter().any(|record| {
            record.attributes.object.eq_ignore_ascii_case(object) && record.matches(caller, region)
        })
    });
    match winner {
        Some(object) => records
            .into_iter()
            .filter(|record| record.attributes.object.eq_ignore_ascii_case(object))
            .collect(),
        None => records,
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use badgegate_adapter::phone::parse_caller;
    use serde_json::json;

    fn us() -> Region {
        "US".parse().unwrap()
    }

    fn caller() -> PhoneNumber {
        parse_caller("14155550123", us()).unwrap()
    }

    fn record(object: &str, id: &str, phone: Option<&str>) -> SearchRecord {
        serde_json::from_value(json!({
            "attributes": {"type": object, "url": format!("/services/data/v62.0/sobjects/{object}/{id}")},
            "Id": id,
            "Name": "Ada Lovelace",
            "Email": null,
            "Phone": phone,
            "MobilePhone": null,
            "LastModifiedDate": "2025-01-15T08:30:00.000+0000",
        }))
        .unwrap()
    }

    fn ids(records: &[SearchRecord]) -> Vec<&str> {
        records.iter().map(|record| record.id.as_str()).collect()
    }

    fn objects(names: &[&str]) -> Vec<String> {
        names.iter().map(|name| name.to_string()).collect()
    }

    #[test]
    fn last_modified_without_colon_in_offset() {
        let time = record("Contact", "003A", None)
            .parse_last_modified()
            .unwrap();
        assert_eq!(time.to_rfc3339(), "2025-01-15T08:30:00+00:00");
    }

    #[test]
    fn last_modified_rfc3339_and_invalid() {
        let mut record = record("Contact", "003A", None);
        record.last_modified_date = Some("2025-01-15T08:30:00Z".to_string());
        assert!(record.parse_last_modified().is_some());
        record.last_modified_date = Some("yesterday".to_string());
        assert_eq!(record.parse_last_modified(), None);
        record.last_modified_date = None;
        assert_eq!(record.parse_last_modified(), None);
    }

    #[test]
    fn contact_from_record() {
        let record: SearchRecord = serde_json::from_value(json!({
            "attributes": {"type": "Lead"},
            "Id": "00Q5e00000AbCdEFGH",
            "Name": " Grace Hopper ",
            "Email": "  ",
            "Phone": "(415) 555-0123",
            "MobilePhone": " ",
        }))
        .unwrap();
        let contact = record.into_contact("https://acme.lightning.force.com", None);
        assert_eq!(contact.id, "00Q5e00000AbCdEFGH");
        assert_eq!(contact.name.as_deref(), Some("Grace Hopper"));
        assert_eq!(contact.email, None);
        assert_eq!(contact.phones, vec!["(415) 555-0123".to_string()]);
        assert_eq!(
            contact.link,
            "https://acme.lightning.force.com/lightning/r/Lead/00Q5e00000AbCdEFGH/view"
        );
    }

    #[test]
    fn record_with_other_object_fields_only() {
        let record: SearchRecord = serde_json::from_value(json!({
            "attributes": {"type": "Account"},
            "Id": "001A",
            "Name": "Acme",
            "Phone": "4155550123",
        }))
        .unwrap();
        let contact = record.into_contact("https://x", None);
        assert_eq!(contact.email, None);
        assert_eq!(contact.phones.len(), 1);
    }

    #[test]
    fn id_must_be_alphanumeric() {
        assert!(record("Contact", "003A", None).has_valid_id());
        assert!(!record("Contact", "../003A", None).has_valid_id());
        assert!(!record("Contact", "", None).has_valid_id());
        assert!(!record("Contact/x", "003A", None).has_valid_id());
    }

    #[test]
    fn first_listed_object_with_match_wins() {
        let records = vec![
            record("Lead", "00QA", Some("415.555.0123")),
            record("Contact", "003A", Some("(415) 555-0123")),
            record("Contact", "003B", Some("(415) 555-9999")),
        ];
        let returned =
            prefer_first_object(records, &objects(&["Contact", "Lead"]), &caller(), us());
        assert_eq!(ids(&returned), vec!["003A", "003B"]);
    }

    #[test]
    fn later_object_wins_when_first_has_no_match() {
        let records = vec![
            record("Contact", "003A", Some("(415) 555-9999")),
            record("Lead", "00QA", Some("+1 415 555 0123")),
        ];
        let returned =
            prefer_first_object(records, &objects(&["Contact", "Lead"]), &caller(), us());
        assert_eq!(ids(&returned), vec!["00QA"]);
    }

    #[test]
    fn order_follows_configured_objects() {
        let records = vec![
            record("Contact", "003A", Some("(415) 555-0123")),
            record("Lead", "00QA", Some("(415) 555-0123")),
        ];
        let returned =
            prefer_first_object(records, &objects(&["lead", "contact"]), &caller(), us());
        assert_eq!(ids(&returned), vec!["00QA"]);
    }

    #[test]
    fn no_match_returns_every_record() {
        let records = vec![
            record("Contact", "003A", Some("(415) 555-9999")),
            record("Lead", "00QA", None),
            record("Lead", "00QB", Some("not a number")),
        ];
        let returned =
            prefer_first_object(records, &objects(&["Contact", "Lead"]), &caller(), us());
        assert_eq!(ids(&returned), vec!["003A", "00QA", "00QB"]);
    }

    #[test]
    fn mobile_phone_counts_as_match() {
        let mut contact = record("Contact", "003A", None);
        contact.mobile_phone = Some("+14155550123".to_string());
        let records = vec![record("Lead", "00QA", Some("4155550123")), contact];
        let returned =
            prefer_first_object(records, &objects(&["Contact", "Lead"]), &caller(), us());
        assert_eq!(ids(&returned), vec!["003A"]);
    }
}
