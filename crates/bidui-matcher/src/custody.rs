//! What the key custodian sends through the matcher: enrolments and revocations it signed,
//! and sealed epochs the matcher stores and forwards but cannot open.

use axum::extract::{Path, State};
use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use axum::Json;
use bidui_core::api::{EpochDelivery, EpochPickup, EpochUpload};
use bidui_core::custody::{validate_principal_name, Action, PrincipalRole, PrincipalStatement};
use bidui_core::seal::SealedEpoch;
use serde_json::json;

use crate::audit::{self, AuditEvent};
use crate::auth::{self, Verified};
use crate::error::ApiFailure;
use crate::http::json_body;
use crate::{store, AppState};

async fn custodian_public(state: &AppState) -> Result<[u8; 32], ApiFailure> {
    let key = state.store.call(|c| store::custodian_key(c)).await?;
    key.and_then(|k| hex::decode(k).ok()).and_then(|b| b.try_into().ok()).ok_or_else(|| {
        ApiFailure::conflict(
            "no-custodian",
            "this matcher trusts no key custodian yet (`bidui matcher trust-custodian`)",
        )
    })
}

/// `POST /v1/principals`: an enrolment or revocation the custodian signed.
pub async fn principal_statement(State(state): State<AppState>, verified: Verified) -> Result<Response, ApiFailure> {
    let (caller, body) = verified.into_parts();
    caller.require_role(PrincipalRole::Custodian, "the key custodian")?;
    let statement: PrincipalStatement = json_body(&body)?;
    let custodian = custodian_public(&state).await?;
    statement.verify(&custodian).map_err(|e| ApiFailure::unprocessable("bad-statement", e.to_string()))?;
    if !statement.role.is_enrollable() {
        return Err(ApiFailure::unprocessable("bad-statement", "a statement enrols an agent or an operator"));
    }
    validate_principal_name(&statement.name).map_err(|e| ApiFailure::unprocessable("bad-statement", e.to_string()))?;
    let key = statement.signing_key_bytes().map_err(|e| ApiFailure::unprocessable("bad-statement", e.to_string()))?;
    let now = state.now() as i64;
    // Kept as signed: an assignment hands the operator's enrolment to agents, who check it
    // against the custodian key they trust.
    let body = serde_json::to_string(&statement).map_err(|e| ApiFailure::internal("statement", e))?;
    let applied = state
        .store
        .transaction(move |tx| {
            // A statement no newer than the last one applied is a replay: an old enrolment
            // must never undo a later revocation.
            if store::statement_at(tx, &statement.name)?.is_some_and(|at| statement.at <= at) {
                return Ok(false);
            }
            match statement.action {
                Action::Enrol => store::upsert_principal(tx, &statement.name, statement.role, &key, now)?,
                Action::Revoke => {
                    store::revoke_principal(tx, &statement.name, now)?;
                    // Sealed epochs it has not taken up are never handed over now.
                    store::drop_undelivered_epochs(tx, &statement.name)?;
                }
            }
            store::set_statement(tx, &statement.name, statement.at, &body)?;
            let (action, details) = match statement.action {
                Action::Enrol => (
                    audit::action::ENROLL,
                    json!({
                        "name": statement.name,
                        "role": statement.role,
                        "public_key": statement.signing_key,
                        "x25519_key": statement.x25519_key,
                        "signed_at": statement.at,
                    }),
                ),
                Action::Revoke => (audit::action::REVOKE, json!({ "name": statement.name, "signed_at": statement.at })),
            };
            store::append_audit(tx, &AuditEvent::new(now, auth::CUSTODIAN, action, None, details))?;
            Ok(true)
        })
        .await?;
    if !applied {
        return Err(ApiFailure::conflict(
            "stale-statement",
            "a newer statement about this principal was already applied",
        ));
    }
    Ok((StatusCode::OK, "applied").into_response())
}

