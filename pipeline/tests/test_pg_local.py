"""The test database itself (devtools/pg_local.py) and the psql stand-in (devtools/psql_lite.py)."""

import subprocess

import pytest

import pg_local
import psql_lite


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


def psql(pg_dsn, tmp_path, script, *args):
    path = tmp_path / "script.sql"
    path.write_text(script)
    return subprocess.run(
        [str(pg_local.find_bin_dir() / "psql"), pg_dsn, *args, "-f", str(path)], capture_output=True, text=True
    )


def test_psql_lite_interpolates_quotes_and_gexecs(pg_dsn, pg_conn, tmp_path):
    script = """
-- a comment; with a semicolon and :'name'
\\set name it s
SELECT format('CREATE TABLE %I (v text)', :'table') \\gexec
INSERT INTO :"table" VALUES (:'name'), (':name'), ('a;b'), ('1'::text);
"""
    result = psql(pg_dsn, tmp_path, script, "-v", "ON_ERROR_STOP=1", "-v", "table=Odd Name")
    assert result.returncode == 0, result.stderr
    with pg_conn.cursor() as cur:
        cur.execute('SELECT v FROM "Odd Name" ORDER BY v')
        # C collation; \set joins its words, as psql does.
        assert [row[0] for row in cur.fetchall()] == ["1", ":name", "a;b", "its"]
        cur.execute('DROP TABLE "Odd Name"')
    pg_conn.commit()


@pytest.mark.parametrize("script, error", [("SELECT 1/0;\nSELECT 1;", "division by zero"), ("\\copy x", "unsupported")])
def test_psql_lite_stops_at_the_first_error_with_exit_code_3(pg_dsn, tmp_path, script, error):
    result = psql(pg_dsn, tmp_path, script)
    assert result.returncode == 3
    assert error in result.stderr


def test_psql_lite_runs_in_process(pg_conn):
    pg_conn.autocommit = True
    with pg_conn.cursor() as cur:
        psql_lite.run_script(pg_conn, "SELECT :'v' AS v\n\\gexec", {"v": "SELECT 1"})
        cur.execute("SELECT 1")
    pg_conn.autocommit = False
