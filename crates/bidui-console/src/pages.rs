//! The console's pages: each a complete page, inline CSS, no script, nothing fetched from
//! outside; every text from the rounds goes through [`escape`].

use std::collections::BTreeMap;
use std::fmt::Write as _;

use bidui_core::api::Severity;
use bidui_report::claims::{Claim, Correction};
use bidui_report::html::escape;
use bidui_report::ProblemKey;
use percent_encoding::{utf8_percent_encode, AsciiSet, NON_ALPHANUMERIC};

use crate::accounts::Role;
use crate::audit::Entry;
use crate::jobs::{Live, SpecChoice};
use crate::session::{self, csrf_field};
use crate::{now_in_china, Console, Round, Taken};

/// What a path segment may carry unencoded.
const SEGMENT: &AsciiSet = &NON_ALPHANUMERIC.remove(b'-').remove(b'.').remove(b'_').remove(b'~');

/// A job id or a town as a path segment (escaped for HTML as well: `&` stays out).
pub(crate) fn segment(text: &str) -> String {
    utf8_percent_encode(text, SEGMENT).to_string()
}

fn round_link(job: &str) -> String {
    format!("/rounds/{}", segment(job))
}

fn town_link(job: &str, town: &str) -> String {
    format!("/rounds/{}/towns/{}", segment(job), segment(town))
}

