"""Spark 4.0 on loopback: the standalone master and worker as the spark chart runs them, and the streaming
job's driver as the Deployment spark/crypto-ticks-stream runs it (pipeline/spark/run-job.sh under bash).

The daemons get the environment their rendered StatefulSets give them, turned into Spark configuration the
way the Bitnami image's scripts do it (bitnami/containers bitnami/spark/<version>/debian-12/rootfs/opt/bitnami/
scripts: spark-env.sh, libspark.sh, spark/setup.sh, spark/run.sh), and then started the way spark/run.sh's
start-master.sh / start-worker.sh (apache/spark v4.0.0 sbin/) start them, in the foreground as
SPARK_NO_DAEMONIZE=true makes spark-daemon.sh do. The index holds the scripts of the image lines 3.5 and 4.1
but not 4.0's; the functions used here are the same in both.

Spark runs from the pyspark 4.0.0 wheel (its jars/ and bin/ are a Spark distribution), with the Kafka connector
jars baked into its jars/ as pipeline/images/spark-job/Dockerfile bakes them (bake_connector_jars).
"""

from __future__ import annotations

import importlib.metadata
import os
import subprocess
import sys
import time
from pathlib import Path
from typing import Mapping

from network import ClusterNetwork
from pods import PodFiles
from processes import EngineError, Process
from rendered import PodIdentity, RenderedStack, bitnami_yes, container, container_env, pod_fqdn, pod_template

NAMESPACE = "spark"
MASTER_WORKLOAD, WORKER_WORKLOAD, JOB_WORKLOAD = "spark-master", "spark-worker", "crypto-ticks-stream"
JOB_CONTAINER = "driver"
# The ConfigMap the job's code volume mounts at /opt/pipeline: here the repository's pipeline/spark instead.
CODE_CONFIG_MAP = "crypto-ticks-stream-code"
# Where the daemons' folders are in the pod, each on one of the chart's emptyDir mounts: the image's conf dir
# (bitnami/spark spark-env.sh exports SPARK_CONF_DIR=/opt/bitnami/spark/conf), the Worker's default work dir
# <SPARK_HOME>/work (apache/spark v4.0.0 Worker.createWorkDir), and spark.local.dir's default, java.io.tmpdir.
DAEMON_DIRS = {
    "SPARK_CONF_DIR": "/opt/bitnami/spark/conf",
    "SPARK_WORKER_DIR": "/opt/bitnami/spark/work",
    "SPARK_LOCAL_DIRS": "/tmp",
}
MASTER_CLASS = "org.apache.spark.deploy.master.Master"
WORKER_CLASS = "org.apache.spark.deploy.worker.Worker"
# Two cores run every engine of the test at once: daemon heaps well under the chart's 512m.
DAEMON_MEMORY = "256m"

