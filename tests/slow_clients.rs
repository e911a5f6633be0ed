//! Clients that connect and then stall, against the real binary with
//! `server.client_timeout_ms = 1000`: a connection that sends nothing, one
//! that trickles its headers, one that trickles its body, idle keep-alive
//! connections, and hundreds of idle connections opened at once. A body
//! that arrives after its signature's timestamp left the window is stale. The gateway
//! must close each connection or respond within a bound, and keep serving
//! signed requests meanwhile.
//!
//! The bounds are several times the configured timeouts, because debug
//! builds run side by side on a busy machine.

mod common;

use std::time::{Duration, Instant};

use common::raw_http::{self, read_until_closed, RawResponse};
use common::{contacts_file, toml_string, BadgeRequest, Gateway, BADGE_PATH};
use futures_util::future::join_all;
use tempfile::NamedTempFile;
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpStream;

const SECRET: &str = "slow-clients-test-secret";

const ADA_NUMBER: &str = "14155550123";
const ADA_NAME: &str = "Ada Lovelace";

const CONTACTS: &str = "name,phone,email,profile_link\n\
Ada Lovelace,+1 (415) 555-0123,ada@example.com,https://crm.example.com/contacts/1\n";

const CLIENT_TIMEOUT: Duration = Duration::from_millis(1000);

/// Maximum time for the gateway to close a stalled connection or respond on it.
const CLOSE_BOUND: Duration = Duration::from_secs(6);

/// Maximum time for a signed request to get its badge while idle
/// connections are open.
const ANSWER_BOUND: Duration = Duration::from_secs(5);

/// Idle connections opened at once against one gateway.
const IDLE_CONNECTIONS: usize = 300;

/// Interval between two bytes of a trickled request.
const TRICKLE_INTERVAL: Duration = Duration::from_millis(200);

/// Starts a gateway with a contacts file source and a client timeout of
/// [`CLIENT_TIMEOUT`], with `server_keys` added to its `[server]` table. The
/// file must outlive the gateway.
async fn start_gateway(server_keys: &str) -> (Gateway, NamedTempFile) {
    start_gateway_with(CLIENT_TIMEOUT, server_keys, "").await
}

/// Starts a gateway as [`start_gateway`] does, with `client_timeout` and
/// with `justcall_keys` added to its `[justcall]` table.
async fn start_gateway_with(
    client_timeout: Duration,
    server_keys: &str,
    justcall_keys: &str,
) -> (Gateway, NamedTempFile) {
    let contacts = contacts_file(CONTACTS);
    let config = format!(
        r#"
[server]
client_timeout_ms = {timeout}
{server_keys}

[justcall]
secrets = ["{SECRET}"]
{justcall_keys}

[[sources]]
name = "contacts"
type = "file"
path = {path}
"#,
        timeout = client_timeout.as_millis(),
        path = toml_string(&contacts.path().to_string_lossy())
    );
    (Gateway::start(&config).await, contacts)
}

async fn connect(gateway: &Gateway) -> TcpStream {
    TcpStream::connect(("127.0.0.1", gateway.port))
        .await
        .expect("connecting to the gateway failed")
}

/// Reads until the gateway closes `stream` and returns the bytes it sent, or
/// panics when the connection is still open after [`CLOSE_BOUND`].
async fn read_until_gateway_closes(
    stream: &mut (impl AsyncReadExt + Unpin),
    label: &str,
) -> Vec<u8> {
    let mut received = Vec::new();
    let read = tokio::time::timeout(CLOSE_BOUND, read_until_closed(stream, &mut received)).await;
    assert!(
        read.is_ok(),
        "{label}: the connection was still open after {} s; received: {:?}",
        CLOSE_BOUND.as_secs(),
        String::from_utf8_lossy(&received)
    );
    received
}

/// Asserts that a stalled connection got nothing or the HTTP layer's 408
/// before it was closed.
fn assert_nothing_or_408(received: &[u8], label: &str) {
    if received.is_empty() {
        return;
    }
    let response = RawResponse::parse(received).unwrap_or_else(|error| panic!("{label}: {error}"));
    assert_eq!(response.status, 408, "{label}: {}", response.head);
}

/// Writes `bytes` to `writer` one byte per [`TRICKLE_INTERVAL`] until they
/// are all sent or a write fails.
async fn trickle(mut writer: impl AsyncWriteExt + Unpin, bytes: Vec<u8>) {
    for byte in bytes {
        if writer.write_all(&[byte]).await.is_err() {
            return;
        }
        tokio::time::sleep(TRICKLE_INTERVAL).await;
    }
}

