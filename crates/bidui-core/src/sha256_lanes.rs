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

/// Compresses `blocks[i]` into `states[i]` for every `i`, as `sha2::compress256` would
/// one block at a time.
pub(crate) fn compress(states: &mut [[u32; 8]], blocks: &[[u8; 64]]) {
    assert_eq!(states.len(), blocks.len(), "one block per state");
    #[cfg(target_arch = "x86_64")]
    if shani::available() {
        let mut states = states.chunks_exact_mut(LANES);
        let mut blocks = blocks.chunks_exact(LANES);
        for (state, block) in (&mut states).zip(&mut blocks) {
            // SAFETY: the CPU has the instructions `shani::compress4` is compiled for.
            unsafe { shani::compress4(state.try_into().expect("4 lanes"), block.try_into().expect("4 lanes")) };
        }
        for (state, block) in states.into_remainder().iter_mut().zip(blocks.remainder()) {
            // SAFETY: as above.
            unsafe { shani::compress1(state, block) };
        }
        return;
    }
    for (state, block) in states.iter_mut().zip(blocks) {
        sha2::compress256(state, &[(*block).into()]);
    }
}

#[cfg(target_arch = "x86_64")]
mod shani {
    use std::arch::x86_64::*;

    pub(super) fn available() -> bool {
        // std caches the CPUID answer; each check is a load and a test.
        std::arch::is_x86_feature_detected!("sha")
            && std::arch::is_x86_feature_detected!("sse4.1")
            && std::arch::is_x86_feature_detected!("ssse3")
    }

    /// The SHA-256 round constants, four per `sha256rnds2` pair.
    static K: [u32; 64] = [
        0x428a2f98, 0x71374491, 0xb5c0fbcf, 0xe9b5dba5, 0x3956c25b, 0x59f111f1, 0x923f82a4, 0xab1c5ed5, 0xd807aa98,
        0x12835b01, 0x243185be, 0x550c7dc3, 0x72be5d74, 0x80deb1fe, 0x9bdc06a7, 0xc19bf174, 0xe49b69c1, 0xefbe4786,
        0x0fc19dc6, 0x240ca1cc, 0x2de92c6f, 0x4a7484aa, 0x5cb0a9dc, 0x76f988da, 0x983e5152, 0xa831c66d, 0xb00327c8,
        0xbf597fc7, 0xc6e00bf3, 0xd5a79147, 0x06ca6351, 0x14292967, 0x27b70a85, 0x2e1b2138, 0x4d2c6dfc, 0x53380d13,
        0x650a7354, 0x766a0abb, 0x81c2c92e, 0x92722c85, 0xa2bfe8a1, 0xa81a664b, 0xc24b8b70, 0xc76c51a3, 0xd192e819,
        0xd6990624, 0xf40e3585, 0x106aa070, 0x19a4c116, 0x1e376c08, 0x2748774c, 0x34b0bcb5, 0x391c0cb3, 0x4ed8aa4a,
        0x5b9cca4f, 0x682e6ff3, 0x748f82ee, 0x78a5636f, 0x84c87814, 0x8cc70208, 0x90befffa, 0xa4506ceb, 0xbef9a3f7,
        0xc67178f2,
    ];

    #[target_feature(enable = "sha,sse2,ssse3,sse4.1")]
    pub(super) unsafe fn compress4(states: &mut [[u32; 8]; 4], blocks: &[[u8; 64]; 4]) {
        compress_interleaved(states, blocks)
    }

    #[target_feature(enable = "sha,sse2,ssse3,sse4.1")]
    pub(super) unsafe fn compress1(state: &mut [u32; 8], block: &[u8; 64]) {
        compress_interleaved::<1>(std::array::from_mut(state), std::array::from_ref(block))
    }

    /// Intel's SHA-NI compression (as in the `sha2` crate), with the rounds of `N`
    /// streams interleaved so their `sha256rnds2` chains overlap.
    #[inline(always)]
    unsafe fn compress_interleaved<const N: usize>(states: &mut [[u32; 8]; N], blocks: &[[u8; 64]; N]) {
        let byte_swap = _mm_set_epi64x(0x0C0D_0E0F_0809_0A0Bu64 as i64, 0x0405_0607_0001_0203u64 as i64);
        let mut abef = [_mm_setzero_si128(); N];
        let mut cdgh = [_mm_setzero_si128(); N];
        let mut words = [[_mm_setzero_si128(); 4]; N];
        for lane in 0..N {
            let state = states[lane].as_ptr() as *const __m128i;
            let dcba = _mm_loadu_si128(state);
            let efgh = _mm_shuffle_epi32(_mm_loadu_si128(state.add(1)), 0x1B);
            let cdab = _mm_shuffle_epi32(dcba, 0xB1);
            abef[lane] = _mm_alignr_epi8(cdab, efgh, 8);
            cdgh[lane] = _mm_blend_epi16(efgh, cdab, 0xF0);
            let block = blocks[lane].as_ptr() as *const __m128i;
            for (i, word) in words[lane].iter_mut().enumerate() {
                *word = _mm_shuffle_epi8(_mm_loadu_si128(block.add(i)), byte_swap);
            }
        }
        let (abef_before, cdgh_before) = (abef, cdgh);
        for quad in 0..16 {
            let k = _mm_loadu_si128(K.as_ptr().add(quad * 4) as *const __m128i);
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
            let state = states[lane].as_mut_ptr() as *mut __m128i;
            _mm_storeu_si128(state, _mm_blend_epi16(feba, dchg, 0xF0));
            _mm_storeu_si128(state.add(1), _mm_alignr_epi8(dchg, feba, 8));
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn one_at_a_time(states: &[[u32; 8]], blocks: &[[u8; 64]]) -> Vec<[u32; 8]> {
        states
            .iter()
            .zip(blocks)
            .map(|(state, block)| {
                let mut state = *state;
                sha2::compress256(&mut state, &[(*block).into()]);
                state
            })
            .collect()
    }

    #[test]
    fn interleaved_compression_equals_one_block_at_a_time_for_every_lane_count() {
        // Every count from 0 to 3 full groups plus each remainder, with different states
        // and blocks per lane so a lane mix-up or a wrong round constant shows.
        for count in 0..=(3 * LANES + 3) {
            let blocks: Vec<[u8; 64]> =
                (0..count).map(|lane| std::array::from_fn(|i| (i * 31 + lane * 97 + 5) as u8)).collect();
            let states: Vec<[u32; 8]> = (0..count)
                .map(|lane| std::array::from_fn(|i| SHA256_IV[i].rotate_left(lane as u32) ^ (lane as u32)))
                .collect();
            let mut got = states.clone();
            compress(&mut got, &blocks);
            assert_eq!(got, one_at_a_time(&states, &blocks), "{count} lanes");
        }
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
