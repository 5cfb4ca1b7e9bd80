"""A group's FROST(secp256k1) wallet key for the EVM tests and the gas benchmark: 2-of-3
shares from a trusted dealer (seeded: never for real money), and signatures made by two of
them over any message, as the contract takes them."""

from __future__ import annotations

import random
from dataclasses import dataclass, field

from node.evm.signatures import key_args, signature_args
from proto.frost.core import aggregate, commit, sign, trusted_dealer_keygen
from proto.frost.suite import SECP256K1 as S


@dataclass
class FrostGroup:
    seed: int
    shares: dict[int, int] = field(init=False)
    key: bytes = field(init=False)

    def __post_init__(self) -> None:
        self.rng = random.Random(self.seed)
        secret, coefficient = self.rng.randrange(1, S.order), self.rng.randrange(1, S.order)
        self.shares, self.key, _ = trusted_dealer_keygen(secret, [coefficient], 3, suite=S)

    @property
    def key_args(self) -> tuple[int, int]:
        return key_args(self.key)

    def signature(self, message: bytes) -> bytes:
        """Signers 1 and 3, fresh nonces."""
        made = {
            i: commit(self.shares[i], self.rng.randbytes(32), self.rng.randbytes(32), i, suite=S)
            for i in (1, 3)
        }
        comms = [made[i][1] for i in (1, 3)]
        z = {
            i: sign(i, self.shares[i], made[i][0], message, comms, self.key, suite=S)
            for i in (1, 3)
        }
        signature = aggregate(comms, message, self.key, z, suite=S)
        assert S.verify(self.key, message, signature)
        return signature

    def sign(self, message: bytes) -> tuple[int, int, int]:
        """The contract's ``Signature`` (R's x, R's y, z)."""
        return signature_args(self.signature(message))
