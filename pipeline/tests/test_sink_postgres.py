"""The sink against a real PostgreSQL (session fixture in conftest.py)."""

import subprocess
from decimal import Decimal

import psycopg2
import pytest

import pg_local
import tick_sink as ts


def message(symbol="bitcoin", event="2025-03-01T12:00:00Z", ingest="2025-03-01T12:00:30Z", price=100.0, tick_id=None):
    return {
        "symbol": symbol,
        "price": price,
        "currency": "usd",
        "source": "coingecko",
        "event_time": event,
        "ingest_time": ingest,
        **({"tick_id": tick_id} if tick_id else {}),
    }


def rows(conn, table):
    """Whole table, updated_at included, in key order."""
    with conn.cursor() as cur:
        cur.execute(
            f'SELECT symbol, event_time, price, currency, source, ingest_time, updated_at FROM "{table}" ORDER BY 1, 2'
        )
        return cur.fetchall()


@pytest.fixture
def table(pg_conn, ticks_table):
    ts.apply_ddl(pg_conn, ticks_table)
    return ticks_table


def test_ddl_is_idempotent_and_keyed(pg_conn, table):
    pg_conn.cursor().execute(f'INSERT INTO "{table}" (symbol, event_time, price, currency, source, ingest_time) '
                             "VALUES ('x', now(), 1, 'usd', 'binance', now())")
    pg_conn.commit()
    ts.apply_ddl(pg_conn, table)  # second run: no error, data kept
    assert len(rows(pg_conn, table)) == 1
    with pg_conn.cursor() as cur:
        cur.execute(
            "SELECT a.attname FROM pg_index i "
            "JOIN pg_attribute a ON a.attrelid = i.indrelid AND a.attnum = ANY(i.indkey) "
            "WHERE i.indrelid = %s::regclass AND i.indisprimary ORDER BY array_position(i.indkey, a.attnum)",
            (f'"{table}"',),
        )
        assert [r[0] for r in cur.fetchall()] == ["symbol", "event_time"]


def test_schema_sql_runs_in_psql_as_documented(pg_dsn, pg_conn, ticks_table):
    psql = pg_local.psql()
    result = subprocess.run(
        [str(psql), pg_dsn, "-v", "ON_ERROR_STOP=1", "-v", f"ticks_table={ticks_table}", "-f", str(ts.DDL_PATH)],
        capture_output=True,
        text=True,
    )
    assert result.returncode == 0, result.stderr
    assert rows(pg_conn, ticks_table) == []


def test_database_rejects_nan_and_infinity_even_without_validation(pg_conn, table):
    for bad in ("NaN", "Infinity", "0"):
        with pytest.raises(psycopg2.errors.CheckViolation):
            with pg_conn, pg_conn.cursor() as cur:
                cur.execute(
                    f'INSERT INTO "{table}" (symbol, event_time, price, currency, source, ingest_time) '
                    "VALUES ('x', now(), %s::numeric, 'usd', 'binance', now())",
                    (bad,),
                )


def test_batch_with_duplicates_keeps_newest(pg_conn, table):
    batch = [
        message(ingest="2025-03-01T12:00:30Z", price=1.0),
        message(ingest="2025-03-01T12:00:32Z", price=3.0),
        message(ingest="2025-03-01T12:00:31Z", price=2.0),
        message(symbol="ethereum", price=10.0),
    ]
    assert ts.write_batch(pg_conn, table, batch) == ts.BatchResult(received=4, malformed=0, duplicates=2, written=2)
    assert [(r[0], r[2]) for r in rows(pg_conn, table)] == [("bitcoin", Decimal("3.0")), ("ethereum", Decimal("10.0"))]


def test_replayed_batch_changes_nothing(pg_conn, table):
    batch = [message(event=f"2025-03-01T12:0{i}:00Z", price=100.0 + i) for i in range(5)]
    assert ts.write_batch(pg_conn, table, batch).written == 5
    before = rows(pg_conn, table)
    assert ts.write_batch(pg_conn, table, batch).written == 0
    assert rows(pg_conn, table) == before  # updated_at included


