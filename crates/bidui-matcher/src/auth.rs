//! Request authentication: every request but the health check is signed by an enrolled
//! principal (Ed25519 over method, path, body digest, timestamp, nonce and signer).
//!
//! The signature covers the body, so the body must be received before it can be checked.
//! Everything that can be checked first is: the signature headers' form, the time, and
//! that the signer is enrolled and not revoked. Then the body is received within bounds
//! no caller can stretch: at most [`crate::http::MAX_BODY_BYTES`]; all bodies over
//! [`SMALL_BODY_BYTES`] under way together at most [`BODY_BUDGET_KIB`] (a request that cannot get its share within
//! [`BODY_SLOT_WAIT`] is answered `503 busy`, which clients retry); and arriving at
//! [`MIN_BODY_RATE`] bytes a second or faster after a grace period, so a body trickled in
//! to hold memory and a connection is cut within seconds (`408 body-too-slow`).

use std::time::Duration;

use axum::body::{Body, Bytes};
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
    type Rejection = Response;

    async fn from_request(request: Request, state: &AppState) -> Result<Verified, Response> {
        let (parts, body) = request.into_parts();
        let signed = check_headers(state, &parts.headers).await.map_err(IntoResponse::into_response)?;
        let body = receive_body(state, &parts.headers, body).await.map_err(IntoResponse::into_response)?;
        let (caller, body_sha256) =
            verify(state, &parts.method, &parts.uri, signed, &body).await.map_err(IntoResponse::into_response)?;
        Ok(Verified { caller, body, body_sha256 })
    }
}

/// All request bodies being received at once, in KiB: what unauthenticated callers can
/// make the matcher hold.
pub const BODY_BUDGET_KIB: usize = 256 * 1024;
/// Bodies up to this size do not count against [`BODY_BUDGET_KIB`].
pub const SMALL_BODY_BYTES: usize = 64 * 1024;
/// How long a request waits for its share of [`BODY_BUDGET_KIB`] before `503 busy`.
pub const BODY_SLOT_WAIT: Duration = Duration::from_secs(10);
/// The slowest a body may arrive, after [`BODY_GRACE`]: 128 kbit/s, below any link a
/// department uploads over.
pub const MIN_BODY_RATE: u64 = 16 * 1024;
pub const BODY_GRACE: Duration = Duration::from_secs(5);

/// Receives a body within the bounds in the module's documentation.
async fn receive_body(state: &AppState, headers: &HeaderMap, body: Body) -> Result<Bytes, ApiFailure> {
    use http_body_util::BodyExt;
    let max = crate::http::MAX_BODY_BYTES;
    let declared = headers
        .get(axum::http::header::CONTENT_LENGTH)
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.parse::<usize>().ok());
    if declared.is_some_and(|len| len > max) {
        return Err(too_large(max));
    }
    // A request without a body (hyper knows: no length and not chunked) reads nothing.
    let expected = match http_body::Body::size_hint(&body).exact() {
        Some(0) => return Ok(Bytes::new()),
        exact => declared.or(exact.map(|n| n as usize)).unwrap_or(max),
    };
    // Small bodies (a seal, a job) pass at once: the connection cap bounds them, and they
    // must not queue behind large ones. Large ones take their share of the budget.
    let _share = if expected <= SMALL_BODY_BYTES {
        None
    } else {
        let kib = u32::try_from(expected.div_ceil(1024)).expect("at most MAX_BODY_BYTES");
        match tokio::time::timeout(BODY_SLOT_WAIT, state.bodies.clone().acquire_many_owned(kib)).await {
            Ok(Ok(permit)) => Some(permit),
            _ => {
                return Err(ApiFailure::new(
                    StatusCode::SERVICE_UNAVAILABLE,
                    "busy",
                    "the matcher is receiving too much at once: try again shortly",
                ))
            }
        }
    };
    let started = tokio::time::Instant::now();
    let mut body = body;
    // Reserved whole: a large body's expected length is already counted against the
    // budget (its share above), and capacity not yet written to holds no memory. Grown
    // by doubling instead, each chunk was copied again and had twice its pages faulted
    // in: a sixth of the matcher's CPU time in `bench district`.
    let mut received: Vec<u8> = Vec::with_capacity(expected.min(max));
    loop {
        // The deadline for the next bytes: the grace period, then the minimum rate.
        let due = BODY_GRACE + Duration::from_secs((received.len() as u64 + 1).div_ceil(MIN_BODY_RATE));
        let frame = match tokio::time::timeout_at(started + due, body.frame()).await {
            Ok(frame) => frame,
            Err(_) => {
                return Err(ApiFailure::new(
                    StatusCode::REQUEST_TIMEOUT,
                    "body-too-slow",
                    format!("the body arrived slower than {} KiB/s: refused", MIN_BODY_RATE / 1024),
                ))
            }
        };
        let Some(frame) = frame else { break };
        let frame = frame.map_err(|_| {
            ApiFailure::new(StatusCode::BAD_REQUEST, "body-interrupted", "the body was cut off before its end")
        })?;
        if let Ok(data) = frame.into_data() {
            if received.len() + data.len() > max {
                return Err(too_large(max));
            }
            received.extend_from_slice(&data);
        }
    }
    Ok(Bytes::from(received))
}

