"""Integers from text that a person, a config file or a peer wrote: ASCII digits only.

``str.isdigit`` is True for characters ``int`` refuses ("³", "²": found by the control
API's thorough fuzz, a 500) and for digits of other scripts that ``int`` takes ("١٢" is
12); a number on our surfaces is plain ASCII ``[0-9]+`` or it is no number.
"""

from __future__ import annotations

MAX_DIGITS = 40
"""More digits than any amount, limit or port we take (2^128 has 39)."""


def ascii_int(text: str) -> int | None:
    """The value of ``text`` when it is 1 to ``MAX_DIGITS`` ASCII digits, else None."""
    if not 0 < len(text) <= MAX_DIGITS or not text.isascii() or not text.isdigit():
        return None
    return int(text)
