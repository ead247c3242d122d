"""The streaming job's Prometheus metrics, served by a tiny HTTP thread (standard library only).

What the job's log prints per batch, as metrics, plus the Kafka consumer lag from the query's progress:

    crypto_ticks_rows_received_total              counter  rows of the batches (Kafka records read)
    crypto_ticks_rows_malformed_total             counter  rows dropped as malformed
    crypto_ticks_rows_duplicate_total             counter  rows dropped as duplicates of a (symbol, event_time)
    crypto_ticks_rows_written_total               counter  rows inserted or updated in PostgreSQL
    crypto_ticks_batch_duration_seconds           gauge    how long the last batch's write took
    crypto_ticks_last_batch_timestamp_seconds     gauge    when the last batch finished (Unix time)
    crypto_ticks_newest_event_time_seconds{symbol}  gauge  newest event_time upserted per symbol (Unix time)
    crypto_ticks_consumer_lag{partition}          gauge    latest offset minus the offset processed, per partition

Served as the Prometheus text exposition format 0.0.4 at /metrics on JOB_METRICS_PORT (the driver pod's
container port "metrics", scraped by the PodMonitoring of components/k8s/monitoring.ts). Counters restart
at zero with the driver, which Prometheus' rate() absorbs.

/ready on the same port answers 200 while the streaming query is active and 503 before it starts or once it
ends: the driver pod's readiness probe (components/pipeline/streamingJob.ts), so the pod is Ready only when its
query runs, not merely when the process is up.
"""

from __future__ import annotations

import json
import logging
import math
import threading
from datetime import datetime
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any, Callable, Iterable, Mapping

log = logging.getLogger("job_metrics")

CONTENT_TYPE = "text/plain; version=0.0.4; charset=utf-8"
DEFAULT_PORT = 9108

COUNTERS = {
    "crypto_ticks_rows_received_total": "Rows the streaming job received from Kafka.",
    "crypto_ticks_rows_malformed_total": "Rows dropped as malformed.",
    "crypto_ticks_rows_duplicate_total": "Rows dropped as duplicates of a (symbol, event_time) within a batch.",
    "crypto_ticks_rows_written_total": "Rows inserted or updated in PostgreSQL.",
}
GAUGES = {
    "crypto_ticks_batch_duration_seconds": "Duration of the last micro-batch's write, in seconds.",
    "crypto_ticks_last_batch_timestamp_seconds": "Unix time the last micro-batch finished.",
}
LABELLED_GAUGES = {
    "crypto_ticks_newest_event_time_seconds": ("symbol", "Newest event_time upserted for a symbol, as Unix time."),
    "crypto_ticks_consumer_lag": ("partition", "Kafka offsets not yet processed: latest offset minus end offset."),
}


def _number(value: float) -> str:
    if math.isnan(value):
        return "NaN"
    if math.isinf(value):
        return "+Inf" if value > 0 else "-Inf"
    return repr(float(value)) if not float(value).is_integer() else str(int(value))


def _label(value: str) -> str:
    return value.replace("\\", "\\\\").replace("\n", "\\n").replace('"', '\\"')


