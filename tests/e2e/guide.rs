//! The operator's guide cannot rot: every block fenced as `sh` in `docs/guide.zh.md` runs, in order,
//! with the real `bidui` on loopback in a fresh folder, and the English guide's blocks are
//! the same commands. The guide's conventions (its §0) say what the reader substitutes:
//! `bidui` on the `PATH`, `EXAMPLES` naming `examples/`, and values printed by earlier
//! steps kept in shell variables. The only change made here is the matcher's port, a free
//! one in place of the guide's 8700.

use std::path::Path;
use std::process::Command;

use crate::{bidui_exe, fresh_dir, printed};

/// The guide's `sh` blocks, each with the line its fence opens on.
fn runnable_blocks(guide: &str) -> Vec<(usize, String)> {
    let mut blocks = Vec::new();
    let mut current: Option<(usize, String)> = None;
    for (number, line) in guide.lines().enumerate() {
        match (&mut current, line.trim_end()) {
            (None, "```sh") => current = Some((number + 1, String::new())),
            (Some(_), "```") => blocks.push(current.take().unwrap()),
            (Some((_, text)), _) => {
                text.push_str(line);
                text.push('\n');
            }
            (None, _) => {}
        }
    }
    assert!(current.is_none(), "an sh block is not closed");
    blocks
}

/// A block's commands: comment lines, which may be translated, left out.
fn commands(block: &str) -> Vec<&str> {
    block.lines().filter(|l| !l.trim_start().starts_with('#')).collect()
}

fn read(name: &str) -> String {
    let file = Path::new(env!("CARGO_MANIFEST_DIR")).join("docs").join(name);
    std::fs::read_to_string(&file).unwrap_or_else(|e| panic!("{}: {e}", file.display()))
}

/// A loopback port nobody listens on now.
fn free_port() -> u16 {
    std::net::TcpListener::bind("127.0.0.1:0").unwrap().local_addr().unwrap().port()
}

#[test]
fn both_guides_give_the_same_commands() {
    let zh = runnable_blocks(&read("guide.zh.md"));
    let en = runnable_blocks(&read("guide.en.md"));
    assert_eq!(zh.len(), en.len(), "the guides have different numbers of sh blocks");
    for ((zh_line, zh_block), (en_line, en_block)) in zh.iter().zip(&en) {
        assert_eq!(
            commands(zh_block),
            commands(en_block),
            "guide.zh.md line {zh_line} and guide.en.md line {en_line} differ"
        );
    }
}

#[test]
fn every_command_of_the_guide_runs() {
    let blocks = runnable_blocks(&read("guide.zh.md"));
    let all: String = blocks.iter().map(|(_, b)| b.as_str()).collect();
    // Guards the extraction: the guide's life cycle is all there.
    for step in [
        "keys init",
        "matcher serve --init",
        "keys enroll",
        "agent check",
        "job create",
        "agent run",
        "report build",
        "report diff",
        "matcher backup",
        "keys rotate",
        "keys revoke",
        "--grace-hours 0",
    ] {
        assert!(all.contains(step), "no sh block of the guide runs `{step}`");
    }
    let port = free_port().to_string();
    // Every block in one shell, so variables carry over; a failing command stops it, and the
    // marker before each block tells which one. The trap stops a matcher left running.
    let mut script = String::from("set -euo pipefail\ntrap 'kill $(jobs -p) 2>/dev/null || true' EXIT\n");
    for (line, block) in &blocks {
        script.push_str(&format!("echo '==> guide.zh.md line {line}'\n"));
        script.push_str(&block.replace("127.0.0.1:8700", &format!("127.0.0.1:{port}")));
    }
    let work = fresh_dir("guide");
    let bin = Path::new(bidui_exe()).parent().unwrap();
    let path = format!("{}:{}", bin.display(), std::env::var("PATH").unwrap_or_default());
    let output = Command::new("bash")
        .arg("-c")
        .arg(&script)
        .current_dir(&work)
        .env("PATH", path)
        .env("EXAMPLES", Path::new(env!("CARGO_MANIFEST_DIR")).join("examples"))
        .output()
        .expect("run bash");
    assert!(
        output.status.success(),
        "a command of the guide failed (the last marker says where):\n{}",
        printed(&output)
    );
    // What the guide promises exists: town workbooks, the summary, the diff's rounds, and
    // the third job completed with the re-enrolled agent.
    assert!(work.join("report-r1/summary.html").exists());
    assert!(std::fs::read_dir(work.join("resolved-r1")).unwrap().count() > 1, "town workbooks with names");
    let stdout = String::from_utf8_lossy(&output.stdout);
    assert!(stdout.contains("zc-2026-stage2-r1") && stdout.contains("zc-2026-stage2-r2"), "{stdout}");
    assert!(work.join("agents/veterans/state/zc-2026-stage2-r3/results.json").exists());
    let _ = std::fs::remove_dir_all(&work);
}
