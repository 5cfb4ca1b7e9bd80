"""Test-wide settings. Hypothesis runs without per-example deadlines (CI machines are
slow and shared: a deadline would make results depend on timing luck); the ``ci`` profile
is the default, ``thorough`` (HYPOTHESIS_PROFILE=thorough) runs ten times the examples.

The tests that start processes are one ``xdist_group``: they run on one worker, in file
order, so two devnets never compete for the two cores and a module's shared devnet is
started once. pytest-xdist marks a grouped test by a suffix on its node id, which pytest
9.2 silently ignores (pytest-dev/pytest-xdist#1386: the tests are then spread as if
ungrouped); so a run where the grouping did not take is stopped before any test runs.
"""

from __future__ import annotations

import os

import pytest
from hypothesis import HealthCheck, settings

settings.register_profile(
    "ci", deadline=None, suppress_health_check=[HealthCheck.too_slow], max_examples=100
)
settings.register_profile(
    "thorough", deadline=None, suppress_health_check=[HealthCheck.too_slow], max_examples=1000
)
settings.load_profile(os.environ.get("HYPOTHESIS_PROFILE", "ci"))


def pytest_configure(config: pytest.Config) -> None:
    if config.getoption("dist", "no") == "loadgroup" and pytest.version_tuple[:2] >= (9, 2):
        raise pytest.UsageError(
            f"pytest {pytest.__version__} breaks --dist loadgroup (pytest-xdist#1386): "
            "install requirements.lock (make test does)"
        )


@pytest.hookimpl(trylast=True)  # after xdist's own hook has named the groups
def pytest_collection_modifyitems(config: pytest.Config, items: list[pytest.Item]) -> None:
    if not getattr(config.option, "loadgroup", False):
        return  # not an xdist worker with --dist loadgroup: nothing to check
    lost = [i.nodeid for i in items if i.get_closest_marker("xdist_group") and "@" not in i.nodeid]
    if lost:
        pytest.exit(
            f"--dist loadgroup did not group {len(lost)} tests (e.g. {lost[0]}): "
            "this pytest and pytest-xdist do not work together (pytest-xdist#1386)",
            returncode=pytest.ExitCode.USAGE_ERROR,
        )
