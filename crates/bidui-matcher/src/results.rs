//! Turns a finished join into per-row results: the match structure and, for the
//! requester, the sealed values of the linked department rows, forwarded unread.

use std::collections::BTreeMap;

use bidui_core::api::{
    Attribute, DepartmentFinding, JobResults, JobSpec, RefusedField, ResultSummary, RowResult, SealedValues,
};
use bidui_core::fieldseal::SealKind;

use crate::matching::{DepartmentMatch, LinkKind, RegistryIndex};

/// What a department declared when it sealed.
#[derive(Clone, Debug, Default)]
pub struct DepartmentSeal {
    pub sealed_fields: Vec<String>,
    pub refused: Vec<RefusedField>,
}

/// Everything the results need besides the join.
pub struct ResultInputs<'a> {
    pub spec: &'a JobSpec,
    pub index: &'a RegistryIndex,
    pub departments: &'a BTreeMap<String, DepartmentMatch>,
    /// Per department, its seal's sealed and refused fields.
    pub seals: &'a BTreeMap<String, DepartmentSeal>,
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

pub fn build(inputs: &ResultInputs<'_>) -> JobResults {
    let spec = inputs.spec;
    // `fields` stay empty: the requester's own fields never leave the requester, which fills
    // them in from its registry.
    let departments: BTreeMap<String, DepartmentFinding> =
        spec.departments.iter().map(|d| (d.party.clone(), DepartmentFinding::default())).collect();
    // In row order (the index's rows are a sorted set); a link finds its row by binary search.
    let mut rows: Vec<RowResult> = inputs
        .index
        .all_rows
        .iter()
        .map(|row| RowResult {
            row,
            fields: BTreeMap::new(),
            id_valid: !inputs.index.invalid_id_rows.contains(row),
            duplicate_rows: Vec::new(),
            departments: departments.clone(),
            person: None,
        })
        .collect();

    let duplicate_groups = inputs.index.duplicate_groups();
    for group in &duplicate_groups {
        for &row in group {
            if let Some(i) = position(&rows, row) {
                rows[i].duplicate_rows = group.iter().copied().filter(|&r| r != row).collect();
            }
        }
    }

    for (party, matched) in inputs.departments {
        for link in &matched.links {
            let finding = position(&rows, link.requester_row).and_then(|i| rows[i].departments.get_mut(party));
            let Some(finding) = finding else { continue };
            if link.kind == LinkKind::QuasiIdentifier {
                finding.probable_rows += 1;
                forward(finding, link.department_row, SealKind::Qid, matched.sealed_by_qid.get(&link.department_row));
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
                match finding.attributes.get_mut(attribute) {
                    Some(kept) if rank(verdict) < rank(kept) => verdict.clone_into(kept),
                    Some(_) => {}
                    None => {
                        finding.attributes.insert(attribute.to_owned(), verdict.to_owned());
                    }
                }
            }
            forward(finding, link.department_row, SealKind::Id, matched.sealed_by_id.get(&link.department_row));
        }
    }

    // A probable match by name, birth date and sex is only worth a visit where the
    // identity number failed: invalid, or valid but found in no department. Elsewhere the
    // same name and birthday is a namesake, not a lead.
    for row in &mut rows {
        let found_somewhere = row.departments.values().any(|f| f.found);
        let lead = !row.id_valid || !found_somewhere;
        for finding in row.departments.values_mut().filter(|f| !lead || f.found) {
            // Nor are a namesake's values forwarded: only a lead's can be opened.
            finding.probable_rows = 0;
            finding.sealed.retain(|s| s.kind == SealKind::Id);
        }
    }

    let mut summary = ResultSummary {
        registry_rows_read: inputs.registry_rows_read,
        registry_rows: rows.len() as u64,
        invalid_ids: inputs.invalid_ids.clone(),
        duplicate_groups: duplicate_groups.len() as u64,
        ..ResultSummary::default()
    };
    for d in &spec.departments {
        let found = rows.iter().filter(|r| r.departments[&d.party].found).count() as u64;
        summary.found.insert(d.party.clone(), found);
    }
    summary.found_nowhere =
        rows.iter().filter(|r| r.id_valid && r.departments.values().all(|f| !f.found)).count() as u64;
    summary.probable_matches =
        rows.iter().filter(|r| r.departments.values().any(|f| f.probable_rows > 0)).count() as u64;

    JobResults {
        job: spec.id.clone(),
        purpose: spec.purpose.clone(),
        approval: spec.approval.clone(),
        requester: spec.requester.party.clone(),
        departments: spec.departments.iter().map(|d| d.party.clone()).collect(),
        summary,
        rows,
        rules: spec.rules.clone(),
        profile: spec.profile.clone(),
        registry_fields: spec.requester.fields.clone(),
        sealed_fields: inputs.seals.iter().map(|(party, seal)| (party.clone(), seal.sealed_fields.clone())).collect(),
        refused: inputs
            .seals
            .iter()
            .filter(|(_, seal)| !seal.refused.is_empty())
            .map(|(party, seal)| (party.clone(), seal.refused.clone()))
            .collect(),
        unopened: 0,
    }
}

/// Where `row` is among `rows`, which are in row order.
fn position(rows: &[RowResult], row: u32) -> Option<usize> {
    rows.binary_search_by_key(&row, |r| r.row).ok()
}

/// Forwards a linked department row's sealed values, once per row, in the order linked.
fn forward(finding: &mut DepartmentFinding, department_row: u32, kind: SealKind, blob: Option<&Vec<u8>>) {
    let Some(blob) = blob else { return };
    if !finding.sealed.iter().any(|s| s.row == department_row && s.kind == kind) {
        finding.sealed.push(SealedValues { row: department_row, kind, sealed: hex::encode(blob) });
    }
}

/// How many sealed values the results forward.
pub fn sealed_value_count(results: &JobResults) -> usize {
    results.rows.iter().flat_map(|r| r.departments.values()).map(|f| f.sealed.len()).sum()
}

/// The results as the operator reads them: the match structure without a sealed value.
pub fn without_sealed_values(results: &mut JobResults) {
    results.rows.iter_mut().flat_map(|r| r.departments.values_mut()).for_each(|f| f.sealed.clear());
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
