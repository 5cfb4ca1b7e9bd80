"""What every kind of revoke evidence shares: the reporter's signature, the ``Finding`` a
check gives, and the questions a store and a status page ask of it.

A ledger's revoke evidence is the revoker's revoke and the notary's crawl back as that
ledger's own signed transactions, with the heights they were included at, signed by the
notary that reports them. The devnet ledger's kind is ``proto.evidence.RevokeEvidence``;
an EVM chain's is ``proto.evm_evidence.EvmRevokeEvidence``. Both check offline, against the
group's genesis alone: ``verify`` raises ``BadEvidence`` naming the link that broke, or
returns what the two transactions show.

Invariant: a ``Finding`` comes only out of a ``verify`` that checked every signature in
the evidence (the reporter's, both senders', both checkpoints' wallet signatures) and both
proofs; what it says about amounts is what the group's wallet key signed.
"""

from __future__ import annotations

from abc import ABC, abstractmethod
from dataclasses import dataclass, replace
from typing import Any, TypeVar, cast

from nacl.signing import SigningKey

from proto import signing
from proto.codec import MAX_MESSAGE_BYTES, Wire, decode
from proto.errors import DecodeError, RemoteProtocolError
from proto.genesis import Genesis
from proto.signing import SIGNATURE_SIZE

EVIDENCE_DOMAIN = "revoke-evidence"


class BadEvidence(RemoteProtocolError):
    """Evidence that does not check out; the message says which link broke."""


@dataclass(frozen=True)
class Finding:
    revoker: bytes
    notary: bytes
    """Who sent the crawl back: a member id on the devnet ledger, an account on a chain."""
    reporter: bytes
    stale_number: int
    newer_number: int
    stale: dict[str, int]
    newer: dict[str, int]
    revoke_height: int
    crawl_back_height: int
    revoke_tx: bytes
    crawl_back_tx: bytes
    on_chain: bool = False
    """Heights are an EVM chain's blocks and transactions its hashes."""

    @property
    def premature(self) -> bool:
        """The stale checkpoint showed the revoker more of some asset than the newer one
        (the ledger's rule for forfeiting the revoker's revoke fee)."""
        return any(n > self.newer.get(a, 0) for a, n in self.stale.items())


class Evidence(Wire, ABC):
    """Base of the registered evidence kinds (each a frozen dataclass with ``reporter``
    and ``signature`` fields); not a wire object itself."""

    reporter: bytes
    signature: bytes

    def body(self) -> bytes:
        """The bytes the reporter signs: the evidence with a blank signature."""
        blank: Wire = replace(cast(Any, self), signature=bytes(SIGNATURE_SIZE))
        return blank.encode()

    @property
    @abstractmethod
    def group_id(self) -> bytes: ...

    @property
    @abstractmethod
    def revoker(self) -> bytes:
        """The member id of the revoker (``BadEvidence`` if the revoke is unreadable)."""

    @property
    @abstractmethod
    def revoke_id(self) -> bytes:
        """The ledger's id of the revoke transaction."""

    @property
    @abstractmethod
    def crawl_back_id(self) -> bytes: ...

    @abstractmethod
    def verify(self, genesis: Genesis) -> Finding:
        """Check every signature and link against the group's genesis; what it shows, or
        ``BadEvidence``."""

    def check_reporter(self, genesis: Genesis) -> None:
        """``BadEvidence`` unless it is of this group and its reporter signed it."""
        if self.group_id != genesis.group_id():
            raise BadEvidence("the evidence is of another group")
        if not signing.is_valid(
            self.reporter, self.signature, EVIDENCE_DOMAIN, self.group_id, self.body()
        ):
            raise BadEvidence("the reporter's signature does not verify")


E = TypeVar("E", bound=Evidence)


def read_evidence(data: object, max_bytes: int = MAX_MESSAGE_BYTES) -> Evidence:
    """Strictly decode revoke evidence of either kind (``DecodeError`` for anything
    else)."""
    found = decode(data, Wire, max_bytes=max_bytes)
    if not isinstance(found, Evidence):
        raise DecodeError(f"expected revoke evidence, got {type(found).__name__}")
    return found


def sign_evidence(key: SigningKey, unsigned: E) -> E:
    """``unsigned`` (any reporter, any signature) reported and signed by ``key``."""
    mine: E = replace(cast(Any, unsigned), reporter=signing.public_key_of(key))
    signature = signing.sign(key, EVIDENCE_DOMAIN, mine.group_id, mine.body())
    signed: E = replace(cast(Any, mine), signature=signature)
    return signed
