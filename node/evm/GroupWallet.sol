// SPDX-License-Identifier: MIT
pragma solidity 0.8.30;

import {IERC20} from "@openzeppelin/contracts/token/ERC20/IERC20.sol";
import {SafeERC20} from "@openzeppelin/contracts/token/ERC20/utils/SafeERC20.sol";
import {ReentrancyGuardTransient} from "@openzeppelin/contracts/utils/ReentrancyGuardTransient.sol";
import {FrostSecp256k1} from "./FrostSecp256k1.sol";

/// @title swapnet's group wallets on an EVM chain: the revoke / crawl-back ledger function.
/// @notice Does what swapnet's devnet ledger does (proto/ledger/state.py), with the same
/// refusal codes as custom errors: a group opens a wallet with a message its FROST
/// (secp256k1) wallet key signed, binding this chain, this contract and the genesis
/// (wallet key, challenge window, revoke fee, assets); members deposit ETH or ERC-20
/// assets; the group settles a member's exit with a signed payout; a member exits alone
/// by revoking with a signed checkpoint and a proof of its balance leaf, paying the
/// revoke fee as a bond; within the window anyone but the claimant crawls the claim back
/// to a strictly newer checkpoint (the bond is forfeited to the wallet when the stale
/// checkpoint showed more); after the window the claim is paid by finalize.
/// @dev Invariants: a wallet never pays out more of an asset than it holds (its balance
/// is what it received, fee-on-transfer tokens counted as received); a member leaves once
/// and one way (settled members never revoke, revoked members are never settled and never
/// revoke again); an older checkpoint never replaces a newer one; every payout happens
/// after every write (checks, effects, interactions) under a re-entrancy lock; nothing is
/// relayed to another chain or contract. The fee asset is ETH (address 0): bonds are ETH.
contract GroupWallet is ReentrancyGuardTransient {
    using SafeERC20 for IERC20;

    address internal constant ETH = address(0);
    uint256 internal constant MAX_ASSETS = 16;
    uint256 internal constant MAX_DEPTH = 48;
    bytes32 internal constant OPEN_TAG = keccak256("swapnet/1/evm/open");
    bytes32 internal constant SETTLE_TAG = keccak256("swapnet/1/evm/settle");
    bytes32 internal constant CHECKPOINT_TAG = keccak256("swapnet/1/evm/checkpoint");

    uint8 internal constant SETTLED = 1;
    uint8 internal constant REVOKED = 2;

    struct Signature {
        uint256 rx;
        uint256 ry;
        uint256 z;
    }

    /// @notice What a checkpoint commits to on chain: the root of an RFC 9162 tree of ABI
    /// leaves, and the number of leaves (never taken from the caller). ``body`` is the
    /// SHA-256 of the group's whole checkpoint (proto/checkpoint.py), signed with the rest
    /// so that one wallet signature serves the group and the chain; the contract does not
    /// read it.
    struct Checkpoint {
        uint64 number;
        bytes32 root;
        uint64 leafCount;
        bytes32 body;
    }

    /// @notice A member's balance leaf: abi.encode(member, account, history, amounts), one
    /// amount per asset of the wallet, in the wallet's asset order.
    struct Leaf {
        bytes32 member;
        address account;
        bytes32 history;
        uint256[] amounts;
    }

    /// @notice How a member left (or is leaving) a wallet, in three storage slots: an open
    /// claim keeps only the hash of its amounts (the events carry them, and crawl back and
    /// finalize are given them again), which keeps a revoke within its gas target.
    struct Exit {
        address account;
        uint96 bond;
        uint64 number;
        uint64 deadline; // 0: no claim open
        uint8 status; // 0: none, SETTLED, REVOKED
        bytes32 claimed; // keccak256(abi.encode(amounts)) of the open claim
    }

    struct Wallet {
        uint256 keyX;
        uint8 keyParity;
        uint64 window;
        uint64 highestCheckpoint;
        uint256 revokeFee;
        uint256 forfeited;
        address[] assets;
        mapping(address => uint256) held;
        mapping(address => bool) isAsset;
        mapping(bytes32 => Exit) exits;
        mapping(bytes32 => mapping(uint64 => bool)) used;
    }

    mapping(bytes32 => Wallet) internal wallets;

    error WalletExists();
    error UnknownWallet();
    error BadGenesis(string reason);
    error NotWalletKey();
    error UnknownAsset();
    error BadAmount();
    error CheckpointUsed();
    error ClaimOpen();
    error MemberRevoked();
    error MemberSettled();
    error StaleCheckpoint(uint64 highest);
    error BadCheckpoint();
    error BadProof();
    error NotLeafAccount();
    error WrongBond(uint256 fee);
    error NoOpenClaim();
    error OwnClaim();
    error WindowClosed(uint64 deadline);
    error WindowOpen(uint64 deadline);
    error NotNewer(uint64 claimed);
    error WalletInsufficient(address asset);
    error BadPayTo();
    error NotTheClaim();

    event Opened(bytes32 indexed wallet, bytes32 genesis, uint64 window, uint256 revokeFee);
    event Deposited(
        bytes32 indexed wallet, bytes32 indexed member, address asset, uint256 amount, address from
    );
    event Settled(bytes32 indexed wallet, bytes32 indexed member, uint64 number, uint256[] amounts);
    event Revoked(
        bytes32 indexed wallet, bytes32 indexed member, uint64 number, uint256[] amounts
    );
    /// @notice ``premature``: the stale checkpoint showed more of some asset than the newer
    /// one (a cheat, whatever its bond); ``forfeited``: the bond it lost to the wallet.
    event CrawledBack(
        bytes32 indexed wallet,
        bytes32 indexed member,
        uint64 number,
        uint256[] amounts,
        uint256 forfeited,
        bool premature
    );
    event Finalized(bytes32 indexed wallet, bytes32 indexed member, uint64 number, uint256[] amounts);

    // -- opening ----------------------------------------------------------------------------

    /// @notice The wallet id of a genesis: bound to the key, so nobody can take a group's
    /// id under another key.
    function walletId(bytes32 genesis, uint256 keyX, uint8 keyParity)
        public
        pure
        returns (bytes32)
    {
        return keccak256(abi.encode(genesis, keyX, keyParity));
    }

    function openMessage(
        bytes32 genesis,
        uint256 keyX,
        uint8 keyParity,
        uint64 window,
        uint256 revokeFee,
        address[] calldata assets
    ) public view returns (bytes memory) {
        return abi.encode(
            OPEN_TAG, block.chainid, address(this), genesis, keyX, keyParity, window, revokeFee, assets
        );
    }

    function open(
        bytes32 genesis,
        uint256 keyX,
        uint8 keyParity,
        uint64 window,
        uint256 revokeFee,
        address[] calldata assets,
        Signature calldata sig
    ) external returns (bytes32 id) {
        id = walletId(genesis, keyX, keyParity);
        Wallet storage w = wallets[id];
        if (w.keyX != 0) revert WalletExists();
        if (!FrostSecp256k1.usableKey(keyX, keyParity)) revert BadGenesis("key");
        if (window == 0) revert BadGenesis("window");
        if (revokeFee > type(uint96).max) revert BadGenesis("fee");
        if (assets.length == 0 || assets.length > MAX_ASSETS) revert BadGenesis("assets");
        bytes memory message = openMessage(genesis, keyX, keyParity, window, revokeFee, assets);
        if (!FrostSecp256k1.verify(keyX, keyParity, message, sig.rx, sig.ry, sig.z)) {
            revert NotWalletKey();
        }
        w.keyX = keyX;
        w.keyParity = keyParity;
        w.window = window;
        w.revokeFee = revokeFee;
        for (uint256 i = 0; i < assets.length; i++) {
            if (w.isAsset[assets[i]]) revert BadGenesis("assets");
            w.isAsset[assets[i]] = true;
            w.assets.push(assets[i]);
        }
        emit Opened(id, genesis, window, revokeFee);
    }

    // -- deposits ---------------------------------------------------------------------------

    function depositETH(bytes32 id, bytes32 member) external payable nonReentrant {
        Wallet storage w = _wallet(id);
        if (!w.isAsset[ETH]) revert UnknownAsset();
        if (msg.value == 0) revert BadAmount();
        w.held[ETH] += msg.value;
        emit Deposited(id, member, ETH, msg.value, msg.sender);
    }

    /// @notice Deposit an ERC-20 asset (approved first). What the wallet counts is what it
    /// received: a token that takes a fee on transfer is credited net.
    function deposit(bytes32 id, bytes32 member, address token, uint256 amount)
        external
        nonReentrant
    {
        Wallet storage w = _wallet(id);
        if (token == ETH || !w.isAsset[token]) revert UnknownAsset();
        if (amount == 0) revert BadAmount();
        uint256 before = IERC20(token).balanceOf(address(this));
        IERC20(token).safeTransferFrom(msg.sender, address(this), amount);
        uint256 received = IERC20(token).balanceOf(address(this)) - before;
        if (received == 0) revert BadAmount();
        w.held[token] += received;
        emit Deposited(id, member, token, received, msg.sender);
    }

    // -- settle -----------------------------------------------------------------------------

    function settleMessage(
        bytes32 id,
        bytes32 member,
        uint64 number,
        address payTo,
        uint256[] calldata amounts
    ) public view returns (bytes memory) {
        return abi.encode(SETTLE_TAG, block.chainid, address(this), id, member, number, payTo, amounts);
    }

    /// @notice The group pays a member's exit (one amount per asset) to ``payTo``.
    function settle(
        bytes32 id,
        bytes32 member,
        uint64 number,
        address payTo,
        uint256[] calldata amounts,
        Signature calldata sig
    ) external nonReentrant {
        Wallet storage w = _wallet(id);
        if (payTo == address(0)) revert BadPayTo();
        if (amounts.length != w.assets.length) revert BadAmount();
        bytes memory message = settleMessage(id, member, number, payTo, amounts);
        if (!FrostSecp256k1.verify(w.keyX, w.keyParity, message, sig.rx, sig.ry, sig.z)) {
            revert NotWalletKey();
        }
        Exit storage exit = w.exits[member];
        if (w.used[member][number]) revert CheckpointUsed();
        if (exit.deadline != 0) revert ClaimOpen();
        if (exit.status == REVOKED) revert MemberRevoked();
        _covers(w, amounts);
        w.used[member][number] = true;
        exit.status = SETTLED;
        if (number > w.highestCheckpoint) w.highestCheckpoint = number;
        _debit(w, amounts);
        emit Settled(id, member, number, amounts);
        _pay(w, payTo, amounts);
    }

    // -- the exit game ----------------------------------------------------------------------

    function checkpointMessage(bytes32 id, Checkpoint calldata cp)
        public
        view
        returns (bytes memory)
    {
        return abi.encode(
            CHECKPOINT_TAG,
            block.chainid,
            address(this),
            id,
            cp.number,
            cp.root,
            cp.leafCount,
            cp.body
        );
    }

    /// @notice A member exits alone: sent by its leaf's account, with the revoke fee as bond.
    function revoke(
        bytes32 id,
        Checkpoint calldata cp,
        Signature calldata sig,
        Leaf calldata leaf,
        uint256 index,
        bytes32[] calldata proof
    ) external payable nonReentrant {
        Wallet storage w = _wallet(id);
        _proven(w, id, cp, sig, leaf, index, proof);
        if (msg.sender != leaf.account) revert NotLeafAccount();
        if (msg.value != w.revokeFee) revert WrongBond(w.revokeFee);
        bytes32 member = leaf.member;
        Exit storage exit = w.exits[member];
        if (exit.deadline != 0) revert ClaimOpen();
        if (exit.status == SETTLED) revert MemberSettled();
        if (exit.status == REVOKED) revert MemberRevoked();
        if (w.used[member][cp.number]) revert CheckpointUsed();
        if (cp.number < w.highestCheckpoint) revert StaleCheckpoint(w.highestCheckpoint);
        // REVOKED keeps the member from revoking or being settled ever again
        w.exits[member] = Exit(
            leaf.account,
            uint96(msg.value),
            cp.number,
            uint64(block.number) + w.window,
            REVOKED,
            keccak256(abi.encode(leaf.amounts))
        );
        if (cp.number > w.highestCheckpoint) w.highestCheckpoint = cp.number;
        emit Revoked(id, member, cp.number, leaf.amounts);
    }

    /// @notice Anyone but the claimant resets an open claim (``claimed``: its amounts, as
    /// its last event gave them) to a strictly newer checkpoint within the window; when
    /// the claim showed more of some asset, its bond is forfeited to the wallet.
    function crawlBack(
        bytes32 id,
        uint256[] calldata claimed,
        Checkpoint calldata cp,
        Signature calldata sig,
        Leaf calldata leaf,
        uint256 index,
        bytes32[] calldata proof
    ) external nonReentrant {
        Wallet storage w = _wallet(id);
        Exit storage claim = w.exits[leaf.member];
        if (claim.deadline == 0) revert NoOpenClaim();
        if (msg.sender == claim.account) revert OwnClaim();
        if (block.number > claim.deadline) revert WindowClosed(claim.deadline);
        if (cp.number <= claim.number) revert NotNewer(claim.number);
        if (keccak256(abi.encode(claimed)) != claim.claimed) revert NotTheClaim();
        _proven(w, id, cp, sig, leaf, index, proof);
        bool premature = false;
        for (uint256 i = 0; i < leaf.amounts.length; i++) {
            if (claimed[i] > leaf.amounts[i]) premature = true;
        }
        uint256 lost = 0;
        if (premature && claim.bond != 0) {
            lost = claim.bond;
            claim.bond = 0;
            w.forfeited += lost;
        }
        claim.claimed = keccak256(abi.encode(leaf.amounts));
        claim.number = cp.number;
        if (cp.number > w.highestCheckpoint) w.highestCheckpoint = cp.number;
        emit CrawledBack(id, leaf.member, cp.number, leaf.amounts, lost, premature);
    }

    /// @notice After the window, pay the claim (``amounts``, as its last event gave them)
    /// to its account and return what is left of its bond.
    function finalize(bytes32 id, bytes32 member, uint256[] calldata amounts)
        external
        nonReentrant
    {
        Wallet storage w = _wallet(id);
        Exit storage claim = w.exits[member];
        if (claim.deadline == 0) revert NoOpenClaim();
        if (block.number <= claim.deadline) revert WindowOpen(claim.deadline);
        if (keccak256(abi.encode(amounts)) != claim.claimed) revert NotTheClaim();
        address account = claim.account;
        uint256 bond = claim.bond;
        uint64 number = claim.number;
        _covers(w, amounts);
        claim.deadline = 0; // closed; the status stays REVOKED
        claim.bond = 0;
        claim.claimed = 0;
        _debit(w, amounts);
        emit Finalized(id, member, number, amounts);
        _pay(w, account, amounts);
        if (bond != 0) _send(ETH, account, bond);
    }

    // -- reading ----------------------------------------------------------------------------

    function walletOf(bytes32 id)
        external
        view
        returns (
            uint256 keyX,
            uint8 keyParity,
            uint64 window,
            uint256 revokeFee,
            address[] memory assets,
            uint64 highestCheckpoint,
            uint256 forfeited
        )
    {
        Wallet storage w = _wallet(id);
        return (w.keyX, w.keyParity, w.window, w.revokeFee, w.assets, w.highestCheckpoint, w.forfeited);
    }

    function held(bytes32 id, address asset) external view returns (uint256) {
        return _wallet(id).held[asset];
    }

    function exitOf(bytes32 id, bytes32 member) external view returns (Exit memory) {
        return _wallet(id).exits[member];
    }

    // -- helpers ----------------------------------------------------------------------------

    function _wallet(bytes32 id) internal view returns (Wallet storage w) {
        w = wallets[id];
        if (w.keyX == 0) revert UnknownWallet();
    }

    function _proven(
        Wallet storage w,
        bytes32 id,
        Checkpoint calldata cp,
        Signature calldata sig,
        Leaf calldata leaf,
        uint256 index,
        bytes32[] calldata proof
    ) internal view {
        bytes memory message = checkpointMessage(id, cp);
        if (!FrostSecp256k1.verify(w.keyX, w.keyParity, message, sig.rx, sig.ry, sig.z)) {
            revert BadCheckpoint();
        }
        if (leaf.amounts.length != w.assets.length) revert BadProof();
        bytes32 node = sha256(abi.encodePacked(bytes1(0x00), abi.encode(leaf)));
        if (!_included(node, index, cp.leafCount, proof, cp.root)) revert BadProof();
    }

    /// @dev RFC 9162 section 2.1.3.2: verify an inclusion proof of leaf ``index`` in a tree
    /// of ``size`` leaves (sha256; 0x00 prefix for leaves, 0x01 for interior nodes).
    function _included(
        bytes32 node,
        uint256 index,
        uint256 size,
        bytes32[] calldata proof,
        bytes32 root
    ) internal pure returns (bool) {
        if (index >= size || proof.length > MAX_DEPTH) return false;
        uint256 fn = index;
        uint256 sn = size - 1;
        for (uint256 i = 0; i < proof.length; i++) {
            if (sn == 0) return false;
            if (fn & 1 == 1 || fn == sn) {
                node = sha256(abi.encodePacked(bytes1(0x01), proof[i], node));
                if (fn & 1 == 0) {
                    while (fn & 1 == 0 && fn != 0) {
                        fn >>= 1;
                        sn >>= 1;
                    }
                }
            } else {
                node = sha256(abi.encodePacked(bytes1(0x01), node, proof[i]));
            }
            fn >>= 1;
            sn >>= 1;
        }
        return sn == 0 && node == root;
    }

    function _covers(Wallet storage w, uint256[] calldata amounts) internal view {
        for (uint256 i = 0; i < amounts.length; i++) {
            if (w.held[w.assets[i]] < amounts[i]) revert WalletInsufficient(w.assets[i]);
        }
    }

    function _debit(Wallet storage w, uint256[] calldata amounts) internal {
        for (uint256 i = 0; i < amounts.length; i++) {
            w.held[w.assets[i]] -= amounts[i];
        }
    }

    function _pay(Wallet storage w, address to, uint256[] calldata amounts) internal {
        for (uint256 i = 0; i < amounts.length; i++) {
            if (amounts[i] != 0) _send(w.assets[i], to, amounts[i]);
        }
    }

    function _send(address asset, address to, uint256 amount) internal {
        if (asset == ETH) {
            (bool ok,) = to.call{value: amount}("");
            require(ok, "ETH transfer failed");
        } else {
            IERC20(asset).safeTransfer(to, amount);
        }
    }
}
