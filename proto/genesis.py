"""The genesis document: what a group is, fixed when its stewards create it.

It names the group, its stewards (member ids, in FROST identifier order: the i-th steward
holds share i+1), the FROST threshold, the wallet key the DKG produced, the assets, the
ledger it lives on, the challenge window and revoke fee it registers there, the
checkpoint interval, the hash of the terms every member signs, and its admission policy.
The group id is SHA-256 over the domain tag and the canonical encoding, so any change to
any field is another group.

Invariants (checked at construction, so a decoded genesis is a valid one): stewards are
distinct; n >= 3f + 1 holds by definition of f; the threshold is the committee's quorum,
ceil((n + f + 1) / 2), which FROST safety and checkpoint safety both rest on; the wallet
key is a valid prime-order point; assets are sorted and distinct.
"""

from __future__ import annotations

import hashlib
from dataclasses import dataclass

from proto.codec import ListOf, Obj, Text, UInt, Wire, register, wf
from proto.committee import Committee
from proto.epochs import Epochs, genesis_epoch
from proto.frost.suite import ED25519, SECP256K1, SUITES
from proto.kinds import (
    ASSET,
    DIGEST,
    EVM_ACCOUNT,
    EVM_ACCOUNT_SIZE,
    HANDLE,
    MAX_ASSETS,
    MAX_STEWARDS,
    MEMBER_ID,
    WALLET_KEY,
)
from proto.pit import PIT_OFF, PitPolicy
from proto.state import GroupState

MAX_EVM_ASSETS = 16
"""The contract's cap on a wallet's assets (``GroupWallet.sol``)."""


@register(80, "admission-policy")
@dataclass(frozen=True)
class AdmissionPolicy(Wire):
    """Who may join: at most ``max_premature_revokes`` premature revokes (caught or not)
    and ``max_pit_defaults`` pit defaults over the prequals shown; prequals only from the
    listed group wallets (empty: any group's); at least ``min_prequals`` of them, from
    distinct groups; each cut from a checkpoint at most ``max_prequal_age`` ledger blocks
    older than the admitting proposal (0: any age). See ``proto.prequal``.

    A policy that asks for prequals names the wallets it trusts (anyone can open a wallet
    of its own and sign itself clean badges) and bounds their age (an old badge hides
    what came after it): ``min_prequals > 0`` needs ``trusted_wallets`` and
    ``max_prequal_age > 0``. With no prequals asked for, badges a joiner shows anyway
    still count against it."""

    max_premature_revokes: int = wf(UInt(32))
    max_pit_defaults: int = wf(UInt(32))
    trusted_wallets: tuple[bytes, ...] = wf(ListOf(WALLET_KEY, max_items=256, strictly_sorted=True))
    min_prequals: int = wf(UInt(8))
    max_prequal_age: int = wf(UInt(64))

    def check_fields(self) -> None:
        if self.min_prequals and not self.trusted_wallets:
            raise ValueError(
                "asking for prequals needs trusted wallets: anyone can make a wallet that "
                "signs itself clean badges"
            )
        if self.min_prequals and not self.max_prequal_age:
            raise ValueError("asking for prequals needs a maximum prequal age (blocks)")


