//! End-to-end tests: they run the real `bidui` binary as a user would.

mod id_check;

/// The `bidui` binary Cargo built for this test run.
fn bidui_exe() -> &'static str {
    env!("CARGO_BIN_EXE_bidui")
}
mod deps;
mod district;
mod keys;
mod report;
mod resume;
mod audit;
mod tls;
