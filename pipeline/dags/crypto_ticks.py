"""Poll a public crypto-price API and publish one Kafka message per symbol.

Plain module (no Airflow import) so it can be unit tested; crypto_prices_dag.py
only wires run_from_env() into a task. Listed in .airflowignore so the
scheduler never parses it as a DAG file.

Message format: ../schema/tick.schema.json (the single documented contract).
"""

from __future__ import annotations

import email.utils
import http.client
import json
import logging
import math
import re
import time
import urllib.error
import urllib.parse
import urllib.request
import uuid
from dataclasses import dataclass
from datetime import datetime, timedelta, timezone
from typing import Any, Callable, Mapping, NamedTuple

log = logging.getLogger(__name__)

DEFAULT_SCHEDULE = "*/1 * * * *"
DEFAULT_URLS = {
    "coingecko": "https://api.coingecko.com/api/v3/simple/price",
    "binance": "https://api.binance.com/api/v3/ticker/price",
}
# Binance pairs quote in USDT, so "usd" would never match a pair suffix.
DEFAULT_CURRENCY = {"coingecko": "usd", "binance": "usdt"}
SYMBOL_PATTERNS = {
    "coingecko": re.compile(r"^[a-z0-9][a-z0-9-]{0,63}$"),
    "binance": re.compile(r"^[A-Z0-9]{2,32}$"),
}
CURRENCY_PATTERN = re.compile(r"^[a-z]{2,10}$")
SECURITY_PROTOCOLS = ("PLAINTEXT", "SSL", "SASL_PLAINTEXT", "SASL_SSL")
SASL_MECHANISMS = ("SCRAM-SHA-512", "SCRAM-SHA-256", "PLAIN")
PEM_CERTIFICATE = re.compile(r"-----BEGIN CERTIFICATE-----.+?-----END CERTIFICATE-----", re.DOTALL)

# Budget: a run must finish well inside the 1-minute schedule, so the worst
# case (4 attempts x 10 s timeout + 1+2+4 s backoff) stays under ~50 s.
HTTP_TIMEOUT_S = 10.0
MAX_ATTEMPTS = 4
BASE_DELAY_S = 1.0
MAX_DELAY_S = 8.0
RETRYABLE_STATUS = frozenset({408, 429, 500, 502, 503, 504})
MAX_BODY_BYTES = 1 << 20
# A source clock slightly ahead of ours is normal; minutes ahead is a bad row.
MAX_FUTURE_SKEW = timedelta(minutes=5)
FLUSH_TIMEOUT_S = 30.0


class ConfigError(ValueError):
    """An environment variable is missing or invalid; the message names it."""


class FetchError(RuntimeError):
    """The API could not be read within the retry budget."""


class PayloadError(ValueError):
    """The response as a whole is unusable (as opposed to one bad record)."""


class DeliveryError(RuntimeError):
    """Kafka did not acknowledge every message."""


@dataclass(frozen=True)
class Config:
    bootstrap_servers: str
    topic: str
    security_protocol: str
    sasl_mechanism: str
    sasl_username: str
    sasl_password: str
    # PEM of the CA that signs the brokers' certificate (KAFKA_SSL_CA_PEM); empty without TLS.
    ssl_ca_pem: str
    source: str
    api_url: str
    symbols: tuple[str, ...]
    vs_currency: str


class Quote(NamedTuple):
    symbol: str
    price: float
    currency: str
    source: str
    event_time: datetime


def utc_now() -> datetime:
    return datetime.now(timezone.utc)


def _get(environ: Mapping[str, str], name: str, default: str = "") -> str:
    return environ.get(name, "").strip() or default


def _require(environ: Mapping[str, str], name: str) -> str:
    value = _get(environ, name)
    if not value:
        raise ConfigError(f"{name} is required")
    return value


def _choice(environ: Mapping[str, str], name: str, default: str, allowed: tuple[str, ...]) -> str:
    value = _get(environ, name, default)
    if value not in allowed:
        raise ConfigError(f"{name}={value!r} is not one of {', '.join(allowed)}")
    return value


def poll_schedule(environ: Mapping[str, str]) -> str:
    """CRYPTO_POLL_SCHEDULE: a 5-field cron expression or an Airflow @preset."""
    schedule = _get(environ, "CRYPTO_POLL_SCHEDULE", DEFAULT_SCHEDULE)
    if not (schedule.startswith("@") or len(schedule.split()) == 5):
        raise ConfigError(f"CRYPTO_POLL_SCHEDULE={schedule!r} is neither a 5-field cron expression nor an @preset")
    return schedule


