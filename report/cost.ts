import { ofType, StackRun } from "../offline/harness";
import { Capacity, NodePool } from "./capacity";
import { TYPES } from "../offline/resourceTypes";
import { Operations, operationsCost } from "./operations";
import { ManagedSetup, PriceTable } from "./priceTable";

export interface CostLine {
    readonly item: string;
    /** How the figure is made, with quantities. */
    readonly basis: string;
    readonly atMinNodes: number;
    readonly atMaxNodes: number;
}

export interface CostEstimate {
    readonly lines: readonly CostLine[];
    readonly total: { readonly atMinNodes: number; readonly atMaxNodes: number };
    /** What the GKE free tier takes off, when the billing account has no other zonal or Autopilot cluster. */
    readonly freeTierCredit: number;
    readonly totalWithFreeTier: { readonly atMinNodes: number; readonly atMaxNodes: number };
    readonly managedAlternativeMonthly: number;
    readonly managedHaAlternativeMonthly: number;
    /** The stack's total at minimum size (with the free tier where it applies) over each managed figure. */
    readonly ratios: { readonly toManagedFloor: number; readonly toManagedHa: number };
    /** The stack is paused: its pools run no nodes. */
    readonly paused: boolean;
    /** What the stack costs paused (config `paused`): no nodes, their boot disks gone, volumes, fee, NAT address and load balancers kept. */
    readonly pausedMonthly: { readonly total: number; readonly withFreeTier: number; readonly basis: string };
    readonly pricesCompiledOn: string;
}

/** Services of type LoadBalancer: the program's own and those the releases' values ask for. */
export function loadBalancerCount(run: StackRun): number {
    const own = ofType(run, TYPES.service).filter((s) => s.inputs.spec?.type === "LoadBalancer").length;
    const inValues = (value: unknown): number => {
        if (Array.isArray(value)) {
            return value.reduce((n: number, v) => n + inValues(v), 0);
        }
        if (value && typeof value === "object") {
            const map = value as Record<string, unknown>;
            return (map.type === "LoadBalancer" ? 1 : 0) + Object.values(map).reduce((n: number, v) => n + inValues(v), 0);
        }
        return 0;
    };
    return own + ofType(run, TYPES.helmRelease).reduce((n, r) => n + inValues(r.inputs.values), 0);
}

/** A regional cluster's location is a region (us-central1), a zonal one's a zone (us-central1-a). */
export function isZonal(run: StackRun): boolean {
    const [cluster] = ofType(run, TYPES.cluster);
    return /-[a-z]$/.test(cluster.inputs.location);
}

const round = (amount: number) => Math.round(amount * 100) / 100;

const managedTotal = (setup: ManagedSetup) => round(setup.items.reduce((total, item) => total + item.monthly, 0));

