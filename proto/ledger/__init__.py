"""The devnet ledger's rules, sans-IO: transactions (``txs``) and the state they act on
(``state``), including the exit game of group wallets (open, deposit, settle, revoke,
crawl back, finalize). The ledger process (``devnet``) orders transactions into blocks,
stores them and serves them; every rule it enforces is here, testable without a process.
"""
