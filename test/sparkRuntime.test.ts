import { strict as assert } from "assert";
import * as fs from "fs";
import * as path from "path";
import { DAEMON_HEAP_MIB, MIN_HEAP_MIB, overheadMiB, quantityMiB, sparkMemoryPlan } from "../components/data/sparkMemory";
import { ConfigOverrides, ofType, PROJECT_ROOT, runStack, StackRun } from "../offline/harness";
import { Manifest, renderRelease, renderStack } from "../offline/render";
import { evaluated, kubernetesObject, release, values } from "../offline/stackQueries";
import { buildReport } from "../report";
import { loadPrices } from "../report/priceTable";
import { TYPES } from "../offline/resourceTypes";

const DEPLOYMENT = TYPES.deployment;
const PVC = TYPES.persistentVolumeClaim;
const STORAGE_CLASS = TYPES.storageClass;
const RUN_JOB = ["bash", "/opt/pipeline/run-job.sh"];

const pod = (run: StackRun) => kubernetesObject(run, DEPLOYMENT, "spark", "crypto-ticks-stream").inputs.spec.template;
const driver = (run: StackRun) => pod(run).spec.containers.find((c: any) => c.name === "driver");
const envOf = (container: any): Record<string, any> => Object.fromEntries((container.env ?? []).map((e: any) => [e.name, e.value ?? e.valueFrom]));
/** "896m" / "4g" (JVM and SPARK_*_MEMORY sizes) in MiB. */
const jvmMiB = (size: string) => {
    const match = /^([0-9]+)([mg])$/.exec(size);
    assert.ok(match, `${size} is not a JVM memory size`);
    return Number(match[1]) * (match[2] === "g" ? 1024 : 1);
};

/** The Spark release rendered by `helm template` with the pinned chart and the stack's values. */
function renderedSpark(run: StackRun) {
    const objects = renderRelease(release(run, "spark")).objects;
    const find = (kind: string, name: string): Manifest => {
        const found = objects.filter((o) => o.kind === kind && o.metadata.name === name);
        assert.equal(found.length, 1, `one ${kind} ${name}`);
        return found[0];
    };
    const container = (name: string) => find("StatefulSet", name).spec.template.spec.containers[0];
    return { find, container, env: (name: string) => envOf(container(name)) };
}

/** Refused by config validation before any resource is registered; returns the message. */
async function refused(stack: string, overrides: ConfigOverrides): Promise<string> {
    const run = await runStack(stack, overrides);
    assert.equal(run.error?.name, "ConfigError", run.error?.stack ?? "the configuration was accepted");
    assert.equal(run.resources.length, 0);
    return run.error!.message;
}

