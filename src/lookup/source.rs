//! One configured source with the protections around its calls: the
//! circuit breaker, the rate limit, the per-call timeout and retries.

use std::fmt;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use badgegate_adapter::{Adapter, Contact, LookupError, Query};
use rand::Rng;
use tokio::time::Instant;
use tracing::Instrument;

use crate::shared::SharedTier;
use crate::telemetry;

use super::circuit::{CircuitBreaker, Permit, Transition};
use super::rate_limit::{RateLimiter, Slot};

/// First retry delay; each further retry doubles it. The delay actually
/// waited is a random point in its upper half, so that lookups that failed
/// together do not retry together.
const BACKOFF_BASE: Duration = Duration::from_millis(100);

/// How a source's calls are bounded and retried.
#[derive(Debug, Clone)]
pub struct SourcePolicy {
    pub timeout: Duration,
    pub max_retries: u32,
    /// Calls per one-second window; `None` for no limit.
    pub rate_limit_per_sec: Option<u32>,
    pub circuit_failures: u32,
    pub circuit_open_for: Duration,
}

/// A built adapter with the protections every source gets.
pub struct Source {
    pub name: String,
    pub kind: String,
    pub policy: SourcePolicy,
    pub adapter: Arc<dyn Adapter>,
    limiter: Option<RateLimiter>,
    /// Redis, when the rate limit is shared by the replicas.
    shared: Option<Arc<SharedTier>>,
    circuit: CircuitBreaker,
    readiness: Mutex<Readiness>,
}

/// Where a source's start-up stands.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Readiness {
    Starting,
    Ready,
    /// The start-up failed with this error.
    Failed(String),
}

impl fmt::Debug for Source {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Source")
            .field("name", &self.name)
            .field("kind", &self.kind)
            .field("policy", &self.policy)
            .finish_non_exhaustive()
    }
}

/// Why a source gave no candidates.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum SourceError {
    /// The source's last call failed.
    #[error("{0}")]
    Upstream(LookupError),
    /// The circuit breaker is open after repeated failures.
    #[error("skipped: the circuit is open after repeated failures")]
    CircuitOpen,
    /// The rate limit has no slot before the deadline.
    #[error(
        "skipped: the rate limit of {0} calls per second has no free slot before the deadline"
    )]
    RateLimited(usize),
    /// The deadline passed before a call could start.
    #[error("skipped: no time left before the deadline")]
    NoTimeLeft,
}

impl SourceError {
    /// A short, fixed label for logs and metrics.
    pub fn kind(&self) -> &'static str {
        match self {
            SourceError::Upstream(error) => error.kind(),
            SourceError::CircuitOpen => "circuit_open",
            SourceError::RateLimited(_) => "rate_limit_wait",
            SourceError::NoTimeLeft => "no_time_left",
        }
    }
}

/// What one source did for one lookup.
#[derive(Debug)]
pub struct SourceReport {
    pub duration: Duration,
    /// Upstream calls made, retries included.
    pub calls: u32,
    pub result: Result<Vec<Contact>, SourceError>,
}

impl Source {
    pub fn new(
        name: String,
        kind: String,
        policy: SourcePolicy,
        adapter: Arc<dyn Adapter>,
    ) -> Self {
        Source {
            limiter: policy.rate_limit_per_sec.map(RateLimiter::new),
            circuit: CircuitBreaker::new(policy.circuit_failures, policy.circuit_open_for),
            readiness: Mutex::new(Readiness::Starting),
            shared: None,
            name,
            kind,
            policy,
            adapter,
        }
    }

    /// Shares the source's rate limit with the other replicas through Redis.
    pub fn share_rate_limit(&mut self, shared: Option<Arc<SharedTier>>) {
        self.shared = shared;
    }

    pub fn readiness(&self) -> Readiness {
        self.readiness
            .lock()
            .expect("readiness lock is never poisoned")
            .clone()
    }

