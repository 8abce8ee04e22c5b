//! The HTTP API (`protocol-docs/wire-v2.md`): routes and handlers.

use axum::body::Bytes;
use axum::extract::{DefaultBodyLimit, Path, Query, State};
use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use axum::routing::{any, get, post, put};
use axum::{Json, Router};
use bidui_core::api::{
    AssignedJob, Assignment, Assignments, ChunkInfo, JobSignatureError, JobSpec, JobState, JobStatus, JoinAnswer,
    ParticipantStage, ParticipantStatus, PartyRole, SealRequest, SignedJob, SubmissionNotice, SubmissionStatus,
    MAX_DECLINED_REASON_CHARS,
};
use bidui_core::custody::{PrincipalRole, PrincipalStatement};
use bidui_core::wire::{Chunk, ChunkError};
use serde::de::DeserializeOwned;
use serde::Deserialize;

use crate::audit::{self, AuditEvent};
use crate::auth::{self, Caller, Verified};
use crate::error::ApiFailure;
use crate::jobs::{self, LoadedJob};
use crate::{store, AppState};

/// Largest request body: a chunk closes at 4 MiB of records (`CHUNK_BYTES_TARGET`), and a
/// record with the largest sealed values still fits beside it.
pub const MAX_BODY_BYTES: usize = 8 * 1024 * 1024;

pub fn app(state: AppState) -> Router {
    Router::new()
        .route("/v1/health", get(health))
        .route("/v1/jobs", any(protocol_v1_jobs))
        .route("/v1/jobs/{*rest}", any(protocol_v1_jobs))
        .route("/v2/jobs", post(create_job))
        .route("/v2/assignments", get(assignments))
        .route("/v2/jobs/{job}", get(job_status))
        .route("/v2/jobs/{job}/join", post(join_job))
        .route("/v2/jobs/{job}/assignment", get(assignment))
        .route("/v2/jobs/{job}/submission", get(submission_status))
        .route("/v2/jobs/{job}/submission/chunks/{seq}", put(put_chunk))
        .route("/v2/jobs/{job}/submission/seal", post(seal))
        .route("/v2/jobs/{job}/submission/notice", post(notice))
        .route("/v2/jobs/{job}/results", get(results))
        .route("/v1/principals", post(crate::custody::principal_statement))
        .route("/v1/epochs", get(crate::custody::deliver_epochs).post(crate::custody::upload_epochs))
        .route("/v1/epochs/status", get(crate::custody::status))
        .route("/v1/epochs/{kcv}/ack", post(crate::custody::acknowledge))
        .layer(DefaultBodyLimit::max(MAX_BODY_BYTES))
        .with_state(state)
}

/// `200 ok` when the database file is the one opened and takes writes; else `503` with
/// `database-missing`, `database-replaced` or `database-unwritable` ([`AppState::check_database`]).
async fn health(State(state): State<AppState>) -> Result<&'static str, ApiFailure> {
    state.check_database().await?;
    Ok("ok")
}

/// `/v1/jobs…`, any method, signed or not: refused before anything is read, so an agent or
/// command line of protocol v1 is told to upgrade rather than given a confusing error.
async fn protocol_v1_jobs() -> ApiFailure {
    jobs::protocol_v1("/v1/jobs")
}

pub(crate) fn json_body<T: DeserializeOwned>(body: &[u8]) -> Result<T, ApiFailure> {
    serde_json::from_slice(body)
        .map_err(|e| ApiFailure::bad_request("malformed", format!("the request body is not the expected JSON: {e}")))
}

/// The caller's role in the job; refuses agents that are not parties to it.
fn participant(caller: &Caller, spec: &JobSpec) -> Result<PartyRole, ApiFailure> {
    caller.require_role(PrincipalRole::Agent, "a participating agent")?;
    spec.role(caller.name()).ok_or_else(|| ApiFailure::forbidden("this agent does not take part in the job"))
}

/// The body of `POST /v2/jobs`: a signed job. A bare job spec is what protocol v1 sent.
fn signed_job_body(body: &[u8]) -> Result<SignedJob, ApiFailure> {
    json_body(body).map_err(|malformed| {
        let value: Option<serde_json::Value> = serde_json::from_slice(body).ok();
        let bare_spec = value.as_ref().and_then(|v| v.as_object()).is_some_and(|o| {
            ["id", "purpose", "requester"].iter().all(|k| o.contains_key(*k)) && !o.contains_key("signature")
        });
        if bare_spec {
            ApiFailure::bad_request(
                "protocol-v1",
                "a bare job spec is protocol v1; this matcher speaks protocol v2 only: send the job spec the \
                 operator signed (`spec`, `signer`, `signature`)",
            )
        } else {
            malformed
        }
    })
}

