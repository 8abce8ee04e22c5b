//! The command line's own behaviour, on the real binary: folders, pipes, help, language.

use std::process::{Command, Output, Stdio};

use crate::{bidui, bidui_exe, printed};

/// `bidui demo --dir demo` used to join the relative folder twice
/// ("cannot open demo/agents/veterans/demo/data/registry.xlsx").
#[test]
fn demo_runs_in_a_relative_folder() {
    let work = tempfile::tempdir().unwrap();
    let output = Command::new(bidui_exe())
        .current_dir(work.path())
        .args(["demo", "--insecure-http", "--registry", "200", "--population", "1000", "--dir", "demo"])
        .output()
        .unwrap();
    assert!(output.status.success(), "{}", printed(&output));
    assert!(work.path().join("demo/report/summary.html").exists());
    assert!(work.path().join("demo/agents/veterans/state/zc-2019-stage2-demo/results.json").exists());
}

/// `bidui audit show | head` used to panic with "failed printing to stdout: Broken pipe".
#[test]
fn a_closed_stdout_ends_a_command_quietly() {
    let work = tempfile::tempdir().unwrap();
    let db = work.path().join("matcher.db");
    let db = db.to_str().unwrap();
    let key = "11".repeat(32);
    let trusted = bidui(&["matcher", "trust-custodian", "--db", db, "--public-key", &key, "--init"]);
    assert!(trusted.status.success(), "{}", printed(&trusted));
    // The reading end is closed before the command starts: its first line meets a closed pipe.
    let (reader, writer) = std::io::pipe().unwrap();
    drop(reader);
    let output = Command::new(bidui_exe())
        .args(["audit", "show", "--db", db])
        .stdout(Stdio::from(writer))
        .stderr(Stdio::piped())
        .output()
        .unwrap();
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert!(stderr.is_empty(), "nothing said on stderr: {stderr}");
    assert_eq!(output.status.code(), Some(141), "128 + SIGPIPE, as a shell reports a pipe closed early");
}

/// `job results`' help named files it does not write: it says the one JSON file at --out.
#[test]
fn job_results_help_says_what_it_writes() {
    let help = bidui(&["job", "results", "--help"]);
    let help = String::from_utf8_lossy(&help.stdout).split_whitespace().collect::<Vec<_>>().join(" ");
    assert!(help.contains("writes it to --out as one JSON file, nothing else"), "{help}");
    assert!(!help.contains("results.csv") && !help.contains("workbook"), "{help}");
    let chinese = bidui_in_locale("C.UTF-8", &["job", "results", "--help"]);
    let chinese = String::from_utf8_lossy(&chinese.stdout);
    assert!(chinese.contains("只写一个 JSON 文件到 --out"), "{chinese}");
}

/// `bidui` under a locale whose `LANG` is `locale`, with `args`.
fn bidui_in_locale(locale: &str, args: &[&str]) -> Output {
    let mut command = Command::new(bidui_exe());
    command.env_remove("LC_ALL").env_remove("LC_MESSAGES").env("LANG", locale).args(args);
    command.output().unwrap()
}

