import { ofType, StackRun } from "../offline/harness";
import { TYPES } from "../offline/resourceTypes";
import { CHART_VERSIONS, ChartName, HelmValues, mergeValues, readImageLock } from "../components/data";
import { ChartReference, loadChartReference } from "../offline/chartReference";
import { measuredImageStorage } from "./imageStorage";
import type { PriceTable } from "./priceTable";
import { runsToCompletion, Workload } from "./workloads";

/** One exporter Managed Service for Prometheus scrapes: its pods at minimum replicas and the series each exposes. */
export interface Exporter {
    readonly name: string;
    readonly namespace: string;
    /** Scrape targets (pods) at minimum replicas. */
    readonly targets: number;
    /** Key of the series estimate in report/prices.json managedPrometheus.assumedSeriesPerTarget. */
    readonly series: string;
    /** `rendered`: the values or a PodMonitoring turn it on; `planned`: issue 15 asks for it, not rendered yet. */
    readonly status: "rendered" | "planned";
}

/** What the stack runs for operations: exporters, PodMonitorings, jobs, buckets, alerting, backups. */
export interface Operations {
    readonly exporters: readonly Exporter[];
    readonly podMonitorings: number;
    readonly scrapeIntervalSeconds: number;
    /** Jobs and CronJobs: the program's own and the charts'. */
    readonly jobs: readonly string[];
    /** Cloud Storage buckets the stack creates. */
    readonly buckets: readonly string[];
    readonly alertPolicies: number;
    readonly alertConditions: number;
    readonly dashboards: number;
    /** The PostgreSQL backup CronJob writes to Cloud Storage: days a dump is kept live and as a noncurrent version. */
    readonly postgresqlBackup?: { readonly retentionDays: number; readonly noncurrentDays: number; readonly bucketMadeHere: boolean };
    /** Backup for GKE: pods and volume GiB in the plan's namespaces, days kept. */
    readonly gkeBackup?: { readonly namespaces: readonly string[]; readonly pods: number; readonly volumeGiB: number; readonly retainDays: number };
    /** The stack's copy of the Bitnami images (components/gcp/bitnamiImages.ts): GiB, as `npm run images:mirror` measured it or assumed. */
    readonly bitnamiCopy?: { readonly gib: number; readonly measured: boolean };
}

const CRONJOB = "kubernetes:batch/v1:CronJob";
const BUCKET = "gcp:storage/bucket:Bucket";
const ALERT_POLICY = "gcp:monitoring/alertPolicy:AlertPolicy";
const DASHBOARD = "gcp:monitoring/dashboard:Dashboard";
const BACKUP_PLAN = "gcp:gkebackup/backupPlan:BackupPlan";
const BITNAMI_IMAGES = "streaming-platform:gcp:BitnamiImages";
/** Defaults of backupRetentionDays and backupNoncurrentDays (Pulumi.yaml), for a bucket bootstrap/ made. */
const BOOTSTRAP_BUCKET_DAYS = { retentionDays: 30, noncurrentDays: 7 };

/** A chart's default values with each subchart's defaults under its name, as Helm combines them. */
function chartDefaults(chart: ChartReference): HelmValues {
    const subcharts = Object.fromEntries([...chart.subcharts].map(([name, sub]) => [name, chartDefaults(sub)]));
    return mergeValues(subcharts, chart.values);
}

/** What Helm renders from: chart defaults, then the release's values. */
function effectiveValues(chart: ChartName, releaseValues: HelmValues): HelmValues {
    return mergeValues(chartDefaults(loadChartReference(chart, CHART_VERSIONS[chart])), releaseValues);
}

const minReplicas = (workloads: readonly Workload[], names: readonly string[]) =>
    workloads.filter((w) => names.includes(w.name)).reduce((n, w) => n + w.replicas.min, 0);

/** Seconds in a Prometheus duration such as 30s, 1m or 1m30s. */
function durationSeconds(text: string): number | undefined {
    const parts = [...text.matchAll(/(\d+)(ms|s|m|h)/g)];
    if (parts.length === 0) {
        return undefined;
    }
    const unit = { ms: 0.001, s: 1, m: 60, h: 3600 } as const;
    return parts.reduce((total, [, n, u]) => total + Number(n) * unit[u as keyof typeof unit], 0);
}

