"""Engine processes: started with their own log file, waited for by port, stopped or killed on demand."""

from __future__ import annotations

import os
import signal
import socket
import subprocess
import time
import urllib.request
from pathlib import Path
from typing import Callable, Mapping, Sequence


class EngineError(RuntimeError):
    """An engine did not start or stop as expected; the message names it and its log."""


class Process:
    def __init__(
        self, name: str, argv: Sequence[str], log: Path, env: Mapping[str, str] | None = None, cwd: Path | None = None
    ):
        self.name, self.argv, self.log_path = name, list(argv), log
        log.parent.mkdir(parents=True, exist_ok=True)
        self._log = open(log, "ab")
        # A session of its own, so a kill reaches the JVMs and Python workers a launcher script starts.
        self.popen = subprocess.Popen(
            self.argv,
            stdout=self._log,
            stderr=subprocess.STDOUT,
            env=dict(env) if env is not None else None,
            cwd=cwd,
            start_new_session=True,
        )

    def alive(self) -> bool:
        return self.popen.poll() is None

    def tail(self, lines: int = 40) -> str:
        try:
            return "\n".join(self.log_path.read_text(errors="replace").splitlines()[-lines:])
        except OSError:
            return ""

    def _wait(self, event: str, happened: Callable[[], bool], timeout_s: float, interval_s: float = 0.5) -> None:
        """Until happened() is true; fails when the process exits first, or after timeout_s."""
        deadline = time.monotonic() + timeout_s
        while time.monotonic() < deadline:
            if happened():
                return
            if not self.alive():
                raise EngineError(
                    f"{self.name} exited with {self.popen.returncode} before {event}; {self.log_path}:\n{self.tail()}"
                )
            time.sleep(interval_s)
        raise EngineError(f"{self.name}: {timeout_s:.0f} s and not {event}; {self.log_path}:\n{self.tail()}")

    def wait_for_port(self, host: str, port: int, timeout_s: float) -> None:
        def opened() -> bool:
            try:
                with socket.create_connection((host, port), timeout=1):
                    return True
            except OSError:
                return False

        self._wait(f"{host}:{port} opened", opened, timeout_s, interval_s=0.3)

    def wait_for_http_ok(self, url: str, timeout_s: float) -> None:
        """Until GET url answers 200, as a kubelet's httpGet probe passes (any other answer or none fails it)."""

        def ok() -> bool:
            try:
                with urllib.request.urlopen(url, timeout=2) as response:
                    return response.status == 200
            except OSError:  # urllib.error.HTTPError (a non-2xx answer) included
                return False

        self._wait(f"{url} answered 200", ok, timeout_s)

    def wait_for_log(self, pattern: str, timeout_s: float) -> None:
        self._wait(f"it logged {pattern!r}", lambda: pattern in self.log_path.read_text(errors="replace"), timeout_s)

    def wait(self, timeout_s: float) -> int:
        try:
            return self.popen.wait(timeout=timeout_s)
        except subprocess.TimeoutExpired:
            raise EngineError(
                f"{self.name} still running after {timeout_s:.0f} s; {self.log_path}:\n{self.tail()}"
            ) from None

    def kill(self) -> None:
        """kill -9 of the whole process group: what an OOM kill or a lost node does."""
        self._signal(signal.SIGKILL)
        self.popen.wait()

    def stop(self, timeout_s: float = 30) -> None:
        """SIGTERM, as the kubelet sends, then SIGKILL after the grace period."""
        if self.alive():
            self._signal(signal.SIGTERM)
            try:
                self.popen.wait(timeout=timeout_s)
            except subprocess.TimeoutExpired:
                self.kill()
        self._log.close()

    def _signal(self, sig: int) -> None:
        try:
            os.killpg(self.popen.pid, sig)
        except ProcessLookupError:
            pass
