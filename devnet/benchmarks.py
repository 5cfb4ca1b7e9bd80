"""Benchmarks behind ``swapnet bench ...`` and the BENCHMARKS.md ledger of results.

Each benchmark returns rows (dicts of column -> value); ``record`` appends them to the
benchmark's table in BENCHMARKS.md with the date, the machine and the command, keeping
every older row for comparison. Numbers are medians over repetitions, measured with
``time.perf_counter``; they are never asserted in tests.
"""

from __future__ import annotations

import datetime
import os
import platform
import secrets
import statistics
import time
from collections.abc import Callable
from pathlib import Path

from proto.codec import Wire, decode
from proto.frost.core import (
    aggregate,
    commit,
    derive_group_info,
    sign,
    trusted_dealer_keygen,
    verify_signature_share,
)
from proto.frost.curve import L
from proto.frost.keys import KeyPackage
from proto.frost.session import (
    CommitmentRequest,
    Coordinator,
    SendTo,
    SessionDone,
    Signer,
    SignRequest,
)

FROST_SIZES = ((3, 4), (5, 7), (14, 20))


def machine() -> str:
    model = platform.processor() or platform.machine()
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                model = line.split(":", 1)[1].strip()
                break
    except OSError:
        pass
    return f"{os.cpu_count()} cores, {model}, Python {platform.python_version()}"


def median_us(fn: Callable[[], object], reps: int) -> float:
    samples = []
    for _ in range(reps):
        start = time.perf_counter()
        fn()
        samples.append(time.perf_counter() - start)
    return statistics.median(samples) * 1e6


def _keys(t: int, n: int) -> dict[int, KeyPackage]:
    def rand() -> int:
        return secrets.randbelow(L - 1) + 1

    shares, pk, commitment = trusted_dealer_keygen(rand(), [rand() for _ in range(t - 1)], n)
    _, public = derive_group_info(list(shares), commitment)
    return {i: KeyPackage(i, s, pk, public, t) for i, s in shares.items()}


def _session(keys: dict[int, KeyPackage], t: int, msg: bytes) -> bytes:
    """A whole t-of-n session through the state machines, every message encoded."""
    first = next(iter(keys.values()))
    signers = {i: Signer(k) for i, k in keys.items()}
    coordinator = Coordinator(
        session=secrets.token_bytes(32),
        message=msg,
        group_public_key=first.group_public_key,
        public_shares=dict(first.public_shares),
        threshold=t,
        available=list(keys),
        timeout=10.0,
    )
    queue = list(coordinator.start(0.0))
    while queue:
        effect = queue.pop(0)
        if isinstance(effect, SendTo):
            signer = signers[effect.identifier]
            data = effect.message.encode()
            reply: Wire
            if coordinator.state == "commit":
                request = decode(data, CommitmentRequest)
                reply = signer.on_commitment_request(request, secrets.token_bytes(64))
            else:
                reply = signer.on_sign_request(decode(data, SignRequest))
            queue.extend(coordinator.receive(effect.identifier, decode(reply.encode(), Wire), 0.0))
        elif isinstance(effect, SessionDone):
            return effect.signature
    raise RuntimeError("session did not finish")


def bench_frost(reps: int = 20) -> list[dict[str, str]]:
    msg = secrets.token_bytes(96)  # about the size of a checkpoint message
    return [_bench_frost_size(t, n, msg, reps) for t, n in FROST_SIZES]


def _bench_frost_size(t: int, n: int, msg: bytes, reps: int) -> dict[str, str]:
    keys = _keys(t, n)
    ids = sorted(keys)[:t]
    made = {i: commit(keys[i].signing_share, os.urandom(32), os.urandom(32), i) for i in ids}
    comms = [made[i][1] for i in ids]
    pk = keys[ids[0]].group_public_key
    shares = {i: sign(i, keys[i].signing_share, made[i][0], msg, comms, pk) for i in ids}
    me = keys[ids[0]]
    nonces = made[me.identifier][0]

    def round_one() -> object:
        return commit(me.signing_share, os.urandom(32), os.urandom(32), me.identifier)

    def round_two() -> object:
        return sign(me.identifier, me.signing_share, nonces, msg, comms, pk)

    def verify_share() -> object:
        z = shares[me.identifier]
        return verify_signature_share(me.identifier, me.public_share, z, comms, pk, msg)

    session_us = median_us(lambda: _session(keys, t, msg), max(3, reps // 4))
    return {
        "t of n": f"{t} of {n}",
        "round one (us)": f"{median_us(round_one, reps):.0f}",
        "round two (us)": f"{median_us(round_two, reps):.0f}",
        "verify one share (us)": f"{median_us(verify_share, reps):.0f}",
        "aggregate (us)": f"{median_us(lambda: aggregate(comms, msg, pk, shares), reps):.0f}",
        "whole session (ms)": f"{session_us / 1000:.1f}",
    }


def _cell(value: str) -> str:
    """A table cell: one line, no column separator."""
    return " ".join(str(value).split()).replace("|", "/")


def record(path: Path, section: str, rows: list[dict[str, str]], command: str) -> None:
    """Append ``rows`` to the table under ``## section`` in ``path`` (created if missing),
    each with the date, the machine and the command."""
    if not rows:
        return
    columns = ["date", "machine", "command", *rows[0]]
    header = "| " + " | ".join(columns) + " |"
    rule = "|" + "---|" * len(columns)
    today = datetime.date.today().isoformat()
    new = [
        "| " + " | ".join(_cell(v) for v in [today, machine(), f"`{command}`", *r.values()]) + " |"
        for r in rows
    ]
    text = (
        path.read_text()
        if path.exists()
        else "# Benchmarks\n\nResults of `swapnet bench`; newest rows last.\n"
    )
    lines = text.rstrip("\n").split("\n")
    title = f"## {section}"
    if title not in lines:
        lines += ["", title, "", header, rule, *new]
    else:
        start = lines.index(title)
        end = next(
            (k for k in range(start + 1, len(lines)) if lines[k].startswith("## ")), len(lines)
        )
        if header in lines[start:end]:  # same columns: extend the newest table of the section
            last = max(k for k in range(start, end) if lines[k].startswith("|"))
            lines[last + 1 : last + 1] = new
        else:  # the columns changed: start a new table below the old one, which stays
            while end > start and not lines[end - 1].strip():
                end -= 1
            lines[end:end] = ["", header, rule, *new]
    path.write_text("\n".join(lines) + "\n")
