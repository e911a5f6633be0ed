//! Risky setups: `badgegate check` rejects unverified requests and an admin
//! listener without a token on addresses other hosts can reach, also when an
//! environment override makes them so, and warns about the choices it
//! accepts. `serve` validates the same way and logs the warnings at start.

mod common;

use std::process::Output;

use common::{badgegate_command, contacts_file, toml_string, Gateway};
use tempfile::TempDir;

/// The secret the shipped `gateway.toml` falls back to.
const DEMO_SECRET: &str = "badgegate-demo-secret-change-me";

const CONTACTS: &str = "name,phone,email,profile_link\n\
Ada Lovelace,+1 (415) 555-0123,ada@example.com,https://crm.example.com/contacts/1\n";

/// The start of the warning about `verify_signatures = false`.
const UNVERIFIED_WARNING: &str = "warning: justcall.verify_signatures is false";

/// A config for `check` and what `check` must do with it.
struct Case {
    name: &'static str,
    listen: &'static str,
    /// Lines of the `[justcall]` table.
    justcall: &'static str,
    /// Lines of the `[admin]` table.
    admin: &'static str,
    /// Environment overrides set for the run.
    env: &'static [(&'static str, &'static str)],
    /// The exit code `check` must return.
    exit_code: i32,
    /// Text that standard error must contain.
    stderr: &'static str,
    /// Text that standard error must not contain.
    not_in_stderr: &'static str,
}

const VERIFIED: &str = "secrets = [\"safe-defaults-test-secret\"]";
const UNVERIFIED: &str = "verify_signatures = false";
const ADMIN_OFF: &str = "listen = \"\"";

const CASES: &[Case] = &[
    Case {
        name: "unverified on 0.0.0.0",
        listen: "0.0.0.0:8080",
        justcall: UNVERIFIED,
        admin: ADMIN_OFF,
        env: &[],
        exit_code: 1,
        stderr: "justcall.verify_signatures",
        not_in_stderr: "valid;",
    },
    Case {
        name: "unverified on [::]",
        listen: "[::]:8080",
        justcall: UNVERIFIED,
        admin: ADMIN_OFF,
        env: &[],
        exit_code: 1,
        stderr: "justcall.verify_signatures",
        not_in_stderr: "valid;",
    },
    Case {
        name: "unverified on a LAN address",
        listen: "192.168.1.10:8080",
        justcall: UNVERIFIED,
        admin: ADMIN_OFF,
        env: &[],
        exit_code: 1,
        stderr: "justcall.verify_signatures",
        not_in_stderr: "valid;",
    },
    Case {
        name: "unverified on 0.0.0.0, allowed",
        listen: "0.0.0.0:8080",
        justcall: "verify_signatures = false\nallow_unverified = true",
        admin: ADMIN_OFF,
        env: &[],
        exit_code: 0,
        stderr: UNVERIFIED_WARNING,
        not_in_stderr: "error:",
    },
    Case {
        name: "unverified on 127.0.0.1",
        listen: "127.0.0.1:8080",
        justcall: UNVERIFIED,
        admin: ADMIN_OFF,
        env: &[],
        exit_code: 0,
        stderr: UNVERIFIED_WARNING,
        not_in_stderr: "error:",
    },
    Case {
        name: "unverified on [::1]",
        listen: "[::1]:8080",
        justcall: UNVERIFIED,
        admin: ADMIN_OFF,
        env: &[],
        exit_code: 0,
        stderr: UNVERIFIED_WARNING,
        not_in_stderr: "error:",
    },
    Case {
        name: "unverified by environment override on 0.0.0.0",
        listen: "0.0.0.0:8080",
        justcall: VERIFIED,
        admin: ADMIN_OFF,
        env: &[("BADGEGATE_JUSTCALL__VERIFY_SIGNATURES", "false")],
        exit_code: 1,
        stderr: "justcall.verify_signatures",
        not_in_stderr: "valid;",
    },
    Case {
        name: "unverified, moved to 0.0.0.0 by environment override",
        listen: "127.0.0.1:8080",
        justcall: UNVERIFIED,
        admin: ADMIN_OFF,
        env: &[("BADGEGATE_SERVER__LISTEN", "0.0.0.0:8080")],
        exit_code: 1,
        stderr: "justcall.verify_signatures",
        not_in_stderr: "valid;",
    },
    Case {
        name: "verified on 0.0.0.0",
        listen: "0.0.0.0:8080",
        justcall: VERIFIED,
        admin: ADMIN_OFF,
        env: &[],
        exit_code: 0,
        stderr: "",
        not_in_stderr: "verify_signatures",
    },
    Case {
        name: "admin on 0.0.0.0 without token",
        listen: "127.0.0.1:8080",
        justcall: VERIFIED,
        admin: "listen = \"0.0.0.0:9090\"",
        env: &[],
        exit_code: 1,
        stderr: "admin.listen",
        not_in_stderr: "valid;",
    },
    Case {
        name: "admin on 0.0.0.0 with a blank token",
        listen: "127.0.0.1:8080",
        justcall: VERIFIED,
        admin: "listen = \"0.0.0.0:9090\"\ntoken = \"   \"",
        env: &[],
        exit_code: 1,
        stderr: "admin.listen",
        not_in_stderr: "valid;",
    },
    Case {
        name: "admin moved to 0.0.0.0 by environment override",
        listen: "127.0.0.1:8080",
        justcall: VERIFIED,
        admin: "listen = \"127.0.0.1:9090\"",
        env: &[("BADGEGATE_ADMIN__LISTEN", "0.0.0.0:9090")],
        exit_code: 1,
        stderr: "admin.listen",
        not_in_stderr: "valid;",
    },
    Case {
        name: "admin on 0.0.0.0 with a token",
        listen: "127.0.0.1:8080",
        justcall: VERIFIED,
        admin: "listen = \"0.0.0.0:9090\"\ntoken = \"adm-token-for-check\"",
        env: &[],
        exit_code: 0,
        stderr: "",
        not_in_stderr: "admin.listen",
    },
    Case {
        name: "admin on 127.0.0.1 without token",
        listen: "127.0.0.1:8080",
        justcall: VERIFIED,
        admin: "listen = \"127.0.0.1:9090\"",
        env: &[],
        exit_code: 0,
        stderr: "",
        not_in_stderr: "admin.listen",
    },
    Case {
        name: "demo secret",
        listen: "127.0.0.1:8080",
        justcall: "secrets = [\"badgegate-demo-secret-change-me\"]",
        admin: ADMIN_OFF,
        env: &[],
        exit_code: 0,
        stderr: "warning: justcall.secrets contains the demo secret",
        not_in_stderr: "error:",
    },
];

