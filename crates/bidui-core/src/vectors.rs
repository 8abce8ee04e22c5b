//! The protocol test vectors in `protocol-docs/vectors/`, generated from this crate.
//!
//! `crates/bidui-core/tests/vectors.rs` fails when the checked-in files differ from what
//! this module generates; `BIDUI_BLESS=1 cargo test -p bidui-core --test vectors` rewrites
//! them. Every input is fixed, so the files change only when the protocol does.

use serde_json::{json, Value};

use ring::signature::{Ed25519KeyPair, KeyPair};

use crate::api::{Attribute, DepartmentSpec, JobSpec, RequesterSpec, SignedJob};
use crate::custody::{Action, PrincipalRole, PrincipalStatement};
use crate::fieldseal::{seal_values, SealContext, SealKind};
use crate::idnum::{CivilDate, IdNumber, Sex};
use crate::keys::{EpochSecret, KeyEpoch, PairDomain, Purpose, PurposeKey, Suite};
use crate::name;
use crate::seal;
use crate::token::{attr_message, id_message, qid_message};

/// "Today" for the identity-number vectors, so future-date cases stay stable.
pub const IDNUM_TODAY: CivilDate = CivilDate { year: 2026, month: 11, day: 29 };

/// Test secrets. Labelled as such: never use them for a real epoch.
const TEST_SECRETS: [&str; 2] = [
    "000102030405060708090a0b0c0d0e0f101112131415161718191a1b1c1d1e1f",
    "b1d0b1d0b1d0b1d0b1d0b1d0b1d0b1d0b1d0b1d0b1d0b1d0b1d0b1d0b1d0b1d0",
];
const JOB_IDS: [&str; 2] = ["zc-2026-stage2-001", "增城区-2026-复核"];
/// The pair domains of the vectors: one requester, two departments.
const REQUESTER: &str = "veterans";
const DEPARTMENTS: [&str; 2] = ["household", "social-security"];

/// Identity numbers (synthetic, valid) used in token vectors.
const IDS: [&str; 3] = ["11010519491231002X", "440183198001010011", "44011820000229002X"];

/// A name as written, for the three name attribute tokens.
const ATTRIBUTE_NAME: &str = "黃 麗·買買提";

/// `(field, canonical value)` pairs for attribute tokens.
fn attributes() -> Vec<(&'static str, String)> {
    vec![
        ("name", name::canonical(ATTRIBUTE_NAME)),
        ("name_script", name::canonical_keep_script(ATTRIBUTE_NAME)),
        ("name_sound", name::sound_key(ATTRIBUTE_NAME)),
        ("birth_date", "19800101".to_owned()),
        ("sex", "M".to_owned()),
    ]
}

/// `(name as written, birth date, sex)` for quasi-identifier tokens; names are canonicalized.
const QUASI_IDENTIFIERS: [(&str, &str, &str); 3] =
    [("張 三", "19491231", "F"), ("阿依古丽•买买提", "19800101", "M"), ("欧阳　明", "20000229", "F")];

/// A fixed text MACed under the field-seal and qid-seal keys, to pin their derivation on
/// its own; `field-seal.json` pins what those keys seal.
const SEAL_KEY_MESSAGE: &str = "bidui/v2 seal key vector";

/// Raw inputs for the identity-number vectors, with what each one exercises.
pub const IDNUM_INPUTS: &[&str] = &[
    "11010519491231002X",
    "11010519491231002x",
    "11010519491231002×",
    "１１０１０５１９４９１２３１００２Ｘ",
    " 110105 19491231 002X ",
    "\t11010519491231002X\u{00A0}",
    "\u{FEFF}11010519491231002X\u{200B}",
    "11010519491231002X\u{3000}",
    "'11010519491231002X",
    "110105491231002",
    "440183800101001.0",
    "440183198001010011",
    "440118198001010014",
    "440118198001010011",
    "440524188001010014",
    "44011820000229002x",
    "440118200002290024",
    "",
    " \u{3000}\u{200B}",
    "4.40118E+17",
    "4.40118198001E+17",
    "440118198001010000",
    "4401181980010",
    "4401181980010100111",
    "44011819800101001Y",
    "4401181980O101001X",
    "44011849O101001",
    "440118198002300011",
    "440118198013010011",
    "440118187912310011",
    "440118203001010011",
    "440118199902290011",
    "440118198001010012",
    "440118198001010021",
];

