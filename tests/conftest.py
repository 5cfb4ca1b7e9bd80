"""Test-wide settings. Hypothesis runs without per-example deadlines (CI machines are
slow and shared: a deadline would make results depend on timing luck); the ``ci`` profile
is the default, ``thorough`` (HYPOTHESIS_PROFILE=thorough) runs ten times the examples."""

from __future__ import annotations

import os

from hypothesis import HealthCheck, settings

settings.register_profile(
    "ci", deadline=None, suppress_health_check=[HealthCheck.too_slow], max_examples=100
)
settings.register_profile(
    "thorough", deadline=None, suppress_health_check=[HealthCheck.too_slow], max_examples=1000
)
settings.load_profile(os.environ.get("HYPOTHESIS_PROFILE", "ci"))
