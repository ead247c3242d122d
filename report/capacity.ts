import { describeMachineType, MachineShape } from "../config/machineTypes";
import { ofType, StackRun } from "../offline/harness";
import { gkeAllocatable, NodeCapacity } from "./allocatable";
import { runsToCompletion, Workload } from "./workloads";
import { TYPES } from "../offline/resourceTypes";

/** Share of the pool's allocatable CPU and memory that must stay free at its minimum size. */
export const REQUIRED_HEADROOM = 0.2;

/**
 * Requests of GKE's own pods, which share the nodes with ours. Per node: the DaemonSets of a Standard
 * cluster (fluentbit-gke, gke-metrics-agent, pdcsi-node, konnectivity-agent), plus anetd for Dataplane V2
 * and gke-metadata-server for Workload Identity. Per cluster: kube-dns with its autoscaler,
 * metrics-server, event-exporter and the default backend. A single-node cluster without the last two
 * features commonly shows about 560m CPU of kube-system requests; this adds theirs and a margin.
 * An estimate, not a measurement: `kubectl describe nodes` shows the real figures of a running cluster.
 */
export const GKE_SYSTEM_PODS = {
    perNode: { cpuMillis: 250, memoryMiB: 400 },
    perCluster: { cpuMillis: 500, memoryMiB: 400 },
} as const;

export interface NodePool {
    /** "on-demand" holds state and quorum; "spot" the stateless compute. */
    readonly role: "on-demand" | "spot";
    /** Scaled to zero by `paused`: the bounds below are what it runs with again. */
    readonly paused: boolean;
    readonly machine: MachineShape;
    readonly minNodes: number;
    readonly maxNodes: number;
    readonly spot: boolean;
    readonly diskType: string;
    readonly diskSizeGb: number;
    readonly allocatablePerNode: NodeCapacity;
}

export interface Usage {
    readonly cpuMillis: number;
    readonly memoryMiB: number;
}

export interface FitCheck {
    readonly nodes: number;
    readonly allocatable: Usage;
    /** Our workloads' requests plus GKE's own pods. */
    readonly requested: Usage;
    /** Share of allocatable left free. */
    readonly cpuHeadroom: number;
    readonly memoryHeadroom: number;
}

/** The Spot pool's share: the nodes the autoscaler runs for the minimum replicas, with the same headroom rule. */
export interface SpotCapacity {
    readonly nodePool: NodePool;
    readonly workloads: readonly string[];
    /** Fewest nodes (at least the pool's minimum) that hold the minimum replicas with the required headroom. */
    readonly nodesAtMin: number;
    readonly atMinNodes: FitCheck;
    readonly atMaxNodes: FitCheck;
}

export interface Capacity {
    /** The on-demand pool, with every workload that does not go to the Spot pool. */
    readonly nodePool?: NodePool;
    readonly spot?: SpotCapacity;
    readonly totals: { readonly atMinReplicas: PodTotals; readonly atMaxReplicas: PodTotals };
    readonly volumeGiB: number;
    /** The long-running pods at minimum replicas, which must leave the required headroom. */
    readonly atMinNodes?: FitCheck;
    /** The same with every Job and CronJob pod running at once: they use the headroom, but must fit. */
    readonly atMinNodesWithJobs?: FitCheck;
    readonly atMaxNodes?: FitCheck;
    /** Why the stack does not fit; empty when it does. Without a node pool nothing is checked. */
    readonly problems: readonly string[];
}

export interface PodTotals extends Usage {
    readonly pods: number;
    readonly cpuLimitMillis?: number;
    readonly memoryLimitMiB?: number;
}

/** The on-demand node pool the stack creates, or undefined for a stack that deploys into an existing cluster. */
export function stackNodePool(run: StackRun): NodePool | undefined {
    return stackNodePools(run).find((p) => p.role === "on-demand");
}

/** Every node pool the stack creates: the on-demand pool and, if configured, the Spot pool. */
export function stackNodePools(run: StackRun): NodePool[] {
    return ofType(run, TYPES.nodePool).map(describePool);
}

function describePool(pool: { inputs: Record<string, any> }): NodePool {
    const { nodeConfig } = pool.inputs;
    const paused = pool.inputs.autoscaling === undefined && pool.inputs.nodeCount === 0;
    // Paused pools keep no bounds in their inputs; the config still has them.
    const autoscaling = pool.inputs.autoscaling ?? { totalMinNodeCount: 0, totalMaxNodeCount: 0 };
    const machine = describeMachineType(nodeConfig.machineType);
    if (typeof machine === "string") {
        throw new Error(`node pool machine type ${nodeConfig.machineType} ${machine}`);
    }
    return {
        role: nodeConfig.spot === true && (nodeConfig.taints ?? []).length > 0 ? "spot" : "on-demand",
        paused,
        machine,
        minNodes: autoscaling.totalMinNodeCount,
        maxNodes: autoscaling.totalMaxNodeCount,
        spot: nodeConfig.spot === true,
        diskType: nodeConfig.diskType,
        diskSizeGb: nodeConfig.diskSizeGb,
        allocatablePerNode: gkeAllocatable(machine),
    };
}

