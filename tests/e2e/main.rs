//! End-to-end tests: they run the real `bidui` binary as a user would.

mod audit;
mod browser;
mod database;
mod deps;
mod district;
mod docs;
mod flood;
mod id_check;
mod keys;
mod netfault;
mod proxy;
mod report;
mod resume;
mod tls;
mod vectors;

/// The `bidui` binary Cargo built for this test run.
fn bidui_exe() -> &'static str {
    env!("CARGO_BIN_EXE_bidui")
}

/// Runs `bidui` with `args` and waits for it.
fn bidui(args: &[&str]) -> std::process::Output {
    std::process::Command::new(bidui_exe()).args(args).output().expect("run bidui")
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
