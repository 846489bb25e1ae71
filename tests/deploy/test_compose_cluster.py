"""The compose cluster override (docker-compose.cluster.yml): nginx alone publishes the tills'
port in front of CASH_REGISTERS cash register containers, the database is two Patroni nodes
(a primary and its synchronous standby) with etcd, every service names both nodes, and the
analytics read the standby. compose-smoke runs it for real
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


class Override(dict[str, Any]):
    """compose's `!override` tag: the override's mapping replaces the base file's whole."""


def _override(loader: yaml.SafeLoader, node: yaml.Node) -> Override | Reset:
    """A mapping replaces the base's; a sequence too (as `!reset` with the override's items)."""
    if isinstance(node, yaml.SequenceNode):
        return Reset(loader.construct_sequence(node))
    assert isinstance(node, yaml.MappingNode)
    return Override(
        {str(key): value for key, value in loader.construct_mapping(node, deep=True).items()}
    )


ComposeLoader.add_constructor("!reset", _reset)
ComposeLoader.add_constructor("!override", _override)


def _read(path: Path) -> dict[str, Any]:
    document: dict[str, Any] = yaml.load(path.read_text(), Loader=ComposeLoader)
    return document


# Sequences an override replaces instead of adding to (the compose specification's merge rules).
REPLACED = {"command", "entrypoint", "test"}


def _merged(base: Any, override: Any) -> Any:
    """What compose makes of a base file and an override: maps merge, lists add (but a
    command, an entrypoint and a healthcheck's test are replaced), `!reset` replaces."""
    if isinstance(override, Reset):
        return list(override)
    if isinstance(override, Override):
        return dict(override)
    if isinstance(base, dict) and isinstance(override, dict):
        merged = copy.deepcopy(base)
        for name, value in override.items():
            if name in base and name not in REPLACED:
                merged[name] = _merged(base[name], value)
            else:
                merged[name] = _merged(None, value)
        return merged
    if isinstance(override, dict):
        return {name: _merged(None, value) for name, value in override.items()}
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


NODES = "@db:5432,db_replica:5432/"


def test_every_service_names_both_nodes_and_finds_the_primary() -> None:
    services = cluster()["services"]
    environment = services["analytics"]["environment"]
    assert NODES in environment["ANALYTICS_DATABASE_URL"]
    assert environment["ANALYTICS_DATABASE_URL"].endswith("?target_session_attrs=prefer-standby")
    assert NODES in environment["ANALYTICS_PRIMARY_DATABASE_URL"]
    assert environment["ANALYTICS_PRIMARY_DATABASE_URL"].endswith("?target_session_attrs=primary")
    register = services["cash_register"]["environment"]
    assert NODES in register["CASH_REGISTER_DATABASE_URL"]
    assert register["CASH_REGISTER_DATABASE_URL"].endswith("?target_session_attrs=primary")
    assert register["SALE_COPIES_EXPECTED"] == "2"
    loader = services["loader"]["environment"]
    assert loader["POSTGRES_HOST"] == "db,db_replica"
    assert loader["PGTARGETSESSIONATTRS"] == "primary"
    assert services["analytics"]["depends_on"]["db_replica"]["condition"] == "service_healthy"
    assert services["analytics"]["depends_on"]["loader"]["condition"] == (
        "service_completed_successfully"
    )


