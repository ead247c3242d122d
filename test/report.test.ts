import { strict as assert } from "assert";
import { spawnSync } from "child_process";
import * as fs from "fs";
import * as os from "os";
import * as path from "path";
import { buildReport } from "../report";
import { gkeAllocatable } from "../report/allocatable";
import { GKE_SYSTEM_PODS, REQUIRED_HEADROOM } from "../report/capacity";
import { CostEstimate } from "../report/cost";
import { loadPrices } from "../report/priceTable";
import { Report } from "../report/render";
import { podResources, runsToCompletion } from "../report/workloads";
import { cpuMillis, memoryMiB } from "../report/quantities";
import { podTemplate, renderStack, STACK_VARIANTS, WORKLOAD_KINDS } from "../offline/render";
import { sparkMemoryPlan } from "../components/data/sparkMemory";
import { ConfigOverrides, PROJECT_ROOT } from "../offline/harness";
import { runReport } from "../scripts/report";
import { lockDigest, measuredImageStorage, storageFileOf, writeImageStorage } from "../report/imageStorage";
import { operationsCost } from "../report/operations";

const prices = loadPrices();
const reportOf = async (stack: string, overrides: ConfigOverrides = {}): Promise<Report> =>
    buildReport(stack, await renderStack(stack, overrides), prices);
const costOf = (report: Report): CostEstimate => {
    assert.notEqual(typeof report.cost, "string", String(report.cost));
    return report.cost as CostEstimate;
};
const line = (report: Report, item: RegExp) => costOf(report).lines.find((l) => item.test(l.item))!;

