"""Kafka 4.0.0 as the rendered kafka chart (32.4.3) runs it: one combined controller+broker node,
`kafka-controller-0` of the StatefulSet `kafka/kafka-controller`, on its own loopback pod IP.

Nothing here types a broker setting. The pod's volumes are laid out in a work dir from the rendered
ConfigMap and Secrets; the chart's own `prepare-config` init container script is run with bash (it
fills server.properties' placeholders and builds the JKS stores with openssl and keytool); the image's
setup step (`kafka-storage format --add-scram ...`, bitnami/containers kafka/4.0 libkafka.sh
kafka_kraft_storage_initialize) is repeated with the main container's env; then `kafka.Kafka` runs on
that file. Topics, SCRAM users and ACLs come from the rendered `kafka-provisioning` Job's scripts, run
with the real Kafka tools behind `kafka-*.sh` wrappers.

Pod paths become work-dir paths through engines/pods.py (PodFiles: one folder per volume, listed in
ADAPTATIONS); the chart's ports, listeners, host names and certificates stay as rendered: engines/network.py
makes the cluster names resolve to the pod IPs inside the engines' network namespace.
"""

from __future__ import annotations

import os
import re
import subprocess
import time
import uuid
from pathlib import Path
from typing import Callable, Mapping

from network import ClusterNetwork
from pods import PodFiles
from processes import EngineError, Process
from rendered import PodIdentity, RenderedStack, bitnami_yes, container, container_env, pod_fqdn, pod_name

NAMESPACE = "kafka"
STATEFULSET = "kafka-controller"
POD = "kafka-controller-0"
INIT_CONTAINER = "prepare-config"
MAIN_CONTAINER = "kafka"
PROVISIONING_JOB = "kafka-provisioning"
CLIENT_PORT_NAME = "client"
# engines/network.py gives addresses to Deployments and StatefulSets only; the Job's pod only connects out.
JOB_POD_IP = "127.0.0.1"

# Image paths the rendered scripts use that no volume provides: the image's own files.
IMAGE_LIBKAFKA = "/opt/bitnami/scripts/libkafka.sh"
IMAGE_LIBOS = "/opt/bitnami/scripts/libos.sh"
IMAGE_KAFKA_BIN = "/opt/bitnami/kafka/bin"
IMAGE_PATHS = (IMAGE_LIBKAFKA, IMAGE_LIBOS, IMAGE_KAFKA_BIN)
# bitnami/containers kafka/4.0 debian-12 Dockerfile:
#   ENV HOME="/" PATH="/opt/bitnami/java/bin:/opt/bitnami/kafka/bin:$PATH".
IMAGE_HOME = "/"

# The main classes Kafka 4.0.0's bin/*.sh scripts hand to kafka-run-class.sh (apache/kafka tag 4.0.0,
# bin/kafka-topics.sh, kafka-configs.sh, kafka-acls.sh, kafka-broker-api-versions.sh, kafka-storage.sh,
# kafka-consumer-groups.sh, kafka-metadata-quorum.sh, kafka-console-consumer.sh; each class checked in the 4.0.0
# jars).
TOOL_MAIN_CLASSES = {
    "kafka-topics.sh": "org.apache.kafka.tools.TopicCommand",
    "kafka-configs.sh": "kafka.admin.ConfigCommand",
    "kafka-acls.sh": "org.apache.kafka.tools.AclCommand",
    "kafka-broker-api-versions.sh": "org.apache.kafka.tools.BrokerApiVersionsCommand",
    "kafka-storage.sh": "kafka.tools.StorageTool",
    "kafka-consumer-groups.sh": "org.apache.kafka.tools.consumer.group.ConsumerGroupCommand",
    "kafka-metadata-quorum.sh": "org.apache.kafka.tools.MetadataQuorumCommand",
    "kafka-console-consumer.sh": "org.apache.kafka.tools.consumer.ConsoleConsumer",
}
# kafka-run-class.sh (4.0.0) gives tools "-Xmx256M" when KAFKA_HEAP_OPTS is unset; smaller here, and the
# short-lived tool JVMs skip C2 and G1 (each provisioning command is a JVM start on a 2-core machine).
TOOL_HEAP = ["-Xmx192m", "-XX:TieredStopAtLevel=1", "-XX:+UseSerialGC"]
BROKER_HEAP = ["-Xms192m", "-Xmx384m"]
# kafka-run-class.sh's default KAFKA_JVM_PERFORMANCE_OPTS, minus -server (a no-op on 64-bit JVMs).
BROKER_JVM_OPTS = [
    "-XX:+UseG1GC",
    "-XX:MaxGCPauseMillis=20",
    "-XX:InitiatingHeapOccupancyPercent=35",
    "-XX:+ExplicitGCInvokesConcurrent",
    "-XX:MaxInlineLevel=15",
    "-Djava.awt.headless=true",
]
# Not adapted: the rendered listeners (CLIENT://:9092, INTERNAL://:9094, CONTROLLER://:9093) bind every
# interface, the pod IP included; in the engines' private network namespace no other engine uses these ports.
# KafkaRaftServer logs this (KafkaBroker.STARTED_MESSAGE) once the broker is unfenced and serving.
STARTED_MESSAGE = "Kafka Server started"

