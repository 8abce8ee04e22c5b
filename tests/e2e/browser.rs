//! The leadership summary in a real browser: headless Chromium (installed by `.ci/run`
//! from Debian's packages) renders the page to a PNG with the network closed, and its
//! network log shows the page requested nothing — it works offline, as a leader's laptop
//! needs it to.

use std::path::{Path, PathBuf};
use std::process::Command;

use crate::district::district;

pub(crate) fn chromium() -> PathBuf {
    ["/usr/bin/chromium", "/usr/bin/chromium-browser", "/usr/bin/google-chrome"]
        .into_iter()
        .map(PathBuf::from)
        .find(|p| p.exists())
        .expect(
            "headless Chromium is needed for this test: \
             `.ci/run` installs it (apt-get install chromium fonts-wqy-zenhei)",
        )
}

fn headless(profile: &Path) -> Command {
    let mut command = Command::new(chromium());
    command.args([
        "--headless",
        "--no-sandbox",
        "--disable-gpu",
        "--disable-quic",
        "--no-first-run",
        "--disable-background-networking",
        "--disable-component-update",
        "--disable-sync",
        "--hide-scrollbars",
        // Anything the page tried to fetch from the network would fail here, and show.
        "--host-resolver-rules=MAP * ~NOTFOUND",
    ]);
    command.arg(format!("--user-data-dir={}", profile.display()));
    command
}

#[test]
fn the_summary_renders_offline_in_headless_chromium() {
    let d = district();
    let out = d.dir.join("browser");
    let _ = std::fs::remove_dir_all(&out);
    std::fs::create_dir_all(&out).unwrap();
    let report = out.join("report");
    let built = Command::new(crate::bidui_exe())
        .args(["report", "build"])
        .arg(d.dir.join("report/results.json"))
        .arg("--out")
        .arg(&report)
        .output()
        .unwrap();
    assert!(built.status.success(), "{}", String::from_utf8_lossy(&built.stderr));
    let page = report.join("summary.html");
    let url = format!("file://{}", page.display());

    let screenshot = out.join("summary.png");
    let shot = headless(&out.join("profile-1"))
        .arg(format!("--screenshot={}", screenshot.display()))
        .arg("--window-size=1280,2000")
        .arg(&url)
        .output()
        .unwrap();
    assert!(shot.status.success(), "chromium failed:\n{}", String::from_utf8_lossy(&shot.stderr));
    let png = std::fs::read(&screenshot).expect("chromium wrote the screenshot");
    assert_eq!(&png[..8], b"\x89PNG\r\n\x1a\n");
    assert!(png.len() > 20_000, "the screenshot is suspiciously small ({} bytes): a blank page?", png.len());

    // The rendered DOM is the report (the page was not replaced by an error page), and the
    // page asked the network for nothing: Chromium's network log, minus Chromium's own
    // service traffic, names no URL at all.
    let net_log = out.join("net-log.json");
    let dom = headless(&out.join("profile-2"))
        .arg(format!("--log-net-log={}", net_log.display()))
        .arg("--dump-dom")
        .arg(&url)
        .output()
        .unwrap();
    let html = String::from_utf8_lossy(&dom.stdout);
    assert!(html.contains("<svg"), "the charts are missing from the rendered page");
    assert!(html.contains(&d.results.job), "the rendered page does not name the job");
    let requested = page_requests(&net_log);
    assert!(requested.is_empty(), "the summary page made network requests (it must work offline): {requested:?}");
}

/// URLs in a Chromium network log, except Chromium's own background services.
fn page_requests(net_log: &Path) -> Vec<String> {
    let log: serde_json::Value =
        serde_json::from_slice(&std::fs::read(net_log).expect("chromium wrote its network log")).unwrap();
    let own = ["google.com/", "googleapis.com/", "gvt1.com/", "gstatic.com/"];
    let mut urls: Vec<String> = log["events"]
        .as_array()
        .expect("a network log has events")
        .iter()
        .filter_map(|e| e["params"]["url"].as_str())
        .filter(|url| !own.iter().any(|host| url.contains(host)))
        .map(str::to_owned)
        .collect();
    urls.sort();
    urls.dedup();
    urls
}

