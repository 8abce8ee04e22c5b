//! The key life cycle through the real binary: the custodian enrols four agents through
//! the matcher, rotates, a job runs on epoch 1, the custodian rotates again and revokes
//! one agent, a job runs on epoch 2. Agents take their epochs up sealed; the matcher
//! never holds a secret; the revoked agent is shut out; epoch-1 tokens are purged when
//! their retention ends. Agents trust the operator only through the custodian: a job
//! signed by an operator the matcher's host enrolled on its own is refused.

use std::path::{Path, PathBuf};

use crate::district::district;
use crate::{bidui, path, printed, MatcherProcess};

fn ok(args: &[&str]) -> String {
    let output = bidui(args);
    assert!(output.status.success(), "bidui {args:?} failed:\n{}", printed(&output));
    String::from_utf8(output.stdout).unwrap()
}

const PARTIES: [&str; 4] = ["veterans", "household", "housing", "petitions"];

/// An agent home: fresh keys, the demo district's mapping, epochs from the custodian only.
fn agent_home(work: &Path, party: &str, custodian_key: &str) -> (PathBuf, String, String) {
    let home = work.join("agents").join(party);
    let printed = ok(&["agent", "init", "--dir", path(&home)]);
    let key = |name: &str| printed.lines().find_map(|l| l.strip_prefix(&format!("{name} = "))).unwrap().to_owned();
    let demo = std::fs::read_to_string(district().dir.join("agents").join(party).join("agent.toml")).unwrap();
    let config = demo
        .replace(
            "epochs = [\"epoch-1.toml\"]",
            &format!("x25519_key = \"agent.x25519\"\ncustodian_key = \"{custodian_key}\""),
        )
        .lines()
        // Trust in the operator comes from the custodian's statement, not a pinned key.
        .filter(|l| !l.starts_with("matcher_certificate") && !l.starts_with("operator_key"))
        .collect::<Vec<_>>()
        .join("\n");
    std::fs::write(home.join("agent.toml"), config).unwrap();
    (home, key("signing_key"), key("x25519_key"))
}

fn job_spec(work: &Path, id: &str, kcv: &str, departments: &[&str]) -> PathBuf {
    let mut spec = format!(
        "id = \"{id}\"\npurpose = \"退役军人和其他优抚对象信息采集第二阶段数据比对\"\n\
         approval = \"keys-test\"\nepoch = \"{kcv}\"\nretention_hours = 0\n\
         [requester]\nparty = \"veterans\"\nfields = [\"town\"]\nmax_records = 2000\n"
    );
    for d in departments {
        spec.push_str(&format!(
            "[[department]]\nparty = \"{d}\"\ncompare = [\"name\"]\nfields = []\nmax_records = 10000\n"
        ));
    }
    let file = work.join(format!("{id}.toml"));
    std::fs::write(&file, spec).unwrap();
    file
}

fn rotate(custodian: &Path, url: &str) -> String {
    let printed = ok(&["keys", "rotate", "--dir", path(custodian), "--grace-hours", "0", "--matcher", url]);
    printed
        .split_whitespace()
        .skip_while(|w| *w != "value")
        .nth(1)
        .expect("rotate prints the key check value")
        .to_owned()
}

fn chunks_of(database: &Path, job: &str) -> i64 {
    let conn = bidui_matcher::store::open_read_only(database).unwrap();
    conn.query_row("SELECT COUNT(*) FROM chunks WHERE job = ?1", [job], |r| r.get(0)).unwrap()
}