ADAPTATIONS = [
    (
        "kafka",
        "each pod volumeMount path (/configmaps, /mounted-certs, /certs, /shared, /config, /secret-config, /tmp, "
        "/bitnami/kafka, /opt/bitnami/kafka/config/secrets, /opt/bitnami/kafka/config/certs, "
        "/opt/bitnami/kafka/logs, /opt/bitnami/kafka/config/server.properties subPath) -> "
        "<work>/<pod>/volumes/<volume> (engines/pods.py PodFiles), rewritten in the rendered scripts, in the "
        "containers' env values and in the broker's server.properties",
        "no container runtime: the kubelet's volume mounts become directories of the work dir",
    ),
    (
        "kafka",
        f"{IMAGE_LIBKAFKA} and {IMAGE_LIBOS} -> small bash shims in <work>/scripts (kafka_server_conf_set, "
        "replace_in_file, is_empty_value, retry_while, error/warn/info/debug), rewritten in the scripts as "
        "if each container mounted them",
        "the Bitnami image is not run; the shims reproduce the definitions in bitnami/containers kafka/4.0 "
        "libkafka.sh, libfile.sh, liblog.sh, libos.sh, libvalidations.sh",
    ),
    (
        "kafka",
        f"{IMAGE_KAFKA_BIN}/kafka-*.sh -> <work>/bin wrappers running `java -cp libs/* <main class>` (on PATH, "
        f"and {IMAGE_KAFKA_BIN} rewritten in the scripts as if each container mounted it)",
        "the Maven Central jars replace the image's distribution; main classes as apache/kafka 4.0.0 bin/ names them",
    ),
    (
        "kafka",
        "KAFKA_HEAP_OPTS '-XX:InitialRAMPercentage=75 -XX:MaxRAMPercentage=75' -> -Xms192m -Xmx384m; tools -Xmx192m",
        "no 1Gi container limit here: a percentage of this shared machine's RAM would be gigabytes",
    ),
    (
        "kafka",
        "tool JVMs: -XX:TieredStopAtLevel=1 -XX:+UseSerialGC (kafka-run-class.sh would use G1 and C2)",
        "start-up time of ~10 short-lived tool JVMs per provisioning run",
    ),
    (
        "kafka",
        "log4j2: console-only config in the work dir (the broker's stdout goes to its log file)",
        "the image's config/log4j2.yaml is not in the Maven jars",
    ),
    (
        "kafka",
        "JMX_PORT=5555 and the jmx-exporter sidecar are not started; no GC log (-loggc)",
        "metrics are not part of the engines test",
    ),
    (
        "kafka",
        "every container of the broker pod and of the provisioning Job's pod (and the tools) runs under "
        "`unshare --uts --mount` with the pod name as host name and a hosts file = the cluster hosts file + "
        "the kubelet's line (`<pod IP> kafka-controller-0.kafka-controller-headless.kafka.svc.cluster.local "
        "kafka-controller-0`; `127.0.0.1 kafka-provisioning` for the Job, which has no pod IP here)",
        "a pod has its own host name; Kafka resolves it at start (wildcard listeners) and the machine's is unknown "
        "inside the engines' network namespace",
    ),
    ("kafka", "-Djava.io.tmpdir -> the pod's `tmp` emptyDir volume", "the pod mounts an emptyDir at /tmp"),
]


# ----------------------------------------------------------------------------------------------------------
# Shims for the Bitnami libraries the rendered scripts source, and the kafka-*.sh wrappers

