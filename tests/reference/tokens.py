#!/usr/bin/env python3
"""Independent recomputation of the token and key check vectors of all three suites.

Written from protocol-docs/spec-v2.md (§3: the key schedule per pair domain) and
spec-v1.md (§4.5, §5) alone, not from the Rust code, with the Python 3.11 standard
library only: SM3 (GB/T 32905-2016) and BLAKE3 (keyed_hash and
derive_key) are implemented below from their specifications and checked against their
published test vectors before any bidui vector is trusted to them.

    python3 tokens.py <protocol-docs/vectors>

Prints one ``checked <count> <file>`` line per vector file and exits 0 when every
vector matches; prints every mismatch and exits 1 otherwise.
"""

from __future__ import annotations

import hashlib
import hmac
import json
import pathlib
import sys

MASK32 = 0xFFFFFFFF


def rotl(x: int, n: int) -> int:
    n %= 32
    return ((x << n) | (x >> (32 - n))) & MASK32


def rotr(x: int, n: int) -> int:
    return ((x >> n) | (x << (32 - n))) & MASK32


# --- SM3 (GB/T 32905-2016) -------------------------------------------------

SM3_IV = (0x7380166F, 0x4914B2B9, 0x172442D7, 0xDA8A0600, 0xA96F30BC, 0x163138AA, 0xE38DEE4D, 0xB0FB0E4E)


def _sm3_compress(v: list[int], block: bytes) -> list[int]:
    w = [int.from_bytes(block[4 * i : 4 * i + 4], "big") for i in range(16)]
    for j in range(16, 68):
        x = w[j - 16] ^ w[j - 9] ^ rotl(w[j - 3], 15)
        w.append((x ^ rotl(x, 15) ^ rotl(x, 23)) ^ rotl(w[j - 13], 7) ^ w[j - 6])
    w1 = [w[j] ^ w[j + 4] for j in range(64)]
    a, b, c, d, e, f, g, h = v
    for j in range(64):
        t = 0x79CC4519 if j < 16 else 0x7A879D8A
        ss1 = rotl((rotl(a, 12) + e + rotl(t, j)) & MASK32, 7)
        ss2 = ss1 ^ rotl(a, 12)
        if j < 16:
            ff, gg = a ^ b ^ c, e ^ f ^ g
        else:
            ff, gg = (a & b) | (a & c) | (b & c), (e & f) | (~e & MASK32 & g)
        tt1 = (ff + d + ss2 + w1[j]) & MASK32
        tt2 = (gg + h + ss1 + w[j]) & MASK32
        d, c, b, a = c, rotl(b, 9), a, tt1
        h, g, f, e = g, rotl(f, 19), e, tt2 ^ rotl(tt2, 9) ^ rotl(tt2, 17)
    return [x ^ y for x, y in zip(v, (a, b, c, d, e, f, g, h))]


def sm3(message: bytes) -> bytes:
    padded = message + b"\x80" + b"\x00" * ((55 - len(message)) % 64) + (8 * len(message)).to_bytes(8, "big")
    v = list(SM3_IV)
    for offset in range(0, len(padded), 64):
        v = _sm3_compress(v, padded[offset : offset + 64])
    return b"".join(x.to_bytes(4, "big") for x in v)


def hmac_sm3(key: bytes, message: bytes) -> bytes:
    """HMAC (RFC 2104) over SM3: block size 64 bytes."""
    if len(key) > 64:
        key = sm3(key)
    key = key.ljust(64, b"\x00")
    inner = sm3(bytes(k ^ 0x36 for k in key) + message)
    return sm3(bytes(k ^ 0x5C for k in key) + inner)


def hmac_sha256(key: bytes, message: bytes) -> bytes:
    return hmac.new(key, message, hashlib.sha256).digest()


# --- BLAKE3 ----------------------------------------------------------------

BLAKE3_IV = (0x6A09E667, 0xBB67AE85, 0x3C6EF372, 0xA54FF53A, 0x510E527F, 0x9B05688C, 0x1F83D9AB, 0x5BE0CD19)
PERMUTATION = (2, 6, 3, 10, 7, 0, 4, 13, 1, 11, 12, 5, 9, 14, 15, 8)
CHUNK_START, CHUNK_END, PARENT, ROOT = 1, 2, 4, 8
KEYED_HASH, DERIVE_KEY_CONTEXT, DERIVE_KEY_MATERIAL = 16, 32, 64
CHUNK_LEN, BLOCK_LEN = 1024, 64


