import * as fs from "fs";
import * as path from "path";
import { ofType, StackRun } from "../offline/harness";
import { Capacity, NodePool } from "./capacity";
import { TYPES } from "../offline/resourceTypes";

export const PRICES_FILE = path.join(__dirname, "prices.json");

export interface PriceTable {
    readonly currency: string;
    readonly region: string;
    readonly compiledOn: string;
    readonly hoursPerMonth: number;
    readonly notes: readonly string[];
    readonly machineFamilies: Readonly<Record<string, { vcpuHour: number; gibHour: number; source: string }>>;
    readonly spot: { assumedDiscount: number; source: string };
    readonly gke: { clusterFeeHour: number; freeTierCreditMonth: number; source: string };
    readonly persistentDiskGibMonth: Readonly<Record<string, number | string>> & { source: string };
    readonly cloudNat: { perVmHour: number; maxGatewayHour: number; ipHour: number; dataGib: number; assumedDataGibMonth: number; source: string };
    readonly loadBalancer: { first5RulesHour: number; additionalRuleHour: number; source: string };
    readonly managedAlternative: {
        description: string;
        items: readonly { service: string; monthly: number; basis: string; sources: readonly string[] }[];
    };
}

export function loadPrices(): PriceTable {
    return JSON.parse(fs.readFileSync(PRICES_FILE, "utf8"));
}

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

export function estimateCost(run: StackRun, capacity: Capacity, prices: PriceTable): CostEstimate | string {
    const pool: NodePool | undefined = capacity.nodePool;
    if (!pool) {
        return "the stack runs on an existing cluster: nothing it creates is billed by Google Cloud";
    }
    const family = prices.machineFamilies[pool.machine.family];
    if (!family) {
        return `report/prices.json has no price for machine family ${pool.machine.family} (it has ${Object.keys(prices.machineFamilies).join(", ")}); add it to estimate the cost`;
    }
    const diskPrice = prices.persistentDiskGibMonth[pool.diskType];
    if (typeof diskPrice !== "number") {
        return `report/prices.json has no price for disk type ${pool.diskType}`;
    }
    const hours = prices.hoursPerMonth;
    const onDemandHour = pool.machine.vcpus * family.vcpuHour + pool.machine.memoryGiB * family.gibHour;
    const nodeHour = pool.spot ? onDemandHour * (1 - prices.spot.assumedDiscount) : onDemandHour;
    const nat = prices.cloudNat;
    const natGateway = (nodes: number) => Math.min(nodes * nat.perVmHour, nat.maxGatewayHour) * hours;
    const balancers = loadBalancerCount(run);
    const lb = prices.loadBalancer;
    const perNode = (item: string, basis: string, monthlyPerNode: number): CostLine => ({
        item,
        basis,
        atMinNodes: pool.minNodes * monthlyPerNode,
        atMaxNodes: pool.maxNodes * monthlyPerNode,
    });
    const fixed = (item: string, basis: string, monthly: number): CostLine => ({ item, basis, atMinNodes: monthly, atMaxNodes: monthly });
    const pvPrice = prices.persistentDiskGibMonth["pd-balanced"] as number;

    const lines: CostLine[] = [
        perNode(
            `nodes (${pool.machine.name}${pool.spot ? ", Spot" : ""})`,
            `$${nodeHour.toFixed(4)}/h per node${pool.spot ? ` (on-demand $${onDemandHour.toFixed(4)} less the assumed ${prices.spot.assumedDiscount * 100} % Spot discount)` : ""}`,
            nodeHour * hours,
        ),
        perNode("node boot disks", `${pool.diskSizeGb} GB ${pool.diskType} per node at $${diskPrice}/GB`, pool.diskSizeGb * diskPrice),
        fixed("GKE cluster fee", `$${prices.gke.clusterFeeHour}/h`, prices.gke.clusterFeeHour * hours),
        fixed(
            "persistent volumes",
            `${capacity.volumeGiB} GiB pd-balanced (GKE's default StorageClass) at $${pvPrice}/GiB`,
            capacity.volumeGiB * pvPrice,
        ),
        {
            item: "Cloud NAT",
            basis: `$${nat.perVmHour}/h per node, one NAT IP at $${nat.ipHour}/h, ${nat.assumedDataGibMonth} GiB processed (assumed) at $${nat.dataGib}/GiB`,
            atMinNodes: natGateway(pool.minNodes) + nat.ipHour * hours + nat.assumedDataGibMonth * nat.dataGib,
            atMaxNodes: natGateway(pool.maxNodes) + nat.ipHour * hours + nat.assumedDataGibMonth * nat.dataGib,
        },
        fixed(
            "load balancers",
            `${balancers} Service(s) of type LoadBalancer`,
            balancers === 0 ? 0 : (lb.first5RulesHour + Math.max(0, balancers - 5) * lb.additionalRuleHour) * hours,
        ),
    ].map((line) => ({ ...line, atMinNodes: round(line.atMinNodes), atMaxNodes: round(line.atMaxNodes) }));

    const sum = (pick: (l: CostLine) => number) => round(lines.reduce((total, l) => total + pick(l), 0));
    const total = { atMinNodes: sum((l) => l.atMinNodes), atMaxNodes: sum((l) => l.atMaxNodes) };
    const freeTierCredit = isZonal(run) ? round(Math.min(prices.gke.freeTierCreditMonth, prices.gke.clusterFeeHour * hours)) : 0;
    return {
        lines,
        total,
        freeTierCredit,
        totalWithFreeTier: { atMinNodes: round(total.atMinNodes - freeTierCredit), atMaxNodes: round(total.atMaxNodes - freeTierCredit) },
        managedAlternativeMonthly: round(prices.managedAlternative.items.reduce((total, item) => total + item.monthly, 0)),
        pricesCompiledOn: prices.compiledOn,
    };
}
