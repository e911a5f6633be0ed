//! Config problems as users read them: the file, the line where it is known,
//! the key, what is wrong and what to write instead.

use std::fmt;
use std::path::{Path, PathBuf};

use toml_edit::{ImDocument, Item, TableLike};

/// One thing wrong with the config. `badgegate check` prints them all.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ConfigProblem {
    pub file: PathBuf,
    pub line: Option<usize>,
    /// Dotted key, with array positions in brackets: `sources[0].access_token`.
    pub key: Option<String>,
    pub message: String,
}

impl ConfigProblem {
    pub fn new(file: &Path, key: Option<String>, message: impl Into<String>) -> Self {
        ConfigProblem {
            file: file.to_path_buf(),
            line: None,
            key,
            message: message.into(),
        }
    }

    pub fn for_key(file: &Path, key: impl Into<String>, message: impl Into<String>) -> Self {
        Self::new(file, Some(key.into()), message)
    }

    /// Returns the problem with the environment's values in its message
    /// replaced by the references that supplied them.
    pub fn redacted(mut self, redactions: &super::Redactions) -> Self {
        self.message = redactions.apply(&self.message);
        self
    }

    /// Fills in the line of the key from the file's text, when the key is
    /// written in the file (it may come from a default or the environment).
    pub fn locate(mut self, text: &str) -> Self {
        if let Some(key) = &self.key {
            self.line = line_of_key(text, &split_key(key));
        }
        self
    }
}

impl fmt::Display for ConfigProblem {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}", self.file.display())?;
        if let Some(line) = self.line {
            write!(f, ":{line}")?;
        }
        match &self.key {
            Some(key) => write!(f, ": `{key}`: {}", self.message),
            None => write!(f, ": {}", self.message),
        }
    }
}

/// Joins key segments as users write them: `sources[0].name`.
pub fn join_key<S: AsRef<str>>(segments: &[S]) -> String {
    let mut key = String::new();
    for segment in segments {
        let segment = segment.as_ref();
        if segment.parse::<usize>().is_ok() {
            key.push_str(&format!("[{segment}]"));
        } else {
            if !key.is_empty() {
                key.push('.');
            }
            key.push_str(segment);
        }
    }
    key
}

fn split_key(key: &str) -> Vec<String> {
    key.replace('[', ".")
        .replace(']', "")
        .split('.')
        .filter(|segment| !segment.is_empty())
        .map(str::to_string)
        .collect()
}

/// Finds the 1-based line of the deepest part of `path` present in the TOML text.
fn line_of_key(text: &str, path: &[String]) -> Option<usize> {
    let document = ImDocument::parse(text).ok()?;
    let mut span: Option<std::ops::Range<usize>> = None;
    let mut table: Option<&dyn TableLike> = Some(document.as_table());
    let mut array: Option<&Item> = None;
    for segment in path {
        if let Some(item) = array.take() {
            let Ok(index) = segment.parse::<usize>() else {
                break;
            };
            if let Some(tables) = item.as_array_of_tables() {
                let Some(entry) = tables.get(index) else {
                    break;
                };
                span = entry.span().or(span);
                table = Some(entry);
            } else if let Some(values) = item.as_array() {
                let Some(value) = values.get(index) else {
                    break;
                };
                span = value.span().or(span);
                table = value
                    .as_inline_table()
                    .map(|inline| inline as &dyn TableLike);
            }
            continue;
        }
        let Some(current) = table else { break };
        let Some((key, item)) = current.get_key_value(segment) else {
            break;
        };
        span = key.span().or(span);
        if item.is_array_of_tables() || item.is_array() {
            array = Some(item);
            table = None;
        } else {
            table = item.as_table_like();
        }
    }
    let start = span?.start;
    Some(text[..start.min(text.len())].matches('\n').count() + 1)
}

/// Turns figment's extraction errors into problems, one per error.
pub fn from_figment(error: figment::Error, file: &Path, text: &str) -> Vec<ConfigProblem> {
    error
        .into_iter()
        .map(|error| {
            let mut path = error.path.clone();
            let message = match &error.kind {
                figment::error::Kind::UnknownField(field, expected) => {
                    if path.last() != Some(field) {
                        path.push(field.clone());
                    }
                    format!(
                        "unknown key; the keys allowed here are {}",
                        quote_list(expected)
                    )
                }
                figment::error::Kind::UnknownVariant(value, expected) => format!(
                    "`{value}` is not a valid value; write one of {}",
                    quote_list(expected)
                ),
                figment::error::Kind::MissingField(field) => {
                    if path.last().map(String::as_str) != Some(field.as_ref()) {
                        path.push(field.to_string());
                    }
                    "is required but missing".to_string()
                }
                figment::error::Kind::InvalidType(actual, expected) => {
                    format!("found {}, expected {expected}", kind_of(actual))
                }
                kind => kind.to_string(),
            };
            let from_environment = error
                .metadata
                .as_ref()
                .is_some_and(|metadata| metadata.name.contains("environment"));
            let message = if from_environment {
                format!("{message} (set by a BADGEGATE_ environment variable)")
            } else {
                message
            };
            let key = (!path.is_empty()).then(|| join_key(&path));
            ConfigProblem::new(file, key, message).locate(text)
        })
        .collect()
}

/// Names what was found without quoting text, which may be a secret
/// written in the wrong place. Numbers and booleans are shown.
fn kind_of(actual: &figment::error::Actual) -> String {
    use figment::error::Actual;
    match actual {
        Actual::Str(_) | Actual::Other(_) => "a string".to_string(),
        Actual::Char(_) => "a character".to_string(),
        Actual::Bytes(_) => "bytes".to_string(),
        other => other.to_string(),
    }
}

fn quote_list(items: &[&str]) -> String {
    items
        .iter()
        .map(|item| format!("`{item}`"))
        .collect::<Vec<_>>()
        .join(", ")
}

#[cfg(test)]
mod tests {
    use super::*;

    const TEXT: &str = "[server]\nlisten = \"x\"\n\n[[sources]]\nname = \"a\"\n\n[[sources]]\nname = \"b\"\nacces_token = \"t\"\n";

    #[test]
    fn join_key_brackets_positions() {
        assert_eq!(join_key(&["sources", "1", "name"]), "sources[1].name");
        assert_eq!(join_key(&["server", "listen"]), "server.listen");
    }

    #[test]
    fn locates_plain_and_array_keys() {
        assert_eq!(line_of_key(TEXT, &split_key("server.listen")), Some(2));
        assert_eq!(
            line_of_key(TEXT, &split_key("sources[1].acces_token")),
            Some(9)
        );
        assert_eq!(line_of_key(TEXT, &split_key("sources[1]")), Some(7));
    }

    #[test]
    fn missing_key_points_at_its_table() {
        assert_eq!(line_of_key(TEXT, &split_key("server.path")), Some(1));
    }

    #[test]
    fn display_names_file_line_and_key() {
        let problem =
            ConfigProblem::for_key(Path::new("gateway.toml"), "server.listen", "bad").locate(TEXT);
        assert_eq!(problem.to_string(), "gateway.toml:2: `server.listen`: bad");
    }
}