/// Every vector file: `(file name, pretty JSON with a trailing newline)`.
pub fn all() -> Vec<(&'static str, String)> {
    vec![
        ("tokens.json", to_text(&token_vectors())),
        ("key-check.json", to_text(&key_check_vectors())),
        ("idnum.json", to_text(&idnum_vectors())),
        ("sealed-epoch.json", to_text(&sealed_epoch_vectors())),
        ("statements.json", to_text(&statement_vectors())),
        ("field-seal.json", to_text(&field_seal_vectors())),
        ("job-signature.json", to_text(&job_signature_vectors())),
    ]
}

fn to_text(value: &Value) -> String {
    let mut text = serde_json::to_string_pretty(value).expect("vectors serialize");
    text.push('\n');
    text
}

fn secrets() -> impl Iterator<Item = (&'static str, EpochSecret)> {
    TEST_SECRETS.into_iter().map(|hex| (hex, EpochSecret::from_hex(hex).expect("test secrets are valid")))
}

fn token_vectors() -> Value {
    let mut vectors = Vec::new();
    for suite in Suite::ALL {
        for (secret_hex, secret) in secrets() {
            let epoch = KeyEpoch::new(suite, secret);
            for (job_id, department) in JOB_IDS.into_iter().flat_map(|j| DEPARTMENTS.map(|d| (j, d))) {
                let pair = PairDomain { job: job_id, requester: REQUESTER, department };
                let mut push = |purpose: Purpose, inputs: Value, message: Vec<u8>| {
                    let key = epoch.derive(purpose, &pair);
                    vectors.push(json!({
                        "suite": suite.name(),
                        "secret": secret_hex,
                        "job_id": job_id,
                        "requester": pair.requester,
                        "department": pair.department,
                        "purpose": purpose.label(),
                        "inputs": inputs,
                        "message": hex::encode(&message),
                        "token": key.token(&[&message]).to_string(),
                    }));
                };
                for raw in IDS {
                    let id = IdNumber::parse(raw, IDNUM_TODAY).expect("vector ids are valid");
                    push(Purpose::IdToken, json!({ "canonical_id": raw }), id_message(&id).concat());
                }
                let id = IdNumber::parse(IDS[1], IDNUM_TODAY).expect("vector ids are valid");
                for (field, value) in attributes() {
                    let inputs = json!({ "canonical_id": IDS[1], "field": field, "canonical_value": value });
                    push(Purpose::AttrToken, inputs, attr_message(&id, field, &value).concat());
                }
                for (written, birth, sex) in QUASI_IDENTIFIERS {
                    let canonical_name = name::canonical(written);
                    let sex_code = Sex::parse(sex).expect("vector sexes are valid");
                    let inputs =
                        json!({ "name": written, "canonical_name": canonical_name, "birth_date": birth, "sex": sex });
                    push(Purpose::QidToken, inputs, qid_message(&canonical_name, birth, sex_code).concat());
                }
                for purpose in [Purpose::FieldSeal, Purpose::QidSeal] {
                    push(purpose, json!({ "text": SEAL_KEY_MESSAGE }), SEAL_KEY_MESSAGE.as_bytes().to_vec());
                }
            }
        }
    }
    Value::Array(vectors)
}

fn key_check_vectors() -> Value {
    let vectors = Suite::ALL
        .into_iter()
        .flat_map(|suite| secrets().map(move |(hex, secret)| (suite, hex, secret)))
        .map(|(suite, hex, secret)| {
            let kcv = KeyEpoch::new(suite, secret).key_check_value();
            json!({ "suite": suite.name(), "secret": hex, "kcv": kcv })
        })
        .collect();
    Value::Array(vectors)
}

fn idnum_vectors() -> Value {
    let cases: Vec<Value> = IDNUM_INPUTS
        .iter()
        .map(|input| {
            let expected = match IdNumber::parse(input, IDNUM_TODAY) {
                Ok(id) => format!("OK {}", id.as_str()),
                Err(e) => format!("ERR {}", e.code()),
            };
            json!({ "input": input, "expected": expected })
        })
        .collect();
    json!({ "today": IDNUM_TODAY.yyyymmdd(), "cases": cases })
}

// Test keys for the sealing and statement vectors, taken from the RFCs' own examples so an
// implementer can check the primitives first. Public: never use them for real keys.

