//! Turns a finished join into per-row results: the match structure and, for the
//! requester, the sealed values of the linked department rows, forwarded unread.

use std::collections::{BTreeMap, HashMap};
use std::ops::Range;
use std::sync::Arc;

use bidui_core::api::{
    Attribute, DepartmentFinding, JobResults, JobSpec, RefusedField, ResultSummary, RowResult, SealedValues,
};
use bidui_core::fieldseal::SealKind;

use crate::matching::{DepartmentMatch, LinkKind, RegistryIndex};
use crate::store::ResultPart;

/// What a department declared when it sealed.
#[derive(Clone, Debug, Default)]
pub struct DepartmentSeal {
    pub sealed_fields: Vec<String>,
    pub refused: Vec<RefusedField>,
}

/// Everything the results need: the join and what the parties declared.
pub struct ResultInputs {
    pub spec: JobSpec,
    pub index: Arc<RegistryIndex>,
    pub departments: BTreeMap<String, DepartmentMatch>,
    /// Per department, its seal's sealed and refused fields.
    pub seals: BTreeMap<String, DepartmentSeal>,
    pub registry_rows_read: u64,
    pub invalid_ids: BTreeMap<String, u64>,
}

fn agreement(value: Option<Option<bool>>) -> &'static str {
    match value.flatten() {
        Some(true) => "agree",
        Some(false) => "differ",
        None => "missing",
    }
}

/// The name tier from the three name tokens: script kept → same; simplified → variant;
/// sound → homophone.
fn name_tier(attributes: &BTreeMap<Attribute, Option<bool>>) -> &'static str {
    let get = |a| attributes.get(&a).copied().flatten();
    match (get(Attribute::NameScript), get(Attribute::Name), get(Attribute::NameSound)) {
        (None, _, _) | (_, None, _) => "missing",
        (Some(true), _, _) => "same",
        (_, Some(true), _) => "variant",
        (_, _, Some(true)) => "homophone",
        _ => "different",
    }
}

/// Registry rows per stored part of the results: a part is built, stored and served as
/// one piece, so a part's rows bound the memory each of them takes (a few megabytes here),
/// while a province's millions of rows are still a few thousand parts.
pub const ROWS_PER_PART: usize = 4096;

/// The counts the results' summary takes from the rows, added up part by part.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct Tally {
    /// Rows found, per department in spec order.
    pub found: Vec<u64>,
    pub probable_matches: u64,
    pub rows: u64,
    pub sealed_values: u64,
}

impl Tally {
    pub fn add(&mut self, other: &Tally) {
        self.found.resize(self.found.len().max(other.found.len()), 0);
        self.found.iter_mut().zip(&other.found).for_each(|(total, n)| *total += n);
        self.probable_matches += other.probable_matches;
        self.rows += other.rows;
        self.sealed_values += other.sealed_values;
    }
}

/// A department's join, and its links as (row position, link index), by position and then
/// in the order linked.
type LinkedDepartment<'a> = (&'a DepartmentMatch, Vec<(u32, u32)>);

/// The results of a finished join, built a range of registry rows at a time
/// ([`ResultsBuilder::part`]) and then their head, which carries the summary
/// ([`ResultsBuilder::head`]).
pub struct ResultsBuilder<'a> {
    inputs: &'a ResultInputs,
    /// The registry's rows in row order (the index's rows are a sorted set): a row's
    /// position here is its place in the results.
    all_rows: Vec<u32>,
    /// Per row: worth a probable match (see [`ResultsBuilder::new`]).
    leads: Vec<bool>,
    found_nowhere: u64,
    /// Per department of the spec: its join, if any, and its links by row.
    departments: Vec<Option<LinkedDepartment<'a>>>,
    /// Registry rows holding the same identity number, and each such row's group.
    duplicate_groups: Vec<Vec<u32>>,
    duplicate_of: HashMap<u32, usize>,
    /// The spec's departments in the order a row's `departments` map writes them (by
    /// name), each with its JSON key.
    departments_by_name: Vec<(usize, String)>,
    rows_per_part: usize,
}

