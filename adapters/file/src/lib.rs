//! A badgegate source that looks callers up in a CSV file of contacts.
//!
//! The file starts with the header `name,phone,email,profile_link`, with the
//! columns in any order. `name` and `profile_link` (an `http://` or `https://`
//! link) are required, `email` may be empty, and `phone` contains one or more
//! numbers separated by `;`. A number without a country code is read in
//! `lookup.default_region`. For example:
//!
//! ```text
//! name,phone,email,profile_link
//! Ada Lovelace,+1 (415) 555-0123,ada@example.com,https://crm.example.com/contacts/1
//! Grace Hopper,(212) 555-0147; +44 20 7946 0958,,https://crm.example.com/contacts/2
//! ```
//!
//! The file is read once, when the adapter is built, so `badgegate check`
//! reports every bad row with its line and column. Changes to the file take
//! effect when the gateway builds its sources again, on a config reload or a
//! restart.

mod csv_index;
mod row;

use std::fmt;
use std::path::PathBuf;
use std::sync::Arc;

use async_trait::async_trait;
use badgegate_adapter::{
    parse_options, Adapter, AdapterFactory, BuildError, Contact, LookupError, Query, SourceContext,
};
use serde::Deserialize;

use crate::csv_index::ContactIndex;

/// Builds [`FileAdapter`]s for sources with `type = "file"`.
#[derive(Debug, Clone, Copy, Default)]
pub struct FileFactory;

/// The keys of a `type = "file"` source.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct FileOptions {
    /// Path of the CSV file. A relative path resolves against the config
    /// file's folder.
    path: PathBuf,
}

impl AdapterFactory for FileFactory {
    fn type_name(&self) -> &'static str {
        "file"
    }

    /// Reads and validates the CSV file. The error is for key `path` and lists
    /// each bad row with its line and column.
    fn build(
        &self,
        context: SourceContext,
        options: serde_json::Value,
    ) -> Result<Arc<dyn Adapter>, BuildError> {
        let options: FileOptions = parse_options(options)?;
        if options.path.as_os_str().is_empty() {
            return Err(BuildError::for_key(
                "path",
                "is empty; write the path of the CSV file, e.g. \"contacts.csv\"",
            ));
        }
        let path = context.config_dir.join(&options.path);
        let index = ContactIndex::load(&path, context.default_region)
            .map_err(|error| BuildError::for_key("path", error.to_string()))?;

        if index.len() == 0 {
            tracing::warn!(
                source = %context.name,
                path = %path.display(),
                "contacts file has a header but no contacts, so every lookup in it finds nothing"
            );
        } else {
            tracing::debug!(
                source = %context.name,
                path = %path.display(),
                contacts = index.len(),
                "loaded contacts file"
            );
        }
        Ok(Arc::new(FileAdapter {
            name: context.name,
            path,
            index,
        }))
    }
}

/// A source that looks callers up in contacts loaded from a CSV file.
pub struct FileAdapter {
    name: String,
    path: PathBuf,
    index: ContactIndex,
}

impl fmt::Debug for FileAdapter {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("FileAdapter")
            .field("name", &self.name)
            .field("path", &self.path)
            .field("contacts", &self.index.len())
            .finish()
    }
}

#[async_trait]
impl Adapter for FileAdapter {
    fn name(&self) -> &str {
        &self.name
    }

    fn content_digest(&self) -> Option<u64> {
        Some(self.index.digest())
    }

    /// Returns every row that lists the caller's number, in file order. Never
    /// fails, because the file was read when the adapter was built.
    async fn find(&self, query: &Query) -> Result<Vec<Contact>, LookupError> {
        query.record_request(&self.name, || {
            format!(
                "index lookup of {} in {}",
                query.caller().e164(),
                self.path.display()
            )
        });
        let contacts = self.index.find(query.caller().e164());
        tracing::debug!(
            source = %self.name,
            caller = %query.caller().masked(),
            request_id = query.request_id(),
            found = contacts.len(),
            "looked up caller in contacts file"
        );
        Ok(contacts)
    }
}

#[cfg(test)]
mod tests {
    use std::path::Path;

    use super::*;

    #[test]
    fn debug_shows_name_path_and_count() {
        let path = Path::new("contacts.csv");
        let text = "name,phone,email,profile_link\nAda Lovelace,+1 415 555 0123,ada@example.com,https://crm.example.com/1\n";
        let index = ContactIndex::parse(path, text.as_bytes(), "US".parse().unwrap()).unwrap();
        let adapter = FileAdapter {
            name: "contacts".to_string(),
            path: path.to_path_buf(),
            index,
        };

        let debug = format!("{adapter:?}");
        assert_eq!(
            debug,
            r#"FileAdapter { name: "contacts", path: "contacts.csv", contacts: 1 }"#
        );
    }
}
