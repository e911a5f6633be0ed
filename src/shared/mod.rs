//! The Redis tier that makes several replicas act as one: a shared cache of
//! answers, purges broadcast to every replica, and per-source rate limits
//! that hold across the fleet.
//!
//! Redis never fails a lookup. Every call has a short timeout; while Redis
//! is down or slow, each replica uses its in-process cache and its local
//! rate limiter, logs the change of state once, and the connection manager
//! reconnects on its own.

mod answer;
mod generation;

use std::fmt;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;
use std::time::Duration;

use badgegate_adapter::phone::mask;
use futures_util::StreamExt;
use redis::aio::{ConnectionManager, ConnectionManagerConfig};
use redis::{AsyncCommands, Client, Script};
use tokio::sync::Mutex;
use tokio::time::Instant;

use crate::config::RedisSettings;
use crate::telemetry;

pub use answer::{StoredAnswer, StoredBadge};
pub use generation::answer_generation;

/// Width of the rate-limit window, with the same margin as the local limiter.
// NOTE: the window spaces the start of calls, not their arrival at the CRM;
// a call delayed on its way by more than the 250 ms margin can still land in
// the vendor's window next to `rate` others.
const RATE_WINDOW_MS: u64 = 1250;

/// Least time between two attempts to connect after a failed one.
const RECONNECT_DELAY: Duration = Duration::from_secs(1);

/// Longest wait for the purge subscription to be set up.
const SUBSCRIBE_TIMEOUT: Duration = Duration::from_secs(2);

/// How often a purge follower checks whether its pipeline is still in use.
const LIVENESS_CHECK: Duration = Duration::from_secs(5);

/// How many keys one step of a purge of every answer asks `SCAN` for.
const PURGE_BATCH: usize = 1000;

/// Delay between attempts to re-subscribe to purges after a failure.
const RESUBSCRIBE_DELAY: Duration = Duration::from_secs(1);

/// Builds the shared tier when `[redis] url` is set, storing answers under
/// `generation` (see [`answer_generation`]).
pub fn shared_tier(
    settings: &crate::config::Settings,
    generation: &str,
) -> Option<Arc<SharedTier>> {
    let redis = settings.redis.as_ref()?;
    match SharedTier::new(redis, generation.to_string()) {
        Ok(tier) => Some(tier),
        Err(error) => {
            tracing::error!(%error, "cannot use redis.url; running without the shared tier");
            None
        }
    }
}

/// The Redis connection and what is known of its health.
pub struct SharedTier {
    client: Client,
    /// The connection in use; dropped after a connection-level failure so
    /// that the next call connects anew.
    connection: Mutex<Option<ConnectionManager>>,
    /// When the last attempt to connect failed.
    last_failed_connect: std::sync::Mutex<Option<Instant>>,
    prefix: String,
    /// See [`answer_generation`]; part of every answer's key.
    generation: String,
    timeout: Duration,
    healthy: AtomicBool,
    rate_script: Script,
}

/// What a purge message asks every replica to drop.
#[derive(Clone, PartialEq, Eq)]
pub enum Purge {
    /// The answer cached for this E.164 number.
    Number(String),
    All,
}

/// Shows only the last four digits of a purged number, as every log does.
impl fmt::Debug for Purge {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Purge::Number(e164) => f
                .debug_tuple("Number")
                .field(&format_args!("{}", mask(e164)))
                .finish(),
            Purge::All => f.write_str("All"),
        }
    }
}

impl SharedTier {
    /// Prepares the client; the connection is made on first use, so a Redis
    /// that is down at start does not stop the gateway.
    pub fn new(
        settings: &RedisSettings,
        generation: String,
    ) -> Result<Arc<SharedTier>, redis::RedisError> {
        let client = Client::open(settings.url.expose())?;
        Ok(Arc::new(SharedTier {
            client,
            connection: Mutex::new(None),
            last_failed_connect: std::sync::Mutex::new(None),
            prefix: settings.key_prefix.clone(),
            generation,
            timeout: settings.timeout,
            healthy: AtomicBool::new(true),
            rate_script: Script::new(include_str!("rate_limit.lua")),
        }))
    }

    fn answer_key(&self, e164: &str) -> String {
        format!("{}answer:{}:{e164}", self.prefix, self.generation)
    }

    fn purge_channel(&self) -> String {
        format!("{}purge", self.prefix)
    }

    fn rate_key(&self, source: &str) -> String {
        format!("{}rate:{source}", self.prefix)
    }

    /// Whether the last Redis call succeeded.
    pub fn is_up(&self) -> bool {
        self.healthy.load(Ordering::Relaxed)
    }

