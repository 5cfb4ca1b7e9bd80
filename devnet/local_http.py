"""HTTP calls from the devnet and the tests to the processes they started: one client per
thread, one TLS context per process.

``httpx.get`` and its siblings build a client per call, and each new client loads the CA
bundle into a fresh TLS context: about 35 ms of CPU, holding the GIL, for calls that are
plain HTTP to 127.0.0.1. The group test makes thousands of them from 48 threads, and the
test process, not the nodes, was what limited its load. Here the context is made once
(``ssl.create_default_context`` with certifi's bundle, as httpx does: an https URL is
still verified) and each thread keeps one client. The client keeps no idle connection:
each call opens its own (on loopback that costs little), so a call never goes out on a
connection the server is closing at that moment (its keep-alive timeout, or a node killed
and restarted on the same port), which would fail it for no reason of its own.
"""

from __future__ import annotations

import ssl
import threading
from functools import cache
from typing import Any

import certifi
import httpx

TIMEOUT = 10.0
_local = threading.local()


@cache
def _tls() -> ssl.SSLContext:
    return ssl.create_default_context(cafile=certifi.where())


def client() -> httpx.Client:
    """This thread's client (made on first use)."""
    held: httpx.Client | None = getattr(_local, "client", None)
    if held is None:
        held = _local.client = httpx.Client(
            verify=_tls(), timeout=TIMEOUT, limits=httpx.Limits(max_keepalive_connections=0)
        )
    return held


def request(method: str, url: str, **kwargs: Any) -> httpx.Response:
    return client().request(method, url, **kwargs)


def get(url: str, **kwargs: Any) -> httpx.Response:
    return client().get(url, **kwargs)


def post(url: str, **kwargs: Any) -> httpx.Response:
    return client().post(url, **kwargs)