fn too_large(max: usize) -> ApiFailure {
    ApiFailure::new(
        StatusCode::PAYLOAD_TOO_LARGE,
        "too-large",
        format!("the body is larger than {} MiB", max / (1024 * 1024)),
    )
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

/// How long a nonce is remembered: a request older than the skew window is refused as
/// stale, so its nonce can go after twice that.
const NONCE_LIFETIME_SECS: u64 = 2 * MAX_CLOCK_SKEW_SECS;

/// Expired nonces deleted per statement: the database thread serves requests between two.
const NONCE_BATCH: u32 = 2_000;

/// Nonces held in memory: each one from its claim until the database has recorded it (so
/// two copies of a request arriving together are told apart), and those the database could
/// not record (a read-only or full disk) until they expire. Small: entries last only while
/// a request is checked, or while the database refuses writes.
#[derive(Default)]
pub struct PendingNonces {
    seen: std::sync::Mutex<std::collections::HashMap<(String, String), i64>>,
}

impl PendingNonces {
    /// Claims a nonce seen at `now`; false if it is held already (a replay).
    fn claim(&self, signer: &str, nonce: &str, now: i64) -> bool {
        let mut seen = self.seen.lock().expect("the nonce lock is never poisoned");
        match seen.entry((signer.to_owned(), nonce.to_owned())) {
            std::collections::hash_map::Entry::Occupied(_) => false,
            std::collections::hash_map::Entry::Vacant(entry) => {
                entry.insert(now);
                true
            }
        }
    }

    /// Lets go of a nonce the database now answers for.
    fn release(&self, signer: &str, nonce: &str) {
        self.seen.lock().expect("the nonce lock is never poisoned").remove(&(signer.to_owned(), nonce.to_owned()));
    }

    fn forget_before(&self, before: i64) {
        self.seen.lock().expect("the nonce lock is never poisoned").retain(|_, seen_at| *seen_at >= before);
    }

    /// How many nonces are held.
    pub fn len(&self) -> usize {
        self.seen.lock().expect("the nonce lock is never poisoned").len()
    }

    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }
}

/// The time before which nonces are forgotten.
fn nonces_expire_before(state: &AppState) -> i64 {
    state.now().saturating_sub(NONCE_LIFETIME_SECS) as i64
}

/// Forgets the nonces held in memory that are older than their lifetime: run every minute
/// even while the database is unwritable, when they pile up there.
pub fn forget_expired_pending_nonces(state: &AppState) {
    state.pending_nonces.forget_before(nonces_expire_before(state));
}

/// Forgets nonces older than their lifetime: in memory, and in the database in batches of
/// [`NONCE_BATCH`] (by the `seen_at` index), each its own statement. Run by the matcher's
/// periodic task, never on a request's path. Returns how many rows the database deleted.
pub async fn forget_expired_nonces(state: &AppState) -> Result<usize, store::StoreError> {
    forget_expired_pending_nonces(state);
    let before = nonces_expire_before(state);
    let mut forgotten = 0;
    loop {
        let deleted = state.store.call(move |c| store::forget_nonces(c, before, NONCE_BATCH)).await?;
        forgotten += deleted;
        if deleted < NONCE_BATCH as usize {
            return Ok(forgotten);
        }
    }
}

/// What the signature headers say, checked as far as they can be without the body.
struct SignedHeaders {
    signer: String,
    timestamp: u64,
    nonce: String,
    signature: Vec<u8>,
    principal: store::Principal,
    now: u64,
}

/// A request's signature headers, in the form wire-v1 §4.2 requires; nothing checked
/// against the matcher's state yet.
#[derive(Debug, PartialEq, Eq)]
pub struct SignatureHeaders {
    pub signer: String,
    pub timestamp: u64,
    /// 32 hex digits.
    pub nonce: String,
    pub signature: Vec<u8>,
}

impl SignatureHeaders {
    /// Reads the four headers; `401 unsigned` when one is missing, `401
    /// malformed-signature` when one is not in its form.
    pub fn parse(headers: &HeaderMap) -> Result<SignatureHeaders, ApiFailure> {
        let malformed = |message: &str| ApiFailure::new(StatusCode::UNAUTHORIZED, "malformed-signature", message);
        let signer = header(headers, HEADER_SIGNER)?.to_owned();
        let timestamp: u64 = header(headers, HEADER_TIMESTAMP)?
            .parse()
            .map_err(|_| malformed("the timestamp is not a number of seconds"))?;
        let nonce = header(headers, HEADER_NONCE)?.to_owned();
        if nonce.len() != 32 || !nonce.bytes().all(|b| b.is_ascii_hexdigit()) {
            return Err(malformed("the nonce must be 32 hex digits"));
        }
        let signature =
            hex::decode(header(headers, HEADER_SIGNATURE)?).map_err(|_| malformed("the signature is not hex"))?;
        Ok(SignatureHeaders { signer, timestamp, nonce, signature })
    }
}

