//! The lookup pipeline: cache, then the sources, then the re-check of every
//! candidate and the choice between several matches.
//!
//! The cache key is the caller's E.164, so every spelling of one number
//! shares one entry. Concurrent lookups of one number that is not fresh in
//! the cache share one run over the sources, which runs in its own task: a
//! request that gives up at its deadline leaves the run to finish and fill
//! the cache for the next caller.

mod cache;
mod circuit;
mod front;
mod matching;
mod outcome;
mod parsed;
mod rate_limit;
mod shared_cache;
mod source;

use std::collections::HashMap;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use badgegate_adapter::phone::PhoneError;
use badgegate_adapter::{Contact, PhoneNumber, Query, Region};
use futures_util::future::{BoxFuture, FutureExt, Shared};
use futures_util::stream::{FuturesUnordered, StreamExt};
use tokio::time::Instant;
use tracing::Instrument;

use crate::config::{LookupMode, MultipleMatches, Settings};
use crate::shared::{Purge, SharedTier};

use cache::{Age, AnswerCache, CachedAnswer, Freshness};
pub use matching::Verdict;
pub use outcome::{Answer, Attempt, Badge, CacheStatus, LookupResult, Outcome, Unavailable};
use parsed::ParsedNumbers;
pub use source::{Readiness, Source, SourceError, SourcePolicy, SourceReport};

/// First pause before a failed source start-up is tried again; it doubles
/// up to `START_RETRY_MAX_PAUSE`.
const START_RETRY_FIRST_PAUSE: Duration = Duration::from_secs(5);

const START_RETRY_MAX_PAUSE: Duration = Duration::from_secs(60);

/// The lookup pipeline shared by every request.
#[derive(Clone)]
pub struct Lookup {
    inner: Arc<Inner>,
}

struct Inner {
    sources: Vec<Source>,
    cache: AnswerCache,
    freshness: Freshness,
    shared: Option<Arc<SharedTier>>,
    /// Runs over the sources in progress, by cache key.
    in_flight: Mutex<HashMap<String, SharedRun>>,
    deadline: Duration,
    /// Callers' numbers already parsed, by the text JustCall sent.
    numbers: ParsedNumbers,
    mode: LookupMode,
    policy: MultipleMatches,
}

/// What one run over the sources produced, shared by every request that
/// waited for it.
#[derive(Debug)]
struct Run {
    result: Result<Answer, Unavailable>,
    attempts: Vec<Attempt>,
    /// Whether the answer came from the shared Redis cache.
    from_shared: bool,
    /// An expired shared answer, to serve when no source could answer.
    stale_shared: Option<CachedAnswer>,
}

type SharedRun = Shared<BoxFuture<'static, Arc<Run>>>;

/// The result of purging one number.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Purged {
    /// Whether this replica had an answer cached for the number.
    pub removed: bool,
    /// Whether Redis removed its answer and published the purge to the other
    /// replicas, or `true` without Redis.
    pub shared_complete: bool,
}

impl Lookup {
    /// Builds the pipeline; with `shared`, answers, purges and rate limits
    /// are shared with the other replicas through Redis.
    pub fn new(
        settings: &Settings,
        mut sources: Vec<Source>,
        shared: Option<Arc<SharedTier>>,
    ) -> Self {
        for source in &mut sources {
            source.share_rate_limit(shared.clone());
        }
        badgegate_adapter::phone::load_metadata();
        let freshness = Freshness {
            found: settings.cache.ttl,
            not_found: settings.cache.not_found_ttl,
            stale_if_error: settings.cache.stale_if_error,
            refresh_after: settings.cache.refresh_after,
        };
        let cache = AnswerCache::new(settings.cache.max_entries, freshness);
        Lookup {
            inner: Arc::new(Inner {
                sources,
                cache,
                freshness,
                in_flight: Mutex::new(HashMap::new()),
                shared,
                deadline: settings.lookup.deadline,
                numbers: ParsedNumbers::new(settings.lookup.default_region),
                mode: settings.lookup.mode,
                policy: settings.lookup.on_multiple_matches,
            }),
        }
    }

