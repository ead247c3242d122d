import { strict as assert } from "assert";
import { parseDocument } from "yaml";
import { GMP_COLLECTORS } from "../components/k8s/monitoring";
import { admits, Pod, podsOf, selects } from "../offline/networkPolicy";
import { findObject, Manifest, ofKind, podTemplate, renderStack } from "../offline/render";
import { schemaProblems } from "../offline/schemas";

/** Managed Prometheus' collector as the NetworkPolicies see it (a DaemonSet pod in gmp-system). */
const COLLECTOR: Pod = { workload: "DaemonSet/collector", namespace: "gmp-system", labels: GMP_COLLECTORS.labels, ports: [] };
const STRANGER: Pod = { workload: "Pod/stranger", namespace: "default", labels: { app: "stranger" }, ports: [] };

/** Each PodMonitoring the program creates, by namespace/name, and the workloads it must scrape. */
const EXPECTED: Record<string, string[]> = {
    "kafka/kafka": ["StatefulSet/kafka-controller"],
    "postgresql/postgresql": ["StatefulSet/postgresql-primary"],
    "spark/spark": ["StatefulSet/spark-master", "StatefulSet/spark-worker"],
    "airflow/airflow": ["Deployment/airflow-statsd-metrics"],
    "spark/crypto-ticks-stream": ["Deployment/crypto-ticks-stream"],
};

const container = (workload: Manifest, name: string) => {
    const found = podTemplate(workload).spec.containers.find((c: any) => c.name === name);
    assert.ok(found, `${workload.metadata.name} runs a ${name} container`);
    return found;
};
/** The value a container's environment ends up with: the last definition of a name wins. */
const envValue = (c: any, name: string) => [...(c.env ?? [])].reverse().find((e: any) => e.name === name)?.value;

/** The pods a PodMonitoring selects that declare its endpoints' ports by name, with the port numbers. */
function scraped(monitoring: Manifest, pods: Pod[]): { workload: string; port: number }[] {
    return pods
        .filter((p) => p.namespace === monitoring.metadata.namespace && selects(monitoring.spec.selector, p.labels))
        .flatMap((p) =>
            monitoring.spec.endpoints.flatMap((endpoint: any) =>
                p.ports.filter((port) => port.name === endpoint.port).map((port) => ({ workload: p.workload, port: port.containerPort })),
            ),
        );
}