def test_late_older_tick_does_not_overwrite_newer(pg_conn, table):
    ts.write_batch(pg_conn, table, [message(ingest="2025-03-01T12:00:40Z", price=2.0)])
    before = rows(pg_conn, table)
    late = ts.write_batch(pg_conn, table, [message(ingest="2025-03-01T12:00:35Z", price=1.0)])
    assert late.written == 0 and rows(pg_conn, table) == before
    newer = ts.write_batch(pg_conn, table, [message(ingest="2025-03-01T12:00:45Z", price=3.0)])
    [(_, _, price, _, _, ingest, updated_at)] = rows(pg_conn, table)
    assert newer.written == 1 and price == Decimal("3.0") and ingest.second == 45
    assert updated_at > before[0][6]


def test_out_of_order_event_times_are_all_kept(pg_conn, table):
    events = ["2025-03-01T12:02:00Z", "2025-03-01T12:00:00Z", "2025-03-01T12:01:00Z"]
    for event in events:
        ts.write_batch(pg_conn, table, [message(event=event)])
    assert [r[1].minute for r in rows(pg_conn, table)] == [0, 1, 2]


def test_malformed_rows_are_counted_and_skipped(pg_conn, table):
    batch = [message(), message(price=0.0), None, {"symbol": None}, message(symbol="ethereum")]
    assert ts.write_batch(pg_conn, table, batch) == ts.BatchResult(5, 3, 0, 2)
    assert [r[0] for r in rows(pg_conn, table)] == ["bitcoin", "ethereum"]


@pytest.mark.parametrize("batch", [[], [None, {"price": 1}]])
def test_batch_without_valid_rows_writes_nothing(pg_conn, table, batch):
    assert ts.write_batch(pg_conn, table, batch).written == 0
    assert rows(pg_conn, table) == []


def test_prices_keep_their_decimal_value(pg_conn, table):
    batch = [
        message(symbol="a", price=0.1), message(symbol="b", price=1e-07), message(symbol="c", price=65432.12345678)
    ]
    ts.write_batch(pg_conn, table, batch)
    assert [r[2] for r in rows(pg_conn, table)] == [Decimal("0.1"), Decimal("1E-7"), Decimal("65432.12345678")]


def test_upsert_pages_add_up(pg_conn, table):
    ticks = [ts.parse_tick(message(event=f"2025-03-01T12:00:{s:02d}Z")) for s in range(25)]
    assert ts.upsert_ticks(pg_conn, table, ticks, page_size=10) == 25
    pg_conn.commit()
    assert len(rows(pg_conn, table)) == 25


def test_pages_share_the_callers_transaction(pg_conn, table):
    # write_batch relies on this: a failing later page (here a key clash inside
    # page two) must also undo page one, so a batch lands whole or not at all.
    ticks = [ts.parse_tick(message(event=f"2025-03-01T12:00:{s:02d}Z")) for s in range(3)]
    with pytest.raises(psycopg2.errors.CardinalityViolation):
        with pg_conn:
            ts.upsert_ticks(pg_conn, table, ticks + ticks[2:], page_size=2)
    assert rows(pg_conn, table) == []


@pytest.mark.parametrize("values", [["a,b", 'c"d', "e\\f", "NULL", "{x}", " spaced ", "", None]])
def test_pg_array_round_trips(pg_conn, values):
    with pg_conn.cursor() as cur:
        cur.execute("SELECT %s::text[]", (ts.pg_array(values),))
        assert cur.fetchone()[0] == values


def test_copy_loads_the_same_rows_as_upsert(pg_conn, table):
    ticks = [ts.parse_tick(message(symbol=s, price=p)) for s, p in (("a", 0.5), ("b", 1e-07), ("c", 70000.25))]
    with pg_conn:
        assert ts.copy_ticks(pg_conn, table, ticks) == 3
    copied = [r[:6] for r in rows(pg_conn, table)]
    with pg_conn, pg_conn.cursor() as cur:
        cur.execute(f'TRUNCATE "{table}"')
    with pg_conn:
        ts.upsert_ticks(pg_conn, table, ticks)
    assert [r[:6] for r in rows(pg_conn, table)] == copied


# --- the write log ---------------------------------------------------------------------------------------------


def tick_id(n):
    return f"00000000-0000-4000-8000-{n:012d}"


def writes(conn, log_table):
    with conn.cursor() as cur:
        cur.execute(f'SELECT tick_id::text, symbol, event_time, ingest_time FROM "{log_table}" ORDER BY written_at')
        return [(t, s, e.isoformat(), i.isoformat()) for t, s, e, i in cur.fetchall()]