#[test]
fn enrol_rotate_run_rotate_revoke_run() {
    let work = district().dir.join("keys");
    let _ = std::fs::remove_dir_all(&work);
    std::fs::create_dir_all(&work).unwrap();
    let database = work.join("matcher.db");

    // The custodian's machine and the matcher's are different: only a public key moves.
    let custodian = work.join("custodian");
    let custodian_key = ok(&["keys", "init", "--dir", path(&custodian)]).trim().to_owned();
    ok(&["matcher", "trust-custodian", "--init", "--db", path(&database), "--public-key", &custodian_key]);

    let matcher = MatcherProcess::start(&database, &["--insecure-http".as_ref()]);
    let url = matcher.http_url();
    let url = url.as_str();

    let operator_key = work.join("operator.ed25519");
    let operator_public = ok(&["keys", "init-operator", "--key", path(&operator_key)]).trim().to_owned();
    ok(&[
        "keys",
        "enroll-operator",
        "--dir",
        path(&custodian),
        "--name",
        "operator",
        "--signing-key",
        &operator_public,
        "--matcher",
        url,
    ]);
    let operator = work.join("operator.toml");
    std::fs::write(
        &operator,
        format!(
            "matcher = \"{url}\"\nname = \"operator\"\nidentity_key = \"operator.ed25519\"\nprofile = {:?}\n",
            crate::lenient_profile(&work)
        ),
    )
    .unwrap();

    let mut homes = Vec::new();
    for party in PARTIES {
        let (home, signing, x25519) = agent_home(&work, party, &custodian_key);
        ok(&[
            "keys",
            "enroll",
            "--dir",
            path(&custodian),
            "--name",
            party,
            "--signing-key",
            &signing,
            "--x25519-key",
            &x25519,
            "--matcher",
            url,
        ]);
        homes.push(home);
    }

    // Epoch 1, job 1 with all four.
    let epoch_1 = rotate(&custodian, url);
    ok(&["job", "create", path(&job_spec(&work, "keys-1", &epoch_1, &PARTIES[1..])), "--operator", path(&operator)]);
    let home_refs: Vec<&Path> = homes.iter().map(PathBuf::as_path).collect();
    for output in crate::run_agents(&home_refs, "keys-1", &["--matcher", url]) {
        assert!(output.status.success(), "{}", printed(&output));
    }
    for home in &homes {
        assert!(
            home.join("state/epochs").join(format!("{epoch_1}.epoch")).exists(),
            "{} did not take up epoch 1",
            home.display()
        );
    }
    let status = ok(&["keys", "status", "--dir", path(&custodian), "--matcher", url]);
    assert_eq!(status.matches("taken up at").count(), 4, "{status}");
    // Retention 0: the job's tokens are gone once its results exist; the results stay.
    assert_eq!(chunks_of(&database, "keys-1"), 0);
    ok(&["job", "results", "keys-1", "--operator", path(&operator), "--out", path(&work.join("structure-1.json"))]);
    assert!(homes[0].join("state/keys-1/results.json").exists(), "the requester opened its results");

    // The matcher's host enrols an operator of its own, bypassing the custodian, and
    // creates a job: no agent acts on it.
    let rogue_key = work.join("rogue.ed25519");
    let rogue_public = ok(&["keys", "init-operator", "--key", path(&rogue_key)]).trim().to_owned();
    ok(&[
        "matcher",
        "enroll",
        "--db",
        path(&database),
        "--name",
        "rogue",
        "--role",
        "operator",
        "--public-key",
        &rogue_public,
    ]);
    let rogue = work.join("rogue.toml");
    std::fs::write(
        &rogue,
        format!(
            "matcher = \"{url}\"\nname = \"rogue\"\nidentity_key = \"rogue.ed25519\"\nprofile = {:?}\n",
            crate::lenient_profile(&work)
        ),
    )
    .unwrap();
    ok(&["job", "create", path(&job_spec(&work, "keys-rogue", &epoch_1, &PARTIES[1..])), "--operator", path(&rogue)]);
    let refused = crate::run_agents(&[&homes[1]], "keys-rogue", &["--matcher", url]).remove(0);
    assert!(!refused.status.success());
    assert!(printed(&refused).contains("no custodian statement for operator \"rogue\""), "{}", printed(&refused));
    assert_eq!(chunks_of(&database, "keys-rogue"), 0, "nothing was tokenized or sent");

    // Epoch 2 is sealed to all four; then petitions is revoked before taking it up.
    let epoch_2 = rotate(&custodian, url);
    assert_ne!(epoch_1, epoch_2);
    ok(&["keys", "revoke", "--dir", path(&custodian), "--name", "petitions", "--matcher", url]);
    ok(&["job", "create", path(&job_spec(&work, "keys-2", &epoch_2, &PARTIES[1..3])), "--operator", path(&operator)]);
    // The revoked agent can neither take up epoch 2 nor take part.
    let refused = crate::run_agents(&[&homes[3]], "keys-2", &["--matcher", url]).remove(0);
    assert!(!refused.status.success());
    assert!(printed(&refused).contains("revoked"), "{}", printed(&refused));
    assert!(!homes[3].join("state/epochs").join(format!("{epoch_2}.epoch")).exists());
    let identity = bidui_client::Identity::load(&homes[3].join("agent.ed25519")).unwrap();
    let revoked = bidui_client::Client::new(url, "petitions", identity);
    assert_eq!(revoked.get::<serde_json::Value>("/v1/epochs").unwrap_err().status(), Some(403));

    // Tokens made under epoch 1 are refused by the epoch-2 job.
    let identity = bidui_client::Identity::load(&homes[1].join("agent.ed25519")).unwrap();
    let client = bidui_client::Client::new(url, "household", identity);
    let record = bidui_core::wire::TokenRecord {
        row: 1,
        groups: vec![bidui_core::wire::TokenGroup {
            id: bidui_core::Token([7; 16]),
            qid: bidui_core::Token([8; 16]),
            attrs: vec![bidui_core::Token([9; 16]); 3],
        }],
        sealed: None,
    };
    let layout = bidui_core::wire::Layout { groups: vec![3], sealed: false };
    let chunk = bidui_core::wire::encode_chunk(&layout, &[record]);
    let error = client.put_bytes(&format!("/v2/jobs/keys-2/submission/chunks/0?epoch={epoch_1}"), &chunk).unwrap_err();
    assert_eq!(error.code(), Some("wrong-epoch"), "{error}");

    for output in crate::run_agents(&home_refs[..3], "keys-2", &["--matcher", url]) {
        assert!(output.status.success(), "{}", printed(&output));
    }
    // Epoch 1 was retired with no grace by the second rotation: the agents deleted it.
    for home in &homes[..3] {
        assert!(!home.join("state/epochs").join(format!("{epoch_1}.epoch")).exists());
        assert!(home.join("state/epochs").join(format!("{epoch_2}.epoch")).exists());
    }
    assert_eq!(chunks_of(&database, "keys-1"), 0, "epoch-1 tokens are gone");

    // A rotation after the revocation seals nothing to the revoked agent.
    rotate(&custodian, url);
    let state: serde_json::Value =
        serde_json::from_slice(&std::fs::read(custodian.join("custodian.json")).unwrap()).unwrap();
    let sealed_to: Vec<&str> =
        state["epochs"][2]["sealed_to"].as_array().unwrap().iter().map(|v| v.as_str().unwrap()).collect();
    assert_eq!(sealed_to, vec!["veterans", "household", "housing"]);

    // No epoch secret in any file the matcher wrote.
    let mut secrets = Vec::new();
    for home in &homes {
        for entry in std::fs::read_dir(home.join("state/epochs")).into_iter().flatten() {
            let text = std::fs::read_to_string(entry.unwrap().path()).unwrap();
            secrets.push(
                text.lines().find_map(|l| l.strip_prefix("secret = \"")).unwrap().trim_end_matches('"').to_owned(),
            );
        }
    }
    assert!(!secrets.is_empty());
    for file in std::fs::read_dir(&work)
        .unwrap()
        .map(|e| e.unwrap().path())
        .filter(|p| p.to_string_lossy().contains("matcher.db"))
    {
        let bytes = std::fs::read(&file).unwrap();
        for secret in &secrets {
            let raw: Vec<u8> =
                (0..secret.len()).step_by(2).map(|i| u8::from_str_radix(&secret[i..i + 2], 16).unwrap()).collect();
            assert!(!bytes.windows(32).any(|w| w == raw.as_slice()), "{} holds an epoch secret", file.display());
            assert!(!bytes.windows(64).any(|w| w == secret.as_bytes()), "{} holds an epoch secret", file.display());
        }
    }
    ok(&["audit", "verify", "--db", path(&database)]);
}
