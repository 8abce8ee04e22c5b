//! The console with accounts over real TLS: accounts made with `bidui console account`,
//! `bidui console` on 127.0.0.1 with the district's certificate, plain HTTP requests over
//! rustls pinned to that certificate. Staff sign in and export; a town account is refused
//! another town; the audit trail holds the sign-ins and the export.

use std::io::{Read as _, Write as _};
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::sync::Arc;

use crate::district::district;
use crate::{bidui, bidui_exe, loopback_certificate, path, printed};

const STAFF_PASSWORD: &str = "district bureau 2026";
const TOWN_PASSWORD: &str = "our own town 2026";
const NEW_TOWN_PASSWORD: &str = "our own town 2027";

/// `bidui console account <args…>` with `password` on standard input.
pub(crate) fn account(args: &[&str], password: &str) -> std::process::Output {
    account_started(args, password).wait_with_output().unwrap()
}

/// [`account`], started and not waited for.
fn account_started(args: &[&str], password: &str) -> std::process::Child {
    let mut child = Command::new(bidui_exe())
        .args(["--lang=en", "console", "account"])
        .args(args)
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    child.stdin.take().unwrap().write_all(format!("{password}\n").as_bytes()).unwrap();
    child
}

/// An answer: status, headers (lower-case names), body.
#[derive(Debug)]
struct Answer {
    status: u16,
    headers: Vec<(String, String)>,
    body: String,
}

impl Answer {
    fn header(&self, name: &str) -> Option<&str> {
        self.headers.iter().find(|(n, _)| n == name).map(|(_, v)| v.as_str())
    }

    /// `name=value` of the Set-Cookie for `name`, and the whole header.
    fn cookie(&self, name: &str) -> Option<(String, String)> {
        self.headers.iter().filter(|(n, _)| n == "set-cookie").find_map(|(_, v)| {
            let pair = v.split(';').next()?.trim();
            pair.starts_with(&format!("{name}=")).then(|| (pair.to_owned(), v.clone()))
        })
    }

    fn token(&self) -> String {
        let start = self.body.find("name=\"csrf\" value=\"").expect("a form with a token") + 19;
        self.body[start..start + self.body[start..].find('"').unwrap()].to_owned()
    }
}

/// HTTP/1.1 over TLS to `address`, trusting only `certificate`.
struct Https {
    address: String,
    config: Arc<rustls::ClientConfig>,
}

impl Https {
    fn new(address: &str, certificate: &Path) -> Https {
        use rustls::pki_types::pem::PemObject;
        let mut roots = rustls::RootCertStore::empty();
        for der in rustls::pki_types::CertificateDer::pem_file_iter(certificate).unwrap() {
            roots.add(der.unwrap()).unwrap();
        }
        let config = rustls::ClientConfig::builder_with_provider(Arc::new(rustls::crypto::ring::default_provider()))
            .with_safe_default_protocol_versions()
            .unwrap()
            .with_root_certificates(roots)
            .with_no_client_auth();
        Https { address: address.to_owned(), config: Arc::new(config) }
    }

    fn send(&self, method: &str, target: &str, cookie: Option<&str>, form: Option<&str>) -> Answer {
        let server = rustls::pki_types::ServerName::try_from("127.0.0.1").unwrap();
        let connection = rustls::ClientConnection::new(self.config.clone(), server).unwrap();
        let tcp = std::net::TcpStream::connect(&self.address).unwrap();
        tcp.set_read_timeout(Some(std::time::Duration::from_secs(30))).unwrap();
        let mut tls = rustls::StreamOwned::new(connection, tcp);
        let mut request = format!("{method} {target} HTTP/1.1\r\nhost: {}\r\nconnection: close\r\n", self.address);
        if let Some(cookie) = cookie {
            request.push_str(&format!("cookie: {cookie}\r\n"));
        }
        let body = form.unwrap_or_default();
        if form.is_some() {
            request.push_str("content-type: application/x-www-form-urlencoded\r\n");
        }
        request.push_str(&format!("content-length: {}\r\n\r\n{body}", body.len()));
        tls.write_all(request.as_bytes()).unwrap();
        let mut bytes = Vec::new();
        // The console may close without a TLS close_notify once the answer is sent.
        if let Err(e) = tls.read_to_end(&mut bytes) {
            assert_eq!(e.kind(), std::io::ErrorKind::UnexpectedEof, "{e}");
        }
        let text = String::from_utf8_lossy(&bytes).into_owned();
        let (head, body) = text.split_once("\r\n\r\n").unwrap_or((&text, ""));
        let mut lines = head.lines();
        let status = lines.next().unwrap().split_whitespace().nth(1).unwrap().parse().unwrap();
        let headers = lines
            .filter_map(|l| l.split_once(':'))
            .map(|(n, v)| (n.trim().to_ascii_lowercase(), v.trim().to_owned()))
            .collect();
        Answer { status, headers, body: body.to_owned() }
    }

