"""helm-values/postgresql-initdb.sql, the script the PostgreSQL chart runs on first start, against a
real PostgreSQL: it creates each application's database and owner, and running it again is harmless.

The platform renders it per database as three psql variables followed by the script (see
components/postgresql.ts, whose mocks test asserts that rendering); the same rendering is done here.
"""

import subprocess
import uuid
from pathlib import Path

import psycopg2
import pytest

import pg_local

INITDB = Path(__file__).resolve().parents[2] / "helm-values" / "postgresql-initdb.sql"


def render(databases):
    template = INITDB.read_text()
    return "\n".join(f"\\set db {db}\n\\set owner {db}\n\\set password {password}\n{template}" for db, password in databases.items())


def run_initdb(dsn, databases, tmp_path):
    script = tmp_path / f"initdb-{uuid.uuid4().hex}.sql"
    script.write_text(render(databases))
    return subprocess.run(
        [str(pg_local.find_bin_dir() / "psql"), dsn, "-v", "ON_ERROR_STOP=1", "-X", "-q", "-f", str(script)],
        capture_output=True,
        text=True,
    )


def connect_as(pg_dsn, user, database):
    params = dict(part.split("=", 1) for part in pg_dsn.split())
    params.update(user=user, dbname=database)
    return psycopg2.connect(**params)


@pytest.fixture
def apps(pg_conn):
    """Two application names unique to this test, as the platform's airflow and pipeline."""
    suffix = uuid.uuid4().hex[:8]
    names = {"airflow": f"airflow_{suffix}", "pipeline": f"pipeline_{suffix}"}
    yield names
    pg_conn.rollback()
    pg_conn.autocommit = True
    with pg_conn.cursor() as cur:
        for name in names.values():
            cur.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
            cur.execute(f'DROP ROLE IF EXISTS "{name}"')


def role_password(pg_conn, role):
    with pg_conn.cursor() as cur:
        cur.execute("SELECT rolcanlogin, rolpassword FROM pg_authid WHERE rolname = %s", (role,))
        return cur.fetchone()


def test_creates_each_database_owned_by_its_own_login_role(pg_dsn, pg_conn, apps, tmp_path):
    result = run_initdb(pg_dsn, {apps["airflow"]: "a1" * 16, apps["pipeline"]: "p2" * 16}, tmp_path)
    assert result.returncode == 0, result.stderr
    with pg_conn.cursor() as cur:
        cur.execute(
            "SELECT d.datname, r.rolname FROM pg_database d JOIN pg_roles r ON r.oid = d.datdba WHERE d.datname = ANY(%s) ORDER BY 1",
            (list(apps.values()),),
        )
        assert cur.fetchall() == sorted((name, name) for name in apps.values())
    for role in apps.values():
        can_login, password = role_password(pg_conn, role)
        assert can_login
        assert password.startswith("SCRAM-SHA-256$"), "the password is stored hashed"


def test_running_again_changes_nothing_but_the_password(pg_dsn, pg_conn, apps, tmp_path):
    pipeline = apps["pipeline"]
    assert run_initdb(pg_dsn, {pipeline: "first" * 6}, tmp_path).returncode == 0
    with connect_as(pg_dsn, pipeline, pipeline) as conn, conn.cursor() as cur:
        cur.execute("CREATE TABLE kept (id int)")
        cur.execute("INSERT INTO kept VALUES (1)")
    first_password = role_password(pg_conn, pipeline)[1]

    again = run_initdb(pg_dsn, {pipeline: "second" * 5}, tmp_path)
    assert again.returncode == 0, again.stderr
    with connect_as(pg_dsn, pipeline, pipeline) as conn, conn.cursor() as cur:
        cur.execute("SELECT id FROM kept")
        assert cur.fetchall() == [(1,)], "a second run must not touch existing data"
    assert role_password(pg_conn, pipeline)[1] != first_password, "a second run sets the current password"


def test_each_role_reaches_only_its_own_database(pg_dsn, apps, tmp_path):
    assert run_initdb(pg_dsn, {apps["airflow"]: "a" * 32, apps["pipeline"]: "b" * 32}, tmp_path).returncode == 0
    with connect_as(pg_dsn, apps["pipeline"], apps["pipeline"]) as conn, conn.cursor() as cur:
        cur.execute("CREATE TABLE ticks (symbol text PRIMARY KEY)")
    with pytest.raises(psycopg2.OperationalError, match="permission denied for database"):
        connect_as(pg_dsn, apps["pipeline"], apps["airflow"])
    with pytest.raises(psycopg2.OperationalError, match="permission denied for database"):
        connect_as(pg_dsn, apps["airflow"], apps["pipeline"])