/// The check above catches a page that fetches: a page with a remote image and script
/// shows both in the log.
#[test]
fn the_network_check_sees_a_page_that_fetches() {
    let dir = district().dir.join("browser-control");
    let _ = std::fs::remove_dir_all(&dir);
    std::fs::create_dir_all(&dir).unwrap();
    let page = dir.join("fetching.html");
    let fetching = concat!(
        r#"<html><body><img src="http://charts.example.invalid/a.png">"#,
        r#"<script src="https://cdn.example.invalid/x.js"></script></body></html>"#
    );
    std::fs::write(&page, fetching).unwrap();
    let net_log = dir.join("net-log.json");
    let run = headless(&dir.join("profile"))
        .arg(format!("--log-net-log={}", net_log.display()))
        .arg("--dump-dom")
        .arg(format!("file://{}", page.display()))
        .output()
        .unwrap();
    assert!(run.status.success());
    let requested = page_requests(&net_log);
    assert!(requested.iter().any(|u| u.contains("charts.example.invalid")), "{requested:?}");
    assert!(requested.iter().any(|u| u.contains("cdn.example.invalid")), "{requested:?}");
}

/// `bidui console` on loopback over the district's report: Chromium renders a round's page
/// (screenshot), its DOM is the town × category table, and it fetched nothing but the
/// console's own page.
#[test]
fn the_console_serves_a_round_to_headless_chromium() {
    let d = district();
    let out = d.dir.join("browser-console");
    let _ = std::fs::remove_dir_all(&out);
    let rounds = crate::console_access::rounds(&out);
    let console = crate::ConsoleProcess::start(&["--rounds".as_ref(), rounds.as_os_str()]);
    let base = console.base.as_str();
    let url = format!("{base}/rounds/{}", d.results.job);
    // Every host name still fails; the console's loopback address is reached (the later
    // switch replaces the one headless() gives).
    let loopback_only = "--host-resolver-rules=MAP * ~NOTFOUND, EXCLUDE 127.0.0.1";

    let screenshot = out.join("round.png");
    let shot = headless(&out.join("profile-1"))
        .arg(loopback_only)
        .arg(format!("--screenshot={}", screenshot.display()))
        .arg("--window-size=1280,1600")
        .arg(&url)
        .output()
        .unwrap();
    assert!(shot.status.success(), "chromium failed:\n{}", String::from_utf8_lossy(&shot.stderr));
    let png = std::fs::read(&screenshot).expect("chromium wrote the screenshot");
    assert!(png.len() > 20_000, "the screenshot is suspiciously small ({} bytes): a blank page?", png.len());

    let net_log = out.join("net-log.json");
    let dom = headless(&out.join("profile-2"))
        .arg(loopback_only)
        .arg(format!("--log-net-log={}", net_log.display()))
        .arg("--dump-dom")
        .arg(&url)
        .output()
        .unwrap();
    let html = String::from_utf8_lossy(&dom.stdout);
    assert!(html.contains("镇街 × 问题类别") && html.contains(&d.results.job), "{html}");
    assert!(html.contains("/workbook\">下载</a>"), "no town workbook to download on the page");
    let requested: Vec<String> = page_requests(&net_log).into_iter().filter(|u| !u.starts_with(base)).collect();
    assert!(requested.is_empty(), "the console's page fetched from elsewhere: {requested:?}");
    // Every request was logged, one ASCII line each.
    let log = console.stop();
    assert!(log.lines().any(|l| l.contains(&format!("GET /rounds/{} 200", d.results.job))), "{log}");
    assert!(log.is_ascii(), "{log}");
}
