"""job_metrics: the streaming job's Prometheus text exposition, its HTTP server and the consumer lag."""

import json
import re
import urllib.error
import urllib.request
from datetime import datetime, timezone

import pytest

import job_metrics as jm
import stream_ticks as st

EXPECTED_NAMES = {
    "crypto_ticks_rows_received_total": "counter",
    "crypto_ticks_rows_malformed_total": "counter",
    "crypto_ticks_rows_duplicate_total": "counter",
    "crypto_ticks_rows_written_total": "counter",
    "crypto_ticks_batch_duration_seconds": "gauge",
    "crypto_ticks_last_batch_timestamp_seconds": "gauge",
    "crypto_ticks_newest_event_time_seconds": "gauge",
    "crypto_ticks_consumer_lag": "gauge",
}
SAMPLE = re.compile(r'^([a-zA-Z_:][a-zA-Z0-9_:]*)(\{[a-zA-Z_][a-zA-Z0-9_]*="(?:[^"\\]|\\.)*"\})? (\S+)$')


def parse(text):
    """Samples of a text exposition, checking every line's syntax and that TYPE precedes the samples."""
    types, samples = {}, {}
    for line in text.splitlines():
        if line.startswith("# TYPE "):
            _, _, name, kind = line.split(" ")
            types[name] = kind
        elif line.startswith("# HELP "):
            continue
        else:
            match = SAMPLE.match(line)
            assert match, f"not a sample line: {line!r}"
            assert match.group(1) in types, f"{match.group(1)} before its TYPE"
            samples[match.group(1) + (match.group(2) or "")] = float(match.group(3))
    assert text.endswith("\n")
    return types, samples


def at(text):
    return datetime.fromisoformat(text).replace(tzinfo=timezone.utc)


def test_every_name_and_type_as_the_alerts_expect():
    types, samples = parse(jm.JobMetrics().render())
    assert types == EXPECTED_NAMES
    # Counters start at zero; gauges without a value yet are absent, not zero.
    assert samples == {name: 0.0 for name, kind in EXPECTED_NAMES.items() if kind == "counter"}


def test_batches_add_up_and_gauges_hold_the_last():
    metrics = jm.JobMetrics()
    metrics.record_batch(
        received=10,
        malformed=1,
        duplicates=2,
        written=7,
        duration_seconds=0.25,
        finished_at=1000.0,
        newest_event_times={"bitcoin": at("2025-01-01T00:01:00"), "ethereum": at("2025-01-01T00:00:00")},
    )
    metrics.record_batch(
        received=3,
        malformed=0,
        duplicates=0,
        written=3,
        duration_seconds=1.5,
        finished_at=1030.0,
        # A replayed older tick does not move a symbol back.
        newest_event_times={"bitcoin": at("2025-01-01T00:00:30"), "ethereum": at("2025-01-01T00:02:00")},
    )
    _, samples = parse(metrics.render())
    assert samples["crypto_ticks_rows_received_total"] == 13
    assert samples["crypto_ticks_rows_malformed_total"] == 1
    assert samples["crypto_ticks_rows_duplicate_total"] == 2
    assert samples["crypto_ticks_rows_written_total"] == 10
    assert samples["crypto_ticks_batch_duration_seconds"] == 1.5
    assert samples["crypto_ticks_last_batch_timestamp_seconds"] == 1030
    assert samples['crypto_ticks_newest_event_time_seconds{symbol="bitcoin"}'] == at("2025-01-01T00:01:00").timestamp()
    assert samples['crypto_ticks_newest_event_time_seconds{symbol="ethereum"}'] == at("2025-01-01T00:02:00").timestamp()


def test_label_values_are_escaped():
    metrics = jm.JobMetrics()
    metrics.record_batch(
        received=1,
        malformed=0,
        duplicates=0,
        written=1,
        duration_seconds=0,
        finished_at=1,
        newest_event_times={'we"ird\\sym': at("2025-01-01T00:00:00")},
    )
    assert 'symbol="we\\"ird\\\\sym"' in metrics.render()
    parse(metrics.render())


# Spark 4.0's StreamingQueryProgress JSON (StreamingQueryProgress.jsonValue, SourceProgress.jsonValue: description,
# startOffset, endOffset, latestOffset, numInputRows, ...); the Kafka source's offsets are {topic: {partition: offset}}.
PROGRESS = {
    "id": "0d3e...",
    "runId": "5b1c...",
    "name": "crypto-ticks-stream",
    "timestamp": "2025-01-01T00:00:30.000Z",
    "batchId": 42,
    "numInputRows": 12,
    "sources": [
        {
            "description": "KafkaV2[Subscribe[crypto-ticks]]",
            "startOffset": {"crypto-ticks": {"0": 90, "1": 10, "2": 0}},
            "endOffset": {"crypto-ticks": {"0": 100, "1": 12, "2": 0}},
            "latestOffset": {"crypto-ticks": {"0": 150, "1": 12, "2": 0}},
            "numInputRows": 12,
        }
    ],
    "sink": {"description": "ForeachBatchSink"},
}


def test_consumer_lag_per_partition_from_progress():
    assert jm.consumer_lag(PROGRESS) == {"0": 50, "1": 0, "2": 0}


def test_consumer_lag_reads_pyspark4_progress_objects_and_string_offsets():
    class Progress:  # PySpark 4's StreamingQueryProgress exposes the JSON as .json
        json = json.dumps(PROGRESS)

    assert jm.consumer_lag(jm.progress_dict(Progress())) == {"0": 50, "1": 0, "2": 0}
    source = PROGRESS["sources"][0]
    stringly = {"sources": [{k: (json.dumps(v) if k.endswith("Offset") else v) for k, v in source.items()}]}
    assert jm.consumer_lag(stringly) == {"0": 50, "1": 0, "2": 0}


