"""DKG, refresh and resharing end to end: the group key never changes, faults are
identified, and after a refresh an old share no longer signs with new ones."""

from __future__ import annotations

import random

import pytest
from nacl.signing import SigningKey

from proto.frost import dkg, reshare
from proto.frost.curve import L
from proto.frost.keys import KeyPackage
from tests.unit.frost_helpers import scalar, sign_with, verifies

CEREMONY = b"\xc3" * 32


class Ceremony:
    def __init__(self, rng: random.Random, t: int, n: int) -> None:
        self.rng, self.t, self.n = rng, t, n
        self.ids = list(range(1, n + 1))
        self.keys = {i: SigningKey(rng.randbytes(32)) for i in self.ids}
        self.identities = {i: bytes(k.verify_key) for i, k in self.keys.items()}
        made = {i: dkg.part1(i, [scalar(rng) for _ in range(t)], scalar(rng), n) for i in self.ids}
        self.secrets = {i: made[i][0] for i in self.ids}
        self.round1 = {i: made[i][1] for i in self.ids}

    def deal(self) -> dict[int, dict[int, dkg.SignedShare]]:
        return {
            i: dkg.part2(self.secrets[i], self.round1, self.keys[i], CEREMONY) for i in self.ids
        }

    def finish(self, dealt: dict[int, dict[int, dkg.SignedShare]]) -> dict[int, KeyPackage]:
        return {
            j: dkg.part3(
                self.secrets[j],
                self.round1,
                {i: dealt[i][j] for i in self.ids if i != j},
                self.identities,
            )
            for j in self.ids
        }


def shares_of(packages: dict[int, KeyPackage]) -> dict[int, int]:
    return {i: p.signing_share for i, p in packages.items()}


@pytest.mark.parametrize(("t", "n"), [(2, 3), (3, 4), (5, 7), (7, 10)])
def test_dkg_gives_every_participant_the_same_group_key_and_t_of_them_sign(t: int, n: int) -> None:
    rng = random.Random(t * 100 + n)
    c = Ceremony(rng, t, n)
    packages = c.finish(c.deal())
    keys = {p.group_public_key for p in packages.values()}
    assert len(keys) == 1
    pk = keys.pop()
    signers = sorted(rng.sample(c.ids, t))
    assert verifies(
        pk, b"checkpoint 1", sign_with(rng, shares_of(packages), signers, pk, b"checkpoint 1")
    )
    # No dealer held the key: the group secret is the sum of constant terms nobody saw whole.
    assert all(p.public_shares == packages[1].public_shares for p in packages.values())


def test_dkg_names_a_participant_whose_proof_of_knowledge_is_bad() -> None:
    c = Ceremony(random.Random(1), 2, 4)
    bad = c.round1[3]
    c.round1[3] = dkg.Round1Package(3, bad.commitment, bad.proof_r, (bad.proof_mu + 1) % L)
    with pytest.raises(dkg.DkgFault) as caught:
        c.deal()
    assert caught.value.culprits == [3]


def test_dkg_names_a_dealer_of_a_bad_share_and_its_complaint_convicts_it() -> None:
    c = Ceremony(random.Random(2), 3, 4)
    dealt = c.deal()
    good = dealt[2][4]
    wrong = (good.share + 1) % L
    forged_sig = dkg.signing.sign(
        c.keys[2], dkg.SHARE_DOMAIN, CEREMONY, dkg.share_message(2, 4, wrong)
    )
    dealt[2][4] = dkg.SignedShare(CEREMONY, 2, 4, wrong, forged_sig)  # dealer 2 cheats on 4
    with pytest.raises(dkg.DkgFault) as caught:
        dkg.part3(c.secrets[4], c.round1, {i: dealt[i][4] for i in (1, 2, 3)}, c.identities)
    assert caught.value.culprits == [2]
    complaint = dkg.ShareComplaint(accuser=4, accused=2, signed=dealt[2][4])
    assert dkg.judge_complaint(complaint, c.round1, c.identities, CEREMONY) == 2


def test_a_false_or_unsigned_complaint_convicts_the_accuser() -> None:
    c = Ceremony(random.Random(3), 2, 3)
    dealt = c.deal()
    honest = dkg.ShareComplaint(accuser=3, accused=1, signed=dealt[1][3])
    assert dkg.judge_complaint(honest, c.round1, c.identities, CEREMONY) == 3
    s = dealt[1][3]
    unsigned = dkg.SignedShare(CEREMONY, 1, 3, (s.share + 1) % L, bytes(64))
    framed = dkg.ShareComplaint(accuser=3, accused=1, signed=unsigned)
    assert dkg.judge_complaint(framed, c.round1, c.identities, CEREMONY) == 3


