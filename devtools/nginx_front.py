"""nginx in front of several cash registers on this machine: the several-machine topology.

`NginxFront` renders ops/nginx/cash-registers.conf.template for the given cash registers and
runs Debian's nginx in the foreground as a child process, so stopping it leaves nothing.
"""

from __future__ import annotations

import shutil
import subprocess
import time
from pathlib import Path

import httpx

ROOT = Path(__file__).resolve().parent.parent
TEMPLATE = ROOT / "ops" / "nginx" / "cash-registers.conf.template"
NGINX = shutil.which("nginx") or "/usr/sbin/nginx"
MAX_FAILS = 2
FAIL_TIMEOUT_SECONDS = 5


def nginx_config(prefix: Path, listen: str, upstreams: list[str], max_body: int) -> str:
    servers = "\n".join(
        f"        server {address} max_fails={MAX_FAILS} fail_timeout={FAIL_TIMEOUT_SECONDS}s;"
        for address in upstreams
    )
    values = {"prefix": str(prefix), "listen": listen, "servers": servers, "max_body": max_body}
    text = TEMPLATE.read_text()
    for name, value in values.items():
        text = text.replace("{" + name + "}", str(value))
    return text


class NginxFront:
    """nginx on 127.0.0.1:`port`, spreading requests over `upstreams` (host:port each)."""

    def __init__(self, folder: Path, port: int, upstreams: list[str], max_body: int) -> None:
        self.folder = folder
        self.port = port
        self.url = f"http://127.0.0.1:{port}"
        folder.mkdir(parents=True, exist_ok=True)
        self.config = folder / "nginx.conf"
        self.config.write_text(nginx_config(folder, f"127.0.0.1:{port}", upstreams, max_body))
        self.process: subprocess.Popen[bytes] | None = None

    def start(self) -> NginxFront:
        with (self.folder / "nginx.log").open("wb") as log:  # the child keeps its own copy
            self.process = subprocess.Popen(
                [NGINX, "-p", str(self.folder), "-c", str(self.config), "-e", "stderr"],
                stdout=log,
                stderr=subprocess.STDOUT,
            )
        deadline = time.monotonic() + 10
        while time.monotonic() < deadline:
            if self.process.poll() is not None:
                raise RuntimeError((self.folder / "nginx.log").read_text())
            try:
                httpx.get(f"{self.url}/livez", timeout=1)
                return self
            except httpx.TransportError:
                time.sleep(0.05)
        raise RuntimeError("nginx did not start")

    def stop(self) -> None:
        if self.process is not None and self.process.poll() is None:
            self.process.terminate()
            self.process.wait(timeout=10)
