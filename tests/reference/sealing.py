#!/usr/bin/env python3
"""Independent recomputation of the sealed-epoch, principal-statement, field-seal and
job-signature vectors.

Written from protocol-docs/keys.md (§5, §6), spec-v2.md (§5: sealed field values) and
wire-v2.md (§5.2: signed job specs) alone, not from the Rust code, with the Python 3.11
standard library only: X25519 (RFC 7748), Ed25519 (RFC 8032) and ChaCha20-Poly1305
(RFC 8439) are implemented below from those RFCs and checked against their published
test vectors first; HKDF-SHA256 (RFC 5869) uses `hmac`; key check values, the suites'
MACs and the per-pair key schedule come from `tokens.py` next to this script.

    python3 sealing.py <protocol-docs/vectors>

Prints one ``checked <count> <file>`` line per vector file and exits 0 when every
vector matches; prints every mismatch and exits 1 otherwise.
"""

from __future__ import annotations

import hashlib
import hmac
import json
import pathlib
import sys

sys.path.insert(0, str(pathlib.Path(__file__).resolve().parent))

import tokens  # noqa: E402  (imported from this script's folder)

P = 2**255 - 19


def le(data: bytes) -> int:
    return int.from_bytes(data, "little")


# --- X25519 (RFC 7748 §5) --------------------------------------------------


def x25519(scalar: bytes, u: bytes) -> bytes:
    k = bytearray(scalar)
    k[0] &= 248
    k[31] &= 127
    k[31] |= 64
    k_int = le(bytes(k))
    x1 = le(u) & ((1 << 255) - 1)
    x2, z2, x3, z3, swap = 1, 0, x1, 1, 0
    for t in reversed(range(255)):
        bit = (k_int >> t) & 1
        swap ^= bit
        if swap:
            x2, x3, z2, z3 = x3, x2, z3, z2
        swap = bit
        a, b = (x2 + z2) % P, (x2 - z2) % P
        aa, bb = a * a % P, b * b % P
        e = (aa - bb) % P
        c, d = (x3 + z3) % P, (x3 - z3) % P
        da, cb = d * a % P, c * b % P
        x3 = (da + cb) ** 2 % P
        z3 = x1 * (da - cb) ** 2 % P
        x2 = aa * bb % P
        z2 = e * (aa + 121665 * e) % P
    if swap:
        x2, z2 = x3, z3
    return (x2 * pow(z2, P - 2, P) % P).to_bytes(32, "little")


X25519_BASE = (9).to_bytes(32, "little")


# --- Ed25519 (RFC 8032 §5.1) -----------------------------------------------

