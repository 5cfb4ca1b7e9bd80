"""The local devnet: the devnet ledger process and the launcher that starts a ledger and N
nodes as real OS processes on 127.0.0.1 (``swapnet devnet up``), used by the integration
tests and by people. It arrives with the ledger and node issues; today it holds nothing."""
