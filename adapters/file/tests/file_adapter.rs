mod common;

use badgegate_adapter::{AdapterFactory, BuildError};
use badgegate_file::FileFactory;
use common::{build, build_from_text, context, find, names, region};
use serde_json::json;

const HEADER: &str = "name,phone,email,profile_link\n";

fn with_header(rows: &str) -> String {
    format!("{HEADER}{rows}")
}

/// Builds from `text` and returns the error, failing the test if the build
/// succeeds. Paths in messages are shown relative to the temporary folder.
fn build_error(text: &str) -> BuildError {
    let (dir, result) = build_from_text(text);
    let mut error = result.err().expect("the build should fail");
    let folder = format!("{}/", dir.path().display());
    error.message = error.message.replace(&folder, "");
    error
}

#[test]
fn type_name_is_file() {
    assert_eq!(FileFactory.type_name(), "file");
}

#[tokio::test]
async fn found_by_each_caller_form() {
    let (_dir, result) = build_from_text(&with_header(
        "Ada Lovelace,+1 (415) 555-0123,ada@example.com,https://crm.example.com/contacts/1\n",
    ));
    let adapter = result.unwrap();

    for caller in [
        "+14155550123",
        "14155550123",
        "4155550123",
        "(415) 555-0123",
    ] {
        let found = find(adapter.as_ref(), caller).await;
        assert_eq!(names(&found), ["Ada Lovelace"], "caller {caller}");
    }
}

#[tokio::test]
async fn national_numbers_read_in_default_region() {
    let (_dir, result) = build_from_text(&with_header(
        "Marcus Whitfield,415.555.0134,,https://crm.example.com/contacts/2\n\
         Priya Raman,(212) 555-0147,,https://crm.example.com/contacts/3\n",
    ));
    let adapter = result.unwrap();

    assert_eq!(
        names(&find(adapter.as_ref(), "14155550134").await),
        ["Marcus Whitfield"]
    );
    assert_eq!(
        names(&find(adapter.as_ref(), "+12125550147").await),
        ["Priya Raman"]
    );
}

#[tokio::test]
async fn default_region_other_than_us() {
    let dir = tempfile::tempdir().unwrap();
    std::fs::write(
        dir.path().join("contacts.csv"),
        with_header("Oliver Pembrook,020 7946 0958,,https://crm.example.com/contacts/9\n"),
    )
    .unwrap();
    let adapter = FileFactory
        .build(
            context(dir.path(), region("GB")),
            json!({ "path": "contacts.csv" }),
        )
        .unwrap();

    assert_eq!(
        names(&find(adapter.as_ref(), "442079460958").await),
        ["Oliver Pembrook"]
    );
}

#[tokio::test]
async fn row_with_two_numbers_found_by_both() {
    let (_dir, result) = build_from_text(&with_header(
        "Imogen Stroud, +44 7700 900456 ;+44 20 7946 0321 ,,https://crm.example.com/contacts/11\n",
    ));
    let adapter = result.unwrap();

    assert_eq!(
        names(&find(adapter.as_ref(), "447700900456").await),
        ["Imogen Stroud"]
    );
    assert_eq!(
        names(&find(adapter.as_ref(), "+442079460321").await),
        ["Imogen Stroud"]
    );
}

#[tokio::test]
async fn unknown_number_finds_nothing() {
    let (_dir, result) = build_from_text(&with_header(
        "Ada Lovelace,+1 (415) 555-0123,,https://crm.example.com/contacts/1\n",
    ));
    let adapter = result.unwrap();

    assert!(find(adapter.as_ref(), "14155550199").await.is_empty());
}

#[tokio::test]
async fn contact_fields_from_row() {
    let (_dir, result) = build_from_text(&with_header(
        "Tom Brennan,650-555-0142,,https://crm.example.com/contacts/6\n\
         Grace Holloway, (617) 555-0110; 312 555 0165 , grace@example.net ,https://crm.example.com/contacts/7\n",
    ));
    let adapter = result.unwrap();

    let tom = &find(adapter.as_ref(), "16505550142").await[0];
    assert_eq!(tom.id, "line 2");
    assert_eq!(tom.name.as_deref(), Some("Tom Brennan"));
    assert_eq!(tom.email, None);
    assert_eq!(tom.link, "https://crm.example.com/contacts/6");
    assert_eq!(tom.phones, ["650-555-0142"]);
    assert_eq!(tom.updated_at, None);

    let grace = &find(adapter.as_ref(), "13125550165").await[0];
    assert_eq!(grace.id, "line 3");
    assert_eq!(grace.email.as_deref(), Some("grace@example.net"));
    assert_eq!(grace.phones, ["(617) 555-0110", "312 555 0165"]);
}

