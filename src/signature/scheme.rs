//! JustCall's signature scheme: HMAC-SHA256, keyed with the API secret, over
//! `{secret}|{encodeURIComponent(url)}|{request_id}|{timestamp}`, in hex.

use badgegate_adapter::Secret;
use hmac::{Hmac, Mac};
use percent_encoding::{utf8_percent_encode, AsciiSet, NON_ALPHANUMERIC};
use sha2::digest::Update;
use sha2::{Digest, Sha256};
use subtle::ConstantTimeEq;

/// Which digest a request's signature matched.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Scheme {
    /// HMAC-SHA256, as JustCall's developer documentation computes it.
    Hmac,
    /// Plain SHA-256 of the same message, as JustCall's badge help page describes it.
    PlainSha256,
    /// Signatures are not checked (`justcall.verify_signatures = false`).
    Unverified,
}

impl Scheme {
    pub fn label(self) -> &'static str {
        match self {
            Scheme::Hmac => "hmac_sha256",
            Scheme::PlainSha256 => "plain_sha256",
            Scheme::Unverified => "unverified",
        }
    }
}

/// The characters JavaScript's `encodeURIComponent` leaves as they are:
/// `A-Z a-z 0-9 - _ . ! ~ * ' ( )`. Everything else is percent-encoded.
const URI_COMPONENT: &AsciiSet = &NON_ALPHANUMERIC
    .remove(b'-')
    .remove(b'_')
    .remove(b'.')
    .remove(b'!')
    .remove(b'~')
    .remove(b'*')
    .remove(b'\'')
    .remove(b'(')
    .remove(b')');

/// Encodes like JavaScript's `encodeURIComponent`, with uppercase hex.
pub fn encode_uri_component(text: &str) -> String {
    utf8_percent_encode(text, URI_COMPONENT).to_string()
}

/// Builds the signed message.
pub fn message(secret: &str, url: &str, request_id: &str, timestamp: &str) -> String {
    format!(
        "{secret}|{}|{request_id}|{timestamp}",
        encode_uri_component(url)
    )
}

/// HMAC-SHA256 of `message` keyed with `secret`.
pub fn hmac_sha256(secret: &str, message: &str) -> [u8; 32] {
    let mut mac =
        Hmac::<Sha256>::new_from_slice(secret.as_bytes()).expect("HMAC accepts keys of any length");
    Mac::update(&mut mac, message.as_bytes());
    mac.finalize().into_bytes().into()
}

/// Plain SHA-256 of `message`.
pub fn sha256(message: &str) -> [u8; 32] {
    Sha256::digest(message.as_bytes()).into()
}

/// Computes the signature JustCall sends, as lowercase hex.
pub fn sign(secret: &str, url: &str, request_id: &str, timestamp: &str) -> String {
    hex::encode(hmac_sha256(
        secret,
        &message(secret, url, request_id, timestamp),
    ))
}

/// Decodes a signature header: 64 hex digits, either case.
pub fn decode_signature(header: &str) -> Option<[u8; 32]> {
    let mut bytes = [0u8; 32];
    hex::decode_to_slice(header.trim(), &mut bytes).ok()?;
    Some(bytes)
}

/// Compares two digests in constant time, as four 64-bit words: byte by
/// byte, the comparison took about 240 instructions per request.
pub fn digests_equal(expected: &[u8; 32], provided: &[u8; 32]) -> bool {
    words(expected).ct_eq(&words(provided)).into()
}

fn words(digest: &[u8; 32]) -> [u64; 4] {
    std::array::from_fn(|index| {
        let word = &digest[index * 8..index * 8 + 8];
        u64::from_le_bytes(word.try_into().expect("eight bytes"))
    })
}

/// A JustCall API secret ready to check signatures. The HMAC key schedule is
/// computed once here rather than per request.
#[derive(Clone)]
pub struct SigningKey {
    secret: Secret,
    keyed: Hmac<Sha256>,
}

impl SigningKey {
    pub fn new(secret: &Secret) -> Self {
        SigningKey {
            keyed: Hmac::<Sha256>::new_from_slice(secret.expose().as_bytes())
                .expect("HMAC accepts keys of any length"),
            secret: secret.clone(),
        }
    }

