"""Revoke evidence: what a notary gossips after a crawl back, and the bundle that shows a
cheat to anyone outside the group.

Two kinds, one per ledger (``proto.evidence_base`` holds what they share; ``Evidence`` is
either). ``RevokeEvidence``, the devnet ledger's, carries the two ledger transactions
themselves: the revoker's
``Revoke`` (signed by the revoker; inside it the stale checkpoint, signed by the group's
wallet key, and the revoker's proof under it) and the notary's ``CrawlBack`` (the newer
checkpoint and proof), with the heights the ledger included them at, signed by the notary
that reports them. Every claim in it checks without the ledger: who signed what, that the
newer checkpoint has the higher number, and what each showed the revoker. An EVM chain's
is ``proto.evm_evidence.EvmRevokeEvidence`` (the two raw signed transactions).

``EvidenceBundle`` adds what makes it hold up outside the group: the genesis (the wallet
key, the ledger, the terms hash; its hash is the group id), the terms text, and the
revoker's signed ``Join`` over that terms hash; the exporter signs the whole file, so any
altered byte fails (a change inside a signed part fails that signature as well).
``EvidenceBundle.verify`` returns the findings and ``account`` tells them in plain words.
"""

from __future__ import annotations

import hashlib
from dataclasses import dataclass, replace

from nacl.signing import SigningKey

from proto import signing
from proto.admission import Join
from proto.checkpoint import SignedCheckpoint
from proto.codec import Obj, Text, UInt, Wire, decode, register, wf
from proto.errors import InvalidProof, InvalidSignature
from proto.evidence_base import (
    EVIDENCE_DOMAIN,
    BadEvidence,
    Evidence,
    Finding,
    read_evidence,
    sign_evidence,
)
from proto.evm_evidence import EvmRevokeEvidence
from proto.evm_wallet import evm_binding
from proto.genesis import Genesis, terms_hash
from proto.kinds import MEMBER_ID, SIGNATURE
from proto.ledger.txs import CrawlBack, Revoke, SignedTx
from proto.merkle import BalanceProof

BUNDLE_DOMAIN = "evidence-bundle"
MAX_TERMS_CHARS = 65_536
MAX_BUNDLE_BYTES = 1 << 20


@register(96, "revoke-evidence")
@dataclass(frozen=True)
class RevokeEvidence(Evidence):
    reporter: bytes = wf(MEMBER_ID)
    revoke: SignedTx = wf(Obj(SignedTx))
    revoke_height: int = wf(UInt(64, minimum=1))
    crawl_back: SignedTx = wf(Obj(SignedTx))
    crawl_back_height: int = wf(UInt(64, minimum=1))
    signature: bytes = wf(SIGNATURE)

    @property
    def group_id(self) -> bytes:
        return self.crawl_back_tx.checkpoint.checkpoint.group_id

    @property
    def revoker(self) -> bytes:
        return self.revoke.tx.sender

    @property
    def revoke_id(self) -> bytes:
        return self.revoke.tx_id()

    @property
    def crawl_back_id(self) -> bytes:
        return self.crawl_back.tx_id()

    @property
    def revoke_tx(self) -> Revoke:
        if not isinstance(self.revoke.tx, Revoke):
            raise BadEvidence("the first transaction is not a revoke")
        return self.revoke.tx

    @property
    def crawl_back_tx(self) -> CrawlBack:
        if not isinstance(self.crawl_back.tx, CrawlBack):
            raise BadEvidence("the second transaction is not a crawl back")
        return self.crawl_back.tx

    def verify(self, genesis: Genesis) -> Finding:
        revoke, crawl = self.revoke_tx, self.crawl_back_tx
        wallet_key = genesis.wallet_key
        self.check_reporter(genesis)
        for name, signed in (("revoke", self.revoke), ("crawl back", self.crawl_back)):
            try:
                signed.verify(genesis.ledger_id)
            except InvalidSignature as exc:
                raise BadEvidence(f"the {name} is not signed by its sender") from exc
        if crawl.member != revoke.sender:
            raise BadEvidence("the crawl back is against someone else")
        if self.crawl_back_height < self.revoke_height:
            raise BadEvidence("the crawl back came before the revoke")
        stale = _proven(revoke.checkpoint, revoke.proof, revoke.sender, wallet_key, "stale")
        newer = _proven(crawl.checkpoint, crawl.proof, revoke.sender, wallet_key, "newer")
        if revoke.checkpoint.checkpoint.group_id != self.group_id:
            raise BadEvidence("the two checkpoints are of different groups")
        if crawl.checkpoint.checkpoint.number <= revoke.checkpoint.checkpoint.number:
            raise BadEvidence("the crawl back's checkpoint is not newer than the revoke's")
        return Finding(
            revoker=revoke.sender,
            notary=crawl.sender,
            reporter=self.reporter,
            stale_number=revoke.checkpoint.checkpoint.number,
            newer_number=crawl.checkpoint.checkpoint.number,
            stale=stale,
            newer=newer,
            revoke_height=self.revoke_height,
            crawl_back_height=self.crawl_back_height,
            revoke_tx=self.revoke.tx_id(),
            crawl_back_tx=self.crawl_back.tx_id(),
        )