    /// Runs the adapter's start-up and records whether it succeeded.
    pub async fn start(&self) {
        telemetry::source_ready(&self.name, false);
        let readiness = match self.adapter.start().await {
            Ok(()) => {
                tracing::debug!(source = %self.name, "source started");
                Readiness::Ready
            }
            Err(error) => {
                tracing::error!(
                    source = %self.name,
                    error_kind = error.kind(),
                    error = %error,
                    "source start-up failed; lookups will try it anyway"
                );
                Readiness::Failed(error.to_string())
            }
        };
        telemetry::source_ready(&self.name, readiness == Readiness::Ready);
        *self
            .readiness
            .lock()
            .expect("readiness lock is never poisoned") = readiness;
    }

    /// Marks a source whose start-up failed as ready once a call succeeds,
    /// so a brief failure at start does not keep it out of a load balancer.
    fn mark_ready_after_success(&self) {
        let mut readiness = self
            .readiness
            .lock()
            .expect("readiness lock is never poisoned");
        if matches!(*readiness, Readiness::Failed(_)) {
            *readiness = Readiness::Ready;
            telemetry::source_ready(&self.name, true);
            tracing::info!(source = %self.name, "source ready: a call succeeded after its start-up failed");
        }
    }

    /// Whether the circuit breaker currently skips this source.
    pub fn circuit_open(&self) -> bool {
        self.circuit.is_open()
    }

    /// Asks the source for the query's number: waits for a rate-limit slot,
    /// calls with the source's timeout cut to the time left, and retries
    /// connection failures, timeouts, 5xx and 429 while the deadline allows.
    pub async fn find(&self, query: &Query) -> SourceReport {
        let started = Instant::now();
        let mut calls = 0;
        let span =
            tracing::info_span!("source", request_id = query.request_id(), source = %self.name);
        let result = self
            .find_with_retries(query, &mut calls)
            .instrument(span)
            .await;
        telemetry::source_finished(&self.name, started.elapsed());
        SourceReport {
            duration: started.elapsed(),
            calls,
            result,
        }
    }

    async fn find_with_retries(
        &self,
        query: &Query,
        calls: &mut u32,
    ) -> Result<Vec<Contact>, SourceError> {
        let mut retries = 0;
        loop {
            let permit = self.circuit.permit(Instant::now());
            if permit == Permit::Skip {
                return Err(SourceError::CircuitOpen);
            }
            self.wait_for_slot(query).await?;
            let left = query.time_left();
            if left.is_zero() {
                return Err(SourceError::NoTimeLeft);
            }
            let limit = self.policy.timeout.min(left);
            *calls += 1;
            let call_started = Instant::now();
            let result = match tokio::time::timeout(limit, self.adapter.find(query)).await {
                Ok(result) => result,
                Err(_) => Err(LookupError::Timeout(limit)),
            };
            telemetry::upstream_call(&self.name, status_class(&result), call_started.elapsed());
            self.record(permit, result.is_ok());

            let error = match result {
                Ok(contacts) => {
                    self.mark_ready_after_success();
                    return Ok(contacts);
                }
                Err(error) => error,
            };
            if !error.is_retryable() || retries >= self.policy.max_retries {
                return Err(SourceError::Upstream(error));
            }
            let delay = error.retry_after().unwrap_or_else(|| backoff(retries));
            if Instant::now() + delay >= query.deadline() {
                tracing::warn!(
                    source = %self.name,
                    error_kind = error.kind(),
                    delay_ms = delay.as_millis() as u64,
                    "not retrying: the delay would pass the lookup deadline"
                );
                return Err(SourceError::Upstream(error));
            }
            retries += 1;
            telemetry::retry(&self.name);
            tracing::warn!(
                source = %self.name,
                error_kind = error.kind(),
                status = error.status(),
                retry = retries,
                delay_ms = delay.as_millis() as u64,
                "retrying a failed source call"
            );
            tokio::time::sleep(delay).await;
        }
    }

