"""What the engines run proves: rows move, malformed ticks end where the design says, faults lose and
duplicate nothing, and how fast the pipeline is beside this machine's limit."""

from __future__ import annotations

import io
import json
import re
import secrets
import statistics
import subprocess
import tempfile
import threading
import time
from contextlib import closing
from datetime import datetime, timezone
from pathlib import Path
from typing import Any, Iterable

import psycopg2
import pyspark
import stream_ticks  # pipeline/spark: the job's own settings and connection code
from confluent_kafka import Consumer, TopicPartition

import ledger
from kafka import librdkafka_config, metadata_errors
from load import TickLoad
from watch import TableWatch, table_keys, wait_for_rows

DAG_RUNS = 3
FAULT_RATE_PER_S = 50
# Three batches' worth (stream_ticks.MAX_OFFSETS_PER_TRIGGER each), which the job runs back to back.
BENCH_TICKS = 3 * stream_ticks.MAX_OFFSETS_PER_TRIGGER
LATENCY_RATE_PER_S = 100
LATENCY_SECONDS = 60
COPY_PAGE = 10_000
READ_TIMEOUT_S = 180
# The kind end-to-end's Kafka client, run here as its check runs it in a pod.
E2E_READ_TOPIC = Path(__file__).resolve().parent.parent / ".github" / "scripts" / "e2e-read-topic.sh"


def kafka_consumer_config(env: dict, group_suffix: str) -> dict[str, Any]:
    """librdkafka settings for the streaming job's identity (its rendered KAFKA_* environment)."""
    return {
        **librdkafka_config(env),
        # The consumer's ACL admits groups under the job's prefix only.
        "group.id": f"{stream_ticks.load_job_config(env).group_id_prefix}-{group_suffix}",
        "enable.auto.commit": False,
        "auto.offset.reset": "earliest",
    }


