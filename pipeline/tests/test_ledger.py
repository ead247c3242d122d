"""engines/ledger.py, the assertions the engines test and the kind end-to-end share: each problem is found, and
its command line reads what the sink really writes to a real PostgreSQL with the queries it prints."""

import importlib.util
import json
import subprocess
import sys
from datetime import datetime, timedelta, timezone

import pytest

import crypto_ticks as ct
import pg_local
import tick_sink as ts
from conftest import PIPELINE

LEDGER_PATH = PIPELINE.parent / "engines" / "ledger.py"
# engines/ is no package and holds modules named like libraries (kafka.py): load this one file only.
_spec = importlib.util.spec_from_file_location("ledger", LEDGER_PATH)
ledger = importlib.util.module_from_spec(_spec)
sys.modules["ledger"] = ledger
_spec.loader.exec_module(ledger)

T0 = datetime(2025, 3, 1, 12, tzinfo=timezone.utc)


def at(seconds):
    return T0 + timedelta(seconds=seconds)


def tick(symbol, event, ingest, n):
    return ledger.Tick(symbol, at(event), at(ingest), f"00000000-0000-4000-8000-{n:012d}")


# Two polls per symbol, one before and one after a kill at 90 s; bitcoin's price did not change in between, so both
# of its ticks share a key and the newer one is the row.
PRODUCED = [
    tick("bitcoin", 0, 30, 1),
    tick("ethereum", 0, 30, 2),
    tick("bitcoin", 0, 150, 3),
    tick("ethereum", 60, 150, 4),
]
ROWS = [
    ledger.Row("bitcoin", at(0), at(150)),
    ledger.Row("ethereum", at(0), at(30)),
    ledger.Row("ethereum", at(60), at(150)),
]
WRITES = list(PRODUCED)
SYMBOLS = ["bitcoin", "ethereum"]


def kinds(delivery):
    return sorted(p.kind for p in delivery.problems)


def test_a_run_where_all_holds():
    delivery = ledger.account(PRODUCED, ROWS, WRITES, SYMBOLS, since=at(90))
    assert delivery.ok, delivery.problems
    assert (delivery.produced, delivery.rows, delivery.duplicates) == (4, {"bitcoin": 1, "ethereum": 2}, 0)


def test_a_tick_superseded_before_it_was_written_is_not_lost():
    # Both bitcoin ticks in one batch: the sink writes only the newer one.
    assert ledger.account(PRODUCED, ROWS, [w for w in WRITES if w.tick_id != PRODUCED[0].tick_id], SYMBOLS).ok


@pytest.mark.parametrize(
    "change, expected",
    [
        ({"rows": ROWS[:2]}, ["missing"]),
        ({"rows": [ledger.Row("bitcoin", at(0), at(30)), *ROWS[1:]]}, ["stale"]),
        ({"writes": WRITES + [WRITES[3]]}, ["written_twice"]),
        ({"rows": ROWS + [ledger.Row("ethereum", at(-60), at(30))]}, ["unknown_row"]),
        ({"writes": WRITES + [tick("ethereum", -60, 30, 2)]}, ["unknown_write", "written_twice"]),
        ({"writes": WRITES[:3]}, ["unlogged"]),
        ({"symbols": SYMBOLS + ["solana"]}, ["absent"]),
        ({"since": at(200)}, ["quiet"]),
        ({"min_rows": 2}, ["few_rows"]),
        ({"produced": PRODUCED + [PRODUCED[3]]}, ["repeated"]),
        (
            {"produced": [*PRODUCED[:3], PRODUCED[3]._replace(tick_id=None)], "writes": WRITES[:3]},
            ["unlogged", "unnamed"],
        ),
    ],
)
def test_each_problem_is_found(change, expected):
    args = {"produced": PRODUCED, "rows": ROWS, "writes": WRITES, "symbols": SYMBOLS, **change}
    delivery = ledger.account(**args)
    assert kinds(delivery) == expected, delivery.problems


def test_a_tick_written_twice_counts_once_per_extra_write_and_names_the_tick():
    delivery = ledger.account(PRODUCED, ROWS, WRITES + [WRITES[3], WRITES[3]], SYMBOLS)
    assert delivery.duplicates == 2
    assert delivery.problems[0].text == (
        f"written twice: tick {PRODUCED[3].tick_id} (ethereum 2025-03-01T12:01:00.000000Z) was written 3 times"
    )
    assert delivery.summary()["duplicates"] == 2 and delivery.summary()["problems"] == {"written_twice": 1}


def test_rows_and_writes_newer_than_what_was_read_are_left_out():
    later = tick("bitcoin", 200, 230, 9)
    rows = ROWS + [ledger.Row(later.symbol, later.event_time, later.ingest_time)]
    assert ledger.account(PRODUCED, rows, WRITES + [later], SYMBOLS).ok


