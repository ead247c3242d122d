"""Producer side: config, HTTP retries, payload parsing, messages, Kafka publish."""

import ast
import json
import math
import shutil
import subprocess
import sys
import urllib.parse
import urllib.request
from datetime import datetime, timedelta, timezone
from email.utils import format_datetime

import pytest

import crypto_ticks as ct
import pg_local
from conftest import PIPELINE

NOW = datetime(2025, 3, 1, 12, 0, 30, 250000, tzinfo=timezone.utc)
STAMP = int(datetime(2025, 3, 1, 12, 0, 0, tzinfo=timezone.utc).timestamp())

# Shape only: load_config checks that a certificate is there, librdkafka parses it (the real-client test).
FAKE_CA_PEM = "-----BEGIN CERTIFICATE-----\nTUlJ\n-----END CERTIFICATE-----\n"
BASE_ENV = {
    "KAFKA_BOOTSTRAP_SERVERS": "kafka:9092",
    "KAFKA_TOPIC": "crypto.ticks",
    "KAFKA_SASL_USERNAME": "producer",
    "KAFKA_SASL_PASSWORD": "s3cret",
    "KAFKA_SSL_CA_PEM": FAKE_CA_PEM,
    "CRYPTO_SYMBOLS": "bitcoin,ethereum",
}


def config(**overrides):
    return ct.load_config({**BASE_ENV, **overrides})


class FakeProducer:
    """Records produce() calls; flush() fires delivery callbacks like librdkafka."""

    def __init__(self, fail_symbols=(), undelivered=0):
        self.fail_symbols = set(fail_symbols)
        self.undelivered = undelivered
        self.produced = []
        self.pending = []
        self.flushes = 0

    def produce(self, topic, key, value, on_delivery):
        self.produced.append((topic, key, value))
        self.pending.append((key, on_delivery))

    def poll(self, timeout):
        return 0

    def flush(self, timeout):
        self.flushes += 1
        for key, callback in self.pending:
            callback("broker down" if key.decode() in self.fail_symbols else None, None)
        self.pending.clear()
        return self.undelivered


# --- configuration ----------------------------------------------------------


def test_config_defaults():
    cfg = config()
    assert cfg.security_protocol == "SASL_SSL"
    assert cfg.sasl_mechanism == "SCRAM-SHA-512"
    assert cfg.ssl_ca_pem == FAKE_CA_PEM.strip()
    assert cfg.source == "coingecko"
    assert cfg.vs_currency == "usd"
    assert cfg.api_url == ct.DEFAULT_URLS["coingecko"]
    assert cfg.symbols == ("bitcoin", "ethereum")


def test_config_binance_defaults_to_usdt_and_dedupes_symbols():
    cfg = config(CRYPTO_SOURCE="binance", CRYPTO_SYMBOLS=" BTCUSDT, ETHUSDT ,BTCUSDT")
    assert (cfg.vs_currency, cfg.symbols, cfg.api_url) == ("usdt", ("BTCUSDT", "ETHUSDT"), ct.DEFAULT_URLS["binance"])


def test_plaintext_needs_no_credentials():
    env = {k: v for k, v in BASE_ENV.items() if not k.startswith("KAFKA_SASL")}
    cfg = ct.load_config({**env, "KAFKA_SECURITY_PROTOCOL": "PLAINTEXT"})
    assert "sasl.username" not in ct.producer_config(cfg)
    assert not any(key.startswith("ssl.") for key in ct.producer_config(cfg))


@pytest.mark.parametrize(
    "name",
    [
        "KAFKA_BOOTSTRAP_SERVERS", "KAFKA_TOPIC", "KAFKA_SASL_USERNAME", "KAFKA_SASL_PASSWORD", "KAFKA_SSL_CA_PEM",
        "CRYPTO_SYMBOLS",
    ],
)
def test_missing_required_variable_is_named(name):
    with pytest.raises(ct.ConfigError, match=f"^{name} is required"):
        ct.load_config({**BASE_ENV, name: "  "})