class Scenario:
    def __init__(self, stack, report, job, broker, postgresql, airflow, prices):
        self.stack = stack
        self.report, self.job, self.broker = report, job, broker
        self.postgresql, self.airflow, self.prices = postgresql, airflow, prices
        self.task_env = airflow.task_env()
        self.job_cfg = stream_ticks.load_job_config(job.env)
        self.trigger_s = _seconds(self.job_cfg.trigger_interval)
        self.table = self.job_cfg.table
        self.restarts = 0
        # Each phase's account of acknowledged ticks against the table and the sink's write log (engines/spark.py turns
        # it on from the driver's first start): the run's lost and duplicates are their sums.
        self.accounts: dict[str, ledger.Delivery] = {}
        self._done = threading.Event()
        # Held while the test itself kills and restarts the driver, so the kubelet does not restart it too.
        self._driver = threading.Lock()

    @property
    def symbols(self) -> list[str]:
        """The symbols the DAG polls, as its pod's CRYPTO_SYMBOLS lists them."""
        return [s.strip() for s in self.task_env["CRYPTO_SYMBOLS"].split(",") if s.strip()]

    def connect(self):
        return psycopg2.connect(**stream_ticks.pg_connect_kwargs(self.job_cfg))

    # --- the kubelet's part: a driver that exits is started again -------------------------------------
    def supervise(self) -> None:
        def loop() -> None:
            while not self._done.wait(2):
                with self._driver:
                    if self._done.is_set() or self.job.alive():
                        continue
                    try:
                        self.job.restart()
                        self.restarts += 1
                    except Exception as error:  # noqa: BLE001 - recorded; the kubelet tries again
                        self.report.fail("kubelet", f"the driver did not start again: {type(error).__name__}: {error}")

        threading.Thread(target=loop, name="kubelet", daemon=True).start()

    def stop_supervising(self) -> None:
        self._done.set()
        with self._driver:
            pass

    def recorded(self, symbols: Iterable[str]) -> tuple[list[ledger.Row], list[ledger.Tick]]:
        """The table's rows and the write log's entries of these symbols."""
        with closing(self.connect()) as conn, conn.cursor() as cur:
            symbols = list(symbols)
            cur.execute(
                f'SELECT symbol, event_time, ingest_time FROM "{self.table}" WHERE symbol = ANY(%s)', (symbols,)
            )
            rows = [ledger.Row(*row) for row in cur.fetchall()]
            cur.execute(
                f'SELECT symbol, event_time, ingest_time, tick_id::text FROM "{self.job_cfg.write_log_table}" '
                "WHERE symbol = ANY(%s)",
                (symbols,),
            )
            return rows, [ledger.Tick(*write) for write in cur.fetchall()]

    def malformed_dropped(self) -> int:
        return sum(ledger.SinkLog.parse(text).malformed for text in self.job.logs())

    def versions(self) -> None:
        """Each engine's own word for its version: the broker's start-up log (AppInfoParser), pyspark, Airflow,
        the server."""
        with closing(self.connect()) as conn, conn.cursor() as cur:
            cur.execute("SHOW server_version")
            postgresql = cur.fetchone()[0]
        kafka = re.search(r"Kafka version: (\S+)", self.broker.log.read_text(errors="replace"))
        self.report.set(
            "versions",
            {
                "kafka": kafka[1] if kafka else None,
                "spark": pyspark.__version__,
                "airflow": self.airflow.version(),
                "postgresql": postgresql,
            },
        )

    def provisioning_rerun(self) -> None:
        """Every helm upgrade runs the provisioning Job again (a hook): the second run succeeds and changes
        neither the topic nor the ACLs."""
        self.report.progress("the provisioning Job again, as an upgrade runs it")
        before = self._kafka_state()
        self.broker.provision()
        after = self._kafka_state()
        self.report.check("provisioning_rerun", before == after, f"before:\n{before}\nafter:\n{after}")

    def _kafka_state(self) -> tuple[str, set[tuple[str, str]]]:
        """The topic's description and its ACLs as (resource, entry) pairs: kafka-acls lists them in no set order."""
        topic = self.broker.tool("kafka-topics.sh", "--describe", "--topic", self.job_cfg.topic)
        acls, resource = set(), ""
        for line in self.broker.tool("kafka-acls.sh", "--list").splitlines():
            if line.startswith("Current ACLs for resource"):
                resource = line
            elif line.strip():
                acls.add((resource, line.strip()))
        return topic, acls

    # --- rows move ----------------------------------------------------------------------------------------
    def dag(self) -> None:
        """Airflow runs the shipped DAG (its DagBag is checked by airflow_engine.dag_import_checks), the ticks of
        every configured symbol reach the table."""
        self.report.progress("rows move: the DAG's runs")
        symbols = self.symbols
        for _ in range(DAG_RUNS):
            counts = self.airflow.run_dag()
            self.report.check("dag_run", counts.get("produced") == len(symbols), f"a DAG run produced {counts}")
        # Every copy the topic holds: the DAG's producer is idempotent (crypto_ticks.producer_config), so a tick_id
        # in it twice is a problem the ledger names.
        in_topic = self.topic_ticks(set(symbols))
        wait_for_rows(self.connect, self.table, {tick.key for tick in in_topic}, timeout_s=3 * self.trigger_s + 60)
        self.settle()
        # At least a row per symbol and DAG run: the fake price API moves every price between runs.
        delivery = ledger.account(in_topic, *self.recorded(symbols), symbols, min_rows=DAG_RUNS)
        self.report.set("rows", delivery.rows)
        self.accounts["dag"] = delivery
        self.report.check("dag_delivery", delivery.ok, f"DAG ticks: {delivery.summary()}")

    def e2e_topic_reader(self) -> None:
        """The kind end-to-end's Kafka client, .github/scripts/e2e-read-topic.sh, which e2e-check-ticks.sh runs in a pod
        of the broker's image: with the client config it writes, as the consumer, by the name and port the check
        gives it, it reads back every tick of the DAG's runs from the real broker."""
        self.report.progress("the end-to-end's topic reader")
        symbols = set(self.symbols)
        with tempfile.TemporaryDirectory() as folder:
            files = {"KAFKA_PASSWORD_FILE": Path(folder, "password"), "KAFKA_CA_FILE": Path(folder, "ca.crt")}
            files["KAFKA_PASSWORD_FILE"].write_text(self.stack.secret_data("kafka", "kafka-sasl")["consumer-password"])
            files["KAFKA_CA_FILE"].write_text(self.stack.secret_data("kafka", "kafka-tls")["ca.crt"])
            env = {
                **self.broker.tools.image_env(),
                **{name: str(path) for name, path in files.items()},
                "KAFKA_BOOTSTRAP": "kafka.kafka.svc.cluster.local:9092",
                "KAFKA_TOPIC": self.job_cfg.topic,
                "KAFKA_GROUP": f"{self.job_cfg.group_id_prefix}-e2e-check-engines",
                "KAFKA_USER": "consumer",
                "KAFKA_IDLE_MS": "10000",
            }
            started = time.monotonic()
            read = subprocess.run(
                ["bash", str(E2E_READ_TOPIC)], env=env, capture_output=True, text=True, timeout=READ_TIMEOUT_S
            )
            seconds = round(time.monotonic() - started, 1)
        ticks = {tick for tick in ledger.read_messages(read.stdout.splitlines()) if tick.symbol in symbols}
        expected = set(self.topic_ticks(symbols))
        self.report.set(
            "e2e_topic_reader",
            {"dag_ticks_read": len(ticks), "dag_ticks_in_topic": len(expected), "seconds": seconds},
        )
        self.report.check(
            "e2e_topic_reader",
            read.returncode == 0 and bool(expected) and ticks == expected,
            f"exit {read.returncode}, read {len(ticks)} of the {len(expected)} DAG ticks in the topic; "
            f"stderr: {read.stderr[-1500:]}",
        )

    def malformed(self) -> None:
        """A bad record from the API is skipped by the DAG; a bad message in Kafka is dropped and counted by the
        sink, never written."""
        self.report.progress("malformed ticks")
        symbols = self.symbols
        self.prices.malformed(symbols[0])
        try:
            counts = self.airflow.run_dag()
        finally:
            self.prices.malformed(None)
        self.report.check(
            "malformed_source_skipped",
            counts.get("skipped") == 1 and counts.get("produced") == len(symbols) - 1,
            f"with one malformed API record the DAG run counted {counts}",
        )
        before = self.malformed_dropped()
        load = TickLoad(self.task_env, "engines-malformed")
        load.produce_raw(b"not json")
        load.produce_raw(
            b'{"symbol": "engines-malformed", "price": -1, "currency": "usd", "source": "coingecko",'
            b' "event_time": "2026-01-01T00:00:00.000Z", "ingest_time": "2026-01-01T00:00:00.000Z"}'
        )
        deadline = time.monotonic() + 3 * self.trigger_s + 30
        while time.monotonic() < deadline and self.malformed_dropped() < before + 2:
            time.sleep(2)
        dropped = self.malformed_dropped() - before
        in_table = len(table_keys(self.connect, self.table, "engines-malformed"))
        self.report.set(
            "malformed",
            {
                "api_record_skipped_by_dag": counts.get("skipped"),
                "kafka_records_dropped_by_sink": dropped,
                "rows_in_table": in_table,
            },
        )
        self.report.check(
            "malformed_dropped_by_sink",
            dropped == 2 and in_table == 0,
            f"two malformed Kafka records: sink dropped {dropped}, table holds {in_table}",
        )

    # --- faults --------------------------------------------------------------------------------------------
    def driver_kill(self) -> None:
        """kill -9 of the driver after a batch's rows are in PostgreSQL and before Spark records the batch as done
        (held there by SINK_HOLD_FILE): the new driver runs that batch again from the checkpoint, and the upsert
        must write none of its rows a second time."""

        def fault() -> dict:
            hold = Path(self.job.env["SINK_HOLD_FILE"])
            with self._driver:
                incarnation = len(self.job.logs())
                hold.touch()
                try:
                    held = self.wait_for_written_batch()
                    self.job.kill()
                finally:
                    hold.unlink(missing_ok=True)
                self.job.restart()
            self.job.wait_until_streaming(timeout_s=300)

            def later() -> list[ledger.SinkLog]:
                return [ledger.SinkLog.parse(text) for text in self.job.logs()[incarnation:]]

            return {
                "killed_holding_batch": held,
                "replayed_by_new_driver": lambda: any(held in log.batches for log in later()),
                "new_driver_wrote": lambda: sum(log.written for log in later()),
            }

        self.fault("driver_kill", fault)

    def wait_for_written_batch(self) -> int:
        """The id of the next batch with rows that the sink writes and logs (and then holds)."""
        before = set(ledger.SinkLog.parse(self.job.logs()[-1]).batches)
        deadline = time.monotonic() + 3 * self.trigger_s
        while time.monotonic() < deadline:
            batches = ledger.SinkLog.parse(self.job.logs()[-1]).batches
            written = [batch for batch, counts in batches.items() if batch not in before and counts[0] > 0]
            if written:
                return max(written)
            time.sleep(0.2)
        raise TimeoutError(f"no batch with rows within {3 * self.trigger_s:.0f} s")

    def broker_restart(self) -> None:
        def fault() -> dict:
            self.broker.restart()
            return {}

        self.fault("broker_restart", fault)

    def postgresql_restart(self) -> None:
        def fault() -> dict:
            self.wait_for_batch_start(before_s=1.0)
            self.postgresql.stop()
            time.sleep(3)
            self.postgresql.start()
            return {}

        self.fault("postgresql_restart", fault)

    def fault(self, name: str, inject) -> None:
        self.report.progress(f"fault: {name}")
        symbol = f"engines-{name.replace('_', '-')}"
        restarts = self.restarts
        load = TickLoad(self.task_env, symbol)
        load.start(FAULT_RATE_PER_S)
        time.sleep(self.trigger_s / 2)
        extra = inject()
        # The ticks made from here on are what the recovered pipeline must carry: the ledger asks for some.
        recovered = datetime.now(timezone.utc)
        time.sleep(self.trigger_s)
        load.stop()
        wait_for_rows(self.connect, self.table, set(load.acknowledged), 4 * self.trigger_s + 120, symbol)
        self.settle()
        produced = load.acknowledged.values()
        delivery = ledger.account(produced, *self.recorded([symbol]), [symbol], since=recovered)
        self.accounts[name] = delivery
        outcome = {
            **delivery.summary(),
            "produce_failures": load.failed,
            "driver_restarts_by_kubelet": self.restarts - restarts,
        }
        for key, value in extra.items():
            outcome[key] = value() if callable(value) else value
        self.report.fault(name, outcome)
        self.report.check(f"faults.{name}", delivery.ok, f"{name}: {outcome}")
        if name == "driver_kill":
            self.report.check(
                "faults.driver_kill.replayed",
                outcome["replayed_by_new_driver"],
                f"the new driver did not run batch {outcome['killed_holding_batch']} again",
            )
        if name == "postgresql_restart":
            self.report.check(
                "faults.postgresql_restart.hit_a_batch",
                outcome["driver_restarts_by_kubelet"] > 0,
                "no batch ran while PostgreSQL was down: the driver never failed",
            )
        if "new_driver_wrote" in outcome:
            self.report.check(
                f"faults.{name}.new_driver", outcome["new_driver_wrote"] > 0, "the restarted driver wrote nothing"
            )

    def wait_for_batch_start(self, before_s: float) -> None:
        """Sleeps until `before_s` seconds before the next batch starts: Spark starts batches on multiples of the
        trigger interval since the epoch (apache/spark v4.0.0 ProcessingTimeExecutor.nextBatchTime)."""
        now = time.time()
        target = now - now % self.trigger_s + self.trigger_s - before_s
        if target - now < 1:
            target += self.trigger_s
        time.sleep(target - now)

    def totals(self) -> None:
        """lost and duplicates over every phase that counted its ticks (the DAG's, the faults', the benchmark's)."""
        self.report.set("lost", sum(len(delivery.lost) for delivery in self.accounts.values()))
        self.report.set("duplicates", sum(delivery.duplicates for delivery in self.accounts.values()))
        self.report.set("accounts", {phase: delivery.summary() for phase, delivery in self.accounts.items()})
        self.report.check("no_tick_lost_or_written_twice", all(d.ok for d in self.accounts.values()), "see accounts")

    def settle(self) -> None:
        """Waits one more trigger, so a batch still being logged is counted."""
        time.sleep(self.trigger_s + 5)

    # --- credentials ----------------------------------------------------------------------------------------
    def password_rotation(self) -> None:
        """A new producer password in the program's Secret, and the provisioning Job the change reruns (its digest
        is in the release's values): the broker takes the new password and refuses the old one at once."""
        self.report.progress("a new producer password")
        passwords = self.stack.find("Secret", "kafka", "kafka-sasl")["stringData"]
        old, new = passwords["producer-password"], secrets.token_hex(16)
        passwords["producer-password"] = new
        self.broker.provision()
        config = librdkafka_config(self.task_env)
        signs_in = {
            password: not metadata_errors({**config, "sasl.password": password}, self.job_cfg.topic, 6)
            for password in (old, new)
        }
        self.report.set("password_rotation", {"new_accepted": signs_in[new], "old_refused": not signs_in[old]})
        self.report.check("password_rotation", signs_in[new] and not signs_in[old], f"sign-in by password: {signs_in}")

    # --- benchmark -------------------------------------------------------------------------------------------
    def benchmark(self) -> None:
        self.report.progress("the benchmark and the baseline COPY")
        load = TickLoad(self.task_env, "engines-bench")
        watch = TableWatch(self.connect, self.table, "engines-bench").start()
        load.produce(BENCH_TICKS)
        load.producer.flush(120)
        wait_for_rows(self.connect, self.table, set(load.acknowledged), 600, "engines-bench")
        time.sleep(1)
        watch.stop()
        complete = set(load.acknowledged) <= set(watch.visible_at)
        if self.report.check("benchmark.complete", complete, "bench ticks missing from the table"):
            # A backlog: the first batch waits for its trigger, the rest follow back to back. Sustained throughput
            # is what the later batches moved between the first batch's commit and the last one's.
            first, last = min(watch.visible_at.values()), max(watch.visible_at.values())
            later = sum(1 for seen in watch.visible_at.values() if seen > first)
            self.report.set("throughput_rows_per_s", round(later / (last - first), 1) if last > first else None)

        latency = TickLoad(self.task_env, "engines-latency")
        watch = TableWatch(self.connect, self.table, "engines-latency").start()
        latency.start(LATENCY_RATE_PER_S)
        time.sleep(LATENCY_SECONDS)
        latency.stop()
        wait_for_rows(self.connect, self.table, set(latency.acknowledged), 4 * self.trigger_s, "engines-latency")
        self.settle()
        loads = {load.symbol: load, latency.symbol: latency}
        produced = [tick for each in loads.values() for tick in each.acknowledged.values()]
        self.accounts["benchmark"] = ledger.account(produced, *self.recorded(loads), list(loads))
        watch.stop()
        delays = sorted(
            (watch.visible_at[key] - key[1].timestamp()) * 1000
            for key in latency.acknowledged
            if key in watch.visible_at
        )
        if self.report.check(
            "benchmark.latency",
            bool(delays) and len(delays) == len(latency.acknowledged),
            f"{len(delays)} of {len(latency.acknowledged)} latency ticks seen in the table",
        ):
            self.report.set(
                "latency_ms",
                {"p50": round(statistics.median(delays)), "p95": round(delays[int(0.95 * (len(delays) - 1))])},
            )
        self.report.set("baseline_copy_rows_per_s", self.baseline(len(load.acknowledged)))
        full = [p for p in spark_progress(self.job.logs()[-1]) if p[1] == stream_ticks.MAX_OFFSETS_PER_TRIGGER]
        if full:
            # How fast a full batch runs, trigger wait aside: what a shorter trigger could sustain.
            rows, millis = sum(p[1] for p in full), sum(p[2] for p in full)
            self.report.set("batch_processing_rows_per_s", round(rows / (millis / 1000), 1))
        self.report.set(
            "benchmark",
            {
                "ticks": BENCH_TICKS,
                "latency_rate_per_s": LATENCY_RATE_PER_S,
                "latency_seconds": LATENCY_SECONDS,
                "trigger_interval": self.job_cfg.trigger_interval,
                "load_average": _load_average(),
            },
        )

    def baseline(self, ticks: int) -> float:
        """The machine's limit: a plain consumer COPYing the bench ticks into a table like the job's."""
        consumer = Consumer(kafka_consumer_config(self.job.env, "engines-baseline"))
        with closing(self.connect()) as conn:
            with conn, conn.cursor() as cur:
                cur.execute(
                    f'DROP TABLE IF EXISTS "{self.table}_baseline"; '
                    f'CREATE TABLE "{self.table}_baseline" (LIKE "{self.table}" INCLUDING ALL)'
                )
            consumer.assign(self._partitions(consumer, offset_beginning=True))
            copied, started, page = 0, None, []
            deadline = time.monotonic() + READ_TIMEOUT_S
            while copied < ticks and time.monotonic() < deadline:
                for message in consumer.consume(1000, timeout=5):
                    if message.error():
                        continue
                    tick = copy_tick(message.value())
                    if tick and tick[0] == "engines-bench":
                        started = started or time.time()
                        page.append(tick)
                if len(page) >= COPY_PAGE or (page and copied + len(page) >= ticks):
                    _copy(conn, f"{self.table}_baseline", page)
                    copied += len(page)
                    page = []
            finished = time.time()
        consumer.close()
        if copied < ticks:
            raise TimeoutError(f"the baseline consumer read {copied} of {ticks} bench ticks in {READ_TIMEOUT_S} s")
        return round(copied / (finished - started), 1)

    def topic_ticks(self, symbols: set[str]) -> list[ledger.Tick]:
        """Every tick of these symbols the topic holds: the ticks the broker acknowledged, and any copy the producer
        wrote twice."""
        consumer = Consumer(kafka_consumer_config(self.job.env, "engines-ledger"))
        partitions = self._partitions(consumer, offset_beginning=True)
        ends = {p.partition: consumer.get_watermark_offsets(p, timeout=10)[1] for p in partitions}
        consumer.assign(partitions)
        ticks, done = [], {p for p, end in ends.items() if end == 0}
        deadline = time.monotonic() + READ_TIMEOUT_S
        while len(done) < len(ends):
            if time.monotonic() > deadline:
                raise TimeoutError(f"the topic's partitions {sorted(set(ends) - done)} not read to their end")
            for message in consumer.consume(1000, timeout=5):
                if message.error():
                    continue
                tick = ledger.tick_from_message(message.value())
                if tick and tick.symbol in symbols:
                    ticks.append(tick)
                if message.offset() + 1 >= ends[message.partition()]:
                    done.add(message.partition())
        consumer.close()
        return ticks

    def _partitions(self, consumer: Consumer, offset_beginning: bool) -> list[TopicPartition]:
        metadata = consumer.list_topics(self.job_cfg.topic, timeout=10).topics[self.job_cfg.topic]
        offset = -2 if offset_beginning else -1  # OFFSET_BEGINNING / OFFSET_END
        return [TopicPartition(self.job_cfg.topic, p, offset) for p in sorted(metadata.partitions)]


