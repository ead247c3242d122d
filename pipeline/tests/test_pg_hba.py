"""Each role's reach on a real PostgreSQL with TLS on and the primary's pg_hba.conf.

The server runs with a CA and server certificate made here with the openssl CLI (the platform's come from
@pulumi/tls, components/data/postgresqlTls.ts) and helm-values/postgresql-pg_hba.conf rendered as the
PostgreSQL component renders it (pgHbaConfiguration: two hostssl lines per application database, for the
role of the same name). The roles come from helm-values/postgresql-initdb.sql, as the schema Job makes them.
Clients connect as the platform's do: sslmode=verify-full against the CA, to the primary's Service name
(pinned to 127.0.0.1 with hostaddr).
"""

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
PG_HBA = ROOT / "helm-values" / "postgresql-pg_hba.conf"
INITDB = ROOT / "helm-values" / "postgresql-initdb.sql"
SERVER_NAME = "postgresql-primary.postgresql.svc.cluster.local"
REPLICATION_USER = "repl_user"
ADMIN_PASSWORD = "admin-" + uuid.uuid4().hex
TRUST_ALL = "local all all trust\nhost all all 127.0.0.1/32 trust\n"

pytestmark = pytest.mark.skipif(not shutil.which("openssl"), reason="needs the openssl CLI")


def render_pg_hba(databases):
    """pgHbaConfiguration in components/data/postgresqlTls.ts, line for line."""
    lines = [f"hostssl  {db}  {db}  {address}  scram-sha-256" for db in databases for address in ("0.0.0.0/0", "::/0")]
    return PG_HBA.read_text().replace("@APPLICATIONS@", "\n".join(lines))


def openssl(*args, cwd):
    subprocess.run(["openssl", *args], cwd=cwd, check=True, capture_output=True)


def make_certificates(directory: Path):
    """A CA and a server certificate for SERVER_NAME signed by it, as PEM files in `directory`."""
    ec = ["-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:P-256", "-nodes"]
    openssl("req", "-x509", *ec, "-keyout", "ca.key", "-out", "ca.crt", "-days", "2",
            "-subj", "/CN=test PostgreSQL CA", "-addext", "basicConstraints=critical,CA:TRUE",
            "-addext", "keyUsage=critical,keyCertSign,cRLSign", cwd=directory)
    openssl("req", "-new", *ec, "-keyout", "tls.key", "-out", "tls.csr", "-subj", f"/CN={SERVER_NAME}", cwd=directory)
    (directory / "ext.cnf").write_text(f"subjectAltName=DNS:{SERVER_NAME}\nextendedKeyUsage=serverAuth\n")
    openssl("x509", "-req", "-in", "tls.csr", "-CA", "ca.crt", "-CAkey", "ca.key", "-CAcreateserial", "-out", "tls.crt",
            "-days", "2", "-extfile", "ext.cnf", cwd=directory)


@pytest.fixture(scope="module")
def server():
    """A TLS server, first with trust to set up the roles, then with the rendered pg_hba.conf (reloaded)."""
    # Not under pytest's tmp_path: its root is private, and as root the server runs as nobody.
    certs = Path(tempfile.mkdtemp(prefix="pipeline-pg-tls-"))
    certs.chmod(0o755)
    make_certificates(certs)
    suffix = uuid.uuid4().hex[:8]
    apps = {"airflow": f"airflow_{suffix}", "pipeline": f"pipeline_{suffix}"}
    passwords = {db: uuid.uuid4().hex for db in apps.values()}
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
        script = "\n".join(
            f"\\set db {db}\n\\set owner {db}\n\\set password {pw}\n{INITDB.read_text()}"
            for db, pw in passwords.items()
        )
        result = subprocess.run([pg_local.psql(), pg.dsn, "-X", "-v", "ON_ERROR_STOP=1", "-q"], input=script,
                                capture_output=True, text=True)
        assert result.returncode == 0, result.stderr
        admin = psycopg2.connect(pg.dsn)
        admin.autocommit = True
        with admin.cursor() as cur:
            cur.execute("ALTER ROLE postgres PASSWORD %s", (ADMIN_PASSWORD,))
            cur.execute(f"CREATE ROLE {REPLICATION_USER} REPLICATION LOGIN PASSWORD %s", (ADMIN_PASSWORD,))
        hba.write_text(render_pg_hba(apps.values()))
        with admin.cursor() as cur:
            cur.execute("SELECT pg_reload_conf()")
            cur.execute("SELECT line_number, error FROM pg_hba_file_rules WHERE error IS NOT NULL")
            assert cur.fetchall() == [], "the rendered pg_hba.conf parses"
            cur.execute("SELECT count(*) FROM pg_hba_file_rules WHERE auth_method = 'trust'")
            assert cur.fetchone() == (0,), "the reload applied the rendered file"
        admin.close()
        yield {"port": pg.port, "ca": str(certs / "ca.crt"), "apps": apps, "passwords": passwords}
    shutil.rmtree(certs, ignore_errors=True)


