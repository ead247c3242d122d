"""A local stand-in for the public price APIs the DAG polls: the one fake of the engines run.

CoinGecko and Binance are outside any cluster and this machine reaches neither, so this serves their
responses from engines/fixtures/ (reconstructed from the APIs' public references; each file says so).
It answers the two requests pipeline/dags/crypto_ticks.py makes (request_url()), as the real APIs do:

- CoinGecko GET /api/v3/simple/price?ids=a,b&vs_currencies=usd&include_last_updated_at=true: an object
  with only the requested (and known) ids and currencies; `last_updated_at` only when asked for.
- Binance GET /api/v3/ticker/price?symbols=["BTCUSDT",...] (or symbol=X, or nothing): only those pairs;
  an unknown pair is HTTP 400 {"code":-1121,"msg":"Invalid symbol."}, as Binance answers.

Each request is a fresh quote: `last_updated_at` is the current second (and later than the previous
request's, so two polls never carry the same event time) and the price drifts a little, so each poll of
the DAG produces new ticks. `malformed(symbol)` makes one symbol's record unusable (a non-numeric or a
missing price) so the run can check where the design drops it: crypto_ticks skips it before Kafka.
"""

from __future__ import annotations

import json
import threading
import time
import urllib.parse
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

# Paths of the real APIs (crypto_ticks.DEFAULT_URLS), so CRYPTO_API_URL differs from them by host only.
PATHS = {"coingecko": "/api/v3/simple/price", "binance": "/api/v3/ticker/price"}
FIXTURES = {"coingecko": "coingecko-simple-price.json", "binance": "binance-ticker-price.json"}
MALFORMED_KINDS = ("non-numeric", "missing")
# A tenth of a percent each way: prices move between polls, as they do, without leaving the fixture's range.
DRIFT = 0.001


class PriceApi:
    def __init__(self, host: str, port: int, fixtures_dir: Path):
        self.host, self.port = host, port
        self.fixtures = {s: json.loads((Path(fixtures_dir) / name).read_text()) for s, name in FIXTURES.items()}
        self.requests = 0
        self._malformed: dict[str, str] = {}
        self._last_stamp = 0
        self._lock = threading.Lock()
        self._server: ThreadingHTTPServer | None = None
        self._thread: threading.Thread | None = None

    # --- lifecycle -----------------------------------------------------------------

    def start(self) -> None:
        api = self

        class Handler(BaseHTTPRequestHandler):
            def do_GET(self) -> None:  # noqa: N802 (http.server's naming)
                status, body = api.answer(self.path)
                data = json.dumps(body, separators=(",", ":")).encode()
                self.send_response(status)
                self.send_header("Content-Type", "application/json")
                self.send_header("Content-Length", str(len(data)))
                self.end_headers()
                self.wfile.write(data)

            def log_message(self, *_args: Any) -> None:
                pass  # the request count is the record; stderr stays the engines' own

        self._server = ThreadingHTTPServer((self.host, self.port), Handler)
        self._server.daemon_threads = True
        self.port = self._server.server_address[1]  # port 0: the one the system picked
        self._thread = threading.Thread(target=self._server.serve_forever, name="price-api", daemon=True)
        self._thread.start()

    def stop(self) -> None:
        if self._server:
            self._server.shutdown()
            self._server.server_close()
            self._server = None

    def url(self, source: str | None = None, host: str | None = None) -> str:
        """CRYPTO_API_URL for a source: the real API's path on this server, under `host` (a name that resolves to
        this server's address) if given. Without a source, the base URL."""
        return f"http://{host or self.host}:{self.port}{PATHS[source] if source else ''}"

    # --- faults --------------------------------------------------------------------

    def malformed(self, symbol: str | None, kind: str | None = "non-numeric") -> None:
        """From now on serve `symbol` with a non-numeric or a missing price; kind=None serves it well again,
        and malformed(None) every symbol."""
        with self._lock:
            if symbol is None:
                self._malformed.clear()
            elif kind is None:
                self._malformed.pop(symbol, None)
            elif kind in MALFORMED_KINDS:
                self._malformed[symbol] = kind
            else:
                raise ValueError(f"kind must be one of {MALFORMED_KINDS} or None, not {kind!r}")

    # --- answers -------------------------------------------------------------------

    def answer(self, path: str) -> tuple[int, Any]:
        parts = urllib.parse.urlsplit(path)
        query = urllib.parse.parse_qs(parts.query)
        with self._lock:
            self.requests += 1
            # Strictly later than the last answer: two polls in one second still carry distinct event times.
            self._last_stamp = max(int(time.time()), self._last_stamp + 1)
            stamp, count, malformed = self._last_stamp, self.requests, dict(self._malformed)
        factor = 1 + DRIFT * (((count * 7919) % 201) - 100) / 100
        if parts.path == PATHS["coingecko"]:
            return coingecko(self.fixtures["coingecko"]["body"], query, stamp, factor, malformed)
        if parts.path == PATHS["binance"]:
            return binance(self.fixtures["binance"]["body"], query, factor, malformed)
        return 404, {"error": f"{parts.path} is not an endpoint this fake serves"}


