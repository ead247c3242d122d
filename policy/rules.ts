import {
    Policies,
    PolicyResource,
    ReportViolation,
    ResourceValidation,
    ResourceValidationArgs,
    ResourceValidationPolicy,
    StackValidationPolicy,
    UnknownValueError,
} from "@pulumi/policy";
import { isMap } from "../components/data/charts";
import { TYPES as SHARED_TYPES } from "../offline/resourceTypes";

/** The resource types the rules judge, from the project's one table of type tokens. */
export const TYPES = {
    cluster: SHARED_TYPES.cluster,
    nodePool: SHARED_TYPES.nodePool,
    helmRelease: SHARED_TYPES.helmRelease,
    helmChart: SHARED_TYPES.helmChart,
    service: SHARED_TYPES.service,
} as const;

const HELM_TYPES = [TYPES.helmRelease, TYPES.helmChart];

// The inputs the rules read, named as in the provider SDKs. Declared here, not imported: type-checking
// the SDKs' declarations would add seconds to every run of the pack, which ts-node type-checks on load.
type Values = Record<string, unknown>;
interface NodeConfig {
    serviceAccount?: string;
    workloadMetadataConfig?: { mode?: string };
}
interface NodePoolProps {
    nodeConfig?: NodeConfig;
    networkConfig?: { enablePrivateNodes?: boolean };
}
interface ClusterProps {
    privateClusterConfig?: { enablePrivateNodes?: boolean };
    masterAuthorizedNetworksConfig?: { cidrBlocks?: { cidrBlock?: string }[]; gcpPublicCidrsAccessEnabled?: boolean };
    workloadIdentityConfig?: { workloadPool?: string };
    nodeConfig?: NodeConfig;
    nodePools?: NodePoolProps[];
    deletionProtection?: boolean;
}
interface HelmProps {
    chart?: string;
    version?: string;
    values?: Values;
}
interface ServiceProps {
    spec?: Values;
}

// In a preview the engine's props proxy throws UnknownValueError for values it cannot know yet, and
// reports a rule that lets it escape as "can't run during preview" (advisory); an update sees every
// value. Rules read props directly where that is the right answer, and through read() only where an
// unknown value is harmless or the rest of the resource can still be checked.

/** Stands for a value the engine cannot know yet. */
const UNKNOWN = Symbol("unknown");

/** `container[key]`, or UNKNOWN where the engine's props proxy throws because the value is unknown. */
function read<T extends object, K extends keyof T>(container: T, key: K): T[K] | typeof UNKNOWN {
    try {
        return container[key];
    } catch (e) {
        if (e instanceof UnknownValueError) {
            return UNKNOWN;
        }
        throw e;
    }
}

/** Every map in a Helm values tree with its path; unknown values inside it are skipped so the rest is still checked. */
function* valueMaps(value: unknown, path: string): Generator<{ map: Values; path: string }> {
    if (isMap(value)) {
        yield { map: value, path };
        for (const key of Object.keys(value)) {
            yield* valueMaps(read(value, key), `${path}.${key}`);
        }
    } else if (Array.isArray(value)) {
        for (let i = 0; i < value.length; i++) {
            yield* valueMaps(read(value, i), `${path}[${i}]`);
        }
    }
}

/** 0.0.0.0/0, ::/0 or any other prefix of length 0. */
const isEveryAddress = (cidr: unknown) => typeof cidr === "string" && /\/0+$/.test(cidr.trim());

type Check<P> = (props: P, args: ResourceValidationArgs, reportViolation: ReportViolation) => void;

/** Runs `check` on resources of the given types; others are not applicable, as with validateResourceOfType. */
function forTypes<P>(types: readonly string[], check: Check<P>): ResourceValidation {
    return (args, reportViolation) =>
        types.includes(args.type) ? check(args.props as P, args, reportViolation) : args.notApplicable(`Policy only applies to ${types.join(", ")}`);
}

/** A node pool a resource defines, with the prefix of its fields in the resource's inputs. */
interface Pool {
    prefix: string;
    pool: NodePoolProps;
}

/** A NodePool is one pool; a cluster has its default pool and any inline nodePools. */
function poolsOf(args: ResourceValidationArgs): Pool[] {
    if (args.type === TYPES.nodePool) {
        return [{ prefix: "", pool: args.props as NodePoolProps }];
    }
    const cluster = args.props as ClusterProps;
    return [
        // The cluster's nodeConfig is its default pool's, which runs even when removeDefaultNodePool deletes it
        // later. A getter, so an unknown nodeConfig throws where a rule reads it, as the props proxy would.
        {
            prefix: "",
            pool: {
                get nodeConfig() {
                    return cluster.nodeConfig;
                },
            },
        },
        ...(cluster.nodePools ?? []).map((pool, i) => ({ prefix: `nodePools[${i}].`, pool })),
    ];
}

