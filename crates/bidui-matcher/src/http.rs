//! The HTTP API (`protocol-docs/wire-v1.md`): routes and handlers.

use axum::extract::{DefaultBodyLimit, Path, Query, State};
use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use axum::routing::{get, post, put};
use axum::{Json, Router};
use bidui_core::api::{
    Assignment, ChunkInfo, JobSpec, JobState, JobStatus, ParticipantStatus, PartyRole, ReleaseRequest, ReleaseUpload,
    SealRequest, SubmissionStatus,
};
use bidui_core::custody::PrincipalRole;
use bidui_core::wire::Chunk;
use serde::de::DeserializeOwned;
use serde::Deserialize;

use crate::audit::{self, AuditEvent};
use crate::auth::{self, Caller, Verified};
use crate::error::ApiFailure;
use crate::jobs::{self, LoadedJob};
use crate::{store, AppState};

/// Largest request body: a full chunk of 65,536 records with 5 attributes is 7.6 MB.
pub const MAX_BODY_BYTES: usize = 8 * 1024 * 1024;

pub fn app(state: AppState) -> Router {
    Router::new()
        .route("/v1/health", get(|| async { "ok" }))
        .route("/v1/jobs", post(create_job))
        .route("/v1/jobs/{job}", get(job_status))
        .route("/v1/jobs/{job}/assignment", get(assignment))
        .route("/v1/jobs/{job}/submission", get(submission_status))
        .route("/v1/jobs/{job}/submission/chunks/{seq}", put(put_chunk))
        .route("/v1/jobs/{job}/submission/seal", post(seal))
        .route("/v1/jobs/{job}/release", get(release_request).post(release))
        .route("/v1/jobs/{job}/results", get(results))
        .route("/v1/principals", post(crate::custody::principal_statement))
        .route("/v1/epochs", get(crate::custody::deliver_epochs).post(crate::custody::upload_epochs))
        .route("/v1/epochs/status", get(crate::custody::status))
        .route("/v1/epochs/{kcv}/ack", post(crate::custody::acknowledge))
        .layer(DefaultBodyLimit::max(MAX_BODY_BYTES))
        .with_state(state)
}

pub(crate) fn json_body<T: DeserializeOwned>(body: &[u8]) -> Result<T, ApiFailure> {
    serde_json::from_slice(body)
        .map_err(|e| ApiFailure::bad_request("malformed", format!("the request body is not the expected JSON: {e}")))
}

/// The caller's role in the job; refuses agents that are not parties to it.
fn participant(caller: &Caller, spec: &JobSpec) -> Result<PartyRole, ApiFailure> {
    caller.require_role(PrincipalRole::Agent, "a participating agent")?;
    if caller.name() == spec.requester.party {
        Ok(PartyRole::Requester)
    } else if spec.department(caller.name()).is_some() {
        Ok(PartyRole::Department)
    } else {
        Err(ApiFailure::forbidden("this agent does not take part in the job"))
    }
}

async fn create_job(State(state): State<AppState>, verified: Verified) -> Result<Response, ApiFailure> {
    let (caller, body) = verified.into_parts();
    let operator = caller.operator()?;
    let spec: JobSpec = json_body(&body)?;
    spec.validate().map_err(|e| ApiFailure::unprocessable("invalid-spec", e.to_string()))?;
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
    let text = serde_json::to_string(&spec).map_err(|e| ApiFailure::internal("spec", e))?;
    let parties: Vec<String> = spec.parties().map(str::to_owned).collect();
    let (id, now, by) = (spec.id.clone(), state.now() as i64, operator.name().to_owned());
    let details = serde_json::to_value(&spec).map_err(|e| ApiFailure::internal("spec", e))?;
    let created = state
        .store
        .transaction(move |tx| {
            if let Some(existing) = store::job(tx, &id)? {
                return Ok(Some(existing.spec));
            }
            store::insert_job(tx, &id, &text, jobs::state_name(JobState::Collecting), &by, &parties, now)?;
            store::append_audit(tx, &AuditEvent::new(now, &by, audit::action::JOB_CREATED, Some(&id), details))?;
            Ok(None)
        })
        .await?;
    match created {
        None => {
            tracing::info!(job = %spec.id, purpose = %spec.purpose, approval = %spec.approval, "job created");
            Ok((StatusCode::CREATED, Json(spec)).into_response())
        }
        Some(existing) if serde_json::from_str::<JobSpec>(&existing).ok().as_ref() == Some(&spec) => {
            Ok((StatusCode::OK, Json(spec)).into_response())
        }
        Some(_) => {
            Err(ApiFailure::conflict("job-exists", "a different job with this id exists; job ids are never reused"))
        }
    }
}