@pytest.mark.parametrize(
    "name, value",
    [
        ("KAFKA_SECURITY_PROTOCOL", "SASL_PLAIN"),
        ("KAFKA_SASL_MECHANISM", "GSSAPI"),
        ("KAFKA_SSL_CA_PEM", "/etc/ssl/kafka-ca.crt"),
        ("CRYPTO_SOURCE", "kraken"),
        ("CRYPTO_SYMBOLS", "bitcoin,Ether eum"),
        ("CRYPTO_SYMBOLS", " , "),
        ("CRYPTO_VS_CURRENCY", "us dollar"),
        ("CRYPTO_API_URL", "ftp://example.org/price"),
    ],
)
def test_invalid_variable_is_named(name, value):
    with pytest.raises(ct.ConfigError, match=name):
        config(**{name: value})


def test_binance_symbols_must_be_quoted_in_the_currency():
    with pytest.raises(ct.ConfigError, match="CRYPTO_VS_CURRENCY='usd'"):
        config(CRYPTO_SOURCE="binance", CRYPTO_SYMBOLS="BTCUSDT", CRYPTO_VS_CURRENCY="usd")


@pytest.mark.parametrize(
    "value, expected", [(None, "*/1 * * * *"), ("*/5 * * * *", "*/5 * * * *"), ("@hourly", "@hourly")]
)
def test_poll_schedule(value, expected):
    assert ct.poll_schedule({} if value is None else {"CRYPTO_POLL_SCHEDULE": value}) == expected


def test_bad_poll_schedule_is_named():
    with pytest.raises(ct.ConfigError, match="CRYPTO_POLL_SCHEDULE"):
        ct.poll_schedule({"CRYPTO_POLL_SCHEDULE": "every minute"})


def test_request_urls():
    query = urllib.parse.parse_qs(urllib.parse.urlsplit(ct.request_url(config())).query)
    assert query == {"ids": ["bitcoin,ethereum"], "vs_currencies": ["usd"], "include_last_updated_at": ["true"]}
    binance = config(CRYPTO_SOURCE="binance", CRYPTO_SYMBOLS="BTCUSDT,ETHUSDT")
    url = urllib.parse.urlsplit(ct.request_url(binance))
    assert url.path == "/api/v3/ticker/price"
    assert json.loads(urllib.parse.parse_qs(url.query)["symbols"][0]) == ["BTCUSDT", "ETHUSDT"]


# --- HTTP fetch with retries ------------------------------------------------


def fetch(server, sleeps, **kwargs):
    return ct.fetch_json(server.base_url + "/price", sleep=sleeps.append, **kwargs)


def test_retries_5xx_then_honours_retry_after_on_429(http_server):
    http_server.add(500)
    http_server.add(429, headers={"Retry-After": "3"})
    http_server.add(200, {"ok": True})
    sleeps = []
    assert fetch(http_server, sleeps) == {"ok": True}
    assert sleeps == [1.0, 3.0]  # backoff, then the server's 3 s (backoff would be 2 s)
    assert len(http_server.paths) == 3


def test_gives_up_after_max_attempts_with_exponential_backoff(http_server):
    for _ in range(ct.MAX_ATTEMPTS):
        http_server.add(503)
    sleeps = []
    with pytest.raises(ct.FetchError, match=f"after {ct.MAX_ATTEMPTS} attempts"):
        fetch(http_server, sleeps)
    assert sleeps == [1.0, 2.0, 4.0]
    assert len(http_server.paths) == ct.MAX_ATTEMPTS


@pytest.mark.parametrize("status", [400, 401, 403, 404])
def test_client_errors_are_not_retried(http_server, status):
    http_server.add(status, {"code": -1121, "msg": "Invalid symbol."})
    sleeps = []
    with pytest.raises(ct.FetchError, match=f"HTTP {status}"):
        fetch(http_server, sleeps)
    assert (sleeps, len(http_server.paths)) == ([], 1)


def test_retry_after_beyond_budget_gives_up_without_waiting(http_server):
    http_server.add(429, headers={"Retry-After": "120"})
    sleeps = []
    with pytest.raises(ct.FetchError, match="wait 120s"):
        fetch(http_server, sleeps)
    assert (sleeps, len(http_server.paths)) == ([], 1)


