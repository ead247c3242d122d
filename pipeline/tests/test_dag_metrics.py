"""The DAG task's StatsD counts, by running the DAG file's task body.

Airflow is not installed here: the names the DAG file imports from it (airflow.sdk.dag and task,
airflow.stats.Stats) and pendulum are stand-ins that run the task when the DAG function is called and
record Stats.incr.
crypto_ticks.run_from_env is replaced, so no HTTP and no Kafka.
"""

import runpy
import sys
import types

import pytest

import crypto_ticks
from conftest import PIPELINE

DAG_FILE = PIPELINE / "dags" / "crypto_prices_dag.py"


class RecordingStats:
    def __init__(self):
        self.calls = []

    def incr(self, stat, count=1, rate=1, *, tags=None):
        self.calls.append((stat, count))


@pytest.fixture
def stats(monkeypatch):
    recorder = RecordingStats()
    sdk = types.ModuleType("airflow.sdk")
    # dag(...)(f) and task(...)(f) return f: calling the DAG function at import runs the task once.
    sdk.dag = lambda **_: (lambda f: f)
    sdk.task = lambda **_: (lambda f: f)
    airflow = types.ModuleType("airflow")
    stats_module = types.ModuleType("airflow.stats")
    stats_module.Stats = recorder
    monkeypatch.setitem(sys.modules, "airflow", airflow)
    monkeypatch.setitem(sys.modules, "airflow.sdk", sdk)
    monkeypatch.setitem(sys.modules, "airflow.stats", stats_module)
    pendulum = types.ModuleType("pendulum")
    pendulum.datetime = lambda *args, **kwargs: None
    monkeypatch.setitem(sys.modules, "pendulum", pendulum)
    monkeypatch.setenv("CRYPTO_POLL_SCHEDULE", "* * * * *")
    monkeypatch.setenv("CRYPTO_SYMBOLS", "bitcoin, ethereum,solana")
    return recorder


def test_produced_and_unusable_records_are_counted(stats, monkeypatch):
    monkeypatch.setattr(crypto_ticks, "run_from_env", lambda environ: {"requested": 3, "produced": 2, "skipped": 1})
    runpy.run_path(str(DAG_FILE))
    assert stats.calls == [("crypto_ticks.produced", 2), ("crypto_ticks.failed", 1)]


def test_a_clean_poll_still_reports_zero_failed(stats, monkeypatch):
    monkeypatch.setattr(crypto_ticks, "run_from_env", lambda environ: {"requested": 3, "produced": 3, "skipped": 0})
    runpy.run_path(str(DAG_FILE))
    assert stats.calls == [("crypto_ticks.produced", 3), ("crypto_ticks.failed", 0)]


def test_a_failed_poll_counts_every_requested_symbol_and_still_fails(stats, monkeypatch):
    def broken(environ):
        raise crypto_ticks.DeliveryError("3 message(s) still queued")

    monkeypatch.setattr(crypto_ticks, "run_from_env", broken)
    with pytest.raises(crypto_ticks.DeliveryError):
        runpy.run_path(str(DAG_FILE))
    assert stats.calls == [("crypto_ticks.failed", 3)]
