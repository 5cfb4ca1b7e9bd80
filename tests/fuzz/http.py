"""Fuzzing an HTTP API from its OpenAPI description with schemathesis: every operation
gets ``examples`` requests generated from the description (valid ones and, from the same
description, wrong ones: missing fields, wrong types, out-of-bounds values), each sent to
the real process. Every answer must be one the description lists (status, content type,
body shape; schemathesis's checks) and never a 5xx other than the ones it documents.
A refused request (4xx) must change nothing the ``observe`` function can see.

The number of examples per operation follows the hypothesis profile
(``tests.fuzz.targets.examples``): a few in ``make test``; ``make fuzz`` gives each API
100,000 requests (``SWAPNET_HTTP_FUZZ_REQUESTS``).
"""

from __future__ import annotations

import os
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

import schemathesis
from hypothesis import HealthCheck, given, settings
from schemathesis import GenerationMode
from schemathesis.generation.case import Case
from schemathesis.specs.openapi.checks import (
    ignored_auth,
    negative_data_rejection,
    positive_data_acceptance,
)

from tests.fuzz.targets import examples

PER_OPERATION = 8
"""Requests per operation in the default profile (each is a real HTTP call)."""
REQUESTS_ENV = "SWAPNET_HTTP_FUZZ_REQUESTS"
"""Set (``make fuzz``: 100,000): the requests of one API's run, shared by its operations
that take input."""


@dataclass
class Tally:
    """What a fuzz run did, per operation (for the figures in SECURITY.md)."""

    calls: dict[str, int] = field(default_factory=dict)
    statuses: dict[int, int] = field(default_factory=dict)


def fuzz_api(
    spec: dict[str, Any],
    base_url: str,
    *,
    headers: dict[str, str] | None = None,
    observe: Callable[[], object] | None = None,
    adjust: Callable[[Case], None] | None = None,
    skip: frozenset[str] = frozenset(),
    opaque: frozenset[str] = frozenset(),
    per_operation: int = PER_OPERATION,
) -> Tally:
    """Run every operation of ``spec`` (but the ``"METHOD /path"`` in ``skip``) against
    ``base_url``; raise on the first failure (hypothesis shrinks it first). The
    operations in ``opaque`` take bodies the description cannot say are right (signed
    bytes): a request that fits their schema may still be refused."""
    schema = schemathesis.openapi.from_dict(spec)
    tally = Tally()
    operations = [result.ok() for result in schema.get_all_operations()]
    total = os.environ.get(REQUESTS_ENV)
    if total:  # the thorough run: that many requests, shared by the operations that take
        # input (one without any has a single distinct request)
        takes_input = [o for o in operations if _takes_input(o) and _label(o) not in skip]
        per_operation = -(-int(total) // max(1, len(takes_input)))
    for operation in operations:
        label = _label(operation)
        if label not in skip:
            excluded = [positive_data_acceptance] if label in opaque else []
            if headers and "authorization" in headers:  # ours, re-sent by the check itself:
                excluded.append(ignored_auth)  # tokens are tested by the scope tests
            if operation.method.upper() == "GET":  # unknown query parameters are ignored,
                excluded.append(negative_data_rejection)  # as HTTP APIs do
            run = _fuzz_operation(
                operation, label, base_url, headers, observe, adjust, tally, per_operation
            )
            run(excluded)
    if total:
        print(f"\nHTTP fuzz {base_url}: {sum(tally.calls.values())} requests, {tally}")
    return tally


def _label(operation: Any) -> str:
    return f"{operation.method.upper()} {operation.path}"


def _takes_input(operation: Any) -> bool:
    parts = (operation.path_parameters, operation.query, operation.headers, operation.body)
    return any(len(part) for part in parts)


def _fuzz_operation(
    operation: Any,
    label: str,
    base_url: str,
    headers: dict[str, str] | None,
    observe: Callable[[], object] | None,
    adjust: Callable[[Case], None] | None,
    tally: Tally,
    per_operation: int,
) -> Callable[[list[Any]], None]:
    @settings(
        max_examples=examples(per_operation),
        suppress_health_check=list(HealthCheck),
        deadline=None,
        database=None,
    )
    @given(
        case=operation.as_strategy(GenerationMode.POSITIVE)
        | operation.as_strategy(GenerationMode.NEGATIVE)
    )
    def run(excluded: list[Any], case: Case) -> None:
        if adjust is not None:
            adjust(case)
        before = observe() if observe is not None else None
        response = case.call_and_validate(
            base_url=base_url, headers=headers, excluded_checks=excluded
        )
        tally.calls[label] = tally.calls.get(label, 0) + 1
        tally.statuses[response.status_code] = tally.statuses.get(response.status_code, 0) + 1
        # (an order answered 202 is still pending and may land later: compare no more)
        settled = tally.statuses.get(202, 0) == 0
        if 400 <= response.status_code < 500 and observe is not None and settled:
            assert observe() == before, f"{label} was refused and still changed state"

    return run  # type: ignore[no-any-return]