async fn job_status(
    State(state): State<AppState>,
    Path(job): Path<String>,
    verified: Verified,
) -> Result<Json<JobStatus>, ApiFailure> {
    let caller = verified.caller();
    let LoadedJob { spec, state: job_state } = jobs::load(&state, &job).await?;
    if caller.role() != PrincipalRole::Operator {
        participant(caller, &spec)?;
    }
    let mut participants = Vec::new();
    // An agent sees its own progress only; the operator sees everyone's.
    let visible: Vec<&str> =
        spec.parties().filter(|p| caller.role() == PrincipalRole::Operator || *p == caller.name()).collect();
    for party in visible {
        let (j, p) = (job.clone(), party.to_owned());
        let (submission, released) = state
            .store
            .call(move |c| {
                Ok((store::submission(c, &j, &p)?.unwrap_or_default(), store::release(c, &j, &p)?.is_some()))
            })
            .await?;
        participants.push(ParticipantStatus {
            party: party.to_owned(),
            role: if party == spec.requester.party { PartyRole::Requester } else { PartyRole::Department },
            chunks: submission.chunks,
            records: submission.records,
            sealed: submission.sealed,
            released,
            rows_read: submission.rows_read,
            invalid_ids: serde_json::from_str(&submission.invalid_ids).unwrap_or_default(),
        });
    }
    Ok(Json(JobStatus { id: spec.id, purpose: spec.purpose, approval: spec.approval, state: job_state, participants }))
}

async fn assignment(
    State(state): State<AppState>,
    Path(job): Path<String>,
    verified: Verified,
) -> Result<Json<Assignment>, ApiFailure> {
    let caller = verified.caller();
    let LoadedJob { spec, state: job_state } = jobs::load(&state, &job).await?;
    let role = participant(caller, &spec)?;
    Ok(Json(Assignment {
        job: spec.id.clone(),
        purpose: spec.purpose.clone(),
        approval: spec.approval.clone(),
        role,
        suite: spec.suite,
        epoch: spec.epoch.clone(),
        attributes: spec.wire_attributes(caller.name()).unwrap_or_default(),
        fields: spec.requested_fields(caller.name()).unwrap_or_default().to_vec(),
        state: job_state,
    }))
}

