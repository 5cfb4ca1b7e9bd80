"""Repairable shares: a participant that lost its share gets it back from t others, and
nobody (the helpers included) learns it. The scheme is ZF frost's (``repairable``, after
Laing and Stinson's "enrollment" repair), and interoperates with it step for step.

1. Each helper i of a set H (|H| >= t, the lost participant r not in it) splits
   zeta_i * s_i, where zeta_i is i's Lagrange coefficient for interpolating at x = r over
   H, into |H| random deltas that add up to it, one for each helper (itself included);
   the randomness is handed in (|H| - 1 values).
2. Each helper j adds the deltas it received: sigma_j.
3. r adds the sigmas: sum_j sigma_j = sum_i zeta_i s_i = f(r), its share. It checks the
   share against its public share (the group's record of every participant's, e.g. in a
   DKG transcript or the epoch): a wrong delta or sigma anywhere gives a share that does
   not match, and the repair is refused (``FrostError``) and tried with other helpers.

Privacy: any delta set a helper sends is |H| - 1 uniformly random values and one that
completes a sum; a sigma mixes one delta from every helper, so no coalition short of all
of H (at least t, who could sign anyway) learns anything about s_i or f(r). The deltas
and sigmas travel on private, authenticated channels (libp2p's encrypted streams in the
node), like a DKG's shares.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence

from proto.frost.core import check_identifier
from proto.frost.curve import FrostError
from proto.frost.keys import KeyPackage
from proto.frost.suite import ED25519, Ciphersuite


def repair_deltas(
    key: KeyPackage, helpers: Sequence[int], lost: int, random_values: Sequence[int]
) -> dict[int, int]:
    """Step 1, by helper ``key.identifier``: a delta for every helper of ``helpers``."""
    suite = key.suite
    check_identifier(lost, suite=suite)
    if len(set(helpers)) != len(helpers) or key.identifier not in helpers:
        raise FrostError("helpers are distinct and include this one")
    if lost in helpers:
        raise FrostError("the participant being repaired is not one of its helpers")
    if len(helpers) < key.threshold:
        raise FrostError(f"a repair needs at least {key.threshold} helpers")
    if len(random_values) != len(helpers) - 1:
        raise FrostError("one random value for every helper but the last")
    if any(not 0 <= v < suite.order for v in random_values):
        raise FrostError("random values are scalars")
    zeta = suite.lagrange_at(lost, key.identifier, list(helpers))
    total = zeta * key.signing_share % suite.order
    deltas = dict(zip(helpers[:-1], random_values, strict=True))
    deltas[helpers[-1]] = (total - sum(random_values)) % suite.order
    return deltas


def repair_sigma(deltas: Iterable[int], *, order: int) -> int:
    """Step 2, by each helper: the sum of the deltas it received (one from every helper)."""
    return sum(deltas) % order


def repair_finish(
    lost: int,
    sigmas: Mapping[int, int],
    group_key: bytes,
    public_shares: Mapping[int, bytes],
    threshold: int,
    *,
    suite: Ciphersuite = ED25519,
) -> KeyPackage:
    """Step 3, by the participant ``lost``: its key package from one sigma per helper,
    checked against its public share (``FrostError`` if anything was wrong)."""
    if len(sigmas) < threshold or lost in sigmas:
        raise FrostError(f"a repair needs a sigma from each of at least {threshold} helpers")
    if any(not 0 <= v < suite.order for v in sigmas.values()):
        raise FrostError("a sigma is not a scalar")
    share = sum(sigmas.values()) % suite.order
    if lost not in public_shares or suite.base_mul(share) != public_shares[lost]:
        raise FrostError("the repaired share does not match its public share")
    return KeyPackage(lost, share, group_key, dict(public_shares), threshold, suite)
