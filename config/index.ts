import * as pulumi from "@pulumi/pulumi";
import { overlaps, parseCidr, Ipv4Block } from "./cidr";
import { describeMachineType, MachineShape } from "./machineTypes";
import { ConfigReader } from "./reader";
import { PipelineSettings, readPipeline } from "./pipeline";
import { BackupSettings, readBackups } from "./backups";
import { MonitoringSettings, readMonitoring } from "./monitoring";
import { GkeBackupSettings, readGkeBackup } from "./gkeBackup";
import { LogSettings, readLogs } from "./logs";
import { readServices, ServiceSettings } from "./services";
import { missingTools } from "./tools";
import { checkImageLock } from "./imageLock";

export const PROJECT_NAMESPACE = "streaming-platform";
export const RELEASE_CHANNELS = ["RAPID", "REGULAR", "STABLE"] as const;
export const DISK_TYPES = ["pd-standard", "pd-balanced", "pd-ssd"] as const;
export const CLUSTER_TARGETS = ["gke", "kubeconfig"] as const;
/** Who makes the project-level pieces (APIs, node service account and its roles, Artifact Registry repositories). */
export const PROJECT_SETUPS = ["program", "bootstrap"] as const;
/**
 * Binary Authorization of a GKE stack: `auto` enforces where deletionProtection is on and is off elsewhere;
 * `enforce` enforces on any stack; `off` is refused where deletionProtection is on.
 */
export const BINARY_AUTHORIZATION_MODES = ["auto", "enforce", "off"] as const;
/** Days of a maintenance window, as RFC 5545 BYDAY names them. */
export const WEEKDAYS = ["MO", "TU", "WE", "TH", "FR", "SA", "SU"] as const;
/** What a maintenance exclusion holds back (GKE's exclusion scopes). */
export const EXCLUSION_SCOPES = ["NO_UPGRADES", "NO_MINOR_UPGRADES", "NO_MINOR_OR_NODE_UPGRADES"] as const;

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
    /** When GKE may upgrade and repair automatically (config `maintenanceWindow`). */
    readonly maintenanceWindow: MaintenanceWindow;
    /** Periods without automatic upgrades (config `maintenanceExclusions`); empty by default. */
    readonly maintenanceExclusions: readonly MaintenanceExclusion[];
    /** Share of the subnet's flows VPC flow logs sample, 0 < x <= 1 (config `flowLogSampling`). */
    readonly flowLogSampling: number;
    /**
     * Binary Authorization, resolved (config `binaryAuthorization`): `enforce` makes the cluster enforce the
     * project's singleton policy, which this stack then manages; `off` leaves both alone.
     */
    readonly binaryAuthorization: "enforce" | "off";
}

/** A weekly recurring maintenance window in UTC (config `maintenanceWindow`, e.g. "SA,SU 03:00-11:00"). */
export interface MaintenanceWindow {
    readonly days: readonly (typeof WEEKDAYS)[number][];
    /** HH:MM, UTC. */
    readonly start: string;
    /** HH:MM, UTC; at or before start, the window ends the next day. */
    readonly end: string;
}