def _symbols(environ: Mapping[str, str], source: str) -> tuple[str, ...]:
    symbols = tuple(dict.fromkeys(s.strip() for s in _require(environ, "CRYPTO_SYMBOLS").split(",") if s.strip()))
    bad = [s for s in symbols if not SYMBOL_PATTERNS[source].match(s)]
    if not symbols or bad:
        raise ConfigError(f"CRYPTO_SYMBOLS has invalid {source} symbol(s): {bad or 'none given'}")
    return symbols


def _ssl_ca_pem(environ: Mapping[str, str]) -> str:
    """KAFKA_SSL_CA_PEM: the brokers' CA, required with TLS: the platform's CA is in no system store."""
    pem = _require(environ, "KAFKA_SSL_CA_PEM")
    if not PEM_CERTIFICATE.search(pem):
        raise ConfigError("KAFKA_SSL_CA_PEM holds no PEM certificate")
    return pem


def load_config(environ: Mapping[str, str]) -> Config:
    """Read and validate every producer setting, failing on the first bad one."""
    protocol = _choice(environ, "KAFKA_SECURITY_PROTOCOL", "SASL_SSL", SECURITY_PROTOCOLS)
    uses_sasl = protocol.startswith("SASL_")
    ssl_ca_pem = _ssl_ca_pem(environ) if protocol.endswith("SSL") else ""
    source = _choice(environ, "CRYPTO_SOURCE", "coingecko", tuple(DEFAULT_URLS))
    symbols = _symbols(environ, source)
    currency = _get(environ, "CRYPTO_VS_CURRENCY", DEFAULT_CURRENCY[source]).lower()
    if not CURRENCY_PATTERN.match(currency):
        raise ConfigError(f"CRYPTO_VS_CURRENCY={currency!r} must be 2-10 letters")
    if source == "binance":
        unquoted = [s for s in symbols if not s.endswith(currency.upper())]
        if unquoted:
            raise ConfigError(f"CRYPTO_SYMBOLS {unquoted} are not quoted in CRYPTO_VS_CURRENCY={currency!r}")
    api_url = _get(environ, "CRYPTO_API_URL", DEFAULT_URLS[source])
    if urllib.parse.urlsplit(api_url).scheme not in ("http", "https"):
        raise ConfigError(f"CRYPTO_API_URL={api_url!r} is not an http(s) URL")
    return Config(
        bootstrap_servers=_require(environ, "KAFKA_BOOTSTRAP_SERVERS"),
        topic=_require(environ, "KAFKA_TOPIC"),
        security_protocol=protocol,
        sasl_mechanism=_choice(environ, "KAFKA_SASL_MECHANISM", "SCRAM-SHA-512", SASL_MECHANISMS),
        sasl_username=_require(environ, "KAFKA_SASL_USERNAME") if uses_sasl else "",
        sasl_password=_require(environ, "KAFKA_SASL_PASSWORD") if uses_sasl else "",
        ssl_ca_pem=ssl_ca_pem,
        source=source,
        api_url=api_url,
        symbols=symbols,
        vs_currency=currency,
    )


def request_url(cfg: Config) -> str:
    if cfg.source == "coingecko":
        query = {"ids": ",".join(cfg.symbols), "vs_currencies": cfg.vs_currency, "include_last_updated_at": "true"}
    else:
        query = {"symbols": json.dumps(list(cfg.symbols), separators=(",", ":"))}
    return f"{cfg.api_url}?{urllib.parse.urlencode(query)}"


# --- HTTP -------------------------------------------------------------------


def backoff_delay(attempt: int) -> float:
    """Exponential backoff; no jitter because a single poller per minute has no herd."""
    return min(MAX_DELAY_S, BASE_DELAY_S * 2 ** (attempt - 1))


def retry_after_seconds(value: str | None, now: datetime | None = None) -> float | None:
    """Parse Retry-After (delta-seconds or HTTP-date); None when absent or unusable."""
    if not value:
        return None
    value = value.strip()
    if value.isdigit():
        return float(value)
    try:
        when = email.utils.parsedate_to_datetime(value)
    except (TypeError, ValueError):
        return None
    if when.tzinfo is None:
        return None
    return max(0.0, (when - (now or utc_now())).total_seconds())


def _retry_delay(err: urllib.error.HTTPError, attempt: int, url: str) -> float:
    requested = retry_after_seconds(err.headers.get("Retry-After"))
    if requested is None:
        return backoff_delay(attempt)
    if requested > MAX_DELAY_S:
        # Waiting longer would overrun the schedule; the next run tries again.
        raise FetchError(f"HTTP {err.code} from {url}: server asks to wait {requested:.0f}s, giving up this run")
    return requested


