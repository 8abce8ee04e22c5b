//! The first report: the matcher's results as JSON and as one CSV line per registry row.

use std::io::Write;
use std::path::{Path, PathBuf};

use anyhow::Context;
use bidui_core::api::JobResults;

pub struct Written {
    pub json: PathBuf,
    pub csv: PathBuf,
}

/// Writes `results.json` and `results.csv` (UTF-8 with BOM, so Excel opens it right).
pub fn write(results: &JobResults, dir: &Path) -> anyhow::Result<Written> {
    std::fs::create_dir_all(dir).with_context(|| format!("creating {}", dir.display()))?;
    let json = dir.join("results.json");
    std::fs::write(&json, serde_json::to_vec_pretty(results)?).with_context(|| format!("writing {}", json.display()))?;
    let csv = dir.join("results.csv");
    std::fs::write(&csv, to_csv(results)).with_context(|| format!("writing {}", csv.display()))?;
    Ok(Written { json, csv })
}

fn cell(text: &str) -> String {
    if text.contains([',', '"', '\n', '\r']) {
        format!("\"{}\"", text.replace('"', "\"\""))
    } else {
        text.to_owned()
    }
}

pub fn to_csv(results: &JobResults) -> Vec<u8> {
    let mut out = Vec::new();
    out.extend_from_slice("\u{FEFF}".as_bytes());
    let requester_fields: Vec<String> = {
        let mut names: Vec<String> = results.rows.iter().flat_map(|r| r.fields.keys().cloned()).collect();
        names.sort();
        names.dedup();
        names
    };
    let mut header = vec!["row".to_owned()];
    header.extend(requester_fields.iter().cloned());
    header.extend(["id_valid".to_owned(), "duplicate_rows".to_owned()]);
    for d in &results.departments {
        header.extend([format!("{d}.found"), format!("{d}.attributes"), format!("{d}.released"), format!("{d}.probable_rows")]);
    }
    writeln!(out, "{}", header.iter().map(|h| cell(h)).collect::<Vec<_>>().join(",")).expect("writing to a Vec");
    for row in &results.rows {
        let mut cells = vec![row.row.to_string()];
        cells.extend(requester_fields.iter().map(|f| row.fields.get(f).cloned().unwrap_or_default()));
        cells.push(row.id_valid.to_string());
        cells.push(row.duplicate_rows.iter().map(u32::to_string).collect::<Vec<_>>().join(" "));
        for d in &results.departments {
            let finding = row.departments.get(d).cloned().unwrap_or_default();
            cells.push(finding.found.to_string());
            cells.push(finding.attributes.iter().map(|(k, v)| format!("{k}={v}")).collect::<Vec<_>>().join(";"));
            cells.push(finding.released.iter().map(|(k, v)| format!("{k}={}", v.join("|"))).collect::<Vec<_>>().join(";"));
            cells.push(finding.probable_rows.to_string());
        }
        writeln!(out, "{}", cells.iter().map(|c| cell(c)).collect::<Vec<_>>().join(",")).expect("writing to a Vec");
    }
    out
}
