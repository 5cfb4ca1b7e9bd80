"""What a participant holds after key generation: its share and the group's public data.

Invariant (checked by ``KeyPackage.__post_init__``): the signing share's public image is
this participant's entry in ``public_shares`` (in the package's ciphersuite), and the
threshold fits the participants.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field

from proto.frost.curve import FrostError
from proto.frost.suite import ED25519, Ciphersuite


@dataclass(frozen=True)
class KeyPackage:
    identifier: int
    signing_share: int = field(repr=False)
    group_public_key: bytes
    public_shares: Mapping[int, bytes]
    threshold: int
    suite: Ciphersuite = ED25519

    def __post_init__(self) -> None:
        if not 0 < self.signing_share < self.suite.order:
            raise FrostError("signing share out of range")
        if self.public_shares.get(self.identifier) != self.suite.base_mul(self.signing_share):
            raise FrostError("signing share does not match its public share")
        if not 1 <= self.threshold <= len(self.public_shares):
            raise FrostError("threshold must be between 1 and the number of participants")

    @property
    def public_share(self) -> bytes:
        return self.public_shares[self.identifier]