async fn create_job(State(state): State<AppState>, verified: Verified) -> Result<Response, ApiFailure> {
    let (caller, body) = verified.into_parts();
    let operator = caller.clone().operator()?;
    let signed = signed_job_body(&body)?;
    if signed.signer != operator.name() {
        return Err(ApiFailure::unprocessable(
            "signer-mismatch",
            format!(
                "the job is signed by {:?} but sent by {:?}: an operator submits only the jobs it signed",
                signed.signer,
                operator.name()
            ),
        ));
    }
    let name = operator.name().to_owned();
    let enrolled = state.store.call(move |c| store::principal(c, &name)).await?;
    let key: [u8; 32] = enrolled
        .and_then(|p| p.public_key.try_into().ok())
        .ok_or_else(|| ApiFailure::internal("operator key", "an enrolled operator without a 32-byte key"))?;
    let spec = signed.verify(&key).map_err(|e| match e {
        JobSignatureError::BadSignature(signer) => ApiFailure::unprocessable(
            "bad-job-signature",
            format!("the job spec's signature does not verify under operator {signer}'s enrolled key"),
        ),
        JobSignatureError::Invalid(_) => ApiFailure::unprocessable("invalid-spec", e.to_string()),
    })?;
    for party in spec.parties() {
        let name = party.to_owned();
        let principal = state.store.call(move |c| store::principal(c, &name)).await?;
        if !principal.is_some_and(|p| p.role == PrincipalRole::Agent && !p.revoked) {
            return Err(ApiFailure::unprocessable(
                "unknown-party",
                format!("party {party:?} is not an enrolled agent"),
            ));
        }
    }
    let parties: Vec<String> = spec.parties().map(str::to_owned).collect();
    let (id, now) = (spec.id.clone(), state.now() as i64);
    // The spec's names and the digest of the exact text signed: what was agreed, by whom.
    let mut details = serde_json::to_value(&spec).map_err(|e| ApiFailure::internal("spec", e))?;
    details["signer"] = signed.signer.clone().into();
    details["spec_sha256"] = hex::encode(auth::sha256(signed.spec.as_bytes())).into();
    let stored = signed.clone();
    let created = state
        .store
        .transaction(move |tx| {
            if let Some(existing) = store::job(tx, &id)? {
                return Ok(Some(existing.signed));
            }
            store::insert_job(tx, &id, &stored, jobs::state_name(JobState::Collecting), &parties, now)?;
            let event = AuditEvent::new(now, &stored.signer, audit::action::JOB_CREATED, Some(&id), details);
            store::append_audit(tx, &event)?;
            Ok(None)
        })
        .await?;
    let status = match created {
        None => {
            tracing::info!(job = %spec.id, purpose = %spec.purpose, approval = %spec.approval, "job created");
            StatusCode::CREATED
        }
        Some(Some(existing)) if existing == signed => StatusCode::OK,
        Some(_) => {
            return Err(ApiFailure::conflict(
                "job-exists",
                "a different job with this id exists; job ids are never reused",
            ))
        }
    };
    let loaded = jobs::load(&state, &spec.id).await?;
    Ok((status, Json(job_status_of(&state, &loaded, &caller).await?)).into_response())
}

/// `GET /v2/assignments`: the jobs an agent still has to do — collecting, naming it, not
/// sealed by it — by id and creation time. Only what the operator created and what the
/// caller itself did decides the answer (a job cannot complete before the caller seals),
/// so a department learns nothing from it that depends on another party's data.
async fn assignments(State(state): State<AppState>, verified: Verified) -> Result<Json<Assignments>, ApiFailure> {
    let caller = verified.caller();
    caller.require_role(PrincipalRole::Agent, "an agent")?;
    let party = caller.name().to_owned();
    let collecting = jobs::state_name(JobState::Collecting);
    let rows = state.store.call(move |c| store::assignments(c, &party, collecting)).await?;
    let jobs =
        rows.into_iter().map(|(id, created_at)| AssignedJob { id, created_at: created_at.max(0) as u64 }).collect();
    Ok(Json(Assignments { jobs }))
}

