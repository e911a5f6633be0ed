//! JustCall's request signatures: the scheme, the timestamp window, and the
//! step that turns an unverified request into a verified one.

mod prefix;
mod request;
pub mod scheme;
mod seen;
pub mod timestamp;

pub use request::{
    HeaderValues, Rejection, RequestError, SignatureHeaders, UnverifiedRequest, VerifiedBefore,
    VerifiedRequest, Verifier, MAX_REQUEST_ID_CHARS,
};
pub use scheme::{sign, Scheme};

#[cfg(test)]
mod tests;
