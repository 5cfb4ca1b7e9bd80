"""Prequals: a trader's history in a group, as a badge signed by the group's wallet key.

A checkpoint's merkle root commits to every member's leaf, and a leaf holds the member's
``History`` (checkpoint it joined at, orders, turnover per asset, revokes, crawl backs,
premature and uncovered revokes, pit defaults). The wallet key FROST-signs every
checkpoint, so one signed checkpoint with one member's proof is a statement by the whole
group (t of its stewards) about that member, and nothing about anyone else. That is the
badge: ``Prequal`` = the issuing wallet's key, the signed checkpoint, the proof. A node
cuts one from its newest checkpoint on request, and from the checkpoint that settles a
member when it exits. Anyone checks it offline against the wallet key; ``swapnet prequal
verify`` also checks that key against the group's wallet on the ledger.

A group's genesis holds an ``AdmissionPolicy``; ``policy_problem`` is the one check the
stewards (and a joiner, before it asks) run on a join's prequals. Freshness is measured
in ledger height (the checkpoint states the height it read the ledger at), so the check
is the same on every steward.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

from proto.checkpoint import SignedCheckpoint, verify_member_balance
from proto.codec import Obj, Wire, register, wf
from proto.errors import InvalidProof, InvalidSignature
from proto.genesis import AdmissionPolicy
from proto.kinds import WALLET_KEY
from proto.merkle import BalanceProof
from proto.state import History


@register(95, "prequal")
@dataclass(frozen=True)
class Prequal(Wire):
    wallet_key: bytes = wf(WALLET_KEY)
    checkpoint: SignedCheckpoint = wf(Obj(SignedCheckpoint))
    proof: BalanceProof = wf(Obj(BalanceProof))

    @property
    def member(self) -> bytes:
        return self.proof.leaf.member

    @property
    def handle(self) -> str:
        """The member's handle in the group (unchecked: call ``verify`` first)."""
        return self.proof.leaf.handle

    @property
    def group_id(self) -> bytes:
        return self.checkpoint.checkpoint.group_id

    @property
    def history(self) -> History:
        """The stated history (unchecked: call ``verify`` first)."""
        return self.proof.leaf.history

    def verify(self) -> History:
        """The history the wallet key vouches for; ``InvalidSignature`` or
        ``InvalidProof`` if it does not."""
        verify_member_balance(self.checkpoint, self.proof, self.member, self.wallet_key)
        return self.history

    def is_valid(self) -> bool:
        try:
            self.verify()
        except (InvalidSignature, InvalidProof):
            return False
        return True


def prequal_of(
    wallet_key: bytes, signed: SignedCheckpoint, proof: BalanceProof, member: bytes
) -> Prequal:
    """A badge for ``member`` (checked before it is handed out)."""
    badge = Prequal(wallet_key, signed, proof)
    if badge.member != member:
        raise InvalidProof("the proof is for another member")
    badge.verify()
    return badge


def policy_problem(
    policy: AdmissionPolicy, member: bytes, prequals: Sequence[Prequal], at_height: int
) -> str | None:
    """Why ``member`` may not join with ``prequals`` under ``policy`` at ledger height
    ``at_height``, in plain words; ``None`` if it may."""
    groups: set[bytes] = set()
    cheats = defaults = 0
    for badge in prequals:
        if badge.member != member:
            return "a prequal of another trader"
        if policy.trusted_wallets and badge.wallet_key not in policy.trusted_wallets:
            wallet = badge.wallet_key.hex()[:16]
            return f"a prequal from wallet {wallet}, which the group does not trust"
        if not badge.is_valid():
            return "a prequal that does not verify against its wallet key"
        if badge.group_id in groups:
            return "two prequals from one group"
        groups.add(badge.group_id)
        age = at_height - badge.checkpoint.checkpoint.ledger_height
        if policy.max_prequal_age and age > policy.max_prequal_age:
            return f"a prequal {age} blocks old; the group takes at most {policy.max_prequal_age}"
        cheats += badge.history.cheats
        defaults += badge.history.pit_defaults
    if len(prequals) < policy.min_prequals:
        return f"{len(prequals)} prequals shown; the group asks for {policy.min_prequals}"
    if cheats > policy.max_premature_revokes:
        return (
            f"{cheats} premature revoke(s) on the prequals; the group allows "
            f"{policy.max_premature_revokes}"
        )
    if defaults > policy.max_pit_defaults:
        allowed = policy.max_pit_defaults
        return f"{defaults} pit default(s) on the prequals; the group allows {allowed}"
    return None
