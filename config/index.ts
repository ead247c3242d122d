import * as pulumi from "@pulumi/pulumi";
import { overlaps, parseCidr, Ipv4Block } from "./cidr";
import { describeMachineType, MachineShape } from "./machineTypes";
import { ConfigReader } from "./reader";
import { PipelineSettings, readPipeline } from "./pipeline";
import { readServices, ServiceSettings } from "./services";
import { missingTools } from "./tools";

export const PROJECT_NAMESPACE = "streaming-platform";
export const RELEASE_CHANNELS = ["RAPID", "REGULAR", "STABLE"] as const;
export const DISK_TYPES = ["pd-standard", "pd-balanced", "pd-ssd"] as const;
export const CLUSTER_TARGETS = ["gke", "kubeconfig"] as const;
/** Who makes the project-level pieces (APIs, node service account and its roles, Artifact Registry repositories). */
export const PROJECT_SETUPS = ["program", "bootstrap"] as const;

export interface NetworkRanges {
    readonly subnetCidr: string;
    readonly podsCidr: string;
    readonly servicesCidr: string;
    readonly masterCidr: string;
}

export interface NodePoolSettings {
    readonly machine: MachineShape;
    readonly minCount: number;
    readonly maxCount: number;
    readonly diskSizeGb: number;
    readonly diskType: (typeof DISK_TYPES)[number];
    readonly spot: boolean;
}

/** The optional autoscaled Spot pool for stateless compute (Spark and Celery workers); it may scale to zero. */
export interface SpotPoolSettings {
    readonly machine: MachineShape;
    readonly minCount: number;
    readonly maxCount: number;
    readonly diskSizeGb: number;
    readonly diskType: (typeof DISK_TYPES)[number];
}

export interface GkeSettings {
    readonly kind: "gke";
    readonly project: string;
    readonly region: string;
    /** The zonal cluster's zone; unused by a regional cluster. */
    readonly zone: string;
    readonly regional: boolean;
    readonly releaseChannel: (typeof RELEASE_CHANNELS)[number];
    /** The on-demand pool: everything that holds state or quorum runs here, never on Spot. */
    readonly nodePool: NodePoolSettings;
    /** The Spot pool for stateless compute, when `spotPool` is true. */
    readonly spotPool?: SpotPoolSettings;
    /** Node pools scaled to zero; volumes, Secrets and releases stay (config `paused`). */
    readonly paused: boolean;
    readonly network: NetworkRanges;
    readonly authorizedNetworks: readonly string[];
    /**
     * `program`: this program enables the APIs and creates the node service account, its role bindings and
     * the Artifact Registry repositories. `bootstrap`: bootstrap/ made them (so CI needs no IAM or Service
     * Usage admin role); the program uses them by their per-stack ids.
     */
    readonly projectSetup: (typeof PROJECT_SETUPS)[number];
}

export interface KubeconfigSettings {
    readonly kind: "kubeconfig";
    /** Empty means the kubeconfig's current context. */
    readonly context: string;
}

export interface PlatformConfig {
    readonly stack: string;
    readonly cluster: GkeSettings | KubeconfigSettings;
    readonly services: ServiceSettings;
    readonly pipeline: PipelineSettings;
    /**
     * Protects what holds data: GKE's deletion protection on the cluster, Pulumi's `protect` on the
     * Kafka and PostgreSQL components, and volumes kept when their StatefulSets go.
     */
    readonly deletionProtection: boolean;
    /** Spread replicas of stateful services over zones; true when the nodes span several zones. */
    readonly zoneSpread: boolean;
}

export class ConfigError extends Error {
    constructor(readonly problems: readonly string[]) {
        super(
            `Invalid stack configuration (${problems.length} problem${problems.length === 1 ? "" : "s"}):\n` +
                problems.map((p) => `  - ${p}`).join("\n"),
        );
        this.name = "ConfigError";
    }
}

type Unchecked<T> = { [K in keyof T]: T[K] | undefined };

const PROJECT_ID = /^[a-z][a-z0-9-]{4,28}[a-z0-9]$/;
const REGION = /^[a-z]+-[a-z]+[0-9]+$/;

