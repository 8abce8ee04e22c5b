//! The checked-in protocol vectors are what the code generates, the `hmac-sha256` ones
//! recompute from the spec with a stock HMAC/HKDF library, and the sealed epochs and
//! statements open and verify. `tests/e2e/vectors.rs` recomputes every file independently
//! in Python.

use std::path::PathBuf;

use hkdf::Hkdf;
use hmac::{Hmac, Mac};
use serde_json::Value;
use sha2::Sha256;

fn vectors_dir() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../../protocol-docs/vectors")
}

fn read_vectors(file: &str) -> Value {
    let text = std::fs::read_to_string(vectors_dir().join(file)).expect("vector file is checked in");
    serde_json::from_str(&text).expect("vector file is JSON")
}

#[test]
fn checked_in_vectors_are_fresh() {
    let bless = std::env::var_os("BIDUI_BLESS").is_some();
    let mut stale = Vec::new();
    for (file, generated) in bidui_core::vectors::all() {
        let path = vectors_dir().join(file);
        let on_disk = std::fs::read_to_string(&path).unwrap_or_default();
        if on_disk != generated {
            if bless {
                std::fs::write(&path, &generated).expect("write vector file");
            } else {
                stale.push(file);
            }
        }
    }
    assert!(
        stale.is_empty(),
        "protocol-docs/vectors/{stale:?} differ from what the code generates. If the protocol change is \
         intended, regenerate with `BIDUI_BLESS=1 cargo test -p bidui-core --test vectors` and update the spec."
    );
}

fn field<'a>(vector: &'a Value, name: &str) -> &'a str {
    vector[name].as_str().unwrap_or_else(|| panic!("vector field {name} is a string: {vector}"))
}

/// Recomputes each `hmac-sha256` token from the spec alone with RustCrypto's `hkdf`,
/// `hmac` and `sha2` (the code under test uses ring and a precomputed-pad fast path).
#[test]
fn hmac_sha256_tokens_recompute_with_an_independent_library() {
    let vectors = read_vectors("tokens.json");
    let mut checked = 0;
    for vector in vectors.as_array().expect("an array").iter().filter(|v| v["suite"] == "hmac-sha256") {
        let secret = hex::decode(field(vector, "secret")).unwrap();
        let info = format!("{}:{}", field(vector, "purpose"), field(vector, "job_id"));
        let mut purpose_key = [0u8; 32];
        Hkdf::<Sha256>::new(Some(b"bidui/v1"), &secret).expand(info.as_bytes(), &mut purpose_key).unwrap();
        let mut mac = Hmac::<Sha256>::new_from_slice(&purpose_key).unwrap();
        mac.update(&hex::decode(field(vector, "message")).unwrap());
        assert_eq!(hex::encode(&mac.finalize().into_bytes()[..16]), field(vector, "token"), "{vector}");
        checked += 1;
    }
    assert!(checked >= 4 * 2 * 2, "too few hmac-sha256 vectors: {checked}");

    for vector in read_vectors("key-check.json").as_array().unwrap().iter().filter(|v| v["suite"] == "hmac-sha256") {
        let mut mac = Hmac::<Sha256>::new_from_slice(&hex::decode(field(vector, "secret")).unwrap()).unwrap();
        mac.update(b"bidui/v1 key check");
        assert_eq!(hex::encode(&mac.finalize().into_bytes()[..8]), field(vector, "kcv"));
    }
}

/// The messages in the vectors follow the layouts of the spec, byte for byte.
#[test]
fn vector_messages_follow_the_documented_layouts() {
    for vector in read_vectors("tokens.json").as_array().unwrap() {
        let inputs = &vector["inputs"];
        let text = |name: &str| inputs[name].as_str().unwrap().to_owned();
        let expected: Vec<u8> = match field(vector, "purpose") {
            "id-token" => text("canonical_id").into_bytes(),
            "attr-token" => [text("canonical_id"), text("field"), text("canonical_value")].join("\0").into_bytes(),
            "qid-token" => [text("canonical_name"), text("birth_date"), text("sex")].join("\0").into_bytes(),
            "field-seal" => text("text").into_bytes(),
            other => panic!("unknown purpose {other}"),
        };
        assert_eq!(hex::encode(expected), field(vector, "message"), "{vector}");
    }
}

/// Every suite and purpose has vectors, so no part of the schedule goes unpinned.
#[test]
fn vectors_cover_every_suite_and_purpose() {
    let vectors = read_vectors("tokens.json");
    for suite in ["hmac-sha256", "hmac-sm3", "blake3"] {
        for purpose in ["id-token", "attr-token", "qid-token", "field-seal"] {
            let count =
                vectors.as_array().unwrap().iter().filter(|v| v["suite"] == suite && v["purpose"] == purpose).count();
            assert!(count > 0, "no {suite} {purpose} vector");
        }
    }
}

/// SM3 itself against the example in GB/T 32905-2016 Appendix A, so the `hmac-sm3`
/// suite stands on a known-good hash.
#[test]
fn sm3_matches_the_standard_example() {
    use sm3::Digest;
    let digest = sm3::Sm3::digest(b"abc");
    assert_eq!(hex::encode(digest), "66c7f0f462eeedd9d1f2d46bdc10e4e24167c4875cf2f7a2297da02b8f4ba8e0");
}

#[test]
fn idnum_vectors_hold() {
    let vectors = read_vectors("idnum.json");
    let today = bidui_core::CivilDate::parse(vectors["today"].as_str().unwrap()).unwrap();
    for case in vectors["cases"].as_array().unwrap() {
        let got = match bidui_core::IdNumber::parse(field(case, "input"), today) {
            Ok(id) => format!("OK {}", id.as_str()),
            Err(e) => format!("ERR {}", e.code()),
        };
        assert_eq!(got, field(case, "expected"), "{case}");
    }
}

fn key32(vector: &Value, name: &str) -> [u8; 32] {
    hex::decode(field(vector, name)).unwrap().try_into().unwrap()
}

/// Each sealed epoch in the vectors verifies under the custodian key and opens, with the
/// recipient's key, to the secret it claims; `tests/e2e/vectors.rs` recomputes the bytes.
#[test]
fn sealed_epoch_vectors_open_to_their_secrets() {
    let vectors = read_vectors("sealed-epoch.json");
    let custodian = key32(&vectors, "custodian_public");
    let cases = vectors["cases"].as_array().unwrap();
    assert_eq!(cases.len(), 3, "one sealed epoch per suite");
    for case in cases {
        let sealed: bidui_core::seal::SealedEpoch = serde_json::from_value(case["sealed_epoch"].clone()).unwrap();
        let me = x25519_dalek::StaticSecret::from(key32(case, "recipient_x25519_secret"));
        let epoch = sealed.open(&sealed.recipient, &me, &custodian).expect("the vector opens");
        assert_eq!(epoch.secret.expose_hex().as_str(), field(case, "secret"));
    }
}

/// Each statement in the vectors verifies under the custodian key.
#[test]
fn statement_vectors_verify() {
    let vectors = read_vectors("statements.json");
    let custodian = key32(&vectors, "custodian_public");
    let cases = vectors["cases"].as_array().unwrap();
    assert_eq!(cases.len(), 3, "two enrolments and a revocation");
    for case in cases {
        let statement: bidui_core::custody::PrincipalStatement =
            serde_json::from_value(case["statement"].clone()).unwrap();
        assert_eq!(statement.verify(&custodian), Ok(()), "{case}");
    }
}
