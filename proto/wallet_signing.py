"""The group wallet's own ledger transactions, signed with FROST: which ones a steward
approves, and whose turn it is to coordinate each. Sans-IO.

The wallet's own transactions (opening the wallet, and a settle for every exited member a
checkpoint leaves holding something) are fully determined by the genesis and the adopted
state, so every steward computes the same bytes and signs them without a lock: any steward
may coordinate, and a signer checks that what it is asked to sign is the job's message.
One steward coordinates a job at a time, in turn: the job's nonce picks the first, and the
turn passes to the next every ``timeout`` until the ledger shows the wallet's nonce used
(``nonce_seen``). The checkpoint machine (``proto.checkpointing``) runs the sessions.

Invariants: a job is keyed by the digest of its message, so approving the same
transaction twice is one job; each steward starts each of its turns at most once; a job
ends when the ledger has used its nonce, or (a settle) when a newer adopted state owes
other settles.
"""

from __future__ import annotations

import hashlib
from collections.abc import Collection, Iterable, Iterator
from dataclasses import dataclass, field

from proto.committee import Committee
from proto.wallet_txs import WalletAction

SESSION_TAG = b"swapnet/1/wallet-tx-session\x00"


@dataclass
class WalletJob:
    action: WalletAction
    since: float
    tried: set[int] = field(default_factory=set)

    @property
    def message(self) -> bytes:
        return self.action.message


def session_of(action: WalletAction) -> bytes:
    return hashlib.sha256(SESSION_TAG + action.message).digest()


class WalletJobs:
    """The wallet transactions this steward signs when asked, by signing session."""

    def __init__(self, committee: Committee, me: bytes, timeout: float) -> None:
        self.committee = committee
        self.me = me
        self.timeout = timeout
        self.jobs: dict[bytes, WalletJob] = {}

    def __iter__(self) -> Iterator[bytes]:
        return iter(self.jobs)

    def __len__(self) -> int:
        return len(self.jobs)

    def get(self, session: bytes) -> WalletJob | None:
        return self.jobs.get(session)

    def approve(self, action: WalletAction, now: float) -> None:
        self.jobs.setdefault(session_of(action), WalletJob(action, now))

    def nonce_seen(self, nonce: int) -> None:
        """The ledger has applied the wallet's transactions up to ``nonce``."""
        self.jobs = {k: j for k, j in self.jobs.items() if j.action.nonce > nonce}

    def owe_settles(self, settles: Iterable[WalletAction], now: float) -> None:
        """The settles an adopted state owes, in place of those an older one owed: one the
        ledger refused (its nonce unused) is derived again, or dropped (the member
        revoked), and the next settle reuses its nonce."""
        self.jobs = {k: j for k, j in self.jobs.items() if not j.action.is_settle}
        for action in settles:
            self.approve(action, now)

    def my_turns(self, now: float, running: Collection[bytes]) -> list[tuple[bytes, WalletJob]]:
        """The jobs whose coordinator is us now and that we have not started this turn
        (``running``: sessions we coordinate already); each is marked started."""
        due = []
        n = self.committee.n
        for session, job in self.jobs.items():
            if session in running:
                continue
            turn = int((now - job.since) // self.timeout)
            first = job.action.nonce % n
            if self.committee.stewards[(first + turn) % n] != self.me or turn in job.tried:
                continue
            job.tried.add(turn)
            due.append((session, job))
        return due
