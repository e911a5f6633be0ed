//! The contacts file's format: the header and the checks on each field of a row.

use badgegate_adapter::phone::{self, PhoneError};
use badgegate_adapter::{Contact, Region};

/// The header the file must start with, in any column order.
pub(crate) const EXPECTED_HEADER: &str = "name,phone,email,profile_link";

const COLUMN_NAMES: [&str; 4] = ["name", "phone", "email", "profile_link"];

/// Values longer than this many characters are cut in error messages.
const MAX_QUOTED_CHARS: usize = 60;

/// A problem with one field of a row, or with the row as a whole.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct FieldError {
    /// The column at fault, or `None` when the problem is the whole row.
    pub(crate) column: Option<&'static str>,
    /// The problem and the value to write instead.
    pub(crate) message: String,
}

impl FieldError {
    fn in_column(column: &'static str, message: String) -> Self {
        FieldError {
            column: Some(column),
            message,
        }
    }
}

/// A valid row: the contact to return and the E.164 forms of its numbers.
#[derive(Debug)]
pub(crate) struct ContactRow {
    pub(crate) contact: Contact,
    /// One entry per distinct number, in the order the row lists them.
    pub(crate) e164_numbers: Vec<String>,
}

/// Field positions of the four columns, taken from the header.
#[derive(Debug, Clone, Copy)]
pub(crate) struct Columns {
    name: usize,
    phone: usize,
    email: usize,
    profile_link: usize,
    count: usize,
}

impl Columns {
    /// Maps the header's fields to the four columns. Names are compared after
    /// trimming whitespace and ignoring ASCII case.
    ///
    /// The error lists every missing, unknown, unnamed and repeated column and
    /// gives the expected header.
    pub(crate) fn from_header(header: &[&str]) -> Result<Columns, String> {
        let mut positions: [Option<usize>; 4] = [None; 4];
        let mut problems = Vec::new();

        for (index, raw) in header.iter().enumerate() {
            let name = raw.trim().to_ascii_lowercase();
            if name.is_empty() {
                problems.push(format!("column {} has no name", index + 1));
                continue;
            }
            match COLUMN_NAMES.iter().position(|known| *known == name) {
                Some(known) if positions[known].is_some() => {
                    problems.push(format!("column `{name}` appears more than once"));
                }
                Some(known) => positions[known] = Some(index),
                None => problems.push(format!("column `{}` is unknown", quoted(raw.trim()))),
            }
        }
        for (known, position) in COLUMN_NAMES.iter().zip(positions) {
            if position.is_none() {
                problems.push(format!("column `{known}` is missing"));
            }
        }

        match positions {
            [Some(name), Some(phone), Some(email), Some(profile_link)] if problems.is_empty() => {
                Ok(Columns {
                    name,
                    phone,
                    email,
                    profile_link,
                    count: header.len(),
                })
            }
            _ => Err(format!(
                "{}; the first line must be the header `{EXPECTED_HEADER}`, with the columns in any order",
                problems.join(", ")
            )),
        }
    }

    /// The number of fields every row must have.
    pub(crate) fn count(&self) -> usize {
        self.count
    }

    /// Returns the name of the column at field `index`, if it is one of the four.
    pub(crate) fn name_at(&self, index: usize) -> Option<&'static str> {
        [self.name, self.phone, self.email, self.profile_link]
            .iter()
            .position(|position| *position == index)
            .map(|known| COLUMN_NAMES[known])
    }
}

