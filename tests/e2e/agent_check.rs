//! `bidui agent check` through the real binary, against a live matcher over HTTPS with a
//! pinned certificate: a good configuration passes (certificate fingerprint as `keys
//! tls-cert` printed it, enrolled, epoch held); a wrong column name, another certificate
//! pinned, a key readable by others, an unreachable matcher and an agent the matcher never
//! enrolled (or knows under another key) each fail with what to fix.

use std::path::{Path, PathBuf};

use crate::district::free_port;
use crate::{bidui, printed, MatcherProcess};

/// Runs `bidui agent check` on `config` (with `extra` arguments); its exit success and stdout.
fn agent_check(config: &Path, extra: &[&str]) -> (bool, String) {
    let mut args = vec!["agent", "check", "--config", config.to_str().unwrap(), "--today", "2026-12-01"];
    args.extend_from_slice(extra);
    // In the default language, Chinese (what `bidui()` would switch to English).
    let output = std::process::Command::new(crate::bidui_exe())
        .args(&args)
        .env("LANG", "zh_CN.UTF-8")
        .env_remove("LC_ALL")
        .env_remove("LC_MESSAGES")
        .output()
        .unwrap();
    (output.status.success(), printed(&output))
}

/// `bidui agent init --dir <dir>`: the signing public key it prints.
fn init_agent(dir: &Path) -> String {
    let made = bidui(&["agent", "init", "--dir", dir.to_str().unwrap()]);
    assert!(made.status.success(), "{}", printed(&made));
    let stdout = String::from_utf8(made.stdout).unwrap();
    stdout.lines().find_map(|l| l.strip_prefix("signing_key = ")).expect("the signing key is printed").to_owned()
}

/// An agent configuration in `dir` (keys from `init_agent`, a small CSV source).
fn write_config(dir: &Path, party: &str, matcher: &str, certificate: &Path, id_column: &str) -> PathBuf {
    let path = dir.join(format!("agent-{}.toml", free_port()));
    std::fs::write(
        &path,
        format!(
            "party = \"{party}\"\nmatcher = \"{matcher}\"\nmatcher_certificate = {certificate:?}\n\
             identity_key = \"agent.ed25519\"\nx25519_key = \"agent.x25519\"\nepochs = [\"e.epoch\"]\n\
             custodian_key = \"{}\"\nstate_dir = \"state\"\n\
             [source]\npath = \"hukou.csv\"\n[columns]\nid = \"{id_column}\"\nname = \"姓名\"\n\
             [fields]\nhukou_status = \"户籍状态\"\n\
             [[policy.allow]]\nfields = [\"hukou_status\"]\npurposes = [\"优抚对象数据比对\"]\n",
            "cd".repeat(32)
        ),
    )
    .unwrap();
    path
}

