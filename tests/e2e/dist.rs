//! What the Debian package installs: the systemd units pass `systemd-analyze verify` (with
//! this build's binary where they name /usr/bin/bidui), every asset `[package.metadata.deb]`
//! names exists (the binary once built), every unit is packaged, and the sample agent
//! configuration loads.

use std::path::{Path, PathBuf};
use std::process::Command;

use crate::bidui_exe;

fn repository() -> &'static Path {
    Path::new(env!("CARGO_MANIFEST_DIR"))
}

fn units() -> Vec<PathBuf> {
    let mut units: Vec<PathBuf> = std::fs::read_dir(repository().join("dist/systemd"))
        .unwrap()
        .map(|e| e.unwrap().path())
        .filter(|p| p.extension().is_some_and(|e| e == "service"))
        .collect();
    units.sort();
    assert_eq!(units.len(), 2, "{units:?}");
    units
}

#[test]
fn the_systemd_units_pass_systemd_analyze_verify() {
    if Command::new("systemd-analyze").arg("--version").output().is_err() {
        eprintln!("SKIPPED: systemd-analyze is not installed (Debian package systemd; .ci/run installs it)");
        return;
    }
    let dir = tempfile_dir("units");
    let mut names = Vec::new();
    for unit in units() {
        let text = std::fs::read_to_string(&unit).unwrap();
        assert!(text.contains("ExecStart=/usr/bin/bidui "), "{}", unit.display());
        let name = unit.file_name().unwrap().to_string_lossy().replace("@.", "@household.");
        std::fs::write(dir.join(&name), text.replace("/usr/bin/bidui", bidui_exe())).unwrap();
        names.push(dir.join(name));
    }
    let output = Command::new("systemd-analyze").arg("verify").args(&names).output().unwrap();
    let said = format!("{}{}", String::from_utf8_lossy(&output.stdout), String::from_utf8_lossy(&output.stderr));
    // An unknown or misspelt key is only a warning: any word from verify fails the test.
    assert!(output.status.success() && said.trim().is_empty(), "{said}");
}

#[test]
fn every_asset_of_the_debian_package_exists_and_every_unit_is_packaged() {
    let manifest: toml::Value =
        toml::from_str(&std::fs::read_to_string(repository().join("Cargo.toml")).unwrap()).unwrap();
    let deb = &manifest["package"]["metadata"]["deb"];
    let assets = deb["assets"].as_array().unwrap();
    let sources: Vec<&str> = assets.iter().map(|a| a[0].as_str().unwrap()).collect();
    for source in &sources {
        if *source == "target/release/bidui" {
            continue; // built by `cargo deb`
        }
        assert!(repository().join(source).is_file(), "{source} is named in [package.metadata.deb] but missing");
    }
    assert!(sources.contains(&"target/release/bidui"));
    let binary = assets.iter().find(|a| a[0].as_str() == Some("target/release/bidui")).unwrap();
    assert_eq!(binary[1].as_str(), Some("usr/bin/"), "the units start /usr/bin/bidui");
    for unit in units() {
        let relative = unit.strip_prefix(repository()).unwrap().to_string_lossy().into_owned();
        let asset = assets.iter().find(|a| a[0].as_str() == Some(relative.as_str()));
        assert_eq!(asset.map(|a| a[1].as_str()), Some(Some("lib/systemd/system/")), "{relative} not packaged");
    }
    let scripts = repository().join(deb["maintainer-scripts"].as_str().unwrap());
    let postinst = std::fs::read_to_string(scripts.join("postinst")).unwrap();
    assert!(postinst.contains("systemd-sysusers bidui.conf"), "{postinst}");
    let users = std::fs::read_to_string(repository().join("dist/sysusers.d/bidui.conf")).unwrap();
    for unit in units() {
        let text = std::fs::read_to_string(&unit).unwrap();
        let user = text.lines().find_map(|l| l.strip_prefix("User=")).unwrap();
        assert!(users.lines().any(|l| l.starts_with(&format!("u {user} "))), "{user} is not created");
    }
}

#[test]
fn the_sample_agent_configuration_loads_and_runs_only_what_it_says() {
    let config = bidui_agent::config::AgentConfig::load(&repository().join("dist/agent.toml.example")).unwrap();
    assert_eq!(config.party, "household");
    assert!(config.serve.auto_run && config.serve.max_requester_records.is_some());
    assert_eq!(config.serve.refused_fields, bidui_agent::config::RefusedFieldsAction::Hold);
    let unit = std::fs::read_to_string(repository().join("dist/systemd/bidui-agent@.service")).unwrap();
    assert!(unit.contains("ReadWritePaths=/var/lib/bidui-agent/%i"));
    assert!(config.state_dir.starts_with("/var/lib/bidui-agent/"), "the only folder the service may write");
}

fn tempfile_dir(name: &str) -> PathBuf {
    let dir = std::env::temp_dir().join(format!("bidui-dist-{name}-{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&dir);
    std::fs::create_dir_all(&dir).unwrap();
    dir
}