const GKE_NODE_TYPES = [TYPES.cluster, TYPES.nodePool];

export const privateNodes: ResourceValidationPolicy = {
    name: "gke-private-nodes",
    description: "GKE clusters have private nodes: no node gets a public IP address.",
    enforcementLevel: "mandatory",
    validateResource: forTypes<ClusterProps | NodePoolProps>(GKE_NODE_TYPES, (props, args, reportViolation) => {
        if (args.type === TYPES.cluster && (props as ClusterProps).privateClusterConfig?.enablePrivateNodes !== true) {
            reportViolation("privateClusterConfig.enablePrivateNodes must be true: nodes must have no public IP addresses.");
        }
        // A pool inherits the cluster's setting unless it turns private nodes off for itself.
        for (const { prefix, pool } of poolsOf(args)) {
            if (pool.networkConfig?.enablePrivateNodes === false) {
                reportViolation(`${prefix}networkConfig.enablePrivateNodes must not be false: the pool's nodes would get public IP addresses.`);
            }
        }
    }),
};

export const controlPlaneNotPublic: ResourceValidationPolicy = {
    name: "gke-control-plane-not-public",
    description: "The GKE control plane's IP endpoint admits only listed networks, never 0.0.0.0/0.",
    enforcementLevel: "mandatory",
    validateResource: forTypes<ClusterProps>([TYPES.cluster], (cluster, _, reportViolation) => {
        const authorized = cluster.masterAuthorizedNetworksConfig;
        if (!authorized) {
            // Without the block GKE turns authorized networks off and the IP endpoint accepts every address.
            reportViolation(
                "masterAuthorizedNetworksConfig must be set: without it the control plane accepts every address (an empty cidrBlocks list admits no external network).",
            );
            return;
        }
        if (authorized.gcpPublicCidrsAccessEnabled === true) {
            reportViolation(
                "masterAuthorizedNetworksConfig.gcpPublicCidrsAccessEnabled must not be true: it admits every Google Cloud public IP address, anyone's VMs included.",
            );
        }
        (authorized.cidrBlocks ?? []).forEach((block, i) => {
            if (isEveryAddress(block.cidrBlock)) {
                reportViolation(
                    `masterAuthorizedNetworksConfig.cidrBlocks[${i}].cidrBlock must not be ${block.cidrBlock}: list only the networks that need the control plane.`,
                );
            }
        });
    }),
};

export const workloadIdentity: ResourceValidationPolicy = {
    name: "gke-workload-identity",
    description: "GKE clusters have Workload Identity, so pods never borrow the node's Google credentials.",
    enforcementLevel: "mandatory",
    validateResource: forTypes<ClusterProps | NodePoolProps>(GKE_NODE_TYPES, (props, args, reportViolation) => {
        if (args.type === TYPES.cluster && !(props as ClusterProps).workloadIdentityConfig?.workloadPool) {
            reportViolation(
                "workloadIdentityConfig.workloadPool must be set to <project>.svc.id.goog: pods must get Google credentials through Workload Identity.",
            );
        }
        // Pools default to GKE_METADATA on a Workload Identity cluster; GCE_METADATA opts a pool out.
        for (const { prefix, pool } of poolsOf(args)) {
            if (pool.nodeConfig?.workloadMetadataConfig?.mode === "GCE_METADATA") {
                reportViolation(
                    `${prefix}nodeConfig.workloadMetadataConfig.mode must be GKE_METADATA, not GCE_METADATA: pods would get the node service account's credentials.`,
                );
            }
        }
    }),
};

const DEFAULT_COMPUTE_ACCOUNT = /-compute@developer\.gserviceaccount\.com$/;

export const dedicatedNodeServiceAccount: ResourceValidationPolicy = {
    name: "gke-nodes-dedicated-service-account",
    description: "GKE nodes run as a dedicated least-privilege service account, never the default compute service account (Editor on the project).",
    enforcementLevel: "mandatory",
    validateResource: forTypes<ClusterProps | NodePoolProps>(GKE_NODE_TYPES, (_, args, reportViolation) => {
        for (const { prefix, pool } of poolsOf(args)) {
            const field = `${prefix}nodeConfig.serviceAccount`;
            const nodeConfig = pool.nodeConfig;
            const account = nodeConfig && read(nodeConfig, "serviceAccount");
            // An account unknown in a preview is one created in the same deployment, so not the default one.
            if (account === UNKNOWN) {
                continue;
            }
            if (!account) {
                reportViolation(`${field} must be set to a dedicated service account: unset, nodes run as the default compute service account.`);
            } else if (account === "default" || DEFAULT_COMPUTE_ACCOUNT.test(account)) {
                reportViolation(`${field} must be a dedicated service account, not the default compute service account (${account}).`);
            }
        }
    }),
};

