//! The console's pages: each a complete page, inline CSS, no script, nothing fetched from
//! outside; every text from the rounds goes through [`escape`]. Every word of the pages' own
//! comes from the catalogues (`console-…` keys) in the language of the thread: a page is
//! rendered inside [`crate::language::render`], in the language its request asked for.

use std::collections::BTreeMap;
use std::fmt::Write as _;

use bidui_core::api::Severity;
use bidui_i18n::t;
use bidui_report::claims::{Claim, Correction};
use bidui_report::html::escape;
use bidui_report::ProblemKey;
use percent_encoding::{utf8_percent_encode, AsciiSet, NON_ALPHANUMERIC};

use crate::accounts::Role;
use crate::audit::Entry;
use crate::jobs::{Live, SpecChoice};
use crate::language;
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
header a.language { float: right; margin-right: 0; font-weight: normal; font-size: 13px; }
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
    let switch = language_switch();
    let Some(viewer) = session::current() else { return format!("{switch}<span>{}</span>", t!("console-name")) };
    let mut links = switch;
    match viewer.role() {
        Role::Bureau => {
            let _ = write!(
                links,
                "<a href=\"/\">{}</a><a href=\"/jobs\">{}</a><a href=\"/progress\">{}</a><a href=\"/audit\">{}</a>",
                t!("console-nav-rounds"),
                t!("console-nav-jobs"),
                t!("console-nav-progress"),
                t!("console-nav-audit")
            );
        }
        Role::Town { town } => {
            let _ = write!(links, "<a href=\"/\">{}</a>", escape(town));
        }
    }
    if viewer.signed_in() {
        let _ = write!(
            links,
            "<form class=\"signout\" method=\"post\" action=\"/signout\">{}<span>{}</span>\
             <button type=\"submit\">{}</button></form>",
            csrf_field(),
            escape(viewer.account()),
            t!("console-signout")
        );
    }
    links
}

/// The link to this page in the other language, named in that language.
fn language_switch() -> String {
    let other = match bidui_i18n::language() {
        bidui_i18n::Lang::Zh => bidui_i18n::Lang::En,
        bidui_i18n::Lang::En => bidui_i18n::Lang::Zh,
    };
    format!(
        "<a class=\"language\" lang=\"{}\" href=\"{}\">{}</a>",
        other.tag(),
        escape(&language::switch_link(other)),
        t!("console-language-other")
    )
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
        "<!DOCTYPE html>\n<html lang=\"{}\">\n<head>\n<meta charset=\"utf-8\">\n{refresh}\
         <meta name=\"viewport\" content=\"width=device-width, initial-scale=1\">\n<title>{} — {}</title>\n\
         <style>{STYLE}</style>\n</head>\n<body>\n<header>{}</header>\n<main>\n{body}</main>\n<footer>{}</footer>\n\
         </body>\n</html>\n",
        bidui_i18n::language().tag(),
        escape(title),
        t!("console-name"),
        navigation(),
        escape(&t!("console-footer", time = now_in_china().to_minute_string()))
    )
}

/// A page that says one thing: an error, or that a page is not there.
pub fn message(title: &str, text: &str) -> String {
    page(
        title,
        &format!(
            "<h1>{}</h1>\n<section><p>{}</p><p><a href=\"/\">{}</a></p></section>\n",
            escape(title),
            escape(text),
            t!("console-back-to-rounds")
        ),
    )
}

