//! The `check`, `sign` and `lookup` subcommands, run as a user runs them.

mod common;

use std::path::{Path, PathBuf};
use std::process::{Command, Output};

use common::{badgegate_command, contacts_file, remove_inherited_variables, toml_string, Gateway};
use serde_json::Value;
use tempfile::TempDir;

const SECRET: &str = "cli-test-secret";

const CONTACTS: &str = "name,phone,email,profile_link\n\
Ada Lovelace,+1 (415) 555-0123,ada@example.com,https://crm.example.com/contacts/1\n";

/// Builds a valid config whose file source reads `contacts_path`, which may
/// be relative to the config's folder.
fn valid_config(contacts_path: &str) -> String {
    format!(
        r#"
[justcall]
secrets = ["{SECRET}"]

[[sources]]
name = "contacts"
type = "file"
path = {path}
"#,
        path = toml_string(contacts_path)
    )
}

/// Writes `config` as `gateway.toml` and the contacts as `contacts.csv` into
/// `dir`, and returns the config's path.
fn write_config(dir: &TempDir, config: &str) -> PathBuf {
    std::fs::write(dir.path().join("contacts.csv"), CONTACTS).expect("writing contacts.csv failed");
    let path = dir.path().join("gateway.toml");
    std::fs::write(&path, config).expect("writing gateway.toml failed");
    path
}

fn run(command: &mut Command) -> Output {
    command.output().expect("running badgegate failed")
}

fn stdout(output: &Output) -> String {
    String::from_utf8_lossy(&output.stdout).into_owned()
}

fn stderr(output: &Output) -> String {
    String::from_utf8_lossy(&output.stderr).into_owned()
}

fn run_check(config: &Path) -> Output {
    run(badgegate_command().arg("check").arg("--config").arg(config))
}

#[test]
fn check_accepts_bundled_config() {
    let output = run(badgegate_command()
        .current_dir(env!("CARGO_MANIFEST_DIR"))
        .args(["check", "--config", "gateway.toml"]));

    assert_eq!(
        output.status.code(),
        Some(0),
        "stderr:\n{}",
        stderr(&output)
    );
    assert!(stdout(&output).contains("valid"), "{}", stdout(&output));
}

#[test]
fn check_names_misspelt_key_and_file() {
    let dir = TempDir::new().expect("creating a temporary folder failed");
    let config = format!(
        "[server]\nlisen = \"127.0.0.1:1\"\n{}",
        valid_config("contacts.csv")
    );
    let path = write_config(&dir, &config);

    let output = run_check(&path);
    let errors = stderr(&output);

    assert_eq!(output.status.code(), Some(1), "stderr:\n{errors}");
    assert!(errors.contains("server.lisen"), "{errors}");
    assert!(errors.contains(&path.display().to_string()), "{errors}");
    assert!(errors.contains("1 problem in the config"), "{errors}");
}

#[test]
fn check_lists_types_for_unknown_type() {
    let dir = TempDir::new().expect("creating a temporary folder failed");
    let config = valid_config("contacts.csv").replace("type = \"file\"", "type = \"hubsopt\"");
    let path = write_config(&dir, &config);

    let output = run_check(&path);
    let errors = stderr(&output);

    assert_eq!(output.status.code(), Some(1), "stderr:\n{errors}");
    assert!(errors.contains("`hubsopt`"), "{errors}");
    assert!(errors.contains("`file`"), "{errors}");
    assert!(errors.contains("`hubspot`"), "{errors}");
    assert!(errors.contains("sources[0].type"), "{errors}");
    assert!(errors.contains(&path.display().to_string()), "{errors}");
}

#[tokio::test]
async fn sign_prints_curl_command_gateway_accepts() {
    let contacts = contacts_file(CONTACTS);
    let gateway = Gateway::start(&valid_config(&contacts.path().to_string_lossy())).await;

    let mut sign = badgegate_command();
    sign.args(["sign", "14155550123", "--config"])
        .arg(gateway.config_path())
        .arg("--url")
        .arg(gateway.badge_url());
    let output = tokio::process::Command::from(sign)
        .output()
        .await
        .expect("running badgegate sign failed");
    let curl_command = stdout(&output);

    assert_eq!(
        output.status.code(),
        Some(0),
        "stderr:\n{}",
        stderr(&output)
    );
    assert!(curl_command.starts_with("curl "), "{curl_command}");
    assert!(
        curl_command.contains("x-justcall-signature:"),
        "{curl_command}"
    );
    assert!(
        curl_command.contains("x-justcall-request-timestamp:"),
        "{curl_command}"
    );
    assert!(
        curl_command.contains(&gateway.badge_url()),
        "{curl_command}"
    );

    // The printed command runs curl against the gateway.
    let mut shell = Command::new("sh");
    shell.arg("-c").arg(curl_command.trim());
    remove_inherited_variables(&mut shell);
    let sent = tokio::process::Command::from(shell)
        .output()
        .await
        .expect("running sh failed; the test needs sh and curl");
    let response = stdout(&sent);
    let badge: Value = serde_json::from_str(response.trim()).unwrap_or(Value::Null);

    assert_eq!(
        sent.status.code(),
        Some(0),
        "stdout:\n{response}\nstderr:\n{}",
        stderr(&sent)
    );
    assert_eq!(badge["success"], true, "{response}");
    assert_eq!(badge["data"]["contact_name"], "Ada Lovelace", "{response}");
}

#[test]
fn lookup_json_reports_found_badge() {
    let dir = TempDir::new().expect("creating a temporary folder failed");
    let path = write_config(&dir, &valid_config("contacts.csv"));

    let output = run(badgegate_command()
        .args(["lookup", "14155550123", "--json", "--config"])
        .arg(&path));
    let trace: Value = serde_json::from_slice(&output.stdout).unwrap_or(Value::Null);

    assert_eq!(
        output.status.code(),
        Some(0),
        "stderr:\n{}",
        stderr(&output)
    );
    assert_eq!(trace["outcome"], "found", "{}", stdout(&output));
    assert_eq!(
        trace["badge"]["contact_name"],
        "Ada Lovelace",
        "{}",
        stdout(&output)
    );
    assert_eq!(
        trace["badge"]["contact_profile_link"],
        "https://crm.example.com/contacts/1",
        "{}",
        stdout(&output)
    );
    assert_eq!(
        trace["number"]["e164"],
        "+14155550123",
        "{}",
        stdout(&output)
    );
    assert_eq!(
        trace["sources"][0]["source"],
        "contacts",
        "{}",
        stdout(&output)
    );
    assert_eq!(
        trace["sources"][0]["result"],
        "matched",
        "{}",
        stdout(&output)
    );
}

#[test]
fn lookup_json_reports_unknown_number() {
    let dir = TempDir::new().expect("creating a temporary folder failed");
    let path = write_config(&dir, &valid_config("contacts.csv"));

    let output = run(badgegate_command()
        .args(["lookup", "14155550199", "--json", "--config"])
        .arg(&path));
    let trace: Value = serde_json::from_slice(&output.stdout).unwrap_or(Value::Null);

    assert_eq!(
        output.status.code(),
        Some(0),
        "stderr:\n{}",
        stderr(&output)
    );
    assert_eq!(trace["outcome"], "not_found", "{}", stdout(&output));
    assert_eq!(trace["badge"], Value::Null, "{}", stdout(&output));
    assert_eq!(
        trace["sources"][0]["result"],
        "no_match",
        "{}",
        stdout(&output)
    );
}
