"""Swaps between two members' nodes: ask, terms, signatures (the messages only; the node
carries them on ``/swapnet/swap/1``).

1. The taker reserves its next seq and asks the maker for a swap on the maker's standing
   quote (``SwapAsk``: what the taker gives and gets, and the taker's seq). The maker
   answers only if that seq is the taker's next by its own replica (after syncing with
   the taker if it is behind), so it never has to refuse the signed swap of step 3 for it.
2. The maker reserves its next seq, checks the whole swap it would sign, and answers with
   its seq (``SwapTerms``); it signs nothing yet, and signs no other order until step 3
   or a timeout.
3. The taker builds the ``Swap`` with both seqs, signs it, and sends it (``SwapSign``); the
   maker checks it is exactly the swap of step 2, signs, keeps the fully signed order to
   submit itself, and returns its signature (``SwapSigned``). Sending the same
   ``SwapSign`` again is safe: a maker answers a swap it signed with the same signature.

Both then hold the same fully signed order; submitting it twice is harmless (one order
id). The maker never signs a seq it could later need for another order. The taker signs
first, so from step 3 its seq is taken whatever happens: it may never sign another order
with it (that would be equivocation), and it learns the outcome from the maker's answer,
from asking again, or by sync.
"""

from __future__ import annotations

from dataclasses import dataclass

from proto.codec import Obj, Wire, register, wf
from proto.kinds import AMOUNT, ASSET, SEQ, SIGNATURE
from proto.orders import Leg, Party, Swap


@register(88, "swap-ask")
@dataclass(frozen=True)
class SwapAsk(Wire):
    give_asset: str = wf(ASSET)
    give_amount: int = wf(AMOUNT)
    get_asset: str = wf(ASSET)
    get_amount: int = wf(AMOUNT)
    taker_seq: int = wf(SEQ)

    def check_fields(self) -> None:
        if self.give_asset == self.get_asset:
            raise ValueError("a swap exchanges two different assets")


@register(89, "swap-terms")
@dataclass(frozen=True)
class SwapTerms(Wire):
    maker_seq: int = wf(SEQ)


@register(91, "swap-sign")
@dataclass(frozen=True)
class SwapSign(Wire):
    swap: Swap = wf(Obj(Swap))
    taker_signature: bytes = wf(SIGNATURE)


@register(92, "swap-signed")
@dataclass(frozen=True)
class SwapSigned(Wire):
    maker_signature: bytes = wf(SIGNATURE)


def swap_of(taker: bytes, maker: bytes, maker_seq: int, ask: SwapAsk) -> Swap:
    """The one swap an ask and the maker's seq describe: the taker pays ``give`` to the
    maker with its ``ask.taker_seq``, the maker pays ``get`` to the taker."""
    parties = tuple(sorted((Party(taker, ask.taker_seq), Party(maker, maker_seq)), key=_member))
    legs = tuple(
        sorted(
            (
                Leg(taker, maker, ask.give_asset, ask.give_amount),
                Leg(maker, taker, ask.get_asset, ask.get_amount),
            ),
            key=lambda leg: (leg.payer, leg.payee, leg.asset),
        )
    )
    return Swap(parties, legs, b"")


def ask_of(swap: Swap, taker: bytes, maker: bytes) -> SwapAsk | None:
    """The ask ``swap`` answers, if it is a swap between ``taker`` and ``maker`` of the
    shape ``swap_of`` builds (None otherwise)."""
    seqs = {p.member: p.seq for p in swap.parties}
    gives = [leg for leg in swap.legs if (leg.payer, leg.payee) == (taker, maker)]
    gets = [leg for leg in swap.legs if (leg.payer, leg.payee) == (maker, taker)]
    if set(seqs) != {taker, maker} or len(gives) != 1 or len(gets) != 1:
        return None
    try:
        ask = SwapAsk(gives[0].asset, gives[0].amount, gets[0].asset, gets[0].amount, seqs[taker])
    except ValueError:
        return None
    return ask if swap_of(taker, maker, seqs[maker], ask) == swap else None


def _member(p: Party) -> bytes:
    return p.member


__all__ = ["SwapAsk", "ask_of", "SwapSign", "SwapSigned", "SwapTerms", "swap_of"]
