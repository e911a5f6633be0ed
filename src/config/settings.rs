//! Validation of the raw config into the settings the gateway runs with.

use std::collections::HashSet;
use std::net::SocketAddr;
use std::path::{Path, PathBuf};
use std::time::Duration;

use badgegate_adapter::{Region, Secret};

use super::file::{LogFormat, LookupMode, MultipleMatches, RawConfig, RawSource};
use super::problem::ConfigProblem;

/// The secret the shipped `gateway.toml` falls back to when
/// `JUSTCALL_API_SECRET` is not set. The gateway warns while it is in use.
pub const DEMO_SECRET: &str = "badgegate-demo-secret-change-me";

/// Longest lookup deadline accepted, well past any wait a caller tolerates.
const MAX_DEADLINE_MS: u64 = 60_000;

/// A validated config.
#[derive(Debug, Clone)]
pub struct Settings {
    /// The file the config was read from.
    pub path: PathBuf,
    pub server: ServerSettings,
    pub justcall: JustcallSettings,
    pub lookup: LookupSettings,
    pub cache: CacheSettings,
    pub admin: AdminSettings,
    /// `None` when no Redis is configured.
    pub redis: Option<RedisSettings>,
    pub log: LogSettings,
    pub sources: Vec<SourceSpec>,
    /// Valid but risky choices, logged at start and printed by `check`.
    pub warnings: Vec<String>,
    /// The environment's values in this config, hidden in later problems.
    pub redactions: super::Redactions,
}

impl Settings {
    /// The folder relative paths in the config resolve against.
    pub fn config_dir(&self) -> PathBuf {
        match self.path.parent() {
            Some(parent) if !parent.as_os_str().is_empty() => parent.to_path_buf(),
            _ => PathBuf::from("."),
        }
    }
}

#[derive(Debug, Clone)]
pub struct ServerSettings {
    pub listen: SocketAddr,
    pub path: String,
    pub max_body_bytes: usize,
    pub client_timeout: Duration,
    pub keep_alive: Duration,
    pub max_connections: usize,
    /// `None` when requests per client are not limited.
    pub rate_limit_per_ip: Option<u32>,
}

#[derive(Debug, Clone)]
pub struct JustcallSettings {
    pub secrets: Vec<Secret>,
    pub public_urls: Vec<String>,
    pub trust_forwarded_headers: bool,
    /// `None` when the replay window is off.
    pub timestamp_tolerance: Option<Duration>,
    pub accept_plain_sha256: bool,
    pub verify_signatures: bool,
}

#[derive(Debug, Clone)]
pub struct LookupSettings {
    pub deadline: Duration,
    pub default_region: Region,
    pub mode: LookupMode,
    pub on_multiple_matches: MultipleMatches,
}

#[derive(Debug, Clone)]
pub struct CacheSettings {
    pub max_entries: u64,
    pub ttl: Duration,
    pub not_found_ttl: Duration,
    /// `None` when background refresh is off.
    pub refresh_after: Option<Duration>,
    pub stale_if_error: Duration,
}

#[derive(Debug, Clone)]
pub struct AdminSettings {
    /// `None` when the admin listener is off.
    pub listen: Option<SocketAddr>,
    /// `None` when no token is set: the cache-control endpoints answer 403.
    pub token: Option<Secret>,
}

#[derive(Debug, Clone)]
pub struct RedisSettings {
    /// The URL; it may hold a password, so it is a secret.
    pub url: Secret,
    pub key_prefix: String,
    pub timeout: Duration,
}

#[derive(Debug, Clone)]
pub struct LogSettings {
    pub format: LogFormat,
    pub level: String,
}

/// One `[[sources]]` entry, before its adapter is built. `Debug` lists only
/// the names of the adapter's keys, because their values hold credentials.
#[derive(Clone)]
pub struct SourceSpec {
    pub name: String,
    pub kind: String,
    pub timeout: Duration,
    pub max_retries: u32,
    /// `None` takes the adapter's default; `Some(0)` turns the limit off.
    pub rate_limit_per_sec: Option<u32>,
    pub circuit_failures: u32,
    pub circuit_open_for: Duration,
    /// The adapter's own keys, for its factory to validate.
    pub options: serde_json::Value,
    /// Position in `[[sources]]`, for error messages.
    pub index: usize,
}

impl std::fmt::Debug for SourceSpec {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        let keys: Vec<&String> = self
            .options
            .as_object()
            .map(|options| options.keys().collect())
            .unwrap_or_default();
        f.debug_struct("SourceSpec")
            .field("name", &self.name)
            .field("kind", &self.kind)
            .field("timeout", &self.timeout)
            .field("option_keys", &keys)
            .finish_non_exhaustive()
    }
}

