//! The checks the `request_headers` fuzz target runs on each input, here so that `cargo
//! test` replays its seed corpus through the same checks (`tests/fuzz_corpus.rs`). Panics
//! when an invariant breaks; meant for tests and fuzzing only.

use axum::http::{HeaderMap, HeaderName, HeaderValue, StatusCode};

use crate::auth::SignatureHeaders;

/// Any bytes as a request's header lines (`name: value`, one per line; lines that are no
/// header are skipped, as hyper would refuse them): the signature headers parse or are
/// refused `401` with a stable code, never a panic, and what parses is in its form.
pub fn request_headers(data: &[u8]) {
    let mut headers = HeaderMap::new();
    for line in data.split(|&b| b == b'\n') {
        let Some(colon) = line.iter().position(|&b| b == b':') else { continue };
        let (name, value) = (&line[..colon], line[colon + 1..].trim_ascii());
        if let (Ok(name), Ok(value)) = (HeaderName::from_bytes(name), HeaderValue::from_bytes(value)) {
            headers.append(name, value);
        }
    }
    match SignatureHeaders::parse(&headers) {
        Ok(parsed) => {
            assert_eq!(parsed.nonce.len(), 32);
            assert!(parsed.nonce.bytes().all(|b| b.is_ascii_hexdigit()));
            assert!(parsed.signer.is_ascii() || parsed.signer.is_empty());
        }
        Err(refusal) => {
            assert_eq!(refusal.status, StatusCode::UNAUTHORIZED);
            assert!(["unsigned", "malformed-signature"].contains(&refusal.code), "{}", refusal.code);
        }
    }
}
