/**
 * Which node pool a pod may run on. On GKE the on-demand pool (label streaming-platform/pool=data) holds
 * everything that keeps state or quorum, or that an update waits for; the optional Spot pool (label
 * streaming-platform/pool=spot, tainted) takes stateless compute, whose pods a preemption only delays.
 */

/** The node label every pool of the program carries, and its values. */
export const POOL_LABEL = "streaming-platform/pool";
export const ON_DEMAND_POOL = "data";
export const SPOT_POOL = "spot";

/**
 * The taint of the Spot pool: the key and value GKE itself labels Spot nodes with (cloud.google.com/gke-spot=true),
 * so only pods that tolerate it land there.
 */
export const SPOT_TAINT = { key: "cloud.google.com/gke-spot", value: "true", effect: "NoSchedule" } as const;

/** "on-demand": state, quorum, and what an update waits for; "spot": stateless compute that tolerates preemption. */
export type PodRole = "on-demand" | "spot";

/** The pools a stack has: none on an existing cluster, the on-demand pool, or both. */
export interface PoolLayout {
    /** The stack creates GKE node pools labelled with POOL_LABEL. */
    readonly managedPools: boolean;
    /** A tainted Spot pool exists next to the on-demand pool. */
    readonly spotPool: boolean;
}

/** An existing cluster: its nodes carry none of our labels, so pods are placed anywhere. */
export const NO_POOLS: PoolLayout = { managedPools: false, spotPool: false };

const TOLERATE_SPOT = [{ key: SPOT_TAINT.key, operator: "Equal", value: SPOT_TAINT.value, effect: SPOT_TAINT.effect }];

/**
 * Scheduling values in the form Bitnami charts read per component (`nodeAffinityPreset`, `tolerations`;
 * bitnami/common affinities.nodes): a hard preset for the on-demand pool, a soft one plus the toleration for
 * the Spot pool. Presets keep the charts' own soft pod anti-affinity, which a full `affinity` would replace.
 */
export function chartScheduling(role: PodRole, pools: PoolLayout = NO_POOLS): Record<string, unknown> {
    if (!pools.managedPools) {
        return {};
    }
    if (role === "on-demand") {
        return { nodeAffinityPreset: { type: "hard", key: POOL_LABEL, values: [ON_DEMAND_POOL] } };
    }
    return pools.spotPool ? { nodeAffinityPreset: { type: "soft", key: POOL_LABEL, values: [SPOT_POOL] }, tolerations: TOLERATE_SPOT } : {};
}

/**
 * For chart components that offer only `nodeSelector` and `tolerations` (kafka 32.4.3's provisioning Job):
 * the on-demand pool by its label.
 */
export function chartNodeSelector(role: PodRole, pools: PoolLayout = NO_POOLS): Record<string, unknown> {
    if (!pools.managedPools) {
        return {};
    }
    if (role === "on-demand") {
        return { nodeSelector: { [POOL_LABEL]: ON_DEMAND_POOL } };
    }
    return pools.spotPool ? { tolerations: TOLERATE_SPOT } : {};
}

/** The same placement as pod spec fields, for the pods the program creates itself. */
export function podScheduling(
    role: PodRole,
    pools: PoolLayout = NO_POOLS,
): { affinity?: Record<string, unknown>; tolerations?: Record<string, string>[] } {
    if (!pools.managedPools) {
        return {};
    }
    if (role === "on-demand") {
        return {
            affinity: {
                nodeAffinity: {
                    requiredDuringSchedulingIgnoredDuringExecution: {
                        nodeSelectorTerms: [{ matchExpressions: [{ key: POOL_LABEL, operator: "In", values: [ON_DEMAND_POOL] }] }],
                    },
                },
            },
        };
    }
    return pools.spotPool
        ? {
              affinity: {
                  nodeAffinity: {
                      preferredDuringSchedulingIgnoredDuringExecution: [
                          { weight: 100, preference: { matchExpressions: [{ key: POOL_LABEL, operator: "In", values: [SPOT_POOL] }] } },
                      ],
                  },
              },
              tolerations: TOLERATE_SPOT,
          }
        : {};
}
