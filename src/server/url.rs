//! The URL JustCall signed, when `justcall.public_urls` does not give it:
//! rebuilt from the request's scheme, host and path.

use std::borrow::Cow;

use actix_web::http::header::{self, HeaderMap};
use actix_web::HttpRequest;

/// Rebuilds the URL the client requested. `X-Forwarded-Proto`,
/// `X-Forwarded-Host` and `Forwarded` are read only when `trust_forwarded`
/// is set, because any client can send them.
pub fn rebuild(request: &HttpRequest, trust_forwarded: bool) -> String {
    let headers = request.headers();
    let connection_host;
    let mut scheme = Cow::Borrowed("http");
    let mut host = match header_text(headers, header::HOST) {
        Some(host) => Cow::Borrowed(host),
        None => {
            connection_host = request.app_config().host().to_string();
            Cow::Borrowed(connection_host.as_str())
        }
    };
    if trust_forwarded {
        if let Some(forwarded) = header_text(headers, header::FORWARDED) {
            let (proto, forwarded_host) = parse_forwarded(forwarded);
            if let Some(proto) = proto {
                scheme = Cow::Owned(proto);
            }
            if let Some(forwarded_host) = forwarded_host {
                host = Cow::Owned(forwarded_host);
            }
        } else {
            if let Some(proto) = first_value(headers, "x-forwarded-proto") {
                scheme = Cow::Owned(proto.to_ascii_lowercase());
            }
            if let Some(forwarded_host) = first_value(headers, "x-forwarded-host") {
                host = Cow::Borrowed(forwarded_host);
            }
        }
    }
    let path = request
        .uri()
        .path_and_query()
        .map(|path| path.as_str())
        .unwrap_or("/");
    let mut url = String::with_capacity(scheme.len() + 3 + host.len() + path.len());
    url.push_str(&scheme);
    url.push_str("://");
    url.push_str(&host);
    url.push_str(path);
    url
}

fn header_text(headers: &HeaderMap, name: impl header::AsHeaderName) -> Option<&str> {
    headers.get(name)?.to_str().ok()
}

/// The first of a comma-separated list: the proxy nearest the client.
fn first_value<'a>(headers: &'a HeaderMap, name: &str) -> Option<&'a str> {
    header_text(headers, name)?
        .split(',')
        .map(str::trim)
        .find(|value| !value.is_empty())
}

/// Reads `proto` and `host` from the first element of a `Forwarded` header
/// (RFC 7239).
fn parse_forwarded(value: &str) -> (Option<String>, Option<String>) {
    let first = value.split(',').next().unwrap_or_default();
    let proto = forwarded_parameter(first, "proto").map(|proto| proto.to_ascii_lowercase());
    let host = forwarded_parameter(first, "host").map(str::to_string);
    (proto, host)
}

/// Returns the value of parameter `name` in one `Forwarded` element, such as
/// `for=1.2.3.4;proto=https`, without surrounding quotes.
pub(super) fn forwarded_parameter<'a>(element: &'a str, name: &str) -> Option<&'a str> {
    element.split(';').find_map(|pair| {
        let (key, value) = pair.split_once('=')?;
        key.trim()
            .eq_ignore_ascii_case(name)
            .then(|| value.trim().trim_matches('"'))
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use actix_web::test::TestRequest;

    #[test]
    fn plain_request_uses_host_header() {
        let request = TestRequest::post()
            .uri("/justcall/contact-badge?tenant=acme")
            .insert_header(("host", "127.0.0.1:8080"))
            .insert_header(("x-forwarded-host", "evil.example.com"))
            .to_http_request();
        assert_eq!(
            rebuild(&request, false),
            "http://127.0.0.1:8080/justcall/contact-badge?tenant=acme"
        );
    }

    #[test]
    fn trusted_x_forwarded_headers() {
        let request = TestRequest::post()
            .uri("/badge")
            .insert_header(("host", "10.0.0.5:8080"))
            .insert_header(("x-forwarded-proto", "https, http"))
            .insert_header(("x-forwarded-host", "badges.example.com"))
            .to_http_request();
        assert_eq!(rebuild(&request, true), "https://badges.example.com/badge");
    }

    #[test]
    fn trusted_forwarded_header_wins() {
        let request = TestRequest::post()
            .uri("/badge")
            .insert_header(("host", "10.0.0.5:8080"))
            .insert_header((
                "forwarded",
                "for=1.2.3.4;proto=https;host=\"gw.example.com\", for=5.6.7.8",
            ))
            .insert_header(("x-forwarded-host", "ignored.example.com"))
            .to_http_request();
        assert_eq!(rebuild(&request, true), "https://gw.example.com/badge");
    }
}