impl<'a> ResultsBuilder<'a> {
    pub fn new(inputs: &'a ResultInputs) -> ResultsBuilder<'a> {
        let index = &inputs.index;
        let all_rows: Vec<u32> = index.all_rows.iter().collect();
        let departments: Vec<Option<LinkedDepartment>> = std::thread::scope(|scope| {
            let all_rows = &all_rows;
            let workers: Vec<_> = inputs
                .spec
                .departments
                .iter()
                .map(|d| inputs.departments.get(&d.party))
                .map(|m| scope.spawn(move || m.map(|m| (m, links_by_position(m, all_rows)))))
                .collect();
            workers.into_iter().map(|w| w.join().unwrap_or_else(|panic| std::panic::resume_unwind(panic))).collect()
        });
        // A probable match by name, birth date and sex is only worth a visit where the
        // identity number failed: invalid, or valid but found in no department. Elsewhere
        // the same name and birthday is a namesake, not a lead.
        let mut found_somewhere = vec![false; all_rows.len()];
        for (matched, links) in departments.iter().flatten() {
            for &(position, link) in links {
                if matched.links[link as usize].kind == LinkKind::Identity {
                    found_somewhere[position as usize] = true;
                }
            }
        }
        let invalid = |row: u32| index.invalid_id_rows.contains(row);
        let leads: Vec<bool> =
            all_rows.iter().zip(&found_somewhere).map(|(&row, &found)| !found || invalid(row)).collect();
        let found_nowhere =
            all_rows.iter().zip(&found_somewhere).filter(|&(&row, &found)| !found && !invalid(row)).count() as u64;
        let duplicate_groups = index.duplicate_groups();
        let duplicate_of = duplicate_groups
            .iter()
            .enumerate()
            .flat_map(|(group, rows)| rows.iter().map(move |&row| (row, group)))
            .collect();
        let mut departments_by_name: Vec<(usize, String)> = (inputs.spec.departments.iter().enumerate())
            .map(|(i, d)| (i, serde_json::to_string(&d.party).expect("a string serializes")))
            .collect();
        departments_by_name.sort_by(|a, b| inputs.spec.departments[a.0].party.cmp(&inputs.spec.departments[b.0].party));
        ResultsBuilder {
            inputs,
            departments_by_name,
            all_rows,
            leads,
            found_nowhere,
            departments,
            duplicate_groups,
            duplicate_of,
            rows_per_part: ROWS_PER_PART,
        }
    }

    /// Parts of `rows` rows, where a test needs many parts of a few rows.
    #[cfg(test)]
    fn with_rows_per_part(self, rows: usize) -> ResultsBuilder<'a> {
        ResultsBuilder { rows_per_part: rows, ..self }
    }