ADAPTATIONS = [
    (
        "spark",
        "SPARK_DAEMON_MEMORY of the master and the worker: the rendered 512m becomes 256m",
        "the machine's 2 cores and memory are shared by every engine of the test; a master and a worker with one "
        "application need far less",
    ),
    (
        "spark",
        "SPARK_LOCAL_IP is set to the pod's loopback address for the master and the worker",
        "in the cluster each pod has a network namespace of its own, where the pod's hostname resolves to its IP and "
        "the web UIs bind 0.0.0.0 (apache/spark WebUI.bind); here the pods share one namespace, so each daemon binds "
        "its own address and both keep the chart's port 8080",
    ),
    (
        "spark",
        "the master binds the pod's FQDN spark-master-0.spark-headless.spark.svc.cluster.local",
        "what `hostname -f` returns in the pod, which start-master.sh passes as --host",
    ),
    (
        "spark",
        "SPARK_CONF_DIR, SPARK_WORKER_DIR and SPARK_LOCAL_DIRS of the daemons are set to the work-dir folders "
        "(engines/pods.py PodFiles) of the chart's emptyDir subPath mounts at /opt/bitnami/spark/conf, "
        "/opt/bitnami/spark/work and /tmp",
        "in the pod they are those mount paths by default; here no kubelet mounts volumes over the image's paths",
    ),
    (
        "spark",
        "SPARK_HOME is the pyspark 4.0.0 wheel's package folder, not /opt/bitnami/spark",
        "the wheel carries the same Spark 4.0.0 jars and launch scripts as the image's distribution",
    ),
    (
        "spark",
        "the Kafka connector jars of pipeline/spark/packages.txt are baked into SPARK_HOME/jars with "
        "pipeline/images/spark-job/fetch_jars.py, before the namespace is entered",
        "what the spark-job image's Dockerfile does; the engines' namespace has no network",
    ),
    (
        "spark",
        "the driver gets SINK_HOLD_FILE, a file that only the driver-kill fault creates",
        "stream_ticks holds a batch whose rows are written while the file exists, so the kill lands between the "
        "write to PostgreSQL and Spark's commit, the window a replay must not write twice",
    ),
    (
        "spark",
        "the driver gets SINK_WRITE_LOG_TABLE, so the sink appends every write with its tick_id to a table of its own",
        "the tick table's key hides a tick written twice; engines/ledger.py finds it in the write log, as the kind "
        "end-to-end does after e2e-kill-driver.sh turns the same setting on",
    ),
    (
        "spark",
        "SPARK_PACKAGES is unset for the driver",
        "the local stack sets it, so run-job.sh would resolve the jars with --packages from Maven Central, which the "
        "engines' namespace cannot reach; unset, run-job.sh takes the baked-jars path, as with the dev/prod image",
    ),
    (
        "spark",
        "the driver's volumes are folders of the work dir laid out by engines/pods.py PodFiles: /checkpoint and "
        "/spark-events (PVCs, kept across restarts), /tmp (emptyDir, also TMPDIR and SPARK_LOCAL_DIRS), "
        "/etc/postgresql-ca (the rendered ConfigMap "
        "spark/postgresql-ca's keys, mode 0444); every literal env value and argument naming a mount path is "
        "rewritten to the folder (PodFiles.rebase)",
        "no kubelet mounts volumes here; the checkpoint folder outlives restarts as the PVC does",
    ),
    (
        "spark",
        "/opt/pipeline (the volume of the ConfigMap crypto-ticks-stream-code) is the repository's pipeline/spark",
        "the ConfigMap holds those same files; run-job.sh finds stream_ticks.py, tick_sink.py and packages.txt "
        "next to itself",
    ),
    (
        "spark",
        "the init container install-python-deps (pip install -r requirements-spark.txt, once per requirements' "
        "digest, into /checkpoint/install-cache/<key>/python, which PYTHONPATH names) is replaced by the locked "
        "spark venv, checked to hold the pinned versions; SPARK_IVY_DIR is unused (no --packages, see above)",
        "no network in the namespace; the venv is installed from engines/requirements-spark.lock",
    ),
    (
        "spark",
        "PYSPARK_PYTHON is the spark venv's python for the driver and for the worker's executors",
        "the image's python3 (Bitnami Python with pyspark) does not exist here",
    ),
    (
        "spark",
        "the driver runs as root without the image's entrypoint (nss_wrapper)",
        "the entrypoint only gives the image's non-root uid a passwd entry; root has one",
    ),
    (
        "spark",
        "the driver gets SPARK_LOCAL_IP = its pod's loopback address",
        "in the pod the hostname resolves to the pod IP, which Spark's Utils.findLocalInetAddress takes; this "
        "machine's hostname is in no hosts file of the namespace and spark-submit fails on the lookup",
    ),
    (
        "spark",
        "the driver gets SPARK_SUBMIT_OPTS=-Djava.io.tmpdir=<its /tmp volume>",
        "the JVM's spark-*/localPyFiles-* folders land on the pod's /tmp emptyDir, not the machine's /tmp, and stay "
        "with the run's other files after a kill -9",
    ),
    (
        "spark",
        "not configured, a consequence: the driver binds 0.0.0.0 (run-job.sh spark.driver.bindAddress) and "
        "the worker already listens on 7078 at its own address of the shared namespace, so Spark's port retry "
        "(spark.port.maxRetries) moves the driver's RPC from 7078 to 7079 and its block manager from 7079 to 7080",
        "pods do not share ports in the cluster; executors reach the driver at the port it advertises, so nothing "
        "else changes",
    ),
]