/** A period in which GKE holds back automatic upgrades (config `maintenanceExclusions`). */
export interface MaintenanceExclusion {
    readonly name: string;
    /** RFC 3339 UTC, e.g. 2025-11-27T00:00:00Z. */
    readonly start: string;
    readonly end: string;
    readonly scope: (typeof EXCLUSION_SCOPES)[number];
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
    /** PostgreSQL logical backups: schedule, retention, the local volume (config/backups.ts). */
    readonly backups: BackupSettings;
    /** Backup for GKE's schedule and retention, used on stacks with deletionProtection (config/gkeBackup.ts). */
    readonly gkeBackup: GkeBackupSettings;
    /** Alerts, their notification channels and the dashboard of a GKE stack (config/monitoring.ts). */
    readonly monitoring: MonitoringSettings;
    /** Airflow task logs and Spark event logs: the bucket's retention, the local volumes (config/logs.ts). */
    readonly logs: LogSettings;
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
    const backups = readBackups(reader);
    const monitoring = readMonitoring(reader, target !== "kubeconfig");
    const gkeBackup = readGkeBackup(reader);
    const logs = readLogs(reader);
    const deletionProtection = reader.boolean("deletionProtection");
    checkPause(reader, target, deletionProtection);
    checkImageLock(reader);
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
        backups: backups as BackupSettings,
        monitoring: monitoring as MonitoringSettings,
        gkeBackup: gkeBackup as GkeBackupSettings,
        logs: logs as LogSettings,
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
        // deletionProtection is validated as a boolean by loadConfig.
        nodePool: readNodePool(reader, reader.raw("deletionProtection") === "true"),
        spotPool: readSpotPool(reader),
        // Validated, with its deletion-protection rule, by checkPause.
        paused: reader.raw("paused") === "true",
        network: readNetworkRanges(reader),
        authorizedNetworks: readAuthorizedNetworks(reader),
        projectSetup: reader.oneOf("projectSetup", PROJECT_SETUPS),
        maintenanceWindow: readMaintenanceWindow(reader),
        maintenanceExclusions: readMaintenanceExclusions(reader),
        flowLogSampling: readFlowLogSampling(reader),
        // deletionProtection is validated as a boolean by loadConfig.
        binaryAuthorization: readBinaryAuthorization(reader, reader.raw("deletionProtection") === "true"),
    };
}

const HOUR_MINUTE = "([01][0-9]|2[0-3]):([0-5][0-9])";
const WINDOW = new RegExp(`^([A-Z]{2}(?:,[A-Z]{2})*) ${HOUR_MINUTE}-${HOUR_MINUTE}$`);
/** GKE: every window at least 4 hours long, and at least 48 hours of windows in any 32 days. */
const MIN_WINDOW_MINUTES = 4 * 60;
const MIN_HOURS_IN_32_DAYS = 48;

function readMaintenanceWindow(reader: ConfigReader): MaintenanceWindow | undefined {
    const value = reader.raw("maintenanceWindow");
    const allowed = `days and a UTC time range such as "SA,SU 03:00-11:00" (days ${WEEKDAYS.join(", ")}; each window at least 4 hours, 48 hours in any 32 days)`;
    const match = WINDOW.exec(value ?? "");
    if (!match) {
        return reader.reject("maintenanceWindow", value, allowed);
    }
    const days = match[1].split(",");
    if (!days.every((day) => (WEEKDAYS as readonly string[]).includes(day)) || new Set(days).size !== days.length) {
        return reader.reject("maintenanceWindow", value, allowed);
    }
    const minutes = (hours: string, mins: string) => Number(hours) * 60 + Number(mins);
    const length = (minutes(match[4], match[5]) - minutes(match[2], match[3]) + 24 * 60) % (24 * 60) || 24 * 60;
    // A weekly window: the fewest whole weeks in 32 days is 4.
    if (length < MIN_WINDOW_MINUTES || (length / 60) * days.length * 4 < MIN_HOURS_IN_32_DAYS) {
        return reader.reject("maintenanceWindow", value, allowed);
    }
    return { days: days as MaintenanceWindow["days"], start: `${match[2]}:${match[3]}`, end: `${match[4]}:${match[5]}` };
}

const EXCLUSION_NAME = /^[a-z0-9]([a-z0-9-]{0,61}[a-z0-9])?$/;
const UTC_TIME = /^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}Z$/;
/** GKE: a NO_UPGRADES exclusion lasts at most 30 days; the others at most 180 (end of support aside). */
const MAX_EXCLUSION_DAYS: Record<(typeof EXCLUSION_SCOPES)[number], number> = {
    NO_UPGRADES: 30,
    NO_MINOR_UPGRADES: 180,
    NO_MINOR_OR_NODE_UPGRADES: 180,
};