    pub fn region(&self) -> Region {
        self.inner.numbers.region()
    }

    /// Parses a caller's number as JustCall sent it, in the default region.
    /// Texts parsed before cost a lookup, not a parse.
    pub fn parse_caller(&self, raw: &str) -> Result<Arc<PhoneNumber>, PhoneError> {
        self.inner.numbers.parse(raw)
    }

    pub fn sources(&self) -> &[Source] {
        &self.inner.sources
    }

    /// Runs every adapter's start-up at once and records which failed, and
    /// starts following the purges published through Redis.
    pub async fn start_sources(&self) {
        self.follow_shared_purges();
        futures_util::future::join_all(self.inner.sources.iter().map(Source::start)).await;
        self.retry_failed_starts();
    }

    /// Retries each failed start-up in the background, with growing pauses,
    /// until it succeeds, a call to the source succeeds, or the pipeline is
    /// replaced by a reload. Without this, a replica whose source failed at
    /// start would stay unready, and an unready replica gets no traffic that
    /// could prove the source well.
    fn retry_failed_starts(&self) {
        for (index, source) in self.inner.sources.iter().enumerate() {
            if !matches!(source.readiness(), Readiness::Failed(_)) {
                continue;
            }
            let inner = Arc::downgrade(&self.inner);
            tokio::spawn(async move {
                let mut pause = START_RETRY_FIRST_PAUSE;
                loop {
                    tokio::time::sleep(pause).await;
                    let Some(inner) = inner.upgrade() else { return };
                    let source = &inner.sources[index];
                    if !matches!(source.readiness(), Readiness::Failed(_)) {
                        return;
                    }
                    tracing::info!(source = %source.name, "retrying the source's start-up");
                    source.start().await;
                    pause = (pause * 2).min(START_RETRY_MAX_PAUSE);
                }
            });
        }
    }

    /// Whether the last Redis call succeeded; `None` without Redis.
    pub fn redis_up(&self) -> Option<bool> {
        self.inner.shared.as_ref().map(|shared| shared.is_up())
    }

    /// Counts the cached answers, fresh or stale.
    pub fn cached_entries(&self) -> u64 {
        self.inner.cache.len()
    }

    /// Removes the cached answer for one number, on every replica when Redis
    /// is configured; returns whether this replica had one.
    pub async fn purge(&self, caller: &PhoneNumber) -> Purged {
        let removed = self.inner.cache.remove(caller.e164());
        let shared_complete = match &self.inner.shared {
            Some(shared) => shared.purge(Purge::Number(caller.e164().to_string())).await,
            None => true,
        };
        Purged {
            removed,
            shared_complete,
        }
    }

    /// Copies every cached answer of `previous` into this pipeline's cache,
    /// so a config reload does not send every caller to the sources again.
    pub fn import_cache(&self, previous: &Lookup) {
        previous.inner.cache.copy_into(&self.inner.cache);
    }

    /// Looks `caller` up and returns by `started` plus the lookup deadline.
    pub async fn find(
        &self,
        caller: &PhoneNumber,
        request_id: &str,
        started: Instant,
    ) -> LookupResult {
        self.find_at(caller, request_id, started, Instant::now())
            .await
    }

    /// Like [`Lookup::find`], with the ages of cached answers judged at
    /// `now`, a clock reading the caller has just taken.
    pub async fn find_at(
        &self,
        caller: &PhoneNumber,
        request_id: &str,
        started: Instant,
        now: Instant,
    ) -> LookupResult {
        self.look_up(caller, request_id, started, now, false).await
    }

    /// Like [`Lookup::find`], and every attempt lists the requests its
    /// adapter made, for `badgegate lookup`.
    pub async fn find_traced(&self, caller: &PhoneNumber, started: Instant) -> LookupResult {
        self.look_up(caller, "trace", started, Instant::now(), true)
            .await
    }

