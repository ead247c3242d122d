"""Benchmark the sink's upsert against plain COPY on a throwaway PostgreSQL.

    /usr/bin/python3 pipeline/bench/bench_sink.py --rows 100000

Both loaders get the same validated ticks and write into the same table
(truncated before each run, same indexes, same durability settings), each in
one transaction including the commit. The best of --repeat runs is reported.
"""

from __future__ import annotations

import argparse
import sys
import time
from datetime import datetime, timedelta, timezone
from pathlib import Path
from typing import Any, Callable

PIPELINE = Path(__file__).resolve().parents[1]
sys.path[:0] = [str(PIPELINE / "spark"), str(PIPELINE / "devtools")]

import psycopg2  # noqa: E402

import pg_local  # noqa: E402
import tick_sink  # noqa: E402

TABLE = "bench_ticks"
SYMBOLS = 100


def synthetic_ticks(rows: int) -> list[tick_sink.Tick]:
    """rows distinct (symbol, event_time) keys: SYMBOLS symbols x one tick per second."""
    start = datetime(2025, 1, 1, tzinfo=timezone.utc)
    ingest = start + timedelta(days=1)
    return [
        tick_sink.Tick(
            symbol=f"coin-{i % SYMBOLS}",
            price=1000.0 + (i % 997) * 0.125,
            currency="usd",
            source="coingecko",
            event_time=start + timedelta(seconds=i // SYMBOLS),
            ingest_time=ingest,
        )
        for i in range(rows)
    ]


def timed(conn: Any, load: Callable[[], int]) -> tuple[float, int]:
    start = time.perf_counter()
    written = load()
    conn.commit()
    return time.perf_counter() - start, written


def truncate(conn: Any) -> None:
    with conn.cursor() as cur:
        cur.execute(f"TRUNCATE {TABLE}")
    conn.commit()


def best_of(repeat: int, conn: Any, load: Callable[[], int], expected: int, prepare: Callable[[], None]) -> float:
    best = float("inf")
    for _ in range(repeat):
        prepare()
        seconds, written = timed(conn, load)
        if written != expected:
            raise SystemExit(f"loader wrote {written} rows, expected {expected}")
        best = min(best, seconds)
    return best


def run(dsn: str, rows: int, page_size: int, repeat: int) -> None:
    ticks = synthetic_ticks(rows)
    conn = psycopg2.connect(dsn)
    try:
        tick_sink.apply_ddl(conn, TABLE)

        def upsert() -> int:
            return tick_sink.upsert_ticks(conn, TABLE, ticks, page_size)

        copy_s = best_of(repeat, conn, lambda: tick_sink.copy_ticks(conn, TABLE, ticks), rows, lambda: truncate(conn))
        upsert_s = best_of(repeat, conn, upsert, rows, lambda: truncate(conn))
        # Table now holds every row: upserting again is a replay and must write nothing.
        replay_s = best_of(repeat, conn, upsert, 0, lambda: None)
        with conn.cursor() as cur:
            cur.execute(f"DROP TABLE {TABLE}")
        conn.commit()
    finally:
        conn.close()
    print(f"rows={rows} page_size={page_size} repeat={repeat} (best run)")
    print(f"COPY    {rows / copy_s:12,.0f} rows/s  ({copy_s:.3f}s)")
    print(f"upsert  {rows / upsert_s:12,.0f} rows/s  ({upsert_s:.3f}s)")
    print(f"replay  {rows / replay_s:12,.0f} rows/s  ({replay_s:.3f}s, no-op upsert of the same rows)")
    print(f"upsert/COPY = {copy_s / upsert_s:.0%} (goal >= 50%)")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rows", type=int, default=100_000)
    parser.add_argument("--page-size", type=int, default=tick_sink.PAGE_SIZE)
    parser.add_argument("--repeat", type=int, default=3)
    parser.add_argument("--dsn", help="use this database instead of starting a throwaway cluster")
    args = parser.parse_args()
    if args.dsn:
        run(args.dsn, args.rows, args.page_size, args.repeat)
        return
    with pg_local.LocalPostgres() as pg:
        run(pg.dsn, args.rows, args.page_size, args.repeat)


if __name__ == "__main__":
    main()
