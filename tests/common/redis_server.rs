//! A `redis-server` of the test's own on a free port of 127.0.0.1, without
//! persistence, killed when dropped. A test can stop it and start it again on
//! the same port to act out a Redis outage.
//!
//! The program is `redis-server` from `PATH`, or the path in
//! `BADGEGATE_TEST_REDIS_SERVER`. Without it, [`RedisServer::start_or_skip`]
//! prints why the test is skipped, and the test returns early.

use std::fs::File;
use std::io::{Read, Write};
use std::net::{SocketAddr, TcpStream};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use tempfile::TempDir;

use super::free_port;

/// Environment variable naming the `redis-server` program to run in place
/// of the one on `PATH`.
pub const REDIS_SERVER_VARIABLE: &str = "BADGEGATE_TEST_REDIS_SERVER";

/// Maximum wait for a started `redis-server` to reply to `PING`.
const START_TIMEOUT: Duration = Duration::from_secs(10);

/// Attempts to start on a free port when another process took the port
/// between choosing it and `redis-server` binding it.
const START_ATTEMPTS: usize = 3;

/// A `redis-server` child process on 127.0.0.1.
pub struct RedisServer {
    pub port: u16,
    program: PathBuf,
    /// `None` while stopped.
    child: Option<Child>,
    /// Working folder and log file of the server.
    dir: TempDir,
}

impl RedisServer {
    /// Starts a server on a free port, or prints one line to standard error
    /// saying that `test` is skipped and why, and returns `None`, when no
    /// `redis-server` program is found.
    pub fn start_or_skip(test: &str) -> Option<RedisServer> {
        match find_program() {
            Ok(program) => Some(RedisServer::start(program)),
            Err(reason) => {
                // Written to the process's standard error in one call, not
                // through `eprintln!`, which the test harness captures and
                // hides for passing tests.
                let line = format!("skipped {test}: {reason}\n");
                let _ = std::io::stderr().lock().write_all(line.as_bytes());
                None
            }
        }
    }

    fn start(program: PathBuf) -> RedisServer {
        let dir = TempDir::new().expect("creating a temporary folder failed");
        let mut server = RedisServer {
            port: 0,
            program,
            child: None,
            dir,
        };
        let mut failures = Vec::new();
        for _ in 0..START_ATTEMPTS {
            server.port = free_port();
            match server.spawn() {
                Ok(()) => return server,
                Err(reason) => {
                    let port_taken = reason.contains("Address already in use");
                    failures.push(format!("port {}: {reason}", server.port));
                    if !port_taken {
                        break;
                    }
                }
            }
        }
        panic!("redis-server did not start:\n{}", failures.join("\n---\n"));
    }

    /// Returns the URL for `[redis] url`.
    pub fn url(&self) -> String {
        format!("redis://127.0.0.1:{}", self.port)
    }

    /// Kills the server and waits for it to exit. Every key is lost, because
    /// the server runs without persistence.
    pub fn stop(&mut self) {
        if let Some(mut child) = self.child.take() {
            let _ = child.kill();
            let _ = child.wait();
        }
    }

    /// Starts the server again on the same port, empty. Panics when it does
    /// not reply to `PING` within 10 s, e.g. because another process took the port.
    pub fn restart(&mut self) {
        self.stop();
        if let Err(reason) = self.spawn() {
            panic!(
                "redis-server did not start again on port {}: {reason}",
                self.port
            );
        }
    }

    /// Opens a client connection, for tests that inspect what the gateways
    /// stored.
    pub fn connection(&self) -> redis::Connection {
        let client = redis::Client::open(self.url()).expect("the test Redis URL is valid");
        client
            .get_connection_with_timeout(Duration::from_secs(5))
            .unwrap_or_else(|error| panic!("connecting to {} failed: {error}", self.url()))
    }

    /// Returns the keys that match the glob `pattern`.
    pub fn keys(&self, pattern: &str) -> Vec<String> {
        redis::cmd("KEYS")
            .arg(pattern)
            .query(&mut self.connection())
            .unwrap_or_else(|error| panic!("KEYS {pattern} failed: {error}"))
    }

    /// Returns each channel that matches the glob `pattern` and has at least
    /// one subscriber, with its number of subscribers.
    pub fn channel_subscribers(&self, pattern: &str) -> Vec<(String, u64)> {
        let mut connection = self.connection();
        let channels: Vec<String> = redis::cmd("PUBSUB")
            .arg("CHANNELS")
            .arg(pattern)
            .query(&mut connection)
            .unwrap_or_else(|error| panic!("PUBSUB CHANNELS {pattern} failed: {error}"));
        if channels.is_empty() {
            return Vec::new();
        }
        redis::cmd("PUBSUB")
            .arg("NUMSUB")
            .arg(&channels)
            .query(&mut connection)
            .unwrap_or_else(|error| panic!("PUBSUB NUMSUB {channels:?} failed: {error}"))
    }