def test_retry_after_http_date(http_server):
    when = datetime.now(timezone.utc) + timedelta(seconds=6)
    http_server.add(429, headers={"Retry-After": format_datetime(when, usegmt=True)})
    http_server.add(200, [])
    sleeps = []
    assert fetch(http_server, sleeps) == []
    # HTTP-dates have whole seconds: 5-6 s left, where backoff would say 1 s.
    assert len(sleeps) == 1 and 4 < sleeps[0] <= 6


def test_429_without_retry_after_uses_backoff(http_server):
    http_server.add(429)
    http_server.add(200, {})
    sleeps = []
    fetch(http_server, sleeps)
    assert sleeps == [1.0]


def test_connection_refused_is_retried():
    port = pg_local.free_port()  # bound then released: nobody listens there
    sleeps = []
    with pytest.raises(ct.FetchError, match="Connection refused"):
        ct.fetch_json(f"http://127.0.0.1:{port}/", sleep=sleeps.append)
    assert sleeps == [1.0, 2.0, 4.0]


def test_timeout_is_retried_through_injected_transport(http_server):
    http_server.add(200, {"bitcoin": {}})
    calls = []

    def flaky_urlopen(request, timeout):
        calls.append(timeout)
        if len(calls) == 1:
            raise TimeoutError("timed out")
        return urllib.request.urlopen(request, timeout=timeout)

    sleeps = []
    assert fetch(http_server, sleeps, urlopen=flaky_urlopen) == {"bitcoin": {}}
    assert calls == [ct.HTTP_TIMEOUT_S, ct.HTTP_TIMEOUT_S]
    assert sleeps == [1.0]


def test_non_json_body_fails_without_retry(http_server):
    http_server.add(200, b"<html>maintenance</html>")
    with pytest.raises(ct.PayloadError, match="not JSON"):
        fetch(http_server, [])
    assert len(http_server.paths) == 1


def test_oversized_body_is_rejected(http_server):
    http_server.add(200, b" " * (ct.MAX_BODY_BYTES + 1))
    with pytest.raises(ct.FetchError, match="exceeds"):
        fetch(http_server, [])


@pytest.mark.parametrize(
    "value, expected",
    [(None, None), ("", None), ("7", 7.0), ("soon", None), ("Wed, 21 Oct 2015 07:28:00", None)],
)
def test_retry_after_parsing(value, expected):
    assert ct.retry_after_seconds(value) == expected


def test_retry_after_date_relative_to_now():
    now = datetime(2025, 1, 1, tzinfo=timezone.utc)
    assert ct.retry_after_seconds("Wed, 01 Jan 2025 00:00:05 GMT", now) == 5.0
    assert ct.retry_after_seconds("Tue, 31 Dec 2024 23:59:00 GMT", now) == 0.0


def test_backoff_is_exponential_and_capped():
    assert [ct.backoff_delay(n) for n in range(1, 7)] == [1.0, 2.0, 4.0, 8.0, 8.0, 8.0]


# --- payload parsing ----------------------------------------------------------

GOOD_CG = {"usd": 61234.5, "last_updated_at": STAMP}


def test_parse_coingecko():
    quotes, skipped = ct.parse_coingecko(
        {"bitcoin": GOOD_CG, "ethereum": {"usd": 3000, "last_updated_at": STAMP - 60}}, config(), NOW
    )
    assert skipped == []
    assert quotes == [
        ct.Quote("bitcoin", 61234.5, "usd", "coingecko", datetime.fromtimestamp(STAMP, timezone.utc)),
        ct.Quote("ethereum", 3000.0, "usd", "coingecko", datetime.fromtimestamp(STAMP - 60, timezone.utc)),
    ]