/// `GET /v2/jobs/{job}`: for the operator and the job's requester only. A department is
/// refused: nothing it receives may depend on the registry, and the job's progress does.
#[derive(Deserialize)]
struct StatusQuery {
    /// Seconds to hold the answer while the job is collecting, until it completes.
    wait: Option<u64>,
}

/// The longest `?wait=` a status request is held: well under any client's or proxy's
/// timeout.
pub const MAX_STATUS_WAIT_SECS: u64 = 30;

async fn job_status(
    State(state): State<AppState>,
    Path(job): Path<String>,
    Query(query): Query<StatusQuery>,
    verified: Verified,
) -> Result<Json<JobStatus>, ApiFailure> {
    let caller = verified.caller();
    let mut loaded = jobs::load(&state, &job).await?;
    if caller.role() == PrincipalRole::Operator {
        signing_operator(caller, &loaded)?;
    } else if participant(caller, &loaded.spec)? != PartyRole::Requester {
        return Err(ApiFailure::forbidden("only the operator and the job's requester may follow the job"));
    }
    // A long poll: the requester's agent learns of completion at once, with one request
    // per half-minute instead of several a second.
    if let Some(wait) = query.wait {
        let deadline = tokio::time::Instant::now() + std::time::Duration::from_secs(wait.min(MAX_STATUS_WAIT_SECS));
        while loaded.state == JobState::Collecting {
            let completed = state.completions.notified();
            tokio::pin!(completed);
            // Registered before the state is read again, so a completion in between is seen.
            completed.as_mut().enable();
            loaded = jobs::load(&state, &job).await?;
            if loaded.state != JobState::Collecting || tokio::time::timeout_at(deadline, completed).await.is_err() {
                break;
            }
        }
    }
    Ok(Json(job_status_of(&state, &loaded, caller).await?))
}

/// `POST /v2/jobs/{job}/join`: the operator who signed a job has it finished now. A job
/// complete already is answered as it is; one every party has sealed is joined on the
/// path the last seal's join takes (`jobs::finish`, in the same turn, so never twice at
/// once); one still waiting for a seal is refused `409 not-all-sealed`, naming the parties.
async fn join_job(
    State(state): State<AppState>,
    Path(job): Path<String>,
    verified: Verified,
) -> Result<Json<JoinAnswer>, ApiFailure> {
    let caller = verified.caller();
    let loaded = jobs::load(&state, &job).await?;
    caller.clone().operator()?;
    signing_operator(caller, &loaded)?;
    let mut joined = false;
    if loaded.state == JobState::Collecting {
        let status = job_status_of(&state, &loaded, caller).await?;
        let waiting: Vec<String> = status.participants.into_iter().filter(|p| !p.sealed).map(|p| p.party).collect();
        if !waiting.is_empty() {
            return Err(ApiFailure::conflict(
                "not-all-sealed",
                format!("the job joins once every party has sealed; still waiting for: {}", waiting.join(", ")),
            )
            .waiting_for(waiting));
        }
        tracing::info!(job = %loaded.spec.id, operator = %caller.name(), "join asked for by the operator");
        joined = jobs::finish(&state, &loaded.spec).await?;
    }
    let loaded = jobs::load(&state, &job).await?;
    Ok(Json(JoinAnswer { joined, status: job_status_of(&state, &loaded, caller).await? }))
}

/// Whether a repeated seal states what the first one did (its digest is not stored: the
/// chunks it covered may be purged).
fn same_figures(request: &SealRequest, stored: &store::SubmissionRow) -> bool {
    let stored_json = |text: &str| serde_json::from_str::<serde_json::Value>(text).ok();
    request.chunks == stored.chunks
        && request.records == stored.records
        && request.rows_read == stored.rows_read
        && request.epoch.as_str() == stored.epoch.as_deref().unwrap_or_default()
        && stored_json(&stored.invalid_ids) == serde_json::to_value(&request.invalid_ids).ok()
        && stored_json(&stored.sealed_fields) == serde_json::to_value(&request.sealed_fields).ok()
        && stored_json(&stored.refused) == serde_json::to_value(&request.refused).ok()
}

/// An operator follows the jobs it signed, not another operator's.
fn signing_operator(caller: &Caller, loaded: &LoadedJob) -> Result<(), ApiFailure> {
    if loaded.signed.signer != caller.name() {
        return Err(ApiFailure::forbidden("only the operator who signed the job may follow or finish it"));
    }
    Ok(())
}

