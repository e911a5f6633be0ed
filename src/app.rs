//! The running gateway's state: the settings, verifier and lookup pipeline
//! in force, swapped as a whole when the config is reloaded, so a request
//! keeps the state it started with.

use std::path::PathBuf;
use std::sync::Arc;

use arc_swap::ArcSwap;
use metrics_exporter_prometheus::PrometheusHandle;

use crate::config::{self, ConfigProblem, Settings};
use crate::lookup::Lookup;
use crate::registry::Registry;
use crate::server::client_limit::ClientLimiter;
use crate::shared::{answer_generation, shared_tier};
use crate::signature::Verifier;
use crate::telemetry;

/// What one version of the config runs with.
pub struct Runtime {
    pub settings: Settings,
    pub verifier: Verifier,
    pub lookup: Lookup,
    /// `None` when `server.rate_limit_per_ip` is 0.
    pub client_limiter: Option<ClientLimiter>,
    /// See [`answer_generation`]: a reload keeps the cached answers exactly
    /// when it is unchanged.
    pub answer_generation: String,
}

/// The gateway shared by both listeners.
pub struct App {
    current: ArcSwap<Runtime>,
    registry: Registry,
    config_path: PathBuf,
    pub metrics: PrometheusHandle,
}

impl App {
    /// Builds the gateway from loaded settings, or reports the sources that
    /// cannot be built.
    pub fn new(settings: Settings, registry: Registry) -> Result<Arc<App>, Vec<ConfigProblem>> {
        let metrics = telemetry::install();
        let sources = registry.build_sources(&settings)?;
        let generation = answer_generation(&settings, &sources);
        let shared = shared_tier(&settings, &generation);
        let lookup = Lookup::new(&settings, sources, shared);
        let verifier = Verifier::new(&settings.justcall);
        Ok(Arc::new(App {
            config_path: settings.path.clone(),
            current: ArcSwap::from_pointee(Runtime {
                client_limiter: settings.server.rate_limit_per_ip.map(ClientLimiter::new),
                settings,
                verifier,
                lookup,
                answer_generation: generation,
            }),
            registry,
            metrics,
        }))
    }

    /// The runtime in force now. Hold the returned `Arc` for a whole request.
    pub fn current(&self) -> Arc<Runtime> {
        self.current.load_full()
    }

    /// Re-reads the config file. A valid config replaces sources, cache
    /// settings and secrets, keeping the signatures seen, and keeps the
    /// cached answers when the [`answer_generation`] is unchanged. An invalid
    /// config is logged with every problem and changes nothing.
    pub async fn reload(&self) -> Result<(), Vec<ConfigProblem>> {
        let result = self.build_reloaded();
        let runtime = match result {
            Ok(runtime) => runtime,
            Err(problems) => {
                for problem in &problems {
                    tracing::error!(%problem, "config reload rejected");
                }
                tracing::error!(
                    problems = problems.len(),
                    "the config was not reloaded; the previous config keeps serving"
                );
                telemetry::config_reloaded("invalid");
                return Err(problems);
            }
        };
        let previous = self.current();
        for warning in restart_only_changes(&previous.settings, &runtime.settings) {
            tracing::warn!("{warning}");
        }
        for warning in &runtime.settings.warnings {
            tracing::warn!("{warning}");
        }
        // The answer generation decides for memory and Redis alike. Answers
        // shared through Redis need no purge here: they are stored under the
        // generation, so the new runtime does not read answers found under
        // the old config, and lookups still running under it store theirs
        // where the new runtime does not look.
        if previous.answer_generation == runtime.answer_generation {
            runtime.lookup.import_cache(&previous.lookup);
            tracing::info!(
                answers = runtime.lookup.cached_entries(),
                "kept the cached answers, because no change to the config or the sources' files can alter an answer"
            );
        } else {
            let reason = cache_drop_reason(&previous, &runtime);
            tracing::info!("dropped the cached answers, because {reason}");
        }
        let starting = runtime.lookup.clone();
        let names: Vec<String> = runtime
            .lookup
            .sources()
            .iter()
            .map(|source| source.name.clone())
            .collect();
        self.current.store(Arc::new(runtime));
        starting.start_sources().await;
        tracing::info!(sources = ?names, "config reloaded");
        telemetry::config_reloaded("applied");
        Ok(())
    }

    fn build_reloaded(&self) -> Result<Runtime, Vec<ConfigProblem>> {
        let settings = config::load(&self.config_path)?;
        let sources = self.registry.build_sources(&settings)?;
        let generation = answer_generation(&settings, &sources);
        let shared = shared_tier(&settings, &generation);
        let lookup = Lookup::new(&settings, sources, shared);
        let verifier = self.current().verifier.reloaded(&settings.justcall);
        Ok(Runtime {
            client_limiter: settings.server.rate_limit_per_ip.map(ClientLimiter::new),
            settings,
            verifier,
            lookup,
            answer_generation: generation,
        })
    }
}

/// Explains why the answer generation of `new` differs from that of `old`,
/// naming the first changed input that [`answer_generation`] reads.
fn cache_drop_reason(old: &Runtime, new: &Runtime) -> String {
    if !same_sources(&old.settings, &new.settings) {
        return "the [[sources]] entries changed".to_string();
    }
    // The region decides how numbers without a country code parse, in the
    // caller's number and in every stored record.
    if old.settings.lookup.default_region != new.settings.lookup.default_region {
        return "lookup.default_region changed".to_string();
    }
    if old.settings.lookup.on_multiple_matches != new.settings.lookup.on_multiple_matches {
        return "lookup.on_multiple_matches changed".to_string();
    }
    // Sources read at build time, such as contacts files, were read again.
    let sources = old.lookup.sources().iter().zip(new.lookup.sources());
    for (old_source, new_source) in sources {
        if old_source.adapter.content_digest() != new_source.adapter.content_digest() {
            return format!("the data that source `{}` loads changed", new_source.name);
        }
    }
    "a setting that decides answers changed".to_string()
}

/// Whether both configs have the same sources with the same keys.
fn same_sources(old: &Settings, new: &Settings) -> bool {
    let describe = |settings: &Settings| -> Vec<(String, String, serde_json::Value)> {
        settings
            .sources
            .iter()
            .map(|source| {
                (
                    source.name.clone(),
                    source.kind.clone(),
                    source.options.clone(),
                )
            })
            .collect()
    };
    describe(old) == describe(new)
}

/// Settings that take effect only after a restart, because the listeners
/// and the log output are set up once.
fn restart_only_changes(old: &Settings, new: &Settings) -> Vec<String> {
    let mut warnings = Vec::new();
    let mut check = |key: &str, changed: bool| {
        if changed {
            warnings.push(format!("{key} changed; it takes effect after a restart"));
        }
    };
    check("server.listen", old.server.listen != new.server.listen);
    check("server.path", old.server.path != new.server.path);
    check("admin.listen", old.admin.listen != new.admin.listen);
    check(
        "server.keep_alive_secs",
        old.server.keep_alive != new.server.keep_alive,
    );
    check(
        "server.max_connections",
        old.server.max_connections != new.server.max_connections,
    );
    check("log.format", old.log.format != new.log.format);
    check("log.level", old.log.level != new.log.level);
    warnings
}
