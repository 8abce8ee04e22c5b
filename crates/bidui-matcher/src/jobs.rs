//! Job life cycle: collecting → (the last party seals: join, results) → complete.

use std::collections::BTreeMap;
use std::sync::atomic::Ordering;
use std::sync::Arc;

use bidui_core::api::{JobSpec, JobState, SealRequest, SignedJob};
use bidui_core::wire::{Chunk, Layout};

use crate::audit::{action, AuditEvent, ADMINISTRATOR};
use crate::error::ApiFailure;
use crate::matching::{decode_chunk_match, encode_chunk_match, DepartmentJoin, DepartmentMatch, RegistryIndex};
use crate::results::{self, DepartmentSeal, ResultInputs, ResultsBuilder, Tally};
use crate::store::{ResultPart, Store};
use crate::{store, AppState};

pub fn state_name(state: JobState) -> &'static str {
    match state {
        JobState::Collecting => "collecting",
        JobState::Complete => "complete",
    }
}

pub fn parse_state(text: &str) -> JobState {
    match text {
        "complete" => JobState::Complete,
        _ => JobState::Collecting,
    }
}

/// A job as loaded from the store.
pub struct LoadedJob {
    /// The operator's signed job, verbatim.
    pub signed: SignedJob,
    pub spec: JobSpec,
    pub state: JobState,
}

/// The answer to any request about a job created under protocol v1.
pub fn protocol_v1(what: &str) -> ApiFailure {
    ApiFailure::new(
        axum::http::StatusCode::GONE,
        "protocol-v1",
        format!(
            "{what} belongs to protocol v1; this matcher speaks protocol v2 only (jobs under /v2/jobs, signed by \
             the operator): upgrade the agent or command line and create the job again"
        ),
    )
}

pub async fn load(state: &AppState, job: &str) -> Result<LoadedJob, ApiFailure> {
    let id = job.to_owned();
    let row =
        state.store.call(move |c| store::job(c, &id)).await?.ok_or_else(|| ApiFailure::not_found("no such job"))?;
    let signed = row.signed.ok_or_else(|| protocol_v1("this job"))?;
    // Verified when it was created: parsing is enough here.
    let spec = signed.parse().map_err(|e| ApiFailure::internal("stored job spec", e))?;
    Ok(LoadedJob { signed, spec, state: parse_state(&row.state) })
}

/// Streams every stored chunk of `party` through `visit`, one chunk in memory at a time,
/// on the calling (blocking) thread: its tokens decoded, or what the join found in it.
fn for_each_chunk(
    store: &store::Store,
    job: &str,
    party: &str,
    layout: &Layout,
    mut visit: impl FnMut(Stored<'_>) -> Result<(), ApiFailure>,
) -> Result<(), ApiFailure> {
    let mut after_row = 0;
    store.read_chunk_bodies(job, party, |stored| match stored {
        store::StoredChunk::Tokens(body) => {
            let chunk = Chunk::decode(body, layout, after_row).map_err(|e| ApiFailure::internal("stored chunk", e))?;
            after_row = chunk.last_row();
            visit(Stored::Tokens(&chunk))
        }
        store::StoredChunk::Joined { found, records } => visit(Stored::Joined { found, records }),
    })
}

enum Stored<'a> {
    Tokens(&'a Chunk<'a>),
    Joined { found: &'a [u8], records: u32 },
}

/// The requester's index of its `records` sealed records, built from its stored chunks on
/// the calling (blocking) thread.
fn build_index(store: &store::Store, spec: &JobSpec, records: u64) -> Result<RegistryIndex, ApiFailure> {
    let requester = &spec.requester.party;
    let layout = spec.layout(requester).expect("the requester is a party");
    let mut index = RegistryIndex::with_capacity(layout.groups.len(), records as usize);
    for_each_chunk(store, &spec.id, requester, &layout, |stored| match stored {
        Stored::Tokens(chunk) => {
            index.add_chunk(chunk, &layout);
            Ok(())
        }
        Stored::Joined { .. } => Err(ApiFailure::internal("registry index", "a requester chunk stored joined")),
    })?;
    Ok(index)
}

/// Starts building the index of a job whose requester has sealed `registry_records`
/// records, on a blocking thread, unless it is held or being built already or does not fit
/// the budget ([`crate::indexes`]). Department chunks arriving once it is ready are joined
/// on arrival; until then they are stored and joined at the end.
pub fn prepare_index(state: &AppState, spec: &JobSpec, registry_records: u64) {
    let cost = registry_records * spec.departments.len() as u64;
    if spec.departments.is_empty() || !state.indexes.claim(&spec.id, cost) {
        return;
    }
    let (store, indexes, spec) = (state.store.clone(), Arc::clone(&state.indexes), spec.clone());
    tokio::task::spawn_blocking(move || {
        // Whatever ends the build (a failure, a panic) without an index gives up the claim,
        // so a join waiting for it builds its own instead of waiting for ever.
        let claim = Claimed { indexes: &indexes, job: &spec.id };
        match build_index(&store, &spec, registry_records) {
            Ok(index) => {
                tracing::info!(job = %spec.id, rows = index.all_rows.len(), "registry indexed: department chunks join on arrival");
                indexes.fill(&spec.id, index);
                std::mem::forget(claim);
            }
            Err(e) => {
                tracing::warn!(job = %spec.id, failure = ?e, "registry index not built: department chunks join at the end")
            }
        }
    });
}

/// A claimed index build, given up when dropped before its index is filled.
struct Claimed<'a> {
    indexes: &'a crate::indexes::RegistryIndexes,
    job: &'a str,
}