def test_writes_before_the_log_began_are_not_asked_for():
    assert ledger.account(PRODUCED, ROWS, WRITES[2:], SYMBOLS, logged_since=at(90)).ok
    assert kinds(ledger.account(PRODUCED, ROWS, WRITES[2:], SYMBOLS)) == ["unlogged"]


def test_messages_that_are_no_ticks_are_skipped():
    lines = ["Processed a total of 2 messages", "not json", "[]", '{"symbol": 1}', json.dumps(ROW_MESSAGE)]
    assert ledger.read_messages(lines) == [ledger.Tick("bitcoin", at(0), at(30), None)]


ROW_MESSAGE = {
    "symbol": "bitcoin",
    "price": 1.0,
    "currency": "usd",
    "source": "coingecko",
    "event_time": "2025-03-01T12:00:00.000Z",
    "ingest_time": "2025-03-01T12:00:30.000Z",
}


def test_batches_of_a_driver_log():
    log = "Spark started\nINFO stream_ticks: batch 4: received=3 malformed=0 duplicates=0 written=3\n"
    log += "INFO stream_ticks: batch 5: received=3 malformed=1 duplicates=0 written=0\n"
    run = subprocess.run(
        [sys.executable, str(LEDGER_PATH), "batches"], input=log, capture_output=True, text=True, check=True
    )
    assert run.stdout == "4 3 0 0 3\n5 3 1 0 0\n"


@pytest.mark.parametrize("table", ["crypto_ticks; DROP TABLE x", "Crypto"])
def test_sql_refuses_a_table_name_it_would_have_to_quote(table):
    with pytest.raises(ValueError):
        ledger.select("rows", table)


def test_the_command_line_reads_what_the_sink_writes_to_postgresql(pg_dsn, pg_conn, ticks_table, tmp_path):
    """The DAG's own messages, the sink with its write log, the tables read with the queries the e2e runs: all
    holds; then a replay written again, which the table's key hides, is found."""
    log_table = f"{ticks_table}_writes"
    ts.apply_ddl(pg_conn, ticks_table, write_log=log_table)
    quotes = [ct.Quote(s, 1.5, "usd", "coingecko", T0) for s in SYMBOLS]
    messages = [ct.build_message(q, at(30)) for q in quotes] + [ct.build_message(quotes[0], at(150))]
    try:
        ts.write_batch(pg_conn, ticks_table, messages[:2], log_table)
        ts.write_batch(pg_conn, ticks_table, messages[2:], log_table)
        ts.write_batch(pg_conn, ticks_table, messages, log_table)  # a replay of both: writes nothing
        (tmp_path / "messages.jsonl").write_text("".join(ct.encode_message(m).decode() + "\n" for m in messages))

        def check():
            for kind, table in (("rows", ticks_table), ("writes", log_table)):
                psql = [str(pg_local.psql()), pg_dsn, "-X", "-v", "ON_ERROR_STOP=1", "-tA", "-F", "\t"]
                with open(tmp_path / f"{kind}.tsv", "w") as out:
                    subprocess.run([*psql, "-c", ledger.select(kind, table)], stdout=out, check=True)
            files = [f"--{name}={tmp_path / name}.{ext}" for name, ext in (("messages", "jsonl"), ("rows", "tsv"))]
            command = [sys.executable, str(LEDGER_PATH), "check", *files, f"--writes={tmp_path / 'writes.tsv'}"]
            run = subprocess.run(
                [*command, f"--symbols={','.join(SYMBOLS)}", "--since=2025-03-01T12:01:00Z"],
                capture_output=True,
                text=True,
                check=True,
            )
            return run.stdout, run.stderr

        problems, summary = check()
        assert problems == "" and "3 ticks of 2 symbols produced, 2 rows, 3 writes logged, 0 problems" in summary
        replayed = ts.parse_tick(messages[2])
        with pg_conn, pg_conn.cursor() as cur:
            cur.execute(f'DELETE FROM "{ticks_table}" WHERE ingest_time = %s', (replayed.ingest_time,))
            assert ts.upsert_ticks(pg_conn, ticks_table, [replayed], write_log=log_table) == 1
        problems, _ = check()
        assert problems == (
            f"written twice: tick {messages[2]['tick_id']} (bitcoin 2025-03-01T12:00:00.000000Z) was written 2 times\n"
        )
    finally:
        with pg_conn, pg_conn.cursor() as cur:
            cur.execute(f'DROP TABLE IF EXISTS "{log_table}"')


def test_an_instant_takes_every_fraction_the_schema_allows():
    # 1 to 6 digits (tick.schema.json); Python before 3.11 parses only 3 or 6 without help.
    for digits in range(1, 7):
        fraction = "5" + "0" * (digits - 1)
        assert ledger.instant(f"2025-03-01T12:00:00.{fraction}Z").microsecond == 500_000
    assert ledger.instant("2025-03-01T12:00:00Z").tzinfo is not None