#[test]
fn agent_check_passes_a_good_agent_and_catches_column_key_matcher_and_enrolment_mistakes() {
    let dir = std::env::temp_dir().join(format!("bidui-e2e-agent-check-{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&dir);
    let (matcher_dir, agent_dir) = (dir.join("matcher"), dir.join("agent"));
    std::fs::create_dir_all(&matcher_dir).unwrap();
    let (cert, key, db) = (matcher_dir.join("cert.pem"), matcher_dir.join("key.pem"), matcher_dir.join("matcher.db"));
    let fingerprint = crate::loopback_certificate(&cert, &key);

    let public_key = init_agent(&agent_dir);
    let enrolled = bidui(&[
        "matcher",
        "enroll",
        "--db",
        db.to_str().unwrap(),
        "--name",
        "gongan",
        "--role",
        "agent",
        "--public-key",
        &public_key,
        "--init",
    ]);
    assert!(enrolled.status.success(), "{}", printed(&enrolled));
    let epoch = bidui(&["keys", "new-epoch", "--out", agent_dir.join("e.epoch").to_str().unwrap()]);
    assert!(epoch.status.success(), "{}", printed(&epoch));
    let kcv = String::from_utf8(epoch.stdout).unwrap().trim().to_owned();
    std::fs::write(
        agent_dir.join("hukou.csv"),
        "姓名,公民身份号码,户籍状态\n张三,11010519491231002X,正常\n李四,4.40118E+17,死亡\n王五,,正常\n",
    )
    .unwrap();
    let matcher =
        MatcherProcess::start(&db, &["--tls-cert".as_ref(), cert.as_os_str(), "--tls-key".as_ref(), key.as_os_str()]);
    let url = format!("https://{}", matcher.address);

    // A good configuration passes, with warnings at most.
    let good = write_config(&agent_dir, "gongan", &url, &cert, "公民身份号码");
    let (ok, out) = agent_check(&good, &[]);
    assert!(ok, "{out}");
    for expected in [
        format!("[通过] 比对服务器: 比对服务器 {url} 可以连通"),
        format!("[通过] 证书: 服务器证书指纹 {fingerprint}，与 matcher_certificate 一致"),
        "[通过] 登记: 本代理已在比对服务器登记为 gongan".to_owned(),
        format!("[通过] 密钥周期: 持有密钥周期 {kcv}"),
        "[通过] 样例: 第 1 行身份证号规范化为 1101**********002X".to_owned(),
        "[警告] 样例: 第 2 行身份证号 *********** 无效：excel-mangled".to_owned(),
        "empty（为空）1 行，excel-mangled（被 Excel 改坏（科学计数法或末位变 0））1 行".to_owned(),
        "字段 hukou_status 可为以下用途密封发给请求方：优抚对象数据比对".to_owned(),
        "结论：没有错误".to_owned(),
    ] {
        assert!(out.contains(&expected), "{expected:?} missing from:\n{out}");
    }
    assert!(!out.contains("11010519491231002X") && !out.contains("[错误]"), "{out}");
    let (ok, out) = agent_check(&good, &["--lang", "en"]);
    assert!(ok && out.contains("[PASS] enrolment: this agent is enrolled at the matcher as gongan"), "{out}");

    // A wrong column name: an error listing the headers and suggesting the closest.
    let wrong_column = write_config(&agent_dir, "gongan", &url, &cert, "身份号码");
    let (ok, out) = agent_check(&wrong_column, &[]);
    assert!(!ok, "{out}");
    assert!(
        out.contains(
            "[错误] 列: columns.id = \"身份号码\" 在文件的表头中找不到；\
             文件的列名为：\"姓名\", \"公民身份号码\", \"户籍状态\""
        ) && out.contains("→ 把 columns.id 从 \"身份号码\" 改为 \"公民身份号码\"？"),
        "{out}"
    );

    // An unreachable matcher: an error naming the URL and the cause in plain words.
    let away = format!("https://127.0.0.1:{}", free_port());
    let unreachable = write_config(&agent_dir, "gongan", &away, &cert, "公民身份号码");
    let (ok, out) = agent_check(&unreachable, &[]);
    assert!(!ok, "{out}");
    assert!(
        out.contains(&format!("[错误] 比对服务器: 无法连通比对服务器 {away}：连接被拒绝（比对服务是否在运行？）")),
        "{out}"
    );
    let (ok, out) = agent_check(&unreachable, &["--lang", "en"]);
    assert!(
        !ok && out.contains(&format!(
            "[ERROR] matcher: cannot reach the matcher {away}: the connection was refused (is the matcher running?)"
        )),
        "{out}"
    );

    // A certificate other than the matcher's pinned: refused, both fingerprints shown.
    let (other_cert, other_key) = (dir.join("other-cert.pem"), dir.join("other-key.pem"));
    let other_fingerprint = crate::loopback_certificate(&other_cert, &other_key);
    let (ok, out) = agent_check(&write_config(&agent_dir, "gongan", &url, &other_cert, "公民身份号码"), &[]);
    assert!(!ok, "{out}");
    assert!(
        out.contains(&format!("[错误] 证书: 比对服务器 {url} 的证书不被信任，未发送任何数据"))
            && out.contains(&format!(
                "[错误] 证书: 服务器出示的证书指纹 {fingerprint} 与 matcher_certificate 的指纹 {other_fingerprint} 不同"
            )),
        "{out}"
    );

    // A key readable by others: an error that says the command to run.
    use std::os::unix::fs::PermissionsExt;
    let signing_key = agent_dir.join("agent.ed25519");
    std::fs::set_permissions(&signing_key, std::fs::Permissions::from_mode(0o644)).unwrap();
    let (ok, out) = agent_check(&good, &[]);
    assert!(!ok, "{out}");
    assert!(out.contains(&format!("→ chmod 600 {}", signing_key.display())), "{out}");
    std::fs::set_permissions(&signing_key, std::fs::Permissions::from_mode(0o600)).unwrap();

    // An agent the matcher never enrolled is told so, with the key to hand over; one whose
    // name is enrolled under another key is told that.
    let stranger = dir.join("stranger");
    let stranger_key = init_agent(&stranger);
    for file in ["hukou.csv", "e.epoch"] {
        std::fs::copy(agent_dir.join(file), stranger.join(file)).unwrap();
    }
    let (ok, out) = agent_check(&write_config(&stranger, "renshe", &url, &cert, "公民身份号码"), &[]);
    assert!(!ok, "{out}");
    assert!(
        out.contains("[错误] 登记: 比对服务器不认识本代理 renshe：尚未登记（unknown-signer）")
            && out.contains(&stranger_key),
        "{out}"
    );
    let (ok, out) = agent_check(&write_config(&stranger, "gongan", &url, &cert, "公民身份号码"), &[]);
    assert!(!ok && out.contains("[错误] 登记: 比对服务器为 gongan 登记的是另一把公钥"), "{out}");
    drop(matcher);
    let _ = std::fs::remove_dir_all(&dir);
}
