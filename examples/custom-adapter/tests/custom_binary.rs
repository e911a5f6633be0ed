//! `custom-badgegate` run as a user runs it: it serves badges from its own
//! `static-directory` source, and `check` validates that source's keys.

use std::net::TcpListener;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::{Duration, Instant};

use chrono::Utc;
use serde_json::{json, Value};
use tempfile::TempDir;

const SECRET: &str = "custom-adapter-test-secret";

/// Maximum wait for the started binary to return 200 from `GET /healthz`.
/// Generous, because a debug build on a busy machine starts slowly.
const START_TIMEOUT: Duration = Duration::from_secs(20);

/// Attempts to start the binary when the free port was taken between
/// choosing it and the binary binding it.
const START_ATTEMPTS: usize = 3;

fn example_config() -> String {
    let path = Path::new(env!("CARGO_MANIFEST_DIR")).join("gateway.toml");
    std::fs::read_to_string(path).expect("reading the example config failed")
}

fn free_port() -> u16 {
    let listener = TcpListener::bind("127.0.0.1:0").expect("binding 127.0.0.1:0 failed");
    listener
        .local_addr()
        .expect("a bound listener has an address")
        .port()
}

/// Builds a command for the binary with only the variables the tests set,
/// so that no `BADGEGATE_*` override, log filter or proxy of the caller's
/// environment applies.
fn command() -> Command {
    let mut command = Command::new(env!("CARGO_BIN_EXE_custom-badgegate"));
    command
        .env_clear()
        .env("JUSTCALL_API_SECRET", SECRET)
        .env("NO_COLOR", "1");
    command
}

/// Writes `config` to `dir` and returns its path.
fn write_config(dir: &TempDir, config: &str) -> PathBuf {
    let path = dir.path().join("gateway.toml");
    std::fs::write(&path, config).expect("writing the config failed");
    path
}

/// The binary serving the example config on 127.0.0.1, killed when dropped.
struct Gateway {
    port: u16,
    child: Child,
    _dir: TempDir,
}

impl Gateway {
    /// Starts the binary on a free port and waits until it serves. Tries
    /// again on another port when the chosen one was taken by another
    /// process before the binary bound it.
    async fn start(client: &reqwest::Client) -> Gateway {
        let mut failures = Vec::new();
        for _ in 0..START_ATTEMPTS {
            let mut gateway = Gateway::spawn();
            match gateway.wait_until_healthy(client).await {
                Ok(()) => return gateway,
                Err(reason) => failures.push(format!("port {}: {reason}", gateway.port)),
            }
        }
        panic!("custom-badgegate did not start:\n{}", failures.join("\n"));
    }

    fn spawn() -> Gateway {
        let dir = TempDir::new().expect("creating a temporary folder failed");
        let port = free_port();
        let config = example_config().replace(
            "listen = \"127.0.0.1:8080\"",
            &format!("listen = \"127.0.0.1:{port}\""),
        ) + "\n[admin]\nlisten = \"\"\n";
        let path = write_config(&dir, &config);
        let child = command()
            .arg("--config")
            .arg(&path)
            .stdin(Stdio::null())
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .expect("spawning custom-badgegate failed");
        Gateway {
            port,
            child,
            _dir: dir,
        }
    }

    fn url(&self, path: &str) -> String {
        format!("http://127.0.0.1:{}{path}", self.port)
    }

    async fn wait_until_healthy(&mut self, client: &reqwest::Client) -> Result<(), String> {
        let limit = Instant::now() + START_TIMEOUT;
        loop {
            if let Some(status) = self.child.try_wait().expect("polling the child failed") {
                return Err(format!("exited with {status} before serving"));
            }
            let healthy = client
                .get(self.url("/healthz"))
                .send()
                .await
                .is_ok_and(|response| response.status() == reqwest::StatusCode::OK);
            if healthy {
                return Ok(());
            }
            if Instant::now() > limit {
                return Err(format!(
                    "GET /healthz did not return 200 within {} s",
                    START_TIMEOUT.as_secs()
                ));
            }
            tokio::time::sleep(Duration::from_millis(50)).await;
        }
    }
}

impl Drop for Gateway {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// Sends a badge request for `number`, signed as JustCall signs it.
async fn request_badge(client: &reqwest::Client, gateway: &Gateway, number: &str) -> Value {
    let url = gateway.url("/justcall/contact-badge");
    // The gateway rejects a request id it has seen, as a replay.
    static REQUESTS: AtomicU64 = AtomicU64::new(0);
    let count = REQUESTS.fetch_add(1, Ordering::Relaxed);
    let request_id = format!("custom{}x{count}", std::process::id());
    let timestamp = Utc::now().format("%Y-%m-%d %H:%M:%S").to_string();
    let signature = badgegate::signature::sign(SECRET, &url, &request_id, &timestamp);
    let response = client
        .post(&url)
        .header("content-type", "application/json")
        .header("x-justcall-signature", signature)
        .header("x-justcall-signature-version", "v1")
        .header("x-justcall-request-timestamp", timestamp)
        .body(json!({"request_id": request_id, "contact_number": number}).to_string())
        .send()
        .await
        .expect("the badge request failed");
    assert_eq!(
        response.status(),
        reqwest::StatusCode::OK,
        "request for {number}"
    );
    response.json().await.expect("the badge response is JSON")
}

#[tokio::test]
async fn serves_badge_from_static_directory() {
    let client = reqwest::Client::builder()
        .no_proxy()
        .timeout(Duration::from_secs(10))
        .build()
        .expect("the test HTTP client settings are valid");
    let gateway = Gateway::start(&client).await;

    let found = request_badge(&client, &gateway, "14155550123").await;
    let not_found = request_badge(&client, &gateway, "14155550100").await;

    assert_eq!(found["success"], json!(true), "{found}");
    assert_eq!(found["data"]["contact_name"], "Ada Lovelace");
    assert_eq!(
        found["data"]["contact_profile_link"],
        "https://intranet.example.com/people/ada"
    );
    assert_eq!(found["data"]["contact_email"], "ada@example.com");
    assert_eq!(not_found["success"], json!(false), "{not_found}");
    assert_eq!(not_found["error"]["code"], "not_found");
}

#[test]
fn check_names_misspelt_adapter_key() {
    let dir = TempDir::new().expect("creating a temporary folder failed");
    let config = example_config().replacen("phones = [", "phone = [", 1);
    let path = write_config(&dir, &config);

    let output = command()
        .arg("check")
        .arg("--config")
        .arg(&path)
        .output()
        .expect("running custom-badgegate check failed");

    let stderr = String::from_utf8_lossy(&output.stderr);
    assert_eq!(output.status.code(), Some(1), "{stderr}");
    assert!(stderr.contains("sources[0].phone"), "{stderr}");
    assert!(stderr.contains("static-directory"), "{stderr}");
}

#[test]
fn check_accepts_example_config() {
    let output = command()
        .arg("check")
        .arg("--config")
        .arg(Path::new(env!("CARGO_MANIFEST_DIR")).join("gateway.toml"))
        .output()
        .expect("running custom-badgegate check failed");

    let stdout = String::from_utf8_lossy(&output.stdout);
    assert_eq!(
        output.status.code(),
        Some(0),
        "{}",
        String::from_utf8_lossy(&output.stderr)
    );
    assert!(stdout.contains("directory (static-directory)"), "{stdout}");
}
