"""What a node keeps of changes of stewards (``storage.groups``): the changes its operator
asked for survive a restart and a dealer's seed is never replaced (a restarted dealer
deals the same shares); per-epoch shares, and their erasure once an epoch is entered."""

from __future__ import annotations

import random

from proto.formation import StewardKey
from proto.resharing import ReshareComplaint, ReshareDealer, approve, spec_for
from storage.groups import GroupRepo
from storage.memory import MemoryStore
from tests.node.test_checkpoints import G, wallet_keys
from tests.support import pub

GID = G.group_id
KEYS = {pub(k): k for k in G.stewards}


def test_asked_changes_and_dealing_seeds_are_kept_and_a_seed_is_never_replaced() -> None:
    keys = wallet_keys(random.Random(3))
    stewards = G.epochs.current.stewards
    asked = spec_for(GID, 0, stewards, keys[1], [1, 2, 3], stewards, 3)
    dealt = spec_for(GID, 0, stewards, keys[1], [2, 3, 4], stewards, 3)
    repo = GroupRepo(MemoryStore())
    repo.save_reshare(GID, dealt, b"seed-1", asked=False)  # a dealer nobody asked here
    repo.save_reshare(GID, asked, b"seed-2", asked=True)
    repo.save_reshare(GID, dealt, b"seed-3", asked=True)  # asked later: the seed stays
    assert sorted(s.ceremony() for s in repo.reshares(GID)) == sorted(
        [asked.ceremony(), dealt.ceremony()]
    )
    assert repo.load_reshare(GID, dealt.ceremony()) == (dealt, b"seed-1")
    repo.save_epoch_key(GID, 1, StewardKey.of(keys[1], b"sealed-1"))
    repo.save_epoch_key(GID, 2, StewardKey.of(keys[2], b"sealed-2"))
    repo.erase_before(GID, 2)
    assert repo.epoch_key(GID, 1) is None and repo.epoch_key(GID, 0) is None
    assert repo.epoch_key(GID, 2) == StewardKey.of(keys[2], b"sealed-2")
    assert repo.holds_epoch_key(GID, 2) and not repo.holds_epoch_key(GID, 1)
    assert repo.reshares(GID) == [] and repo.load_reshare(GID, asked.ceremony()) is None
    later = spec_for(GID, 2, stewards, keys[1], [1, 2, 3], stewards, 3)  # out of epoch 2
    repo.save_reshare(GID, later, b"seed-4", asked=True)
    repo.erase_before(GID, 2)  # entered again (a second copy of the hand-over): kept
    assert repo.load_reshare(GID, later.ceremony()) == (later, b"seed-4")
    assert repo.reshares(GID) == [later]


def test_a_complaint_against_a_dealer_is_kept() -> None:
    keys = wallet_keys(random.Random(4))
    stewards = G.epochs.current.stewards
    spec = spec_for(GID, 0, stewards, keys[1], [1, 2, 3], stewards, 3)
    dealer = ReshareDealer.create(
        spec,
        KEYS[stewards[0]],
        keys[1],
        [7, 8],
        [approve(spec, KEYS[s]) for s in stewards[:3]],
    )
    reply = dealer.reply_to(stewards[1])
    assert reply is not None
    complaint = ReshareComplaint(spec, reply)
    repo = GroupRepo(MemoryStore())
    repo.save_complaint(GID, complaint)
    assert repo.complaints(GID) == [complaint]