async fn submission_status(
    State(state): State<AppState>,
    Path(job): Path<String>,
    verified: Verified,
) -> Result<Json<SubmissionStatus>, ApiFailure> {
    let caller = verified.caller();
    let LoadedJob { spec, .. } = jobs::load(&state, &job).await?;
    participant(caller, &spec)?;
    let (j, p) = (job.clone(), caller.name().to_owned());
    let (metas, submission) = state
        .store
        .call(move |c| Ok((store::chunk_metas(c, &j, &p)?, store::submission(c, &j, &p)?.unwrap_or_default())))
        .await?;
    let chunks = metas
        .into_iter()
        .map(|m| ChunkInfo { seq: m.seq, sha256: hex::encode(&m.sha256), records: m.records, last_row: m.last_row })
        .collect();
    Ok(Json(SubmissionStatus { chunks, sealed: submission.sealed }))
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
    let (caller, body) = verified.into_parts();
    let LoadedJob { spec, state: job_state } = jobs::load(&state, &job).await?;
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
    let digest = auth::sha256(&body);
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
    let attributes = spec.wire_attributes(caller.name()).unwrap_or_default().len();
    let after_row = previous.map_or(0, |m| m.last_row);
    let chunk = Chunk::decode(&body, attributes, after_row)
        .map_err(|e| ApiFailure::bad_request("malformed-chunk", e.to_string()))?;
    let meta =
        store::ChunkMeta { seq, sha256: digest.to_vec(), records: chunk.len() as u32, last_row: chunk.last_row() };
    let (j, p) = (job.clone(), caller.name().to_owned());
    let inserted = state
        .store
        .transaction(move |tx| {
            // Re-checked inside the transaction: a concurrent upload of the same chunk loses.
            let current = store::submission(tx, &j, &p)?.unwrap_or_default();
            if current.chunks != seq || current.sealed {
                return Ok(false);
            }
            store::insert_chunk(tx, &j, &p, &meta, &body)?;
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

async fn seal(
    State(state): State<AppState>,
    Path(job): Path<String>,
    verified: Verified,
) -> Result<Response, ApiFailure> {
    let (caller, body) = verified.into_parts();
    let LoadedJob { spec, state: job_state } = jobs::load(&state, &job).await?;
    participant(&caller, &spec)?;
    let request: SealRequest = json_body(&body)?;
    let (j, p) = (job.clone(), caller.name().to_owned());
    let (metas, submission) = state
        .store
        .call(move |c| Ok((store::chunk_metas(c, &j, &p)?, store::submission(c, &j, &p)?.unwrap_or_default())))
        .await?;
    jobs::check_seal(&request, &spec, &metas)?;
    if submission.sealed {
        // A join that failed after the last seal is retried by any repeated seal.
        let j = job.clone();
        if job_state == JobState::Collecting && state.store.call(move |c| store::all_sealed(c, &j)).await? {
            jobs::after_all_sealed(&state, &spec).await?;
        }
        return Ok((StatusCode::OK, "already sealed").into_response());
    }
    if job_state != JobState::Collecting {
        return Err(ApiFailure::conflict("not-collecting", "the job no longer accepts submissions"));
    }
    let invalid = serde_json::to_string(&request.invalid_ids).map_err(|e| ApiFailure::internal("seal", e))?;
    let (j, p, now) = (job.clone(), caller.name().to_owned(), state.now() as i64);
    let epoch = request.epoch.clone();
    // Counts and digests only: the audit log never holds a token.
    let details = serde_json::json!({
        "epoch": request.epoch,
        "chunks": metas.len(),
        "records": request.records,
        "rows_read": request.rows_read,
        "invalid_ids": request.invalid_ids,
        "digest": request.digest,
    });
    let all_sealed = state
        .store
        .transaction(move |tx| {
            // Re-checked inside the transaction: of two concurrent seals one is recorded.
            if store::submission(tx, &j, &p)?.unwrap_or_default().sealed {
                return store::all_sealed(tx, &j);
            }
            store::seal_submission(tx, &j, &p, &epoch, request.rows_read, &invalid, now)?;
            store::append_audit(tx, &AuditEvent::new(now, &p, audit::action::SEALED, Some(&j), details))?;
            store::all_sealed(tx, &j)
        })
        .await?;
    tracing::info!(job = %spec.id, party = %caller.name(), chunks = metas.len(), "submission sealed");
    if all_sealed {
        // The join runs before answering, so the last party to seal learns the release
        // round is open; a failure leaves the job collecting and the next seal retries.
        jobs::after_all_sealed(&state, &spec).await?;
    }
    Ok((StatusCode::OK, "sealed").into_response())
}

async fn release_request(
    State(state): State<AppState>,
    Path(job): Path<String>,
    verified: Verified,
) -> Result<Json<ReleaseRequest>, ApiFailure> {
    let caller = verified.caller();
    let LoadedJob { spec, state: job_state } = jobs::load(&state, &job).await?;
    participant(caller, &spec)?;
    if job_state == JobState::Collecting {
        return Err(ApiFailure::conflict(
            "not-ready",
            "the release round opens once every party has sealed its tokens",
        ));
    }
    let (j, p) = (job.clone(), caller.name().to_owned());
    let bytes = state.store.call(move |c| store::matched_rows(c, &j, &p)).await?.unwrap_or_default();
    let fields = spec.requested_fields(caller.name()).unwrap_or_default().to_vec();
    // A party asked for no fields is not told which of its rows matched: it would learn
    // who is on the registry for nothing.
    let rows = if bytes.is_empty() || fields.is_empty() {
        Vec::new()
    } else {
        jobs::bitmap_from_bytes(&bytes)?.iter().collect()
    };
    Ok(Json(ReleaseRequest { fields, rows }))
}

async fn release(
    State(state): State<AppState>,
    Path(job): Path<String>,
    verified: Verified,
) -> Result<Response, ApiFailure> {
    let (caller, body) = verified.into_parts();
    let LoadedJob { spec, state: job_state } = jobs::load(&state, &job).await?;
    participant(&caller, &spec)?;
    let upload: ReleaseUpload = json_body(&body)?;
    let (j, p) = (job.clone(), caller.name().to_owned());
    let (matched, previous) =
        state.store.call(move |c| Ok((store::matched_rows(c, &j, &p)?, store::release(c, &j, &p)?))).await?;
    if let Some(previous) = previous {
        return repeated_release(&state, &spec, job_state, &previous, &upload).await;
    }
    if job_state != JobState::Releasing {
        return Err(ApiFailure::conflict("not-releasing", "the job is not in its release round"));
    }
    let requested = spec.requested_fields(caller.name()).unwrap_or_default();
    let mut named = std::collections::BTreeSet::new();
    for field in upload.fields.iter().chain(upload.refused.iter().map(|r| &r.field)) {
        if !requested.contains(field) {
            return Err(ApiFailure::unprocessable(
                "field-not-requested",
                format!("field {field:?} is not requested from this party by the job"),
            ));
        }
        if !named.insert(field) {
            return Err(ApiFailure::unprocessable(
                "duplicate-field",
                format!("field {field:?} is named twice (released or refused once only)"),
            ));
        }
    }
    let matched = jobs::bitmap_from_bytes(&matched.unwrap_or_default())?;
    let mut seen = roaring::RoaringBitmap::new();
    for record in &upload.records {
        if !matched.contains(record.row) {
            return Err(ApiFailure::unprocessable(
                "row-not-matched",
                format!("row {} did not match: no value may be released for it", record.row),
            ));
        }
        if !seen.insert(record.row) {
            return Err(ApiFailure::unprocessable("duplicate-row", format!("row {} appears twice", record.row)));
        }
        if record.values.len() != upload.fields.len() {
            return Err(ApiFailure::unprocessable(
                "value-count",
                format!("row {} has {} values for {} fields", record.row, record.values.len(), upload.fields.len()),
            ));
        }
    }
    let text =
        String::from_utf8(body.to_vec()).map_err(|_| ApiFailure::bad_request("malformed", "the body is not UTF-8"))?;
    let fields = serde_json::to_string(&upload.fields).map_err(|e| ApiFailure::internal("release", e))?;
    let refused = serde_json::to_string(&upload.refused).map_err(|e| ApiFailure::internal("release", e))?;
    let records = upload.records.len() as u64;
    let (j, p, now) = (job.clone(), caller.name().to_owned(), state.now() as i64);
    let (purpose, approval) = (spec.purpose.clone(), spec.approval.clone());
    let party_count = spec.parties().count() as u64;
    // Names and counts only: the released values themselves are not repeated here.
    let details = serde_json::json!({
        "purpose": spec.purpose,
        "approval": spec.approval,
        "fields": upload.fields,
        "refused": upload.refused,
        "records": records,
    });
    let outcome = state
        .store
        .transaction(move |tx| {
            // Re-checked inside the transaction: of two concurrent releases one stores.
            if let Some(previous) = store::release(tx, &j, &p)? {
                return Ok(Err(previous));
            }
            let entry = store::ReleaseLogEntry {
                job: &j,
                party: &p,
                purpose: &purpose,
                approval: &approval,
                fields: &fields,
                refused: &refused,
                records,
            };
            store::insert_release(tx, &entry, &text, now)?;
            store::append_audit(tx, &AuditEvent::new(now, &p, audit::action::RELEASED, Some(&j), details))?;
            Ok(Ok(store::releases(tx, &j)?.len() as u64 == party_count))
        })
        .await?;
    let all_released = match outcome {
        Ok(all_released) => all_released,
        Err(previous) => return repeated_release(&state, &spec, job_state, &previous, &upload).await,
    };
    tracing::info!(job = %spec.id, party = %caller.name(), fields = ?upload.fields, records, "fields released");
    if all_released {
        jobs::after_all_released(&state, &spec).await?;
    }
    Ok((StatusCode::OK, "released").into_response())
}

/// A release sent again: the same one is acknowledged (and finishes a job whose results
/// failed to build), a different one refused.
async fn repeated_release(
    state: &AppState,
    spec: &JobSpec,
    job_state: JobState,
    previous: &str,
    upload: &ReleaseUpload,
) -> Result<Response, ApiFailure> {
    if serde_json::from_str::<ReleaseUpload>(previous).ok().as_ref() != Some(upload) {
        return Err(ApiFailure::conflict("already-released", "this party already released its fields for the job"));
    }
    let (j, party_count) = (spec.id.clone(), spec.parties().count());
    if job_state == JobState::Releasing
        && state.store.call(move |c| Ok(store::releases(c, &j)?.len() == party_count)).await?
    {
        jobs::after_all_released(state, spec).await?;
    }
    Ok((StatusCode::OK, "already released").into_response())
}

async fn results(
    State(state): State<AppState>,
    Path(job): Path<String>,
    verified: Verified,
) -> Result<Response, ApiFailure> {
    let caller = verified.caller();
    let LoadedJob { spec, .. } = jobs::load(&state, &job).await?;
    let allowed = caller.role() == PrincipalRole::Operator || caller.name() == spec.requester.party;
    if !allowed {
        return Err(ApiFailure::forbidden("only the operator and the requester may read results"));
    }
    let j = job.clone();
    let body = state
        .store
        .call(move |c| store::results(c, &j))
        .await?
        .ok_or_else(|| ApiFailure::conflict("not-ready", "results are ready once every party has released"))?;
    Ok(([(axum::http::header::CONTENT_TYPE, "application/json")], body).into_response())
}
