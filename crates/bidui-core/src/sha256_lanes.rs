//! SHA-256 compressions of several independent blocks at once.
//!
//! The agent's inner loop is single-block HMAC-SHA256: two compressions per token, five
//! to seven tokens per row. One SHA-NI compression is a chain of 32 `sha256rnds2`
//! instructions, each waiting for the last, so a core runs one stream at a fraction of
//! what its SHA unit can do. Interleaving four independent streams keeps the unit busy:
//! measured on the 2-core AMD EPYC (Zen 4) this project benchmarks on, 40 ns per block
//! one at a time (the `sha2` crate), 22 ns per block four at a time.
//!
//! Without SHA-NI (or off x86-64) each block goes through `sha2::compress256` in turn.

/// Initial hash value of SHA-256 (FIPS 180-4 §5.3.3).
pub(crate) const SHA256_IV: [u32; 8] =
    [0x6a09e667, 0xbb67ae85, 0x3c6ef372, 0xa54ff53a, 0x510e527f, 0x9b05688c, 0x1f83d9ab, 0x5be0cd19];

/// How many streams one interleaved compression runs.
pub(crate) const LANES: usize = 4;

/// Which compression [`compress`] runs on this CPU.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
// Off x86-64 only the portable path exists.
#[cfg_attr(not(target_arch = "x86_64"), allow(dead_code))]
pub(crate) enum Sha256Path {
    /// Four streams interleaved with the SHA-NI instructions (`shani`).
    ShaNi,
    /// One block at a time with `sha2::compress256`.
    Portable,
}

/// The path [`compress`] takes on this CPU. std caches the CPUID answer, so each call is
/// a few loads and tests.
pub(crate) fn active_path() -> Sha256Path {
    #[cfg(target_arch = "x86_64")]
    if shani::available() {
        return Sha256Path::ShaNi;
    }
    Sha256Path::Portable
}

/// Compresses `blocks[i]` into `states[i]` for every `i`, as `sha2::compress256` would
/// one block at a time.
pub(crate) fn compress(states: &mut [[u32; 8]], blocks: &[[u8; 64]]) {
    assert_eq!(states.len(), blocks.len(), "one block per state");
    #[cfg(target_arch = "x86_64")]
    if active_path() == Sha256Path::ShaNi {
        // SAFETY: `active_path` answers `ShaNi` only when `shani::available()` found every
        // CPU feature `shani::compress` is compiled for.
        unsafe { shani::compress(states, blocks) };
        return;
    }
    compress_portable(states, blocks);
}

fn compress_portable(states: &mut [[u32; 8]], blocks: &[[u8; 64]]) {
    for (state, block) in states.iter_mut().zip(blocks) {
        sha2::compress256(state, &[(*block).into()]);
    }
}

#[cfg(target_arch = "x86_64")]
mod shani {
    use std::arch::x86_64::*;

    use super::LANES;

    /// Whether the CPU has every feature the functions below are compiled for.
    pub(super) fn available() -> bool {
        std::arch::is_x86_feature_detected!("sha")
            && std::arch::is_x86_feature_detected!("sse2")
            && std::arch::is_x86_feature_detected!("ssse3")
            && std::arch::is_x86_feature_detected!("sse4.1")
    }

    /// The SHA-256 round constants, four per `sha256rnds2` pair.
    static K: [[u32; 4]; 16] = [
        [0x428a2f98, 0x71374491, 0xb5c0fbcf, 0xe9b5dba5],
        [0x3956c25b, 0x59f111f1, 0x923f82a4, 0xab1c5ed5],
        [0xd807aa98, 0x12835b01, 0x243185be, 0x550c7dc3],
        [0x72be5d74, 0x80deb1fe, 0x9bdc06a7, 0xc19bf174],
        [0xe49b69c1, 0xefbe4786, 0x0fc19dc6, 0x240ca1cc],
        [0x2de92c6f, 0x4a7484aa, 0x5cb0a9dc, 0x76f988da],
        [0x983e5152, 0xa831c66d, 0xb00327c8, 0xbf597fc7],
        [0xc6e00bf3, 0xd5a79147, 0x06ca6351, 0x14292967],
        [0x27b70a85, 0x2e1b2138, 0x4d2c6dfc, 0x53380d13],
        [0x650a7354, 0x766a0abb, 0x81c2c92e, 0x92722c85],
        [0xa2bfe8a1, 0xa81a664b, 0xc24b8b70, 0xc76c51a3],
        [0xd192e819, 0xd6990624, 0xf40e3585, 0x106aa070],
        [0x19a4c116, 0x1e376c08, 0x2748774c, 0x34b0bcb5],
        [0x391c0cb3, 0x4ed8aa4a, 0x5b9cca4f, 0x682e6ff3],
        [0x748f82ee, 0x78a5636f, 0x84c87814, 0x8cc70208],
        [0x90befffa, 0xa4506ceb, 0xbef9a3f7, 0xc67178f2],
    ];