impl Drop for Claimed<'_> {
    fn drop(&mut self) {
        self.indexes.forget(self.job);
    }
}

/// Joins one department chunk on arrival, on a blocking thread: what is stored in place of
/// its tokens ([`crate::matching::encode_chunk_match`]).
pub fn join_on_arrival(index: &RegistryIndex, spec: &JobSpec, party: &str, chunk: &Chunk<'_>) -> Vec<u8> {
    let group = spec.departments.iter().position(|d| d.party == party).expect("a department of the job");
    let attributes = bidui_core::api::Attribute::expand(&spec.departments[group].compare);
    let found = DepartmentJoin::new(index, group, attributes.clone()).join_chunk(chunk);
    encode_chunk_match(&found, &attributes)
}

pub struct JoinOutcome {
    pub index: Arc<RegistryIndex>,
    pub departments: BTreeMap<String, DepartmentMatch>,
}

/// Joins every department's tokens with its group of the requester's. The requester's
/// index is the one held since its seal, or built now; then the departments are joined at
/// once, each on a blocking thread reading from its own database connection: chunks joined
/// on arrival are read back, the others joined now. The join runs after every party has
/// sealed, when nothing else keeps the cores busy, and it decides how soon the requester
/// gets its results.
pub async fn join(state: &AppState, spec: &JobSpec) -> Result<JoinOutcome, ApiFailure> {
    // An index being built since the registry's seal is waited for: building another
    // beside it would take the same time and twice the memory.
    let index = match state.indexes.built(&spec.id).await {
        Some(index) => index,
        None => {
            let (id, party) = (spec.id.clone(), spec.requester.party.clone());
            let records =
                state.store.call(move |c| store::submission(c, &id, &party)).await?.unwrap_or_default().records;
            let (store, built) = (state.store.clone(), spec.clone());
            let index = tokio::task::spawn_blocking(move || build_index(&store, &built, records))
                .await
                .map_err(|e| ApiFailure::internal("registry index", e))??;
            Arc::new(index)
        }
    };
    let mut joins = tokio::task::JoinSet::new();
    for (group, department) in spec.departments.iter().enumerate() {
        let layout = spec.layout(&department.party).expect("a department is a party");
        let attributes = bidui_core::api::Attribute::expand(&department.compare);
        let (store, index) = (state.store.clone(), Arc::clone(&index));
        let (job, party) = (spec.id.clone(), department.party.clone());
        joins.spawn_blocking(move || {
            let mut join = DepartmentJoin::new(&index, group, attributes.clone());
            for_each_chunk(&store, &job, &party, &layout, |stored| {
                match stored {
                    Stored::Tokens(chunk) => join.add_chunk(chunk),
                    Stored::Joined { found, records } => {
                        let found = decode_chunk_match(found, &attributes)
                            .map_err(|e| ApiFailure::internal("stored chunk match", e))?;
                        join.result.absorb(found, u64::from(records));
                    }
                }
                Ok(())
            })?;
            Ok::<_, ApiFailure>((party, join.result))
        });
    }
    let mut departments = BTreeMap::new();
    while let Some(joined) = joins.join_next().await {
        let (party, result) = joined.map_err(|e| ApiFailure::internal("department join", e))??;
        departments.insert(party, result);
    }
    Ok(JoinOutcome { index, departments })
}