    /// Returns the connection, connecting first when there is none. After a
    /// failed attempt, no new one is made for a second, so a Redis that is
    /// down costs each lookup nothing but this check.
    async fn connection(&self) -> Result<ConnectionManager, redis::RedisError> {
        let mut slot = self.connection.lock().await;
        if let Some(connection) = slot.as_ref() {
            return Ok(connection.clone());
        }
        let recently_failed = self
            .last_failed_connect
            .lock()
            .expect("connect time lock is never poisoned")
            .is_some_and(|failed| failed.elapsed() < RECONNECT_DELAY);
        if recently_failed {
            return Err(redis::RedisError::from((
                redis::ErrorKind::IoError,
                "waiting before the next connection attempt",
            )));
        }
        let config = ConnectionManagerConfig::new()
            .set_connection_timeout(self.timeout)
            .set_response_timeout(self.timeout)
            .set_number_of_retries(0);
        match ConnectionManager::new_with_config(self.client.clone(), config).await {
            Ok(connection) => {
                *slot = Some(connection.clone());
                Ok(connection)
            }
            Err(error) => {
                *self
                    .last_failed_connect
                    .lock()
                    .expect("connect time lock is never poisoned") = Some(Instant::now());
                Err(error)
            }
        }
    }

    /// Drops the connection so that the next call connects anew.
    fn drop_connection(&self) {
        if let Ok(mut slot) = self.connection.try_lock() {
            *slot = None;
        }
    }

