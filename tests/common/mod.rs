//! Helpers the integration tests share: the real `badgegate` binary running
//! on a free port of 127.0.0.1 with its standard error kept in a file, and
//! requests signed the way JustCall signs them.

// Each test crate includes this module and uses only some of it.
#![allow(dead_code)]

pub mod raw_http;
pub mod redis_server;

use std::fs::File;
use std::net::TcpListener;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, ExitStatus, Stdio};
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::{Duration, Instant};

use chrono::{DateTime, Utc};
use serde_json::{json, Value};
use tempfile::TempDir;
use tokio::sync::{Semaphore, SemaphorePermit};

/// Path of the badge endpoint in every config the tests write.
pub const BADGE_PATH: &str = "/justcall/contact-badge";

/// Maximum wait for a started gateway to return 200 from `GET /healthz`.
/// Generous, because a debug build on a busy machine starts slowly.
const START_TIMEOUT: Duration = Duration::from_secs(20);

/// Attempts to start a gateway when the free port was taken by another
/// process between choosing it and the gateway binding it.
const START_ATTEMPTS: usize = 3;

/// Maximum number of gateways running at once in one test binary. Tests run in parallel,
/// and more processes than this mostly compete for the CPU.
const MAX_RUNNING_GATEWAYS: usize = 4;

static RUNNING_GATEWAYS: Semaphore = Semaphore::const_new(MAX_RUNNING_GATEWAYS);

/// Environment variables that would change what the binary does or where it
/// sends requests. They are removed from every child's environment.
const INHERITED_VARIABLES_TO_REMOVE: &[&str] = &[
    "RUST_LOG",
    "JUSTCALL_API_SECRET",
    "HUBSPOT_TOKEN",
    "HTTP_PROXY",
    "HTTPS_PROXY",
    "ALL_PROXY",
    "http_proxy",
    "https_proxy",
    "all_proxy",
];

/// Returns a port that was free a moment ago on 127.0.0.1.
pub fn free_port() -> u16 {
    let listener = TcpListener::bind("127.0.0.1:0").expect("binding 127.0.0.1:0 failed");
    listener
        .local_addr()
        .expect("a bound listener has an address")
        .port()
}

/// Returns whether process `pid` has a socket listening on `port`, from the
/// listening sockets in `/proc/net/tcp` and `tcp6` and the process's open
/// sockets. A test picks a port that was free a moment ago, so another
/// test's server can bind it first and respond in place of the server
/// started on it.
pub fn listens_on(pid: u32, port: u16) -> bool {
    let mut inodes = Vec::new();
    for table in ["/proc/net/tcp", "/proc/net/tcp6"] {
        let Ok(table) = std::fs::read_to_string(table) else {
            continue;
        };
        for line in table.lines().skip(1) {
            let fields: Vec<&str> = line.split_whitespace().collect();
            let (Some(local), Some(state), Some(inode)) =
                (fields.get(1), fields.get(3), fields.get(9))
            else {
                continue;
            };
            let local_port = local
                .rsplit_once(':')
                .and_then(|(_, hex)| u16::from_str_radix(hex, 16).ok());
            // State 0A is LISTEN.
            if local_port == Some(port) && *state == "0A" {
                inodes.push(format!("socket:[{inode}]"));
            }
        }
    }
    let Ok(descriptors) = std::fs::read_dir(format!("/proc/{pid}/fd")) else {
        return false;
    };
    descriptors
        .filter_map(Result::ok)
        .filter_map(|descriptor| std::fs::read_link(descriptor.path()).ok())
        .any(|target| {
            inodes
                .iter()
                .any(|inode| target.as_os_str() == inode.as_str())
        })
}

/// Builds a command for the `badgegate` binary with a predictable
/// environment: no `RUST_LOG`, no `BADGEGATE_*` overrides, no secrets, no
/// proxies, and `NO_COLOR=1` so that text logs have no ANSI escapes.
pub fn badgegate_command() -> Command {
    let mut command = Command::new(env!("CARGO_BIN_EXE_badgegate"));
    remove_inherited_variables(&mut command);
    command.env("NO_COLOR", "1");
    command
}

/// Removes the variables of [`INHERITED_VARIABLES_TO_REMOVE`] and every
/// `BADGEGATE_*` variable from `command`'s environment.
pub fn remove_inherited_variables(command: &mut Command) {
    for name in INHERITED_VARIABLES_TO_REMOVE {
        command.env_remove(name);
    }
    for (name, _) in std::env::vars_os() {
        if name.to_string_lossy().starts_with("BADGEGATE_") {
            command.env_remove(name);
        }
    }
}

