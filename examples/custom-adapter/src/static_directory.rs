//! The `static-directory` adapter: contacts listed in the source's own table
//! of the config file.
//!
//! ```toml
//! [[sources]]
//! name = "directory"
//! type = "static-directory"
//!
//! [[sources.contacts]]
//! id = "ada"
//! name = "Ada Lovelace"
//! email = "ada@example.com"                  # optional
//! link = "https://intranet.example.com/people/ada"
//! phones = ["+1 (415) 555-0123"]
//! ```

use std::sync::Arc;

use async_trait::async_trait;
use badgegate_adapter::phone::{parse_stored, stored_matches};
use badgegate_adapter::{
    parse_options, Adapter, AdapterFactory, BuildError, Contact, LookupError, Query, Region,
    SourceContext,
};
use serde::Deserialize;

/// Builds [`StaticDirectory`] sources from `type = "static-directory"` tables.
pub struct StaticDirectoryFactory;

/// The source table's own keys. `deny_unknown_fields` makes a misspelt key
/// an error that names it.
#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct Options {
    contacts: Vec<Entry>,
}

/// One `[[sources.contacts]]` entry.
#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct Entry {
    id: String,
    name: String,
    email: Option<String>,
    link: String,
    phones: Vec<String>,
}

impl AdapterFactory for StaticDirectoryFactory {
    fn type_name(&self) -> &'static str {
        "static-directory"
    }

    /// Checks every entry, so that `badgegate check` reports a bad one. A
    /// factory reads what it needs here but makes no network call.
    fn build(
        &self,
        context: SourceContext,
        options: serde_json::Value,
    ) -> Result<Arc<dyn Adapter>, BuildError> {
        let options: Options = parse_options(options)?;
        if options.contacts.is_empty() {
            return Err(BuildError::for_key(
                "contacts",
                "is empty; add at least one [[sources.contacts]] entry",
            ));
        }
        let mut contacts = Vec::with_capacity(options.contacts.len());
        for (index, entry) in options.contacts.into_iter().enumerate() {
            contacts.push(entry.into_contact(index, context.default_region)?);
        }
        Ok(Arc::new(StaticDirectory {
            name: context.name,
            region: context.default_region,
            contacts,
        }))
    }
}

impl Entry {
    fn into_contact(self, index: usize, region: Region) -> Result<Contact, BuildError> {
        let key = format!("contacts[{index}]");
        if !self.link.starts_with("https://") && !self.link.starts_with("http://") {
            return Err(BuildError::for_key(
                format!("{key}.link"),
                "is not an http(s) URL; write the record's web address",
            ));
        }
        if self.phones.is_empty() {
            return Err(BuildError::for_key(
                format!("{key}.phones"),
                "is empty; list the contact's numbers",
            ));
        }
        for (position, phone) in self.phones.iter().enumerate() {
            parse_stored(phone, region).map_err(|error| {
                BuildError::for_key(format!("{key}.phones[{position}]"), error.to_string())
            })?;
        }
        Ok(Contact {
            id: self.id,
            name: Some(self.name),
            email: self.email,
            link: self.link,
            phones: self.phones,
            updated_at: None,
        })
    }
}

/// Contacts held in memory. A real adapter would call its CRM in
/// [`Adapter::find`], bounded by the deadline in the query.
pub struct StaticDirectory {
    name: String,
    region: Region,
    contacts: Vec<Contact>,
}

#[async_trait]
impl Adapter for StaticDirectory {
    fn name(&self) -> &str {
        &self.name
    }

    /// Returns the entries that store the caller's number. The gateway checks
    /// the numbers of every candidate again, so an adapter whose search is
    /// looser may return more.
    async fn find(&self, query: &Query) -> Result<Vec<Contact>, LookupError> {
        let matches = self
            .contacts
            .iter()
            .filter(|contact| {
                contact.phones.iter().any(|phone| {
                    stored_matches(phone, query.caller(), self.region).unwrap_or(false)
                })
            })
            .cloned()
            .collect();
        Ok(matches)
    }
}
