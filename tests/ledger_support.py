"""A group whose wallet key is a 2-of-3 FROST key, with two members and a notary: what
both the in-process ledger tests and the real-process ones act with."""

from __future__ import annotations

import random
from typing import Any

from proto.checkpoint import SignedCheckpoint, checkpoint_of
from proto.genesis import AdmissionPolicy, Genesis
from proto.ledger.txs import OpenWallet, SignedTx, Tx, sign_tx
from proto.merkle import BalanceProof, BalanceTree
from proto.replica import Replica
from proto.signing import domain_message
from tests.support import key, make_group, pub
from tests.unit.frost_helpers import dealer_keys, sign_with


class WalletGroup:
    def __init__(self, seed: int, ledger_id: bytes, window: int = 5, revoke_fee: int = 50) -> None:
        self.rng = random.Random(seed)
        self.ledger_id = ledger_id
        self.shares, self.wallet_key = dealer_keys(self.rng, 2, 3)
        self.group = make_group(seed=f"ledger{seed}", stewards=4, members=2, funding=0)
        self.genesis = Genesis(
            name=f"ledger{seed}",
            stewards=tuple(pub(k) for k in self.group.stewards),
            threshold=self.group.committee.quorum,
            wallet_key=self.wallet_key,
            assets=("USD",),
            ledger_id=ledger_id,
            challenge_window=window,
            revoke_fee=revoke_fee,
            checkpoint_interval=1,
            terms_hash=bytes(32),
            admission=AdmissionPolicy(0, 0, (), 0, 0),
        )
        self.group.group_id = self.genesis.group_id()  # the ledger binds the wallet to it
        self.alice, self.bob = self.group.members
        self.notary = key(seed, "notary")

    def open_tx(self, nonce: int, fee: int = 1) -> OpenWallet:
        return OpenWallet(self.wallet_key, nonce, fee, self.genesis)

    @property
    def people(self) -> list[Any]:
        return [self.alice, self.bob, self.notary]

    def frost_sign(self, message: bytes) -> bytes:
        """Two of the three stewards sign for the wallet key."""
        return sign_with(self.rng, self.shares, [1, 3], self.wallet_key, message)

    def signed(self, tx: Tx, signer: Any = None) -> SignedTx:
        if tx.sender == self.wallet_key:
            msg = domain_message("ledger-tx", self.ledger_id, tx.encode())
            return SignedTx(tx, self.frost_sign(msg))
        return sign_tx(tx, signer, self.ledger_id)

    def state_after_joins(self, deposit: int) -> Replica:
        state = self.group.genesis_state()
        for k in (self.alice, self.bob):
            state.deposit(pub(k), "USD", deposit)
        return Replica(state, self.group.epochs)

    def checkpoint(self, replica: Replica, number: int) -> SignedCheckpoint:
        cp = checkpoint_of(replica.state, number)
        return SignedCheckpoint(cp, self.frost_sign(cp.signing_message()))

    @staticmethod
    def proof(replica: Replica, member: bytes) -> BalanceProof:
        return BalanceTree(replica.state).proof(member)
