//! End-to-end tests: they run the real `bidui` binary as a user would.

mod audit;
mod browser;
mod deps;
mod district;
mod id_check;
mod keys;
mod report;
mod resume;
mod tls;

/// The `bidui` binary Cargo built for this test run.
fn bidui_exe() -> &'static str {
    env!("CARGO_BIN_EXE_bidui")
}