def _one(query: dict[str, list[str]], name: str) -> str:
    return ",".join(query.get(name, []))


def coingecko(body: dict, query: dict[str, list[str]], stamp: int, factor: float, malformed: dict[str, str]):
    ids = [i.strip() for i in _one(query, "ids").split(",") if i.strip()]
    currencies = [c.strip().lower() for c in _one(query, "vs_currencies").split(",") if c.strip()]
    if not ids or not currencies:
        # CoinGecko answers a request without ids or vs_currencies with an error, not an empty object.
        return 400, {"error": "Missing parameter ids" if not ids else "Missing parameter vs_currencies"}
    with_stamp = _one(query, "include_last_updated_at").lower() == "true"
    answer: dict[str, dict[str, Any]] = {}
    for coin in ids:
        if coin not in body:
            continue  # unknown ids are left out
        recorded = body[coin]
        entry = {c: _drift(recorded[c], factor) for c in currencies if c in recorded}
        for currency in currencies:
            if malformed.get(coin) == "non-numeric":
                entry[currency] = "n/a"
            elif malformed.get(coin) == "missing":
                entry.pop(currency, None)
        if with_stamp:
            entry["last_updated_at"] = stamp
        answer[coin] = entry
    return 200, answer


def binance(body: list, query: dict[str, list[str]], factor: float, malformed: dict[str, str]):
    known = {entry["symbol"]: entry for entry in body}
    if "symbols" in query:
        try:
            wanted = json.loads(_one(query, "symbols"))
        except ValueError:
            return 400, {"code": -1100, "msg": "Illegal characters found in parameter 'symbols'."}
    elif "symbol" in query:
        wanted = [_one(query, "symbol")]
    else:
        wanted = list(known)
    if any(symbol not in known for symbol in wanted):
        return 400, {"code": -1121, "msg": "Invalid symbol."}
    answer = []
    for symbol in [s for s in known if s in wanted]:  # the exchange's order, not the request's
        entry: dict[str, Any] = {"symbol": symbol, "price": _drift_decimal(known[symbol]["price"], factor)}
        if malformed.get(symbol) == "non-numeric":
            entry["price"] = "n/a"
        elif malformed.get(symbol) == "missing":
            del entry["price"]
        answer.append(entry)
    return 200, (answer[0] if "symbol" in query and "symbols" not in query else answer)


def _drift(price: Any, factor: float) -> Any:
    # Keep the fixture's precision: CoinGecko sends integers for large prices, more decimals for small ones.
    if isinstance(price, int):
        return round(price * factor)
    digits = max(len(repr(price).split(".")[-1]), 2)
    return round(price * factor, digits)


def _drift_decimal(price: str, factor: float) -> str:
    # Binance prints 8 decimals but moves a pair only by its tick size: keep the fixture's significant places.
    places = max(len(price.rstrip("0").split(".")[-1]), 2)
    return f"{round(float(price) * factor, places):.8f}"
