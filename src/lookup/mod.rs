//! The lookup pipeline: cache, then the sources in order, then the re-check
//! of every candidate and the choice between several matches.
//!
//! The cache key is the caller's E.164, so every spelling of one number
//! shares one entry, and concurrent lookups of one uncached number share one
//! call to the sources.

mod matching;
mod outcome;

use std::sync::{Arc, Mutex};
use std::time::Duration;

use badgegate_adapter::{Adapter, Contact, LookupError, PhoneNumber, Query, Region};
use futures_util::future::join_all;
use moka::future::Cache;
use moka::Expiry;
use tokio::time::Instant;

use crate::config::{LookupMode, MultipleMatches, Settings};

pub use matching::Verdict;
pub use outcome::{Answer, Attempt, Badge, CacheStatus, LookupResult, Outcome, Unavailable};

/// A built adapter with the settings every source has.
#[derive(Clone)]
pub struct Source {
    pub name: String,
    pub kind: String,
    pub timeout: Duration,
    pub adapter: Arc<dyn Adapter>,
}

impl std::fmt::Debug for Source {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Source")
            .field("name", &self.name)
            .field("kind", &self.kind)
            .field("timeout", &self.timeout)
            .finish_non_exhaustive()
    }
}

/// The lookup pipeline shared by every request.
pub struct Lookup {
    sources: Vec<Source>,
    cache: Cache<String, Answer>,
    deadline: Duration,
    region: Region,
    mode: LookupMode,
    policy: MultipleMatches,
}

/// Gives found contacts and misses their own time to live.
struct AnswerExpiry {
    found: Duration,
    not_found: Duration,
}

impl Expiry<String, Answer> for AnswerExpiry {
    fn expire_after_create(
        &self,
        _key: &String,
        answer: &Answer,
        _created_at: std::time::Instant,
    ) -> Option<Duration> {
        Some(match answer {
            Answer::Found(_) => self.found,
            Answer::NotFound => self.not_found,
        })
    }
}

impl Lookup {
    pub fn new(settings: &Settings, sources: Vec<Source>) -> Self {
        let cache = Cache::builder()
            .max_capacity(settings.cache.max_entries)
            .expire_after(AnswerExpiry {
                found: settings.cache.ttl,
                not_found: settings.cache.not_found_ttl,
            })
            .build();
        Lookup {
            sources,
            cache,
            deadline: settings.lookup.deadline,
            region: settings.lookup.default_region,
            mode: settings.lookup.mode,
            policy: settings.lookup.on_multiple_matches,
        }
    }

    pub fn region(&self) -> Region {
        self.region
    }

    pub fn sources(&self) -> &[Source] {
        &self.sources
    }

    /// Runs every adapter's start-up at once and logs the ones that fail.
    pub async fn start_sources(&self) {
        let starts = self.sources.iter().map(|source| async move {
            match source.adapter.start().await {
                Ok(()) => tracing::debug!(source = %source.name, "source started"),
                Err(error) => tracing::error!(
                    source = %source.name,
                    error_kind = error.kind(),
                    error = %error,
                    "source start-up failed; lookups will try it anyway"
                ),
            }
        });
        join_all(starts).await;
    }

    /// Looks `caller` up and returns by `started` plus the lookup deadline.
    pub async fn find(
        &self,
        caller: &PhoneNumber,
        request_id: &str,
        started: Instant,
    ) -> LookupResult {
        let deadline = started + self.deadline;
        let key = caller.e164().to_string();
        if let Some(answer) = self.cache.get(&key).await {
            return LookupResult {
                outcome: answer.into(),
                cache: CacheStatus::Hit,
                attempts: Vec::new(),
            };
        }

        let attempts = Arc::new(Mutex::new(Vec::new()));
        let query = Query::new(caller.clone(), deadline, request_id);
        let ask = self.ask_sources(&query, Arc::clone(&attempts));
        let outcome =
            match tokio::time::timeout_at(deadline, self.cache.entry(key).or_try_insert_with(ask))
                .await
            {
                Ok(Ok(entry)) => entry.into_value().into(),
                Ok(Err(unavailable)) => Outcome::Unavailable(*unavailable),
                Err(_) => Outcome::Unavailable(Unavailable::Deadline),
            };
        let attempts =
            std::mem::take(&mut *attempts.lock().expect("attempts lock is never poisoned"));
        LookupResult {
            outcome,
            cache: CacheStatus::Miss,
            attempts,
        }
    }

