"""What an operator relies on, on real servers with two workers each: metrics that add up
over the workers and pass promtool, JSON log lines that follow each request by its id and
never hold a secret, and the probes."""

from __future__ import annotations

import json
import os
import re
import secrets
import shutil
import subprocess
from collections.abc import Iterator
from dataclasses import dataclass

import httpx
import pytest

from tests.conftest import PostgresUnderTest
from tests.keys import ChainKeys
from tests.servers import output_of, start, stop, wait_healthy

PROMTOOL = shutil.which("promtool") or "/usr/bin/promtool"
PURCHASES = 40
CARD = "79927398713"


@dataclass
class Running:
    urls: dict[str, str]
    processes: dict[str, subprocess.Popen[str]]
    metrics_key: str

    def scrape(self, service: str) -> str:
        answer = httpx.get(
            f"{self.urls[service]}/metrics",
            headers={"Authorization": f"Bearer {self.metrics_key}"},
        )
        assert answer.status_code == 200
        return answer.text


@pytest.fixture
def running(keys: ChainKeys, postgres: PostgresUnderTest) -> Iterator[Running]:
    metrics_key = secrets.token_urlsafe(24)
    started = {
        name: start(name, postgres.database_url, METRICS_KEY=metrics_key, LOG_FORMAT="json")
        for name in ("cash_register", "analytics")
    }
    try:
        for process, url in started.values():
            wait_healthy(process, url)
        yield Running(
            {name: url for name, (_, url) in started.items()},
            {name: process for name, (process, _) in started.items()},
            metrics_key,
        )
    finally:
        for process, _ in started.values():
            stop(process)


def sample(text: str, name: str, **labels: str) -> float:
    """The value of one sample in Prometheus text (0 when absent)."""
    wanted = ",".join(f'{key}="{value}"' for key, value in sorted(labels.items()))
    for line in text.splitlines():
        if line.startswith("#"):
            continue
        metric, _, value = line.rpartition(" ")
        found_name, _, found_labels = metric.partition("{")
        present = ",".join(sorted(found_labels.rstrip("}").split(","))) if found_labels else ""
        if found_name == name and present == wanted:
            return float(value)
    return 0.0


def test_metrics_add_up_over_two_workers_and_pass_promtool(
    running: Running, keys: ChainKeys
) -> None:
    till = {"Authorization": f"Bearer {keys.tills['SMKT001']}"}
    with httpx.Client(base_url=running.urls["cash_register"], headers=till) as client:
        for number in range(PURCHASES):
            sale = {"supermarket_id": "SMKT001", "items": ["milk", "eggs"]}
            assert client.post("/purchase", json=sale).status_code == 201, number
        refused = client.post("/purchase", json={"supermarket_id": "SMKT001", "items": ["gin"]})
        assert refused.status_code == 422
        assert client.get("/catalog", headers={"Authorization": "Bearer wrong"}).status_code == 401
    text = running.scrape("cash_register")
    workers = {m for m in re.findall(r'pid="(\d+)"', text)}
    assert len(workers) <= 2  # gauges name workers; counters are summed over them
    assert sample(text, "purchases_total", channel="live", outcome="created") == PURCHASES
    assert sample(text, "purchase_rejections_total", channel="live", reason="unknown-product") == 1
    assert (
        sample(text, "http_requests_total", method="POST", route="/purchase", status="201")
        == PURCHASES
    )
    assert sample(text, "authentication_failures_total", reason="unknown_or_revoked_key") == 1
    assert sample(text, "purchase_batch_size_count") >= 1
    assert sample(text, "sales_fold_seconds_count") >= 1  # a fold runs at start, then often
    assert sample(text, "db_pool_acquire_wait_seconds_count") >= 1
    for service in ("cash_register", "analytics"):
        checked = subprocess.run(
            [PROMTOOL, "check", "metrics"],
            input=running.scrape(service),
            capture_output=True,
            text=True,
            check=False,
        )
        assert checked.returncode == 0, checked.stdout + checked.stderr


def test_metrics_are_for_the_metrics_key_only(running: Running, keys: ChainKeys) -> None:
    url = f"{running.urls['analytics']}/metrics"
    assert httpx.get(url).status_code == 401
    assert httpx.get(url, headers=keys.owner_headers()).status_code == 401


def test_log_lines_follow_each_request_and_hold_no_secret(
    running: Running, keys: ChainKeys
) -> None:
    cash, owners = running.urls["cash_register"], running.urls["analytics"]
    secrets_used = [
        keys.tills["SMKT002"],
        keys.owner,
        running.metrics_key,
        CARD,
        os.environ["LOYALTY_CARD_KEY"],
    ]
    with httpx.Client(base_url=cash) as till:
        signed = till.post("/sign-in", json={"key": keys.tills["SMKT002"]})
        csrf = till.cookies["till_session_csrf"]
        secrets_used.append(csrf)
        sale = {"supermarket_id": "SMKT002", "loyalty_card": CARD, "items": ["bread"]}
        sold = till.post(
            "/purchase", json=sale, headers={"X-CSRF-Token": csrf, "X-Request-ID": "trace-me-1"}
        )
        assert (signed.status_code, sold.status_code) == (200, 201)
        bad_card = till.post(
            "/purchase",
            json={**sale, "loyalty_card": "79927398710"},
            headers={"X-CSRF-Token": csrf},
        )
        assert bad_card.status_code == 422
    httpx.get(f"{owners}/top-products", headers=keys.owner_headers())
    httpx.get(f"{owners}/metrics", headers={"Authorization": f"Bearer {running.metrics_key}"})

    for service, process in running.processes.items():
        output = output_of(process)
        lines = [json.loads(line) for line in output.splitlines() if line.strip()]
        assert lines, service
        for line in lines:
            assert {"time", "level", "logger", "message"} <= line.keys(), line
        for secret in secrets_used:
            assert secret not in output, f"a secret reached {service}'s log"
    access = [
        json.loads(line)
        for line in output_of(running.processes["cash_register"]).splitlines()
        if '"logger":"access"' in line
    ]
    traced = [line for line in access if line.get("request_id") == "trace-me-1"]
    assert len(traced) == 1
    assert traced[0] | {"duration_ms": 0} == traced[0] | {
        "method": "POST",
        "route": "/purchase",
        "status": 201,
        "caller": "till-smkt002",
        "duration_ms": 0,
    }


def test_the_probes(running: Running) -> None:
    for name, url in running.urls.items():
        assert httpx.get(f"{url}/livez").json() == {"status": "alive"}
        ready = httpx.get(f"{url}/readyz").json()
        assert ready == {
            "status": "ready",
            **({"reads_from": "primary"} if name == "analytics" else {}),
        }
