"""Deterministic keys and groups for tests: everything derives from a seed, so a failing
case names the seed that reproduces it."""

from __future__ import annotations

import hashlib
from dataclasses import dataclass, field

from nacl.signing import SigningKey

from proto.committee import Committee
from proto.epochs import Epoch, Epochs, single
from proto.orders import Leg, Order, Party, SignedOrder, Swap, Transfer, sign_order
from proto.replica import Replica
from proto.state import GroupState
from proto.votes import Batch, Certificate, certificate_from_votes, make_vote

ASSETS = ("BTC", "USD")


def key(seed: object, name: object) -> SigningKey:
    return SigningKey(hashlib.sha256(f"{seed}/{name}".encode()).digest())


def pub(k: SigningKey) -> bytes:
    return bytes(k.verify_key)


@dataclass
class Group:
    """A group with stewards and members (stewards are members too), funded at genesis."""

    group_id: bytes
    stewards: list[SigningKey]
    members: list[SigningKey]
    funding: dict[str, int]
    keys: dict[bytes, SigningKey] = field(default_factory=dict)

    def __post_init__(self) -> None:
        self.keys = {pub(k): k for k in self.stewards + self.members}

    @property
    def committee(self) -> Committee:
        return Committee(tuple(sorted(pub(k) for k in self.stewards)))

    @property
    def epochs(self) -> Epochs:
        """Epoch 0 alone: a group that never changed its stewards."""
        return single(self.committee)

    @property
    def epoch(self) -> Epoch:
        return self.epochs.current

    @property
    def ids(self) -> list[bytes]:
        return sorted(self.keys)

    def genesis_state(self) -> GroupState:
        state = GroupState(self.group_id, ASSETS)
        for member in self.ids:
            state.admit(member)
            for asset, amount in self.funding.items():
                if amount:
                    state.deposit(member, asset, amount)
        return state

    def replica(self) -> Replica:
        return Replica(self.genesis_state(), self.epochs)

    def sign(self, order: Order) -> SignedOrder:
        return sign_order(order, self.keys, self.group_id)

    def certify(self, batch: Batch) -> Certificate:
        """``batch`` certified by the first quorum of the genesis committee."""
        digest = batch.digest(self.group_id)
        votes = [
            make_vote(k, self.group_id, digest) for k in self.stewards[: self.committee.quorum]
        ]
        return certificate_from_votes(batch, votes, self.epoch, self.group_id)

    def transfer(
        self, sender: bytes, seq: int, to: bytes, amount: int, asset: str = "USD"
    ) -> SignedOrder:
        return self.sign(Transfer(sender, seq, to, asset, amount, b""))

    def swap(
        self, a: bytes, a_seq: int, b: bytes, b_seq: int, a_pays: int, b_pays: int
    ) -> SignedOrder:
        """a pays ``a_pays`` USD to b; b pays ``b_pays`` BTC to a."""
        parties = tuple(sorted((Party(a, a_seq), Party(b, b_seq)), key=lambda p: p.member))
        legs = tuple(
            sorted(
                (Leg(a, b, "USD", a_pays), Leg(b, a, "BTC", b_pays)),
                key=lambda leg: (leg.payer, leg.payee, leg.asset),
            )
        )
        return self.sign(Swap(parties, legs, b""))


def make_group(seed: object = 0, stewards: int = 4, members: int = 3, funding: int = 1000) -> Group:
    return Group(
        group_id=hashlib.sha256(f"group/{seed}".encode()).digest(),
        stewards=[key(seed, f"steward{i}") for i in range(stewards)],
        members=[key(seed, f"member{i}") for i in range(members)],
        funding={asset: funding for asset in ASSETS},
    )