def _g(s: list[int], a: int, b: int, c: int, d: int, x: int, y: int) -> None:
    s[a] = (s[a] + s[b] + x) & MASK32
    s[d] = rotr(s[d] ^ s[a], 16)
    s[c] = (s[c] + s[d]) & MASK32
    s[b] = rotr(s[b] ^ s[c], 12)
    s[a] = (s[a] + s[b] + y) & MASK32
    s[d] = rotr(s[d] ^ s[a], 8)
    s[c] = (s[c] + s[d]) & MASK32
    s[b] = rotr(s[b] ^ s[c], 7)


def _blake3_compress(cv: list[int], block: bytes, counter: int, block_len: int, flags: int) -> list[int]:
    m = [int.from_bytes(block[4 * i : 4 * i + 4], "little") for i in range(16)]
    s = list(cv) + list(BLAKE3_IV[:4]) + [counter & MASK32, counter >> 32, block_len, flags]
    for round_ in range(7):
        _g(s, 0, 4, 8, 12, m[0], m[1])
        _g(s, 1, 5, 9, 13, m[2], m[3])
        _g(s, 2, 6, 10, 14, m[4], m[5])
        _g(s, 3, 7, 11, 15, m[6], m[7])
        _g(s, 0, 5, 10, 15, m[8], m[9])
        _g(s, 1, 6, 11, 12, m[10], m[11])
        _g(s, 2, 7, 8, 13, m[12], m[13])
        _g(s, 3, 4, 9, 14, m[14], m[15])
        if round_ < 6:
            m = [m[p] for p in PERMUTATION]
    return [s[i] ^ s[i + 8] for i in range(8)] + [s[i + 8] ^ cv[i] for i in range(8)]


def _words_bytes(words: list[int]) -> bytes:
    return b"".join(w.to_bytes(4, "little") for w in words)


class _Output:
    """The last compression of a node, run with or without the ROOT flag."""

    def __init__(self, cv: list[int], block: bytes, counter: int, block_len: int, flags: int) -> None:
        self.args = (cv, block, counter, block_len, flags)

    def chaining_value(self) -> list[int]:
        return _blake3_compress(*self.args)[:8]

    def root_hash(self) -> bytes:
        cv, block, _, block_len, flags = self.args
        return _words_bytes(_blake3_compress(cv, block, 0, block_len, flags | ROOT)[:8])


def _chunk_output(key: list[int], chunk: bytes, index: int, flags: int) -> _Output:
    blocks = [chunk[i : i + BLOCK_LEN] for i in range(0, len(chunk), BLOCK_LEN)] or [b""]
    cv = key
    for number, block in enumerate(blocks):
        block_flags = flags | (CHUNK_START if number == 0 else 0)
        if number == len(blocks) - 1:
            return _Output(cv, block.ljust(BLOCK_LEN, b"\x00"), index, len(block), block_flags | CHUNK_END)
        cv = _blake3_compress(cv, block, index, BLOCK_LEN, block_flags)[:8]
    raise AssertionError("unreachable")


def _subtree_output(key: list[int], data: bytes, first_chunk: int, flags: int) -> _Output:
    if len(data) <= CHUNK_LEN:
        return _chunk_output(key, data, first_chunk, flags)
    # The left subtree holds the largest power-of-two number of chunks that leaves at
    # least one byte for the right one.
    chunks = (len(data) + CHUNK_LEN - 1) // CHUNK_LEN
    left_chunks = 1 << ((chunks - 1).bit_length() - 1)
    split = left_chunks * CHUNK_LEN
    left = _subtree_output(key, data[:split], first_chunk, flags).chaining_value()
    right = _subtree_output(key, data[split:], first_chunk + left_chunks, flags).chaining_value()
    return _Output(key, _words_bytes(left + right), 0, BLOCK_LEN, flags | PARENT)


def _key_words(key: bytes) -> list[int]:
    assert len(key) == 32, "BLAKE3 keys are 32 bytes"
    return [int.from_bytes(key[4 * i : 4 * i + 4], "little") for i in range(8)]


