//! The checked-in protocol vectors are what the code generates, the `hmac-sha256` ones
//! recompute from the spec with a stock HMAC/HKDF library, and the sealed epochs,
//! statements, sealed field values and signed job specs open and verify.
//! `tests/e2e/vectors.rs` recomputes every file independently in Python.

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
        let info = ["purpose", "job_id", "requester", "department"].map(|name| field(vector, name)).join(":");
        let mut purpose_key = [0u8; 32];
        Hkdf::<Sha256>::new(Some(b"bidui/v2"), &secret).expand(info.as_bytes(), &mut purpose_key).unwrap();
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
            "field-seal" | "qid-seal" => text("text").into_bytes(),
            other => panic!("unknown purpose {other}"),
        };
        assert_eq!(hex::encode(expected), field(vector, "message"), "{vector}");
    }
}

/// Every suite, purpose and department has vectors, so no part of the schedule goes
/// unpinned: the department enters every key (spec-v2 §3).
#[test]
fn vectors_cover_every_suite_purpose_and_department() {
    let vectors = read_vectors("tokens.json");
    let vectors = vectors.as_array().unwrap();
    for suite in ["hmac-sha256", "hmac-sm3", "blake3"] {
        for purpose in bidui_core::Purpose::ALL.map(|p| p.label()) {
            for department in ["household", "social-security"] {
                let count = vectors
                    .iter()
                    .filter(|v| v["suite"] == suite && v["purpose"] == purpose && v["department"] == department)
                    .count();
                assert!(count > 0, "no {suite} {purpose} vector for {department}");
            }
        }
    }
    // The same person and message under two departments of one job: unrelated tokens.
    let token_of = |department: &str| {
        vectors
            .iter()
            .find(|v| v["purpose"] == "id-token" && v["department"] == department)
            .map(|v| field(v, "token").to_owned())
            .unwrap()
    };
    assert_ne!(token_of("household"), token_of("social-security"));
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

fn hex_field(vector: &Value, name: &str) -> Vec<u8> {
    hex::decode(field(vector, name)).unwrap_or_else(|_| panic!("vector field {name} is hex: {vector}"))
}

/// Each sealed value opens with the code's own `open_values` to the values it claims, under
/// its kind's key; the sealed bytes are the nonce and ChaCha20-Poly1305 of the vector's
/// plaintext under its AEAD key and associated data (so the intermediate values are the
/// sealer's); and no other kind, row or person opens it.
#[test]
fn field_seal_vectors_open_to_their_values() {
    use bidui_core::fieldseal::{open_values, SealContext, SealKind};
    use ring::aead::{Aad, LessSafeKey, Nonce, UnboundKey, CHACHA20_POLY1305};

    let vectors = read_vectors("field-seal.json");
    let cases = vectors["cases"].as_array().unwrap();
    assert_eq!(cases.len(), 3 * 2 * 4, "every suite, both kinds, four field lists");
    for case in cases {
        let suite: bidui_core::Suite = field(case, "suite").parse().unwrap();
        let epoch = bidui_core::KeyEpoch::new(suite, bidui_core::EpochSecret::from_hex(field(case, "secret")).unwrap());
        let pair = bidui_core::PairDomain {
            job: field(case, "job_id"),
            requester: field(case, "requester"),
            department: field(case, "department"),
        };
        let keys = epoch.pair_keys(&pair);
        let (kind, key, other_kind) = match field(case, "kind") {
            "id" => (SealKind::Id, &keys.field_seal, SealKind::Qid),
            "qid" => (SealKind::Qid, &keys.qid_seal, SealKind::Id),
            other => panic!("unknown kind {other}"),
        };
        let fields: Vec<String> = serde_json::from_value(case["fields"].clone()).unwrap();
        let values: Vec<Option<String>> = serde_json::from_value(case["values"].clone()).unwrap();
        let context = SealContext { pair, fields: &fields };
        let row = case["row"].as_u64().unwrap() as u32;
        let person = hex_field(case, "person");
        let sealed = hex_field(case, "sealed");
        assert_eq!(open_values(key, kind, &[&person], &context, row, &sealed), Ok(values), "{case}");
        assert!(open_values(key, other_kind, &[&person], &context, row, &sealed).is_err());
        assert!(open_values(key, kind, &[&person], &context, row + 1, &sealed).is_err());
        assert!(open_values(key, kind, &[b"440183198001010038"], &context, row, &sealed).is_err());

        let (nonce, ciphertext) = sealed.split_at(12);
        assert_eq!(nonce, hex_field(case, "nonce"));
        let aead = LessSafeKey::new(UnboundKey::new(&CHACHA20_POLY1305, &hex_field(case, "enc_key")).unwrap());
        let mut recomputed = hex_field(case, "plaintext");
        aead.seal_in_place_append_tag(
            Nonce::try_assume_unique_for_key(nonce).unwrap(),
            Aad::from(hex_field(case, "aad")),
            &mut recomputed,
        )
        .unwrap();
        assert_eq!(recomputed, ciphertext, "{case}");
    }
}

/// Each signed job spec verifies under the test operator key, its signature is over the
/// `signed` bytes, and any change to the spec or the signer is refused.
#[test]
fn job_signature_vectors_verify() {
    use bidui_core::api::SignedJob;
    use ring::signature::{UnparsedPublicKey, ED25519};

    let vectors = read_vectors("job-signature.json");
    let operator = key32(&vectors, "operator_public");
    let cases = vectors["cases"].as_array().unwrap();
    assert_eq!(cases.len(), 2);
    for case in cases {
        let signed_job: SignedJob = serde_json::from_value(case["signed_job"].clone()).unwrap();
        let spec = signed_job.verify(&operator).expect("the vector verifies");
        assert_eq!(serde_json::to_string(&spec).unwrap(), signed_job.spec, "the spec text is the spec serialized");
        let signature = hex::decode(&signed_job.signature).unwrap();
        UnparsedPublicKey::new(&ED25519, operator).verify(&hex_field(case, "signed"), &signature).unwrap();
        let mut renamed = signed_job.clone();
        renamed.signer = "operator2".into();
        assert!(renamed.verify(&operator).is_err());
        let mut changed = signed_job.clone();
        changed.spec = changed.spec.replacen("\"purpose\":\"", "\"purpose\":\"x", 1);
        assert!(changed.verify(&operator).is_err());
    }
}
