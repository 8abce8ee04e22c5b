//! An agent on a bad network: the matcher in its own network namespace behind a veth pair,
//! the link taken down for three seconds mid-upload. The agent finishes, and the matcher
//! holds every record once (issue #11). Needs root and iproute2 (`.ci/run` installs it).
//! (`tc netem` delay and loss would belong here too, but this sandbox's kernel has no
//! `sch_netem`.)

use std::process::Command;
use std::time::Duration;

use crate::district::{district, JOB};
use crate::{bidui_exe, printed, MatcherProcess};

/// A network namespace with a veth pair to the host; deleted (with the pair) when dropped.
struct Namespace {
    name: String,
    host_link: String,
    inside_ip: String,
}

fn run(args: &[&str]) {
    let output = Command::new(args[0]).args(&args[1..]).output().unwrap();
    assert!(output.status.success(), "{args:?}: {}", printed(&output));
}

impl Namespace {
    fn new() -> Namespace {
        let id = std::process::id() % 10_000;
        let (name, host_link, inside_link) = (format!("bidui{id}"), format!("bvh{id}"), format!("bvn{id}"));
        let subnet = format!("10.213.{}", id % 250);
        let (host_ip, inside_ip) = (format!("{subnet}.1"), format!("{subnet}.2"));
        let _ = Command::new("ip").args(["netns", "del", &name]).output();
        run(&["ip", "netns", "add", &name]);
        let namespace = Namespace { name, host_link, inside_ip };
        let ns = namespace.name.as_str();
        run(&["ip", "link", "add", &namespace.host_link, "type", "veth", "peer", "name", &inside_link]);
        run(&["ip", "link", "set", &inside_link, "netns", ns]);
        run(&["ip", "addr", "add", &format!("{host_ip}/30"), "dev", &namespace.host_link]);
        run(&["ip", "link", "set", &namespace.host_link, "up"]);
        run(&[
            "ip",
            "netns",
            "exec",
            ns,
            "ip",
            "addr",
            "add",
            &format!("{}/30", namespace.inside_ip),
            "dev",
            &inside_link,
        ]);
        run(&["ip", "netns", "exec", ns, "ip", "link", "set", &inside_link, "up"]);
        run(&["ip", "netns", "exec", ns, "ip", "link", "set", "lo", "up"]);
        namespace
    }

    fn link(&self, up: bool) {
        run(&["ip", "link", "set", &self.host_link, if up { "up" } else { "down" }]);
    }
}

impl Drop for Namespace {
    fn drop(&mut self) {
        let _ = Command::new("ip").args(["netns", "del", &self.name]).output();
    }
}

#[test]
fn an_agent_finishes_its_upload_over_a_link_that_goes_down_for_a_while() {
    let d = district();
    let work = d.dir.join("netfault");
    std::fs::create_dir_all(&work).unwrap();
    let net = Namespace::new();
    let mut inside = Command::new("ip");
    inside.args(["netns", "exec", &net.name, bidui_exe()]);
    let matcher = MatcherProcess::spawn(
        inside,
        &format!("{}:0", net.inside_ip),
        &d.dir.join("matcher/matcher.db"),
        &["--insecure-http".as_ref(), "--allow-non-loopback".as_ref()],
    );
    let url = matcher.http_url();
    let jobs = crate::resume::Jobs::new(d, &work, &url);
    let job = "netfault-1";
    jobs.create(job, "household");
    let household =
        crate::resume::agent_reading(d, "household", &d.dir.join("data/household.csv"), &work.join("household-state"));
    let mut agent = Command::new(bidui_exe())
        .args(["agent", "run", "--chunk-records", "5", "--job", job, "--matcher", &url, "--config"])
        .arg(&household)
        .stdout(std::process::Stdio::piped())
        .stderr(std::process::Stdio::piped())
        .spawn()
        .unwrap();
    while jobs.participant(job, "household").chunks < 5 {
        std::thread::sleep(Duration::from_millis(50));
    }
    net.link(false);
    assert!(agent.try_wait().unwrap().is_none(), "the agent must still be uploading when the link goes down");
    std::thread::sleep(Duration::from_secs(3));
    net.link(true);
    let output = agent.wait_with_output().unwrap();
    assert!(output.status.success(), "{}", printed(&output));
    let held = jobs.participant(job, "household");
    let reference = jobs.participant(JOB, "household");
    assert!(held.sealed, "{held:?}");
    assert_eq!((held.records, held.rows_read), (reference.records, reference.rows_read));
}