def fetch_json(
    url: str,
    *,
    urlopen: Callable[..., Any] = urllib.request.urlopen,
    sleep: Callable[[float], None] = time.sleep,
) -> Any:
    """GET url and decode JSON, retrying transient failures with backoff.

    Retried: connection errors, timeouts, 408/429/5xx (honouring Retry-After).
    Not retried: other 4xx (a config error such as an unknown Binance symbol).
    """
    request = urllib.request.Request(url, headers={"Accept": "application/json", "User-Agent": "crypto-ticks/1.0"})
    for attempt in range(1, MAX_ATTEMPTS + 1):
        try:
            with urlopen(request, timeout=HTTP_TIMEOUT_S) as response:
                body = response.read(MAX_BODY_BYTES + 1)
            break
        except urllib.error.HTTPError as err:
            err.close()
            if err.code not in RETRYABLE_STATUS:
                raise FetchError(f"HTTP {err.code} from {url}") from err
            failure: Exception = err
            delay = _retry_delay(err, attempt, url)
        except (urllib.error.URLError, http.client.HTTPException, TimeoutError, ConnectionError) as err:
            failure, delay = err, backoff_delay(attempt)
        if attempt == MAX_ATTEMPTS:
            raise FetchError(f"{url} failed after {MAX_ATTEMPTS} attempts: {failure}") from failure
        log.warning("attempt %d/%d for %s failed (%s); retrying in %.1fs", attempt, MAX_ATTEMPTS, url, failure, delay)
        sleep(delay)
    if len(body) > MAX_BODY_BYTES:
        raise FetchError(f"response from {url} exceeds {MAX_BODY_BYTES} bytes")
    try:
        return json.loads(body)
    except ValueError as err:
        raise PayloadError(f"response from {url} is not JSON: {err}") from err


# --- payload parsing ----------------------------------------------------------


def _positive_price(value: Any) -> float | None:
    # bool is an int subclass and Binance sends prices as strings.
    if isinstance(value, bool) or not isinstance(value, (int, float, str)):
        return None
    try:
        price = float(value)
    except ValueError:
        return None
    return price if math.isfinite(price) and price > 0 else None


def _skip(skipped: list[str], symbol: Any, reason: str) -> None:
    log.warning("skipping %r: %s", symbol, reason)
    skipped.append(f"{symbol}: {reason}")


def parse_coingecko(payload: Any, cfg: Config, observed_at: datetime) -> tuple[list[Quote], list[str]]:
    """Shape: {"bitcoin": {"usd": 65000.1, "last_updated_at": 1711356300}, ...}."""
    if not isinstance(payload, dict):
        raise PayloadError(f"CoinGecko payload is {type(payload).__name__}, expected an object")
    quotes: list[Quote] = []
    skipped: list[str] = []
    for symbol in sorted(payload.keys() - set(cfg.symbols)):
        _skip(skipped, symbol, "not requested")
    for symbol in cfg.symbols:
        entry = payload.get(symbol)
        if not isinstance(entry, dict):
            _skip(skipped, symbol, "missing from response")
            continue
        price = _positive_price(entry.get(cfg.vs_currency))
        stamp = entry.get("last_updated_at")
        if price is None:
            _skip(skipped, symbol, f"bad {cfg.vs_currency} price {entry.get(cfg.vs_currency)!r}")
        elif isinstance(stamp, bool) or not isinstance(stamp, (int, float)) or not math.isfinite(stamp) or stamp <= 0:
            _skip(skipped, symbol, f"bad last_updated_at {stamp!r}")
        elif (event_time := datetime.fromtimestamp(stamp, timezone.utc)) > observed_at + MAX_FUTURE_SKEW:
            _skip(skipped, symbol, f"last_updated_at {event_time.isoformat()} is in the future")
        else:
            quotes.append(Quote(symbol, price, cfg.vs_currency, "coingecko", event_time))
    return quotes, skipped


def parse_binance(payload: Any, cfg: Config, observed_at: datetime) -> tuple[list[Quote], list[str]]:
    """Shape: [{"symbol": "BTCUSDT", "price": "65000.01"}, ...].

    The ticker carries no timestamp, so event_time is when we received it.
    """
    if not isinstance(payload, list):
        raise PayloadError(f"Binance payload is {type(payload).__name__}, expected an array")
    quotes: list[Quote] = []
    skipped: list[str] = []
    present: set[str] = set()
    for entry in payload:
        symbol = entry.get("symbol") if isinstance(entry, dict) else None
        if symbol not in cfg.symbols:
            _skip(skipped, symbol, "not requested")
            continue
        if symbol in present:
            _skip(skipped, symbol, "duplicate entry in response")
            continue
        present.add(symbol)
        price = _positive_price(entry.get("price"))
        if price is None:
            _skip(skipped, symbol, f"bad price {entry.get('price')!r}")
        else:
            quotes.append(Quote(symbol, price, cfg.vs_currency, "binance", observed_at))
    for symbol in cfg.symbols:
        if symbol not in present:
            _skip(skipped, symbol, "missing from response")
    return quotes, skipped