pub fn validate(raw: RawConfig, file: &Path, text: &str) -> Result<Settings, Vec<ConfigProblem>> {
    let mut problems = Vec::new();
    let mut warnings = Vec::new();
    let mut problem = |key: &str, message: String| {
        problems.push(ConfigProblem::for_key(file, key, message).locate(text));
    };

    let listen = match raw.server.listen.parse::<SocketAddr>() {
        Ok(address) => Some(address),
        Err(_) => {
            problem(
                "server.listen",
                format!(
                    "`{}` is not an address:port; write e.g. \"127.0.0.1:8080\", or \"0.0.0.0:8080\" for every interface",
                    raw.server.listen
                ),
            );
            None
        }
    };
    if !raw.server.path.starts_with('/') || raw.server.path.contains(['?', '#', ' ']) {
        problem(
            "server.path",
            format!(
                "`{}` is not a URL path; write one that starts with `/` and has no query, e.g. \"/justcall/contact-badge\"",
                raw.server.path
            ),
        );
    }
    if raw.server.max_body_bytes < 64 || raw.server.max_body_bytes > 1 << 20 {
        problem(
            "server.max_body_bytes",
            format!(
                "{} is out of range; write a size between 64 and 1048576 bytes (JustCall's requests are under 200 bytes)",
                raw.server.max_body_bytes
            ),
        );
    }

    if raw.server.client_timeout_ms < 100 || raw.server.client_timeout_ms > 60_000 {
        problem(
            "server.client_timeout_ms",
            format!(
                "{} is out of range; write a time between 100 and 60000 milliseconds, e.g. 5000",
                raw.server.client_timeout_ms
            ),
        );
    }
    if raw.server.max_connections == 0 {
        problem(
            "server.max_connections",
            "is 0; write a positive number of connections, e.g. 10000".into(),
        );
    }

    let justcall = raw.justcall;
    if justcall.verify_signatures {
        if justcall.secrets.is_empty() {
            problem(
                "justcall.secrets",
                "is empty; write your JustCall API secret, e.g. secrets = [\"${JUSTCALL_API_SECRET}\"]".into(),
            );
        }
        for (index, secret) in justcall.secrets.iter().enumerate() {
            if secret.expose().trim().is_empty() {
                problem(
                    &format!("justcall.secrets[{index}]"),
                    "is empty; write the API secret from JustCall's API settings, or remove the entry".into(),
                );
            }
        }
    } else {
        warnings.push(
            "justcall.verify_signatures is false: anyone who can reach the endpoint gets badges; use this only for local trials".into(),
        );
        let reachable = listen.is_some_and(|address| !address.ip().is_loopback());
        if reachable && !justcall.allow_unverified {
            problem(
                "justcall.verify_signatures",
                format!(
                    "is false while server.listen (`{}`) is reachable from other hosts, so anyone could read your contacts; turn verification on, listen on 127.0.0.1, or set justcall.allow_unverified = true if you accept that",
                    raw.server.listen
                ),
            );
        }
    }
    if justcall
        .secrets
        .iter()
        .any(|secret| secret.expose() == DEMO_SECRET)
    {
        warnings.push(format!(
            "justcall.secrets contains the demo secret `{DEMO_SECRET}`: set JUSTCALL_API_SECRET to your JustCall API secret before exposing the gateway"
        ));
    }
    for (index, url) in justcall.public_urls.iter().enumerate() {
        match url::Url::parse(url) {
            Ok(parsed) if matches!(parsed.scheme(), "http" | "https") => {}
            _ => problem(
                &format!("justcall.public_urls[{index}]"),
                format!(
                    "`{}` is not an absolute http(s) URL; write the URL exactly as entered in JustCall, e.g. \"https://badges.example.com/justcall/contact-badge\"",
                    badgegate_adapter::http::without_credentials(url)
                ),
            ),
        }
    }

    let lookup = raw.lookup;
    if lookup.deadline_ms == 0 || lookup.deadline_ms > MAX_DEADLINE_MS {
        problem(
            "lookup.deadline_ms",
            format!(
                "{} is out of range; write a time between 1 and {MAX_DEADLINE_MS} milliseconds, e.g. 1500",
                lookup.deadline_ms
            ),
        );
    }
    let default_region = match lookup.default_region.parse::<Region>() {
        Ok(region) => Some(region),
        Err(error) => {
            problem("lookup.default_region", error.to_string());
            None
        }
    };

    let cache = raw.cache;
    if cache.max_entries == 0 {
        problem(
            "cache.max_entries",
            "is 0; write a positive number of entries, e.g. 100000".into(),
        );
    }
    if cache.ttl_secs == 0 {
        problem(
            "cache.ttl_secs",
            "is 0; write a positive number of seconds, e.g. 900".into(),
        );
    }
    if cache.refresh_after_secs > 0 && cache.refresh_after_secs >= cache.ttl_secs {
        problem(
            "cache.refresh_after_secs",
            format!(
                "{} is not shorter than cache.ttl_secs ({}), so no answer would be refreshed before it expires; write a smaller number, or 0 to turn refresh off",
                cache.refresh_after_secs, cache.ttl_secs
            ),
        );
    }

    let admin_listen = match raw.admin.listen.trim() {
        "" => None,
        address => match address.parse::<SocketAddr>() {
            Ok(address) => Some(address),
            Err(_) => {
                problem(
                    "admin.listen",
                    format!("`{address}` is not an address:port; write e.g. \"127.0.0.1:9090\", or \"\" to turn the admin listener off"),
                );
                None
            }
        },
    };
    let admin_token = Some(raw.admin.token).filter(|token| !token.expose().trim().is_empty());
    if admin_listen.is_some_and(|address| !address.ip().is_loopback()) && admin_token.is_none() {
        problem(
            "admin.listen",
            format!(
                "`{}` is reachable from other hosts but admin.token is empty; set admin.token, e.g. token = \"${{BADGEGATE_ADMIN_TOKEN}}\", or listen on 127.0.0.1",
                raw.admin.listen.trim()
            ),
        );
    }
    if admin_listen.is_some() && admin_listen == listen {
        problem(
            "admin.listen",
            "is the same address as server.listen; give the admin listener its own port, e.g. \"127.0.0.1:9090\"".into(),
        );
    }

    let redis = raw.redis;
    let redis_url = redis.url.expose().trim();
    if !redis_url.is_empty() {
        match url::Url::parse(redis_url) {
            Ok(parsed) if matches!(parsed.scheme(), "redis" | "rediss") => {}
            _ => problem(
                "redis.url",
                "is not a redis:// or rediss:// URL; write e.g. \"redis://127.0.0.1:6379\", or \"\" to run without Redis".into(),
            ),
        }
    }
    if redis.timeout_ms == 0 || redis.timeout_ms > 5000 {
        problem(
            "redis.timeout_ms",
            format!(
                "{} is out of range; write a time between 1 and 5000 milliseconds, e.g. 100",
                redis.timeout_ms
            ),
        );
    }
    let redis_settings = (!redis_url.is_empty()).then(|| RedisSettings {
        url: Secret::new(redis_url),
        key_prefix: redis.key_prefix.clone(),
        timeout: Duration::from_millis(redis.timeout_ms),
    });

    let level = raw.log.level.trim().to_ascii_lowercase();
    let is_filter = level.contains(['=', ',', ':', '[']);
    let known_level = ["error", "warn", "info", "debug", "trace", "off"].contains(&level.as_str());
    if !is_filter && !known_level {
        // A bare word other than a level parses as a target name and would
        // silence every log line.
        problem(
            "log.level",
            format!(
                "`{}` is not a log level; write one of \"error\", \"warn\", \"info\", \"debug\", \"trace\", or a filter such as \"info,badgegate=debug\"",
                raw.log.level
            ),
        );
    } else if let Err(error) = tracing_subscriber::EnvFilter::try_new(&raw.log.level) {
        problem(
            "log.level",
            format!(
                "`{}` is not a log level or filter ({error}); write one of \"error\", \"warn\", \"info\", \"debug\", \"trace\"",
                raw.log.level
            ),
        );
    }

    let sources = validate_sources(raw.sources, lookup.deadline_ms, &mut problem, &mut warnings);

    if !problems.is_empty() {
        return Err(problems);
    }
    Ok(Settings {
        path: file.to_path_buf(),
        server: ServerSettings {
            listen: listen.expect("checked above"),
            path: raw.server.path,
            max_body_bytes: raw.server.max_body_bytes as usize,
            client_timeout: Duration::from_millis(raw.server.client_timeout_ms),
            keep_alive: Duration::from_secs(raw.server.keep_alive_secs),
            max_connections: raw.server.max_connections,
            rate_limit_per_ip: (raw.server.rate_limit_per_ip > 0)
                .then_some(raw.server.rate_limit_per_ip),
        },
        justcall: JustcallSettings {
            secrets: justcall.secrets,
            public_urls: justcall.public_urls,
            trust_forwarded_headers: justcall.trust_forwarded_headers,
            timestamp_tolerance: (justcall.timestamp_tolerance_secs > 0)
                .then(|| Duration::from_secs(justcall.timestamp_tolerance_secs)),
            accept_plain_sha256: justcall.accept_plain_sha256,
            verify_signatures: justcall.verify_signatures,
        },
        lookup: LookupSettings {
            deadline: Duration::from_millis(lookup.deadline_ms),
            default_region: default_region.expect("checked above"),
            mode: lookup.mode,
            on_multiple_matches: lookup.on_multiple_matches,
        },
        cache: CacheSettings {
            max_entries: cache.max_entries,
            ttl: Duration::from_secs(cache.ttl_secs),
            not_found_ttl: Duration::from_secs(cache.not_found_ttl_secs),
            refresh_after: (cache.refresh_after_secs > 0)
                .then(|| Duration::from_secs(cache.refresh_after_secs)),
            stale_if_error: Duration::from_secs(cache.stale_if_error_secs),
        },
        admin: AdminSettings {
            listen: admin_listen,
            token: admin_token,
        },
        redis: redis_settings,
        log: LogSettings {
            format: raw.log.format,
            level: raw.log.level,
        },
        sources,
        warnings,
        redactions: super::Redactions::default(),
    })
}

