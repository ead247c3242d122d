"""Spark entrypoint helpers (pyspark is not needed and not imported)."""

import logging
import subprocess
import sys
import threading

import psycopg2
import pytest

import stream_ticks as st
import tick_sink as ts
from conftest import PIPELINE

KAFKA_CA_PEM = "-----BEGIN CERTIFICATE-----\nTUlJ\n-----END CERTIFICATE-----"
ENV = {
    "KAFKA_BOOTSTRAP_SERVERS": "kafka-0:9092,kafka-1:9092",
    "KAFKA_TOPIC": "crypto.ticks",
    "KAFKA_SASL_USERNAME": "spark",
    "KAFKA_SASL_PASSWORD": "pw",
    "KAFKA_SSL_CA_PEM": KAFKA_CA_PEM,
    "CHECKPOINT_DIR": "/checkpoints/crypto-ticks",
    "POSTGRES_HOST": "postgres",
    "POSTGRES_DB": "market",
    "POSTGRES_USER": "writer",
    "POSTGRES_PASSWORD": "pg-pw",
    "POSTGRES_SSLROOTCERT": "/etc/postgresql-ca/ca.crt",
}


def test_defaults():
    cfg = st.load_job_config(ENV)
    assert (cfg.security_protocol, cfg.sasl_mechanism) == ("SASL_SSL", "SCRAM-SHA-512")
    assert (cfg.kafka_ssl_ca_pem, cfg.group_id_prefix) == (KAFKA_CA_PEM, st.GROUP_ID_PREFIX)
    assert (cfg.trigger_interval, cfg.starting_offsets) == ("30 seconds", "earliest")
    assert (cfg.pg_port, cfg.table) == (5432, "crypto_ticks")


@pytest.mark.parametrize(
    "name",
    [
        "KAFKA_BOOTSTRAP_SERVERS", "KAFKA_TOPIC", "KAFKA_SASL_USERNAME", "KAFKA_SASL_PASSWORD", "KAFKA_SSL_CA_PEM",
        "CHECKPOINT_DIR",
        "POSTGRES_HOST", "POSTGRES_DB", "POSTGRES_USER", "POSTGRES_PASSWORD",
    ],
)
def test_missing_required_variable_is_named(name):
    env = {k: v for k, v in ENV.items() if k != name}
    with pytest.raises(st.ConfigError, match=f"^{name} is required"):
        st.load_job_config(env)


@pytest.mark.parametrize(
    "name, value",
    [
        ("KAFKA_SECURITY_PROTOCOL", "SASL"),
        ("KAFKA_SASL_MECHANISM", "OAUTHBEARER"),
        ("KAFKA_SSL_CA_PEM", "/etc/kafka-ca/ca.crt"),
        ("KAFKA_GROUP_ID_PREFIX", "crypto ticks"),
        ("CHECKPOINT_DIR", "checkpoints"),
        ("TRIGGER_INTERVAL", "30s"),
        ("STARTING_OFFSETS", "beginning"),
        ("POSTGRES_PORT", "postgres"),
        ("POSTGRES_PORT", "70000"),
        ("TICKS_TABLE", "ticks; DROP TABLE x"),
        ("TICKS_TABLE", "Crypto_Ticks"),
        ("SINK_WRITE_LOG_TABLE", "writes; DROP TABLE x"),
        ("SINK_WRITE_LOG_TABLE", "crypto_ticks"),
    ],
)
def test_invalid_variable_is_named(name, value):
    with pytest.raises(st.ConfigError, match=f"^{name}="):
        st.load_job_config({**ENV, name: value})


@pytest.mark.parametrize(
    "name, value",
    [
        ("TRIGGER_INTERVAL", "1 minute"),
        ("STARTING_OFFSETS", '{"crypto.ticks":{"0":42}}'),
        ("CHECKPOINT_DIR", "gs://b/c"),
    ],
)
def test_accepted_variants(name, value):
    assert value in st.load_job_config({**ENV, name: value}).__dict__.values()