PARSERS = {"coingecko": parse_coingecko, "binance": parse_binance}


# --- messages and Kafka -------------------------------------------------------


def iso_utc(moment: datetime) -> str:
    return moment.astimezone(timezone.utc).isoformat(timespec="milliseconds").replace("+00:00", "Z")


def build_message(quote: Quote, ingest_time: datetime) -> dict[str, Any]:
    """tick_id names this one message: a later poll, or a retry of the task, that sees the same price again makes
    a new message with a new id (and a newer ingest_time), which the sink may write too. So an id the sink wrote
    twice is a replay written twice, never a repeated price."""
    return {
        "symbol": quote.symbol,
        "price": quote.price,
        "currency": quote.currency,
        "source": quote.source,
        "event_time": iso_utc(quote.event_time),
        "ingest_time": iso_utc(ingest_time),
        "tick_id": str(uuid.uuid4()),
    }


def encode_message(message: Mapping[str, Any]) -> bytes:
    # allow_nan=False: NaN/Infinity are not JSON; fail loudly rather than emit them.
    return json.dumps(message, allow_nan=False, separators=(",", ":")).encode()


def producer_config(cfg: Config) -> dict[str, Any]:
    config: dict[str, Any] = {
        "bootstrap.servers": cfg.bootstrap_servers,
        "security.protocol": cfg.security_protocol,
        "client.id": "crypto-ticks-producer",
        # Idempotence + acks=all: broker retries never duplicate or reorder a message.
        "enable.idempotence": True,
        "acks": "all",
        # Bound delivery so flush() returns (with errors) before the task times out.
        "message.timeout.ms": int(FLUSH_TIMEOUT_S * 1000),
        "linger.ms": 5,
    }
    if cfg.security_protocol.endswith("SSL"):
        # librdkafka verifies the broker's certificate and host name against this CA, inline: the
        # task runners need no mounted file (ssl.ca.pem, librdkafka >= 1.7).
        config.update(
            {
                "ssl.ca.pem": cfg.ssl_ca_pem,
                "enable.ssl.certificate.verification": True,
                "ssl.endpoint.identification.algorithm": "https",
            }
        )
    if cfg.security_protocol.startswith("SASL_"):
        config.update(
            {
                "sasl.mechanism": cfg.sasl_mechanism,
                "sasl.username": cfg.sasl_username,
                "sasl.password": cfg.sasl_password,
            }
        )
    return config


def make_producer(cfg: Config) -> Any:
    # Imported here so the module (and the DAG file) parse without the client.
    from confluent_kafka import Producer

    return Producer(producer_config(cfg))


def publish(producer: Any, topic: str, messages: list[dict[str, Any]]) -> int:
    """Produce keyed by symbol, flush, and raise unless every message is acked."""
    errors: list[Any] = []

    def on_delivery(err: Any, _msg: Any) -> None:
        if err is not None:
            errors.append(err)

    for message in messages:
        producer.produce(topic, key=message["symbol"].encode(), value=encode_message(message), on_delivery=on_delivery)
        producer.poll(0)  # serve delivery callbacks as we go
    undelivered = producer.flush(FLUSH_TIMEOUT_S)
    if undelivered:
        raise DeliveryError(f"{undelivered} message(s) still queued after {FLUSH_TIMEOUT_S}s")
    if errors:
        raise DeliveryError(f"{len(errors)} of {len(messages)} message(s) failed, first: {errors[0]}")
    return len(messages)


# --- entry points -------------------------------------------------------------


def run(
    cfg: Config,
    producer: Any,
    *,
    urlopen: Callable[..., Any] = urllib.request.urlopen,
    sleep: Callable[[float], None] = time.sleep,
    clock: Callable[[], datetime] = utc_now,
) -> dict[str, int]:
    """One poll: fetch, parse (skipping bad records), publish, return counts."""
    payload = fetch_json(request_url(cfg), urlopen=urlopen, sleep=sleep)
    quotes, skipped = PARSERS[cfg.source](payload, cfg, clock())
    if not quotes:
        # Every record bad means the source is broken: fail the task visibly.
        raise PayloadError(f"no usable quote in {cfg.source} response; skipped: {skipped}")
    ingest_time = clock()
    produced = publish(producer, cfg.topic, [build_message(q, ingest_time) for q in quotes])
    counts = {"requested": len(cfg.symbols), "produced": produced, "skipped": len(skipped)}
    log.info("published %s to %s", counts, cfg.topic)
    return counts


def run_from_env(environ: Mapping[str, str]) -> dict[str, int]:
    cfg = load_config(environ)
    return run(cfg, make_producer(cfg))