/// A severity as the page's reader says it.
fn severity_label(severity: Severity) -> String {
    match severity {
        Severity::Serious => t!("console-severity-serious"),
        Severity::Normal => t!("console-severity-normal"),
        Severity::Notice => t!("console-severity-notice"),
    }
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
    let mut body = format!(
        "<h1>{}</h1>\n<p class=\"meta\">{}</p>\n<section>\n<div class=\"scroll\"><table>\n<tr><th class=\"l\">{}</th>\
         <th class=\"l\">{}</th><th class=\"l\">{}</th><th class=\"l\">{}</th><th>{}</th><th>{}</th><th>{}</th><th>{}</th>\
         <th>{}</th><th>{}</th><th>{}</th><th class=\"l\">{}</th></tr>\n",
        t!("console-rounds-title"),
        t!("console-rounds-intro"),
        t!("console-col-round"),
        t!("console-col-job"),
        t!("console-col-purpose"),
        t!("console-col-approval"),
        t!("console-col-registry-rows"),
        severity_label(Severity::Serious),
        severity_label(Severity::Normal),
        severity_label(Severity::Notice),
        t!("console-col-problems-total"),
        t!("console-col-towns"),
        t!("console-col-claims"),
        t!("console-col-view"),
    );
    for (i, round) in console.rounds().iter().enumerate() {
        let set = &round.set;
        let _ = write!(
            body,
            "<tr><td class=\"l\">{}</td><td class=\"l\"><a href=\"{}\">{}</a></td><td class=\"l\">{}</td>\
             <td class=\"l\">{}</td><td>{}</td>",
            escape(&t!("console-round-named", number = i + 1, name = round.name)),
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
            "<td>{}</td><td>{}</td><td>{}</td><td class=\"l\"><a href=\"{}\">{}</a> · \
             <a href=\"{}/summary\">{}</a></td></tr>",
            set.problems.len(),
            round.towns().len(),
            round.claims().claims.len(),
            round_link(round.job()),
            t!("console-towns-and-problems"),
            round_link(round.job()),
            t!("console-summary-page")
        );
    }
    body.push_str("</table></div>\n</section>\n");
    if console.rounds().is_empty() {
        let _ = writeln!(body, "<section><p>{}</p></section>", t!("console-no-rounds"));
    }
    if console.operator.is_some() {
        let _ = writeln!(body, "<p><a href=\"/jobs\">{}</a></p>", t!("console-see-jobs"));
    }
    page(&t!("console-rounds-title"), &body)
}

/// `/rounds/{job}`: the town × category table, coverage, downloads, the claims form.
pub fn round(round: &Round) -> String {
    let set = &round.set;
    let job = round.job();
    let by_town = set.by_town();
    let categories = set.categories();
    let claims = round.claims();
    let mut body = format!(
        "<h1>{}</h1>\n<p class=\"meta\">{}</p>\n<p><a href=\"{link}/summary\">{}</a> · \
         <a href=\"{link}/upward.xlsx\">{}</a> · <a href=\"{link}/upward.json\">{}</a></p>\n",
        escape(&t!("console-job-title", job = job)),
        escape(&t!("console-round-meta", purpose = set.purpose, approval = set.approval, dir = round.name)),
        t!("console-summary-page"),
        t!("console-upward-xlsx"),
        t!("console-upward-json"),
        link = round_link(job)
    );
    let _ = write!(
        body,
        "<section>\n<h2>{}</h2>\n<div class=\"scroll\"><table>\n<tr><th class=\"l\">{}</th><th>{}</th>",
        t!("console-town-by-category"),
        t!("console-col-town"),
        t!("console-col-registry-rows")
    );
    for (severity, label) in &categories {
        let _ = write!(body, "<th class=\"c {}\">{}</th>", severity_class(*severity), escape(label));
    }
    let _ = writeln!(
        body,
        "<th>{}</th><th>{}</th><th class=\"l\">{}</th></tr>",
        t!("console-col-total"),
        t!("console-col-claims"),
        t!("console-col-workbook")
    );
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
            format!("<a href=\"{link}/workbook\">{}</a>", t!("console-download"))
        } else {
            "—".to_owned()
        };
        let _ = writeln!(body, "<td>{}</td><td>{answered}</td><td class=\"l\">{workbook}</td></tr>", problems.len());
    }
    let _ = write!(body, "<tr class=\"total\"><td class=\"l\">{}</td>", t!("console-col-total"));
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

    let _ = writeln!(
        body,
        "<section>\n<h2>{}</h2>\n<table>\n<tr><th class=\"l\">{}</th><th>{}</th><th>{}</th>\
         <th class=\"l\">{}</th><th>{}</th></tr>",
        t!("console-coverage"),
        t!("console-col-department"),
        t!("console-col-found"),
        t!("console-col-registry-people"),
        t!("console-col-coverage"),
        t!("console-col-problems")
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
        "<section>\n<h2>{}</h2>\n<p class=\"note\">{}</p>\n\
         <form method=\"post\" action=\"{}/claims\" enctype=\"multipart/form-data\">\n\
         <input type=\"hidden\" name=\"csrf\" value=\"{}\">\n<input type=\"file\" name=\"workbook\" accept=\".xlsx\" required>\n\
         <button type=\"submit\">{}</button>\n</form>\n</section>\n",
        t!("console-import-title"),
        t!("console-import-note"),
        round_link(job),
        csrf_token(),
        t!("console-import")
    );
    page(&t!("console-job-title", job = job), &body)
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
    // The message holds no markup of its own: the link is its one variable made here.
    let mut body = format!(
        "<h1>{}</h1>\n<p class=\"meta\">{}</p>\n",
        escape(town),
        t!(
            "console-town-meta",
            job = round_name,
            rows = set.towns.get(town).copied().unwrap_or(0),
            problems = problems.len(),
            claims = claims.len(),
            fixed = fixed
        )
    );
    if round.workbook(town).is_some() {
        let _ = writeln!(
            body,
            "<p><a href=\"{}/workbook\">{}</a></p>",
            town_link(job, town),
            t!("console-download-town-workbook")
        );
    }
    let _ = writeln!(
        body,
        "<section>\n<h2>{}</h2>\n<div class=\"scroll\"><table>\n<tr><th>{}</th><th class=\"l\">{}</th>\
         <th class=\"l\">{}</th><th class=\"l\">{}</th><th class=\"l\">{}</th><th class=\"l\">{}</th>\
         <th class=\"l\">{}</th><th class=\"l\">{}</th><th class=\"l\">{}</th><th class=\"l\">{}</th></tr>",
        t!("console-problem-list"),
        t!("console-col-row"),
        t!("console-col-name"),
        t!("console-col-id-number"),
        t!("console-col-category"),
        t!("console-col-severity"),
        t!("console-col-department"),
        t!("console-col-detail"),
        t!("console-col-action"),
        t!("console-col-claim-status"),
        t!("console-col-claim-note")
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
            severity_label(p.severity),
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
        "<section>\n<h2>{}</h2>\n<p class=\"note\">{}</p>\n\
         <form method=\"post\" action=\"{}/claims\" enctype=\"multipart/form-data\">\n{}\n\
         <input type=\"file\" name=\"workbook\" accept=\".xlsx\" required>\n<button type=\"submit\">{}</button>\n\
         </form>\n</section>\n",
        t!("console-return-title"),
        t!("console-return-note"),
        round_link(job),
        csrf_field(),
        t!("console-upload")
    );
    page(&format!("{town} — {job}"), &body)
}