def connect(server, user, dbname, password=None, sslmode="verify-full", host=SERVER_NAME, **extra):
    if password is None:
        password = server["passwords"].get(user, ADMIN_PASSWORD)
    return psycopg2.connect(host=host, hostaddr="127.0.0.1", port=server["port"], user=user, dbname=dbname,
                            password=password, sslmode=sslmode, sslrootcert=server["ca"], connect_timeout=5, **extra)


def reaches(server, user, dbname, **kwargs):
    try:
        with connect(server, user, dbname, **kwargs) as conn, conn.cursor() as cur:
            cur.execute("SELECT ssl FROM pg_stat_ssl WHERE pid = pg_backend_pid()")
            assert cur.fetchone() == (True,)
        conn.close()
        return True
    except psycopg2.OperationalError as err:
        assert "pg_hba.conf" in str(err) or "no pg_hba.conf entry" in str(err), str(err)
        return False


def test_each_application_role_reaches_only_its_own_database(server):
    airflow, pipeline = server["apps"]["airflow"], server["apps"]["pipeline"]
    assert reaches(server, pipeline, pipeline)
    assert reaches(server, airflow, airflow)
    for role, other in ((pipeline, airflow), (airflow, pipeline)):
        for database in (other, "postgres", "template1"):
            assert not reaches(server, role, database), f"{role} must not reach {database}"


def test_connections_without_tls_are_rejected(server):
    for user, database in ((server["apps"]["pipeline"],) * 2, ("postgres", "postgres")):
        with pytest.raises(psycopg2.OperationalError, match="no encryption"):
            connect(server, user, database, sslmode="disable")


def test_the_admin_reaches_every_database_over_tls(server):
    for database in ("postgres", *server["apps"].values()):
        assert reaches(server, "postgres", database)


def test_the_admin_password_is_checked(server):
    with pytest.raises(psycopg2.OperationalError, match="password authentication failed"):
        connect(server, "postgres", "postgres", password="wrong")


def test_the_replication_user_streams_and_reaches_no_database(server):
    conn = connect(server, REPLICATION_USER, "replication", replication="true",
                   connection_factory=psycopg2.extras.PhysicalReplicationConnection)
    with conn.cursor() as cur:
        cur.execute("IDENTIFY_SYSTEM")
        assert cur.fetchone()
    conn.close()
    assert not reaches(server, REPLICATION_USER, "postgres")


def test_clients_verify_the_server_name(server):
    with pytest.raises(psycopg2.OperationalError, match="does not match host name"):
        connect(server, "postgres", "postgres", host="postgresql-primary.elsewhere.svc.cluster.local")


def test_public_cannot_connect_to_postgres_or_template1(server):
    """Defence in depth behind pg_hba: the initdb script revokes CONNECT from PUBLIC."""
    with connect(server, "postgres", "postgres") as conn, conn.cursor() as cur:
        for role in server["apps"].values():
            for database in ("postgres", "template1"):
                cur.execute("SELECT has_database_privilege(%s, %s, 'CONNECT')", (role, database))
                assert cur.fetchone() == (False,), f"{role} on {database}"
    conn.close()


def test_the_sink_writes_over_verify_full(server):
    pipeline = server["apps"]["pipeline"]
    cfg = st.load_job_config({
        "KAFKA_BOOTSTRAP_SERVERS": "kafka:9092", "KAFKA_TOPIC": "t", "KAFKA_SECURITY_PROTOCOL": "PLAINTEXT",
        "CHECKPOINT_DIR": "/checkpoint", "POSTGRES_HOST": SERVER_NAME, "POSTGRES_PORT": str(server["port"]),
        "POSTGRES_DB": pipeline, "POSTGRES_USER": pipeline, "POSTGRES_PASSWORD": server["passwords"][pipeline],
        "POSTGRES_SSLMODE": "verify-full", "POSTGRES_SSLROOTCERT": server["ca"],
    })
    kwargs = st.pg_connect_kwargs(cfg)
    # The Service name is not resolvable here: pin it to the local server, the name is still verified.
    with closing(psycopg2.connect(**kwargs, hostaddr="127.0.0.1")) as conn:
        ts.apply_ddl(conn, cfg.table)
        result = ts.write_batch(conn, cfg.table, [dict(symbol="bitcoin", price=5.0, currency="usd", source="coingecko",
                                                       event_time="2025-03-01T12:00:00Z",
                                                       ingest_time="2025-03-01T12:00:01Z")])
    assert result.written == 1
