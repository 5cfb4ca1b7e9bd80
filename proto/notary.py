"""The notary's decision: which revoke claims to crawl back, and with what.

Every node runs a notary over its ledger view (``proto.ledger_view``). A claim stands on
a checkpoint; when the node holds a newer signed checkpoint in which the claimant's
balances differ, the claim is wrong (premature when it shows the claimant more, short
when less) and the notary crawls it back with that checkpoint and the claimant's proof,
while the window is open. A claim on the newest state (the same balances) is left alone:
it finalizes and pays. The notary never crawls back its own node's claim.

``Notary`` remembers what it sent so each (claim, checkpoint) goes out once, and sends
again only when the ledger has gone ``RESEND_BLOCKS`` past it with the claim unchanged
(a transaction lost, or refused because another notary won the race: then the claim has
moved and there is nothing to resend). It keeps nothing durable: after a restart it
decides again from the view, which is how a restarted notary still crawls back in time.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field

from proto.ledger_view import LedgerView

RESEND_BLOCKS = 5


@dataclass(frozen=True)
class CrawlBackDue:
    member: bytes
    claim_number: int
    """The checkpoint the claim stands on now."""
    checkpoint_number: int
    """The newer checkpoint to show."""
    deadline: int


@dataclass
class Notary:
    me: bytes
    window: int
    sent: dict[tuple[bytes, int, int], int] = field(default_factory=dict)
    """(member, claim number, checkpoint number) -> ledger height it was sent at."""

    def due(
        self,
        view: LedgerView,
        newest_number: int,
        balances_of: Callable[[bytes], dict[str, int] | None],
    ) -> list[CrawlBackDue]:
        """The crawl backs to send now, given the newest checkpoint the node holds and the
        claimants' balances in it (``None``: not in it)."""
        out: list[CrawlBackDue] = []
        for claim in sorted(view.open_claims(self.window).values(), key=lambda c: c.member):
            if claim.member == self.me or view.height > claim.deadline:
                continue
            if newest_number <= claim.number:
                continue
            held = balances_of(claim.member)
            if held is None or held == claim.balances:
                continue
            key = (claim.member, claim.number, newest_number)
            sent_at = self.sent.get(key)
            if sent_at is not None and view.height < sent_at + RESEND_BLOCKS:
                continue
            self.sent[key] = view.height
            out.append(CrawlBackDue(claim.member, claim.number, newest_number, claim.deadline))
        return out
