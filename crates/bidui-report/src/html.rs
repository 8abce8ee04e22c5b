//! The leadership summary: one self-contained HTML page. Inline CSS and inline SVG charts;
//! no script, no font, no image fetched from anywhere, so it opens offline.
//!
//! The page's own words are messages (`report-summary-*`) in the language of the thread
//! that writes it: Chinese by default, English with `bidui --lang en` or inside
//! [`bidui_i18n::in_language`]. The district's words (its name, departments, towns, the
//! problems' categories and the rules' labels, the notes of the derivation) stay as
//! problems.json has them.

use std::collections::BTreeMap;
use std::fmt::Write as _;

use bidui_core::api::Severity;
use bidui_i18n::t;

use crate::diff::Diff;
use crate::labels;
use crate::problems::ProblemSet;

pub fn escape(text: &str) -> String {
    let mut out = String::with_capacity(text.len());
    for c in text.chars() {
        match c {
            '&' => out.push_str("&amp;"),
            '<' => out.push_str("&lt;"),
            '>' => out.push_str("&gt;"),
            '"' => out.push_str("&quot;"),
            '\'' => out.push_str("&#39;"),
            c => out.push(c),
        }
    }
    out
}

const SEVERITIES: [Severity; 3] = [Severity::Serious, Severity::Normal, Severity::Notice];

fn color(severity: Severity) -> &'static str {
    match severity {
        Severity::Serious => "#c0392b",
        Severity::Normal => "#e69b22",
        Severity::Notice => "#4f9a5f",
    }
}

