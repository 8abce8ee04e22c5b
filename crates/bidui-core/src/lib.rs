//! The sans-IO core of bidui: everything two implementations must agree on byte for byte.
//!
//! - [`idnum`]: identity numbers (GB 11643-1999): normalization, upgrade, validation;
//! - [`name`]: canonical names, traditional/simplified folding, homophone comparison;
//! - [`keys`]: epoch secrets, token suites and the per-job key schedule;
//! - [`token`]: tokens and the exact messages they are MACs of;
//! - [`fieldseal`]: department values sealed to whoever knows the person (protocol v2);
//! - [`profile`]: the district profile (parties' display names and kinds, fields' labels and roles);
//! - [`seal`]: epoch secrets sealed to one agent (X25519, HKDF, ChaCha20-Poly1305) and
//!   signed by the key custodian;
//! - [`vectors`]: the protocol test vectors, generated from the code above.
//!
//! This crate does no I/O: no files, no network, no clock, no async runtime. A test
//! (`tests/e2e/deps.rs`) fails if it ever depends on tokio, axum or rusqlite.

// Unsafe code lives in one module, the SHA-NI lanes, and nowhere else in the workspace
// (every other crate forbids it). There every unsafe operation sits in its own `unsafe {}`
// block with a `// SAFETY:` note, even inside an `unsafe fn`.
#![deny(unsafe_code, unsafe_op_in_unsafe_fn)]

pub mod api;
pub mod custody;
pub mod fieldseal;
#[doc(hidden)]
pub mod fuzzing;
pub mod idnum;
pub mod keys;
pub mod name;
pub mod profile;
pub mod seal;
#[allow(unsafe_code)]
mod sha256_lanes;
pub mod token;
pub mod vectors;
pub mod wire;

pub use idnum::{CivilDate, IdError, IdNumber, Sex};
pub use keys::{
    EpochSecret, JobKeys, KeyEpoch, PairDomain, PairKeys, Purpose, PurposeKey, Suite, TokenBatch, TokenSlot,
};
pub use token::Token;