def spark_progress(log: str) -> list[tuple[int, int, int]]:
    """(batchId, numInputRows, triggerExecution ms) of each StreamingQueryProgress the driver logged
    (MicroBatchExecution logs "Streaming query made progress: {json}" after every batch)."""
    progress = []
    for block in log.split("Streaming query made progress:")[1:]:
        fields = [re.search(rf'"{name}" : (\d+)', block) for name in ("batchId", "numInputRows", "triggerExecution")]
        if all(fields):
            progress.append(tuple(int(f[1]) for f in fields))
    return progress


def copy_tick(value: bytes) -> tuple | None:
    """(symbol, event_time, the message) of a bench message, for the baseline's COPY."""
    try:
        message = json.loads(value)
        return (message["symbol"], datetime.fromisoformat(message["event_time"].replace("Z", "+00:00")), message)
    except (ValueError, KeyError, TypeError, AttributeError):
        return None


def _copy(conn, table: str, ticks: list) -> None:
    buffer = io.StringIO()
    for symbol, event_time, message in ticks:
        buffer.write(
            "\t".join(
                [
                    symbol,
                    event_time.isoformat(),
                    str(message["price"]),
                    message["currency"],
                    message["source"],
                    message["ingest_time"],
                ]
            )
            + "\n"
        )
    buffer.seek(0)
    with conn, conn.cursor() as cur:
        cur.copy_expert(f'COPY "{table}" (symbol, event_time, price, currency, source, ingest_time) FROM STDIN', buffer)


def _seconds(interval: str) -> float:
    amount, unit = interval.split()
    return float(amount) * {"millisecond": 0.001, "second": 1, "minute": 60, "hour": 3600}[unit.rstrip("s")]


def _load_average() -> list[float]:
    with open("/proc/loadavg") as loadavg:
        return [float(x) for x in loadavg.read().split()[:3]]
