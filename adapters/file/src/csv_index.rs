//! Loading and validating the contacts file into an index keyed by E.164.

use std::collections::HashMap;
use std::fmt;
use std::hash::{DefaultHasher, Hasher};
use std::path::Path;

use badgegate_adapter::{Contact, Region};
use csv::ByteRecord;

use crate::row::{self, Columns, ContactRow, EXPECTED_HEADER};

/// Maximum number of problems one load reports. The rest are only counted, so
/// a file in the wrong format does not produce thousands of lines.
const MAX_REPORTED_ERRORS: usize = 20;

/// Spreadsheet programs often start a CSV export with this byte order mark.
const UTF8_BOM: &[u8] = b"\xEF\xBB\xBF";

/// The contacts of one file, searchable by E.164 number.
#[derive(Debug, Default)]
pub(crate) struct ContactIndex {
    /// Contacts in file order.
    contacts: Vec<Contact>,
    /// Positions in `contacts` of the rows that list each number, ascending.
    by_e164: HashMap<String, Vec<usize>>,
    /// SipHash of the file's bytes. `DefaultHasher::new` uses fixed keys, so
    /// equal files give equal digests within one build of the gateway.
    digest: u64,
}

impl ContactIndex {
    /// Reads and validates the file at `path`. Numbers without a country code
    /// are read in `region`.
    pub(crate) fn load(path: &Path, region: Region) -> Result<ContactIndex, LoadError> {
        let bytes = std::fs::read(path).map_err(|error| {
            LoadError::single(format!(
                "failed to read {}: {error}; a relative path resolves against the config file's folder",
                path.display()
            ))
        })?;
        Self::parse(path, &bytes, region)
    }

    /// Validates `bytes` as a contacts file. `path` only names the file in
    /// error messages.
    ///
    /// Lines that are empty or contain only whitespace and commas are skipped,
    /// before the header too. Every bad row is reported, up to
    /// `MAX_REPORTED_ERRORS` problems.
    pub(crate) fn parse(
        path: &Path,
        bytes: &[u8],
        region: Region,
    ) -> Result<ContactIndex, LoadError> {
        let mut hasher = DefaultHasher::new();
        hasher.write(bytes);
        let digest = hasher.finish();
        let bytes = bytes.strip_prefix(UTF8_BOM).unwrap_or(bytes);
        let mut reader = csv::ReaderBuilder::new()
            .has_headers(false)
            .flexible(true)
            .from_reader(bytes);
        let mut errors = ErrorList::new(path);
        let mut record = ByteRecord::new();

        let columns = loop {
            match reader.read_byte_record(&mut record) {
                Ok(true) if is_blank(&record) => continue,
                Ok(true) => match read_header(&record) {
                    Ok(columns) => break columns,
                    Err(message) => {
                        errors.push(Some(record_line(bytes, &record)), None, &message);
                        return Err(errors.finish());
                    }
                },
                Ok(false) => {
                    let message = format!(
                        "the file is empty; its first line must be the header `{EXPECTED_HEADER}`"
                    );
                    errors.push(None, None, &message);
                    return Err(errors.finish());
                }
                Err(error) => {
                    errors.push_csv_error(&error);
                    return Err(errors.finish());
                }
            }
        };

        let mut index = ContactIndex {
            digest,
            ..ContactIndex::default()
        };
        loop {
            match reader.read_byte_record(&mut record) {
                Ok(true) => {}
                Ok(false) => break,
                Err(error) => {
                    // NOTE: where the reader resumes after a read error is not
                    // checked here, so the rest of the file is not validated.
                    errors.push_csv_error(&error);
                    break;
                }
            }
            if is_blank(&record) {
                continue;
            }
            let line = record_line(bytes, &record);

            if record.len() != columns.count() {
                errors.push(
                    Some(line),
                    None,
                    &describe_field_count(record.len(), columns.count()),
                );
                continue;
            }
            let fields = match decode_fields(&record) {
                Ok(fields) => fields,
                Err(field) => {
                    errors.push(
                        Some(line),
                        columns.name_at(field),
                        "value is not valid UTF-8; save the file with UTF-8 encoding",
                    );
                    continue;
                }
            };
            match row::parse_row(&fields, &columns, format!("line {line}"), region) {
                Ok(row) => index.insert(row),
                Err(field_errors) => {
                    for error in field_errors {
                        errors.push(Some(line), error.column, &error.message);
                    }
                }
            }
        }

        if errors.is_empty() {
            Ok(index)
        } else {
            Err(errors.finish())
        }
    }