#[tokio::test]
async fn header_only_file_is_valid() {
    let (_dir, result) = build_from_text(HEADER);
    let adapter = result.unwrap();

    assert!(find(adapter.as_ref(), "14155550123").await.is_empty());
}

#[tokio::test]
async fn header_columns_in_any_order() {
    let (_dir, result) = build_from_text(
        "profile_link,email,phone,name\nhttps://crm.example.com/contacts/1,,+1 415 555 0123,Ada Lovelace\n",
    );
    let adapter = result.unwrap();

    assert_eq!(
        names(&find(adapter.as_ref(), "14155550123").await),
        ["Ada Lovelace"]
    );
}

#[tokio::test]
async fn bom_and_blank_lines_tolerated() {
    let (_dir, result) = build_from_text(
        "\u{feff}name,phone,email,profile_link\r\n\r\nAda Lovelace,+1 415 555 0123,,https://crm.example.com/contacts/1\r\n\r\n",
    );
    let adapter = result.unwrap();

    let found = find(adapter.as_ref(), "14155550123").await;
    assert_eq!(names(&found), ["Ada Lovelace"]);
    assert_eq!(found[0].id, "line 3");
}

#[test]
fn bad_rows_name_line_and_column() {
    // (row, column, expected text after the location)
    let cases = [
        (
            "Ada,12ab,,https://crm.example.com/1",
            "phone",
            "`12ab` has too few or too many digits for a phone number",
        ),
        (
            "Ada,n/a,,https://crm.example.com/1",
            "phone",
            "`n/a` contains no digits",
        ),
        ("Ada,,,https://crm.example.com/1", "phone", "value is empty"),
        (
            "Ada, ; ,,https://crm.example.com/1",
            "phone",
            "value is empty",
        ),
        (
            ",+1 415 555 0123,,https://crm.example.com/1",
            "name",
            "value is empty",
        ),
        (
            "Ada,+1 415 555 0123,ada.example.com,https://crm.example.com/1",
            "email",
            "`ada.example.com` is not an email address",
        ),
        ("Ada,+1 415 555 0123,,", "profile_link", "value is empty"),
        (
            "Ada,+1 415 555 0123,,crm.example.com/1",
            "profile_link",
            "`crm.example.com/1` is not a link starting with http:// or https://",
        ),
        (
            "Ada,+1 415 555 0123,,ftp://crm.example.com/1",
            "profile_link",
            "`ftp://crm.example.com/1` is not a link",
        ),
    ];

    for (row, column, expected) in cases {
        let text = with_header(&format!(
            "Bob,+1 212 555 0147,,https://crm.example.com/2\n{row}\n"
        ));
        let error = build_error(&text);
        let location = format!("contacts.csv line 3, column `{column}`: ");
        assert_eq!(error.key.as_deref(), Some("path"), "row {row}");
        assert!(
            error.message.starts_with(&location),
            "row {row}: {}",
            error.message
        );
        assert!(
            error.message.contains(expected),
            "row {row}: {}",
            error.message
        );
    }
}

#[test]
fn every_bad_row_reported() {
    let error = build_error(&with_header(
        ",+1 415 555 0123,,https://crm.example.com/1\n\
         Bob,+1 212 555 0147,,https://crm.example.com/2\n\
         Cy,12ab,,https://crm.example.com/3\n",
    ));
    let lines: Vec<&str> = error.message.lines().collect();

    assert_eq!(lines.len(), 2, "{}", error.message);
    assert!(
        lines[0].starts_with("contacts.csv line 2, column `name`"),
        "{}",
        lines[0]
    );
    assert!(
        lines[1].starts_with("contacts.csv line 4, column `phone`"),
        "{}",
        lines[1]
    );
}

