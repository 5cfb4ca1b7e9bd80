"""FROST(Ed25519, SHA-512) threshold signatures (RFC 9591), the group wallet's key.

Modules: ``curve`` (scalars and points over libsodium), ``core`` (the RFC's two rounds,
binding factors, share verification, aggregation, trusted-dealer keys and VSS), ``dkg``
(Pedersen DKG with proofs of knowledge and verifiable complaints), ``reshare`` (share
refresh, and resharing one wallet key to a new steward set), ``session`` (signing sessions
as sans-IO state machines), ``vectors`` (the RFC vector-file runner).

Group signatures are plain Ed25519 signatures: ``nacl.signing.VerifyKey(pk).verify`` takes
them. Randomness is always an argument; nothing here draws it.
"""
