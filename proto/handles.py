"""Handles: the names members go by, and how a person's way of naming a member (``@alice``,
a hex prefix, a whole id) is turned into the member id the protocol signs.

A handle is chosen in the member's signed join (``Join.handle``) or, for a founding
steward, in the group spec; the group admits a join only while its handle is free
(``proto.admission``), so within one group a handle names one member for good (an exited
member keeps its handle: evidence and prequals that name it stay readable). Handles are
for people: nothing signed refers to a member by its handle.

Invariants: ``resolve`` returns a member of the directory it was given or raises
``ValueError`` with words a person can act on; it never guesses between two members (a
prefix two ids share is refused, naming both).
"""

from __future__ import annotations

import re
from collections.abc import Mapping

from proto.kinds import HANDLE_PATTERN, KEY_SIZE_BYTES

_HANDLE = re.compile(HANDLE_PATTERN)
_HEX = re.compile(r"[0-9a-f]+")


class UnknownMember(ValueError):
    """A well-formed name (``@handle``, a hex prefix) that fits no member, or several."""


MIN_PREFIX = 4
"""The shortest hex prefix taken for a member (shorter ones name too many by chance)."""


def handle_problem(handle: str) -> str | None:
    """Why ``handle`` is not a valid handle (plain words), or ``None``."""
    if not _HANDLE.fullmatch(handle):
        return (
            f"a handle is 3 to 20 of a-z, 0-9 and _, starting with a letter (not {handle[:40]!r})"
        )
    return None


def taken(directory: Mapping[bytes, str], handle: str) -> bytes | None:
    """The member that goes by ``handle`` in ``directory`` (member id -> handle), if any."""
    return next((m for m, h in directory.items() if h == handle), None)


def resolve(query: str, directory: Mapping[bytes, str]) -> bytes:
    """The member ``query`` names among ``directory``'s (member id -> handle, "" for none):
    ``@handle``, a whole 64-hex id (a member or not: the protocol decides), or a hex prefix
    of at least ``MIN_PREFIX`` digits that exactly one member's id starts with."""
    if query.startswith("@"):
        found = taken(directory, query[1:]) if query[1:] else None
        if found is None:
            raise UnknownMember(f"no member goes by {query[:41]!r} in this group")
        return found
    lowered = query.lower()
    if not _HEX.fullmatch(lowered):
        raise ValueError(f"name a member by @handle or a hex id (not {query[:40]!r})")
    if len(lowered) == 2 * KEY_SIZE_BYTES:
        return bytes.fromhex(lowered)
    if len(lowered) < MIN_PREFIX or len(lowered) > 2 * KEY_SIZE_BYTES:
        raise ValueError(f"a hex prefix is {MIN_PREFIX} to {2 * KEY_SIZE_BYTES} digits")
    matches = sorted(m for m in directory if m.hex().startswith(lowered))
    if not matches:
        raise UnknownMember(f"no member's id starts with {lowered}")
    if len(matches) > 1:
        named = ", ".join(label(m, directory) for m in matches[:4])
        raise UnknownMember(f"{lowered} is the start of {len(matches)} ids ({named}): give more")
    return matches[0]


def label(member: bytes, directory: Mapping[bytes, str], digits: int = 8) -> str:
    """How a person sees ``member``: ``@alice (d83f0f0a)``, or the id's first ``digits``
    hex digits alone for a member without a handle (never an id cut without its handle
    when it has one)."""
    handle = directory.get(member, "")
    short = member.hex()[:digits]
    return f"@{handle} ({short})" if handle else short
