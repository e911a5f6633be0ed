//! Per-client request limits on the JustCall listener (`server.rate_limit_per_ip`).

use std::net::IpAddr;
use std::num::NonZeroU32;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::Duration;

use actix_web::HttpRequest;
use governor::clock::{Clock, DefaultClock};

use super::url::forwarded_parameter;
use governor::{DefaultKeyedRateLimiter, Quota, RateLimiter};

/// Checks between two sweeps of addresses that have not been seen recently.
const CHECKS_PER_SWEEP: u64 = 10_000;

/// A token bucket per client address: `rate` requests per second with
/// bursts of `rate`.
pub struct ClientLimiter {
    limiter: DefaultKeyedRateLimiter<IpAddr>,
    checks: AtomicU64,
}

impl ClientLimiter {
    pub fn new(rate: u32) -> Self {
        let rate = NonZeroU32::new(rate).unwrap_or(NonZeroU32::MIN);
        ClientLimiter {
            limiter: RateLimiter::keyed(Quota::per_second(rate)),
            checks: AtomicU64::new(0),
        }
    }

    /// Admits one request from `client`, or returns how long it should wait.
    pub fn check(&self, client: IpAddr) -> Result<(), Duration> {
        if self.checks.fetch_add(1, Ordering::Relaxed) % CHECKS_PER_SWEEP == CHECKS_PER_SWEEP - 1 {
            self.limiter.retain_recent();
        }
        self.limiter
            .check_key(&client)
            .map_err(|not_until| not_until.wait_time_from(DefaultClock::default().now()))
    }
}

/// The client's address: the connection's peer, or with `trust_forwarded`
/// the last address in `Forwarded` or `X-Forwarded-For`. That entry is the
/// one the trusted proxy appended; earlier ones are whatever the client sent.
pub fn client_address(request: &HttpRequest, trust_forwarded: bool) -> Option<IpAddr> {
    if trust_forwarded {
        if let Some(address) = forwarded_for(request) {
            return Some(address);
        }
    }
    request.peer_addr().map(|peer| peer.ip())
}

fn forwarded_for(request: &HttpRequest) -> Option<IpAddr> {
    let headers = request.headers();
    if let Some(forwarded) = headers
        .get("forwarded")
        .and_then(|value| value.to_str().ok())
    {
        let last = forwarded.rsplit(',').next().unwrap_or_default();
        if let Some(node) = forwarded_parameter(last, "for") {
            return parse_node(node);
        }
    }
    let header = headers.get("x-forwarded-for")?.to_str().ok()?;
    parse_node(header.rsplit(',').next()?.trim())
}

/// Parses `1.2.3.4`, `1.2.3.4:5678`, `[2001:db8::1]:5678` or `2001:db8::1`.
fn parse_node(node: &str) -> Option<IpAddr> {
    if let Ok(address) = node.parse::<IpAddr>() {
        return Some(address);
    }
    if let Ok(socket) = node.parse::<std::net::SocketAddr>() {
        return Some(socket.ip());
    }
    node.strip_prefix('[')
        .and_then(|rest| rest.split(']').next())
        .and_then(|address| address.parse().ok())
}

#[cfg(test)]
mod tests {
    use super::*;
    use actix_web::test::TestRequest;

    #[test]
    fn burst_then_wait() {
        let limiter = ClientLimiter::new(2);
        let client: IpAddr = "192.0.2.1".parse().unwrap();
        assert!(limiter.check(client).is_ok());
        assert!(limiter.check(client).is_ok());
        assert!(limiter.check(client).is_err());
        let other: IpAddr = "192.0.2.2".parse().unwrap();
        assert!(limiter.check(other).is_ok());
    }

    #[test]
    fn forwarded_address_only_when_trusted() {
        let request = TestRequest::post()
            .peer_addr("10.0.0.5:40000".parse().unwrap())
            .insert_header(("x-forwarded-for", "203.0.113.7, 10.0.0.1"))
            .to_http_request();
        assert_eq!(
            client_address(&request, false),
            Some("10.0.0.5".parse().unwrap())
        );
        assert_eq!(
            client_address(&request, true),
            Some("10.0.0.1".parse().unwrap())
        );
    }

    #[test]
    fn forwarded_header_forms() {
        assert_eq!(
            parse_node("[2001:db8::1]:443"),
            Some("2001:db8::1".parse().unwrap())
        );
        assert_eq!(
            parse_node("198.51.100.4:80"),
            Some("198.51.100.4".parse().unwrap())
        );
        assert_eq!(parse_node("unknown"), None);
    }
}