# ---------------------------------------------------------------------------------------------------------
# The Kafka connector jars, baked into SPARK_HOME/jars by engines/setup as the spark-job image bakes them.


def connector_jars(spark_home: Path, code_dir: Path) -> list[Path]:
    """The jars run-job.sh looks for: $SPARK_HOME/jars/<artifact>-<version>.jar per line of packages.txt."""
    jars = []
    for line in (code_dir / "packages.txt").read_text().splitlines():
        line = line.strip()
        if line and not line.startswith("#"):
            _group, artifact, version = line.split(":")
            jars.append(Path(spark_home) / "jars" / f"{artifact}-{version}.jar")
    return jars


# ---------------------------------------------------------------------------------------------------------
# What the Bitnami image makes of the daemons' environment.


def bitnami_spark_env(env: Mapping[str, str]) -> dict[str, str]:
    """spark-env.sh's defaults for the variables libspark.sh reads (bitnami/spark/4.1/.../spark-env.sh)."""
    defaults = {
        "SPARK_MODE": "master",
        "SPARK_MASTER_URL": "spark://spark-master:7077",
        "SPARK_NO_DAEMONIZE": "true",
        "SPARK_RPC_AUTHENTICATION_ENABLED": "no",
        "SPARK_RPC_AUTHENTICATION_SECRET": "",
        "SPARK_RPC_ENCRYPTION_ENABLED": "no",
        "SPARK_LOCAL_STORAGE_ENCRYPTION_ENABLED": "no",
        "SPARK_SSL_ENABLED": "no",
        "SPARK_METRICS_ENABLED": "false",
    }
    return {**defaults, **{k: v for k, v in env.items() if v != "" or k not in defaults}}


def bitnami_validate(env: Mapping[str, str]) -> None:
    """libspark.sh spark_validate: the checks the image makes before it starts a daemon."""
    errors = []
    if env["SPARK_MODE"] not in ("master", "worker"):
        errors.append(f"Invalid mode {env['SPARK_MODE']}. Supported types are 'master/worker'")
    if env["SPARK_METRICS_ENABLED"] not in ("true", "false"):
        errors.append("Valid values for SPARK_METRICS_ENABLED are: true or false")
    if env["SPARK_MODE"] == "worker" and not env.get("SPARK_MASTER_URL"):
        errors.append("For worker nodes you need to specify the SPARK_MASTER_URL")
    if bitnami_yes(env["SPARK_RPC_AUTHENTICATION_ENABLED"]) and not env["SPARK_RPC_AUTHENTICATION_SECRET"]:
        errors.append("If you enable RPC authentication, you must provide the RPC authentication secret.")
    if bitnami_yes(env["SPARK_SSL_ENABLED"]):
        # The chart renders no keystores; the engines test has none to give the daemons either.
        errors.append("SPARK_SSL_ENABLED: the engines test does not provide the Bitnami image's JKS keystores")
    if errors:
        raise EngineError("spark (Bitnami spark_validate): " + "; ".join(errors))


def _conf_value(value: str) -> str:
    # libspark.sh spark_conf_set: backslashes doubled, & escaped, an empty value written as "".
    value = value.replace("\\", "\\\\").replace("&", "\\&")
    return value if value else '""'