    /// Returns every contact that lists `e164`, in file order.
    pub(crate) fn find(&self, e164: &str) -> Vec<Contact> {
        match self.by_e164.get(e164) {
            Some(positions) => positions
                .iter()
                .map(|&position| self.contacts[position].clone())
                .collect(),
            None => Vec::new(),
        }
    }

    pub(crate) fn len(&self) -> usize {
        self.contacts.len()
    }

    pub(crate) fn digest(&self) -> u64 {
        self.digest
    }

    fn insert(&mut self, row: ContactRow) {
        let position = self.contacts.len();
        for e164 in row.e164_numbers {
            self.by_e164.entry(e164).or_default().push(position);
        }
        self.contacts.push(row.contact);
    }
}

fn read_header(record: &ByteRecord) -> Result<Columns, String> {
    let fields = decode_fields(record).map_err(|_| {
        "the header is not valid UTF-8; save the file with UTF-8 encoding".to_string()
    })?;
    Columns::from_header(&fields)
}

/// Decodes every field as UTF-8, or returns the index of the first field
/// that is not valid UTF-8.
fn decode_fields(record: &ByteRecord) -> Result<Vec<&str>, usize> {
    record
        .iter()
        .enumerate()
        .map(|(index, field)| std::str::from_utf8(field).map_err(|_| index))
        .collect()
}

fn is_blank(record: &ByteRecord) -> bool {
    record
        .iter()
        .all(|field| field.iter().all(u8::is_ascii_whitespace))
}

/// Returns the 1-based line that the record starts on in `input`, the
/// reader's input.
///
/// The reader's position for a record lies where the previous record ended,
/// before any empty lines it skipped and before the `\n` of a `\r\n`
/// terminator. So the line breaks from there to the record's first byte are
/// counted here.
fn record_line(input: &[u8], record: &ByteRecord) -> u64 {
    let position = record
        .position()
        .expect("the CSV reader sets the position of every record it reads");
    let start = usize::try_from(position.byte()).map_or(input.len(), |byte| byte.min(input.len()));
    let skipped_lines = input[start..]
        .iter()
        .take_while(|&&byte| byte == b'\r' || byte == b'\n')
        .filter(|&&byte| byte == b'\n')
        .count();
    position.line() + skipped_lines as u64
}

fn describe_field_count(found: usize, expected: usize) -> String {
    let fix = if found < expected {
        "keep a comma for every column, e.g. `Ada Lovelace,+1 415 555 0123,,https://crm.example.com/contacts/1` \
         for a row without email"
    } else {
        "put a value that contains a comma in double quotes, e.g. `\"Lovelace, Ada\"`"
    };
    format!("the row has {found} fields but the header has {expected}; {fix}")
}

/// Why the contacts file could not be loaded: one line per problem, each
/// naming the file and, where there is one, the line and column.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct LoadError {
    messages: Vec<String>,
    /// Problems found beyond `MAX_REPORTED_ERRORS`.
    not_shown: usize,
}

impl LoadError {
    fn single(message: String) -> Self {
        LoadError {
            messages: vec![message],
            not_shown: 0,
        }
    }
}

impl fmt::Display for LoadError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.messages.join("\n"))?;
        if self.not_shown > 0 {
            write!(f, "\n{} more problems are not shown", self.not_shown)?;
        }
        Ok(())
    }
}

/// Collects problems with their location, keeping the first
/// `MAX_REPORTED_ERRORS` and counting the rest.
struct ErrorList<'a> {
    path: &'a Path,
    messages: Vec<String>,
    total: usize,
}

impl<'a> ErrorList<'a> {
    fn new(path: &'a Path) -> Self {
        ErrorList {
            path,
            messages: Vec::new(),
            total: 0,
        }
    }

    fn push(&mut self, line: Option<u64>, column: Option<&str>, message: &str) {
        self.total += 1;
        if self.messages.len() >= MAX_REPORTED_ERRORS {
            return;
        }
        let path = self.path.display();
        let located = match (line, column) {
            (Some(line), Some(column)) => {
                format!("{path} line {line}, column `{column}`: {message}")
            }
            (Some(line), None) => format!("{path} line {line}: {message}"),
            (None, _) => format!("{path}: {message}"),
        };
        self.messages.push(located);
    }