# Each function behaves as its definition in bitnami/containers (kafka/4.0/debian-12 rootfs/opt/bitnami/
# scripts): kafka_common_conf_set/kafka_server_conf_set in libkafka.sh (update `key=` in place through
# replace_in_file, else append "\nkey=value"); replace_in_file in libfile.sh (sed -E, or basic sed when the
# 4th argument is false, with \001 as delimiter, result written back with echo); is_empty_value and
# is_boolean_yes in libvalidations.sh; retry_while in libos.sh (12 tries, 5 s apart); info/warn/error/debug
# in liblog.sh (to stderr; `error` does not exit).
LIB_SHIM = r"""# Engines shim for the Bitnami shell libraries (see engines/kafka.py LIB_SHIM for the sources).
stderr_print() { printf "%b\n" "${*}" >&2; }
log() { stderr_print "${MODULE:-kafka} $(date "+%T.%2N ")${*}"; }
info() { log "INFO  ==> ${*}"; }
warn() { log "WARN  ==> ${*}"; }
error() { log "ERROR ==> ${*}"; }
debug() { if is_boolean_yes "${BITNAMI_DEBUG:-false}"; then log "DEBUG ==> ${*}"; fi; }
is_empty_value() { [[ -z "${1:-}" ]]; }
is_boolean_yes() {
    local -r bool="${1:-}"
    shopt -s nocasematch
    [[ "$bool" = 1 || "$bool" =~ ^(yes|true)$ ]]
}
replace_in_file() {
    local filename="${1:?filename is required}"
    local match_regex="${2:?match regex is required}"
    local substitute_regex="${3:?substitute regex is required}"
    local posix_regex=${4:-true}
    local result
    local -r del=$'\001'
    if [[ $posix_regex = true ]]; then
        result="$(sed -E "s${del}${match_regex}${del}${substitute_regex}${del}g" "$filename")"
    else
        result="$(sed "s${del}${match_regex}${del}${substitute_regex}${del}g" "$filename")"
    fi
    echo "$result" > "$filename"
}
kafka_common_conf_set() {
    local file="${1:?missing file}"
    local key="${2:?missing key}"
    shift 2
    local values=("$@")
    if [[ "${#values[@]}" -ne 1 ]]; then
        stderr_print "kafka_common_conf_set: the engines shim takes exactly one value"
        return 1
    fi
    local value="${values[0]}"
    if grep -q "^[#\\s]*$key\s*=.*" "$file"; then
        replace_in_file "$file" "^[#\\s]*${key}\s*=.*" "${key}=${value}" false
    else
        printf '\n%s=%s' "$key" "$value" >>"$file"
    fi
}
kafka_server_conf_set() { kafka_common_conf_set "$KAFKA_CONF_FILE" "$@"; }
retry_while() {
    local cmd="${1:?cmd is missing}"
    local retries="${2:-12}"
    local sleep_time="${3:-5}"
    local return_value=1
    read -r -a command <<<"$cmd"
    for ((i = 1; i <= retries; i += 1)); do
        "${command[@]}" && return_value=0 && break
        sleep "$sleep_time"
    done
    return $return_value
}
"""

TOOL_WRAPPER = """#!/bin/bash
# apache/kafka 4.0.0 bin/{script}: exec kafka-run-class.sh {main_class} "$@" (engines: the Maven Central jars).
exec {java} {heap} -Dlog4j2.configurationFile={log4j} -cp '{libs}/*' {main_class} "$@"
"""

# Kafka 4.0 ships log4j2 (config/log4j2.yaml for the server, tools-log4j2.yaml for the tools).
BROKER_LOG4J2 = """status = warn
appender.stdout.type = Console
appender.stdout.name = STDOUT
appender.stdout.layout.type = PatternLayout
appender.stdout.layout.pattern = [%d] %p %m (%c)%n
rootLogger.level = INFO
rootLogger.appenderRef.stdout.ref = STDOUT
logger.request.name = kafka.request.logger
logger.request.level = WARN
logger.controller.name = org.apache.kafka.controller
logger.controller.level = INFO
"""
TOOLS_LOG4J2 = """status = warn
appender.stderr.type = Console
appender.stderr.name = STDERR
appender.stderr.target = SYSTEM_ERR
appender.stderr.layout.type = PatternLayout
appender.stderr.layout.pattern = [%d] %p %m (%c)%n
rootLogger.level = WARN
rootLogger.appenderRef.stderr.ref = STDERR
"""


class KafkaTools:
    """The Kafka 4.0.0 command-line tools as the image's /opt/bitnami/kafka/bin holds them."""

    def __init__(self, work: Path, libs: Path, java: str = "java"):
        self.bin = work / "bin"
        self.scripts = work / "scripts"
        self.bin.mkdir(parents=True, exist_ok=True)
        self.scripts.mkdir(parents=True, exist_ok=True)
        tools_log4j = work / "tools-log4j2.properties"
        tools_log4j.write_text(TOOLS_LOG4J2)
        for script, main_class in TOOL_MAIN_CLASSES.items():
            wrapper = self.bin / script
            wrapper.write_text(
                TOOL_WRAPPER.format(
                    script=script,
                    main_class=main_class,
                    java=java,
                    heap=" ".join(TOOL_HEAP),
                    log4j=tools_log4j,
                    libs=libs,
                )
            )
            wrapper.chmod(0o755)
        for lib in (IMAGE_LIBKAFKA, IMAGE_LIBOS):
            (self.scripts / Path(lib).name).write_text(LIB_SHIM)

    def image_paths(self) -> dict[str, Path]:
        """The image's own paths the rendered scripts name, and their stand-ins here (PodFiles `image`)."""
        stand_ins = [self.scripts / Path(IMAGE_LIBKAFKA).name, self.scripts / Path(IMAGE_LIBOS).name, self.bin]
        return dict(zip(IMAGE_PATHS, stand_ins))

    def image_env(self) -> dict[str, str]:
        return {"HOME": IMAGE_HOME, "PATH": f"{self.bin}:{os.environ.get('PATH', '/usr/bin:/bin')}"}


def pod_sandbox(hostname: str, fqdn: str | None, ip: str, root: Path, argv: list[str]) -> list[str]:
    """Runs argv with the pod's own host name and /etc/hosts, as a pod has: its own UTS namespace (host name =
    pod name) and the kubelet's hosts line `<pod IP> <pod>.<subdomain>.<ns>.svc.<domain> <pod>`, after the
    cluster names engines/network.py installed. The JVM resolves its own host name at start
    (InetAddress.getLocalHost, e.g. ListenerInfo.withWildcardHostnamesResolved for `CONTROLLER://:9093`)."""
    hosts = root / "etc-hosts"
    names = f"{fqdn} {hostname}" if fqdn else hostname
    hosts.write_text(Path("/etc/hosts").read_text() + f"{ip} {names}\n")
    script = 'hostname "$1" && mount --bind "$2" /etc/hosts && shift 2 && exec "$@"'
    return ["unshare", "--uts", "--mount", "sh", "-c", script, "sh", hostname, str(hosts), *argv]


