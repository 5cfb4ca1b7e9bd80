"""Swaps between two members' nodes: ask, terms, signatures (the messages only; the node
carries them on ``/swapnet/swap/1``).

1. The taker asks the maker for a swap on the maker's standing quote (``SwapAsk``: what
   the taker gives and gets).
2. The maker reserves its next seq and answers with it (``SwapTerms``); it signs nothing
   yet, and signs no other order until step 3 or a timeout.
3. The taker builds the ``Swap`` with both seqs, signs it, and sends it (``SwapSign``); the
   maker checks it is exactly the quoted swap with its reserved seq, signs, keeps the
   fully signed order to submit itself, and returns its signature (``SwapSigned``).

Both then hold the same fully signed order; submitting it twice is harmless (one order
id). Neither side ever signs a seq it could later need for another order.
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


def swap_of(taker: bytes, taker_seq: int, maker: bytes, maker_seq: int, ask: SwapAsk) -> Swap:
    """The one swap an ask and two seqs describe: the taker pays ``give`` to the maker, the
    maker pays ``get`` to the taker."""
    parties = tuple(sorted((Party(taker, taker_seq), Party(maker, maker_seq)), key=_member))
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


def _member(p: Party) -> bytes:
    return p.member


__all__ = ["SwapAsk", "SwapSign", "SwapSigned", "SwapTerms", "swap_of"]