def bitnami_spark_defaults(env: Mapping[str, str]) -> str:
    """spark-defaults.conf as libspark.sh spark_initialize writes it: the distribution's template (comments only)
    renamed, then spark_enable_rpc_authentication / _rpc_encryption / _local_storage_encryption append."""
    lines = ["# spark-defaults.conf as the Bitnami image's spark_initialize generates it (see engines/spark.py)"]
    if bitnami_yes(env["SPARK_RPC_AUTHENTICATION_ENABLED"]):
        lines += [
            "# Spark RPC Authentication settings",
            "spark.authenticate true",
            f"spark.authenticate.secret {_conf_value(env['SPARK_RPC_AUTHENTICATION_SECRET'])}",
        ]
        if bitnami_yes(env["SPARK_RPC_ENCRYPTION_ENABLED"]):
            lines += [
                "# Spark RPC Encryption settings",
                "spark.network.crypto.enabled true",
                "spark.network.crypto.keyLength 128",
            ]
    if bitnami_yes(env["SPARK_LOCAL_STORAGE_ENCRYPTION_ENABLED"]):
        lines += [
            "# Spark Local Storate Encryption settings",
            "spark.io.encryption.enabled true",
            "spark.io.encryption.keySizeBits 128",
        ]
    return "\n".join(lines) + "\n"


def bitnami_metrics_properties(env: Mapping[str, str]) -> str | None:
    """libspark.sh spark_enable_metrics: metrics.properties.template renamed, and its commented
    prometheusServlet lines set (replace_in_file of ^#*\\s*key.*). None when metrics are off."""
    if not bitnami_yes(env["SPARK_METRICS_ENABLED"]):
        return None
    return (
        "*.sink.prometheusServlet.class=org.apache.spark.metrics.sink.PrometheusServlet\n"
        "*.sink.prometheusServlet.path=/metrics\n"
        "master.sink.prometheusServlet.path=/metrics\n"
        "applications.sink.prometheusServlet.path=/metrics\n"
    )


def write_bitnami_conf(env: Mapping[str, str], conf_dir: Path) -> None:
    conf_dir.mkdir(parents=True, exist_ok=True)
    defaults = conf_dir / "spark-defaults.conf"
    defaults.write_text(bitnami_spark_defaults(env))
    defaults.chmod(0o600)  # it holds the RPC secret
    metrics = bitnami_metrics_properties(env)
    if metrics is not None:
        (conf_dir / "metrics.properties").write_text(metrics)


def daemon_command(spark_home: Path, env: Mapping[str, str], fqdn: str) -> list[str]:
    """spark/run.sh → start-master.sh / start-worker.sh → spark-daemon.sh (foreground) → spark-class, with the
    arguments those scripts compute (apache/spark v4.0.0 sbin/start-master.sh, sbin/start-worker.sh)."""
    spark_class = str(Path(spark_home) / "bin" / "spark-class")
    if env["SPARK_MODE"] == "master":
        return [
            spark_class,
            MASTER_CLASS,
            "--host",
            env.get("SPARK_MASTER_HOST") or fqdn,
            "--port",
            env.get("SPARK_MASTER_PORT") or "7077",
            "--webui-port",
            env.get("SPARK_MASTER_WEBUI_PORT") or "8080",
        ]
    port = ["--port", env["SPARK_WORKER_PORT"]] if env.get("SPARK_WORKER_PORT") else []
    return [
        spark_class,
        WORKER_CLASS,
        "--webui-port",
        env.get("SPARK_WORKER_WEBUI_PORT") or "8081",
        *port,
        env["SPARK_MASTER_URL"],
    ]


# ---------------------------------------------------------------------------------------------------------
# Pods.


def _java_env(java: str) -> dict[str, str]:
    """spark-class runs $JAVA_HOME/bin/java, else `java` on PATH."""
    if os.sep not in java:
        return {}
    return {"JAVA_HOME": str(Path(java).resolve().parent.parent)}