def run_container(
    name: str,
    files: PodFiles,
    spec: Mapping,
    env: Mapping[str, str],
    tools: KafkaTools,
    log: Path,
    timeout_s: float,
    sandbox: Callable[[list[str]], list[str]],
) -> None:
    """Runs a rendered container's command+args (a `/bin/bash -ec <script>`) with its pod paths rewritten."""
    files.start_container(spec)
    argv = [files.rebase(a, spec) for a in list(spec.get("command") or []) + list(spec.get("args") or [])]
    full_env = {**tools.image_env(), **files.rebase_env(env, spec)}
    log.parent.mkdir(parents=True, exist_ok=True)
    with open(log, "ab") as out:
        out.write(f"\n=== {name} ===\n".encode())
        out.flush()
        try:
            result = subprocess.run(
                sandbox(argv), env=full_env, stdout=out, stderr=subprocess.STDOUT, timeout=timeout_s, cwd=files.root
            )
        except subprocess.TimeoutExpired:
            raise EngineError(f"{name} did not finish within {timeout_s:.0f} s; {log}") from None
    if result.returncode != 0:
        tail = "\n".join(log.read_text(errors="replace").splitlines()[-30:])
        raise EngineError(f"{name} exited with {result.returncode}; {log}:\n{tail}")


# ----------------------------------------------------------------------------------------------------------
# The image's setup step (bitnami/containers kafka/4.0 scripts/kafka/setup.sh + kafka-env.sh + libkafka.sh)


def image_env(env: Mapping[str, str]) -> dict[str, str]:
    """kafka-env.sh: every KAFKA_*_FILE the chart sets names a variable kafka-env.sh reads from that file
    (`export VAR="$(< file)"`, trailing newlines dropped); KAFKA_CLUSTER_ID defaults to KAFKA_KRAFT_CLUSTER_ID."""
    out = dict(env)
    for name, path in env.items():
        if name.startswith("KAFKA_") and name.endswith("_FILE") and name != "KAFKA_CONF_FILE":
            out[name[: -len("_FILE")]] = Path(path).read_text().rstrip("\n")
            del out[name]
    out.setdefault("KAFKA_CLUSTER_ID", out.get("KAFKA_KRAFT_CLUSTER_ID", ""))
    return out


def storage_format_args(conf_file: Path, env: Mapping[str, str], data_dir: Path) -> list[str]:
    """The arguments libkafka.sh kafka_kraft_storage_initialize (kafka/4.0) gives `kafka-storage.sh format`."""
    conf = conf_file.read_text()
    args = ["--config", str(conf_file), "--ignore-formatted"]
    cluster_id = env.get("KAFKA_CLUSTER_ID", "")
    meta = data_dir / "meta.properties"
    if meta.exists():
        found = re.search(r"^cluster\.id=(\S+)$", meta.read_text(), re.M)
        cluster_id = found.group(1) if found else cluster_id
    if not cluster_id:
        # The image would generate one (kafka-storage.sh random-uuid); the chart always renders it.
        raise EngineError("no KAFKA_CLUSTER_ID in the rendered env (Secret kafka-kraft cluster-id)")
    args.append(f"--cluster-id={cluster_id}")
    if bitnami_yes(env.get("KAFKA_KRAFT_BOOTSTRAP_SCRAM_USERS")):
        users = re.split(r"[,;\s]+", env.get("KAFKA_CLIENT_USERS", "").strip())
        passwords = re.split(r"[,;\s]+", env.get("KAFKA_CLIENT_PASSWORDS", "").strip())
        for mechanism in ("SCRAM-SHA-256", "SCRAM-SHA-512"):
            if re.search(rf"^sasl.enabled.mechanisms=.*{mechanism}", conf, re.M):
                for user, password in zip(users, passwords):
                    args += ["--add-scram", f"{mechanism}=[name={user},password={password}]"]
        for role, user_var, password_var in (
            ("inter.broker", "KAFKA_INTER_BROKER_USER", "KAFKA_INTER_BROKER_PASSWORD"),
            ("controller", "KAFKA_CONTROLLER_USER", "KAFKA_CONTROLLER_PASSWORD"),
        ):
            found = re.search(rf"^sasl.mechanism.{role}.protocol=(SCRAM-SHA-256|SCRAM-SHA-512)", conf, re.M)
            if found:
                args += ["--add-scram", f"{found.group(1)}=[name={env[user_var]},password={env[password_var]}]"]
    # Kafka 4 has no ZooKeeper mode: controllers format with kraft.version=1 and the initial voters.
    if "controller" in env.get("KAFKA_CFG_PROCESS_ROLES", ""):
        args.append("--feature=kraft.version=1")
        initial = env.get("KAFKA_INITIAL_CONTROLLERS", "")
        args.append(f"--initial-controllers={initial}" if initial else "--no-initial-controllers")
    return args