/// Builds the config of `case`, reading `contacts.csv` next to it.
fn case_config(case: &Case) -> String {
    format!(
        "[server]\nlisten = \"{listen}\"\n\n[justcall]\n{justcall}\n\n[admin]\n{admin}\n\n\
         [[sources]]\nname = \"contacts\"\ntype = \"file\"\npath = \"contacts.csv\"\n",
        listen = case.listen,
        justcall = case.justcall,
        admin = case.admin
    )
}

/// Runs `badgegate check` on the config of `case`.
fn run_check(case: &Case) -> Output {
    let dir = TempDir::new().expect("creating a temporary folder failed");
    std::fs::write(dir.path().join("contacts.csv"), CONTACTS).expect("writing contacts.csv failed");
    let config = dir.path().join("gateway.toml");
    std::fs::write(&config, case_config(case)).expect("writing gateway.toml failed");
    let mut command = badgegate_command();
    command.arg("check").arg("--config").arg(&config);
    for (name, value) in case.env {
        command.env(name, value);
    }
    command.output().expect("running badgegate check failed")
}

#[test]
fn check_rejects_risky_setups() {
    for case in CASES {
        let output = run_check(case);
        let stderr = String::from_utf8_lossy(&output.stderr);
        let name = case.name;

        assert_eq!(
            output.status.code(),
            Some(case.exit_code),
            "{name}: check exited with {}; standard error:\n{stderr}",
            output.status
        );
        assert!(
            stderr.contains(case.stderr),
            "{name}: standard error lacks {:?}:\n{stderr}",
            case.stderr
        );
        assert!(
            !stderr.contains(case.not_in_stderr),
            "{name}: standard error contains {:?}:\n{stderr}",
            case.not_in_stderr
        );
    }
}

#[tokio::test]
async fn serve_warns_about_demo_secret() {
    let contacts = contacts_file(CONTACTS);
    let config = format!(
        "[justcall]\nsecrets = [\"{DEMO_SECRET}\"]\n\n[[sources]]\nname = \"contacts\"\n\
         type = \"file\"\npath = {}\n",
        toml_string(&contacts.path().to_string_lossy())
    );
    let gateway = Gateway::start(&config).await;

    let warning = gateway
        .wait_for_log_line(|line| line.contains("demo secret"))
        .await;

    let logs = gateway.logs();
    let warning =
        warning.unwrap_or_else(|| panic!("no demo-secret warning; the logs are:\n{logs}"));
    assert!(warning.contains("WARN"), "{warning}");
    assert!(warning.contains("JUSTCALL_API_SECRET"), "{warning}");
}

#[tokio::test]
async fn serve_warns_about_unverified_loopback() {
    let contacts = contacts_file(CONTACTS);
    let config = format!(
        "[justcall]\nverify_signatures = false\n\n[[sources]]\nname = \"contacts\"\n\
         type = \"file\"\npath = {}\n",
        toml_string(&contacts.path().to_string_lossy())
    );
    let gateway = Gateway::start(&config).await;

    let warning = gateway
        .wait_for_log_line(|line| line.contains("verify_signatures is false"))
        .await;

    let logs = gateway.logs();
    let warning = warning.unwrap_or_else(|| panic!("no warning; the logs are:\n{logs}"));
    assert!(warning.contains("WARN"), "{warning}");
}
