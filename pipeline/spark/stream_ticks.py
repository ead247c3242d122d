"""Spark Structured Streaming job: Kafka ticks -> PostgreSQL (started by run-job.sh).

Thin wiring only. Configuration helpers are plain functions (tested without
pyspark); pyspark is imported inside main(). Validation, de-duplication and the
idempotent upsert live in tick_sink.py.

Why each micro-batch is collected to the driver instead of foreachPartition:
a batch is tiny (symbols x polls per trigger, capped by MAX_OFFSETS_PER_TRIGGER
when a backlog is replayed), so one driver-side connection and one transaction
per batch is simplest and atomic, and psycopg2 is needed only in the driver
image, not on the Spark workers. The executors only read Kafka and parse JSON.
"""

from __future__ import annotations

import logging
import os
import re
import time
from contextlib import closing
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Callable, Mapping

import job_metrics
import tick_sink

log = logging.getLogger("stream_ticks")

APP_NAME = "crypto-ticks-stream"
# Kafka ACLs grant the consumer-group Read on this prefix (KAFKA_GROUP_ID_PREFIX, set by the platform
# from the same value as the ACL); without it Spark would use spark-kafka-source-*.
GROUP_ID_PREFIX = "crypto-ticks-stream"
GROUP_ID_PREFIX_RE = re.compile(r"^[A-Za-z0-9._-]{1,200}$")
PEM_CERTIFICATE = re.compile(r"-----BEGIN CERTIFICATE-----.+?-----END CERTIFICATE-----", re.DOTALL)
# Bounds the first batch after startingOffsets=earliest or a long outage, which
# keeps collect() to the driver small; later batches are minutes of ticks.
MAX_OFFSETS_PER_TRIGGER = 50_000
# How often main() refreshes the consumer lag from the query's last progress.
PROGRESS_POLL_S = 15
SECURITY_PROTOCOLS = ("PLAINTEXT", "SSL", "SASL_PLAINTEXT", "SASL_SSL")
LOGIN_MODULES = {
    "SCRAM-SHA-512": "org.apache.kafka.common.security.scram.ScramLoginModule",
    "SCRAM-SHA-256": "org.apache.kafka.common.security.scram.ScramLoginModule",
    "PLAIN": "org.apache.kafka.common.security.plain.PlainLoginModule",
}
TRIGGER_RE = re.compile(r"^\d+ (milliseconds?|seconds?|minutes?|hours?)$")
TABLE_RE = re.compile(r"^[a-z_][a-z0-9_]{0,62}$")
# Shipped next to this file; passed explicitly because --py-files may import
# tick_sink from a copy in Spark's file directory, where schema.sql is absent.
DDL_PATH = Path(__file__).with_name("schema.sql")
PG_CONNECT_TIMEOUT_S = 10
HOLD_POLL_S = 0.1
# libpq sslmode values. The platform sets verify-full (components/data/postgresqlTls.ts): TLS, the server's
# chain checked against POSTGRES_SSLROOTCERT and its name against POSTGRES_HOST. Unset means verify-full too,
# so a missing setting never falls back to plaintext; disable and the like are for local runs only.
PG_SSLMODES = ("disable", "allow", "prefer", "require", "verify-ca", "verify-full")
PG_VERIFYING_SSLMODES = ("verify-ca", "verify-full")


class ConfigError(ValueError):
    """An environment variable is missing or invalid; the message names it."""


@dataclass(frozen=True)
class JobConfig:
    bootstrap_servers: str
    topic: str
    security_protocol: str
    sasl_mechanism: str
    sasl_username: str
    sasl_password: str
    checkpoint_dir: str
    trigger_interval: str
    starting_offsets: str
    pg_host: str
    pg_port: int
    pg_db: str
    pg_user: str
    pg_password: str
    table: str
    pg_sslmode: str = "verify-full"
    # PEM of the CA that signs the Kafka brokers' certificate (KAFKA_SSL_CA_PEM); empty without TLS.
    kafka_ssl_ca_pem: str = ""
    group_id_prefix: str = GROUP_ID_PREFIX
    pg_sslrootcert: str = ""
    # For fault tests only (SINK_HOLD_FILE, never set by the platform): while this file exists, a batch whose rows
    # are committed to PostgreSQL is held before Spark records it as done, so a kill lands in that window.
    hold_file: str = ""
    # For fault tests only too (SINK_WRITE_LOG_TABLE, never set by the platform): the table tick_sink appends every
    # write to, with the tick's id. Nothing trims it, so a long-running platform must not have it.
    write_log_table: str = ""


