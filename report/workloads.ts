import { CHART_VERSIONS, ChartName, HelmValues, mergeValues } from "../components/data";
import { ChartReference, loadChartReference } from "../offline/chartReference";
import { ofType, RecordedResource, StackRun } from "../offline/harness";
import { BITNAMI_RESOURCE_PRESETS } from "./presets";
import { cpuMillis, memoryMiB, storageGiB } from "./quantities";
import { TYPES } from "../offline/resourceTypes";

/** Requests and limits of one pod; a limit of undefined means none. */
export interface PodResources {
    readonly cpuRequestMillis: number;
    readonly cpuLimitMillis?: number;
    readonly memoryRequestMiB: number;
    readonly memoryLimitMiB?: number;
}

export interface Workload {
    readonly namespace: string;
    readonly name: string;
    readonly kind: "StatefulSet" | "Deployment" | "Job";
    /** Where its numbers come from: a release's values path or a Kubernetes object of the program. */
    readonly source: string;
    readonly replicas: { readonly min: number; readonly max: number };
    readonly pod: PodResources;
    /** Bitnami presets that filled in for missing `resources`. */
    readonly presets: readonly string[];
    /** Persistent volume of each replica, in GiB. */
    readonly volumeGiBPerReplica: number;
}

type Values = any;

/** A component of a chart: where its values live and how the chart names and runs it. */
interface ChartComponent {
    readonly path: readonly string[];
    readonly name: (v: Values) => string;
    readonly kind: Workload["kind"];
    readonly enabled?: (v: Values) => boolean;
    /** For components whose replica count is not theirs to choose. */
    readonly fixedReplicas?: number;
}

const component = (
    path: string[],
    kind: Workload["kind"],
    name: string | ((v: Values) => string),
    rest: Partial<ChartComponent> = {},
): ChartComponent => ({ path, kind, name: typeof name === "string" ? () => name : name, ...rest });

/** The workloads each pinned chart runs, named as the chart names them for release name = chart name. */
const CHART_COMPONENTS: Readonly<Record<ChartName, readonly ChartComponent[]>> = {
    kafka: [
        component(["controller"], "StatefulSet", "kafka-controller"),
        component(["broker"], "StatefulSet", "kafka-broker"),
        component(["provisioning"], "Job", "kafka-provisioning", { enabled: (v) => v.provisioning.enabled, fixedReplicas: 1 }),
    ],
    postgresql: [
        component(["primary"], "StatefulSet", (v) => (v.architecture === "replication" ? "postgresql-primary" : "postgresql"), { fixedReplicas: 1 }),
        component(["readReplicas"], "StatefulSet", "postgresql-read", { enabled: (v) => v.architecture === "replication" }),
    ],
    spark: [
        component(["master"], "StatefulSet", "spark-master", { enabled: (v) => v.master.enabled !== false, fixedReplicas: 1 }),
        component(["worker"], "StatefulSet", "spark-worker"),
    ],
    airflow: [
        component(["web"], "Deployment", "airflow-web"),
        component(["scheduler"], "Deployment", "airflow-scheduler"),
        component(["dagProcessor"], "Deployment", "airflow-dag-processor", { enabled: (v) => v.dagProcessor.enabled }),
        component(["triggerer"], "StatefulSet", "airflow-triggerer", { enabled: (v) => v.triggerer.enabled }),
        component(["worker"], "StatefulSet", "airflow-worker", { enabled: (v) => String(v.executor).includes("Celery") }),
        component(["setupDBJob"], "Job", "airflow-setup-db", { enabled: (v) => v.setupDBJob.enabled, fixedReplicas: 1 }),
        component(["metrics"], "Deployment", "airflow-statsd", { enabled: (v) => v.metrics.enabled, fixedReplicas: 1 }),
        component(["redis", "master"], "StatefulSet", "airflow-redis-master", { enabled: (v) => v.redis.enabled, fixedReplicas: 1 }),
        component(["redis", "replica"], "StatefulSet", "airflow-redis-replicas", {
            enabled: (v) => v.redis.enabled && v.redis.architecture === "replication",
        }),
    ],
};