    /// Signs in as a browser does (the sign-in page, then its form): the session cookie,
    /// or the refusal.
    fn signin(&self, name: &str, password: &str) -> Result<String, Answer> {
        let page = self.send("GET", "/signin", None, None);
        assert_eq!(page.status, 200, "{}", page.body);
        let (cookie, whole) = page.cookie("bidui_signin").expect("the sign-in page sets its cookie");
        assert!(whole.contains("Secure") && whole.contains("HttpOnly"), "{whole}");
        let form = format!("name={name}&password={}&csrf={}", password.replace(' ', "+"), page.token());
        let answer = self.send("POST", "/signin", Some(&cookie), Some(&form));
        match answer.cookie("bidui_session") {
            Some((session, whole)) if answer.status == 303 => {
                assert!(whole.contains("Secure") && whole.contains("SameSite=Strict"), "{whole}");
                Ok(session)
            }
            _ => Err(answer),
        }
    }
}

fn encode(text: &str) -> String {
    percent_encoding::utf8_percent_encode(text, percent_encoding::NON_ALPHANUMERIC).to_string()
}

/// A copy of the district's report as the one round of a rounds folder.
pub(crate) fn rounds(out: &Path) -> PathBuf {
    let report = district().dir.join("report");
    let round = out.join("rounds/round-1");
    std::fs::create_dir_all(round.join("towns")).unwrap();
    for file in ["problems.json", "results.json", "summary.html"] {
        std::fs::copy(report.join(file), round.join(file)).unwrap();
    }
    for town in std::fs::read_dir(report.join("towns")).unwrap() {
        let town = town.unwrap();
        std::fs::copy(town.path(), round.join("towns").join(town.file_name())).unwrap();
    }
    out.join("rounds")
}

