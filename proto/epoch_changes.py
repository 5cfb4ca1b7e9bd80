"""The changes of stewards a steward was asked for, and its shares for the committees they
make: what the checkpoint machine names in a proposal and signs in one (sans-IO).

A change is (the next epoch's number, its stewards sorted, its threshold). The operator
approves one (``approve``: as proposer the steward names it in its next checkpoint, with
the next number as the new epoch's first; as signer it signs a checkpoint naming it and no
change it was not asked for); a reshare gives the steward its share of the wallet key for
a committee it is in (``hold``). When a checkpoint naming a change is adopted, ``decided``
hands back that committee's share (None: we only follow) and forgets the rest.

``plan_change`` turns an operator's command (``swapnet steward add|remove|threshold|
refresh|repair``) into the next committee and threshold, the same on every steward.

Invariants: only the epoch right after the schedule's last can be approved; a share is
kept only if it is ours in that committee, for this wallet, under its threshold.
"""

from __future__ import annotations

from proto.committee import Committee
from proto.epochs import Epoch, Epochs
from proto.errors import LocalProtocolError
from proto.frost.keys import KeyPackage

Change = tuple[int, tuple[bytes, ...], int]


class EpochChanges:
    def __init__(self, me: bytes, wallet_key: bytes) -> None:
        self.me = me
        self.wallet_key = wallet_key
        self.approved: set[Change] = set()
        self.shares: dict[Change, KeyPackage] = {}

    def approve(
        self, epochs: Epochs, number: int, stewards: tuple[bytes, ...], threshold: int
    ) -> None:
        self.approved.add(_change(epochs, number, stewards, threshold))

    def hold(
        self,
        epochs: Epochs,
        number: int,
        stewards: tuple[bytes, ...],
        threshold: int,
        key: KeyPackage,
    ) -> None:
        change = _change(epochs, number, stewards, threshold)
        committee = change[1]
        if (
            key.group_public_key != self.wallet_key
            or not 1 <= key.identifier <= len(committee)
            or committee[key.identifier - 1] != self.me
            or key.threshold != threshold
        ):
            raise LocalProtocolError("the key share is not ours for this wallet and committee")
        self.shares[change] = key

    def to_propose(self, epochs: Epochs, number: int) -> Epoch | None:
        """The change we name in checkpoint ``number``: one we approved, from the next."""
        following = epochs.at(number).number + 1
        if following != len(epochs):
            return None  # the checkpoint's epoch is not the schedule's last
        for n, stewards, threshold in sorted(self.approved):
            if n == following:
                return Epoch(n, number + 1, stewards, threshold)
        return None

    def accepts(self, epochs: Epochs, number: int, named: tuple[Epoch, ...]) -> bool:
        """A proposal for ``number`` names no change, or one we approved, from the next."""
        if not named:
            return True
        e = named[0]
        return (
            e.number == epochs.at(number).number + 1 == len(epochs)
            and e.first_checkpoint == number + 1
            and (e.number, e.stewards, e.threshold) in self.approved
        )

    def decided(self, e: Epoch) -> KeyPackage | None:
        """A checkpoint handed over to ``e``: our share for it, if we hold one; the other
        changes are forgotten (they were for an epoch that is now taken)."""
        key = self.shares.get((e.number, e.stewards, e.threshold))
        self.approved, self.shares = set(), {}
        return key


def _change(epochs: Epochs, number: int, stewards: tuple[bytes, ...], threshold: int) -> Change:
    if number != epochs.current.number + 1:
        raise LocalProtocolError(f"epoch {number} does not follow ours")
    committee = tuple(sorted(stewards))
    first = epochs.current.first_checkpoint + 1  # any later one: only the bounds matter here
    Epoch(number, first, committee, threshold)  # in bounds, or ValueError
    return number, committee, threshold


ACTIONS = ("add", "remove", "threshold", "refresh", "repair")


def plan_change(
    current: Epoch, action: str, member: bytes | None = None, threshold: int | None = None
) -> tuple[tuple[bytes, ...], int]:
    """The next committee and threshold an operator's command asks for: ``add`` or
    ``remove`` a member, a new ``threshold``, a ``refresh`` (the same committee, new
    shares), or a ``repair`` of ``member`` (a refresh it does not deal in: it lost its
    share, and gets a new one). Unless given, the threshold stays what it is, moved into
    the new committee's bounds. Raises ``LocalProtocolError`` for a change that cannot be."""
    stewards = set(current.stewards)
    if action in ("add", "remove") and member is None:
        raise LocalProtocolError(f"{action} needs a member")
    if action == "add":
        assert member is not None
        if member in stewards:
            raise LocalProtocolError("already a steward")
        stewards.add(member)
    elif action == "remove":
        if member not in stewards:
            raise LocalProtocolError("not a steward")
        stewards.discard(member)
    elif action == "repair":
        if member not in stewards:
            raise LocalProtocolError("only a steward of the committee is repaired")
    elif action == "threshold":
        if threshold is None:
            raise LocalProtocolError("threshold needs a threshold")
    elif action != "refresh":
        raise LocalProtocolError(f"unknown change {action!r}: one of {', '.join(ACTIONS)}")
    if not stewards:
        raise LocalProtocolError("a committee needs a steward")
    committee = tuple(sorted(stewards))
    bounds = Committee(committee)
    low, high = bounds.quorum, bounds.n - bounds.f
    t = threshold if threshold is not None else min(max(current.threshold, low), high)
    if not low <= t <= high:
        raise LocalProtocolError(f"threshold {t} outside [{low}, {high}] for {len(committee)}")
    return committee, t