fn validate_sources(
    sources: Vec<RawSource>,
    deadline_ms: u64,
    problem: &mut dyn FnMut(&str, String),
    warnings: &mut Vec<String>,
) -> Vec<SourceSpec> {
    if sources.is_empty() {
        problem(
            "sources",
            "no source is configured; add a [[sources]] table, e.g. name = \"contacts\", type = \"file\", path = \"examples/contacts.csv\"".into(),
        );
    }
    let mut names = HashSet::new();
    let mut specs = Vec::new();
    for (index, source) in sources.into_iter().enumerate() {
        let key = |field: &str| format!("sources[{index}].{field}");
        let name = source.name.unwrap_or_default();
        if name.is_empty() {
            problem(
                &key("name"),
                "is missing; give every source a unique name, e.g. name = \"hubspot\"".into(),
            );
        } else if !name
            .chars()
            .all(|c| c.is_ascii_alphanumeric() || c == '-' || c == '_')
        {
            problem(
                &key("name"),
                format!("`{name}` may contain only letters, digits, `-` and `_`, because it appears in logs and metrics"),
            );
        } else if !names.insert(name.clone()) {
            problem(
                &key("name"),
                format!("`{name}` is used by an earlier source; source names must be unique"),
            );
        }
        let Some(kind) = source.kind.filter(|kind| !kind.is_empty()) else {
            problem(
                &key("type"),
                "is missing; write the adapter type, e.g. type = \"hubspot\" or type = \"file\""
                    .into(),
            );
            continue;
        };
        let timeout_ms = source.timeout_ms.unwrap_or(1000);
        let circuit = source.circuit.unwrap_or_default();
        if circuit.failures == 0 {
            problem(
                &key("circuit.failures"),
                "is 0; write how many consecutive failed calls open the circuit, e.g. 5".into(),
            );
        }
        if circuit.open_secs == 0 {
            problem(
                &key("circuit.open_secs"),
                "is 0; write how many seconds an open circuit skips the source, e.g. 30".into(),
            );
        }
        let max_retries = source.max_retries.unwrap_or(2);
        if max_retries > 10 {
            problem(&key("max_retries"), format!("{max_retries} is more retries than any deadline leaves time for; write a number from 0 to 10, e.g. 2"));
        }
        if timeout_ms == 0 {
            problem(
                &key("timeout_ms"),
                "is 0; write a positive number of milliseconds, e.g. 1000".into(),
            );
        } else if timeout_ms > deadline_ms {
            warnings.push(format!(
                "sources[{index}].timeout_ms ({timeout_ms}) is longer than lookup.deadline_ms ({deadline_ms}); calls to `{name}` end at the deadline"
            ));
        }
        specs.push(SourceSpec {
            name,
            kind,
            timeout: Duration::from_millis(timeout_ms),
            max_retries,
            rate_limit_per_sec: source.rate_limit_per_sec,
            circuit_failures: circuit.failures,
            circuit_open_for: Duration::from_secs(circuit.open_secs),
            options: serde_json::Value::Object(source.options.into_iter().collect()),
            index,
        });
    }
    specs
}
