"""Alerts (``node.alerts``): what starts between two status snapshots, and the webhook that
posts each one signed, retried with back-off, to a real HTTP server, never blocking."""

from __future__ import annotations

import hmac
import http.server
import json
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import ClassVar

import pytest
import trio

from node.alerts import MAX_QUEUE, Alert, Webhook, alerts_between, load_secret, signature
from node.statistics import NodeStatistics
from tests.node.snapshots import ME, OTHER, STEWARD, claim, no_group, position, snapshot


@pytest.mark.parametrize(
    ("after", "kind", "subject"),
    [
        (snapshot(silent=True), "steward-silent", STEWARD.hex()),
        (snapshot(age=7.0), "checkpoint-late", "8"),
        (snapshot(down=12.0), "ledger-unreachable", "ledger"),
        (snapshot(claims=(claim(OTHER),)), "revoke-open", OTHER.hex()),
        (snapshot(claims=(claim(ME, crawled=True),)), "crawl-back-received", ME.hex()),
        (snapshot(crawls=1), "crawl-back-sent", "1"),
        (snapshot(pit=position(call=9)), "margin-call", ME.hex()),
        (snapshot(liquidations=1), "liquidation", "1"),
    ],
)
def test_each_alert_fires_once_when_it_starts(
    after: NodeStatistics, kind: str, subject: str
) -> None:
    quiet = snapshot(pit=position())
    assert alerts_between(None, quiet, 2.0) == []
    (alert,) = alerts_between(quiet, after, 2.0)
    assert (alert.kind, alert.subject) == (kind, subject) and alert.detail
    assert alerts_between(after, after, 2.0) == []  # still so: not again
    assert alerts_between(quiet, after, 2.0) == [alert]  # cleared, then again: again


def test_our_own_open_claim_is_no_revoke_against_us_and_short_outages_are_quiet() -> None:
    quiet = snapshot()
    assert alerts_between(quiet, snapshot(claims=(claim(ME),)), 2.0) == []
    assert alerts_between(quiet, snapshot(down=3.0, age=5.0), 2.0) == []
    assert alerts_between(None, no_group(), 2.0) == []  # no group yet: nothing to say


def test_after_a_restart_past_events_are_not_told_again_but_new_ones_are() -> None:
    restarted = snapshot(crawls=2, liquidations=1, silent=True)
    told = alerts_between(None, restarted, 2.0)  # the first look: what holds, nothing past
    assert [a.kind for a in told] == ["steward-silent"]
    later = snapshot(crawls=3, liquidations=2, silent=True)
    assert {(a.kind, a.subject) for a in alerts_between(restarted, later, 2.0)} == {
        ("crawl-back-sent", "3"),
        ("liquidation", "2"),
    }


class Receiver(http.server.BaseHTTPRequestHandler):
    """Answers 500 to the first ``fail`` posts, then 200; keeps what it was sent."""

    fail: ClassVar[int] = 0
    got: ClassVar[list[tuple[dict[str, str], bytes]]] = []

    def do_POST(self) -> None:
        body = self.rfile.read(int(self.headers["Content-Length"]))
        type(self).got.append((dict(self.headers), body))
        failing = type(self).fail > 0
        type(self).fail -= 1
        self.send_response(500 if failing else 200)
        self.send_header("Content-Length", "0")
        self.end_headers()

    def log_message(self, *args: object) -> None:
        pass


@contextmanager
def receiver(fail: int) -> Iterator[type[Receiver]]:
    handler = type("R", (Receiver,), {"fail": fail, "got": []})
    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), handler)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        handler.url = f"http://127.0.0.1:{server.server_address[1]}/hook"  # type: ignore[attr-defined]
        yield handler
    finally:
        server.shutdown()
        server.server_close()


async def test_an_alert_is_posted_signed_and_retried_until_taken(tmp_path: Path) -> None:
    secret = load_secret(tmp_path)
    assert (tmp_path / "webhook.secret").stat().st_mode & 0o777 == 0o600
    assert load_secret(tmp_path) == secret  # made once
    with receiver(fail=2) as r:
        hook = Webhook(r.url, secret, "g" * 64, ME.hex(), backoff=0.01)  # type: ignore[attr-defined]
        async with trio.open_nursery() as nursery:
            nursery.start_soon(hook.run)
            hook.send(Alert("steward-silent", STEWARD.hex(), "not signing"), 1_000.0)
            with trio.fail_after(20):
                while hook.sent < 1:
                    await trio.sleep(0.01)
            nursery.cancel_scope.cancel()
    assert len(r.got) == 3 and hook.failed == 0 and hook.last_error == "HTTP 500"
    bodies = {body for _, body in r.got}
    assert len(bodies) == 1  # the same alert (one id) each try
    headers, body = r.got[-1]
    assert hmac.compare_digest(headers["X-Swapnet-Signature"], signature(secret, body))
    sent = json.loads(body)
    assert sent["kind"] == "steward-silent" and sent["subject"] == STEWARD.hex() and sent["id"]
    assert signature(b"another secret", body) != headers["X-Swapnet-Signature"]


async def test_an_unreachable_webhook_never_blocks_and_its_queue_is_bounded() -> None:
    hook = Webhook("http://127.0.0.1:9/nothing", b"s", "g", ME.hex(), backoff=0.01)
    for i in range(MAX_QUEUE + 5):  # nothing delivers them: send returns at once anyway
        hook.send(Alert("test", str(i), "x"), float(i))
    assert len(hook.queue) == MAX_QUEUE and hook.dropped == 5
    assert hook.queue[0]["subject"] == "5"  # the oldest went
    async with trio.open_nursery() as nursery:
        nursery.start_soon(hook.run)
        with trio.fail_after(30):
            while hook.failed < 1:
                await trio.sleep(0.01)
        hook.close()
    assert hook.last_error is not None and hook.sent == 0