def test_kafka_options_with_scram_over_tls():
    options = st.kafka_read_options(st.load_job_config(ENV))
    assert options == {
        "kafka.bootstrap.servers": "kafka-0:9092,kafka-1:9092",
        "kafka.security.protocol": "SASL_SSL",
        # Inline, so the options carry the CA to the executors: no file on the Spark workers.
        "kafka.ssl.truststore.type": "PEM",
        "kafka.ssl.truststore.certificates": KAFKA_CA_PEM,
        "kafka.ssl.endpoint.identification.algorithm": "https",
        "kafka.sasl.mechanism": "SCRAM-SHA-512",
        "kafka.sasl.jaas.config": (
            'org.apache.kafka.common.security.scram.ScramLoginModule required username="spark" password="pw";'
        ),
        "subscribe": "crypto.ticks",
        "startingOffsets": "earliest",
        "maxOffsetsPerTrigger": str(st.MAX_OFFSETS_PER_TRIGGER),
        "groupIdPrefix": st.GROUP_ID_PREFIX,
        "failOnDataLoss": "false",
    }


def test_jaas_escapes_quotes_and_backslashes():
    jaas = st.jaas_config("SCRAM-SHA-256", 'us"er', 'p\\a"ss;word')
    assert jaas == (
        'org.apache.kafka.common.security.scram.ScramLoginModule required '
        'username="us\\"er" password="p\\\\a\\"ss;word";'
    )


def test_plaintext_has_no_sasl_options():
    env = {k: v for k, v in ENV.items() if not k.startswith("KAFKA_SASL") and k != "KAFKA_SSL_CA_PEM"}
    options = st.kafka_read_options(st.load_job_config({**env, "KAFKA_SECURITY_PROTOCOL": "PLAINTEXT"}))
    assert not [k for k in options if "sasl" in k or "ssl" in k]


def test_group_id_prefix_is_the_one_the_acl_grants():
    # The platform sets KAFKA_GROUP_ID_PREFIX to the prefix its consumer-group ACL names; Spark's
    # default, spark-kafka-source-*, would be refused by the authorizer.
    options = st.kafka_read_options(st.load_job_config({**ENV, "KAFKA_GROUP_ID_PREFIX": "ticks-reader"}))
    assert options["groupIdPrefix"] == "ticks-reader"
    assert "kafka.group.id" not in options


def test_module_imports_without_pyspark():
    code = "import sys; sys.modules['pyspark'] = None; import stream_ticks"
    result = subprocess.run([sys.executable, "-c", code], cwd=PIPELINE / "spark", capture_output=True, text=True)
    assert result.returncode == 0, result.stderr


def test_ddl_path_is_the_shipped_schema():
    assert st.DDL_PATH == ts.DDL_PATH and st.DDL_PATH.is_file()


class FakeRow:
    def __init__(self, **fields):
        self.fields = fields

    def asDict(self):
        return dict(self.fields)


class FakeBatch:
    def __init__(self, rows):
        self.rows = rows

    def collect(self):
        return self.rows


def test_batch_writer_upserts_into_postgres(pg_dsn, pg_conn, ticks_table, caplog):
    ts.apply_ddl(pg_conn, ticks_table)
    # The session's server has no TLS; test_pg_hba.py runs the writer over verify-full against one that has.
    cfg = st.load_job_config({**ENV, "TICKS_TABLE": ticks_table, "POSTGRES_SSLMODE": "disable"})
    dsn = psycopg2.extensions.parse_dsn(pg_dsn)

    def connect(**kwargs):
        # The job's connection settings, pointed at the test database.
        assert kwargs["application_name"] == st.APP_NAME and kwargs["connect_timeout"] > 0
        return psycopg2.connect(**{**kwargs, **dsn, "password": None})

    good = dict(symbol="bitcoin", price=5.0, currency="usd", source="coingecko",
                event_time="2025-03-01T12:00:00Z", ingest_time="2025-03-01T12:00:01Z")
    batch = FakeBatch([FakeRow(**good), FakeRow(**dict.fromkeys(good)), FakeRow(**good)])
    write = st.make_batch_writer(cfg, connect)
    with caplog.at_level(logging.INFO, logger="stream_ticks"):
        write(batch, 7)
        write(batch, 7)  # Spark replays the batch after a restart
    assert "batch 7: received=3 malformed=1 duplicates=1 written=1" in caplog.text
    assert "batch 7: received=3 malformed=1 duplicates=1 written=0" in caplog.text
    with pg_conn.cursor() as cur:
        cur.execute(f'SELECT symbol, price FROM "{ticks_table}"')
        assert cur.fetchall() == [("bitcoin", 5)]