ED_D = -121665 * pow(121666, P - 2, P) % P
ED_Q = 2**252 + 27742317777372353535851937790883648493
SQRT_M1 = pow(2, (P - 1) // 4, P)


def _recover_x(y: int, sign: int) -> int:
    x2 = (y * y - 1) * pow(ED_D * y * y + 1, P - 2, P) % P
    x = pow(x2, (P + 3) // 8, P)
    if (x * x - x2) % P:
        x = x * SQRT_M1 % P
    if x & 1 != sign:
        x = P - x
    return x


_BASE_Y = 4 * pow(5, P - 2, P) % P
ED_BASE = (_recover_x(_BASE_Y, 0), _BASE_Y, 1, _recover_x(_BASE_Y, 0) * _BASE_Y % P)


def _point_add(p1: tuple, p2: tuple) -> tuple:
    a = (p1[1] - p1[0]) * (p2[1] - p2[0]) % P
    b = (p1[1] + p1[0]) * (p2[1] + p2[0]) % P
    c = 2 * p1[3] * p2[3] * ED_D % P
    d = 2 * p1[2] * p2[2] % P
    e, f, g, h = b - a, d - c, d + c, b + a
    return (e * f % P, g * h % P, f * g % P, e * h % P)


def _point_mul(scalar: int, point: tuple) -> tuple:
    result = (0, 1, 1, 0)
    while scalar:
        if scalar & 1:
            result = _point_add(result, point)
        point = _point_add(point, point)
        scalar >>= 1
    return result


def _compress(point: tuple) -> bytes:
    z_inv = pow(point[2], P - 2, P)
    x, y = point[0] * z_inv % P, point[1] * z_inv % P
    return (y | ((x & 1) << 255)).to_bytes(32, "little")


def _expand(seed: bytes) -> tuple[int, bytes]:
    h = hashlib.sha512(seed).digest()
    a = le(h[:32]) & ((1 << 254) - 8) | (1 << 254)
    return a, h[32:]


def ed25519_public(seed: bytes) -> bytes:
    return _compress(_point_mul(_expand(seed)[0], ED_BASE))


def ed25519_sign(seed: bytes, message: bytes) -> bytes:
    a, prefix = _expand(seed)
    public = _compress(_point_mul(a, ED_BASE))
    r = le(hashlib.sha512(prefix + message).digest()) % ED_Q
    r_bytes = _compress(_point_mul(r, ED_BASE))
    h = le(hashlib.sha512(r_bytes + public + message).digest()) % ED_Q
    return r_bytes + ((r + h * a) % ED_Q).to_bytes(32, "little")


# --- ChaCha20-Poly1305 (RFC 8439 §2) ----------------------------------------


def _quarter_round(s: list[int], a: int, b: int, c: int, d: int) -> None:
    s[a] = (s[a] + s[b]) & tokens.MASK32
    s[d] = tokens.rotl(s[d] ^ s[a], 16)
    s[c] = (s[c] + s[d]) & tokens.MASK32
    s[b] = tokens.rotl(s[b] ^ s[c], 12)
    s[a] = (s[a] + s[b]) & tokens.MASK32
    s[d] = tokens.rotl(s[d] ^ s[a], 8)
    s[c] = (s[c] + s[d]) & tokens.MASK32
    s[b] = tokens.rotl(s[b] ^ s[c], 7)


def _chacha20_block(key: bytes, counter: int, nonce: bytes) -> bytes:
    words = lambda data: [le(data[i : i + 4]) for i in range(0, len(data), 4)]  # noqa: E731
    initial = [0x61707865, 0x3320646E, 0x79622D32, 0x6B206574] + words(key) + [counter] + words(nonce)
    s = list(initial)
    for _ in range(10):
        for a, b, c, d in ((0, 4, 8, 12), (1, 5, 9, 13), (2, 6, 10, 14), (3, 7, 11, 15)):
            _quarter_round(s, a, b, c, d)
        for a, b, c, d in ((0, 5, 10, 15), (1, 6, 11, 12), (2, 7, 8, 13), (3, 4, 9, 14)):
            _quarter_round(s, a, b, c, d)
    return b"".join(((x + y) & tokens.MASK32).to_bytes(4, "little") for x, y in zip(s, initial))


def _chacha20(key: bytes, counter: int, nonce: bytes, data: bytes) -> bytes:
    out = bytearray()
    for block in range(0, len(data), 64):
        stream = _chacha20_block(key, counter + block // 64, nonce)
        out += bytes(x ^ y for x, y in zip(data[block : block + 64], stream))
    return bytes(out)


def _poly1305(key: bytes, message: bytes) -> bytes:
    r = le(key[:16]) & 0x0FFFFFFC0FFFFFFC0FFFFFFC0FFFFFFF
    accumulator = 0
    for i in range(0, len(message), 16):
        accumulator = (accumulator + le(message[i : i + 16] + b"\x01")) * r % (2**130 - 5)
    return ((accumulator + le(key[16:])) % 2**128).to_bytes(16, "little")


def chacha20_poly1305_seal(key: bytes, nonce: bytes, aad: bytes, plaintext: bytes) -> bytes:
    ciphertext = _chacha20(key, 1, nonce, plaintext)
    pad = lambda data: data + b"\x00" * (-len(data) % 16)  # noqa: E731
    lengths = len(aad).to_bytes(8, "little") + len(ciphertext).to_bytes(8, "little")
    tag = _poly1305(_chacha20_block(key, 0, nonce)[:32], pad(aad) + pad(ciphertext) + lengths)
    return ciphertext + tag


def chacha20_poly1305_open(key: bytes, nonce: bytes, aad: bytes, sealed: bytes) -> bytes | None:
    """The plaintext, or None when the tag does not verify."""
    if len(sealed) < 16:
        return None
    ciphertext, tag = sealed[:-16], sealed[-16:]
    pad = lambda data: data + b"\x00" * (-len(data) % 16)  # noqa: E731
    lengths = len(aad).to_bytes(8, "little") + len(ciphertext).to_bytes(8, "little")
    expected = _poly1305(_chacha20_block(key, 0, nonce)[:32], pad(aad) + pad(ciphertext) + lengths)
    if not hmac.compare_digest(expected, tag):
        return None
    return _chacha20(key, 1, nonce, ciphertext)


def hkdf_sha256(salt: bytes, ikm: bytes, info: bytes, length: int) -> bytes:
    prk = hmac.new(salt, ikm, hashlib.sha256).digest()
    okm, block = b"", b""
    for counter in range(1, -(-length // 32) + 1):
        block = hmac.new(prk, block + info + bytes([counter]), hashlib.sha256).digest()
        okm += block
    return okm[:length]


# --- the primitives against their published vectors ------------------------


def check_primitives() -> None:
    # RFC 7748 §6.1.
    alice = bytes.fromhex("77076d0a7318a57d3c16c17251b26645df4c2f87ebc0992ab177fba51db92c2a")
    bob = bytes.fromhex("5dab087e624a8a4b79e17f8b83800ee66f3bb1292618b6fd1c2f8b27ff88e0eb")
    alice_public = x25519(alice, X25519_BASE)
    assert alice_public.hex() == "8520f0098930a754748b7ddcb43ef75a0dbf3a0d26381af4eba4a98eaa9b4e6a"
    bob_public = x25519(bob, X25519_BASE)
    assert bob_public.hex() == "de9edb7d7b7dc1b4d35b61c2ece435373f8343c85b78674dadfc7e146f882b4f"
    shared = "4a5d9d5ba4ce2de1728e3bf480350f25e07e21c947d19e3376f09b3c1e161742"
    assert x25519(alice, bob_public).hex() == shared == x25519(bob, alice_public).hex()
    # RFC 8032 §7.1, TEST 1 (empty message).
    seed = bytes.fromhex("9d61b19deffd5a60ba844af492ec2cc44449c5697b326919703bac031cae7f60")
    assert ed25519_public(seed).hex() == "d75a980182b10ab7d54bfed3c964073a0ee172f3daa62325af021a68f707511a"
    assert ed25519_sign(seed, b"").hex() == (
        "e5564300c360ac729086e2cc806e828a84877f1eb8e5d974d873e06522490155"
        "5fb8821590a33bacc61e39701cf9b46bd25bf5f0595bbe24655141438e7a100b"
    )
    # RFC 8439 §2.8.2.
    sealed = chacha20_poly1305_seal(
        bytes(range(0x80, 0xA0)),
        bytes.fromhex("070000004041424344454647"),
        bytes.fromhex("50515253c0c1c2c3c4c5c6c7"),
        b"Ladies and Gentlemen of the class of '99: If I could offer you only one tip for the future, "
        b"sunscreen would be it.",
    )
    assert sealed[:16].hex() == "d31a8d34648e60db7b86afbc53ef7ec2"
    assert sealed[-16:].hex() == "1ae10b594f09e26a7e902ecbd0600691"
    key, nonce, aad = bytes(range(0x80, 0xA0)), bytes.fromhex("070000004041424344454647"), bytes(12)
    assert chacha20_poly1305_open(key, nonce, aad, chacha20_poly1305_seal(key, nonce, aad, b"bidui")) == b"bidui"
    assert chacha20_poly1305_open(key, nonce, aad + b"!", chacha20_poly1305_seal(key, nonce, aad, b"bidui")) is None
    # RFC 5869 A.1.
    okm = hkdf_sha256(bytes(range(13)), b"\x0b" * 22, bytes(range(0xF0, 0xFA)), 42)
    assert okm.hex().startswith("3cb25f25faacd57a90434f64d0362f2a2d2d0a90cf1a5a4c5db02d56ecc4c5bf34007208d5b887185865")


# --- the vectors ------------------------------------------------------------


def check_sealed_epochs(vectors: dict) -> tuple[int, list[str]]:
    """keys.md §6: X25519, HKDF-SHA256, ChaCha20-Poly1305 with a zero nonce, Ed25519."""
    failures = []
    custodian_seed = bytes.fromhex(vectors["custodian_seed"])
    if ed25519_public(custodian_seed).hex() != vectors["custodian_public"]:
        failures.append("custodian_public is not the public key of custodian_seed")
    for case in vectors["cases"]:
        sealed = case["sealed_epoch"]
        ephemeral_secret = bytes.fromhex(case["ephemeral_secret"])
        ephemeral_public = x25519(ephemeral_secret, X25519_BASE)
        recipient_secret = bytes.fromhex(case["recipient_x25519_secret"])
        recipient_public = x25519(recipient_secret, X25519_BASE)
        secret = bytes.fromhex(case["secret"])
        kcv = tokens.mac(sealed["suite"], secret, b"bidui/v1 key check")[:8].hex()
        shared = x25519(ephemeral_secret, recipient_public)
        if x25519(recipient_secret, ephemeral_public) != shared:
            failures.append(f"the two sides of X25519 disagree: {case}")
        key = hkdf_sha256(b"bidui/v1 epoch seal", shared, ephemeral_public + recipient_public, 32)
        aad = b"\x00".join(
            [b"bidui/v1 sealed epoch", sealed["suite"].encode(), kcv.encode(), sealed["recipient"].encode()]
        )
        ciphertext = chacha20_poly1305_seal(key, bytes(12), aad, secret)
        signed = b"bidui/v1 epoch statement\x00" + aad + b"\x00" + ephemeral_public + ciphertext
        expected = {
            "recipient_x25519_public": (case["recipient_x25519_public"], recipient_public.hex()),
            "aad": (case["aad"], aad.hex()),
            "signed": (case["signed"], signed.hex()),
            "sealed_epoch.kcv": (sealed["kcv"], kcv),
            "sealed_epoch.ephemeral_public": (sealed["ephemeral_public"], ephemeral_public.hex()),
            "sealed_epoch.sealed": (sealed["sealed"], ciphertext.hex()),
            "sealed_epoch.signature": (sealed["signature"], ed25519_sign(custodian_seed, signed).hex()),
        }
        for name, (given, recomputed) in expected.items():
            if given != recomputed:
                failures.append(f"{name} {given} recomputes as {recomputed} ({sealed['suite']})")
    return len(vectors["cases"]), failures


def check_statements(vectors: dict) -> tuple[int, list[str]]:
    """keys.md §5: the principal statement's signed bytes and Ed25519 signature."""
    failures = []
    custodian_seed = bytes.fromhex(vectors["custodian_seed"])
    if ed25519_public(custodian_seed).hex() != vectors["custodian_public"]:
        failures.append("custodian_public is not the public key of custodian_seed")
    for case in vectors["cases"]:
        statement = case["statement"]
        action = {"enrol": b"enrol", "revoke": b"revoke"}[statement["action"]]
        signed = (
            b"\x00".join(
                [b"bidui/v1 principal statement", action, statement["name"].encode(), statement["role"].encode(), b""]
            )
            + bytes.fromhex(statement["signing_key"])
            + bytes.fromhex(statement["x25519_key"])
            + statement["at"].to_bytes(8, "big")
        )
        if case["signed"] != signed.hex():
            failures.append(f"signed {case['signed']} recomputes as {signed.hex()}")
        signature = ed25519_sign(custodian_seed, signed).hex()
        if statement["signature"] != signature:
            failures.append(f"signature {statement['signature']} recomputes as {signature}")
    return len(vectors["cases"]), failures


# --- sealed field values (spec-v2 §5) ----------------------------------------

SEAL_PURPOSE = {"id": "field-seal", "qid": "qid-seal"}
PAD_TO = 64
NONCE_LEN, TAG_LEN = 12, 16


def person_message(kind: str, inputs: dict) -> bytes:
    """The identity message (spec-v1 §5.1) or the quasi-identifier message (§5.3)."""
    if kind == "id":
        return inputs["canonical_id"].encode()
    return b"\x00".join(inputs[part].encode() for part in ("canonical_name", "birth_date", "sex"))


def seal_context(kind: str, job: str, requester: str, department: str, fields: list[str]) -> bytes:
    head = b"bidui/v2 seal context\x00" + kind.encode() + b"\x00"
    return head + b"".join(part.encode() + b"\x00" for part in (job, requester, department, *fields))


def seal_aad(row: int) -> bytes:
    return row.to_bytes(4, "little")


def seal_plaintext(values: list[str | None]) -> bytes:
    body = b""
    for value in values:
        if value is None:
            body += b"\x00"
        else:
            data = value.encode()
            body += b"\x01" + len(data).to_bytes(2, "little") + data
    plaintext = len(body).to_bytes(2, "little") + body
    return plaintext + b"\x00" * (-len(plaintext) % PAD_TO)


def seal_nonce(suite: str, context_key: bytes, person: bytes, aad: bytes, plaintext: bytes) -> bytes:
    message = b"bidui/v2 seal nonce\x00" + len(person).to_bytes(4, "little") + person + aad + plaintext
    return tokens.mac(suite, context_key, message)[:NONCE_LEN]


def seal_keys(
    suite: str, secret: bytes, kind: str, pair: tuple[str, str, str], fields: list[str], person: bytes
) -> tuple[bytes, bytes]:
    """(the context key of a pair domain, kind and field list; the AEAD key of one person)."""
    seal_key = tokens.purpose_key(suite, secret, SEAL_PURPOSE[kind], *pair)
    context_key = tokens.mac(suite, seal_key, seal_context(kind, *pair, fields))
    return context_key, tokens.mac(suite, context_key, b"bidui/v2 seal key\x00" + person)


def decode_plaintext(plaintext: bytes, fields: int) -> list[str | None] | None:
    """The values, or None when the plaintext is not one a sealer makes."""
    body_len = int.from_bytes(plaintext[:2], "little")
    body, padding = plaintext[2 : 2 + body_len], plaintext[2 + body_len :]
    if len(body) != body_len or any(padding):
        return None
    values, at = [], 0
    for _ in range(fields):
        if body[at : at + 1] == b"\x00":
            values.append(None)
            at += 1
        elif body[at : at + 1] == b"\x01" and len(body) >= at + 3:
            length = int.from_bytes(body[at + 1 : at + 3], "little")
            if len(body) < at + 3 + length:
                return None
            values.append(body[at + 3 : at + 3 + length].decode("utf-8"))
            at += 3 + length
        else:
            return None
    return values if at == len(body) else None


def open_sealed(suite: str, context_key: bytes, enc_key: bytes, person: bytes, aad: bytes, sealed: bytes, fields: int):
    """The values, or None: wrong length, tag, synthetic nonce or encoding."""
    if not (NONCE_LEN + TAG_LEN < len(sealed) and (len(sealed) - NONCE_LEN - TAG_LEN) % PAD_TO == 0):
        return None
    nonce = sealed[:NONCE_LEN]
    plaintext = chacha20_poly1305_open(enc_key, nonce, aad, sealed[NONCE_LEN:])
    if plaintext is None or seal_nonce(suite, context_key, person, aad, plaintext) != nonce:
        return None
    return decode_plaintext(plaintext, fields)


def check_field_seals(vectors: dict) -> tuple[int, list[str]]:
    """spec-v2 §5: every sealed value recomputed (seal), then opened from the vector's bytes."""
    failures = []
    for case in vectors["cases"]:
        suite, kind, row, fields = case["suite"], case["kind"], case["row"], case["fields"]
        pair = (case["job_id"], case["requester"], case["department"])
        secret = bytes.fromhex(case["secret"])
        person = person_message(kind, case["person_inputs"])
        context_key, enc_key = seal_keys(suite, secret, kind, pair, fields, person)
        aad = seal_aad(row)
        plaintext = seal_plaintext(case["values"])
        nonce = seal_nonce(suite, context_key, person, aad, plaintext)
        sealed = nonce + chacha20_poly1305_seal(enc_key, nonce, aad, plaintext)
        label = f"{suite} {kind} row {row} fields {fields}"
        expected = {
            "purpose": (case["purpose"], SEAL_PURPOSE[kind]),
            "person": (case["person"], person.hex()),
            "context_key": (case["context_key"], context_key.hex()),
            "enc_key": (case["enc_key"], enc_key.hex()),
            "aad": (case["aad"], aad.hex()),
            "plaintext": (case["plaintext"], plaintext.hex()),
            "nonce": (case["nonce"], nonce.hex()),
            "sealed": (case["sealed"], sealed.hex()),
        }
        for name, (given, recomputed) in expected.items():
            if given != recomputed:
                failures.append(f"{name} {given} recomputes as {recomputed} ({label})")
        given = bytes.fromhex(case["sealed"])
        if open_sealed(suite, context_key, enc_key, person, aad, given, len(fields)) != case["values"]:
            failures.append(f"sealed does not open to its values ({label})")
        # Whoever does not know the person, reads it as another row, or under another field
        # list, opens nothing.
        other = person[:-1] + b"9"
        _, other_enc_key = seal_keys(suite, secret, kind, pair, fields, other)
        if open_sealed(suite, context_key, other_enc_key, other, aad, given, len(fields)) is not None:
            failures.append(f"sealed opens for another person ({label})")
        if open_sealed(suite, context_key, enc_key, person, seal_aad(row + 1), given, len(fields)) is not None:
            failures.append(f"sealed opens as another row ({label})")
        relabelled_key, relabelled_enc_key = seal_keys(suite, secret, kind, pair, [*fields, "extra"], person)
        if open_sealed(suite, relabelled_key, relabelled_enc_key, person, aad, given, len(fields)) is not None:
            failures.append(f"sealed opens under another field list ({label})")
    return len(vectors["cases"]), failures


# --- signed job specs (wire-v2 §5.2) -----------------------------------------


def check_job_signatures(vectors: dict) -> tuple[int, list[str]]:
    failures = []
    seed = bytes.fromhex(vectors["operator_seed"])
    if ed25519_public(seed).hex() != vectors["operator_public"]:
        failures.append("operator_public is not the public key of operator_seed")
    for case in vectors["cases"]:
        job = case["signed_job"]
        spec = json.loads(job["spec"])
        if not {"id", "purpose", "approval", "epoch", "requester", "department"} <= spec.keys():
            failures.append(f"spec is not a job spec: {job['spec']}")
        signed = b"bidui/v2 job spec\x00" + job["signer"].encode() + b"\x00" + job["spec"].encode()
        if case["signed"] != signed.hex():
            failures.append(f"signed {case['signed']} recomputes as {signed.hex()}")
        signature = ed25519_sign(seed, signed).hex()
        if job["signature"] != signature:
            failures.append(f"signature {job['signature']} recomputes as {signature}")
    return len(vectors["cases"]), failures


def main(argv: list[str]) -> int:
    if len(argv) != 2:
        print(__doc__, file=sys.stderr)
        return 2
    check_primitives()
    directory = pathlib.Path(argv[1])
    failures = []
    for file, check in (
        ("sealed-epoch.json", check_sealed_epochs),
        ("statements.json", check_statements),
        ("field-seal.json", check_field_seals),
        ("job-signature.json", check_job_signatures),
    ):
        count, file_failures = check(json.loads((directory / file).read_text(encoding="utf-8")))
        failures += file_failures
        print(f"checked {count} {file}")
    for failure in failures:
        print("MISMATCH", failure, file=sys.stderr)
    return 1 if failures else 0


if __name__ == "__main__":
    sys.exit(main(sys.argv))
