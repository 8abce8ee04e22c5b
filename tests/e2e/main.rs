//! End-to-end tests: they run the real `bidui` binary as a user would.

mod agent_check;
mod audit;
mod browser;
mod cli;
mod console_access;
mod console_loop;
mod database;
mod deps;
mod dist;
mod district;
mod docs;
mod flood;
mod guide;
mod id_check;
mod keys;
mod netfault;
mod profile;
mod proxy;
mod report;
mod resume;
mod serve;
mod tls;
mod vectors;
mod vocabulary;

/// The `bidui` binary Cargo built for this test run.
fn bidui_exe() -> &'static str {
    env!("CARGO_BIN_EXE_bidui")
}

/// A path as the `&str` argument of a command.
fn path(p: &std::path::Path) -> &str {
    p.to_str().expect("test paths are UTF-8")
}

/// An empty directory of this test run: `<tmp>/bidui-e2e-<name>-<pid>`.
fn fresh_dir(name: &str) -> std::path::PathBuf {
    let dir = std::env::temp_dir().join(format!("bidui-e2e-{name}-{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&dir);
    std::fs::create_dir_all(&dir).unwrap();
    dir
}

/// `bidui keys tls-cert --host 127.0.0.1` into `cert` and `key`: the fingerprint it prints.
fn loopback_certificate(cert: &std::path::Path, key: &std::path::Path) -> String {
    let made = bidui(&["keys", "tls-cert", "--host", "127.0.0.1", "--out-cert", path(cert), "--out-key", path(key)]);
    assert!(made.status.success(), "{}", printed(&made));
    String::from_utf8(made.stdout).unwrap().trim().to_owned()
}

/// `bidui --lang=en agent run` for each agent home's `agent.toml` in `job`, all at once (waiting up
/// to 120 s for results), with `extra` arguments: what each printed.
fn run_agents(homes: &[&std::path::Path], job: &str, extra: &[&str]) -> Vec<std::process::Output> {
    let children: Vec<std::process::Child> = homes
        .iter()
        .map(|home| {
            std::process::Command::new(bidui_exe())
                .args(["--lang=en", "agent", "run", "--results-wait", "120", "--job", job])
                .args(extra)
                .arg("--config")
                .arg(home.join("agent.toml"))
                .stdout(std::process::Stdio::piped())
                .stderr(std::process::Stdio::piped())
                .spawn()
                .expect("start an agent")
        })
        .collect();
    children.into_iter().map(|c| c.wait_with_output().expect("an agent's output")).collect()
}

/// The demo district's profile, `examples/district.toml`.
fn example_profile() -> std::path::PathBuf {
    std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("examples/district.toml")
}

/// The demo district's profile without required fields, in `dir`: for jobs that ask the
/// registry for its town only.
fn lenient_profile(dir: &std::path::Path) -> std::path::PathBuf {
    let mut text = std::fs::read_to_string(example_profile()).unwrap().replace("required = true\n", "");
    // A field of the tests' own (resume.rs's housing file).
    text.push_str("\n[[field]]\ncode = \"income\"\nlabel = \"收入\"\n");
    let file = dir.join("district-lenient.toml");
    std::fs::write(&file, text).unwrap();
    file
}

/// Runs `bidui` with `args` in English (the language these tests read; Chinese is the
/// default, shown by `cli.rs`) and waits for it.
fn bidui(args: &[&str]) -> std::process::Output {
    std::process::Command::new(bidui_exe()).arg("--lang=en").args(args).output().expect("run bidui")
}

/// Everything a finished command printed, for assertion messages.
fn printed(output: &std::process::Output) -> String {
    format!("{}{}", String::from_utf8_lossy(&output.stdout), String::from_utf8_lossy(&output.stderr))
}

/// A `bidui matcher serve` child process on a free loopback port, killed when dropped.
struct MatcherProcess {
    child: std::process::Child,
    /// `host:port`, as the matcher printed it.
    address: String,
}

impl MatcherProcess {
    /// Starts `bidui matcher serve --listen 127.0.0.1:0 --db <database> <extra…>`.
    fn start(database: &std::path::Path, extra: &[&std::ffi::OsStr]) -> MatcherProcess {
        MatcherProcess::start_at("127.0.0.1:0", database, extra)
    }

    /// [`MatcherProcess::start`] on a given address (a restart on the same port).
    fn start_at(listen: &str, database: &std::path::Path, extra: &[&std::ffi::OsStr]) -> MatcherProcess {
        MatcherProcess::spawn(std::process::Command::new(bidui_exe()), listen, database, extra)
    }

    /// [`MatcherProcess::start_at`] with `BIDUI_TEST_ABORT_BEFORE_JOIN` set: the matcher
    /// dies once the last seal of a job is committed, before its join.
    fn start_dying_before_join(listen: &str, database: &std::path::Path) -> MatcherProcess {
        let mut command = std::process::Command::new(bidui_exe());
        command.env("BIDUI_TEST_ABORT_BEFORE_JOIN", "1");
        MatcherProcess::spawn(command, listen, database, &["--insecure-http".as_ref()])
    }

    /// [`MatcherProcess::start_at`] with `BIDUI_TEST_NO_AUTOMATIC_JOIN` set: the matcher
    /// joins a job only when the operator asks (`bidui job resume`).
    fn start_without_automatic_join(database: &std::path::Path) -> MatcherProcess {
        let mut command = std::process::Command::new(bidui_exe());
        command.env("BIDUI_TEST_NO_AUTOMATIC_JOIN", "1");
        MatcherProcess::spawn(command, "127.0.0.1:0", database, &["--insecure-http".as_ref()])
    }

    /// [`MatcherProcess::start`] in a process that may open `files` files at most
    /// (`prlimit`, util-linux).
    fn start_with_open_files(files: u32, database: &std::path::Path, extra: &[&std::ffi::OsStr]) -> MatcherProcess {
        let mut command = std::process::Command::new("prlimit");
        command.arg(format!("--nofile={files}:{files}")).arg("--").arg(bidui_exe());
        MatcherProcess::spawn(command, "127.0.0.1:0", database, extra)
    }

    fn spawn(
        mut command: std::process::Command,
        listen: &str,
        database: &std::path::Path,
        extra: &[&std::ffi::OsStr],
    ) -> MatcherProcess {
        use std::io::BufRead;
        let mut child = command
            .args(["matcher", "serve", "--listen", listen, "--db"])
            .arg(database)
            .args(extra)
            .stdout(std::process::Stdio::piped())
            .stderr(std::process::Stdio::null())
            .spawn()
            .expect("start the matcher");
        let mut line = String::new();
        std::io::BufReader::new(child.stdout.take().expect("piped stdout"))
            .read_line(&mut line)
            .expect("read the matcher's address");
        let address = line.trim().strip_prefix("listening on ").expect("the matcher prints its address").to_owned();
        MatcherProcess { child, address }
    }

    fn http_url(&self) -> String {
        format!("http://{}", self.address)
    }
}

impl Drop for MatcherProcess {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// `bidui console` on 127.0.0.1 (a free port) with `args`, killed when dropped; `base` is its
/// address as its first log line gives it (`http://…` or `https://…`, no trailing slash).
struct ConsoleProcess {
    child: std::process::Child,
    base: String,
    /// The rest of its log (stderr), gathered until it ends.
    log: Option<std::thread::JoinHandle<String>>,
}

impl ConsoleProcess {
    fn start(args: &[&std::ffi::OsStr]) -> ConsoleProcess {
        use std::io::BufRead as _;
        let mut child = std::process::Command::new(bidui_exe())
            .args(["console", "--listen", "127.0.0.1:0"])
            .args(args)
            .stderr(std::process::Stdio::piped())
            .spawn()
            .expect("start bidui console");
        let mut stderr = std::io::BufReader::new(child.stderr.take().unwrap());
        let mut line = String::new();
        stderr.read_line(&mut line).unwrap();
        let base = line
            .split_whitespace()
            .find(|w| w.starts_with("http://127.0.0.1:") || w.starts_with("https://127.0.0.1:"))
            .unwrap_or_else(|| panic!("no address in the console's first line: {line}"))
            .trim_end_matches('/')
            .to_owned();
        let log = std::thread::spawn(move || {
            let mut log = String::new();
            let _ = std::io::Read::read_to_string(&mut stderr, &mut log);
            log
        });
        ConsoleProcess { child, base, log: Some(log) }
    }

    /// Stops the console; its log after the first line, whole.
    fn stop(mut self) -> String {
        let _ = self.child.kill();
        let _ = self.child.wait();
        self.log.take().map(|log| log.join().unwrap_or_default()).unwrap_or_default()
    }
}

impl Drop for ConsoleProcess {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}