/** Reads and validates the whole stack configuration; throws one ConfigError listing every problem. */
export function loadConfig(): PlatformConfig {
    const reader = new ConfigReader(PROJECT_NAMESPACE);
    const target = reader.oneOf("clusterTarget", CLUSTER_TARGETS);
    const cluster = target === "kubeconfig" ? { kind: "kubeconfig" as const, context: reader.raw("kubeContext") ?? "" } : readGke(reader);
    const services = readServices(reader, target !== "kubeconfig");
    const pipeline = readPipeline(reader, target !== "kubeconfig");
    const deletionProtection = reader.boolean("deletionProtection");
    checkPause(reader, target, deletionProtection);
    if (reader.problems.length === 0) {
        for (const [key, value, allowed] of missingTools({ dockerEngine: pipeline.buildImages, gkeAuthPlugin: target === "gke" })) {
            reader.reject(key, value, allowed);
        }
    }
    if (reader.problems.length > 0) {
        throw new ConfigError(reader.problems);
    }
    return {
        stack: pulumi.getStack(),
        cluster: cluster as GkeSettings | KubeconfigSettings,
        services,
        pipeline,
        deletionProtection: deletionProtection!,
        zoneSpread: cluster.kind === "gke" && cluster.regional === true,
    };
}

function readGke(reader: ConfigReader): Unchecked<GkeSettings> {
    const region = reader.string("gcp:region", REGION, "a Google Cloud region such as us-central1 or europe-west4");
    return {
        kind: "gke",
        project: reader.string(
            "gcp:project",
            PROJECT_ID,
            "a project id of 6-30 lowercase letters, digits and hyphens (pulumi config set gcp:project <id>)",
        ),
        region,
        zone: readZone(reader, region),
        regional: reader.boolean("regional"),
        releaseChannel: reader.oneOf("releaseChannel", RELEASE_CHANNELS),
        nodePool: readNodePool(reader),
        spotPool: readSpotPool(reader),
        // Validated, with its deletion-protection rule, by checkPause.
        paused: reader.raw("paused") === "true",
        network: readNetworkRanges(reader),
        authorizedNetworks: readAuthorizedNetworks(reader),
        projectSetup: reader.oneOf("projectSetup", PROJECT_SETUPS),
    };
}

function readZone(reader: ConfigReader, region: string | undefined): string | undefined {
    const zone = reader.raw("gcp:zone");
    if (region === undefined) {
        return zone; // the region's own problem is already reported
    }
    const allowed = `a zone of ${region}, such as ${region}-a`;
    return zone !== undefined && new RegExp(`^${region}-[a-z]$`).test(zone) ? zone : reader.reject("gcp:zone", zone, allowed);
}

function readNodePool(reader: ConfigReader): NodePoolSettings | undefined {
    const machineTypeName = reader.raw("nodeMachineType");
    const machine = describeMachineType(machineTypeName ?? "");
    if (typeof machine === "string") {
        reader.reject("nodeMachineType", machineTypeName, machine);
    }
    const minCount = reader.integer("nodeMinCount", 1);
    const maxCount = reader.integer("nodeMaxCount", 1);
    if (minCount !== undefined && maxCount !== undefined && minCount > maxCount) {
        reader.reject("nodeMaxCount", String(maxCount), `an integer >= nodeMinCount (${minCount})`);
    }
    const settings: Unchecked<NodePoolSettings> = {
        machine: typeof machine === "string" ? undefined : machine,
        minCount,
        maxCount,
        diskSizeGb: reader.integer("nodeDiskSizeGb", 20, 65536),
        diskType: reader.oneOf("nodeDiskType", DISK_TYPES),
        spot: readNodeSpot(reader),
    };
    return settings as NodePoolSettings;
}

/**
 * The node pool holds Kafka, PostgreSQL, the Airflow control plane and the streaming driver, which never
 * run on Spot: a Spot node pool would leave them nowhere else to go.
 */
