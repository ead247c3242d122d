"""helm-values/postgresql-initdb.sql against a real PostgreSQL, run the way the postgresql-schema Job runs it
(components/data/postgresqlSchema.ts): one script for all databases, `psql -X -v ON_ERROR_STOP=1 -v
VERBOSITY=terse -f`, as the admin user, on every deployment that changes it. So every run must converge: the
first creates each application's database and owner, later ones add what is new, set changed passwords and
leave data alone, and an error stops the run with a non-zero exit (which fails the Job).

The platform renders the script per database as three psql variables followed by the template (initdbScript
in components/data/postgresql.ts, whose rendering the mocha tests assert); the same rendering is done here.
"""

import subprocess
import uuid
from pathlib import Path

import psycopg2
import pytest

import pg_local

INITDB = Path(__file__).resolve().parents[2] / "helm-values" / "postgresql-initdb.sql"
# The Job's psql options, in the Job's order (see postgresqlSchema.ts).
JOB_OPTIONS = ["-X", "-v", "ON_ERROR_STOP=1", "-v", "VERBOSITY=terse"]
# psql's exit status when ON_ERROR_STOP stopped a script.
STOPPED_ON_ERROR = 3


def render(databases):
    template = INITDB.read_text()
    return "\n".join(
        f"\\set db {db}\n\\set owner {db}\n\\set password {password}\n{template}" for db, password in databases.items()
    )


def psql():
    """The psql client, as in the Job."""
    return pg_local.psql()


def run_initdb(dsn, databases, tmp_path, script=None):
    path = tmp_path / f"initdb-{uuid.uuid4().hex}.sql"
    path.write_text(render(databases) if script is None else script)
    return subprocess.run([psql(), dsn, *JOB_OPTIONS, "-f", str(path)], capture_output=True, text=True)


def connect_as(pg_dsn, user, database):
    params = dict(part.split("=", 1) for part in pg_dsn.split())
    params.update(user=user, dbname=database)
    return psycopg2.connect(**params)


@pytest.fixture
def apps(pg_conn):
    """Application names unique to this test, as the platform's airflow and pipeline; a test may add more."""
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


def catalog(pg_conn, names):
    """Each database's owner and access list and each role's attributes, except the password."""
    with pg_conn.cursor() as cur:
        cur.execute(
            "SELECT d.datname, r.rolname, d.datacl::text FROM pg_database d JOIN pg_roles r ON r.oid = d.datdba"
            " WHERE d.datname = ANY(%s) ORDER BY 1",
            (names,),
        )
        databases = cur.fetchall()
        cur.execute(
            "SELECT rolname, rolsuper, rolcreatedb, rolcreaterole, rolcanlogin FROM pg_roles"
            " WHERE rolname = ANY(%s) ORDER BY 1",
            (names,),
        )
        return databases, cur.fetchall()


def test_creates_each_database_owned_by_its_own_login_role(pg_dsn, pg_conn, apps, tmp_path):
    result = run_initdb(pg_dsn, {apps["airflow"]: "a1" * 16, apps["pipeline"]: "p2" * 16}, tmp_path)
    assert result.returncode == 0, result.stderr
    databases, roles = catalog(pg_conn, list(apps.values()))
    assert [(name, owner) for name, owner, _ in databases] == sorted((name, name) for name in apps.values())
    assert roles == sorted((name, False, False, False, True) for name in apps.values()), "login, nothing more"
    for role in apps.values():
        can_login, password = role_password(pg_conn, role)
        assert can_login
        assert password.startswith("SCRAM-SHA-256$"), "the password is stored hashed"


def test_running_twice_succeeds_and_changes_nothing(pg_dsn, pg_conn, apps, tmp_path):
    databases = {apps["airflow"]: "a" * 32, apps["pipeline"]: "b" * 32}
    first = run_initdb(pg_dsn, databases, tmp_path)
    assert first.returncode == 0, first.stderr
    after_first = catalog(pg_conn, list(apps.values()))
    again = run_initdb(pg_dsn, databases, tmp_path)
    assert again.returncode == 0, again.stderr
    assert catalog(pg_conn, list(apps.values())) == after_first


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


