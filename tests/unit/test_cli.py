"""The ``swapnet`` command line: clear one-line errors and non-zero exits on bad input,
JSON output, and the benchmark ledger."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest
from typer.testing import CliRunner

from devnet.benchmarks import record
from node.cli import app
from tests.support import make_group

runner = CliRunner()
G = make_group(seed="cli")


def test_inspect_prints_a_wire_object_as_json(tmp_path: Path) -> None:
    signed = G.transfer(G.ids[0], 1, G.ids[1], 42)
    path = tmp_path / "order.bin"
    path.write_bytes(signed.encode())
    result = runner.invoke(app, ["inspect", str(path)])
    assert result.exit_code == 0, result.output
    shown = json.loads(result.output)
    assert shown["type"] == "signed-order" and shown["order"]["amount"] == 42
    hex_result = runner.invoke(app, ["inspect", "--hex", "-"], input=signed.encode().hex())
    assert json.loads(hex_result.output) == shown


def test_inspect_rejects_bad_input_with_one_line_and_a_non_zero_exit(tmp_path: Path) -> None:
    junk = tmp_path / "junk.bin"
    junk.write_bytes(b"\x93\x01\x02")
    for args in (["inspect", str(junk)], ["inspect", str(tmp_path / "missing")]):
        result = runner.invoke(app, args)
        assert result.exit_code == 1
        assert result.output.count("\n") == 1 and result.output.startswith("error: ")
    result = runner.invoke(app, ["inspect", "--hex", "-"], input="zz")
    assert result.exit_code == 1 and "not hex" in result.output


def test_version_as_json() -> None:
    result = runner.invoke(app, ["version", "--json"])
    assert result.exit_code == 0 and "version" in json.loads(result.output)


def test_bench_frost_records_a_row_per_size_with_machine_and_command(tmp_path: Path) -> None:
    out = tmp_path / "BENCHMARKS.md"
    result = runner.invoke(app, ["bench", "frost", "--reps", "3", "--output", str(out), "--json"])
    assert result.exit_code == 0, result.output
    result_json = json.loads(result.output)
    assert result_json["benchmark"] == "frost" and "cores" in result_json["machine"]
    assert [r["t of n"] for r in result_json["rows"]] == ["3 of 4", "5 of 7", "14 of 20"]
    text = out.read_text()
    assert text.count("`swapnet bench frost --reps 3`") == 3 and "cores" in text


def test_record_keeps_older_rows_and_starts_a_new_table_when_columns_change(
    tmp_path: Path,
) -> None:
    out = tmp_path / "B.md"
    record(out, "x", [{"a": "1"}], "first")
    record(out, "x", [{"a": "2"}], "second")
    record(out, "y", [{"b": "3"}], "third")
    record(out, "x", [{"c": "4"}], "fourth")
    text = out.read_text()
    for word in ("first", "second", "third", "fourth"):
        assert f"`{word}`" in text
    section_x = text.split("## y")[0]
    assert section_x.count("| date |") == 2 and "`fourth`" in section_x


def test_init_writes_an_encrypted_key_and_never_overwrites_it(tmp_path: Path) -> None:
    from node.keystore import load_key  # noqa: PLC0415

    pass_file = tmp_path / "pass"
    pass_file.write_text("s3cret\n")
    args = ["init", "--data", str(tmp_path / "d"), "--passphrase-file", str(pass_file), "--json"]
    shared = runner.invoke(app, args)  # readable by others: refused, nothing written
    assert shared.exit_code == 1 and "chmod 600" in shared.output
    assert not (tmp_path / "d").exists()
    pass_file.chmod(0o600)
    result = runner.invoke(app, args)
    assert result.exit_code == 0, result.output
    info = json.loads(result.output)
    key = load_key(Path(info["key_file"]), b"s3cret")
    assert bytes(key.verify_key).hex() == info["member_id"]
    assert info["peer_id"].startswith("12D3KooW")
    again = runner.invoke(app, args)
    assert again.exit_code == 1 and "refusing to overwrite" in again.output


def test_init_without_a_passphrase_source_fails_clearly(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.delenv("SWAPNET_PASSPHRASE", raising=False)
    result = runner.invoke(app, ["init", "--data", str(tmp_path)])
    assert result.exit_code == 1 and result.output.startswith("error: no passphrase")


def test_bench_certify_records_throughput_and_latency(tmp_path: Path) -> None:
    out = tmp_path / "BENCHMARKS.md"
    args = ["bench", "certify", "--orders", "40", "--batch", "10", "--output", str(out), "--json"]
    result = runner.invoke(app, args)
    assert result.exit_code == 0, result.output
    # libp2p may print shutdown chatter around it: take the JSON object the command printed.
    start = result.output.rindex('{\n  "benchmark"')
    end = result.output.index("\n}", start) + 2
    (row,) = json.loads(result.output[start:end])["rows"]
    assert row["orders"] == "40" and float(row["certified orders/s"]) > 0
    assert "`swapnet bench certify --orders 40 --batch 10 --members 2`" in out.read_text()
    refused = runner.invoke(app, ["bench", "certify", "--orders", "5", "--batch", "10"])
    assert refused.exit_code == 1 and "at least" in refused.output


def test_a_pending_order_exits_3_with_its_answer(tmp_path: Path) -> None:
    """A node that answers 202 pending (signed, not certified yet): the CLI prints the
    answer and exits with PENDING_EXIT, neither 0 (done) nor 1 (refused)."""
    import json  # noqa: PLC0415
    import threading  # noqa: PLC0415
    from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer  # noqa: PLC0415

    from node.cli_node import PENDING_EXIT  # noqa: PLC0415

    class Pending(BaseHTTPRequestHandler):
        def do_POST(self) -> None:
            self.rfile.read(int(self.headers["content-length"]))
            body = json.dumps({"certified": False, "pending": True, "detail": "no quorum yet"})
            self.send_response(202)
            self.send_header("content-type", "application/json")
            self.end_headers()
            self.wfile.write(body.encode())

        def log_message(self, *args: object) -> None:
            pass

    server = ThreadingHTTPServer(("127.0.0.1", 0), Pending)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    try:
        (tmp_path / "node.json").write_text(
            json.dumps({"api": f"http://127.0.0.1:{server.server_port}"})
        )
        (tmp_path / "control.cookie").write_text("cookie")
        result = runner.invoke(app, ["pay", "ab" * 32, "USD:5", "--data", str(tmp_path)])
    finally:
        server.shutdown()
    assert PENDING_EXIT == 3 and result.exit_code == 3, result.output
    assert json.loads(result.stdout)["pending"] is True
    assert "pending: no quorum yet" in result.stderr


def test_devnet_commands_on_the_embedded_ledger_never_import_web3_or_libp2p() -> None:
    """Every ``swapnet devnet`` command reads ``devnet.manage``: web3 (for anvil only) and
    a node's runtime took it from 1 s to 5.5 s of CPU per command."""
    code = (
        "import sys, devnet.manage, devnet.scenarios, node.cli; "
        "print(sorted({'web3', 'libp2p', 'node.api.control'} & set(sys.modules)))"
    )
    done = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert done.stdout.strip() == "[]", done.stdout
