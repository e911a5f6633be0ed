//! The `response` table of a `type = "rest"` source: where the records are
//! in the response, and how each badge field is read from a record.

use std::borrow::Cow;
use std::collections::BTreeMap;
use std::fmt;

use badgegate_adapter::{parse_options, BuildError, Contact};
use chrono::{DateTime, Utc};
use reqwest::Url;
use serde::Deserialize;
use serde_json::Value;

use crate::encoding::path_segment;
use crate::path::RecordPath;
use crate::template::Template;

/// Statuses that mean "no record" unless `response.not_found_statuses` lists
/// others: 404, which some APIs return for a search without hits, and 204
/// (No Content), which Zoho CRM sends with an empty body.
pub(crate) const DEFAULT_NOT_FOUND_STATUSES: [u16; 2] = [404, 204];

/// The `response` table as written in the config file.
#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct ResponseOptions {
    records: Option<String>,
    name: Option<String>,
    link: Option<String>,
    email: Option<String>,
    id: Option<String>,
    updated_at: Option<String>,
    phones: Option<Value>,
    not_found_statuses: Option<Vec<u16>>,
}

/// A badge field read from a record: a JSONPath (text starting with `$`)
/// or a template over the record's fields.
#[derive(Debug, Clone)]
enum Field {
    Path(RecordPath),
    Template(Template),
}

/// Treatment of a template placeholder whose record field is `null`.
#[derive(Clone, Copy)]
enum Nulls {
    /// Empty text, for fields a badge can do without (name, email).
    Empty,
    /// An error, for fields that must not be blank (link, id).
    Reject,
}

/// A validated `response` table.
#[derive(Debug)]
pub(crate) struct ResponseMapping {
    records: RecordPath,
    name: Field,
    link: Field,
    email: Option<Field>,
    id: Option<Field>,
    updated_at: Option<RecordPath>,
    phones: Vec<RecordPath>,
    not_found_statuses: Vec<u16>,
    constants: BTreeMap<String, String>,
}

/// Error from mapping a response to contacts. The message names the mapping
/// key and the record's position, never a value from the response.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct MappingError {
    pub key: &'static str,
    pub message: String,
}

impl fmt::Display for MappingError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "response.{}: {}", self.key, self.message)
    }
}

impl ResponseMapping {
    /// Parses the `response` table. `constants` are the values templates may
    /// use besides the record's fields.
    pub fn from_options(
        response: Value,
        constants: BTreeMap<String, String>,
    ) -> Result<ResponseMapping, BuildError> {
        let options: ResponseOptions = parse_options(response).map_err(|error| BuildError {
            key: Some(match error.key {
                Some(key) => format!("response.{key}"),
                None => "response".to_string(),
            }),
            message: error.message,
        })?;

        let required = |key: &str, value: Option<String>, example: &str| {
            value.ok_or_else(|| {
                BuildError::for_key(
                    format!("response.{key}"),
                    format!("is required but missing; write e.g. {key} = {example}"),
                )
            })
        };
        let records = RecordPath::parse(
            "response.records",
            &required("records", options.records, "\"$.data[*]\"")?,
        )?;
        let name = Field::parse(
            "response.name",
            &required(
                "name",
                options.name,
                "\"$.name\" or \"{first_name} {last_name}\"",
            )?,
        )?;
        let link = Field::parse(
            "response.link",
            &required(
                "link",
                options.link,
                "\"https://crm.example.com/contacts/{id}\"",
            )?,
        )?;
        let email = options
            .email
            .map(|text| Field::parse("response.email", &text))
            .transpose()?;
        let id = options
            .id
            .map(|text| Field::parse("response.id", &text))
            .transpose()?;
        let updated_at = options
            .updated_at
            .map(|text| RecordPath::parse("response.updated_at", &text))
            .transpose()?;
        let phones = parse_phones(options.phones)?;
        let not_found_statuses = match options.not_found_statuses {
            Some(statuses) => validate_statuses(statuses)?,
            None => DEFAULT_NOT_FOUND_STATUSES.to_vec(),
        };

        Ok(ResponseMapping {
            records,
            name,
            link,
            email,
            id,
            updated_at,
            phones,
            not_found_statuses,
            constants,
        })
    }