// Which stacks need a protected cluster is derived from the stack itself, not from its name: the program
// protects what holds data (Pulumi's `protect` on Kafka and PostgreSQL, inherited by their children)
// under the same `deletionProtection` key that sets the cluster's flag, so a stack with anything
// protected is a stack whose cluster must be protected too. A list of stack names (the former `stacks`
// config, default ["prod"]) was a second copy of that key which a new stack, a renamed one or a
// deliberate `deletionProtection: false` (the destroy in .github/scripts/pulumi-destroy.sh) had to be
// kept in step with by hand. A resource rule sees only the cluster, so this is a stack rule: the engine
// runs it on every resource of the stack, at the end of a preview or an update. Hence the trade-off:
// `pulumi up` from pulumi/actions skips its preview, so there the rule reports after the update, not
// before it; the preview of every pull request (preview.yml) runs it before anything changes.

/** The stack's protected resources that are not protected merely by inheriting it from a protected parent. */
function protectionRoots(resources: PolicyResource[]): PolicyResource[] {
    const byUrn = new Map(resources.map((r) => [r.urn, r]));
    return resources.filter((r) => {
        if (!r.opts.protect) {
            return false;
        }
        const parent = r.parent ?? (r.opts.parent === undefined ? undefined : byUrn.get(r.opts.parent));
        return !parent?.opts.protect;
    });
}

export const deletionProtection: StackValidationPolicy = {
    name: "gke-deletion-protection-on-protected-stacks",
    description:
        "On a stack that protects any resource (Pulumi's protect, as deletionProtection sets on Kafka and PostgreSQL), GKE clusters have deletion protection.",
    enforcementLevel: "mandatory",
    validateStack: (args, reportViolation) => {
        const clusters = args.resources.filter((r) => r.type === TYPES.cluster);
        if (clusters.length === 0) {
            return args.notApplicable(`Policy only applies to stacks with a ${TYPES.cluster}`);
        }
        const roots = protectionRoots(args.resources);
        if (roots.length === 0) {
            return args.notApplicable("the stack protects no resource");
        }
        const named = roots.map((r) => `${r.name} (${r.type})`).join(", ");
        for (const cluster of clusters) {
            // Unset is a violation although the provider now defaults to true: that default changed between
            // provider versions, and only an explicit value shows in a review.
            if ((cluster.props as ClusterProps).deletionProtection !== true) {
                reportViolation(
                    `deletionProtection must be set to true: the stack protects ${named}, and deleting cluster ${cluster.name} would take them down with it.`,
                    cluster.urn,
                );
            }
        }
    },
};

/** An exact SemVer 2.0 version: no range, wildcard, "v" prefix or partial version. */
const EXACT_VERSION = /^(0|[1-9]\d*)\.(0|[1-9]\d*)\.(0|[1-9]\d*)(-[0-9A-Za-z-]+(\.[0-9A-Za-z-]+)*)?(\+[0-9A-Za-z-]+(\.[0-9A-Za-z-]+)*)?$/;
/** A chart directory or archive: Helm installs those files as they are and ignores `version`. */
const LOCAL_OR_ARCHIVE_CHART = /^(\.{0,2}\/|file:\/\/)|\.tgz$/;

export const pinnedChartVersions: ResourceValidationPolicy = {
    name: "helm-chart-version-pinned",
    description: "Helm releases and charts pin an exact chart version, so an update never pulls a different chart.",
    enforcementLevel: "mandatory",
    validateResource: forTypes<HelmProps>(HELM_TYPES, (helm, _, reportViolation) => {
        if (typeof helm.chart === "string" && LOCAL_OR_ARCHIVE_CHART.test(helm.chart)) {
            return;
        }
        if (!helm.version) {
            reportViolation("version must be set to an exact chart version such as 1.2.3: unset, Helm installs whatever is latest.");
        } else if (!EXACT_VERSION.test(helm.version)) {
            reportViolation(`version must be an exact chart version such as 1.2.3, not "${helm.version}".`);
        }
    }),
};