@pytest.mark.parametrize(
    "entry, reason",
    [
        ({"usd": 0, "last_updated_at": STAMP}, "bad usd price 0"),
        ({"usd": -3.5, "last_updated_at": STAMP}, "bad usd price"),
        ({"usd": math.nan, "last_updated_at": STAMP}, "bad usd price nan"),
        ({"usd": math.inf, "last_updated_at": STAMP}, "bad usd price inf"),
        ({"usd": True, "last_updated_at": STAMP}, "bad usd price True"),
        ({"usd": "lots", "last_updated_at": STAMP}, "bad usd price"),
        ({"eur": 10.0, "last_updated_at": STAMP}, "bad usd price None"),
        ({"usd": 10.0}, "bad last_updated_at None"),
        ({"usd": 10.0, "last_updated_at": 0}, "bad last_updated_at 0"),
        ({"usd": 10.0, "last_updated_at": "yesterday"}, "bad last_updated_at"),
        ({"usd": 10.0, "last_updated_at": STAMP + 3600}, "in the future"),
        ([10.0], "missing from response"),
    ],
)
def test_coingecko_bad_record_is_skipped_not_fatal(entry, reason, caplog):
    quotes, skipped = ct.parse_coingecko({"bitcoin": GOOD_CG, "ethereum": entry}, config(), NOW)
    assert [q.symbol for q in quotes] == ["bitcoin"]
    assert len(skipped) == 1 and skipped[0].startswith("ethereum: ") and reason in skipped[0]
    assert "skipping 'ethereum'" in caplog.text


def test_coingecko_missing_and_unrequested_symbols_are_skipped():
    quotes, skipped = ct.parse_coingecko({"bitcoin": GOOD_CG, "dogecoin": GOOD_CG}, config(), NOW)
    assert [q.symbol for q in quotes] == ["bitcoin"]
    assert skipped == ["dogecoin: not requested", "ethereum: missing from response"]


@pytest.mark.parametrize("payload", [[], "error", None])
def test_coingecko_payload_of_wrong_shape_is_an_error(payload):
    with pytest.raises(ct.PayloadError):
        ct.parse_coingecko(payload, config(), NOW)


def binance_config():
    return config(CRYPTO_SOURCE="binance", CRYPTO_SYMBOLS="BTCUSDT,ETHUSDT")


def test_parse_binance_uses_observation_time():
    quotes, skipped = ct.parse_binance(
        [{"symbol": "BTCUSDT", "price": "61234.50000000"}, {"symbol": "ETHUSDT", "price": "3000.1"}],
        binance_config(),
        NOW,
    )
    assert skipped == []
    assert quotes == [
        ct.Quote("BTCUSDT", 61234.5, "usdt", "binance", NOW),
        ct.Quote("ETHUSDT", 3000.1, "usdt", "binance", NOW),
    ]


@pytest.mark.parametrize(
    "entry, reason",
    [
        ({"symbol": "ETHUSDT", "price": "0.00000000"}, "bad price"),
        ({"symbol": "ETHUSDT", "price": "-1"}, "bad price"),
        ({"symbol": "ETHUSDT", "price": "NaN"}, "bad price 'NaN'"),
        ({"symbol": "ETHUSDT", "price": "inf"}, "bad price 'inf'"),
        ({"symbol": "ETHUSDT", "price": "n/a"}, "bad price"),
        ({"symbol": "ETHUSDT", "price": None}, "bad price None"),
        ({"symbol": "ETHUSDT"}, "bad price None"),
    ],
)
def test_binance_bad_record_is_skipped_not_fatal(entry, reason):
    quotes, skipped = ct.parse_binance([{"symbol": "BTCUSDT", "price": "1.5"}, entry], binance_config(), NOW)
    assert [q.symbol for q in quotes] == ["BTCUSDT"]
    assert len(skipped) == 1 and skipped[0].startswith("ETHUSDT: ") and reason in skipped[0]


def test_binance_unknown_duplicate_and_missing_symbols():
    payload = [
        {"symbol": "BTCUSDT", "price": "1.5"},
        {"symbol": "BTCUSDT", "price": "9.9"},
        {"symbol": "DOGEUSDT", "price": "0.1"},
        "garbage",
    ]
    quotes, skipped = ct.parse_binance(payload, binance_config(), NOW)
    assert quotes == [ct.Quote("BTCUSDT", 1.5, "usdt", "binance", NOW)]
    assert skipped == [
        "BTCUSDT: duplicate entry in response",
        "DOGEUSDT: not requested",
        "None: not requested",
        "ETHUSDT: missing from response",
    ]