def refresh_all(rng: random.Random, packages: dict[int, KeyPackage]) -> dict[int, KeyPackage]:
    ids = sorted(packages)
    t = packages[ids[0]].threshold
    deals = {i: reshare.refresh_deal(i, [scalar(rng) for _ in range(t - 1)], ids) for i in ids}
    return {j: reshare.refresh_finish(packages[j], deals) for j in ids}


def test_refresh_keeps_the_group_key_and_makes_old_shares_useless() -> None:
    rng = random.Random(4)
    c = Ceremony(rng, 3, 5)
    old = c.finish(c.deal())
    pk = old[1].group_public_key
    new = refresh_all(rng, old)
    assert all(p.group_public_key == pk for p in new.values())
    assert all(new[i].signing_share != old[i].signing_share for i in new)
    assert verifies(pk, b"m", sign_with(rng, shares_of(new), [1, 3, 5], pk, b"m"))
    mixed = {1: old[1].signing_share, 3: new[3].signing_share, 5: new[5].signing_share}
    assert not verifies(pk, b"m", sign_with(rng, mixed, [1, 3, 5], pk, b"m"))


def test_refresh_names_a_dealer_whose_zero_share_is_wrong() -> None:
    rng = random.Random(5)
    c = Ceremony(rng, 2, 3)
    packages = c.finish(c.deal())
    ids = [1, 2, 3]
    deals = {i: reshare.refresh_deal(i, [scalar(rng)], ids) for i in ids}
    bad = deals[2]
    deals[2] = reshare.RefreshDeal(2, bad.commitment, {**bad.shares, 1: (bad.shares[1] + 1) % L})
    with pytest.raises(dkg.DkgFault) as caught:
        reshare.refresh_finish(packages[1], deals)
    assert caught.value.culprits == [2]


@pytest.mark.parametrize(("t", "n", "t2", "n2"), [(2, 3, 3, 5), (3, 4, 2, 3), (3, 5, 5, 7)])
def test_reshare_moves_the_same_key_to_a_new_steward_set(t: int, n: int, t2: int, n2: int) -> None:
    rng = random.Random(t * 1000 + n2)
    c = Ceremony(rng, t, n)
    old = c.finish(c.deal())
    pk = old[1].group_public_key
    signers = sorted(rng.sample(c.ids, t))
    new_ids = list(range(1, n2 + 1))
    deals = {
        i: reshare.reshare_deal(old[i], signers, [scalar(rng) for _ in range(t2 - 1)], new_ids)
        for i in signers
    }
    new = {
        j: reshare.reshare_finish(j, pk, old[1].public_shares, signers, deals, t2, new_ids)
        for j in new_ids
    }
    assert all(p.group_public_key == pk and p.threshold == t2 for p in new.values())
    chosen = sorted(rng.sample(new_ids, t2))
    assert verifies(pk, b"m", sign_with(rng, shares_of(new), chosen, pk, b"m"))
    if t2 > 1:
        assert not verifies(pk, b"m", sign_with(rng, shares_of(new), chosen[:-1], pk, b"m"))
    for i in c.ids:  # an old share (a removed steward's too), even with new ones, signs nothing
        others = [j for j in new_ids if j != i][: t2 - 1]
        mixed = {i: old[i].signing_share, **{j: new[j].signing_share for j in others}}
        assert not verifies(pk, b"m", sign_with(rng, mixed, sorted(mixed), pk, b"m"))


def test_reshare_names_an_old_steward_that_deals_a_wrong_constant() -> None:
    rng = random.Random(6)
    c = Ceremony(rng, 2, 3)
    old = c.finish(c.deal())
    pk = old[1].group_public_key
    signers, new_ids = [1, 2], [1, 2, 3, 4]
    deals = {i: reshare.reshare_deal(old[i], signers, [scalar(rng)], new_ids) for i in signers}
    cheat = KeyPackage(
        2, old[3].signing_share, pk, {**old[2].public_shares, 2: old[3].public_share}, 2
    )
    deals[2] = reshare.reshare_deal(cheat, signers, [scalar(rng)], new_ids)
    with pytest.raises(dkg.DkgFault) as caught:
        reshare.reshare_finish(1, pk, old[1].public_shares, signers, deals, 2, new_ids)
    assert caught.value.culprits == [2]
