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
import { IMAGE_DIGEST, isMap } from "../components/data/charts";
import { TYPES as SHARED_TYPES } from "../offline/resourceTypes";

/** The resource types the rules judge, from the project's one table of type tokens. */
export const TYPES = {
    cluster: SHARED_TYPES.cluster,
    nodePool: SHARED_TYPES.nodePool,
    helmRelease: SHARED_TYPES.helmRelease,
    helmChart: SHARED_TYPES.helmChart,
    service: SHARED_TYPES.service,
    namespace: SHARED_TYPES.namespace,
    subnetwork: SHARED_TYPES.subnetwork,
    projectIamMember: SHARED_TYPES.projectIamMember,
    projectIamBinding: "gcp:projects/iAMBinding:IAMBinding",
    projectIamPolicy: "gcp:projects/iAMPolicy:IAMPolicy",
    repositoryIamMember: "gcp:artifactregistry/repositoryIamMember:RepositoryIamMember",
    repositoryIamBinding: "gcp:artifactregistry/repositoryIamBinding:RepositoryIamBinding",
    repositoryIamPolicy: "gcp:artifactregistry/repositoryIamPolicy:RepositoryIamPolicy",
    pod: "kubernetes:core/v1:Pod",
    deployment: SHARED_TYPES.deployment,
    statefulSet: "kubernetes:apps/v1:StatefulSet",
    daemonSet: "kubernetes:apps/v1:DaemonSet",
    replicaSet: "kubernetes:apps/v1:ReplicaSet",
    job: SHARED_TYPES.job,
    cronJob: "kubernetes:batch/v1:CronJob",
} as const;

const HELM_TYPES = [TYPES.helmRelease, TYPES.helmChart];