# ----------------------------------------------------------------------------------------------------------
# The broker


class KafkaBroker:
    def __init__(self, stack: RenderedStack, network: ClusterNetwork, work: Path, libs: Path, java: str = "java"):
        self.stack, self.network, self.libs, self.java = stack, network, Path(libs), java
        self.work = Path(work)
        self.statefulset = stack.find("StatefulSet", NAMESPACE, STATEFULSET)
        self.ip = network.pod_ip(NAMESPACE, POD)
        self.pod = PodIdentity(POD, NAMESPACE, self.ip)
        self.tools = KafkaTools(self.work, self.libs, java)
        self.files = PodFiles(stack, self.statefulset, self.work / POD, image=self.tools.image_paths())
        self.main = container(self.statefulset, MAIN_CONTAINER)
        self.init = container(self.statefulset, INIT_CONTAINER, init=True)
        self.ports = {p["name"]: int(p["containerPort"]) for p in self.main.get("ports") or []}
        self.log = self.work / POD / "kafka.log"
        self.setup_log = self.work / POD / "setup.log"
        self.process: Process | None = None
        self.admin_config: Path | None = None  # the Job's client.properties, written by provision()
        self.config_sources = self._config_sources()
        self.timings: dict[str, float] = {}

    # The rendered objects each part of the broker's configuration comes from (for the engines report).
    def _config_sources(self) -> dict[str, str]:
        def source(volume: str) -> str:
            v = self.files.volumes[volume]
            if "configMap" in v:
                return f"ConfigMap {NAMESPACE}/{v['configMap']['name']}"
            names = [s["secret"]["name"] for s in v.get("projected", {}).get("sources", []) if "secret" in s]
            return ", ".join(f"Secret {NAMESPACE}/{n}" for n in names) or volume

        init_mounts = {m["mountPath"]: m["name"] for m in self.init.get("volumeMounts") or []}
        return {
            "server.properties": f"{source(init_mounts['/configmaps'])} (key server.properties)",
            "init": f"StatefulSet {NAMESPACE}/{STATEFULSET} initContainer {INIT_CONTAINER} "
            "(its bash script, run as rendered)",
            "tls": f"{source(init_mounts['/mounted-certs'])}; passwords from the init container's env",
            "sasl": source(init_mounts["/opt/bitnami/kafka/config/secrets"]),
            "storage": f"StatefulSet {NAMESPACE}/{STATEFULSET} container {MAIN_CONTAINER} env "
            "(kafka-storage format --add-scram, as libkafka.sh kafka_kraft_storage_initialize)",
            "provisioning": f"Job {NAMESPACE}/{PROVISIONING_JOB} "
            "(its init containers and container, scripts run as rendered)",
        }

    # -- lifecycle -------------------------------------------------------------------------------------

    def start(self, timeout_s: float = 180) -> None:
        """A new pod: fresh emptyDirs, the init container, the image's setup, then the JVM until it serves."""
        if self.process and self.process.alive():
            raise EngineError(f"{POD} is already running")
        begin = time.monotonic()
        self._rotate_log()
        self.files.lay_out()
        self._run_init()
        self.timings["init_s"] = time.monotonic() - begin
        conf, env = self._main_config()
        self._format_storage(conf, env)
        self.timings["format_s"] = time.monotonic() - begin - self.timings["init_s"]
        self._launch(conf, env)
        self.process.wait_for_port(self.ip, self.ports[CLIENT_PORT_NAME], timeout_s)
        self.process.wait_for_log(STARTED_MESSAGE, timeout_s)
        self.timings["ready_s"] = time.monotonic() - begin

    def _rotate_log(self) -> None:
        """One log per pod start, so waiting for STARTED_MESSAGE never sees the previous start's."""
        if self.log.exists():
            n = 1
            while self.log.with_name(f"kafka.{n}.log").exists():
                n += 1
            self.log.rename(self.log.with_name(f"kafka.{n}.log"))

    def stop(self) -> None:
        if self.process:
            self.process.stop()

    def restart(self) -> None:
        """A pod restart: SIGTERM, then a new pod on the same PersistentVolumeClaim (data dir kept)."""
        self.stop()
        self.start()

    def _run_init(self) -> None:
        env = container_env(self.stack, self.statefulset, self.init, self.pod)
        run_container(
            f"{POD} initContainer {INIT_CONTAINER}",
            self.files,
            self.init,
            env,
            self.tools,
            self.setup_log,
            timeout_s=120,
            sandbox=self._sandbox,
        )

    def _sandbox(self, argv: list[str]) -> list[str]:
        return pod_sandbox(POD, pod_fqdn(self.statefulset, POD), self.ip, self.work / POD, argv)

    def _main_config(self) -> tuple[Path, dict[str, str]]:
        """The main container's view: server.properties at its subPath mount, with pod paths rewritten."""
        env = container_env(self.stack, self.statefulset, self.main, self.pod)
        env = image_env(self.files.rebase_env(env, self.main))
        # kafka-env.sh: KAFKA_CONF_FILE=${KAFKA_CONF_DIR}/server.properties, the chart's subPath mount.
        rendered = self.files.mounts(self.main)["/opt/bitnami/kafka/config/server.properties"]
        conf = self.work / POD / "server.properties"
        conf.write_text(self.files.rebase(rendered.read_text(), self.main))
        return conf, env

    def _format_storage(self, conf: Path, env: dict[str, str]) -> None:
        # setup.sh: server.properties is mounted at KAFKA_CONF_FILE, so kafka_validate and kafka_initialize
        # (and with them every KAFKA_CFG_* env) are skipped; storage is formatted when process.roles is set.
        if not re.search(r"^process.roles=", conf.read_text(), re.M):
            return
        if bitnami_yes(env.get("KAFKA_SKIP_KRAFT_STORAGE_INIT")):
            return
        log_dir = re.search(r"^log\.dirs?=(.+)$", conf.read_text(), re.M).group(1).split(",")[0]
        args = storage_format_args(conf, env, Path(log_dir))
        with open(self.setup_log, "ab") as out:
            out.write(b"\n=== kafka-storage.sh format ===\n")
            out.flush()
            argv = self._sandbox([str(self.tools.bin / "kafka-storage.sh"), "format", *args])
            result = subprocess.run(argv, stdout=out, stderr=subprocess.STDOUT, env=self.tools.image_env(), timeout=120)
        if result.returncode != 0:
            raise EngineError(f"kafka-storage format exited with {result.returncode}; {self.setup_log}")

    def _launch(self, conf: Path, env: dict[str, str]) -> None:
        mounts = self.files.start_container(self.main)
        log4j = self.work / POD / "log4j2.properties"
        log4j.write_text(BROKER_LOG4J2)
        argv = [
            self.java,
            *BROKER_HEAP,
            *BROKER_JVM_OPTS,
            f"-Dlog4j2.configurationFile={log4j}",
            f"-Dkafka.logs.dir={mounts['/opt/bitnami/kafka/logs']}",
            f"-Djava.io.tmpdir={mounts['/tmp']}",
            "-cp",
            f"{self.libs}/*",
            "kafka.Kafka",
            str(conf),
        ]
        argv = self._sandbox(argv)
        self.process = Process(POD, argv, self.log, env={**env, **self.tools.image_env()}, cwd=self.work / POD)

    # -- provisioning Job ------------------------------------------------------------------------------

    def provision(self, timeout_s: float = 300) -> None:
        """Runs the rendered Job `kafka/kafka-provisioning` pod: its init containers, then its container."""
        job = self.stack.find("Job", NAMESPACE, PROVISIONING_JOB)
        files = PodFiles(self.stack, job, self.work / PROVISIONING_JOB, image=self.tools.image_paths())
        files.lay_out()
        identity = PodIdentity(PROVISIONING_JOB, NAMESPACE, JOB_POD_IP)
        log = self.work / PROVISIONING_JOB / "job.log"
        begin = time.monotonic()
        containers = [("initContainer", c) for c in files.spec.get("initContainers") or []]
        for kind, spec in containers + [("container", c) for c in files.spec["containers"]]:
            env = container_env(self.stack, job, spec, identity)
            name = f"{PROVISIONING_JOB} {kind} {spec['name']}"
            run_container(name, files, spec, env, self.tools, log, timeout_s, self._job_sandbox)
        self.timings["provision_s"] = time.monotonic() - begin
        self.admin_config = files.volume("shared") / "client.properties"

    def _job_sandbox(self, argv: list[str]) -> list[str]:
        return pod_sandbox(PROVISIONING_JOB, None, JOB_POD_IP, self.work / PROVISIONING_JOB, argv)

    def tool(self, script: str, *args: str, timeout_s: float = 120) -> str:
        """Runs a Kafka tool (e.g. kafka-topics.sh --list) as the topic admin, with the client.properties
        the provisioning Job's init container wrote. Call after provision()."""
        if self.admin_config is None:
            raise EngineError("call provision() first: the admin client.properties comes from its init container")
        result = subprocess.run(
            self._job_sandbox(
                [
                    str(self.tools.bin / script),
                    "--bootstrap-server",
                    self.bootstrap(),
                    "--command-config",
                    str(self.admin_config),
                    *args,
                ]
            ),
            capture_output=True,
            text=True,
            env=self.tools.image_env(),
            timeout=timeout_s,
        )
        if result.returncode != 0:
            raise EngineError(f"{script} {' '.join(args)} exited with {result.returncode}:\n{result.stderr[-2000:]}")
        return result.stdout

    def bootstrap(self) -> str:
        job = self.stack.find("Job", NAMESPACE, PROVISIONING_JOB)
        identity = PodIdentity(PROVISIONING_JOB, NAMESPACE, JOB_POD_IP)
        env = container_env(self.stack, job, container(job, PROVISIONING_JOB), identity)
        return env["KAFKA_SERVICE"]