/// Checks one data row and builds its contact. `fields` must have
/// `columns.count()` entries. Every field is checked, so the error lists each
/// bad field of the row.
pub(crate) fn parse_row(
    fields: &[&str],
    columns: &Columns,
    id: String,
    region: Region,
) -> Result<ContactRow, Vec<FieldError>> {
    let mut errors = Vec::new();

    let name = fields[columns.name].trim();
    if name.is_empty() {
        errors.push(FieldError::in_column(
            "name",
            "value is empty; write the name the badge shows, e.g. Ada Lovelace".to_string(),
        ));
    }

    let (phones, e164_numbers) = match parse_phones(fields[columns.phone], region) {
        Ok(parsed) => parsed,
        Err(phone_errors) => {
            errors.extend(phone_errors);
            (Vec::new(), Vec::new())
        }
    };

    let email = fields[columns.email].trim();
    if !email.is_empty() && !looks_like_email(email) {
        errors.push(FieldError::in_column(
            "email",
            format!(
                "`{}` is not an email address; write it as name@domain, e.g. ada@example.com, or leave the field empty",
                quoted(email)
            ),
        ));
    }

    let link = fields[columns.profile_link].trim();
    if let Err(message) = check_link(link) {
        errors.push(FieldError::in_column("profile_link", message));
    }

    if !errors.is_empty() {
        return Err(errors);
    }
    let contact = Contact {
        id,
        name: Some(name.to_string()),
        email: (!email.is_empty()).then(|| email.to_string()),
        link: link.to_string(),
        phones,
        updated_at: None,
    };
    Ok(ContactRow {
        contact,
        e164_numbers,
    })
}

/// Splits the `phone` field at `;` and parses each number. Returns the
/// numbers as written (trimmed) and their distinct E.164 forms. Empty parts,
/// such as the one a trailing `;` leaves, are skipped. Numbers too short or
/// too long to dial, such as `555-0123` without its area code, are errors.
fn parse_phones(
    field: &str,
    region: Region,
) -> Result<(Vec<String>, Vec<String>), Vec<FieldError>> {
    let mut written = Vec::new();
    let mut e164_numbers: Vec<String> = Vec::new();
    let mut errors = Vec::new();

    for raw in field
        .split(';')
        .map(str::trim)
        .filter(|raw| !raw.is_empty())
    {
        match phone::parse_stored(raw, region) {
            Ok(number) => {
                written.push(raw.to_string());
                if !e164_numbers.iter().any(|known| known == number.e164()) {
                    e164_numbers.push(number.e164().to_string());
                }
            }
            Err(error) => errors.push(FieldError::in_column(
                "phone",
                describe_phone_error(raw, &error, region),
            )),
        }
    }

    if written.is_empty() && errors.is_empty() {
        errors.push(FieldError::in_column(
            "phone",
            "value is empty; write the contact's number with its country code, e.g. +14155550123, \
             and separate several numbers with `;`"
                .to_string(),
        ));
    }
    if errors.is_empty() {
        Ok((written, e164_numbers))
    } else {
        Err(errors)
    }
}

fn describe_phone_error(raw: &str, error: &PhoneError, region: Region) -> String {
    let value = quoted(raw);
    match error {
        PhoneError::NoDigits => format!(
            "`{value}` contains no digits; write a phone number with its country code, e.g. +14155550123"
        ),
        PhoneError::Unparsable if raw.starts_with('+') => format!(
            "`{value}` is not a phone number; write it with its country code, e.g. +14155550123"
        ),
        PhoneError::Unparsable => format!(
            "`{value}` is not a phone number; write it with its country code, e.g. +14155550123 \
             (a number without one is read as a {region} number)"
        ),
        PhoneError::ImpossibleLength => format!(
            "`{value}` has too few or too many digits for a phone number; write the full number \
             with its area code and country code, e.g. +14155550123 (a number without a country \
             code is read as a {region} number)"
        ),
        PhoneError::UnknownRegion(_) => format!("`{value}`: {error}"),
    }
}

/// Accepts `local@domain` with both parts non-empty and no whitespace. This
/// catches a name or phone number put in the wrong column, not every invalid
/// address.
fn looks_like_email(email: &str) -> bool {
    match email.split_once('@') {
        Some((local, domain)) => {
            !local.is_empty() && !domain.is_empty() && !email.contains(char::is_whitespace)
        }
        None => false,
    }
}

