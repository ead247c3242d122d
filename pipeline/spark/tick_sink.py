"""PostgreSQL sink for tick micro-batches: validate, de-duplicate, upsert.

Plain module (no pyspark) so it is tested against a real PostgreSQL; the Spark
entrypoint stream_ticks.py hands it the rows of each micro-batch.

Idempotence: rows are keyed by (symbol, event_time) and an existing row is only
overwritten by a strictly newer ingest_time, so replaying a batch (Spark
re-runs the last batch after a crash) or receiving a late, older duplicate
changes nothing.

Write log (fault tests only): with a write-log table, every row the upsert inserts or changes is also appended
there, with the tick_id of the message that made it, in the same statement. The table's key hides a tick written
twice; the log shows it. Off in the platform: it grows by a row per write and nothing trims it.
"""

from __future__ import annotations

import csv
import io
import logging
import math
import re
from datetime import datetime
from pathlib import Path
from typing import Any, Iterable, Mapping, NamedTuple

from psycopg2 import sql

log = logging.getLogger(__name__)

# The required message fields and their Spark SQL types, in table column order. Mirrors
# ../schema/tick.schema.json (the tests hold the two together). Timestamps stay
# strings in Spark so that parse_tick, not the Spark session time zone, decides.
TICK_FIELDS = (
    ("symbol", "string"),
    ("price", "double"),
    ("currency", "string"),
    ("source", "string"),
    ("event_time", "string"),
    ("ingest_time", "string"),
)
COLUMNS = tuple(name for name, _ in TICK_FIELDS)
# Every field the sink reads: the required ones and the optional tick_id, which only the write log keeps.
MESSAGE_FIELDS = TICK_FIELDS + (("tick_id", "string"),)
SOURCES = ("coingecko", "binance")
SYMBOL_RE = re.compile(r"^[A-Za-z0-9][A-Za-z0-9-]{0,63}$")
CURRENCY_RE = re.compile(r"^[a-z]{2,10}$")
TIMESTAMP_RE = re.compile(r"^[0-9]{4}-[0-9]{2}-[0-9]{2}T[0-9]{2}:[0-9]{2}:[0-9]{2}(\.[0-9]{1,6})?Z$")
TICK_ID_RE = re.compile(r"^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$")
DDL_PATH = Path(__file__).with_name("schema.sql")
DDL_TABLE_PLACEHOLDER = ':"ticks_table"'
# The write log's table; no index, as it is only ever appended to and read whole by a test.
WRITE_LOG_DDL = """CREATE TABLE IF NOT EXISTS {log} (
    tick_id     uuid,
    symbol      text        NOT NULL,
    event_time  timestamptz NOT NULL,
    ingest_time timestamptz NOT NULL,
    written_at  timestamptz NOT NULL DEFAULT now()
)"""
# A row is written when it is new or its ingest_time is older than the tick's: a replay writes nothing.
ON_CONFLICT = (
    "ON CONFLICT (symbol, event_time) DO UPDATE SET "
    "price = EXCLUDED.price, currency = EXCLUDED.currency, source = EXCLUDED.source, "
    "ingest_time = EXCLUDED.ingest_time, updated_at = now() "
    "WHERE t.ingest_time < EXCLUDED.ingest_time"
)
UNNEST_COLUMNS = "%s::text[], %s::numeric[], %s::text[], %s::text[], %s::timestamptz[], %s::timestamptz[]"
# Rows per INSERT statement: bounds statement size when a backlog is replayed;
# bench/bench_sink.py shows the same throughput from 5,000 to 100,000.
PAGE_SIZE = 10_000


class MalformedTick(ValueError):
    """A record that must be dropped; the message says why."""


class Tick(NamedTuple):
    symbol: str
    price: float
    currency: str
    source: str
    event_time: datetime
    ingest_time: datetime
    tick_id: str | None = None  # absent from messages produced before it existed