/// After an upload: what was taken.
pub fn claims_taken(job: &str, taken: &Taken) -> String {
    let towns: Vec<&str> = taken.towns.iter().map(String::as_str).collect();
    let back = if town_viewer() {
        format!("<a href=\"/\">{}</a>", t!("console-back"))
    } else {
        format!(
            "<a href=\"{}\">{}</a> · <a href=\"/progress\">{}</a>",
            round_link(job),
            t!("console-back-to-round"),
            t!("console-nav-progress")
        )
    };
    let title = t!("console-taken-title");
    page(
        &title,
        &format!(
            "<h1>{}</h1>\n<section><p>{}</p><p>{back}</p></section>\n",
            escape(&title),
            escape(&t!(
                "console-taken",
                job = job,
                towns = towns.join(&t!("console-list-separator")),
                claims = taken.claims,
                fixed = taken.fixed
            ))
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

/// The headers of [`correction_cells`].
fn correction_headers() -> String {
    format!(
        "<th>{}</th><th>{}</th><th>{}</th><th>{}</th><th>{}</th><th>{}</th><th>{}</th><th class=\"l\">{}</th>",
        t!("console-col-before"),
        t!("console-col-claimed-fixed"),
        t!("console-col-claimed-but-present"),
        t!("console-col-confirmed"),
        t!("console-col-fixed-unclaimed"),
        t!("console-col-new"),
        t!("console-col-still-open"),
        t!("console-col-completion")
    )
}

/// One ranking table of towns: their totals, each town's name a link to its list.
fn ranking(body: &mut String, towns: &[bidui_report::claims::TownCorrection], town_job: &str) {
    let headers = correction_headers();
    let _ = writeln!(
        body,
        "<div class=\"scroll\"><table>\n<tr><th>{}</th><th class=\"l\">{}</th>{headers}</tr>",
        t!("console-col-rank"),
        t!("console-col-town")
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
    let _ = writeln!(body, "</table></div>\n<p class=\"note\">{}</p>", t!("console-by-category"));
    for town in towns {
        let _ = write!(
            body,
            "<details><summary>{}</summary>\n<table>\n<tr><th class=\"l\">{}</th>{headers}</tr>\n",
            escape(&town.town),
            t!("console-col-category")
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
    let mut body =
        format!("<h1>{}</h1>\n<p class=\"meta\">{}</p>\n", t!("console-progress-title"), t!("console-progress-intro"));
    if rounds.len() < 2 {
        let _ = writeln!(body, "<section><p>{}</p></section>", t!("console-progress-one-round"));
    } else {
        let claims: Vec<_> = rounds.iter().map(|r| r.claims()).collect();
        let pairs: Vec<_> = rounds.iter().zip(&claims).map(|(r, c)| (&r.set, c)).collect();
        let latest = rounds.last().expect("two rounds or more");
        let _ = writeln!(
            body,
            "<section id=\"overall\">\n<h2>{}</h2>",
            t!("console-progress-overall", rounds = rounds.len())
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
    page(&t!("console-progress-title"), &body)
}

/// How often the jobs page reloads while a job is collecting.
const JOBS_REFRESH_SECONDS: u32 = 3;

/// `/jobs` on a console started without the operator's side.
pub fn jobs_without_operator() -> String {
    message(&t!("console-jobs-title"), &t!("console-jobs-no-operator"))
}

/// A participant's stage, in words, with a bar while it uploads against an estimate and the
/// reason of a party holding the job.
fn stage(p: &bidui_core::api::ParticipantStatus) -> String {
    use bidui_core::api::ParticipantStage;
    match p.stage {
        ParticipantStage::Waiting => t!("console-stage-waiting"),
        ParticipantStage::Reading => t!("console-stage-reading"),
        ParticipantStage::Uploading => match p.chunks_expected {
            Some(expected) => {
                let expected = expected.max(p.chunks).max(1);
                let share = f64::from(p.chunks) / f64::from(expected);
                format!(
                    "{}<br><span class=\"bar\" style=\"width:{:.0}px\"></span>{:.0}%",
                    t!("console-stage-uploading-of", chunks = p.chunks, expected = expected),
                    120.0 * share,
                    100.0 * share
                )
            }
            None => t!("console-stage-uploading"),
        },
        ParticipantStage::Sealed => format!("<span class=\"notice\">{}</span>", t!("console-stage-sealed")),
        ParticipantStage::Declined => format!(
            "<span class=\"serious\">{}</span><br>{}",
            t!("console-stage-declined"),
            escape(p.declined_reason.as_deref().unwrap_or_default())
        ),
    }
}

/// `/jobs`: the watched jobs, newest first, each party's progress; new rounds from the job
/// specs; watching a job created elsewhere.
pub fn jobs(console: &Console, live: &[Live]) -> String {
    let csrf = csrf_token();
    let operator = console.operator.as_ref().expect("the jobs page has an operator");
    let mut body = format!("<h1>{}</h1>\n", t!("console-jobs-title"));
    if live.iter().any(Live::collecting) {
        let _ =
            writeln!(body, "<p class=\"meta\">{}</p>", t!("console-jobs-refreshing", seconds = JOBS_REFRESH_SECONDS));
    }
    for job in live {
        let w = &job.watched;
        let _ = write!(
            body,
            "<section class=\"job\">\n<h2>{}</h2>\n<p class=\"meta\">{}",
            escape(&w.job),
            escape(&t!("console-watched-since", since = w.since))
        );
        if let Some(spec) = &w.spec {
            let _ = write!(body, " · {}", escape(&t!("console-started-here", spec = spec)));
        }
        body.push_str("</p>\n");
        match &job.status {
            None => {
                let round = w.round.as_deref().unwrap_or_default();
                let link = format!("<a href=\"{}\">{}</a>", round_link(&w.job), escape(round));
                let _ = writeln!(body, "<p class=\"state\">{}</p>", t!("console-job-reported", round = link));
            }
            Some(Err(message)) => {
                let _ = writeln!(
                    body,
                    "<p class=\"serious\">{}</p>",
                    escape(&t!("console-job-unreadable", message = message))
                );
            }
            Some(Ok(status)) => {
                let state = match status.state {
                    bidui_core::api::JobState::Collecting => t!("console-job-collecting"),
                    bidui_core::api::JobState::Complete => t!("console-job-complete"),
                };
                let _ = writeln!(
                    body,
                    "<p class=\"state\">{state}</p>\n<p class=\"meta\">{}</p>",
                    escape(&t!("console-job-meta", purpose = status.purpose, approval = status.approval))
                );
                if let Some(error) = &w.build_error {
                    let _ = writeln!(
                        body,
                        "<p class=\"serious\">{}</p>",
                        escape(&t!("console-job-build-failed", message = error))
                    );
                }
                let _ = writeln!(
                    body,
                    "<table>\n<tr><th class=\"l\">{}</th><th class=\"l\">{}</th><th class=\"l\">{}</th><th>{}</th>\
                     <th>{}</th><th>{}</th><th>{}</th></tr>",
                    t!("console-col-party"),
                    t!("console-col-role"),
                    t!("console-col-stage"),
                    t!("console-col-chunks"),
                    t!("console-col-records"),
                    t!("console-col-rows-read"),
                    t!("console-col-invalid-ids")
                );
                for p in &status.participants {
                    let role = match p.role {
                        bidui_core::api::PartyRole::Requester => t!("console-role-requester"),
                        bidui_core::api::PartyRole::Department => t!("console-role-department"),
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
        let _ = writeln!(body, "<section><p>{}</p></section>", t!("console-jobs-none"));
    }
    start_forms(&mut body, &operator.specs(), &csrf);
    let refresh = live.iter().any(Live::collecting).then_some(JOBS_REFRESH_SECONDS);
    page_refreshed(&t!("console-jobs-title"), &body, refresh)
}

/// The forms that start a round from a spec and watch a job created elsewhere.
fn start_forms(body: &mut String, specs: &[SpecChoice], csrf: &str) {
    let _ = writeln!(
        body,
        "<section>\n<h2>{}</h2>\n<p class=\"note\">{}</p>",
        t!("console-start-title"),
        t!("console-start-note")
    );
    if specs.is_empty() {
        let _ = writeln!(body, "<p>{}</p>", t!("console-start-no-specs"));
    }
    for choice in specs {
        let spec = &choice.spec;
        let _ = writeln!(
            body,
            "<form method=\"post\" action=\"/jobs/start\" class=\"start\">\n<input type=\"hidden\" name=\"csrf\" value=\"{csrf}\">\n\
             <input type=\"hidden\" name=\"spec\" value=\"{}\">\n<p>{}</p>\n\
             <label>{} <input type=\"text\" name=\"job\" value=\"{}\" size=\"40\" required></label>\n\
             <button type=\"submit\">{}</button>\n</form>",
            escape(&choice.file),
            escape(&t!(
                "console-spec",
                file = choice.file,
                purpose = spec.purpose,
                approval = spec.approval,
                departments = spec.departments.len()
            )),
            t!("console-new-job-id"),
            escape(&crate::jobs::suggested_job_id(spec)),
            t!("console-start")
        );
    }
    let _ = writeln!(
        body,
        "</section>\n<section>\n<h2>{}</h2>\n<form method=\"post\" action=\"/jobs/watch\">\n\
         <input type=\"hidden\" name=\"csrf\" value=\"{csrf}\">\n<label>{} <input type=\"text\" name=\"job\" size=\"40\" required>\
         </label>\n<button type=\"submit\">{}</button>\n</form>\n</section>",
        t!("console-watch-title"),
        t!("console-job-id"),
        t!("console-watch")
    );
}

/// `/` for a town account: its own town in each round.
pub fn town_index(console: &Console, town: &str) -> String {
    let mut body = format!(
        "<h1>{}</h1>\n<p class=\"meta\">{}</p>\n<section>\n<table>\n\
         <tr><th class=\"l\">{}</th><th class=\"l\">{}</th><th>{}</th><th>{}</th><th class=\"l\">{}</th></tr>\n",
        escape(town),
        t!("console-town-index-intro"),
        t!("console-col-round"),
        t!("console-col-job"),
        t!("console-col-problems"),
        t!("console-col-claims"),
        t!("console-col-view")
    );
    for (i, round) in console.rounds().iter().enumerate() {
        let Some(town) = round.town(town) else { continue };
        let problems = round.set.problems.iter().filter(|p| p.town == town).count();
        let answered = round.claims().claims.iter().filter(|c| c.town == town).count();
        let link = town_link(round.job(), town);
        let workbook = if round.workbook(town).is_some() {
            format!(" · <a href=\"{link}/workbook\">{}</a>", t!("console-download-workbook"))
        } else {
            String::new()
        };
        let _ = writeln!(
            body,
            "<tr><td class=\"l\">{}</td><td class=\"l\">{}</td><td>{problems}</td><td>{answered}</td>\
             <td class=\"l\"><a href=\"{link}\">{}</a>{workbook}</td></tr>",
            t!("console-round-number", number = i + 1),
            escape(round.job()),
            t!("console-problem-list")
        );
    }
    body.push_str("</table>\n</section>\n");
    page(town, &body)
}

/// `/signin`: the form, with the token bound to this browser's sign-in cookie.
pub fn signin(token: &str, error: Option<&str>) -> String {
    let error = error.map_or(String::new(), |e| format!("<p class=\"serious\">{}</p>\n", escape(e)));
    page(
        &t!("console-signin-title"),
        &format!(
            "<h1>{}</h1>\n<section>\n{error}<form class=\"signin\" method=\"post\" action=\"/signin\">\n\
             <input type=\"hidden\" name=\"csrf\" value=\"{}\">\n<label for=\"name\">{}</label>\
             <input id=\"name\" name=\"name\" autocomplete=\"username\" required>\n<label for=\"password\">{}</label>\
             <input id=\"password\" name=\"password\" type=\"password\" autocomplete=\"current-password\" required>\n\
             <span></span><button type=\"submit\">{}</button>\n</form>\n<p class=\"note\">{}</p>\n</section>\n",
            t!("console-signin-heading"),
            escape(token),
            t!("console-account-name"),
            t!("console-password"),
            t!("console-signin-title"),
            t!("console-signin-note")
        ),
    )
}

/// An event as the bureau reads it, its code beside it.
fn event_label(code: &str) -> String {
    use crate::audit::event;
    let label = match code {
        event::SIGNIN_OK => t!("console-event-signin-ok"),
        event::SIGNIN_FAILED => t!("console-event-signin-failed"),
        event::SIGNIN_LOCKED => t!("console-event-signin-locked"),
        event::SIGNIN_THROTTLED => t!("console-event-signin-throttled"),
        event::SIGNOUT => t!("console-event-signout"),
        event::EXPORT_WORKBOOK => t!("console-event-export-workbook"),
        event::EXPORT_UPWARD_XLSX => t!("console-event-export-upward-xlsx"),
        event::EXPORT_UPWARD_JSON => t!("console-event-export-upward-json"),
        event::EXPORT_SUMMARY => t!("console-event-export-summary"),
        event::UPLOAD_CLAIMS => t!("console-event-upload-claims"),
        event::UPLOAD_REFUSED => t!("console-event-upload-refused"),
        event::FORBIDDEN => t!("console-event-forbidden"),
        _ => String::new(),
    };
    format!("{label} <span class=\"meta\">{}</span>", escape(code))
}

/// `/audit`: the trail, latest first, or where its chain is broken.
pub fn audit(entries: &[(Entry, String)], broken: Option<&str>) -> String {
    let mut body = format!("<h1>{}</h1>\n", t!("console-audit-title"));
    match broken {
        Some(why) => {
            let _ = writeln!(
                body,
                "<section><p class=\"serious\">{}</p></section>",
                escape(&t!("console-audit-broken", reason = why))
            );
        }
        None => {
            let intro = match entries.last() {
                Some((_, hash)) => {
                    t!("console-audit-holds-head", entries = entries.len(), head = &hash[..16.min(hash.len())])
                }
                None => t!("console-audit-holds", entries = entries.len()),
            };
            let _ = writeln!(body, "<p class=\"meta\">{}</p>", escape(&intro));
        }
    }
    let _ = writeln!(
        body,
        "<section>\n<div class=\"scroll\"><table>\n<tr><th>{}</th><th class=\"l\">{}</th>\
         <th class=\"l\">{}</th><th class=\"l\">{}</th><th class=\"l\">{}</th><th class=\"l\">{}</th></tr>",
        t!("console-col-seq"),
        t!("console-col-time"),
        t!("console-col-event"),
        t!("console-col-account"),
        t!("console-col-remote"),
        t!("console-col-audit-detail")
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
    page(&t!("console-audit-title"), &body)
}
