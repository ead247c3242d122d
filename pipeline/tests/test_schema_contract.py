"""The JSON schema is the contract; producer and consumer code must agree with it."""

import json
import math

import pytest

import crypto_ticks as ct
import tick_sink as ts
from conftest import SCHEMA_PATH

JSON_TYPE_OF_SPARK_TYPE = {"string": "string", "double": "number"}


def test_sink_fields_match_schema(tick_schema):
    assert set(ts.COLUMNS) == set(tick_schema["required"])
    assert {name for name, _ in ts.MESSAGE_FIELDS} == set(tick_schema["properties"])
    for name, spark_type in ts.MESSAGE_FIELDS:
        assert tick_schema["properties"][name]["type"] == JSON_TYPE_OF_SPARK_TYPE[spark_type], name


def test_message_fields_match_schema(tick_schema):
    quote = ct.Quote("bitcoin", 1.0, "usd", "coingecko", ct.utc_now())
    assert set(ct.build_message(quote, ct.utc_now())) == set(tick_schema["properties"])


def test_patterns_and_enums_are_the_schema_ones(tick_schema):
    props = tick_schema["properties"]
    assert ts.SYMBOL_RE.pattern == props["symbol"]["pattern"]
    assert ts.CURRENCY_RE.pattern == ct.CURRENCY_PATTERN.pattern == props["currency"]["pattern"]
    assert ts.TIMESTAMP_RE.pattern == props["event_time"]["pattern"] == props["ingest_time"]["pattern"]
    assert ts.TICK_ID_RE.pattern == props["tick_id"]["pattern"]
    assert list(ts.SOURCES) == list(ct.DEFAULT_URLS) == props["source"]["enum"]


@pytest.mark.parametrize("symbol", ["bitcoin", "usd-coin", "BTCUSDT", "1inch"])
def test_configurable_symbols_are_valid_message_symbols(symbol):
    source = "binance" if symbol.isupper() else "coingecko"
    assert ct.SYMBOL_PATTERNS[source].match(symbol) and ts.SYMBOL_RE.match(symbol)


VALID = json.loads(SCHEMA_PATH.read_text())["examples"][0]
CASES = [
    VALID,
    {**VALID, "price": 3},
    {**VALID, "extra": "ignored"},
    {**VALID, "event_time": "2025-03-01T12:00:00.123456Z"},
    {**VALID, "price": 0},
    {**VALID, "price": -0.5},
    {**VALID, "price": "1.0"},
    {**VALID, "price": True},
    {**VALID, "price": None},
    {**VALID, "symbol": ""},
    {**VALID, "symbol": "-btc"},
    {**VALID, "currency": "US"},
    {**VALID, "source": "kraken"},
    {**VALID, "event_time": "2025-03-01T12:00:00+00:00"},
    {**VALID, "event_time": "2025-03-01T12:00:00.1234567Z"},
    {**VALID, "ingest_time": 1740830400},
    {k: v for k, v in VALID.items() if k != "ingest_time"},
    {k: v for k, v in VALID.items() if k != "symbol"},
    {**VALID, "tick_id": "0b6f3c2e-8d4a-4e1f-9c57-2a1d6e0f4b93"},
    {**VALID, "tick_id": "0B6F3C2E-8D4A-4E1F-9C57-2A1D6E0F4B93"},
    {**VALID, "tick_id": "0b6f3c2e8d4a4e1f9c572a1d6e0f4b93"},
    {**VALID, "tick_id": 7},
    {**VALID, "tick_id": ""},
]


@pytest.mark.parametrize("record", CASES, ids=range(len(CASES)))
def test_consumer_accepts_exactly_what_the_schema_accepts(record, tick_validator):
    try:
        ts.parse_tick(record)
        consumer_ok = True
    except ts.MalformedTick:
        consumer_ok = False
    assert consumer_ok == tick_validator.is_valid(record)


def test_consumer_is_stricter_than_json_schema_on_non_json_values(tick_validator):
    # NaN is not JSON, but Spark's parser produces it; the sink must still refuse it.
    record = {**VALID, "price": math.nan}
    with pytest.raises(ts.MalformedTick):
        ts.parse_tick(record)
    # Pattern-valid but impossible dates: the schema's pattern admits them.
    impossible = {**VALID, "event_time": "2025-02-30T12:00:00Z"}
    assert tick_validator.is_valid(impossible)
    with pytest.raises(ts.MalformedTick):
        ts.parse_tick(impossible)
