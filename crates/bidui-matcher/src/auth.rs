//! Request authentication: every request but the health check is signed by an enrolled
//! principal (Ed25519 over method, path, body digest, timestamp, nonce and signer).

use axum::http::{HeaderMap, Method, StatusCode, Uri};
use bidui_core::api::{HEADER_NONCE, HEADER_SIGNATURE, HEADER_SIGNER, HEADER_TIMESTAMP, MAX_CLOCK_SKEW_SECS};
use bidui_core::wire::request_signing_payload;
use ring::signature::{UnparsedPublicKey, ED25519};

use crate::error::ApiFailure;
use crate::{store, AppState};

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Role {
    Operator,
    Agent,
    /// The key custodian: enrols and revokes agents, delivers sealed epochs.
    Custodian,
}

/// The signer name of the key custodian's requests.
pub const CUSTODIAN: &str = "custodian";

/// An authenticated caller.
#[derive(Clone, Debug)]
pub struct Caller {
    pub name: String,
    pub role: Role,
}

fn header<'a>(headers: &'a HeaderMap, name: &str) -> Result<&'a str, ApiFailure> {
    headers
        .get(name)
        .ok_or_else(|| {
            ApiFailure::new(
                StatusCode::UNAUTHORIZED,
                "unsigned",
                format!("missing the {name} header: requests must be signed"),
            )
        })?
        .to_str()
        .map_err(|_| {
            ApiFailure::new(StatusCode::UNAUTHORIZED, "malformed-signature", format!("the {name} header is not ASCII"))
        })
}

pub fn sha256(bytes: &[u8]) -> [u8; 32] {
    ring::digest::digest(&ring::digest::SHA256, bytes).as_ref().try_into().expect("32 bytes")
}

/// Checks a request's signature, freshness and nonce. A replayed nonce is refused even
/// across matcher restarts: nonces live in the database for the skew window.
pub async fn verify(
    state: &AppState,
    method: &Method,
    uri: &Uri,
    headers: &HeaderMap,
    body: &[u8],
) -> Result<Caller, ApiFailure> {
    let signer = header(headers, HEADER_SIGNER)?.to_owned();
    let timestamp: u64 = header(headers, HEADER_TIMESTAMP)?.parse().map_err(|_| {
        ApiFailure::new(StatusCode::UNAUTHORIZED, "malformed-signature", "the timestamp is not a number of seconds")
    })?;
    let nonce = header(headers, HEADER_NONCE)?.to_owned();
    if nonce.len() != 32 || !nonce.bytes().all(|b| b.is_ascii_hexdigit()) {
        return Err(ApiFailure::new(
            StatusCode::UNAUTHORIZED,
            "malformed-signature",
            "the nonce must be 32 hex digits",
        ));
    }
    let signature = hex::decode(header(headers, HEADER_SIGNATURE)?)
        .map_err(|_| ApiFailure::new(StatusCode::UNAUTHORIZED, "malformed-signature", "the signature is not hex"))?;

    let now = state.now();
    if now.abs_diff(timestamp) > MAX_CLOCK_SKEW_SECS {
        return Err(ApiFailure::new(
            StatusCode::UNAUTHORIZED,
            "stale",
            format!("the request is {}s away from the matcher's clock (at most {MAX_CLOCK_SKEW_SECS}s): check the agent's clock", now.abs_diff(timestamp)),
        ));
    }

    let lookup = signer.clone();
    let principal = state
        .store
        .call(move |c| {
            // The key custodian is no enrolled principal: its key is trusted once by the
            // matcher's administrator (`bidui matcher trust-custodian`).
            if lookup == CUSTODIAN {
                return Ok(store::custodian_key(c)?.and_then(|k| hex::decode(k).ok()).map(|public_key| {
                    store::Principal {
                        name: CUSTODIAN.to_owned(),
                        role: CUSTODIAN.to_owned(),
                        public_key,
                        revoked: false,
                    }
                }));
            }
            store::principal(c, &lookup)
        })
        .await?
        .ok_or_else(|| {
            ApiFailure::new(StatusCode::UNAUTHORIZED, "unknown-signer", "the signer is not enrolled at this matcher")
        })?;
    if principal.revoked {
        return Err(ApiFailure::new(StatusCode::FORBIDDEN, "revoked", "the signer's enrolment has been revoked"));
    }

    let path = uri.path_and_query().map_or(uri.path(), |p| p.as_str());
    let payload = request_signing_payload(method.as_str(), path, &sha256(body), timestamp, &nonce, &signer);
    UnparsedPublicKey::new(&ED25519, &principal.public_key)
        .verify(&payload, &signature)
        .map_err(|_| ApiFailure::new(StatusCode::UNAUTHORIZED, "bad-signature", "the signature does not verify"))?;

    let forget_before = now.saturating_sub(2 * MAX_CLOCK_SKEW_SECS) as i64;
    let (who, n) = (signer.clone(), nonce);
    let fresh = state.store.call(move |c| store::remember_nonce(c, &who, &n, now as i64, forget_before)).await?;
    if !fresh {
        return Err(ApiFailure::new(
            StatusCode::UNAUTHORIZED,
            "replayed",
            "this request was already received (nonce reused)",
        ));
    }
    let role = match principal.role.as_str() {
        "operator" => Role::Operator,
        CUSTODIAN => Role::Custodian,
        _ => Role::Agent,
    };
    Ok(Caller { name: signer, role })
}
