"""Sink logic that needs no database: row validation and in-batch de-duplication."""

import json
import math
from datetime import datetime, timezone

import pytest

import tick_sink as ts
from conftest import SCHEMA_PATH

GOOD = json.loads(SCHEMA_PATH.read_text())["examples"][0]


def tick(symbol="bitcoin", event="2025-03-01T12:00:00Z", ingest="2025-03-01T12:00:30Z", price=1.0):
    return ts.parse_tick({**GOOD, "symbol": symbol, "event_time": event, "ingest_time": ingest, "price": price})


def test_parse_tick_types_and_utc():
    parsed = ts.parse_tick(GOOD)
    assert parsed == ts.Tick(
        "bitcoin",
        61234.5,
        "usd",
        "coingecko",
        datetime(2025, 3, 1, 12, 0, tzinfo=timezone.utc),
        datetime(2025, 3, 1, 12, 0, 30, 250000, tzinfo=timezone.utc),
    )
    assert ts.parse_tick({**GOOD, "price": 7}).price == 7.0


def test_unknown_extra_fields_are_ignored():
    assert ts.parse_tick({**GOOD, "volume": 12}) == ts.parse_tick(GOOD)


@pytest.mark.parametrize(
    "change, field",
    [
        ({"symbol": None}, "symbol"),
        ({"symbol": ""}, "symbol"),
        ({"symbol": "bit coin"}, "symbol"),
        ({"price": None}, "price"),
        ({"price": 0.0}, "price"),
        ({"price": -1.0}, "price"),
        ({"price": math.nan}, "price"),
        ({"price": math.inf}, "price"),
        ({"price": "61234.5"}, "price"),
        ({"price": True}, "price"),
        ({"currency": "USD"}, "currency"),
        ({"source": "kraken"}, "source"),
        ({"event_time": None}, "event_time"),
        ({"event_time": "2025-03-01 12:00:00"}, "event_time"),
        ({"event_time": "2025-03-01T12:00:00+00:00"}, "event_time"),
        ({"event_time": "2025-13-01T12:00:00Z"}, "event_time"),
        ({"ingest_time": "2025-03-01T12:00:00.1234567Z"}, "ingest_time"),
        ({"ingest_time": 1740830400}, "ingest_time"),
    ],
)
def test_malformed_tick_names_the_field(change, field):
    with pytest.raises(ts.MalformedTick, match=f"^{field}"):
        ts.parse_tick({**GOOD, **change})


@pytest.mark.parametrize("record", [None, "bitcoin", [GOOD]])
def test_non_object_record_is_malformed(record):
    with pytest.raises(ts.MalformedTick, match="not an object"):
        ts.parse_tick(record)


def test_all_null_row_from_unparseable_json_is_malformed():
    # Spark's from_json turns an unparseable message into all-null fields.
    with pytest.raises(ts.MalformedTick):
        ts.parse_tick(dict.fromkeys(ts.COLUMNS))


def test_split_valid_counts_each_bad_record():
    ticks, reasons = ts.split_valid([GOOD, {**GOOD, "price": 0}, None, {**GOOD, "symbol": "ethereum"}])
    assert [t.symbol for t in ticks] == ["bitcoin", "ethereum"]
    assert len(reasons) == 2 and reasons[0].startswith("price=0")


def test_latest_ingest_time_wins_per_key():
    first = tick(ingest="2025-03-01T12:00:30Z", price=1.0)
    newest = tick(ingest="2025-03-01T12:00:31Z", price=2.0)
    older = tick(ingest="2025-03-01T12:00:29Z", price=3.0)
    other = tick(symbol="ethereum", price=4.0)
    assert ts.latest_per_key([first, newest, older, other]) == [newest, other]


def test_tie_keeps_the_first():
    a, b = tick(price=1.0), tick(price=2.0)
    assert ts.latest_per_key([a, b]) == [a]


def test_same_instant_written_differently_is_one_key():
    # PostgreSQL would see one key; two rows in one INSERT ... ON CONFLICT would fail.
    a = tick(event="2025-03-01T12:00:00Z", ingest="2025-03-01T12:00:30Z")
    b = tick(event="2025-03-01T12:00:00.000Z", ingest="2025-03-01T12:00:31.5Z")
    assert ts.latest_per_key([a, b]) == [b]
