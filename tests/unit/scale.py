"""How many schedules the simulators run: ``SCALE`` is eight in the default hypothesis
profile (``make test`` stays inside CI's 15 minutes on 2 cores, where the process tests and
the simulators share the two cores: 240 payment schedules, 240 checkpoint schedules, 1,040
hand-over schedules) and a hundred in ``thorough`` (``make fuzz``: 12.5 times as many:
3,000 checkpoint schedules)."""

from __future__ import annotations

import os

SCALE = 100 if os.environ.get("HYPOTHESIS_PROFILE") == "thorough" else 8