const add = (a?: number, b?: number) => (a === undefined || b === undefined ? undefined : a + b);

export function totals(workloads: readonly Workload[], replicas: (w: Workload) => number): PodTotals {
    return workloads.reduce<PodTotals>(
        (sum, w) => {
            const n = replicas(w);
            return {
                pods: sum.pods + n,
                cpuMillis: sum.cpuMillis + n * w.pod.cpuRequestMillis,
                memoryMiB: sum.memoryMiB + n * w.pod.memoryRequestMiB,
                cpuLimitMillis: add(sum.cpuLimitMillis, w.pod.cpuLimitMillis === undefined ? undefined : n * w.pod.cpuLimitMillis),
                memoryLimitMiB: add(sum.memoryLimitMiB, w.pod.memoryLimitMiB === undefined ? undefined : n * w.pod.memoryLimitMiB),
            };
        },
        { pods: 0, cpuMillis: 0, memoryMiB: 0, cpuLimitMillis: 0, memoryLimitMiB: 0 },
    );
}

/** What is requested of what is allocatable on `nodes` nodes, and the share of each left free. */
export function headroom(nodes: number, allocatable: Usage, requested: Usage): FitCheck {
    return {
        nodes,
        allocatable,
        requested,
        cpuHeadroom: 1 - requested.cpuMillis / allocatable.cpuMillis,
        memoryHeadroom: 1 - requested.memoryMiB / allocatable.memoryMiB,
    };
}

function fitCheck(pool: NodePool, nodes: number, workloads: Usage): FitCheck {
    return headroom(
        nodes,
        { cpuMillis: nodes * pool.allocatablePerNode.cpuMillis, memoryMiB: nodes * pool.allocatablePerNode.memoryMiB },
        {
            cpuMillis: workloads.cpuMillis + nodes * GKE_SYSTEM_PODS.perNode.cpuMillis + GKE_SYSTEM_PODS.perCluster.cpuMillis,
            memoryMiB: workloads.memoryMiB + nodes * GKE_SYSTEM_PODS.perNode.memoryMiB + GKE_SYSTEM_PODS.perCluster.memoryMiB,
        },
    );
}

const percent = (share: number) => `${(share * 100).toFixed(1)} %`;

/** The largest pod must fit on one node next to that node's GKE pods. */
function podsTooLarge(pool: NodePool, workloads: readonly Workload[]): string[] {
    const room = {
        cpuMillis: pool.allocatablePerNode.cpuMillis - GKE_SYSTEM_PODS.perNode.cpuMillis,
        memoryMiB: pool.allocatablePerNode.memoryMiB - GKE_SYSTEM_PODS.perNode.memoryMiB,
    };
    return workloads
        .filter((w) => w.pod.cpuRequestMillis > room.cpuMillis || w.pod.memoryRequestMiB > room.memoryMiB)
        .map(
            (w) =>
                `a ${w.name} pod requests ${w.pod.cpuRequestMillis}m CPU / ${Math.round(w.pod.memoryRequestMiB)} MiB, more than a ${pool.machine.name} node has room for (${room.cpuMillis}m / ${room.memoryMiB} MiB)`,
        );
}

function headroomProblems(pool: NodePool, check: FitCheck, what: string): string[] {
    return (
        [
            ["CPU", check.cpuHeadroom],
            ["memory", check.memoryHeadroom],
        ] as const
    )
        .filter(([, headroom]) => headroom < REQUIRED_HEADROOM)
        .map(
            ([resource, headroom]) =>
                `at ${what} of ${check.nodes} node(s) the ${pool.role} pool keeps ${percent(headroom)} of its ${resource} free, less than the required ${percent(REQUIRED_HEADROOM)}`,
        );
}

function overfull(pool: NodePool, check: FitCheck, what: string): string[] {
    return (
        [
            ["CPU", check.cpuHeadroom],
            ["memory", check.memoryHeadroom],
        ] as const
    )
        .filter(([, headroom]) => headroom < 0)
        .map(([resource]) => `the ${pool.role} pool's workloads request more ${resource} than ${what} can offer`);
}

