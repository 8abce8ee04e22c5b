//! The leadership summary: one self-contained HTML page. Inline CSS and inline SVG charts;
//! no script, no font, no image fetched from anywhere, so it opens offline.

use std::collections::BTreeMap;
use std::fmt::Write as _;

use bidui_core::api::Severity;

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

fn legend(items: &[(&str, &str)]) -> String {
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

/// The page. `previous` is the diff from the previous run, for the trend.
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

    let mut out = String::new();
    let _ = write!(
        out,
        "<!DOCTYPE html>\n<html lang=\"zh-CN\">\n<head>\n<meta charset=\"utf-8\">\n\
         <meta name=\"viewport\" content=\"width=device-width, initial-scale=1\">\n\
         <title>第二阶段数据比对结果汇总 — {}</title>\n<style>{STYLE}</style>\n</head>\n<body>\n<main>\n",
        escape(&set.job)
    );
    let _ = write!(
        out,
        "<h1>第二阶段数据比对结果汇总</h1>\n<p class=\"meta\">{}<br>比对任务 {} · 批准文号 {}",
        escape(&set.purpose),
        escape(&set.job),
        escape(&set.approval)
    );
    if let Some(g) = generated {
        let _ = write!(out, " · 生成于 {}", escape(g));
    }
    out.push_str("</p>\n<div class=\"cards\">\n");
    let mut card = |class: &str, n: String, l: &str| {
        let _ = writeln!(
            out,
            "<div class=\"card {class}\"><div class=\"n\">{}</div><div class=\"l\">{}</div></div>",
            escape(&n),
            escape(l)
        );
    };
    card("", total_rows.to_string(), "名册人员（行）");
    card("", format!("{rows_with_problems}（{}）", percent(rows_with_problems, total_rows)), "有问题数据的人员");
    card("serious", count(Severity::Serious).to_string(), "严重问题");
    card("", invalid.to_string(), "身份证号无效");
    card("", fills.to_string(), "缺省数据可由部门补充");
    card("", unfillable.to_string(), "缺省数据无部门可补充");
    card("", probable.to_string(), "疑似匹配，需上门核实");
    if let Some(d) = previous {
        card("fixed", d.totals.fixed.to_string(), "较上一轮已整改");
        card("", d.totals.new.to_string(), "较上一轮新增");
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
            (town.to_string(), v, format!("{total}（名册{rows}行）"))
        })
        .collect();
    town_rows.sort_by(|a, b| b.1.iter().sum::<u64>().cmp(&a.1.iter().sum::<u64>()).then(a.0.cmp(&b.0)));
    out.push_str("<section>\n<h2>各镇街问题数</h2>\n");
    out.push_str(&legend(&SEVERITIES.map(|s| (labels::severity(s), color(s)))));
    out.push_str(&stacked_bars("各镇街问题数（按严重程度）", &town_rows, &SEVERITIES.map(color)));
    out.push_str("\n</section>\n");

    // Town × category.
    out.push_str("<section>\n<h2>镇街 × 问题类别</h2>\n<div class=\"scroll\"><table>\n<tr><th class=\"l\">镇街</th>");
    for (sev, label) in &categories {
        let _ = write!(out, "<th title=\"{}\">{}</th>", labels::severity(*sev), escape(label));
    }
    out.push_str("<th>合计</th></tr>\n");
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
    out.push_str("<tr class=\"total\"><td class=\"l\">合计</td>");
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
                format!("{found}/{rows}（{}）", percent(found, rows)),
            )
        })
        .collect();
    out.push_str("<section>\n<h2>部门比对覆盖</h2>\n<p class=\"note\">名册人员按身份证号在各部门找到的比例。</p>\n");
    out.push_str(&legend(&[("找到", "#1f5fa8"), ("未找到", "#d5dde6")]));
    out.push_str(&stacked_bars("部门比对覆盖", &coverage, &["#1f5fa8", "#d5dde6"]));
    out.push_str(
        "\n<table>\n<tr><th class=\"l\">部门</th><th>找到</th><th>覆盖率</th>\
         <th>严重</th><th>一般</th><th>提示</th><th>问题合计</th></tr>\n",
    );
    let mut departments: Vec<Option<&str>> = vec![None];
    departments.extend(set.departments.iter().map(|d| Some(d.as_str())));
    for d in departments {
        let problems: Vec<_> = set.problems.iter().filter(|p| p.department.as_deref() == d).collect();
        let (name, found, rate) = match d {
            None => ("名册本身".to_owned(), "—".to_owned(), "—".to_owned()),
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
        let _ = write!(
            out,
            "<section>\n<h2>与上一轮比较</h2>\n<p class=\"note\">上一轮 {}（{}个问题）→ 本轮 {}（{}个问题）。\
             同一问题指同一序号、同一问题类别、同一部门和比对项。</p>\n",
            escape(&d.before.job),
            d.before.problems,
            escape(&d.after.job),
            d.after.problems
        );
        out.push_str(&legend(&[("上一轮问题数", "#9fb3c8"), ("本轮问题数", "#1f5fa8")]));
        let rows: Vec<(String, u64, u64)> = d
            .towns
            .iter()
            .map(|(t, c)| {
                (t.clone(), (c.fixed.len() + c.still_open.len()) as u64, (c.new.len() + c.still_open.len()) as u64)
            })
            .collect();
        out.push_str(&paired_bars("各镇街上一轮与本轮问题数", &rows));
        out.push_str(
            "\n<table>\n<tr><th class=\"l\">镇街</th><th>已整改</th><th>新增</th><th>仍未整改</th>\
             <th>整改率</th></tr>\n",
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
            "<tr class=\"total\"><td class=\"l\">合计</td><td>{}</td><td>{}</td><td>{}</td><td>{}</td></tr>\n\
             </table>\n</section>",
            c.fixed,
            c.new,
            c.still_open,
            percent(c.fixed as u64, (c.fixed + c.still_open) as u64)
        );
    }

    // Rules and notes.
    out.push_str(
        "<section>\n<h2>比对规则与说明</h2>\n<table>\n<tr><th class=\"l\">规则</th><th class=\"l\">问题类别</th>\
         <th class=\"l\">部门</th><th class=\"l\">严重程度</th><th>发现</th></tr>\n",
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
            labels::severity(rule.severity),
            found_by_rule.get(&(rule.code.as_str(), rule.department.as_str())).copied().unwrap_or(0)
        );
    }
    out.push_str("</table>\n<p class=\"note\">");
    for note in &set.notes {
        let _ = write!(out, "注意：{}<br>", escape(note));
    }
    if !set.local_invalid_rows {
        out.push_str("无效身份证号的具体原因只在名册单位本地可见，本页按“原因未知”统计。<br>");
    }
    out.push_str(
        "本页只含统计数字，不含姓名、身份证号。各部门只交换身份证号的加密令牌，原始身份信息不出本单位；\
         镇街问题清单中的姓名和身份证号由名册单位在本地按序号补入。<br>\
         疑似匹配仅凭姓名、出生日期、性别找到，须上门核实，从不自动合并。</p>\n</section>\n</main>\n</body>\n</html>\n",
    );
    out
}