/// The job's status as `caller` may see it: the operator sees every party's progress, the
/// requester its own (another party's counts are not its business).
async fn job_status_of(state: &AppState, loaded: &LoadedJob, caller: &Caller) -> Result<JobStatus, ApiFailure> {
    let spec = &loaded.spec;
    let mut participants = Vec::new();
    for party in spec.parties().filter(|p| caller.role() == PrincipalRole::Operator || *p == caller.name()) {
        let (j, p) = (spec.id.clone(), party.to_owned());
        let submission = state.store.call(move |c| store::submission(c, &j, &p)).await?.unwrap_or_default();
        let stage = stage_of(&submission);
        participants.push(ParticipantStatus {
            party: party.to_owned(),
            role: spec.role(party).expect("a party of the job"),
            stage,
            chunks_expected: submission.chunks_expected.filter(|_| stage == ParticipantStage::Uploading),
            declined_reason: submission.declined_reason.clone().filter(|_| stage == ParticipantStage::Declined),
            chunks: submission.chunks,
            records: submission.records,
            sealed: submission.sealed,
            rows_read: submission.rows_read,
            invalid_ids: serde_json::from_str(&submission.invalid_ids).unwrap_or_default(),
        });
    }
    Ok(JobStatus {
        id: spec.id.clone(),
        purpose: spec.purpose.clone(),
        approval: spec.approval.clone(),
        state: loaded.state,
        participants,
    })
}

/// A party's stage from its stored submission: sealed above all, then its last notice (a
/// stored chunk turned it into `uploading`), then `uploading` for chunks stored by an agent
/// that sent no notice, else `waiting`.
fn stage_of(submission: &store::SubmissionRow) -> ParticipantStage {
    if submission.sealed {
        return ParticipantStage::Sealed;
    }
    match submission.notice.as_deref() {
        Some(NOTICE_READING) => ParticipantStage::Reading,
        Some(NOTICE_UPLOADING) => ParticipantStage::Uploading,
        Some(NOTICE_DECLINED) => ParticipantStage::Declined,
        _ if submission.chunks > 0 => ParticipantStage::Uploading,
        _ => ParticipantStage::Waiting,
    }
}

/// The notices as the store keeps them (`submissions.notice`).
const NOTICE_READING: &str = "reading";
const NOTICE_UPLOADING: &str = "uploading";
const NOTICE_DECLINED: &str = "declined";

/// Refuses a notice whose content breaks wire-v2 §6.13: an estimate of no chunk or of
/// more chunks than the party may submit records (each chunk holds one at least), a reason
/// empty, over [`MAX_DECLINED_REASON_CHARS`] characters or with a control character.
fn check_notice(notice: &SubmissionNotice, cap: u64) -> Result<(), ApiFailure> {
    let bad = |why: String| Err(ApiFailure::bad_request("bad-notice", why));
    match notice {
        SubmissionNotice::Reading {} | SubmissionNotice::Uploading { chunks_expected: None } => Ok(()),
        SubmissionNotice::Uploading { chunks_expected: Some(expected) } => {
            if *expected == 0 || u64::from(*expected) > cap {
                return bad(format!("chunks_expected must be from 1 to the party's cap ({cap}), not {expected}"));
            }
            Ok(())
        }
        SubmissionNotice::Declined { reason } => {
            if reason.trim().is_empty() {
                return bad("a decline gives its reason".into());
            }
            if reason.chars().count() > MAX_DECLINED_REASON_CHARS {
                return bad(format!("the reason is longer than {MAX_DECLINED_REASON_CHARS} characters"));
            }
            if reason.chars().any(char::is_control) {
                return bad("the reason holds a control character (a line break, a tab …)".into());
            }
            Ok(())
        }
    }
}

