"""swapnet's sans-IO protocol core.

Everything that decides what is valid lives here: the wire format, signatures, orders,
votes and certificates, the group state, merkle commitments (and, in later layers, FROST,
checkpoints, the exit game and the pit).

Invariant: this package imports only the standard library, ``nacl`` and ``msgpack``. It
never reads the clock, draws randomness, opens a socket or touches a disk; time,
randomness and keys are arguments. ``tests/unit/test_layering.py`` enforces that.
"""