    /// The parts' row ranges (positions among the registry's rows), in order.
    pub fn parts(&self) -> impl Iterator<Item = Range<usize>> + '_ {
        (0..self.all_rows.len())
            .step_by(self.rows_per_part)
            .map(|start| start..(start + self.rows_per_part).min(self.all_rows.len()))
    }

    /// The results' rows in `range` (positions among the registry's rows) and what they
    /// add to the summary.
    pub fn part(&self, range: Range<usize>) -> (Vec<RowResult>, Tally) {
        let spec = &self.inputs.spec;
        let columns = self.findings(range.clone());
        let tally = self.tally(&columns, range.len());
        // `fields` stay empty: the requester's own fields never leave the requester, which
        // fills them in from its registry.
        let mut columns: Vec<_> = columns.into_iter().map(Vec::into_iter).collect();
        let rows = self.all_rows[range]
            .iter()
            .map(|&row| RowResult {
                row,
                fields: BTreeMap::new(),
                id_valid: !self.inputs.index.invalid_id_rows.contains(row),
                duplicate_rows: self.duplicates_of(row).collect(),
                departments: spec
                    .departments
                    .iter()
                    .zip(&mut columns)
                    .map(|(d, column)| (d.party.clone(), column.next().expect("a finding per row").to_finding()))
                    .collect(),
                person: None,
            })
            .collect();
        (rows, tally)
    }

    /// The rows in `range` as a stored part: their JSON objects joined by commas, written
    /// straight from the findings, byte for byte what serializing [`ResultsBuilder::part`]'s
    /// rows gives (tested) without their maps and strings: most of the results' time went
    /// into building and dropping those.
    pub fn stored_part(&self, range: Range<usize>) -> (ResultPart, Tally) {
        let columns = self.findings(range.clone());
        let tally = self.tally(&columns, range.len());
        let mut out = Vec::with_capacity(range.len() * 1024);
        for (i, &row) in self.all_rows[range].iter().enumerate() {
            if i > 0 {
                out.push(b',');
            }
            out.extend_from_slice(b"{\"row\":");
            write_number(&mut out, row);
            out.extend_from_slice(b",\"fields\":{},\"id_valid\":");
            out.extend_from_slice(if self.inputs.index.invalid_id_rows.contains(row) { b"false" } else { b"true" });
            out.extend_from_slice(b",\"duplicate_rows\":[");
            for (k, duplicate) in self.duplicates_of(row).enumerate() {
                if k > 0 {
                    out.push(b',');
                }
                write_number(&mut out, duplicate);
            }
            out.extend_from_slice(b"],\"departments\":{");
            for (k, &(department, ref key)) in self.departments_by_name.iter().enumerate() {
                if k > 0 {
                    out.push(b',');
                }
                out.extend_from_slice(key.as_bytes());
                out.push(b':');
                columns[department][i].write_json(&mut out);
            }
            out.extend_from_slice(b"}}");
        }
        let body = String::from_utf8(out).expect("ASCII and JSON-escaped party names");
        (ResultPart { rows: tally.rows, sealed_values: tally.sealed_values, body }, tally)
    }

    /// Every department's findings for the rows in `range`, in spec order.
    fn findings(&self, range: Range<usize>) -> Vec<Vec<Finding<'a>>> {
        (0..self.inputs.spec.departments.len()).map(|d| self.department_findings(d, range.clone())).collect()
    }

    /// What the rows of one part, with their findings, add to the summary.
    fn tally(&self, columns: &[Vec<Finding>], rows: usize) -> Tally {
        Tally {
            found: columns.iter().map(|c| c.iter().filter(|f| f.found).count() as u64).collect(),
            probable_matches: (0..rows).filter(|&i| columns.iter().any(|c| c[i].probable_rows > 0)).count() as u64,
            rows: rows as u64,
            sealed_values: columns.iter().flatten().map(|f| f.sealed.len() as u64).sum(),
        }
    }

    /// The other registry rows holding `row`'s identity number, in row order.
    fn duplicates_of(&self, row: u32) -> impl Iterator<Item = u32> + '_ {
        let group = self.duplicate_of.get(&row).map_or(&[][..], |&group| &self.duplicate_groups[group][..]);
        group.iter().copied().filter(move |&r| r != row)
    }

    /// The results without their rows, with the summary of all the parts' `tally`.
    pub fn head(&self, tally: &Tally) -> JobResults {
        let (spec, inputs) = (&self.inputs.spec, self.inputs);
        let mut summary = ResultSummary {
            registry_rows_read: inputs.registry_rows_read,
            registry_rows: self.all_rows.len() as u64,
            invalid_ids: inputs.invalid_ids.clone(),
            found_nowhere: self.found_nowhere,
            duplicate_groups: self.duplicate_groups.len() as u64,
            probable_matches: tally.probable_matches,
            ..ResultSummary::default()
        };
        for (i, d) in spec.departments.iter().enumerate() {
            summary.found.insert(d.party.clone(), tally.found.get(i).copied().unwrap_or(0));
        }
        JobResults {
            job: spec.id.clone(),
            purpose: spec.purpose.clone(),
            approval: spec.approval.clone(),
            requester: spec.requester.party.clone(),
            departments: spec.departments.iter().map(|d| d.party.clone()).collect(),
            summary,
            rows: Vec::new(),
            rules: spec.rules.clone(),
            profile: spec.profile.clone(),
            registry_fields: spec.requester.fields.clone(),
            sealed_fields: inputs
                .seals
                .iter()
                .map(|(party, seal)| (party.clone(), seal.sealed_fields.clone()))
                .collect(),
            refused: inputs
                .seals
                .iter()
                .filter(|(_, seal)| !seal.refused.is_empty())
                .map(|(party, seal)| (party.clone(), seal.refused.clone()))
                .collect(),
            unopened: 0,
        }
    }

    /// Builds every part on `workers` threads and hands each to `store` with its number, in
    /// the order they are done; returns the parts' tally. Few parts wait at once, so the
    /// memory is a few parts' whatever the registry's size.
    pub fn build_parts<E: Send>(
        &self,
        workers: usize,
        mut store: impl FnMut(u32, ResultPart) -> Result<(), E>,
    ) -> Result<Tally, E> {
        let ranges: Vec<Range<usize>> = self.parts().collect();
        let next = std::sync::atomic::AtomicUsize::new(0);
        let (sender, receiver) = std::sync::mpsc::sync_channel(workers.max(1));
        std::thread::scope(|scope| {
            for _ in 0..workers.max(1) {
                let (sender, ranges, next) = (sender.clone(), &ranges, &next);
                scope.spawn(move || loop {
                    let number = next.fetch_add(1, std::sync::atomic::Ordering::Relaxed);
                    let Some(range) = ranges.get(number) else { break };
                    // The receiver gone (a store failed) stops the building.
                    if sender.send((number as u32, self.stored_part(range.clone()))).is_err() {
                        break;
                    }
                });
            }
            drop(sender);
            let mut total = Tally::default();
            for (number, (part, tally)) in receiver {
                total.add(&tally);
                store(number, part)?;
            }
            Ok(total)
        })
    }

    /// One department's finding for the rows in `range` (positions), from its links;
    /// probable matches only where the row is a lead.
    fn department_findings(&self, department: usize, range: Range<usize>) -> Vec<Finding<'a>> {
        let mut findings = vec![Finding::default(); range.len()];
        let Some((matched, links)) = &self.departments[department] else { return findings };
        let first = links.partition_point(|&(position, _)| (position as usize) < range.start);
        for &(position, link) in links[first..].iter().take_while(|&&(position, _)| (position as usize) < range.end) {
            let (i, link) = (position as usize, &matched.links[link as usize]);
            let finding = &mut findings[i - range.start];
            if link.kind == LinkKind::QuasiIdentifier {
                // Nor are a namesake's values forwarded: only a lead's can be opened.
                if self.leads[i] {
                    finding.probable_rows += 1;
                    finding.forward(
                        link.department_row,
                        SealKind::Qid,
                        matched.sealed_by_qid.get(&link.department_row),
                    );
                }
                continue;
            }
            finding.found = true;
            finding.department_rows += 1;
            // With the person twice in the department, the first row's comparison stands
            // unless a later row agrees better; keep the most favourable answer per attribute.
            let compared = link
                .attributes
                .iter()
                .filter(|(a, _)| !matches!(a, Attribute::Name | Attribute::NameScript | Attribute::NameSound))
                .map(|(a, v)| (a.label(), agreement(Some(*v))));
            let name = link.attributes.contains_key(&Attribute::Name).then(|| ("name", name_tier(&link.attributes)));
            for (attribute, verdict) in compared.chain(name) {
                finding.compare(attribute, verdict);
            }
            finding.forward(link.department_row, SealKind::Id, matched.sealed_by_id.get(&link.department_row));
        }
        // Found by its identity number here, the row is no lead in this department either.
        for finding in findings.iter_mut().filter(|f| f.found) {
            finding.probable_rows = 0;
            finding.sealed.retain(|s| s.1 == SealKind::Id);
        }
        findings
    }
}

