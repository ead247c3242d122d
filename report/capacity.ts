import { describeMachineType, MachineShape } from "../config/machineTypes";
import { ofType, StackRun } from "../offline/harness";
import { gkeAllocatable, NodeCapacity } from "./allocatable";
import { Workload } from "./workloads";
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

export interface Capacity {
    readonly nodePool?: NodePool;
    readonly totals: { readonly atMinReplicas: PodTotals; readonly atMaxReplicas: PodTotals };
    readonly volumeGiB: number;
    readonly atMinNodes?: FitCheck;
    readonly atMaxNodes?: FitCheck;
    /** Why the stack does not fit; empty when it does. Without a node pool nothing is checked. */
    readonly problems: readonly string[];
}

export interface PodTotals extends Usage {
    readonly pods: number;
    readonly cpuLimitMillis?: number;
    readonly memoryLimitMiB?: number;
}

/** The node pool the stack creates, or undefined for a stack that deploys into an existing cluster. */
export function stackNodePool(run: StackRun): NodePool | undefined {
    const [pool] = ofType(run, TYPES.nodePool);
    if (!pool) {
        return undefined;
    }
    const { nodeConfig, autoscaling } = pool.inputs;
    const machine = describeMachineType(nodeConfig.machineType);
    if (typeof machine === "string") {
        throw new Error(`node pool machine type ${nodeConfig.machineType} ${machine}`);
    }
    return {
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

function totals(workloads: readonly Workload[], replicas: (w: Workload) => number): PodTotals {
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

function fitCheck(pool: NodePool, nodes: number, workloads: Usage): FitCheck {
    const allocatable = { cpuMillis: nodes * pool.allocatablePerNode.cpuMillis, memoryMiB: nodes * pool.allocatablePerNode.memoryMiB };
    const requested = {
        cpuMillis: workloads.cpuMillis + nodes * GKE_SYSTEM_PODS.perNode.cpuMillis + GKE_SYSTEM_PODS.perCluster.cpuMillis,
        memoryMiB: workloads.memoryMiB + nodes * GKE_SYSTEM_PODS.perNode.memoryMiB + GKE_SYSTEM_PODS.perCluster.memoryMiB,
    };
    return {
        nodes,
        allocatable,
        requested,
        cpuHeadroom: 1 - requested.cpuMillis / allocatable.cpuMillis,
        memoryHeadroom: 1 - requested.memoryMiB / allocatable.memoryMiB,
    };
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

export function capacity(workloads: readonly Workload[], pool: NodePool | undefined): Capacity {
    const atMinReplicas = totals(workloads, (w) => w.replicas.min);
    const atMaxReplicas = totals(workloads, (w) => w.replicas.max);
    const volumeGiB = workloads.reduce((sum, w) => sum + w.replicas.max * w.volumeGiBPerReplica, 0);
    if (!pool) {
        return { totals: { atMinReplicas, atMaxReplicas }, volumeGiB, problems: [] };
    }
    const atMinNodes = fitCheck(pool, pool.minNodes, atMinReplicas);
    const atMaxNodes = fitCheck(pool, pool.maxNodes, atMaxReplicas);
    const problems = podsTooLarge(pool, workloads);
    for (const [resource, headroom] of [
        ["CPU", atMinNodes.cpuHeadroom],
        ["memory", atMinNodes.memoryHeadroom],
    ] as const) {
        if (headroom < REQUIRED_HEADROOM) {
            problems.push(
                `at its minimum of ${pool.minNodes} node(s) the pool keeps ${percent(headroom)} of its ${resource} free, less than the required ${percent(REQUIRED_HEADROOM)}`,
            );
        }
    }
    for (const [resource, headroom] of [
        ["CPU", atMaxNodes.cpuHeadroom],
        ["memory", atMaxNodes.memoryHeadroom],
    ] as const) {
        if (headroom < 0) {
            problems.push(`every workload at its maximum replicas requests more ${resource} than ${pool.maxNodes} node(s) can offer`);
        }
    }
    return { nodePool: pool, totals: { atMinReplicas, atMaxReplicas }, volumeGiB, atMinNodes, atMaxNodes, problems };
}