/// Reads from `stream` until one whole response has arrived.
async fn read_one_response(stream: &mut TcpStream) -> RawResponse {
    let mut received = Vec::new();
    let mut buffer = [0u8; 8192];
    loop {
        let count = stream
            .read(&mut buffer)
            .await
            .expect("reading the response failed");
        assert!(
            count > 0,
            "the gateway closed the connection before a whole response; received: {:?}",
            String::from_utf8_lossy(&received)
        );
        received.extend_from_slice(&buffer[..count]);
        if let Ok(response) = RawResponse::parse(&received) {
            return response;
        }
    }
}

/// Builds the head and the body of a signed request for Ada's number, for
/// a test that sends them apart.
fn signed_head_and_body(gateway: &Gateway) -> (String, Vec<u8>) {
    let request = BadgeRequest::signed(SECRET, &gateway.badge_url(), ADA_NUMBER);
    let body = request.body().into_bytes();
    let mut headers = request.headers();
    headers.push(("content-type", "application/json".to_string()));
    headers.push(("content-length", body.len().to_string()));
    let head = raw_http::head("POST", BADGE_PATH, "HTTP/1.1", gateway.port, &headers);
    (head, body)
}

/// Builds a signed request for Ada's number.
fn signed_request(gateway: &Gateway) -> Vec<u8> {
    let request = BadgeRequest::signed(SECRET, &gateway.badge_url(), ADA_NUMBER);
    raw_http::request(
        "POST",
        BADGE_PATH,
        gateway.port,
        &request.headers(),
        request.body().as_bytes(),
    )
}

/// Sends a signed request for Ada's number over a new connection and
/// returns the response with the time it took.
async fn timed_badge_request(gateway: &Gateway) -> (RawResponse, Duration) {
    let request = signed_request(gateway);
    let started = Instant::now();
    let bytes = raw_http::exchange(gateway.port, &request, Duration::from_secs(30))
        .await
        .expect("the signed request got no complete response");
    let elapsed = started.elapsed();
    let response = RawResponse::parse(&bytes).expect("the bytes received are not an HTTP response");
    (response, elapsed)
}

fn assert_ada_badge(response: &RawResponse) {
    assert_eq!(response.status, 200, "{}", response.text());
    assert_eq!(response.json["success"], true, "{}", response.text());
    assert_eq!(
        response.json["data"]["contact_name"],
        ADA_NAME,
        "{}",
        response.text()
    );
}

#[tokio::test]
async fn silent_connection_is_closed() {
    let (gateway, _contacts) = start_gateway("").await;
    let mut stream = connect(&gateway).await;

    let received = read_until_gateway_closes(&mut stream, "a connection that sent nothing").await;

    assert_nothing_or_408(&received, "a connection that sent nothing");
    assert_eq!(gateway.get("/healthz").await.status, 200);
}

#[tokio::test]
async fn trickled_headers_are_cut_off() {
    let (gateway, _contacts) = start_gateway("").await;
    let stream = connect(&gateway).await;
    let (mut reader, writer) = stream.into_split();
    let mut headers = format!(
        "POST {BADGE_PATH} HTTP/1.1\r\nhost: 127.0.0.1:{}\r\nx-slow: ",
        gateway.port
    )
    .into_bytes();
    headers.extend_from_slice(&[b'a'; 1000]);
    let writing = tokio::spawn(trickle(writer, headers));

    let received = read_until_gateway_closes(&mut reader, "trickled headers").await;

    writing.abort();
    assert_nothing_or_408(&received, "trickled headers");
    assert_eq!(gateway.get("/healthz").await.status, 200);
}

#[tokio::test]
async fn trickled_body_gets_request_timeout() {
    let (gateway, _contacts) = start_gateway("").await;
    let (head, body) = signed_head_and_body(&gateway);
    let stream = connect(&gateway).await;
    let (mut reader, mut writer) = stream.into_split();
    let started = Instant::now();
    writer
        .write_all(head.as_bytes())
        .await
        .expect("sending the headers failed");
    let writing = tokio::spawn(trickle(writer, body));

    let received = read_until_gateway_closes(&mut reader, "a trickled body").await;

    let elapsed = started.elapsed();
    writing.abort();
    let response = RawResponse::parse(&received).expect("the gateway sent no whole response");
    assert_eq!(response.status, 408, "{}", response.text());
    assert_eq!(response.json["success"], false, "{}", response.text());
    assert_eq!(
        response.error_code(),
        "request_timeout",
        "{}",
        response.text()
    );
    assert!(
        response.error_message().contains("1000 ms"),
        "{}",
        response.text()
    );
    assert!(
        elapsed >= CLIENT_TIMEOUT,
        "the gateway responded after {elapsed:?}, before the client timeout"
    );
    assert_eq!(gateway.get("/healthz").await.status, 200);
}