const STYLE: &str = concat!(
    r#"
body { font-family: "Noto Sans CJK SC", "Source Han Sans SC", "Microsoft YaHei", "PingFang SC", "#,
    r#""WenQuanYi Micro Hei", sans-serif; margin: 0; color: #1f2d3d; background: #f4f6f9; }
header { background: #1f5fa8; color: #fff; padding: 10px 28px; }
header a, header > span { color: #fff; margin-right: 22px; text-decoration: none; font-weight: 600; }
main { max-width: 1280px; margin: 0 auto; padding: 18px 28px 48px; }
h1 { font-size: 24px; margin: 8px 0 4px; }
h2 { font-size: 18px; margin: 26px 0 10px; border-left: 5px solid #1f5fa8; padding-left: 10px; }
.meta, .note { color: #5a6b7d; font-size: 13px; line-height: 1.7; }
section { background: #fff; border-radius: 8px; padding: 6px 18px 16px; margin-top: 16px; "#,
    r#"box-shadow: 0 1px 3px rgba(0,0,0,.08); }
table { border-collapse: collapse; font-size: 13px; width: 100%; }
th, td { border: 1px solid #d5dde6; padding: 5px 7px; text-align: right; vertical-align: top; }
th { background: #eaf1f8; font-weight: 600; white-space: nowrap; }
th.c { white-space: normal; min-width: 3.5em; }
th.l, td.l { text-align: left; white-space: nowrap; }
td.w { text-align: left; min-width: 180px; }
tr.total td { font-weight: bold; background: #f3f6f9; }
.scroll { overflow-x: auto; }
.serious { color: #c0392b; font-weight: 600; }
.normal { color: #b0700f; }
.notice { color: #2e7d32; }
.bar { display: inline-block; height: 10px; background: #1f5fa8; vertical-align: middle; margin-right: 6px; }
a { color: #1f5fa8; }
header form.signout { float: right; margin: 0; color: #fff; font-size: 13px; }
header form.signout button { margin-left: 10px; }
form.signin { display: grid; grid-template-columns: 6em 18em; gap: 10px; align-items: center; }
footer { color: #8a97a6; font-size: 12px; text-align: center; padding: 18px; }
"#
);

/// Whether the request being answered is a town account's.
fn town_viewer() -> bool {
    session::current().is_some_and(|v| matches!(v.role(), Role::Town { .. }))
}

/// The header's links for who is asking, and a sign-out button when signed in.
fn navigation() -> String {
    let Some(viewer) = session::current() else { return "<span>比对控制台</span>".to_owned() };
    let mut links = match viewer.role() {
        Role::Bureau => "<a href=\"/\">各轮比对</a><a href=\"/jobs\">比对任务</a><a href=\"/progress\">整改进度</a>\
             <a href=\"/audit\">审计日志</a>"
            .to_owned(),
        Role::Town { town } => format!("<a href=\"/\">{}</a>", escape(town)),
    };
    if viewer.signed_in() {
        let _ = write!(
            links,
            "<form class=\"signout\" method=\"post\" action=\"/signout\">{}<span>{}</span>\
             <button type=\"submit\">退出登录</button></form>",
            csrf_field(),
            escape(viewer.account())
        );
    }
    links
}

/// The current viewer's form token, escaped for an attribute.
fn csrf_token() -> String {
    escape(session::current().as_ref().map_or("", |v| v.csrf_token()))
}

/// A complete page around `body`.
fn page(title: &str, body: &str) -> String {
    page_refreshed(title, body, None)
}

/// A complete page around `body`, reloaded by the browser every `refresh` seconds when given
/// (a page that follows a running job, without script).
fn page_refreshed(title: &str, body: &str, refresh: Option<u32>) -> String {
    let refresh = refresh.map_or(String::new(), |s| format!("<meta http-equiv=\"refresh\" content=\"{s}\">\n"));
    format!(
        "<!DOCTYPE html>\n<html lang=\"zh-CN\">\n<head>\n<meta charset=\"utf-8\">\n{refresh}\
         <meta name=\"viewport\" content=\"width=device-width, initial-scale=1\">\n<title>{} — 比对控制台</title>\n\
         <style>{STYLE}</style>\n</head>\n<body>\n<header>{}</header>\n<main>\n{body}</main>\n<footer>页面生成于 {}（北京时间）· 本页含人员姓名和身份证号，仅供本单位使用</footer>\n\
         </body>\n</html>\n",
        escape(title),
        navigation(),
        now_in_china().to_minute_string()
    )
}

/// A page that says one thing: an error, or that a page is not there.
pub fn message(title: &str, text: &str) -> String {
    page(
        title,
        &format!(
            "<h1>{}</h1>\n<section><p>{}</p><p><a href=\"/\">返回各轮比对</a></p></section>\n",
            escape(title),
            escape(text)
        ),
    )
}

fn severity_class(severity: Severity) -> &'static str {
    match severity {
        Severity::Serious => "serious",
        Severity::Normal => "normal",
        Severity::Notice => "notice",
    }
}

const SEVERITIES: [Severity; 3] = [Severity::Serious, Severity::Normal, Severity::Notice];

fn percent(rate: Option<f64>) -> String {
    rate.map_or("—".to_owned(), |r| format!("{:.1}%", 100.0 * r))
}

/// `/`: every round.
pub fn index(console: &Console) -> String {
    let mut body = String::from(
        "<h1>各轮比对</h1>\n<p class=\"meta\">每轮比对一个报告目录（bidui report build 的输出），按目录名排序。</p>\n\
         <section>\n<div class=\"scroll\"><table>\n<tr><th class=\"l\">轮次</th><th class=\"l\">比对任务</th>\
         <th class=\"l\">目的</th><th class=\"l\">批准文号</th><th>名册行数</th><th>严重</th><th>一般</th><th>提示</th>\
         <th>问题合计</th><th>镇街数</th><th>已交回的整改情况</th><th class=\"l\">查看</th></tr>\n",
    );
    for (i, round) in console.rounds().iter().enumerate() {
        let set = &round.set;
        let _ = write!(
            body,
            "<tr><td class=\"l\">第{}轮（{}）</td><td class=\"l\"><a href=\"{}\">{}</a></td><td class=\"l\">{}</td>\
             <td class=\"l\">{}</td><td>{}</td>",
            i + 1,
            escape(&round.name),
            round_link(round.job()),
            escape(round.job()),
            escape(&set.purpose),
            escape(&set.approval),
            set.summary.registry_rows_read.max(set.summary.registry_rows)
        );
        for severity in SEVERITIES {
            let n = set.problems.iter().filter(|p| p.severity == severity).count();
            let _ = write!(body, "<td class=\"{}\">{n}</td>", severity_class(severity));
        }
        let _ = writeln!(
            body,
            "<td>{}</td><td>{}</td><td>{}</td><td class=\"l\"><a href=\"{}\">镇街和问题</a> · \
             <a href=\"{}/summary\">领导汇总页</a></td></tr>",
            set.problems.len(),
            round.towns().len(),
            round.claims().claims.len(),
            round_link(round.job()),
            round_link(round.job())
        );
    }
    body.push_str("</table></div>\n</section>\n");
    if console.rounds().is_empty() {
        body.push_str("<section><p>还没有任何一轮比对的报告。</p></section>\n");
    }
    if console.operator.is_some() {
        body.push_str("<p><a href=\"/jobs\">查看比对任务的实时进度，或发起新一轮比对</a></p>\n");
    }
    page("各轮比对", &body)
}

/// `/rounds/{job}`: the town × category table, coverage, downloads, the claims form.
pub fn round(round: &Round) -> String {
    let set = &round.set;
    let job = round.job();
    let by_town = set.by_town();
    let categories = set.categories();
    let claims = round.claims();
    let mut body = format!(
        "<h1>比对任务 {}</h1>\n<p class=\"meta\">{} · 批准文号 {} · 目录 {}</p>\n<p><a href=\"{link}/summary\">领导汇总页</a> · \
         <a href=\"{link}/upward.xlsx\">下载上报汇总（xlsx）</a> · <a href=\"{link}/upward.json\">上报汇总（JSON）</a></p>\n",
        escape(job),
        escape(&set.purpose),
        escape(&set.approval),
        escape(&round.name),
        link = round_link(job)
    );
    body.push_str(
        "<section>\n<h2>镇街 × 问题类别</h2>\n<div class=\"scroll\"><table>\n<tr><th class=\"l\">镇街</th><th>名册行数</th>",
    );
    for (severity, label) in &categories {
        let _ = write!(body, "<th class=\"c {}\">{}</th>", severity_class(*severity), escape(label));
    }
    body.push_str("<th>合计</th><th>已交回整改情况</th><th class=\"l\">镇街工作簿</th></tr>\n");
    let mut totals = vec![0usize; categories.len()];
    for town in round.towns() {
        let problems = by_town.get(town).map(Vec::as_slice).unwrap_or_default();
        let link = town_link(job, town);
        let _ = write!(
            body,
            "<tr><td class=\"l\"><a href=\"{link}\">{}</a></td><td>{}</td>",
            escape(town),
            set.towns.get(town).copied().unwrap_or(0)
        );
        for (i, (_, label)) in categories.iter().enumerate() {
            let n = problems.iter().filter(|p| &p.label == label).count();
            totals[i] += n;
            if n == 0 {
                body.push_str("<td></td>");
            } else {
                let _ = write!(body, "<td><a href=\"{link}\">{n}</a></td>");
            }
        }
        let answered = claims.claims.iter().filter(|c| c.town == town).count();
        let workbook = if round.workbook(town).is_some() {
            format!("<a href=\"{link}/workbook\">下载</a>")
        } else {
            "—".to_owned()
        };
        let _ = writeln!(body, "<td>{}</td><td>{answered}</td><td class=\"l\">{workbook}</td></tr>", problems.len());
    }
    body.push_str("<tr class=\"total\"><td class=\"l\">合计</td>");
    let _ = write!(body, "<td>{}</td>", set.summary.registry_rows_read.max(set.summary.registry_rows));
    for n in &totals {
        let _ = write!(body, "<td>{n}</td>");
    }
    let _ = writeln!(
        body,
        "<td>{}</td><td>{}</td><td></td></tr>\n</table></div>\n</section>",
        set.problems.len(),
        claims.claims.len()
    );

    body.push_str(
        "<section>\n<h2>部门比对覆盖</h2>\n<table>\n<tr><th class=\"l\">部门</th><th>找到</th><th>名册人员</th>\
         <th class=\"l\">覆盖率</th><th>问题数</th></tr>\n",
    );
    let people = set.summary.registry_rows;
    for department in &set.departments {
        let found = set.summary.found.get(department).copied().unwrap_or(0);
        let rate = (people > 0).then(|| found as f64 / people as f64);
        let problems = set.problems.iter().filter(|p| p.department.as_ref() == Some(department)).count();
        let _ = writeln!(
            body,
            "<tr><td class=\"l\">{}</td><td>{found}</td><td>{people}</td><td class=\"l\"><span class=\"bar\" \
             style=\"width:{:.0}px\"></span>{}</td><td>{problems}</td></tr>",
            escape(set.party_name(department)),
            160.0 * rate.unwrap_or(0.0),
            percent(rate)
        );
    }
    body.push_str("</table>\n</section>\n");

    let _ = write!(
        body,
        "<section>\n<h2>导入镇街交回的工作簿</h2>\n<p class=\"note\">镇街在“问题清单”的整改情况（已整改 / 核实无误 / 无法整改）和\
         整改说明中填写后交回。工作簿中有一行对不上本轮的问题，整个工作簿都不导入。同一问题再次交回，以最新一次为准。</p>\n\
         <form method=\"post\" action=\"{}/claims\" enctype=\"multipart/form-data\">\n\
         <input type=\"hidden\" name=\"csrf\" value=\"{}\">\n<input type=\"file\" name=\"workbook\" accept=\".xlsx\" required>\n\
         <button type=\"submit\">导入</button>\n</form>\n</section>\n",
        round_link(job),
        csrf_token()
    );
    page(&format!("比对任务 {job}"), &body)
}

/// `/rounds/{job}/towns/{town}`: the town's problems with its people, and its claims.
pub fn town(round: &Round, town: &str) -> String {
    let set = &round.set;
    let job = round.job();
    let claims: BTreeMap<ProblemKey, Claim> =
        round.claims().claims.into_iter().filter(|c| c.town == town).map(|c| (c.key.clone(), c)).collect();
    let problems: Vec<_> = set.problems.iter().filter(|p| p.town == town).collect();
    let fixed = claims.values().filter(|c| c.claims_fixed()).count();
    // A town account is shown no page of the whole round.
    let round_name =
        if town_viewer() { escape(job) } else { format!("<a href=\"{}\">{}</a>", round_link(job), escape(job)) };
    let mut body = format!(
        "<h1>{}</h1>\n<p class=\"meta\">比对任务 {round_name} · 名册 {} 行 · {} 个问题 · 已交回整改情况 {} 条\
         （申报已整改 {fixed} 条）</p>\n",
        escape(town),
        set.towns.get(town).copied().unwrap_or(0),
        problems.len(),
        claims.len()
    );
    if round.workbook(town).is_some() {
        let _ = writeln!(body, "<p><a href=\"{}/workbook\">下载本镇街工作簿</a></p>", town_link(job, town));
    }
    body.push_str(
        "<section>\n<h2>问题清单</h2>\n<div class=\"scroll\"><table>\n<tr><th>序号</th><th class=\"l\">姓名</th>\
         <th class=\"l\">公民身份号码</th><th class=\"l\">问题类别</th><th class=\"l\">严重程度</th><th class=\"l\">部门</th>\
         <th class=\"l\">详情</th><th class=\"l\">建议措施</th><th class=\"l\">整改情况</th><th class=\"l\">整改说明</th></tr>\n",
    );
    for p in problems {
        let person = round.people.get(&p.row);
        let claim = claims.get(&p.key());
        let _ = writeln!(
            body,
            "<tr><td>{}</td><td class=\"l\">{}</td><td class=\"l\">{}</td><td class=\"l\">{}</td>\
             <td class=\"l {}\">{}</td><td class=\"l\">{}</td><td class=\"w\">{}</td><td class=\"w\">{}</td>\
             <td class=\"l\">{}</td><td class=\"w\">{}</td></tr>",
            p.row,
            escape(person.map_or("", |p| p.name.as_str())),
            escape(person.map_or("", |p| p.id_number.as_str())),
            escape(&p.label),
            severity_class(p.severity),
            p.severity_label(),
            escape(p.department_label()),
            escape(&p.detail),
            escape(&p.action),
            escape(claim.map_or("", |c| c.status.as_str())),
            escape(claim.map_or("", |c| c.note.as_str()))
        );
    }
    body.push_str("</table></div>\n</section>\n");
    let _ = write!(
        body,
        "<section>\n<h2>交回本镇街的工作簿</h2>\n<p class=\"note\">在“问题清单”的整改情况（已整改 / 核实无误 / 无法整改）和\
         整改说明中填写后上传。工作簿中有一行对不上本轮的问题，整个工作簿都不导入。</p>\n\
         <form method=\"post\" action=\"{}/claims\" enctype=\"multipart/form-data\">\n{}\n\
         <input type=\"file\" name=\"workbook\" accept=\".xlsx\" required>\n<button type=\"submit\">上传</button>\n\
         </form>\n</section>\n",
        round_link(job),
        csrf_field()
    );
    page(&format!("{town} — {job}"), &body)
}

/// After an upload: what was taken.
pub fn claims_taken(job: &str, taken: &Taken) -> String {
    let towns: Vec<String> = taken.towns.iter().map(|t| escape(t)).collect();
    page(
        "工作簿已导入",
        &format!(
            "<h1>工作簿已导入</h1>\n<section><p>比对任务 {} · {}：导入整改情况 {} 条，其中申报已整改 {} 条。</p>\
             <p>{}</p></section>\n",
            escape(job),
            towns.join("、"),
            taken.claims,
            taken.fixed,
            if town_viewer() {
                "<a href=\"/\">返回</a>".to_owned()
            } else {
                format!("<a href=\"{}\">返回本轮</a> · <a href=\"/progress\">整改进度</a>", round_link(job))
            }
        ),
    )
}

fn correction_cells(c: &Correction) -> String {
    let rate = c.completion();
    format!(
        "<td>{}</td><td>{}</td><td{}>{}</td><td>{}</td><td>{}</td><td>{}</td><td>{}</td>\
         <td class=\"l\"><span class=\"bar\" style=\"width:{:.0}px\"></span>{}</td>",
        c.before,
        c.claimed_fixed,
        if c.claimed_but_present > 0 { " class=\"serious\"" } else { "" },
        c.claimed_but_present,
        c.confirmed,
        c.fixed_unclaimed,
        c.new,
        c.still_open,
        100.0 * rate.unwrap_or(0.0),
        percent(rate)
    )
}

const CORRECTION_HEADERS: &str =
    "<th>上一轮问题</th><th>申报已整改</th><th>申报已整改但仍存在</th><th>经核验已整改</th>\
     <th>未申报但已整改</th><th>新增</th><th>仍未整改</th><th class=\"l\">整改完成率</th>";

/// One ranking table of towns: their totals, each town's name a link to its list.
fn ranking(body: &mut String, towns: &[bidui_report::claims::TownCorrection], town_job: &str) {
    let _ = writeln!(
        body,
        "<div class=\"scroll\"><table>\n<tr><th>排名</th><th class=\"l\">镇街</th>{CORRECTION_HEADERS}</tr>"
    );
    for (rank, town) in towns.iter().enumerate() {
        let _ = writeln!(
            body,
            "<tr><td>{}</td><td class=\"l\"><a href=\"{}\">{}</a></td>{}</tr>",
            rank + 1,
            town_link(town_job, &town.town),
            escape(&town.town),
            correction_cells(&town.total)
        );
    }
    body.push_str("</table></div>\n<p class=\"note\">按问题类别：</p>\n");
    for town in towns {
        let _ = write!(
            body,
            "<details><summary>{}</summary>\n<table>\n<tr><th class=\"l\">问题类别</th>{CORRECTION_HEADERS}</tr>\n",
            escape(&town.town)
        );
        for (label, c) in &town.categories {
            let _ = writeln!(body, "<tr><td class=\"l\">{}</td>{}</tr>", escape(label), correction_cells(c));
        }
        body.push_str("</table>\n</details>\n");
    }
}

/// `/progress`: the towns ranked by completion over all rounds, then each pair of
/// consecutive rounds, latest first, per category under each town.
pub fn progress(console: &Console) -> String {
    let rounds = console.rounds();
    let mut body = String::from(
        "<h1>整改进度</h1>\n<p class=\"meta\">镇街交回的整改情况，用下一轮比对核验。整改完成率 = 上一轮的问题中在下一轮已不存在的比例\
         （经核验已整改 + 未申报但已整改）；历轮累计把每相邻两轮的数字相加。</p>\n",
    );
    if rounds.len() < 2 {
        body.push_str("<section><p>只有一轮比对，下一轮比对之后才能核验整改情况。</p></section>\n");
    } else {
        let claims: Vec<_> = rounds.iter().map(|r| r.claims()).collect();
        let pairs: Vec<_> = rounds.iter().zip(&claims).map(|(r, c)| (&r.set, c)).collect();
        let latest = rounds.last().expect("two rounds or more");
        let _ = writeln!(
            body,
            "<section id=\"overall\">\n<h2>历轮累计（第1轮至第{}轮，共 {} 轮）</h2>",
            rounds.len(),
            rounds.len()
        );
        ranking(&mut body, &bidui_report::claims::progress_over(&pairs), latest.job());
        body.push_str("</section>\n");
    }
    for pair in rounds.windows(2).rev() {
        let (before, after) = (&pair[0], &pair[1]);
        let towns = bidui_report::claims::progress(&before.set, &before.claims(), &after.set);
        let _ = writeln!(
            body,
            "<section>\n<h2><a href=\"{}\">{}</a> → <a href=\"{}\">{}</a></h2>",
            round_link(before.job()),
            escape(before.job()),
            round_link(after.job()),
            escape(after.job())
        );
        ranking(&mut body, &towns, before.job());
        body.push_str("</section>\n");
    }
    page("整改进度", &body)
}

/// How often the jobs page reloads while a job is collecting.
const JOBS_REFRESH_SECONDS: u32 = 3;

/// `/jobs` on a console started without the operator's side.
pub fn jobs_without_operator() -> String {
    message(
        "比对任务",
        "控制台启动时未提供操作员配置（--operator operator.toml），不能查看比对任务的实时进度，也不能发起新一轮比对。\
         请用 bidui console --operator operator.toml --requester agent.toml --spec job.toml 启动。",
    )
}

/// A participant's stage, in words, with a bar while it uploads against an estimate and the
/// reason of a party holding the job.
fn stage(p: &bidui_core::api::ParticipantStatus) -> String {
    use bidui_core::api::ParticipantStage;
    match p.stage {
        ParticipantStage::Waiting => "等待中".to_owned(),
        ParticipantStage::Reading => "正在读取本单位数据".to_owned(),
        ParticipantStage::Uploading => match p.chunks_expected {
            Some(expected) => {
                let expected = expected.max(p.chunks).max(1);
                let share = f64::from(p.chunks) / f64::from(expected);
                format!(
                    "上传中 {}/{expected}<br><span class=\"bar\" style=\"width:{:.0}px\"></span>{:.0}%",
                    p.chunks,
                    120.0 * share,
                    100.0 * share
                )
            }
            None => "上传中".to_owned(),
        },
        ParticipantStage::Sealed => "<span class=\"notice\">已密封提交</span>".to_owned(),
        ParticipantStage::Declined => format!(
            "<span class=\"serious\">已拒绝，待人工处理</span><br>{}",
            escape(p.declined_reason.as_deref().unwrap_or_default())
        ),
    }
}

/// `/jobs`: the watched jobs, newest first, each party's progress; new rounds from the job
/// specs; watching a job created elsewhere.
pub fn jobs(console: &Console, live: &[Live]) -> String {
    let csrf = csrf_token();
    let operator = console.operator.as_ref().expect("the jobs page has an operator");
    let mut body = String::from("<h1>比对任务</h1>\n");
    if live.iter().any(Live::collecting) {
        let _ = writeln!(body, "<p class=\"meta\">有任务正在进行，本页每 {JOBS_REFRESH_SECONDS} 秒自动刷新。</p>");
    }
    for job in live {
        let w = &job.watched;
        let _ = write!(
            body,
            "<section class=\"job\">\n<h2>{}</h2>\n<p class=\"meta\">关注自 {}",
            escape(&w.job),
            escape(&w.since)
        );
        if let Some(spec) = &w.spec {
            let _ = write!(body, " · 由本控制台按 {} 发起", escape(spec));
        }
        body.push_str("</p>\n");
        match &job.status {
            None => {
                let round = w.round.as_deref().unwrap_or_default();
                let _ = writeln!(
                    body,
                    "<p class=\"state\">已完成 · 报告已生成：<a href=\"{}\">{}</a></p>",
                    round_link(&w.job),
                    escape(round)
                );
            }
            Some(Err(message)) => {
                let _ = writeln!(body, "<p class=\"serious\">无法读取任务进度：{}</p>", escape(message));
            }
            Some(Ok(status)) => {
                let state = match status.state {
                    bidui_core::api::JobState::Collecting => "进行中",
                    bidui_core::api::JobState::Complete => "已完成，等待名册方代理打开结果后生成本轮报告",
                };
                let _ = writeln!(
                    body,
                    "<p class=\"state\">{state}</p>\n<p class=\"meta\">{} · 批准文号 {}</p>",
                    escape(&status.purpose),
                    escape(&status.approval)
                );
                if let Some(error) = &w.build_error {
                    let _ = writeln!(body, "<p class=\"serious\">本轮报告未能生成：{}</p>", escape(error));
                }
                body.push_str(
                    "<table>\n<tr><th class=\"l\">参与方</th><th class=\"l\">角色</th><th class=\"l\">状态</th><th>已上传数据块</th>\
                     <th>记录数</th><th>读取行数</th><th>无效身份证号</th></tr>\n",
                );
                for p in &status.participants {
                    let role = match p.role {
                        bidui_core::api::PartyRole::Requester => "名册方",
                        bidui_core::api::PartyRole::Department => "部门",
                    };
                    let _ = writeln!(
                        body,
                        "<tr class=\"party\"><td class=\"l\">{}</td><td class=\"l\">{role}</td><td class=\"w\">{}</td><td>{}</td>\
                         <td>{}</td><td>{}</td><td>{}</td></tr>",
                        escape(&operator.party_name(&p.party)),
                        stage(p),
                        p.chunks,
                        p.records,
                        p.rows_read,
                        p.invalid_ids.values().sum::<u64>()
                    );
                }
                body.push_str("</table>\n");
            }
        }
        body.push_str("</section>\n");
    }
    if live.is_empty() {
        body.push_str("<section><p>还没有关注任何比对任务。可以在下面发起新一轮，或关注已用 bidui job create 创建的任务。</p></section>\n");
    }
    start_forms(&mut body, &operator.specs(), &csrf);
    let refresh = live.iter().any(Live::collecting).then_some(JOBS_REFRESH_SECONDS);
    page_refreshed("比对任务", &body, refresh)
}

/// The forms that start a round from a spec and watch a job created elsewhere.
fn start_forms(body: &mut String, specs: &[SpecChoice], csrf: &str) {
    body.push_str(
        "<section>\n<h2>发起新一轮比对</h2>\n<p class=\"note\">按任务配置发起，用新的任务编号（编号不能重复使用；默认在原编号后加上\
         当前时间）。操作员签名后提交比对服务，各部门代理按本单位策略执行。</p>\n",
    );
    if specs.is_empty() {
        body.push_str("<p>控制台启动时未提供任务配置（--spec job.toml）。</p>\n");
    }
    for choice in specs {
        let spec = &choice.spec;
        let _ = writeln!(
            body,
            "<form method=\"post\" action=\"/jobs/start\" class=\"start\">\n<input type=\"hidden\" name=\"csrf\" value=\"{csrf}\">\n\
             <input type=\"hidden\" name=\"spec\" value=\"{}\">\n<p>{} · {} · 批准文号 {} · {} 个部门</p>\n\
             <label>新任务编号 <input type=\"text\" name=\"job\" value=\"{}\" size=\"40\" required></label>\n\
             <button type=\"submit\">发起</button>\n</form>",
            escape(&choice.file),
            escape(&choice.file),
            escape(&spec.purpose),
            escape(&spec.approval),
            spec.departments.len(),
            escape(&crate::jobs::suggested_job_id(spec))
        );
    }
    let _ = writeln!(
        body,
        "</section>\n<section>\n<h2>关注已有任务</h2>\n<form method=\"post\" action=\"/jobs/watch\">\n\
         <input type=\"hidden\" name=\"csrf\" value=\"{csrf}\">\n<label>任务编号 <input type=\"text\" name=\"job\" size=\"40\" required>\
         </label>\n<button type=\"submit\">关注</button>\n</form>\n</section>"
    );
}

/// `/` for a town account: its own town in each round.
pub fn town_index(console: &Console, town: &str) -> String {
    let mut body = format!(
        "<h1>{}</h1>\n<p class=\"meta\">本镇街在各轮比对中的问题清单和工作簿。</p>\n<section>\n<table>\n\
         <tr><th class=\"l\">轮次</th><th class=\"l\">比对任务</th><th>问题数</th><th>已交回整改情况</th>\
         <th class=\"l\">查看</th></tr>\n",
        escape(town)
    );
    for (i, round) in console.rounds().iter().enumerate() {
        let Some(town) = round.town(town) else { continue };
        let problems = round.set.problems.iter().filter(|p| p.town == town).count();
        let answered = round.claims().claims.iter().filter(|c| c.town == town).count();
        let link = town_link(round.job(), town);
        let workbook = if round.workbook(town).is_some() {
            format!(" · <a href=\"{link}/workbook\">下载工作簿</a>")
        } else {
            String::new()
        };
        let _ = writeln!(
            body,
            "<tr><td class=\"l\">第{}轮</td><td class=\"l\">{}</td><td>{problems}</td><td>{answered}</td>\
             <td class=\"l\"><a href=\"{link}\">问题清单</a>{workbook}</td></tr>",
            i + 1,
            escape(round.job())
        );
    }
    body.push_str("</table>\n</section>\n");
    page(town, &body)
}

/// `/signin`: the form, with the token bound to this browser's sign-in cookie.
pub fn signin(token: &str, error: Option<&str>) -> String {
    let error = error.map_or(String::new(), |e| format!("<p class=\"serious\">{}</p>\n", escape(e)));
    page(
        "登录",
        &format!(
            "<h1>登录比对控制台</h1>\n<section>\n{error}<form class=\"signin\" method=\"post\" action=\"/signin\">\n\
             <input type=\"hidden\" name=\"csrf\" value=\"{}\">\n<label for=\"name\">账户名</label>\
             <input id=\"name\" name=\"name\" autocomplete=\"username\" required>\n<label for=\"password\">密码</label>\
             <input id=\"password\" name=\"password\" type=\"password\" autocomplete=\"current-password\" required>\n\
             <span></span><button type=\"submit\">登录</button>\n</form>\n<p class=\"note\">账户由区退役军人事务局\
             用 bidui console account add 开设。连续登录失败 5 次，该账户 5 分钟内不能登录；\
             同一地址 15 分钟内登录失败 20 次，该地址暂停登录。</p>\n</section>\n",
            escape(token)
        ),
    )
}

/// An event as the bureau reads it, its code beside it.
fn event_label(code: &str) -> String {
    use crate::audit::event;
    let label = match code {
        event::SIGNIN_OK => "登录",
        event::SIGNIN_FAILED => "登录失败",
        event::SIGNIN_LOCKED => "账户暂停登录",
        event::SIGNIN_THROTTLED => "来源地址暂停登录",
        event::SIGNOUT => "退出登录",
        event::EXPORT_WORKBOOK => "下载镇街工作簿",
        event::EXPORT_UPWARD_XLSX => "下载上报汇总（xlsx）",
        event::EXPORT_UPWARD_JSON => "下载上报汇总（JSON）",
        event::EXPORT_SUMMARY => "查看领导汇总页",
        event::UPLOAD_CLAIMS => "导入工作簿",
        event::UPLOAD_REFUSED => "拒绝导入（其他镇街）",
        event::FORBIDDEN => "无权访问",
        _ => "",
    };
    format!("{label} <span class=\"meta\">{}</span>", escape(code))
}

/// `/audit`: the trail, latest first, or where its chain is broken.
pub fn audit(entries: &[(Entry, String)], broken: Option<&str>) -> String {
    let mut body = String::from("<h1>审计日志</h1>\n");
    match broken {
        Some(why) => {
            let _ = writeln!(body, "<section><p class=\"serious\">哈希链校验失败：{}</p></section>", escape(why));
        }
        None => {
            let _ = writeln!(
                body,
                "<p class=\"meta\">共 {} 条，哈希链校验通过{}。每次登录（成功和失败）、退出、导出和导入都记录在内。</p>",
                entries.len(),
                entries.last().map_or(String::new(), |(_, hash)| format!("（链头 {}）", escape(&hash[..16.min(hash.len())])))
            );
        }
    }
    body.push_str(
        "<section>\n<div class=\"scroll\"><table>\n<tr><th>序号</th><th class=\"l\">时间（北京时间）</th>\
         <th class=\"l\">事件</th><th class=\"l\">账户</th><th class=\"l\">来源地址</th><th class=\"l\">内容</th></tr>\n",
    );
    for (entry, _) in entries.iter().rev() {
        let _ = writeln!(
            body,
            "<tr><td>{}</td><td class=\"l\">{}</td><td class=\"l\">{}</td><td class=\"l\">{}</td><td class=\"l\">{}</td>\
             <td class=\"w\">{}</td></tr>",
            entry.seq,
            escape(&entry.at),
            event_label(&entry.event),
            escape(&entry.account),
            escape(&entry.remote),
            escape(&entry.detail)
        );
    }
    body.push_str("</table></div>\n</section>\n");
    page("审计日志", &body)
}