def client_env(
    stack: RenderedStack,
    network: ClusterNetwork,
    namespace: str,
    workload_kind: str,
    workload_name: str,
    container_name: str,
) -> dict[str, str]:
    """The env the kubelet gives a client container, with its pod's loopback IP for fieldRefs."""
    workload = stack.find(workload_kind, namespace, workload_name)
    pod = pod_name(workload)
    ip = network.pod_ips.get((namespace, pod), "127.0.0.1")
    return container_env(stack, workload, container(workload, container_name), PodIdentity(pod, namespace, ip))


# ----------------------------------------------------------------------------------------------------------
# Refusals, asserted against the running broker with librdkafka (confluent_kafka), as the clients connect

# Whose env each client takes: the DAG's producer runs in Airflow's task pods (the scheduler's env and
# the airflow-dags-env Secret), the stream's consumer in the Spark driver.
PROBE_KEY = b"engines-refusal-probe"
PROBE_VALUE = b'{"engines_probe": "kafka refusals"}'
PRODUCER_CLIENT = ("airflow", "StatefulSet", "airflow-scheduler", "airflow-scheduler")
CONSUMER_CLIENT = ("spark", "Deployment", "crypto-ticks-stream", "driver")


def librdkafka_config(env: Mapping[str, str]) -> dict:
    """librdkafka settings from a client's KAFKA_* env, as pipeline/dags/crypto_ticks.py producer_config maps
    them: the CA inline (ssl.ca.pem), host name verification, SASL from the env."""
    protocol = env["KAFKA_SECURITY_PROTOCOL"]
    config = {"bootstrap.servers": env["KAFKA_BOOTSTRAP_SERVERS"], "security.protocol": protocol}
    if protocol.endswith("SSL"):
        config.update(
            {
                "ssl.ca.pem": env["KAFKA_SSL_CA_PEM"],
                "enable.ssl.certificate.verification": True,
                "ssl.endpoint.identification.algorithm": "https",
            }
        )
    if protocol.startswith("SASL_"):
        config.update(
            {
                "sasl.mechanism": env["KAFKA_SASL_MECHANISM"],
                "sasl.username": env["KAFKA_SASL_USERNAME"],
                "sasl.password": env["KAFKA_SASL_PASSWORD"],
            }
        )
    return config