/// `POST /v2/jobs/{job}/submission/notice`: an agent taking part says where its own
/// submission stands (reading, uploading with its estimate, declined with its reason) until
/// it seals. Answered `204` with no body: the answer depends only on the caller's own
/// submission. A decline is audited; a decline repeated with the same reason, and every
/// other notice, records nothing (like a chunk: the seal records the submission).
async fn notice(
    State(state): State<AppState>,
    Path(job): Path<String>,
    verified: Verified,
) -> Result<StatusCode, ApiFailure> {
    let (caller, body) = verified.into_parts();
    let LoadedJob { spec, .. } = jobs::load(&state, &job).await?;
    participant(&caller, &spec)?;
    let notice: SubmissionNotice = json_body(&body)?;
    check_notice(&notice, spec.max_records(caller.name()).expect("a party of the job"))?;
    let (stage, chunks_expected, reason) = match notice {
        SubmissionNotice::Reading {} => (NOTICE_READING, None, None),
        SubmissionNotice::Uploading { chunks_expected } => (NOTICE_UPLOADING, chunks_expected, None),
        SubmissionNotice::Declined { reason } => (NOTICE_DECLINED, None, Some(reason)),
    };
    let (j, p, now) = (job.clone(), caller.name().to_owned(), state.now() as i64);
    let logged_reason = reason.clone();
    let recorded = state
        .store
        .transaction(move |tx| {
            // Read inside the transaction, so a seal committed meanwhile refuses the notice.
            let Some(current) = store::submission(tx, &j, &p)?.filter(|s| !s.sealed) else { return Ok(false) };
            let repeated_decline = stage == NOTICE_DECLINED
                && current.notice.as_deref() == Some(NOTICE_DECLINED)
                && current.declined_reason == reason;
            store::set_notice(tx, &j, &p, stage, chunks_expected, reason.as_deref())?;
            if let (Some(reason), false) = (&reason, repeated_decline) {
                // The agent's own words about its policy: no token, value or count.
                let details = serde_json::json!({ "reason": reason });
                store::append_audit(tx, &AuditEvent::new(now, &p, audit::action::DECLINED, Some(&j), details))?;
            }
            Ok(true)
        })
        .await?;
    if !recorded {
        return Err(ApiFailure::conflict("sealed", "the submission is sealed; a notice comes before the seal"));
    }
    if logged_reason.is_some() {
        tracing::info!(job = %spec.id, party = %caller.name(), "submission declined by the agent's policy");
    }
    Ok(StatusCode::NO_CONTENT)
}

/// `GET /v2/jobs/{job}/assignment`: the operator's signed job as created and the
/// custodian's latest statement about its signer. The same bytes for every party, whatever
/// any party's data: nothing in it depends on a submission.
async fn assignment(
    State(state): State<AppState>,
    Path(job): Path<String>,
    verified: Verified,
) -> Result<Json<Assignment>, ApiFailure> {
    let caller = verified.caller();
    let LoadedJob { signed, spec, .. } = jobs::load(&state, &job).await?;
    participant(caller, &spec)?;
    let signer = signed.signer.clone();
    let statement = state.store.call(move |c| store::latest_statement(c, &signer)).await?;
    let operator = statement
        .map(|body| serde_json::from_str::<PrincipalStatement>(&body))
        .transpose()
        .map_err(|e| ApiFailure::internal("stored statement", e))?;
    Ok(Json(Assignment { job: signed, operator }))
}

async fn own_submission(state: &AppState, job: &str, party: &str) -> Result<SubmissionStatus, ApiFailure> {
    let (j, p) = (job.to_owned(), party.to_owned());
    let (metas, submission) = state
        .store
        .call(move |c| Ok((store::chunk_metas(c, &j, &p)?, store::submission(c, &j, &p)?.unwrap_or_default())))
        .await?;
    let chunks = metas
        .into_iter()
        .map(|m| ChunkInfo { seq: m.seq, sha256: hex::encode(&m.sha256), records: m.records, last_row: m.last_row })
        .collect();
    Ok(SubmissionStatus { chunks, sealed: submission.sealed })
}

async fn submission_status(
    State(state): State<AppState>,
    Path(job): Path<String>,
    verified: Verified,
) -> Result<Json<SubmissionStatus>, ApiFailure> {
    let caller = verified.caller();
    let LoadedJob { spec, .. } = jobs::load(&state, &job).await?;
    participant(caller, &spec)?;
    Ok(Json(own_submission(&state, &job, caller.name()).await?))
}

#[derive(Deserialize)]
struct EpochQuery {
    epoch: Option<String>,
}

