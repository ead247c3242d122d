"""Engine processes: started with their own log file, waited for by port, stopped or killed on demand."""

from __future__ import annotations

import os
import signal
import socket
import subprocess
import time
from pathlib import Path
from typing import Mapping, Sequence


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

    def wait_for_port(self, host: str, port: int, timeout_s: float) -> None:
        deadline = time.monotonic() + timeout_s
        while time.monotonic() < deadline:
            if not self.alive():
                raise EngineError(
                    f"{self.name} exited with {self.popen.returncode} before {host}:{port} opened; "
                    f"{self.log_path}:\n{self.tail()}"
                )
            try:
                with socket.create_connection((host, port), timeout=1):
                    return
            except OSError:
                time.sleep(0.3)
        raise EngineError(
            f"{self.name}: {host}:{port} did not open within {timeout_s:.0f} s; {self.log_path}:\n{self.tail()}"
        )

    def wait_for_log(self, pattern: str, timeout_s: float) -> None:
        deadline = time.monotonic() + timeout_s
        while time.monotonic() < deadline:
            if pattern in self.log_path.read_text(errors="replace"):
                return
            if not self.alive():
                raise EngineError(
                    f"{self.name} exited with {self.popen.returncode} before logging {pattern!r}; "
                    f"{self.log_path}:\n{self.tail()}"
                )
            time.sleep(0.5)
        raise EngineError(
            f"{self.name} did not log {pattern!r} within {timeout_s:.0f} s; {self.log_path}:\n{self.tail()}"
        )

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
