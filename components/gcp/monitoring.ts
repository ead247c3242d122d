import * as gcp from "@pulumi/gcp";
import * as pulumi from "@pulumi/pulumi";

/**
 * The platform's alerts and dashboard in Cloud Monitoring, on the metrics Managed Service for Prometheus
 * collects (the streaming job's crypto_ticks_*, the DAG's and Airflow's statsd metrics, the Kafka JMX and
 * PostgreSQL exporters, kubelet volume stats) and on GKE's system metrics (kubernetes.io/*, queried in PromQL
 * as kubernetes_io:*). Every query is scoped to the stack's cluster, so stacks may share a project.
 */

/** The namespaces the platform runs in (index.ts). */
export interface PlatformNamespaces {
    readonly kafka: string;
    readonly postgresql: string;
    readonly spark: string;
    readonly airflow: string;
}

/** What the alert thresholds derive from: the pipeline's configuration. */
export interface PipelineWatch {
    /** The DAG that produces ticks (pipeline/dags/crypto_prices_dag.py). */
    readonly dagId: string;
    /** The streaming job's Deployment; its pods are <name>-<hash>. */
    readonly streamingJob: string;
    /** The symbols the DAG polls (config `cryptoSymbols`): each must get new rows. */
    readonly symbols: readonly string[];
    /** The longest gap between two polls (config `pollSchedule`), in seconds. */
    readonly pollIntervalSeconds: number;
    /** The streaming job's micro-batch interval (config `streamTriggerInterval`), in seconds. */
    readonly triggerIntervalSeconds: number;
    /** Polls without a new row for a symbol before the data-freshness alert fires (config `alertFreshnessPolls`). */
    readonly freshnessPolls: number;
}

export interface PipelineMonitoringArgs {
    readonly project: string;
    /** The GKE cluster's name: the `cluster` label of Managed Prometheus metrics, `cluster_name` of system metrics. */
    readonly clusterName: pulumi.Input<string>;
    readonly namespaces: PlatformNamespaces;
    readonly pipeline: PipelineWatch;
    /**
     * Whether the alert policies exist (config `alertPolicies`): Cloud Monitoring bills each condition monthly,
     * which a dev stack watched on its dashboard can do without.
     */
    readonly alertPolicies: boolean;
    /** One email notification channel each, attached to every policy (config `alertEmails`); empty: none. */
    readonly alertEmails: readonly string[];
    /** The https URL of docs/runbook.md (config `runbookBaseUrl`); empty: the links name the path in the repository. */
    readonly runbookBaseUrl: string;
}

/** One PromQL condition of an alert policy: it fires when the query returns a series for `durationSeconds`. */
export interface AlertCondition {
    readonly name: string;
    readonly query: string;
    readonly durationSeconds: number;
}

/** An alert policy, independent of Pulumi: what the tests and the runbook check. */
export interface AlertSpec {
    /** The Prometheus alerting rule name (alertRule), unique per stack. */
    readonly rule: string;
    readonly title: string;
    readonly severity: "CRITICAL" | "ERROR" | "WARNING";
    /** The heading anchor of its section in docs/runbook.md. */
    readonly runbookAnchor: string;
    /** What it means, in one or two sentences. */
    readonly summary: string;
    readonly conditions: readonly AlertCondition[];
}

/** The thresholds derived from the pipeline's settings. */
export interface AlertThresholds {
    /** A symbol's newest row may be this old (polls × poll interval, plus one micro-batch). */
    readonly freshnessSeconds: number;
    /** The last micro-batch may be this old before the job counts as stalled (the same window). */
    readonly progressSeconds: number;
    /** Consumer lag, in messages, above which growth alerts: the ticks of the freshness window. */
    readonly lagMessages: number;
}

export function alertThresholds(pipeline: PipelineWatch): AlertThresholds {
    const freshnessSeconds = pipeline.freshnessPolls * pipeline.pollIntervalSeconds + pipeline.triggerIntervalSeconds;
    return {
        freshnessSeconds,
        progressSeconds: freshnessSeconds,
        lagMessages: pipeline.freshnessPolls * pipeline.symbols.length,
    };
}

/** The runbook link of an anchor: a URL with runbookBaseUrl, else the path in the repository. */
export function runbookLink(runbookBaseUrl: string, anchor: string): string {
    return `${runbookBaseUrl === "" ? "docs/runbook.md" : runbookBaseUrl}#${anchor}`;
}