    /// Feeds the part of the message that every request to `url` shares,
    /// `{secret}|{encodeURIComponent(url)}|`, to the keyed HMAC and to a plain
    /// SHA-256.
    pub fn prefix(&self, url: &str) -> UrlPrefix {
        let mut prefix = UrlPrefix {
            hmac: self.keyed.clone(),
            plain: Sha256::new(),
        };
        self.feed_prefix(&mut prefix.hmac, url);
        self.feed_prefix(&mut prefix.plain, url);
        prefix
    }

    fn feed_prefix(&self, digest: &mut impl Update, url: &str) {
        digest.update(self.secret.expose().as_bytes());
        digest.update(b"|");
        for piece in utf8_percent_encode(url, URI_COMPONENT) {
            digest.update(piece.as_bytes());
        }
        digest.update(b"|");
    }
}

/// A secret's digest states after `{secret}|{encodeURIComponent(url)}|` for
/// one URL. JustCall posts every request to the one URL entered in it, so
/// the verifier keeps these per URL: a request then feeds only its
/// `request_id` and timestamp, and the encoded URL's block is not hashed
/// again.
#[derive(Clone)]
pub struct UrlPrefix {
    hmac: Hmac<Sha256>,
    plain: Sha256,
}

impl UrlPrefix {
    /// Finds which scheme, if any, makes `provided` the signature of this
    /// prefix followed by `{request_id}|{timestamp}`.
    pub fn matching_scheme(
        &self,
        provided: &[u8; 32],
        request_id: &str,
        timestamp: &str,
        accept_plain_sha256: bool,
    ) -> Option<Scheme> {
        let mut mac = self.hmac.clone();
        feed_rest(&mut mac, request_id, timestamp);
        if digests_equal(&mac.finalize().into_bytes().into(), provided) {
            return Some(Scheme::Hmac);
        }
        if accept_plain_sha256 {
            let mut digest = self.plain.clone();
            feed_rest(&mut digest, request_id, timestamp);
            if digests_equal(&digest.finalize().into(), provided) {
                return Some(Scheme::PlainSha256);
            }
        }
        None
    }
}

impl std::fmt::Debug for UrlPrefix {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(Secret::REDACTED)
    }
}

/// Feeds the part of the message that differs between requests.
fn feed_rest(digest: &mut impl Update, request_id: &str, timestamp: &str) {
    digest.update(request_id.as_bytes());
    digest.update(b"|");
    digest.update(timestamp.as_bytes());
}

impl std::fmt::Debug for SigningKey {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(Secret::REDACTED)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn digests_differing_in_any_bit_are_unequal() {
        let digest: [u8; 32] = std::array::from_fn(|index| index as u8 * 7);
        assert!(digests_equal(&digest, &digest));
        for byte in 0..32 {
            for bit in 0..8 {
                let mut other = digest;
                other[byte] ^= 1 << bit;
                assert!(!digests_equal(&digest, &other), "byte {byte} bit {bit}");
            }
        }
    }

    struct Vector {
        secret: &'static str,
        url: &'static str,
        request_id: &'static str,
        timestamp: &'static str,
        hmac: &'static str,
        sha256: &'static str,
    }

    // Badge-shaped vectors computed with the scheme as JustCall documents it.
    // JustCall's own published sample has its own test below.
    const VECTORS: [Vector; 3] = [
        Vector {
            secret: "s3cr3t-key-01",
            url: "https://badges.example.com/justcall/contact-badge",
            request_id: "01HSGZRD0PHRCCHM46JRCRYMC4",
            timestamp: "2026-03-21 17:08:22",
            hmac: "ada9206f97e12cc30225ff2af313c9763e7e0a9e22bb4592332158888675a9ba",
            sha256: "4fd9ad78d32c99a5debe3f781146f8a8b72178b5b602edaf0d1820a03960c75c",
        },
        Vector {
            secret: "another-Secret_42",
            url: "https://crm-gw.example.org/badge?tenant=acme&x=1 2",
            request_id: "req8842AbC",
            timestamp: "1774112902",
            hmac: "7fdae4ebb2beea49c1f3c4b22d261af3dd90bf4fbf6c074c2d9ba747dec3ca98",
            sha256: "db1df4c9c759ffe8aac452afe80d84475efcebaa9f7bddfd9d6c7294ea40a370",
        },
        Vector {
            secret: "k",
            url: "http://127.0.0.1:8080/justcall/contact-badge",
            request_id: "ABC123",
            timestamp: "2026-12-04 10:00:00",
            hmac: "7c7e058676b962400169d1154c5704e1d783dcc9c4e65470dde1bdd7e13145dd",
            sha256: "6d10e6f12c18ff0866dd9fd4732216d55a1df7a87c0e19b9c0ad0dec2a035980",
        },
    ];