    /// Returns whether a response with `status` means "no record".
    pub fn is_not_found(&self, status: u16) -> bool {
        self.not_found_statuses.contains(&status)
    }

    /// Maps a response body to contacts, one per record. `source` names the
    /// source in the warnings logged for unreadable `updated_at` values.
    pub fn contacts(&self, body: &Value, source: &str) -> Result<Vec<Contact>, MappingError> {
        let records = self.records.query(body);
        if records.is_empty() {
            if self.records.fits(body) {
                return Ok(Vec::new());
            }
            return Err(MappingError {
                key: "records",
                message: format!("`{}` found nothing in the response", self.records.text()),
            });
        }

        let mut contacts = Vec::with_capacity(records.len());
        let mut phone_paths_fit = false;
        for (index, record) in records.into_iter().enumerate() {
            self.check_record(record)?;
            phone_paths_fit |= self.phones.iter().any(|path| path.fits(record));
            contacts.push(self.contact(record, index, source)?);
        }
        if !phone_paths_fit {
            let paths: Vec<&str> = self.phones.iter().map(RecordPath::text).collect();
            return Err(MappingError {
                key: "phones",
                message: format!(
                    "none of the paths {} found a value in any of the {} records",
                    paths.join(", "),
                    contacts.len()
                ),
            });
        }
        Ok(contacts)
    }

    fn check_record(&self, record: &Value) -> Result<(), MappingError> {
        let message = match record {
            Value::Object(_) => return Ok(()),
            Value::Array(_) => format!(
                "`{}` selects lists rather than records; end the path with `[*]` to select their items",
                self.records.text()
            ),
            _ => format!(
                "`{}` selects values that are not JSON objects",
                self.records.text()
            ),
        };
        Err(MappingError {
            key: "records",
            message,
        })
    }

    fn contact(&self, record: &Value, index: usize, source: &str) -> Result<Contact, MappingError> {
        let name = self.read_name(record, index)?;
        let link = self.read_link(record, index)?;
        let email = match &self.email {
            Some(field) => self.read_email(field, record, index)?,
            None => None,
        };
        let id = match &self.id {
            Some(field) => self.read_id(field, record, index)?,
            None => index.to_string(),
        };
        let updated_at = self
            .updated_at
            .as_ref()
            .and_then(|path| read_updated_at(path, record, index, source));
        let mut phones = Vec::new();
        for path in &self.phones {
            for node in path.query(record) {
                collect_phones(node, &mut phones);
            }
        }
        Ok(Contact {
            id,
            name,
            email,
            link,
            phones,
            updated_at,
        })
    }

    fn read_name(&self, record: &Value, index: usize) -> Result<Option<String>, MappingError> {
        let text = match &self.name {
            Field::Path(path) => match first_node("name", path, record, index)? {
                Value::Null => None,
                Value::String(text) => Some(text.clone()),
                Value::Number(number) => Some(number.to_string()),
                _ => return Err(not_text("name", path, index)),
            },
            Field::Template(template) => {
                Some(self.render("name", template, record, index, false, Nulls::Empty)?)
            }
        };
        Ok(non_blank(text))
    }

    fn read_link(&self, record: &Value, index: usize) -> Result<String, MappingError> {
        let link = match &self.link {
            Field::Path(path) => match first_node("link", path, record, index)? {
                Value::String(text) => text.trim().to_string(),
                _ => return Err(not_text("link", path, index)),
            },
            Field::Template(template) => {
                self.render("link", template, record, index, true, Nulls::Reject)?
            }
        };
        let is_web_url = Url::parse(&link)
            .is_ok_and(|url| matches!(url.scheme(), "http" | "https") && url.host_str().is_some());
        if !is_web_url {
            return Err(MappingError {
                key: "link",
                message: format!("record {index} gives a link that is not an absolute http(s) URL"),
            });
        }
        Ok(link)
    }

