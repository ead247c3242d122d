"""Shared fixtures: the tick JSON schema, a scripted HTTP server, a real PostgreSQL."""

import sys

# dags/ and spark/ become ConfigMaps: keep __pycache__ directories out of them.
sys.dont_write_bytecode = True

import functools  # noqa: E402
import hashlib  # noqa: E402
import json  # noqa: E402
import os  # noqa: E402
import threading  # noqa: E402
import uuid  # noqa: E402
from http.server import BaseHTTPRequestHandler, SimpleHTTPRequestHandler, ThreadingHTTPServer  # noqa: E402
from pathlib import Path  # noqa: E402

import jsonschema  # noqa: E402
import psycopg2  # noqa: E402
import pytest  # noqa: E402

import fetch_jars  # noqa: E402
import pg_local  # noqa: E402

PIPELINE = Path(__file__).resolve().parents[1]
SCHEMA_PATH = PIPELINE / "schema" / "tick.schema.json"


@pytest.fixture(scope="session")
def tick_schema():
    return json.loads(SCHEMA_PATH.read_text())


@pytest.fixture(scope="session")
def tick_validator(tick_schema):
    jsonschema.Draft202012Validator.check_schema(tick_schema)
    return jsonschema.Draft202012Validator(tick_schema)


class ScriptedServer:
    """HTTP server on 127.0.0.1 that replays queued (status, headers, body) responses."""

    def __init__(self):
        self.responses = []
        self.paths = []
        server = self

        class Handler(BaseHTTPRequestHandler):
            def do_GET(self):
                server.paths.append(self.path)
                status, headers, body = server.responses.pop(0) if server.responses else (599, {}, b"script exhausted")
                self.send_response(status)
                for name, value in headers.items():
                    self.send_header(name, value)
                self.send_header("Content-Length", str(len(body)))
                self.end_headers()
                self.wfile.write(body)

            def log_message(self, *args):
                pass

        self.httpd = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        # Short poll interval: shutdown() in teardown waits up to one interval.
        self.thread = threading.Thread(target=self.httpd.serve_forever, args=(0.02,), daemon=True)

    @property
    def base_url(self):
        return f"http://127.0.0.1:{self.httpd.server_port}"

    def add(self, status, body=b"", headers=None):
        if not isinstance(body, bytes):
            body = json.dumps(body).encode()
        self.responses.append((status, headers or {}, body))


@pytest.fixture
def http_server(monkeypatch):
    # A proxy from the environment must not intercept loopback test traffic.
    for name in ("http_proxy", "HTTP_PROXY", "https_proxy", "HTTPS_PROXY", "all_proxy", "ALL_PROXY"):
        monkeypatch.delenv(name, raising=False)
    server = ScriptedServer()
    server.thread.start()
    yield server
    server.httpd.shutdown()
    server.httpd.server_close()


@pytest.fixture(scope="session")
def pg_dsn():
    """PIPELINE_TEST_DSN if set, else a throwaway cluster for the whole session."""
    dsn = os.environ.get("PIPELINE_TEST_DSN")
    if dsn:
        yield dsn
        return
    # fsync=off: the cluster is deleted after the run, durability buys nothing.
    with pg_local.LocalPostgres(settings={"fsync": "off"}) as pg:
        yield pg.dsn


@pytest.fixture
def pg_conn(pg_dsn):
    conn = psycopg2.connect(pg_dsn)
    yield conn
    conn.close()


@pytest.fixture
def ticks_table(pg_conn):
    """A fresh table name per test (tables are created by the code under test)."""
    name = f"ticks_{uuid.uuid4().hex[:12]}"
    yield name
    pg_conn.rollback()
    with pg_conn, pg_conn.cursor() as cur:
        cur.execute(f'DROP TABLE IF EXISTS "{name}"')


@pytest.fixture
def fake_maven(tmp_path, monkeypatch):
    """A Maven-layout repository on 127.0.0.1 holding a small fake jar (+ .sha1)
    for every coordinate in spark/packages.txt. Yields (base_url, repo_dir)."""
    for name in ("http_proxy", "HTTP_PROXY"):
        monkeypatch.delenv(name, raising=False)
    repo = tmp_path / "maven"
    for coordinate in fetch_jars.read_coordinates(PIPELINE / "spark" / "packages.txt"):
        jar = repo / coordinate.url("").lstrip("/")
        jar.parent.mkdir(parents=True)
        jar.write_bytes(f"jar of {coordinate}".encode())
        jar.with_name(jar.name + ".sha1").write_text(f"{hashlib.sha1(jar.read_bytes()).hexdigest()}  {jar.name}\n")

    class Quiet(SimpleHTTPRequestHandler):
        def log_message(self, *args):
            pass

    httpd = ThreadingHTTPServer(("127.0.0.1", 0), functools.partial(Quiet, directory=str(repo)))
    thread = threading.Thread(target=httpd.serve_forever, args=(0.02,), daemon=True)
    thread.start()
    yield f"http://127.0.0.1:{httpd.server_port}/", repo
    httpd.shutdown()
    httpd.server_close()
