//! The `request_headers` fuzz target's seed corpus (`fuzz/seeds/request_headers`),
//! replayed through the checks the target runs (`bidui_matcher::fuzzing`), without nightly.

#[test]
fn request_headers_corpus() {
    bidui_core::fuzzing::seeds("request_headers")
        .iter()
        .for_each(|input| bidui_matcher::fuzzing::request_headers(input));
}