def _get(environ: Mapping[str, str], name: str, default: str = "") -> str:
    return environ.get(name, "").strip() or default


def _require(environ: Mapping[str, str], name: str) -> str:
    value = _get(environ, name)
    if not value:
        raise ConfigError(f"{name} is required")
    return value


def _checked(name: str, value: str, ok: bool, expectation: str) -> str:
    if not ok:
        raise ConfigError(f"{name}={value!r} {expectation}")
    return value


def load_job_config(environ: Mapping[str, str]) -> JobConfig:
    """Read and validate every job setting, failing on the first bad one."""
    protocol = _get(environ, "KAFKA_SECURITY_PROTOCOL", "SASL_SSL")
    _checked("KAFKA_SECURITY_PROTOCOL", protocol, protocol in SECURITY_PROTOCOLS, f"is not one of {SECURITY_PROTOCOLS}")
    mechanism = _get(environ, "KAFKA_SASL_MECHANISM", "SCRAM-SHA-512")
    _checked("KAFKA_SASL_MECHANISM", mechanism, mechanism in LOGIN_MODULES, f"is not one of {tuple(LOGIN_MODULES)}")
    uses_sasl = protocol.startswith("SASL_")
    # The brokers' CA is in no system store: required with TLS.
    kafka_ca = _require(environ, "KAFKA_SSL_CA_PEM") if protocol.endswith("SSL") else ""
    ca_ok = not kafka_ca or bool(PEM_CERTIFICATE.search(kafka_ca))
    _checked("KAFKA_SSL_CA_PEM", "(not shown)", ca_ok, "must hold a PEM certificate")
    group_prefix = _get(environ, "KAFKA_GROUP_ID_PREFIX", GROUP_ID_PREFIX)
    prefix_ok = bool(GROUP_ID_PREFIX_RE.match(group_prefix))
    _checked("KAFKA_GROUP_ID_PREFIX", group_prefix, prefix_ok, "must be letters, digits, '.', '_' or '-'")
    checkpoint = _require(environ, "CHECKPOINT_DIR")
    # A relative path would silently checkpoint into the container's working dir.
    _checked("CHECKPOINT_DIR", checkpoint, checkpoint.startswith("/") or "://" in checkpoint, "must be absolute")
    trigger = _get(environ, "TRIGGER_INTERVAL", "30 seconds")
    _checked("TRIGGER_INTERVAL", trigger, bool(TRIGGER_RE.match(trigger)), "must look like '30 seconds'")
    offsets = _get(environ, "STARTING_OFFSETS", "earliest")
    ok_offsets = offsets in ("earliest", "latest") or offsets.startswith("{")
    _checked("STARTING_OFFSETS", offsets, ok_offsets, "must be earliest, latest or a JSON offsets object")
    port = _get(environ, "POSTGRES_PORT", "5432")
    _checked("POSTGRES_PORT", port, port.isdigit() and 0 < int(port) < 65536, "must be a TCP port")
    table = _get(environ, "TICKS_TABLE", "crypto_ticks")
    _checked("TICKS_TABLE", table, bool(TABLE_RE.match(table)), "must be a lower-case SQL identifier")
    write_log = _get(environ, "SINK_WRITE_LOG_TABLE")
    log_ok = not write_log or (bool(TABLE_RE.match(write_log)) and write_log != table)
    _checked("SINK_WRITE_LOG_TABLE", write_log, log_ok, "must be a lower-case SQL identifier other than TICKS_TABLE")
    sslmode = _get(environ, "POSTGRES_SSLMODE", "verify-full")
    _checked("POSTGRES_SSLMODE", sslmode, sslmode in PG_SSLMODES, f"must be one of {', '.join(PG_SSLMODES)}")
    # Verifying the server needs the CA: required then, instead of libpq's ~/.postgresql/root.crt default.
    sslrootcert = (
        _require(environ, "POSTGRES_SSLROOTCERT")
        if sslmode in PG_VERIFYING_SSLMODES
        else _get(environ, "POSTGRES_SSLROOTCERT")
    )
    return JobConfig(
        bootstrap_servers=_require(environ, "KAFKA_BOOTSTRAP_SERVERS"),
        topic=_require(environ, "KAFKA_TOPIC"),
        security_protocol=protocol,
        sasl_mechanism=mechanism,
        sasl_username=_require(environ, "KAFKA_SASL_USERNAME") if uses_sasl else "",
        sasl_password=_require(environ, "KAFKA_SASL_PASSWORD") if uses_sasl else "",
        kafka_ssl_ca_pem=kafka_ca,
        group_id_prefix=group_prefix,
        checkpoint_dir=checkpoint,
        trigger_interval=trigger,
        starting_offsets=offsets,
        pg_host=_require(environ, "POSTGRES_HOST"),
        pg_port=int(port),
        pg_db=_require(environ, "POSTGRES_DB"),
        pg_user=_require(environ, "POSTGRES_USER"),
        pg_password=_require(environ, "POSTGRES_PASSWORD"),
        table=table,
        pg_sslmode=sslmode,
        pg_sslrootcert=sslrootcert,
        hold_file=_get(environ, "SINK_HOLD_FILE"),
        write_log_table=write_log,
    )