@pytest.fixture
def log_table(pg_conn, ticks_table):
    name = f"{ticks_table}_writes"
    ts.apply_ddl(pg_conn, ticks_table, write_log=name)
    yield name
    pg_conn.rollback()
    with pg_conn, pg_conn.cursor() as cur:
        cur.execute(f'DROP TABLE IF EXISTS "{name}"')


def test_the_write_log_holds_each_write_with_its_tick(pg_conn, ticks_table, log_table):
    first = [
        message(ingest="2025-03-01T12:00:30Z", tick_id=tick_id(1)),
        message(ingest="2025-03-01T12:00:31Z", tick_id=tick_id(2)),  # newer in the same batch: only it is written
        message(symbol="ethereum", tick_id=tick_id(3)),
    ]
    assert ts.write_batch(pg_conn, ticks_table, first, log_table).written == 2
    assert ts.write_batch(pg_conn, ticks_table, first, log_table).written == 0  # a replay: nothing logged
    late = message(ingest="2025-03-01T12:00:29Z", tick_id=tick_id(4))  # older than the row: not written
    newer = message(ingest="2025-03-01T12:01:30Z", tick_id=tick_id(5))  # the same price polled again: an update
    assert ts.write_batch(pg_conn, ticks_table, [late, newer], log_table).written == 1
    assert writes(pg_conn, log_table) == [
        (tick_id(2), "bitcoin", "2025-03-01T12:00:00+00:00", "2025-03-01T12:00:31+00:00"),
        (tick_id(3), "ethereum", "2025-03-01T12:00:00+00:00", "2025-03-01T12:00:30+00:00"),
        (tick_id(5), "bitcoin", "2025-03-01T12:00:00+00:00", "2025-03-01T12:01:30+00:00"),
    ]


def test_the_write_log_shows_what_the_key_hides(pg_conn, ticks_table, log_table):
    """A sink that wrote a replayed tick again would leave the table as it was: only the log tells."""
    tick = ts.parse_tick(message(tick_id=tick_id(1)))
    for _ in range(2):
        with pg_conn, pg_conn.cursor() as cur:
            cur.execute(f'DELETE FROM "{ticks_table}"')  # what a sink without the WHERE would make of the replay
            assert ts.upsert_ticks(pg_conn, ticks_table, [tick], write_log=log_table) == 1
    assert len(rows(pg_conn, ticks_table)) == 1
    assert [w[0] for w in writes(pg_conn, log_table)] == [tick_id(1), tick_id(1)]


def test_ticks_without_an_id_are_logged_with_none(pg_conn, ticks_table, log_table):
    assert ts.write_batch(pg_conn, ticks_table, [message()], log_table).written == 1
    assert [w[0] for w in writes(pg_conn, log_table)] == [None]


def test_the_write_log_pages_and_rolls_back_with_the_batch(pg_conn, ticks_table, log_table):
    ticks = [ts.parse_tick(message(event=f"2025-03-01T12:00:{s:02d}Z", tick_id=tick_id(s))) for s in range(3)]
    with pytest.raises(psycopg2.errors.CardinalityViolation):
        with pg_conn:
            ts.upsert_ticks(pg_conn, ticks_table, ticks + ticks[2:], page_size=2, write_log=log_table)
    assert writes(pg_conn, log_table) == []
    with pg_conn:
        assert ts.upsert_ticks(pg_conn, ticks_table, ticks, page_size=2, write_log=log_table) == 3
    assert sorted(w[0] for w in writes(pg_conn, log_table)) == [tick_id(s) for s in range(3)]


def test_the_write_log_is_created_only_when_named_and_kept_by_a_rerun(pg_conn, ticks_table, log_table):
    def exists(name):
        with pg_conn.cursor() as cur:
            cur.execute("SELECT to_regclass(%s)", (f'"{name}"',))
            return cur.fetchone()[0] is not None

    ts.write_batch(pg_conn, ticks_table, [message(tick_id=tick_id(1))], log_table)
    ts.apply_ddl(pg_conn, ticks_table, write_log=log_table)  # every driver start runs it again
    assert len(writes(pg_conn, log_table)) == 1
    other = f"{ticks_table}_other"
    ts.apply_ddl(pg_conn, other)
    try:
        assert not exists(f"{other}_writes")
    finally:
        with pg_conn, pg_conn.cursor() as cur:
            cur.execute(f'DROP TABLE "{other}"')