/// One department's finding for one row as the matcher builds it: a
/// [`DepartmentFinding`] without maps or strings of its own.
#[derive(Clone, Debug, Default)]
struct Finding<'m> {
    found: bool,
    department_rows: u32,
    probable_rows: u32,
    /// Attribute label and verdict, in label order (as the finding's map orders them).
    attributes: Vec<(&'static str, &'static str)>,
    /// The department's row, the kind and the sealed blob of each value forwarded.
    sealed: Vec<(u32, SealKind, &'m [u8])>,
}

impl<'m> Finding<'m> {
    /// Keeps `verdict` for `attribute` unless a better one is kept already.
    fn compare(&mut self, attribute: &'static str, verdict: &'static str) {
        match self.attributes.binary_search_by(|(kept, _)| kept.cmp(&attribute)) {
            Ok(i) if rank(verdict) < rank(self.attributes[i].1) => self.attributes[i].1 = verdict,
            Ok(_) => {}
            Err(i) => self.attributes.insert(i, (attribute, verdict)),
        }
    }

    /// Forwards a linked department row's sealed values, once per row, in the order linked.
    fn forward(&mut self, department_row: u32, kind: SealKind, blob: Option<&'m Vec<u8>>) {
        let Some(blob) = blob else { return };
        if !self.sealed.iter().any(|&(row, k, _)| row == department_row && k == kind) {
            self.sealed.push((department_row, kind, blob));
        }
    }

    fn to_finding(&self) -> DepartmentFinding {
        DepartmentFinding {
            found: self.found,
            department_rows: self.department_rows,
            attributes: self.attributes.iter().map(|&(a, v)| (a.to_owned(), v.to_owned())).collect(),
            released: BTreeMap::new(),
            probable_rows: self.probable_rows,
            probable_released: BTreeMap::new(),
            sealed: self
                .sealed
                .iter()
                .map(|&(row, kind, blob)| SealedValues { row, kind, sealed: hex_string(blob) })
                .collect(),
        }
    }

