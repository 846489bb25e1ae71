"""The compose cluster override (docker-compose.cluster.yml): nginx alone publishes the tills'
port in front of CASH_REGISTERS cash register containers, a hot standby clones the primary
through a slot, and the analytics read it. compose-smoke runs it for real
(docs/operations.md); these checks keep its wiring from drifting between runs."""

from __future__ import annotations

import copy
import os
import re
import subprocess
import sys
from pathlib import Path
from typing import Any

import yaml

from tests.conftest import ROOT

BIN = Path(sys.executable).parent
OVERRIDE = ROOT / "docker-compose.cluster.yml"


class Reset(list[Any]):
    """compose's `!reset` tag: the override replaces the base file's value instead of adding."""


class ComposeLoader(yaml.SafeLoader):
    pass


def _reset(loader: yaml.SafeLoader, node: yaml.Node) -> Reset:
    assert isinstance(node, yaml.SequenceNode)
    return Reset(loader.construct_sequence(node))


ComposeLoader.add_constructor("!reset", _reset)


def _read(path: Path) -> dict[str, Any]:
    document: dict[str, Any] = yaml.load(path.read_text(), Loader=ComposeLoader)
    return document


def _merged(base: Any, override: Any) -> Any:
    """What compose makes of a base file and an override: maps merge, lists add, `!reset`
    replaces."""
    if isinstance(override, Reset):
        return list(override)
    if isinstance(base, dict) and isinstance(override, dict):
        merged = copy.deepcopy(base)
        for name, value in override.items():
            merged[name] = _merged(base[name], value) if name in base else value
        return merged
    if isinstance(base, list) and isinstance(override, list):
        return [*base, *override]
    return override


def cluster() -> dict[str, Any]:
    merged: dict[str, Any] = _merged(_read(ROOT / "docker-compose.yml"), _read(OVERRIDE))
    return merged


def test_the_merged_topology_follows_the_compose_specification(tmp_path: Path) -> None:
    merged = tmp_path / "compose.yml"
    merged.write_text(yaml.safe_dump(cluster()))
    result = subprocess.run(
        [str(BIN / "check-jsonschema"), "--builtin-schema", "vendor.compose-spec", str(merged)],
        capture_output=True,
        text=True,
    )
    assert result.returncode == 0, result.stdout + result.stderr


def test_tills_reach_the_cash_registers_through_nginx_only() -> None:
    services = cluster()["services"]
    assert services["nginx"]["ports"] == ["${PUBLISH_ADDRESS:-127.0.0.1}:8000:8000"]
    assert services["cash_register"]["ports"] == []
    assert services["cash_register"]["deploy"] == {
        "mode": "replicated",  # podman-compose needs it said; docker compose assumes it
        "replicas": "${CASH_REGISTERS:-3}",
    }
    assert services["nginx"]["depends_on"]["cash_register"]["condition"] == "service_healthy"
    assert services["analytics"]["ports"] == ["${PUBLISH_ADDRESS:-127.0.0.1}:8001:8001"], (
        "owners keep their port"
    )
    nginx = services["nginx"]
    assert nginx["read_only"] is True
    assert nginx["cap_drop"] == ["ALL"]
    assert nginx["user"] not in ("root", "0")


def test_the_analytics_read_the_replica_and_follow_the_primary() -> None:
    services = cluster()["services"]
    environment = services["analytics"]["environment"]
    assert "@db_replica:5432/" in environment["ANALYTICS_DATABASE_URL"]
    assert "@db:5432/" in environment["ANALYTICS_PRIMARY_DATABASE_URL"]
    assert services["analytics"]["depends_on"]["db_replica"]["condition"] == "service_healthy"
    assert services["analytics"]["depends_on"]["loader"]["condition"] == (
        "service_completed_successfully"
    )
    replica = services["db_replica"]
    assert replica["depends_on"]["db"]["condition"] == "service_healthy"
    assert replica["user"] == "postgres"
    assert replica["secrets"] == ["replication_password"]
    assert cluster()["secrets"]["replication_password"]["file"] == "./secrets/replication_password"


def test_every_mounted_script_exists_and_parses() -> None:
    mounted = [
        volume.split(":")[0]
        for service in _read(OVERRIDE)["services"].values()
        for volume in service.get("volumes", [])
        if volume.startswith("./")
    ]
    assert len(mounted) == 4
    for source in mounted:
        path = ROOT / source
        assert path.is_file(), source
        if path.suffix == ".sh":
            assert os.access(path, os.X_OK), f"{source} must be executable"
            subprocess.run(["sh", "-n", str(path)], check=True)


def test_the_replication_password_never_sits_in_a_file_of_the_repository() -> None:
    text = OVERRIDE.read_text()
    for service in _read(OVERRIDE)["services"].values():
        for variable in service.get("environment") or {}:
            assert "PASSWORD" not in variable, variable
    scripts = [
        ROOT / "ops/postgres/primary-replication.sh",
        ROOT / "ops/postgres/replica-entrypoint.sh",
    ]
    for script in scripts:
        assert "/run/secrets/replication_password" in script.read_text()
    used = set(re.findall(r"\$\{([A-Z_][A-Z0-9_]*)", text))
    documented = set(
        re.findall(r"^#?\s*([A-Z_][A-Z0-9_]*)=", (ROOT / ".env.example").read_text(), re.MULTILINE)
    )
    assert used <= documented, f"undocumented: {sorted(used - documented)}"


def test_the_replica_runs_without_capabilities() -> None:
    replica = cluster()["services"]["db_replica"]
    assert replica["user"] == "postgres"
    assert replica["cap_drop"] == ["ALL"]
    assert "cap_add" not in replica
    assert "no-new-privileges:true" in replica["security_opt"]
    assert replica["mem_limit"]
    assert replica["pids_limit"] > 0


def test_no_password_is_on_a_command_line() -> None:
    """`ps` shows every process's arguments: the replication password is read from its file
    by psql itself, and handed to pg_basebackup in its environment."""
    primary = (ROOT / "ops" / "postgres" / "primary-replication.sh").read_text()
    assert "-v password=" not in primary
    assert "\\set password `cat /run/secrets/replication_password`" in primary
    replica = (ROOT / "ops" / "postgres" / "replica-entrypoint.sh").read_text()
    assert "export PGPASSWORD" in replica
