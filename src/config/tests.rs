use std::path::Path;

use super::*;

const MINIMAL: &str = "[justcall]\nsecrets = [\"k\"]\n\n[[sources]]\nname = \"sample\"\ntype = \"file\"\npath = \"contacts.csv\"\n";

fn no_env(_: &str) -> Option<String> {
    None
}

fn problems(text: &str) -> Vec<ConfigProblem> {
    load_text(Path::new("gateway.toml"), text, &no_env).expect_err("config should be rejected")
}

#[test]
fn shipped_config_loads_with_demo_secret_warning() {
    let path = Path::new(env!("CARGO_MANIFEST_DIR")).join("gateway.toml");
    let text = std::fs::read_to_string(&path).unwrap();
    let settings = load_text(&path, &text, &no_env).unwrap();
    assert_eq!(settings.justcall.secrets[0].expose(), DEMO_SECRET);
    assert!(settings
        .warnings
        .iter()
        .any(|warning| warning.contains("demo secret")));
    assert_eq!(settings.server.listen.to_string(), "127.0.0.1:8080");
    assert_eq!(settings.sources[0].kind, "file");
}

#[test]
fn secret_comes_from_environment() {
    let path = Path::new(env!("CARGO_MANIFEST_DIR")).join("gateway.toml");
    let text = std::fs::read_to_string(&path).unwrap();
    let env = |name: &str| (name == "JUSTCALL_API_SECRET").then(|| "real-secret".to_string());
    let settings = load_text(&path, &text, &env).unwrap();
    assert_eq!(settings.justcall.secrets[0].expose(), "real-secret");
    assert!(settings.warnings.is_empty(), "{:?}", settings.warnings);
}

#[test]
fn defaults_fill_missing_keys() {
    let settings = load_text(Path::new("gateway.toml"), MINIMAL, &no_env).unwrap();
    assert_eq!(settings.server.path, "/justcall/contact-badge");
    assert_eq!(settings.server.max_body_bytes, 16384);
    assert_eq!(settings.lookup.deadline.as_millis(), 1500);
    assert_eq!(settings.lookup.default_region.code(), "US");
    assert_eq!(settings.cache.ttl.as_secs(), 900);
    assert_eq!(settings.cache.not_found_ttl.as_secs(), 120);
    assert_eq!(settings.sources[0].timeout.as_millis(), 1000);
    assert_eq!(
        settings.justcall.timestamp_tolerance.unwrap().as_secs(),
        300
    );
}

#[test]
fn misspelt_key_is_named_with_its_line() {
    let text = format!("{MINIMAL}\n[server]\nlisen = \"127.0.0.1:1\"\n");
    let problems = problems(&text);
    assert_eq!(problems.len(), 1, "{problems:?}");
    assert_eq!(problems[0].key.as_deref(), Some("server.lisen"));
    assert_eq!(problems[0].line, Some(10));
    let message = problems[0].to_string();
    assert!(
        message.starts_with("gateway.toml:10: `server.lisen`"),
        "{message}"
    );
    assert!(message.contains("`listen`"), "{message}");
}

#[test]
fn unknown_section_is_named() {
    let problems = problems(&format!("{MINIMAL}\n[serverr]\nlisten = \"x\"\n"));
    assert_eq!(problems[0].key.as_deref(), Some("serverr"));
}

#[test]
fn invalid_values_are_all_reported() {
    let text = format!(
        "{MINIMAL}\n[server]\nlisten = \"localhost\"\npath = \"badge\"\n[lookup]\ndeadline_ms = 0\ndefault_region = \"XX\"\n[cache]\nmax_entries = 0\n"
    );
    let keys: Vec<String> = problems(&text)
        .into_iter()
        .filter_map(|problem| problem.key)
        .collect();
    for expected in [
        "server.listen",
        "server.path",
        "lookup.deadline_ms",
        "lookup.default_region",
        "cache.max_entries",
    ] {
        assert!(
            keys.iter().any(|key| key == expected),
            "{expected} missing from {keys:?}"
        );
    }
}

