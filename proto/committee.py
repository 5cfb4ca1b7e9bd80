"""The steward committee: who votes, how many may be faulty, what a quorum is.

n stewards tolerate f = (n - 1) // 3 Byzantine ones. A quorum is q = ceil((n + f + 1) / 2)
votes, which is 2f + 1 when n = 3f + 1 (the design's sizes). Any two quorums then share
2q - n >= f + 1 stewards, so at least one honest steward: that is what makes the vote-lock
rule enough to stop two conflicting orders from both being certified. (A flat 2f + 1 is
not enough for other n: with n = 5 and f = 1 two quorums of 3 may meet only in the faulty
steward.) And q <= n - f, so the honest stewards alone can always form a quorum.
"""

from __future__ import annotations

from dataclasses import dataclass

from proto.kinds import KEY_SIZE_BYTES, MAX_STEWARDS


@dataclass(frozen=True)
class Committee:
    stewards: tuple[bytes, ...]

    def __post_init__(self) -> None:
        if not 1 <= len(self.stewards) <= MAX_STEWARDS:
            raise ValueError(f"a committee has 1..{MAX_STEWARDS} stewards")
        if any(len(s) != KEY_SIZE_BYTES for s in self.stewards):
            raise ValueError("steward ids are 32-byte public keys")
        if len(set(self.stewards)) != len(self.stewards):
            raise ValueError("a steward appears twice")

    @property
    def n(self) -> int:
        return len(self.stewards)

    @property
    def f(self) -> int:
        return (self.n - 1) // 3

    @property
    def quorum(self) -> int:
        return (self.n + self.f + 2) // 2

    def __contains__(self, member: object) -> bool:
        return member in self.stewards

    def index_of(self, steward: bytes) -> int:
        return self.stewards.index(steward)
