//! Loading `gateway.toml`: figment merges the file with `BADGEGATE_SECTION__KEY`
//! environment overrides, `${VAR}` references are replaced, and every value is
//! validated before anything starts, so a bad config fails with every problem
//! listed at once.

mod file;
mod interpolate;
mod problem;
mod redact;
mod settings;

use std::path::{Path, PathBuf};

use figment::providers::{Env, Format, Toml};
use figment::value::{Dict, Map, Value};
use figment::{Figment, Metadata, Profile, Provider};

pub use file::{LogFormat, LookupMode, MultipleMatches};
pub use problem::{join_key, ConfigProblem};
pub use settings::{
    AdminSettings, CacheSettings, JustcallSettings, LogSettings, LookupSettings, RedisSettings,
    ServerSettings, Settings, SourceSpec, DEMO_SECRET,
};

use interpolate::{interpolate, InterpolationError};
pub use redact::Redactions;

/// Prefix of the environment variables that override config keys.
pub const ENV_PREFIX: &str = "BADGEGATE_";

/// Reads, interpolates and validates the config file at `path`.
pub fn load(path: &Path) -> Result<Settings, Vec<ConfigProblem>> {
    let text = std::fs::read_to_string(path).map_err(|error| {
        vec![ConfigProblem::new(
            path,
            None,
            format!(
                "cannot read the config file: {error}; create it, or pass --config PATH or set BADGEGATE_CONFIG"
            ),
        )]
    })?;
    let env = |name: &str| std::env::var(name).ok();
    load_text(path, &text, &env)
}

/// Like [`load`], with the file's text and the environment given.
pub fn load_text(
    path: &Path,
    text: &str,
    env: &dyn Fn(&str) -> Option<String>,
) -> Result<Settings, Vec<ConfigProblem>> {
    let parsed = Toml::string(text).data().map_err(|error| {
        vec![ConfigProblem::new(
            path,
            None,
            format!("is not valid TOML: {}", error.kind),
        )]
    })?;
    let mut dict = parsed.into_values().next().unwrap_or_default();
    let mut problems = Vec::new();
    let redactions = std::cell::RefCell::new(Redactions::default());
    let recording_env = |name: &str| {
        let value = env(name);
        if let Some(value) = &value {
            redactions.borrow_mut().add(value, format!("${{{name}}}"));
        }
        value
    };
    interpolate_dict(
        &mut dict,
        &mut Vec::new(),
        &recording_env,
        path,
        text,
        &mut problems,
    );
    if !problems.is_empty() {
        return Err(problems);
    }
    let mut redactions = redactions.into_inner();
    // `vars_os`, because `vars` panics on a variable that is not UTF-8.
    // figment skips such variables too.
    for (name, value) in std::env::vars_os() {
        let (Some(name), Some(value)) = (name.to_str(), value.to_str()) else {
            continue;
        };
        if name.starts_with(ENV_PREFIX) && name.contains("__") {
            redactions.add_override(value, format!("${name}"));
        }
    }
    let hide = |problems: Vec<ConfigProblem>| -> Vec<ConfigProblem> {
        problems
            .into_iter()
            .map(|problem| problem.redacted(&redactions))
            .collect()
    };

    let figment = Figment::from(ConfigFile {
        path: path.to_path_buf(),
        dict,
    })
    .merge(
        // Only `BADGEGATE_SECTION__KEY` names are overrides, so variables
        // such as BADGEGATE_CONFIG or BADGEGATE_ADMIN_TOKEN, read by
        // `${...}` references, are not taken for unknown keys.
        Env::prefixed(ENV_PREFIX)
            .filter(|key| key.as_str().contains("__"))
            .split("__"),
    );
    let raw = figment
        .extract::<file::RawConfig>()
        .map_err(|error| hide(problem::from_figment(error, path, text)))?;
    let mut settings = settings::validate(raw, path, text).map_err(hide)?;
    settings.redactions = redactions;
    Ok(settings)
}

/// The config file after interpolation, as a figment provider whose errors
/// name the file.
struct ConfigFile {
    path: PathBuf,
    dict: Dict,
}

impl Provider for ConfigFile {
    fn metadata(&self) -> Metadata {
        Metadata::from("config file", self.path.as_path())
    }

    fn data(&self) -> Result<Map<Profile, Dict>, figment::Error> {
        Ok(Map::from([(Profile::Default, self.dict.clone())]))
    }
}

fn interpolate_dict(
    dict: &mut Dict,
    path: &mut Vec<String>,
    env: &dyn Fn(&str) -> Option<String>,
    file: &Path,
    text: &str,
    problems: &mut Vec<ConfigProblem>,
) {
    for (key, value) in dict.iter_mut() {
        path.push(key.clone());
        interpolate_value(value, path, env, file, text, problems);
        path.pop();
    }
}

fn interpolate_value(
    value: &mut Value,
    path: &mut Vec<String>,
    env: &dyn Fn(&str) -> Option<String>,
    file: &Path,
    text: &str,
    problems: &mut Vec<ConfigProblem>,
) {
    match value {
        Value::String(_, string) => match interpolate(string, env) {
            Ok(replaced) => *string = replaced,
            Err(error) => {
                let message = match error {
                    InterpolationError::Unset(name) => format!(
                        "the environment variable `{name}` is not set; set it, or give a default with `${{{name}:-default}}`"
                    ),
                    InterpolationError::Malformed(message) => message,
                };
                problems.push(ConfigProblem::for_key(file, join_key(path), message).locate(text));
            }
        },
        Value::Dict(_, dict) => interpolate_dict(dict, path, env, file, text, problems),
        Value::Array(_, values) => {
            for (index, value) in values.iter_mut().enumerate() {
                path.push(index.to_string());
                interpolate_value(value, path, env, file, text, problems);
                path.pop();
            }
        }
        _ => {}
    }
}

#[cfg(test)]
mod tests;