/// How long past its retention the sealed values forwarded in a job's results wait for a
/// requester that has not fetched them yet: its agent may be stopped or slow, and stripping
/// them first would leave it nothing to open. Once fetched they go at `purge_after`.
pub const UNDELIVERED_GRACE_SECONDS: i64 = 24 * 3600;

/// What the logs say when a join fails; stable, for whoever watches them.
const JOIN_FAILED: &str = "join failed: the job stays collecting and is retried within a minute";

/// Completes a job whose parties have all sealed, on a task of its own: the seal that
/// triggers it is answered at once, so no party's answer time depends on the registry or
/// on the other departments' data. A failure is logged and leaves the job collecting;
/// [`join_ready_jobs`] retries it.
pub fn spawn_join(state: &AppState, spec: JobSpec) {
    if no_automatic_join() {
        return;
    }
    let state = state.clone();
    tokio::spawn(async move {
        // Logged inside.
        let _ = finish(&state, &spec).await;
    });
}

/// Joins a job whose parties have all sealed and purges what is then due: the last seal's
/// task, and the operator's `POST /v2/jobs/{job}/join`. The same turn (`state.finishing`)
/// as every other join, so a request arriving while one runs waits for it and finds the
/// job complete: false, nothing joined twice. A failure is logged and leaves the job
/// collecting.
pub async fn finish(state: &AppState, spec: &JobSpec) -> Result<bool, ApiFailure> {
    let finished = async {
        let joined = build_results(state, spec).await?;
        purge_expired(state).await?;
        Ok(joined)
    };
    finished.await.inspect_err(|failure| tracing::error!(job = %spec.id, ?failure, "{JOIN_FAILED}"))
}

/// Test-only fault injection: the matcher starts no join of its own — not after the last
/// seal, not at start-up nor every minute — so a job every party has sealed stays
/// collecting until the operator asks for its join (`bidui job resume`), as one would
/// after a join that keeps failing.
const NO_AUTOMATIC_JOIN: &str = "BIDUI_TEST_NO_AUTOMATIC_JOIN";

fn no_automatic_join() -> bool {
    std::env::var_os(NO_AUTOMATIC_JOIN).is_some()
}

/// Joins every job whose parties have all sealed but which is still collecting — a join
/// that failed, or one the matcher was stopped before (it runs at start-up and every minute
/// while serving) — then purges what is due. A job that fails is logged and left for the
/// next call. Returns the jobs this call completed.
pub async fn join_ready_jobs(state: &AppState) -> Result<Vec<String>, ApiFailure> {
    let collecting = state_name(JobState::Collecting);
    let ready = if no_automatic_join() {
        Vec::new()
    } else {
        state.store.call(move |c| store::jobs_ready_to_join(c, collecting)).await?
    };
    let mut completed = Vec::new();
    for job in ready {
        let joined = async { build_results(state, &load(state, &job).await?.spec).await };
        match joined.await {
            Ok(true) => completed.push(job),
            Ok(false) => {}
            Err(failure) => tracing::error!(%job, ?failure, "{JOIN_FAILED}"),
        }
    }
    purge_expired(state).await?;
    Ok(completed)
}