def test_a_database_added_later_is_created_by_the_next_run(pg_dsn, pg_conn, apps, tmp_path):
    airflow, pipeline = apps["airflow"], apps["pipeline"]
    assert run_initdb(pg_dsn, {airflow: "a" * 32}, tmp_path).returncode == 0
    with connect_as(pg_dsn, airflow, airflow) as conn, conn.cursor() as cur:
        cur.execute("CREATE TABLE dag (id int)")
        cur.execute("INSERT INTO dag VALUES (7)")
    assert catalog(pg_conn, [pipeline]) == ([], [])

    result = run_initdb(pg_dsn, {airflow: "a" * 32, pipeline: "b" * 32}, tmp_path)
    assert result.returncode == 0, result.stderr
    assert [(name, owner) for name, owner, _ in catalog(pg_conn, [pipeline])[0]] == [(pipeline, pipeline)]
    with connect_as(pg_dsn, airflow, airflow) as conn, conn.cursor() as cur:
        cur.execute("SELECT id FROM dag")
        assert cur.fetchall() == [(7,)], "adding a database leaves the others' data alone"


def test_a_database_that_existed_before_its_role_is_handed_to_it(pg_dsn, pg_conn, apps, tmp_path):
    pipeline = apps["pipeline"]
    pg_conn.autocommit = True
    with pg_conn.cursor() as cur:
        cur.execute(f'CREATE DATABASE "{pipeline}"')
    result = run_initdb(pg_dsn, {pipeline: "b" * 32}, tmp_path)
    assert result.returncode == 0, result.stderr
    [(_, owner, acl)] = catalog(pg_conn, [pipeline])[0]
    assert owner == pipeline
    assert acl == f"{{{pipeline}=CTc/{pipeline}}}", "only the owner may connect, not PUBLIC"


def test_an_error_stops_the_run_with_a_failure(pg_dsn, pg_conn, apps, tmp_path):
    # Role names starting with pg_ are reserved: CREATE ROLE fails, as any unexpected error would.
    apps["reserved"] = f"pg_reserved_{uuid.uuid4().hex[:8]}"
    result = run_initdb(pg_dsn, {apps["reserved"]: "r" * 32, apps["pipeline"]: "b" * 32}, tmp_path)
    assert result.returncode == STOPPED_ON_ERROR, result.stdout + result.stderr
    assert "reserved" in result.stderr
    assert catalog(pg_conn, [apps["reserved"], apps["pipeline"]]) == ([], []), "nothing after the error runs"


def test_an_error_leaves_no_password_in_the_output(pg_dsn, apps, tmp_path):
    """The Job's log is readable by more people than the Secret: a failing statement must not be echoed."""
    password = uuid.uuid4().hex
    # Fails inside the statement that carries the password, after psql interpolated it.
    script = render({apps["pipeline"]: password}).replace("WITH LOGIN PASSWORD %L", "WITH LOGIN PASSWORD %L BOGUS")
    result = run_initdb(pg_dsn, {}, tmp_path, script=script)
    assert result.returncode == STOPPED_ON_ERROR, result.stdout + result.stderr
    assert password not in result.stdout + result.stderr


def test_each_role_reaches_only_its_own_database(pg_dsn, apps, tmp_path):
    assert run_initdb(pg_dsn, {apps["airflow"]: "a" * 32, apps["pipeline"]: "b" * 32}, tmp_path).returncode == 0
    with connect_as(pg_dsn, apps["pipeline"], apps["pipeline"]) as conn, conn.cursor() as cur:
        cur.execute("CREATE TABLE ticks (symbol text PRIMARY KEY)")
    with pytest.raises(psycopg2.OperationalError, match="permission denied for database"):
        connect_as(pg_dsn, apps["pipeline"], apps["airflow"])
    with pytest.raises(psycopg2.OperationalError, match="permission denied for database"):
        connect_as(pg_dsn, apps["airflow"], apps["pipeline"])
