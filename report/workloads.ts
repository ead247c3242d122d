import { programObjects } from "../offline/programObjects";
import { Manifest, podTemplate, RenderedStack } from "../offline/render";
import { SPOT_TAINT } from "../components/k8s/placement";
import { cpuMillis, memoryMiB, storageGiB } from "./quantities";

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
    readonly kind: "StatefulSet" | "Deployment" | "Job" | "CronJob";
    /** Who renders it: a chart's release, or the program itself. */
    readonly source: string;
    readonly replicas: { readonly min: number; readonly max: number };
    /** The pod as the scheduler counts it: every container, sidecar and init container (podResources). */
    readonly pod: PodResources;
    /** How many containers of each sort the pod has, to show what `pod` counts: native sidecars are init containers that keep running. */
    readonly containers: { readonly regular: number; readonly nativeSidecars: number; readonly init: number };
    /** Persistent volume of each replica, in GiB: its claim templates and the claims it mounts. */
    readonly volumeGiBPerReplica: number;
    /** Its pod tolerates the Spot pool's taint (components/k8s/placement.ts), so the Spot pool is where it goes. */
    readonly tolerateSpot: boolean;
}

/** Pods of Jobs and CronJobs hold their requests only while they run; the others hold them all the time. */
export const runsToCompletion = (w: Workload) => w.kind === "Job" || w.kind === "CronJob";

interface Container {
    readonly resources?: { requests?: Record<string, string>; limits?: Record<string, string> };
    readonly restartPolicy?: string;
}

/** A container's resources as the API server stores them: a request left out defaults to the limit. */
function containerResources({ resources = {} }: Container): PodResources {
    const cpuLimit = resources.limits?.cpu === undefined ? undefined : cpuMillis(resources.limits.cpu);
    const memoryLimit = resources.limits?.memory === undefined ? undefined : memoryMiB(resources.limits.memory);
    return {
        cpuRequestMillis: resources.requests?.cpu === undefined ? (cpuLimit ?? 0) : cpuMillis(resources.requests.cpu),
        cpuLimitMillis: cpuLimit,
        memoryRequestMiB: resources.requests?.memory === undefined ? (memoryLimit ?? 0) : memoryMiB(resources.requests.memory),
        memoryLimitMiB: memoryLimit,
    };
}

const NOTHING: PodResources = { cpuRequestMillis: 0, cpuLimitMillis: 0, memoryRequestMiB: 0, memoryLimitMiB: 0 };
// A missing limit is no limit: it absorbs any sum or maximum.
const addLimit = (a?: number, b?: number) => (a === undefined || b === undefined ? undefined : a + b);
const maxLimit = (a?: number, b?: number) => (a === undefined || b === undefined ? undefined : Math.max(a, b));
const add = (a: PodResources, b: PodResources): PodResources => ({
    cpuRequestMillis: a.cpuRequestMillis + b.cpuRequestMillis,
    cpuLimitMillis: addLimit(a.cpuLimitMillis, b.cpuLimitMillis),
    memoryRequestMiB: a.memoryRequestMiB + b.memoryRequestMiB,
    memoryLimitMiB: addLimit(a.memoryLimitMiB, b.memoryLimitMiB),
});
const max = (a: PodResources, b: PodResources): PodResources => ({
    cpuRequestMillis: Math.max(a.cpuRequestMillis, b.cpuRequestMillis),
    cpuLimitMillis: maxLimit(a.cpuLimitMillis, b.cpuLimitMillis),
    memoryRequestMiB: Math.max(a.memoryRequestMiB, b.memoryRequestMiB),
    memoryLimitMiB: maxLimit(a.memoryLimitMiB, b.memoryLimitMiB),
});

const isSidecar = (c: Container) => c.restartPolicy === "Always";

/**
 * A pod's effective requests and limits, the rule the scheduler applies (k8s.io/component-helpers v0.35.8,
 * resource/helpers.go, AggregateContainerRequests): the containers and every sidecar (an init container with
 * restartPolicy Always) add up; each plain init container runs alone beside the sidecars started before it,
 * and the pod needs the larger of the two. The pinned charts set no pod overhead (RuntimeClass).
 */
export function podResources(spec: { containers: Container[]; initContainers?: Container[] }): PodResources {
    let running = spec.containers.map(containerResources).reduce(add, NOTHING);
    let sidecars = NOTHING;
    let initPeak = NOTHING;
    for (const init of spec.initContainers ?? []) {
        const own = containerResources(init);
        if (isSidecar(init)) {
            running = add(running, own);
            sidecars = add(sidecars, own);
            initPeak = max(initPeak, sidecars);
        } else {
            initPeak = max(initPeak, add(own, sidecars));
        }
    }
    return max(running, initPeak);
}