/// `POST /v1/epochs`: a rotation's sealed epochs (each checked against the custodian's
/// signature) and retirements.
pub async fn upload_epochs(State(state): State<AppState>, verified: Verified) -> Result<Response, ApiFailure> {
    let (caller, body) = verified.into_parts();
    caller.require_role(PrincipalRole::Custodian, "the key custodian")?;
    let upload: EpochUpload = json_body(&body)?;
    let custodian = custodian_public(&state).await?;
    for sealed in &upload.sealed {
        sealed.verify(&custodian).map_err(|e| {
            ApiFailure::unprocessable("bad-sealed-epoch", format!("sealed epoch for {}: {e}", sealed.recipient))
        })?;
    }
    let now = state.now() as i64;
    state
        .store
        .transaction(move |tx| {
            // Only enrolled, non-revoked agents receive epochs: a rotation sent again after
            // a revocation must not hand the revoked agent its seals back.
            for sealed in &upload.sealed {
                let recipient = store::principal(tx, &sealed.recipient)?;
                let active = recipient.is_some_and(|p| p.role == PrincipalRole::Agent && !p.revoked);
                if !active {
                    return Ok(Err(ApiFailure::unprocessable(
                        "unknown-recipient",
                        format!(
                            "{} is not an enrolled, non-revoked agent at this matcher: \
                             deliver its enrolment first, or rotate again",
                            sealed.recipient
                        ),
                    )));
                }
            }
            let mut stored: std::collections::BTreeMap<String, Vec<String>> = Default::default();
            for sealed in &upload.sealed {
                let body = serde_json::to_string(sealed).expect("a sealed epoch serializes");
                if store::insert_sealed_epoch(tx, &sealed.kcv, &sealed.recipient, sealed.suite.name(), &body, now)? {
                    stored.entry(sealed.kcv.clone()).or_default().push(sealed.recipient.clone());
                }
            }
            for (kcv, recipients) in stored {
                let details = json!({ "kcv": kcv, "recipients": recipients });
                let event = AuditEvent::new(now, auth::CUSTODIAN, audit::action::EPOCH_STORED, None, details);
                store::append_audit(tx, &event)?;
            }
            for retirement in &upload.retire {
                if store::retire_epoch(tx, &retirement.kcv, retirement.retire_at)? {
                    let details = json!({ "kcv": retirement.kcv, "retire_at": retirement.retire_at });
                    let event = AuditEvent::new(now, auth::CUSTODIAN, audit::action::EPOCH_RETIRED, None, details);
                    store::append_audit(tx, &event)?;
                }
            }
            Ok(Ok(()))
        })
        .await??;
    Ok((StatusCode::OK, "stored").into_response())
}

/// `GET /v1/epochs`: the calling agent's own sealed epochs, and retired check values.
pub async fn deliver_epochs(
    State(state): State<AppState>,
    verified: Verified,
) -> Result<Json<EpochDelivery>, ApiFailure> {
    let caller = verified.caller();
    caller.require_role(PrincipalRole::Agent, "the agent an epoch is sealed to")?;
    let (now, me) = (state.now() as i64, caller.name().to_owned());
    let (bodies, retired) =
        state.store.call(move |c| Ok((store::sealed_epochs_for(c, &me, now)?, store::retired_epochs(c, now)?))).await?;
    let sealed = bodies
        .iter()
        .map(|b| serde_json::from_str::<SealedEpoch>(b).map_err(|e| ApiFailure::internal("stored sealed epoch", e)))
        .collect::<Result<_, _>>()?;
    Ok(Json(EpochDelivery { sealed, retired }))
}

/// `POST /v1/epochs/{kcv}/ack`: the agent opened the epoch and keeps it.
pub async fn acknowledge(
    State(state): State<AppState>,
    Path(kcv): Path<String>,
    verified: Verified,
) -> Result<Response, ApiFailure> {
    let caller = verified.caller();
    caller.require_role(PrincipalRole::Agent, "the agent an epoch is sealed to")?;
    let (now, me) = (state.now() as i64, caller.name().to_owned());
    if !state.store.call(move |c| store::ack_epoch(c, &kcv, &me, now)).await? {
        return Err(ApiFailure::not_found("no such epoch sealed to this agent"));
    }
    Ok((StatusCode::OK, "acknowledged").into_response())
}

/// `GET /v1/epochs/status`: which agent took up which epoch (custodian and operator).
pub async fn status(State(state): State<AppState>, verified: Verified) -> Result<Json<Vec<EpochPickup>>, ApiFailure> {
    let caller = verified.caller();
    if caller.role() == PrincipalRole::Agent {
        return Err(ApiFailure::forbidden("only the key custodian and the operator may read this"));
    }
    let rows = state.store.call(|c| store::epoch_pickups(c)).await?;
    Ok(Json(
        rows.into_iter()
            .map(|r| EpochPickup {
                suite: r.suite.parse().unwrap_or(bidui_core::Suite::HmacSha256),
                kcv: r.kcv,
                recipient: r.recipient,
                picked_up_at: r.picked_up_at.map(|t| t as u64),
                retire_at: r.retire_at.map(|t| t as u64),
            })
            .collect(),
    ))
}
