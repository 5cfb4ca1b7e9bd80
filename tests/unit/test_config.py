"""Node configuration: TOML with flags on top; every bad input names its key."""

from __future__ import annotations

from pathlib import Path

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from node.config import MAX_URL, URL_PATTERN, ConfigError, checked_url, load_config
from tests.fuzz.targets import examples

PEER = "/ip4/127.0.0.1/tcp/4001/p2p/12D3KooWD3eckifWpRn9wQpMG9R9hX3sD158z7EqHWmweQAJU5SA"


def write(tmp_path: Path, text: str) -> Path:
    path = tmp_path / "node.toml"
    path.write_text(text)
    return path


def test_a_full_file_loads_with_relative_paths_under_the_file(tmp_path: Path) -> None:
    path = write(
        tmp_path,
        f'''
data_dir = "data"
passphrase_file = "/run/secrets/pass"
listen = ["/ip4/127.0.0.1/tcp/0"]
bootstrap = ["{PEER}"]
ledger_url = "http://127.0.0.1:8000/"
api_listen = "127.0.0.1:9100"
log_level = "debug"
''',
    )
    config = load_config(path)
    assert config.data_dir == tmp_path / "data"
    assert config.key_file == tmp_path / "data" / "trader.key"
    assert config.passphrase_file == Path("/run/secrets/pass")
    assert config.bootstrap == (PEER,)
    assert config.ledger_url == "http://127.0.0.1:8000"
    assert config.api_listen == ("127.0.0.1", 9100)
    assert config.log_level == "debug"


def test_flags_override_the_file(tmp_path: Path) -> None:
    path = write(tmp_path, 'data_dir = "data"\nlog_level = "info"\n')
    config = load_config(path, {"log_level": "error", "api_listen": None})
    assert config.log_level == "error" and config.api_listen == ("127.0.0.1", 0)
    assert load_config(None, {"data_dir": "/x"}).data_dir == Path("/x")


ON_EVM = (
    'data_dir = "d"\nledger = "evm"\nevm_contract = "0x1111111111111111111111111111111111111111"\n'
)


@pytest.mark.parametrize(
    ("text", "complaint"),
    [
        ('data_dir = "d"\ncolour = "blue"', "unknown key 'colour'"),
        ("log_level = 'info'", "data_dir is required"),
        ("data_dir = 5", "data_dir must be a path"),
        ('data_dir = "d"\nlisten = ["not an addr"]', "listen"),
        ('data_dir = "d"\nlisten = ["/ip4/127.0.0.1/udp/1"]', "no /tcp/"),
        ('data_dir = "d"\nbootstrap = ["/ip4/127.0.0.1/tcp/1"]', "/p2p/"),
        ('data_dir = "d"\nledger_url = "ftp://x"', "ledger_url"),
        ('data_dir = "d"\nwebhook_url = "ftp://x"', "webhook_url"),
        ('data_dir = "d"\nwebhook_url = "http://a b"', "webhook_url"),
        ('data_dir = "d"\nwebhook_url = "http://' + "a" * 2100 + '"', "webhook_url"),
        ('data_dir = "d"\nwebhook_url = 7', "webhook_url"),
        ('data_dir = "d"\nwebhook_url = "http://08{Kt$"', "names no host"),
        ('data_dir = "d"\nwebhook_url = "https://a_b.example/x"', "names no host"),
        ('data_dir = "d"\nwebhook_url = "http://[::1]/hook"', "names no host"),
        ('data_dir = "d"\nwebhook_url = "http://hooks.example:65536/x"', "names no host"),
        ('data_dir = "d"\nwebhook_url = "http://$#1I`lx(hUkx2z0T!"', "names no host"),
        ('data_dir = "d"\napi_listen = "localhost"', "api_listen"),
        ('data_dir = "d"\napi_listen = "h:99999"', "api_listen"),
        ('data_dir = "d"\nlog_level = "loud"', "log_level"),
        ('data_dir = "d"\nlisten = [1, 2]', "listen must be a list"),
        ("data_dir = ", "not valid TOML"),
        ('data_dir = "d"\nledger = "bitcoin"', "ledger must be one of"),
        ('data_dir = "d"\nledger = "evm"', "evm_contract is required"),
        ('data_dir = "d"\nevm_contract = "0x' + "11" * 20 + '"', "evm_contract is required"),
        ('data_dir = "d"\nledger = "evm"\nevm_contract = "0x11"', "0x and 40 hex digits"),
        ('data_dir = "d"\nledger = "evm"\nevm_contract = "0x' + "zz" * 20 + '"', "40 hex"),
        ('data_dir = "d"\nledger = "evm"\nevm_contract = 5', "40 hex"),
        ('data_dir = "d"\nevm_confirmations = 2', "for ledger"),
        (
            ON_EVM + "evm_confirmations = -1",
            "0..1000",
        ),
        (
            ON_EVM + "evm_confirmations = 1001",
            "0..1000",
        ),
        (
            ON_EVM + "evm_confirmations = true",
            "0..1000",
        ),
        (
            ON_EVM + 'evm_confirmations = "1_0"',
            "0..1000",
        ),
    ],
)
def test_bad_input_is_refused_naming_the_key(tmp_path: Path, text: str, complaint: str) -> None:
    with pytest.raises(ConfigError, match=complaint.replace("/", ".")):
        load_config(write(tmp_path, text))


def test_an_evm_ledger_names_its_contract(tmp_path: Path) -> None:
    contract = "0x" + "Ab" * 20
    config = load_config(
        write(tmp_path, f'data_dir = "d"\nledger = "evm"\nevm_contract = "{contract}"')
    )
    assert config.ledger == "evm" and config.evm_contract == bytes.fromhex("ab" * 20)
    assert config.evm_confirmations == 3  # a chain that may reorganize, by default
    assert load_config(write(tmp_path, 'data_dir = "d"')).ledger == "devnet"
    anvil = load_config(
        write(tmp_path, f'data_dir = "d"\nledger = "evm"\nevm_contract = "{contract}"'),
        {"evm_confirmations": "0"},  # the flag
    )
    assert anvil.evm_confirmations == 0


def test_a_missing_file_is_a_clear_error(tmp_path: Path) -> None:
    with pytest.raises(ConfigError, match="no config file"):
        load_config(tmp_path / "absent.toml")


@settings(max_examples=examples(300), deadline=None)
@given(url=st.from_regex(URL_PATTERN, fullmatch=True).filter(lambda u: len(u) <= MAX_URL))
def test_every_url_the_api_description_allows_is_taken(url: str) -> None:
    """The control API describes a URL by ``URL_PATTERN``: each one it allows is one the
    node takes (a schema-valid webhook URL refused was a fuzz failure)."""
    assert checked_url(url, "webhook_url") == url