def test_binance_payload_of_wrong_shape_is_an_error():
    with pytest.raises(ct.PayloadError):
        ct.parse_binance({"code": -1121}, binance_config(), NOW)


# --- messages ---------------------------------------------------------------


def test_messages_match_the_schema(tick_validator):
    for quote in [
        ct.Quote("bitcoin", 61234.5, "usd", "coingecko", datetime.fromtimestamp(STAMP, timezone.utc)),
        ct.Quote("BTCUSDT", 0.00001234, "usdt", "binance", NOW),
    ]:
        message = ct.build_message(quote, NOW)
        tick_validator.validate(json.loads(ct.encode_message(message)))
        assert message["ingest_time"] == "2025-03-01T12:00:30.250Z"


def test_every_message_carries_its_own_tick_id(tick_validator):
    # The same quote twice (a retry of the task, or a price that did not change): two messages, two ids.
    quote = ct.Quote("bitcoin", 1.0, "usd", "coingecko", NOW)
    messages = [ct.build_message(quote, NOW) for _ in range(1000)]
    for message in messages:
        tick_validator.validate(message)
    assert len({m["tick_id"] for m in messages}) == len(messages)
    assert {k: v for k, v in messages[0].items() if k != "tick_id"} == {
        k: v for k, v in messages[1].items() if k != "tick_id"
    }


def test_event_time_is_utc_with_z():
    local = datetime(2025, 3, 1, 14, 0, tzinfo=timezone(timedelta(hours=2)))
    message = ct.build_message(ct.Quote("bitcoin", 1.0, "usd", "coingecko", local), NOW)
    assert message["event_time"] == "2025-03-01T12:00:00.000Z"


def test_encoding_refuses_nan():
    with pytest.raises(ValueError):
        ct.encode_message({"price": math.nan})


# --- Kafka --------------------------------------------------------------------


def test_producer_config_is_idempotent_and_sasl():
    conf = ct.producer_config(config())
    assert conf["enable.idempotence"] is True
    assert conf["acks"] == "all"
    assert (conf["security.protocol"], conf["sasl.mechanism"]) == ("SASL_SSL", "SCRAM-SHA-512")
    assert (conf["sasl.username"], conf["sasl.password"]) == ("producer", "s3cret")


def test_producer_config_verifies_the_broker_against_the_platform_ca():
    conf = ct.producer_config(config())
    assert conf["ssl.ca.pem"] == FAKE_CA_PEM.strip()
    assert conf["enable.ssl.certificate.verification"] is True
    assert conf["ssl.endpoint.identification.algorithm"] == "https"
    assert "ssl.ca.location" not in conf, "inline: no file to mount into the task runners"


@pytest.fixture(scope="module")
def real_ca_pem(tmp_path_factory):
    if shutil.which("openssl") is None:
        pytest.skip("openssl is not installed")
    work = tmp_path_factory.mktemp("ca")
    subprocess.run(
        ["openssl", "req", "-x509", "-newkey", "rsa:2048", "-nodes", "-days", "1", "-subj", "/CN=test kafka CA",
         "-keyout", str(work / "ca.key"), "-out", str(work / "ca.crt")],
        check=True, capture_output=True,
    )
    return (work / "ca.crt").read_text()


def test_real_client_accepts_the_producer_config(real_ca_pem):
    # librdkafka rejects unknown or invalid properties, and a CA it cannot parse, at construction time.
    import confluent_kafka  # Debian's python3-confluent-kafka; the image pins its own
    cfg = config(KAFKA_BOOTSTRAP_SERVERS=f"127.0.0.1:{pg_local.free_port()}", KAFKA_SSL_CA_PEM=real_ca_pem)
    producer = ct.make_producer(cfg)
    assert isinstance(producer, confluent_kafka.Producer)
    assert producer.flush(0) == 0
    with pytest.raises(confluent_kafka.KafkaException, match="ssl.ca.pem"):
        ct.make_producer(config(KAFKA_SSL_CA_PEM=FAKE_CA_PEM))


