import { Capacity, FitCheck, REQUIRED_HEADROOM } from "./capacity";
import { CostEstimate } from "./cost";
import { PriceTable } from "./priceTable";
import { Workload } from "./workloads";
import { Operations } from "./operations";
import { KIND_REQUIRED_CPU_HEADROOM, KIND_RUNNER, KIND_SYSTEM_PODS, KindRunnerFit } from "./kindRunner";
import { SparkMemoryPlan } from "../components/data/sparkMemory";

export interface Report {
    readonly stack: string;
    readonly fits: boolean;
    readonly workloads: readonly Workload[];
    readonly capacity: Capacity;
    /** JVM heaps in the Spark pods, as the components set them. */
    readonly sparkMemory?: SparkMemoryPlan;
    /** On an existing cluster: the fit on the kind end-to-end's runner (report/kindRunner.ts). */
    readonly kindRunner?: KindRunnerFit;
    /** Exporters, PodMonitorings, jobs, buckets, alerting and backups the stack runs. */
    readonly operations: Operations;
    /** The estimate, or why there is none. */
    readonly cost: CostEstimate | string;
}

const cpu = (millis?: number) => (millis === undefined ? "-" : millis >= 1000 ? `${+(millis / 1000).toFixed(2)}` : `${Math.round(millis)}m`);
const memory = (mib?: number) => (mib === undefined ? "-" : mib >= 1024 ? `${+(mib / 1024).toFixed(2)}Gi` : `${Math.round(mib)}Mi`);
const usd = (amount: number) => `$${amount.toFixed(2)}`;
const share = (part: number) => `${(part * 100).toFixed(1)} %`;
const replicas = (w: Workload) => (w.replicas.min === w.replicas.max ? `${w.replicas.min}` : `${w.replicas.min}-${w.replicas.max}`);

const containerCounts = ({ containers: c }: Workload) =>
    [`${c.regular}`, ...(c.nativeSidecars ? [`${c.nativeSidecars} sidecar`] : []), ...(c.init ? [`${c.init} init`] : [])].join(" + ");

type Table = { head: string[]; rows: string[][] };

function workloadTable(workloads: readonly Workload[]): Table {
    return {
        head: ["namespace", "workload", "kind", "replicas", "CPU req", "CPU lim", "mem req", "mem lim", "volume/replica", "containers"],
        rows: workloads.map((w) => [
            w.namespace,
            w.name,
            w.kind,
            replicas(w),
            cpu(w.pod.cpuRequestMillis),
            cpu(w.pod.cpuLimitMillis),
            memory(w.pod.memoryRequestMiB),
            memory(w.pod.memoryLimitMiB),
            w.volumeGiBPerReplica ? `${w.volumeGiBPerReplica}Gi` : "-",
            containerCounts(w),
        ]),
    };
}

function sparkMemoryTable(plan: SparkMemoryPlan): Table {
    const mib = (n: number) => `${n}Mi`;
    const { master, worker, executor, driver } = plan;
    const workerUsed = worker.daemon.heapMiB + worker.daemon.overheadMiB + executor.heapMiB + executor.overheadMiB;
    return {
        head: ["pod", "JVM", "heap", "overhead", "other", "total", "pod limit"],
        rows: [
            [
                "spark-master",
                "master daemon (SPARK_DAEMON_MEMORY)",
                mib(master.heapMiB),
                mib(master.overheadMiB),
                "-",
                mib(master.heapMiB + master.overheadMiB),
                mib(master.podMiB),
            ],
            ["spark-worker", "worker daemon (SPARK_DAEMON_MEMORY)", mib(worker.daemon.heapMiB), mib(worker.daemon.overheadMiB), "-", "", ""],
            [
                "",
                `executor (spark.executor.memory, ${executor.cores} core(s)) in the offer of ${worker.offeredCores} core(s) / ${mib(worker.offeredMiB)}`,
                mib(executor.heapMiB),
                mib(executor.overheadMiB),
                "-",
                mib(workerUsed),
                mib(worker.podMiB),
            ],
            [
                "crypto-ticks-stream",
                "driver (--driver-memory)",
                mib(driver.heapMiB),
                mib(driver.overheadMiB),
                `${mib(driver.pythonMiB)} Python`,
                mib(driver.heapMiB + driver.overheadMiB + driver.pythonMiB),
                mib(driver.podMiB),
            ],
        ],
    };
}

function fitTable(checks: readonly (readonly [string, FitCheck])[]): Table {
    return {
        head: ["", "nodes", "CPU allocatable", "CPU requested", "CPU free", "memory allocatable", "memory requested", "memory free"],
        rows: checks.map(([label, c]) => [
            label,
            `${c.nodes}`,
            cpu(c.allocatable.cpuMillis),
            cpu(c.requested.cpuMillis),
            share(c.cpuHeadroom),
            memory(c.allocatable.memoryMiB),
            memory(c.requested.memoryMiB),
            share(c.memoryHeadroom),
        ]),
    };
}