/// The custodian's Ed25519 seed (RFC 8032 §7.1, TEST 1).
const CUSTODIAN_SEED: &str = "9d61b19deffd5a60ba844af492ec2cc44449c5697b326919703bac031cae7f60";
/// The agent `household`: its X25519 secret (RFC 7748 §6.1, Alice's) and Ed25519 seed
/// (RFC 8032 §7.1, TEST 2).
const HOUSEHOLD_X25519_SECRET: &str = "77076d0a7318a57d3c16c17251b26645df4c2f87ebc0992ab177fba51db92c2a";
const HOUSEHOLD_SIGNING_SEED: &str = "4ccd089b28ff96da9db6c346ec114e0f5b8a319f35aba624da8cf6ed4fb8a6fb";
/// The operator's Ed25519 seed (RFC 8032 §7.1, TEST 3).
const OPERATOR_SIGNING_SEED: &str = "c5aa8df43f9f837bedb7442f31dcb7b166d38535076f094b85ce3a2e0b4458f7";
/// One ephemeral X25519 secret per sealed-epoch vector, as a fresh seal draws one (the
/// first is RFC 7748 §6.1, Bob's).
const EPHEMERAL_SECRETS: [&str; 3] = [
    "5dab087e624a8a4b79e17f8b83800ee66f3bb1292618b6fd1c2f8b27ff88e0eb",
    "202122232425262728292a2b2c2d2e2f303132333435363738393a3b3c3d3e3f",
    "404142434445464748494a4b4c4d4e4f505152535455565758595a5b5c5d5e5f",
];

fn bytes32(hex: &str) -> [u8; 32] {
    hex::decode(hex).ok().and_then(|b| b.try_into().ok()).expect("test keys are 32 bytes of hex")
}

fn ed25519_key(seed: &str) -> Ed25519KeyPair {
    Ed25519KeyPair::from_seed_unchecked(&bytes32(seed)).expect("any 32-byte seed is an Ed25519 key")
}

fn ed25519_public(key: &Ed25519KeyPair) -> [u8; 32] {
    key.public_key().as_ref().try_into().expect("Ed25519 public keys are 32 bytes")
}

/// keys.md §6: one epoch of each suite sealed to `household`, with every input fixed.
fn sealed_epoch_vectors() -> Value {
    let custodian = ed25519_key(CUSTODIAN_SEED);
    let recipient_secret = x25519_dalek::StaticSecret::from(bytes32(HOUSEHOLD_X25519_SECRET));
    let recipient_public = seal::x25519_public(&recipient_secret);
    let secrets = TEST_SECRETS.iter().cycle();
    let cases: Vec<Value> = Suite::ALL
        .into_iter()
        .zip(secrets)
        .zip(EPHEMERAL_SECRETS)
        .map(|((suite, secret_hex), ephemeral_hex)| {
            let epoch = KeyEpoch::new(suite, EpochSecret::from_hex(secret_hex).expect("test secrets are valid"));
            let ephemeral = x25519_dalek::StaticSecret::from(bytes32(ephemeral_hex));
            let sealed =
                seal::seal_with_ephemeral(&epoch, "household", &recipient_public, &custodian, ephemeral.clone())
                    .expect("the test keys are not low-order points");
            let aad = seal::aad(suite, &sealed.kcv, &sealed.recipient);
            let ciphertext = hex::decode(&sealed.sealed).expect("we encoded it");
            let signed = seal::statement(&aad, &seal::x25519_public(&ephemeral), &ciphertext);
            json!({
                "secret": secret_hex,
                "recipient_x25519_secret": HOUSEHOLD_X25519_SECRET,
                "recipient_x25519_public": hex::encode(recipient_public),
                "ephemeral_secret": ephemeral_hex,
                "aad": hex::encode(aad),
                "signed": hex::encode(signed),
                "sealed_epoch": sealed,
            })
        })
        .collect();
    json!({
        "custodian_seed": CUSTODIAN_SEED,
        "custodian_public": hex::encode(ed25519_public(&custodian)),
        "cases": cases,
    })
}