    /// The finding's JSON as serde writes [`Finding::to_finding`]'s: members in declaration
    /// order, `probable_released` and an empty `sealed` left out.
    fn write_json(&self, out: &mut Vec<u8>) {
        out.extend_from_slice(if self.found { b"{\"found\":true" } else { b"{\"found\":false" });
        out.extend_from_slice(b",\"department_rows\":");
        write_number(out, self.department_rows);
        out.extend_from_slice(b",\"attributes\":{");
        for (k, (attribute, verdict)) in self.attributes.iter().enumerate() {
            if k > 0 {
                out.push(b',');
            }
            // Labels and verdicts are fixed ASCII words: nothing to escape.
            out.push(b'"');
            out.extend_from_slice(attribute.as_bytes());
            out.extend_from_slice(b"\":\"");
            out.extend_from_slice(verdict.as_bytes());
            out.push(b'"');
        }
        out.extend_from_slice(b"},\"released\":{},\"probable_rows\":");
        write_number(out, self.probable_rows);
        if !self.sealed.is_empty() {
            out.extend_from_slice(b",\"sealed\":[");
            for (k, &(row, kind, blob)) in self.sealed.iter().enumerate() {
                if k > 0 {
                    out.push(b',');
                }
                out.extend_from_slice(b"{\"row\":");
                write_number(out, row);
                out.extend_from_slice(match kind {
                    SealKind::Id => b",\"kind\":\"id\",\"sealed\":\"",
                    SealKind::Qid => b",\"kind\":\"qid\",\"sealed\":\"",
                });
                let at = out.len();
                out.resize(at + blob.len() * 2, 0);
                hex::encode_to_slice(blob, &mut out[at..]).expect("a buffer twice the blob's length");
                out.extend_from_slice(b"\"}");
            }
            out.push(b']');
        }
        out.push(b'}');
    }
}

/// A decimal number, as serde_json writes it.
fn write_number(out: &mut Vec<u8>, n: u32) {
    use std::io::Write;
    write!(out, "{n}").expect("writing to a Vec never fails");
}

/// A department's links to the registry's rows (`all_rows`, in row order) as (row
/// position, link index), by position and then in the order linked; links to rows the
/// registry does not hold are left out.
fn links_by_position(matched: &DepartmentMatch, all_rows: &[u32]) -> Vec<(u32, u32)> {
    let mut links: Vec<(u32, u32)> = matched
        .links
        .iter()
        .enumerate()
        .filter_map(|(i, link)| Some((position(all_rows, link.requester_row)? as u32, i as u32)))
        .collect();
    links.sort_unstable();
    links
}

/// The whole results in memory: every part and the head. For tests and benchmarks; the
/// matcher stores them part by part ([`ResultsBuilder::build_parts`]).
pub fn build(inputs: &ResultInputs) -> JobResults {
    let builder = ResultsBuilder::new(inputs);
    let mut rows = Vec::new();
    let mut tally = Tally::default();
    for range in builder.parts() {
        let (part, part_tally) = builder.part(range);
        rows.extend(part);
        tally.add(&part_tally);
    }
    JobResults { rows, ..builder.head(&tally) }
}

/// Where `row` is among `rows`, which are in row order.
fn position(rows: &[u32], row: u32) -> Option<usize> {
    rows.binary_search(&row).ok()
}

/// Lower-case hex, as `hex::encode` writes it, without its per-character iterator (a third
/// of the results' time went there).
fn hex_string(bytes: &[u8]) -> String {
    let mut out = vec![0u8; bytes.len() * 2];
    hex::encode_to_slice(bytes, &mut out).expect("a buffer twice the input's length");
    String::from_utf8(out).expect("hex digits are ASCII")
}

/// The results' head as stored: their JSON without the rows, which are the parts'.
pub fn head_json(head: &JobResults) -> String {
    let mut value = serde_json::to_value(head).expect("results serialize to JSON");
    value.as_object_mut().expect("results are a JSON object").remove("rows");
    value.to_string()
}

/// The pieces of the results document as served, in order: the opening (the head's
/// members and the rows' opening bracket), each part's body with a comma before every
/// part but the first, then [`DOCUMENT_END`].
pub fn document_opening(head: &str) -> String {
    let members = head.strip_suffix('}').expect("a stored head is a JSON object");
    // The head always has members (the job, its purpose…): the comma separates them.
    format!("{members},\"rows\":[")
}

pub const DOCUMENT_END: &str = "]}";