#[test]
fn the_console_over_tls_signs_in_refuses_a_town_another_town_and_audits() {
    let d = district();
    let out = d.dir.join("console-access");
    let _ = std::fs::remove_dir_all(&out);
    std::fs::create_dir_all(&out).unwrap();
    let rounds = rounds(&out);
    let set = bidui_report::load_run(&rounds.join("round-1")).unwrap();
    let towns: Vec<&String> = set.towns.keys().collect();
    assert!(towns.len() >= 2, "the district has towns: {towns:?}");
    let (own, other) = (towns[0].as_str(), towns[1].as_str());
    let job = set.job.as_str();

    // Accounts through the CLI (in English, as every command here): the password on standard
    // input, weak ones refused.
    let accounts = out.join("accounts.json");
    let file = path(&accounts);
    let weak = account(&["add", "--accounts", file, "staff", "--role", "bureau"], "123456");
    assert!(!weak.status.success() && printed(&weak).contains("the password is too weak"), "{}", printed(&weak));
    assert!(!accounts.exists(), "nothing written for a refused password");
    assert!(!out.join("accounts.json.lock").exists(), "nor a lock file made");
    let made = account(&["add", "--accounts", file, "staff", "--role", "bureau"], STAFF_PASSWORD);
    assert!(made.status.success(), "{}", printed(&made));
    let made = account(&["add", "--accounts", file, "town-a", "--role", "town", "--town", own], TOWN_PASSWORD);
    assert!(made.status.success(), "{}", printed(&made));
    let again = account(&["add", "--accounts", file, "staff", "--role", "bureau"], "another staff 2027");
    assert!(!again.status.success() && printed(&again).contains("exists already"), "{}", printed(&again));
    #[cfg(unix)]
    {
        use std::os::unix::fs::PermissionsExt;
        assert_eq!(std::fs::metadata(&accounts).unwrap().permissions().mode() & 0o777, 0o600);
    }
    // A spare account removed; the town's password changed (the old one no longer works, below).
    let made = account(&["add", "--accounts", file, "spare", "--role", "bureau"], "one more staffer 1");
    assert!(made.status.success(), "{}", printed(&made));
    assert!(bidui(&["console", "account", "remove", "--accounts", file, "spare"]).status.success());
    let changed = account(&["passwd", "--accounts", file, "town-a"], NEW_TOWN_PASSWORD);
    assert!(changed.status.success(), "{}", printed(&changed));
    let listed = bidui(&["console", "account", "list", "--accounts", file]);
    assert_eq!(String::from_utf8_lossy(&listed.stdout), format!("staff\tbureau\ntown-a\ttown:{own}\n"));
    let text = std::fs::read_to_string(&accounts).unwrap();
    assert!(text.contains("$argon2id$") && !text.contains(STAFF_PASSWORD));

    // Beyond loopback without TLS and accounts: refused, saying what to add.
    let refused = bidui(&["console", "--rounds", path(&rounds), "--listen", "0.0.0.0:0"]);
    assert!(!refused.status.success());
    assert!(
        printed(&refused).contains("--tls-cert") && printed(&refused).contains("--accounts"),
        "{}",
        printed(&refused)
    );

    let (cert, key) = (out.join("console-cert.pem"), out.join("console-key.pem"));
    loopback_certificate(&cert, &key);
    let console = crate::ConsoleProcess::start(&[
        "--rounds".as_ref(),
        rounds.as_os_str(),
        "--accounts".as_ref(),
        accounts.as_os_str(),
        "--tls-cert".as_ref(),
        cert.as_os_str(),
        "--tls-key".as_ref(),
        key.as_os_str(),
    ]);
    let address = console.base.strip_prefix("https://").expect("the console over TLS").to_owned();
    let https = Https::new(&address, &cert);

    // No session: to the sign-in page.
    let answer = https.send("GET", &format!("/rounds/{job}"), None, None);
    assert_eq!((answer.status, answer.header("location")), (303, Some("/signin")));
    // The language switch, open before sign-in: its cookie is Secure over TLS, as the session's.
    let switched = https.send("GET", "/language?to=en&back=%2Fsignin", None, None);
    assert_eq!((switched.status, switched.header("location")), (303, Some("/signin")));
    let (choice, whole) = switched.cookie("bidui_lang").expect("the choice is kept");
    assert!(choice == "bidui_lang=en" && whole.contains("Secure") && whole.contains("HttpOnly"), "{whole}");
    let english = https.send("GET", "/signin", Some(&choice), None);
    assert!(english.body.contains("<html lang=\"en\">") && english.body.contains("Sign in"), "{}", english.body);

    // Staff: a wrong password, then in; the round and the report upward.
    let wrong = https.signin("staff", "not the password").unwrap_err();
    assert_eq!(wrong.status, 401);
    assert!(wrong.body.contains("账户名或密码不对"));
    let staff = https.signin("staff", STAFF_PASSWORD).unwrap();
    let page = https.send("GET", &format!("/rounds/{job}"), Some(&staff), None);
    assert!(page.status == 200 && page.body.contains(other), "{}", page.body);
    let upward = https.send("GET", &format!("/rounds/{job}/upward.json"), Some(&staff), None);
    assert_eq!(upward.status, 200);
    assert!(upward.body.contains("bidui-upward/1"), "{}", upward.body);

    // The town account: its own town, nothing else.
    assert_eq!(https.signin("town-a", TOWN_PASSWORD).unwrap_err().status, 401, "the password before passwd");
    let town = https.signin("town-a", NEW_TOWN_PASSWORD).unwrap();
    let mine = https.send("GET", &format!("/rounds/{job}/towns/{}", encode(own)), Some(&town), None);
    assert_eq!(mine.status, 200, "{}", mine.body);
    for target in [
        format!("/rounds/{job}/towns/{}", encode(other)),
        format!("/rounds/{job}/towns/{}/workbook", encode(other)),
        format!("/rounds/{job}"),
        format!("/rounds/{job}/upward.json"),
        "/progress".to_owned(),
    ] {
        let answer = https.send("GET", &target, Some(&town), None);
        assert_eq!(answer.status, 403, "{target}");
        assert!(answer.body.contains("无权查看"), "{target}: {}", answer.body);
    }
    drop(console);

    // The audit trail, beside the rounds: the sign-ins, the failure, the export, the refusals.
    let trail = rounds.join("console-audit.log");
    #[cfg(unix)]
    {
        use std::os::unix::fs::PermissionsExt;
        assert_eq!(std::fs::metadata(&trail).unwrap().permissions().mode() & 0o777, 0o600);
    }
    let entries = bidui_console::audit::verify(&trail).unwrap();
    let seen: Vec<(&str, &str)> = entries.iter().map(|(e, _)| (e.event.as_str(), e.account.as_str())).collect();
    for expected in [
        ("signin-failed", "staff"),
        ("signin-failed", "town-a"),
        ("signin-ok", "staff"),
        ("export-upward-json", "staff"),
        ("signin-ok", "town-a"),
        ("forbidden", "town-a"),
    ] {
        assert!(seen.contains(&expected), "{expected:?} not in {seen:?}");
    }
    assert!(entries.iter().all(|(e, _)| e.remote.starts_with("127.0.0.1:")), "{seen:?}");

    // `bidui console audit`: every entry printed, in China Standard Time; an entry changed
    // afterwards breaks the chain at its line, exit 1.
    let shown = bidui(&["console", "audit", "--rounds", path(&rounds)]);
    assert!(shown.status.success(), "{}", printed(&shown));
    let printed_lines = String::from_utf8_lossy(&shown.stdout).lines().count();
    assert_eq!(printed_lines, entries.len());
    assert!(
        String::from_utf8_lossy(&shown.stdout).contains("+08:00\texport-upward-json\tstaff"),
        "{}",
        printed(&shown)
    );
    let text = std::fs::read_to_string(&trail).unwrap();
    std::fs::write(&trail, text.replacen("\"signin-failed\"", "\"signin-ok\"", 1)).unwrap();
    let broken = bidui(&["console", "audit", "--rounds", path(&rounds)]);
    assert!(!broken.status.success(), "{}", printed(&broken));
    let changed = text.lines().position(|l| l.contains("\"signin-failed\"")).unwrap() + 1;
    let said = printed(&broken);
    assert!(said.contains("chain is broken") && said.contains(&format!("line {changed} of the audit trail")), "{said}");
}

#[test]
fn account_commands_run_at_once_keep_every_account() {
    let dir = crate::fresh_dir("console-accounts-at-once");
    let accounts = dir.join("accounts.json");
    // Eight administrators (or a script) adding towns at the same moment: each command
    // loads, hashes for tens of milliseconds and saves, so without the lock a later save
    // would drop the accounts another made meanwhile.
    let children: Vec<std::process::Child> = (0..8)
        .map(|n| {
            let (name, town) = (format!("town{n}"), format!("镇街{n}"));
            account_started(
                &["add", "--accounts", path(&accounts), &name, "--role", "town", "--town", &town],
                TOWN_PASSWORD,
            )
        })
        .collect();
    for child in children {
        let output = child.wait_with_output().unwrap();
        assert!(output.status.success(), "{}", printed(&output));
    }
    let listed = bidui(&["console", "account", "list", "--accounts", path(&accounts)]);
    let names: Vec<String> =
        String::from_utf8_lossy(&listed.stdout).lines().map(|l| l.split('\t').next().unwrap().to_owned()).collect();
    assert_eq!(names, (0..8).map(|n| format!("town{n}")).collect::<Vec<_>>());
}
