"""Background work started from synchronous code (a callback, an effect) on a nursery that
may be stopping.

While a node stops, its nurseries are cancelled and then closed; a callback that runs in
between (a checkpoint adopted during shutdown, say) must not fail for starting a task.
Whatever has to survive a stop is persisted before such a task is started, so dropping it
is no error: the work is done again, or was not needed, after the restart.
"""

from __future__ import annotations

import logging
from collections.abc import Awaitable, Callable
from typing import Any

import trio

log = logging.getLogger(__name__)


def spawn(nursery: trio.Nursery, fn: Callable[..., Awaitable[Any]], *args: Any) -> bool:
    """Start ``fn(*args)`` in ``nursery``; False (and nothing started) once it is stopping."""
    if nursery.cancel_scope.cancel_called:
        return False
    try:
        nursery.start_soon(fn, *args)
    except RuntimeError:  # "Nursery is closed to new arrivals": the node is stopping
        log.debug("stopping: %s not started", getattr(fn, "__name__", "a task"))
        return False
    return True