    async fn look_up(
        &self,
        caller: &PhoneNumber,
        request_id: &str,
        started: Instant,
        now: Instant,
        traced: bool,
    ) -> LookupResult {
        let deadline = started + self.inner.deadline;
        let key = caller.e164();
        let cached = self.inner.cache.get(key, now);
        // The answer moves into the result rather than being cloned: a clone
        // and a drop would each write the badge's reference count, which
        // every worker thread that serves this caller shares.
        let cached = match cached {
            Some(entry) => match entry.age(now, &self.inner.freshness) {
                Age::Fresh => return LookupResult::hit(entry.answer),
                Age::RefreshDue => {
                    self.refresh_in_background(key, caller);
                    return LookupResult::hit(entry.answer);
                }
                Age::Stale => Some(entry),
            },
            None => None,
        };

        // The run logs inside the span of the request that started it.
        let span = tracing::Span::current();
        let run = self.join_or_start_run(key, caller, request_id, deadline, traced, span);
        let (unavailable, attempts, stale_shared) = match tokio::time::timeout_at(deadline, run)
            .await
        {
            Ok(run) => match &run.result {
                Ok(answer) => {
                    return LookupResult {
                        outcome: answer.clone().into(),
                        cache: if run.from_shared {
                            CacheStatus::SharedHit
                        } else {
                            CacheStatus::Miss
                        },
                        attempts: run.attempts.clone(),
                    }
                }
                Err(unavailable) => (*unavailable, run.attempts.clone(), run.stale_shared.clone()),
            },
            Err(_) => (Unavailable::Deadline, Vec::new(), None),
        };
        match cached.or(stale_shared) {
            Some(entry) => {
                let age = Instant::now().saturating_duration_since(entry.stored_at);
                tracing::warn!(
                    request_id,
                    number = %caller.masked(),
                    age_secs = age.as_secs(),
                    reason = %unavailable,
                    "answering with a stale cached answer because no source could answer"
                );
                LookupResult {
                    outcome: entry.answer.into(),
                    cache: CacheStatus::Stale,
                    attempts,
                }
            }
            None => LookupResult {
                outcome: Outcome::Unavailable(unavailable),
                cache: CacheStatus::Miss,
                attempts,
            },
        }
    }

    /// Removes every cached answer, on every replica when Redis is configured.
    pub async fn clear_cache(&self) -> bool {
        self.inner.cache.clear();
        match &self.inner.shared {
            Some(shared) => shared.purge(Purge::All).await,
            None => true,
        }
    }

    /// Applies a purge published through Redis, by any replica, this one
    /// included.
    fn apply_purge(inner: &Inner, purge: Purge) {
        match purge {
            Purge::All => inner.cache.clear(),
            Purge::Number(e164) => {
                inner.cache.remove(&e164);
            }
        }
    }

    /// Follows the purges published through Redis for as long as this
    /// pipeline is in use. They include this replica's own purges, which
    /// Redis sends back. Applying one again removes at most an answer cached
    /// since.
    fn follow_shared_purges(&self) {
        let Some(shared) = &self.inner.shared else {
            return;
        };
        let alive = Arc::downgrade(&self.inner);
        let target = Arc::downgrade(&self.inner);
        let shared = Arc::clone(shared);
        tokio::spawn(shared.follow_purges(
            move || alive.strong_count() > 0,
            move |purge| {
                if let Some(inner) = target.upgrade() {
                    tracing::debug!(?purge, "applying a purge received through Redis");
                    Lookup::apply_purge(&inner, purge);
                }
            },
        ));
    }

    /// Starts a run that refreshes a cached answer, unless one is in progress.
    fn refresh_in_background(&self, key: &str, caller: &PhoneNumber) {
        let deadline = Instant::now() + self.inner.deadline;
        // Outside the request's span, because the refresh outlives the request.
        // Its lines carry request_id "background-refresh" instead.
        let run = self.join_or_start_run(
            key,
            caller,
            "background-refresh",
            deadline,
            false,
            tracing::Span::none(),
        );
        tokio::spawn(async move {
            run.await;
        });
    }