class JobMetrics:
    """Thread-safe values of the job's metrics; render() gives the text exposition."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._counters = {name: 0 for name in COUNTERS}
        self._gauges: dict[str, float] = {}
        self._labelled: dict[str, dict[str, float]] = {name: {} for name in LABELLED_GAUGES}
        self._ready: Callable[[], bool] = lambda: False

    def set_readiness(self, check: Callable[[], bool]) -> None:
        """What /ready asks: main() passes whether its streaming query is active."""
        self._ready = check

    def ready(self) -> bool:
        try:
            return bool(self._ready())
        except Exception:  # noqa: BLE001 - a query whose JVM is gone is not ready
            return False

    def record_batch(
        self,
        *,
        received: int,
        malformed: int,
        duplicates: int,
        written: int,
        duration_seconds: float,
        finished_at: float,
        newest_event_times: Mapping[str, datetime] | None = None,
    ) -> None:
        """One finished micro-batch: what the log line prints, its duration and the newest event_time per symbol."""
        with self._lock:
            self._counters["crypto_ticks_rows_received_total"] += received
            self._counters["crypto_ticks_rows_malformed_total"] += malformed
            self._counters["crypto_ticks_rows_duplicate_total"] += duplicates
            self._counters["crypto_ticks_rows_written_total"] += written
            self._gauges["crypto_ticks_batch_duration_seconds"] = duration_seconds
            self._gauges["crypto_ticks_last_batch_timestamp_seconds"] = finished_at
            newest = self._labelled["crypto_ticks_newest_event_time_seconds"]
            for symbol, event_time in (newest_event_times or {}).items():
                seconds = event_time.timestamp()
                # Only forward: a replayed older batch must not make a symbol look stale.
                newest[symbol] = max(seconds, newest.get(symbol, seconds))

    def set_consumer_lag(self, lag: Mapping[str, int]) -> None:
        """Replaces the lag of every partition (partitions that disappeared are dropped)."""
        with self._lock:
            self._labelled["crypto_ticks_consumer_lag"] = {str(p): float(v) for p, v in lag.items()}

    def render(self) -> str:
        with self._lock:
            lines: list[str] = []
            for name, help_text in COUNTERS.items():
                lines += [f"# HELP {name} {help_text}", f"# TYPE {name} counter", f"{name} {self._counters[name]}"]
            for name, help_text in GAUGES.items():
                lines += [f"# HELP {name} {help_text}", f"# TYPE {name} gauge"]
                if name in self._gauges:
                    lines.append(f"{name} {_number(self._gauges[name])}")
            for name, (label, help_text) in LABELLED_GAUGES.items():
                lines += [f"# HELP {name} {help_text}", f"# TYPE {name} gauge"]
                for key in sorted(self._labelled[name], key=_sort_key):
                    lines.append(f'{name}{{{label}="{_label(key)}"}} {_number(self._labelled[name][key])}')
            return "\n".join(lines) + "\n"


def _sort_key(key: str) -> tuple[int, int, str]:
    return (0, int(key), "") if key.isdigit() else (1, 0, key)


def newest_event_times(ticks: Iterable[Any]) -> dict[str, datetime]:
    """The newest event_time per symbol of parsed ticks (tick_sink.Tick or anything with symbol and event_time)."""
    newest: dict[str, datetime] = {}
    for tick in ticks:
        if tick.symbol not in newest or tick.event_time > newest[tick.symbol]:
            newest[tick.symbol] = tick.event_time
    return newest


def _offsets(value: Any) -> Mapping[str, Any]:
    # The Kafka source's offsets: {"topic": {"partition": offset}}; a JSON string in older progress forms.
    if isinstance(value, str):
        try:
            value = json.loads(value)
        except ValueError:
            return {}
    return value if isinstance(value, Mapping) else {}


def progress_dict(progress: Any) -> Mapping[str, Any] | None:
    """A StreamingQuery.lastProgress as a dict: PySpark 4 gives a StreamingQueryProgress with .json, 3.x a dict."""
    if progress is None:
        return None
    text = getattr(progress, "json", None)
    if isinstance(text, str):
        return json.loads(text)
    return progress if isinstance(progress, Mapping) else None


def consumer_lag(progress: Mapping[str, Any] | None) -> dict[str, int]:
    """Per partition, latestOffset minus endOffset over the Kafka sources of a StreamingQueryProgress JSON.

    Spark's SourceProgress carries startOffset, endOffset (what this batch processed up to) and latestOffset
    (the newest offset the source saw when planning it; Kafka reports the brokers' latest offsets). Partitions are
    labelled "<partition>" with one topic, "<topic>-<partition>" when the query reads several.
    """
    if not progress:
        return {}
    pairs: list[tuple[str, str, int]] = []
    for source in progress.get("sources") or []:
        end = _offsets(source.get("endOffset"))
        latest = _offsets(source.get("latestOffset"))
        for topic, partitions in latest.items():
            if not isinstance(partitions, Mapping):
                continue
            processed = end.get(topic) if isinstance(end.get(topic), Mapping) else {}
            for partition, newest in partitions.items():
                done = processed.get(partition, newest)
                if isinstance(newest, int) and isinstance(done, int):
                    pairs.append((topic, str(partition), max(newest - done, 0)))
    topics = {topic for topic, _, _ in pairs}
    return {(partition if len(topics) == 1 else f"{topic}-{partition}"): lag for topic, partition, lag in pairs}


class _Handler(BaseHTTPRequestHandler):
    metrics: JobMetrics

    def do_GET(self) -> None:  # noqa: N802 (http.server's naming)
        path = self.path.split("?")[0]
        if path == "/ready":
            ready = self.metrics.ready()
            self._answer(200 if ready else 503, b"ready\n" if ready else b"the streaming query is not active\n")
            return
        if path not in ("/metrics", "/metrics/"):
            self.send_error(404)
            return
        self._answer(200, self.metrics.render().encode(), CONTENT_TYPE)

    def _answer(self, status: int, body: bytes, content_type: str = "text/plain; charset=utf-8") -> None:
        self.send_response(status)
        self.send_header("Content-Type", content_type)
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)

    def log_message(self, format: str, *args: Any) -> None:  # noqa: A002
        # One line per scrape would drown the batch log.
        pass


def serve(metrics: JobMetrics, port: int, host: str = "0.0.0.0") -> ThreadingHTTPServer:
    """Starts the /metrics server in a daemon thread; port 0 picks a free port (server.server_address)."""
    handler = type("MetricsHandler", (_Handler,), {"metrics": metrics})
    server = ThreadingHTTPServer((host, port), handler)
    server.daemon_threads = True
    threading.Thread(target=server.serve_forever, name="job-metrics", daemon=True).start()
    log.info("serving metrics on :%d/metrics", server.server_address[1])
    return server


def metrics_port(environ: Mapping[str, str]) -> int:
    """JOB_METRICS_PORT, DEFAULT_PORT when unset; 0 turns the server off."""
    text = environ.get("JOB_METRICS_PORT", "").strip() or str(DEFAULT_PORT)
    if not text.isdigit() or int(text) > 65535:
        raise ValueError(f"JOB_METRICS_PORT={text!r} must be a TCP port")
    return int(text)


# The job's one registry: the batch writer (foreachBatch runs in the driver's Python process) and the progress loop.
METRICS = JobMetrics()
