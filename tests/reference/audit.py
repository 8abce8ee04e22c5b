#!/usr/bin/env python3
"""Independent recomputation of the audit chain vectors (protocol-docs/keys.md §4.1).

Written from keys.md alone, with the Python 3.11 standard library only (`json` for the
canonical encoding, `hashlib` for the record hashes).

    python3 audit.py <protocol-docs/vectors>

Prints ``checked <count> audit.json`` and exits 0 when every record matches; prints every
mismatch and exits 1 otherwise.
"""

from __future__ import annotations

import hashlib
import json
import pathlib
import sys

DOMAIN = b"bidui/v1 audit\x00"


def canonical_json(event: dict) -> str:
    # keys.md §4.1: these arguments give exactly the canonical form for audit events.
    return json.dumps(event, sort_keys=True, separators=(",", ":"), ensure_ascii=False)


def record_hash(seq: int, prev_hash: bytes, record: str) -> bytes:
    return hashlib.sha256(DOMAIN + seq.to_bytes(8, "big") + prev_hash + record.encode()).digest()


def check_chain(vectors: dict) -> list[str]:
    failures = []
    prev = bytes(32)
    for number, entry in enumerate(vectors["records"], start=1):
        record = canonical_json(entry["event"])
        recomputed = {
            "seq": (entry["seq"], number),
            "record": (entry["record"], record),
            "prev_hash": (entry["prev_hash"], prev.hex()),
            "hash": (entry["hash"], record_hash(number, prev, record).hex()),
        }
        for name, (given, want) in recomputed.items():
            if given != want:
                failures.append(f"record {number}: {name} {given!r} recomputes as {want!r}")
        prev = record_hash(number, prev, record)
    if vectors["head"] != prev.hex():
        failures.append(f"head {vectors['head']} recomputes as {prev.hex()}")
    return failures


def main(argv: list[str]) -> int:
    if len(argv) != 2:
        print(__doc__, file=sys.stderr)
        return 2
    vectors = json.loads((pathlib.Path(argv[1]) / "audit.json").read_text(encoding="utf-8"))
    failures = check_chain(vectors)
    print(f"checked {len(vectors['records'])} audit.json")
    for failure in failures:
        print("MISMATCH", failure, file=sys.stderr)
    return 1 if failures else 0


if __name__ == "__main__":
    sys.exit(main(sys.argv))
