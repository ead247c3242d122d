#!/usr/bin/env bash
# Command of the streaming Deployment: spark-submit in client mode, so the
# driver runs in this pod and executors on the standalone cluster's workers
# connect back to it at $POD_IP on fixed, Service-exposable ports.
# It runs as the argument of the image's entrypoint
# (/opt/bitnami/scripts/spark/entrypoint.sh), which gives the non-root uid a
# passwd entry through nss_wrapper and then execs it; never in its place.
set -euo pipefail

: "${SPARK_MASTER_URL:?SPARK_MASTER_URL is required (spark://host:7077)}"
: "${POD_IP:?POD_IP is required (downward API status.podIP)}"
: "${SPARK_DRIVER_PORT:?SPARK_DRIVER_PORT is required}"
: "${SPARK_BLOCKMANAGER_PORT:?SPARK_BLOCKMANAGER_PORT is required}"
: "${SPARK_AUTHENTICATE_SECRET:?SPARK_AUTHENTICATE_SECRET is required (RPC authentication secret of the Spark cluster)}"
: "${SPARK_DRIVER_MEMORY:?SPARK_DRIVER_MEMORY is required (driver JVM heap such as 896m, sized to the pod limit)}"
: "${SPARK_EXECUTOR_MEMORY:?SPARK_EXECUTOR_MEMORY is required (executor heap such as 640m, what a worker offers less overhead)}"
: "${SPARK_EXECUTOR_CORES:?SPARK_EXECUTOR_CORES is required (the cores each worker offers)}"
for port_var in SPARK_DRIVER_PORT SPARK_BLOCKMANAGER_PORT; do
  [[ "${!port_var}" =~ ^[0-9]+$ ]] || { echo "run-job.sh: $port_var=${!port_var} is not a port" >&2; exit 64; }
done
for memory_var in SPARK_DRIVER_MEMORY SPARK_EXECUTOR_MEMORY; do
  [[ "${!memory_var}" =~ ^[1-9][0-9]*[mg]$ ]] || { echo "run-job.sh: $memory_var=${!memory_var} is not a JVM memory size such as 896m" >&2; exit 64; }
done
[[ "$SPARK_EXECUTOR_CORES" =~ ^[1-9][0-9]*$ ]] || { echo "run-job.sh: SPARK_EXECUTOR_CORES=$SPARK_EXECUTOR_CORES is not a core count" >&2; exit 64; }

here="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
spark_home="${SPARK_HOME:-/opt/bitnami/spark}"

if [[ -n "${SPARK_PACKAGES:-}" ]]; then
  # Jars not baked in: resolve from Maven at start-up into a writable Ivy cache, SPARK_IVY_DIR where it
  # outlives the pod (the cache a replacement driver resolves from without Maven Central).
  deps=(--packages "$SPARK_PACKAGES" --conf "spark.jars.ivy=${SPARK_IVY_DIR:-/tmp/.ivy2}")
else
  # Jars baked into $SPARK_HOME/jars from packages.txt. Listing them in --jars
  # also ships them to the executors, whose stock worker image lacks them.
  jars=()
  while IFS=: read -r _group artifact version; do
    jar="$spark_home/jars/$artifact-$version.jar"
    [[ -f "$jar" ]] || { echo "run-job.sh: $jar missing; build images/spark-job or set SPARK_PACKAGES" >&2; exit 66; }
    jars+=("$jar")
  done < <(grep -Ev '^[[:space:]]*(#|$)' "$here/packages.txt")
  (( ${#jars[@]} )) || { echo "run-job.sh: no coordinates in $here/packages.txt" >&2; exit 66; }
  deps=(--jars "$(IFS=,; echo "${jars[*]}")")
fi

# The standalone cluster authenticates RPC. The shared secret goes into a private properties file,
# not onto the command line where every process in the pod could read it.
auth_conf="$(mktemp "${TMPDIR:-/tmp}/spark-auth.XXXXXX")"
chmod 600 "$auth_conf"
printf 'spark.authenticate true\nspark.authenticate.secret %s\n' "$SPARK_AUTHENTICATE_SECRET" > "$auth_conf"

# Event logs, from which the Spark History Server rebuilds this driver's UI once its pod is gone
# (components/data/sparkHistory.ts): EVENT_LOG_DIR is gs://<log bucket>/spark-events on GKE, written
# through the GCS connector fetched to EVENT_LOG_CLASSPATH, which spark.driver.extraClassPath puts on
# the driver JVM's own classpath, where Hadoop finds gs:// file systems; or file:/spark-events on a
# volume shared with the History Server. Unset: no event log.
event_log=()
if [[ -n "${EVENT_LOG_DIR:-}" ]]; then
  [[ "$EVENT_LOG_DIR" =~ ^(gs|file):/ ]] || { echo "run-job.sh: EVENT_LOG_DIR=$EVENT_LOG_DIR is neither gs://bucket/path nor file:/path" >&2; exit 64; }
  event_log=(--conf spark.eventLog.enabled=true --conf "spark.eventLog.dir=$EVENT_LOG_DIR")
  if [[ "$EVENT_LOG_DIR" == gs:* ]]; then
    : "${EVENT_LOG_CLASSPATH:?EVENT_LOG_CLASSPATH is required with a gs:// EVENT_LOG_DIR (the GCS connector jar)}"
    [[ -f "$EVENT_LOG_CLASSPATH" ]] || { echo "run-job.sh: $EVENT_LOG_CLASSPATH missing (the GCS connector for $EVENT_LOG_DIR)" >&2; exit 66; }
    event_log+=(--conf "spark.driver.extraClassPath=$EVENT_LOG_CLASSPATH")
  fi
fi

# exec: spark-submit replaces this shell, so it receives the pod's SIGTERM itself.
# --driver-memory becomes the client-mode driver JVM's -Xmx (apache/spark v4.0.0
# launcher/src/main/java/org/apache/spark/launcher/SparkSubmitCommandBuilder.java); without it 1g,
# whatever the pod's limit. Executor memory and cores match what each worker offers, so the
# standalone master can place one executor on every worker.
exec "$spark_home/bin/spark-submit" \
  --master "$SPARK_MASTER_URL" \
  --deploy-mode client \
  --properties-file "$auth_conf" \
  --name crypto-ticks-stream \
  --driver-memory "$SPARK_DRIVER_MEMORY" \
  --executor-memory "$SPARK_EXECUTOR_MEMORY" \
  --executor-cores "$SPARK_EXECUTOR_CORES" \
  --conf "spark.driver.host=$POD_IP" \
  --conf spark.driver.bindAddress=0.0.0.0 \
  --conf "spark.driver.port=$SPARK_DRIVER_PORT" \
  --conf "spark.blockManager.port=$SPARK_BLOCKMANAGER_PORT" \
  ${event_log[@]+"${event_log[@]}"} \
  "${deps[@]}" \
  --py-files "$here/tick_sink.py" \
  "$here/stream_ticks.py"