export function estimateCost(run: StackRun, capacity: Capacity, prices: PriceTable, operations?: Operations): CostEstimate | string {
    const pool: NodePool | undefined = capacity.nodePool;
    if (!pool) {
        return "the stack runs on an existing cluster: nothing it creates is billed by Google Cloud";
    }
    const pools = [pool, ...(capacity.spot ? [capacity.spot.nodePool] : [])];
    for (const p of pools) {
        if (!prices.machineFamilies[p.machine.family]) {
            return `report/prices.json has no price for machine family ${p.machine.family} (it has ${Object.keys(prices.machineFamilies).join(", ")}); add it to estimate the cost`;
        }
        if (typeof prices.persistentDiskGibMonth[p.diskType] !== "number") {
            return `report/prices.json has no price for disk type ${p.diskType}`;
        }
    }
    const paused = pool.paused;
    const hours = prices.hoursPerMonth;
    const nat = prices.cloudNat;
    const natGateway = (nodes: number) => Math.min(nodes * nat.perVmHour, nat.maxGatewayHour) * hours;
    const balancers = loadBalancerCount(run);
    const lb = prices.loadBalancer;
    const fixed = (item: string, basis: string, monthly: number): CostLine => ({ item, basis, atMinNodes: monthly, atMaxNodes: monthly });
    const pvPrice = prices.persistentDiskGibMonth["pd-balanced"] as number;
    // Paused: no nodes. Running: the on-demand pool's bounds, the Spot pool from what the minimum replicas need to its maximum.
    const nodes = (p: NodePool) =>
        paused ? { min: 0, max: 0 } : p.role === "spot" ? { min: capacity.spot!.nodesAtMin, max: p.maxNodes } : { min: p.minNodes, max: p.maxNodes };
    const poolLines = pools.flatMap((p): CostLine[] => {
        const family = prices.machineFamilies[p.machine.family];
        const diskPrice = prices.persistentDiskGibMonth[p.diskType] as number;
        const onDemandHour = p.machine.vcpus * family.vcpuHour + p.machine.memoryGiB * family.gibHour;
        const nodeHour = p.spot ? onDemandHour * (1 - prices.spot.assumedDiscount) : onDemandHour;
        const { min, max } = nodes(p);
        // The pool that holds the state is on Spot where config `nodeSpot` puts it there (dev).
        const name = p.role === "spot" ? "spot pool" : p.spot ? "node pool" : "on-demand pool";
        return [
            {
                item: `${name} nodes (${p.machine.name}${p.spot ? ", Spot" : ""})`,
                basis: `$${nodeHour.toFixed(4)}/h per node${p.spot ? ` (on-demand $${onDemandHour.toFixed(4)} less the assumed ${prices.spot.assumedDiscount * 100} % Spot discount)` : ""}; ${min}-${max} node(s)${paused ? ", paused" : p.role === "spot" ? `, ${min} for the minimum replicas` : ""}`,
                atMinNodes: min * nodeHour * hours,
                atMaxNodes: max * nodeHour * hours,
            },
            {
                item: `${name} boot disks`,
                basis: `${p.diskSizeGb} GB ${p.diskType} per node at $${diskPrice}/GB`,
                atMinNodes: min * p.diskSizeGb * diskPrice,
                atMaxNodes: max * p.diskSizeGb * diskPrice,
            },
        ];
    });
    const totalNodes = (pick: "min" | "max") => pools.reduce((n, p) => n + nodes(p)[pick], 0);
    const natData = paused ? 0 : nat.assumedDataGibMonth * nat.dataGib;
    const lbMonthly = balancers === 0 ? 0 : (lb.first5RulesHour + Math.max(0, balancers - 5) * lb.additionalRuleHour) * hours;
    const lines: CostLine[] = [
        ...poolLines,
        fixed("GKE cluster fee", `$${prices.gke.clusterFeeHour}/h`, prices.gke.clusterFeeHour * hours),
        fixed(
            "persistent volumes",
            `${capacity.volumeGiB} GiB pd-balanced (GKE's default StorageClass) at $${pvPrice}/GiB`,
            capacity.volumeGiB * pvPrice,
        ),
        {
            item: "Cloud NAT",
            basis: `$${nat.perVmHour}/h per node, one NAT IP at $${nat.ipHour}/h, ${paused ? 0 : nat.assumedDataGibMonth} GiB processed (assumed) at $${nat.dataGib}/GiB`,
            atMinNodes: natGateway(totalNodes("min")) + nat.ipHour * hours + natData,
            atMaxNodes: natGateway(totalNodes("max")) + nat.ipHour * hours + natData,
        },
        fixed("load balancers", `${balancers} Service(s) of type LoadBalancer`, lbMonthly),
        // Metrics, alerting and backups: the same running or paused (samples are scraped from pods that run; paused, fewer).
        ...(operations
            ? operationsCost(operations, prices)
                  .filter((l) => !(paused && l.item === "Managed Prometheus samples"))
                  .map((l) => fixed(l.item, l.basis, l.monthly))
            : []),
    ].map((line) => ({ ...line, atMinNodes: round(line.atMinNodes), atMaxNodes: round(line.atMaxNodes) }));

    const sum = (pick: (l: CostLine) => number) => round(lines.reduce((total, l) => total + pick(l), 0));
    const total = { atMinNodes: sum((l) => l.atMinNodes), atMaxNodes: sum((l) => l.atMaxNodes) };
    const freeTierCredit = isZonal(run) ? round(Math.min(prices.gke.freeTierCreditMonth, prices.gke.clusterFeeHour * hours)) : 0;
    const withFreeTier = { atMinNodes: round(total.atMinNodes - freeTierCredit), atMaxNodes: round(total.atMaxNodes - freeTierCredit) };
    // Paused, no pod runs and nothing is scraped: the samples go, alerting and backups stay.
    const operationsMonthly = operations
        ? operationsCost(operations, prices)
              .filter((l) => l.item !== "Managed Prometheus samples")
              .reduce((total, l) => total + round(l.monthly), 0)
        : 0;
    const pausedTotal = round(prices.gke.clusterFeeHour * hours + capacity.volumeGiB * pvPrice + nat.ipHour * hours + lbMonthly + operationsMonthly);
    const managedAlternativeMonthly = managedTotal(prices.managedAlternative);
    const managedHaAlternativeMonthly = managedTotal(prices.managedHaAlternative);
    return {
        lines,
        total,
        freeTierCredit,
        totalWithFreeTier: withFreeTier,
        managedAlternativeMonthly,
        managedHaAlternativeMonthly,
        ratios: {
            toManagedFloor: round(withFreeTier.atMinNodes / managedAlternativeMonthly),
            toManagedHa: round(withFreeTier.atMinNodes / managedHaAlternativeMonthly),
        },
        paused,
        pausedMonthly: {
            total: pausedTotal,
            withFreeTier: round(pausedTotal - freeTierCredit),
            basis: "GKE cluster fee, persistent volumes, the NAT IP address, load balancers, alerting, backups and the images' copy; no nodes, boot disks, NAT traffic or scraped samples",
        },
        pricesCompiledOn: prices.compiledOn,
    };
}
