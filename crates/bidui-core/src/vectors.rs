//! The protocol test vectors in `protocol-docs/vectors/`, generated from this crate.
//!
//! `crates/bidui-core/tests/vectors.rs` fails when the checked-in files differ from what
//! this module generates; `BIDUI_BLESS=1 cargo test -p bidui-core --test vectors` rewrites
//! them. Every input is fixed, so the files change only when the protocol does.

use serde_json::{json, Value};

use crate::idnum::{CivilDate, IdNumber};
use crate::keys::{EpochSecret, KeyEpoch, Purpose, Suite};
use crate::name;
use crate::token::{attr_message, id_message, qid_message};

/// "Today" for the identity-number vectors, so future-date cases stay stable.
pub const IDNUM_TODAY: CivilDate = CivilDate { year: 2026, month: 11, day: 29 };

/// Test secrets. Labelled as such: never use them for a real epoch.
const TEST_SECRETS: [&str; 2] = [
    "000102030405060708090a0b0c0d0e0f101112131415161718191a1b1c1d1e1f",
    "b1d0b1d0b1d0b1d0b1d0b1d0b1d0b1d0b1d0b1d0b1d0b1d0b1d0b1d0b1d0b1d0",
];
const JOB_IDS: [&str; 2] = ["zc-2026-stage2-001", "增城区-2026-复核"];

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

/// Messages MACed with field-seal keys in the vectors. The field-seal purpose is
/// reserved for binding released field values; its vectors check the key derivation.
const FIELD_SEAL_MESSAGES: [&str; 1] = ["bidui/v1 field-seal vector"];

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
            for job_id in JOB_IDS {
                let mut push = |purpose: Purpose, inputs: Value, message: Vec<u8>| {
                    let key = epoch.derive(purpose, job_id);
                    vectors.push(json!({
                        "suite": suite.name(),
                        "secret": secret_hex,
                        "job_id": job_id,
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
                    let sex_code = crate::Sex::parse(sex).expect("vector sexes are valid");
                    let inputs =
                        json!({ "name": written, "canonical_name": canonical_name, "birth_date": birth, "sex": sex });
                    push(Purpose::QidToken, inputs, qid_message(&canonical_name, birth, sex_code).concat());
                }
                for message in FIELD_SEAL_MESSAGES {
                    push(Purpose::FieldSeal, json!({ "text": message }), message.as_bytes().to_vec());
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
