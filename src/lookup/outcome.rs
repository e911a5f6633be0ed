//! What a lookup produces: the answer, whether the cache gave it, and a
//! record of each source asked.

use std::time::Duration;

use serde::Serialize;

use super::matching::Verdict;
use super::source::SourceError;

/// The badge JustCall shows.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Badge {
    pub contact_name: String,
    pub contact_profile_link: String,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub contact_email: Option<String>,
    /// The source and record the badge came from; not sent to JustCall.
    #[serde(skip)]
    pub source: String,
    #[serde(skip)]
    pub contact_id: String,
}

/// An answer worth caching: every source answered.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Answer {
    Found(Badge),
    NotFound,
}

/// Why no answer could be given.
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
pub enum Unavailable {
    #[error("the lookup deadline passed")]
    Deadline,
    #[error("no source matched and at least one source failed")]
    SourcesFailed,
}

/// The result of one lookup.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Outcome {
    Found(Badge),
    NotFound,
    Unavailable(Unavailable),
}

impl Outcome {
    /// A short, fixed label for logs: `found`, `not_found`, `upstream_unavailable`.
    pub fn label(&self) -> &'static str {
        match self {
            Outcome::Found(_) => "found",
            Outcome::NotFound => "not_found",
            Outcome::Unavailable(_) => "upstream_unavailable",
        }
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum CacheStatus {
    /// Answered from the cache.
    Hit,
    /// Answered by the sources, or by another request's lookup of the same number.
    Miss,
    /// Answered from an expired entry because no source could answer.
    Stale,
    /// Answered from the cache shared by the replicas in Redis.
    SharedHit,
}

impl CacheStatus {
    pub fn label(self) -> &'static str {
        match self {
            CacheStatus::Hit => "hit",
            CacheStatus::Miss => "miss",
            CacheStatus::Stale => "stale",
            CacheStatus::SharedHit => "shared_hit",
        }
    }
}

/// One source asked during a lookup.
#[derive(Debug, Clone, Serialize)]
pub struct Attempt {
    pub source: String,
    #[serde(rename = "type")]
    pub kind: String,
    #[serde(serialize_with = "as_millis", rename = "duration_ms")]
    pub duration: Duration,
    /// Upstream calls made, retries included.
    pub calls: u32,
    /// `matched`, `no_match`, `failed` or `cancelled`.
    pub result: &'static str,
    /// The error's message, when the source failed.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub error: Option<String>,
    pub candidates: Vec<Verdict>,
    /// The requests the source's adapter made, when the lookup was traced.
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub requests: Vec<String>,
    /// The id of the record the badge came from, when this source matched.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub chosen: Option<String>,
}

impl Attempt {
    pub(super) fn failed(
        source: &super::Source,
        duration: Duration,
        calls: u32,
        error: &SourceError,
    ) -> Self {
        Attempt {
            source: source.name.clone(),
            kind: source.kind.clone(),
            duration,
            calls,
            result: "failed",
            error: Some(error.to_string()),
            candidates: Vec::new(),
            requests: Vec::new(),
            chosen: None,
        }
    }

    /// A source of lower priority whose call was dropped in parallel mode
    /// because a source listed before it matched.
    pub(super) fn cancelled(source: &super::Source) -> Self {
        Attempt {
            source: source.name.clone(),
            kind: source.kind.clone(),
            duration: Duration::ZERO,
            calls: 0,
            result: "cancelled",
            error: None,
            candidates: Vec::new(),
            requests: Vec::new(),
            chosen: None,
        }
    }
}

fn as_millis<S: serde::Serializer>(duration: &Duration, serializer: S) -> Result<S::Ok, S::Error> {
    serializer.serialize_f64(duration.as_secs_f64() * 1000.0)
}

/// A lookup's result with what the trace shows.
#[derive(Debug, Clone)]
pub struct LookupResult {
    pub outcome: Outcome,
    pub cache: CacheStatus,
    /// The sources asked by the run that answered; empty on a cache hit.
    pub attempts: Vec<Attempt>,
}