// The inputs the rules read, named as in the provider SDKs. Declared here, not imported: type-checking
// the SDKs' declarations would add seconds to every run of the pack, which ts-node type-checks on load.
type Values = Record<string, unknown>;
interface NodeConfig {
    serviceAccount?: string;
    workloadMetadataConfig?: { mode?: string };
    shieldedInstanceConfig?: { enableSecureBoot?: boolean; enableIntegrityMonitoring?: boolean };
    kubeletConfig?: { insecureKubeletReadonlyPortEnabled?: string };
}
interface NodePoolProps {
    nodeConfig?: NodeConfig;
    networkConfig?: { enablePrivateNodes?: boolean };
    management?: { autoRepair?: boolean; autoUpgrade?: boolean };
}
interface ClusterProps {
    privateClusterConfig?: { enablePrivateNodes?: boolean };
    masterAuthorizedNetworksConfig?: { cidrBlocks?: { cidrBlock?: string }[]; gcpPublicCidrsAccessEnabled?: boolean };
    controlPlaneEndpointsConfig?: { ipEndpointsConfig?: { enabled?: boolean } };
    workloadIdentityConfig?: { workloadPool?: string };
    nodeConfig?: NodeConfig;
    nodePools?: NodePoolProps[];
    nodePoolDefaults?: { nodeConfigDefaults?: { insecureKubeletReadonlyPortEnabled?: string } };
    deletionProtection?: boolean;
    enableShieldedNodes?: boolean;
    databaseEncryption?: { state?: string; keyName?: string };
    binaryAuthorization?: { enabled?: boolean; evaluationMode?: string };
    datapathProvider?: string;
    releaseChannel?: { channel?: string };
    enableLegacyAbac?: boolean;
    masterAuth?: { clientCertificateConfig?: { issueClientCertificate?: boolean } };
    loggingService?: string;
    monitoringService?: string;
    loggingConfig?: { enableComponents?: string[] };
    monitoringConfig?: { enableComponents?: string[] };
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
    description: "GKE clusters have private nodes: no node gets a public IP address. CIS GKE 1.6.0 5.6.5.",
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
    description: "The GKE control plane's IP endpoint admits only listed networks, never 0.0.0.0/0. CIS GKE 1.6.0 5.6.3.",
    enforcementLevel: "mandatory",
    validateResource: forTypes<ClusterProps>([TYPES.cluster], (cluster, _, reportViolation) => {
        const authorized = cluster.masterAuthorizedNetworksConfig;
        if (!authorized) {
            // With no IP endpoint there is nothing for the block to guard, and the program leaves it out then: the
            // provider reads a disabled block back as none, a diff in every preview.
            if (cluster.controlPlaneEndpointsConfig?.ipEndpointsConfig?.enabled === false) {
                return;
            }
            // Without the block GKE turns authorized networks off and the IP endpoint accepts every address.
            reportViolation(
                "masterAuthorizedNetworksConfig must be set while the IP endpoint is on: without it the control plane accepts every address (an empty cidrBlocks list admits no external network).",
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
    description: "GKE clusters have Workload Identity, so pods never borrow the node's Google credentials. CIS GKE 1.6.0 5.2.2 and 5.4.1.",
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
    description:
        "GKE nodes run as a dedicated least-privilege service account, never the default compute service account (Editor on the project). CIS GKE 1.6.0 5.2.1.",
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

/**
 * Runs `check` on each cluster of a stack that protects anything, with the protected resources named for
 * the message; not applicable to a stack without a cluster or without protected resources.
 */
function onProtectedStacks(
    check: (cluster: ClusterProps, stack: { protects: string; cluster: string }, report: (message: string) => void) => void,
): StackValidationPolicy["validateStack"] {
    return (args, reportViolation) => {
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
            check(cluster.props as ClusterProps, { protects: named, cluster: cluster.name }, (message) => reportViolation(message, cluster.urn));
        }
    };
}

export const deletionProtection: StackValidationPolicy = {
    name: "gke-deletion-protection-on-protected-stacks",
    description:
        "On a stack that protects any resource (Pulumi's protect, as deletionProtection sets on Kafka and PostgreSQL), GKE clusters have deletion protection. terraform-google-modules safer-cluster default (deletion_protection).",
    enforcementLevel: "mandatory",
    validateStack: onProtectedStacks((cluster, stack, report) => {
        // Unset is a violation although the provider now defaults to true: that default changed between
        // provider versions, and only an explicit value shows in a review.
        if (cluster.deletionProtection !== true) {
            report(
                `deletionProtection must be set to true: the stack protects ${stack.protects}, and deleting cluster ${stack.cluster} would take them down with it.`,
            );
        }
    }),
};

export const secretsEncryption: StackValidationPolicy = {
    name: "gke-secrets-encryption-on-protected-stacks",
    description:
        "On a stack that protects its data, GKE encrypts Secrets in etcd with a Cloud KMS key (application-layer secrets encryption). CIS GKE 1.6.0 5.3.1.",
    enforcementLevel: "mandatory",
    validateStack: onProtectedStacks((cluster, stack, report) => {
        const encryption = cluster.databaseEncryption;
        if (encryption?.state !== "ENCRYPTED") {
            report(
                `databaseEncryption.state must be ENCRYPTED, with keyName a Cloud KMS key: the stack protects ${stack.protects}, and cluster ${stack.cluster} keeps their credentials in Secrets encrypted only with Google's keys.`,
            );
            return;
        }
        // A key unknown in a preview is one created in the same deployment.
        const keyName = read(encryption, "keyName");
        if (keyName !== UNKNOWN && !keyName) {
            report(`databaseEncryption.keyName must name the Cloud KMS key that encrypts the Secrets of cluster ${stack.cluster}.`);
        }
    }),
};

/** Binary Authorization modes that enforce a policy; DISABLED and unset do not. */
const ENFORCING_BINARY_AUTHORIZATION = [
    "PROJECT_SINGLETON_POLICY_ENFORCE",
    "POLICY_BINDINGS",
    "POLICY_BINDINGS_AND_PROJECT_SINGLETON_POLICY_ENFORCE",
];

export const binaryAuthorization: StackValidationPolicy = {
    name: "gke-binary-authorization-on-protected-stacks",
    description:
        "On a stack that protects its data, GKE clusters enforce a Binary Authorization policy (binaryAuthorization.evaluationMode). CIS GKE 1.6.0 5.10.4 and 5.1.4.",
    enforcementLevel: "mandatory",
    validateStack: onProtectedStacks((cluster, stack, report) => {
        const mode = cluster.binaryAuthorization?.evaluationMode;
        if (!mode || !ENFORCING_BINARY_AUTHORIZATION.includes(mode)) {
            report(
                `binaryAuthorization.evaluationMode must be PROJECT_SINGLETON_POLICY_ENFORCE (or a policy-bindings mode), not ${mode ?? "unset"}: the stack protects ${stack.protects}, and cluster ${stack.cluster} would run any image.`,
            );
        }
    }),
};

/** An exact SemVer 2.0 version: no range, wildcard, "v" prefix or partial version. */
const EXACT_VERSION = /^(0|[1-9]\d*)\.(0|[1-9]\d*)\.(0|[1-9]\d*)(-[0-9A-Za-z-]+(\.[0-9A-Za-z-]+)*)?(\+[0-9A-Za-z-]+(\.[0-9A-Za-z-]+)*)?$/;
/** A chart directory or archive: Helm installs those files as they are and ignores `version`. */
const LOCAL_OR_ARCHIVE_CHART = /^(\.{0,2}\/|file:\/\/)|\.tgz$/;

export const pinnedChartVersions: ResourceValidationPolicy = {
    name: "helm-chart-version-pinned",
    description:
        "Helm releases and charts pin an exact chart version, so an update never pulls a different chart (and the images it pins). CIS GKE 1.6.0 5.1.4 (only trusted container images).",
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
        "Helm values carry no passwords, secrets or tokens: charts read them from Kubernetes Secrets. Values are stored in the release and shown in every diff. CIS GKE 1.6.0 4.4 (Secrets management).",
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
    description:
        "LoadBalancer Services, including those Helm values ask for, admit only listed client networks (loadBalancerSourceRanges). Hardening guide, 'Restrict network access to the control plane and nodes'; CIS GKE 1.6.0 5.6.6.",
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

// ---- GKE cluster and node hardening ------------------------------------------------------------------

export const shieldedNodes: ResourceValidationPolicy = {
    name: "gke-shielded-nodes",
    description: "GKE clusters have Shielded GKE Nodes (enableShieldedNodes). CIS GKE 1.6.0 5.5.5; hardening guide, 'Use Shielded GKE Nodes'.",
    enforcementLevel: "mandatory",
    validateResource: forTypes<ClusterProps>([TYPES.cluster], (cluster, _, reportViolation) => {
        // Unset is a violation although the provider defaults to true: only an explicit value shows in a review.
        if (cluster.enableShieldedNodes !== true) {
            reportViolation("enableShieldedNodes must be true: nodes must prove their boot integrity to the control plane.");
        }
    }),
};

export const secureBoot: ResourceValidationPolicy = {
    name: "gke-nodes-secure-boot",
    description:
        "GKE nodes boot with Secure Boot and keep integrity monitoring on (nodeConfig.shieldedInstanceConfig). CIS GKE 1.6.0 5.5.7 and 5.5.6.",
    enforcementLevel: "mandatory",
    validateResource: forTypes<ClusterProps | NodePoolProps>(GKE_NODE_TYPES, (_, args, reportViolation) => {
        for (const { prefix, pool } of poolsOf(args)) {
            const shielded = pool.nodeConfig?.shieldedInstanceConfig;
            // Secure Boot defaults to off; integrity monitoring defaults to on.
            if (shielded?.enableSecureBoot !== true) {
                reportViolation(
                    `${prefix}nodeConfig.shieldedInstanceConfig.enableSecureBoot must be true: nodes must run only signed boot components.`,
                );
            }
            if (shielded?.enableIntegrityMonitoring === false) {
                reportViolation(`${prefix}nodeConfig.shieldedInstanceConfig.enableIntegrityMonitoring must not be false.`);
            }
        }
    }),
};

export const dataplaneV2: ResourceValidationPolicy = {
    name: "gke-dataplane-v2",
    description:
        "GKE clusters run GKE Dataplane V2 (datapathProvider ADVANCED_DATAPATH), which enforces NetworkPolicies. CIS GKE 1.6.0 4.3.1; hardening guide, 'Restrict traffic among Pods'.",
    enforcementLevel: "mandatory",
    validateResource: forTypes<ClusterProps>([TYPES.cluster], (cluster, _, reportViolation) => {
        if (cluster.datapathProvider !== "ADVANCED_DATAPATH") {
            reportViolation(
                `datapathProvider must be ADVANCED_DATAPATH, not ${cluster.datapathProvider ?? "unset"}: without Dataplane V2 the cluster enforces no NetworkPolicy.`,
            );
        }
    }),
};

const RELEASE_CHANNELS = ["RAPID", "REGULAR", "STABLE", "EXTENDED"];

export const releaseChannel: ResourceValidationPolicy = {
    name: "gke-release-channel",
    description:
        "GKE clusters are enrolled in a release channel, so Google keeps the control plane and nodes patched. CIS GKE 1.6.0 5.5.4; hardening guide, 'Upgrade your GKE infrastructure in a timely fashion'.",
    enforcementLevel: "mandatory",
    validateResource: forTypes<ClusterProps>([TYPES.cluster], (cluster, _, reportViolation) => {
        const channel = cluster.releaseChannel?.channel;
        if (!channel || !RELEASE_CHANNELS.includes(channel)) {
            reportViolation(`releaseChannel.channel must be one of ${RELEASE_CHANNELS.join(", ")}, not ${channel ?? "unset"}.`);
        }
    }),
};

export const nodeAutoUpgradeAndRepair: ResourceValidationPolicy = {
    name: "gke-node-auto-upgrade-and-repair",
    description:
        "GKE node pools upgrade and repair their nodes automatically (management.autoUpgrade, management.autoRepair). CIS GKE 1.6.0 5.5.3 and 5.5.2.",
    enforcementLevel: "mandatory",
    validateResource: forTypes<ClusterProps | NodePoolProps>(GKE_NODE_TYPES, (_, args, reportViolation) => {
        // The cluster's own default pool has no management block: only real pools are judged.
        for (const { prefix, pool } of poolsOf(args).filter((p) => args.type === TYPES.nodePool || p.prefix !== "")) {
            // Explicit: the provider's defaults for these changed between versions.
            for (const field of ["autoUpgrade", "autoRepair"] as const) {
                if (pool.management?.[field] !== true) {
                    reportViolation(`${prefix}management.${field} must be true: nodes must get security patches and be replaced when unhealthy.`);
                }
            }
        }
    }),
};

export const legacyAbacOff: ResourceValidationPolicy = {
    name: "gke-legacy-abac-off",
    description: "GKE clusters authorize with RBAC only: legacy ABAC stays off (enableLegacyAbac). CIS GKE 1.6.0 5.8.3.",
    enforcementLevel: "mandatory",
    validateResource: forTypes<ClusterProps>([TYPES.cluster], (cluster, _, reportViolation) => {
        if (cluster.enableLegacyAbac === true) {
            reportViolation("enableLegacyAbac must not be true: ABAC grants broad, unaudited permissions beside RBAC.");
        }
    }),
};

export const noClientCertificates: ResourceValidationPolicy = {
    name: "gke-no-client-certificates",
    description:
        "GKE clusters issue no client certificate, a credential that cannot be revoked (masterAuth.clientCertificateConfig). CIS GKE 1.6.0 5.8.1.",
    enforcementLevel: "mandatory",
    validateResource: forTypes<ClusterProps>([TYPES.cluster], (cluster, _, reportViolation) => {
        if (cluster.masterAuth?.clientCertificateConfig?.issueClientCertificate === true) {
            reportViolation("masterAuth.clientCertificateConfig.issueClientCertificate must not be true: a client certificate cannot be revoked.");
        }
    }),
};

export const kubeletReadOnlyPortOff: ResourceValidationPolicy = {
    name: "gke-kubelet-read-only-port-off",
    description:
        "GKE nodes close the kubelet's unauthenticated read-only port 10255 (insecureKubeletReadonlyPortEnabled FALSE) on every pool and in the cluster's defaults for new pools. CIS GKE 1.6.0 3.2.4; hardening guide, 'Disable the insecure kubelet read-only port'.",
    enforcementLevel: "mandatory",
    validateResource: forTypes<ClusterProps | NodePoolProps>(GKE_NODE_TYPES, (props, args, reportViolation) => {
        // Explicit everywhere: the port is open unless a pool or the cluster's defaults say FALSE, and a
        // NodePool resource cannot be judged by the defaults of a cluster this rule does not see.
        if (args.type === TYPES.cluster) {
            const setting = (props as ClusterProps).nodePoolDefaults?.nodeConfigDefaults?.insecureKubeletReadonlyPortEnabled;
            if (setting !== "FALSE") {
                reportViolation(
                    `nodePoolDefaults.nodeConfigDefaults.insecureKubeletReadonlyPortEnabled must be "FALSE", not ${setting ?? "unset"}: new pools would open the port.`,
                );
            }
        }
        for (const { prefix, pool } of poolsOf(args)) {
            const setting = pool.nodeConfig?.kubeletConfig?.insecureKubeletReadonlyPortEnabled;
            if (setting !== "FALSE") {
                reportViolation(
                    `${prefix}nodeConfig.kubeletConfig.insecureKubeletReadonlyPortEnabled must be "FALSE", not ${setting ?? "unset"}: port 10255 serves pod and node data without authentication.`,
                );
            }
        }
    }),
};

export const ipEndpointOffWithoutAuthorizedNetworks: ResourceValidationPolicy = {
    name: "gke-ip-endpoint-off-without-authorized-networks",
    description:
        "A GKE control plane with no authorized networks has its IP endpoint turned off (controlPlaneEndpointsConfig.ipEndpointsConfig.enabled false) and is reached through the DNS endpoint only. CIS GKE 1.6.0 5.6.4.",
    enforcementLevel: "mandatory",
    validateResource: forTypes<ClusterProps>([TYPES.cluster], (cluster, _, reportViolation) => {
        const blocks = cluster.masterAuthorizedNetworksConfig?.cidrBlocks ?? [];
        if (blocks.length > 0) {
            return;
        }
        if (cluster.controlPlaneEndpointsConfig?.ipEndpointsConfig?.enabled !== false) {
            reportViolation(
                "controlPlaneEndpointsConfig.ipEndpointsConfig.enabled must be false when masterAuthorizedNetworksConfig lists no network: an IP endpoint nobody is meant to use is attack surface.",
            );
        }
    }),
};

export const loggingAndMonitoring: ResourceValidationPolicy = {
    name: "gke-logging-and-monitoring",
    description:
        "GKE clusters send logs and metrics to Cloud Logging and Cloud Monitoring (never 'none', never an empty component list). CIS GKE 1.6.0 5.7.1.",
    enforcementLevel: "mandatory",
    validateResource: forTypes<ClusterProps>([TYPES.cluster], (cluster, _, reportViolation) => {
        for (const field of ["loggingService", "monitoringService"] as const) {
            if (cluster[field] === "none") {
                reportViolation(`${field} must not be none.`);
            }
        }
        for (const field of ["loggingConfig", "monitoringConfig"] as const) {
            const components = cluster[field]?.enableComponents;
            if (Array.isArray(components) && components.length === 0) {
                reportViolation(`${field}.enableComponents must not be empty: it turns ${field === "loggingConfig" ? "logging" : "monitoring"} off.`);
            }
        }
    }),
};

// ---- Google Cloud IAM and networks ---------------------------------------------------------------------

/** Roles never granted on a project: the basic roles, and those that let a member act as any service account of it. */
const FORBIDDEN_PROJECT_ROLES: Record<string, string> = {
    "roles/owner": "a basic role, far broader than any workload needs",
    "roles/editor": "a basic role, far broader than any workload needs",
    "roles/viewer": "a basic role: it reads every resource of the project",
    "roles/iam.serviceAccountUser": "project-wide it lets the member act as every service account of the project; grant it on one service account",
    "roles/iam.serviceAccountTokenCreator":
        "project-wide it lets the member mint tokens for every service account of the project; grant it on one service account",
};

interface IamGrant {
    role?: string;
    member?: string;
    members?: string[];
    policyData?: string;
}

/** The bindings of an IAM policy resource's policyData, the JSON policy the provider sets. */
function policyBindings(policyData: string | undefined, reportViolation: ReportViolation): { role?: string; members?: string[] }[] {
    try {
        const policy = JSON.parse(policyData ?? "{}") as { bindings?: { role?: string; members?: string[] }[] };
        return policy.bindings ?? [];
    } catch {
        reportViolation("policyData must be an IAM policy in JSON.");
        return [];
    }
}

const PROJECT_IAM_TYPES = [TYPES.projectIamMember, TYPES.projectIamBinding, TYPES.projectIamPolicy];

export const noBroadProjectRoles: ResourceValidationPolicy = {
    name: "gcp-no-basic-or-project-wide-service-account-roles",
    description:
        "No project IAM grant (IAMMember, IAMBinding, IAMPolicy) of a basic role (owner, editor, viewer), nor of roles/iam.serviceAccountUser or roles/iam.serviceAccountTokenCreator, which project-wide act as every service account. CIS Google Cloud Foundations 1.6; GKE hardening guide, 'Use least privilege Google service accounts'.",
    enforcementLevel: "mandatory",
    validateResource: forTypes<IamGrant>(PROJECT_IAM_TYPES, (props, args, reportViolation) => {
        // The role is read as it is: a grant whose role a preview does not know cannot be judged. The
        // members are never read, so a grant to a service account created in the same deployment is judged.
        const grants =
            args.type === TYPES.projectIamPolicy
                ? policyBindings(props.policyData, reportViolation).map((binding, i) => ({
                      field: `policyData.bindings[${i}].role`,
                      role: binding.role,
                  }))
                : [{ field: "role", role: props.role }];
        for (const { field, role } of grants) {
            if (typeof role === "string" && role in FORBIDDEN_PROJECT_ROLES) {
                reportViolation(`${field} must not be ${role} on a project: ${FORBIDDEN_PROJECT_ROLES[role]}.`);
            }
        }
    }),
};

const PUBLIC_MEMBERS = ["allUsers", "allAuthenticatedUsers"];
const REPOSITORY_IAM_TYPES = [TYPES.repositoryIamMember, TYPES.repositoryIamBinding, TYPES.repositoryIamPolicy];

export const artifactRegistryNotPublic: ResourceValidationPolicy = {
    name: "artifact-registry-not-public",
    description:
        "Artifact Registry repositories are never public: no IAM grant (RepositoryIamMember, RepositoryIamBinding, RepositoryIamPolicy) to allUsers or allAuthenticatedUsers. CIS GKE 1.6.0 5.1.2 (minimize user access to container image repositories).",
    enforcementLevel: "mandatory",
    validateResource: forTypes<IamGrant>(REPOSITORY_IAM_TYPES, (props, args, reportViolation) => {
        const report = (field: string, member: unknown) => {
            if (typeof member === "string" && PUBLIC_MEMBERS.includes(member)) {
                reportViolation(`${field} must not be ${member}: the repository's images would be open to anyone.`);
            }
        };
        // A member unknown in a preview is a service account or group created in the same deployment, never a public one.
        if (args.type === TYPES.repositoryIamMember) {
            report("member", read(props, "member"));
            return;
        }
        if (args.type === TYPES.repositoryIamBinding) {
            const members = read(props, "members");
            if (Array.isArray(members)) {
                // Indexed, not forEach: iterating would read each member through the props proxy.
                for (let i = 0; i < members.length; i++) {
                    report(`members[${i}]`, read(members, i));
                }
            }
            return;
        }
        policyBindings(props.policyData, reportViolation).forEach((binding, i) =>
            (binding.members ?? []).forEach((member, j) => report(`policyData.bindings[${i}].members[${j}]`, member)),
        );
    }),
};

/** Subnets that carry VM and Pod traffic; proxy-only and NAT subnets cannot log flows. */
const FLOW_LOGGED_PURPOSES = [undefined, "PRIVATE", "PRIVATE_RFC_1918"];

export const subnetFlowLogs: ResourceValidationPolicy = {
    name: "vpc-subnet-flow-logs",
    description: "VPC subnetworks log their flows (logConfig, with a sampling rate above 0). CIS GKE 1.6.0 5.6.1; CIS Google Cloud Foundations 3.8.",
    enforcementLevel: "mandatory",
    validateResource: forTypes<{ purpose?: string; logConfig?: { flowSampling?: number } }>([TYPES.subnetwork], (subnet, args, reportViolation) => {
        if (!FLOW_LOGGED_PURPOSES.includes(subnet.purpose)) {
            return args.notApplicable(`a ${subnet.purpose} subnetwork cannot log flows`);
        }
        if (!subnet.logConfig) {
            reportViolation("logConfig must be set: without it the subnetwork records no VPC flow logs.");
        } else if (subnet.logConfig.flowSampling === 0) {
            reportViolation("logConfig.flowSampling must be above 0: 0 reports no flow.");
        }
    }),
};

// ---- Kubernetes objects the program creates ------------------------------------------------------------

const POD_SECURITY_ENFORCE = "pod-security.kubernetes.io/enforce";
/** Pod Security Standards at least as strict as baseline. */
const ENFORCED_LEVELS = ["baseline", "restricted"];

export const namespacePodSecurity: ResourceValidationPolicy = {
    name: "k8s-namespace-pod-security",
    description:
        "Every Namespace the program creates enforces a Pod Security Standard, baseline or restricted (label pod-security.kubernetes.io/enforce); Helm releases create no namespace of their own. CIS GKE 1.6.0 4.2.1; hardening guide, 'Restrict Pod privileges'.",
    enforcementLevel: "mandatory",
    validateResource: forTypes<{ metadata?: { labels?: Values }; createNamespace?: boolean }>(
        [TYPES.namespace, TYPES.helmRelease],
        (props, args, reportViolation) => {
            if (args.type === TYPES.helmRelease) {
                if (props.createNamespace === true) {
                    reportViolation(
                        "createNamespace must not be true: Helm creates the namespace without Pod Security labels; create it as a Namespace with them.",
                    );
                }
                return;
            }
            const level = props.metadata?.labels?.[POD_SECURITY_ENFORCE];
            if (typeof level !== "string" || !ENFORCED_LEVELS.includes(level)) {
                reportViolation(
                    `metadata.labels["${POD_SECURITY_ENFORCE}"] must be restricted or baseline, not ${level === undefined ? "unset" : JSON.stringify(level)}: the namespace would admit privileged pods.`,
                );
            }
        },
    ),
};

const WORKLOAD_TYPES = [TYPES.pod, TYPES.deployment, TYPES.statefulSet, TYPES.daemonSet, TYPES.replicaSet, TYPES.job, TYPES.cronJob];

interface PodSpec {
    hostNetwork?: boolean;
    hostPID?: boolean;
    hostIPC?: boolean;
    volumes?: { name?: string; hostPath?: unknown }[];
    containers?: Container[];
    initContainers?: Container[];
    ephemeralContainers?: Container[];
}
interface Container {
    name?: string;
    image?: string;
    securityContext?: { privileged?: boolean };
}

/** The pod template of a workload, with the path of its fields. */
function podSpecOf(type: string, props: Values): { path: string; spec: PodSpec | undefined } {
    const spec = props.spec as Values | undefined;
    if (type === TYPES.pod) {
        return { path: "spec", spec: spec as PodSpec | undefined };
    }
    if (type === TYPES.cronJob) {
        const job = (spec?.jobTemplate as Values | undefined)?.spec as Values | undefined;
        return { path: "spec.jobTemplate.spec.template.spec", spec: (job?.template as Values | undefined)?.spec as PodSpec | undefined };
    }
    return { path: "spec.template.spec", spec: (spec?.template as Values | undefined)?.spec as PodSpec | undefined };
}

/** Every container of a pod spec, init and ephemeral ones included, with its path. */
function containersOf(path: string, spec: PodSpec): { path: string; container: Container }[] {
    return (["initContainers", "containers", "ephemeralContainers"] as const).flatMap((kind) =>
        (spec[kind] ?? []).map((container, i) => ({ path: `${path}.${kind}[${i}]`, container })),
    );
}

export const noPrivilegedContainers: ResourceValidationPolicy = {
    name: "k8s-no-privileged-containers",
    description:
        "Workloads the program creates (Pod, Deployment, StatefulSet, DaemonSet, ReplicaSet, Job, CronJob) run no privileged container. CIS GKE 1.6.0 4.2.1 (Pod Security baseline, 'Privileged Containers').",
    enforcementLevel: "mandatory",
    validateResource: forTypes<Values>(WORKLOAD_TYPES, (props, args, reportViolation) => {
        const { path, spec } = podSpecOf(args.type, props);
        for (const { path: at, container } of spec ? containersOf(path, spec) : []) {
            if (container.securityContext?.privileged === true) {
                reportViolation(`${at}.securityContext.privileged must not be true: a privileged container is root on the node.`);
            }
        }
    }),
};

export const noHostNamespaces: ResourceValidationPolicy = {
    name: "k8s-no-host-namespaces",
    description:
        "Workloads the program creates share no host namespace (hostNetwork, hostPID, hostIPC). CIS GKE 1.6.0 4.2.1 (Pod Security baseline, 'Host Namespaces').",
    enforcementLevel: "mandatory",
    validateResource: forTypes<Values>(WORKLOAD_TYPES, (props, args, reportViolation) => {
        const { path, spec } = podSpecOf(args.type, props);
        for (const field of ["hostNetwork", "hostPID", "hostIPC"] as const) {
            if (spec?.[field] === true) {
                reportViolation(`${path}.${field} must not be true: the pod would share the node's ${field.slice(4)} namespace.`);
            }
        }
    }),
};

export const noHostPathVolumes: ResourceValidationPolicy = {
    name: "k8s-no-host-path-volumes",
    description: "Workloads the program creates mount no hostPath volume. CIS GKE 1.6.0 4.2.1 (Pod Security baseline, 'HostPath Volumes').",
    enforcementLevel: "mandatory",
    validateResource: forTypes<Values>(WORKLOAD_TYPES, (props, args, reportViolation) => {
        const { path, spec } = podSpecOf(args.type, props);
        (spec?.volumes ?? []).forEach((volume, i) => {
            if (volume.hostPath !== undefined && volume.hostPath !== null) {
                reportViolation(
                    `${path}.volumes[${i}].hostPath must not be set (volume ${volume.name}): it exposes the node's file system to the pod.`,
                );
            }
        });
    }),
};

/** Where the pack accepts images from unless configured otherwise: the Bitnami images, and this project's Artifact Registry. */
export const DEFAULT_ALLOWED_REGISTRIES = ["docker.io/bitnamilegacy", "*-docker.pkg.dev"];
const DIGEST = /@sha256:[0-9a-f]{64}$/;

/** An image reference with Docker Hub's implied host and library/ made explicit: nginx is docker.io/library/nginx. */
export function normalizeImage(image: string): string {
    const first = image.split("/")[0];
    const hasHost = image.includes("/") && (first.includes(".") || first.includes(":") || first === "localhost");
    if (!hasHost) {
        return `docker.io/${image.includes("/") ? "" : "library/"}${image}`;
    }
    return ["index.docker.io", "registry-1.docker.io"].includes(first) ? `docker.io${image.slice(first.length)}` : image;
}

/** An allowed registry entry as a prefix of whole path segments; `*` stands for any characters within one segment. */
const registryPattern = (entry: string) =>
    new RegExp(
        `^${entry
            .replace(/\/+$/, "")
            .split("*")
            .map((part) => part.replace(/[.+?^${}()|[\]\\]/g, "\\$&"))
            .join("[^/]*")}/`,
    );

export const allowedImages: ResourceValidationPolicy = {
    name: "k8s-images-by-digest-or-from-allowed-registries",
    description:
        "Every container image of the workloads the program creates is pinned by digest or comes from an allowed registry (config allowedRegistries; default docker.io/bitnamilegacy and *-docker.pkg.dev). CIS GKE 1.6.0 5.1.4 (only trusted container images).",
    enforcementLevel: "mandatory",
    configSchema: {
        properties: {
            allowedRegistries: {
                type: "array",
                items: { type: "string", minLength: 1 },
                default: DEFAULT_ALLOWED_REGISTRIES,
            },
        },
    },
    validateResource: forTypes<Values>(WORKLOAD_TYPES, (props, args, reportViolation) => {
        const { allowedRegistries = DEFAULT_ALLOWED_REGISTRIES } = args.getConfig<{ allowedRegistries?: string[] }>();
        const patterns = allowedRegistries.map(registryPattern);
        const { path, spec } = podSpecOf(args.type, props);
        for (const { path: at, container } of spec ? containersOf(path, spec) : []) {
            // An image unknown in a preview is one built and pushed in the same deployment; the update judges it.
            const image = read(container, "image");
            if (image === UNKNOWN) {
                continue;
            }
            if (typeof image !== "string" || image === "") {
                reportViolation(`${at}.image must be set.`);
                continue;
            }
            const normalized = normalizeImage(image);
            if (!DIGEST.test(normalized) && !patterns.some((pattern) => pattern.test(normalized))) {
                reportViolation(`${at}.image must be pinned by digest (@sha256:...) or come from ${allowedRegistries.join(", ")}, not ${image}.`);
            }
        }
    }),
};

// Issue 24: the Bitnami images exist only as frozen tags under docker.io/bitnamilegacy, which Broadcom does not
// plan to keep (bitnami/charts#36280, #36229). A stack that keeps data must be able to start a node, reschedule
// Kafka or PostgreSQL and recover a zone after that day, so each of its images is pulled by a digest that
// `npm run images:mirror` locked (helm-values/images.lock.json) and copied into the stack's own registry. A
// tag alone names whatever the registry serves that day, or nothing. Stack rules, since whether the stack
// protects its data is a property of the stack, not of a release (Spark's and Airflow's are not protected).

/** What `images:mirror` fixes, for both rules' messages. */
const MIRROR_COMMAND =
    "run `npm run images:mirror -- --stack <stack>` where Docker Hub is reachable, commit helm-values/images.lock.json and unset imageRegistry, so the stack pulls from its own repository by digest";

/** A Helm release's values or a workload's containers that name an image without a digest. */
interface ImageWithoutDigest {
    readonly urn: string;
    /** Where: the release or workload and the field. */
    readonly at: string;
    readonly image: string;
}

/** Every image of the stack pulled without a digest: chart image blocks (registry/repository/tag/digest) and the containers of the program's workloads. */
function imagesWithoutDigest(resources: PolicyResource[]): ImageWithoutDigest[] {
    const found: ImageWithoutDigest[] = [];
    for (const resource of resources) {
        if ((HELM_TYPES as readonly string[]).includes(resource.type)) {
            for (const { map, path } of valueMaps(read(resource.props as HelmProps, "values"), "values")) {
                const [registry, repository, tag, digest] = (["registry", "repository", "tag", "digest"] as const).map((key) => read(map, key));
                // The image blocks of Bitnami's charts (common.images.image): a repository and a tag, the digest
                // taking precedence when set. A value unknown in a preview is judged by the update.
                if (typeof repository !== "string" || typeof tag !== "string" || digest === UNKNOWN) {
                    continue;
                }
                if (typeof digest !== "string" || !IMAGE_DIGEST.test(digest)) {
                    const host = typeof registry === "string" && registry !== "" ? registry : "docker.io";
                    found.push({ urn: resource.urn, at: `${resource.name} ${path}`, image: `${host}/${repository}:${tag}` });
                }
            }
        } else if ((WORKLOAD_TYPES as readonly string[]).includes(resource.type)) {
            const { path, spec } = podSpecOf(resource.type, resource.props as Values);
            for (const { path: at, container } of spec ? containersOf(path, spec) : []) {
                const image = read(container, "image");
                if (typeof image === "string" && !DIGEST.test(image)) {
                    found.push({ urn: resource.urn, at: `${resource.name} ${at}.image`, image });
                }
            }
        }
    }
    return found;
}

const IMAGE_TYPES: readonly string[] = [...HELM_TYPES, ...WORKLOAD_TYPES];
const runsImages = (resources: PolicyResource[]) => resources.some((r) => IMAGE_TYPES.includes(r.type));
/** A GKE stack that protects its data: where the digest is mandatory (the scope of the other protected-stack rules). */
const protectsData = (resources: PolicyResource[]) => resources.some((r) => r.type === TYPES.cluster) && protectionRoots(resources).length > 0;

export const imagesByDigestOnProtectedStacks: StackValidationPolicy = {
    name: "images-by-digest-on-protected-stacks",
    description:
        "On a stack that protects its data, every image (each chart image block, each container of the program's workloads) is pulled by a digest locked with npm run images:mirror, so it stays pullable from the stack's registry after the upstream tag or repository is gone. CIS GKE 1.6.0 5.1.4 (only trusted container images).",
    enforcementLevel: "mandatory",
    validateStack: (args, reportViolation) => {
        if (!args.resources.some((r) => r.type === TYPES.cluster)) {
            return args.notApplicable(`Policy only applies to stacks with a ${TYPES.cluster}`);
        }
        if (!protectsData(args.resources)) {
            return args.notApplicable("the stack protects no resource");
        }
        for (const { urn, at, image } of imagesWithoutDigest(args.resources)) {
            reportViolation(`${at}: ${image} must be pulled by a locked digest on a stack that protects its data; ${MIRROR_COMMAND}.`, urn);
        }
    },
};

export const imagesByDigestAdvisory: StackValidationPolicy = {
    name: "images-by-digest-advised",
    description:
        "On every other stack, an advisory for each image pulled by tag: the same lock makes it reproducible, and the digest is mandatory where the stack protects its data (images-by-digest-on-protected-stacks). CIS GKE 1.6.0 5.1.4 (only trusted container images).",
    enforcementLevel: "advisory",
    validateStack: (args, reportViolation) => {
        if (protectsData(args.resources)) {
            return args.notApplicable(`the stack protects its data: ${imagesByDigestOnProtectedStacks.name} judges it`);
        }
        if (!runsImages(args.resources)) {
            return args.notApplicable("the stack has no Helm release and no workload");
        }
        for (const { urn, at, image } of imagesWithoutDigest(args.resources)) {
            reportViolation(`${at}: ${image} is pulled by tag, whatever the registry serves under it that day; ${MIRROR_COMMAND}.`, urn);
        }
    },
};

/** Every rule of the pack, in the order they are reported. */
export const policies: Policies = [
    privateNodes,
    controlPlaneNotPublic,
    ipEndpointOffWithoutAuthorizedNetworks,
    workloadIdentity,
    dedicatedNodeServiceAccount,
    shieldedNodes,
    secureBoot,
    nodeAutoUpgradeAndRepair,
    kubeletReadOnlyPortOff,
    releaseChannel,
    dataplaneV2,
    legacyAbacOff,
    noClientCertificates,
    loggingAndMonitoring,
    deletionProtection,
    secretsEncryption,
    binaryAuthorization,
    noBroadProjectRoles,
    artifactRegistryNotPublic,
    subnetFlowLogs,
    namespacePodSecurity,
    noPrivilegedContainers,
    noHostNamespaces,
    noHostPathVolumes,
    allowedImages,
    imagesByDigestOnProtectedStacks,
    imagesByDigestAdvisory,
    pinnedChartVersions,
    noLiteralCredentialsInHelmValues,
    loadBalancerSourceRanges,
];

/**
 * What a rule has to judge, and so where it applies: the programs and stacks that create resources of its
 * types. Stack rules apply only where their condition holds; the rest apply wherever their resources are.
 */
export type Scope =
    // Every stack of the platform (index.ts), local included: the Kubernetes objects and Helm releases it creates.
    | "platform"
    // The platform's stacks on Google Cloud (dev, prod): the cluster, its node pools, the node service account's
    // project roles, the subnet.
    | "platform-on-gke"
    // Those of them that protect their data (prod, and dev with deletionProtection on).
    | "platform-protecting-data"
    // Every stack of the platform that does not: dev, local (and prod with deletionProtection off).
    | "platform-not-protecting-data"
    // The bootstrap program (bootstrap/): the project roles and Artifact Registry access it grants the deployers.
    | "bootstrap";

/**
 * Where each rule of `policies` applies, declared once here so that policy/stacks.test.ts derives from it
 * which rules each stack must be judged by: a rule missing here fails that test rather than going unchecked.
 */
export const APPLIES_TO: Readonly<Record<string, readonly Scope[]>> = {
    [privateNodes.name]: ["platform-on-gke"],
    [controlPlaneNotPublic.name]: ["platform-on-gke"],
    [ipEndpointOffWithoutAuthorizedNetworks.name]: ["platform-on-gke"],
    [workloadIdentity.name]: ["platform-on-gke"],
    [dedicatedNodeServiceAccount.name]: ["platform-on-gke"],
    [shieldedNodes.name]: ["platform-on-gke"],
    [secureBoot.name]: ["platform-on-gke"],
    [nodeAutoUpgradeAndRepair.name]: ["platform-on-gke"],
    [kubeletReadOnlyPortOff.name]: ["platform-on-gke"],
    [releaseChannel.name]: ["platform-on-gke"],
    [dataplaneV2.name]: ["platform-on-gke"],
    [legacyAbacOff.name]: ["platform-on-gke"],
    [noClientCertificates.name]: ["platform-on-gke"],
    [loggingAndMonitoring.name]: ["platform-on-gke"],
    [deletionProtection.name]: ["platform-protecting-data"],
    [secretsEncryption.name]: ["platform-protecting-data"],
    [binaryAuthorization.name]: ["platform-protecting-data"],
    [noBroadProjectRoles.name]: ["platform-on-gke", "bootstrap"],
    // The platform reads its images through the node service account's project role; only bootstrap grants
    // access to a repository.
    [artifactRegistryNotPublic.name]: ["bootstrap"],
    [subnetFlowLogs.name]: ["platform-on-gke"],
    [namespacePodSecurity.name]: ["platform"],
    [noPrivilegedContainers.name]: ["platform"],
    [noHostNamespaces.name]: ["platform"],
    [noHostPathVolumes.name]: ["platform"],
    [allowedImages.name]: ["platform"],
    [imagesByDigestOnProtectedStacks.name]: ["platform-protecting-data"],
    [imagesByDigestAdvisory.name]: ["platform-not-protecting-data"],
    [pinnedChartVersions.name]: ["platform"],
    [noLiteralCredentialsInHelmValues.name]: ["platform"],
    [loadBalancerSourceRanges.name]: ["platform"],
};
