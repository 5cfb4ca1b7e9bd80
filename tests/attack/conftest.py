"""One arena (two devnets of real processes) for every attack module in the session: the
attack modules run in file order on one worker (xdist group ``processes``)."""

from __future__ import annotations

from collections.abc import Iterator

import pytest

from tests.attack.harness import Arena, arena


@pytest.fixture(scope="session")
def the_arena(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Arena]:
    with arena(tmp_path_factory.mktemp("attack")) as a:
        yield a