#[test]
fn invalid_enum_value_lists_the_choices() {
    let problems = problems(&format!("{MINIMAL}\n[lookup]\nmode = \"fastest\"\n"));
    assert_eq!(problems[0].key.as_deref(), Some("lookup.mode"));
    assert!(
        problems[0].message.contains("`first_match`"),
        "{}",
        problems[0].message
    );
    assert!(
        problems[0].message.contains("`parallel`"),
        "{}",
        problems[0].message
    );
}

#[test]
fn unset_variable_names_key_and_variable() {
    let text =
        "[justcall]\nsecrets = [\"${JC_SECRET}\"]\n[[sources]]\nname = \"s\"\ntype = \"file\"\n";
    let problems = problems(text);
    assert_eq!(problems[0].key.as_deref(), Some("justcall.secrets[0]"));
    assert!(
        problems[0].message.contains("`JC_SECRET`"),
        "{}",
        problems[0].message
    );
    assert_eq!(problems[0].line, Some(2));
}

#[test]
fn sources_need_unique_names_and_a_type() {
    let text = "[justcall]\nsecrets = [\"k\"]\n[[sources]]\nname = \"a\"\ntype = \"file\"\n[[sources]]\nname = \"a\"\ntype = \"file\"\n[[sources]]\nname = \"b\"\n";
    let problems = problems(text);
    let keys: Vec<&str> = problems
        .iter()
        .filter_map(|problem| problem.key.as_deref())
        .collect();
    assert_eq!(keys, ["sources[1].name", "sources[2].type"]);
    assert_eq!(problems[0].line, Some(7));
}

#[test]
fn no_sources_is_an_error() {
    let problems = problems("[justcall]\nsecrets = [\"k\"]\n");
    assert_eq!(problems[0].key.as_deref(), Some("sources"));
}

#[test]
fn empty_secrets_are_rejected_while_verifying() {
    let text = "[justcall]\nsecrets = []\n[[sources]]\nname = \"s\"\ntype = \"file\"\n";
    assert_eq!(problems(text)[0].key.as_deref(), Some("justcall.secrets"));
}

#[test]
fn unverified_mode_is_warned_about() {
    let text =
        "[justcall]\nverify_signatures = false\n[[sources]]\nname = \"s\"\ntype = \"file\"\n";
    let settings = load_text(Path::new("gateway.toml"), text, &no_env).unwrap();
    assert!(settings
        .warnings
        .iter()
        .any(|warning| warning.contains("verify_signatures")));
}

#[test]
fn invalid_toml_is_reported() {
    let problems = problems("[server\nlisten = 1");
    assert!(
        problems[0].message.contains("not valid TOML"),
        "{}",
        problems[0].message
    );
}

#[test]
fn adapter_keys_are_passed_through() {
    let settings = load_text(Path::new("gateway.toml"), MINIMAL, &no_env).unwrap();
    assert_eq!(
        settings.sources[0].options,
        serde_json::json!({"path": "contacts.csv"})
    );
}

#[test]
fn settings_debug_hides_secrets() {
    let settings = load_text(
        Path::new("gateway.toml"),
        MINIMAL.replace("\"k\"", "\"top-secret-value\"").as_str(),
        &no_env,
    )
    .unwrap();
    assert!(!format!("{settings:?}").contains("top-secret-value"));
}

#[test]
fn unverified_mode_off_loopback_needs_allow_unverified() {
    let text = "[server]\nlisten = \"0.0.0.0:8080\"\n[justcall]\nverify_signatures = false\n[[sources]]\nname = \"s\"\ntype = \"file\"\n";
    assert_eq!(
        problems(text)[0].key.as_deref(),
        Some("justcall.verify_signatures")
    );
    let allowed = text.replace(
        "verify_signatures = false",
        "verify_signatures = false\nallow_unverified = true",
    );
    assert!(load_text(Path::new("gateway.toml"), &allowed, &no_env).is_ok());
}

