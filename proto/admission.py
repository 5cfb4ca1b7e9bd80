"""Joins and deposits: how ledger funds enter the group, at checkpoints.

A trader joins by two acts: a ``Deposit`` into the group wallet on the ledger, and a
``Join`` (its signature over the group's terms hash) sent to the stewards. Neither moves
anything by itself. A checkpoint proposal names the ledger height it reads the ledger at
and lists ``Admission`` records: for each member, its cumulative deposits up to that
height, with its ``Join`` if it is not a member yet. The checkpoint's state admits the
new members and credits what their cumulative deposits add to what was credited before.

A steward checks a proposal's admissions against its own view of the ledger
(``proto.ledger_view``) and the joins against the genesis's admission policy
(``proto.prequal``): it waits (``behind``) until it has followed the ledger to the proposal's
height, and refuses (``inconsistent``) a cumulative figure that is not the ledger's, a
join that is not signed over the group's terms, a join for a member already admitted or a
credit to someone who neither is a member nor joins, and a join whose handle a member or
an earlier admission of the same proposal goes by (``proto.handles``). Leaving someone's
deposit out is not a fault (the next proposal includes it); inventing one is.

Invariants: credits only ever come from deposits the ledger holds, each unit once
(cumulative figures never shrink, and only the increase is credited); a member's join
signature (with the prequals it showed) is kept in the checkpoint proposal it was admitted
by, and by every node that adopts that checkpoint.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, replace

from nacl.signing import SigningKey

from proto import signing
from proto.codec import ListOf, Obj, Wire, register, wf
from proto.errors import LocalProtocolError
from proto.genesis import AdmissionPolicy
from proto.kinds import (
    DIGEST,
    EVM_ACCOUNT,
    EVM_ACCOUNT_SIZE,
    HANDLE,
    MAX_ASSETS,
    MEMBER_ID,
    SIGNATURE,
)
from proto.ledger_view import LedgerView
from proto.prequal import Prequal, policy_problem
from proto.state import AssetBalance, GroupState, by_asset

MAX_JOIN_PREQUALS = 8

JOIN_DOMAIN = "join"


@register(82, "join")
@dataclass(frozen=True)
class Join(Wire):
    """A trader's signature over the group's terms (its consent, and its join request),
    with the prequals it shows the group's admission policy."""

    member: bytes = wf(MEMBER_ID)
    terms_hash: bytes = wf(DIGEST)
    prequals: tuple[Prequal, ...] = wf(ListOf(Obj(Prequal), max_items=MAX_JOIN_PREQUALS))
    signature: bytes = wf(SIGNATURE)
    evm_account: bytes = wf(EVM_ACCOUNT)
    """The EVM account the member's revoke is sent from and paid to on an EVM ledger (its
    checkpoint chain leaf's account, ``proto.chain_leaf``); empty when it names none."""
    handle: str = wf(HANDLE)
    """The handle the member chooses to go by in the group (``proto.handles``)."""

    def check_fields(self) -> None:
        if len(self.evm_account) not in (0, EVM_ACCOUNT_SIZE):
            raise ValueError("an EVM account is 20 bytes (or none)")

    def body(self) -> bytes:
        return replace(self, signature=bytes(64)).encode()

    def is_valid(self, group_id: bytes, terms_hash: bytes) -> bool:
        return self.terms_hash == terms_hash and signing.is_valid(
            self.member, self.signature, JOIN_DOMAIN, group_id, self.body()
        )


def sign_join(
    key: SigningKey,
    group_id: bytes,
    terms_hash: bytes,
    prequals: Sequence[Prequal] = (),
    evm_account: bytes = b"",
    *,
    handle: str,
) -> Join:
    unsigned = Join(
        signing.public_key_of(key), terms_hash, tuple(prequals), bytes(64), evm_account, handle
    )
    return replace(unsigned, signature=signing.sign(key, JOIN_DOMAIN, group_id, unsigned.body()))