/// keys.md §5: an agent's enrolment, an operator's and the agent's revocation.
fn statement_vectors() -> Value {
    let custodian = ed25519_key(CUSTODIAN_SEED);
    let household_signing = ed25519_public(&ed25519_key(HOUSEHOLD_SIGNING_SEED));
    let household_x25519 = seal::x25519_public(&x25519_dalek::StaticSecret::from(bytes32(HOUSEHOLD_X25519_SECRET)));
    let operator_signing = ed25519_public(&ed25519_key(OPERATOR_SIGNING_SEED));
    let statements = [
        (Action::Enrol, "household", PrincipalRole::Agent, household_signing, household_x25519, 1_764_547_259_000u64),
        (Action::Enrol, "operator", PrincipalRole::Operator, operator_signing, [0; 32], 1_764_547_260_000),
        (Action::Revoke, "household", PrincipalRole::Agent, household_signing, household_x25519, 1_764_633_600_000),
    ];
    let cases: Vec<Value> = statements
        .into_iter()
        .map(|(action, name, role, signing, x25519, at)| {
            let statement = PrincipalStatement::sign(&custodian, action, name, role, &signing, &x25519, at);
            let signed = statement.message().expect("keys we encoded decode");
            json!({ "signed": hex::encode(signed), "statement": statement })
        })
        .collect();
    json!({
        "custodian_seed": CUSTODIAN_SEED,
        "custodian_public": hex::encode(ed25519_public(&custodian)),
        "cases": cases,
    })
}

/// The field lists of the field-seal vectors. They cover a value and no value, non-ASCII
/// text, values long enough for three pad blocks, and no field at all (a department whose policy allows none still seals).
const SEALED_ROWS: [SealedRow; 4] = [
    SealedRow { department: "household", row: 7, fields: &["status", "address"], values: &[Some("死亡"), None] },
    SealedRow { department: "social-security", row: 40_211, fields: &["phone"], values: &[Some("020-8261 0000")] },
    SealedRow { department: "household", row: 1, fields: &[], values: &[] },
    SealedRow {
        department: "household",
        row: 65_537,
        fields: &["address", "status", "town"],
        values: &[
            Some("广东省广州市增城区荔城街道府佑路88号3栋2单元1501房（旧址：增城市荔城镇）"),
            Some("正常"),
            Some("荔城街道"),
        ],
    },
];

/// One department row of the field-seal vectors.
struct SealedRow {
    department: &'static str,
    row: u32,
    fields: &'static [&'static str],
    values: &'static [Option<&'static str>],
}

/// spec-v2 §5.1: the context key's message, written out from the spec (the sealer's own
/// is private); `tests/vectors.rs` checks that the sealed bytes are the AEAD under the keys
/// it gives.
fn seal_context(kind: SealKind, pair: &PairDomain<'_>, fields: &[&str]) -> Vec<u8> {
    let mut context = [b"bidui/v2 seal context".as_slice(), b"\0", kind.label().as_bytes(), b"\0"].concat();
    for part in [pair.job, pair.requester, pair.department].into_iter().chain(fields.iter().copied()) {
        context.extend_from_slice(part.as_bytes());
        context.push(0);
    }
    context
}

/// spec-v2 §5.4: the padded plaintext, written out from the spec (also the sealer's
/// reference in its tests).
pub(crate) fn seal_plaintext(values: &[Option<&str>]) -> Vec<u8> {
    let mut body = Vec::new();
    for value in values {
        match value {
            None => body.push(0),
            Some(value) => {
                body.push(1);
                body.extend_from_slice(&(value.len() as u16).to_le_bytes());
                body.extend_from_slice(value.as_bytes());
            }
        }
    }
    let mut plaintext = [&(body.len() as u16).to_le_bytes()[..], &body].concat();
    plaintext.resize(plaintext.len().div_ceil(64) * 64, 0);
    plaintext
}

