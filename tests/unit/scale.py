"""How many schedules the simulators run: ``SCALE`` is ten in the default hypothesis
profile (600 schedules each: ``make test`` stays inside CI's 15 minutes on 2 cores) and a
hundred in ``thorough`` (``make fuzz``: 6,000 each)."""

from __future__ import annotations

import os

SCALE = 100 if os.environ.get("HYPOTHESIS_PROFILE") == "thorough" else 10