/// A job's whole results document from the store, read on the store's thread; `None`
/// until the results are complete. Tests and small jobs; the matcher serves the parts one
/// at a time.
pub fn stored_document(conn: &rusqlite::Connection, job: &str) -> rusqlite::Result<Option<String>> {
    let Some(stored) = crate::store::stored_results(conn, job)? else { return Ok(None) };
    let mut document = document_opening(&stored.head);
    for number in 0..stored.parts {
        let part = crate::store::result_part(conn, job, number)?.unwrap_or_default();
        if number > 0 {
            document.push(',');
        }
        document.push_str(&part.body);
    }
    document.push_str(DOCUMENT_END);
    Ok(Some(document))
}

/// A stored part's rows without their sealed values, as the operator reads them and as
/// the retention leaves them: the part's body, and how many sealed values were removed.
pub fn strip_part(body: &str) -> serde_json::Result<(String, u64)> {
    let mut rows: Vec<RowResult> = serde_json::from_str(&format!("[{body}]"))?;
    let removed = strip_rows(&mut rows);
    let array = serde_json::to_string(&rows)?;
    Ok((array[1..array.len() - 1].to_owned(), removed))
}

/// How many sealed values the results forward.
pub fn sealed_value_count(results: &JobResults) -> usize {
    results.rows.iter().flat_map(|r| r.departments.values()).map(|f| f.sealed.len()).sum()
}

/// The results as the operator reads them: the match structure without a sealed value.
pub fn without_sealed_values(results: &mut JobResults) {
    strip_rows(&mut results.rows);
}

/// Clears every sealed value of `rows`; returns how many there were.
fn strip_rows(rows: &mut [RowResult]) -> u64 {
    let mut removed = 0;
    for finding in rows.iter_mut().flat_map(|r| r.departments.values_mut()) {
        removed += finding.sealed.len() as u64;
        finding.sealed.clear();
    }
    removed
}

/// Lower is a better agreement.
fn rank(verdict: &str) -> u8 {
    match verdict {
        "agree" | "same" => 0,
        "variant" => 1,
        "homophone" => 2,
        "differ" | "different" => 3,
        _ => 4,
    }
}

#[cfg(test)]
mod tests {
    use bidui_core::api::{DepartmentSpec, RequesterSpec};
    use bidui_core::wire::{encode_chunk, Chunk, Layout, TokenGroup, TokenRecord, ABSENT};
    use bidui_core::{Suite, Token};

    use super::*;
    use crate::matching::Link;

    fn t(n: u8) -> Token {
        Token([n; 16])
    }

    fn link(requester_row: u32, department_row: u32, kind: LinkKind, sex: Option<bool>) -> Link {
        let attributes = match kind {
            LinkKind::Identity => BTreeMap::from([(Attribute::Sex, sex)]),
            LinkKind::QuasiIdentifier => BTreeMap::new(),
        };
        Link { requester_row, department_row, kind, attributes }
    }

    fn department(party: &str) -> DepartmentSpec {
        DepartmentSpec { party: party.into(), compare: vec![Attribute::Sex], fields: vec!["f".into()], max_records: 10 }
    }

    /// Registry rows 1 to 4 against three departments; row 4's identity number is invalid.
    fn example_inputs() -> ResultInputs {
        let layout = Layout { groups: vec![0, 0], sealed: false };
        let record = |row: u32, id: Token| TokenRecord {
            row,
            groups: vec![TokenGroup { id, qid: t(100 + row as u8), attrs: vec![] }; 2],
            sealed: None,
        };
        let chunk = encode_chunk(&layout, &[record(1, t(1)), record(2, t(2)), record(3, t(3)), record(4, ABSENT)]);
        let mut index = RegistryIndex::new(2);
        index.add_chunk(&Chunk::decode(&chunk, &layout, 0).unwrap(), &layout);
        let spec = JobSpec {
            id: "job".into(),
            purpose: "p".into(),
            approval: "a".into(),
            epoch: "0123456789abcdef".into(),
            suite: Suite::HmacSha256,
            requester: RequesterSpec { party: "registry".into(), fields: vec![], max_records: 10 },
            departments: vec![department("pension"), department("household"), department("housing")],
            rules: Vec::new(),
            retention_hours: None,
            profile: None,
        };
        let household = DepartmentMatch {
            links: vec![
                // Row 1 twice in the household: the agreeing comparison stands, both rows' values go.
                link(1, 10, LinkKind::Identity, Some(false)),
                link(1, 11, LinkKind::Identity, Some(true)),
                // Row 2 found here and only a namesake in the pension.
                link(2, 12, LinkKind::Identity, None),
            ],
            sealed_by_id: HashMap::from([(10, vec![0xab, 0x01]), (11, vec![0xcd]), (12, vec![0x0f])]),
            ..DepartmentMatch::default()
        };
        let pension = DepartmentMatch {
            links: vec![link(2, 20, LinkKind::QuasiIdentifier, None), link(4, 21, LinkKind::QuasiIdentifier, None)],
            sealed_by_qid: HashMap::from([(20, vec![0x20]), (21, vec![0x21])]),
            ..DepartmentMatch::default()
        };
        // A department the spec does not name is no part of the results.
        let stranger = DepartmentMatch { links: vec![link(3, 30, LinkKind::Identity, None)], ..Default::default() };
        let departments = BTreeMap::from([
            ("household".to_owned(), household),
            ("pension".to_owned(), pension),
            ("stranger".to_owned(), stranger),
        ]);
        ResultInputs {
            spec,
            index: Arc::new(index),
            departments,
            seals: BTreeMap::new(),
            registry_rows_read: 4,
            invalid_ids: BTreeMap::new(),
        }
    }