def _errors_collector() -> tuple[list, Callable]:
    errors: list = []
    return errors, errors.append


def metadata_errors(config: dict, topic: str, timeout_s: float) -> list:
    """Asks for the topic's metadata and returns the errors librdkafka reported on the way."""
    from confluent_kafka import KafkaException
    from confluent_kafka.admin import AdminClient

    errors, on_error = _errors_collector()
    admin = AdminClient(
        {**config, "error_cb": on_error, "socket.timeout.ms": int(timeout_s * 1000), "reconnect.backoff.max.ms": 1000}
    )
    try:
        admin.list_topics(topic, timeout=timeout_s)
    except KafkaException as exc:
        errors.append(exc.args[0])
    return errors


def _produce(config: dict, topic: str, key: bytes, value: bytes, timeout_s: float):
    """One message; returns (error or None, message)."""
    from confluent_kafka import Producer

    reports: list = []
    producer = Producer({**config, "message.timeout.ms": int(timeout_s * 1000), "acks": "all"})
    producer.produce(topic, key=key, value=value, on_delivery=lambda err, msg: reports.append((err, msg)))
    producer.flush(timeout_s + 2)
    if not reports:
        raise EngineError(f"no delivery report for {topic} within {timeout_s + 2:.0f} s")
    return reports[0]


def _consume(
    config: dict, topic: str, group: str, partition: int, offset: int, timeout_s: float, until_error: int | None = None
):
    """Reads one partition from an offset (assign, no group join); returns (error or None, message).
    With until_error, keeps polling until that error code arrives (other errors are returned at the end)."""
    from confluent_kafka import Consumer, TopicPartition

    errors, on_error = _errors_collector()
    consumer = Consumer(
        {
            **config,
            "group.id": group,
            "enable.auto.commit": False,
            "error_cb": on_error,
            "auto.offset.reset": "earliest",
        }
    )
    try:
        consumer.assign([TopicPartition(topic, partition, offset)])
        deadline = time.monotonic() + timeout_s
        while time.monotonic() < deadline:
            msg = consumer.poll(0.5)
            if msg is None:
                continue
            if not msg.error():
                return None, msg
            if until_error is None or msg.error().code() == until_error:
                return msg.error(), msg
            errors.append(msg.error())
        return (errors[0] if errors else None), None
    finally:
        consumer.close()


def _codes(errors: list) -> set[str]:
    return {e.name() for e in errors}