@register(81, "genesis")
@dataclass(frozen=True)
class Genesis(Wire):
    name: str = wf(Text(64))
    stewards: tuple[bytes, ...] = wf(ListOf(MEMBER_ID, min_items=1, max_items=MAX_STEWARDS))
    threshold: int = wf(UInt(16, minimum=1))
    wallet_key: bytes = wf(WALLET_KEY)
    """The group wallet's FROST key, a point of ``wallet_suite``'s group."""
    assets: tuple[str, ...] = wf(
        ListOf(ASSET, min_items=1, max_items=MAX_ASSETS, strictly_sorted=True)
    )
    ledger_id: bytes = wf(DIGEST)
    challenge_window: int = wf(UInt(32, minimum=1))
    revoke_fee: int = wf(UInt(64))
    checkpoint_interval: int = wf(UInt(32, minimum=1))
    """Seconds between checkpoints."""
    terms_hash: bytes = wf(DIGEST)
    admission: AdmissionPolicy = wf(Obj(AdmissionPolicy))
    pit: PitPolicy = wf(Obj(PitPolicy), default=PIT_OFF)
    """The S&L pit's rules (``proto.pit``); off unless a numeraire is named."""
    wallet_suite: str = wf(Text(48), default=ED25519.name)
    """The wallet key's FROST ciphersuite (``proto.frost.suite``): FROST(Ed25519, SHA-512)
    for the devnet ledger, FROST(secp256k1, SHA-256) for a wallet on an EVM chain."""
    evm_tokens: tuple[bytes, ...] = wf(ListOf(EVM_ACCOUNT, max_items=MAX_EVM_ASSETS), default=())
    """For a wallet on an EVM chain (``wallet_suite`` secp256k1; ``ledger_id`` its chain and
    contract, ``proto.evm_wallet``): the token each asset is, in ``assets``' order (ETH is
    the zero account). What every member agrees a "USD" is. Empty for the devnet ledger."""
    steward_accounts: tuple[bytes, ...] = wf(
        ListOf(EVM_ACCOUNT, max_items=MAX_STEWARDS), default=()
    )
    """For a wallet on an EVM chain, each steward's EVM account (in ``stewards``' order), as
    a member's signed join names its own (``Join.evm_account``). Empty else."""
    refresh_every: int = wf(UInt(32), default=0)
    """Checkpoints between proactive refreshes of the stewards' shares (0: on demand only):
    each epoch's stewards ask for a refresh once it has run this many checkpoints
    (``node.stewardship``), so a share stolen before is useless after."""
    steward_handles: tuple[str, ...] = wf(ListOf(HANDLE, max_items=MAX_STEWARDS), default=())
    """Each founding steward's handle (in ``stewards``' order; ``proto.handles``), distinct;
    empty in a group made before handles."""

    @property
    def on_evm(self) -> bool:
        return self.wallet_suite == SECP256K1.name

    def check_fields(self) -> None:
        if self.pit.on and self.pit.numeraire not in self.assets:
            raise ValueError("the pit's numeraire must be one of the group's assets")
        committee = Committee(self.stewards)  # distinct, sized
        if self.threshold != committee.quorum:
            raise ValueError(
                f"threshold must be the quorum {committee.quorum} for {committee.n} stewards"
            )
        suite = SUITES.get(self.wallet_suite)
        if suite is None:
            raise ValueError(f"unknown wallet suite {self.wallet_suite!r}")
        if not suite.is_valid_point(self.wallet_key):
            raise ValueError("the wallet key is not a valid prime-order point of its suite")
        evm_problem(self.wallet_suite, self.assets, self.evm_tokens)
        accounts_problem(self.wallet_suite, self.stewards, self.steward_accounts)
        handles_problem(self.stewards, self.steward_handles)
        if self.on_evm:
            # the contract checks signatures only under a key whose x is below the group
            # order (a DKG misses with odds of about 2^-128), on a chain id that is one
            if int.from_bytes(self.wallet_key[1:], "big") >= SECP256K1.order:
                raise ValueError("this wallet key cannot be checked on an EVM chain")
            if not int.from_bytes(self.ledger_id[:12], "big"):
                raise ValueError("an EVM wallet's ledger id names its chain and contract")

    @property
    def committee(self) -> Committee:
        """The stewards sorted by id, as votes and certificates use them."""
        return Committee(tuple(sorted(self.stewards)))

    @property
    def epochs(self) -> Epochs:
        """The schedule at genesis: epoch 0, this committee from checkpoint 1."""
        return Epochs((genesis_epoch(self.stewards, self.threshold),))

    def frost_identifier(self, steward: bytes) -> int:
        return self.stewards.index(steward) + 1

    def group_id(self) -> bytes:
        return hashlib.sha256(b"swapnet/1/genesis\x00" + self.encode()).digest()

    def initial_state(self) -> GroupState:
        """The state before anyone is admitted: the group's assets and pit rules."""
        return GroupState(self.group_id(), self.assets, self.pit, self.checkpoint_interval)

    def founding_state(self) -> GroupState:
        """The state at genesis: the stewards admitted (with their EVM accounts, if any)."""
        state = self.initial_state()
        accounts = self.steward_accounts or tuple(b"" for _ in self.stewards)
        handles = self.steward_handles or tuple("" for _ in self.stewards)
        for steward, account, handle in zip(self.stewards, accounts, handles, strict=True):
            state.admit(steward, evm_account=account, handle=handle)
        return state


def evm_problem(suite: str, assets: tuple[str, ...], tokens: tuple[bytes, ...]) -> None:
    """Raise ``ValueError`` unless a secp256k1 wallet names one distinct 20-byte token per
    asset (at most ``MAX_EVM_ASSETS``) and any other wallet names none."""
    if suite != SECP256K1.name:
        if tokens:
            raise ValueError("only a wallet on an EVM chain names tokens")
        return
    if len(tokens) != len(assets) or len(assets) > MAX_EVM_ASSETS:
        raise ValueError(f"an EVM wallet names one token per asset, at most {MAX_EVM_ASSETS}")
    if len(set(tokens)) != len(tokens) or any(len(t) != EVM_ACCOUNT_SIZE for t in tokens):
        raise ValueError("an EVM wallet's tokens are distinct 20-byte accounts")


def accounts_problem(suite: str, stewards: tuple[bytes, ...], accounts: tuple[bytes, ...]) -> None:
    """Raise ``ValueError`` unless a secp256k1 wallet names one 20-byte account per steward
    and any other names none."""
    if suite != SECP256K1.name:
        if accounts:
            raise ValueError("only a wallet on an EVM chain names steward accounts")
        return
    if len(accounts) != len(stewards) or any(len(a) != EVM_ACCOUNT_SIZE for a in accounts):
        raise ValueError("an EVM wallet names one 20-byte account per steward")


def handles_problem(stewards: tuple[bytes, ...], handles: tuple[str, ...]) -> None:
    """Raise ``ValueError`` unless ``handles`` names one distinct handle per steward (or
    none at all)."""
    if handles and (len(handles) != len(stewards) or len(set(handles)) != len(handles)):
        raise ValueError("the group spec names one distinct handle per steward")


def terms_hash(terms: str) -> bytes:
    """The hash of the group's terms text (UTF-8) that every member signs on joining."""
    return hashlib.sha256(b"swapnet/1/terms\x00" + terms.encode("utf-8")).digest()
