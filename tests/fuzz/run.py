"""The thorough fuzz run (``make fuzz``): every target in ``tests/fuzz/targets.py``,
``--inputs`` inputs each (100,000 by default), spread over the machine's cores; prints
one row per target (inputs, seconds, findings, the worker's peak RSS) and exits 1 on any
finding, with the input that found it (hex) so it can be replayed.

    python -m tests.fuzz.run [--inputs N] [--seed S] [--only TEXT] [--exclude TEXT]
"""

from __future__ import annotations

import argparse
import os
import random
import resource
import sys
import time
import traceback
from concurrent.futures import ProcessPoolExecutor
from dataclasses import dataclass

MAX_FINDINGS_KEPT = 3


@dataclass
class Figures:
    name: str
    inputs: int
    seconds: float
    findings: list[str]
    peak_rss_mb: float


def run_target(index: int, inputs: int, seed: int) -> Figures:
    from tests.fuzz.targets import all_targets  # noqa: PLC0415  (imported in the worker)

    target = all_targets()[index]
    rng = random.Random(f"{seed}/{target.name}")
    findings: list[str] = []
    start = time.perf_counter()
    for _ in range(inputs):
        data = target.make(rng)
        try:
            target.feed(data)
        except Exception as exc:  # a finding: anything the surface is not allowed to do
            if len(findings) < MAX_FINDINGS_KEPT:
                where = traceback.format_exc(limit=-3)
                findings.append(f"{type(exc).__name__}: {exc} | input {data[:256].hex()}\n{where}")
            else:
                findings.append(type(exc).__name__)
    seconds = time.perf_counter() - start
    peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
    return Figures(target.name, inputs, seconds, findings, peak)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--inputs", type=int, default=100_000)
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--only", default="", help="targets whose name has this")
    parser.add_argument("--exclude", default=None, help="leave out targets whose name has this")
    args = parser.parse_args(argv)

    from tests.fuzz.targets import all_targets  # noqa: PLC0415

    names = [t.name for t in all_targets()]
    chosen = [
        i
        for i, name in enumerate(names)
        if args.only in name and (args.exclude is None or args.exclude not in name)
    ]
    start = time.perf_counter()
    with ProcessPoolExecutor(max_workers=os.cpu_count() or 1) as pool:
        futures = [pool.submit(run_target, i, args.inputs, args.seed) for i in chosen]
        results = [f.result() for f in futures]
    wall = time.perf_counter() - start
    print("| target | inputs | seconds | findings | peak RSS (MB) |")
    print("| --- | ---: | ---: | ---: | ---: |")
    for r in results:
        found = len(r.findings)
        print(f"| {r.name} | {r.inputs:,} | {r.seconds:.1f} | {found} | {r.peak_rss_mb:.0f} |")
    total = sum(r.inputs for r in results)
    found = sum(len(r.findings) for r in results)
    print(f"\n{len(results)} targets, {total:,} inputs, {wall:.0f} s wall, {found} findings")
    for r in results:
        for finding in r.findings[:MAX_FINDINGS_KEPT]:
            print(f"\n## {r.name}\n{finding}")
    return 1 if found else 0


if __name__ == "__main__":
    sys.exit(main())