def _jaas_quote(value: str) -> str:
    # JAAS option values are double-quoted strings with backslash escapes.
    return '"' + value.replace("\\", "\\\\").replace('"', '\\"') + '"'


def jaas_config(mechanism: str, username: str, password: str) -> str:
    return f"{LOGIN_MODULES[mechanism]} required username={_jaas_quote(username)} password={_jaas_quote(password)};"


def kafka_read_options(cfg: JobConfig) -> dict[str, str]:
    options = {
        "kafka.bootstrap.servers": cfg.bootstrap_servers,
        "kafka.security.protocol": cfg.security_protocol,
        "subscribe": cfg.topic,
        "startingOffsets": cfg.starting_offsets,
        "maxOffsetsPerTrigger": str(MAX_OFFSETS_PER_TRIGGER),
        "groupIdPrefix": cfg.group_id_prefix,
        # Ticks that expired from the topic before we read them are gone either
        # way; stopping the stream forever over them would help no one.
        "failOnDataLoss": "false",
    }
    if cfg.security_protocol.endswith("SSL"):
        # The CA inline (Kafka's SslConfigs ssl.truststore.certificates, PEM, clients >= 2.7): the options travel
        # with the plan to the executors on the Spark workers, so no file has to be mounted there.
        options["kafka.ssl.truststore.type"] = "PEM"
        options["kafka.ssl.truststore.certificates"] = cfg.kafka_ssl_ca_pem
        options["kafka.ssl.endpoint.identification.algorithm"] = "https"
    if cfg.security_protocol.startswith("SASL_"):
        options["kafka.sasl.mechanism"] = cfg.sasl_mechanism
        options["kafka.sasl.jaas.config"] = jaas_config(cfg.sasl_mechanism, cfg.sasl_username, cfg.sasl_password)
    return options


def pg_connect_kwargs(cfg: JobConfig) -> dict[str, Any]:
    """psycopg2.connect keywords: explicit sslmode/sslrootcert, so PGSSL* in the environment cannot weaken them."""
    tls = {"sslmode": cfg.pg_sslmode, **({"sslrootcert": cfg.pg_sslrootcert} if cfg.pg_sslrootcert else {})}
    return {
        "host": cfg.pg_host,
        "port": cfg.pg_port,
        "dbname": cfg.pg_db,
        "user": cfg.pg_user,
        "password": cfg.pg_password,
        "connect_timeout": PG_CONNECT_TIMEOUT_S,
        "application_name": APP_NAME,
        **tls,
    }