/// spec-v2 §5: each field list of [`SEALED_ROWS`] sealed under both kinds and every suite,
/// with the context key, the AEAD key, the associated data and the plaintext on the way.
fn field_seal_vectors() -> Value {
    let (secret_hex, _) = secrets().next().expect("a test secret");
    let id = IdNumber::parse(IDS[1], IDNUM_TODAY).expect("vector ids are valid");
    let (written, birth, sex) = QUASI_IDENTIFIERS[1];
    let canonical_name = name::canonical(written);
    let sex = Sex::parse(sex).expect("vector sexes are valid");
    let mut cases = Vec::new();
    for suite in Suite::ALL {
        let epoch = KeyEpoch::new(suite, EpochSecret::from_hex(secret_hex).expect("test secrets are valid"));
        for (i, SealedRow { department, row, fields, values }) in SEALED_ROWS.into_iter().enumerate() {
            let pair = PairDomain { job: JOB_IDS[i % 2], requester: REQUESTER, department };
            let field_names: Vec<String> = fields.iter().map(|f| (*f).to_owned()).collect();
            let context = SealContext { pair, fields: &field_names };
            for kind in [SealKind::Id, SealKind::Qid] {
                let (purpose, person, person_inputs) = match kind {
                    SealKind::Id => (Purpose::FieldSeal, id_message(&id).concat(), json!({ "canonical_id": IDS[1] })),
                    SealKind::Qid => (
                        Purpose::QidSeal,
                        qid_message(&canonical_name, birth, sex).concat(),
                        json!({ "name": written, "canonical_name": canonical_name, "birth_date": birth,
                                "sex": sex.code() }),
                    ),
                };
                let seal_key = epoch.derive(purpose, &pair);
                let sealed = seal_values(&seal_key, kind, &[&person], &context, row, values)
                    .expect("vector values are sealable");
                let context_key = seal_key.mac(&[&seal_context(kind, &pair, fields)]);
                let enc_key = PurposeKey::new(suite, context_key).mac(&[b"bidui/v2 seal key\0", &person]);
                cases.push(json!({
                    "suite": suite.name(),
                    "secret": secret_hex,
                    "job_id": pair.job,
                    "requester": pair.requester,
                    "department": pair.department,
                    "kind": kind.label(),
                    "purpose": purpose.label(),
                    "row": row,
                    "person_inputs": person_inputs,
                    "person": hex::encode(&person),
                    "fields": fields,
                    "values": values,
                    "context_key": hex::encode(context_key),
                    "enc_key": hex::encode(enc_key),
                    "aad": hex::encode(row.to_le_bytes()),
                    "plaintext": hex::encode(seal_plaintext(values)),
                    "nonce": hex::encode(&sealed[..12]),
                    "sealed": hex::encode(&sealed),
                }));
            }
        }
    }
    json!({ "cases": cases })
}

/// The operator of the job-signature vectors. Its key is a public test key.
const TEST_OPERATOR: &str = "operator";

/// The job specs of the job-signature vectors: the example of wire-v2 §5.1, and a job with
/// a non-ASCII id, retention 0 and a department that compares and seals nothing.
fn signed_job_specs() -> Vec<JobSpec> {
    let department = |party: &str, compare: &[Attribute], fields: &[&str], max_records| DepartmentSpec {
        party: party.to_owned(),
        compare: compare.to_vec(),
        fields: fields.iter().map(|f| (*f).to_owned()).collect(),
        max_records,
    };
    let example = JobSpec {
        id: JOB_IDS[0].to_owned(),
        purpose: "退役军人和其他优抚对象信息第二阶段数据比对".to_owned(),
        approval: "增政数〔2026〕1号".to_owned(),
        epoch: "3f0a9c1d5e7b2486".to_owned(),
        suite: Suite::HmacSha256,
        requester: RequesterSpec {
            party: REQUESTER.to_owned(),
            fields: vec!["town".to_owned(), "category".to_owned()],
            max_records: 40_000,
        },
        departments: vec![
            department(
                DEPARTMENTS[0],
                &[Attribute::Name, Attribute::Sex, Attribute::BirthDate],
                &["status", "address"],
                1_200_000,
            ),
            department(DEPARTMENTS[1], &[Attribute::BirthDate], &["phone"], 900_000),
        ],
        retention_hours: Some(24),
        rules: Vec::new(),
        profile: None,
    };
    let review = JobSpec {
        id: JOB_IDS[1].to_owned(),
        approval: "增政数〔2026〕7号".to_owned(),
        suite: Suite::HmacSm3,
        departments: vec![department(DEPARTMENTS[1], &[], &[], 900_000)],
        retention_hours: Some(0),
        ..example.clone()
    };
    vec![example, review]
}

/// wire-v2 §5.2: job specs signed by a test operator key (RFC 8032 §7.1, TEST 3).
fn job_signature_vectors() -> Value {
    let operator = ed25519_key(OPERATOR_SIGNING_SEED);
    let cases: Vec<Value> = signed_job_specs()
        .iter()
        .map(|spec| {
            let signed_job = SignedJob::sign(spec, TEST_OPERATOR, &operator);
            let signed =
                [b"bidui/v2 job spec".as_slice(), b"\0", TEST_OPERATOR.as_bytes(), b"\0", signed_job.spec.as_bytes()]
                    .concat();
            json!({ "signed": hex::encode(signed), "signed_job": signed_job })
        })
        .collect();
    json!({
        "test_key": "the seed of RFC 8032 §7.1 TEST 3: a public test key, never an operator's real key",
        "operator_seed": OPERATOR_SIGNING_SEED,
        "operator_public": hex::encode(ed25519_public(&operator)),
        "cases": cases,
    })
}