/** A container restart counter of GKE's system metrics (kubernetes.io/container/restart_count). */
const RESTARTS = "kubernetes_io:container_restart_count";

/**
 * The share of each PostgreSQL pod's data volume in use: GKE's system metric kubernetes.io/pod/volume/utilization
 * (monitored resource k8s_pod, label volume_name), collected with SYSTEM_COMPONENTS. Not kubelet_volume_stats_*,
 * which Managed Prometheus collects only with kubelet scraping (OperatorConfig kubeletScraping), which is off.
 * `data` is the chart's volumeClaimTemplate (postgresql 16.7.27 templates/primary/statefulset.yaml, read/statefulset.yaml).
 */
const postgresqlVolumeUtilization = (cluster: string, namespace: string) =>
    `kubernetes_io:pod_volume_utilization{monitored_resource="k8s_pod",cluster_name="${cluster}",namespace_name="${namespace}",volume_name="data"}`;

/** Every alert of a stack's pipeline, with the cluster's name in every query. */
export function pipelineAlerts(cluster: string, namespaces: PlatformNamespaces, pipeline: PipelineWatch): AlertSpec[] {
    const t = alertThresholds(pipeline);
    const prom = (metric: string, matchers = "") => `${metric}{cluster="${cluster}"${matchers}}`;
    const containers = (matchers: string) => `${RESTARTS}{monitored_resource="k8s_container",cluster_name="${cluster}",${matchers}}`;
    const all = Object.values(namespaces).join("|");
    const missingSymbols = pipeline.symbols
        .map((symbol) => `absent(${prom("crypto_ticks_newest_event_time_seconds", `,symbol="${symbol}"`)})`)
        .join(" or ");
    const ticks = (metric: string) => `sum(increase(${prom(metric)}[30m]))`;
    return [
        {
            rule: "CryptoTicksStale",
            title: "Data freshness: no new row for a symbol",
            severity: "CRITICAL",
            runbookAnchor: "alert-data-freshness",
            summary: `A symbol's newest row in crypto_ticks is more than ${t.freshnessSeconds} s old (${pipeline.freshnessPolls} poll intervals of ${pipeline.pollIntervalSeconds} s and one micro-batch), or the job has written none for it since it started.`,
            conditions: [
                {
                    name: "newest row per symbol too old",
                    query: `time() - max by (symbol) (${prom("crypto_ticks_newest_event_time_seconds")}) > ${t.freshnessSeconds}`,
                    durationSeconds: 60,
                },
                { name: "a symbol without any row", query: missingSymbols, durationSeconds: t.freshnessSeconds },
            ],
        },
        {
            rule: "CryptoTicksConsumerLagGrowing",
            title: "Consumer lag growing",
            severity: "WARNING",
            runbookAnchor: "alert-consumer-lag-growing",
            summary: `The streaming job is more than ${t.lagMessages} messages (the ticks of the freshness window) behind the topic's end, and the lag kept growing for 15 minutes.`,
            conditions: [
                {
                    name: "lag above the freshness window and rising",
                    query: `sum(${prom("crypto_ticks_consumer_lag")}) > ${t.lagMessages} and sum(delta(${prom("crypto_ticks_consumer_lag")}[15m])) > 0`,
                    durationSeconds: 900,
                },
            ],
        },
        {
            rule: "StreamingJobNotProgressing",
            title: "Streaming job not progressing or restarting",
            severity: "CRITICAL",
            runbookAnchor: "alert-streaming-job-not-progressing-or-restarting",
            summary: `The streaming job finished no micro-batch for ${t.progressSeconds} s, exports no metrics, or its driver restarted at least twice in 30 minutes.`,
            conditions: [
                {
                    name: "last micro-batch too old",
                    query: `time() - max(${prom("crypto_ticks_last_batch_timestamp_seconds")}) > ${t.progressSeconds}`,
                    durationSeconds: 60,
                },
                {
                    name: "no batch metrics",
                    query: `absent(${prom("crypto_ticks_last_batch_timestamp_seconds")})`,
                    durationSeconds: t.progressSeconds,
                },
                {
                    name: "driver restarting",
                    query: `sum by (pod_name) (increase(${containers(`namespace_name="${namespaces.spark}",pod_name=~"${pipeline.streamingJob}-.*"`)}[30m])) >= 2`,
                    durationSeconds: 0,
                },
            ],
        },
        {
            rule: "CryptoPricesDagFailing",
            title: "DAG runs failing",
            severity: "ERROR",
            runbookAnchor: "alert-dag-runs-failing",
            summary: `A run of the DAG ${pipeline.dagId} failed (its retries exhausted) in the last 30 minutes, or more than 10 % of the ticks its task tried to produce failed.`,
            conditions: [
                {
                    name: "failed DAG runs",
                    query: `sum(increase(${prom("airflow_dagrun_failed_count", `,dag_id="${pipeline.dagId}"`)}[30m])) > 0`,
                    durationSeconds: 0,
                },
                {
                    name: "ticks failing",
                    query: `${ticks("airflow_crypto_ticks_failed")} / ((${ticks("airflow_crypto_ticks_produced")} or vector(0)) + ${ticks("airflow_crypto_ticks_failed")}) > 0.1`,
                    durationSeconds: 0,
                },
            ],
        },
        {
            rule: "KafkaPartitionsUnhealthy",
            title: "Kafka under-replicated or offline partitions",
            severity: "CRITICAL",
            runbookAnchor: "alert-kafka-under-replicated-or-offline-partitions",
            summary:
                "A Kafka broker reports under-replicated partitions for 10 minutes, or the active controller reports offline partitions (no leader: reads and writes fail).",
            conditions: [
                {
                    name: "under-replicated partitions",
                    query: `max by (instance) (${prom("kafka_server_replicamanager_total_underreplicatedpartitions_value", `,namespace="${namespaces.kafka}"`)}) > 0`,
                    durationSeconds: 600,
                },
                {
                    name: "offline partitions",
                    query: `max(${prom("kafka_controller_kafkacontroller_offlinepartitionscount_value", `,namespace="${namespaces.kafka}"`)}) > 0`,
                    durationSeconds: 60,
                },
            ],
        },
        {
            rule: "PostgresqlDown",
            title: "PostgreSQL down",
            severity: "CRITICAL",
            runbookAnchor: "alert-postgresql-down",
            summary: "A PostgreSQL exporter cannot reach its server (pg_up == 0) for 2 minutes, or no exporter reports at all for 5 minutes.",
            conditions: [
                {
                    name: "pg_up == 0",
                    query: `min by (instance) (${prom("pg_up", `,namespace="${namespaces.postgresql}"`)}) == 0`,
                    durationSeconds: 120,
                },
                { name: "no exporter reporting", query: `absent(${prom("pg_up", `,namespace="${namespaces.postgresql}"`)})`, durationSeconds: 300 },
            ],
        },
        {
            rule: "PostgresqlVolumeFilling",
            title: "PostgreSQL volume above 80 %",
            severity: "WARNING",
            runbookAnchor: "alert-postgresql-volume-above-80-percent",
            summary: "A PostgreSQL data volume is more than 80 % full; at 100 % PostgreSQL stops writing and the pipeline stops.",
            conditions: [
                {
                    name: "volume above 80 %",
                    query: `max by (pod_name) (${postgresqlVolumeUtilization(cluster, namespaces.postgresql)}) > 0.8`,
                    durationSeconds: 300,
                },
            ],
        },
        {
            rule: "PodCrashLooping",
            title: "Pod crash-looping",
            severity: "ERROR",
            runbookAnchor: "alert-pod-crash-looping",
            summary: `A container in ${Object.values(namespaces).join(", ")} restarted more than twice in 30 minutes.`,
            conditions: [
                {
                    name: "container restarts",
                    query: `sum by (namespace_name, pod_name, container_name) (increase(${containers(`namespace_name=~"${all}"`)}[30m])) > 2`,
                    durationSeconds: 0,
                },
            ],
        },
    ];
}

