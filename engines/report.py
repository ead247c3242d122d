"""The engines report: what ran, what moved, what was refused, what the faults cost, how fast it went.

Written to ENGINES_REPORT (engines/run) whether the run passed or not; `failures` lists every check that did
not hold, and the run's exit status follows it.
"""

from __future__ import annotations

import json
import time
from pathlib import Path
from typing import Any, Mapping

REFUSALS = (
    "kafka_unauthenticated",
    "kafka_plaintext",
    "kafka_consumer_writes",
    "kafka_producer_reads",
    "kafka_client_plain",
    "postgresql_plaintext",
    "postgresql_wrong_database",
)


class Report:
    def __init__(self, path: Path):
        self.path = path
        self.data: dict[str, Any] = {
            "versions": {},
            "rows": {},
            "lost": None,
            "duplicates": None,
            "faults": {},
            "refused": {},
            "throughput_rows_per_s": None,
            "latency_ms": {},
            "baseline_copy_rows_per_s": None,
            "config_from_rendered_chart": {},
            "failures": [],
        }
        self.checks_passed = 0
        self._began = time.monotonic()

    def progress(self, text: str) -> None:
        """A line on the console, so a person watching knows which step the run is in."""
        elapsed = int(time.monotonic() - self._began)
        print(f"engines: [{elapsed // 60:02d}:{elapsed % 60:02d}] {text}", flush=True)

    def fail(self, check: str, why: str) -> None:
        self.data["failures"].append({"check": check, "why": why})

    def check(self, check: str, ok: bool, why: str) -> bool:
        if ok:
            self.checks_passed += 1
        else:
            self.fail(check, why)
        return ok

    def config_sources(self, **sources: Mapping[str, str]) -> None:
        self.data["config_from_rendered_chart"].update(sources)

    def refusals(self, *results: Mapping[str, bool]) -> None:
        for result in results:
            self.data["refused"].update(result)
        for name in REFUSALS:
            self.check(f"refused.{name}", self.data["refused"].get(name) is True, f"{name} was not refused")

    def set(self, key: str, value: Any) -> None:
        self.data[key] = value

    def fault(self, name: str, outcome: Mapping[str, Any]) -> None:
        self.data["faults"][name] = dict(outcome)

    @property
    def passed(self) -> bool:
        return not self.data["failures"]

    def write(self) -> None:
        self.path.parent.mkdir(parents=True, exist_ok=True)
        self.path.write_text(json.dumps(self.data, indent=2, default=str) + "\n")

    def print_summary(self) -> None:
        data = self.data
        print(f"engines: versions {data['versions']}")
        print(f"engines: rows {data['rows']}, lost {data['lost']}, duplicates {data['duplicates']}")
        for name, outcome in data["faults"].items():
            print(f"engines: fault {name}: {outcome}")
        print(f"engines: refused {data['refused']}")
        print(
            f"engines: throughput {data['throughput_rows_per_s']} rows/s, latency {data['latency_ms']} ms, "
            f"baseline COPY {data['baseline_copy_rows_per_s']} rows/s"
        )
        for failure in data["failures"]:
            print(f"engines: FAILED {failure['check']}: {failure['why']}")
        # The plain closing line CI reads: every check made is one test.
        print(f"engines: {self.checks_passed} passed, {len(data['failures'])} failed")
