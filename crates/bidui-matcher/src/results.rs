//! Turns a finished join into per-row results: the match structure and, for the
//! requester, the sealed values of the linked department rows, forwarded unread.

use std::collections::BTreeMap;
#[cfg(test)]
use std::collections::HashMap;

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
    let index = inputs.index;
    // In row order (the index's rows are a sorted set); a link finds its row by binary search.
    let all_rows: Vec<u32> = index.all_rows.iter().collect();
    let matched: Vec<Option<&DepartmentMatch>> =
        spec.departments.iter().map(|d| inputs.departments.get(&d.party)).collect();
    // A probable match by name, birth date and sex is only worth a visit where the
    // identity number failed: invalid, or valid but found in no department. Elsewhere the
    // same name and birthday is a namesake, not a lead.
    let mut found_somewhere = vec![false; all_rows.len()];
    for link in matched.iter().flatten().flat_map(|m| &m.links).filter(|l| l.kind == LinkKind::Identity) {
        if let Some(i) = position(&all_rows, link.requester_row) {
            found_somewhere[i] = true;
        }
    }
    let leads: Vec<bool> = all_rows
        .iter()
        .zip(&found_somewhere)
        .map(|(&row, &found)| !found || index.invalid_id_rows.contains(row))
        .collect();
    // Each department's findings on a thread of its own, as the joins ran: most of the time
    // goes into hex-encoding the sealed values forwarded.
    let columns: Vec<Vec<DepartmentFinding>> = std::thread::scope(|scope| {
        let (all_rows, leads) = (&all_rows, &leads);
        let workers: Vec<_> =
            matched.iter().map(|&m| scope.spawn(move || department_findings(m, all_rows, leads))).collect();
        workers.into_iter().map(|w| w.join().unwrap_or_else(|panic| std::panic::resume_unwind(panic))).collect()
    });

    let mut summary = ResultSummary {
        registry_rows_read: inputs.registry_rows_read,
        registry_rows: all_rows.len() as u64,
        invalid_ids: inputs.invalid_ids.clone(),
        ..ResultSummary::default()
    };
    for (d, column) in spec.departments.iter().zip(&columns) {
        summary.found.insert(d.party.clone(), column.iter().filter(|f| f.found).count() as u64);
    }
    summary.found_nowhere = all_rows
        .iter()
        .zip(&found_somewhere)
        .filter(|&(&row, &found)| !found && !index.invalid_id_rows.contains(row))
        .count() as u64;
    summary.probable_matches =
        (0..all_rows.len()).filter(|&i| columns.iter().any(|c| c[i].probable_rows > 0)).count() as u64;

    // `fields` stay empty: the requester's own fields never leave the requester, which fills
    // them in from its registry.
    let mut columns: Vec<_> = columns.into_iter().map(Vec::into_iter).collect();
    let mut rows: Vec<RowResult> = all_rows
        .iter()
        .map(|&row| RowResult {
            row,
            fields: BTreeMap::new(),
            id_valid: !index.invalid_id_rows.contains(row),
            duplicate_rows: Vec::new(),
            departments: spec
                .departments
                .iter()
                .zip(&mut columns)
                .map(|(d, column)| (d.party.clone(), column.next().expect("a finding per row")))
                .collect(),
            person: None,
        })
        .collect();

    let duplicate_groups = index.duplicate_groups();
    for group in &duplicate_groups {
        for &row in group {
            if let Some(i) = position(&all_rows, row) {
                rows[i].duplicate_rows = group.iter().copied().filter(|&r| r != row).collect();
            }
        }
    }
    summary.duplicate_groups = duplicate_groups.len() as u64;

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

/// One department's finding for every registry row (`all_rows`, in row order), from its
/// links; probable matches only where `leads` says the row is one.
fn department_findings(matched: Option<&DepartmentMatch>, all_rows: &[u32], leads: &[bool]) -> Vec<DepartmentFinding> {
    let mut findings = vec![DepartmentFinding::default(); all_rows.len()];
    let Some(matched) = matched else { return findings };
    for link in &matched.links {
        let Some(i) = position(all_rows, link.requester_row) else { continue };
        let finding = &mut findings[i];
        if link.kind == LinkKind::QuasiIdentifier {
            // Nor are a namesake's values forwarded: only a lead's can be opened.
            if leads[i] {
                finding.probable_rows += 1;
                forward(finding, link.department_row, SealKind::Qid, matched.sealed_by_qid.get(&link.department_row));
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
    // Found by its identity number here, the row is no lead in this department either.
    for finding in findings.iter_mut().filter(|f| f.found) {
        finding.probable_rows = 0;
        finding.sealed.retain(|s| s.kind == SealKind::Id);
    }
    findings
}

/// Where `row` is among `rows`, which are in row order.
fn position(rows: &[u32], row: u32) -> Option<usize> {
    rows.binary_search(&row).ok()
}

/// Forwards a linked department row's sealed values, once per row, in the order linked.
fn forward(finding: &mut DepartmentFinding, department_row: u32, kind: SealKind, blob: Option<&Vec<u8>>) {
    let Some(blob) = blob else { return };
    if !finding.sealed.iter().any(|s| s.row == department_row && s.kind == kind) {
        finding.sealed.push(SealedValues { row: department_row, kind, sealed: hex_string(blob) });
    }
}

/// Lower-case hex, as `hex::encode` writes it, without its per-character iterator (a third
/// of the results' time went there).
fn hex_string(bytes: &[u8]) -> String {
    let mut out = vec![0u8; bytes.len() * 2];
    hex::encode_to_slice(bytes, &mut out).expect("a buffer twice the input's length");
    String::from_utf8(out).expect("hex digits are ASCII")
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

    #[test]
    fn each_department_fills_its_own_findings_and_only_leads_keep_probable_matches() {
        // Registry rows 1 to 4, two departments' groups; row 4's identity number is invalid.
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
        let results = build(&ResultInputs {
            spec: &spec,
            index: &index,
            departments: &departments,
            seals: &BTreeMap::new(),
            registry_rows_read: 4,
            invalid_ids: BTreeMap::new(),
        });

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
}