/// Joins, builds and stores the results, completes the job and starts its retention, under
/// `state.finishing`; false if the job was no longer collecting (another turn finished it).
async fn build_results(state: &AppState, spec: &JobSpec) -> Result<bool, ApiFailure> {
    let _turn = state.finishing.lock().await;
    if load(state, &spec.id).await?.state != JobState::Collecting {
        return Ok(false);
    }
    let started = std::time::Instant::now();
    let outcome = join(state, spec).await?;
    for (party, result) in &outcome.departments {
        tracing::info!(job = %spec.id, party, records = result.records, found = result.coverage.len(), "joined");
    }
    let mut seals = BTreeMap::new();
    for department in &spec.departments {
        let (id, party) = (spec.id.clone(), department.party.clone());
        let row = state.store.call(move |c| store::submission(c, &id, &party)).await?.unwrap_or_default();
        let seal = DepartmentSeal {
            sealed_fields: serde_json::from_str(&row.sealed_fields).map_err(|e| ApiFailure::internal("seal", e))?,
            refused: serde_json::from_str(&row.refused).map_err(|e| ApiFailure::internal("seal", e))?,
        };
        seals.insert(department.party.clone(), seal);
    }
    let (id, party) = (spec.id.clone(), spec.requester.party.clone());
    let requester = state.store.call(move |c| store::submission(c, &id, &party)).await?.unwrap_or_default();
    let invalid_ids = serde_json::from_str(&requester.invalid_ids).unwrap_or_default();
    let inputs = ResultInputs {
        spec: spec.clone(),
        index: outcome.index,
        departments: outcome.departments,
        seals,
        registry_rows_read: requester.rows_read,
        invalid_ids,
    };
    let (head, tally) = store_results(&state.store, inputs).await?;
    let id = spec.id.clone();
    let retention = i64::from(spec.retention_hours.unwrap_or(bidui_core::api::DEFAULT_RETENTION_HOURS)) * 3600;
    let purge_after = state.now() as i64 + retention;
    state
        .store
        .transaction(move |tx| {
            store::save_results_head(tx, &id, &head)?;
            store::set_purge_after(tx, &id, purge_after)?;
            store::set_job_state(tx, &id, state_name(JobState::Complete))
        })
        .await?;
    state.indexes.forget(&spec.id);
    state.completions.notify_waiters();
    tracing::info!(
        job = %spec.id,
        rows = tally.rows,
        seconds = started.elapsed().as_secs_f64(),
        "joined; results ready"
    );
    Ok(true)
}

/// Builds a job's results a part at a time on blocking threads, one per core, and stores
/// each part as it is done (so building and writing overlap, and the memory is a few
/// parts'); returns the head's JSON and the tally. What an earlier, unfinished build
/// stored is deleted first. The head, written last by the caller with the job's new
/// state, is what makes the parts readable: a crash before it leaves the job collecting
/// and its next join starts over.
pub async fn store_results(store: &Store, inputs: ResultInputs) -> Result<(String, Tally), ApiFailure> {
    let job = inputs.spec.id.clone();
    let j = job.clone();
    store.call(move |c| store::delete_result_parts(c, &j)).await?;
    let (sender, mut receiver) = tokio::sync::mpsc::channel::<(u32, ResultPart)>(2);
    let building = tokio::task::spawn_blocking(move || {
        let builder = ResultsBuilder::new(&inputs);
        let workers = std::thread::available_parallelism().map_or(2, usize::from);
        // A send fails only when the writer below has given up on a failed write.
        let tally = builder.build_parts(workers, |number, part| sender.blocking_send((number, part))).ok()?;
        Some((results::head_json(&builder.head(&tally)), tally))
    });
    while let Some((number, part)) = receiver.recv().await {
        let j = job.clone();
        store.call(move |c| store::save_result_part(c, &j, number, &part)).await?;
    }
    building
        .await
        .map_err(|e| ApiFailure::internal("results", e))?
        .ok_or_else(|| ApiFailure::internal("results", "the results' writer stopped"))
}