    /// Runs one Redis operation within the timeout and records the outcome.
    async fn run<T, F>(&self, operation: &'static str, call: F) -> Option<T>
    where
        F: std::future::Future<Output = Result<T, redis::RedisError>>,
    {
        let result = tokio::time::timeout(self.timeout, call).await;
        match result {
            Ok(Ok(value)) => {
                // Set on every success, because a tier starts out healthy
                // without having set the gauge.
                telemetry::redis_up(true);
                if !self.healthy.swap(true, Ordering::Relaxed) {
                    tracing::info!(
                        "Redis is reachable again; using the shared cache and rate limits"
                    );
                }
                Some(value)
            }
            Ok(Err(error)) => {
                if error.is_io_error()
                    || error.is_connection_dropped()
                    || error.is_connection_refusal()
                    || error.is_timeout()
                {
                    self.drop_connection();
                }
                self.mark_down(operation, &error.to_string());
                None
            }
            Err(_) => {
                self.drop_connection();
                self.mark_down(
                    operation,
                    &format!("timed out after {} ms", self.timeout.as_millis()),
                );
                None
            }
        }
    }

    fn mark_down(&self, operation: &'static str, error: &str) {
        telemetry::redis_error(operation);
        if self.healthy.swap(false, Ordering::Relaxed) {
            telemetry::redis_up(false);
            tracing::warn!(
                operation,
                error,
                "Redis is unavailable; falling back to the in-process cache and local rate limits"
            );
        }
    }

    /// Reads the shared answer for a number.
    pub async fn get(&self, e164: &str) -> Option<StoredAnswer> {
        let key = self.answer_key(e164);
        let raw: Option<String> = self
            .run("get", async {
                let mut connection = self.connection().await?;
                connection.get(&key).await
            })
            .await?;
        StoredAnswer::decode(&raw?)
    }

    /// Writes an answer, kept for `retention`.
    pub async fn put(&self, e164: &str, answer: &StoredAnswer, retention: Duration) {
        let key = self.answer_key(e164);
        let value = answer.encode();
        let milliseconds = retention.as_millis().max(1) as u64;
        self.run("set", async {
            let mut connection = self.connection().await?;
            connection
                .pset_ex::<_, _, ()>(&key, value, milliseconds)
                .await
        })
        .await;
    }

    /// Removes a number's shared answer, or every shared answer, and tells
    /// every replica to drop its copy. Returns whether Redis did all of it;
    /// a failure is also logged.
    pub async fn purge(&self, purge: Purge) -> bool {
        let channel = self.purge_channel();
        match purge {
            Purge::Number(e164) => {
                let key = self.answer_key(&e164);
                self.run("purge", async {
                    let mut connection = self.connection().await?;
                    let _: () = connection.del(&key).await?;
                    connection.publish::<_, _, ()>(&channel, e164).await
                })
                .await
                .is_some()
            }
            Purge::All => {
                // Each batch of the scan gets its own `redis.timeout_ms`, so
                // that many stored answers make the purge longer, not failed.
                let pattern = format!("{}answer:*", self.prefix);
                let mut cursor: u64 = 0;
                let mut complete = true;
                loop {
                    let batch = self.run("purge", async {
                        let mut connection = self.connection().await?;
                        let (next, keys): (u64, Vec<String>) = redis::cmd("SCAN")
                            .arg(cursor)
                            .arg("MATCH")
                            .arg(&pattern)
                            .arg("COUNT")
                            .arg(PURGE_BATCH)
                            .query_async(&mut connection)
                            .await?;
                        if !keys.is_empty() {
                            let _: () = connection.unlink(keys.as_slice()).await?;
                        }
                        Ok(next)
                    });
                    match batch.await {
                        Some(0) => break,
                        Some(next) => cursor = next,
                        None => {
                            complete = false;
                            break;
                        }
                    }
                }
                // Published after a failed batch too, so that every replica
                // still drops the answers it holds in memory.
                let published = self
                    .run("purge", async {
                        let mut connection = self.connection().await?;
                        connection.publish::<_, _, ()>(&channel, "*").await
                    })
                    .await
                    .is_some();
                complete && published
            }
        }
    }

    /// Reserves a call slot for `source` across the fleet. Returns the wait
    /// before calling, `Ok(None)` when the wait would exceed `max_wait`, and
    /// `Err(())` when Redis could not answer, so the caller falls back to
    /// its local limiter.
    pub async fn reserve(
        &self,
        source: &str,
        rate: u32,
        max_wait: Duration,
    ) -> Result<Option<Duration>, ()> {
        let key = self.rate_key(source);
        let member = format!("{:016x}", rand::random::<u64>());
        let wait_ms: Option<i64> = self
            .run("rate_limit", async {
                let mut connection = self.connection().await?;
                self.rate_script
                    .key(&key)
                    .arg(rate)
                    .arg(RATE_WINDOW_MS)
                    .arg(max_wait.as_millis() as u64)
                    .arg(member)
                    .invoke_async(&mut connection)
                    .await
            })
            .await;
        match wait_ms {
            None => Err(()),
            Some(wait) if wait < 0 => Ok(None),
            Some(wait) => Ok(Some(Duration::from_millis(wait as u64))),
        }
    }

    /// Listens for purges from every replica and hands them to `apply`,
    /// for as long as `alive` returns true. Reconnects after failures. After
    /// each (re)subscription the local cache is cleared with `Purge::All`,
    /// because purges sent while unsubscribed were missed.
    pub async fn follow_purges(
        self: Arc<Self>,
        alive: impl Fn() -> bool + Send + 'static,
        apply: impl Fn(Purge) + Send + 'static,
    ) {
        let channel = self.purge_channel();
        let connect_timeout = self.timeout.max(SUBSCRIBE_TIMEOUT);
        let mut liveness = tokio::time::interval(LIVENESS_CHECK);
        while alive() {
            let subscribed = tokio::time::timeout(connect_timeout, async {
                let mut subscription = self.client.get_async_pubsub().await?;
                subscription.subscribe(&channel).await?;
                Ok::<_, redis::RedisError>(subscription)
            })
            .await;
            let mut subscription = match subscribed {
                Ok(Ok(subscription)) => subscription,
                Ok(Err(error)) => {
                    self.mark_down("subscribe", &error.to_string());
                    tokio::time::sleep(RESUBSCRIBE_DELAY).await;
                    continue;
                }
                Err(_) => {
                    self.mark_down("subscribe", "timed out");
                    tokio::time::sleep(RESUBSCRIBE_DELAY).await;
                    continue;
                }
            };
            apply(Purge::All);
            let mut messages = subscription.on_message();
            loop {
                tokio::select! {
                    message = messages.next() => {
                        let Some(message) = message else { break };
                        let Ok(payload) = message.get_payload::<String>() else {
                            continue;
                        };
                        let purge = if payload == "*" {
                            Purge::All
                        } else {
                            Purge::Number(payload)
                        };
                        apply(purge);
                    }
                    _ = liveness.tick() => {
                        if !alive() {
                            return;
                        }
                    }
                }
            }
            tracing::warn!("lost the Redis purge subscription; subscribing again");
            tokio::time::sleep(RESUBSCRIBE_DELAY).await;
        }
    }
}

#[cfg(test)]
mod tests {
    use super::Purge;

    #[test]
    fn purge_debug_masks_number() {
        let purge = Purge::Number("+14155550123".to_string());
        let printed = format!("{purge:?}");
        assert!(!printed.contains("14155550123"), "{printed}");
        assert!(!printed.contains("4155550"), "{printed}");
        assert_eq!(printed, "Number(***0123)");
    }

    #[test]
    fn purge_debug_shows_all() {
        assert_eq!(format!("{:?}", Purge::All), "All");
    }
}