function costTable(cost: CostEstimate): Table {
    return {
        head: ["item", "basis", "at min nodes", "at max nodes"],
        rows: [
            ...cost.lines.map((l) => [l.item, l.basis, usd(l.atMinNodes), usd(l.atMaxNodes)]),
            ["total", "", usd(cost.total.atMinNodes), usd(cost.total.atMaxNodes)],
            ...(cost.freeTierCredit > 0
                ? [
                      [
                          "total with the GKE free tier",
                          `-${usd(cost.freeTierCredit)} if no other zonal or Autopilot cluster uses the billing account's credit`,
                          usd(cost.totalWithFreeTier.atMinNodes),
                          usd(cost.totalWithFreeTier.atMaxNodes),
                      ],
                  ]
                : []),
        ],
    };
}

interface Section {
    title: string;
    table?: Table;
    lines?: string[];
}

function sections(report: Report, prices: PriceTable): Section[] {
    const { capacity, cost } = report;
    const pool = capacity.nodePool;
    const min = capacity.totals.atMinReplicas;
    const max = capacity.totals.atMaxReplicas;
    const result: Section[] = [
        { title: "Workloads (requests and limits per pod)", table: workloadTable(report.workloads) },
        {
            title: "Totals",
            lines: [
                `at minimum replicas: ${min.pods} pods, ${cpu(min.cpuMillis)} CPU / ${memory(min.memoryMiB)} requested, memory limits ${memory(min.memoryLimitMiB)}`,
                `at maximum replicas: ${max.pods} pods, ${cpu(max.cpuMillis)} CPU / ${memory(max.memoryMiB)} requested, memory limits ${memory(max.memoryLimitMiB)}`,
                `persistent volumes: ${capacity.volumeGiB} GiB`,
            ],
        },
    ];
    if (report.sparkMemory) {
        result.push({
            title: "Spark JVM memory (components/data/sparkMemory.ts)",
            table: sparkMemoryTable(report.sparkMemory),
            lines: [
                "Overhead is Spark's default spark.*.memoryOverhead, max(384Mi, 10 % of the heap): non-heap memory each JVM needs inside its pod.",
            ],
        });
    }
    if (report.kindRunner) {
        const { running, withJobs, problems } = report.kindRunner;
        result.push({
            title: `Fit on the kind end-to-end's runner (${KIND_RUNNER.vcpus} vCPU, ${memory(KIND_RUNNER.memoryMiB)}, ubuntu-24.04)`,
            table: fitTable([
                ["minimum replicas", running],
                ["the same with every Job running", withJobs],
            ]),
            lines: [
                `Requested includes kind's and Calico's own pods: ${cpu(KIND_SYSTEM_PODS.cpuMillis)} CPU / ${memory(KIND_SYSTEM_PODS.memoryMiB)}, and the e2e's fake price API (with the Jobs, its Kafka client too; see report/kindRunner.ts).`,
                problems.length === 0
                    ? `FITS: at least ${share(KIND_REQUIRED_CPU_HEADROOM)} of CPU stays free, and every Job fits beside the rest.`
                    : `DOES NOT FIT:\n${problems.map((p) => `  - ${p}`).join("\n")}`,
            ],
        });
    }
    if (pool?.paused) {
        result.push({
            title: "Fit",
            lines: ["PAUSED (config `paused`): every node pool is at zero nodes; the fit is checked again when `paused` is false."],
        });
    } else if (pool && capacity.atMinNodes && capacity.atMinNodesWithJobs && capacity.atMaxNodes) {
        result.push({
            title: `Fit: ${capacity.spot ? "on-demand pool " : ""}${pool.machine.name} (${pool.machine.vcpus} vCPU, ${pool.machine.memoryGiB} GiB), ${pool.minNodes}-${pool.maxNodes} nodes, allocatable per node ${cpu(pool.allocatablePerNode.cpuMillis)} CPU / ${memory(pool.allocatablePerNode.memoryMiB)}`,
            table: fitTable([
                ["minimum replicas at min nodes", capacity.atMinNodes],
                ["the same with every Job running", capacity.atMinNodesWithJobs],
                ["maximum replicas at max nodes", capacity.atMaxNodes],
                ...(capacity.spot
                    ? ([
                          [`Spot pool ${capacity.spot.nodePool.machine.name}: minimum replicas`, capacity.spot.atMinNodes],
                          [`Spot pool ${capacity.spot.nodePool.machine.name}: maximum replicas at max nodes`, capacity.spot.atMaxNodes],
                      ] as [string, FitCheck][])
                    : []),
            ]),
            lines: [
                "Requested includes an estimate of GKE's own pods (see report/capacity.ts). Jobs and CronJobs hold their requests only while they run: they may use the headroom.",
                ...(capacity.spot
                    ? [
                          `Spot pool (${capacity.spot.nodePool.minNodes}-${capacity.spot.nodePool.maxNodes} nodes, tainted): ${capacity.spot.workloads.join(", ")}; counted at ${capacity.spot.nodesAtMin} node(s), the fewest that give their minimum replicas the required headroom. Everything else runs on the on-demand pool.`,
                      ]
                    : []),
                report.fits
                    ? `FITS: at least ${share(REQUIRED_HEADROOM)} of CPU and memory stay free at the minimum node count, and every Job fits beside the rest.`
                    : `DOES NOT FIT:\n${capacity.problems.map((p) => `  - ${p}`).join("\n")}`,
            ],
        });
    } else {
        result.push({ title: "Fit", lines: ["The stack deploys into an existing cluster: its capacity is not known here."] });
    }
    const ops = report.operations;
    result.push({
        title: "Operations: exporters, jobs, buckets, alerting, backups",
        table: {
            head: ["exporter", "namespace", "targets", "status"],
            rows: ops.exporters.map((e) => [e.name, e.namespace, `${e.targets}`, e.status]),
        },
        lines: [
            `exporters: ${ops.exporters.length} (${ops.exporters.filter((e) => e.status === "planned").length} planned, not rendered yet); PodMonitorings: ${ops.podMonitorings}; scrape interval ${ops.scrapeIntervalSeconds}s`,
            `jobs: ${ops.jobs.length}${ops.jobs.length > 0 ? ` (${ops.jobs.join(", ")})` : ""}`,
            `buckets: ${ops.buckets.length}${ops.buckets.length > 0 ? ` (${ops.buckets.join(", ")})` : ""}${ops.postgresqlBackup && !ops.postgresqlBackup.bucketMadeHere ? "; the PostgreSQL backup bucket is bootstrap/'s" : ""}`,
            `alert policies: ${ops.alertPolicies} (${ops.alertConditions} conditions); dashboards: ${ops.dashboards}`,
            ops.gkeBackup
                ? `Backup for GKE: ${ops.gkeBackup.namespaces.join(", ")}, ${ops.gkeBackup.pods} pod(s), ${ops.gkeBackup.volumeGiB} GiB of volumes, kept ${ops.gkeBackup.retainDays} days`
                : "Backup for GKE: off (stacks with deletionProtection only)",
        ],
    });
    if (typeof cost === "string") {
        result.push({ title: "Monthly cost", lines: [cost] });
    } else {
        result.push({
            title: `Monthly cost estimate (${prices.currency}, ${prices.region} list prices compiled ${prices.compiledOn}, ${prices.hoursPerMonth} h/month)`,
            table: costTable(cost),
            lines: [
                `${cost.paused ? "PAUSED" : "Paused"} (config \`paused\`): ${usd(cost.pausedMonthly.total)}/month${cost.freeTierCredit > 0 ? `, ${usd(cost.pausedMonthly.withFreeTier)} with the GKE free tier` : ""} (${cost.pausedMonthly.basis}).`,
                `At minimum size this is ${cost.ratios.toManagedFloor.toFixed(2)} x the managed floor (${usd(cost.managedAlternativeMonthly)}) and ${cost.ratios.toManagedHa.toFixed(2)} x the HA-equivalent managed setup (${usd(cost.managedHaAlternativeMonthly)}).`,
                "Prices and their sources: report/prices.json. Not included: the pipeline images' Artifact Registry storage, network egress, logging and monitoring beyond the free allotments.",
            ],
        });
        for (const [title, setup, monthly] of [
            ["managed alternative floor", prices.managedAlternative, cost.managedAlternativeMonthly],
            ["HA-equivalent managed setup", prices.managedHaAlternative, cost.managedHaAlternativeMonthly],
        ] as const) {
            result.push({
                title: `For comparison: ${title} ${usd(monthly)}/month`,
                table: {
                    head: ["service", "monthly", "basis", "sources"],
                    rows: setup.items.map((i) => [i.service, usd(i.monthly), i.basis, i.sources.join(" ")]),
                },
                lines: [setup.description],
            });
        }
    }
    return result;
}