def blake3_hash(data: bytes) -> bytes:
    return _subtree_output(list(BLAKE3_IV), data, 0, 0).root_hash()


def blake3_keyed_hash(key: bytes, data: bytes) -> bytes:
    return _subtree_output(_key_words(key), data, 0, KEYED_HASH).root_hash()


def blake3_derive_key(context: str, key_material: bytes) -> bytes:
    context_key = _subtree_output(list(BLAKE3_IV), context.encode(), 0, DERIVE_KEY_CONTEXT).root_hash()
    return _subtree_output(_key_words(context_key), key_material, 0, DERIVE_KEY_MATERIAL).root_hash()


# --- the primitives against their published vectors ------------------------


def check_primitives() -> None:
    # GB/T 32905-2016 Appendix A, examples 1 and 2.
    assert sm3(b"abc").hex() == "66c7f0f462eeedd9d1f2d46bdc10e4e24167c4875cf2f7a2297da02b8f4ba8e0"
    assert sm3(b"abcd" * 16).hex() == "debe9ff92275b8a138604889c18e5a4d6fdb70e5387e5765293dcba39c0c5732"
    # RFC 2104 HMAC over SHA-256 built the same way as HMAC-SM3, against hmac.
    for key in (b"", b"k" * 20, b"K" * 64, b"long key " * 10):
        assert _hmac_with(hashlib.sha256, key, b"bidui") == hmac_sha256(key, b"bidui")
    # BLAKE3's test_vectors.json (BLAKE3-team/BLAKE3): first 32 bytes of each extended output.
    key = b"whats the Elvish word for friend"
    context = "BLAKE3 2019-12-27 16:29:52 test vectors context"
    for length, hash_, keyed, derived in BLAKE3_VECTORS:
        data = bytes(i % 251 for i in range(length))
        assert blake3_hash(data).hex() == hash_, f"BLAKE3 hash, {length} bytes"
        assert blake3_keyed_hash(key, data).hex() == keyed, f"BLAKE3 keyed_hash, {length} bytes"
        assert blake3_derive_key(context, data).hex() == derived, f"BLAKE3 derive_key, {length} bytes"


def _hmac_with(hash_fn, key: bytes, message: bytes) -> bytes:
    if len(key) > 64:
        key = hash_fn(key).digest()
    key = key.ljust(64, b"\x00")
    inner = hash_fn(bytes(k ^ 0x36 for k in key) + message).digest()
    return hash_fn(bytes(k ^ 0x5C for k in key) + inner).digest()


# (input length, hash, keyed_hash, derive_key): lengths around the chunk and tree edges.
BLAKE3_VECTORS = (
    (
        0,
        "af1349b9f5f9a1a6a0404dea36dcc9499bcb25c9adc112b7cc9a93cae41f3262",
        "92b2b75604ed3c761f9d6f62392c8a9227ad0ea3f09573e783f1498a4ed60d26",
        "2cc39783c223154fea8dfb7c1b1660f2ac2dcbd1c1de8277b0b0dd39b7e50d7d",
    ),
    (
        1,
        "2d3adedff11b61f14c886e35afa036736dcd87a74d27b5c1510225d0f592e213",
        "6d7878dfff2f485635d39013278ae14f1454b8c0a3a2d34bc1ab38228a80c95b",
        "b3e2e340a117a499c6cf2398a19ee0d29cca2bb7404c73063382693bf66cb06c",
    ),
    (
        1023,
        "10108970eeda3eb932baac1428c7a2163b0e924c9a9e25b35bba72b28f70bd11",
        "c951ecdf03288d0fcc96ee3413563d8a6d3589547f2c2fb36d9786470f1b9d6e",
        "74a16c1c3d44368a86e1ca6df64be6a2f64cce8f09220787450722d85725dea5",
    ),
    (
        1024,
        "42214739f095a406f3fc83deb889744ac00df831c10daa55189b5d121c855af7",
        "75c46f6f3d9eb4f55ecaaee480db732e6c2105546f1e675003687c31719c7ba4",
        "7356cd7720d5b66b6d0697eb3177d9f8d73a4a5c5e968896eb6a689684302706",
    ),
    (
        1025,
        "d00278ae47eb27b34faecf67b4fe263f82d5412916c1ffd97c8cb7fb814b8444",
        "357dc55de0c7e382c900fd6e320acc04146be01db6a8ce7210b7189bd664ea69",
        "effaa245f065fbf82ac186839a249707c3bddf6d3fdda22d1b95a3c970379bcb",
    ),
    (
        2049,
        "5f4d72f40d7a5f82b15ca2b2e44b1de3c2ef86c426c95c1af0b6879522563030",
        "9f29700902f7c86e514ddc4df1e3049f258b2472b6dd5267f61bf13983b78dd5",
        "2ea477c5515cc3dd606512ee72bb3e0e758cfae7232826f35fb98ca1bcbdf273",
    ),
    (
        3073,
        "7124b49501012f81cc7f11ca069ec9226cecb8a2c850cfe644e327d22d3e1cd3",
        "68dede9bef00ba89e43f31a6825f4cf433389fedae75c04ee9f0cf16a427c95a",
        "72613c9ec9ff7e40f8f5c173784c532ad852e827dba2bf85b2ab4b76f7079081",
    ),
)