/// Requires an absolute `http` or `https` URL with a host.
fn check_link(link: &str) -> Result<(), String> {
    const FIX: &str =
        "write the full link to the contact in your CRM, e.g. https://crm.example.com/contacts/42";
    if link.is_empty() {
        return Err(format!("value is empty; {FIX}"));
    }
    let valid = match url::Url::parse(link) {
        Ok(url) => {
            matches!(url.scheme(), "http" | "https")
                && url.host_str().is_some_and(|host| !host.is_empty())
        }
        Err(_) => false,
    };
    if valid {
        Ok(())
    } else {
        Err(format!(
            "`{}` is not a link starting with http:// or https://; {FIX}",
            quoted(link)
        ))
    }
}

/// Cuts `value` to `MAX_QUOTED_CHARS` characters, so a whole row pasted into
/// one field does not flood the message.
fn quoted(value: &str) -> String {
    match value.char_indices().nth(MAX_QUOTED_CHARS) {
        Some((end, _)) => format!("{}…", &value[..end]),
        None => value.to_string(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn us() -> Region {
        "US".parse().unwrap()
    }

    fn standard_columns() -> Columns {
        Columns::from_header(&["name", "phone", "email", "profile_link"]).unwrap()
    }

    #[test]
    fn header_in_other_order() {
        let columns = Columns::from_header(&["Phone", " profile_link ", "EMAIL", "name"]).unwrap();
        assert_eq!(columns.name_at(0), Some("phone"));
        assert_eq!(columns.name_at(1), Some("profile_link"));
        assert_eq!(columns.name_at(2), Some("email"));
        assert_eq!(columns.name_at(3), Some("name"));
        assert_eq!(columns.count(), 4);
    }

    #[test]
    fn header_lists_every_problem() {
        let message = Columns::from_header(&["name", "phone", "phone", "mail", ""]).unwrap_err();
        assert!(
            message.contains("column `phone` appears more than once"),
            "{message}"
        );
        assert!(message.contains("column `mail` is unknown"), "{message}");
        assert!(message.contains("column 5 has no name"), "{message}");
        assert!(message.contains("column `email` is missing"), "{message}");
        assert!(
            message.contains("column `profile_link` is missing"),
            "{message}"
        );
        assert!(message.contains(EXPECTED_HEADER), "{message}");
    }

    #[test]
    fn row_with_every_field_wrong() {
        let fields = ["", "abc; 12ab", "ada", "crm.example.com/1"];
        let errors = parse_row(&fields, &standard_columns(), "line 2".into(), us()).unwrap_err();
        let columns: Vec<_> = errors.iter().map(|error| error.column).collect();
        assert_eq!(
            columns,
            [
                Some("name"),
                Some("phone"),
                Some("phone"),
                Some("email"),
                Some("profile_link")
            ]
        );
    }

    #[test]
    fn duplicate_number_in_row_indexed_once() {
        let fields = [
            "Ada",
            "+1 415 555 0123; (415) 555-0123",
            "",
            "https://crm.example.com/1",
        ];
        let row = parse_row(&fields, &standard_columns(), "line 2".into(), us()).unwrap();
        assert_eq!(row.contact.phones, ["+1 415 555 0123", "(415) 555-0123"]);
        assert_eq!(row.e164_numbers, ["+14155550123"]);
        assert_eq!(row.contact.email, None);
    }

    #[test]
    fn link_checks() {
        assert!(check_link("https://crm.example.com/contacts/1").is_ok());
        assert!(check_link("HTTP://crm.example.com").is_ok());
        assert!(check_link("ftp://crm.example.com/1").is_err());
        assert!(check_link("https://").is_err());
        assert!(check_link("crm.example.com/contacts/1").is_err());
        assert!(check_link("").is_err());
    }

    #[test]
    fn email_checks() {
        assert!(looks_like_email("ada@example.com"));
        assert!(!looks_like_email("ada.example.com"));
        assert!(!looks_like_email("@example.com"));
        assert!(!looks_like_email("ada@"));
        assert!(!looks_like_email("ada lovelace@example.com"));
    }

    #[test]
    fn long_value_cut_in_message() {
        let long = "x".repeat(100);
        let cut = quoted(&long);
        assert_eq!(cut.chars().count(), MAX_QUOTED_CHARS + 1);
        assert!(cut.ends_with('…'));
        assert_eq!(quoted("short"), "short");
    }
}
