// SPDX-License-Identifier: MIT
pragma solidity 0.8.30;

import {ERC20} from "@openzeppelin/contracts/token/ERC20/ERC20.sol";
import {GroupWallet} from "./GroupWallet.sol";

/// @notice A plain ERC-20 anyone can mint (tests only).
contract TestToken is ERC20 {
    constructor() ERC20("Test USD", "TUSD") {}

    function mint(address to, uint256 amount) external {
        _mint(to, amount);
    }
}

/// @notice An ERC-20 that keeps 1% of every transfer: a wallet must count what arrived.
contract FeeToken is ERC20 {
    constructor() ERC20("Fee token", "FEE") {}

    function mint(address to, uint256 amount) external {
        _mint(to, amount);
    }

    function _update(address from, address to, uint256 value) internal override {
        if (from != address(0) && to != address(0)) {
            uint256 fee = value / 100;
            super._update(from, address(0xdead), fee);
            value -= fee;
        }
        super._update(from, to, value);
    }
}

/// @notice A claim account that, paid by finalize, calls finalize again from its receive
/// hook (and swallows the failure, to keep the ETH if the first payout would go through).
contract Reenter {
    GroupWallet public immutable target;
    bytes32 public id;
    bytes32 public member;
    uint256[] public amounts;
    uint256 public reentries;
    bool public reentryFailed;

    constructor(GroupWallet target_) {
        target = target_;
    }

    function aim(bytes32 id_, bytes32 member_, uint256[] calldata amounts_) external {
        id = id_;
        member = member_;
        amounts = amounts_;
    }

    function revoke(
        GroupWallet.Checkpoint calldata cp,
        GroupWallet.Signature calldata sig,
        GroupWallet.Leaf calldata leaf,
        uint256 index,
        bytes32[] calldata proof
    ) external payable {
        target.revoke{value: msg.value}(id, cp, sig, leaf, index, proof);
    }

    receive() external payable {
        reentries += 1;
        if (reentries == 1) {
            try target.finalize(id, member, amounts) {} catch {
                reentryFailed = true;
            }
        }
    }
}

/// @notice A token in the style of early USDT: transfer and transferFrom return nothing.
contract NoReturnToken {
    mapping(address => uint256) public balanceOf;
    mapping(address => mapping(address => uint256)) public allowance;

    function mint(address to, uint256 amount) external {
        balanceOf[to] += amount;
    }

    function approve(address spender, uint256 amount) external {
        allowance[msg.sender][spender] = amount;
    }

    function transfer(address to, uint256 amount) external {
        require(balanceOf[msg.sender] >= amount, "balance");
        balanceOf[msg.sender] -= amount;
        balanceOf[to] += amount;
    }

    function transferFrom(address from, address to, uint256 amount) external {
        require(balanceOf[from] >= amount && allowance[from][msg.sender] >= amount, "allowance");
        allowance[from][msg.sender] -= amount;
        balanceOf[from] -= amount;
        balanceOf[to] += amount;
    }
}