# --- the bidui key schedule (spec-v2 §3; the key check value of spec-v1 §4.5) ---

PROTOCOL = b"bidui/v2"
KEY_CHECK_MESSAGE = b"bidui/v1 key check"


def mac(suite: str, key: bytes, message: bytes) -> bytes:
    if suite == "hmac-sha256":
        return hmac_sha256(key, message)
    if suite == "hmac-sm3":
        return hmac_sm3(key, message)
    if suite == "blake3":
        return blake3_keyed_hash(key, message)
    raise ValueError(f"unknown suite {suite}")


def purpose_key(suite: str, secret: bytes, purpose: str, job_id: str, requester: str, department: str) -> bytes:
    """K_P of one pair domain: info = P ":" job ":" requester ":" department."""
    info = f"{purpose}:{job_id}:{requester}:{department}".encode()
    if suite == "blake3":
        return blake3_keyed_hash(blake3_derive_key(PROTOCOL.decode(), secret), info)
    # HKDF (RFC 5869): Extract, then the single Expand block L = 32 needs.
    prk = mac(suite, PROTOCOL, secret)
    return mac(suite, prk, info + b"\x01")


def message_of(purpose: str, inputs: dict) -> bytes:
    """The message layouts of spec-v1 §5; the two sealing keys MAC a fixed text."""
    parts = {
        "id-token": ["canonical_id"],
        "attr-token": ["canonical_id", "field", "canonical_value"],
        "qid-token": ["canonical_name", "birth_date", "sex"],
        "field-seal": ["text"],
        "qid-seal": ["text"],
    }[purpose]
    return b"\x00".join(inputs[part].encode() for part in parts)


def check_tokens(vectors: list[dict]) -> list[str]:
    failures = []
    for vector in vectors:
        suite, purpose = vector["suite"], vector["purpose"]
        message = message_of(purpose, vector["inputs"])
        if message.hex() != vector["message"]:
            failures.append(f"message differs from the §5 layout of its inputs: {vector}")
        secret = bytes.fromhex(vector["secret"])
        key = purpose_key(suite, secret, purpose, vector["job_id"], vector["requester"], vector["department"])
        token = mac(suite, key, message)[:16].hex()
        if token != vector["token"]:
            failures.append(f"token {vector['token']} recomputes as {token}: {vector}")
    return failures


def check_key_check_values(vectors: list[dict]) -> list[str]:
    failures = []
    for vector in vectors:
        kcv = mac(vector["suite"], bytes.fromhex(vector["secret"]), KEY_CHECK_MESSAGE)[:8].hex()
        if kcv != vector["kcv"]:
            failures.append(f"kcv {vector['kcv']} recomputes as {kcv}: {vector}")
    return failures


def main(argv: list[str]) -> int:
    if len(argv) != 2:
        print(__doc__, file=sys.stderr)
        return 2
    check_primitives()
    directory = pathlib.Path(argv[1])
    failures = []
    for file, check in (("tokens.json", check_tokens), ("key-check.json", check_key_check_values)):
        vectors = json.loads((directory / file).read_text(encoding="utf-8"))
        failures += check(vectors)
        print(f"checked {len(vectors)} {file}")
    for failure in failures:
        print("MISMATCH", failure, file=sys.stderr)
    return 1 if failures else 0


if __name__ == "__main__":
    sys.exit(main(sys.argv))