// The dashboard's JSON, typed after the Cloud Monitoring API's Dashboard (v1) resource.

/** A PromQL time series of a chart. */
interface DataSet {
    readonly timeSeriesQuery: { readonly prometheusQuery: string; readonly unitOverride?: string };
    readonly plotType: "LINE" | "STACKED_AREA" | "STACKED_BAR";
    readonly targetAxis: "Y1";
    readonly legendTemplate?: string;
    readonly minAlignmentPeriod: string;
}

interface Threshold {
    readonly label: string;
    readonly value: number;
    readonly color: "YELLOW" | "RED";
    readonly direction: "ABOVE" | "BELOW";
    readonly targetAxis: "Y1";
}

interface Widget {
    readonly title: string;
    readonly xyChart?: {
        readonly dataSets: readonly DataSet[];
        readonly thresholds?: readonly Threshold[];
        readonly yAxis: { readonly label: string; readonly scale: "LINEAR" };
        readonly chartOptions: { readonly mode: "COLOR" };
    };
    readonly text?: { readonly content: string; readonly format: "MARKDOWN" };
}

export interface DashboardTile {
    readonly xPos: number;
    readonly yPos: number;
    readonly width: number;
    readonly height: number;
    readonly widget: Widget;
}

export interface DashboardDefinition {
    readonly displayName: string;
    readonly mosaicLayout: { readonly columns: number; readonly tiles: readonly DashboardTile[] };
    readonly labels: Record<string, string>;
}