function readMaintenanceExclusions(reader: ConfigReader): MaintenanceExclusion[] | undefined {
    const entries = reader.stringList("maintenanceExclusions");
    if (entries === undefined) {
        return undefined;
    }
    const exclusions: MaintenanceExclusion[] = [];
    for (const entry of entries) {
        const [name, period, scope, ...rest] = entry.trim().split(/\s+/);
        const [start, end, ...more] = (period ?? "").split("/");
        const startMs = Date.parse(start);
        const endMs = Date.parse(end);
        const scopeOk = (EXCLUSION_SCOPES as readonly string[]).includes(scope);
        const ok =
            rest.length === 0 &&
            more.length === 0 &&
            EXCLUSION_NAME.test(name ?? "") &&
            UTC_TIME.test(start ?? "") &&
            UTC_TIME.test(end ?? "") &&
            !Number.isNaN(startMs) &&
            !Number.isNaN(endMs) &&
            startMs < endMs &&
            scopeOk &&
            (endMs - startMs) / 86_400_000 <= MAX_EXCLUSION_DAYS[scope as (typeof EXCLUSION_SCOPES)[number]];
        if (!ok) {
            reader.reject(
                "maintenanceExclusions",
                entry,
                `"<name> <start>/<end> <scope>" such as "black-friday 2025-11-27T00:00:00Z/2025-12-01T00:00:00Z NO_UPGRADES": a lowercase name, UTC times with start before end, scope one of ${EXCLUSION_SCOPES.join(", ")} (NO_UPGRADES at most 30 days, the others 180)`,
            );
        } else if (exclusions.some((e) => e.name === name)) {
            reader.reject("maintenanceExclusions", entry, "exclusions with distinct names");
        } else {
            exclusions.push({ name, start, end, scope: scope as MaintenanceExclusion["scope"] });
        }
    }
    if (exclusions.length > 20) {
        reader.reject("maintenanceExclusions", `${exclusions.length} exclusions`, "at most 20 exclusions (GKE's limit)");
    }
    return exclusions;
}

function readFlowLogSampling(reader: ConfigReader): number | undefined {
    const value = reader.raw("flowLogSampling");
    const parsed = Number(value);
    const ok = value !== undefined && value.trim() !== "" && Number.isFinite(parsed) && parsed > 0 && parsed <= 1;
    return ok ? parsed : reader.reject("flowLogSampling", value, "a number above 0 and at most 1, the share of flows VPC flow logs sample");
}

function readBinaryAuthorization(reader: ConfigReader, deletionProtection: boolean): GkeSettings["binaryAuthorization"] | undefined {
    const mode = reader.oneOf("binaryAuthorization", BINARY_AUTHORIZATION_MODES);
    if (mode === "off" && deletionProtection) {
        return reader.reject(
            "binaryAuthorization",
            mode,
            "auto or enforce on a stack with deletionProtection: true: a stack that protects its data runs only admitted images",
        );
    }
    return mode === undefined ? undefined : mode === "enforce" || (mode === "auto" && deletionProtection) ? "enforce" : "off";
}

function readZone(reader: ConfigReader, region: string | undefined): string | undefined {
    const zone = reader.raw("gcp:zone");
    if (region === undefined) {
        return zone; // the region's own problem is already reported
    }
    const allowed = `a zone of ${region}, such as ${region}-a`;
    return zone !== undefined && new RegExp(`^${region}-[a-z]$`).test(zone) ? zone : reader.reject("gcp:zone", zone, allowed);
}

function readNodePool(reader: ConfigReader, deletionProtection: boolean): NodePoolSettings | undefined {
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
        spot: readNodeSpot(reader, deletionProtection),
    };
    return settings as NodePoolSettings;
}

/**
 * The node pool holds Kafka, PostgreSQL, the Airflow control plane and the streaming driver. On Spot a
 * preemption restarts them all at once (their volumes survive: they are persistent disks), which a stack whose
 * data is disposable may trade for a node at 40 % of the price; a stack that protects its data may not.
 */
function readNodeSpot(reader: ConfigReader, deletionProtection: boolean): boolean | undefined {
    const spot = reader.boolean("nodeSpot");
    if (spot === true && deletionProtection) {
        return reader.reject(
            "nodeSpot",
            "true",
            "false where deletionProtection is on: the node pool holds Kafka's quorum and PostgreSQL, which a preemption would stop together; set spotPool: true for a Spot pool for Spark and Celery workers",
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
