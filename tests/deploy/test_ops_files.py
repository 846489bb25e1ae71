"""The operators' files: the alert rules pass promtool and fire on the series they should,
and every query of the Grafana dashboard is valid PromQL on metrics the services export."""

from __future__ import annotations

import json
import re
import shutil
import subprocess
from pathlib import Path

import yaml

from telemetry.metrics import Instruments
from tests.conftest import ROOT

PROMTOOL = shutil.which("promtool") or "/usr/bin/promtool"
OPS = ROOT / "ops"


def promtool(*arguments: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [PROMTOOL, *arguments], capture_output=True, text=True, check=False, timeout=60
    )


def test_the_alert_rules_are_valid_and_fire_when_they_should() -> None:
    checked = promtool("check", "rules", str(OPS / "prometheus" / "alerts.yml"))
    assert checked.returncode == 0, checked.stdout + checked.stderr
    tested = promtool("test", "rules", str(OPS / "prometheus" / "alerts_test.yml"))
    assert tested.returncode == 0, tested.stdout + tested.stderr


def exported_names() -> set[str]:
    """The metric names the services export, from the instruments themselves."""
    suffixes = {"counter": ("_total",), "histogram": ("_bucket", "_count", "_sum"), "gauge": ("",)}
    names = {"up"}
    for metric in vars(Instruments.create()).values():
        for family in metric.describe():
            names |= {family.name + suffix for suffix in suffixes[family.type]}
    return names


def test_every_dashboard_query_is_valid_promql_on_exported_metrics(tmp_path: Path) -> None:
    dashboard = json.loads((OPS / "grafana" / "supermarket.json").read_text())
    queries = [t["expr"] for panel in dashboard["panels"] for t in panel["targets"]]
    assert queries
    as_rules = {
        "groups": [
            {
                "name": "dashboard",
                "rules": [
                    {"record": f"dashboard:query{n}", "expr": q} for n, q in enumerate(queries)
                ],
            }
        ]
    }
    rules = tmp_path / "dashboard.yml"
    rules.write_text(yaml.safe_dump(as_rules))
    checked = promtool("check", "rules", str(rules))
    assert checked.returncode == 0, checked.stdout + checked.stderr
    known = exported_names()
    alert_queries = [
        rule["expr"]
        for group in yaml.safe_load((OPS / "prometheus" / "alerts.yml").read_text())["groups"]
        for rule in group["rules"]
    ]
    for query in queries + alert_queries:
        for name in re.findall(r"\b([a-z_]+(?:_total|_bucket|_in_use|up))\b", query):
            assert name in known, f"{name} is not a metric the services export"