function readNodeSpot(reader: ConfigReader): boolean | undefined {
    const spot = reader.boolean("nodeSpot");
    if (spot === true) {
        return reader.reject(
            "nodeSpot",
            "true",
            "false: the node pool holds Kafka, PostgreSQL and the Airflow scheduler, which never run on Spot (Spot-only stateful placement); set spotPool: true for a Spot pool for Spark and Celery workers",
        );
    }
    return spot;
}

function readSpotPool(reader: ConfigReader): SpotPoolSettings | undefined {
    if (reader.boolean("spotPool") !== true) {
        return undefined;
    }
    const machineTypeName = reader.raw("spotMachineType");
    const machine = describeMachineType(machineTypeName ?? "");
    if (typeof machine === "string") {
        reader.reject("spotMachineType", machineTypeName, machine);
    }
    const minCount = reader.integer("spotMinCount", 0);
    const maxCount = reader.integer("spotMaxCount", 1);
    if (minCount !== undefined && maxCount !== undefined && minCount > maxCount) {
        reader.reject("spotMaxCount", String(maxCount), `an integer >= spotMinCount (${minCount})`);
    }
    const settings: Unchecked<SpotPoolSettings> = {
        machine: typeof machine === "string" ? undefined : machine,
        minCount,
        maxCount,
        diskSizeGb: reader.integer("spotDiskSizeGb", 20, 65536),
        diskType: reader.oneOf("spotDiskType", DISK_TYPES),
    };
    return settings as SpotPoolSettings;
}

/**
 * `paused` scales the node pools to zero and keeps everything else; on a stack with deletion protection it
 * stops production, so it needs allowPauseWithDeletionProtection as well. An existing cluster has no pools.
 */
function checkPause(reader: ConfigReader, target: string | undefined, deletionProtection: boolean | undefined): void {
    const paused = reader.boolean("paused");
    if (paused !== true) {
        return;
    }
    if (target === "kubeconfig") {
        reader.reject("paused", "true", "false with clusterTarget: kubeconfig: the program creates no node pools on an existing cluster");
    } else if (deletionProtection === true && reader.boolean("allowPauseWithDeletionProtection") !== true) {
        reader.reject(
            "paused",
            "true",
            "false on a stack with deletionProtection: true, unless allowPauseWithDeletionProtection: true says that stopping it is intended",
        );
    }
}

function readNetworkRanges(reader: ConfigReader): NetworkRanges | undefined {
    const keys = ["subnetCidr", "podsCidr", "servicesCidr", "masterCidr"] as const;
    const blocks = new Map<(typeof keys)[number], Ipv4Block>();
    for (const key of keys) {
        const value = reader.raw(key);
        const block = parseCidr(value ?? "");
        if (typeof block === "string") {
            reader.reject(key, value, `an IPv4 network in CIDR form; this one ${block}`);
        } else {
            blocks.set(key, block);
        }
    }
    const master = blocks.get("masterCidr");
    if (master && master.prefix !== 28) {
        reader.reject("masterCidr", master.text, "a /28 block (GKE requires exactly /28 for the control plane)");
    }
    const checked = [...blocks.entries()];
    checked.forEach(([key, block], i) => {
        for (const [otherKey, other] of checked.slice(i + 1)) {
            if (overlaps(block, other)) {
                reader.reject(otherKey, other.text, `a range that does not overlap ${reader.qualify(key)} (${block.text})`);
            }
        }
    });
    return blocks.size === keys.length
        ? (Object.fromEntries(keys.map((key) => [key, blocks.get(key)!.text])) as unknown as NetworkRanges)
        : undefined;
}

function readAuthorizedNetworks(reader: ConfigReader): string[] | undefined {
    const networks = reader.stringList("authorizedNetworks");
    if (networks === undefined) {
        return undefined;
    }
    const allowPublic = reader.boolean("allowPublicControlPlane");
    for (const network of networks) {
        const block = parseCidr(network);
        if (typeof block === "string") {
            reader.reject("authorizedNetworks", network, `IPv4 networks in CIDR form; this one ${block}`);
        } else if (block.prefix === 0 && allowPublic === false) {
            reader.reject(
                "authorizedNetworks",
                network,
                "specific CIDRs; 0.0.0.0/0 opens the control plane to the internet and needs allowPublicControlPlane: true",
            );
        }
    }
    return networks;
}