/// Quotes `text` as a TOML basic string. JSON string escapes are valid TOML.
pub fn toml_string(text: &str) -> String {
    serde_json::to_string(text).expect("a string serializes as JSON")
}

/// Writes `text` to a new `.csv` file that is deleted when the handle drops.
pub fn contacts_file(text: &str) -> tempfile::NamedTempFile {
    let file = tempfile::Builder::new()
        .prefix("contacts-")
        .suffix(".csv")
        .tempfile()
        .expect("creating a temporary CSV file failed");
    std::fs::write(file.path(), text).expect("writing the temporary CSV file failed");
    file
}

/// Returns `config` with `listen = "127.0.0.1:{port}"` as the first key of
/// its `[server]` table, adding the table when `config` has none, and with
/// the admin listener turned off when `config` has no `[admin]` table.
fn with_listen(config: &str, port: u16) -> String {
    let listen = format!("listen = \"127.0.0.1:{port}\"\n");
    let with_server = match config.find("[server]\n") {
        Some(start) => {
            let end = start + "[server]\n".len();
            format!("{}{listen}{}", &config[..end], &config[end..])
        }
        None => format!("[server]\n{listen}\n{config}"),
    };
    // Gateways run side by side, so the admin listener is off unless a test
    // configures it on a port of its own.
    if config.contains("[admin]") {
        with_server
    } else {
        format!("{with_server}\n[admin]\nlisten = \"\"\n")
    }
}

/// Builds an HTTP client for the gateway that never uses a proxy, so that
/// every request stays on 127.0.0.1.
pub fn http_client() -> reqwest::Client {
    reqwest::Client::builder()
        .no_proxy()
        .timeout(Duration::from_secs(30))
        .build()
        .expect("the test HTTP client settings are valid")
}

/// A `badgegate serve` process on 127.0.0.1, killed when dropped.
pub struct Gateway {
    pub port: u16,
    child: Child,
    /// Holds the config file and the log file.
    dir: TempDir,
    config_path: Option<PathBuf>,
    client: reqwest::Client,
    _slot: SemaphorePermit<'static>,
}

impl Gateway {
    /// Writes `config` to a temporary file, with `server.listen` set to a free
    /// port, and serves it. `config` must not set `server.listen` itself.
    pub async fn start(config: &str) -> Gateway {
        let dir = TempDir::new().expect("creating a temporary folder failed");
        let config_path = dir.path().join("gateway.toml");
        let make_command = |port: u16| {
            std::fs::write(&config_path, with_listen(config, port))
                .expect("writing the temporary config failed");
            let mut command = badgegate_command();
            command.arg("--config").arg(&config_path);
            command
        };
        let mut gateway = Gateway::launch(dir, make_command).await;
        gateway.config_path = Some(config_path);
        gateway
    }

    /// Runs the command `make_command` builds for a free port, which must
    /// make the binary serve on 127.0.0.1 at that port.
    pub async fn start_command(make_command: impl Fn(u16) -> Command) -> Gateway {
        let dir = TempDir::new().expect("creating a temporary folder failed");
        Gateway::launch(dir, make_command).await
    }

    async fn launch(dir: TempDir, make_command: impl Fn(u16) -> Command) -> Gateway {
        let slot = RUNNING_GATEWAYS
            .acquire()
            .await
            .expect("the gateway semaphore is never closed");
        let client = http_client();
        let log_path = dir.path().join("stderr.log");
        let mut failures = Vec::new();
        for _ in 0..START_ATTEMPTS {
            let port = free_port();
            let log = File::create(&log_path).expect("creating the log file failed");
            let mut command = make_command(port);
            command
                .stdin(Stdio::null())
                .stdout(Stdio::null())
                .stderr(Stdio::from(log));
            let mut child = command.spawn().expect("spawning badgegate failed");
            match wait_until_healthy(&client, &mut child, port).await {
                Ok(()) => {
                    return Gateway {
                        port,
                        child,
                        dir,
                        config_path: None,
                        client,
                        _slot: slot,
                    }
                }
                Err(reason) => {
                    let _ = child.kill();
                    let _ = child.wait();
                    let logs = std::fs::read_to_string(&log_path).unwrap_or_default();
                    let port_taken = logs.contains("cannot listen");
                    failures.push(format!("port {port}: {reason}\n{logs}"));
                    if !port_taken {
                        break;
                    }
                }
            }
        }
        panic!("badgegate did not start:\n{}", failures.join("\n---\n"));
    }

