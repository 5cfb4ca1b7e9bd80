"""The group wallet on an EVM chain: the Solidity sources, their committed build
(``contracts.json``) and the tools that make and run them (solc-js and anvil, pinned in
``package.json``/``package-lock.json``, installed by ``make``)."""
