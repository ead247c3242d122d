import * as pulumi from "@pulumi/pulumi";
import { BITNAMI_CHART_REPOSITORY, IMAGES_LOCK_FILE, pinnedImages, readImageLock } from "../components/data/charts";
import { bitnamiRepositoryId } from "../components/gcp/dockerRepository";
import { parseCidr } from "./cidr";
import { ConfigReader } from "./reader";

export const AIRFLOW_EXECUTORS = ["LocalExecutor", "CeleryExecutor"] as const;
export const UI_EXPOSURES = ["ClusterIP", "LoadBalancer"] as const;

/** Requests for a container; memory is also its limit, so a pod is never OOM-killed for using what it asked for. */
export interface ContainerSize {
    readonly cpu: string;
    readonly memory: string;
}

export interface KafkaSettings {
    readonly replicas: number;
    readonly size: ContainerSize;
    readonly storage: string;
    readonly topic: {
        readonly name: string;
        readonly partitions: number;
        readonly replicationFactor: number;
    };
    /** The CA generations in the trust bundle and the one that signs the certificates (components/data/kafkaCaRotation.ts). */
    readonly cas: { readonly trusted: readonly number[]; readonly signing: number };
}

export interface PostgresqlSettings {
    readonly size: ContainerSize;
    readonly storage: string;
    /** Streaming replicas in other zones; 0 runs a single standalone instance. */
    readonly readReplicas: number;
}

export interface SparkSettings {
    readonly workers: number;
    /** Upper bound for the worker autoscaler; equal to workers when autoscaling is off. */
    readonly maxWorkers: number;
    /** Cores and memory each worker offers to executors. */
    readonly workerCores: number;
    readonly workerMemoryGiB: number;
}

export interface AirflowSettings {
    readonly executor: (typeof AIRFLOW_EXECUTORS)[number];
    readonly replicas: number;
}

export interface ExposureSettings {
    readonly type: (typeof UI_EXPOSURES)[number];
    readonly sourceRanges: readonly string[];
}

/**
 * Where a stack pulls every Bitnami image from (repositories stay bitnamilegacy/<name>):
 * - `stackRepository`: the stack's own standard Artifact Registry repository (bitnamiRepositoryId), which
 *   `npm run images:mirror -- --stack <stack>` fills by digest; a GKE stack's default (config `imageRegistry` unset).
 * - `dockerHubMirror`: the remote (pull-through) repository of Docker Hub (config `dockerHubMirror`).
 * - `registry`: the registry config `imageRegistry` names; a kubeconfig stack's default is docker.io.
 */
export type ImageSource =
    { readonly kind: "stackRepository" } | { readonly kind: "dockerHubMirror" } | { readonly kind: "registry"; readonly registry: string };

export interface ServiceSettings {
    readonly imageSource: ImageSource;
    readonly kafka: KafkaSettings;
    readonly postgresql: PostgresqlSettings;
    readonly spark: SparkSettings;
    readonly airflow: AirflowSettings;
    readonly uiExposure: ExposureSettings;
}

const CPU = /^([1-9][0-9]*m|[0-9]+(\.[0-9]+)?)$/;
const MEMORY = /^[1-9][0-9]*(Mi|Gi)$/;
const STORAGE = /^[1-9][0-9]*Gi$/;
const TOPIC = /^[a-zA-Z0-9._-]{1,249}$/;
/** A registry host with an optional path, as imageRegistry takes it (and `npm run images:mirror -- --to`). */
export const REGISTRY = /^[a-z0-9.-]+(:[0-9]+)?(\/[a-z0-9._-]+)*$/;
/** An OCI repository of charts, as chartRepository takes it (and `npm run charts:pull -- --push`). */
export const CHART_REPOSITORY = new RegExp(`^oci://${REGISTRY.source.slice(1, -1)}$`);

export function size(reader: ConfigReader, prefix: string): ContainerSize {
    return {
        cpu: reader.string(`${prefix}Cpu`, CPU, "a CPU quantity such as 500m or 2")!,
        memory: reader.string(`${prefix}Memory`, MEMORY, "a memory quantity in Mi or Gi such as 1536Mi or 2Gi")!,
    };
}

/**
 * A CA rotation moves through at most two trusted CAs (old and new; docs/runbook.md), and the signing one
 * must be among them. Whether a step may follow the deployed one is checked against the state at preview
 * (components/data/kafkaCaRotation.ts), not here: config alone does not know what is deployed.
 */
