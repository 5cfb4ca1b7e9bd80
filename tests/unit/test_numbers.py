"""Integers from text are ASCII digits or nothing (``node/numbers.py``): the control API's
thorough fuzz found ``GET /v1/history?limit=³`` answered 500 (``"³".isdigit()`` is True,
``int("³")`` raises), and ``int`` takes digits of other scripts."""

from __future__ import annotations

from pathlib import Path

import pytest
from hypothesis import given
from hypothesis import strategies as st

from node.config import ConfigError, load_config
from node.numbers import MAX_DIGITS, ascii_int

OTHER_DIGITS = ["\u00b3", "\u00b2", "\u0661\u0662", "\U0001d7d7"]
"""Superscript three and two (isdigit, refused by int), Arabic-Indic 12, bold 9."""


@pytest.mark.parametrize("text", [*OTHER_DIGITS, "", "-1", "+1", " 1", "1_000", "0x10", "1" * 41])
def test_anything_but_ascii_digits_is_no_number(text: str) -> None:
    assert ascii_int(text) is None


def test_ascii_digits_are_their_number() -> None:
    assert [ascii_int(t) for t in ("0", "7", "1000", "0042", "9" * MAX_DIGITS)] == [
        0,
        7,
        1000,
        42,
        int("9" * MAX_DIGITS),
    ]


@given(st.text(max_size=8))
def test_any_text_is_a_number_or_none_and_never_raises(text: str) -> None:
    value = ascii_int(text)
    assert value is None or (str(value) == text.lstrip("0") or text.strip("0") == "")


def test_a_port_in_other_digits_is_a_config_error(tmp_path: Path) -> None:
    with pytest.raises(ConfigError, match="api_listen"):
        load_config(None, {"data_dir": str(tmp_path), "api_listen": "127.0.0.1:\uff18\uff10"})