describe("Spark runtime: entrypoint, memory, block manager, checkpoint", () => {
    const runs: Record<string, StackRun> = {};
    before(async () => {
        runs.dev = await evaluated("dev");
        runs.prod = await evaluated("prod");
        runs.local = await evaluated("local");
        runs.devWithoutBuild = await evaluated("dev", { buildImages: false });
    });

    describe("the driver starts under the image's entrypoint", () => {
        it("overrides no container's ENTRYPOINT; the driver's args run run-job.sh", () => {
            for (const [stack, run] of Object.entries(runs)) {
                const spec = pod(run).spec;
                for (const container of [...spec.containers, ...(spec.initContainers ?? [])]) {
                    // bitnami/spark's entrypoint.sh writes the nss_wrapper passwd entry for uid 1001, then execs its args.
                    assert.equal(container.command, undefined, `${stack}: ${container.name} replaces the image's entrypoint`);
                }
                assert.deepEqual(driver(run).args, RUN_JOB, stack);
            }
        });

        it("builds the job image with Bitnami's entrypoint and the same command as its CMD", () => {
            const dockerfile = fs.readFileSync(path.join(PROJECT_ROOT, "pipeline", "images", "spark-job", "Dockerfile"), "utf8");
            const instruction = (name: string) => [...dockerfile.matchAll(new RegExp(`^${name}\\s+(.+)$`, "gm"))].map((m) => JSON.parse(m[1]));
            assert.deepEqual(instruction("ENTRYPOINT"), [["/opt/bitnami/scripts/spark/entrypoint.sh"]]);
            assert.deepEqual(instruction("CMD"), [RUN_JOB]);
        });
    });

    describe("memory", () => {
        const planOf = (run: StackRun) => {
            const worker = values(run, "spark").worker;
            return sparkMemoryPlan({
                workerCores: Number(worker.coreLimit),
                workerMemoryGiB: jvmMiB(worker.memoryLimit) / 1024,
                driverPodMiB: quantityMiB(driver(run).resources.limits.memory),
            });
        };

        for (const stack of ["dev", "prod", "local"]) {
            it(`${stack}: every JVM's heap plus overhead fits its pod, executors take exactly what a worker offers`, () => {
                const run = runs[stack];
                const plan = planOf(run);
                const spark = renderedSpark(run);

                // Driver: spark-submit --driver-memory from the env the component sets; the pod also holds Python.
                const env = envOf(driver(run));
                const driverPodMiB = quantityMiB(driver(run).resources.limits.memory);
                const heap = jvmMiB(env.SPARK_DRIVER_MEMORY);
                assert.equal(heap, plan.driver.heapMiB);
                assert.ok(heap >= MIN_HEAP_MIB, `${stack}: driver heap ${heap}`);
                assert.ok(heap + overheadMiB(heap) + plan.driver.pythonMiB <= driverPodMiB, `${stack}: driver ${heap}m in ${driverPodMiB}Mi`);
                assert.equal(driver(run).resources.requests.memory, driver(run).resources.limits.memory);

                // Master: SPARK_DAEMON_MEMORY as the chart renders it, below the rendered pod limit.
                const masterHeap = jvmMiB(spark.env("spark-master").SPARK_DAEMON_MEMORY);
                assert.equal(masterHeap, DAEMON_HEAP_MIB);
                assert.ok(masterHeap + overheadMiB(masterHeap) <= quantityMiB(spark.container("spark-master").resources.limits.memory));

                // Worker: daemon JVM plus the executor JVM it launches, all in the worker pod.
                const workerEnv = spark.env("spark-worker");
                const daemonHeap = jvmMiB(workerEnv.SPARK_DAEMON_MEMORY);
                const offeredMiB = jvmMiB(workerEnv.SPARK_WORKER_MEMORY);
                const offeredCores = Number(workerEnv.SPARK_WORKER_CORES);
                assert.equal(daemonHeap, plan.worker.daemon.heapMiB);
                assert.deepEqual([offeredMiB, offeredCores], [plan.worker.offeredMiB, plan.worker.offeredCores]);
                assert.equal(offeredCores, Number(values(run, "spark").worker.coreLimit));
                const executorHeap = jvmMiB(env.SPARK_EXECUTOR_MEMORY);
                assert.equal(Number(env.SPARK_EXECUTOR_CORES), offeredCores, "one executor takes all of a worker's cores");
                assert.ok(executorHeap >= MIN_HEAP_MIB);
                assert.ok(
                    executorHeap + overheadMiB(executorHeap) <= offeredMiB,
                    `${stack}: executor ${executorHeap}m in an offer of ${offeredMiB}Mi`,
                );
                assert.ok(offeredMiB - (executorHeap + overheadMiB(executorHeap)) < 64, "the executor uses the offer");
                const workerPodMiB = quantityMiB(spark.container("spark-worker").resources.limits.memory);
                assert.ok(
                    daemonHeap + overheadMiB(daemonHeap) + executorHeap + overheadMiB(executorHeap) <= workerPodMiB,
                    `${stack}: worker daemon ${daemonHeap}m and executor ${executorHeap}m in ${workerPodMiB}Mi`,
                );
            });
        }

        it("shows the same heaps in the capacity report", async () => {
            const prices = loadPrices();
            const overrides: Record<string, ConfigOverrides> = { devWithoutBuild: { buildImages: false } };
            for (const [stack, run] of Object.entries(runs)) {
                const name = stack in overrides ? "dev" : stack;
                const report = buildReport(name, await renderStack(name, overrides[stack]), prices);
                const env = envOf(driver(run));
                const spark = values(run, "spark");
                const memory = report.sparkMemory!;
                assert.deepEqual(memory, planOf(run));
                assert.equal(`${memory.driver.heapMiB}m`, env.SPARK_DRIVER_MEMORY);
                assert.equal(`${memory.executor.heapMiB}m`, env.SPARK_EXECUTOR_MEMORY);
                assert.equal(String(memory.executor.cores), env.SPARK_EXECUTOR_CORES);
                assert.equal(`${memory.master.heapMiB}m`, spark.master.daemonMemoryLimit);
                assert.equal(`${memory.worker.daemon.heapMiB}m`, spark.worker.daemonMemoryLimit);
                assert.equal(`${memory.master.podMiB}Mi`, spark.master.resources.limits.memory);
            }
        });

        it("refuses a driver pod too small for a 512Mi heap, naming the key", async () => {
            const message = await refused("dev", { streamDriverMemory: "1024Mi" });
            assert.match(message, /streaming-platform:streamDriverMemory = "1024Mi": at least 1152Mi: a driver heap of at least 512Mi/);
            const smallest = await evaluated("dev", { streamDriverMemory: "1152Mi" });
            assert.equal(envOf(driver(smallest)).SPARK_DRIVER_MEMORY, "512m");
        });
    });

    describe("executors' block managers", () => {
        it("are reachable on the workers from the driver and other workers only, on spark.blockManager.port", () => {
            for (const [stack, run] of Object.entries(runs)) {
                const spark = renderedSpark(run);
                const port = Number(envOf(driver(run)).SPARK_BLOCKMANAGER_PORT);
                assert.equal(port, 7079);
                const policy = spark.find("NetworkPolicy", "spark-worker");
                const rules = policy.spec.ingress.filter((rule: any) => rule.ports.some((p: any) => p.port === port));
                assert.equal(rules.length, 1, `${stack}: the worker NetworkPolicy admits block-manager port ${port} in one rule`);
                const [rule] = rules;
                assert.ok(rule.from?.length > 0, "not from anywhere");
                assert.ok(
                    rule.from.every((peer: any) => peer.podSelector && !peer.namespaceSelector && !peer.ipBlock),
                    "pods of the spark namespace only",
                );
                const admits = (labels: Record<string, string>) =>
                    rule.from.some((peer: any) => Object.entries<string>(peer.podSelector.matchLabels ?? {}).every(([k, v]) => labels[k] === v));
                assert.ok(admits(pod(run).metadata.labels), `${stack}: the driver pod is not admitted`);
                assert.ok(
                    admits(spark.find("StatefulSet", "spark-worker").spec.template.metadata.labels),
                    `${stack}: other executors are not admitted`,
                );
                assert.ok(!admits(spark.find("StatefulSet", "spark-master").spec.template.metadata.labels), "the master fetches no blocks");
            }
        });
    });

    describe("checkpoint volume", () => {
        it("is a regional persistent disk on the regional prod cluster, retained under deletion protection", () => {
            const run = runs.prod;
            const [storageClass] = ofType(run, STORAGE_CLASS);
            assert.ok(storageClass, "no StorageClass for the checkpoint");
            assert.equal(ofType(run, STORAGE_CLASS).length, 1);
            const { metadata, apiVersion, kind, ...spec } = storageClass.inputs;
            assert.deepEqual([apiVersion, kind], ["storage.k8s.io/v1", "StorageClass"]);
            assert.deepEqual(spec, {
                provisioner: "pd.csi.storage.gke.io",
                parameters: { type: "pd-balanced", "replication-type": "regional-pd" },
                volumeBindingMode: "WaitForFirstConsumer",
                allowVolumeExpansion: true,
                reclaimPolicy: "Retain",
            });
            const claim = ofType(run, PVC).find((c) => c.inputs.metadata.name.startsWith("crypto-ticks-stream-checkpoint"))!;
            assert.equal(claim.inputs.spec.storageClassName, metadata.name);
            assert.equal(quantityMiB(claim.inputs.spec.resources.requests.storage) >= 10 * 1024, true);
            const volume = pod(run).spec.volumes.find((v: any) => v.persistentVolumeClaim);
            assert.equal(volume.persistentVolumeClaim.claimName, claim.inputs.metadata.name);
        });

        it("is deleted with its claim on a regional cluster without deletion protection", async () => {
            const run = await evaluated("prod", { deletionProtection: false });
            assert.equal(ofType(run, STORAGE_CLASS)[0].inputs.reclaimPolicy, "Delete");
        });

        it("keeps the cluster's default class on zonal dev and local", () => {
            for (const stack of ["dev", "local"]) {
                const run = runs[stack];
                assert.equal(ofType(run, STORAGE_CLASS).length, 0, stack);
                const claim = ofType(run, PVC).find((c) => c.inputs.metadata.name.startsWith("crypto-ticks-stream-checkpoint"))!;
                assert.equal(claim.inputs.spec.storageClassName, undefined, stack);
                assert.equal(claim.inputs.metadata.name, "crypto-ticks-stream-checkpoint", "the existing claim stays");
            }
        });

        it("refuses a checkpoint below 10Gi on a regional cluster, naming the key", async () => {
            const message = await refused("prod", { streamCheckpointStorage: "5Gi" });
            assert.match(message, /streaming-platform:streamCheckpointStorage = "5Gi": at least 10Gi on a regional cluster/);
            await evaluated("dev", { streamCheckpointStorage: "1Gi" });
        });
    });
});
