#!/usr/bin/env python3
"""Independent reference checker for GB 11643-1999 citizen identity numbers.

This is the reference implementation used by the end-to-end test
(`tests/e2e/id_check.rs`): the test feeds the same lines to `bidui id check`
and to this script and requires identical output.  It was written from the
textual rules alone, not from the Rust code, and deliberately works
differently (regular expressions, `str.translate`, `datetime.date`, the
ISO 7064 weights derived as powers of two), so that the two can only agree
by both being right.

Contract (same as `bidui id check`):

    python3 gb11643.py [--today YYYY-MM-DD] < numbers.txt

One input line per identity number (UTF-8; invalid bytes become U+FFFD).
For every input line exactly one output line, in order:
``OK <canonical 18 characters>`` or ``ERR <code>`` where code is one of
empty, excel-mangled, length, charset, birthdate, checksum.

Only the Python 3.11 standard library is used.
"""

from __future__ import annotations

import argparse
import datetime
import re
import sys

# --- normalisation ---------------------------------------------------------

# Characters with the Unicode White_Space property (PropList.txt), plus the
# invisible format characters people paste along with numbers.
_WHITE_SPACE = r"\t-\r \x85\xa0\u1680\u2000-\u200a\u2028\u2029\u202f\u205f\u3000"
_INVISIBLE = r"\u200b-\u200d\u2060\ufeff\xad\u180e"
_DROPPED = re.compile(f"[{_WHITE_SPACE}{_INVISIBLE}]+")

# Full-width ASCII (U+FF01..U+FF5E) -> ASCII, then every look-alike of X -> X.
_FULL_WIDTH = {cp: cp - 0xFEE0 for cp in range(0xFF01, 0xFF5E + 1)}
_X_LOOKALIKES = str.maketrans({"x": "X", "\u00d7": "X", "\u2715": "X", "\u2573": "X"})

_TRAILING_POINT_ZEROS = re.compile(r"(?:\.0)+\Z")
_LEADING_QUOTES = re.compile(r"\A'+")


def normalise(raw: str) -> str:
    text = _DROPPED.sub("", raw)
    text = text.translate(_FULL_WIDTH)
    text = text.translate(_X_LOOKALIKES)
    text = _TRAILING_POINT_ZEROS.sub("", text)
    text = _LEADING_QUOTES.sub("", text)
    return text


# --- the rules -------------------------------------------------------------

# Scientific notation as Excel shows a long number: 4.40118E+17.
_SCIENTIFIC = re.compile(r"[0-9]+(?:[.,][0-9]+)?[Ee][+-]?[0-9]+")
_FIRST_GENERATION = re.compile(r"[0-9]{15}")
_SECOND_GENERATION = re.compile(r"[0-9]{17}[0-9X]")

# ISO 7064 MOD 11-2: the character at position i counted from the right
# (check character at i = 1) has weight 2^(i-1) mod 11.
_WEIGHTS = tuple(pow(2, 17 - k, 11) for k in range(18))
assert _WEIGHTS[:17] == (7, 9, 10, 5, 8, 4, 2, 1, 6, 3, 7, 9, 10, 5, 8, 4, 2)
assert _WEIGHTS[17] == 1


def _value(ch: str) -> int:
    return 10 if ch == "X" else int(ch)


def _check_character(body: str) -> str:
    """The character c that makes the weighted sum of body + c congruent to 1 mod 11."""
    partial = sum(w * int(d) for w, d in zip(_WEIGHTS, body))
    c = (1 - partial) % 11
    return "X" if c == 10 else str(c)


def _checksum_holds(number: str) -> bool:
    return sum(w * _value(ch) for w, ch in zip(_WEIGHTS, number)) % 11 == 1


def judge(raw: str, today: datetime.date) -> str:
    text = normalise(raw)
    if text == "":
        return "ERR empty"
    if _SCIENTIFIC.fullmatch(text):
        return "ERR excel-mangled"
    if len(text) not in (15, 18):
        return "ERR length"

    if len(text) == 15:
        if not _FIRST_GENERATION.fullmatch(text):
            return "ERR charset"
        body = text[:6] + "19" + text[6:]
        given = None
    else:
        if not _SECOND_GENERATION.fullmatch(text):
            return "ERR charset"
        body = text[:17]
        given = text

    year, month, day = int(body[6:10]), int(body[10:12]), int(body[12:14])
    try:
        born = datetime.date(year, month, day)
    except ValueError:
        return "ERR birthdate"
    if year < 1880 or born > today:
        return "ERR birthdate"

    if given is None:
        return "OK " + body + _check_character(body)
    if not _checksum_holds(given):
        return "ERR excel-mangled" if given.endswith("000") else "ERR checksum"
    return "OK " + given


# --- command line ----------------------------------------------------------


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument(
        "--today",
        type=datetime.date.fromisoformat,
        default=None,
        help="judge birth dates against this day (YYYY-MM-DD) instead of today (UTC)",
    )
    args = parser.parse_args(argv)
    today = args.today or datetime.datetime.now(datetime.timezone.utc).date()

    data = sys.stdin.buffer.read()
    lines = data.split(b"\n")
    if lines[-1] == b"":
        lines.pop()  # input ended with a newline (or was empty): no extra line
    out = [judge(line.decode("utf-8", errors="replace"), today) for line in lines]
    sys.stdout.buffer.write("".join(o + "\n" for o in out).encode("ascii"))
    return 0


if __name__ == "__main__":
    sys.exit(main())