class BatchResult(NamedTuple):
    received: int
    malformed: int
    duplicates: int
    written: int  # rows inserted or changed; 0 for a replayed batch


def _text(record: Mapping[str, Any], name: str, pattern: re.Pattern[str]) -> str:
    value = record.get(name)
    if not isinstance(value, str) or not pattern.match(value):
        raise MalformedTick(f"{name}={value!r} does not match {pattern.pattern}")
    return value


def _timestamp(record: Mapping[str, Any], name: str) -> datetime:
    text = _text(record, name, TIMESTAMP_RE)
    try:
        return datetime.fromisoformat(text[:-1] + "+00:00")
    except ValueError as err:  # well-formed but impossible, e.g. month 13
        raise MalformedTick(f"{name}={text!r}: {err}") from err


def _price(record: Mapping[str, Any]) -> float:
    value = record.get("price")
    # bool is an int subclass; NaN/Infinity reach us from Spark's lenient JSON parser.
    if isinstance(value, bool) or not isinstance(value, (int, float)) or not math.isfinite(value) or value <= 0:
        raise MalformedTick(f"price={value!r} is not a finite number > 0")
    return float(value)


def parse_tick(record: Any) -> Tick:
    """Validate one decoded message against the tick contract."""
    if not isinstance(record, Mapping):
        raise MalformedTick(f"record is {type(record).__name__}, not an object")
    source = record.get("source")
    if source not in SOURCES:
        raise MalformedTick(f"source={source!r} is not one of {SOURCES}")
    return Tick(
        symbol=_text(record, "symbol", SYMBOL_RE),
        price=_price(record),
        currency=_text(record, "currency", CURRENCY_RE),
        source=source,
        event_time=_timestamp(record, "event_time"),
        ingest_time=_timestamp(record, "ingest_time"),
        tick_id=None if record.get("tick_id") is None else _text(record, "tick_id", TICK_ID_RE),
    )


def split_valid(records: Iterable[Any]) -> tuple[list[Tick], list[str]]:
    """Return (valid ticks, one reason per malformed record)."""
    ticks: list[Tick] = []
    reasons: list[str] = []
    for record in records:
        try:
            ticks.append(parse_tick(record))
        except MalformedTick as err:
            reasons.append(str(err))
    return ticks, reasons


def latest_per_key(ticks: Iterable[Tick]) -> list[Tick]:
    """Keep the newest ingest_time per (symbol, event_time); first one wins a tie.

    Needed because one INSERT ... ON CONFLICT cannot touch the same row twice.
    """
    latest: dict[tuple[str, datetime], Tick] = {}
    for tick in ticks:
        key = (tick.symbol, tick.event_time)
        kept = latest.get(key)
        if kept is None or tick.ingest_time > kept.ingest_time:
            latest[key] = tick
    return list(latest.values())


def apply_ddl(conn: Any, table: str, ddl_path: Path = DDL_PATH, write_log: str = "") -> None:
    """The tick table, and the write log's table when one is named; both idempotent."""
    ddl = ddl_path.read_text().replace(DDL_TABLE_PLACEHOLDER, sql.Identifier(table).as_string(conn))
    with conn, conn.cursor() as cur:
        cur.execute(ddl)
        if write_log:
            cur.execute(sql.SQL(WRITE_LOG_DDL).format(log=sql.Identifier(write_log)))


def _column_list() -> sql.Composable:
    return sql.SQL(", ").join(map(sql.Identifier, COLUMNS))


def pg_array(values: Iterable[str | None]) -> str:
    """PostgreSQL array literal with every element quoted, so , { } and "NULL" stay data; None is NULL."""
    return (
        "{"
        + ",".join("NULL" if v is None else '"' + v.replace("\\", "\\\\").replace('"', '\\"') + '"' for v in values)
        + "}"
    )


