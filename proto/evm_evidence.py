"""Revoke evidence on an EVM chain: the revoker's ``revoke`` and the notary's
``crawlBack`` as the raw signed transactions the chain included, checked offline.

``EvmRevokeEvidence`` holds the group id, both raw transactions and the blocks they were
included in, signed by the notary that reports them. ``verify`` reads each transaction
(``proto.evm_tx``: its sender, chain and callee), decodes its calldata as the group wallet
contract does (``node/evm/GroupWallet.sol``; through ``eth_abi``, following offsets as the
contract's decoder does, so a revoke encoded in an unusual but valid way is still read),
and checks what the contract checked: the call is to this group's wallet (the id the
genesis and wallet key give) on the genesis's chain and contract; each checkpoint is
signed by the wallet key over its chain message; each leaf is proven under its root with
the tree size the checkpoint signed; the revoke was sent by its leaf's account; the crawl
back is of the same member, by someone else, with a strictly newer checkpoint. The amounts
a leaf shows are one per genesis asset, in the genesis's order.

What it cannot show: that the chain included the transactions (a signature is not a
block), as the devnet kind cannot; the blocks are the reporter's word. A revoke sent
through another contract (a smart account) has no transaction of its own to carry, so no
evidence of it is built (the notary still crawls it back).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from coincurve import PublicKey

from proto.chain_leaf import ChainLeaf, ChainProof
from proto.codec import Bytes, UInt, register, wf
from proto.errors import InvalidProof
from proto.evidence_base import BadEvidence, Evidence, Finding
from proto.evm_tx import MAX_TX_BYTES, EvmTx, read_transaction
from proto.evm_wallet import checkpoint_message, evm_binding, keccak256, wallet_id
from proto.frost.suite import SECP256K1
from proto.genesis import Genesis
from proto.kinds import DIGEST, MEMBER_ID, SIGNATURE

CHECKPOINT = "(uint64,bytes32,uint64,bytes32)"
SIGNATURE_ARGS = "(uint256,uint256,uint256)"
LEAF = "(bytes32,address,bytes32,uint256[])"
EXIT_ARGS = [CHECKPOINT, SIGNATURE_ARGS, LEAF, "uint256", "bytes32[]"]
REVOKE_ARGS = ["bytes32", *EXIT_ARGS]
CRAWL_BACK_ARGS = ["bytes32", "uint256[]", *EXIT_ARGS]
REVOKE_SELECTOR = keccak256(f"revoke({','.join(REVOKE_ARGS)})".encode())[:4]
CRAWL_BACK_SELECTOR = keccak256(f"crawlBack({','.join(CRAWL_BACK_ARGS)})".encode())[:4]


@dataclass(frozen=True)
class ExitCall:
    """A ``revoke``'s or a ``crawlBack``'s arguments: the wallet, the checkpoint as the
    chain takes it, the wallet signature on it (R compressed, then z), and the proven leaf."""

    wallet: bytes
    number: int
    root: bytes
    leaf_count: int
    body: bytes
    signature: bytes
    proof: ChainProof

    def proven(self, genesis: Genesis, which: str) -> ChainLeaf:
        """The leaf, once the checkpoint's signature and the proof both check."""
        message = checkpoint_message(
            genesis.ledger_id, self.wallet, self.number, self.root, self.leaf_count, self.body
        )
        if not SECP256K1.verify(genesis.wallet_key, message, self.signature):
            raise BadEvidence(f"the {which} checkpoint is not signed by the group wallet")
        try:
            return self.proof.verify(self.root, self.leaf_count)
        except InvalidProof as exc:
            raise BadEvidence(f"the proof under the {which} checkpoint fails: {exc}") from exc


def read_call(data: bytes, selector: bytes) -> ExitCall:
    """The arguments of a ``revoke`` (``REVOKE_SELECTOR``) or a ``crawlBack``; ``ValueError``
    if ``data`` is not a call of it that the contract would decode."""
    if data[:4] != selector:
        raise ValueError("the calldata is not a call of that function")
    # eth_abi (and the eth-utils it pulls in) takes a third of a second to import: every
    # node imports this module, few ever read an EVM call
    from eth_abi.abi import decode as abi_decode  # noqa: PLC0415
    from eth_abi.exceptions import DecodingError  # noqa: PLC0415

    types = REVOKE_ARGS if selector == REVOKE_SELECTOR else CRAWL_BACK_ARGS
    try:
        args: tuple[Any, ...] = abi_decode(types, data[4:])
    except (DecodingError, OverflowError) as exc:
        raise ValueError(f"undecodable calldata: {exc}") from exc
    wallet, (number, root, count, body), (rx, ry, z), leaf, index, path = (
        args[0],
        *args[-5:],
    )
    try:
        r = PublicKey(b"\x04" + rx.to_bytes(32, "big") + ry.to_bytes(32, "big")).format()
    except ValueError as exc:
        raise ValueError("the signature's R is not on the curve") from exc
    member, account, history, amounts = leaf
    chain_leaf = ChainLeaf(member, bytes.fromhex(account[2:]), history, tuple(amounts))
    return ExitCall(
        wallet,
        number,
        root,
        count,
        body,
        r + z.to_bytes(32, "big"),
        ChainProof(chain_leaf, index, count, tuple(path)),
    )