    #[test]
    fn each_department_fills_its_own_findings_and_only_leads_keep_probable_matches() {
        let results = build(&example_inputs());

        assert_eq!(results.rows.iter().map(|r| r.row).collect::<Vec<_>>(), vec![1, 2, 3, 4]);
        for row in &results.rows {
            let parties: Vec<&str> = row.departments.keys().map(String::as_str).collect();
            assert_eq!(parties, vec!["household", "housing", "pension"], "row {}", row.row);
        }
        let one = &results.rows[0].departments["household"];
        assert!(one.found);
        assert_eq!(one.department_rows, 2);
        assert_eq!(one.attributes, BTreeMap::from([("sex".to_owned(), "agree".to_owned())]));
        let sealed: Vec<(u32, &str)> = one.sealed.iter().map(|s| (s.row, s.sealed.as_str())).collect();
        assert_eq!(sealed, vec![(10, "ab01"), (11, "cd")]);
        let namesake = &results.rows[1].departments["pension"];
        assert_eq!((namesake.probable_rows, namesake.sealed.len()), (0, 0), "a namesake is no lead");
        assert_eq!(results.rows[2].departments["household"], DepartmentFinding::default());
        let lead = &results.rows[3].departments["pension"];
        assert_eq!(lead.probable_rows, 1);
        assert_eq!(lead.sealed, vec![SealedValues { row: 21, kind: SealKind::Qid, sealed: "21".into() }]);
        assert!(!results.rows[3].id_valid);

        let found: Vec<(&str, u64)> = results.summary.found.iter().map(|(p, n)| (p.as_str(), *n)).collect();
        assert_eq!(found, vec![("household", 2), ("housing", 0), ("pension", 0)]);
        assert_eq!(results.summary.found_nowhere, 1, "row 3: valid, found by no department of the spec");
        assert_eq!(results.summary.probable_matches, 1);
        assert_eq!(results.summary.registry_rows, 4);
        assert_eq!(sealed_value_count(&results), 4);
    }

    /// However the rows fall into parts, and whichever part is done first, the document
    /// served from the stored parts is the results built whole.
    #[test]
    fn parts_of_any_size_in_any_order_make_the_same_results() {
        let inputs = example_inputs();
        let whole = build(&inputs);
        for rows_per_part in 1..=5 {
            let builder = ResultsBuilder::new(&inputs).with_rows_per_part(rows_per_part);
            let mut parts = BTreeMap::new();
            let tally = builder
                .build_parts(2, |number, part| {
                    assert!(parts.insert(number, part).is_none(), "part {number} once");
                    Ok::<(), ()>(())
                })
                .unwrap();
            assert_eq!(parts.len(), 4usize.div_ceil(rows_per_part));
            assert_eq!(parts.values().map(|p| p.rows).sum::<u64>(), 4);
            assert_eq!(tally.sealed_values, sealed_value_count(&whole) as u64);
            let bodies: Vec<&str> = parts.values().map(|p| p.body.as_str()).collect();
            let document =
                format!("{}{}{DOCUMENT_END}", document_opening(&head_json(&builder.head(&tally))), bodies.join(","));
            let served: JobResults = serde_json::from_str(&document).unwrap();
            assert_eq!(served, whole, "{rows_per_part} rows per part");
        }
    }