    /// Returns the config file [`Gateway::start`] wrote, with the gateway's port.
    pub fn config_path(&self) -> &Path {
        self.config_path
            .as_deref()
            .expect("only Gateway::start writes a config file")
    }

    /// Returns the process id of the running binary.
    pub fn pid(&self) -> u32 {
        self.child.id()
    }

    /// Writes `text` as the gateway's config file, replacing it whole so the
    /// gateway never reads a half-written file.
    pub fn rewrite_config(&self, text: &str) {
        let path = self.config_path();
        let staging = path.with_extension("toml.new");
        std::fs::write(&staging, text).expect("writing the new config failed");
        std::fs::rename(&staging, path).expect("replacing the config failed");
    }

    /// Sends SIGHUP to the gateway with the system's `kill` command.
    pub fn send_sighup(&self) {
        self.send_signal("HUP");
    }

    /// Sends SIGTERM to the gateway with the system's `kill` command.
    pub fn terminate(&self) {
        self.send_signal("TERM");
    }

    /// Sends the signal `name` (such as `HUP`) with the system's `kill` command.
    fn send_signal(&self, name: &str) {
        let status = Command::new("kill")
            .arg(format!("-{name}"))
            .arg(self.pid().to_string())
            .status()
            .unwrap_or_else(|error| panic!("running `kill -{name}` failed: {error}"));
        assert!(
            status.success(),
            "`kill -{name} {}` exited with {status}",
            self.pid()
        );
    }

    /// Waits up to `limit` for the gateway to exit and returns its exit
    /// status, or `None` when it is still running by then.
    pub async fn wait_for_exit(&mut self, limit: Duration) -> Option<ExitStatus> {
        let limit = Instant::now() + limit;
        loop {
            if let Some(status) = self.child.try_wait().expect("polling the child failed") {
                return Some(status);
            }
            if Instant::now() > limit {
                return None;
            }
            tokio::time::sleep(Duration::from_millis(50)).await;
        }
    }

    /// Returns the URL that JustCall would send requests to and sign.
    pub fn badge_url(&self) -> String {
        format!("http://127.0.0.1:{}{BADGE_PATH}", self.port)
    }

    /// Returns everything the gateway has written to standard error so far.
    pub fn logs(&self) -> String {
        std::fs::read_to_string(self.dir.path().join("stderr.log"))
            .expect("reading the gateway's log file failed")
    }

    /// Waits up to 5 s for a log line that satisfies `predicate` and
    /// returns it, or `None` when no line does by then.
    pub async fn wait_for_log_line(&self, predicate: impl Fn(&str) -> bool) -> Option<String> {
        let limit = Instant::now() + Duration::from_secs(5);
        loop {
            let logs = self.logs();
            if let Some(line) = logs.lines().find(|line| predicate(line)) {
                return Some(line.to_string());
            }
            if Instant::now() > limit {
                return None;
            }
            tokio::time::sleep(Duration::from_millis(50)).await;
        }
    }

    /// Sends `request` to the badge endpoint.
    pub async fn send(&self, request: &BadgeRequest) -> Reply {
        self.post(BADGE_PATH, request.body(), &request.headers())
            .await
    }

    /// Sends a request for `contact_number`, signed now with `secret`.
    pub async fn request_badge(&self, secret: &str, contact_number: &str) -> Reply {
        let request = BadgeRequest::signed(secret, &self.badge_url(), contact_number);
        self.send(&request).await
    }

    /// Sends a POST with `body` and `headers` to `path`.
    pub async fn post(
        &self,
        path: &str,
        body: impl Into<reqwest::Body>,
        headers: &[(&str, String)],
    ) -> Reply {
        let mut builder = self
            .client
            .post(format!("http://127.0.0.1:{}{path}", self.port))
            .header("content-type", "application/json")
            .body(body);
        for (name, value) in headers {
            builder = builder.header(*name, value);
        }
        Reply::read(
            builder
                .send()
                .await
                .expect("the POST to the gateway failed"),
        )
        .await
    }

