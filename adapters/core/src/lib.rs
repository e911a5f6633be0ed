//! The contract between badgegate and the sources it looks callers up in.
//!
//! An adapter crate implements [`Adapter`] for one kind of source (a CRM, a
//! file, a REST API) and exposes an [`AdapterFactory`] that builds it from the
//! source's table in the config file. The gateway owns everything around the
//! call: deadlines, caching, matching candidates against the caller's number
//! and choosing between several matches. Adapters only search and report what
//! they found, so every source gets the same matching rules.

mod adapter;
mod contact;
mod error;
pub mod http;
pub mod oauth;
pub mod phone;
mod printable;
mod query;
mod secret;

pub use adapter::{parse_options, Adapter, AdapterFactory, BuildError, SourceContext};
pub use contact::Contact;
pub use error::LookupError;
pub use phone::{PhoneError, PhoneNumber, Region, SearchForm};
pub use printable::Printable;
pub use query::{Query, RecordedRequest};
pub use secret::Secret;
