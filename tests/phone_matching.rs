//! Matching through the whole lookup pipeline against sources whose numbers
//! are stored the way people type them: a HubSpot mock whose search is as
//! loose as HubSpot's, and a contacts file.

use std::path::Path;
use std::time::Duration;

use badgegate::config::{load_text, Settings};
use badgegate::lookup::{Lookup, Outcome};
use badgegate::Registry;
use badgegate_adapter::phone::parse_caller;
use serde_json::{json, Value};
use tokio::time::Instant;
use wiremock::matchers::{method, path};
use wiremock::{Mock, MockServer, Request, Respond, ResponseTemplate};

/// HubSpot contacts with numbers in the formats integrators meet.
fn stored_contacts() -> Vec<Value> {
    let contact = |id: &str, first: &str, phone: &str, mobile: Option<&str>, updated: &str| {
        json!({
            "id": id,
            "properties": {
                "firstname": first, "lastname": "Example", "email": format!("{}@example.com", first.to_lowercase()),
                "phone": phone, "mobilephone": mobile,
            },
            "createdAt": "2024-01-01T00:00:00Z",
            "updatedAt": updated,
            "archived": false,
            "url": format!("https://app.hubspot.com/contacts/1/record/0-1/{id}"),
        })
    };
    vec![
        contact(
            "1",
            "Ada",
            "+1 (415) 555-0123",
            None,
            "2025-01-01T00:00:00Z",
        ),
        contact("2", "Bea", "415.555.0199   ", None, "2025-01-01T00:00:00Z"),
        contact("3", "Carl", "+49 30 1234567", None, "2025-01-01T00:00:00Z"),
        contact(
            "4",
            "Dora",
            "+44 20 7946 0958",
            None,
            "2025-01-01T00:00:00Z",
        ),
        contact(
            "5",
            "Emil",
            "+1 415 555 0188 ext. 12",
            None,
            "2025-01-01T00:00:00Z",
        ),
        contact(
            "6",
            "OldTwin",
            "+1 415 555 0177",
            None,
            "2025-03-01T00:00:00Z",
        ),
        contact(
            "7",
            "NewTwin",
            "",
            Some("(415) 555-0177"),
            "2026-06-01T00:00:00Z",
        ),
        contact(
            "8",
            "NearMiss",
            "+1 415 555 0124",
            None,
            "2026-09-01T00:00:00Z",
        ),
    ]
}

/// Answers a contact search the way HubSpot's loose search can: every
/// contact whose digits share the last four digits of any searched value,
/// plus the near miss, whatever was asked.
struct LooseSearch;

impl Respond for LooseSearch {
    fn respond(&self, request: &Request) -> ResponseTemplate {
        let body: Value = serde_json::from_slice(&request.body).expect("search body is JSON");
        let mut searched: Vec<String> = Vec::new();
        for group in body["filterGroups"].as_array().expect("filterGroups") {
            for filter in group["filters"].as_array().expect("filters") {
                if let Some(value) = filter["value"].as_str() {
                    searched.push(value.to_string());
                }
                for value in filter["values"].as_array().into_iter().flatten() {
                    searched.push(value.as_str().unwrap_or_default().to_string());
                }
            }
        }
        let last_four = |text: &str| {
            let digits: String = text.chars().filter(char::is_ascii_digit).collect();
            digits[digits.len().saturating_sub(4)..].to_string()
        };
        let wanted: Vec<String> = searched.iter().map(|value| last_four(value)).collect();
        let results: Vec<Value> = stored_contacts()
            .into_iter()
            .filter(|contact| {
                let properties = &contact["properties"];
                let numbers = [
                    properties["phone"].as_str(),
                    properties["mobilephone"].as_str(),
                ];
                let near_miss = properties["firstname"] == "NearMiss";
                near_miss
                    || numbers
                        .into_iter()
                        .flatten()
                        .filter(|number| !number.trim().is_empty())
                        .any(|number| {
                            wanted
                                .contains(&last_four(number.split("ext").next().unwrap_or(number)))
                        })
            })
            .collect();
        ResponseTemplate::new(200)
            .set_body_json(json!({"total": results.len(), "results": results}))
    }
}

fn settings(sources: &str) -> Settings {
    let text = format!("[justcall]\nsecrets = [\"k\"]\n[lookup]\ndeadline_ms = 5000\n{sources}");
    load_text(Path::new("gateway.toml"), &text, &|_| None).expect("test config is valid")
}

