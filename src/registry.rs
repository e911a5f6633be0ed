//! The adapter types a binary can build, by their `type` name. A third party
//! adds a CRM by registering its own factory in a binary of its own that
//! calls `badgegate::cli::run`.

use std::collections::BTreeMap;
use std::sync::Arc;

use badgegate_adapter::{http, AdapterFactory, SourceContext};

use crate::config::{ConfigProblem, Settings};
use crate::lookup::{Source, SourcePolicy};

/// Adapter factories by `type` name.
#[derive(Clone, Default)]
pub struct Registry {
    factories: BTreeMap<&'static str, Arc<dyn AdapterFactory>>,
}

impl Registry {
    /// Creates a registry with no adapter types.
    pub fn empty() -> Self {
        Registry::default()
    }

    /// Creates a registry with the adapters that ship with badgegate:
    /// `file`, `hubspot`, `rest` and `salesforce`.
    pub fn builtin() -> Self {
        Registry::empty()
            .with(badgegate_file::FileFactory)
            .with(badgegate_hubspot::HubspotFactory)
            .with(badgegate_rest::RestFactory)
            .with(badgegate_salesforce::SalesforceFactory)
    }

    /// Adds a factory; one registered earlier under the same `type` is replaced.
    pub fn with(mut self, factory: impl AdapterFactory + 'static) -> Self {
        self.factories
            .insert(factory.type_name(), Arc::new(factory));
        self
    }

    /// Returns the registered `type` names, sorted.
    pub fn type_names(&self) -> Vec<&'static str> {
        self.factories.keys().copied().collect()
    }

    /// Builds every configured source, or reports every source that cannot be built.
    pub fn build_sources(&self, settings: &Settings) -> Result<Vec<Source>, Vec<ConfigProblem>> {
        let client = http::client();
        let mut sources = Vec::new();
        let mut problems = Vec::new();
        for spec in &settings.sources {
            let key = |field: &str| format!("sources[{}].{field}", spec.index);
            let Some(factory) = self.factories.get(spec.kind.as_str()) else {
                let known = self
                    .type_names()
                    .iter()
                    .map(|name| format!("`{name}`"))
                    .collect::<Vec<_>>()
                    .join(", ");
                problems.push(ConfigProblem::for_key(
                    &settings.path,
                    key("type"),
                    format!(
                        "`{}` is not an adapter type this binary knows; write one of {known}",
                        spec.kind
                    ),
                ));
                continue;
            };
            let context = SourceContext {
                name: spec.name.clone(),
                timeout: spec.timeout,
                default_region: settings.lookup.default_region,
                config_dir: settings.config_dir(),
                http: client.clone(),
            };
            match factory.build(context, spec.options.clone()) {
                Ok(adapter) => {
                    let rate_limit_per_sec = spec
                        .rate_limit_per_sec
                        .or_else(|| factory.default_rate_limit_per_sec())
                        .filter(|rate| *rate > 0);
                    let policy = SourcePolicy {
                        timeout: spec.timeout,
                        max_retries: spec.max_retries,
                        rate_limit_per_sec,
                        circuit_failures: spec.circuit_failures,
                        circuit_open_for: spec.circuit_open_for,
                    };
                    sources.push(Source::new(
                        spec.name.clone(),
                        spec.kind.clone(),
                        policy,
                        adapter,
                    ));
                }
                Err(error) => {
                    let problem_key = match &error.key {
                        Some(field) => key(field),
                        None => format!("sources[{}]", spec.index),
                    };
                    problems.push(ConfigProblem::for_key(
                        &settings.path,
                        problem_key,
                        format!(
                            "(source `{}`, type `{}`) {}",
                            spec.name, spec.kind, error.message
                        ),
                    ));
                }
            }
        }
        if problems.is_empty() {
            return Ok(sources);
        }
        let text = std::fs::read_to_string(&settings.path).unwrap_or_default();
        Err(problems
            .into_iter()
            .map(|problem| problem.locate(&text).redacted(&settings.redactions))
            .collect())
    }
}

#[cfg(test)]
mod tests {
    use std::path::Path;

    use super::*;
    use crate::config::load_text;

    fn build(text: &str) -> Result<Vec<Source>, Vec<ConfigProblem>> {
        let settings = load_text(Path::new("missing-dir/gateway.toml"), text, &|_| None).unwrap();
        Registry::builtin().build_sources(&settings)
    }

    #[test]
    fn unknown_type_lists_the_known_ones() {
        let problems = build(
            "[justcall]\nsecrets = [\"k\"]\n[[sources]]\nname = \"crm\"\ntype = \"hubsopt\"\n",
        )
        .unwrap_err();
        assert_eq!(problems[0].key.as_deref(), Some("sources[0].type"));
        assert!(
            problems[0]
                .message
                .contains("`file`, `hubspot`, `rest`, `salesforce`"),
            "{}",
            problems[0].message
        );
    }

    #[test]
    fn adapter_key_problem_names_the_source_key() {
        let text = "[justcall]\nsecrets = [\"k\"]\n[[sources]]\nname = \"crm\"\ntype = \"hubspot\"\nacces_token = \"t\"\n";
        let problems = build(text).unwrap_err();
        assert_eq!(problems[0].key.as_deref(), Some("sources[0].acces_token"));
        assert!(
            problems[0].message.contains("`access_token`"),
            "{}",
            problems[0].message
        );
    }

    #[test]
    fn builtin_types() {
        assert_eq!(
            Registry::builtin().type_names(),
            ["file", "hubspot", "rest", "salesforce"]
        );
    }
}
