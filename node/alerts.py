"""Alerts that wake an operator: what in the node's status an operator must hear about at
once, and the webhook that tells it (a signed POST, retried with back-off).

``alerts_between(before, now, ...)`` compares two frozen snapshots of the node's figures
(``node.statistics``) and names what started between them: a steward not signing, a
checkpoint late, the ledger unreachable, a revoke claim opened against the group wallet,
a crawl back this notary sent, our own claim crawled back, a margin call on us, the pit
liquidating our collateral. Each fires once when it starts (a flapping condition fires
again after it cleared).

``Webhook`` posts each alert as JSON to the operator's URL with
``X-Swapnet-Signature: sha256=<hex HMAC-SHA256 of the body under the node's webhook
secret>`` (the secret is ``DATA/webhook.secret``, 0600, made on first use); the body
carries a unique ``id`` and ``at`` so a receiver can refuse replays. Delivery never blocks
the node: alerts wait in a bounded queue (the oldest is dropped and counted when full),
one is retried with exponential back-off (1 s doubling to 60 s, ``MAX_TRIES`` tries) while
the others wait.
"""

from __future__ import annotations

import hashlib
import hmac
import json
import logging
import secrets
from collections import deque
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import httpx
import trio

from node.files import write_private
from node.statistics import NodeStatistics

log = logging.getLogger(__name__)

KINDS = (
    "steward-silent",
    "checkpoint-late",
    "ledger-unreachable",
    "revoke-open",
    "crawl-back-sent",
    "crawl-back-received",
    "margin-call",
    "liquidation",
)
PAST_EVENTS = frozenset({"crawl-back-sent", "liquidation"})
"""Alerts that count events (their subject is the count), not a condition that holds."""
LATE_INTERVALS = 3
"""A checkpoint is late when none was adopted for this many checkpoint intervals."""
LEDGER_DOWN_SECONDS = 10.0
MAX_QUEUE = 256
MAX_TRIES = 8
MAX_BACKOFF = 60.0
SECRET_FILE = "webhook.secret"
URL_FILE = "webhook.url"
ALERT_POLL = 2.0


@dataclass(frozen=True)
class Alert:
    kind: str
    subject: str
    """What it is about: a steward or member id (hex), a checkpoint number, "ledger"."""
    detail: str


def _conditions(s: NodeStatistics, interval: float) -> dict[tuple[str, str], str]:
    """Every alerting condition that holds in the snapshot ``s``: (kind, subject) -> words."""
    g = s.group
    if g is None:
        return {}
    me = s.member.hex()
    out: dict[tuple[str, str], str] = {}
    for st in g.stewards.stewards:
        if st.not_signing:
            out[("steward-silent", st.steward.hex())] = (
                f"steward {st.steward.hex()[:16]} is not signing (last seen "
                f"{st.last_seen_seconds} s ago)"
            )
    cp = g.checkpoint
    if cp.age_seconds > LATE_INTERVALS * interval:
        out[("checkpoint-late", str(cp.number + 1))] = (
            f"no checkpoint adopted for {cp.age_seconds:.0f} s (after {cp.number})"
        )
    notary = g.notary
    down = notary.ledger_unreachable_seconds
    if down is not None and down >= LEDGER_DOWN_SECONDS:
        out[("ledger-unreachable", "ledger")] = f"the ledger has not answered for {down:.0f} s"
    for c in notary.open_claims:
        claimant = c.member.hex()
        words = f"{claimant[:16]} revoked under checkpoint {c.checkpoint}: {dict(c.claim)}"
        if claimant != me:
            out[("revoke-open", claimant)] = words
        elif c.crawled_back:
            out[("crawl-back-received", me)] = f"our revoke was crawled back ({words})"
    if notary.crawl_backs_sent:
        n = notary.crawl_backs_sent
        out[("crawl-back-sent", str(n))] = f"this notary sent crawl back number {n}"
    if g.liquidations:
        out[("liquidation", str(g.liquidations))] = (
            f"the S&L pit liquidated our collateral (liquidation number {g.liquidations}): "
            "a margin call outlasted its grace, or we revoked while borrowing"
        )
    position = g.position
    if position is not None and position.margin_call_since is not None:
        out[("margin-call", me)] = (
            f"margin call on us since checkpoint {position.margin_call_since} "
            f"(collateral ratio {position.ratio_bps} bps)"
        )
    return out