/// Checks the signature headers' form, the request's time, and that its signer is
/// enrolled and not revoked: all that needs no body.
async fn check_headers(state: &AppState, headers: &HeaderMap) -> Result<SignedHeaders, ApiFailure> {
    let SignatureHeaders { signer, timestamp, nonce, signature } = SignatureHeaders::parse(headers)?;
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
    Ok(SignedHeaders { signer, timestamp, nonce, signature, principal, now })
}

/// Checks a request's signature over its body and its nonce; returns the caller and the
/// body's SHA-256. A replayed nonce is refused even across matcher restarts: nonces live
/// in the database for [`NONCE_LIFETIME_SECS`]. When the database cannot be written, a
/// request that only reads is still served with its nonce held in memory
/// ([`PendingNonces`]): replays to this process stay refused, and a replay after a restart
/// could only read again.
async fn verify(
    state: &AppState,
    method: &Method,
    uri: &Uri,
    signed: SignedHeaders,
    body: &[u8],
) -> Result<(Caller, [u8; 32]), ApiFailure> {
    let SignedHeaders { signer, timestamp, nonce, signature, principal, now } = signed;
    let path = uri.path_and_query().map_or(uri.path(), |p| p.as_str());
    let body_sha256 = sha256(body);
    let payload = request_signing_payload(method.as_str(), path, &body_sha256, timestamp, &nonce, &signer);
    UnparsedPublicKey::new(&ED25519, &principal.public_key)
        .verify(&payload, &signature)
        .map_err(|_| ApiFailure::new(StatusCode::UNAUTHORIZED, "bad-signature", "the signature does not verify"))?;

    let replayed =
        || ApiFailure::new(StatusCode::UNAUTHORIZED, "replayed", "this request was already received (nonce reused)");
    if !state.pending_nonces.claim(&signer, &nonce, now as i64) {
        return Err(replayed());
    }
    let recorded = state.store.remember_nonce(signer.clone(), nonce.clone(), now as i64).await;
    match recorded {
        Ok(fresh) => {
            state.pending_nonces.release(&signer, &nonce);
            if !fresh {
                return Err(replayed());
            }
        }
        // The database cannot be written (read-only or full disk, file gone): the nonce
        // stays claimed in memory until it expires, so a replay to this process is still
        // refused. A request that only reads is served — status and audit reads keep
        // working; one that writes fails closed, as its own write would.
        Err(error) if error.is_unwritable() && method.is_safe() => {
            tracing::warn!(%error, %signer, "the nonce is remembered in memory only: the database cannot be written");
        }
        Err(error) => {
            if !error.is_unwritable() {
                state.pending_nonces.release(&signer, &nonce);
            }
            return Err(error.into());
        }
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
    use super::*;

    /// A nonce held in memory (the database refusing writes) is refused again until it
    /// expires, and then forgotten, so the memory stays bounded during an outage.
    #[test]
    fn a_pending_nonce_is_held_once_until_it_expires() {
        let pending = PendingNonces::default();
        assert!(pending.claim("a", "n1", 100));
        assert!(!pending.claim("a", "n1", 101), "a replay");
        assert!(pending.claim("b", "n1", 101), "another signer's nonce");
        pending.forget_before(101);
        assert_eq!(pending.len(), 1);
        assert!(pending.claim("a", "n1", 700), "expired, forgotten");
    }

    #[test]
    fn a_clock_skew_refusal_shows_both_clocks_and_blames_neither() {
        let matcher = 1_764_562_000; // 2025-12-01 12:06:40 +08:00
        let behind = clock_skew_message(matcher - 400, matcher);
        assert!(behind.contains("signed at 2025-12-01 12:00:00 +08:00"), "{behind}");
        assert!(behind.contains("400 s behind the matcher's clock (2025-12-01 12:06:40 +08:00)"), "{behind}");
        assert!(behind.contains("One of the two clocks is wrong"), "{behind}");
        assert!(!behind.contains("agent's clock"), "{behind}");
        let ahead = clock_skew_message(matcher + 900, matcher);
        assert!(ahead.contains("900 s ahead of the matcher's clock"), "{ahead}");
        let absurd = clock_skew_message(u64::MAX, matcher);
        assert!(absurd.contains(&format!("{} (Unix seconds)", u64::MAX)), "{absurd}");
    }
}