def refusals(
    stack: RenderedStack,
    network: ClusterNetwork,
    broker: KafkaBroker | None = None,
    timeout_s: float = 6,
    probe_value: bytes = PROBE_VALUE,
    details: dict | None = None,
) -> dict[str, bool]:
    """Each True only when the running broker refused with the expected error. First proves that the
    producer can write and the consumer can read (EngineError otherwise), so a refusal is not a broken
    client. That proof writes ONE record (key `engines-refusal-probe`, value `probe_value`) to the topic.

    With `broker`, the two connection refusals must also appear in the broker's own log. `details`, when
    given, receives the errors the clients saw and where the probe landed."""
    from confluent_kafka import KafkaError

    producer_env = client_env(stack, network, *PRODUCER_CLIENT)
    consumer_env = client_env(stack, network, *CONSUMER_CLIENT)
    topic = producer_env["KAFKA_TOPIC"]
    if consumer_env["KAFKA_TOPIC"] != topic:
        raise EngineError(f"producer writes {topic}, consumer reads {consumer_env['KAFKA_TOPIC']}")
    producer_cfg, consumer_cfg = librdkafka_config(producer_env), librdkafka_config(consumer_env)
    group = f"{consumer_env.get('KAFKA_GROUP_ID_PREFIX', 'crypto-ticks-stream')}-engines-probe-{uuid.uuid4().hex[:8]}"

    # Positive: the rendered producer writes, the rendered consumer reads that very record back.
    err, msg = _produce({**producer_cfg, "enable.idempotence": True}, topic, PROBE_KEY, probe_value, timeout_s)
    if err is not None:
        raise EngineError(f"the producer ({producer_env['KAFKA_SASL_USERNAME']}) could not write to {topic}: {err}")
    err, read = _consume(consumer_cfg, topic, group, msg.partition(), msg.offset(), timeout_s * 2)
    if err is not None or read is None or read.value() != probe_value:
        raise EngineError(f"the consumer ({consumer_env['KAFKA_SASL_USERNAME']}) could not read back the probe: {err}")

    seen = details if details is not None else {}
    seen["probe"] = {"topic": topic, "partition": msg.partition(), "offset": msg.offset()}
    log_mark = broker.log.stat().st_size if broker else 0
    refused: dict[str, bool] = {}

    # No credentials: TLS to the SASL_SSL listener, no SASL handshake. The broker closes the connection
    # ("Unexpected Kafka request of type METADATA during SASL handshake").
    no_sasl = {k: v for k, v in consumer_cfg.items() if not k.startswith("sasl.")}
    codes = _codes(metadata_errors({**no_sasl, "security.protocol": "SSL"}, topic, timeout_s))
    seen["kafka_unauthenticated"] = sorted(codes)
    refused["kafka_unauthenticated"] = bool(codes & {"_TRANSPORT", "_ALL_BROKERS_DOWN", "_AUTHENTICATION"}) and (
        broker is None or _broker_logged(broker, log_mark, "during SASL handshake")
    )

    # Plaintext bytes to the TLS listener: the broker's TLS handshake fails and it closes the connection.
    log_mark = broker.log.stat().st_size if broker else 0
    plaintext = {"bootstrap.servers": consumer_cfg["bootstrap.servers"], "security.protocol": "PLAINTEXT"}
    codes = _codes(metadata_errors(plaintext, topic, timeout_s))
    seen["kafka_plaintext"] = sorted(codes)
    refused["kafka_plaintext"] = bool(codes & {"_TRANSPORT", "_ALL_BROKERS_DOWN"}) and (
        broker is None or _broker_logged(broker, log_mark, "SSL handshake failed")
    )

    # The producer's own password over PLAIN: the client listener's PLAIN users are the provisioning Job's admin
    # alone (components/data/kafka.ts), so the pipeline's users sign in with SCRAM or not at all.
    log_mark = broker.log.stat().st_size if broker else 0
    codes = _codes(metadata_errors({**producer_cfg, "sasl.mechanism": "PLAIN"}, topic, timeout_s))
    seen["kafka_client_plain"] = sorted(codes)
    # librdkafka sees the broker close the connection (_TRANSPORT); the broker says why.
    refused["kafka_client_plain"] = bool(codes & {"_AUTHENTICATION", "_TRANSPORT"}) and (
        broker is None or _broker_logged(broker, log_mark, "Invalid username or password")
    )

    # The consumer user writing: its ACLs allow Read and Describe only.
    err, _ = _produce(consumer_cfg, topic, b"engines-refusal-consumer-writes", probe_value, timeout_s)
    seen["kafka_consumer_writes"] = err.name() if err else None
    refused["kafka_consumer_writes"] = err is not None and err.code() == KafkaError.TOPIC_AUTHORIZATION_FAILED

    # The producer user reading: Write and Describe only, and no group ACL. The Fetch itself must be denied
    # (librdkafka also looks up the group's coordinator, which the broker denies with GROUP_AUTHORIZATION_FAILED).
    err, _ = _consume(
        producer_cfg, topic, group, msg.partition(), 0, timeout_s, until_error=KafkaError.TOPIC_AUTHORIZATION_FAILED
    )
    seen["kafka_producer_reads"] = err.name() if err else None
    refused["kafka_producer_reads"] = err is not None and err.code() == KafkaError.TOPIC_AUTHORIZATION_FAILED
    return refused


def _broker_logged(broker: KafkaBroker, offset: int, text: str, timeout_s: float = 5) -> bool:
    deadline = time.monotonic() + timeout_s
    while True:
        with open(broker.log, "rb") as f:
            f.seek(offset)
            if text in f.read().decode(errors="replace"):
                return True
        if time.monotonic() > deadline:
            return False
        time.sleep(0.3)
