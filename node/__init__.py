"""swapnet's node: the only package with IO (trio services, libp2p, the ledger client, the
HTTP API, config and the CLI). It drives the sans-IO machines of ``proto`` and stores
through ``storage``."""

__version__ = "0.1.0"