function textTable({ head, rows }: Table): string {
    const widths = head.map((h, i) => Math.max(h.length, ...rows.map((r) => r[i].length)));
    const line = (cells: string[]) =>
        cells
            .map((c, i) => c.padEnd(widths[i]))
            .join("  ")
            .trimEnd();
    return [line(head), line(widths.map((w) => "-".repeat(w))), ...rows.map(line)].join("\n");
}

function markdownTable({ head, rows }: Table): string {
    const escape = (cell: string) => cell.replace(/\|/g, "\\|");
    return [head, head.map(() => "---"), ...rows].map((r) => `| ${r.map(escape).join(" | ")} |`).join("\n");
}

export function renderText(report: Report, prices: PriceTable): string {
    return [
        `Capacity and cost of stack ${report.stack}`,
        ...sections(report, prices).map((s) => [`\n== ${s.title}`, ...(s.table ? [textTable(s.table)] : []), ...(s.lines ?? [])].join("\n")),
    ].join("\n");
}

export function renderMarkdown(report: Report, prices: PriceTable): string {
    return sections(report, prices)
        .map((s) =>
            [`#### ${s.title}`, ...(s.table ? [markdownTable(s.table)] : []), ...(s.lines ?? []).map((l) => l.replace(/^ {2}- /gm, "- "))].join(
                "\n\n",
            ),
        )
        .join("\n\n");
}