/** The mosaic grid's width (the API allows 1-48 columns); two charts a row. */
export const DASHBOARD_COLUMNS = 48;

/** The charts of the dashboard, in reading order. */
export const DASHBOARD_TILES = [
    "Ticks produced / min",
    "Rows written / min",
    "Freshness per symbol (s since newest row)",
    "Consumer lag (messages)",
    "Batch duration (s)",
    "DAG success rate",
    "Kafka health (partitions)",
    "PostgreSQL health",
    "Node CPU and memory (allocatable utilization)",
    "Pod CPU (cores)",
    "Pod memory (bytes)",
] as const;

export function pipelineDashboard(
    stack: string,
    cluster: string,
    namespaces: PlatformNamespaces,
    pipeline: PipelineWatch,
    runbookBaseUrl: string,
): DashboardDefinition {
    const t = alertThresholds(pipeline);
    const prom = (metric: string, matchers = "") => `${metric}{cluster="${cluster}"${matchers}}`;
    const system = (metric: string, resource: string, matchers = "") =>
        `kubernetes_io:${metric}{monitored_resource="${resource}",cluster_name="${cluster}"${matchers}}`;
    const inPlatform = `,namespace_name=~"${Object.values(namespaces).join("|")}"`;
    const line = (prometheusQuery: string, legendTemplate?: string, unitOverride?: string): DataSet => ({
        timeSeriesQuery: { prometheusQuery, ...(unitOverride ? { unitOverride } : {}) },
        plotType: "LINE",
        targetAxis: "Y1",
        minAlignmentPeriod: "60s",
        ...(legendTemplate ? { legendTemplate } : {}),
    });
    const chart = (title: (typeof DASHBOARD_TILES)[number], label: string, dataSets: DataSet[], thresholds?: Threshold[]): Widget => ({
        title,
        xyChart: { dataSets, yAxis: { label, scale: "LINEAR" }, chartOptions: { mode: "COLOR" }, ...(thresholds ? { thresholds } : {}) },
    });
    const perMinute = (metric: string, matchers = "") => `sum(rate(${prom(metric, matchers)}[5m])) * 60`;
    const dagRuns = (metric: string) => `sum(increase(${prom(metric, `,dag_id="${pipeline.dagId}"`)}[1h]))`;
    const charts: Widget[] = [
        chart("Ticks produced / min", "ticks/min", [
            line(perMinute("airflow_crypto_ticks_produced"), "produced"),
            line(perMinute("airflow_crypto_ticks_failed"), "failed"),
        ]),
        chart("Rows written / min", "rows/min", [
            line(perMinute("crypto_ticks_rows_written_total"), "written"),
            line(perMinute("crypto_ticks_rows_received_total"), "received"),
            line(perMinute("crypto_ticks_rows_duplicate_total"), "duplicate"),
            line(perMinute("crypto_ticks_rows_malformed_total"), "malformed"),
        ]),
        chart(
            "Freshness per symbol (s since newest row)",
            "seconds",
            [line(`time() - max by (symbol) (${prom("crypto_ticks_newest_event_time_seconds")})`, "${labels.symbol}", "s")],
            [{ label: "data-freshness alert", value: t.freshnessSeconds, color: "RED", direction: "ABOVE", targetAxis: "Y1" }],
        ),
        chart(
            "Consumer lag (messages)",
            "messages",
            [line(`sum by (partition) (${prom("crypto_ticks_consumer_lag")})`, "partition ${labels.partition}")],
            [{ label: "lag alert (when growing)", value: t.lagMessages, color: "YELLOW", direction: "ABOVE", targetAxis: "Y1" }],
        ),
        chart("Batch duration (s)", "seconds", [
            line(`max(${prom("crypto_ticks_batch_duration_seconds")})`, "batch duration", "s"),
            line(`time() - max(${prom("crypto_ticks_last_batch_timestamp_seconds")})`, "since last batch", "s"),
        ]),
        chart("DAG success rate", "share of runs (1 h)", [
            line(
                `${dagRuns("airflow_dagrun_duration_count")} / (${dagRuns("airflow_dagrun_duration_count")} + (${dagRuns("airflow_dagrun_failed_count")} or vector(0)))`,
                pipeline.dagId,
                "1",
            ),
        ]),
        chart("Kafka health (partitions)", "partitions", [
            line(
                `sum(${prom("kafka_server_replicamanager_total_underreplicatedpartitions_value", `,namespace="${namespaces.kafka}"`)})`,
                "under-replicated",
            ),
            line(`max(${prom("kafka_controller_kafkacontroller_offlinepartitionscount_value", `,namespace="${namespaces.kafka}"`)})`, "offline"),
            line(
                `sum(${prom("kafka_controller_kafkacontroller_activecontrollercount_value", `,namespace="${namespaces.kafka}"`)})`,
                "active controllers",
            ),
        ]),
        chart("PostgreSQL health", "up / share", [
            line(`min(${prom("pg_up", `,namespace="${namespaces.postgresql}"`)})`, "pg_up (min)"),
            line(`max by (pod_name) (${postgresqlVolumeUtilization(cluster, namespaces.postgresql)})`, "${labels.pod_name} data used"),
            line(`sum(${prom("pg_stat_database_numbackends", `,namespace="${namespaces.postgresql}"`)}) / 100`, "connections / 100"),
        ]),
        chart("Node CPU and memory (allocatable utilization)", "share of allocatable", [
            line(`max by (node_name) (${system("node_cpu_allocatable_utilization", "k8s_node")})`, "cpu ${labels.node_name}", "1"),
            line(
                `max by (node_name) (${system("node_memory_allocatable_utilization", "k8s_node", `,memory_type="non-evictable"`)})`,
                "memory ${labels.node_name}",
                "1",
            ),
        ]),
        chart("Pod CPU (cores)", "cores", [
            line(
                `sum by (namespace_name, pod_name) (rate(${system("container_cpu_core_usage_time", "k8s_container", inPlatform)}[5m]))`,
                "${labels.pod_name}",
            ),
        ]),
        chart("Pod memory (bytes)", "bytes", [
            line(
                `sum by (namespace_name, pod_name) (${system("container_memory_used_bytes", "k8s_container", `${inPlatform},memory_type="non-evictable"`)})`,
                "${labels.pod_name}",
                "By",
            ),
        ]),
    ];
    const width = DASHBOARD_COLUMNS / 2;
    const height = 16;
    const header: DashboardTile = {
        xPos: 0,
        yPos: 0,
        width: DASHBOARD_COLUMNS,
        height: 4,
        widget: {
            title: "Where to look",
            text: {
                format: "MARKDOWN",
                content: `Pipeline health of stack **${stack}** (cluster \`${cluster}\`). Alerts: Monitoring > Alerting, policies named \`[${stack}] ...\`. What each alert means and what to do: ${runbookBaseUrl === "" ? "`docs/runbook.md#10-alerts` in the platform's repository" : `[the runbook](${runbookLink(runbookBaseUrl, "10-alerts")})`}.`,
            },
        },
    };
    const tiles = charts.map((widget, i) => ({ xPos: (i % 2) * width, yPos: header.height + Math.floor(i / 2) * height, width, height, widget }));
    return {
        displayName: `streaming-platform ${stack}: pipeline health`,
        mosaicLayout: { columns: DASHBOARD_COLUMNS, tiles: [header, ...tiles] },
        labels: { "streaming-platform": "", [`stack-${stack}`]: "" },
    };
}