def alerts_between(
    before: NodeStatistics | None, now: NodeStatistics, interval: float
) -> list[Alert]:
    """What started between two snapshots. At the first look (``before`` None, as after
    a restart) everything that holds, except the counts of what happened before it
    (``PAST_EVENTS``: a crawl back sent, a liquidation), which were told when they
    happened."""
    was = {} if before is None else _conditions(before, interval)
    return [
        Alert(kind, subject, words)
        for (kind, subject), words in sorted(_conditions(now, interval).items())
        if (kind, subject) not in was and not (before is None and kind in PAST_EVENTS)
    ]


def load_secret(data_dir: Path) -> bytes:
    """The node's webhook secret (made, 0600, on first use)."""
    path = data_dir / SECRET_FILE
    if not path.exists():
        write_private(path, secrets.token_hex(32).encode())
    return path.read_bytes().strip()


def read_webhook_url(data_dir: Path) -> str:
    """The webhook URL set through the API before a restart ("" for none)."""
    path = data_dir / URL_FILE
    return path.read_text().strip() if path.exists() else ""


def save_webhook_url(data_dir: Path, url: str | None) -> None:
    path = data_dir / URL_FILE
    if url is None:
        path.unlink(missing_ok=True)
    else:
        write_private(path, url.encode())


def signature(secret: bytes, body: bytes) -> str:
    return "sha256=" + hmac.new(secret, body, hashlib.sha256).hexdigest()


class Webhook:
    """Posts alerts to ``url``, signed, in order, never blocking whoever sends them."""

    def __init__(
        self, url: str, secret: bytes, group: str, member: str, backoff: float = 1.0
    ) -> None:
        self.url = url
        self.backoff = backoff
        self.secret = secret
        self.group = group
        self.member = member
        self.queue: deque[dict[str, Any]] = deque(maxlen=MAX_QUEUE)
        self.wake = trio.Event()
        self.sent = 0
        self.failed = 0
        self.dropped = 0
        self.last_error: str | None = None
        self.closed = False

    def close(self) -> None:
        """Stop delivering (another URL was set): what is queued is not sent."""
        self.closed = True
        self.wake.set()

    def send(self, alert: Alert, at: float) -> None:
        if len(self.queue) == MAX_QUEUE:
            self.dropped += 1  # the oldest goes: the newest says more about now
        self.queue.append(
            {
                "id": secrets.token_hex(16),
                "at": round(at, 3),
                "kind": alert.kind,
                "subject": alert.subject,
                "detail": alert.detail,
                "group": self.group,
                "member": self.member,
            }
        )
        self.wake.set()

    async def run(self) -> None:
        async with httpx.AsyncClient(timeout=10) as client:
            while not self.closed:
                if not self.queue:
                    self.wake = trio.Event()
                    await self.wake.wait()
                    continue
                await self._deliver(client, self.queue[0])
                if self.queue:
                    self.queue.popleft()

    async def _deliver(self, client: httpx.AsyncClient, alert: dict[str, Any]) -> None:
        body = json.dumps(alert, sort_keys=True).encode()
        headers = {
            "Content-Type": "application/json",
            "X-Swapnet-Signature": signature(self.secret, body),
            "X-Swapnet-Event": alert["kind"],
        }
        delay = self.backoff
        for attempt in range(1, MAX_TRIES + 1):
            try:
                answer = await client.post(self.url, content=body, headers=headers)
                if answer.is_success:
                    self.sent += 1
                    return
                self.last_error = f"HTTP {answer.status_code}"
            except (httpx.HTTPError, httpx.InvalidURL, OSError, ValueError) as exc:
                self.last_error = f"{type(exc).__name__}: {exc}"[:200]
            log.info("alert %s not delivered (try %d): %s", alert["kind"], attempt, self.last_error)
            await trio.sleep(delay)
            delay = min(MAX_BACKOFF, delay * 2)
        self.failed += 1
        log.warning("alert %s given up after %d tries", alert["kind"], MAX_TRIES)

    def status(self) -> dict[str, Any]:
        return {
            "url": self.url,
            "queued": len(self.queue),
            "sent": self.sent,
            "failed": self.failed,
            "dropped": self.dropped,
            "last_error": self.last_error,
        }
