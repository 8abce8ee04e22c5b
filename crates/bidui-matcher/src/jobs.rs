//! Job life cycle: collecting → (all sealed: join) → releasing → (all released) → complete.

use std::collections::{BTreeMap, HashMap};
use std::sync::atomic::Ordering;

use bidui_core::api::{JobResults, JobSpec, JobState, ReleaseUpload, SealRequest};
use bidui_core::wire::Chunk;
use roaring::RoaringBitmap;

use crate::error::ApiFailure;
use crate::matching::{DepartmentJoin, DepartmentMatch, RegistryIndex};
use crate::results::{self, ResultInputs};
use crate::{store, AppState};

pub fn state_name(state: JobState) -> &'static str {
    match state {
        JobState::Collecting => "collecting",
        JobState::Releasing => "releasing",
        JobState::Complete => "complete",
    }
}

pub fn parse_state(text: &str) -> JobState {
    match text {
        "releasing" => JobState::Releasing,
        "complete" => JobState::Complete,
        _ => JobState::Collecting,
    }
}

/// A job as loaded from the store.
pub struct LoadedJob {
    pub spec: JobSpec,
    pub state: JobState,
}

pub async fn load(state: &AppState, job: &str) -> Result<LoadedJob, ApiFailure> {
    let id = job.to_owned();
    let row =
        state.store.call(move |c| store::job(c, &id)).await?.ok_or_else(|| ApiFailure::not_found("no such job"))?;
    let spec: JobSpec = serde_json::from_str(&row.spec).map_err(|e| ApiFailure::internal("stored job spec", e))?;
    Ok(LoadedJob { spec, state: parse_state(&row.state) })
}