/** What the `alerting` stack output says when no channel is configured. */
export const NO_NOTIFICATIONS = "none configured: alerts show in the console only (set alertEmails to be notified)";

/** A resource name for an email address: stable when others are added or removed. */
function channelName(email: string): string {
    return `alert-email-${email.toLowerCase().replace(/[^a-z0-9]+/g, "-")}`;
}

export class PipelineMonitoring extends pulumi.ComponentResource {
    /** The policies' display names. */
    readonly policyNames: string[];
    readonly policies: gcp.monitoring.AlertPolicy[];
    readonly channels: gcp.monitoring.NotificationChannel[];
    readonly dashboard: gcp.monitoring.Dashboard;
    /** The dashboard in the Cloud Console. */
    readonly dashboardUrl: pulumi.Output<string>;
    /** The `alerting` stack output: the policies and where they notify. */
    readonly summary: { policies: string[]; notifications: string | string[]; runbook: string };

    constructor(name: string, args: PipelineMonitoringArgs, opts?: pulumi.ComponentResourceOptions) {
        super("streaming-platform:gcp:PipelineMonitoring", name, {}, opts);
        const stack = pulumi.getStack();
        const cluster = pulumi.output(args.clusterName);
        // Channels only notify for policies: none without them (and no Cloud Monitoring grant for them, bootstrap/roles.ts).
        this.channels = (args.alertPolicies ? args.alertEmails : []).map(
            (email) =>
                new gcp.monitoring.NotificationChannel(
                    `${name}-${channelName(email)}`,
                    {
                        project: args.project,
                        type: "email",
                        displayName: `streaming-platform ${stack}: ${email}`,
                        labels: { email_address: email },
                        // The cluster's name: what the alerts watch, and an order after the cluster (and the APIs it waits for).
                        userLabels: { stack, cluster },
                    },
                    { parent: this },
                ),
        );
        const channelIds = this.channels.map((channel) => channel.id);
        // The structure is known now; only the cluster's name, in every query, waits for the cluster.
        const specs = pipelineAlerts("<cluster>", args.namespaces, args.pipeline);
        const specsOf = cluster.apply((c) => pipelineAlerts(c, args.namespaces, args.pipeline));
        const enabled = args.alertPolicies ? specs : [];
        this.policyNames = enabled.map((spec) => `[${stack}] ${spec.title}`);
        this.policies = enabled.map((spec, i) => {
            const link = runbookLink(args.runbookBaseUrl, spec.runbookAnchor);
            const linked = args.runbookBaseUrl === "" ? `\`${link}\` in the platform's repository` : `[${link}](${link})`;
            return new gcp.monitoring.AlertPolicy(
                `${name}-${spec.runbookAnchor.replace(/^alert-/, "")}`,
                {
                    project: args.project,
                    displayName: this.policyNames[i],
                    combiner: "OR",
                    severity: spec.severity,
                    conditions: spec.conditions.map((condition, j) => ({
                        displayName: condition.name,
                        conditionPrometheusQueryLanguage: {
                            query: specsOf.apply((all) => all[i].conditions[j].query),
                            duration: `${condition.durationSeconds}s`,
                            evaluationInterval: "60s",
                            ruleGroup: "streaming-platform",
                            alertRule: spec.rule,
                            labels: { severity: spec.severity.toLowerCase(), stack },
                            // The exporters' metrics appear only once their pods are scraped.
                            disableMetricValidation: true,
                        },
                    })),
                    documentation: {
                        mimeType: "text/markdown",
                        subject: `[${stack}] ${spec.title}`,
                        content: pulumi.interpolate`${spec.summary}\n\nStack \`${stack}\`, cluster \`${cluster}\`.\n\nRunbook: ${linked} (what it means, what to check, how to fix).`,
                        links: args.runbookBaseUrl === "" ? [] : [{ displayName: "Runbook", url: link }],
                    },
                    notificationChannels: channelIds,
                    alertStrategy: { autoClose: "1800s" },
                    userLabels: { stack, alert: spec.rule.toLowerCase() },
                },
                { parent: this },
            );
        });
        this.dashboard = new gcp.monitoring.Dashboard(
            `${name}-dashboard`,
            {
                project: args.project,
                dashboardJson: cluster.apply((c) => JSON.stringify(pipelineDashboard(stack, c, args.namespaces, args.pipeline, args.runbookBaseUrl))),
            },
            { parent: this },
        );
        // The dashboard's id is projects/<project>/dashboards/<id>; the console addresses it by the last part.
        this.dashboardUrl = this.dashboard.id.apply(
            (id) => `https://console.cloud.google.com/monitoring/dashboards/builder/${id.split("/").pop()}?project=${args.project}`,
        );
        this.summary = {
            policies: this.policyNames,
            notifications: !args.alertPolicies
                ? "alert policies off (config alertPolicies: false): watch the dashboard"
                : args.alertEmails.length === 0
                  ? NO_NOTIFICATIONS
                  : [...args.alertEmails],
            runbook: runbookLink(args.runbookBaseUrl, "10-alerts"),
        };
        this.registerOutputs({ dashboardUrl: this.dashboardUrl });
    }
}