/** A fit check without the per-cluster system pods, which do not tolerate the Spot taint and so stay on the on-demand pool. */
function spotFitCheck(pool: NodePool, nodes: number, workloads: Usage): FitCheck {
    const check = fitCheck(pool, nodes, workloads);
    return headroom(nodes, check.allocatable, {
        cpuMillis: check.requested.cpuMillis - GKE_SYSTEM_PODS.perCluster.cpuMillis,
        memoryMiB: check.requested.memoryMiB - GKE_SYSTEM_PODS.perCluster.memoryMiB,
    });
}

/**
 * Fit of the stack's workloads on its pools. Without a Spot pool everything is on the node pool. With one,
 * the pods that tolerate its taint (Spark and Celery workers) go to it and everything else to the on-demand
 * pool. The on-demand pool's long-running pods must keep the required headroom at its minimum; pods of Jobs
 * and CronJobs (a provisioning run, a nightly dump) hold their requests only while they run, so they may use
 * that headroom, all at once, but no more. The Spot pool, which may scale to zero, is counted
 * at the fewest nodes that give the minimum replicas the same headroom (what the autoscaler keeps at least).
 * A paused stack is not checked: it runs nothing until it resumes, when the same checks apply.
 */
export function capacity(workloads: readonly Workload[], pool: NodePool | undefined, spotPool?: NodePool): Capacity {
    const atMinReplicas = totals(workloads, (w) => w.replicas.min);
    const atMaxReplicas = totals(workloads, (w) => w.replicas.max);
    const volumeGiB = workloads.reduce((sum, w) => sum + w.replicas.max * w.volumeGiBPerReplica, 0);
    if (!pool) {
        return { totals: { atMinReplicas, atMaxReplicas }, volumeGiB, problems: [] };
    }
    if (pool.paused) {
        return { nodePool: pool, totals: { atMinReplicas, atMaxReplicas }, volumeGiB, problems: [] };
    }
    const onSpot = (w: Workload) => spotPool !== undefined && w.tolerateSpot;
    const onDemandWorkloads = workloads.filter((w) => !onSpot(w));
    const spotWorkloads = workloads.filter(onSpot);
    const atMinNodes = fitCheck(
        pool,
        pool.minNodes,
        totals(
            onDemandWorkloads.filter((w) => !runsToCompletion(w)),
            (w) => w.replicas.min,
        ),
    );
    const atMinNodesWithJobs = fitCheck(
        pool,
        pool.minNodes,
        totals(onDemandWorkloads, (w) => w.replicas.min),
    );
    const atMaxNodes = fitCheck(
        pool,
        pool.maxNodes,
        totals(onDemandWorkloads, (w) => w.replicas.max),
    );
    const problems = [
        ...podsTooLarge(pool, onDemandWorkloads),
        ...headroomProblems(pool, atMinNodes, "its minimum"),
        ...overfull(pool, atMinNodesWithJobs, `${pool.minNodes} node(s) with every Job running`),
        ...overfull(pool, atMaxNodes, `${pool.maxNodes} node(s)`),
    ];
    let spot: SpotCapacity | undefined;
    if (spotPool) {
        problems.push(...podsTooLarge(spotPool, spotWorkloads));
        const minUsage = totals(spotWorkloads, (w) => w.replicas.min);
        let nodesAtMin = spotPool.minNodes;
        const fits = (nodes: number) => {
            const check = spotFitCheck(spotPool, nodes, minUsage);
            return minUsage.pods === 0 || (check.cpuHeadroom >= REQUIRED_HEADROOM && check.memoryHeadroom >= REQUIRED_HEADROOM);
        };
        while (nodesAtMin < spotPool.maxNodes && !fits(nodesAtMin)) {
            nodesAtMin++;
        }
        const spotAtMin = spotFitCheck(spotPool, Math.max(nodesAtMin, 1), minUsage);
        const spotAtMax = spotFitCheck(
            spotPool,
            spotPool.maxNodes,
            totals(spotWorkloads, (w) => w.replicas.max),
        );
        if (!fits(nodesAtMin)) {
            problems.push(...headroomProblems(spotPool, spotAtMin, "the minimum replicas' need"));
        }
        problems.push(...overfull(spotPool, spotAtMax, `${spotPool.maxNodes} node(s) at maximum replicas`));
        spot = {
            nodePool: spotPool,
            workloads: spotWorkloads.map((w) => w.name),
            nodesAtMin: minUsage.pods === 0 ? spotPool.minNodes : nodesAtMin,
            atMinNodes: spotAtMin,
            atMaxNodes: spotAtMax,
        };
    }
    return { nodePool: pool, spot, totals: { atMinReplicas, atMaxReplicas }, volumeGiB, atMinNodes, atMinNodesWithJobs, atMaxNodes, problems };
}