async fn put_chunk(
    State(state): State<AppState>,
    Path((job, seq)): Path<(String, u32)>,
    Query(query): Query<EpochQuery>,
    verified: Verified,
) -> Result<Response, ApiFailure> {
    let digest = verified.body_sha256();
    let (caller, body) = verified.into_parts();
    let LoadedJob { spec, state: job_state, .. } = jobs::load(&state, &job).await?;
    participant(&caller, &spec)?;
    let epoch = query.epoch.unwrap_or_default();
    if epoch != spec.epoch {
        return Err(ApiFailure::conflict(
            "wrong-epoch",
            format!("tokens made under epoch {epoch:?} cannot join job {} (epoch {})", spec.id, spec.epoch),
        ));
    }
    if job_state != JobState::Collecting {
        return Err(ApiFailure::conflict("not-collecting", "the job no longer accepts tokens"));
    }
    let (j, p) = (job.clone(), caller.name().to_owned());
    let (submission, previous, existing) = state
        .store
        .call(move |c| {
            let previous = if seq == 0 { None } else { store::chunk_meta(c, &j, &p, seq - 1)? };
            Ok((store::submission(c, &j, &p)?.unwrap_or_default(), previous, store::chunk_meta(c, &j, &p, seq)?))
        })
        .await?;
    if let Some(existing) = existing {
        return if existing.sha256 == digest {
            Ok((StatusCode::OK, "chunk already stored").into_response())
        } else {
            Err(ApiFailure::conflict("chunk-conflict", format!("chunk {seq} is already stored with different content")))
        };
    }
    if submission.sealed {
        return Err(ApiFailure::conflict("sealed", "the submission is sealed"));
    }
    if seq != submission.chunks {
        return Err(ApiFailure::conflict(
            "chunk-gap",
            format!("the next chunk expected is {}, not {seq}", submission.chunks),
        ));
    }
    let after_row = previous.map_or(0, |m| m.last_row);
    let index = if caller.name() == spec.requester.party { None } else { registry_index(&state, &spec).await? };
    let (records, last_row, joined) = {
        let (spec, party, body) = (spec.clone(), caller.name().to_owned(), body.clone());
        // Decoding checks every record, and the join looks each one up: off the async workers.
        tokio::task::spawn_blocking(move || {
            let layout = spec.layout(&party).expect("a party of the job");
            let chunk = Chunk::decode(&body, &layout, after_row).map_err(|e| match e {
                ChunkError::ProtocolV1 => ApiFailure::bad_request("protocol-v1", e.to_string()),
                _ => ApiFailure::bad_request("malformed-chunk", e.to_string()),
            })?;
            let joined = index.map(|index| jobs::join_on_arrival(&index, &spec, &party, &chunk));
            Ok::<_, ApiFailure>((chunk.len() as u64, chunk.last_row(), joined))
        })
        .await
        .map_err(|e| ApiFailure::internal("chunk", e))??
    };
    let cap = spec.max_records(caller.name()).expect("a party of the job");
    if submission.records + records > cap {
        return Err(jobs::over_cap(submission.records + records, cap));
    }
    let meta = store::ChunkMeta { seq, sha256: digest.to_vec(), records: records as u32, last_row };
    let (j, p) = (job.clone(), caller.name().to_owned());
    let inserted = state
        .store
        .transaction(move |tx| {
            // Re-checked inside the transaction: a concurrent upload of the same chunk loses,
            // so the records counted against the cap above are still all there are.
            let current = store::submission(tx, &j, &p)?.unwrap_or_default();
            if current.chunks != seq || current.sealed {
                return Ok(false);
            }
            let stored = match &joined {
                Some(found) => store::StoredChunk::Joined { found, records: meta.records },
                None => store::StoredChunk::Tokens(&body),
            };
            store::insert_chunk(tx, &j, &p, &meta, stored)?;
            Ok(true)
        })
        .await?;
    if !inserted {
        return Err(ApiFailure::conflict(
            "chunk-conflict",
            "another upload of this chunk won; ask for the submission status and resume",
        ));
    }
    Ok((StatusCode::CREATED, "chunk stored").into_response())
}

/// The registry index a department's chunk is joined with the moment it arrives (what the
/// join finds is stored in place of its tokens; wire-v2 §9: none of it reaches the
/// department). `None` keeps the chunk's tokens for the join at the end: the index is not
/// built yet (its building starts here if the requester has sealed) or does not fit.
async fn registry_index(
    state: &AppState,
    spec: &JobSpec,
) -> Result<Option<std::sync::Arc<crate::matching::RegistryIndex>>, ApiFailure> {
    if let Some(index) = state.indexes.ready(&spec.id) {
        return Ok(Some(index));
    }
    let (j, r) = (spec.id.clone(), spec.requester.party.clone());
    let requester = state.store.call(move |c| store::submission(c, &j, &r)).await?.unwrap_or_default();
    if requester.sealed {
        jobs::prepare_index(state, spec, requester.records);
    }
    Ok(None)
}

