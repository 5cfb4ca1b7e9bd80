// SPDX-License-Identifier: MIT
pragma solidity 0.8.30;

import {ERC20} from "@openzeppelin/contracts/token/ERC20/ERC20.sol";

/// @title An ERC-20 for local devnets only: anyone may mint any amount.
/// @notice `swapnet devnet up --ledger evm` deploys one per asset and mints every node its
/// funding; it is worthless by construction and must never be deployed anywhere else.
contract DevnetToken is ERC20 {
    constructor(string memory name, string memory symbol) ERC20(name, symbol) {}

    function mint(address to, uint256 amount) external {
        _mint(to, amount);
    }
}