const HELM_TEST_HOOKS = new Set(["test", "test-success", "test-failure"]);
/** `helm test` pods run only when someone runs it; every other hook (install, upgrade) runs with the release. */
const isHelmTest = (object: Manifest) =>
    (object.metadata.annotations?.["helm.sh/hook"] ?? "").split(",").some((hook) => HELM_TEST_HOOKS.has(hook.trim()));

const key = (namespace: string | undefined, name: string) => `${namespace}/${name}`;

/** Replica bounds: a HorizontalPodAutoscaler's when one scales the workload, else its own count. */
function replicasOf(object: Manifest, autoscalers: ReadonlyMap<string, Manifest>): Workload["replicas"] {
    if (object.kind === "Job" || object.kind === "CronJob") {
        const job = object.kind === "CronJob" ? object.spec.jobTemplate.spec : object.spec;
        const parallel = job.parallelism ?? 1;
        return { min: parallel, max: parallel };
    }
    // The HPA controller resolves the kind as the API names it or all in lower case, as the spark chart writes it
    // (client-go v0.35.8 restmapper/discovery.go); any other spelling scales nothing.
    const hpa = [object.kind, object.kind.toLowerCase()]
        .map((kind) => autoscalers.get(`${kind}/${key(object.metadata.namespace, object.metadata.name)}`))
        .find(Boolean);
    if (hpa) {
        return { min: hpa.spec.minReplicas ?? 1, max: hpa.spec.maxReplicas };
    }
    const count = object.spec.replicas ?? 1;
    return { min: count, max: count };
}

/** GiB each replica claims: its StatefulSet claim templates and the claims its pod mounts. */
function volumePerReplica(object: Manifest, claims: ReadonlyMap<string, number>): number {
    const templates = (object.kind === "StatefulSet" ? (object.spec.volumeClaimTemplates ?? []) : []) as Manifest[];
    const mounted = (podTemplate(object).spec.volumes ?? []).map(
        (v: { persistentVolumeClaim?: { claimName: string } }) =>
            (v.persistentVolumeClaim && claims.get(key(object.metadata.namespace, v.persistentVolumeClaim.claimName))) ?? 0,
    );
    return [...templates.map((t) => storageGiB(t.spec.resources.requests.storage)), ...mounted].reduce((a: number, b: number) => a + b, 0);
}

const WORKLOAD_KINDS: ReadonlySet<string> = new Set<Workload["kind"]>(["StatefulSet", "Deployment", "Job", "CronJob"]);

/** Every pod the stack runs, from the rendered manifests: each release's (its hooks too) and the program's own. */
export function stackWorkloads(stack: RenderedStack): Workload[] {
    const sources = [
        ...stack.releases.map((release) => ({ source: `${release.chart} release`, objects: release.objects })),
        { source: "program", objects: programObjects(stack.run) },
    ];
    const autoscalers = new Map(
        stack.objects
            .filter((o) => o.kind === "HorizontalPodAutoscaler")
            .map((hpa) => [`${hpa.spec.scaleTargetRef.kind}/${key(hpa.metadata.namespace, hpa.spec.scaleTargetRef.name)}`, hpa]),
    );
    const claims = new Map(
        stack.objects
            .filter((o) => o.kind === "PersistentVolumeClaim")
            .map((claim) => [key(claim.metadata.namespace, claim.metadata.name), storageGiB(claim.spec.resources.requests.storage)]),
    );
    return sources
        .flatMap(({ source, objects }) =>
            objects
                .filter((o) => WORKLOAD_KINDS.has(o.kind) && !isHelmTest(o))
                .map((object): Workload => {
                    const { spec } = podTemplate(object);
                    const inits: Container[] = spec.initContainers ?? [];
                    return {
                        namespace: object.metadata.namespace!,
                        name: object.metadata.name,
                        kind: object.kind as Workload["kind"],
                        source,
                        replicas: replicasOf(object, autoscalers),
                        pod: podResources(spec),
                        containers: {
                            regular: spec.containers.length,
                            nativeSidecars: inits.filter(isSidecar).length,
                            init: inits.filter((c) => !isSidecar(c)).length,
                        },
                        volumeGiBPerReplica: volumePerReplica(object, claims),
                        tolerateSpot: (spec.tolerations ?? []).some((t: { key?: string }) => t.key === SPOT_TAINT.key),
                    };
                }),
        )
        .filter((w) => w.replicas.max > 0);
}