@register(112, "evm-revoke-evidence")
@dataclass(frozen=True)
class EvmRevokeEvidence(Evidence):
    reporter: bytes = wf(MEMBER_ID)
    group: bytes = wf(DIGEST)
    revoke: bytes = wf(Bytes(min_size=1, max_size=MAX_TX_BYTES))
    """The revoker's raw signed transaction, as the chain included it."""
    revoke_height: int = wf(UInt(64, minimum=1))
    crawl_back: bytes = wf(Bytes(min_size=1, max_size=MAX_TX_BYTES))
    crawl_back_height: int = wf(UInt(64, minimum=1))
    signature: bytes = wf(SIGNATURE)

    @property
    def group_id(self) -> bytes:
        return self.group

    @property
    def revoker(self) -> bytes:
        return self._calls()[1].proof.leaf.member

    @property
    def revoke_id(self) -> bytes:
        return keccak256(self.revoke)

    @property
    def crawl_back_id(self) -> bytes:
        return keccak256(self.crawl_back)

    def _calls(self) -> tuple[EvmTx, ExitCall, EvmTx, ExitCall]:
        try:
            revoke_tx, crawl_tx = read_transaction(self.revoke), read_transaction(self.crawl_back)
        except ValueError as exc:
            raise BadEvidence(f"a transaction is unreadable: {exc}") from exc
        try:
            revoke = read_call(revoke_tx.data, REVOKE_SELECTOR)
        except ValueError as exc:
            raise BadEvidence(f"the first transaction is not a revoke: {exc}") from exc
        try:
            crawl = read_call(crawl_tx.data, CRAWL_BACK_SELECTOR)
        except ValueError as exc:
            raise BadEvidence(f"the second transaction is not a crawl back: {exc}") from exc
        return revoke_tx, revoke, crawl_tx, crawl

    def verify(self, genesis: Genesis) -> Finding:
        if not genesis.on_evm:
            raise BadEvidence("EVM evidence, and the group's wallet is not on an EVM chain")
        self.check_reporter(genesis)
        revoke_tx, revoke, crawl_tx, crawl = self._calls()
        chain_id, contract = evm_binding(genesis.ledger_id)
        wallet = wallet_id(self.group, genesis.wallet_key)
        for name, tx, call in (("revoke", revoke_tx, revoke), ("crawl back", crawl_tx, crawl)):
            if tx.to != contract or tx.chain_id not in (None, chain_id):
                raise BadEvidence(f"the {name} is not sent to the group's chain and contract")
            if call.wallet != wallet:
                raise BadEvidence(f"the {name} is not on this group's wallet")
        stale, newer = revoke.proven(genesis, "stale"), crawl.proven(genesis, "newer")
        if revoke_tx.sender != stale.account:
            raise BadEvidence("the revoke is not sent by its leaf's account")
        if crawl_tx.sender == revoke_tx.sender:
            raise BadEvidence("the crawl back is sent by the claimant")
        if newer.member != stale.member:
            raise BadEvidence("the crawl back is against someone else")
        if self.crawl_back_height < self.revoke_height:
            raise BadEvidence("the crawl back came before the revoke")
        if crawl.number <= revoke.number:
            raise BadEvidence("the crawl back's checkpoint is not newer than the revoke's")
        assets = genesis.assets
        if len(stale.amounts) != len(assets) or len(newer.amounts) != len(assets):
            raise BadEvidence("a leaf does not show one amount per asset of the group")
        return Finding(
            revoker=stale.member,
            notary=crawl_tx.sender,
            reporter=self.reporter,
            stale_number=revoke.number,
            newer_number=crawl.number,
            stale={a: n for a, n in zip(assets, stale.amounts, strict=True) if n},
            newer={a: n for a, n in zip(assets, newer.amounts, strict=True) if n},
            revoke_height=self.revoke_height,
            crawl_back_height=self.crawl_back_height,
            revoke_tx=revoke_tx.hash,
            crawl_back_tx=crawl_tx.hash,
            on_chain=True,
        )