def _base_env(java: str) -> dict[str, str]:
    keep = ("PATH", "HOME", "LANG", "LC_ALL", "USER", "JAVA_HOME")
    return {**{k: os.environ[k] for k in keep if k in os.environ}, **_java_env(java)}


def container_port(container_spec: dict, name: str) -> int:
    for port in container_spec.get("ports") or []:
        if port.get("name") == name:
            return int(port["containerPort"])
    raise LookupError(f"container {container_spec['name']} has no port {name!r}")


class SparkDaemon:
    """One pod of the spark-master or spark-worker StatefulSet."""

    def __init__(
        self,
        stack: RenderedStack,
        network: ClusterNetwork,
        work: Path,
        spark_home: Path,
        java: str,
        workload_name: str,
        python: str | None = None,
    ):
        self.workload = stack.find("StatefulSet", NAMESPACE, workload_name)
        self.container = container(self.workload, workload_name)
        self.pod = f"{workload_name}-0"
        self.ip = network.pod_ip(NAMESPACE, self.pod)
        self.dir = Path(work) / "spark" / self.pod
        self.files = PodFiles(stack, self.workload, self.dir)
        self.spark_home = Path(spark_home)
        rendered = container_env(stack, self.workload, self.container, PodIdentity(self.pod, NAMESPACE, self.ip))
        self.env = bitnami_spark_env(rendered)
        bitnami_validate(self.env)
        mounts = self.files.mounts(self.container)
        unmounted = sorted(set(DAEMON_DIRS.values()) - set(mounts))
        if unmounted:
            raise EngineError(f"spark {self.pod}: the chart no longer mounts {unmounted}; see DAEMON_DIRS")
        self.env.update(
            SPARK_DAEMON_MEMORY=DAEMON_MEMORY,
            SPARK_LOCAL_IP=self.ip,
            SPARK_HOME=str(self.spark_home),
            **{variable: str(mounts[path]) for variable, path in DAEMON_DIRS.items()},
        )
        if python:
            self.env["PYSPARK_PYTHON"] = python
        self.java = java
        self.process: Process | None = None

    @property
    def rpc_port(self) -> int:
        return container_port(self.container, "cluster")

    @property
    def ui_port(self) -> int:
        return container_port(self.container, "http")

    def start(self) -> None:
        self.files.lay_out()
        self.files.start_container(self.container)
        write_bitnami_conf(self.env, Path(self.env["SPARK_CONF_DIR"]))
        argv = daemon_command(self.spark_home, self.env, pod_fqdn(self.workload, self.pod))
        self.process = Process(
            f"spark {self.pod}",
            argv,
            self.dir / f"{self.pod}.log",
            env={**_base_env(self.java), **self.env},
            cwd=self.dir,
        )

    def stop(self) -> None:
        if self.process is not None:
            self.process.stop()
            self.process = None


def venv_python(spark_home: Path) -> str | None:
    """The python of the venv a pip-installed pyspark (<venv>/lib/python3.x/site-packages/pyspark) belongs to."""
    candidate = Path(spark_home).resolve().parents[3] / "bin" / "python"
    return str(candidate) if candidate.exists() else None


class SparkCluster:
    """The standalone master and one worker as the spark chart runs them, each on its pod's loopback address."""

    def __init__(
        self,
        stack: RenderedStack,
        network: ClusterNetwork,
        work: Path,
        spark_home: Path,
        java: str = "java",
        python: str | None = None,
    ):
        python = python or venv_python(spark_home)
        self.master = SparkDaemon(stack, network, work, spark_home, java, MASTER_WORKLOAD)
        self.worker = SparkDaemon(stack, network, work, spark_home, java, WORKER_WORKLOAD, python=python)

    def start(self, timeout_s: float = 120) -> None:
        self.master.start()
        self.master.process.wait_for_port(self.master.ip, self.master.rpc_port, timeout_s)
        self.master.process.wait_for_log("I have been elected leader!", timeout_s)
        self.worker.start()
        self.worker.process.wait_for_log("Successfully registered with master", timeout_s)

    def stop(self) -> None:
        # The worker first: stopping it ends its executors; then the master.
        self.worker.stop()
        self.master.stop()


