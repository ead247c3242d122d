"""Every way the engines test departs from what the charts render, in one list.

Each engine module keeps its own entries beside the code that makes them (`ADAPTATIONS`: engine, what is
adapted, why); this list is their union, printed in the report (`adaptations`) so a reader sees all of them
in one place. Host names, ports and certificates are never among them: engines/network.py makes the
cluster's names resolve to the pods' loopback addresses, and engines/bundle.ts issues the program's own
certificates.
"""

from __future__ import annotations

import airflow_engine
import kafka
import postgresql
import spark

ADAPTATIONS: list[tuple[str, str, str]] = [
    *kafka.ADAPTATIONS,
    *postgresql.ADAPTATIONS,
    *spark.ADAPTATIONS,
    *airflow_engine.ADAPTATIONS,
]


def as_report() -> list[dict[str, str]]:
    return [{"engine": engine, "adapted": what, "why": why} for engine, what, why in ADAPTATIONS]