async fn name_for(lookup: &Lookup, number: &str) -> Option<String> {
    let caller = parse_caller(number, lookup.region()).expect("test numbers parse");
    match lookup.find(&caller, "test", Instant::now()).await.outcome {
        Outcome::Found(badge) => Some(badge.contact_name().to_string()),
        Outcome::NotFound => None,
        Outcome::Unavailable(reason) => panic!("{number}: lookup unavailable: {reason}"),
    }
}

#[tokio::test]
async fn hubspot_messy_numbers_find_the_right_person() {
    let hubspot = MockServer::start().await;
    Mock::given(method("POST"))
        .and(path("/crm/v3/objects/contacts/search"))
        .respond_with(LooseSearch)
        .mount(&hubspot)
        .await;
    let settings = settings(&format!(
        "[[sources]]\nname = \"hubspot\"\ntype = \"hubspot\"\naccess_token = \"t\"\nbase_url = \"{}\"\n",
        hubspot.uri()
    ));
    let lookup = Lookup::new(
        &settings,
        Registry::builtin().build_sources(&settings).unwrap(),
        None,
    );

    let cases = [
        ("14155550123", Some("Ada Example")),
        ("4155550199", Some("Bea Example")),
        ("+1 415 555 0199", Some("Bea Example")),
        ("49301234567", Some("Carl Example")),
        ("442079460958", Some("Dora Example")),
        ("14155550188", Some("Emil Example")),
        ("14155550177", Some("NewTwin Example")),
        ("14155550111", None),
    ];
    for (number, expected) in cases {
        assert_eq!(
            name_for(&lookup, number).await.as_deref(),
            expected,
            "caller {number}"
        );
    }
}

#[tokio::test]
async fn formats_of_one_number_cost_one_upstream_call() {
    let hubspot = MockServer::start().await;
    Mock::given(method("POST"))
        .and(path("/crm/v3/objects/contacts/search"))
        .respond_with(LooseSearch)
        .expect(1)
        .mount(&hubspot)
        .await;
    let settings = settings(&format!(
        "[[sources]]\nname = \"hubspot\"\ntype = \"hubspot\"\naccess_token = \"t\"\nbase_url = \"{}\"\n",
        hubspot.uri()
    ));
    let lookup = Lookup::new(
        &settings,
        Registry::builtin().build_sources(&settings).unwrap(),
        None,
    );
    for number in ["14155550123", "+1 415 555 0123", "4155550123"] {
        assert_eq!(
            name_for(&lookup, number).await.as_deref(),
            Some("Ada Example"),
            "{number}"
        );
    }
    tokio::time::sleep(Duration::from_millis(50)).await;
    hubspot.verify().await;
}

#[tokio::test]
async fn contacts_file_messy_numbers_find_the_right_person() {
    let folder = tempfile::tempdir().unwrap();
    std::fs::write(
        folder.path().join("contacts.csv"),
        "name,phone,email,profile_link\n\
         Ada,+1 (415) 555-0123,,https://crm.example.com/1\n\
         Bea,415.555.0199   ,,https://crm.example.com/2\n\
         Carl,0049 30 1234567,,https://crm.example.com/3\n\
         Dora,+44 (0)20 7946 0958,,https://crm.example.com/4\n\
         Emil,+1 415 555 0188 x12,,https://crm.example.com/5\n\
         Fay,\u{ff0b}\u{ff14}\u{ff19} \u{ff11}\u{ff15}\u{ff11} \u{ff12}\u{ff13}\u{ff14}\u{ff15}\u{ff16}\u{ff17}\u{ff18}\u{ff19},,https://crm.example.com/6\n",
    )
    .unwrap();
    let config_path = folder.path().join("gateway.toml");
    let text = "[justcall]\nsecrets = [\"k\"]\n[[sources]]\nname = \"file\"\ntype = \"file\"\npath = \"contacts.csv\"\n";
    let settings = load_text(&config_path, text, &|_| None).unwrap();
    let lookup = Lookup::new(
        &settings,
        Registry::builtin().build_sources(&settings).unwrap(),
        None,
    );

    let cases = [
        ("14155550123", Some("Ada")),
        ("4155550199", Some("Bea")),
        ("49301234567", Some("Carl")),
        ("+44 20 7946 0958", Some("Dora")),
        ("14155550188", Some("Emil")),
        ("4915123456789", Some("Fay")),
        ("14155550124", None),
    ];
    for (number, expected) in cases {
        assert_eq!(
            name_for(&lookup, number).await.as_deref(),
            expected,
            "caller {number}"
        );
    }
}