describe("metrics: every exporter on, scraped by Managed Prometheus on GKE stacks", () => {
    for (const stack of ["dev", "prod", "local"]) {
        it(`${stack}: every chart's exporter and the job's metrics port are rendered with resources`, async () => {
            const { objects } = await renderStack(stack);
            const workload = (kind: string, namespace: string, name: string) => findObject(objects, kind, namespace, name);
            const exporters = [
                container(workload("StatefulSet", "kafka", "kafka-controller"), "jmx-exporter"),
                container(workload("StatefulSet", "postgresql", "postgresql-primary"), "metrics"),
                container(workload("Deployment", "airflow", "airflow-statsd-metrics"), "statsd-exporter"),
            ];
            for (const exporter of exporters) {
                assert.ok(exporter.resources?.requests?.cpu && exporter.resources?.requests?.memory, `${exporter.name} requests`);
                assert.ok(exporter.resources?.limits?.memory, `${exporter.name} has a memory limit`);
            }
            // The chart's sslmode=disable would meet pg_hba.conf's reject: the exporter reads its data source from a
            // file (which postgres_exporter prefers to DATA_SOURCE_URI) and verifies the server with the program's CA.
            const primary = workload("StatefulSet", "postgresql", "postgresql-primary");
            const mountedFile = (file: string) => {
                const mount = exporters[1].volumeMounts.find((m: any) => file.startsWith(m.mountPath.replace(/\/?$/, "/")));
                assert.ok(mount, `${file} is in no mount of the exporter`);
                const volume = primary.spec.template.spec.volumes.find((v: any) => v.name === mount.name);
                const secret = findObject(objects, "Secret", "postgresql", volume.secret.secretName);
                return secret.stringData[file.slice(mount.mountPath.replace(/\/?$/, "/").length)];
            };
            const dataSource: string = mountedFile(envValue(exporters[1], "DATA_SOURCE_URI_FILE"));
            assert.match(dataSource, /^127\.0\.0\.1:5432\/postgres\?sslmode=verify-full&sslrootcert=\S+$/);
            const caFile = new URL(`postgresql://${dataSource}`).searchParams.get("sslrootcert")!;
            assert.equal(mountedFile(caFile), findObject(objects, "Secret", "postgresql", "postgresql-tls").stringData["ca.crt"]);
            for (const name of ["spark-master", "spark-worker"]) {
                assert.equal(
                    envValue(
                        container(workload("StatefulSet", "spark", name), "spark-master" === name ? "spark-master" : "spark-worker"),
                        "SPARK_METRICS_ENABLED",
                    ),
                    "true",
                );
            }
            const driver = container(workload("Deployment", "spark", "crypto-ticks-stream"), "driver");
            const port = driver.ports.find((p: any) => p.name === "metrics");
            assert.ok(port, "the driver declares its metrics port");
            assert.equal(envValue(driver, "JOB_METRICS_PORT"), String(port.containerPort));
        });
    }

    for (const stack of ["dev", "prod"]) {
        it(`${stack}: a valid PodMonitoring per chart and for the job, selecting pods that declare its port`, async () => {
            const { objects } = await renderStack(stack);
            const monitorings = ofKind(objects, "PodMonitoring");
            assert.deepEqual(monitorings.map((m) => `${m.metadata.namespace}/${m.metadata.name}`).sort(), Object.keys(EXPECTED).sort());
            assert.deepEqual(monitorings.flatMap(schemaProblems), []);
            const pods = podsOf(objects);
            for (const monitoring of monitorings) {
                assert.equal(monitoring.apiVersion, "monitoring.googleapis.com/v1");
                const key = `${monitoring.metadata.namespace}/${monitoring.metadata.name}`;
                const targets = scraped(monitoring, pods);
                for (const expected of EXPECTED[key]) {
                    assert.ok(
                        targets.some((t) => t.workload === expected),
                        `${key} scrapes ${expected} on ${monitoring.spec.endpoints.map((e: any) => e.port)}`,
                    );
                }
            }
            if (stack === "prod") {
                // The read replica has its exporter too.
                const postgresql = monitorings.find((m) => m.metadata.name === "postgresql")!;
                assert.ok(scraped(postgresql, pods).some((t) => t.workload === "StatefulSet/postgresql-read"));
            }
        });

        it(`${stack}: the collectors reach every scraped port, a pod of another namespace none`, async () => {
            const { objects } = await renderStack(stack);
            const pods = podsOf(objects);
            const targets = ofKind(objects, "PodMonitoring").flatMap((m) => scraped(m, pods));
            assert.ok(targets.length >= 6);
            const pod = (workload: string) => pods.find((p) => p.workload === workload)!;
            assert.deepEqual(
                targets.filter((t) => !admits(objects, COLLECTOR, pod(t.workload), t.port)),
                [],
                "collector ingress blocked",
            );
            assert.deepEqual(
                targets.filter((t) => admits(objects, STRANGER, pod(t.workload), t.port)),
                [],
                "exporter open to any pod",
            );
        });
    }

    it("local: exporters on but no PodMonitoring and no collector flows (no Managed Prometheus)", async () => {
        const { objects, run } = await renderStack("local");
        assert.deepEqual(ofKind(objects, "PodMonitoring"), []);
        assert.deepEqual(
            ofKind(objects, "NetworkPolicy").filter((p) => p.metadata.name.startsWith("allow-scrape-")),
            [],
        );
        assert.deepEqual(
            run.resources.filter((r) => r.type.startsWith("gcp:")).map((r) => r.type),
            [],
        );
    });

    it("the DAG's StatsD counters keep their names through the chart's statsd mappings", async () => {
        const { objects } = await renderStack("dev");
        const config = findObject(objects, "ConfigMap", "airflow", "airflow-statsd-metrics");
        const mappings: { match: string; match_type?: string }[] = parseDocument(config.data["mappings.yml"]).toJSON().mappings;
        assert.ok(mappings.length > 0);
        const matches = (m: { match: string; match_type?: string }, metric: string) =>
            m.match_type === "regex"
                ? new RegExp(m.match).test(metric)
                : new RegExp(`^${m.match.replace(/\./g, "\\.").replace(/\*/g, "[^.]+")}$`).test(metric);
        // No mapping claims them, so the exporter names them by replacing dots: airflow_crypto_ticks_produced/_failed.
        for (const metric of ["airflow.crypto_ticks.produced", "airflow.crypto_ticks.failed"]) {
            assert.deepEqual(
                mappings.filter((m) => matches(m, metric)).map((m) => m.match),
                [],
                metric,
            );
        }
        // Airflow sends to the exporter (the chart's airflow.cfg: statsd_on, statsd_host, prefix airflow).
        const cfg = JSON.stringify(
            ofKind(objects, "ConfigMap")
                .filter((c) => c.metadata.namespace === "airflow")
                .map((c) => c.data),
        );
        assert.match(cfg, /statsd_on.{0,8}True/);
        assert.match(cfg, /statsd_prefix.{0,8}airflow/);
    });

    it("the PodMonitoring schema check sees missing and mistyped fields", () => {
        const bad: Manifest = {
            apiVersion: "monitoring.googleapis.com/v1",
            kind: "PodMonitoring",
            metadata: { name: "x", namespace: "spark" },
            spec: { selector: { matchLabels: { app: 1 } }, endpoints: [{ path: "metrics", interval: "soon" }] },
        };
        const problems = schemaProblems(bad).join("\n");
        assert.match(problems, /spec\.selector\.matchLabels\.app must be string/);
        assert.match(problems, /spec\.endpoints\[0\]\.port is required/);
        assert.match(problems, /spec\.endpoints\[0\]\.path must match/);
        assert.match(problems, /spec\.endpoints\[0\]\.interval must match/);
        assert.match(schemaProblems({ ...bad, spec: { selector: {} } }).join(), /spec\.endpoints is required/);
        assert.match(
            schemaProblems({ ...bad, spec: { selector: {}, endpoints: [{ port: 9 }], extra: true } }).join(),
            /spec\.extra is not a known field/,
        );
        assert.deepEqual(
            schemaProblems({ ...bad, spec: { selector: { matchLabels: { app: "x" } }, endpoints: [{ port: "metrics", interval: "30s" }] } }),
            [],
        );
    });
});