function kafkaCas(reader: ConfigReader): KafkaSettings["cas"] {
    const raw = reader.raw("kafkaTrustedCas");
    let trusted: number[] | undefined;
    try {
        const parsed: unknown = JSON.parse(raw ?? "");
        if (
            Array.isArray(parsed) &&
            parsed.length >= 1 &&
            parsed.length <= 2 &&
            parsed.every((g) => Number.isInteger(g) && g >= 1) &&
            new Set(parsed).size === parsed.length
        ) {
            trusted = parsed;
        }
    } catch {
        // reported below like any other wrong shape
    }
    if (!trusted) {
        reader.reject("kafkaTrustedCas", raw, "a list of one or two distinct CA generations (integers >= 1), such as [1] or [1, 2]");
    }
    const signing = reader.integer("kafkaSigningCa", 1);
    if (trusted && signing !== undefined && !trusted.includes(signing)) {
        reader.reject(
            "kafkaSigningCa",
            String(signing),
            `one of kafkaTrustedCas (${JSON.stringify(trusted)}): nodes must trust the CA of their own certificates`,
        );
    }
    return { trusted: trusted!, signing: signing! };
}

function kafka(reader: ConfigReader): KafkaSettings {
    const replicas = reader.integer("kafkaReplicas", 1, 9);
    const replicationFactor = reader.integer("kafkaTopicReplication", 1);
    if (replicas !== undefined && replicationFactor !== undefined && replicationFactor > replicas) {
        reader.reject("kafkaTopicReplication", String(replicationFactor), `an integer from 1 to kafkaReplicas (${replicas})`);
    }
    if (replicas !== undefined && replicas > 1 && replicas % 2 === 0) {
        reader.reject("kafkaReplicas", String(replicas), "an odd number (1, 3, 5...) so the KRaft controller quorum survives a failure");
    }
    return {
        replicas: replicas!,
        size: size(reader, "kafka"),
        storage: reader.string("kafkaStorage", STORAGE, "a volume size in Gi such as 20Gi")!,
        topic: {
            name: reader.string("kafkaTopic", TOPIC, "a Kafka topic name of letters, digits, '.', '_' and '-'")!,
            partitions: reader.integer("kafkaTopicPartitions", 1, 1000)!,
            // min.insync.replicas follows it, derived in components/data/kafka.ts.
            replicationFactor: replicationFactor!,
        },
        cas: kafkaCas(reader),
    };
}

function spark(reader: ConfigReader): SparkSettings {
    const workers = reader.integer("sparkWorkers", 1, 50);
    const maxWorkers = reader.integer("sparkMaxWorkers", 0, 50);
    if (workers !== undefined && maxWorkers !== undefined && maxWorkers !== 0 && maxWorkers < workers) {
        reader.reject("sparkMaxWorkers", String(maxWorkers), `0 (no autoscaling) or an integer >= sparkWorkers (${workers})`);
    }
    return {
        workers: workers!,
        maxWorkers: maxWorkers === 0 ? workers! : maxWorkers!,
        workerCores: reader.integer("sparkWorkerCores", 1, 64)!,
        workerMemoryGiB: reader.integer("sparkWorkerMemoryGiB", 1, 256)!,
    };
}

function uiExposure(reader: ConfigReader, onGke: boolean): ExposureSettings {
    const type = reader.oneOf("uiExposure", UI_EXPOSURES);
    if (type === "LoadBalancer" && !onGke) {
        reader.reject("uiExposure", type, "ClusterIP when clusterTarget is kubeconfig (the LoadBalancer UIs use addresses reserved in Google Cloud)");
    }
    const sourceRanges = reader.stringList("uiSourceRanges") ?? [];
    if (type === "LoadBalancer" && sourceRanges.length === 0) {
        reader.reject("uiSourceRanges", [], "at least one CIDR when uiExposure is LoadBalancer (the UIs must not face the whole internet)");
    }
    for (const range of sourceRanges) {
        const block = parseCidr(range);
        if (typeof block === "string") {
            reader.reject("uiSourceRanges", range, `IPv4 networks in CIDR form; this one ${block}`);
        } else if (block.prefix === 0) {
            reader.reject("uiSourceRanges", range, "specific CIDRs; 0.0.0.0/0 would publish the UIs to the internet");
        }
    }
    return { type: type!, sourceRanges };
}