    /// Sends a GET to `path`.
    pub async fn get(&self, path: &str) -> Reply {
        let response = self
            .client
            .get(format!("http://127.0.0.1:{}{path}", self.port))
            .send()
            .await
            .expect("the GET to the gateway failed");
        Reply::read(response).await
    }
}

impl Drop for Gateway {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// Polls `GET /healthz` until the child listens on `port` and it returns
/// 200, the child exits, or [`START_TIMEOUT`] passes.
async fn wait_until_healthy(
    client: &reqwest::Client,
    child: &mut Child,
    port: u16,
) -> Result<(), String> {
    let limit = Instant::now() + START_TIMEOUT;
    let url = format!("http://127.0.0.1:{port}/healthz");
    loop {
        if let Some(status) = child.try_wait().expect("polling the child failed") {
            return Err(format!("badgegate exited with {status} before serving"));
        }
        let healthy = client
            .get(&url)
            .timeout(Duration::from_secs(1))
            .send()
            .await
            .is_ok_and(|response| response.status() == reqwest::StatusCode::OK);
        if healthy && listens_on(child.id(), port) {
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

/// A response from the gateway: the status, the raw body, and the body as
/// JSON (`Value::Null` when it is not JSON).
#[derive(Debug)]
pub struct Reply {
    pub status: u16,
    pub text: String,
    pub body: Value,
}

impl Reply {
    async fn read(response: reqwest::Response) -> Reply {
        let status = response.status().as_u16();
        let text = response
            .text()
            .await
            .expect("reading the gateway's response body failed");
        let body = serde_json::from_str(&text).unwrap_or(Value::Null);
        Reply { status, text, body }
    }

    /// `error.code`, or `""` when the body has none.
    pub fn error_code(&self) -> &str {
        self.body["error"]["code"].as_str().unwrap_or_default()
    }

    /// `error.message`, or `""` when the body has none.
    pub fn error_message(&self) -> &str {
        self.body["error"]["message"].as_str().unwrap_or_default()
    }

    /// `data.{field}`, or `""` when the body has none.
    pub fn data(&self, field: &str) -> &str {
        self.body["data"][field].as_str().unwrap_or_default()
    }
}

/// Returns a request id that no other request of this test run uses, so
/// that no two requests share a signature.
pub fn new_request_id() -> String {
    static COUNTER: AtomicU64 = AtomicU64::new(0);
    let count = COUNTER.fetch_add(1, Ordering::Relaxed);
    format!("test{}x{count}", std::process::id())
}

/// Formats `time` as JustCall's timestamp header does: UTC, no zone.
pub fn justcall_timestamp(time: DateTime<Utc>) -> String {
    time.format("%Y-%m-%d %H:%M:%S").to_string()
}

/// A badge request with its signing headers. Tests change a field after
/// signing to build a request the gateway must reject.
#[derive(Debug, Clone)]
pub struct BadgeRequest {
    pub request_id: String,
    pub contact_number: String,
    pub timestamp: String,
    pub signature: String,
    pub version: String,
}

impl BadgeRequest {
    /// Signs a request for `contact_number` to `url` with `secret`, now.
    pub fn signed(secret: &str, url: &str, contact_number: &str) -> BadgeRequest {
        BadgeRequest::signed_at(secret, url, contact_number, Utc::now())
    }

    /// Signs a request for `contact_number` to `url` with `secret`, with the
    /// timestamp `time`.
    pub fn signed_at(
        secret: &str,
        url: &str,
        contact_number: &str,
        time: DateTime<Utc>,
    ) -> BadgeRequest {
        let request_id = new_request_id();
        let timestamp = justcall_timestamp(time);
        let signature = badgegate::signature::sign(secret, url, &request_id, &timestamp);
        BadgeRequest {
            request_id,
            contact_number: contact_number.to_string(),
            timestamp,
            signature,
            version: "v1".to_string(),
        }
    }

    /// Builds the JSON body JustCall sends.
    pub fn body(&self) -> String {
        json!({"request_id": self.request_id, "contact_number": self.contact_number}).to_string()
    }

    /// Builds the three signing headers.
    pub fn headers(&self) -> Vec<(&'static str, String)> {
        vec![
            ("x-justcall-signature", self.signature.clone()),
            ("x-justcall-signature-version", self.version.clone()),
            ("x-justcall-request-timestamp", self.timestamp.clone()),
        ]
    }
}
