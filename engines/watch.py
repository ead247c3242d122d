"""The tick table as a reader sees it: when each row became visible, and what the table holds."""

from __future__ import annotations

import threading
import time
from contextlib import closing
from datetime import datetime
from typing import Callable

import psycopg2

# Often enough to resolve latency far below the job's trigger interval (30 s), rarely enough to stay cheap.
POLL_S = 0.25


class TableWatch:
    """Polls the table for one symbol's rows and records the wall time each first appeared."""

    def __init__(self, connect: Callable, table: str, symbol: str):
        self.connect, self.table, self.symbol = connect, table, symbol
        self.visible_at: dict[tuple[str, datetime], float] = {}
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._loop, name=f"watch-{symbol}", daemon=True)

    def start(self) -> "TableWatch":
        self._thread.start()
        return self

    def stop(self) -> None:
        self._stop.set()
        self._thread.join()

    def _loop(self) -> None:
        newest = datetime.fromtimestamp(0).astimezone()
        while not self._stop.is_set():
            try:
                with closing(self.connect()) as conn, conn.cursor() as cur:
                    while not self._stop.wait(POLL_S):
                        cur.execute(
                            f'SELECT event_time FROM "{self.table}" WHERE symbol = %s AND event_time > %s '
                            "ORDER BY event_time",
                            (self.symbol, newest),
                        )
                        conn.commit()
                        seen = time.time()
                        for (event_time,) in cur.fetchall():
                            self.visible_at.setdefault((self.symbol, event_time), seen)
                            newest = max(newest, event_time)
            except psycopg2.OperationalError:  # the database restarts during a fault: poll again
                self._stop.wait(1)


def table_keys(connect: Callable, table: str, symbol_prefix: str = "") -> set[tuple[str, datetime]]:
    with closing(connect()) as conn, conn.cursor() as cur:
        cur.execute(f'SELECT symbol, event_time FROM "{table}" WHERE symbol LIKE %s', (symbol_prefix + "%",))
        return set(cur.fetchall())


def wait_for_rows(connect: Callable, table: str, wanted: set, timeout_s: float, symbol_prefix: str = "") -> set:
    """The table's keys once every wanted key is there, or when the time is up."""
    deadline = time.monotonic() + timeout_s
    while True:
        try:
            have = table_keys(connect, table, symbol_prefix)
        except psycopg2.OperationalError:  # a restarting database
            have = set()
        if wanted <= have or time.monotonic() > deadline:
            return have
        time.sleep(1)