    #[test]
    fn justcall_published_webhook_sample() {
        let signature = sign(
            "ea39089c40790e9dc7a080ec95e849b8fa0fa5fb",
            "https://webhook.site/3bcea770-370a-4b09-8b66-426f687e08a4",
            "call.completed",
            "2024-03-21 17:08:22",
        );
        assert_eq!(
            signature,
            "56761bae5b27a784a3ddd2af828bc5def7176bc0a8650199b04c737bd39bbecf"
        );
    }

    #[test]
    fn hmac_vectors() {
        for vector in VECTORS {
            let signature = sign(
                vector.secret,
                vector.url,
                vector.request_id,
                vector.timestamp,
            );
            assert_eq!(signature, vector.hmac, "{}", vector.url);
        }
    }

    #[test]
    fn plain_sha256_vectors() {
        for vector in VECTORS {
            let digest = sha256(&message(
                vector.secret,
                vector.url,
                vector.request_id,
                vector.timestamp,
            ));
            assert_eq!(hex::encode(digest), vector.sha256, "{}", vector.url);
        }
    }

    #[test]
    fn encoded_url_matches_encode_uri_component() {
        assert_eq!(
            encode_uri_component("https://crm-gw.example.org/badge?tenant=acme&x=1 2"),
            "https%3A%2F%2Fcrm-gw.example.org%2Fbadge%3Ftenant%3Dacme%26x%3D1%202"
        );
        assert_eq!(encode_uri_component("a-_.!~*'()b"), "a-_.!~*'()b");
        assert_eq!(encode_uri_component("ü/é"), "%C3%BC%2F%C3%A9");
    }

    #[test]
    fn first_vector_message() {
        let vector = &VECTORS[0];
        assert_eq!(
            message(vector.secret, vector.url, vector.request_id, vector.timestamp),
            "s3cr3t-key-01|https%3A%2F%2Fbadges.example.com%2Fjustcall%2Fcontact-badge|01HSGZRD0PHRCCHM46JRCRYMC4|2026-03-21 17:08:22"
        );
    }

    #[test]
    fn both_schemes_are_recognised() {
        for vector in VECTORS {
            let key = SigningKey::new(&Secret::new(vector.secret));
            let check = |hex_digest: &str, accept_plain_sha256: bool| {
                let provided = decode_signature(hex_digest).expect("the vector is hex");
                key.prefix(vector.url).matching_scheme(
                    &provided,
                    vector.request_id,
                    vector.timestamp,
                    accept_plain_sha256,
                )
            };
            assert_eq!(
                check(vector.hmac, true),
                Some(Scheme::Hmac),
                "{}",
                vector.url
            );
            assert_eq!(
                check(vector.sha256, true),
                Some(Scheme::PlainSha256),
                "{}",
                vector.url
            );
            assert_eq!(check(vector.sha256, false), None, "{}", vector.url);
        }
    }

    #[test]
    fn uppercase_hex_is_accepted() {
        let upper = VECTORS[0].hmac.to_uppercase();
        assert_eq!(decode_signature(&upper), decode_signature(VECTORS[0].hmac));
    }

    #[test]
    fn malformed_signatures_are_not_decoded() {
        assert_eq!(decode_signature(""), None);
        assert_eq!(decode_signature("abc"), None);
        assert_eq!(decode_signature(&"zz".repeat(32)), None);
        assert_eq!(decode_signature(&"ab".repeat(33)), None);
    }
}