#[test]
fn the_cli_speaks_chinese_by_default_and_english_when_asked() {
    let work = tempfile::tempdir().unwrap();
    let epoch = |name: &str| work.path().join(name).to_str().unwrap().to_owned();
    let said = |output: Output| {
        assert!(output.status.success(), "{}", printed(&output));
        String::from_utf8(output.stderr).unwrap()
    };
    let chinese = said(bidui_in_locale("C.UTF-8", &["keys", "new-epoch", "--out", &epoch("1")]));
    assert!(chinese.contains("此文件是机密"), "{chinese}");
    let english = said(bidui_in_locale("C.UTF-8", &["--lang", "en", "keys", "new-epoch", "--out", &epoch("2")]));
    assert!(english.contains("It is SECRET"), "{english}");
    let locale = said(bidui_in_locale("en_US.UTF-8", &["keys", "new-epoch", "--out", &epoch("3")]));
    assert!(locale.contains("It is SECRET"), "{locale}");
    let asked = said(bidui_in_locale("en_US.UTF-8", &["keys", "new-epoch", "--out", &epoch("4"), "--lang", "zh"]));
    assert!(asked.contains("此文件是机密"), "{asked}");

    // Errors too: what failed, then why.
    let missing = epoch("missing.db");
    let failed = bidui_in_locale("zh_CN.UTF-8", &["audit", "verify", "--db", &missing]);
    let stderr = String::from_utf8_lossy(&failed.stderr);
    assert!(!failed.status.success() && stderr.starts_with("错误：读取") && stderr.contains("审计日志"), "{stderr}");
    let failed = bidui_in_locale("zh_CN.UTF-8", &["--lang", "en", "audit", "verify", "--db", &missing]);
    let stderr = String::from_utf8_lossy(&failed.stderr);
    assert!(stderr.starts_with("Error: reading the audit log of"), "{stderr}");
}

/// The agent's own errors used to be English only: they come in the reader's language too.
#[test]
fn the_agents_errors_speak_chinese_by_default_and_english_when_asked() {
    let work = tempfile::tempdir().unwrap();
    let missing = work.path().join("agent.toml");
    let missing = missing.to_str().unwrap();
    let run = |lang: &[&str]| {
        let args: Vec<&str> =
            lang.iter().copied().chain(["agent", "run", "--config", missing, "--job", "j1"]).collect();
        let failed = bidui_in_locale("C.UTF-8", &args);
        assert!(!failed.status.success());
        String::from_utf8(failed.stderr).unwrap()
    };
    let chinese = run(&[]);
    assert!(chinese.starts_with("错误：无法读取代理配置") && chinese.contains(missing), "{chinese}");
    let english = run(&["--lang", "en"]);
    assert!(
        english.starts_with("Error: cannot read the agent configuration") && english.contains(missing),
        "{english}"
    );
}

/// A refusal used to show only the matcher's English sentence, whatever the reader's language.
#[test]
fn a_refusal_is_explained_in_chinese_by_default_and_in_english_when_asked() {
    let work = crate::fresh_dir("cli-refusal");
    let matcher =
        crate::MatcherProcess::start(&work.join("matcher.db"), &["--insecure-http".as_ref(), "--init".as_ref()]);
    let key = work.join("stranger.ed25519");
    let created = bidui(&["keys", "init-operator", "--key", crate::path(&key)]);
    assert!(created.status.success(), "{}", printed(&created));
    let operator = work.join("stranger.toml");
    std::fs::write(
        &operator,
        format!(
            "matcher = \"{}\"\nname = \"stranger\"\nidentity_key = \"stranger.ed25519\"\nprofile = {:?}\n",
            matcher.http_url(),
            crate::lenient_profile(&work)
        ),
    )
    .unwrap();
    // An operator the matcher never enrolled asks after a job: `401 unknown-signer`.
    let run = |lang: &[&str]| {
        let args: Vec<&str> =
            lang.iter().copied().chain(["job", "status", "j1", "--operator", crate::path(&operator)]).collect();
        let refused = bidui_in_locale("C.UTF-8", &args);
        assert!(!refused.status.success());
        String::from_utf8(refused.stderr).unwrap()
    };
    let matchers_message = "the signer is not enrolled at this matcher";
    let chinese = run(&[]);
    assert!(
        chinese.contains("比对服务拒绝了")
            && chinese.contains("unknown-signer")
            && chinese.contains("签名所用的密钥未在该比对服务登记")
            && chinese.contains(matchers_message),
        "{chinese}"
    );
    let english = run(&["--lang", "en"]);
    assert!(
        english.contains("the matcher refused")
            && english.contains("The key this request was signed with is not enrolled at this matcher")
            && english.contains(matchers_message),
        "{english}"
    );
}
