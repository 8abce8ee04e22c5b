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

/// Checks a request's signature, freshness and nonce; returns the caller and the body's
/// SHA-256. A replayed nonce is refused even across matcher restarts: nonces live in the
/// database for [`NONCE_LIFETIME_SECS`]. When the database cannot be written, a request
/// that only reads is still served with its nonce held in memory ([`PendingNonces`]):
/// replays to this process stay refused, and a replay after a restart could only read again.
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
        return Err(ApiFailure::new(
            StatusCode::UNAUTHORIZED,
            "stale",
            format!(
                "the request is {}s away from the matcher's clock (at most {MAX_CLOCK_SKEW_SECS}s): \
                 check the agent's clock",
                now.abs_diff(timestamp)
            ),
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
}
