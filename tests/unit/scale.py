"""How many schedules the simulators run: ``SCALE`` is eight in the default hypothesis
profile (480 schedules each: ``make test`` stays inside CI's 15 minutes on 2 cores, where
the process tests and the simulators share the two cores) and a hundred in ``thorough``
(``make fuzz``: 6,000 each)."""

from __future__ import annotations

import os

SCALE = 100 if os.environ.get("HYPOTHESIS_PROFILE") == "thorough" else 8
