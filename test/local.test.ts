import { strict as assert } from "assert";
import { CHART_VERSIONS } from "../components/data";
import { ofType, single, StackRun } from "../offline/harness";
import { evaluated, values } from "../offline/stackQueries";
import { TYPES } from "../offline/resourceTypes";

describe("local stack (an existing kubeconfig context, no Google Cloud)", () => {
    let run: StackRun;
    let dev: StackRun;
    before(async () => {
        run = await evaluated("local");
        dev = await evaluated("dev");
    });

    it("creates nothing in Google Cloud and builds no image", () => {
        const cloud = run.resources.filter((r) => r.type.startsWith("gcp:") || r.type.startsWith("docker:"));
        assert.deepEqual(
            cloud.map((r) => r.type),
            [],
        );
        assert.equal(run.outputs.clusterName, undefined);
        assert.equal(run.outputs.kubeconfig, undefined);
    });

    it("deploys through a provider bound to the configured kubeconfig context", () => {
        const provider = single(run, TYPES.kubernetesProvider);
        assert.equal(provider.inputs.context, "kind-streaming");
        assert.equal(provider.inputs.kubeconfig, undefined, "the local kubeconfig is read, never copied into state");
        const kubernetes = run.resources.filter((r) => r.custom && r.type.startsWith("kubernetes:"));
        assert.ok(kubernetes.length > 0);
        for (const resource of kubernetes) {
            assert.ok(resource.provider.startsWith(`${provider.urn}::`), `${resource.urn} uses ${resource.provider}`);
        }
    });

    it("runs the same four releases and the pipeline as a GKE stack, only smaller", () => {
        const kinds = (r: StackRun) =>
            [
                ...new Set(
                    r.resources
                        .filter(
                            (x) =>
                                x.type.startsWith("kubernetes:") ||
                                x.type.startsWith("streaming-platform:pipeline:") ||
                                x.type.startsWith("streaming-platform:data:"),
                        )
                        .map((x) => `${x.type} ${x.name}`),
                ),
            ].sort();
        assert.deepEqual(
            ofType(run, TYPES.helmRelease)
                .map((r) => r.name)
                .sort(),
            Object.keys(CHART_VERSIONS).sort(),
        );
        // Without built images the dependencies arrive by ConfigMap instead.
        const withoutImages = kinds(dev)
            .filter((kind) => !kind.startsWith("streaming-platform:pipeline:PipelineImages"))
            // Managed Prometheus is GKE's: no PodMonitorings and no collector ingress on local (test/monitoring.test.ts).
            .filter((kind) => !kind.includes(":PodMonitoring ") && !kind.includes("NetworkPolicy network-scrape-"))
            // The driver's Workload Identity service account writes event logs to Cloud Storage on GKE only.
            .filter((kind) => kind !== "kubernetes:core/v1:ServiceAccount crypto-ticks-stream-service-account");
        const mounted = ["kubernetes:core/v1:ConfigMap airflow-requirements", "kubernetes:core/v1:ConfigMap crypto-ticks-stream-code"];
        // Backups stay on a volume instead of going to Cloud Storage.
        mounted.push("kubernetes:core/v1:PersistentVolumeClaim postgresql-backup-volume");
        // So do Airflow's task logs and Spark's event logs.
        mounted.push("kubernetes:core/v1:PersistentVolumeClaim airflow-task-logs", "kubernetes:core/v1:PersistentVolumeClaim spark-history-events");
        assert.deepEqual(kinds(run), [...withoutImages, ...mounted].sort());
        assert.equal(single(run, "streaming-platform:pipeline:StreamingJob").name, "crypto-ticks-stream");
        assert.equal(values(run, "kafka").controller.resources.requests.memory, "1Gi");
        assert.equal(values(run, "kafka").controller.persistence.size, "2Gi");
        assert.equal(values(run, "postgresql").primary.persistence.size, "2Gi");
    });
});