/// `POST /v2/jobs/{job}/submission/seal`: answered with the party's own submission status,
/// never anything about another party, as soon as the seal is committed. The last seal
/// starts the join on a task of its own (`jobs::spawn_join`): its answer does not wait
/// for it, so its time does not depend on the other parties' data.
async fn seal(
    State(state): State<AppState>,
    Path(job): Path<String>,
    verified: Verified,
) -> Result<Json<SubmissionStatus>, ApiFailure> {
    let (caller, body) = verified.into_parts();
    let LoadedJob { spec, state: job_state, .. } = jobs::load(&state, &job).await?;
    participant(&caller, &spec)?;
    let request: SealRequest = json_body(&body)?;
    let (j, p) = (job.clone(), caller.name().to_owned());
    let (metas, submission) = state
        .store
        .call(move |c| Ok((store::chunk_metas(c, &j, &p)?, store::submission(c, &j, &p)?.unwrap_or_default())))
        .await?;
    jobs::check_seal(&request, &spec, caller.name())?;
    if submission.sealed {
        // A repeat: answered with what is stored (the first seal's figures stand). Its chunks
        // may be purged already, so it is not compared with them; its figures are, so a
        // second seal that says something else is told so rather than silently ignored.
        if !same_figures(&request, &submission) {
            return Err(ApiFailure::conflict(
                "seal-differs",
                "the submission is already sealed with other figures; they stand. A changed source needs a new job",
            ));
        }
        return Ok(Json(own_submission(&state, &job, caller.name()).await?));
    }
    if job_state != JobState::Collecting {
        return Err(ApiFailure::conflict("not-collecting", "the job no longer accepts submissions"));
    }
    jobs::check_seal_against_chunks(&request, &metas)?;
    let invalid = serde_json::to_string(&request.invalid_ids).map_err(|e| ApiFailure::internal("seal", e))?;
    let sealed_fields = serde_json::to_string(&request.sealed_fields).map_err(|e| ApiFailure::internal("seal", e))?;
    let refused = serde_json::to_string(&request.refused).map_err(|e| ApiFailure::internal("seal", e))?;
    let (j, p, now) = (job.clone(), caller.name().to_owned(), state.now() as i64);
    let epoch = request.epoch.clone();
    // Counts, digests and field names only: the audit log never holds a token or a value.
    let details = serde_json::json!({
        "epoch": request.epoch,
        "chunks": metas.len(),
        "records": request.records,
        "rows_read": request.rows_read,
        "invalid_ids": request.invalid_ids,
        "digest": request.digest,
        "sealed_fields": request.sealed_fields,
        "refused": request.refused,
    });
    let all_sealed = state
        .store
        .transaction(move |tx| {
            // Re-checked inside the transaction: of two concurrent seals one is recorded.
            if store::submission(tx, &j, &p)?.unwrap_or_default().sealed {
                return store::all_sealed(tx, &j);
            }
            let record = store::SealRecord {
                epoch: &epoch,
                rows_read: request.rows_read,
                invalid_ids: &invalid,
                sealed_fields: &sealed_fields,
                refused: &refused,
            };
            store::seal_submission(tx, &j, &p, &record, now)?;
            store::append_audit(tx, &AuditEvent::new(now, &p, audit::action::SEALED, Some(&j), details))?;
            store::all_sealed(tx, &j)
        })
        .await?;
    tracing::info!(job = %spec.id, party = %caller.name(), chunks = metas.len(), "submission sealed");
    if caller.name() == spec.requester.party && !all_sealed {
        jobs::prepare_index(&state, &spec, request.records);
    }
    // The answer is read before the join starts, so no read of it queues behind the join's.
    let answer = own_submission(&state, &job, caller.name()).await?;
    if all_sealed {
        if std::env::var_os(ABORT_BEFORE_JOIN).is_some() {
            std::process::abort();
        }
        jobs::spawn_join(&state, spec);
    }
    Ok(Json(answer))
}

/// Test-only fault injection: the matcher dies the moment the last seal is committed,
/// before the join starts — the window in which a crash once left a job stuck — so a test
/// can show the restarted matcher completes it.
const ABORT_BEFORE_JOIN: &str = "BIDUI_TEST_ABORT_BEFORE_JOIN";

