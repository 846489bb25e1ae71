"""A service's worker processes, each listening on its own socket of one shared port.

uvicorn's own supervisor binds one socket and lets every worker accept from it. A worker that
wakes accepts every connection waiting, so when a till's router, nginx or a load test opens
its keep-alive connections at once, one worker takes most of them and keeps them (40 of 40
in tests/httpkit/test_workers.py), serving them on one core while the other idles. With
the bench's paced sales at 1,900/s, alternating the two, the tills' p99 was 69 ms (median of
three runs) with one shared socket and 53 ms with the connections spread. Here each worker
binds its own socket with SO_REUSEPORT, and the kernel spreads the connections over the
listening sockets by their addresses, whatever the workers are doing (nginx's `reuseport`
does the same).

    python -m httpkit.workers cash_register.main:app --host 0.0.0.0 --port 8000 ...

takes uvicorn's options that the images use, and WEB_CONCURRENCY workers (default 1). With one
worker it serves in this process. With more, this process only supervises: a worker that dies
is replaced, one that fails to start (a missing setting, a port taken) stops them all with
uvicorn's start-up failure status, SIGTERM or SIGINT stops each worker gracefully (it answers
what it holds, commits what it has taken) and then this process. Workers die with it even if
it is killed outright, so no orphan keeps the port.
"""

from __future__ import annotations

import argparse
import ctypes
import logging
import multiprocessing
import os
import signal
import socket
import sys
import threading
from dataclasses import dataclass
from multiprocessing.process import BaseProcess
from types import FrameType

import uvicorn
from uvicorn.config import STARTUP_FAILURE

log = logging.getLogger("httpkit.workers")

PR_SET_PDEATHSIG = 1
SUPERVISION_SECONDS = 0.5


@dataclass(frozen=True)
class ServeOptions:
    """What each worker serves, and how (uvicorn's options of the same names)."""

    app: str
    host: str
    port: int
    http: str
    timeout_keep_alive: int
    limit_concurrency: int | None
    log_config: str | None
    access_log: bool

    def uvicorn_config(self) -> uvicorn.Config:
        return uvicorn.Config(
            self.app,
            host=self.host,
            port=self.port,
            http=self.http,
            timeout_keep_alive=self.timeout_keep_alive,
            limit_concurrency=self.limit_concurrency,
            log_config=self.log_config,
            access_log=self.access_log,
            workers=1,  # this process's own
        )


def own_socket(host: str, port: int) -> socket.socket:
    """Bound, not yet listening: the kernel sends a worker connections only once its server
    listens, after the app has started."""
    family = socket.AF_INET6 if ":" in host else socket.AF_INET
    sock = socket.socket(family, socket.SOCK_STREAM)
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEPORT, 1)
    try:
        sock.bind((host, port))
    except OSError as error:
        log.error("cannot listen on %s:%d: %s", host, port, error)
        sys.exit(STARTUP_FAILURE)
    return sock


def serve(options: ServeOptions) -> None:
    """One worker's life; exits with uvicorn's start-up failure status if it never served."""
    config = options.uvicorn_config()
    server = uvicorn.Server(config)
    server.run(sockets=[own_socket(options.host, options.port)])
    if not server.started:
        sys.exit(STARTUP_FAILURE)


def serve_as_worker(options: ServeOptions) -> None:
    """A supervised worker: in a process group of its own, so a terminal's Ctrl-C reaches only
    the supervisor, which stops each worker once (a second signal would make uvicorn skip the
    graceful shutdown); and killed when the supervisor dies."""
    os.setpgrp()
    libc = ctypes.CDLL(None, use_errno=True)
    libc.prctl(PR_SET_PDEATHSIG, signal.SIGKILL)
    supervisor = multiprocessing.parent_process()
    if supervisor is not None and os.getppid() != supervisor.pid:
        sys.exit(1)  # the supervisor died before the line above
    serve(options)


class Supervisor:
    """Keeps `count` workers running until told to stop."""

    def __init__(self, options: ServeOptions, count: int) -> None:
        self._options = options
        self._count = count
        self._context = multiprocessing.get_context("spawn")
        self._stop = threading.Event()
        self._workers: list[BaseProcess] = []

    def run(self) -> int:
        for sig in (signal.SIGTERM, signal.SIGINT):
            signal.signal(sig, self._on_signal)
        log.info("supervising %d workers, each with its own socket [%d]", self._count, os.getpid())
        self._workers = [self._started() for _ in range(self._count)]
        status = 0
        while not self._stop.wait(SUPERVISION_SECONDS):
            status = self._replace_the_dead()
        for worker in self._workers:
            if worker.is_alive() and worker.pid is not None:
                os.kill(worker.pid, signal.SIGTERM)
        for worker in self._workers:
            worker.join()
        log.info("all workers stopped [%d]", os.getpid())
        return status

    def _on_signal(self, signum: int, frame: FrameType | None) -> None:
        self._stop.set()

    def _started(self) -> BaseProcess:
        worker = self._context.Process(target=serve_as_worker, args=(self._options,))
        worker.start()
        return worker

    def _replace_the_dead(self) -> int:
        """Start a worker in place of each that died; a failure at start-up would repeat on
        every restart, so it stops everything instead (the status to exit with)."""
        for index, worker in enumerate(self._workers):
            if worker.is_alive():
                continue
            worker.join()
            if worker.exitcode == STARTUP_FAILURE:
                log.error("worker [%s] failed to start; stopping", worker.pid)
                self._stop.set()
                return STARTUP_FAILURE
            log.warning("worker [%s] exited (%s); starting another", worker.pid, worker.exitcode)
            self._workers[index] = self._started()
        return 0


def parsed(arguments: list[str]) -> tuple[ServeOptions, int]:
    parser = argparse.ArgumentParser(prog="python -m httpkit.workers", description=__doc__)
    parser.add_argument("app", help="module:attribute, e.g. cash_register.main:app")
    parser.add_argument("--host", default="127.0.0.1")
    parser.add_argument("--port", type=int, default=8000)
    parser.add_argument("--http", default="auto", help="uvicorn's HTTP protocol class")
    parser.add_argument("--timeout-keep-alive", type=int, default=5)
    parser.add_argument("--limit-concurrency", type=int, default=None)
    parser.add_argument("--log-config", default=None)
    parser.add_argument("--no-access-log", dest="access_log", action="store_false")
    parser.add_argument(
        "--workers", type=int, default=int(os.environ.get("WEB_CONCURRENCY", "1")),
        help="worker processes (default: WEB_CONCURRENCY, else 1)",
    )  # fmt: skip
    given = parser.parse_args(arguments)
    if given.workers < 1:
        parser.error("--workers must be at least 1")
    options = ServeOptions(
        app=given.app,
        host=given.host,
        port=given.port,
        http=given.http,
        timeout_keep_alive=given.timeout_keep_alive,
        limit_concurrency=given.limit_concurrency,
        log_config=given.log_config,
        access_log=given.access_log,
    )
    return options, given.workers


def main(arguments: list[str] | None = None) -> int:
    options, workers = parsed(sys.argv[1:] if arguments is None else arguments)
    sys.path.insert(0, os.getcwd())  # the app is imported from here, as uvicorn's CLI does
    if workers == 1:
        serve(options)
        return 0
    options.uvicorn_config()  # sets up logging in the supervisor, as in its workers
    return Supervisor(options, workers).run()


if __name__ == "__main__":
    sys.exit(main())