// Matched against key names with "-", "_" and "." removed, so AIRFLOW__WEBSERVER__SECRET_KEY and
// ssl.keystore.password are caught like secretKey and password.
const CREDENTIAL_KEY = /(passwords?|passwd|bindpw|secret|token|fernetkey|secretkey|apikey)$/i;
/**
 * Keys that say where a credential is kept instead of holding one: existing* Secret names and keys,
 * Bitnami's <key>PasswordSecretKey key names, and its <purpose>Secret keys that name a Secret object
 * (primary.initdb.scriptsSecret, tls.certificatesSecret, extraEnvVarsSecret, ...).
 */
const REFERENCE_KEY = /existing|(password|token)secretkey$|(scripts|certificates|passwords|envvars|truststore|keystore|user)secret$/i;

const isCredentialKey = (key: string) => {
    const bare = key.replace(/[-_.]/g, "");
    return CREDENTIAL_KEY.test(bare) && !REFERENCE_KEY.test(bare);
};

/** A value that is a credential itself: text, a number (YAML reads 123456 as one) or a list of them. */
function isLiteral(value: unknown): boolean {
    if (Array.isArray(value)) {
        return value.some((_, i) => isLiteral(read(value, i)));
    }
    return (typeof value === "string" && value !== "") || typeof value === "number";
}

export const noLiteralCredentialsInHelmValues: ResourceValidationPolicy = {
    name: "helm-values-no-literal-credentials",
    description:
        "Helm values carry no passwords, secrets or tokens: charts read them from Kubernetes Secrets. Values are stored in the release and shown in every diff.",
    enforcementLevel: "mandatory",
    validateResource: forTypes<HelmProps>(HELM_TYPES, (helm, _, reportViolation) => {
        // The messages never repeat a value: it is a credential.
        for (const { map, path } of valueMaps(helm.values, "values")) {
            // secretKeys maps the chart's credentials to key names inside an existing Secret.
            if (path.split(".").includes("secretKeys")) {
                continue;
            }
            for (const key of Object.keys(map)) {
                if (isCredentialKey(key) && isLiteral(read(map, key))) {
                    reportViolation(
                        `${path}.${key} must not hold a literal credential: put it in a Kubernetes Secret and set the chart's existingSecret instead.`,
                    );
                }
            }
            // Environment lists (extraEnvVars and the like) carry credentials as {name, value} pairs.
            const name = read(map, "name");
            if (typeof name === "string" && isCredentialKey(name) && isLiteral(read(map, "value"))) {
                reportViolation(
                    `${path}.value must not hold a literal credential (${name}): take it from a Kubernetes Secret with valueFrom.secretKeyRef instead.`,
                );
            }
        }
    }),
};

function checkLoadBalancer(path: string, service: Values, reportViolation: ReportViolation) {
    if (read(service, "type") !== "LoadBalancer") {
        return;
    }
    const ranges = read(service, "loadBalancerSourceRanges");
    if (ranges === UNKNOWN) {
        return;
    }
    if (!Array.isArray(ranges) || ranges.length === 0) {
        reportViolation(
            `${path}.loadBalancerSourceRanges must list the client CIDRs allowed in when ${path}.type is LoadBalancer: empty, every address can reach it.`,
        );
        return;
    }
    ranges.forEach((range, i) => {
        if (isEveryAddress(range)) {
            reportViolation(`${path}.loadBalancerSourceRanges[${i}] must not be ${range}: list only the client networks that need the LoadBalancer.`);
        }
    });
}

export const loadBalancerSourceRanges: ResourceValidationPolicy = {
    name: "load-balancer-source-ranges",
    description: "LoadBalancer Services, including those Helm values ask for, admit only listed client networks.",
    enforcementLevel: "mandatory",
    validateResource: forTypes<ServiceProps | HelmProps>([TYPES.service, ...HELM_TYPES], (props, args, reportViolation) => {
        if (args.type === TYPES.service) {
            const spec = (props as ServiceProps).spec;
            if (isMap(spec)) {
                checkLoadBalancer("spec", spec, reportViolation);
            }
            return;
        }
        // Charts name their service maps freely (service, master.service, externalAccess.broker.service, ...).
        for (const { map, path } of valueMaps((props as HelmProps).values, "values")) {
            checkLoadBalancer(path, map, reportViolation);
        }
    }),
};

/** Every rule of the pack, in the order they are reported. */
export const policies: Policies = [
    privateNodes,
    controlPlaneNotPublic,
    workloadIdentity,
    dedicatedNodeServiceAccount,
    deletionProtection,
    pinnedChartVersions,
    noLiteralCredentialsInHelmValues,
    loadBalancerSourceRanges,
];