function airflowExecutor(reader: ConfigReader): (typeof AIRFLOW_EXECUTORS)[number] | undefined {
    if (reader.raw("airflowExecutor") === "KubernetesExecutor") {
        // Chart airflow 25.0.2 gives the scheduler no Role to create task pods (rbac.create: false), mounts
        // no token for it, and renders the pod template's image as repository:digest plus a second tag.
        return reader.reject(
            "airflowExecutor",
            "KubernetesExecutor",
            `one of ${AIRFLOW_EXECUTORS.join(", ")}; KubernetesExecutor is not supported by this platform yet (the chart's pod template does not run)`,
        );
    }
    return reader.oneOf("airflowExecutor", AIRFLOW_EXECUTORS);
}

/**
 * Where the Bitnami images come from (ImageSource). A stack that pulls from its own repository must have every
 * pinned image's digest in the lock: `npm run images:mirror` writes the lock only once the images are in the
 * target, so a missing digest means an image that was never copied, and the stack is refused before anything
 * is created rather than rolled onto a repository that cannot serve it.
 */
function imageSource(reader: ConfigReader, onGke: boolean): ImageSource | undefined {
    const registry = reader.raw("imageRegistry") ?? "";
    const dockerHubMirror = reader.boolean("dockerHubMirror");
    if (registry !== "" && !REGISTRY.test(registry)) {
        return reader.reject(
            "imageRegistry",
            registry,
            "empty (a GKE stack's own Artifact Registry repository, docker.io on kubeconfig) or a registry host with an optional path, such as docker.io or mirror.example.com/dockerhub",
        );
    }
    if (dockerHubMirror && !onGke) {
        return reader.reject("dockerHubMirror", "true", "false when clusterTarget is kubeconfig (the mirror is an Artifact Registry repository)");
    }
    if (dockerHubMirror && registry !== "") {
        return reader.reject(
            "dockerHubMirror",
            "true",
            `false when imageRegistry is set (${registry}): each names where every Bitnami image is pulled from; unset imageRegistry to pull through the Docker Hub mirror`,
        );
    }
    if (registry !== "" || !onGke) {
        return { kind: "registry", registry: registry || "docker.io" };
    }
    if (dockerHubMirror) {
        return { kind: "dockerHubMirror" };
    }
    const { digests } = readImageLock();
    const pinned = [...pinnedImages()];
    const missing = pinned.filter((image) => !digests.has(image)).sort();
    if (missing.length > 0) {
        const stack = pulumi.getStack();
        const lock = IMAGES_LOCK_FILE.slice(IMAGES_LOCK_FILE.lastIndexOf("helm-values"));
        return reader.reject(
            "imageRegistry",
            undefined,
            `with imageRegistry unset, this GKE stack pulls every Bitnami image by digest from its own Artifact Registry repository ${bitnamiRepositoryId(stack)}, ` +
                (missing.length === pinned.length
                    ? `but ${lock} has none of their ${pinned.length} digests. `
                    : `but ${lock} has no digest for ${missing.length} of them (${missing.join(", ")}). `) +
                `Copy them there and lock their digests, where Docker Hub is reachable: npm run images:mirror -- --stack ${stack} ` +
                `(the repository must exist first: README, "Images and charts in your own project"), and commit the lock. ` +
                `To pull from Docker Hub until then: pulumi config set imageRegistry docker.io -s ${stack}`,
        );
    }
    return { kind: "stackRepository" };
}

/** Config `chartRepository`, which components/data/bitnamiRelease.ts reads once it is checked here. */
function checkChartRepository(reader: ConfigReader): void {
    const value = reader.raw("chartRepository") ?? "";
    if (value !== "" && !CHART_REPOSITORY.test(value)) {
        reader.reject(
            "chartRepository",
            value,
            `empty (Bitnami's ${BITNAMI_CHART_REPOSITORY}) or an OCI repository holding the pinned charts, such as oci://us-central1-docker.pkg.dev/<project>/${bitnamiRepositoryId(pulumi.getStack())}/bitnamicharts (npm run charts:pull -- --stack ${pulumi.getStack()} --push)`,
        );
    }
}

/** Reads the data-service settings; problems are collected on the reader like every other key. */
export function readServices(reader: ConfigReader, onGke: boolean): ServiceSettings {
    checkChartRepository(reader);
    return {
        imageSource: imageSource(reader, onGke)!,
        kafka: kafka(reader),
        postgresql: {
            size: size(reader, "postgresql"),
            storage: reader.string("postgresqlStorage", STORAGE, "a volume size in Gi such as 20Gi")!,
            readReplicas: reader.integer("postgresqlReadReplicas", 0, 5)!,
        },
        spark: spark(reader),
        airflow: {
            executor: airflowExecutor(reader)!,
            replicas: reader.integer("airflowReplicas", 1, 10)!,
        },
        uiExposure: uiExposure(reader, onGke),
    };
}