    /// Returns the run in progress for `key`, or starts one in its own task.
    fn join_or_start_run(
        &self,
        key: &str,
        caller: &PhoneNumber,
        request_id: &str,
        deadline: Instant,
        traced: bool,
        span: tracing::Span,
    ) -> SharedRun {
        let mut in_flight = self
            .inner
            .in_flight
            .lock()
            .expect("in-flight lock is never poisoned");
        if let Some(run) = in_flight.get(key) {
            return run.clone();
        }
        let inner = Arc::clone(&self.inner);
        let mut query = Query::new(caller.clone(), deadline, request_id);
        if traced {
            query = query.traced();
        }
        let task_key = key.to_string();
        let task = tokio::spawn(
            async move {
                // Boxed: the run's state machine is several kilobytes, and
                // unboxed it would be copied into the task on every spawn.
                let run = Box::pin(inner.resolve(&task_key, &query)).await;
                inner
                    .in_flight
                    .lock()
                    .expect("in-flight lock is never poisoned")
                    .remove(&task_key);
                Arc::new(run)
            }
            .instrument(span),
        );
        let run = async move {
            task.await.unwrap_or_else(|error| {
                tracing::error!(%error, "a lookup task ended without an answer");
                Arc::new(Run {
                    result: Err(Unavailable::SourcesFailed),
                    attempts: Vec::new(),
                    from_shared: false,
                    stale_shared: None,
                })
            })
        }
        .boxed()
        .shared();
        in_flight.insert(key.to_string(), run.clone());
        run
    }
}

impl LookupResult {
    fn hit(answer: Answer) -> Self {
        LookupResult {
            outcome: answer.into(),
            cache: CacheStatus::Hit,
            attempts: Vec::new(),
        }
    }
}

/// What the pipeline makes of one source's report.
enum Judgement {
    /// The lookup is decided: a badge, or no badge for an ambiguous number.
    Decided(Answer),
    /// The source matched nothing; ask the next one.
    NoMatch,
    /// The source failed; ask the next one.
    Failed,
}

impl Inner {
    /// Answers from the shared cache when it holds a fresh answer, else from
    /// the sources, and stores what the sources answered in both caches.
    async fn resolve(&self, key: &str, query: &Query) -> Run {
        // A run that finished between this request's cache read and its
        // start may have stored a fresh answer already.
        let now = Instant::now();
        if let Some(cached) = self.cache.get(key, now) {
            if cached.age(now, &self.freshness) == Age::Fresh {
                return Run::answered(cached.answer, Vec::new());
            }
        }
        let mut stale_shared = None;
        if let Some(shared) = &self.shared {
            if let Some(stored) = shared.get(key).await {
                let cached = shared_cache::to_cached(&stored);
                match cached.age(Instant::now(), &self.freshness) {
                    Age::Fresh | Age::RefreshDue => {
                        self.cache.insert(key, cached.clone());
                        return Run {
                            result: Ok(cached.answer),
                            attempts: Vec::new(),
                            from_shared: true,
                            stale_shared: None,
                        };
                    }
                    Age::Stale => stale_shared = Some(cached),
                }
            }
        }
        let mut run = self.ask_sources(query).await;
        if let Ok(answer) = &run.result {
            let cached = CachedAnswer {
                answer: answer.clone(),
                stored_at: Instant::now(),
            };
            self.cache.insert(key, cached);
            if let Some(shared) = &self.shared {
                let shared = Arc::clone(shared);
                let stored = shared_cache::to_stored(answer);
                let retention = self.freshness.fresh_for(answer) + self.freshness.stale_if_error;
                let key = key.to_string();
                tokio::spawn(async move { shared.put(&key, &stored, retention).await });
            }
        }
        run.stale_shared = stale_shared;
        run
    }

