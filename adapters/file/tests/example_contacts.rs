//! Checks the sample file `examples/contacts.csv` that the README's quick
//! start uses.

mod common;

use std::collections::{BTreeSet, HashMap};
use std::path::PathBuf;

use badgegate_adapter::phone::parse_stored;
use common::{build, find, names, region};

fn workspace_root() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../..")
}

/// Rows of the sample file as (line, name, phone field), read without the adapter.
fn sample_rows() -> Vec<(u64, String, String)> {
    let mut reader =
        csv::Reader::from_path(workspace_root().join("examples/contacts.csv")).unwrap();
    let header = reader.headers().unwrap().clone();
    let column = |name: &str| header.iter().position(|field| field == name).unwrap();
    let (name_column, phone_column) = (column("name"), column("phone"));

    reader
        .records()
        .map(|record| {
            let record = record.unwrap();
            let line = record.position().unwrap().line();
            (
                line,
                record[name_column].to_string(),
                record[phone_column].to_string(),
            )
        })
        .collect()
}

#[tokio::test]
async fn quick_start_number_finds_ada() {
    let adapter = build(&workspace_root(), "examples/contacts.csv").unwrap();

    let found = find(adapter.as_ref(), "14155550123").await;
    assert_eq!(names(&found), ["Ada Lovelace"]);
    assert_eq!(found[0].phones, ["+1 (415) 555-0123"]);
    assert_eq!(found[0].id, "line 2");
}

#[tokio::test]
async fn every_sample_number_finds_its_row_only() {
    let adapter = build(&workspace_root(), "examples/contacts.csv").unwrap();
    let rows = sample_rows();
    assert!(rows.len() >= 20, "only {} contacts", rows.len());

    let mut owners: HashMap<String, String> = HashMap::new();
    let mut country_codes = BTreeSet::new();
    for (line, name, phone_field) in &rows {
        for raw in phone_field.split(';').map(str::trim) {
            let number = parse_stored(raw, region("US"))
                .unwrap_or_else(|error| panic!("line {line}: `{raw}` {error}"));
            if let Some(owner) = owners.insert(number.e164().to_string(), name.clone()) {
                panic!("line {line}: `{raw}` is also the number of {owner}");
            }
            country_codes.insert(number.country_code());

            let found = find(adapter.as_ref(), number.e164_digits()).await;
            assert_eq!(names(&found), [name.as_str()], "line {line}: `{raw}`");
            assert_eq!(found[0].id, format!("line {line}"));
        }
    }

    // A national number read in the wrong country would change this set.
    let expected: BTreeSet<u16> = [1, 33, 44, 49, 55, 61, 81, 91, 353].into();
    assert_eq!(country_codes, expected);
}

#[tokio::test]
async fn sample_has_two_number_row_and_empty_email() {
    let rows = sample_rows();

    assert!(rows.iter().any(|(_, _, phones)| phones.contains(';')));

    let adapter = build(&workspace_root(), "examples/contacts.csv").unwrap();
    let tom = find(adapter.as_ref(), "16505550142").await;
    assert_eq!(names(&tom), ["Tom Brennan"]);
    assert_eq!(tom[0].email, None);
}