    fn push_csv_error(&mut self, error: &csv::Error) {
        let line = error.position().map(csv::Position::line);
        self.push(line, None, &format!("invalid CSV: {error}"));
    }

    fn is_empty(&self) -> bool {
        self.total == 0
    }

    fn finish(self) -> LoadError {
        LoadError {
            not_shown: self.total - self.messages.len(),
            messages: self.messages,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn parse(text: &str) -> Result<ContactIndex, LoadError> {
        ContactIndex::parse(
            Path::new("contacts.csv"),
            text.as_bytes(),
            "US".parse().unwrap(),
        )
    }

    const HEADER: &str = "name,phone,email,profile_link\n";

    #[test]
    fn bom_and_blank_lines_skipped() {
        let text = format!(
            "\u{feff}\n{HEADER}\n   \n,,,\nAda,+1 415 555 0123,,https://crm.example.com/1\n\n"
        );
        let index = parse(&text).unwrap();
        assert_eq!(index.len(), 1);
        assert_eq!(index.find("+14155550123")[0].id, "line 6");
    }

    #[test]
    fn digest_follows_file_bytes() {
        let ada = format!("{HEADER}Ada,+1 415 555 0123,,https://crm.example.com/1\n");
        let ada_again = parse(&ada).unwrap().digest();
        assert_eq!(parse(&ada).unwrap().digest(), ada_again);

        let renamed = ada.replace("Ada", "Ada King");
        assert_ne!(parse(&renamed).unwrap().digest(), ada_again);
        let trailing_line = format!("{ada}\n");
        assert_ne!(parse(&trailing_line).unwrap().digest(), ada_again);
    }

    #[test]
    fn line_numbers_count_blank_lines() {
        let text = format!("{HEADER}\n\nAda,12ab,,https://crm.example.com/1\n");
        let message = parse(&text).unwrap_err().to_string();
        assert!(
            message.starts_with("contacts.csv line 4, column `phone`: `12ab`"),
            "{message}"
        );
    }

    #[test]
    fn crlf_line_numbers() {
        let text = "name,phone,email,profile_link\r\n\r\nAda,+1 415 555 0123,,https://crm.example.com/1\r\nBob,12ab,,https://crm.example.com/2\r\n";
        let message = parse(text).unwrap_err().to_string();
        assert!(
            message.starts_with("contacts.csv line 4, column `phone`"),
            "{message}"
        );
    }

    #[test]
    fn quoted_field_spans_lines() {
        let text = format!("{HEADER}\"Ada\nLovelace\",+1 415 555 0123,,https://crm.example.com/1\nBob,,,https://crm.example.com/2\n");
        let message = parse(&text).unwrap_err().to_string();
        assert_eq!(message.lines().count(), 1, "{message}");
        assert!(
            message.starts_with("contacts.csv line 4, column `phone`"),
            "{message}"
        );
    }

    #[test]
    fn invalid_utf8_names_column() {
        let mut bytes = HEADER.as_bytes().to_vec();
        bytes.extend_from_slice(b"Ren\xe9,+1 415 555 0123,,https://crm.example.com/1\n");
        let error = ContactIndex::parse(Path::new("contacts.csv"), &bytes, "US".parse().unwrap())
            .unwrap_err();
        let message = error.to_string();
        assert!(
            message.contains("line 2, column `name`: value is not valid UTF-8"),
            "{message}"
        );
    }

    #[test]
    fn reported_errors_capped() {
        let mut text = HEADER.to_string();
        for _ in 0..25 {
            text.push_str(",+1 415 555 0123,,https://crm.example.com/1\n");
        }
        let message = parse(&text).unwrap_err().to_string();
        let lines: Vec<&str> = message.lines().collect();
        assert_eq!(lines.len(), MAX_REPORTED_ERRORS + 1);
        assert_eq!(lines[MAX_REPORTED_ERRORS], "5 more problems are not shown");
    }

    #[test]
    fn rows_sharing_number_found_in_file_order() {
        let text = format!(
            "{HEADER}Ada,+1 415 555 0123,,https://crm.example.com/1\nBob,+1 212 555 0147,,https://crm.example.com/2\nCy,(415) 555-0123,,https://crm.example.com/3\n"
        );
        let index = parse(&text).unwrap();
        let ids: Vec<String> = index
            .find("+14155550123")
            .into_iter()
            .map(|contact| contact.id)
            .collect();
        assert_eq!(ids, ["line 2", "line 4"]);
    }
}
