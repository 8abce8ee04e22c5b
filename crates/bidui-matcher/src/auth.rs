//! Request authentication: every request but the health check is signed by an enrolled
//! principal (Ed25519 over method, path, body digest, timestamp, nonce and signer).

use axum::body::Bytes;
use axum::extract::{FromRequest, Request};
use axum::http::{HeaderMap, Method, StatusCode, Uri};
use axum::response::{IntoResponse, Response};
use bidui_core::api::{HEADER_NONCE, HEADER_SIGNATURE, HEADER_SIGNER, HEADER_TIMESTAMP, MAX_CLOCK_SKEW_SECS};
use bidui_core::custody::PrincipalRole;
use bidui_core::wire::request_signing_payload;
use ring::signature::{UnparsedPublicKey, ED25519};

use crate::error::ApiFailure;
use crate::{store, AppState};

/// The signer name of the key custodian's requests.
pub const CUSTODIAN: &str = bidui_core::custody::CUSTODIAN_NAME;

/// An authenticated caller. Only [`verify`] makes one: a handler holding a `Caller` holds
/// a request whose signature, freshness and nonce were checked.
#[derive(Clone, Debug)]
pub struct Caller {
    name: String,
    role: PrincipalRole,
}

impl Caller {
    pub fn name(&self) -> &str {
        &self.name
    }

    pub fn role(&self) -> PrincipalRole {
        self.role
    }

    /// Refuses (`403 forbidden`, "only {who} may do this") a caller without `role`.
    pub fn require_role(&self, role: PrincipalRole, who: &str) -> Result<(), ApiFailure> {
        if self.role == role {
            Ok(())
        } else {
            Err(ApiFailure::forbidden(format!("only {who} may do this")))
        }
    }

    /// The caller as the operator, or `403 forbidden`.
    pub fn operator(self) -> Result<OperatorCaller, ApiFailure> {
        self.require_role(PrincipalRole::Operator, "the operator")?;
        Ok(OperatorCaller { name: self.name })
    }
}

/// A verified caller known to be the operator: obtained only from [`Caller::operator`].
#[derive(Clone, Debug)]
pub struct OperatorCaller {
    name: String,
}

impl OperatorCaller {
    pub fn name(&self) -> &str {
        &self.name
    }
}

/// A request whose signature verified: the caller and the exact body it signed. As the
/// last argument of a handler, it runs [`verify`] before the handler's body does anything.
pub struct Verified {
    caller: Caller,
    body: Bytes,
    /// SHA-256 of `body`, computed once for the signature: a chunk's digest is this.
    body_sha256: [u8; 32],
}

impl Verified {
    pub fn caller(&self) -> &Caller {
        &self.caller
    }

    pub fn body_sha256(&self) -> [u8; 32] {
        self.body_sha256
    }

    pub fn into_parts(self) -> (Caller, Bytes) {
        (self.caller, self.body)
    }
}

impl FromRequest<AppState> for Verified {
    /// A body refused by axum (over `DefaultBodyLimit`: `413`) keeps axum's own answer, as
    /// when handlers took `Bytes` themselves.
    type Rejection = Response;

    async fn from_request(request: Request, state: &AppState) -> Result<Verified, Response> {
        let (method, uri, headers) = (request.method().clone(), request.uri().clone(), request.headers().clone());
        let body = Bytes::from_request(request, state).await.map_err(IntoResponse::into_response)?;
        let (caller, body_sha256) =
            verify(state, &method, &uri, &headers, &body).await.map_err(IntoResponse::into_response)?;
        Ok(Verified { caller, body, body_sha256 })
    }
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

/// Checks a request's signature, freshness and nonce; returns the caller and the body's
/// SHA-256. A replayed nonce is refused even across matcher restarts: nonces live in the
/// database for the skew window.
async fn verify(
    state: &AppState,
    method: &Method,
    uri: &Uri,
    headers: &HeaderMap,
    body: &[u8],
) -> Result<(Caller, [u8; 32]), ApiFailure> {
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
        return Err(ApiFailure::new(StatusCode::UNAUTHORIZED, "stale", clock_skew_message(timestamp, now)));
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
                        role: PrincipalRole::Custodian,
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
    let body_sha256 = sha256(body);
    let payload = request_signing_payload(method.as_str(), path, &body_sha256, timestamp, &nonce, &signer);
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
    Ok((Caller { name: signer, role: principal.role }, body_sha256))
}

/// Why a request's time was refused, with both clocks' readings: either may be the wrong
/// one, and the person reading it has to compare them with a time source to know which.
fn clock_skew_message(request: u64, matcher: u64) -> String {
    use bidui_core::idnum::ChinaTime;
    let apart = matcher.abs_diff(request);
    let direction = if request < matcher { "behind" } else { "ahead of" };
    // Beyond a century the time is no clock's reading: it is not rendered as a date.
    let request_time = match i64::try_from(request) {
        Ok(seconds) if apart < 100 * 365 * 86_400 => ChinaTime::from_unix_seconds(seconds).to_string(),
        _ => format!("{request} (Unix seconds)"),
    };
    let matcher_time = ChinaTime::from_unix_seconds(i64::try_from(matcher).unwrap_or(i64::MAX / 2));
    format!(
        "the request was signed at {request_time}, {apart} s {direction} the matcher's clock ({matcher_time}); \
         at most {MAX_CLOCK_SKEW_SECS} s are allowed. One of the two clocks is wrong: compare both with a time \
         source and correct that one"
    )
}

#[cfg(test)]
mod tests {
    #[test]
    fn a_clock_skew_refusal_shows_both_clocks_and_blames_neither() {
        let matcher = 1_764_562_000; // 2025-12-01 12:06:40 +08:00
        let behind = super::clock_skew_message(matcher - 400, matcher);
        assert!(behind.contains("signed at 2025-12-01 12:00:00 +08:00"), "{behind}");
        assert!(behind.contains("400 s behind the matcher's clock (2025-12-01 12:06:40 +08:00)"), "{behind}");
        assert!(behind.contains("One of the two clocks is wrong"), "{behind}");
        assert!(!behind.contains("agent's clock"), "{behind}");
        let ahead = super::clock_skew_message(matcher + 900, matcher);
        assert!(ahead.contains("900 s ahead of the matcher's clock"), "{ahead}");
        let absurd = super::clock_skew_message(u64::MAX, matcher);
        assert!(absurd.contains(&format!("{} (Unix seconds)", u64::MAX)), "{absurd}");
    }
}