# ---------------------------------------------------------------------------------------------------------
# The streaming job's driver.


def unmet_requirements(requirements: str) -> list[str]:
    """Lines `name==version` of a requirements file that the running venv does not hold at that version."""
    unmet = []
    for line in requirements.splitlines():
        line = line.split("#", 1)[0].strip()
        if not line:
            continue
        name, _, version = line.partition("==")
        try:
            installed = importlib.metadata.version(name.strip())
        except importlib.metadata.PackageNotFoundError:
            installed = None
        if installed != version.strip():
            unmet.append(f"{line} (venv has {installed})")
    return unmet


class StreamingJob:
    """pipeline/spark/run-job.sh under the environment and volumes of the rendered Deployment
    spark/crypto-ticks-stream; a restart keeps the checkpoint folder as the PVC keeps it."""

    def __init__(
        self,
        stack: RenderedStack,
        network: ClusterNetwork,
        work: Path,
        spark_home: Path,
        python: str,
        code_dir: Path,
        java: str = "java",
    ):
        """code_dir: the repository's pipeline/spark, the files of the ConfigMap crypto-ticks-stream-code."""
        self.stack = stack
        self.workload = stack.find("Deployment", NAMESPACE, JOB_WORKLOAD)
        self.container = container(self.workload, JOB_CONTAINER)
        self.ip = network.pod_ip(NAMESPACE, JOB_WORKLOAD)
        self.dir = Path(work) / "spark" / JOB_WORKLOAD
        self.spark_home, self.python, self.java = Path(spark_home), python, java
        self.code_dir = Path(code_dir)
        self.files = PodFiles(stack, self.workload, self.dir, bind={self._code_volume(): self.code_dir})
        rendered = container_env(stack, self.workload, self.container, PodIdentity(JOB_WORKLOAD, NAMESPACE, self.ip))
        # Only literal values name paths; secrets (a PEM, passwords) are left as they are.
        literal = {e["name"] for e in self.container.get("env") or [] if "value" in e}
        self.env = {k: self.files.rebase(v, self.container) if k in literal else v for k, v in rendered.items()}
        self.env.pop("SPARK_PACKAGES", None)
        # The fault test's hold on a written batch (stream_ticks.JobConfig.hold_file): off until the file exists.
        self.env["SINK_HOLD_FILE"] = str(self.dir / "hold-written-batch")
        # The sink's write log (stream_ticks.JobConfig.write_log_table), from the first start: the ledger asks every
        # tick's write of it.
        self.env["SINK_WRITE_LOG_TABLE"] = f"{self.env.get('TICKS_TABLE') or 'crypto_ticks'}_writes"
        tmp = self.files.mounts(self.container)["/tmp"]
        self.env.update(
            SPARK_HOME=str(self.spark_home),
            PYSPARK_PYTHON=python,
            TMPDIR=str(tmp),
            SPARK_LOCAL_DIRS=str(tmp),
            # The image's conf dir holds only the distribution's templates for the driver (no setup.sh runs).
            SPARK_CONF_DIR=str(self.dir / "conf"),
            # In the pod, the hostname resolves to the pod IP, which Spark's Utils.findLocalInetAddress takes.
            SPARK_LOCAL_IP=self.ip,
            # The JVM's temporary folders (Utils.createTempDir: spark-*, localPyFiles-*) on the pod's /tmp volume.
            SPARK_SUBMIT_OPTS=f"-Djava.io.tmpdir={tmp}",
        )
        self.argv = [self.files.rebase(arg, self.container) for arg in self.container.get("args") or []]
        self.process: Process | None = None
        self.runs = 0
        self.started_at: float | None = None

    def _code_volume(self) -> str:
        """The name of the pod's volume of the ConfigMap crypto-ticks-stream-code."""
        names = [
            v["name"]
            for v in pod_template(self.workload)["spec"].get("volumes") or []
            if v.get("configMap", {}).get("name") == CODE_CONFIG_MAP
        ]
        if len(names) != 1:
            raise EngineError(f"spark: expected one volume of the ConfigMap {CODE_CONFIG_MAP}, found {names}")
        return names[0]

    def _prepare(self) -> None:
        """What the Deployment's new pod finds: its volumes laid out (the checkpoint and events claims kept), the
        connector jars baked and the init container's requirements in the venv."""
        self.files.lay_out()
        self.files.start_container(self.container)
        (self.dir / "conf").mkdir(parents=True, exist_ok=True)
        missing = [str(j) for j in connector_jars(self.spark_home, self.code_dir) if not j.is_file()]
        if missing:
            raise EngineError(
                f"spark: Kafka connector jars missing: {missing}; engines/setup bakes them "
                "(pipeline/images/spark-job/fetch_jars.py) outside the namespace"
            )
        requirements = self.stack.config_map_data(NAMESPACE, CODE_CONFIG_MAP).get("requirements-spark.txt", "")
        unmet = (
            unmet_requirements(requirements)
            if Path(self.python).resolve() == Path(sys.executable).resolve()
            else self._unmet_in(requirements)
        )
        if unmet:
            raise EngineError(f"spark: the venv of {self.python} lacks the driver's requirements: {unmet}")

    def _unmet_in(self, requirements: str) -> list[str]:
        code = "import sys, spark; print('\\n'.join(spark.unmet_requirements(sys.stdin.read())))"
        out = subprocess.run(
            [self.python, "-c", code],
            input=requirements,
            capture_output=True,
            text=True,
            cwd=Path(__file__).parent,
            check=True,
        ).stdout
        return [line for line in out.splitlines() if line]

    @property
    def log_path(self) -> Path:
        return self.dir / f"driver-{self.runs}.log"

    def start(self) -> None:
        if self.alive():
            raise EngineError(f"{self.process.name} is already running")
        self._prepare()
        self.runs += 1
        self.started_at = time.monotonic()
        self.process = Process(
            f"spark driver {JOB_WORKLOAD} (run {self.runs})",
            self.argv,
            self.log_path,
            env={**_base_env(self.java), **self.env},
            cwd=self.dir,
        )

    def kill(self) -> None:
        """kill -9 of the driver's process group: bash → spark-submit's JVM → the Python of stream_ticks.py."""
        if self.process is not None:
            self.process.kill()
            self.process.stop(0)  # closes the log

    def stop(self) -> None:
        if self.process is not None:
            self.process.stop()

    def restart(self) -> None:
        """A new driver on the same checkpoint folder, as the Deployment's Recreate strategy starts its pod."""
        self.stop()
        self.start()

    def alive(self) -> bool:
        return self.process is not None and self.process.alive()

    def logs(self) -> list[str]:
        """The driver log of every run so far, oldest first (one per start: a restart is a new pod)."""
        paths = [self.dir / f"driver-{run}.log" for run in range(1, self.runs + 1)]
        return [p.read_text(errors="replace") if p.exists() else "" for p in paths]

    def wait_until_streaming(self, timeout_s: float) -> float:
        """Until the pod would be Ready: the rendered readiness probe (an httpGet of job_metrics' /ready, 200 only
        while the streaming query is active) passes against the driver. Returns seconds since start()."""
        self._require_process()
        probe = self.container["readinessProbe"]["httpGet"]
        port = probe["port"] if isinstance(probe["port"], int) else container_port(self.container, probe["port"])
        self.process.wait_for_http_ok(f"http://{self.ip}:{port}{probe['path']}", timeout_s)
        return time.monotonic() - self.started_at

    def _require_process(self) -> None:
        if self.process is None:
            raise EngineError("spark driver: start() was not called")