/** A chart's default values with each subchart's defaults under its name, as Helm combines them. */
function chartDefaults(chart: ChartReference): HelmValues {
    const subcharts = Object.fromEntries([...chart.subcharts].map(([name, sub]) => [name, chartDefaults(sub)]));
    return mergeValues(subcharts, chart.values);
}

/** What Helm renders from: chart defaults, then the release's values. */
export function effectiveValues(chart: ChartName, releaseValues: HelmValues): HelmValues {
    return mergeValues(chartDefaults(loadChartReference(chart, CHART_VERSIONS[chart])), releaseValues);
}

interface ResourceSpec {
    requests?: { cpu?: string; memory?: string };
    limits?: { cpu?: string; memory?: string };
}

/** A container's resources as Kubernetes applies them: a request defaults to the limit. */
function containerResources(spec: ResourceSpec): PodResources {
    const cpuLimit = spec.limits?.cpu === undefined ? undefined : cpuMillis(spec.limits.cpu);
    const memoryLimit = spec.limits?.memory === undefined ? undefined : memoryMiB(spec.limits.memory);
    return {
        cpuRequestMillis: spec.requests?.cpu === undefined ? (cpuLimit ?? 0) : cpuMillis(spec.requests.cpu),
        cpuLimitMillis: cpuLimit,
        memoryRequestMiB: spec.requests?.memory === undefined ? (memoryLimit ?? 0) : memoryMiB(spec.requests.memory),
        memoryLimitMiB: memoryLimit,
    };
}

const addLimit = (a?: number, b?: number) => (a === undefined || b === undefined ? undefined : a + b);
const maxLimit = (a?: number, b?: number) => (a === undefined || b === undefined ? undefined : Math.max(a, b));

function sumPods(pods: PodResources[]): PodResources {
    return pods.reduce(
        (total, pod) => ({
            cpuRequestMillis: total.cpuRequestMillis + pod.cpuRequestMillis,
            cpuLimitMillis: addLimit(total.cpuLimitMillis, pod.cpuLimitMillis),
            memoryRequestMiB: total.memoryRequestMiB + pod.memoryRequestMiB,
            memoryLimitMiB: addLimit(total.memoryLimitMiB, pod.memoryLimitMiB),
        }),
        { cpuRequestMillis: 0, cpuLimitMillis: 0, memoryRequestMiB: 0, memoryLimitMiB: 0 },
    );
}

/** Init containers run one after another before the others start: the pod needs the larger of the two. */
function withInitContainers(containers: PodResources, inits: PodResources[]): PodResources {
    return inits.reduce(
        (pod, init) => ({
            cpuRequestMillis: Math.max(pod.cpuRequestMillis, init.cpuRequestMillis),
            cpuLimitMillis: maxLimit(pod.cpuLimitMillis, init.cpuLimitMillis),
            memoryRequestMiB: Math.max(pod.memoryRequestMiB, init.memoryRequestMiB),
            memoryLimitMiB: maxLimit(pod.memoryLimitMiB, init.memoryLimitMiB),
        }),
        containers,
    );
}

function hasResources(spec: ResourceSpec | undefined): spec is ResourceSpec {
    return spec !== undefined && Object.keys({ ...spec.requests, ...spec.limits }).length > 0;
}

/** A component's resources, or the preset the chart falls back to without them. */
function componentResources(values: Values, where: string): { spec: ResourceSpec; preset?: string } {
    if (hasResources(values.resources)) {
        return { spec: values.resources };
    }
    const preset: string | undefined = values.resourcesPreset;
    if (preset === undefined || preset === "none") {
        return { spec: {} };
    }
    const resolved = BITNAMI_RESOURCE_PRESETS[preset];
    if (!resolved) {
        throw new Error(`${where}.resourcesPreset is "${preset}", not one of ${Object.keys(BITNAMI_RESOURCE_PRESETS).join(", ")}`);
    }
    return { spec: resolved, preset };
}