#[test]
fn wrong_field_count_names_line() {
    let too_few = build_error(&with_header(
        "Ada,+1 415 555 0123,https://crm.example.com/1\n",
    ));
    assert!(
        too_few
            .message
            .starts_with("contacts.csv line 2: the row has 3 fields but the header has 4"),
        "{}",
        too_few.message
    );

    let too_many = build_error(&with_header(
        "Lovelace, Ada,+1 415 555 0123,,https://crm.example.com/1\n",
    ));
    assert!(
        too_many
            .message
            .starts_with("contacts.csv line 2: the row has 5 fields but the header has 4"),
        "{}",
        too_many.message
    );
    assert!(
        too_many.message.contains("double quotes"),
        "{}",
        too_many.message
    );
}

#[test]
fn header_problems_named() {
    let error = build_error("name,phone,mail,profile_link\n");

    assert_eq!(error.key.as_deref(), Some("path"));
    assert!(
        error.message.starts_with("contacts.csv line 1: "),
        "{}",
        error.message
    );
    assert!(
        error.message.contains("column `mail` is unknown"),
        "{}",
        error.message
    );
    assert!(
        error.message.contains("column `email` is missing"),
        "{}",
        error.message
    );
    assert!(
        error.message.contains("`name,phone,email,profile_link`"),
        "{}",
        error.message
    );
}

#[test]
fn empty_file_rejected() {
    for text in ["", "\u{feff}", "\n\n", "  \n"] {
        let error = build_error(text);
        assert_eq!(error.key.as_deref(), Some("path"));
        assert!(
            error.message.starts_with("contacts.csv: the file is empty"),
            "{text:?}: {}",
            error.message
        );
    }
}

#[test]
fn missing_file_names_path_and_cause() {
    let dir = tempfile::tempdir().unwrap();
    let error = build(dir.path(), "missing.csv").err().unwrap();
    let path = dir.path().join("missing.csv");
    let cause = std::fs::read(&path).unwrap_err();

    assert_eq!(error.key.as_deref(), Some("path"));
    assert!(
        error.message.contains(&path.display().to_string()),
        "{}",
        error.message
    );
    assert!(
        error.message.contains(&cause.to_string()),
        "{}",
        error.message
    );
}

#[test]
fn unknown_option_named() {
    let dir = tempfile::tempdir().unwrap();
    let error = FileFactory
        .build(
            context(dir.path(), region("US")),
            json!({ "pth": "contacts.csv" }),
        )
        .err()
        .unwrap();

    assert!(error.to_string().contains("`pth`"), "{error}");
    assert!(error.to_string().contains("`path`"), "{error}");
}

#[test]
fn missing_and_empty_path_rejected() {
    let dir = tempfile::tempdir().unwrap();
    let missing = FileFactory
        .build(context(dir.path(), region("US")), json!({}))
        .err()
        .unwrap();
    assert!(
        missing.to_string() == "key `path`: is required but missing",
        "{missing}"
    );

    let empty = build(dir.path(), "").err().unwrap();
    assert_eq!(empty.key.as_deref(), Some("path"));
    assert!(empty.message.starts_with("is empty"), "{}", empty.message);
}

#[tokio::test]
async fn relative_path_resolves_against_config_dir() {
    let dir = tempfile::tempdir().unwrap();
    std::fs::create_dir(dir.path().join("data")).unwrap();
    std::fs::write(
        dir.path().join("data/contacts.csv"),
        with_header("Ada Lovelace,+1 415 555 0123,,https://crm.example.com/contacts/1\n"),
    )
    .unwrap();

    let adapter = build(dir.path(), "data/contacts.csv").unwrap();
    assert_eq!(
        names(&find(adapter.as_ref(), "14155550123").await),
        ["Ada Lovelace"]
    );

    let absolute = dir.path().join("data/contacts.csv");
    let elsewhere = tempfile::tempdir().unwrap();
    let adapter = build(elsewhere.path(), absolute.to_str().unwrap()).unwrap();
    assert_eq!(
        names(&find(adapter.as_ref(), "14155550123").await),
        ["Ada Lovelace"]
    );
}

#[tokio::test]
async fn adapter_name_from_context() {
    let (_dir, result) = build_from_text(HEADER);

    assert_eq!(result.unwrap().name(), "contacts");
}
