use std::fmt;

use chrono::{DateTime, Utc};

use crate::phone::mask;

/// One record a source returned for a search: the fields a badge shows and
/// every phone number the record holds, as the source stores them.
///
/// A contact is only a candidate. The gateway re-parses `phones` and drops the
/// contact unless one of them is the caller's number, so an adapter should
/// return every record its search produced rather than filter them itself.
#[derive(Clone, PartialEq, Eq)]
pub struct Contact {
    /// The record's id in the source, for logs and traces.
    pub id: String,
    /// Display name. `None` or blank makes the gateway fall back to the email,
    /// then to the caller's number.
    pub name: Option<String>,
    pub email: Option<String>,
    /// Link to the record in the source's web interface.
    pub link: String,
    /// Phone numbers exactly as the source stores them.
    pub phones: Vec<String>,
    /// Last modification time, when the source reports one; used to pick the
    /// most recent of several matching records.
    pub updated_at: Option<DateTime<Utc>>,
}

impl fmt::Debug for Contact {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let phones: Vec<String> = self.phones.iter().map(|phone| mask(phone)).collect();
        f.debug_struct("Contact")
            .field("id", &self.id)
            .field("link", &self.link)
            .field("phones", &phones)
            .field("updated_at", &self.updated_at)
            .finish_non_exhaustive()
    }
}