function replicasOf(values: Values): Workload["replicas"] {
    const count = values.replicaCount ?? 1;
    // Charts put HorizontalPodAutoscaler settings at autoscaling.hpa or directly at autoscaling.
    const hpa = values.autoscaling?.hpa ?? values.autoscaling;
    return hpa?.enabled ? { min: hpa.minReplicas ?? count, max: hpa.maxReplicas ?? count } : { min: count, max: count };
}

function chartWorkloads(release: RecordedResource, chart: ChartName): Workload[] {
    const values = effectiveValues(chart, release.inputs.values);
    return CHART_COMPONENTS[chart]
        .filter((c) => c.enabled?.(values) ?? true)
        .map((c): Workload => {
            const where = c.path.join(".");
            const settings: Values = c.path.reduce<Values>((v, key) => v?.[key], values);
            const main = componentResources(settings, where);
            const sidecars = (settings.sidecars ?? []).map((s: { resources?: ResourceSpec }) => containerResources(s.resources ?? {}));
            const persistence = settings.persistence;
            return {
                namespace: release.inputs.namespace,
                name: c.name(values),
                kind: c.kind,
                source: `${chart} release: ${where}`,
                replicas: c.fixedReplicas === undefined ? replicasOf(settings) : { min: c.fixedReplicas, max: c.fixedReplicas },
                pod: sumPods([containerResources(main.spec), ...sidecars]),
                presets: main.preset ? [main.preset] : [],
                volumeGiBPerReplica: persistence?.enabled ? storageGiB(persistence.size) : 0,
            };
        })
        .filter((w) => w.replicas.max > 0);
}

/** Deployments and StatefulSets the program creates itself, with the claims they mount. */
function programWorkloads(run: StackRun): Workload[] {
    const claims = new Map(
        ofType(run, TYPES.persistentVolumeClaim).map((claim) => [
            `${claim.inputs.metadata.namespace}/${claim.inputs.metadata.name}`,
            storageGiB(claim.inputs.spec.resources.requests.storage),
        ]),
    );
    return (["Deployment", "StatefulSet"] as const).flatMap((kind) =>
        ofType(run, `kubernetes:apps/v1:${kind}`).map((object): Workload => {
            const { namespace, name } = object.inputs.metadata;
            const pod = object.inputs.spec.template.spec;
            const replicas = object.inputs.spec.replicas ?? 1;
            return {
                namespace,
                name,
                kind,
                source: `${kind} ${namespace}/${name}`,
                replicas: { min: replicas, max: replicas },
                pod: withInitContainers(
                    sumPods(pod.containers.map((c: { resources?: ResourceSpec }) => containerResources(c.resources ?? {}))),
                    (pod.initContainers ?? []).map((c: { resources?: ResourceSpec }) => containerResources(c.resources ?? {})),
                ),
                presets: [],
                volumeGiBPerReplica: (pod.volumes ?? [])
                    .map(
                        (v: { persistentVolumeClaim?: { claimName: string } }) =>
                            v.persistentVolumeClaim && claims.get(`${namespace}/${v.persistentVolumeClaim.claimName}`),
                    )
                    .reduce((total: number, size: number | undefined) => total + (size ?? 0), 0),
            };
        }),
    );
}

/** Every workload the evaluated stack runs, release by release, then the program's own. */
export function stackWorkloads(run: StackRun): Workload[] {
    const releases = ofType(run, TYPES.helmRelease);
    const fromCharts = releases.flatMap((release) => {
        const chart = release.name as ChartName;
        if (!(chart in CHART_COMPONENTS)) {
            throw new Error(`release ${release.name} installs a chart the report does not know`);
        }
        return chartWorkloads(release, chart);
    });
    return [...fromCharts, ...programWorkloads(run)];
}