/// Deletes what a job's retention covers once it has ended: its chunks (tokens, and the
/// sealed values as uploaded) at `purge_after`; the sealed values forwarded in its results
/// at `purge_after` too if the requester has fetched them, else [`UNDELIVERED_GRACE_SECONDS`]
/// later. The match structure of the results and the audit log are kept. Runs after a join
/// and every minute while serving.
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
                let event = AuditEvent::new(now, ADMINISTRATOR, action::TOKENS_PURGED, Some(&id), details);
                store::append_audit(tx, &event)?;
                Ok(chunks)
            })
            .await?;
        tracing::info!(job = %job, chunks, "retention ended: tokens purged");
        state.scrub_pending.store(true, Ordering::SeqCst);
    }
    let due = state.store.call(move |c| store::jobs_to_strip(c, now, UNDELIVERED_GRACE_SECONDS)).await?;
    for job in due {
        let id = job.clone();
        let (sealed_values, delivered) = state
            .store
            .transaction(move |tx| {
                let delivered = store::job(tx, &id)?.is_some_and(|j| j.results_delivered_at.is_some());
                let mut sealed_values = 0;
                let parts = store::stored_results(tx, &id)?.map_or(0, |stored| stored.parts);
                for number in 0..parts {
                    let Some(part) = store::result_part(tx, &id, number)?.filter(|p| p.sealed_values > 0) else {
                        continue;
                    };
                    let broken = |e: serde_json::Error| rusqlite::Error::ToSqlConversionFailure(e.into());
                    let (body, removed) = results::strip_part(&part.body).map_err(broken)?;
                    store::save_result_part(tx, &id, number, &ResultPart { sealed_values: 0, body, ..part })?;
                    sealed_values += removed;
                }
                store::mark_sealed_values_purged(tx, &id, now)?;
                let details = serde_json::json!({ "sealed_values": sealed_values, "delivered": delivered });
                let event = AuditEvent::new(now, ADMINISTRATOR, action::SEALED_VALUES_PURGED, Some(&id), details);
                store::append_audit(tx, &event)?;
                Ok((sealed_values, delivered))
            })
            .await?;
        tracing::info!(job = %job, sealed_values, delivered, "retention ended: forwarded sealed values purged");
        state.scrub_pending.store(true, Ordering::SeqCst);
    }
    if state.scrub_pending.load(Ordering::SeqCst) {
        let scrubbed = state.store.call(|c| store::scrub_deleted(c)).await?;
        state.scrub_pending.store(!scrubbed, Ordering::SeqCst);
        if !scrubbed {
            tracing::warn!("a reader kept the WAL busy: purged bytes are scrubbed at the next check");
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

/// Checks a seal request's own figures against the job: its epoch, its records against its
/// rows read and the party's cap, its sealed and refused fields, its invalid-id codes.
pub fn check_seal(seal: &SealRequest, spec: &JobSpec, party: &str) -> Result<(), ApiFailure> {
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
    let cap = spec.max_records(party).unwrap_or(0);
    if seal.records > cap {
        return Err(over_cap(seal.records, cap));
    }
    check_sealed_fields(seal, spec, party)?;
    if seal.invalid_ids.keys().any(|code| bidui_core::IdError::from_code(code).is_none()) {
        return Err(ApiFailure::unprocessable("bad-seal", "invalid_ids holds an unknown error code"));
    }
    Ok(())
}

/// Checks a seal request against the chunks the matcher stored: a lost or extra chunk, or
/// other bytes than the party sent, is caught.
pub fn check_seal_against_chunks(seal: &SealRequest, metas: &[store::ChunkMeta]) -> Result<(), ApiFailure> {
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
    Ok(())
}

/// `422 over-cap`: the job's cap on the party's records would be passed.
pub fn over_cap(records: u64, cap: u64) -> ApiFailure {
    ApiFailure::unprocessable(
        "over-cap",
        format!("{records} records are more than the {cap} the signed job allows this party: nothing was stored"),
    )
}

/// The sealed fields are the job's fields for the party, a selection in job order without
/// repeats (the requester seals none); a refused field is a job field not sealed, once.
/// The requester opens values by these names, so a list it cannot trust is refused here.
fn check_sealed_fields(seal: &SealRequest, spec: &JobSpec, party: &str) -> Result<(), ApiFailure> {
    let bad = |why: String| Err(ApiFailure::unprocessable("bad-sealed-fields", why));
    let asked: &[String] = spec.department(party).map_or(&[], |d| &d.fields);
    let mut next = 0;
    for field in &seal.sealed_fields {
        match asked[next..].iter().position(|f| f == field) {
            Some(at) => next += at + 1,
            None if asked.contains(field) => {
                return bad(format!("sealed field {field:?} is out of the job's order or named twice"))
            }
            None => return bad(format!("field {field:?} is not one the job asks this party to seal")),
        }
    }
    let mut refused = std::collections::BTreeSet::new();
    for field in seal.refused.iter().map(|r| &r.field) {
        if !asked.contains(field) {
            return bad(format!("refused field {field:?} is not one the job asks this party to seal"));
        }
        if seal.sealed_fields.contains(field) || !refused.insert(field) {
            return bad(format!("field {field:?} is named twice (sealed or refused once only)"));
        }
    }
    Ok(())
}