def join_problem(
    join: Join, group_id: bytes, terms_hash: bytes, policy: AdmissionPolicy, at_height: int
) -> str | None:
    """Why the group may not admit ``join`` at ledger height ``at_height`` (plain words),
    or ``None``."""
    if not join.is_valid(group_id, terms_hash):
        return "the join is not signed over the group's terms"
    problem = policy_problem(policy, join.member, join.prequals, at_height)
    return None if problem is None else f"the admission policy refuses it: {problem}"


@register(83, "admission")
@dataclass(frozen=True)
class Admission(Wire):
    member: bytes = wf(MEMBER_ID)
    deposited: tuple[AssetBalance, ...] = wf(
        ListOf(Obj(AssetBalance), max_items=MAX_ASSETS, strictly_sorted=True, sort_key=by_asset)
    )
    """The member's cumulative deposits into the wallet up to the proposal's height."""
    join: tuple[Join, ...] = wf(ListOf(Obj(Join), max_items=1))
    """The member's join, when it is not a member yet (else empty)."""

    def check_fields(self) -> None:
        if self.join and self.join[0].member != self.member:
            raise ValueError("an admission's join must be the member's own")


def by_member(a: Admission) -> bytes:
    return a.member


def admissions_for(
    state: GroupState, view: LedgerView, joins: Mapping[bytes, Join], policy: AdmissionPolicy
) -> tuple[Admission, ...]:
    """What a proposer admits at ``view.height``: every member whose cumulative deposits
    grew, and every joiner with deposits whose join it holds and the policy takes."""
    out: list[Admission] = []
    handles = set(state.handles().values())
    for member, totals in sorted(view.cumulative(view.height).items()):
        deposited = tuple(AssetBalance(a, n) for a, n in sorted(totals.items()) if n)
        if state.is_member(member):
            credited = state.accounts[member].deposited
            if any(n > credited.get(a, 0) for a, n in totals.items()):
                out.append(Admission(member, deposited, ()))
        elif (
            member in joins
            and joins[member].handle not in handles  # first come (by member id) keeps it
            and _acceptable(joins[member], state.group_id, policy, view.height)
        ):
            out.append(Admission(member, deposited, (joins[member],)))
            handles.add(joins[member].handle)
    return tuple(out)


def _acceptable(join: Join, group_id: bytes, policy: AdmissionPolicy, height: int) -> bool:
    return join_problem(join, group_id, join.terms_hash, policy, height) is None


def admissions_problem(
    state: GroupState,
    admissions: Iterable[Admission],
    ledger_height: int,
    view: LedgerView,
    terms_hash: bytes,
    policy: AdmissionPolicy,
) -> str | None:
    """``None`` if the admissions are right by ``view``; ``"behind"`` if the view has not
    reached ``ledger_height``; otherwise ``"inconsistent"``."""
    admissions = tuple(admissions)
    if not admissions:
        return None
    if view.height < ledger_height:
        return "behind"
    ledger = view.cumulative(ledger_height)
    handles = set(state.handles().values())
    for a in admissions:
        totals = {b.asset: b.amount for b in a.deposited}
        if totals != ledger.get(a.member, {}):
            return "inconsistent"
        if state.is_member(a.member) == bool(a.join):
            return "inconsistent"
        if a.join and join_problem(a.join[0], state.group_id, terms_hash, policy, ledger_height):
            return "inconsistent"
        if a.join and a.join[0].handle in handles:
            return "inconsistent"  # a handle someone goes by already
        handles.update(j.handle for j in a.join)
    return None


def apply_admissions(
    state: GroupState,
    admissions: Iterable[Admission],
    at_checkpoint: int = 0,
    at_height: int = 0,
) -> None:
    """Admit (as of checkpoint ``at_checkpoint``, read at ledger height ``at_height``) and
    credit; raises ``LocalProtocolError`` (state may be partly changed: call it on a copy)
    when the admissions do not fit."""
    for a in admissions:
        if a.join:
            join = a.join[0]
            state.admit(a.member, at_checkpoint, at_height, join.evm_account, join.handle)
        elif not state.is_member(a.member):
            raise LocalProtocolError("a credit for someone who is not a member")
        state.credit_deposits(a.member, {b.asset: b.amount for b in a.deposited})