    /// Compresses `blocks[i]` into `states[i]`, four streams at a time and the rest one
    /// by one.
    ///
    /// # Safety
    ///
    /// The CPU must have the features this function is compiled for ([`available`]).
    #[target_feature(enable = "sha,sse2,ssse3,sse4.1")]
    pub(super) unsafe fn compress(states: &mut [[u32; 8]], blocks: &[[u8; 64]]) {
        let mut states = states.chunks_exact_mut(LANES);
        let mut blocks = blocks.chunks_exact(LANES);
        for (state, block) in (&mut states).zip(&mut blocks) {
            compress_interleaved::<LANES>(state.try_into().expect("4 lanes"), block.try_into().expect("4 lanes"));
        }
        for (state, block) in states.into_remainder().iter_mut().zip(blocks.remainder()) {
            compress_interleaved::<1>(std::array::from_mut(state), std::array::from_ref(block));
        }
    }

    /// Reads four words with one unaligned load.
    #[target_feature(enable = "sse2")]
    #[inline]
    fn load(words: &[u32; 4]) -> __m128i {
        // SAFETY: `words` is 16 readable bytes and `_mm_loadu_si128` has no alignment
        // requirement.
        unsafe { _mm_loadu_si128(words.as_ptr().cast()) }
    }

    /// Reads 16 bytes with one unaligned load.
    #[target_feature(enable = "sse2")]
    #[inline]
    fn load_bytes(bytes: &[u8; 16]) -> __m128i {
        // SAFETY: `bytes` is 16 readable bytes and `_mm_loadu_si128` has no alignment
        // requirement.
        unsafe { _mm_loadu_si128(bytes.as_ptr().cast()) }
    }

    /// Writes four words with one unaligned store.
    #[target_feature(enable = "sse2")]
    #[inline]
    fn store(words: &mut [u32; 4], value: __m128i) {
        // SAFETY: `words` is 16 writable bytes borrowed exclusively, and
        // `_mm_storeu_si128` has no alignment requirement.
        unsafe { _mm_storeu_si128(words.as_mut_ptr().cast(), value) }
    }