    /// Returns what the server has written to its log.
    pub fn logs(&self) -> String {
        std::fs::read_to_string(self.log_path()).unwrap_or_default()
    }

    fn log_path(&self) -> PathBuf {
        self.dir.path().join("redis-server.log")
    }

    /// Runs the program on `self.port` and waits until it replies to `PING`.
    fn spawn(&mut self) -> Result<(), String> {
        let log = File::create(self.log_path()).expect("creating the Redis log file failed");
        let log_for_stderr = log
            .try_clone()
            .expect("duplicating the Redis log file handle failed");
        let mut child = Command::new(&self.program)
            .arg("--port")
            .arg(self.port.to_string())
            .arg("--bind")
            .arg("127.0.0.1")
            .arg("--save")
            .arg("")
            .arg("--appendonly")
            .arg("no")
            .arg("--dir")
            .arg(self.dir.path())
            .current_dir(self.dir.path())
            .stdin(Stdio::null())
            .stdout(Stdio::from(log))
            .stderr(Stdio::from(log_for_stderr))
            .spawn()
            .map_err(|error| format!("running {} failed: {error}", self.program.display()))?;
        match wait_until_ready(&mut child, self.port) {
            Ok(()) => {
                self.child = Some(child);
                Ok(())
            }
            Err(reason) => {
                let _ = child.kill();
                let _ = child.wait();
                Err(format!("{reason}\n{}", self.logs()))
            }
        }
    }
}

impl Drop for RedisServer {
    fn drop(&mut self) {
        self.stop();
    }
}

/// Returns the program named by [`REDIS_SERVER_VARIABLE`], or else
/// `redis-server` from `PATH`, or why neither is usable.
fn find_program() -> Result<PathBuf, String> {
    if let Some(configured) = std::env::var_os(REDIS_SERVER_VARIABLE).filter(|v| !v.is_empty()) {
        let program = PathBuf::from(configured);
        return if program.is_file() {
            Ok(program)
        } else {
            Err(format!(
                "{REDIS_SERVER_VARIABLE}={} is not a file; point it to redis-server, \
                 or unset it to use redis-server from PATH, to run the shared-tier tests",
                program.display()
            ))
        };
    }
    let path = std::env::var_os("PATH").unwrap_or_default();
    std::env::split_paths(&path)
        .map(|folder| folder.join("redis-server"))
        .find(|candidate| is_executable(candidate))
        .ok_or_else(|| {
            format!(
                "redis-server is not on PATH; install it (apt-get install redis-server) \
                 or set {REDIS_SERVER_VARIABLE} to its path to run the shared-tier tests"
            )
        })
}

#[cfg(unix)]
fn is_executable(path: &Path) -> bool {
    use std::os::unix::fs::PermissionsExt;
    path.metadata()
        .is_ok_and(|metadata| metadata.is_file() && metadata.permissions().mode() & 0o111 != 0)
}

#[cfg(not(unix))]
fn is_executable(path: &Path) -> bool {
    path.is_file()
}

/// Sends `PING` until the child listens on `port` and replies `+PONG`, the
/// child exits, or [`START_TIMEOUT`] passes.
fn wait_until_ready(child: &mut Child, port: u16) -> Result<(), String> {
    let limit = Instant::now() + START_TIMEOUT;
    let address = SocketAddr::from(([127, 0, 0, 1], port));
    loop {
        if let Some(status) = child.try_wait().expect("polling the child failed") {
            return Err(format!("redis-server exited with {status} before serving"));
        }
        if ping(address).is_ok() && super::listens_on(child.id(), port) {
            return Ok(());
        }
        if Instant::now() > limit {
            return Err(format!(
                "redis-server did not reply to PING within {} s",
                START_TIMEOUT.as_secs()
            ));
        }
        std::thread::sleep(Duration::from_millis(20));
    }
}

/// Sends one `PING` in the Redis protocol and checks for `+PONG`.
fn ping(address: SocketAddr) -> std::io::Result<()> {
    let timeout = Duration::from_millis(500);
    let mut stream = TcpStream::connect_timeout(&address, timeout)?;
    stream.set_read_timeout(Some(timeout))?;
    stream.set_write_timeout(Some(timeout))?;
    stream.write_all(b"*1\r\n$4\r\nPING\r\n")?;
    let mut reply = [0u8; 7];
    stream.read_exact(&mut reply)?;
    if &reply == b"+PONG\r\n" {
        Ok(())
    } else {
        Err(std::io::Error::other(format!(
            "unexpected reply to PING: {:?}",
            String::from_utf8_lossy(&reply)
        )))
    }
}
