"""One contract suite that every Store backend passes, plus what only LevelDB can show:
reopening, a second opener, and a kill -9 in the middle of synced writes."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import textwrap
from collections.abc import Iterator
from pathlib import Path

import pytest

from proto.checkpoint import checkpoint_of
from proto.checkpoint_proposals import Completed, Proposal, vector_of
from proto.state import AssetBalance, GroupState
from storage import LevelDBStore, MemoryStore, StorageError, Store
from storage.repos import CheckpointRepo, ReplicaRepo, VoteLockRepo, ensure_schema
from tests.support import make_group


@pytest.fixture(params=["leveldb", "memory"])
def store(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[Store]:
    s: Store = LevelDBStore(tmp_path / "db") if request.param == "leveldb" else MemoryStore()
    yield s
    s.close()


def test_get_put_delete(store: Store) -> None:
    assert store.get(b"k") is None
    store.put(b"k", b"v")
    assert store.get(b"k") == b"v"
    store.put(b"k", b"w", sync=True)
    assert store.get(b"k") == b"w"
    store.delete(b"k")
    assert store.get(b"k") is None
    store.delete(b"never-there")


def test_a_batch_is_written_whole_on_success(store: Store) -> None:
    store.put(b"gone", b"x")
    with store.batch(sync=True) as batch:
        batch.put(b"a", b"1")
        batch.put(b"b", b"2")
        batch.delete(b"gone")
        assert store.get(b"a") is None  # nothing visible before the batch ends
    assert (store.get(b"a"), store.get(b"b"), store.get(b"gone")) == (b"1", b"2", None)


def test_a_batch_that_raises_writes_nothing(store: Store) -> None:
    with pytest.raises(RuntimeError), store.batch() as batch:
        batch.put(b"a", b"1")
        raise RuntimeError("boom")
    assert store.get(b"a") is None


def test_a_bad_op_in_a_write_writes_nothing(store: Store) -> None:
    with pytest.raises(TypeError):
        store.write([(b"a", b"1"), (b"b", "not bytes")])  # type: ignore[list-item]
    assert store.get(b"a") is None
    with pytest.raises(TypeError):
        store.put(b"", b"empty key")


def test_prefix_iteration_is_ordered_and_bounded(store: Store) -> None:
    for k in [b"p\x02", b"p\x01", b"q\x00", b"o\xff", b"p\xff\xff", b"p"]:
        store.put(k, k + b"!")
    assert [k for k, _ in store.iterate(b"p")] == [b"p", b"p\x01", b"p\x02", b"p\xff\xff"]
    assert [k for k, _ in store.iterate(b"p", reverse=True)] == [
        b"p\xff\xff",
        b"p\x02",
        b"p\x01",
        b"p",
    ]
    assert dict(store.iterate(b"q")) == {b"q\x00": b"q\x00!"}
    assert len(list(store.iterate())) == 6


def test_iteration_sees_a_snapshot(store: Store) -> None:
    store.put(b"a1", b"x")
    store.put(b"a2", b"x")
    it = store.iterate(b"a")
    first = next(it)
    store.put(b"a3", b"new")
    store.delete(b"a2")
    assert [first, *it] == [(b"a1", b"x"), (b"a2", b"x")]


def test_every_call_after_close_raises_storage_error(store: Store) -> None:
    store.put(b"a", b"1")
    store.close()
    with pytest.raises(StorageError):
        store.get(b"a")
    with pytest.raises(StorageError):
        store.put(b"a", b"2")
    with pytest.raises(StorageError):
        list(store.iterate())
    store.close()  # closing twice is harmless


def test_schema_version_is_stamped_and_checked(store: Store) -> None:
    ensure_schema(store)
    ensure_schema(store)
    store.put(b"\x00schema", (99).to_bytes(4, "big"))
    with pytest.raises(StorageError, match="schema 99"):
        ensure_schema(store)


G = make_group(seed="storage", stewards=4, members=3, funding=500)
A, B, C = G.ids[:3]


def test_replica_state_and_waiting_orders_persist_and_reload_exactly(store: Store) -> None:
    replica = G.replica()
    replica.add_certified([G.transfer(A, 1, B, 70), G.swap(A, 2, C, 1, 5, 9)])
    replica.add_certified([G.transfer(B, 3, C, 1)])  # waits: B's seq 1 and 2 are missing
    repo = ReplicaRepo(store, G.group_id)
    repo.save(replica)
    again = repo.load(G.epochs)
    assert again is not None
    assert again.state.encode() == replica.state.encode()
    assert again.waiting == replica.waiting
    # Once the gap is filled, the reloaded replica applies the waiting order.
    again.add_certified([G.transfer(B, 1, C, 1), G.transfer(B, 2, C, 1)])
    assert again.waiting == {} and again.state.next_seq(B) == 4
    repo.save(again)
    assert repo.load(G.epochs).waiting == {}  # type: ignore[union-attr]


def test_vote_locks_persist_and_reload_exactly(store: Store) -> None:
    repo = VoteLockRepo(store, G.group_id)
    orders = [G.transfer(A, 1, B, 1), G.swap(A, 2, B, 1, 1, 1)]
    repo.persist(orders)
    assert sorted(o.order_id for o in repo.load()) == sorted(o.order_id for o in orders)
    repo.forget([(A, 1)])
    assert [o.order_id for o in repo.load()] == [orders[1].order_id]


def test_a_corrupt_record_is_reported_not_skipped(store: Store) -> None:
    repo = VoteLockRepo(store, G.group_id)
    repo.persist([G.transfer(A, 1, B, 1)])
    key = next(k for k, _ in store.iterate(b"\x03"))
    store.put(key, b"\x93garbage")
    with pytest.raises(StorageError, match="corrupt"):
        repo.load()


def test_leveldb_data_survives_reopening(tmp_path: Path) -> None:
    with LevelDBStore(tmp_path / "db") as s:
        VoteLockRepo(s, G.group_id).persist([G.transfer(A, 1, B, 1)])
    with LevelDBStore(tmp_path / "db") as s:
        assert len(VoteLockRepo(s, G.group_id).load()) == 1


def test_leveldb_refuses_a_second_opener_with_a_clear_error(tmp_path: Path) -> None:
    with LevelDBStore(tmp_path / "db"), pytest.raises(StorageError, match="cannot open"):
        LevelDBStore(tmp_path / "db")


WRITER = textwrap.dedent(
    """
    import sys
    from storage import LevelDBStore
    store = LevelDBStore(sys.argv[1])
    n = 0
    while True:
        with store.batch(sync=True) as b:
            for i in range(20):
                b.put(b"k%08d/%02d" % (n, i), b"v" * 200)
            b.put(b"count", str(n).encode())
        print(n, flush=True)  # promised only after the synced write returned
        n += 1
    """
)


def test_leveldb_loses_no_acknowledged_batch_and_tears_none_on_kill_9(tmp_path: Path) -> None:
    path = tmp_path / "db"
    proc = subprocess.Popen(
        [sys.executable, "-c", WRITER, str(path)],
        stdout=subprocess.PIPE,
        text=True,
        cwd=Path(__file__).resolve().parents[2],
    )
    try:
        assert proc.stdout is not None
        acknowledged = -1
        for line in proc.stdout:
            acknowledged = int(line)
            if acknowledged >= 150:
                break
        os.kill(proc.pid, signal.SIGKILL)
    finally:
        proc.kill()
        proc.wait()
    assert acknowledged >= 150
    with LevelDBStore(path) as s:
        count = int(s.get(b"count") or b"-1")
        assert count >= acknowledged
        for n in range(count + 2):
            present = sum(1 for _ in s.iterate(b"k%08d/" % n))
            assert present == (20 if n <= count else 0), f"batch {n} torn: {present} of 20"


def _proposal(state: GroupState, number: int) -> Proposal:
    return Proposal(
        0, A, vector_of(state), 0, (), (), (), checkpoint_of(state, number), b"\x01" * 64
    )


def test_checkpoint_lock_and_base_persist_and_reload_exactly(store: Store) -> None:
    repo = CheckpointRepo(store, G.group_id)
    assert repo.load_lock() is None and repo.load_base() is None
    replica = G.replica()
    replica.add_certified([G.transfer(A, 1, B, 70)])
    proposal = _proposal(replica.state, 3)
    repo.save_lock(proposal)
    assert repo.load_lock() == proposal
    completed = Completed(proposal, b"\x02" * 64)
    repo.save_base(completed, replica.state)
    loaded = repo.load_base()
    assert loaded is not None
    assert loaded[0] == completed and loaded[1].encode() == replica.state.encode()


def test_a_base_state_that_is_not_its_checkpoint_is_refused(store: Store) -> None:
    repo = CheckpointRepo(store, G.group_id)
    state = G.genesis_state()
    completed = Completed(_proposal(state, 1), b"\x02" * 64)
    other = state.copy()
    other.apply(G.transfer(A, 1, B, 1).order)
    with pytest.raises(StorageError, match="not the checkpoint"):
        repo.save_base(completed, other)
    assert repo.load_base() is None


def test_the_followed_ledger_resumes_exactly_where_it_was_written(store: Store) -> None:
    from proto.ledger_view import LedgerView, ViewEvent  # noqa: PLC0415
    from storage.follow import FollowRepo  # noqa: PLC0415

    gid = b"\x07" * 32
    repo = FollowRepo(store, gid)
    assert repo.load().height == 0 and repo.load().events == []
    first = [ViewEvent(3, "deposit", A, 0, (AssetBalance("USD", 5),))]
    repo.advance(4, 1, 0, first)
    second = [
        ViewEvent(7, "revoke", A, 2, (AssetBalance("USD", 5),)),
        ViewEvent(9, "crawl-back", A, 3, (AssetBalance("USD", 4),)),
    ]
    repo.advance(9, 1, 1, second)
    repo.advance(12, 2, 3, [])
    loaded = repo.load()
    assert (loaded.height, loaded.wallet_txs, loaded.events) == (12, 2, first + second)
    view = LedgerView.from_events(loaded.height, loaded.events)
    assert view.height == 12 and view.open_claims(10)[A].number == 3
    assert FollowRepo(store, b"\x08" * 32).load().events == []  # per group