    /// Intel's SHA-NI compression (as in the `sha2` crate), with the rounds of `N`
    /// streams interleaved so their `sha256rnds2` chains overlap. Inlined into
    /// [`compress`], which has the same target features.
    #[target_feature(enable = "sha,sse2,ssse3,sse4.1")]
    #[inline]
    fn compress_interleaved<const N: usize>(states: &mut [[u32; 8]; N], blocks: &[[u8; 64]; N]) {
        let byte_swap = _mm_set_epi64x(0x0C0D_0E0F_0809_0A0Bu64 as i64, 0x0405_0607_0001_0203u64 as i64);
        let mut abef = [_mm_setzero_si128(); N];
        let mut cdgh = [_mm_setzero_si128(); N];
        let mut words = [[_mm_setzero_si128(); 4]; N];
        for lane in 0..N {
            let [dcba, efgh]: &[[u32; 4]; 2] = states[lane].as_chunks().0.try_into().expect("two halves");
            let dcba = load(dcba);
            let efgh = _mm_shuffle_epi32(load(efgh), 0x1B);
            let cdab = _mm_shuffle_epi32(dcba, 0xB1);
            abef[lane] = _mm_alignr_epi8(cdab, efgh, 8);
            cdgh[lane] = _mm_blend_epi16(efgh, cdab, 0xF0);
            for (word, bytes) in words[lane].iter_mut().zip(blocks[lane].as_chunks::<16>().0) {
                *word = _mm_shuffle_epi8(load_bytes(bytes), byte_swap);
            }
        }
        let (abef_before, cdgh_before) = (abef, cdgh);
        for (quad, k) in K.iter().enumerate() {
            let k = load(k);
            for lane in 0..N {
                let w = &mut words[lane];
                let message = if quad < 4 {
                    w[quad]
                } else {
                    // W[t..t+4] from W[t-16..t-12], W[t-15], W[t-7..t-3] and W[t-4..t].
                    let (w16, w12, w8, w4) = (w[quad % 4], w[(quad + 1) % 4], w[(quad + 2) % 4], w[(quad + 3) % 4]);
                    let sum = _mm_add_epi32(_mm_sha256msg1_epu32(w16, w12), _mm_alignr_epi8(w4, w8, 4));
                    w[quad % 4] = _mm_sha256msg2_epu32(sum, w4);
                    w[quad % 4]
                };
                let message_k = _mm_add_epi32(message, k);
                cdgh[lane] = _mm_sha256rnds2_epu32(cdgh[lane], abef[lane], message_k);
                abef[lane] = _mm_sha256rnds2_epu32(abef[lane], cdgh[lane], _mm_shuffle_epi32(message_k, 0x0E));
            }
        }
        for lane in 0..N {
            let abef = _mm_add_epi32(abef[lane], abef_before[lane]);
            let cdgh = _mm_add_epi32(cdgh[lane], cdgh_before[lane]);
            let feba = _mm_shuffle_epi32(abef, 0x1B);
            let dchg = _mm_shuffle_epi32(cdgh, 0xB1);
            let [dcba, efgh]: &mut [[u32; 4]; 2] = states[lane].as_chunks_mut().0.try_into().expect("two halves");
            store(dcba, _mm_blend_epi16(feba, dchg, 0xF0));
            store(efgh, _mm_alignr_epi8(dchg, feba, 8));
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Runs `compress_with` on one- and two-block messages, a different one per lane, and
    /// compares every lane with ring's SHA-256 of its message: ring shares no code with
    /// either path, so a wrong round, lane mix-up or byte order shows. Every count from 0
    /// to 3 full groups plus each remainder; the second block starts from a state that is
    /// not the IV.
    fn assert_gives_ring_sha256(compress_with: impl Fn(&mut [[u32; 8]], &[[u8; 64]])) {
        for count in 0..=(3 * LANES + 3) {
            for length in [0, 3, 55, 56, 64, 119] {
                let messages: Vec<Vec<u8>> =
                    (0..count).map(|lane| (0..length).map(|i| (i * 31 + lane * 97 + 5) as u8).collect()).collect();
                let padded: Vec<Vec<[u8; 64]>> = messages.iter().map(|m| padded_blocks(m)).collect();
                let mut states = vec![SHA256_IV; count];
                for block in 0..padded.first().map_or(0, Vec::len) {
                    let blocks: Vec<[u8; 64]> = padded.iter().map(|p| p[block]).collect();
                    compress_with(&mut states, &blocks);
                }
                for (state, message) in states.iter().zip(&messages) {
                    let digest: Vec<u8> = state.iter().flat_map(|word| word.to_be_bytes()).collect();
                    let want = ring::digest::digest(&ring::digest::SHA256, message);
                    assert_eq!(digest, want.as_ref(), "{count} lanes, {length}-byte messages");
                }
            }
        }
    }

    /// FIPS 180-4 §5.1.1 padding.
    fn padded_blocks(message: &[u8]) -> Vec<[u8; 64]> {
        let mut bytes = message.to_vec();
        bytes.push(0x80);
        while bytes.len() % 64 != 56 {
            bytes.push(0);
        }
        bytes.extend_from_slice(&(message.len() as u64 * 8).to_be_bytes());
        bytes.chunks_exact(64).map(|block| block.try_into().expect("64 bytes")).collect()
    }

    #[test]
    fn the_dispatched_compression_gives_ring_sha256() {
        assert_gives_ring_sha256(compress);
    }

    #[test]
    fn the_portable_compression_gives_ring_sha256() {
        assert_gives_ring_sha256(compress_portable);
    }

    /// The SHA-NI code itself, whichever path the dispatch takes. Skipped (and said so)
    /// only on a CPU without SHA-NI, where no code path can reach it.
    #[test]
    #[cfg(target_arch = "x86_64")]
    fn the_sha_ni_compression_gives_ring_sha256() {
        if !shani::available() {
            println!("this CPU has no SHA-NI: the SHA-NI compression cannot run here");
            return;
        }
        // SAFETY: the CPU has the features `shani::compress` is compiled for.
        assert_gives_ring_sha256(|states, blocks| unsafe { shani::compress(states, blocks) });
    }

    #[test]
    fn the_active_path_is_sha_ni_exactly_when_the_cpu_has_it() {
        #[cfg(target_arch = "x86_64")]
        let cpu_has_sha_ni = std::arch::is_x86_feature_detected!("sha")
            && std::arch::is_x86_feature_detected!("sse2")
            && std::arch::is_x86_feature_detected!("ssse3")
            && std::arch::is_x86_feature_detected!("sse4.1");
        #[cfg(not(target_arch = "x86_64"))]
        let cpu_has_sha_ni = false;
        let path = active_path();
        println!("SHA-256 path on this CPU: {path:?}");
        assert_eq!(path == Sha256Path::ShaNi, cpu_has_sha_ni);
    }

    #[test]
    fn interleaved_compression_gives_the_sha256_of_a_short_message() {
        // SHA-256("abc") (FIPS 180-4 appendix B.1) as one padded block.
        let mut block = [0u8; 64];
        block[..3].copy_from_slice(b"abc");
        block[3] = 0x80;
        block[63] = 24;
        let mut states = [SHA256_IV; LANES];
        compress(&mut states, &[block; LANES]);
        let want = [0xba7816bf, 0x8f01cfea, 0x414140de, 0x5dae2223, 0xb00361a3, 0x96177a9c, 0xb410ff61, 0xf20015ad];
        assert!(states.iter().all(|state| *state == want));
    }
}