    fn read_email(
        &self,
        field: &Field,
        record: &Value,
        index: usize,
    ) -> Result<Option<String>, MappingError> {
        let text = match field {
            // An email is optional, so a path that finds nothing gives none.
            Field::Path(path) => path.query(record).first().and_then(|node| first_text(node)),
            Field::Template(template) => {
                Some(self.render("email", template, record, index, false, Nulls::Empty)?)
            }
        };
        Ok(non_blank(text))
    }

    fn read_id(&self, field: &Field, record: &Value, index: usize) -> Result<String, MappingError> {
        match field {
            Field::Path(path) => match first_node("id", path, record, index)? {
                Value::String(text) if !text.trim().is_empty() => Ok(text.trim().to_string()),
                Value::Number(number) => Ok(number.to_string()),
                _ => Err(not_text("id", path, index)),
            },
            Field::Template(template) => {
                self.render("id", template, record, index, false, Nulls::Reject)
            }
        }
    }

    /// Renders a record template. A name defined in `constants` is the
    /// constant. Any other name is a field of the record, dotted for nested
    /// objects (`owner.name`) and list items (`emails.0`). With `encode`,
    /// record values are percent-encoded as URL path segments, while
    /// constants are inserted as written.
    fn render(
        &self,
        key: &'static str,
        template: &Template,
        record: &Value,
        index: usize,
        encode: bool,
        nulls: Nulls,
    ) -> Result<String, MappingError> {
        let error = |message: String| MappingError { key, message };
        template.render(|name| {
            if let Some(constant) = self.constants.get(name) {
                return Ok(Cow::Borrowed(constant.as_str()));
            }
            let text = match record_field(record, name) {
                None => {
                    return Err(error(format!(
                        "the template field `{name}` is missing from record {index}"
                    )))
                }
                Some(Value::Null) => match nulls {
                    Nulls::Empty => String::new(),
                    Nulls::Reject => {
                        return Err(error(format!(
                            "the template field `{name}` is null in record {index}"
                        )))
                    }
                },
                Some(Value::String(text)) => text.clone(),
                Some(Value::Number(number)) => number.to_string(),
                Some(Value::Bool(flag)) => flag.to_string(),
                Some(_) => {
                    return Err(error(format!(
                        "the template field `{name}` is a list or an object in record {index}, not text"
                    )))
                }
            };
            Ok(if encode {
                Cow::Owned(path_segment(&text).into_owned())
            } else {
                Cow::Owned(text)
            })
        })
        .map(|text| text.trim().to_string())
    }
}

impl Field {
    fn parse(key: &str, text: &str) -> Result<Field, BuildError> {
        if text.trim_start().starts_with('$') {
            return Ok(Field::Path(RecordPath::parse(key, text)?));
        }
        let template = Template::parse(text).map_err(|error| BuildError::for_key(key, error))?;
        Ok(Field::Template(template))
    }
}

/// Accepts one JSONPath or a non-empty list of them.
fn parse_phones(phones: Option<Value>) -> Result<Vec<RecordPath>, BuildError> {
    let required = || {
        BuildError::for_key(
            "response.phones",
            "is required: list the JSONPaths to a record's phone numbers, e.g. phones = [\"$.phone\", \"$.mobile\"]",
        )
    };
    let texts: Vec<String> = match phones {
        Some(Value::String(text)) => vec![text],
        Some(Value::Array(items)) if !items.is_empty() => items
            .into_iter()
            .map(|item| match item {
                Value::String(text) => Ok(text),
                _ => Err(required()),
            })
            .collect::<Result<_, _>>()?,
        _ => return Err(required()),
    };
    texts
        .iter()
        .map(|text| RecordPath::parse("response.phones", text))
        .collect()
}

