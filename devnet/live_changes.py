"""Changes of stewards on a running group of real processes (``devnet.cluster``): a change
is asked for on a quorum of the current committee's nodes (their operators' consent) and
is done when every node has entered the next epoch. Used by ``swapnet bench stewards
--live`` and by ``tests/integration/test_steward_changes.py``."""

from __future__ import annotations

import shutil
import time
from typing import Any

from devnet.cluster import Cluster, NodeProc
from proto.committee import Committee


def epoch_of(n: NodeProc) -> dict[str, Any]:
    """The committee ``n`` votes with now (``/status`` ``group.epoch``)."""
    epoch: dict[str, Any] = n.status()["group"]["epoch"]
    return epoch


def wait_epoch(c: Cluster, number: int, timeout: float) -> None:
    c.wait(
        f"epoch {number} on every node",
        lambda: all(epoch_of(n)["number"] == number for n in c.nodes if n.running()),
        timeout=timeout,
    )


def operators(c: Cluster, without: tuple[NodeProc, ...] = ()) -> list[NodeProc]:
    """A quorum of the current committee's nodes (none of ``without``), in the committee's
    order."""
    stewards = epoch_of(c.nodes[0])["stewards"]
    by_member = {n.member.hex(): n for n in c.nodes}
    chosen = [by_member[s] for s in stewards if by_member[s] not in without]
    return chosen[: Committee(tuple(bytes.fromhex(s) for s in stewards)).quorum]


def timed_change(
    c: Cluster,
    action: str,
    member: NodeProc | None = None,
    timeout: float = 120.0,
) -> float:
    """Ask for ``action`` (on ``member``) on a quorum of the committee's nodes; seconds
    until every running node is in the next epoch."""
    number = epoch_of(c.nodes[0])["number"]
    body: dict[str, Any] = {"action": action}
    if member is not None:
        body["member"] = member.member.hex()
    lost = (member,) if action == "repair" and member is not None else ()
    start = time.perf_counter()
    for n in operators(c, lost):
        n.call("POST", "/v1/stewards", body)
    wait_epoch(c, number + 1, timeout)
    return time.perf_counter() - start


def lose_data_dir(n: NodeProc) -> None:
    """kill -9, then everything in its data dir is gone but its key (restored from the
    operator's backup) and its logs; it comes back as any member does, from the genesis."""
    n.kill_9()
    for path in n.data.iterdir():
        if path.name not in ("trader.key", n.stderr.name, n.stdout.name):
            if path.is_dir():
                shutil.rmtree(path)
            else:
                path.unlink()
    if "--group-spec" in n.args:
        i = n.args.index("--group-spec")
        n.args[i : i + 2] = ["--genesis-file", str(n.data.parent / "group.genesis")]
