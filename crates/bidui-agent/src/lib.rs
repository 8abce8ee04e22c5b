//! Department agent of bidui: reads a department's exports and tokenizes identity numbers locally.

pub mod source;
