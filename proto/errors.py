"""The exception hierarchy of the protocol core.

One root, ``SwapnetError``. Two families below it, after h11's split:

* ``RemoteProtocolError``: the bytes or objects came from outside and are wrong. The
  caller drops the message and may count it against the peer. ``DecodeError`` (the bytes
  do not decode to a canonical object) and ``InvalidSignature`` are the common ones;
  ``OrderRejected`` carries a machine-readable reason for a steward's or a member's refusal.
* ``LocalProtocolError``: this process called the core wrongly. It is a bug and propagates.

Nothing in ``proto/`` raises a bare ``ValueError`` or ``KeyError`` for bad remote input:
the decode boundary turns every such failure into ``DecodeError``.
"""

from __future__ import annotations


class SwapnetError(Exception):
    """Root of every error swapnet raises on purpose."""


class RemoteProtocolError(SwapnetError):
    """Input from outside this process broke the protocol; drop it."""


class DecodeError(RemoteProtocolError):
    """Bytes that are not the canonical encoding of a known object."""


class InvalidSignature(RemoteProtocolError):
    """A signature that does not verify for the key and domain it claims."""


class OrderRejected(RemoteProtocolError):
    """An order (or a batch of them) that a view refuses; ``reason`` is a stable code."""

    def __init__(self, reason: str, detail: str = "") -> None:
        self.reason = reason
        self.detail = detail
        super().__init__(f"{reason}: {detail}" if detail else reason)


class InvalidCertificate(RemoteProtocolError):
    """A certificate without a quorum of valid, distinct steward votes."""


class InvalidProof(RemoteProtocolError):
    """A merkle proof or an evidence object that does not check out."""


class LocalProtocolError(SwapnetError):
    """The core was called wrongly by this process: a bug, never caused by a peer."""