export function stackOperations(run: StackRun, workloads: readonly Workload[], prices: PriceTable): Operations {
    const releases = Object.fromEntries(ofType(run, TYPES.helmRelease).map((r) => [r.name, r]));
    const values = (chart: "kafka" | "postgresql" | "airflow" | "spark"): any =>
        releases[chart] ? effectiveValues(chart, releases[chart].inputs.values) : undefined;
    const podMonitorings = run.resources.filter((r) => /:(Cluster)?PodMonitoring$/.test(r.type));
    const monitored = (pattern: RegExp) => podMonitorings.some((m) => pattern.test(m.inputs?.metadata?.name ?? m.name));
    const kafka = values("kafka");
    const postgresql = values("postgresql");
    const airflow = values("airflow");
    const spark = values("spark");
    const status = (on: boolean | undefined): Exporter["status"] => (on ? "rendered" : "planned");
    const exporters: Exporter[] = [
        ...(kafka
            ? [
                  {
                      name: "Kafka JMX exporter",
                      namespace: "kafka",
                      targets: minReplicas(workloads, ["kafka-controller", "kafka-broker"]),
                      series: "kafka-jmx",
                      status: status(kafka.metrics?.jmx?.enabled),
                  },
              ]
            : []),
        ...(postgresql
            ? [
                  {
                      name: "PostgreSQL exporter",
                      namespace: "postgresql",
                      targets: minReplicas(workloads, ["postgresql", "postgresql-primary", "postgresql-read"]),
                      series: "postgres-exporter",
                      status: status(postgresql.metrics?.enabled),
                  },
              ]
            : []),
        ...(airflow
            ? [
                  {
                      name: "Airflow statsd exporter",
                      namespace: "airflow",
                      targets: 1,
                      series: "airflow-statsd",
                      status: status(airflow.metrics?.enabled),
                  },
              ]
            : []),
        ...(spark
            ? [
                  {
                      name: "Spark master and worker metrics",
                      namespace: "spark",
                      targets: minReplicas(workloads, ["spark-master", "spark-worker"]),
                      series: "spark",
                      status: status(spark.metrics?.enabled),
                  },
              ]
            : []),
        {
            name: "streaming job metrics",
            namespace: "spark",
            targets: 1,
            series: "streaming-job",
            status: status(monitored(/stream|crypto-ticks/)),
        },
    ];
    const intervals = podMonitorings
        .flatMap((m) => (m.inputs?.spec?.endpoints ?? []).map((e: { interval?: string }) => durationSeconds(e.interval ?? "")))
        .filter((s): s is number => s !== undefined);
    const cronJobs = ofType(run, CRONJOB);
    const jobs = [
        ...cronJobs.map((j) => `CronJob ${j.inputs.metadata.namespace}/${j.inputs.metadata.name}`),
        ...ofType(run, TYPES.job).map((j) => `Job ${j.inputs.metadata.namespace}/${j.inputs.metadata.name}`),
        ...workloads.filter((w) => w.kind === "Job" && w.source.includes("release")).map((w) => `Job ${w.namespace}/${w.name} (chart)`),
    ];
    const buckets = ofType(run, BUCKET);
    const backupBucket = buckets.find((b) => /backup/.test(b.name));
    const rule = (field: string) =>
        (backupBucket?.inputs.lifecycleRules ?? []).map((r: any) => r.condition?.[field]).find((v: unknown) => typeof v === "number");
    const uploads = cronJobs.some((j) => j.inputs.metadata.namespace === "postgresql") && ofType(run, TYPES.cluster).length > 0;
    const policies = ofType(run, ALERT_POLICY);
    const plan = ofType(run, BACKUP_PLAN)[0];
    const planNamespaces: string[] = plan?.inputs.backupConfig?.selectedNamespaces?.namespaces ?? [];
    const protectedWorkloads = workloads.filter((w) => planNamespaces.includes(w.namespace) && !runsToCompletion(w));
    const measured = measuredImageStorage(readImageLock().digests);
    return {
        exporters,
        podMonitorings: podMonitorings.length,
        scrapeIntervalSeconds: intervals.length > 0 ? Math.min(...intervals) : prices.managedPrometheus.defaultScrapeIntervalSeconds,
        jobs,
        buckets: buckets.map((b) => b.name),
        alertPolicies: policies.length,
        alertConditions: policies.reduce((n, p) => n + (p.inputs.conditions?.length ?? 0), 0),
        dashboards: ofType(run, DASHBOARD).length,
        postgresqlBackup: uploads
            ? backupBucket
                ? { retentionDays: rule("age") ?? 0, noncurrentDays: rule("daysSinceNoncurrentTime") ?? 0, bucketMadeHere: true }
                : { ...BOOTSTRAP_BUCKET_DAYS, bucketMadeHere: false }
            : undefined,
        gkeBackup: plan
            ? {
                  namespaces: planNamespaces,
                  pods: protectedWorkloads.reduce((n, w) => n + w.replicas.min, 0),
                  volumeGiB: protectedWorkloads.reduce((n, w) => n + w.replicas.min * w.volumeGiBPerReplica, 0),
                  retainDays: plan.inputs.retentionPolicy?.backupRetainDays ?? 0,
              }
            : undefined,
        bitnamiCopy: run.resources.some((r) => r.type === BITNAMI_IMAGES)
            ? measured
                ? { gib: measured.bytes / 2 ** 30, measured: true }
                : { gib: prices.artifactRegistry.assumedBitnamiCopyGib, measured: false }
            : undefined,
    };
}