const STYLE: &str = concat!(
    r#"
body { font-family: "Noto Sans CJK SC", "Source Han Sans SC", "Microsoft YaHei", "PingFang SC", "#,
    r#""WenQuanYi Micro Hei", sans-serif; margin: 0; color: #1f2d3d; background: #f4f6f9; }
main { max-width: 1180px; margin: 0 auto; padding: 24px 28px 48px; }
h1 { font-size: 26px; margin: 8px 0 4px; }
h2 { font-size: 19px; margin: 32px 0 10px; border-left: 5px solid #1f5fa8; padding-left: 10px; }
.meta { color: #5a6b7d; font-size: 14px; }
.cards { display: flex; flex-wrap: wrap; gap: 14px; margin-top: 18px; }
.card { background: #fff; border-radius: 8px; padding: 14px 18px; min-width: 150px; flex: 1; "#,
    r#"box-shadow: 0 1px 3px rgba(0,0,0,.08); }
.card .n { font-size: 28px; font-weight: bold; }
.card .l { color: #5a6b7d; font-size: 13px; }
.card.serious .n { color: #c0392b; }
.card.fixed .n { color: #2e7d32; }
section { background: #fff; border-radius: 8px; padding: 6px 18px 16px; margin-top: 18px; "#,
    r#"box-shadow: 0 1px 3px rgba(0,0,0,.08); }
table { border-collapse: collapse; font-size: 13px; width: 100%; }
th, td { border: 1px solid #d5dde6; padding: 5px 7px; text-align: right; }
th { background: #eaf1f8; font-weight: 600; }
th.l, td.l { text-align: left; white-space: nowrap; }
tr.total td { font-weight: bold; background: #f3f6f9; }
.scroll { overflow-x: auto; }
.legend span { display: inline-block; margin-right: 16px; font-size: 13px; }
.legend i { display: inline-block; width: 12px; height: 12px; margin-right: 5px; vertical-align: -1px; }
.note { color: #5a6b7d; font-size: 13px; line-height: 1.7; }
svg text { font-size: 12px; fill: #1f2d3d; }
"#
);

fn legend(items: &[(String, &str)]) -> String {
    let mut out = String::from("<p class=\"legend\">");
    for (label, color) in items {
        let _ = write!(out, "<span><i style=\"background:{color}\"></i>{}</span>", escape(label));
    }
    out.push_str("</p>");
    out
}

/// Horizontal stacked bars: one bar per label, segments in the given colours.
fn stacked_bars(title: &str, rows: &[(String, Vec<u64>, String)], colors: &[&str]) -> String {
    let label_w = 120.0;
    let bar_w = 760.0;
    let row_h = 26.0;
    let height = row_h * rows.len() as f64 + 10.0;
    let max = rows.iter().map(|(_, v, _)| v.iter().sum::<u64>()).max().unwrap_or(0).max(1) as f64;
    let mut out = format!(
        "<svg role=\"img\" aria-label=\"{}\" viewBox=\"0 0 {} {height}\" width=\"100%\" \
         xmlns=\"http://www.w3.org/2000/svg\">",
        escape(title),
        label_w + bar_w + 120.0
    );
    for (i, (label, values, note)) in rows.iter().enumerate() {
        let y = 5.0 + row_h * i as f64;
        let _ = write!(
            out,
            "<text x=\"{}\" y=\"{}\" text-anchor=\"end\">{}</text>",
            label_w - 8.0,
            y + 15.0,
            escape(label)
        );
        let mut x = label_w;
        for (v, c) in values.iter().zip(colors) {
            let w = bar_w * *v as f64 / max;
            if w > 0.0 {
                let _ = write!(
                    out,
                    "<rect x=\"{x:.1}\" y=\"{y}\" width=\"{w:.1}\" height=\"{}\" fill=\"{c}\"><title>{}</title></rect>",
                    row_h - 8.0,
                    v
                );
            }
            x += w;
        }
        let _ = write!(out, "<text x=\"{:.1}\" y=\"{}\">{}</text>", x + 6.0, y + 15.0, escape(note));
    }
    out.push_str("</svg>");
    out
}

/// Grouped horizontal bars for a trend: per label, two bars (before, after).
fn paired_bars(title: &str, rows: &[(String, u64, u64)]) -> String {
    let label_w = 120.0;
    let bar_w = 720.0;
    let row_h = 34.0;
    let height = row_h * rows.len() as f64 + 10.0;
    let max = rows.iter().map(|(_, a, b)| *a.max(b)).max().unwrap_or(0).max(1) as f64;
    let mut out = format!(
        "<svg role=\"img\" aria-label=\"{}\" viewBox=\"0 0 {} {height}\" width=\"100%\" \
         xmlns=\"http://www.w3.org/2000/svg\">",
        escape(title),
        label_w + bar_w + 80.0
    );
    for (i, (label, before, after)) in rows.iter().enumerate() {
        let y = 5.0 + row_h * i as f64;
        let _ = write!(
            out,
            "<text x=\"{}\" y=\"{}\" text-anchor=\"end\">{}</text>",
            label_w - 8.0,
            y + 18.0,
            escape(label)
        );
        for (k, (v, c)) in [(*before, "#9fb3c8"), (*after, "#1f5fa8")].into_iter().enumerate() {
            let w = bar_w * v as f64 / max;
            let yy = y + 13.0 * k as f64;
            let _ = write!(out, "<rect x=\"{label_w}\" y=\"{yy}\" width=\"{w:.1}\" height=\"11\" fill=\"{c}\"/>");
            let _ = write!(
                out,
                "<text x=\"{:.1}\" y=\"{}\" style=\"font-size:10px\">{v}</text>",
                label_w + w + 4.0,
                yy + 10.0
            );
        }
    }
    out.push_str("</svg>");
    out
}

fn percent(part: u64, whole: u64) -> String {
    if whole == 0 {
        "—".to_owned()
    } else {
        format!("{:.1}%", 100.0 * part as f64 / whole as f64)
    }
}

/// The page, in the thread's language. `previous` is the diff from the previous run, for the
/// trend; `generated` the time it was made, China Standard Time.
pub fn summary(set: &ProblemSet, previous: Option<&Diff>, generated: Option<&str>) -> String {
    let s = &set.summary;
    let by_town = set.by_town();
    let categories = set.categories();
    let total_rows = s.registry_rows_read.max(s.registry_rows);
    let rows_with_problems = {
        let mut rows: Vec<u32> = set.problems.iter().map(|p| p.row).collect();
        rows.sort_unstable();
        rows.dedup();
        rows.len() as u64
    };
    let count = |sev: Severity| set.problems.iter().filter(|p| p.severity == sev).count();
    let fills = set.fill_ins().filter(|p| p.fill.as_ref().is_some_and(|f| f.source.is_some())).count();
    let unfillable = set.fill_ins().count() - fills;
    let probable = set
        .problems
        .iter()
        .filter(|p| p.code == "probable_match")
        .map(|p| p.row)
        .collect::<std::collections::BTreeSet<_>>()
        .len();
    let invalid: u64 = s.invalid_ids.values().sum();
    let total = escape(&t!("report-summary-total"));
    let town_header = escape(&t!("report-summary-town"));
    let severity_headers: String =
        SEVERITIES.iter().map(|sev| format!("<th>{}</th>", escape(&labels::severity(*sev)))).collect();

    let mut out = String::new();
    let title = escape(&t!("report-summary-title"));
    let _ = write!(
        out,
        "<!DOCTYPE html>\n<html lang=\"{}\">\n<head>\n<meta charset=\"utf-8\">\n\
         <meta name=\"viewport\" content=\"width=device-width, initial-scale=1\">\n\
         <title>{title} — {}</title>\n<style>{STYLE}</style>\n</head>\n<body>\n<main>\n",
        bidui_i18n::language().tag(),
        escape(&set.job)
    );
    let _ = write!(
        out,
        "<h1>{title}</h1>\n<p class=\"meta\">{}<br>{}",
        escape(&set.purpose),
        escape(&t!("report-summary-job", job = set.job, approval = set.approval))
    );
    if let Some(g) = generated {
        let _ = write!(out, " · {}", escape(&t!("report-summary-generated", time = g)));
    }
    out.push_str("</p>\n<div class=\"cards\">\n");
    let mut card = |class: &str, n: String, l: String| {
        let _ = writeln!(
            out,
            "<div class=\"card {class}\"><div class=\"n\">{}</div><div class=\"l\">{}</div></div>",
            escape(&n),
            escape(&l)
        );
    };
    card("", total_rows.to_string(), t!("report-summary-card-rows"));
    card(
        "",
        t!("report-summary-share", count = rows_with_problems, percent = percent(rows_with_problems, total_rows)),
        t!("report-summary-card-rows-with-problems"),
    );
    card("serious", count(Severity::Serious).to_string(), t!("report-summary-card-serious"));
    card("", invalid.to_string(), t!("report-summary-card-invalid-ids"));
    card("", fills.to_string(), t!("report-summary-card-fillable"));
    card("", unfillable.to_string(), t!("report-summary-card-unfillable"));
    card("", probable.to_string(), t!("report-summary-card-probable"));
    if let Some(d) = previous {
        card("fixed", d.totals.fixed.to_string(), t!("report-summary-card-fixed"));
        card("", d.totals.new.to_string(), t!("report-summary-card-new"));
    }
    out.push_str("</div>\n");

    // Towns.
    let mut town_rows: Vec<(String, Vec<u64>, String)> = by_town
        .iter()
        .map(|(town, problems)| {
            let v: Vec<u64> =
                SEVERITIES.iter().map(|s| problems.iter().filter(|p| p.severity == *s).count() as u64).collect();
            let rows = set.towns.get(*town).copied().unwrap_or(0);
            let total: u64 = v.iter().sum();
            (town.to_string(), v, t!("report-summary-town-problems", problems = total, rows = rows))
        })
        .collect();
    town_rows.sort_by(|a, b| b.1.iter().sum::<u64>().cmp(&a.1.iter().sum::<u64>()).then(a.0.cmp(&b.0)));
    let _ = writeln!(out, "<section>\n<h2>{}</h2>", escape(&t!("report-summary-towns")));
    out.push_str(&legend(&SEVERITIES.map(|s| (labels::severity(s), color(s)))));
    out.push_str(&stacked_bars(&t!("report-summary-towns-chart"), &town_rows, &SEVERITIES.map(color)));
    out.push_str("\n</section>\n");

    // Town × category.
    let _ = write!(
        out,
        "<section>\n<h2>{}</h2>\n<div class=\"scroll\"><table>\n<tr><th class=\"l\">{town_header}</th>",
        escape(&t!("report-summary-town-categories"))
    );
    for (sev, label) in &categories {
        let _ = write!(out, "<th title=\"{}\">{}</th>", escape(&labels::severity(*sev)), escape(label));
    }
    let _ = writeln!(out, "<th>{total}</th></tr>");
    let max_cell = by_town
        .values()
        .flat_map(|ps| categories.iter().map(move |(_, l)| ps.iter().filter(|p| &p.label == l).count()))
        .max()
        .unwrap_or(0)
        .max(1);
    let mut column_totals = vec![0usize; categories.len()];
    for (town, problems) in &by_town {
        let _ = write!(out, "<tr><td class=\"l\">{}</td>", escape(town));
        for (i, (_, label)) in categories.iter().enumerate() {
            let n = problems.iter().filter(|p| &p.label == label).count();
            column_totals[i] += n;
            let alpha = if n == 0 { 0.0 } else { 0.08 + 0.5 * n as f64 / max_cell as f64 };
            let _ = write!(
                out,
                "<td style=\"background:rgba(31,95,168,{alpha:.2})\">{}</td>",
                if n == 0 { String::new() } else { n.to_string() }
            );
        }
        let _ = writeln!(out, "<td>{}</td></tr>", problems.len());
    }
    let _ = write!(out, "<tr class=\"total\"><td class=\"l\">{total}</td>");
    for n in &column_totals {
        let _ = write!(out, "<td>{n}</td>");
    }
    let _ = writeln!(out, "<td>{}</td></tr>\n</table></div>\n</section>", set.problems.len());

    // Departments.
    let coverage: Vec<(String, Vec<u64>, String)> = set
        .departments
        .iter()
        .map(|d| {
            let found = s.found.get(d).copied().unwrap_or(0);
            let rows = s.registry_rows.max(found);
            (
                set.party_name(d).to_owned(),
                vec![found, rows - found],
                t!("report-summary-coverage-share", found = found, rows = rows, percent = percent(found, rows)),
            )
        })
        .collect();
    let coverage_title = t!("report-summary-coverage");
    let found_label = t!("report-summary-found");
    let _ = writeln!(
        out,
        "<section>\n<h2>{}</h2>\n<p class=\"note\">{}</p>",
        escape(&coverage_title),
        escape(&t!("report-summary-coverage-note"))
    );
    out.push_str(&legend(&[(found_label.clone(), "#1f5fa8"), (t!("report-summary-not-found"), "#d5dde6")]));
    out.push_str(&stacked_bars(&coverage_title, &coverage, &["#1f5fa8", "#d5dde6"]));
    let _ = writeln!(
        out,
        "\n<table>\n<tr><th class=\"l\">{}</th><th>{}</th><th>{}</th>{severity_headers}<th>{}</th></tr>",
        escape(&t!("report-summary-department")),
        escape(&found_label),
        escape(&t!("report-summary-coverage-rate")),
        escape(&t!("report-summary-problems-total"))
    );
    let mut departments: Vec<Option<&str>> = vec![None];
    departments.extend(set.departments.iter().map(|d| Some(d.as_str())));
    for d in departments {
        let problems: Vec<_> = set.problems.iter().filter(|p| p.department.as_deref() == d).collect();
        let (name, found, rate) = match d {
            None => (t!("report-summary-registry-itself"), "—".to_owned(), "—".to_owned()),
            Some(d) => {
                let found = s.found.get(d).copied().unwrap_or(0);
                (set.party_name(d).to_owned(), found.to_string(), percent(found, s.registry_rows))
            }
        };
        let _ = write!(out, "<tr><td class=\"l\">{}</td><td>{found}</td><td>{rate}</td>", escape(&name));
        for sev in SEVERITIES {
            let _ = write!(out, "<td>{}</td>", problems.iter().filter(|p| p.severity == sev).count());
        }
        let _ = writeln!(out, "<td>{}</td></tr>", problems.len());
    }
    out.push_str("</table>\n</section>\n");

    // Trend.
    if let Some(d) = previous {
        let _ = writeln!(
            out,
            "<section>\n<h2>{}</h2>\n<p class=\"note\">{}</p>",
            escape(&t!("report-summary-trend")),
            escape(&t!(
                "report-summary-trend-note",
                before = d.before.job,
                before_problems = d.before.problems,
                after = d.after.job,
                after_problems = d.after.problems
            ))
        );
        out.push_str(&legend(&[
            (t!("report-summary-trend-before"), "#9fb3c8"),
            (t!("report-summary-trend-after"), "#1f5fa8"),
        ]));
        let rows: Vec<(String, u64, u64)> = d
            .towns
            .iter()
            .map(|(t, c)| {
                (t.clone(), (c.fixed.len() + c.still_open.len()) as u64, (c.new.len() + c.still_open.len()) as u64)
            })
            .collect();
        out.push_str(&paired_bars(&t!("report-summary-trend-chart"), &rows));
        let _ = writeln!(
            out,
            "\n<table>\n<tr><th class=\"l\">{town_header}</th><th>{}</th><th>{}</th><th>{}</th><th>{}</th></tr>",
            escape(&t!("report-summary-fixed")),
            escape(&t!("report-summary-new")),
            escape(&t!("report-summary-still-open")),
            escape(&t!("report-summary-fixed-rate"))
        );
        for (town, t) in &d.towns {
            let c = t.counts();
            let _ = writeln!(
                out,
                "<tr><td class=\"l\">{}</td><td>{}</td><td>{}</td><td>{}</td><td>{}</td></tr>",
                escape(town),
                c.fixed,
                c.new,
                c.still_open,
                percent(c.fixed as u64, (c.fixed + c.still_open) as u64)
            );
        }
        let c = &d.totals;
        let _ = writeln!(
            out,
            "<tr class=\"total\"><td class=\"l\">{total}</td><td>{}</td><td>{}</td><td>{}</td><td>{}</td></tr>\n\
             </table>\n</section>",
            c.fixed,
            c.new,
            c.still_open,
            percent(c.fixed as u64, (c.fixed + c.still_open) as u64)
        );
    }

    // Rules and notes.
    let _ = writeln!(
        out,
        "<section>\n<h2>{}</h2>\n<table>\n<tr><th class=\"l\">{}</th><th class=\"l\">{}</th>\
         <th class=\"l\">{}</th><th class=\"l\">{}</th><th>{}</th></tr>",
        escape(&t!("report-summary-rules")),
        escape(&t!("report-summary-rule")),
        escape(&t!("report-summary-category")),
        escape(&t!("report-summary-department")),
        escape(&t!("report-summary-severity")),
        escape(&t!("report-summary-rule-found"))
    );
    let mut found_by_rule: BTreeMap<(&str, &str), usize> = BTreeMap::new();
    for p in &set.problems {
        if let Some(d) = &p.department {
            *found_by_rule.entry((p.code.as_str(), d.as_str())).or_default() += 1;
        }
    }
    for rule in &set.rules {
        let _ = writeln!(
            out,
            "<tr><td class=\"l\">{}</td><td class=\"l\">{}</td><td class=\"l\">{}</td><td class=\"l\">{}</td>\
             <td>{}</td></tr>",
            escape(&rule.code),
            escape(&rule.label),
            escape(set.party_name(&rule.department)),
            escape(&labels::severity(rule.severity)),
            found_by_rule.get(&(rule.code.as_str(), rule.department.as_str())).copied().unwrap_or(0)
        );
    }
    out.push_str("</table>\n<p class=\"note\">");
    for note in &set.notes {
        let _ = write!(out, "{}<br>", escape(&t!("report-summary-note", note = note)));
    }
    if !set.local_invalid_rows {
        let _ = write!(out, "{}<br>", escape(&t!("report-summary-invalid-reasons-unknown")));
    }
    let _ = write!(
        out,
        "{}<br>{}</p>\n</section>\n</main>\n</body>\n</html>\n",
        escape(&t!("report-summary-privacy")),
        escape(&t!("report-summary-probable"))
    );
    out
}