    /// Removes every cached answer.
    pub fn clear_cache(&self) {
        self.cache.invalidate_all();
    }

    async fn ask_sources(
        &self,
        query: &Query,
        attempts: Arc<Mutex<Vec<Attempt>>>,
    ) -> Result<Answer, Unavailable> {
        let results: Vec<(Duration, Result<Vec<Contact>, LookupError>)> = match self.mode {
            LookupMode::Parallel => {
                join_all(self.sources.iter().map(|source| self.ask(source, query))).await
            }
            LookupMode::FirstMatch => Vec::new(),
        };
        let mut parallel_results = results.into_iter();
        let mut failures = 0;
        for source in &self.sources {
            let (duration, result) = match self.mode {
                LookupMode::Parallel => parallel_results.next().expect("one result per source"),
                LookupMode::FirstMatch => self.ask(source, query).await,
            };
            let record = |attempt: Attempt| {
                attempts
                    .lock()
                    .expect("attempts lock is never poisoned")
                    .push(attempt)
            };
            let contacts = match result {
                Ok(contacts) => contacts,
                Err(error) => {
                    failures += 1;
                    tracing::error!(
                        source = %source.name,
                        error_kind = error.kind(),
                        status = error.status(),
                        duration_ms = duration.as_millis() as u64,
                        error = %error,
                        "source lookup failed"
                    );
                    record(Attempt::failed(source, duration, &error));
                    continue;
                }
            };
            let returned = contacts.len();
            let (matched, candidates) = matching::recheck(contacts, query.caller(), self.region);
            let matched_count = matched.len();
            let chosen = matching::choose(matched, self.policy);
            if matched_count > 1 {
                tracing::info!(
                    source = %source.name,
                    count = matched_count,
                    chosen = chosen.as_ref().map(|contact| contact.id.as_str()).unwrap_or("none"),
                    policy = ?self.policy,
                    "several records match the caller's number"
                );
            }
            tracing::debug!(source = %source.name, returned, matched = matched_count, "source returned its candidates");
            record(Attempt {
                source: source.name.clone(),
                kind: source.kind.clone(),
                duration,
                result: if chosen.is_some() {
                    "matched"
                } else {
                    "no_match"
                },
                error: None,
                candidates,
                chosen: chosen.as_ref().map(|contact| contact.id.clone()),
            });
            if let Some(contact) = chosen {
                return Ok(Answer::Found(badge(contact, &source.name, query.caller())));
            }
            if matched_count > 1 {
                // Several records match and the policy picks none: another
                // source's single record would still be a guess.
                return Ok(Answer::NotFound);
            }
        }
        if failures > 0 {
            Err(Unavailable::SourcesFailed)
        } else {
            Ok(Answer::NotFound)
        }
    }

    /// Calls one source, bounded by its timeout and by the time left.
    async fn ask(
        &self,
        source: &Source,
        query: &Query,
    ) -> (Duration, Result<Vec<Contact>, LookupError>) {
        let started = Instant::now();
        let limit = source.timeout.min(query.time_left());
        if limit.is_zero() {
            return (Duration::ZERO, Err(LookupError::Timeout(Duration::ZERO)));
        }
        let result = match tokio::time::timeout(limit, source.adapter.find(query)).await {
            Ok(result) => result,
            Err(_) => Err(LookupError::Timeout(limit)),
        };
        (started.elapsed(), result)
    }
}

impl From<Answer> for Outcome {
    fn from(answer: Answer) -> Self {
        match answer {
            Answer::Found(badge) => Outcome::Found(badge),
            Answer::NotFound => Outcome::NotFound,
        }
    }
}

/// Builds the badge, falling back to the email and then the caller's number
/// when the record has no name.
fn badge(contact: Contact, source: &str, caller: &PhoneNumber) -> Badge {
    let non_blank = |value: Option<String>| {
        value
            .map(|v| v.trim().to_string())
            .filter(|v| !v.is_empty())
    };
    let email = non_blank(contact.email);
    let contact_name = non_blank(contact.name)
        .or_else(|| email.clone())
        .unwrap_or_else(|| caller.international_formatted().to_string());
    Badge {
        contact_name,
        contact_profile_link: contact.link,
        contact_email: email,
        source: source.to_string(),
        contact_id: contact.id,
    }
}

#[cfg(test)]
mod tests;
