//! JSONPath queries (RFC 9535, through the `serde_json_path` crate) into a
//! response or a record, and how to tell "this list is empty" from "this
//! path does not fit the response".

use badgegate_adapter::BuildError;
use serde_json::Value;
use serde_json_path::JsonPath;

/// A validated JSONPath from the config file.
#[derive(Debug, Clone)]
pub(crate) struct RecordPath {
    text: String,
    path: JsonPath,
    /// The path up to its first segment that may select several nodes or
    /// none in a well-formed response (`[*]`, `..`, a filter or a slice).
    /// When the whole path finds nothing but this part finds a value, the
    /// list the path walks is empty rather than missing.
    fixed_prefix: JsonPath,
}

impl RecordPath {
    /// Parses `text`, which must start with `$`. The error names `key`.
    pub fn parse(key: &str, text: &str) -> Result<RecordPath, BuildError> {
        let text = text.trim();
        if !text.starts_with('$') {
            return Err(BuildError::for_key(
                key,
                format!("`{text}` is not a JSONPath; start it with `$`, e.g. \"$.data[*]\""),
            ));
        }
        let path = JsonPath::parse(text).map_err(|error| {
            BuildError::for_key(key, format!("`{text}` is not a valid JSONPath: {error}"))
        })?;
        let prefix = fixed_prefix(text);
        let fixed_prefix = JsonPath::parse(prefix)
            .expect("a prefix of simple segments of a valid path is a valid path");
        Ok(RecordPath {
            text: text.to_string(),
            path,
            fixed_prefix,
        })
    }

    /// Returns the path as written in the config file.
    pub fn text(&self) -> &str {
        &self.text
    }

    /// Returns every node the path selects in `value`, in document order.
    pub fn query<'a>(&self, value: &'a Value) -> Vec<&'a Value> {
        self.path.query(value).all()
    }

    /// Returns whether the path's fixed prefix finds a value in `value`, so
    /// that a path finding nothing walked an empty list (`true`) or does not
    /// fit `value` at all (`false`).
    pub fn fits(&self, value: &Value) -> bool {
        !self.fixed_prefix.query(value).is_empty()
    }
}

/// Returns the longest prefix of `path` made of `$` and simple child
/// segments: `.name`, `['name']` or `["name"]` without escapes, and `[N]`.
/// Such a prefix selects at most one node. Anything the scan does not
/// recognize ends the prefix, which only makes it shorter and so more
/// permissive.
fn fixed_prefix(path: &str) -> &str {
    let mut end = 1; // after `$`
    loop {
        let rest = &path[end..];
        let consumed = if let Some(name) = rest.strip_prefix('.') {
            dot_name_length(name).map(|length| 1 + length)
        } else if let Some(inner) = rest.strip_prefix('[') {
            bracket_length(inner).map(|length| 1 + length)
        } else {
            None
        };
        match consumed {
            Some(length) if length > 1 => end += length,
            _ => break,
        }
    }
    &path[..end]
}

/// Length of an RFC 9535 member name shorthand at the start of `text`, or
/// `None` when it does not start with one.
fn dot_name_length(text: &str) -> Option<usize> {
    let mut chars = text.char_indices();
    let (_, first) = chars.next()?;
    if !(first.is_ascii_alphabetic() || first == '_' || !first.is_ascii()) {
        return None;
    }
    let end = chars
        .find(|(_, c)| !(c.is_ascii_alphanumeric() || *c == '_' || !c.is_ascii()))
        .map_or(text.len(), |(index, _)| index);
    Some(end)
}

/// Length of a bracketed single name or index selector after `[`, closing
/// bracket included, or `None` for any other selector.
fn bracket_length(text: &str) -> Option<usize> {
    let quote = text.chars().next()?;
    if quote == '\'' || quote == '"' {
        let body = &text[1..];
        let close = body.find(quote)?;
        if body[..close].contains('\\') {
            return None;
        }
        let after = &body[close + 1..];
        return after.starts_with(']').then_some(1 + close + 1 + 1);
    }
    let digits = text
        .char_indices()
        .find(|(index, c)| !(c.is_ascii_digit() || (*index == 0 && *c == '-')))
        .map_or(text.len(), |(index, _)| index);
    let is_index = digits > 0 && &text[..digits] != "-";
    (is_index && text[digits..].starts_with(']')).then_some(digits + 1)
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn fixed_prefixes() {
        let cases = [
            ("$", "$"),
            ("$.data", "$.data"),
            ("$.data.items[*].item", "$.data.items"),
            ("$.data[0].phones[*]", "$.data[0].phones"),
            ("$['data']['my items'][*]", "$['data']['my items']"),
            ("$[\"data\"].x", "$[\"data\"].x"),
            ("$..phone", "$"),
            ("$.data[?@.active]", "$.data"),
            ("$.data[1:3]", "$.data"),
            ("$.data.*", "$.data"),
            ("$.data[-1].id", "$.data[-1].id"),
            ("$['it\\'s'].x", "$"),
            ("$.daten.größe", "$.daten.größe"),
        ];
        for (path, prefix) in cases {
            assert_eq!(fixed_prefix(path), prefix, "{path}");
            JsonPath::parse(fixed_prefix(path)).unwrap();
        }
    }

    #[test]
    fn empty_list_fits_and_missing_list_does_not() {
        let path = RecordPath::parse("response.records", "$.data.items[*].item").unwrap();
        let empty = json!({"data": {"items": []}});
        let missing = json!({"result": {"items": []}});

        assert!(path.query(&empty).is_empty());
        assert!(path.fits(&empty));
        assert!(!path.fits(&missing));
    }

    #[test]
    fn invalid_paths_name_the_key() {
        for text in ["data.items", "$.data[", "$$", "$.data[?]"] {
            let error = RecordPath::parse("response.records", text).unwrap_err();
            assert_eq!(error.key.as_deref(), Some("response.records"), "{text}");
            assert!(error.message.contains(text.trim()), "{}", error.message);
        }
    }
}
