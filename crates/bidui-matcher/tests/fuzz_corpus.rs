//! The `request_headers` fuzz target's seed corpus (`fuzz/seeds/request_headers`),
//! replayed through the checks the target runs (`bidui_matcher::fuzzing`), without nightly.

#[test]
fn request_headers_corpus() {
    bidui_core::fuzzing::seeds("request_headers")
        .iter()
        .for_each(|input| bidui_matcher::fuzzing::request_headers(input));
}

/// A bounded mutational smoke run (`bidui_core::fuzzing::smoke`; well under a second in a
/// debug build).
#[test]
fn request_headers_smoke() {
    let mut rng = fastrand::Rng::with_seed(0xb1d0_0003);
    bidui_core::fuzzing::smoke("request_headers", 16_000, &mut |n| rng.usize(..n), |input| {
        bidui_matcher::fuzzing::request_headers(input)
    });
}