/// Streams every stored chunk of `party` through `visit`, one chunk in memory at a time.
async fn for_each_chunk(
    state: &AppState,
    job: &str,
    party: &str,
    attributes: usize,
    mut visit: impl FnMut(&Chunk<'_>),
) -> Result<(), ApiFailure> {
    let (j, p) = (job.to_owned(), party.to_owned());
    let metas = state.store.call(move |c| store::chunk_metas(c, &j, &p)).await?;
    let mut after_row = 0;
    for meta in metas {
        let (j, p) = (job.to_owned(), party.to_owned());
        let body = state
            .store
            .call(move |c| store::chunk_body(c, &j, &p, meta.seq))
            .await?
            .ok_or_else(|| ApiFailure::internal("chunk vanished", meta.seq))?;
        let chunk = Chunk::decode(&body, attributes, after_row).map_err(|e| ApiFailure::internal("stored chunk", e))?;
        after_row = chunk.last_row();
        visit(&chunk);
    }
    Ok(())
}

pub struct JoinOutcome {
    pub index: RegistryIndex,
    pub departments: BTreeMap<String, DepartmentMatch>,
}

/// Joins every department's tokens with the requester's.
pub async fn join(state: &AppState, spec: &JobSpec) -> Result<JoinOutcome, ApiFailure> {
    let requester = &spec.requester.party;
    let requester_attributes = spec.wire_attributes(requester).expect("the requester is a party");
    let mut index = RegistryIndex::new(requester_attributes.clone());
    for_each_chunk(state, &spec.id, requester, requester_attributes.len(), |chunk| index.add_chunk(chunk)).await?;
    let mut departments = BTreeMap::new();
    for department in &spec.departments {
        let attributes = spec.wire_attributes(&department.party).expect("a department is a party");
        let mut join = DepartmentJoin::new(&index, &attributes);
        for_each_chunk(state, &spec.id, &department.party, attributes.len(), |chunk| join.add_chunk(chunk)).await?;
        departments.insert(department.party.clone(), join.result);
    }
    Ok(JoinOutcome { index, departments })
}

fn bitmap_bytes(bitmap: &RoaringBitmap) -> Vec<u8> {
    let mut bytes = Vec::with_capacity(bitmap.serialized_size());
    bitmap.serialize_into(&mut bytes).expect("writing to a Vec cannot fail");
    bytes
}

pub fn bitmap_from_bytes(bytes: &[u8]) -> Result<RoaringBitmap, ApiFailure> {
    RoaringBitmap::deserialize_from(bytes).map_err(|e| ApiFailure::internal("stored bitmap", e))
}

/// Once every party has sealed: join, record which rows each party must release for,
/// and open the release round.
pub async fn after_all_sealed(state: &AppState, spec: &JobSpec) -> Result<(), ApiFailure> {
    let _turn = state.finishing.lock().await;
    if load(state, &spec.id).await?.state != JobState::Collecting {
        return Ok(());
    }
    let started = std::time::Instant::now();
    let outcome = join(state, spec).await?;
    let mut matched: Vec<(String, Vec<u8>)> =
        vec![(spec.requester.party.clone(), bitmap_bytes(&outcome.index.all_rows))];
    for (party, result) in &outcome.departments {
        matched.push((party.clone(), bitmap_bytes(&result.matched_rows)));
        tracing::info!(job = %spec.id, party, records = result.records, found = result.coverage.len(), "joined");
    }
    let id = spec.id.clone();
    state
        .store
        .transaction(move |tx| {
            store::save_matches(tx, &id, &matched)?;
            store::set_job_state(tx, &id, state_name(JobState::Releasing))
        })
        .await?;
    tracing::info!(job = %spec.id, seconds = started.elapsed().as_secs_f64(), "release round opened");
    Ok(())
}

/// Once every party has released: build and store the results.
pub async fn after_all_released(state: &AppState, spec: &JobSpec) -> Result<(), ApiFailure> {
    build_results(state, spec).await?;
    purge_expired(state).await
}

async fn build_results(state: &AppState, spec: &JobSpec) -> Result<(), ApiFailure> {
    let _turn = state.finishing.lock().await;
    if load(state, &spec.id).await?.state != JobState::Releasing {
        return Ok(());
    }
    let outcome = join(state, spec).await?;
    let id = spec.id.clone();
    let stored = state.store.call(move |c| store::releases(c, &id)).await?;
    let mut releases = HashMap::new();
    for (party, body) in stored {
        let upload: ReleaseUpload =
            serde_json::from_str(&body).map_err(|e| ApiFailure::internal("stored release", e))?;
        releases.insert(party, upload);
    }
    let (id, party) = (spec.id.clone(), spec.requester.party.clone());
    let requester = state.store.call(move |c| store::submission(c, &id, &party)).await?.unwrap_or_default();
    let invalid_ids = serde_json::from_str(&requester.invalid_ids).unwrap_or_default();
    let results: JobResults = results::build(&ResultInputs {
        spec,
        index: &outcome.index,
        departments: &outcome.departments,
        releases: &releases,
        registry_rows_read: requester.rows_read,
        invalid_ids,
    });
    let body = serde_json::to_string(&results).map_err(|e| ApiFailure::internal("results", e))?;
    let id = spec.id.clone();
    let retention = i64::from(spec.retention_hours.unwrap_or(bidui_core::api::DEFAULT_RETENTION_HOURS)) * 3600;
    let purge_after = state.now() as i64 + retention;
    state
        .store
        .transaction(move |tx| {
            store::save_results(tx, &id, &body)?;
            store::set_purge_after(tx, &id, purge_after)?;
            store::set_job_state(tx, &id, state_name(JobState::Complete))
        })
        .await?;
    tracing::info!(job = %spec.id, rows = results.rows.len(), "results ready");
    Ok(())
}

/// Deletes the tokens of every job whose retention has ended; only results (and the
/// audit log) are kept. Runs when results are built and every minute while serving.
pub async fn purge_expired(state: &AppState) -> Result<(), ApiFailure> {
    let _turn = state.finishing.lock().await;
    let now = state.now() as i64;
    let due = state.store.call(move |c| store::jobs_to_purge(c, now)).await?;
    for job in due {
        let id = job.clone();
        let chunks = state
            .store
            .transaction(move |tx| {
                let chunks = store::purge_job_tokens(tx, &id, now)?;
                let details = serde_json::json!({ "chunks": chunks });
                store::append_audit(
                    tx,
                    &crate::audit::AuditEvent::new(
                        now,
                        crate::audit::ADMINISTRATOR,
                        crate::audit::action::TOKENS_PURGED,
                        Some(&id),
                        details,
                    ),
                )?;
                Ok(chunks)
            })
            .await?;
        tracing::info!(job = %job, chunks, "retention ended: tokens purged, results kept");
        state.scrub_pending.store(true, Ordering::SeqCst);
    }
    if state.scrub_pending.load(Ordering::SeqCst) {
        let scrubbed = state.store.call(|c| store::scrub_deleted(c)).await?;
        state.scrub_pending.store(!scrubbed, Ordering::SeqCst);
        if !scrubbed {
            tracing::warn!("a reader kept the WAL busy: purged token bytes are scrubbed at the next check");
        }
    }
    Ok(())
}

/// SHA-256 over the concatenated chunk digests, as the seal request carries it.
pub fn submission_digest(metas: &[store::ChunkMeta]) -> String {
    let mut ctx = ring::digest::Context::new(&ring::digest::SHA256);
    metas.iter().for_each(|m| ctx.update(&m.sha256));
    hex::encode(ctx.finish())
}

/// Checks a seal request against what the matcher stored.
pub fn check_seal(seal: &SealRequest, spec: &JobSpec, metas: &[store::ChunkMeta]) -> Result<(), ApiFailure> {
    if seal.epoch != spec.epoch {
        return Err(ApiFailure::conflict(
            "wrong-epoch",
            format!("tokens were made under epoch {} but job {} uses epoch {}", seal.epoch, spec.id, spec.epoch),
        ));
    }
    // Each source row gives at most one record, so more records than rows read means the
    // party tokenized people its source does not hold: probing the other parties' data.
    if seal.records > seal.rows_read {
        return Err(ApiFailure::unprocessable(
            "more-records-than-rows",
            format!(
                "the seal declares {} records from only {} rows read, but each source row gives at most one \
                 record: a party may submit only people its own source holds",
                seal.records, seal.rows_read
            ),
        ));
    }
    let records: u64 = metas.iter().map(|m| u64::from(m.records)).sum();
    if seal.chunks as usize != metas.len() || seal.records != records {
        return Err(ApiFailure::conflict(
            "incomplete",
            format!(
                "the matcher holds {} chunks with {records} records, the seal says {} chunks with {}: \
                 upload the missing chunks first",
                metas.len(),
                seal.chunks,
                seal.records
            ),
        ));
    }
    if seal.digest != submission_digest(metas) {
        return Err(ApiFailure::conflict("digest-mismatch", "the submission digest does not match the stored chunks"));
    }
    if seal.invalid_ids.keys().any(|code| bidui_core::IdError::from_code(code).is_none()) {
        return Err(ApiFailure::unprocessable("bad-seal", "invalid_ids holds an unknown error code"));
    }
    Ok(())
}
