//! Personal names: canonical form and comparison. (Being written.)

/// Canonical form of a name for comparison and tokens.
pub fn canonical(name: &str) -> String {
    name.chars().filter(|c| !c.is_whitespace()).collect()
}
