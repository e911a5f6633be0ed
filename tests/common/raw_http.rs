//! HTTP/1.x requests written byte for byte over TCP, for what an HTTP client
//! library will not send: repeated or conflicting headers, bodies that are
//! not UTF-8, paths with `..`, HTTP/1.0, and clients that stall.

use std::time::Duration;

use serde_json::Value;
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpStream;

/// A response as read off the socket.
#[derive(Debug)]
pub struct RawResponse {
    pub status: u16,
    /// The status line and the headers, as sent.
    pub head: String,
    /// The body, with chunked transfer coding removed.
    pub body: Vec<u8>,
    /// The body as JSON, or `Value::Null` when it is not JSON.
    pub json: Value,
}

impl RawResponse {
    /// Parses one response from `bytes`, which must contain all of it.
    pub fn parse(bytes: &[u8]) -> Result<RawResponse, String> {
        let as_text = || String::from_utf8_lossy(bytes).into_owned();
        let end = find(bytes, b"\r\n\r\n")
            .ok_or_else(|| format!("no complete response head in {:?}", as_text()))?;
        let head = String::from_utf8_lossy(&bytes[..end]).into_owned();
        let status = head
            .split(' ')
            .nth(1)
            .and_then(|code| code.parse::<u16>().ok())
            .ok_or_else(|| format!("no status code in {:?}", as_text()))?;
        let mut response = RawResponse {
            status,
            head,
            body: Vec::new(),
            json: Value::Null,
        };
        let rest = &bytes[end + 4..];
        response.body = if response
            .header("transfer-encoding")
            .is_some_and(|value| value.eq_ignore_ascii_case("chunked"))
        {
            decode_chunked(rest)?
        } else {
            match response.header("content-length") {
                Some(length) => {
                    let length: usize = length
                        .parse()
                        .map_err(|_| format!("invalid content-length in {:?}", as_text()))?;
                    rest.get(..length)
                        .ok_or_else(|| {
                            format!("body shorter than content-length in {:?}", as_text())
                        })?
                        .to_vec()
                }
                None => rest.to_vec(),
            }
        };
        response.json = serde_json::from_slice(&response.body).unwrap_or(Value::Null);
        Ok(response)
    }

    /// Returns the first value of the header `name`, compared without case.
    pub fn header(&self, name: &str) -> Option<&str> {
        self.head.lines().skip(1).find_map(|line| {
            let (key, value) = line.split_once(':')?;
            key.trim()
                .eq_ignore_ascii_case(name)
                .then_some(value.trim())
        })
    }

    /// Returns the body as text, with invalid UTF-8 replaced.
    pub fn text(&self) -> String {
        String::from_utf8_lossy(&self.body).into_owned()
    }

    /// Returns `error.code`, or `""` when the body has none.
    pub fn error_code(&self) -> &str {
        self.json["error"]["code"].as_str().unwrap_or_default()
    }

    /// Returns `error.message`, or `""` when the body has none.
    pub fn error_message(&self) -> &str {
        self.json["error"]["message"].as_str().unwrap_or_default()
    }
}

fn find(haystack: &[u8], needle: &[u8]) -> Option<usize> {
    haystack
        .windows(needle.len())
        .position(|window| window == needle)
}

fn decode_chunked(mut bytes: &[u8]) -> Result<Vec<u8>, String> {
    let mut body = Vec::new();
    loop {
        let line_end = find(bytes, b"\r\n").ok_or("chunk size line without CRLF")?;
        let size_text = String::from_utf8_lossy(&bytes[..line_end]);
        let size_text = size_text.split(';').next().unwrap_or_default().trim();
        let size = usize::from_str_radix(size_text, 16)
            .map_err(|_| format!("invalid chunk size {size_text:?}"))?;
        bytes = &bytes[line_end + 2..];
        if size == 0 {
            return Ok(body);
        }
        let chunk = bytes.get(..size).ok_or("chunk shorter than its size")?;
        body.extend_from_slice(chunk);
        bytes = bytes.get(size + 2..).ok_or("chunk without trailing CRLF")?;
    }
}

/// Builds the request line and headers of a request to 127.0.0.1:`port`,
/// ending with the blank line. `host` is added unless `headers` has one.
/// Nothing else is added, so the caller frames the body.
pub fn head(
    method: &str,
    path: &str,
    version: &str,
    port: u16,
    headers: &[(&str, String)],
) -> String {
    let mut text = format!("{method} {path} {version}\r\n");
    if !headers
        .iter()
        .any(|(name, _)| name.eq_ignore_ascii_case("host"))
    {
        text.push_str(&format!("host: 127.0.0.1:{port}\r\n"));
    }
    for (name, value) in headers {
        text.push_str(&format!("{name}: {value}\r\n"));
    }
    text.push_str("\r\n");
    text
}

/// Builds an HTTP/1.1 request with `content-length`, `content-type:
/// application/json` and `connection: close` added to `headers`.
pub fn request(
    method: &str,
    path: &str,
    port: u16,
    headers: &[(&str, String)],
    body: &[u8],
) -> Vec<u8> {
    let mut all = vec![
        ("content-type", "application/json".to_string()),
        ("content-length", body.len().to_string()),
        ("connection", "close".to_string()),
    ];
    all.extend(headers.iter().cloned());
    let mut bytes = head(method, path, "HTTP/1.1", port, &all).into_bytes();
    bytes.extend_from_slice(body);
    bytes
}

/// Connects to 127.0.0.1:`port`, writes `request` and reads until the server
/// closes the connection. Fails when that takes longer than `limit`.
///
/// A failed write is not an error, because the server may respond and close
/// the connection before it has read the whole request. A reset while
/// reading ends the read with the bytes received so far.
pub async fn exchange(port: u16, request: &[u8], limit: Duration) -> Result<Vec<u8>, String> {
    let mut stream = TcpStream::connect(("127.0.0.1", port))
        .await
        .map_err(|error| format!("connecting to 127.0.0.1:{port} failed: {error}"))?;
    let mut received = Vec::new();
    let work = async {
        let _ = stream.write_all(request).await;
        let _ = read_until_closed(&mut stream, &mut received).await;
    };
    match tokio::time::timeout(limit, work).await {
        Ok(()) => Ok(received),
        Err(_) => Err(format!(
            "the connection was still open after {} ms; received so far: {:?}",
            limit.as_millis(),
            String::from_utf8_lossy(&received)
        )),
    }
}

/// Reads from `stream` into `received` until the peer closes the connection
/// or a read fails, and returns the read error if one ended it.
pub async fn read_until_closed(
    stream: &mut (impl AsyncReadExt + Unpin),
    received: &mut Vec<u8>,
) -> std::io::Result<()> {
    let mut buffer = [0u8; 8192];
    loop {
        let count = stream.read(&mut buffer).await?;
        if count == 0 {
            return Ok(());
        }
        received.extend_from_slice(&buffer[..count]);
    }
}