describe("capacity and cost report", () => {
    describe("GKE node allocatable", () => {
        it("reserves CPU and memory the way GKE documents, plus the eviction threshold", () => {
            // 4 vCPU: 60m + 10m + 2 x 5m; 16 GiB: 1 GiB + 0.8 GiB + 0.8 GiB, then 100 MiB for eviction.
            assert.deepEqual(gkeAllocatable({ vcpus: 4, memoryGiB: 16 }), { cpuMillis: 3920, memoryMiB: 16384 - 2662 - 100 });
            // 8 vCPU adds 0.25 % of the 4 cores above 4; 32 GiB adds 6 % of 16 GiB.
            assert.deepEqual(gkeAllocatable({ vcpus: 8, memoryGiB: 32 }), { cpuMillis: 7910, memoryMiB: Math.round(32768 - 3645.44 - 100) });
            assert.equal(gkeAllocatable({ vcpus: 2, memoryGiB: 8 }).cpuMillis, 1930);
            assert.equal(gkeAllocatable({ vcpus: 2, memoryGiB: 0.5 }).memoryMiB, 512 - 255 - 100, "under 1 GiB a flat 255 MiB is reserved");
        });
    });

    describe("workloads", () => {
        it("counts a pod as the scheduler does: containers and sidecars add up, each init container runs beside the sidecars before it", () => {
            const container = (cpu: string, memory: string, restartPolicy?: string) => ({
                resources: { requests: { cpu, memory }, limits: { memory } },
                ...(restartPolicy ? { restartPolicy } : {}),
            });
            // The example of KEP-753 (sidecar containers), "Resources calculation for scheduling and pod admission".
            const pod = podResources({
                containers: [container("100m", "100Mi"), container("50m", "50Mi")],
                initContainers: [container("200m", "200Mi"), container("100m", "10Mi", "Always"), container("300m", "100Mi")],
            });
            assert.deepEqual(
                [pod.cpuRequestMillis, pod.memoryRequestMiB],
                [400, 200],
                "CPU: the third init beside the sidecar (300m + 100m); memory: the first init (200Mi)",
            );
            const limitless = podResources({ containers: [{ resources: { limits: { cpu: "1" } } }, container("100m", "64Mi")] });
            assert.deepEqual(
                [limitless.cpuRequestMillis, limitless.cpuLimitMillis, limitless.memoryLimitMiB],
                [1100, undefined, undefined],
                "a request left out is the limit; a container without a limit leaves the pod without one",
            );
        });

        it("totals every container of every rendered pod of every stack variant", async function () {
            this.timeout(240000);
            // Straight from the manifests: each pod template times its replicas (the autoscaler's minimum where one
            // scales it), every container and sidecar, and the init containers where one of them needs more.
            const request = (c: any, resource: "cpu" | "memory") =>
                (resource === "cpu" ? cpuMillis : memoryMiB)(c.resources?.requests?.[resource] ?? c.resources?.limits?.[resource]);
            for (const [stack, overrides] of STACK_VARIANTS) {
                const rendered = await renderStack(stack, overrides);
                const expected = { pods: 0, cpuMillis: 0, memoryMiB: 0 };
                for (const object of rendered.objects.filter((o) => WORKLOAD_KINDS.includes(o.kind))) {
                    if (/test/.test(object.metadata.annotations?.["helm.sh/hook"] ?? "")) {
                        continue;
                    }
                    const hpa = rendered.objects.find(
                        (o) => o.kind === "HorizontalPodAutoscaler" && o.spec.scaleTargetRef.name === object.metadata.name,
                    );
                    const replicas = /Job/.test(object.kind) ? 1 : (hpa?.spec.minReplicas ?? object.spec.replicas ?? 1);
                    const { spec } = podTemplate(object);
                    const inits: any[] = spec.initContainers ?? [];
                    for (const resource of ["cpu", "memory"] as const) {
                        const sidecarsBefore = (i: number) =>
                            inits
                                .slice(0, i)
                                .filter((c) => c.restartPolicy === "Always")
                                .reduce((n, c) => n + request(c, resource), 0);
                        const running = [...spec.containers, ...inits.filter((c) => c.restartPolicy === "Always")].reduce(
                            (n: number, c: any) => n + request(c, resource),
                            0,
                        );
                        const initPeak = Math.max(0, ...inits.map((c, i) => request(c, resource) + sidecarsBefore(i)));
                        expected[resource === "cpu" ? "cpuMillis" : "memoryMiB"] += replicas * Math.max(running, initPeak);
                    }
                    expected.pods += replicas;
                }
                const { pods, cpuMillis: cpu, memoryMiB: memory } = buildReport(stack, rendered, prices).capacity.totals.atMinReplicas;
                assert.deepEqual({ pods, cpuMillis: cpu, memoryMiB: memory }, expected, `${stack} ${JSON.stringify(overrides)}`);
            }
        });

        it("counts the chart's sidecars, exporters and init containers in each pod", async () => {
            const byName = Object.fromEntries((await reportOf("dev")).workloads.map((w) => [w.name, w]));
            // airflow-web: the web server and the chart's sync-dags sidecar (helm-values/airflow.yaml sizes both).
            assert.deepEqual(byName["airflow-web"].containers, { regular: 2, nativeSidecars: 0, init: 4 });
            assert.equal(byName["airflow-web"].pod.cpuRequestMillis, 250 + 10);
            // The PostgreSQL exporter beside the server; Kafka's JMX exporter beside the broker.
            assert.equal(byName["postgresql-primary"].pod.cpuRequestMillis, 100 + 25, "dev's postgresqlCpu and the exporter's 25m");
            assert.equal(byName["kafka-controller"].pod.memoryRequestMiB, 1536 + 192);
            // dag-processor: its wait-for-db-migrations init container (the chart's "micro" preset, 250m) asks for more
            // CPU than its two containers (100m + 10m), so the pod needs the init container's.
            assert.equal(byName["airflow-dag-processor"].pod.cpuRequestMillis, 250);
        });

        it("sizes every container of every stack explicitly: a CPU and memory request and a memory limit", async () => {
            for (const stack of ["dev", "prod", "local"]) {
                const rendered = await renderStack(stack);
                for (const object of rendered.objects.filter((o) => WORKLOAD_KINDS.includes(o.kind))) {
                    const { spec } = podTemplate(object);
                    for (const c of [...spec.containers, ...(spec.initContainers ?? [])]) {
                        const where = `${stack}: ${object.kind} ${object.metadata.name} container ${c.name}`;
                        assert.ok(
                            cpuMillis(c.resources?.requests?.cpu) > 0 && memoryMiB(c.resources?.requests?.memory) > 0,
                            `${where} requests nothing`,
                        );
                        assert.ok(memoryMiB(c.resources?.limits?.memory) >= memoryMiB(c.resources.requests.memory), `${where} memory limit`);
                    }
                }
            }
        });

        it("counts replicas, autoscaling bounds and volumes per replica from the effective values", async () => {
            const prod = await reportOf("prod");
            const byName = Object.fromEntries(prod.workloads.map((w) => [w.name, w]));
            assert.deepEqual(byName["kafka-controller"].replicas, { min: 3, max: 3 });
            assert.deepEqual(byName["spark-worker"].replicas, { min: 2, max: 4 });
            assert.equal(byName["kafka-controller"].volumeGiBPerReplica, 100);
            assert.equal(byName["crypto-ticks-stream"].volumeGiBPerReplica, 10, "the checkpoint claim the job mounts (a regional PD: 10Gi at least)");
            assert.equal(prod.capacity.volumeGiB, 3 * 100 + 100 + 100 + 2 + 10);
            const dev = await reportOf("dev");
            assert.equal(
                dev.workloads.some((w) => w.name.startsWith("airflow-redis") || w.name === "airflow-worker"),
                false,
                "LocalExecutor runs no Celery",
            );
        });
    });

    describe("fit", () => {
        for (const stack of ["dev", "prod"]) {
            it(`${stack} fits its node pool at minimum size with at least ${REQUIRED_HEADROOM * 100} % of CPU and memory free`, async () => {
                const report = await reportOf(stack);
                assert.deepEqual(report.capacity.problems, []);
                assert.equal(report.fits, true);
                const atMin = report.capacity.atMinNodes!;
                assert.ok(atMin.cpuHeadroom >= REQUIRED_HEADROOM, `CPU headroom ${atMin.cpuHeadroom}`);
                assert.ok(atMin.memoryHeadroom >= REQUIRED_HEADROOM, `memory headroom ${atMin.memoryHeadroom}`);
                // GKE's own pods are part of what is requested.
                // Long-running pods off the Spot pool: Jobs may use the headroom (report/capacity.ts).
                const ours = report.workloads
                    .filter((w) => !report.capacity.spot?.workloads.includes(w.name) && !runsToCompletion(w))
                    .reduce((sum, w) => sum + w.replicas.min * w.pod.cpuRequestMillis, 0);
                assert.equal(
                    atMin.requested.cpuMillis,
                    ours + atMin.nodes * GKE_SYSTEM_PODS.perNode.cpuMillis + GKE_SYSTEM_PODS.perCluster.cpuMillis,
                );
            });
        }

        it("fails a stack whose values outgrow the pool, naming the resource", async () => {
            const report = await reportOf("dev", { kafkaMemory: "24Gi" });
            assert.equal(report.fits, false);
            assert.ok(
                report.capacity.problems.some((p) => /memory free, less than the required 20.0 %/.test(p)),
                report.capacity.problems.join("\n"),
            );
        });

        it("fails a pod that no node can hold, even when the pool could grow", async () => {
            const report = await reportOf("dev", { postgresqlMemory: "31Gi", nodeMaxCount: 9 });
            assert.ok(
                report.capacity.problems.some((p) => /a postgresql-primary pod requests .* more than a e2-highmem-4 node has room for/.test(p)),
                report.capacity.problems.join("\n"),
            );
        });

        it("checks nothing for a stack on an existing cluster", async () => {
            const report = await reportOf("local");
            assert.equal(report.capacity.nodePool, undefined);
            assert.equal(report.fits, true);
            assert.match(String(report.cost), /existing cluster/);
        });
    });

    describe("cost", () => {
        it("keeps dev at or under $75 a month running and $10 paused, its zonal cluster fee covered by the GKE free tier", async () => {
            const cost = costOf(await reportOf("dev"));
            assert.equal(cost.freeTierCredit, 73);
            // $75 is the promise to users (issue 22); dev costs $69.59 (2026-12-08): the $5.41 between them is what a
            // list-price rise of 7 % on every line, or a second boot disk's worth of growth, may take before the test says so.
            assert.ok(cost.totalWithFreeTier.atMinNodes <= 75, `dev costs $${cost.totalWithFreeTier.atMinNodes}`);
            // Paused, dev pays for its volumes, the NAT address, the dumps and the images' copy: $6.99 today. $10 leaves room for the
            // volumes to grow by a third (pd-balanced, $0.10/GiB) before the test asks whether pausing still pays.
            assert.ok(cost.pausedMonthly.withFreeTier <= 10, `dev paused costs $${cost.pausedMonthly.withFreeTier}`);
            const paused = costOf(await reportOf("dev", { paused: true }));
            assert.equal(paused.paused, true);
            assert.equal(paused.totalWithFreeTier.atMinNodes, cost.pausedMonthly.withFreeTier);
            assert.equal(paused.totalWithFreeTier.atMaxNodes, cost.pausedMonthly.withFreeTier);
            assert.equal(cost.total.atMinNodes, +cost.lines.reduce((sum, l) => sum + l.atMinNodes, 0).toFixed(2));
        });

        it("prices each GKE stack's copy of the Bitnami images as measured for the lock it runs, else as assumed", async () => {
            const ar = prices.artifactRegistry;
            for (const stack of ["dev", "prod"]) {
                const copy = line(await reportOf(stack), /^Artifact Registry: the Bitnami images' copy/);
                // The tests' lock is made up: nothing was measured for it.
                assert.match(copy.basis, /assumed: npm run images:mirror measures it/);
                assert.equal(copy.atMinNodes, +(ar.assumedBitnamiCopyGib * ar.storageGibMonth).toFixed(2), stack);
            }
            assert.equal(
                costOf(await reportOf("dev", { paused: true })).lines.filter((l) => /images' copy/.test(l.item)).length,
                1,
                "billed while paused",
            );
            assert.equal(typeof (await reportOf("local")).cost, "string", "local: nothing billed");

            const dir = fs.mkdtempSync(path.join(os.tmpdir(), "image-storage-"));
            try {
                const lockFile = path.join(dir, "images.lock.json");
                const lock = new Map([["docker.io/bitnamilegacy/kafka:4.0.0-debian-12-r10", `sha256:${"a".repeat(64)}`]]);
                assert.equal(measuredImageStorage(lock, lockFile), undefined, "never measured");
                writeImageStorage(lockFile, { lock: lockDigest(lock), bytes: 3 * 2 ** 30, blobs: 40 });
                assert.equal(storageFileOf(lockFile), path.join(dir, "images.storage.json"));
                assert.equal(measuredImageStorage(lock, lockFile)?.bytes, 3 * 2 ** 30);
                const moved = new Map([...lock].map(([image]) => [image, `sha256:${"b".repeat(64)}`]));
                assert.equal(measuredImageStorage(moved, lockFile), undefined, "measured for other digests");
                const measured = operationsCost({ ...(await reportOf("dev")).operations, bitnamiCopy: { gib: 3, measured: true } }, prices).find(
                    (l) => /images' copy/.test(l.item),
                )!;
                assert.match(measured.basis, /^3\.00 GiB, .*measured by npm run images:mirror/);
                assert.equal(measured.monthly, 3 * ar.storageGibMonth);
            } finally {
                fs.rmSync(dir, { recursive: true, force: true });
            }
        });

        it("prices nodes from the machine shape, with the Spot discount only for Spot nodes", async () => {
            const e2 = prices.machineFamilies.e2;
            const hourly = (vcpus: number, gib: number) => vcpus * e2.vcpuHour + gib * e2.gibHour;
            const spot = 1 - prices.spot.assumedDiscount;
            // dev: one node pool, on Spot (nodeSpot), e2-highmem-4.
            const dev = await reportOf("dev");
            assert.equal(line(dev, /^node pool nodes \(e2-highmem-4, Spot\)/).atMinNodes, +(hourly(4, 32) * spot * 730).toFixed(2));
            // prod: the on-demand pool at list price, the Spot pool discounted.
            const prod = await reportOf("prod");
            assert.equal(line(prod, /^on-demand pool nodes \(e2-standard-4\)/).atMinNodes, +(3 * hourly(4, 16) * 730).toFixed(2));
            assert.equal(line(prod, /^spot pool nodes \(e2-standard-8, Spot\)/).atMinNodes, +(hourly(8, 32) * spot * 730).toFixed(2));
            assert.equal(line(prod, /^spot pool nodes/).atMaxNodes, +(3 * hourly(8, 32) * spot * 730).toFixed(2));
        });

        it("keeps prod at minimum size at or under the managed floor, regional with one Kafka controller per zone", async () => {
            const prod = await reportOf("prod");
            const cost = costOf(prod);
            assert.ok(cost.total.atMinNodes <= cost.managedAlternativeMonthly, `prod $${cost.total.atMinNodes} > $${cost.managedAlternativeMonthly}`);
            assert.ok(cost.managedAlternativeMonthly <= 616.01);
            assert.ok(cost.ratios.toManagedFloor <= 1 && cost.ratios.toManagedHa < cost.ratios.toManagedFloor);
            assert.equal(prod.capacity.nodePool!.minNodes, 3, "one on-demand node per zone");
            assert.equal(costOf(prod).freeTierCredit, 0, "regional");
            assert.deepEqual(prod.workloads.find((w) => w.name === "kafka-controller")!.replicas, { min: 3, max: 3 });
            assert.deepEqual(prod.capacity.problems, []);
        });

        it("prices the HA-equivalent managed setup with a source for every figure", () => {
            for (const item of prices.managedHaAlternative.items) {
                assert.ok(item.monthly > 0 && item.sources.length > 0 && item.sources.every((s) => s.startsWith("https://")), item.service);
            }
        });

        it("gives a regional cluster no free tier and charges each LoadBalancer the UIs ask for", async () => {
            const prod = await reportOf("prod");
            assert.equal(costOf(prod).freeTierCredit, 0);
            assert.equal(line(prod, /load balancers/).atMinNodes, 0);
            const exposed = await reportOf("prod", { uiExposure: "LoadBalancer", uiSourceRanges: ["203.0.113.0/24"] });
            assert.match(line(exposed, /load balancers/).basis, /^2 Service/);
            assert.equal(line(exposed, /load balancers/).atMinNodes, +(prices.loadBalancer.first5RulesHour * 730).toFixed(2));
        });

        it("counts exporters, jobs and buckets and prices samples, alerting and backups with sources", async () => {
            const dev = await reportOf("dev");
            const ops = dev.operations;
            assert.deepEqual(
                ops.exporters.map((e) => e.series),
                ["kafka-jmx", "postgres-exporter", "airflow-statsd", "spark", "streaming-job"],
            );
            assert.ok(ops.jobs.some((j) => /CronJob postgresql\/postgresql-backup/.test(j)));
            assert.deepEqual(ops.buckets.includes("postgresql-backups"), true);
            const gmp = prices.managedPrometheus;
            const series = ops.exporters.reduce((n, e) => n + e.targets * gmp.assumedSeriesPerTarget[e.series], 0);
            const samples = (series * 730 * 3600) / ops.scrapeIntervalSeconds;
            assert.equal(line(dev, /^Managed Prometheus samples/).atMinNodes, +((samples / 1e6) * gmp.perMillionSamples).toFixed(2));
            assert.equal(
                line(dev, /^Cloud Monitoring alerting/).atMinNodes,
                +(ops.alertConditions * prices.cloudMonitoring.alertConditionMonth).toFixed(2),
            );
            assert.equal(line(dev, /^PostgreSQL backup bucket/).atMinNodes, +(prices.cloudStorage.assumedDumpGib * 37 * 0.02).toFixed(2));
            assert.equal(line(dev, /^Backup for GKE/), undefined, "dev has no Backup for GKE");
            const prod = await reportOf("prod");
            assert.deepEqual(prod.operations.gkeBackup, { namespaces: ["kafka", "postgresql"], pods: 5, volumeGiB: 500, retainDays: 14 });
            const b = prices.backupForGke;
            assert.equal(
                line(prod, /^Backup for GKE/).atMinNodes,
                +(5 * b.perPodMonth + 500 * (1 + 14 * b.assumedDailyChangeShare) * b.storageGibMonth).toFixed(2),
            );
            for (const section of [
                prices.cloudStorage,
                prices.artifactRegistry,
                prices.backupForGke,
                prices.managedPrometheus,
                prices.cloudMonitoring,
            ]) {
                assert.match(section.source, /https:\/\/cloud\.google\.com\//);
            }
            const text = (await runReport(["prod"])).stdout;
            assert.match(text, /== Operations: exporters, jobs, buckets, alerting, backups/);
            assert.match(text, /Backup for GKE: kafka, postgresql, 5 pod\(s\)/);
            assert.match((await runReport(["dev", "--markdown"])).stdout, /\| Managed Prometheus samples \|/);
            assert.ok(JSON.parse((await runReport(["dev", "--json"])).stdout).operations.exporters.length === 5);
        });

        it("compares with the managed alternative, every figure with a source", () => {
            for (const item of prices.managedAlternative.items) {
                assert.ok(item.monthly > 0 && item.sources.length > 0 && item.sources.every((s) => s.startsWith("https://")), item.service);
            }
            assert.match(prices.compiledOn, /^\d{4}-\d{2}-\d{2}$/);
        });
    });

    describe("npm run report", function () {
        this.timeout(120000);
        const report = (...args: string[]) => runReport(args);

        it("is the command npm runs, with its exit code", () => {
            const result = spawnSync("npm", ["run", "--silent", "report", "--", "staging"], { cwd: PROJECT_ROOT, encoding: "utf8" });
            assert.equal(result.status, 2);
            assert.match(result.stderr, /no stack "staging"/);
        });

        it("prints JSON for machines and exits 0 for a stack that fits", async () => {
            const result = await report("dev", "--json");
            assert.equal(result.code, 0, result.stderr);
            const parsed = JSON.parse(result.stdout);
            assert.equal(parsed.stack, "dev");
            assert.equal(parsed.fits, true);
            // The heaps the Spark components set (components/data/sparkMemory.ts; test/sparkRuntime.test.ts).
            assert.deepEqual(parsed.sparkMemory, sparkMemoryPlan({ workerCores: 1, workerMemoryGiB: 1, driverPodMiB: 1536 }));
        });

        it("prints the Spark heaps of dev: driver, executor and daemons", async () => {
            const result = await report("dev");
            assert.equal(result.code, 0, result.stderr);
            assert.match(result.stdout, /== Spark JVM memory/);
            assert.match(result.stdout, /spark-master +master daemon \(SPARK_DAEMON_MEMORY\) +512Mi +384Mi +- +896Mi +1024Mi/);
            assert.match(
                result.stdout,
                /executor \(spark.executor.memory, 1 core\(s\)\) in the offer of 1 core\(s\) \/ 1024Mi +640Mi +384Mi +- +1920Mi +2048Mi/,
            );
            assert.match(result.stdout, /crypto-ticks-stream +driver \(--driver-memory\) +896Mi +384Mi +256Mi Python +1536Mi +1536Mi/);
        });

        it("exits 1 for a stack that does not fit, after printing why", async () => {
            // As after `pulumi config set nodeMachineType e2-standard-2 -s dev`, without touching the stack file.
            const result = await runReport(["dev", "--markdown"], { nodeMachineType: "e2-standard-2" });
            assert.equal(result.code, 1, result.stderr);
            assert.match(result.stdout, /DOES NOT FIT/);
            assert.match(result.stdout, /\| node pool nodes \(e2-standard-2, Spot\) \|/);
        });

        it("refuses an unknown stack or option, naming what is allowed", async () => {
            const unknownStack = await report("staging");
            assert.equal(unknownStack.code, 2);
            assert.match(unknownStack.stderr, /no stack "staging".*stacks: dev, local, prod/s);
            const unknownOption = await report("dev", "--csv");
            assert.equal(unknownOption.code, 2);
            assert.match(unknownOption.stderr, /--json, --markdown/);
        });
    });
});