/// Accepts 2xx and 4xx statuses other than 401, 403 and 429, which must
/// stay failures, so that a bad credential or a rate limit is never
/// reported as "no record".
fn validate_statuses(statuses: Vec<u16>) -> Result<Vec<u16>, BuildError> {
    for status in &statuses {
        let allowed = matches!(status, 200..=299 | 400..=499) && ![401, 403, 429].contains(status);
        if !allowed {
            return Err(BuildError::for_key(
                "response.not_found_statuses",
                format!("{status} cannot mean \"no record\"; list 2xx or 4xx statuses other than 401, 403 and 429, e.g. [404, 204]"),
            ));
        }
    }
    Ok(statuses)
}

/// Returns the first node `path` selects in the record, or an error naming
/// `key` when it selects none.
fn first_node<'a>(
    key: &'static str,
    path: &RecordPath,
    record: &'a Value,
    index: usize,
) -> Result<&'a Value, MappingError> {
    path.query(record)
        .into_iter()
        .next()
        .ok_or_else(|| MappingError {
            key,
            message: format!("`{}` found nothing in record {index}", path.text()),
        })
}

fn not_text(key: &'static str, path: &RecordPath, index: usize) -> MappingError {
    MappingError {
        key,
        message: format!(
            "`{}` selects a value that is not text in record {index}",
            path.text()
        ),
    }
}

/// Looks up a possibly dotted field name in a record: the whole name as a
/// key first, then part by part through objects and list indices.
fn record_field<'a>(record: &'a Value, name: &str) -> Option<&'a Value> {
    if let Some(value) = record.get(name) {
        return Some(value);
    }
    let mut current = record;
    for part in name.split('.') {
        current = match current {
            Value::Object(fields) => fields.get(part)?,
            Value::Array(items) => items.get(part.parse::<usize>().ok()?)?,
            _ => return None,
        };
    }
    Some(current)
}

/// Reads text from a node: a string or number, an object's `value`, or the
/// first such item of a list.
fn first_text(node: &Value) -> Option<String> {
    match node {
        Value::String(text) => Some(text.clone()),
        Value::Number(number) => Some(number.to_string()),
        Value::Object(fields) => fields.get("value").and_then(first_text),
        Value::Array(items) => items.iter().find_map(first_text),
        _ => None,
    }
}

/// Adds the phone numbers a node holds: a string or number, an object's
/// `value`, or a list of those.
fn collect_phones(node: &Value, phones: &mut Vec<String>) {
    match node {
        Value::Array(items) => {
            for item in items {
                if !item.is_array() {
                    collect_phones(item, phones);
                }
            }
        }
        other => {
            if let Some(text) = first_text(other).filter(|text| !text.trim().is_empty()) {
                phones.push(text);
            }
        }
    }
}

fn non_blank(text: Option<String>) -> Option<String> {
    text.map(|text| text.trim().to_string())
        .filter(|text| !text.is_empty())
}

/// Reads a record's modification time: RFC 3339 text, or Unix seconds as a
/// number or a string of digits. A value in another form is logged and
/// ignored, because it only serves to choose between several matches.
fn read_updated_at(
    path: &RecordPath,
    record: &Value,
    index: usize,
    source: &str,
) -> Option<DateTime<Utc>> {
    let node = path.query(record).into_iter().next()?;
    let parsed = match node {
        Value::Null => return None,
        Value::String(text) => {
            let text = text.trim();
            DateTime::parse_from_rfc3339(text)
                .map(|time| time.with_timezone(&Utc))
                .ok()
                .or_else(|| text.parse::<i64>().ok().and_then(from_unix_seconds))
        }
        Value::Number(number) => number
            .as_i64()
            .or_else(|| number.as_f64().map(|seconds| seconds as i64))
            .and_then(from_unix_seconds),
        _ => None,
    };
    if parsed.is_none() {
        tracing::warn!(
            source,
            record = index,
            path = path.text(),
            "ignored an updated_at value that is neither an RFC 3339 time nor Unix seconds"
        );
    }
    parsed
}

fn from_unix_seconds(seconds: i64) -> Option<DateTime<Utc>> {
    DateTime::from_timestamp(seconds, 0)
}