def test_consumer_lag_without_progress_or_offsets():
    assert jm.consumer_lag(None) == {}
    assert jm.consumer_lag({"sources": [{"description": "x", "endOffset": None, "latestOffset": None}]}) == {}
    assert jm.progress_dict(None) is None


def test_lag_gauges_replace_the_previous_partitions():
    metrics = jm.JobMetrics()
    metrics.set_consumer_lag({"0": 5, "1": 7})
    metrics.set_consumer_lag({"0": 1})
    _, samples = parse(metrics.render())
    assert samples['crypto_ticks_consumer_lag{partition="0"}'] == 1
    assert 'crypto_ticks_consumer_lag{partition="1"}' not in samples


def test_http_server_serves_the_exposition():
    metrics = jm.JobMetrics()
    metrics.set_consumer_lag({"0": 3})
    server = jm.serve(metrics, 0, host="127.0.0.1")
    try:
        port = server.server_address[1]
        with urllib.request.urlopen(f"http://127.0.0.1:{port}/metrics", timeout=5) as response:
            assert response.status == 200
            assert response.headers["Content-Type"] == jm.CONTENT_TYPE
            body = response.read().decode()
        assert body == metrics.render()
        with pytest.raises(urllib.error.HTTPError) as error:
            urllib.request.urlopen(f"http://127.0.0.1:{port}/other", timeout=5)
        assert error.value.code == 404
    finally:
        server.shutdown()
        server.server_close()


def _status(port: int, path: str) -> int:
    try:
        with urllib.request.urlopen(f"http://127.0.0.1:{port}{path}", timeout=5) as response:
            return response.status
    except urllib.error.HTTPError as error:
        return error.code


def test_ready_only_while_the_query_is_active():
    metrics = jm.JobMetrics()
    server = jm.serve(metrics, 0, host="127.0.0.1")
    try:
        port = server.server_address[1]
        assert _status(port, "/ready") == 503, "not ready before a query is started"
        active = [True]
        metrics.set_readiness(lambda: active[0])
        assert _status(port, "/ready") == 200
        active[0] = False
        assert _status(port, "/ready") == 503, "not ready once the query ended"

        def gone() -> bool:
            raise ConnectionError("py4j: the JVM is gone")

        metrics.set_readiness(gone)
        assert _status(port, "/ready") == 503
    finally:
        server.shutdown()
        server.server_close()


@pytest.mark.parametrize(("value", "port"), [(None, jm.DEFAULT_PORT), ("9200", 9200), ("0", 0)])
def test_metrics_port(value, port):
    assert jm.metrics_port({} if value is None else {"JOB_METRICS_PORT": value}) == port


@pytest.mark.parametrize("value", ["http", "70000", "-1"])
def test_a_bad_metrics_port_is_named(value):
    with pytest.raises(ValueError, match="JOB_METRICS_PORT"):
        jm.metrics_port({"JOB_METRICS_PORT": value})


class FakeBatch:
    def __init__(self, rows):
        self.rows = rows

    def collect(self):
        return [type("Row", (), {"asDict": lambda self, r=r: dict(r)})() for r in self.rows]


def test_the_batch_writer_records_what_it_logs(monkeypatch):
    cfg = st.load_job_config(
        {
            "KAFKA_BOOTSTRAP_SERVERS": "kafka:9092",
            "KAFKA_TOPIC": "t",
            "KAFKA_SECURITY_PROTOCOL": "PLAINTEXT",
            "CHECKPOINT_DIR": "/c",
            "POSTGRES_HOST": "pg",
            "POSTGRES_DB": "d",
            "POSTGRES_USER": "u",
            "POSTGRES_PASSWORD": "p",
            "POSTGRES_SSLMODE": "disable",
        }
    )
    rows = [
        {
            "symbol": "bitcoin",
            "price": 1.0,
            "currency": "usd",
            "source": "coingecko",
            "event_time": "2025-01-01T00:01:00Z",
            "ingest_time": "2025-01-01T00:01:01Z",
        },
        {"symbol": None, "price": None, "currency": None, "source": None, "event_time": None, "ingest_time": None},
    ]
    monkeypatch.setattr(
        st.tick_sink, "write_batch", lambda conn, table, records, log: st.tick_sink.BatchResult(2, 1, 0, 1)
    )

    class Conn:
        def close(self):
            pass

    times = iter([100.0, 100.5])
    metrics = jm.JobMetrics()
    st.make_batch_writer(cfg, lambda **_: Conn(), metrics, clock=lambda: next(times))(FakeBatch(rows), 7)
    _, samples = parse(metrics.render())
    assert samples["crypto_ticks_rows_received_total"] == 2
    assert samples["crypto_ticks_rows_malformed_total"] == 1
    assert samples["crypto_ticks_rows_written_total"] == 1
    assert samples["crypto_ticks_batch_duration_seconds"] == 0.5
    assert samples["crypto_ticks_last_batch_timestamp_seconds"] == 100.5
    assert samples['crypto_ticks_newest_event_time_seconds{symbol="bitcoin"}'] == at("2025-01-01T00:01:00").timestamp()


def test_await_with_lag_polls_progress_until_the_query_ends():
    class Query:
        polls = 0
        lastProgress = PROGRESS

        def awaitTermination(self, timeout):  # noqa: N802 (PySpark's name)
            self.polls += 1
            return self.polls > 2

    metrics = jm.JobMetrics()
    query = Query()
    st.await_with_lag(query, metrics, poll_s=0.01)
    assert query.polls == 3
    assert 'crypto_ticks_consumer_lag{partition="0"} 50' in metrics.render()
