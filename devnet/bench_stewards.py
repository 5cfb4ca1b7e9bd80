"""``swapnet bench stewards``: what changing a committee costs in computation, for 4, 7 and
20 stewards (threshold the quorum): a reshare that adds a steward, a refresh (a reshare
to the same committee), the repair of one lost share, and checking a hand-over. Every
party's work runs in this one process, each message encoded and strictly decoded as on
the wire, so a figure is the CPU the whole committee spends; the network adds one pull
round trip per dealer (reshare) or per helper (repair), run in parallel in a node."""

from __future__ import annotations

import secrets
from collections.abc import Callable, Mapping

from nacl.signing import SigningKey

from devnet.benchmarks import _keys, median_us
from proto.codec import decode
from proto.committee import Committee
from proto.epochs import Epoch, Epochs, genesis_epoch
from proto.frost.curve import L
from proto.frost.keys import KeyPackage
from proto.frost.repair import repair_deltas, repair_finish, repair_sigma
from proto.handover import Handover, make_seal, verify_handover
from proto.resharing import (
    ReshareDealer,
    ReshareReply,
    ReshareSpec,
    approve,
    check_echoes,
    finish,
    make_echo,
    spec_for,
)
from proto.signing import public_key_of

SIZES = (4, 7, 20)
GROUP = bytes(32)


def _rand() -> int:
    return secrets.randbelow(L - 1) + 1


def _ms(fn: Callable[[], object], reps: int) -> float:
    return median_us(fn, reps) / 1000


def run_ceremony(
    spec: ReshareSpec,
    ids: Mapping[bytes, SigningKey],
    keys: Mapping[bytes, KeyPackage],
    rand: Callable[[], int] = _rand,
) -> dict[bytes, KeyPackage]:
    """A whole reshare in one process: a quorum of the old committee approves, every
    dealer deals to every new steward (replies encoded and decoded as on the wire), every
    new steward echoes, checks the others' echoes and finishes. ``rand`` gives the
    dealers' coefficients. Returns every new steward's key package."""
    quorum = Committee(spec.old_stewards).quorum
    approvals = [approve(spec, ids[s]) for s in spec.old_stewards[:quorum]]
    dealers = {
        d: ReshareDealer.create(
            spec,
            ids[spec.dealer_key(d)],
            keys[spec.dealer_key(d)],
            [rand() for _ in range(spec.new_threshold - 1)],
            approvals,
        )
        for d in spec.dealers
    }
    replies: dict[bytes, dict[int, ReshareReply]] = {}
    for steward in spec.new_stewards:
        replies[steward] = {}
        for d, dealer in dealers.items():
            reply = dealer.reply_to(steward)
            assert reply is not None
            replies[steward][d] = decode(reply.encode(), ReshareReply)
    echoes = {s: make_echo(spec, ids[s], replies[s]) for s in spec.new_stewards}
    out = {}
    for s in spec.new_stewards:
        check_echoes(spec, echoes[s], {o: e for o, e in echoes.items() if o != s})
        out[s] = finish(spec, s, replies[s])
    return out


def _size(n: int, reps: int) -> dict[str, str]:
    t = Committee(tuple(bytes([i]) * 32 for i in range(n))).quorum
    ids = {public_key_of(k): k for k in (SigningKey.generate() for _ in range(n + 1))}
    stewards = sorted(ids)[:n]
    by_identifier = _keys(t, n)
    keys = {s: by_identifier[i + 1] for i, s in enumerate(stewards)}
    first = keys[stewards[0]]
    dealers = list(range(1, t + 1))
    added = sorted(ids)
    t_added = Committee(tuple(added)).quorum
    grow = spec_for(GROUP, 0, stewards, first, dealers, added, t_added)
    refresh = spec_for(GROUP, 0, stewards, first, dealers, stewards, t)
    lost, helpers = n, list(range(1, t + 1))

    def repair() -> None:
        deltas = {
            i: repair_deltas(by_identifier[i], helpers, lost, [_rand() for _ in helpers[1:]])
            for i in helpers
        }
        sigmas = {j: repair_sigma((deltas[i][j] for i in helpers), order=L) for j in helpers}
        repair_finish(lost, sigmas, first.group_public_key, first.public_shares, t)

    old = Epochs((genesis_epoch(stewards, t),))
    nxt = Epoch(1, 2, tuple(added), t_added)
    seals = [make_seal(ids[s], GROUP, 0, nxt, 1, ()) for s in stewards[: old.current.quorum]]
    handover = Handover(nxt, tuple(sorted(seals, key=lambda s: s.steward)))
    return {
        "stewards": f"{n} (t = {t})",
        "reshare, add one (ms)": f"{_ms(lambda: run_ceremony(grow, ids, keys), reps):.0f}",
        "refresh (ms)": f"{_ms(lambda: run_ceremony(refresh, ids, keys), reps):.0f}",
        "repair one share (ms)": f"{_ms(repair, reps):.1f}",
        "check a hand-over (ms)": f"{_ms(lambda: verify_handover(handover, old, GROUP), reps):.1f}",
    }


def bench_stewards(reps: int = 3, sizes: tuple[int, ...] = SIZES) -> list[dict[str, str]]:
    return [_size(n, reps) for n in sizes]


def bench_live(sizes: tuple[int, ...] = (4, 7)) -> list[dict[str, str]]:
    """Each change on real processes (``devnet.bench_suite.bench_net``: k stewards and a
    member, a checkpoint every 2 s): seconds from the operators' asks to every node in the
    next epoch, for adding the member (the threshold follows the quorum), removing the last
    steward, a refresh, and the repair of a steward whose data dir was deleted."""
    from devnet.bench_suite import bench_net  # noqa: PLC0415
    from devnet.live_changes import lose_data_dir, timed_change  # noqa: PLC0415

    rows = []
    for k in sizes:
        with bench_net(k + 1, stewards=k) as c:
            member, last, lost = c.members[0], c.stewards[-1], c.stewards[1]
            add = timed_change(c, "add", member)
            remove = timed_change(c, "remove", last)
            refresh = timed_change(c, "refresh")
            lose_data_dir(lost)
            c.restart(lost)
            repair = timed_change(c, "repair", lost)
            rows.append(
                {
                    "stewards": str(k),
                    "add (s)": f"{add:.1f}",
                    "remove (s)": f"{remove:.1f}",
                    "refresh (s)": f"{refresh:.1f}",
                    "repair (s)": f"{repair:.1f}",
                }
            )
    return rows