def test_the_write_log_is_off_unless_a_test_names_its_table(pg_dsn, pg_conn, ticks_table):
    assert st.load_job_config(ENV).write_log_table == ""
    log_table = f"{ticks_table}_writes"
    cfg = st.load_job_config(
        {**ENV, "TICKS_TABLE": ticks_table, "SINK_WRITE_LOG_TABLE": log_table, "POSTGRES_SSLMODE": "disable"}
    )
    ts.apply_ddl(pg_conn, ticks_table, st.DDL_PATH, cfg.write_log_table)
    dsn = psycopg2.extensions.parse_dsn(pg_dsn)
    tick = dict(
        symbol="bitcoin",
        price=5.0,
        currency="usd",
        source="coingecko",
        event_time="2025-03-01T12:00:00Z",
        ingest_time="2025-03-01T12:00:01Z",
        tick_id="0b6f3c2e-8d4a-4e1f-9c57-2a1d6e0f4b93",
    )
    write = st.make_batch_writer(cfg, lambda **kwargs: psycopg2.connect(**{**kwargs, **dsn, "password": None}))
    try:
        write(FakeBatch([FakeRow(**tick)]), 1)
        write(FakeBatch([FakeRow(**tick)]), 1)  # the replay writes nothing, so it logs nothing
        with pg_conn.cursor() as cur:
            cur.execute(f'SELECT tick_id::text, symbol FROM "{log_table}"')
            assert cur.fetchall() == [(tick["tick_id"], "bitcoin")]
    finally:
        with pg_conn, pg_conn.cursor() as cur:
            cur.execute(f'DROP TABLE IF EXISTS "{log_table}"')


def test_a_hold_file_keeps_a_written_batch_from_completing(tmp_path, monkeypatch):
    """Only the fault tests set SINK_HOLD_FILE: the batch's rows are written and logged, then it waits."""
    hold = tmp_path / "hold"
    hold.touch()
    cfg = st.load_job_config({**ENV, "SINK_HOLD_FILE": str(hold)})
    assert st.load_job_config(ENV).hold_file == ""
    monkeypatch.setattr(st.tick_sink, "write_batch", lambda conn, table, rows, log: ts.BatchResult(0, 0, 0, 0))

    class Conn:
        def close(self):
            pass

    done = threading.Event()
    write = st.make_batch_writer(cfg, lambda **_: Conn())
    writer = threading.Thread(target=lambda: (write(FakeBatch([]), 1), done.set()))
    writer.start()
    assert not done.wait(0.5), "the batch completed while the hold file exists"
    hold.unlink()
    assert done.wait(5), "the batch did not complete once the hold file was gone"
    writer.join()


def test_postgres_tls_defaults_to_verify_full_with_the_ca():
    kwargs = st.pg_connect_kwargs(st.load_job_config(ENV))
    assert (kwargs["sslmode"], kwargs["sslrootcert"]) == ("verify-full", "/etc/postgresql-ca/ca.crt")


@pytest.mark.parametrize("sslmode", ["verify-full", "verify-ca"])
def test_verifying_the_server_requires_the_ca(sslmode):
    env = {k: v for k, v in ENV.items() if k != "POSTGRES_SSLROOTCERT"}
    with pytest.raises(st.ConfigError, match="^POSTGRES_SSLROOTCERT is required"):
        st.load_job_config({**env, "POSTGRES_SSLMODE": sslmode})


def test_an_unknown_sslmode_is_named():
    with pytest.raises(st.ConfigError, match="^POSTGRES_SSLMODE="):
        st.load_job_config({**ENV, "POSTGRES_SSLMODE": "on"})


def test_a_local_run_may_turn_tls_off_explicitly():
    env = {k: v for k, v in ENV.items() if k != "POSTGRES_SSLROOTCERT"}
    kwargs = st.pg_connect_kwargs(st.load_job_config({**env, "POSTGRES_SSLMODE": "disable"}))
    assert kwargs["sslmode"] == "disable" and "sslrootcert" not in kwargs