#[tokio::test]
async fn idle_keep_alive_connection_is_closed() {
    let (gateway, _contacts) = start_gateway("keep_alive_secs = 1").await;
    let request = BadgeRequest::signed(SECRET, &gateway.badge_url(), ADA_NUMBER);
    let body = request.body();
    let mut headers = request.headers();
    headers.push(("content-type", "application/json".to_string()));
    headers.push(("content-length", body.len().to_string()));
    let mut bytes =
        raw_http::head("POST", BADGE_PATH, "HTTP/1.1", gateway.port, &headers).into_bytes();
    bytes.extend_from_slice(body.as_bytes());
    let mut stream = connect(&gateway).await;
    stream
        .write_all(&bytes)
        .await
        .expect("sending the request failed");

    let response = read_one_response(&mut stream).await;
    assert_ada_badge(&response);
    let rest = read_until_gateway_closes(&mut stream, "an idle keep-alive connection").await;

    assert!(
        rest.is_empty(),
        "the gateway sent more after the response: {:?}",
        String::from_utf8_lossy(&rest)
    );
}

#[tokio::test]
async fn idle_connections_do_not_block_signed_request() {
    let (gateway, _contacts) = start_gateway("").await;
    let connecting = (0..IDLE_CONNECTIONS).map(|_| connect(&gateway));
    let mut idle = join_all(connecting).await;
    // Half the connections start a request line, so both a silent
    // connection and one waiting for the rest of its headers are held.
    for stream in idle.iter_mut().step_by(2) {
        stream
            .write_all(format!("POST {BADGE_PATH} HTTP/1.1\r\n").as_bytes())
            .await
            .expect("starting a request line failed");
    }

    let (response, elapsed) = timed_badge_request(&gateway).await;

    assert_ada_badge(&response);
    assert!(
        elapsed < ANSWER_BOUND,
        "the signed request took {elapsed:?} with {IDLE_CONNECTIONS} idle connections open"
    );
    let closing = idle
        .iter_mut()
        .map(|stream| read_until_gateway_closes(stream, "an idle connection"));
    for received in join_all(closing).await {
        assert_nothing_or_408(&received, "an idle connection");
    }
    drop(idle);
    assert_eq!(gateway.get("/healthz").await.status, 200);
}

/// With every connection slot taken by idle clients, a new connection waits
/// in the accept queue until the client timeout frees a slot.
#[tokio::test]
async fn request_past_max_connections_waits_its_turn() {
    let (gateway, _contacts) = start_gateway("max_connections = 2").await;
    // The gateway splits max_connections over one worker per core and gives
    // each worker at least one, so this fills every slot twice over.
    let cores = std::thread::available_parallelism().map_or(1, |cores| cores.get());
    let slots = cores.max(2);
    let connecting = (0..2 * slots).map(|_| connect(&gateway));
    let mut idle = join_all(connecting).await;

    let (response, elapsed) = timed_badge_request(&gateway).await;

    assert_ada_badge(&response);
    assert!(
        elapsed >= CLIENT_TIMEOUT,
        "the signed request took {elapsed:?}, so it did not wait for a free slot"
    );
    // An idle connection keeps its slot for the client timeout, then for up
    // to the 1 s the gateway waits for the client to close after its 408.
    // That makes two rounds of about 2 s.
    let bound = ANSWER_BOUND * 2;
    assert!(
        elapsed < bound,
        "the signed request took {elapsed:?}, more than {bound:?}"
    );
    let closing = idle
        .iter_mut()
        .map(|stream| read_until_gateway_closes(stream, "an idle connection"));
    join_all(closing).await;
    drop(idle);
}

#[tokio::test]
async fn late_body_is_checked_on_arrival() {
    // A body that arrives after its signature's timestamp has left the
    // window is stale, however early the headers came.
    let (gateway, _contacts) =
        start_gateway_with(Duration::from_secs(10), "", "timestamp_tolerance_secs = 2").await;
    let (fresh, _) = timed_badge_request(&gateway).await;
    assert_ada_badge(&fresh);

    let (head, body) = signed_head_and_body(&gateway);
    let mut stream = connect(&gateway).await;
    stream
        .write_all(head.as_bytes())
        .await
        .expect("sending the headers failed");
    // The timestamp has whole seconds, so it is 3.5 to 4.5 s old when the
    // body arrives, and the window is 2 s.
    tokio::time::sleep(Duration::from_millis(3500)).await;
    stream
        .write_all(&body)
        .await
        .expect("sending the body failed");

    let response = read_one_response(&mut stream).await;
    assert_eq!(response.status, 401, "{}", response.text());
    assert_eq!(response.error_code(), "unauthorized", "{}", response.text());
    assert!(
        response.error_message().contains("timestamp"),
        "{}",
        response.text()
    );
}
