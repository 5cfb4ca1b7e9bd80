"""The shipped monitoring (``node/monitoring/``): promtool checks the alert rules and
unit-tests each one on made-up series (it fires when it should, after its ``for``, with its
labels and annotations, and a healthy node fires nothing); the Grafana dashboard is JSON
that reads only the node's metrics (checked against a real node in the operator test)."""

from __future__ import annotations

import shutil
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest
import yaml

ROOT = Path(__file__).resolve().parents[2]
RULES = ROOT / "node" / "monitoring" / "alerts.yml"
PROMTOOL = shutil.which("promtool", path=str(Path(sys.executable).parent)) or shutil.which(
    "promtool"
)

HEALTHY = {
    "swapnet_stall_margin": "1+0x20",
    "swapnet_stewards_not_signing": "0+0x20",
    "swapnet_checkpoint_age_seconds": "5+0x20",
    "swapnet_open_claims": "0+0x20",
    "swapnet_pit_margin_calls": "0+0x20",
    "swapnet_pit_liquidations_total": "0+0x20",
    "swapnet_ready": "1+0x20",
}
"""A node whose group is well: every 15 s for five minutes."""

CASES = [
    # alert, the series that goes wrong (values every 15 s), too early, firing at, its value
    ("SwapnetGroupOneFailureFromStalling", "swapnet_stall_margin", "1 0x20", "1m", "2m", 0),
    ("SwapnetGroupStalled", "swapnet_stall_margin", "0 -1x20", "30s", "1m", -1),
    ("SwapnetStewardNotSigning", "swapnet_stewards_not_signing", "0 1x20", "2m", "3m", 1),
    ("SwapnetCheckpointLate", "swapnet_checkpoint_age_seconds", "5 75x20", "30s", "1m", 75),
    ("SwapnetRevokeOpen", "swapnet_open_claims", "0 1x20", "0s", "15s", 1),
    ("SwapnetMarginCall", "swapnet_pit_margin_calls", "0 2x20", "1m", "2m", 2),
    ("SwapnetPitLiquidation", "swapnet_pit_liquidations_total", "0x4 1x20", "45s", "2m", 1),
    ("SwapnetNodeNotReady", "swapnet_ready", "1 0x20", "2m", "3m", 0),
]


def promtool(*args: str, stdin: str | None = None) -> subprocess.CompletedProcess[str]:
    if PROMTOOL is None:
        pytest.fail("promtool is missing: `make test` fetches it (make promtool)")
    return subprocess.run(
        [PROMTOOL, *args], input=stdin, capture_output=True, text=True, timeout=60, check=False
    )


def rules() -> dict[str, dict[str, Any]]:
    loaded = yaml.safe_load(RULES.read_text())
    return {r["alert"]: r for g in loaded["groups"] for r in g["rules"]}


def test_the_alert_rules_pass_promtool_check() -> None:
    checked = promtool("check", "rules", str(RULES))
    assert checked.returncode == 0, checked.stdout + checked.stderr
    assert f"SUCCESS: {len(rules())} rules found" in checked.stdout


def test_promtool_check_refuses_a_broken_rule(tmp_path: Path) -> None:
    broken = tmp_path / "broken.yml"
    broken.write_text(
        RULES.read_text().replace("swapnet_stall_margin == 0", "swapnet_stall_margin ==", 1)
    )
    assert promtool("check", "rules", str(broken)).returncode != 0


def _unit_test(tmp_path: Path, cases: list[tuple[str, str, str, str, str, int]]) -> str:
    """A promtool rule test file: for each case a healthy node whose one series goes
    wrong, and the alert expected nowhere before its time and at its time exactly once."""
    shipped = rules()
    tests = []
    for alert, series, values, early, fires, value in cases:
        inputs = {**HEALTHY, series: values}
        rule = shipped[alert]
        annotations = {
            k: v.replace("{{ $value }}", str(value)) for k, v in rule["annotations"].items()
        }
        tests.append(
            {
                "interval": "15s",
                "input_series": [
                    {"series": f'{name}{{instance="node0"}}', "values": v}
                    for name, v in inputs.items()
                ],
                "alert_rule_test": [
                    {"eval_time": early, "alertname": alert, "exp_alerts": []},
                    {
                        "eval_time": fires,
                        "alertname": alert,
                        "exp_alerts": [
                            {
                                "exp_labels": {**rule["labels"], "instance": "node0"},
                                "exp_annotations": annotations,
                            }
                        ],
                    },
                ],
            }
        )
    quiet = {  # a healthy node: no alert, ever
        "interval": "15s",
        "input_series": [
            {"series": f'{name}{{instance="node0"}}', "values": v} for name, v in HEALTHY.items()
        ],
        "alert_rule_test": [
            {"eval_time": t, "alertname": a, "exp_alerts": []}
            for a in shipped
            for t in ("1m", "5m")
        ],
    }
    spec = {
        "rule_files": [str(RULES)],
        "evaluation_interval": "15s",
        "tests": [*tests, quiet],
    }
    path = tmp_path / "alerts_test.yml"
    path.write_text(yaml.safe_dump(spec, sort_keys=False))
    return str(path)


def test_each_alert_rule_fires_when_its_condition_lasts_and_a_healthy_node_fires_none(
    tmp_path: Path,
) -> None:
    assert {c[0] for c in CASES} == set(rules())  # every shipped rule has its case
    tested = promtool("test", "rules", _unit_test(tmp_path, CASES))
    assert tested.returncode == 0, tested.stdout + tested.stderr


def test_a_rule_test_that_expects_the_wrong_thing_fails(tmp_path: Path) -> None:
    """The rule tests above can fail: an alert expected before its ``for`` has run is not
    there, and promtool says so."""
    alert, series, values, early, _, value = CASES[0]
    wrong = [(alert, series, values, "0s", early, value)]  # expected to fire too early
    tested = promtool("test", "rules", _unit_test(tmp_path, wrong))
    assert tested.returncode != 0 and alert in tested.stdout + tested.stderr