def _upsert_statement(table: str, write_log: str) -> sql.Composable:
    if not write_log:
        statement = "INSERT INTO {table} AS t ({columns}) SELECT * FROM unnest(" + UNNEST_COLUMNS + ") " + ON_CONFLICT
        return sql.SQL(statement).format(table=sql.Identifier(table), columns=_column_list())
    # RETURNING yields exactly the rows inserted or changed (none that the WHERE kept), joined back to the page
    # for the tick_id the table does not hold; the page is unique per key (latest_per_key).
    statement = (
        "WITH page AS (SELECT * FROM unnest(" + UNNEST_COLUMNS + ", %s::uuid[]) AS p({columns}, tick_id)), "
        "written AS (INSERT INTO {table} AS t ({columns}) SELECT {columns} FROM page " + ON_CONFLICT + " "
        "RETURNING t.symbol, t.event_time) "
        "INSERT INTO {log} (tick_id, symbol, event_time, ingest_time) "
        "SELECT page.tick_id, page.symbol, page.event_time, page.ingest_time "
        "FROM written JOIN page USING (symbol, event_time)"
    )
    return sql.SQL(statement).format(table=sql.Identifier(table), columns=_column_list(), log=sql.Identifier(write_log))


def upsert_ticks(conn: Any, table: str, ticks: list[Tick], page_size: int = PAGE_SIZE, write_log: str = "") -> int:
    """INSERT ... ON CONFLICT in the caller's transaction; returns rows written.

    Rows travel as one array literal per column and are expanded by unnest():
    PostgreSQL parses an array literal far faster than a multi-row VALUES list
    (bench/bench_sink.py: ~65% of COPY speed vs ~39% with execute_values).
    Rows must be unique per (symbol, event_time) (see latest_per_key).
    With write_log, each row written is also appended there, in the same statement.
    """
    statement = _upsert_statement(table, write_log)
    written = 0
    with conn.cursor() as cur:
        for start in range(0, len(ticks), page_size):
            page = ticks[start : start + page_size]
            cur.execute(
                statement,
                (
                    pg_array(t.symbol for t in page),
                    pg_array(repr(t.price) for t in page),
                    pg_array(t.currency for t in page),
                    pg_array(t.source for t in page),
                    pg_array(t.event_time.isoformat() for t in page),
                    pg_array(t.ingest_time.isoformat() for t in page),
                    *([pg_array(t.tick_id for t in page)] if write_log else []),
                ),
            )
            written += cur.rowcount
    return written


def write_batch(conn: Any, table: str, records: Iterable[Any], write_log: str = "") -> BatchResult:
    """Validate, de-duplicate and upsert one micro-batch in one transaction (with its write log, if named)."""
    records = list(records)
    ticks, reasons = split_valid(records)
    if reasons:
        log.warning("dropping %d malformed tick(s), first reasons: %s", len(reasons), reasons[:3])
    unique = latest_per_key(ticks)
    with conn:  # commit on success, roll back on error: a batch lands whole or not at all
        written = upsert_ticks(conn, table, unique, write_log=write_log)
    return BatchResult(len(records), len(reasons), len(ticks) - len(unique), written)


def copy_ticks(conn: Any, table: str, ticks: Iterable[Tick]) -> int:
    """Plain COPY of ticks (no conflict handling) in the caller's transaction.

    The benchmark's reference point for the fastest way PostgreSQL can ingest.
    """
    buffer = io.StringIO()
    writer = csv.writer(buffer)
    writer.writerows(
        (t.symbol, t.price, t.currency, t.source, t.event_time.isoformat(), t.ingest_time.isoformat()) for t in ticks
    )
    buffer.seek(0)
    statement = sql.SQL("COPY {table} ({columns}) FROM STDIN WITH (FORMAT csv)").format(
        table=sql.Identifier(table), columns=_column_list()
    )
    with conn.cursor() as cur:
        cur.copy_expert(statement.as_string(cur), buffer)
        return cur.rowcount