/// `GET /v2/jobs/{job}/results`: the requester gets the sealed values forwarded to it (the
/// delivery is audited, with counts, and the first one recorded on the job: from then on the
/// retention may strip them); the operator the match structure without them.
async fn results(
    State(state): State<AppState>,
    Path(job): Path<String>,
    verified: Verified,
) -> Result<Response, ApiFailure> {
    let caller = verified.caller();
    let loaded = jobs::load(&state, &job).await?;
    let spec = &loaded.spec;
    let requester = caller.role() == PrincipalRole::Agent && caller.name() == spec.requester.party;
    if !requester && caller.role() != PrincipalRole::Operator {
        return Err(ApiFailure::forbidden("only the operator and the job's requester may read results"));
    }
    if !requester {
        signing_operator(caller, &loaded)?;
    }
    let j = job.clone();
    let stored = state
        .store
        .call(move |c| store::stored_results(c, &j))
        .await?
        .ok_or_else(|| ApiFailure::conflict("not-ready", "results are ready once every party has sealed"))?;
    if requester {
        let details = serde_json::json!({
            "rows": stored.rows,
            "sealed_values": stored.sealed_values,
        });
        let (j, p, now) = (job.clone(), caller.name().to_owned(), state.now() as i64);
        state
            .store
            .transaction(move |tx| {
                // The first delivery lets the retention strip the forwarded sealed values.
                store::record_delivery(tx, &j, now)?;
                let event = AuditEvent::new(now, &p, audit::action::RESULTS_DELIVERED, Some(&j), details);
                store::append_audit(tx, &event).map(|_| ())
            })
            .await?;
        tracing::info!(job = %spec.id, party = %caller.name(), sealed_values = stored.sealed_values, "results delivered");
    }
    let body = results_document(&state, job, stored, !requester);
    Ok(([(axum::http::header::CONTENT_TYPE, "application/json")], body).into_response())
}

/// The results document, sent as its parts are read from the store one at a time, so a
/// province's results never sit in memory whole; `strip` removes the sealed values (the
/// operator's copy). A part that cannot be read ends the response unfinished, which no
/// client takes for a whole document.
fn results_document(state: &AppState, job: String, stored: store::StoredResults, strip: bool) -> axum::body::Body {
    let (sender, receiver) = tokio::sync::mpsc::channel(2);
    let store = state.store.clone();
    tokio::spawn(async move {
        let opening = crate::results::document_opening(&stored.head);
        if sender.send(Ok(Bytes::from(opening))).await.is_err() {
            return;
        }
        for number in 0..stored.parts {
            let j = job.clone();
            let piece = match store.call(move |c| store::result_part(c, &j, number)).await {
                Ok(Some(part)) if strip && part.sealed_values > 0 => {
                    tokio::task::spawn_blocking(move || crate::results::strip_part(&part.body))
                        .await
                        .map_err(std::io::Error::other)
                        .and_then(|stripped| stripped.map(|(body, _)| body).map_err(std::io::Error::other))
                }
                Ok(Some(part)) => Ok(part.body),
                Ok(None) => Err(std::io::Error::other("a part of the results is missing")),
                Err(error) => Err(std::io::Error::other(error.to_string())),
            };
            let piece = piece.map(|body| if number == 0 { body } else { format!(",{body}") });
            if let Err(error) = &piece {
                tracing::error!(%job, part = number, %error, "results could not be sent whole");
            }
            let failed = piece.is_err();
            if sender.send(piece.map(Bytes::from)).await.is_err() || failed {
                return;
            }
        }
        let _ = sender.send(Ok(Bytes::from_static(crate::results::DOCUMENT_END.as_bytes()))).await;
    });
    axum::body::Body::new(ChannelBody(receiver))
}

/// A response body fed by a channel.
struct ChannelBody(tokio::sync::mpsc::Receiver<Result<Bytes, std::io::Error>>);

impl http_body::Body for ChannelBody {
    type Data = Bytes;
    type Error = std::io::Error;

    fn poll_frame(
        mut self: std::pin::Pin<&mut Self>,
        cx: &mut std::task::Context<'_>,
    ) -> std::task::Poll<Option<Result<http_body::Frame<Bytes>, std::io::Error>>> {
        self.0.poll_recv(cx).map(|next| next.map(|piece| piece.map(http_body::Frame::data)))
    }
}
