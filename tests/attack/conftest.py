"""One arena (two devnets of real processes) for every attack module of this package,
torn down when the package is done: the attack modules run in file order on one worker
(xdist group ``attack``), beside the other process tests (group ``processes``) on the
other worker."""

from __future__ import annotations

from collections.abc import Iterator

import pytest

from tests.attack.harness import Arena, arena


@pytest.fixture(scope="package")
def the_arena(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Arena]:
    with arena(tmp_path_factory.mktemp("attack")) as a:
        yield a