def test_module_imports_without_kafka_client():
    code = "import sys; sys.modules['confluent_kafka'] = None; import crypto_ticks"
    result = subprocess.run([sys.executable, "-c", code], cwd=PIPELINE / "dags", capture_output=True, text=True)
    assert result.returncode == 0, result.stderr
    top_level = {
        alias.name
        for node in ast.parse((PIPELINE / "dags" / "crypto_ticks.py").read_text()).body
        if isinstance(node, ast.Import)
        for alias in node.names
    }
    assert "confluent_kafka" not in top_level


def test_publish_keys_by_symbol_and_flushes():
    producer = FakeProducer()
    messages = [ct.build_message(ct.Quote(s, 1.0, "usd", "coingecko", NOW), NOW) for s in ("bitcoin", "ethereum")]
    assert ct.publish(producer, "crypto.ticks", messages) == 2
    assert [(t, k) for t, k, _ in producer.produced] == [("crypto.ticks", b"bitcoin"), ("crypto.ticks", b"ethereum")]
    assert [json.loads(v) for _, _, v in producer.produced] == messages
    assert producer.flushes == 1


def test_publish_raises_on_delivery_failure():
    producer = FakeProducer(fail_symbols={"ethereum"})
    messages = [ct.build_message(ct.Quote(s, 1.0, "usd", "coingecko", NOW), NOW) for s in ("bitcoin", "ethereum")]
    with pytest.raises(ct.DeliveryError, match="1 of 2 message"):
        ct.publish(producer, "t", messages)


def test_publish_raises_when_flush_times_out():
    message = ct.build_message(ct.Quote("bitcoin", 1.0, "usd", "coingecko", NOW), NOW)
    with pytest.raises(ct.DeliveryError, match="still queued"):
        ct.publish(FakeProducer(undelivered=1), "t", [message])


# --- one whole poll -------------------------------------------------------------


def test_run_skips_bad_record_and_publishes_the_rest(http_server, tick_validator):
    http_server.add(503)
    http_server.add(200, {"bitcoin": GOOD_CG, "ethereum": {"usd": 0, "last_updated_at": STAMP}})
    cfg = config(CRYPTO_API_URL=http_server.base_url + "/api/v3/simple/price")
    producer, sleeps = FakeProducer(), []
    counts = ct.run(cfg, producer, sleep=sleeps.append, clock=lambda: NOW)
    assert counts == {"requested": 2, "produced": 1, "skipped": 1}
    assert sleeps == [1.0]
    assert http_server.paths[-1].startswith("/api/v3/simple/price?ids=bitcoin%2Cethereum&vs_currencies=usd")
    [(topic, key, value)] = producer.produced
    assert (topic, key) == ("crypto.ticks", b"bitcoin")
    tick_validator.validate(json.loads(value))
    assert producer.flushes == 1


def test_run_fails_when_no_record_is_usable(http_server):
    http_server.add(200, {"bitcoin": {"usd": 0}, "ethereum": {}})
    cfg = config(CRYPTO_API_URL=http_server.base_url)
    producer = FakeProducer()
    with pytest.raises(ct.PayloadError, match="no usable quote"):
        ct.run(cfg, producer, sleep=lambda s: None, clock=lambda: NOW)
    assert producer.produced == []


def test_run_binance_end_to_end(http_server, tick_validator):
    http_server.add(200, [{"symbol": "BTCUSDT", "price": "61234.5"}, {"symbol": "ETHUSDT", "price": "3000"}])
    cfg = config(CRYPTO_SOURCE="binance", CRYPTO_SYMBOLS="BTCUSDT,ETHUSDT", CRYPTO_API_URL=http_server.base_url)
    producer = FakeProducer()
    assert ct.run(cfg, producer, sleep=lambda s: None, clock=lambda: NOW)["produced"] == 2
    for _, key, value in producer.produced:
        message = json.loads(value)
        tick_validator.validate(message)
        assert message["symbol"] == key.decode() and message["event_time"] == "2025-03-01T12:00:30.250Z"