    async fn ask_sources(&self, query: &Query) -> Run {
        let mut attempts = Vec::with_capacity(self.sources.len());
        let mut failures = 0;
        match self.mode {
            LookupMode::FirstMatch => {
                for source in &self.sources {
                    let report = source.find(query).await;
                    match self.judge(source, report, query, &mut attempts) {
                        Judgement::Decided(answer) => return Run::answered(answer, attempts),
                        Judgement::NoMatch => {}
                        Judgement::Failed => failures += 1,
                    }
                }
            }
            LookupMode::Parallel => {
                // Every source is asked at once, but reports are judged in
                // the listed order: a match decides only once every source
                // before it has reported no match, and the rest are dropped.
                let mut pending: FuturesUnordered<_> = self
                    .sources
                    .iter()
                    .enumerate()
                    .map(|(index, source)| async move { (index, source.find(query).await) })
                    .collect();
                let mut reports: Vec<Option<SourceReport>> =
                    self.sources.iter().map(|_| None).collect();
                let mut next = 0;
                while let Some((index, report)) = pending.next().await {
                    reports[index] = Some(report);
                    while let Some(report) = reports.get_mut(next).and_then(Option::take) {
                        let source = &self.sources[next];
                        next += 1;
                        match self.judge(source, report, query, &mut attempts) {
                            Judgement::Decided(answer) => {
                                for source in &self.sources[next..] {
                                    attempts.push(Attempt::cancelled(source));
                                }
                                return Run::answered(answer, attempts);
                            }
                            Judgement::NoMatch => {}
                            Judgement::Failed => failures += 1,
                        }
                    }
                }
            }
        }
        let result = if failures > 0 {
            Err(Unavailable::SourcesFailed)
        } else {
            Ok(Answer::NotFound)
        };
        Run {
            result,
            attempts,
            from_shared: false,
            stale_shared: None,
        }
    }

    fn judge(
        &self,
        source: &Source,
        report: SourceReport,
        query: &Query,
        attempts: &mut Vec<Attempt>,
    ) -> Judgement {
        let contacts = match report.result {
            Ok(contacts) => contacts,
            Err(error) => {
                tracing::error!(
                    request_id = query.request_id(),
                    source = %source.name,
                    error_kind = error.kind(),
                    calls = report.calls,
                    duration_ms = report.duration.as_millis() as u64,
                    error = %error,
                    "source lookup failed"
                );
                let mut attempt = Attempt::failed(source, report.duration, report.calls, &error);
                attempt.requests = query.recorded_requests(&source.name);
                attempts.push(attempt);
                return Judgement::Failed;
            }
        };
        let returned = contacts.len();
        let (matched, candidates) =
            matching::recheck(contacts, query.caller(), self.numbers.region());
        let matched_count = matched.len();
        let chosen = matching::choose(matched, self.policy);
        if matched_count > 1 {
            tracing::info!(
                request_id = query.request_id(),
                source = %source.name,
                count = matched_count,
                chosen = chosen.as_ref().map(|contact| contact.id.as_str()).unwrap_or("none"),
                policy = ?self.policy,
                "several records match the caller's number"
            );
        }
        tracing::debug!(source = %source.name, returned, matched = matched_count, "source returned its candidates");
        attempts.push(Attempt {
            source: source.name.clone(),
            kind: source.kind.clone(),
            duration: report.duration,
            calls: report.calls,
            result: if chosen.is_some() {
                "matched"
            } else {
                "no_match"
            },
            error: None,
            candidates,
            requests: query.recorded_requests(&source.name),
            chosen: chosen.as_ref().map(|contact| contact.id.clone()),
        });
        match chosen {
            Some(contact) => {
                Judgement::Decided(Answer::Found(badge(contact, &source.name, query.caller())))
            }
            // Several records match and the policy picks none: another
            // source's single record would still be a guess.
            None if matched_count > 1 => Judgement::Decided(Answer::NotFound),
            None => Judgement::NoMatch,
        }
    }
}

impl Run {
    fn answered(answer: Answer, attempts: Vec<Attempt>) -> Self {
        Run {
            result: Ok(answer),
            attempts,
            from_shared: false,
            stale_shared: None,
        }
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
    fn non_blank(value: &Option<String>) -> Option<&str> {
        value
            .as_deref()
            .map(str::trim)
            .filter(|value| !value.is_empty())
    }
    let email = non_blank(&contact.email);
    let fallback;
    let contact_name = match non_blank(&contact.name).or(email) {
        Some(name) => name,
        None => {
            fallback = caller.international_formatted().to_string();
            &fallback
        }
    };
    Badge::new(contact_name, &contact.link, email, source, &contact.id)
}

#[cfg(test)]
mod tests;