    /// The operator's copy and the retention's: a part without its sealed values, and the
    /// count removed.
    #[test]
    fn a_stripped_part_keeps_every_row_and_no_sealed_value() {
        let inputs = example_inputs();
        let builder = ResultsBuilder::new(&inputs);
        let (part, _) = builder.stored_part(0..4);
        let (stripped, removed) = strip_part(&part.body).unwrap();
        assert_eq!(removed, 4);
        let mut expected = build(&inputs);
        without_sealed_values(&mut expected);
        let rows: Vec<RowResult> = serde_json::from_str(&format!("[{stripped}]")).unwrap();
        assert_eq!(rows, expected.rows);
        assert!(strip_part("{not json").is_err());
    }

    /// The stored part is written by hand for speed: byte for byte what serde writes for
    /// the same rows, for each row alone and for parts of every size.
    #[test]
    fn a_stored_part_is_what_serde_writes_for_its_rows() {
        let inputs = example_inputs();
        let builder = ResultsBuilder::new(&inputs);
        for start in 0..4 {
            for end in start + 1..=4 {
                let (rows, tally) = builder.part(start..end);
                let (part, written) = builder.stored_part(start..end);
                let serde = serde_json::to_string(&rows).unwrap();
                assert_eq!(part.body, serde[1..serde.len() - 1], "rows {start}..{end}");
                assert_eq!(written, tally);
            }
        }
    }

    /// The same on random joins: duplicates in the registry, every attribute and name tier,
    /// people twice in a department, sealed values of both kinds and rows with none.
    #[test]
    fn a_stored_part_is_what_serde_writes_for_random_joins() {
        let mut random = fastrand::Rng::with_seed(14);
        let layout = Layout { groups: vec![0, 0], sealed: false };
        // Rows 1 to 40; a third of them share an identity token with a neighbour.
        let records: Vec<TokenRecord> = (1..=40u32)
            .map(|row| {
                let id = if random.u8(..3) == 0 { t(row as u8 - 1) } else { t(row as u8) };
                TokenRecord {
                    row,
                    groups: vec![TokenGroup { id, qid: t(100 + row as u8), attrs: vec![] }; 2],
                    sealed: None,
                }
            })
            .collect();
        let mut index = RegistryIndex::new(2);
        index.add_chunk(&Chunk::decode(&encode_chunk(&layout, &records), &layout, 0).unwrap(), &layout);
        let verdict = |random: &mut fastrand::Rng| [None, Some(true), Some(false)][random.usize(..3)];
        let joined = |random: &mut fastrand::Rng| {
            let mut matched = DepartmentMatch::default();
            for department_row in 1..=60u32 {
                let kind = if random.bool() { LinkKind::Identity } else { LinkKind::QuasiIdentifier };
                let attributes = match kind {
                    LinkKind::Identity => {
                        [Attribute::Name, Attribute::NameScript, Attribute::NameSound, Attribute::Sex]
                            .into_iter()
                            .chain(random.bool().then_some(Attribute::BirthDate))
                            .map(|a| (a, verdict(random)))
                            .collect()
                    }
                    LinkKind::QuasiIdentifier => BTreeMap::new(),
                };
                matched.links.push(Link { requester_row: random.u32(1..=42), department_row, kind, attributes });
                if random.bool() {
                    let blob: Vec<u8> = (0..random.usize(1..40)).map(|_| random.u8(..)).collect();
                    match kind {
                        LinkKind::Identity => matched.sealed_by_id.insert(department_row, blob),
                        LinkKind::QuasiIdentifier => matched.sealed_by_qid.insert(department_row, blob),
                    };
                }
            }
            matched
        };
        let departments =
            BTreeMap::from([("b-2".to_owned(), joined(&mut random)), ("a1".to_owned(), joined(&mut random))]);
        let spec = JobSpec {
            departments: vec![department("b-2"), department("a1"), department("c")],
            ..example_inputs().spec
        };
        let inputs = ResultInputs {
            spec,
            index: Arc::new(index),
            departments,
            seals: BTreeMap::new(),
            registry_rows_read: 40,
            invalid_ids: BTreeMap::new(),
        };
        let builder = ResultsBuilder::new(&inputs);
        for range in [0..40, 0..1, 7..23, 39..40] {
            let (rows, tally) = builder.part(range.clone());
            assert!(rows.iter().any(|r| !r.duplicate_rows.is_empty()) || range.len() < 20);
            let (part, written) = builder.stored_part(range.clone());
            let serde = serde_json::to_string(&rows).unwrap();
            assert_eq!(part.body, serde[1..serde.len() - 1], "rows {range:?}");
            assert_eq!(written, tally);
        }
        let whole = build(&inputs);
        assert!(sealed_value_count(&whole) > 10 && whole.summary.probable_matches > 0, "{:?}", whole.summary);
    }
}