    async fn wait_for_slot(&self, query: &Query) -> Result<(), SourceError> {
        let Some(limiter) = &self.limiter else {
            return Ok(());
        };
        if let Some(shared) = &self.shared {
            let rate = limiter.rate() as u32;
            match shared.reserve(&self.name, rate, query.time_left()).await {
                Ok(Some(wait)) if wait.is_zero() => return Ok(()),
                Ok(Some(wait)) => {
                    telemetry::rate_limit_wait(&self.name);
                    tracing::debug!(source = %self.name, wait_ms = wait.as_millis() as u64, "waiting for a fleet-wide rate-limit slot");
                    tokio::time::sleep(wait).await;
                    return Ok(());
                }
                Ok(None) => {
                    telemetry::rate_limit_rejection(&self.name);
                    tracing::warn!(
                        source = %self.name,
                        rate_limit_per_sec = rate,
                        "skipped a call: the fleet-wide rate limit has no free slot before the deadline"
                    );
                    return Err(SourceError::RateLimited(limiter.rate()));
                }
                // Redis did not answer: the local limiter takes over.
                Err(()) => {}
            }
        }
        match limiter.reserve(Instant::now(), query.deadline()) {
            Some(Slot::Now) => Ok(()),
            Some(Slot::At(start)) => {
                telemetry::rate_limit_wait(&self.name);
                tracing::debug!(
                    source = %self.name,
                    wait_ms = start.saturating_duration_since(Instant::now()).as_millis() as u64,
                    "waiting for a rate-limit slot"
                );
                tokio::time::sleep_until(start).await;
                Ok(())
            }
            None => {
                telemetry::rate_limit_rejection(&self.name);
                tracing::warn!(
                    source = %self.name,
                    rate_limit_per_sec = limiter.rate(),
                    "skipped a call: the rate limit has no free slot before the deadline"
                );
                Err(SourceError::RateLimited(limiter.rate()))
            }
        }
    }

    fn record(&self, permit: Permit, succeeded: bool) {
        let Some(transition) = self.circuit.record(succeeded, Instant::now()) else {
            return;
        };
        let open_secs = self.policy.circuit_open_for.as_secs();
        let (open, label) = match transition {
            Transition::Opened => (true, "open"),
            Transition::Reopened => (true, "open"),
            Transition::Closed => (false, "closed"),
        };
        telemetry::circuit_changed(&self.name, open, label);
        match transition {
            Transition::Opened => tracing::warn!(
                source = %self.name,
                failures = self.policy.circuit_failures,
                open_secs,
                "circuit opened: the source is skipped after repeated failures"
            ),
            Transition::Reopened => tracing::warn!(
                source = %self.name,
                open_secs,
                "circuit reopened: the probe call failed"
            ),
            Transition::Closed => tracing::warn!(
                source = %self.name,
                probe = permit == Permit::Probe,
                "circuit closed: the probe call succeeded"
            ),
        }
    }
}

/// The status class of one call, for the upstream call counter.
fn status_class(result: &Result<Vec<Contact>, LookupError>) -> &'static str {
    match result {
        Ok(_) => "2xx",
        Err(LookupError::RateLimited { .. }) => "429",
        Err(error) => match error.status() {
            Some(status) if status >= 500 => "5xx",
            Some(_) => "4xx",
            None => error.kind(),
        },
    }
}

/// The delay before retry number `retries + 1`: the base doubled per retry,
/// with jitter over the upper half.
fn backoff(retries: u32) -> Duration {
    let full = BACKOFF_BASE * 2u32.saturating_pow(retries.min(10));
    let fraction = rand::thread_rng().gen_range(0.5..=1.0);
    full.mul_f64(fraction)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn backoff_doubles_with_jitter() {
        for retries in 0..4 {
            let full = BACKOFF_BASE * 2u32.pow(retries);
            for _ in 0..50 {
                let delay = backoff(retries);
                assert!(
                    delay >= full / 2 && delay <= full,
                    "retry {retries}: {delay:?}"
                );
            }
        }
    }
}
