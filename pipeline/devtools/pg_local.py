"""Throwaway local PostgreSQL cluster for the tests and the sink benchmark.

Listens on 127.0.0.1 only (a free port) with a private unix-socket directory,
trust auth, and is deleted on exit. PostgreSQL refuses to run as root, so when
we are root the server binaries run as the `postgres` OS user via runuser.
"""

from __future__ import annotations

import glob
import os
import shutil
import socket
import subprocess
import tempfile
from pathlib import Path
from typing import Mapping

SERVER_USER = "postgres"  # OS user used when running as root
START_ATTEMPTS = 3  # a free port can be taken between probing and binding


def find_bin_dir() -> Path:
    """Newest Debian-layout server install (/usr/lib/postgresql/<major>/bin)."""
    candidates = [Path(p) for p in glob.glob("/usr/lib/postgresql/*/bin") if Path(p, "initdb").exists()]
    if not candidates:
        raise RuntimeError("no PostgreSQL server found under /usr/lib/postgresql/*/bin (apt-get install postgresql)")
    return max(candidates, key=lambda p: int(p.parent.name) if p.parent.name.isdigit() else -1)


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


class LocalPostgres:
    """Context manager: `with LocalPostgres() as pg: psycopg2.connect(pg.dsn)`."""

    def __init__(self, settings: Mapping[str, str] | None = None, bin_dir: Path | None = None) -> None:
        self.settings = dict(settings or {})
        self.bin_dir = bin_dir or find_bin_dir()
        self.as_root = os.geteuid() == 0
        self.root: Path | None = None
        self.port = 0

    @property
    def data_dir(self) -> Path:
        assert self.root is not None, "cluster not started"
        return self.root / "data"

    @property
    def dsn(self) -> str:
        return f"host=127.0.0.1 port={self.port} user=postgres dbname=postgres"

    def _run(self, *args: str) -> None:
        command = [str(self.bin_dir / args[0]), *args[1:]]
        if self.as_root:
            command = ["runuser", "-u", SERVER_USER, "--", *command]
        result = subprocess.run(command, capture_output=True, text=True)
        if result.returncode != 0:
            raise RuntimeError(f"{' '.join(command)} failed ({result.returncode}):\n{result.stdout}{result.stderr}")

    def _server_options(self) -> str:
        options = {"listen_addresses": "127.0.0.1", "port": str(self.port), "unix_socket_directories": str(self.root)}
        options.update(self.settings)
        return " ".join(f"-c {key}={value}" for key, value in options.items())

    def start(self) -> "LocalPostgres":
        self.root = Path(tempfile.mkdtemp(prefix="pipeline-pg-"))
        if self.as_root:
            shutil.chown(self.root, user=SERVER_USER)
        try:
            self._run("initdb", "-D", str(self.data_dir), "-U", "postgres", "-A", "trust", "-E", "UTF8", "--no-sync")
            log_file = self.root / "server.log"
            for attempt in range(1, START_ATTEMPTS + 1):
                self.port = free_port()
                try:
                    self._run("pg_ctl", "-D", str(self.data_dir), "-l", str(log_file), "-w", "-o", self._server_options(), "start")
                    break
                except RuntimeError as err:
                    if attempt == START_ATTEMPTS:
                        raise RuntimeError(f"{err}\nserver log:\n{log_file.read_text()}") from err
        except BaseException:
            shutil.rmtree(self.root, ignore_errors=True)
            raise
        return self

    def stop(self) -> None:
        if self.root is None:
            return
        try:
            self._run("pg_ctl", "-D", str(self.data_dir), "-m", "fast", "-w", "stop")
        finally:
            shutil.rmtree(self.root, ignore_errors=True)
            self.root = None

    def __enter__(self) -> "LocalPostgres":
        return self.start()

    def __exit__(self, *exc: object) -> None:
        self.stop()