/** Samples a month of the exporters at the scrape interval. */
export function samplesPerMonth(ops: Operations, prices: PriceTable): number {
    const perSeries = (prices.hoursPerMonth * 3600) / ops.scrapeIntervalSeconds;
    return ops.exporters.reduce((n, e) => n + e.targets * (prices.managedPrometheus.assumedSeriesPerTarget[e.series] ?? 0) * perSeries, 0);
}

export interface OperationsLine {
    readonly item: string;
    readonly basis: string;
    readonly monthly: number;
}

/** The monthly cost lines of operations: Managed Prometheus samples, alerting, PostgreSQL dumps, the images' copy, Backup for GKE. */
export function operationsCost(ops: Operations, prices: PriceTable): OperationsLine[] {
    const gmp = prices.managedPrometheus;
    const samples = samplesPerMonth(ops, prices);
    const series = ops.exporters.reduce((n, e) => n + e.targets * (gmp.assumedSeriesPerTarget[e.series] ?? 0), 0);
    const planned = ops.exporters.filter((e) => e.status === "planned").map((e) => e.name);
    const lines: OperationsLine[] = [
        {
            item: "Managed Prometheus samples",
            basis: `${ops.exporters.length} exporter(s), ${ops.exporters.reduce((n, e) => n + e.targets, 0)} target(s), ~${series} series (assumed per exporter) every ${ops.scrapeIntervalSeconds}s = ${(samples / 1e6).toFixed(1)}M samples at $${gmp.perMillionSamples}/million; ${ops.podMonitorings} PodMonitoring(s) rendered${planned.length > 0 ? `; counted though not rendered yet: ${planned.join(", ")}` : ""}`,
            monthly: (samples / 1e6) * gmp.perMillionSamples,
        },
        {
            item: "Cloud Monitoring alerting and dashboards",
            basis: `${ops.alertPolicies} alert policy(ies) with ${ops.alertConditions} condition(s) at $${prices.cloudMonitoring.alertConditionMonth}/condition; ${ops.dashboards} dashboard(s), free`,
            monthly: ops.alertConditions * prices.cloudMonitoring.alertConditionMonth + ops.dashboards * prices.cloudMonitoring.dashboardMonth,
        },
    ];
    if (ops.postgresqlBackup) {
        const { retentionDays, noncurrentDays, bucketMadeHere } = ops.postgresqlBackup;
        const gib = prices.cloudStorage.assumedDumpGib * (retentionDays + noncurrentDays);
        lines.push({
            item: "PostgreSQL backup bucket",
            basis: `${prices.cloudStorage.assumedDumpGib} GiB per daily dump (assumed) x (${retentionDays} days kept + ${noncurrentDays} noncurrent) = ${gib} GiB Standard at $${prices.cloudStorage.standardGibMonth}/GiB${bucketMadeHere ? "" : " (bucket made by bootstrap/, its default retention assumed)"}`,
            monthly: gib * prices.cloudStorage.standardGibMonth,
        });
    }
    if (ops.bitnamiCopy) {
        const { gib, measured } = ops.bitnamiCopy;
        lines.push({
            item: "Artifact Registry: the Bitnami images' copy",
            basis: `${gib.toFixed(2)} GiB, every pinned image and platform (${measured ? "measured by npm run images:mirror" : "assumed: npm run images:mirror measures it"}) at $${prices.artifactRegistry.storageGibMonth}/GiB; the pipeline images' repository is not counted`,
            monthly: gib * prices.artifactRegistry.storageGibMonth,
        });
    }
    if (ops.gkeBackup) {
        const b = prices.backupForGke;
        const { pods, volumeGiB, retainDays, namespaces } = ops.gkeBackup;
        const stored = volumeGiB * (1 + retainDays * b.assumedDailyChangeShare);
        lines.push({
            item: "Backup for GKE",
            basis: `${pods} protected pod(s) in ${namespaces.join(", ")} at $${b.perPodMonth}/pod (assumed rate); ${volumeGiB} GiB of volumes counted full, + ${b.assumedDailyChangeShare * 100} % a day for ${retainDays} days kept = ${Math.round(stored)} GiB at $${b.storageGibMonth}/GiB (assumed rate)`,
            monthly: pods * b.perPodMonth + stored * b.storageGibMonth,
        });
    }
    return lines;
}