def make_batch_writer(
    cfg: JobConfig,
    connect: Callable[..., Any],
    metrics: job_metrics.JobMetrics = job_metrics.METRICS,
    clock: Callable[[], float] = time.time,
) -> Callable[[Any, int], None]:
    """foreachBatch callback. An exception fails the query; after the restart
    Spark re-runs the batch from the checkpoint and the upsert absorbs it.
    Each committed batch is also counted in `metrics` (job_metrics.py)."""

    def write(batch_df: Any, batch_id: int) -> None:
        started = clock()
        rows = [row.asDict() for row in batch_df.collect()]
        # A connection per batch (every TRIGGER_INTERVAL) survives database restarts.
        with closing(connect(**pg_connect_kwargs(cfg))) as conn:
            result = tick_sink.write_batch(conn, cfg.table, rows, cfg.write_log_table)
        log.info(
            "batch %d: received=%d malformed=%d duplicates=%d written=%d",
            batch_id,
            result.received,
            result.malformed,
            result.duplicates,
            result.written,
        )
        finished = clock()
        # Every valid tick of a committed batch is in the table afterwards (inserted, updated or already newer).
        valid, _ = tick_sink.split_valid(rows)
        metrics.record_batch(
            received=result.received,
            malformed=result.malformed,
            duplicates=result.duplicates,
            written=result.written,
            duration_seconds=finished - started,
            finished_at=finished,
            newest_event_times=job_metrics.newest_event_times(valid),
        )
        while cfg.hold_file and os.path.exists(cfg.hold_file):
            time.sleep(HOLD_POLL_S)

    return write


def spark_schema() -> Any:
    from pyspark.sql.types import DoubleType, StringType, StructField, StructType

    types = {"string": StringType(), "double": DoubleType()}
    return StructType([StructField(name, types[kind], nullable=True) for name, kind in tick_sink.MESSAGE_FIELDS])


def await_with_lag(query: Any, metrics: job_metrics.JobMetrics, poll_s: float = PROGRESS_POLL_S) -> None:
    """Waits for the query to end (raising its failure), refreshing the consumer lag from its last progress."""
    while not query.awaitTermination(poll_s):
        lag = job_metrics.consumer_lag(job_metrics.progress_dict(query.lastProgress))
        if lag:
            metrics.set_consumer_lag(lag)


def main() -> None:
    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(levelname)s %(name)s: %(message)s")
    cfg = load_job_config(os.environ)
    port = job_metrics.metrics_port(os.environ)
    if port:
        job_metrics.serve(job_metrics.METRICS, port)

    import psycopg2
    from pyspark.sql import SparkSession
    from pyspark.sql.functions import col, from_json

    with closing(psycopg2.connect(**pg_connect_kwargs(cfg))) as conn:
        tick_sink.apply_ddl(conn, cfg.table, DDL_PATH, cfg.write_log_table)

    spark = SparkSession.builder.appName(APP_NAME).getOrCreate()
    ticks = (
        spark.readStream.format("kafka")
        .options(**kafka_read_options(cfg))
        .load()
        # Unparseable JSON yields all-null fields; tick_sink drops and counts those.
        .select(from_json(col("value").cast("string"), spark_schema()).alias("tick"))
        .select("tick.*")
    )
    query = (
        ticks.writeStream.foreachBatch(make_batch_writer(cfg, psycopg2.connect))
        .option("checkpointLocation", cfg.checkpoint_dir)
        .trigger(processingTime=cfg.trigger_interval)
        .queryName(APP_NAME)
        .start()
    )
    # The pod's readiness (job_metrics /ready): a driver whose query is not running is not serving.
    job_metrics.METRICS.set_readiness(lambda: query.isActive)
    await_with_lag(query, job_metrics.METRICS)


if __name__ == "__main__":
    main()
