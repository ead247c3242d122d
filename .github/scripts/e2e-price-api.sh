#!/usr/bin/env bash
# Runs the fake price API of the engines test (engines/price_api.py with engines/fixtures/, unchanged) inside the
# cluster, so the DAG polls it instead of the live CoinGecko API: a Deployment and a Service in a namespace of its own,
# the code and fixtures mounted from a ConfigMap. Waits until it is ready, then prints the URL for
# `pulumi config set cryptoApiUrl` on the last line of stdout: the CoinGecko path on the Service (the DAG appends only
# the query, pipeline/dags/crypto_ticks.py request_url()), which the local stack's default cryptoSource asks.
#
# It runs in PRICE_API_IMAGE, an image the stack runs anyway (the Spark image, e2e-images.sh list writes it to
# python-image.txt), so it adds no pull. python3 is on that image's PATH (bitnami/containers bitnami/spark/4.0/debian-12
# Dockerfile: /opt/bitnami/python/bin); it runs as the container's command, without the image's entrypoint, which
# would write nss_wrapper files and Spark's conf on the read-only root filesystem and which Python's HTTP server does
# not need (a user name is needed only by Hadoop in the driver). The namespace enforces Pod Security
# 'restricted' like the platform's; the pod meets it as e2e-check-ticks.sh's client pod does. No NetworkPolicy selects
# it, so it admits every client; the Airflow pods that run the DAG may reach it because the airflow chart's own
# policies allow all egress (bitnami/charts airflow 25.0.2 templates/scheduler/networkpolicy.yaml and the other
# components': `egress: [{}]` with networkPolicy.allowExternalEgress, true by default and not changed in
# helm-values/airflow.yaml), and the program's policies (components/k8s/networkIsolation.ts) restrict ingress only.
# Environment: PRICE_API_IMAGE (required), PRICE_API_NAMESPACE (e2e-price-api), PRICE_API_TIMEOUT (180s).
set -euo pipefail
source "$(dirname "${BASH_SOURCE[0]}")/lib.sh"

image="${PRICE_API_IMAGE:-}"
[[ -n "$image" ]] || die "PRICE_API_IMAGE is required: an image with python3 that the stack runs (python-image.txt of e2e-images.sh list)"
namespace="${PRICE_API_NAMESPACE:-e2e-price-api}"
engines="$(repo_root)/engines"
port=8080
work="$(mktemp -d)"
trap 'rm -rf "$work"' EXIT

# shellcheck disable=SC2016 # the single-quoted text is JavaScript, not shell
node -e '
  const fs = require("fs"), path = require("path");
  const [namespace, image, port, engines] = process.argv.slice(1);
  const labels = { "app.kubernetes.io/name": "e2e-price-api" };
  const files = ["price_api.py", ...fs.readdirSync(path.join(engines, "fixtures")).filter((f) => f.endsWith(".json")).map((f) => path.join("fixtures", f))];
  // PriceApi reads each fixture by name from one folder: the code and the fixtures side by side in the mount.
  const data = Object.fromEntries(files.map((f) => [path.basename(f), fs.readFileSync(path.join(engines, f), "utf8")]));
  const serve = [
    "import sys, threading",
    "sys.path.insert(0, \"/price-api\")",
    "from price_api import PriceApi",
    `api = PriceApi("0.0.0.0", ${port}, "/price-api")`,
    "api.start()",
    "print(\"serving\", api.url(\"coingecko\"), flush=True)",
    "threading.Event().wait()",
  ].join("\n");
  const items = [
    { apiVersion: "v1", kind: "Namespace", metadata: { name: namespace, labels: { "pod-security.kubernetes.io/enforce": "restricted" } } },
    { apiVersion: "v1", kind: "ConfigMap", metadata: { name: "price-api", namespace, labels }, data },
    {
      apiVersion: "v1", kind: "Service", metadata: { name: "price-api", namespace, labels },
      spec: { selector: labels, ports: [{ name: "http", port: Number(port), targetPort: "http" }] },
    },
    {
      apiVersion: "apps/v1", kind: "Deployment", metadata: { name: "price-api", namespace, labels },
      spec: {
        replicas: 1, selector: { matchLabels: labels },
        template: {
          metadata: { labels },
          spec: {
            automountServiceAccountToken: false,
            securityContext: { runAsNonRoot: true, runAsUser: 1001, seccompProfile: { type: "RuntimeDefault" } },
            containers: [{
              name: "price-api", image, imagePullPolicy: "IfNotPresent",
              command: ["python3", "-c", serve],
              // The mount is read-only: no bytecode cache.
              env: [{ name: "PYTHONDONTWRITEBYTECODE", value: "1" }],
              ports: [{ name: "http", containerPort: Number(port) }],
              // A TCP probe: every HTTP request is a quote that moves the fake prices and clock on.
              readinessProbe: { tcpSocket: { port: "http" }, periodSeconds: 5 },
              resources: { requests: { cpu: "10m", memory: "48Mi" }, limits: { memory: "96Mi" } },
              securityContext: { allowPrivilegeEscalation: false, readOnlyRootFilesystem: true, capabilities: { drop: ["ALL"] } },
              volumeMounts: [{ name: "code", mountPath: "/price-api", readOnly: true }],
            }],
            volumes: [{ name: "code", configMap: { name: "price-api" } }],
          },
        },
      },
    },
  ];
  console.log(JSON.stringify({ apiVersion: "v1", kind: "List", items }));
' "$namespace" "$image" "$port" "$engines" >"$work/price-api.json"
kubectl apply -f "$work/price-api.json" >/dev/null
kubectl -n "$namespace" rollout status deployment/price-api --timeout "${PRICE_API_TIMEOUT:-180s}"
echo "http://price-api.$namespace.svc.cluster.local:$port/api/v3/simple/price"
