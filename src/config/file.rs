//! The config file's shape, key by key, with the defaults of every key.
//! The shipped `gateway.toml` documents the same keys for users.

use std::collections::BTreeMap;

use badgegate_adapter::Secret;
use serde::Deserialize;

#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct RawConfig {
    pub server: RawServer,
    pub justcall: RawJustcall,
    pub lookup: RawLookup,
    pub cache: RawCache,
    pub admin: RawAdmin,
    pub redis: RawRedis,
    pub log: RawLog,
    pub sources: Vec<RawSource>,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct RawServer {
    /// Address and port the JustCall endpoint listens on.
    pub listen: String,
    /// Path of the JustCall endpoint.
    pub path: String,
    /// Largest request body accepted; larger bodies get 413.
    pub max_body_bytes: u64,
    /// Time a client has to send its request headers, and then its body.
    pub client_timeout_ms: u64,
    /// How long an idle keep-alive connection stays open.
    pub keep_alive_secs: u64,
    /// Most open connections across all workers; more wait in the accept queue.
    pub max_connections: usize,
    /// Requests per second accepted from one client address; 0 is no limit.
    pub rate_limit_per_ip: u32,
}

impl Default for RawServer {
    fn default() -> Self {
        RawServer {
            listen: "127.0.0.1:8080".into(),
            path: "/justcall/contact-badge".into(),
            max_body_bytes: 16384,
            client_timeout_ms: 5000,
            keep_alive_secs: 15,
            max_connections: 10_000,
            rate_limit_per_ip: 0,
        }
    }
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct RawJustcall {
    /// API secrets; a request verifying with any one of them is accepted.
    pub secrets: Vec<Secret>,
    /// The URL(s) entered in JustCall; empty means rebuilt from each request.
    pub public_urls: Vec<String>,
    /// Whether `X-Forwarded-*` and `Forwarded` headers are used to rebuild the URL.
    pub trust_forwarded_headers: bool,
    /// Largest accepted distance between the request timestamp and now; 0 disables the check.
    pub timestamp_tolerance_secs: u64,
    /// Whether the plain SHA-256 digest of the signed message is accepted too.
    pub accept_plain_sha256: bool,
    /// Whether signatures are checked at all.
    pub verify_signatures: bool,
    /// Whether `verify_signatures = false` may be used on a listener other hosts can reach.
    pub allow_unverified: bool,
}

impl Default for RawJustcall {
    fn default() -> Self {
        RawJustcall {
            secrets: Vec::new(),
            public_urls: Vec::new(),
            trust_forwarded_headers: false,
            timestamp_tolerance_secs: 300,
            accept_plain_sha256: true,
            verify_signatures: true,
            allow_unverified: false,
        }
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum LookupMode {
    /// Sources are asked one after the other, in the listed order, until one matches.
    FirstMatch,
    /// Sources are asked at once; the first listed source that matches wins.
    Parallel,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum MultipleMatches {
    /// The most recently updated record, or the first when the source gives no times.
    MostRecent,
    /// The first record in the source's order.
    First,
    /// No badge when more than one record matches.
    None,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct RawLookup {
    /// Time from the request's arrival to the answer, badge or not.
    pub deadline_ms: u64,
    /// ISO 3166 region for numbers without a country code.
    pub default_region: String,
    pub mode: LookupMode,
    pub on_multiple_matches: MultipleMatches,
}

impl Default for RawLookup {
    fn default() -> Self {
        RawLookup {
            deadline_ms: 1500,
            default_region: "US".into(),
            mode: LookupMode::FirstMatch,
            on_multiple_matches: MultipleMatches::MostRecent,
        }
    }
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct RawCache {
    /// Largest number of cached answers.
    pub max_entries: u64,
    /// How long a found contact is served from the cache.
    pub ttl_secs: u64,
    /// How long a "not found" is remembered.
    pub not_found_ttl_secs: u64,
    /// Age after which a cached answer is served and refreshed in the background; 0 is off.
    pub refresh_after_secs: u64,
    /// How long past its freshness an answer may still be served while every source fails.
    pub stale_if_error_secs: u64,
}

impl Default for RawCache {
    fn default() -> Self {
        RawCache {
            max_entries: 100_000,
            ttl_secs: 900,
            not_found_ttl_secs: 120,
            refresh_after_secs: 0,
            stale_if_error_secs: 86400,
        }
    }
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct RawAdmin {
    /// Address and port of the admin listener (metrics, health, cache control); empty disables it.
    pub listen: String,
    /// Bearer token for the cache-control endpoints; empty makes them answer 403.
    pub token: Secret,
}

impl Default for RawAdmin {
    fn default() -> Self {
        RawAdmin {
            listen: "127.0.0.1:9090".into(),
            token: Secret::new(""),
        }
    }
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct RawRedis {
    /// `redis://` or `rediss://` (TLS) URL shared by every replica; empty turns the shared tier off.
    pub url: Secret,
    /// Prefix of every key and channel badgegate uses.
    pub key_prefix: String,
    /// Longest wait for one Redis call before the replica falls back to its own cache and limits.
    pub timeout_ms: u64,
}

impl Default for RawRedis {
    fn default() -> Self {
        RawRedis {
            url: Secret::new(""),
            key_prefix: "badgegate:".into(),
            timeout_ms: 100,
        }
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum LogFormat {
    Text,
    Json,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct RawLog {
    pub format: LogFormat,
    /// A level (`info`) or a `tracing` filter (`info,badgegate=debug`); `RUST_LOG` wins when set.
    pub level: String,
}

impl Default for RawLog {
    fn default() -> Self {
        RawLog {
            format: LogFormat::Text,
            level: "info".into(),
        }
    }
}

/// A source's circuit breaker.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct RawCircuit {
    /// Consecutive failed calls that open the circuit.
    pub failures: u32,
    /// How long an open circuit skips the source before one probe call.
    pub open_secs: u64,
}

impl Default for RawCircuit {
    fn default() -> Self {
        RawCircuit {
            failures: 5,
            open_secs: 30,
        }
    }
}

/// One `[[sources]]` table: the keys every source has, and the adapter's own
/// keys, which the adapter's factory validates.
#[derive(Debug, Deserialize)]
pub struct RawSource {
    pub name: Option<String>,
    #[serde(rename = "type")]
    pub kind: Option<String>,
    pub timeout_ms: Option<u64>,
    pub max_retries: Option<u32>,
    pub rate_limit_per_sec: Option<u32>,
    pub circuit: Option<RawCircuit>,
    #[serde(flatten)]
    pub options: BTreeMap<String, serde_json::Value>,
}
