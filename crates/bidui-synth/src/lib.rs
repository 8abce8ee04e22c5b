//! Placeholder so the workspace builds while this crate is being written.