def test_two_patroni_nodes_and_etcd_start_in_order() -> None:
    services = cluster()["services"]
    for name in ("db", "db_replica"):
        node = services[name]
        assert node["build"]["dockerfile"] == "ops/patroni/Dockerfile"
        assert node["image"] != "postgres:16", "a built image must not take the official tag"
        assert node["environment"]["PATRONI_NAME"] == name
        assert "8008/health" in " ".join(node["healthcheck"]["test"])
        assert "pgbackrest:/var/lib/pgbackrest" in node["volumes"]
        assert set(node["secrets"]) == {"postgres_password", "replication_password"}
    assert services["db"]["depends_on"]["etcd"]["condition"] == "service_healthy"
    assert services["db_replica"]["depends_on"]["db"]["condition"] == "service_healthy"
    assert services["etcd"]["command"] == ["etcd"]
    assert cluster()["secrets"]["replication_password"]["file"] == "./secrets/replication_password"
    patroni = yaml.safe_load((ROOT / "ops/patroni/patroni.yml").read_text())
    assert patroni["bootstrap"]["dcs"]["synchronous_mode"] is True
    assert (
        "archive-push" in patroni["bootstrap"]["dcs"]["postgresql"]["parameters"]["archive_command"]
    )


def test_every_script_exists_and_parses() -> None:
    mounted = [
        volume.split(":")[0]
        for service in _read(OVERRIDE)["services"].values()
        for volume in service.get("volumes", [])
        if volume.startswith("./")
    ]
    assert len(mounted) == 2
    dockerfile = (ROOT / "ops/patroni/Dockerfile").read_text()
    copied = re.findall(r"ops/(?:patroni|postgres)/[a-z-]+\.sh", dockerfile)
    assert len(copied) == 5
    for source in [*mounted, *copied]:
        path = ROOT / source
        assert path.is_file(), source
        if path.suffix == ".sh":
            assert os.access(path, os.X_OK), f"{source} must be executable"
            subprocess.run(["sh", "-n", str(path)], check=True)


def test_no_password_sits_in_a_file_of_the_repository_or_on_a_command_line() -> None:
    """Passwords come from the secrets into Patroni's environment: `ps` shows arguments, and
    Patroni reads PATRONI_SUPERUSER_PASSWORD and PATRONI_REPLICATION_PASSWORD itself."""
    text = OVERRIDE.read_text()
    for service in _read(OVERRIDE)["services"].values():
        for variable in service.get("environment") or {}:
            assert "PASSWORD" not in variable, variable
    entrypoint = (ROOT / "ops/patroni/node-entrypoint.sh").read_text()
    assert 'PATRONI_REPLICATION_PASSWORD="$(cat /run/secrets/replication_password)"' in entrypoint
    assert 'PATRONI_SUPERUSER_PASSWORD="$(cat /run/secrets/postgres_password)"' in entrypoint
    assert "password:" not in (ROOT / "ops/patroni/patroni.yml").read_text().lower()
    used = set(re.findall(r"\$\{([A-Z_][A-Z0-9_]*)", text))
    documented = set(
        re.findall(r"^#?\s*([A-Z_][A-Z0-9_]*)=", (ROOT / ".env.example").read_text(), re.MULTILINE)
    )
    assert used <= documented, f"undocumented: {sorted(used - documented)}"


def test_the_database_nodes_run_without_capabilities() -> None:
    services = cluster()["services"]
    for name in ("db", "db_replica", "etcd"):
        node = services[name]
        assert node["user"] == "postgres"
        assert node["cap_drop"] == ["ALL"]
        assert not node.get("cap_add"), name
        assert "no-new-privileges:true" in node["security_opt"]
        assert node["read_only"] is True
        assert node["mem_limit"]
        assert node["pids_limit"] > 0


def test_the_nodes_start_patroni_sized_as_the_simple_database() -> None:
    """Not the simple topology's sizing wrapper: Patroni starts PostgreSQL, and node-entrypoint.sh
    gives it the same settings (patroni-config.sh) for the same memory limit."""
    services = cluster()["services"]
    assert services["db"]["entrypoint"] == ["/usr/local/bin/node-entrypoint.sh"]
    assert services["db"]["command"] == []
    assert services["db_replica"]["mem_limit"] == services["db"]["mem_limit"]
    entrypoint = (ROOT / "ops/patroni/node-entrypoint.sh").read_text()
    assert "patroni-config.sh > /tmp/patroni.yml" in entrypoint
    assert entrypoint.rstrip().endswith("exec patroni /tmp/patroni.yml")
