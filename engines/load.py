"""Ticks produced the way the DAG produces them (crypto_ticks.build_message and producer_config, with the
Airflow task runner's rendered environment), at a chosen rate, keeping only what the broker acknowledged."""

from __future__ import annotations

import threading
import time
from datetime import datetime, timedelta, timezone
from typing import Mapping

import crypto_ticks  # pipeline/dags, on sys.path (main.py)
import ledger


class TickLoad:
    """Produces ticks for one symbol with strictly increasing event times; records every acknowledged one."""

    def __init__(self, producer_env: Mapping[str, str], symbol: str):
        self.cfg = crypto_ticks.load_config(producer_env)
        self.producer = crypto_ticks.make_producer(self.cfg)
        self.symbol = symbol
        # Each acknowledged tick by its key (symbol, event_time), which no other tick of this load shares.
        self.acknowledged: dict[tuple[str, datetime], ledger.Tick] = {}
        self.failed = 0
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None
        self._lock = threading.Lock()
        self._next = datetime.now(timezone.utc).replace(microsecond=0)

    def _message(self, value: str | None = None) -> dict:
        # Event times at least a millisecond apart (the message's precision, crypto_ticks.iso_utc): distinct keys
        # however fast ticks are made; above 1,000 ticks/s they run ahead of the clock.
        now = datetime.now(timezone.utc)
        self._next = max(
            self._next + timedelta(milliseconds=1), now.replace(microsecond=now.microsecond // 1000 * 1000)
        )
        quote = crypto_ticks.Quote(self.symbol, 1000.0 + len(self.acknowledged) % 100, "usd", "coingecko", self._next)
        message = crypto_ticks.build_message(quote, datetime.now(timezone.utc))
        if value is not None:
            message["price"] = value
        return message

    def _on_delivery(self, err, msg) -> None:
        with self._lock:
            if err is not None:
                self.failed += 1
                return
            tick = ledger.tick_from_message(msg.value())
            self.acknowledged[tick.key] = tick

    def produce(self, count: int) -> None:
        for _ in range(count):
            message = self._message()
            while True:
                try:
                    self.producer.produce(
                        self.cfg.topic,
                        key=message["symbol"].encode(),
                        value=crypto_ticks.encode_message(message),
                        on_delivery=self._on_delivery,
                    )
                    break
                except BufferError:
                    self.producer.poll(0.1)
            self.producer.poll(0)

    def produce_raw(self, value: bytes) -> None:
        """A record the sink must drop (not JSON, or a tick that breaks the schema)."""
        self.producer.produce(self.cfg.topic, key=self.symbol.encode(), value=value)
        self.producer.flush(30)

    def start(self, rate_per_s: float) -> None:
        def loop() -> None:
            started, sent = time.monotonic(), 0
            while not self._stop.is_set():
                due = int((time.monotonic() - started) * rate_per_s) - sent
                if due > 0:
                    self.produce(due)
                    sent += due
                self.producer.poll(0.05)

        self._stop.clear()
        self._thread = threading.Thread(target=loop, name=f"load-{self.symbol}", daemon=True)
        self._thread.start()

    def stop(self, flush_timeout_s: float = 120) -> None:
        self._stop.set()
        if self._thread:
            self._thread.join()
        self.producer.flush(flush_timeout_s)
