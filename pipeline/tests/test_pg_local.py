"""The test database itself (devtools/pg_local.py)."""

import pytest

import pg_local


def test_server_is_postgresql_17_like_the_chart(pg_conn):
    with pg_conn.cursor() as cur:
        cur.execute("SHOW server_version_num")
        assert int(cur.fetchone()[0]) // 10000 == 17


def test_default_server_is_the_npm_package(monkeypatch):
    monkeypatch.delenv("PG_BIN_DIR", raising=False)
    assert pg_local.find_server_bin_dir() == pg_local.NPM_BIN_DIR, "run `npm ci` at the repository root"


def test_pg_bin_dir_overrides_and_is_checked(monkeypatch, tmp_path):
    monkeypatch.setenv("PG_BIN_DIR", str(tmp_path))
    with pytest.raises(RuntimeError, match="set PG_BIN_DIR"):
        pg_local.find_server_bin_dir()