#[test]
fn public_admin_listener_needs_a_token() {
    let text = format!("{MINIMAL}\n[admin]\nlisten = \"0.0.0.0:9090\"\n");
    assert_eq!(problems(&text)[0].key.as_deref(), Some("admin.listen"));
    let with_token = text.replace(
        "listen = \"0.0.0.0:9090\"",
        "listen = \"0.0.0.0:9090\"\ntoken = \"t0ken\"",
    );
    let settings = load_text(Path::new("gateway.toml"), &with_token, &no_env).unwrap();
    assert_eq!(settings.admin.token.unwrap().expose(), "t0ken");
}

#[test]
fn empty_admin_listen_turns_it_off() {
    let text = format!("{MINIMAL}\n[admin]\nlisten = \"\"\n");
    let settings = load_text(Path::new("gateway.toml"), &text, &no_env).unwrap();
    assert!(settings.admin.listen.is_none());
}

#[test]
fn only_double_underscore_variables_override() {
    // figment reads the process environment, so this test sets variables
    // that no other test reads or asserts on.
    std::env::set_var("BADGEGATE_ADMIN_TOKEN_FOR_TEST", "x");
    std::env::set_var("BADGEGATE_SERVER__KEEP_ALIVE_SECS", "7");
    let result = load_text(Path::new("gateway.toml"), MINIMAL, &no_env);
    std::env::remove_var("BADGEGATE_ADMIN_TOKEN_FOR_TEST");
    std::env::remove_var("BADGEGATE_SERVER__KEEP_ALIVE_SECS");
    let settings = result.unwrap();
    assert_eq!(settings.server.keep_alive.as_secs(), 7);
}

#[test]
fn misspelt_log_level_is_rejected() {
    let problems = problems(&format!("{MINIMAL}\n[log]\nlevel = \"inf\"\n"));
    assert_eq!(problems[0].key.as_deref(), Some("log.level"));
    let filter = format!("{MINIMAL}\n[log]\nlevel = \"info,badgegate=debug\"\n");
    assert!(load_text(Path::new("gateway.toml"), &filter, &no_env).is_ok());
}

#[test]
fn settings_debug_hides_adapter_credentials() {
    let text = "[justcall]\nsecrets = [\"k\"]\n[[sources]]\nname = \"crm\"\ntype = \"hubspot\"\naccess_token = \"pat-na1-hidden-42\"\n";
    let settings = load_text(Path::new("gateway.toml"), text, &no_env).unwrap();
    let printed = format!("{settings:?}");
    assert!(!printed.contains("pat-na1-hidden-42"), "{printed}");
    assert!(printed.contains("access_token"), "{printed}");
}

#[test]
fn problems_hide_environment_values() {
    let env = |name: &str| match name {
        "JUSTCALL_API_SECRET" => Some("jc-secret-value-123".to_string()),
        "LOG_FORMAT" => Some("crm-token-in-wrong-place".to_string()),
        _ => None,
    };
    let problem_text = |text: &str| {
        let problems = load_text(Path::new("gateway.toml"), text, &env).expect_err("rejected");
        let lines: Vec<String> = problems.iter().map(ToString::to_string).collect();
        lines.join("\n")
    };

    let wrong_type = problem_text("[justcall]\nsecrets = \"${JUSTCALL_API_SECRET}\"\n");
    assert!(!wrong_type.contains("jc-secret-value-123"), "{wrong_type}");
    assert!(
        wrong_type.contains("`justcall.secrets`: found a string, expected a sequence"),
        "{wrong_type}"
    );

    let wrong_value = problem_text(&format!("{MINIMAL}\n[log]\nformat = \"${{LOG_FORMAT}}\"\n"));
    assert!(
        !wrong_value.contains("crm-token-in-wrong-place"),
        "{wrong_value}"
    );
    assert!(
        wrong_value.contains("`${LOG_FORMAT}` is not a valid value"),
        "{wrong_value}"
    );
}

#[test]
fn type_errors_hide_literal_strings() {
    let problems = problems("[justcall]\nsecrets = \"literal-secret-in-file\"\n");
    let message = problems[0].to_string();
    assert!(!message.contains("literal-secret-in-file"), "{message}");
    assert!(message.contains("found a string"), "{message}");
}