def _proven(
    signed: SignedCheckpoint, proof: BalanceProof, member: bytes, wallet_key: bytes, which: str
) -> dict[str, int]:
    try:
        signed.verify(wallet_key)
    except InvalidSignature as exc:
        raise BadEvidence(f"the {which} checkpoint is not signed by the group wallet") from exc
    try:
        leaf = signed.balance_of(proof, member)
    except InvalidProof as exc:
        raise BadEvidence(f"the proof under the {which} checkpoint fails: {exc}") from exc
    return {b.asset: b.amount for b in leaf.balances}


def unsigned_evidence(
    revoke: SignedTx, revoke_height: int, crawl: SignedTx, crawl_height: int
) -> RevokeEvidence:
    """Devnet evidence of the two transactions, for ``sign_evidence``."""
    return RevokeEvidence(bytes(32), revoke, revoke_height, crawl, crawl_height, bytes(64))


@register(97, "evidence-bundle")
@dataclass(frozen=True)
class EvidenceBundle(Wire):
    genesis: Genesis = wf(Obj(Genesis))
    terms: str = wf(Text(MAX_TERMS_CHARS))
    join: Join = wf(Obj(Join))
    evidence: Evidence = wf(Obj(RevokeEvidence, EvmRevokeEvidence))
    exporter: bytes = wf(MEMBER_ID)
    signature: bytes = wf(SIGNATURE)

    def body(self) -> bytes:
        return replace(self, signature=bytes(64)).encode()

    def verify(self) -> Finding:
        g = self.genesis
        gid = g.group_id()
        if not signing.is_valid(self.exporter, self.signature, BUNDLE_DOMAIN, gid, self.body()):
            raise BadEvidence("the exporter's signature over the bundle does not verify")
        if terms_hash(self.terms) != g.terms_hash:
            raise BadEvidence("the terms text is not the one the genesis fixes")
        finding = self.evidence.verify(g)
        if self.join.member != finding.revoker:
            raise BadEvidence("the join is not the revoker's")
        if not self.join.is_valid(gid, g.terms_hash):
            raise BadEvidence("the revoker's join is not a signature over the group's terms")
        return finding

    def account(self) -> str:
        """What happened, in plain words (call after ``verify``)."""
        f = self.verify()
        g = self.genesis
        terms_digest = hashlib.sha256(self.terms.encode()).hexdigest()[:16]
        verdict = (
            "The stale checkpoint showed the revoker more than the newer one: a premature "
            f"revoke. Under the group's rules the revoker forfeited the revoke fee ({g.revoke_fee})"
            " to the group wallet."
            if f.premature
            else "The newer checkpoint showed the revoker at least as much: the claim was "
            "corrected, not a cheat, and no fee moved."
        )
        if f.on_chain:
            chain_id, contract = evm_binding(g.ledger_id)
            where = f"block {{}} of chain {chain_id} (wallet contract 0x{contract.hex()})"
            tx, notary = "0x{}", f"0x{f.notary.hex()}"
        else:
            where, tx, notary = "ledger height {}", "{}", f.notary.hex()[:16]
        return "\n".join(
            [
                f"Group {g.name!r} (id {g.group_id().hex()[:16]}), wallet key "
                f"{g.wallet_key.hex()[:16]}, {len(g.stewards)} stewards, threshold {g.threshold}.",
                f"Trader @{self.join.handle} ({f.revoker.hex()[:16]}) signed the group's terms "
                f"(text sha256 {terms_digest}...) when joining, under that handle.",
                f"At {where.format(f.revoke_height)} the trader revoked (transaction "
                f"{tx.format(f.revoke_tx.hex())}), claiming {_amounts(f.stale)} under "
                f"checkpoint {f.stale_number}.",
                f"At {where.format(f.crawl_back_height)}, within the {g.challenge_window}-block "
                f"window, notary {notary} showed checkpoint {f.newer_number}, where the "
                f"trader held {_amounts(f.newer)} "
                f"(transaction {tx.format(f.crawl_back_tx.hex())}).",
                verdict,
                "Both checkpoints are signed by the group wallet key; both transactions by "
                f"their senders; this file by {self.exporter.hex()[:16]}.",
            ]
        )


def _amounts(balances: dict[str, int]) -> str:
    return ", ".join(f"{n} {a}" for a, n in sorted(balances.items())) or "nothing"


def sign_bundle(
    key: SigningKey, genesis: Genesis, terms: str, join: Join, evidence: Evidence
) -> EvidenceBundle:
    unsigned = EvidenceBundle(genesis, terms, join, evidence, signing.public_key_of(key), bytes(64))
    sig = signing.sign(key, BUNDLE_DOMAIN, genesis.group_id(), unsigned.body())
    return replace(unsigned, signature=sig)


def read_bundle(data: bytes) -> EvidenceBundle:
    """Strictly decode a bundle file (``DecodeError`` if it is not one)."""
    return decode(data, EvidenceBundle, max_bytes=MAX_BUNDLE_BYTES)


__all__ = [
    "BUNDLE_DOMAIN",
    "EVIDENCE_DOMAIN",
    "BadEvidence",
    "Evidence",
    "EvidenceBundle",
    "EvmRevokeEvidence",
    "Finding",
    "RevokeEvidence",
    "read_bundle",
    "read_evidence",
    "sign_bundle",
    "sign_evidence",
    "unsigned_evidence",
]
