import { strict as assert } from "assert";
import { ResourceValidationPolicy, StackValidationPolicy } from "@pulumi/policy";
import {
    allowedImages,
    artifactRegistryNotPublic,
    binaryAuthorization,
    controlPlaneNotPublic,
    dataplaneV2,
    dedicatedNodeServiceAccount,
    DEFAULT_ALLOWED_REGISTRIES,
    deletionProtection,
    imagesByDigestAdvisory,
    imagesByDigestOnProtectedStacks,
    ipEndpointOffWithoutAuthorizedNetworks,
    kubeletReadOnlyPortOff,
    legacyAbacOff,
    loadBalancerSourceRanges,
    loggingAndMonitoring,
    namespacePodSecurity,
    noBroadProjectRoles,
    noClientCertificates,
    noHostNamespaces,
    noHostPathVolumes,
    noLiteralCredentialsInHelmValues,
    nodeAutoUpgradeAndRepair,
    noPrivilegedContainers,
    normalizeImage,
    pinnedChartVersions,
    policies,
    privateNodes,
    releaseChannel,
    secretsEncryption,
    secureBoot,
    shieldedNodes,
    subnetFlowLogs,
    TYPES,
    workloadIdentity,
} from "./rules";
import { evaluate, evaluateStack, Outcome, TestResource, UNKNOWN, urnOf } from "./testing";

type Props = Record<string, any>;

const resource = (type: string, props: Props, stack = "prod") => ({ type, props, urn: urnOf(stack, type, "test") });
const cluster = (props: Props, stack = "prod") => resource(TYPES.cluster, props, stack);
const nodePool = (props: Props) => resource(TYPES.nodePool, props);
const release = (props: Props) => resource(TYPES.helmRelease, props);
const chart = (props: Props) => resource(TYPES.helmChart, props);
const service = (props: Props) => resource(TYPES.service, props);

/** A deep copy of `base` changed by `change`, so each case states only what it breaks. */
function variant(base: Props, change: (props: Props) => void): Props {
    const copy = structuredClone(base);
    change(copy);
    return copy;
}

const NODE_ACCOUNT = "gke-nodes@acme-streaming.iam.gserviceaccount.com";

/** A cluster every rule accepts. */
const SHIELDED = { enableSecureBoot: true, enableIntegrityMonitoring: true };
const KUBELET = { insecureKubeletReadonlyPortEnabled: "FALSE" };
const KMS_KEY = "projects/acme-streaming/locations/us-central1/keyRings/gke/cryptoKeys/secrets";

/** A cluster every rule accepts. */
const GOOD_CLUSTER: Props = {
    privateClusterConfig: { enablePrivateNodes: true, enablePrivateEndpoint: false, masterIpv4CidrBlock: "172.16.0.0/28" },
    masterAuthorizedNetworksConfig: { gcpPublicCidrsAccessEnabled: false, cidrBlocks: [{ cidrBlock: "203.0.113.0/24", displayName: "office" }] },
    controlPlaneEndpointsConfig: { dnsEndpointConfig: { allowExternalTraffic: true }, ipEndpointsConfig: { enabled: true } },
    workloadIdentityConfig: { workloadPool: "acme-streaming.svc.id.goog" },
    removeDefaultNodePool: true,
    nodeConfig: {
        serviceAccount: NODE_ACCOUNT,
        workloadMetadataConfig: { mode: "GKE_METADATA" },
        shieldedInstanceConfig: SHIELDED,
        kubeletConfig: KUBELET,
    },
    nodePoolDefaults: { nodeConfigDefaults: KUBELET },
    deletionProtection: true,
    enableShieldedNodes: true,
    databaseEncryption: { state: "ENCRYPTED", keyName: KMS_KEY },
    binaryAuthorization: { evaluationMode: "PROJECT_SINGLETON_POLICY_ENFORCE" },
    datapathProvider: "ADVANCED_DATAPATH",
    releaseChannel: { channel: "REGULAR" },
    enableLegacyAbac: false,
    masterAuth: { clientCertificateConfig: { issueClientCertificate: false } },
    loggingConfig: { enableComponents: ["SYSTEM_COMPONENTS", "WORKLOADS"] },
    monitoringConfig: { enableComponents: ["SYSTEM_COMPONENTS"] },
};

const GOOD_POOL: Props = {
    cluster: "gke",
    management: { autoRepair: true, autoUpgrade: true },
    nodeConfig: { serviceAccount: NODE_ACCOUNT, machineType: "e2-standard-4", shieldedInstanceConfig: SHIELDED, kubeletConfig: KUBELET },
};

async function judged(policy: ResourceValidationPolicy, target: Parameters<typeof evaluate>[1], config: object = {}): Promise<Outcome> {
    return evaluate(policy, target, config);
}

/** The violations of an applicable rule that could read every value it needed. */
async function violations(policy: ResourceValidationPolicy, target: Parameters<typeof evaluate>[1], config: object = {}): Promise<string[]> {
    const outcome = await judged(policy, target, config);
    assert.equal(outcome.notApplicable, undefined, `${policy.name} was not applicable: ${outcome.notApplicable}`);
    assert.equal(outcome.unknown, undefined, outcome.unknown);
    return outcome.violations;
}

async function passes(policy: ResourceValidationPolicy, target: Parameters<typeof evaluate>[1], config: object = {}) {
    assert.deepEqual(await violations(policy, target, config), []);
}

/** Exactly one violation, whose message starts with the offending field's path. */
async function violatesOn(
    policy: ResourceValidationPolicy,
    target: Parameters<typeof evaluate>[1],
    field: string,
    config: object = {},
): Promise<string> {
    const found = await violations(policy, target, config);
    assert.equal(found.length, 1, `expected one violation naming ${field}, got ${JSON.stringify(found)}`);
    assert.ok(found[0].startsWith(`${field} `), `expected the message to name ${field}: ${found[0]}`);
    return found[0];
}

const GKE_NODE_TYPES = [TYPES.cluster, TYPES.nodePool];
const WORKLOAD_TYPES = [TYPES.pod, TYPES.deployment, TYPES.statefulSet, TYPES.daemonSet, TYPES.replicaSet, TYPES.job, TYPES.cronJob];
/** Every resource rule and the types it judges. */
const applicable: [ResourceValidationPolicy, string[]][] = [
    [privateNodes, GKE_NODE_TYPES],
    [controlPlaneNotPublic, [TYPES.cluster]],
    [ipEndpointOffWithoutAuthorizedNetworks, [TYPES.cluster]],
    [workloadIdentity, GKE_NODE_TYPES],
    [dedicatedNodeServiceAccount, GKE_NODE_TYPES],
    [shieldedNodes, [TYPES.cluster]],
    [secureBoot, GKE_NODE_TYPES],
    [nodeAutoUpgradeAndRepair, GKE_NODE_TYPES],
    [kubeletReadOnlyPortOff, GKE_NODE_TYPES],
    [releaseChannel, [TYPES.cluster]],
    [dataplaneV2, [TYPES.cluster]],
    [legacyAbacOff, [TYPES.cluster]],
    [noClientCertificates, [TYPES.cluster]],
    [loggingAndMonitoring, [TYPES.cluster]],
    [noBroadProjectRoles, [TYPES.projectIamMember, TYPES.projectIamBinding, TYPES.projectIamPolicy]],
    [artifactRegistryNotPublic, [TYPES.repositoryIamMember, TYPES.repositoryIamBinding, TYPES.repositoryIamPolicy]],
    [subnetFlowLogs, [TYPES.subnetwork]],
    [namespacePodSecurity, [TYPES.namespace, TYPES.helmRelease]],
    [noPrivilegedContainers, WORKLOAD_TYPES],
    [noHostNamespaces, WORKLOAD_TYPES],
    [noHostPathVolumes, WORKLOAD_TYPES],
    [allowedImages, WORKLOAD_TYPES],
    [pinnedChartVersions, [TYPES.helmRelease, TYPES.helmChart]],
    [noLiteralCredentialsInHelmValues, [TYPES.helmRelease, TYPES.helmChart]],
    [loadBalancerSourceRanges, [TYPES.service, TYPES.helmRelease, TYPES.helmChart]],
];
/** Stack rules that apply only to a GKE stack that protects its data. */
const STACK_RULES: StackValidationPolicy[] = [deletionProtection, secretsEncryption, binaryAuthorization, imagesByDigestOnProtectedStacks];
/** Rules that advise and never stop an update: the advisory side of a mandatory rule, on the stacks it does not judge. */
const ADVISORY: StackValidationPolicy[] = [imagesByDigestAdvisory];

const KAFKA = "streaming-platform:data:Kafka";
const POSTGRESQL = "streaming-platform:data:PostgreSQL";
/** A resource of `stack`, under `parent` when given, as the engine names and links children. */
const member = (stack: string, type: string, name: string, props: Props, protect: boolean, parent?: TestResource): TestResource => {
    const parentType = parent ? parent.urn.split("::")[2] + "$" : "";
    return {
        type,
        props,
        urn: `urn:pulumi:${stack}::streaming-platform::${parentType}${type}::${name}`,
        name,
        opts: { protect, parent: parent?.urn },
    };
};
/**
 * A stack as the program builds it: the cluster, and Kafka and PostgreSQL components, protected or
 * not, whose children inherit their protection, as the SDK hands `protect` down to children.
 */
function platform(stack: string, clusterProps: Props, dataProtected: boolean): TestResource[] {
    const kafka = member(stack, KAFKA, "kafka", {}, dataProtected);
    const postgresql = member(stack, POSTGRESQL, "postgresql", {}, dataProtected);
    return [
        member(stack, TYPES.cluster, "gke", clusterProps, false),
        member(stack, TYPES.nodePool, "pool", GOOD_POOL, false),
        kafka,
        member(stack, TYPES.helmRelease, "kafka", { chart: "kafka", version: "32.4.3" }, dataProtected, kafka),
        postgresql,
        member(stack, TYPES.helmRelease, "postgresql", { chart: "postgresql", version: "16.7.4" }, dataProtected, postgresql),
        // Protection is inherited, but a child may turn it off for itself (postgresqlSchema's Job does).
        member(stack, "kubernetes:batch/v1:Job", "postgresql-schema", {}, false, postgresql),
    ];
}

/** The violations of a stack rule on a stack it applies to and could read entirely. */
async function stackViolations(rule: StackValidationPolicy, resources: TestResource[]) {
    const outcome = await evaluateStack(rule, resources);
    assert.equal(outcome.notApplicable, undefined, `not applicable: ${outcome.notApplicable}`);
    assert.equal(outcome.unknown, undefined, outcome.unknown);
    return outcome.violations;
}

describe("policy pack rules", () => {
    describe("the pack", () => {
        it("holds every rule once, at least 20, each mandatory but the advisories, under a distinct name, with its reference", () => {
            const rules = [...applicable.map(([policy]) => policy), ...STACK_RULES, ...ADVISORY];
            assert.deepEqual(new Set(policies), new Set(rules));
            assert.equal(new Set(policies.map((p) => p.name)).size, policies.length);
            assert.ok(policies.length >= 20, `${policies.length} rules`);
            for (const policy of policies) {
                assert.equal(policy.enforcementLevel, (ADVISORY as unknown[]).includes(policy) ? "advisory" : "mandatory", policy.name);
                // Each names its CIS benchmark item, hardening-guide section or module default.
                assert.match(
                    policy.description ?? "",
                    /CIS (GKE 1\.6\.0|Google Cloud Foundations) \d|[Hh]ardening guide, '|safer-cluster default/,
                    policy.name,
                );
            }
        });

        it("accepts the good cluster and pool on every resource rule that judges them", async () => {
            for (const [policy, types] of applicable) {
                if (types.includes(TYPES.cluster)) {
                    await passes(policy, cluster(GOOD_CLUSTER));
                }
                if (types.includes(TYPES.nodePool)) {
                    await passes(policy, nodePool(GOOD_POOL));
                }
            }
        });

        const otherTypes = [...Object.values(TYPES), "gcp:compute/network:Network", "kubernetes:core/v1:Secret", "streaming-platform:data:Kafka"];
        for (const [policy, types] of applicable) {
            it(`${policy.name} is not applicable to other resource types, whatever their inputs`, async () => {
                // Inputs that would break every rule, so only the type can keep them quiet.
                const bad = {
                    version: "^1",
                    values: { password: "x", service: { type: "LoadBalancer" } },
                    spec: {
                        type: "LoadBalancer",
                        hostNetwork: true,
                        containers: [{ image: "evil.example/x", securityContext: { privileged: true } }],
                    },
                    deletionProtection: false,
                    enableLegacyAbac: true,
                    role: "roles/owner",
                    member: "allUsers",
                    metadata: { labels: {} },
                };
                for (const type of otherTypes.filter((t) => !types.includes(t))) {
                    const outcome = await judged(policy, resource(type, bad));
                    assert.deepEqual(outcome.violations, [], type);
                    assert.ok(outcome.notApplicable?.includes(types[0]), `${type}: ${outcome.notApplicable}`);
                }
            });
        }

        for (const rule of STACK_RULES) {
            it(`${rule.name} is a stack rule, not applicable to a stack without a cluster, whatever its resources' inputs`, async () => {
                assert.equal(typeof rule.validateStack, "function");
                const everythingProtected = [...Object.values(TYPES), "streaming-platform:data:Kafka"]
                    .filter((type) => type !== TYPES.cluster)
                    .map((type) => ({ ...resource(type, { deletionProtection: false }), opts: { protect: true } }));
                const outcome = await evaluateStack(rule, everythingProtected);
                assert.deepEqual(outcome.violations, []);
                assert.ok(outcome.notApplicable?.includes(TYPES.cluster), outcome.notApplicable);
            });
        }
    });

    describe("gke-private-nodes", () => {
        it("accepts a cluster with private nodes and pools that inherit them", async () => {
            await passes(privateNodes, cluster(GOOD_CLUSTER));
            await passes(privateNodes, nodePool(GOOD_POOL));
            await passes(
                privateNodes,
                nodePool(
                    variant(GOOD_POOL, (p) => {
                        p.networkConfig = { enablePrivateNodes: true };
                    }),
                ),
            );
        });

        it("rejects a cluster whose nodes are public or not said to be private", async () => {
            await violatesOn(
                privateNodes,
                cluster(
                    variant(GOOD_CLUSTER, (p) => {
                        p.privateClusterConfig.enablePrivateNodes = false;
                    }),
                ),
                "privateClusterConfig.enablePrivateNodes",
            );
            await violatesOn(
                privateNodes,
                cluster(
                    variant(GOOD_CLUSTER, (p) => {
                        delete p.privateClusterConfig;
                    }),
                ),
                "privateClusterConfig.enablePrivateNodes",
            );
        });

        it("rejects a node pool, separate or inline, that turns private nodes off for itself", async () => {
            await violatesOn(
                privateNodes,
                nodePool(
                    variant(GOOD_POOL, (p) => {
                        p.networkConfig = { enablePrivateNodes: false };
                    }),
                ),
                "networkConfig.enablePrivateNodes",
            );
            await violatesOn(
                privateNodes,
                cluster(
                    variant(GOOD_CLUSTER, (p) => {
                        p.nodePools = [{ nodeConfig: p.nodeConfig }, { nodeConfig: p.nodeConfig, networkConfig: { enablePrivateNodes: false } }];
                    }),
                ),
                "nodePools[1].networkConfig.enablePrivateNodes",
            );
        });

        it("cannot run in a preview that does not know the setting yet", async () => {
            const outcome = await judged(
                privateNodes,
                cluster(
                    variant(GOOD_CLUSTER, (p) => {
                        p.privateClusterConfig.enablePrivateNodes = UNKNOWN.boolean;
                    }),
                ),
            );
            assert.deepEqual(outcome.violations, []);
            assert.match(outcome.unknown ?? "", /privateClusterConfig\.enablePrivateNodes can't be known during preview/);
        });
    });

    describe("gke-control-plane-not-public", () => {
        it("accepts listed networks, and no networks at all (DNS endpoint only)", async () => {
            await passes(controlPlaneNotPublic, cluster(GOOD_CLUSTER));
            await passes(
                controlPlaneNotPublic,
                cluster(
                    variant(GOOD_CLUSTER, (p) => {
                        p.masterAuthorizedNetworksConfig = { cidrBlocks: [] };
                    }),
                ),
            );
            await passes(
                controlPlaneNotPublic,
                cluster(
                    variant(GOOD_CLUSTER, (p) => {
                        p.masterAuthorizedNetworksConfig = {};
                    }),
                ),
            );
        });

        it("accepts no masterAuthorizedNetworksConfig when there is no IP endpoint to guard", async () => {
            await passes(
                controlPlaneNotPublic,
                cluster(
                    variant(GOOD_CLUSTER, (p) => {
                        delete p.masterAuthorizedNetworksConfig;
                        p.controlPlaneEndpointsConfig.ipEndpointsConfig = { enabled: false };
                    }),
                ),
            );
        });

        it("rejects a cluster without masterAuthorizedNetworksConfig while its IP endpoint is on", async () => {
            await violatesOn(
                controlPlaneNotPublic,
                cluster(
                    variant(GOOD_CLUSTER, (p) => {
                        delete p.masterAuthorizedNetworksConfig;
                    }),
                ),
                "masterAuthorizedNetworksConfig",
            );
        });

        it("rejects 0.0.0.0/0 among the authorized networks, naming its position", async () => {
            const message = await violatesOn(
                controlPlaneNotPublic,
                cluster(
                    variant(GOOD_CLUSTER, (p) => {
                        p.masterAuthorizedNetworksConfig.cidrBlocks.push({ cidrBlock: "0.0.0.0/0", displayName: "anywhere" });
                    }),
                ),
                "masterAuthorizedNetworksConfig.cidrBlocks[1].cidrBlock",
            );
            assert.match(message, /must not be 0\.0\.0\.0\/0/);
        });

        it("rejects access from every Google Cloud public IP", async () => {
            await violatesOn(
                controlPlaneNotPublic,
                cluster(
                    variant(GOOD_CLUSTER, (p) => {
                        p.masterAuthorizedNetworksConfig.gcpPublicCidrsAccessEnabled = true;
                    }),
                ),
                "masterAuthorizedNetworksConfig.gcpPublicCidrsAccessEnabled",
            );
        });

        it("cannot run in a preview that does not know a network yet", async () => {
            const outcome = await judged(
                controlPlaneNotPublic,
                cluster(
                    variant(GOOD_CLUSTER, (p) => {
                        p.masterAuthorizedNetworksConfig.cidrBlocks[0].cidrBlock = UNKNOWN.string;
                    }),
                ),
            );
            assert.deepEqual(outcome.violations, []);
            assert.match(outcome.unknown ?? "", /cidrBlocks\.0\.cidrBlock/);
        });
    });

    describe("gke-workload-identity", () => {
        it("accepts a Workload Identity cluster and pools on the GKE metadata server", async () => {
            await passes(workloadIdentity, cluster(GOOD_CLUSTER));
            await passes(workloadIdentity, nodePool(GOOD_POOL));
            await passes(
                workloadIdentity,
                nodePool(
                    variant(GOOD_POOL, (p) => {
                        p.nodeConfig.workloadMetadataConfig = { mode: "GKE_METADATA" };
                    }),
                ),
            );
        });

        it("rejects a cluster without a workload pool", async () => {
            await violatesOn(
                workloadIdentity,
                cluster(
                    variant(GOOD_CLUSTER, (p) => {
                        delete p.workloadIdentityConfig;
                    }),
                ),
                "workloadIdentityConfig.workloadPool",
            );
            await violatesOn(
                workloadIdentity,
                cluster(
                    variant(GOOD_CLUSTER, (p) => {
                        p.workloadIdentityConfig.workloadPool = "";
                    }),
                ),
                "workloadIdentityConfig.workloadPool",
            );
        });

        it("rejects pools that hand pods the node's credentials through the GCE metadata server", async () => {
            const gce = { mode: "GCE_METADATA" };
            await violatesOn(
                workloadIdentity,
                nodePool(
                    variant(GOOD_POOL, (p) => {
                        p.nodeConfig.workloadMetadataConfig = gce;
                    }),
                ),
                "nodeConfig.workloadMetadataConfig.mode",
            );
            await violatesOn(
                workloadIdentity,
                cluster(
                    variant(GOOD_CLUSTER, (p) => {
                        p.nodeConfig.workloadMetadataConfig = gce;
                    }),
                ),
                "nodeConfig.workloadMetadataConfig.mode",
            );
            await violatesOn(
                workloadIdentity,
                cluster(
                    variant(GOOD_CLUSTER, (p) => {
                        p.nodePools = [{ nodeConfig: { workloadMetadataConfig: gce } }];
                    }),
                ),
                "nodePools[0].nodeConfig.workloadMetadataConfig.mode",
            );
        });
    });

    describe("gke-nodes-dedicated-service-account", () => {
        it("accepts nodes running as a dedicated account, on the cluster and on a pool", async () => {
            await passes(dedicatedNodeServiceAccount, cluster(GOOD_CLUSTER));
            await passes(dedicatedNodeServiceAccount, nodePool(GOOD_POOL));
        });

        it("rejects nodes without an account, which run as the default compute account", async () => {
            await violatesOn(
                dedicatedNodeServiceAccount,
                nodePool(
                    variant(GOOD_POOL, (p) => {
                        delete p.nodeConfig;
                    }),
                ),
                "nodeConfig.serviceAccount",
            );
            await violatesOn(
                dedicatedNodeServiceAccount,
                nodePool(
                    variant(GOOD_POOL, (p) => {
                        delete p.nodeConfig.serviceAccount;
                    }),
                ),
                "nodeConfig.serviceAccount",
            );
            // The default pool runs until removeDefaultNodePool deletes it.
            await violatesOn(
                dedicatedNodeServiceAccount,
                cluster(
                    variant(GOOD_CLUSTER, (p) => {
                        delete p.nodeConfig;
                    }),
                ),
                "nodeConfig.serviceAccount",
            );
        });

        it("rejects the default compute account, by name or by email", async () => {
            for (const account of ["default", "123456789012-compute@developer.gserviceaccount.com"]) {
                const message = await violatesOn(
                    dedicatedNodeServiceAccount,
                    nodePool(
                        variant(GOOD_POOL, (p) => {
                            p.nodeConfig.serviceAccount = account;
                        }),
                    ),
                    "nodeConfig.serviceAccount",
                );
                assert.match(message, /not the default compute service account/);
            }
        });

        it("checks each inline node pool of a cluster", async () => {
            await violatesOn(
                dedicatedNodeServiceAccount,
                cluster(
                    variant(GOOD_CLUSTER, (p) => {
                        p.nodePools = [{ nodeConfig: { serviceAccount: NODE_ACCOUNT } }, { nodeConfig: { machineType: "e2-standard-4" } }];
                    }),
                ),
                "nodePools[1].nodeConfig.serviceAccount",
            );
        });

        it("accepts in a preview an account not known yet: one created in the same deployment", async () => {
            await passes(
                dedicatedNodeServiceAccount,
                nodePool(
                    variant(GOOD_POOL, (p) => {
                        p.nodeConfig.serviceAccount = UNKNOWN.string;
                    }),
                ),
            );
            await passes(
                dedicatedNodeServiceAccount,
                cluster(
                    variant(GOOD_CLUSTER, (p) => {
                        p.nodeConfig.serviceAccount = UNKNOWN.string;
                    }),
                ),
            );
        });

        it("cannot run in a preview that does not know the whole nodeConfig", async () => {
            const outcome = await judged(
                dedicatedNodeServiceAccount,
                nodePool(
                    variant(GOOD_POOL, (p) => {
                        p.nodeConfig = UNKNOWN.object;
                    }),
                ),
            );
            assert.deepEqual(outcome.violations, []);
            assert.match(outcome.unknown ?? "", /\.nodeConfig can't be known/);
        });
    });

    describe("gke-deletion-protection-on-protected-stacks", () => {
        const unprotected = variant(GOOD_CLUSTER, (p) => {
            p.deletionProtection = false;
        });
        const unset = variant(GOOD_CLUSTER, (p) => {
            delete p.deletionProtection;
        });

        it("accepts a protected cluster on a stack that protects its data", async () => {
            assert.deepEqual(await stackViolations(deletionProtection, platform("prod", GOOD_CLUSTER, true)), []);
        });

        it("rejects an unprotected or unset cluster on a stack that protects its data, naming what is protected", async () => {
            for (const props of [unprotected, unset]) {
                const resources = platform("prod", props, true);
                const [violation, ...more] = await stackViolations(deletionProtection, resources);
                assert.deepEqual(more, []);
                assert.equal(violation.urn, resources[0].urn, "reported on the cluster");
                assert.match(violation.message, /^deletionProtection must be set to true: /);
                // The components whose protection made it required, not each child that inherits it.
                assert.match(
                    violation.message,
                    /protects kafka \(streaming-platform:data:Kafka\), postgresql \(streaming-platform:data:PostgreSQL\),/,
                );
                assert.doesNotMatch(violation.message, /helm\.sh|Job/);
                assert.match(violation.message, /cluster gke/);
            }
        });

        it("is not applicable on a stack that protects nothing, whatever its name, and reports nothing there", async () => {
            for (const stack of ["prod", "dev"]) {
                const outcome = await evaluateStack(deletionProtection, platform(stack, unprotected, false));
                assert.deepEqual(outcome.violations, [], stack);
                assert.equal(outcome.notApplicable, "the stack protects no resource", stack);
            }
        });

        it("protects a stack by what it protects, not by its name", async () => {
            const [violation] = await stackViolations(deletionProtection, platform("staging-eu", unprotected, true));
            assert.match(violation.urn ?? "", /^urn:pulumi:staging-eu::/);
            // One protected resource is enough, wherever it sits in the tree.
            const resources = platform("dev", unset, false);
            const topic = member("dev", "kubernetes:kafka.strimzi.io/v1beta2:KafkaTopic", "ticks", {}, true, resources[2]);
            const [only, ...more] = await stackViolations(deletionProtection, [...resources, topic]);
            assert.deepEqual(more, []);
            assert.match(only.message, /protects ticks \(kubernetes:kafka\.strimzi\.io\/v1beta2:KafkaTopic\),/);
        });

        it("judges every cluster of the stack", async () => {
            const resources = platform("prod", GOOD_CLUSTER, true);
            const second = member("prod", TYPES.cluster, "gke-batch", unprotected, false);
            const found = await stackViolations(deletionProtection, [...resources, second]);
            assert.deepEqual(
                found.map((v) => v.urn),
                [second.urn],
            );
            assert.match(found[0].message, /cluster gke-batch/);
        });

        it("cannot run in a preview that does not know the cluster's deletionProtection", async () => {
            const outcome = await evaluateStack(
                deletionProtection,
                platform(
                    "prod",
                    variant(GOOD_CLUSTER, (p) => {
                        p.deletionProtection = UNKNOWN.boolean;
                    }),
                    true,
                ),
            );
            assert.deepEqual(outcome.violations, []);
            assert.match(outcome.unknown ?? "", /\.deletionProtection can't be known/);
        });

        it("takes no configuration: the stack says what it protects", () => {
            assert.equal(deletionProtection.configSchema, undefined);
        });
    });

    describe("helm-chart-version-pinned", () => {
        const OCI = "oci://registry-1.docker.io/bitnamicharts/kafka";
        for (const [kind, make] of [
            ["helm.sh/v3 Release", release],
            ["helm.sh/v4 Chart", chart],
        ] as const) {
            it(`accepts an exact version on a ${kind}`, async () => {
                for (const version of ["32.4.3", "0.1.0", "1.2.3-rc.1", "1.2.3+build.7"]) {
                    await passes(pinnedChartVersions, make({ chart: OCI, version }));
                }
            });

            it(`rejects a ${kind} without a version`, async () => {
                await violatesOn(pinnedChartVersions, make({ chart: OCI }), "version");
                await violatesOn(pinnedChartVersions, make({ chart: OCI, version: "" }), "version");
            });

            it(`rejects ranges, wildcards, partial and v-prefixed versions on a ${kind}`, async () => {
                for (const version of [
                    "^1.2.0",
                    "~1",
                    "~1.2.3",
                    "1.x",
                    "1.2.x",
                    "v1.2.3",
                    "1.2",
                    "1",
                    ">=1.2.3",
                    "*",
                    "latest",
                    "1.2.3 || 1.2.4",
                    " 1.2.3",
                    "01.2.3",
                ]) {
                    const message = await violatesOn(pinnedChartVersions, make({ chart: OCI, version }), "version");
                    assert.ok(message.includes(`"${version}"`), message);
                }
            });
        }

        it("accepts a chart directory or archive without a version: Helm installs those files as they are", async () => {
            for (const local of [
                "./charts/kafka",
                "../charts/kafka",
                "/opt/charts/kafka",
                "charts/kafka-32.4.3.tgz",
                "https://charts.example.com/kafka-32.4.3.tgz",
            ]) {
                await passes(pinnedChartVersions, release({ chart: local }));
            }
            await violatesOn(pinnedChartVersions, release({ chart: "bitnami/kafka" }), "version");
        });

        it("cannot run in a preview that does not know the version", async () => {
            const outcome = await judged(pinnedChartVersions, release({ chart: OCI, version: UNKNOWN.string }));
            assert.deepEqual(outcome.violations, []);
            assert.match(outcome.unknown ?? "", /\.version can't be known/);
        });
    });

    describe("helm-values-no-literal-credentials", () => {
        const withValues = (values: unknown) => release({ chart: "oci://registry-1.docker.io/bitnamicharts/postgresql", version: "16.7.27", values });

        it("accepts values that only name Secrets, their keys and non-secret settings", async () => {
            await passes(
                noLiteralCredentialsInHelmValues,
                withValues({
                    auth: {
                        username: "admin",
                        existingSecret: "postgresql-admin",
                        existingSecretPasswordKey: "postgres-password",
                        usePasswordFiles: true,
                        // Empty: the chart generates one.
                        password: "",
                        secretKeys: { adminPasswordKey: "postgres-password", userPasswordKey: "password", jwtSecretKey: "jwt-secret-key" },
                    },
                    primary: { initdb: { scriptsSecret: "postgresql-initdb" } },
                    tls: { certificatesSecret: "tls", jksTruststoreSecret: "truststore", passwordsSecret: "tls-passwords" },
                    serviceAccount: { automountServiceAccountToken: false },
                    security: { passwordsSecretName: "spark-secrets" },
                    extraEnvVarsSecret: "airflow-dags-env",
                    extraEnvVars: [
                        { name: "KAFKA_SASL_USERNAME", value: "pipeline" },
                        { name: "KAFKA_SASL_PASSWORD", valueFrom: { secretKeyRef: { name: "kafka-sasl", key: "client-passwords" } } },
                        { name: "POSTGRES_PASSWORD_FILE", value: "/opt/bitnami/postgresql/secrets/password" },
                    ],
                }),
            );
            await passes(noLiteralCredentialsInHelmValues, withValues(undefined));
        });

        it("rejects a literal password next to the Secret it should be in, without repeating it", async () => {
            const message = await violatesOn(
                noLiteralCredentialsInHelmValues,
                withValues({ auth: { existingSecret: "postgresql-admin", password: "hunter2" } }),
                "values.auth.password",
            );
            assert.ok(!message.includes("hunter2"), message);
        });

        it("rejects the credential keys charts use, at any depth, on a Release and a Chart", async () => {
            const cases: [Props, string][] = [
                [{ auth: { postgresPassword: "p" } }, "values.auth.postgresPassword"],
                [{ global: { postgresql: { auth: { password: "p" } } } }, "values.global.postgresql.auth.password"],
                [{ auth: { fernetKey: "f" } }, "values.auth.fernetKey"],
                [{ auth: { secretKey: "s" } }, "values.auth.secretKey"],
                [{ web: { secret: "s" } }, "values.web.secret"],
                [{ metrics: { token: "t" } }, "values.metrics.token"],
                [{ ldap: { bindpw: "p" } }, "values.ldap.bindpw"],
                [{ smtp: { api_key: "k" } }, "values.smtp.api_key"],
                [{ overrideConfiguration: { "ssl.keystore.password": "p" } }, "values.overrideConfiguration.ssl.keystore.password"],
                [{ sasl: { client: { passwords: "a,b" } } }, "values.sasl.client.passwords"],
                [{ sasl: { client: { passwords: ["a", "b"] } } }, "values.sasl.client.passwords"],
                // YAML reads an all-digit password as a number.
                [{ auth: { password: 123456 } }, "values.auth.password"],
                [{ replicas: [{ auth: { password: "p" } }] }, "values.replicas[0].auth.password"],
            ];
            for (const [values, field] of cases) {
                await violatesOn(noLiteralCredentialsInHelmValues, withValues(values), field);
                await violatesOn(noLiteralCredentialsInHelmValues, chart({ chart: "oci://example/c", version: "1.0.0", values }), field);
            }
        });

        it("rejects a credential in an environment list as a name/value pair", async () => {
            const message = await violatesOn(
                noLiteralCredentialsInHelmValues,
                withValues({
                    extraEnvVars: [
                        { name: "KAFKA_TOPIC", value: "ticks" },
                        { name: "AIRFLOW__WEBSERVER__SECRET_KEY", value: "s3cr3t" },
                    ],
                }),
                "values.extraEnvVars[1].value",
            );
            assert.match(message, /AIRFLOW__WEBSERVER__SECRET_KEY/);
            assert.ok(!message.includes("s3cr3t"), message);
        });

        it("reports each literal credential", async () => {
            const found = await violations(
                noLiteralCredentialsInHelmValues,
                withValues({ auth: { password: "a", replicationPassword: "b" }, redis: { auth: { password: "c" } } }),
            );
            assert.deepEqual(
                found.map((m) => m.split(" ")[0]),
                ["values.auth.password", "values.auth.replicationPassword", "values.redis.auth.password"],
            );
        });

        it("still checks the rest of the values when a preview does not know one of them", async () => {
            const outcome = await judged(
                noLiteralCredentialsInHelmValues,
                withValues({
                    image: { digest: UNKNOWN.string },
                    auth: { password: UNKNOWN.string },
                    redis: UNKNOWN.object,
                    metrics: { token: "t" },
                }),
            );
            assert.equal(outcome.unknown, undefined);
            assert.deepEqual(
                outcome.violations.map((m) => m.split(" ")[0]),
                ["values.metrics.token"],
            );
        });

        it("cannot run in a preview that does not know the values at all", async () => {
            const outcome = await judged(noLiteralCredentialsInHelmValues, withValues(UNKNOWN.object));
            assert.deepEqual(outcome.violations, []);
            assert.match(outcome.unknown ?? "", /\.values can't be known/);
        });
    });

    describe("load-balancer-source-ranges", () => {
        const helmValues = (values: unknown) => release({ chart: "oci://registry-1.docker.io/bitnamicharts/postgresql", version: "16.7.27", values });

        it("accepts ClusterIP Services and LoadBalancers restricted to client networks", async () => {
            await passes(loadBalancerSourceRanges, service({ spec: { type: "ClusterIP", ports: [{ port: 80 }] } }));
            await passes(loadBalancerSourceRanges, service({ spec: { ports: [{ port: 80 }] } }));
            await passes(loadBalancerSourceRanges, service({ metadata: { name: "ui" } }));
            await passes(
                loadBalancerSourceRanges,
                service({ spec: { type: "LoadBalancer", loadBalancerSourceRanges: ["203.0.113.0/24", "2001:db8::/32"] } }),
            );
        });

        it("rejects a LoadBalancer Service without source ranges", async () => {
            await violatesOn(loadBalancerSourceRanges, service({ spec: { type: "LoadBalancer" } }), "spec.loadBalancerSourceRanges");
            await violatesOn(
                loadBalancerSourceRanges,
                service({ spec: { type: "LoadBalancer", loadBalancerSourceRanges: [] } }),
                "spec.loadBalancerSourceRanges",
            );
        });

        it("rejects a LoadBalancer Service open to every address, IPv4 or IPv6", async () => {
            for (const anywhere of ["0.0.0.0/0", "::/0"]) {
                const message = await violatesOn(
                    loadBalancerSourceRanges,
                    service({ spec: { type: "LoadBalancer", loadBalancerSourceRanges: ["203.0.113.0/24", anywhere] } }),
                    "spec.loadBalancerSourceRanges[1]",
                );
                assert.ok(message.includes(`must not be ${anywhere}`), message);
            }
        });

        it("finds LoadBalancers asked for anywhere in Helm values", async () => {
            await violatesOn(
                loadBalancerSourceRanges,
                helmValues({ primary: { service: { type: "LoadBalancer", ports: { postgresql: 5432 } } } }),
                "values.primary.service.loadBalancerSourceRanges",
            );
            await violatesOn(
                loadBalancerSourceRanges,
                chart({
                    chart: "oci://example/kafka",
                    version: "32.4.3",
                    values: {
                        externalAccess: { enabled: true, broker: { service: { type: "LoadBalancer", loadBalancerSourceRanges: ["0.0.0.0/0"] } } },
                    },
                }),
                "values.externalAccess.broker.service.loadBalancerSourceRanges[0]",
            );
            const found = await violations(
                loadBalancerSourceRanges,
                helmValues({
                    primary: { service: { type: "LoadBalancer" } },
                    readReplicas: { service: { type: "LoadBalancer", loadBalancerSourceRanges: [] } },
                }),
            );
            assert.deepEqual(
                found.map((m) => m.split(" ")[0]),
                ["values.primary.service.loadBalancerSourceRanges", "values.readReplicas.service.loadBalancerSourceRanges"],
            );
        });

        it("accepts Helm values whose LoadBalancers are restricted, and values without any", async () => {
            await passes(loadBalancerSourceRanges, helmValues({ service: { type: "LoadBalancer", loadBalancerSourceRanges: ["203.0.113.0/24"] } }));
            await passes(loadBalancerSourceRanges, helmValues({ service: { type: "ClusterIP" }, primary: { service: { type: "NodePort" } } }));
            await passes(loadBalancerSourceRanges, helmValues(undefined));
        });

        it("skips in a preview ranges it does not know yet but still checks the other services", async () => {
            const outcome = await judged(
                loadBalancerSourceRanges,
                helmValues({
                    service: { type: "LoadBalancer", loadBalancerSourceRanges: UNKNOWN.array },
                    master: { service: { type: UNKNOWN.string } },
                    primary: { service: { type: "LoadBalancer" } },
                }),
            );
            assert.equal(outcome.unknown, undefined);
            assert.deepEqual(
                outcome.violations.map((m) => m.split(" ")[0]),
                ["values.primary.service.loadBalancerSourceRanges"],
            );
        });

        it("cannot run in a preview that does not know a Service's spec", async () => {
            const outcome = await judged(loadBalancerSourceRanges, service({ spec: UNKNOWN.object }));
            assert.deepEqual(outcome.violations, []);
            assert.match(outcome.unknown ?? "", /\.spec can't be known/);
        });
    });

    describe("gke-shielded-nodes", () => {
        it("accepts a cluster with Shielded GKE Nodes", async () => {
            await passes(shieldedNodes, cluster(GOOD_CLUSTER));
        });

        it("rejects a cluster that turns them off or does not say", async () => {
            for (const value of [false, undefined]) {
                await violatesOn(
                    shieldedNodes,
                    cluster(
                        variant(GOOD_CLUSTER, (p) => {
                            p.enableShieldedNodes = value;
                        }),
                    ),
                    "enableShieldedNodes",
                );
            }
        });

        it("cannot run in a preview that does not know the setting", async () => {
            const outcome = await judged(
                shieldedNodes,
                cluster(
                    variant(GOOD_CLUSTER, (p) => {
                        p.enableShieldedNodes = UNKNOWN.boolean;
                    }),
                ),
            );
            assert.deepEqual(outcome.violations, []);
            assert.match(outcome.unknown ?? "", /\.enableShieldedNodes can't be known/);
        });
    });

    describe("gke-nodes-secure-boot", () => {
        it("accepts pools with Secure Boot, integrity monitoring on or left at its default", async () => {
            await passes(secureBoot, nodePool(GOOD_POOL));
            await passes(
                secureBoot,
                nodePool(
                    variant(GOOD_POOL, (p) => {
                        p.nodeConfig.shieldedInstanceConfig = { enableSecureBoot: true };
                    }),
                ),
            );
        });

        it("rejects a pool, the default pool or an inline pool without Secure Boot", async () => {
            await violatesOn(
                secureBoot,
                nodePool(
                    variant(GOOD_POOL, (p) => {
                        delete p.nodeConfig.shieldedInstanceConfig;
                    }),
                ),
                "nodeConfig.shieldedInstanceConfig.enableSecureBoot",
            );
            await violatesOn(
                secureBoot,
                cluster(
                    variant(GOOD_CLUSTER, (p) => {
                        p.nodeConfig.shieldedInstanceConfig.enableSecureBoot = false;
                    }),
                ),
                "nodeConfig.shieldedInstanceConfig.enableSecureBoot",
            );
            await violatesOn(
                secureBoot,
                cluster(
                    variant(GOOD_CLUSTER, (p) => {
                        p.nodePools = [{ nodeConfig: p.nodeConfig }, { nodeConfig: { shieldedInstanceConfig: { enableSecureBoot: false } } }];
                    }),
                ),
                "nodePools[1].nodeConfig.shieldedInstanceConfig.enableSecureBoot",
            );
        });

        it("rejects integrity monitoring turned off", async () => {
            await violatesOn(
                secureBoot,
                nodePool(
                    variant(GOOD_POOL, (p) => {
                        p.nodeConfig.shieldedInstanceConfig.enableIntegrityMonitoring = false;
                    }),
                ),
                "nodeConfig.shieldedInstanceConfig.enableIntegrityMonitoring",
            );
        });

        it("cannot run in a preview that does not know the pool's shielded settings", async () => {
            const outcome = await judged(
                secureBoot,
                nodePool(
                    variant(GOOD_POOL, (p) => {
                        p.nodeConfig.shieldedInstanceConfig = UNKNOWN.object;
                    }),
                ),
            );
            assert.deepEqual(outcome.violations, []);
            assert.match(outcome.unknown ?? "", /shieldedInstanceConfig can't be known/);
        });
    });

    describe("gke-node-auto-upgrade-and-repair", () => {
        it("accepts pools that upgrade and repair themselves, and a cluster whose only pools are separate", async () => {
            await passes(nodeAutoUpgradeAndRepair, nodePool(GOOD_POOL));
            await passes(nodeAutoUpgradeAndRepair, cluster(GOOD_CLUSTER));
        });

        it("rejects each of the two turned off or left unsaid, on a pool and on an inline pool", async () => {
            for (const field of ["autoUpgrade", "autoRepair"]) {
                for (const value of [false, undefined]) {
                    await violatesOn(
                        nodeAutoUpgradeAndRepair,
                        nodePool(
                            variant(GOOD_POOL, (p) => {
                                p.management[field] = value;
                            }),
                        ),
                        `management.${field}`,
                    );
                }
            }
            const found = await violations(
                nodeAutoUpgradeAndRepair,
                cluster(
                    variant(GOOD_CLUSTER, (p) => {
                        p.nodePools = [{ nodeConfig: p.nodeConfig }];
                    }),
                ),
            );
            assert.deepEqual(
                found.map((m) => m.split(" ")[0]),
                ["nodePools[0].management.autoUpgrade", "nodePools[0].management.autoRepair"],
            );
        });

        it("cannot run in a preview that does not know the management block", async () => {
            const outcome = await judged(
                nodeAutoUpgradeAndRepair,
                nodePool(
                    variant(GOOD_POOL, (p) => {
                        p.management = UNKNOWN.object;
                    }),
                ),
            );
            assert.deepEqual(outcome.violations, []);
            assert.match(outcome.unknown ?? "", /\.management can't be known/);
        });
    });

    describe("gke-kubelet-read-only-port-off", () => {
        it("accepts FALSE on the cluster's defaults, its default pool and every pool", async () => {
            await passes(kubeletReadOnlyPortOff, cluster(GOOD_CLUSTER));
            await passes(kubeletReadOnlyPortOff, nodePool(GOOD_POOL));
        });

        it("rejects the port open or left unsaid, naming where", async () => {
            await violatesOn(
                kubeletReadOnlyPortOff,
                nodePool(
                    variant(GOOD_POOL, (p) => {
                        p.nodeConfig.kubeletConfig.insecureKubeletReadonlyPortEnabled = "TRUE";
                    }),
                ),
                "nodeConfig.kubeletConfig.insecureKubeletReadonlyPortEnabled",
            );
            await violatesOn(
                kubeletReadOnlyPortOff,
                nodePool(
                    variant(GOOD_POOL, (p) => {
                        delete p.nodeConfig.kubeletConfig;
                    }),
                ),
                "nodeConfig.kubeletConfig.insecureKubeletReadonlyPortEnabled",
            );
            await violatesOn(
                kubeletReadOnlyPortOff,
                cluster(
                    variant(GOOD_CLUSTER, (p) => {
                        delete p.nodePoolDefaults;
                    }),
                ),
                "nodePoolDefaults.nodeConfigDefaults.insecureKubeletReadonlyPortEnabled",
            );
            await violatesOn(
                kubeletReadOnlyPortOff,
                cluster(
                    variant(GOOD_CLUSTER, (p) => {
                        p.nodePools = [{ nodeConfig: {} }];
                    }),
                ),
                "nodePools[0].nodeConfig.kubeletConfig.insecureKubeletReadonlyPortEnabled",
            );
        });

        it("cannot run in a preview that does not know the setting", async () => {
            const outcome = await judged(
                kubeletReadOnlyPortOff,
                nodePool(
                    variant(GOOD_POOL, (p) => {
                        p.nodeConfig.kubeletConfig.insecureKubeletReadonlyPortEnabled = UNKNOWN.string;
                    }),
                ),
            );
            assert.deepEqual(outcome.violations, []);
            assert.match(outcome.unknown ?? "", /insecureKubeletReadonlyPortEnabled can't be known/);
        });
    });

    /** Cluster rules that read one setting: the good value, bad values, and the field named in the message. */
    const settings: [ResourceValidationPolicy, string, (p: Props, value: unknown) => void, unknown[], unknown, string][] = [
        [dataplaneV2, "datapathProvider", (p, v) => (p.datapathProvider = v), ["LEGACY_DATAPATH", undefined], UNKNOWN.string, "datapathProvider"],
        [
            releaseChannel,
            "releaseChannel.channel",
            (p, v) => (p.releaseChannel = { channel: v }),
            ["UNSPECIFIED", undefined],
            UNKNOWN.string,
            "\\.channel",
        ],
        [legacyAbacOff, "enableLegacyAbac", (p, v) => (p.enableLegacyAbac = v), [true], UNKNOWN.boolean, "enableLegacyAbac"],
        [
            noClientCertificates,
            "masterAuth.clientCertificateConfig.issueClientCertificate",
            (p, v) => (p.masterAuth.clientCertificateConfig.issueClientCertificate = v),
            [true],
            UNKNOWN.boolean,
            "issueClientCertificate",
        ],
    ];
    for (const [policy, field, set, bad, unknown, unknownPath] of settings) {
        describe(policy.name, () => {
            it(`accepts the hardened ${field}`, async () => {
                await passes(policy, cluster(GOOD_CLUSTER));
            });

            it(`rejects ${bad.map((v) => (v === undefined ? "unset" : String(v))).join(" and ")} as ${field}`, async () => {
                for (const value of bad) {
                    await violatesOn(policy, cluster(variant(GOOD_CLUSTER, (p) => set(p, value))), field);
                }
            });

            it(`cannot run in a preview that does not know ${field}`, async () => {
                const outcome = await judged(policy, cluster(variant(GOOD_CLUSTER, (p) => set(p, unknown))));
                assert.deepEqual(outcome.violations, []);
                assert.match(outcome.unknown ?? "", new RegExp(`${unknownPath} can't be known`));
            });
        });
    }

    it("gke-release-channel accepts every channel, EXTENDED included", async () => {
        for (const channel of ["RAPID", "REGULAR", "STABLE", "EXTENDED"]) {
            await passes(releaseChannel, cluster(variant(GOOD_CLUSTER, (p) => (p.releaseChannel.channel = channel))));
        }
        await violatesOn(releaseChannel, cluster(variant(GOOD_CLUSTER, (p) => delete p.releaseChannel)), "releaseChannel.channel");
    });

    it("gke-legacy-abac-off accepts ABAC left unset (off by default)", async () => {
        await passes(legacyAbacOff, cluster(variant(GOOD_CLUSTER, (p) => delete p.enableLegacyAbac)));
    });

    describe("gke-ip-endpoint-off-without-authorized-networks", () => {
        const noNetworks = (ipEndpoint: unknown) =>
            cluster(
                variant(GOOD_CLUSTER, (p) => {
                    p.masterAuthorizedNetworksConfig.cidrBlocks = [];
                    p.controlPlaneEndpointsConfig.ipEndpointsConfig = ipEndpoint;
                }),
            );

        it("accepts an IP endpoint in use by authorized networks, and one turned off without them", async () => {
            await passes(ipEndpointOffWithoutAuthorizedNetworks, cluster(GOOD_CLUSTER));
            await passes(ipEndpointOffWithoutAuthorizedNetworks, noNetworks({ enabled: false }));
        });

        it("rejects an IP endpoint on, or on by default, that no network may use", async () => {
            for (const ipEndpoint of [{ enabled: true }, undefined]) {
                await violatesOn(
                    ipEndpointOffWithoutAuthorizedNetworks,
                    noNetworks(ipEndpoint),
                    "controlPlaneEndpointsConfig.ipEndpointsConfig.enabled",
                );
            }
            await violatesOn(
                ipEndpointOffWithoutAuthorizedNetworks,
                cluster(variant(GOOD_CLUSTER, (p) => delete p.masterAuthorizedNetworksConfig)),
                "controlPlaneEndpointsConfig.ipEndpointsConfig.enabled",
            );
        });

        it("cannot run in a preview that does not know the authorized networks", async () => {
            const outcome = await judged(
                ipEndpointOffWithoutAuthorizedNetworks,
                cluster(variant(GOOD_CLUSTER, (p) => (p.masterAuthorizedNetworksConfig.cidrBlocks = UNKNOWN.array))),
            );
            assert.deepEqual(outcome.violations, []);
            assert.match(outcome.unknown ?? "", /cidrBlocks can't be known/);
        });
    });

    describe("gke-logging-and-monitoring", () => {
        it("accepts the default services and explicit components", async () => {
            await passes(loggingAndMonitoring, cluster(GOOD_CLUSTER));
            await passes(
                loggingAndMonitoring,
                cluster(
                    variant(GOOD_CLUSTER, (p) => {
                        delete p.loggingConfig;
                        p.loggingService = "logging.googleapis.com/kubernetes";
                    }),
                ),
            );
        });

        it("rejects logging or monitoring turned off", async () => {
            await violatesOn(loggingAndMonitoring, cluster(variant(GOOD_CLUSTER, (p) => (p.loggingService = "none"))), "loggingService");
            await violatesOn(loggingAndMonitoring, cluster(variant(GOOD_CLUSTER, (p) => (p.monitoringService = "none"))), "monitoringService");
            await violatesOn(
                loggingAndMonitoring,
                cluster(variant(GOOD_CLUSTER, (p) => (p.loggingConfig.enableComponents = []))),
                "loggingConfig.enableComponents",
            );
            await violatesOn(
                loggingAndMonitoring,
                cluster(variant(GOOD_CLUSTER, (p) => (p.monitoringConfig.enableComponents = []))),
                "monitoringConfig.enableComponents",
            );
        });

        it("cannot run in a preview that does not know the logging service", async () => {
            const outcome = await judged(loggingAndMonitoring, cluster(variant(GOOD_CLUSTER, (p) => (p.loggingService = UNKNOWN.string))));
            assert.deepEqual(outcome.violations, []);
            assert.match(outcome.unknown ?? "", /\.loggingService can't be known/);
        });
    });

    describe("gke-secrets-encryption-on-protected-stacks", () => {
        it("accepts a protected stack whose cluster encrypts Secrets with a KMS key, known or created in the same deployment", async () => {
            assert.deepEqual(await stackViolations(secretsEncryption, platform("prod", GOOD_CLUSTER, true)), []);
            const newKey = variant(GOOD_CLUSTER, (p) => (p.databaseEncryption.keyName = UNKNOWN.string));
            assert.deepEqual(await stackViolations(secretsEncryption, platform("prod", newKey, true)), []);
        });

        it("rejects a protected stack whose cluster leaves Secrets unencrypted or names no key, on the cluster", async () => {
            for (const encryption of [undefined, { state: "DECRYPTED" }, { state: "ENCRYPTED" }, { state: "ENCRYPTED", keyName: "" }]) {
                const resources = platform(
                    "prod",
                    variant(GOOD_CLUSTER, (p) => (p.databaseEncryption = encryption)),
                    true,
                );
                const found = await stackViolations(secretsEncryption, resources);
                assert.equal(found.length, 1, JSON.stringify(encryption));
                assert.equal(found[0].urn, resources[0].urn);
                assert.match(found[0].message, /^databaseEncryption\.(state|keyName) must /);
            }
        });

        it("is not applicable on a stack that protects nothing", async () => {
            const outcome = await evaluateStack(
                secretsEncryption,
                platform(
                    "dev",
                    variant(GOOD_CLUSTER, (p) => delete p.databaseEncryption),
                    false,
                ),
            );
            assert.deepEqual(outcome.violations, []);
            assert.equal(outcome.notApplicable, "the stack protects no resource");
        });

        it("cannot run in a preview that does not know the encryption state", async () => {
            const outcome = await evaluateStack(
                secretsEncryption,
                platform(
                    "prod",
                    variant(GOOD_CLUSTER, (p) => (p.databaseEncryption.state = UNKNOWN.string)),
                    true,
                ),
            );
            assert.deepEqual(outcome.violations, []);
            assert.match(outcome.unknown ?? "", /databaseEncryption\.state can't be known/);
        });
    });

    describe("gke-binary-authorization-on-protected-stacks", () => {
        it("accepts a protected stack whose cluster enforces a policy", async () => {
            for (const evaluationMode of [
                "PROJECT_SINGLETON_POLICY_ENFORCE",
                "POLICY_BINDINGS",
                "POLICY_BINDINGS_AND_PROJECT_SINGLETON_POLICY_ENFORCE",
            ]) {
                const props = variant(GOOD_CLUSTER, (p) => (p.binaryAuthorization = { evaluationMode }));
                assert.deepEqual(await stackViolations(binaryAuthorization, platform("prod", props, true)), [], evaluationMode);
            }
        });

        it("rejects DISABLED, unset, and the deprecated enabled flag without a mode", async () => {
            for (const setting of [undefined, { evaluationMode: "DISABLED" }, { enabled: true }]) {
                const resources = platform(
                    "prod",
                    variant(GOOD_CLUSTER, (p) => (p.binaryAuthorization = setting)),
                    true,
                );
                const found = await stackViolations(binaryAuthorization, resources);
                assert.equal(found.length, 1, JSON.stringify(setting));
                assert.equal(found[0].urn, resources[0].urn);
                assert.match(found[0].message, /^binaryAuthorization\.evaluationMode must be PROJECT_SINGLETON_POLICY_ENFORCE .*protects kafka/);
            }
        });

        it("is not applicable on a stack that protects nothing", async () => {
            const outcome = await evaluateStack(
                binaryAuthorization,
                platform(
                    "dev",
                    variant(GOOD_CLUSTER, (p) => delete p.binaryAuthorization),
                    false,
                ),
            );
            assert.equal(outcome.notApplicable, "the stack protects no resource");
        });

        it("cannot run in a preview that does not know the mode", async () => {
            const outcome = await evaluateStack(
                binaryAuthorization,
                platform(
                    "prod",
                    variant(GOOD_CLUSTER, (p) => (p.binaryAuthorization.evaluationMode = UNKNOWN.string)),
                    true,
                ),
            );
            assert.deepEqual(outcome.violations, []);
            assert.match(outcome.unknown ?? "", /evaluationMode can't be known/);
        });
    });

    describe("gcp-no-basic-or-project-wide-service-account-roles", () => {
        const grant = (type: string, props: Props) => resource(type, { project: "acme-streaming", ...props });
        const FORBIDDEN = ["roles/owner", "roles/editor", "roles/viewer", "roles/iam.serviceAccountUser", "roles/iam.serviceAccountTokenCreator"];

        it("accepts narrow project roles on a member, a binding and a policy, whoever gets them", async () => {
            await passes(
                noBroadProjectRoles,
                grant(TYPES.projectIamMember, { role: "roles/logging.logWriter", member: `serviceAccount:${NODE_ACCOUNT}` }),
            );
            // A member created in the same deployment is unknown in a preview; the role is what counts.
            await passes(noBroadProjectRoles, grant(TYPES.projectIamMember, { role: "roles/logging.logWriter", member: UNKNOWN.string }));
            await passes(noBroadProjectRoles, grant(TYPES.projectIamBinding, { role: "roles/container.admin", members: ["group:ops@example.com"] }));
            await passes(
                noBroadProjectRoles,
                grant(TYPES.projectIamPolicy, {
                    policyData: JSON.stringify({ bindings: [{ role: "roles/monitoring.metricWriter", members: ["user:a@example.com"] }] }),
                }),
            );
        });

        it("rejects each basic role and each project-wide service account role", async () => {
            for (const role of FORBIDDEN) {
                const message = await violatesOn(noBroadProjectRoles, grant(TYPES.projectIamMember, { role, member: "user:a@example.com" }), "role");
                assert.ok(message.includes(role), message);
                await violatesOn(noBroadProjectRoles, grant(TYPES.projectIamBinding, { role, members: ["user:a@example.com"] }), "role");
            }
        });

        it("finds a forbidden role among the bindings of a project policy, and refuses a policy that is not JSON", async () => {
            const policyData = JSON.stringify({
                bindings: [
                    { role: "roles/logging.logWriter", members: ["user:a@example.com"] },
                    { role: "roles/iam.serviceAccountTokenCreator", members: ["user:b@example.com"] },
                ],
            });
            await violatesOn(noBroadProjectRoles, grant(TYPES.projectIamPolicy, { policyData }), "policyData.bindings[1].role");
            await violatesOn(noBroadProjectRoles, grant(TYPES.projectIamPolicy, { policyData: "{bindings" }), "policyData");
        });

        it("cannot run in a preview that does not know the role", async () => {
            const outcome = await judged(noBroadProjectRoles, grant(TYPES.projectIamMember, { role: UNKNOWN.string, member: "user:a@example.com" }));
            assert.deepEqual(outcome.violations, []);
            assert.match(outcome.unknown ?? "", /\.role can't be known/);
        });
    });

    describe("artifact-registry-not-public", () => {
        const grant = (type: string, props: Props) =>
            resource(type, { repository: "pipeline", location: "us-central1", role: "roles/artifactregistry.reader", ...props });

        it("accepts grants to named members, and members a preview does not know yet", async () => {
            await passes(artifactRegistryNotPublic, grant(TYPES.repositoryIamMember, { member: `serviceAccount:${NODE_ACCOUNT}` }));
            await passes(artifactRegistryNotPublic, grant(TYPES.repositoryIamMember, { member: UNKNOWN.string }));
            await passes(artifactRegistryNotPublic, grant(TYPES.repositoryIamBinding, { members: ["group:ops@example.com", UNKNOWN.string] }));
            await passes(
                artifactRegistryNotPublic,
                grant(TYPES.repositoryIamPolicy, {
                    policyData: JSON.stringify({ bindings: [{ role: "roles/artifactregistry.reader", members: ["group:ops@example.com"] }] }),
                }),
            );
        });

        it("rejects allUsers and allAuthenticatedUsers on a member, a binding and a policy", async () => {
            for (const everyone of ["allUsers", "allAuthenticatedUsers"]) {
                await violatesOn(artifactRegistryNotPublic, grant(TYPES.repositoryIamMember, { member: everyone }), "member");
                await violatesOn(
                    artifactRegistryNotPublic,
                    grant(TYPES.repositoryIamBinding, { members: ["group:ops@example.com", everyone] }),
                    "members[1]",
                );
                await violatesOn(
                    artifactRegistryNotPublic,
                    grant(TYPES.repositoryIamPolicy, {
                        policyData: JSON.stringify({ bindings: [{ role: "roles/artifactregistry.reader", members: [everyone] }] }),
                    }),
                    "policyData.bindings[0].members[0]",
                );
            }
        });

        it("cannot run in a preview that does not know a repository's whole policy", async () => {
            const outcome = await judged(artifactRegistryNotPublic, grant(TYPES.repositoryIamPolicy, { policyData: UNKNOWN.string }));
            assert.deepEqual(outcome.violations, []);
            assert.match(outcome.unknown ?? "", /\.policyData can't be known/);
        });
    });

    describe("vpc-subnet-flow-logs", () => {
        const subnet = (props: Props) => resource(TYPES.subnetwork, { ipCidrRange: "10.10.0.0/20", region: "us-central1", ...props });

        it("accepts a subnetwork that logs its flows", async () => {
            await passes(
                subnetFlowLogs,
                subnet({ logConfig: { aggregationInterval: "INTERVAL_5_SEC", flowSampling: 0.5, metadata: "INCLUDE_ALL_METADATA" } }),
            );
            await passes(subnetFlowLogs, subnet({ purpose: "PRIVATE", logConfig: {} }));
        });

        it("rejects a subnetwork without flow logs or sampling none", async () => {
            await violatesOn(subnetFlowLogs, subnet({}), "logConfig");
            await violatesOn(subnetFlowLogs, subnet({ logConfig: { flowSampling: 0 } }), "logConfig.flowSampling");
        });

        it("is not applicable to proxy-only subnetworks, which cannot log flows", async () => {
            const outcome = await judged(subnetFlowLogs, subnet({ purpose: "REGIONAL_MANAGED_PROXY", role: "ACTIVE" }));
            assert.deepEqual(outcome.violations, []);
            assert.match(outcome.notApplicable ?? "", /REGIONAL_MANAGED_PROXY/);
        });

        it("cannot run in a preview that does not know the log config", async () => {
            const outcome = await judged(subnetFlowLogs, subnet({ logConfig: UNKNOWN.object }));
            assert.deepEqual(outcome.violations, []);
            assert.match(outcome.unknown ?? "", /\.logConfig can't be known/);
        });
    });

    describe("k8s-namespace-pod-security", () => {
        const namespace = (labels: unknown) => resource(TYPES.namespace, { metadata: { name: "kafka", labels } });
        const ENFORCE = "pod-security.kubernetes.io/enforce";

        it("accepts namespaces enforcing restricted or baseline, and Helm releases that create no namespace", async () => {
            await passes(namespacePodSecurity, namespace({ [ENFORCE]: "restricted", "pod-security.kubernetes.io/warn": "restricted" }));
            await passes(namespacePodSecurity, namespace({ [ENFORCE]: "baseline" }));
            await passes(namespacePodSecurity, release({ chart: "kafka", version: "32.4.3", namespace: "kafka" }));
            await passes(namespacePodSecurity, release({ chart: "kafka", version: "32.4.3", createNamespace: false }));
        });

        it("rejects a namespace without the label, with privileged, or with only warn/audit", async () => {
            for (const labels of [
                undefined,
                {},
                { [ENFORCE]: "privileged" },
                { "pod-security.kubernetes.io/warn": "restricted" },
                { [ENFORCE]: "Restricted" },
            ]) {
                await violatesOn(namespacePodSecurity, namespace(labels), `metadata.labels["${ENFORCE}"]`);
            }
            await violatesOn(namespacePodSecurity, resource(TYPES.namespace, {}), `metadata.labels["${ENFORCE}"]`);
        });

        it("rejects a Helm release that creates its namespace itself, without the labels", async () => {
            await violatesOn(namespacePodSecurity, release({ chart: "kafka", version: "32.4.3", createNamespace: true }), "createNamespace");
        });

        it("cannot run in a preview that does not know the labels", async () => {
            const outcome = await judged(namespacePodSecurity, namespace(UNKNOWN.object));
            assert.deepEqual(outcome.violations, []);
            assert.match(outcome.unknown ?? "", /\.labels can't be known/);
        });
    });

    /** A workload of each kind with the given pod spec, and the path of its pod spec. */
    const workloads = (podSpec: Props): [TestResource, string][] => [
        [resource(TYPES.pod, { spec: podSpec }), "spec"],
        [resource(TYPES.deployment, { spec: { template: { spec: podSpec } } }), "spec.template.spec"],
        [resource(TYPES.statefulSet, { spec: { template: { spec: podSpec } } }), "spec.template.spec"],
        [resource(TYPES.daemonSet, { spec: { template: { spec: podSpec } } }), "spec.template.spec"],
        [resource(TYPES.replicaSet, { spec: { template: { spec: podSpec } } }), "spec.template.spec"],
        [resource(TYPES.job, { spec: { template: { spec: podSpec } } }), "spec.template.spec"],
        [
            resource(TYPES.cronJob, { spec: { schedule: "@hourly", jobTemplate: { spec: { template: { spec: podSpec } } } } }),
            "spec.jobTemplate.spec.template.spec",
        ],
    ];
    const DIGEST = `sha256:${"ab".repeat(32)}`;
    const GOOD_POD: Props = {
        securityContext: { runAsNonRoot: true, seccompProfile: { type: "RuntimeDefault" } },
        initContainers: [{ name: "init", image: "docker.io/bitnamilegacy/postgresql:17.6.0-debian-12-r4" }],
        containers: [
            { name: "driver", image: `us-central1-docker.pkg.dev/acme/pipeline/spark-job@${DIGEST}`, securityContext: { privileged: false } },
            { name: "sidecar", image: `ghcr.io/acme/sidecar@${DIGEST}` },
        ],
        volumes: [
            { name: "tmp", emptyDir: {} },
            { name: "data", persistentVolumeClaim: { claimName: "data" } },
        ],
        hostNetwork: false,
    };

    describe("k8s-no-privileged-containers, k8s-no-host-namespaces, k8s-no-host-path-volumes", () => {
        it("accept an unprivileged pod of every workload kind", async () => {
            for (const policy of [noPrivilegedContainers, noHostNamespaces, noHostPathVolumes]) {
                for (const [workload] of workloads(GOOD_POD)) {
                    await passes(policy, workload);
                }
            }
        });

        it("reject a privileged container, init and ephemeral ones included, in every workload kind", async () => {
            for (const kind of ["containers", "initContainers", "ephemeralContainers"]) {
                const pod = variant(GOOD_POD, (p) => {
                    p[kind] = [
                        ...(p[kind] ?? []),
                        { name: "root", image: "docker.io/bitnamilegacy/os-shell:12", securityContext: { privileged: true } },
                    ];
                });
                for (const [workload, path] of workloads(pod)) {
                    const index = (GOOD_POD[kind] ?? []).length;
                    await violatesOn(noPrivilegedContainers, workload, `${path}.${kind}[${index}].securityContext.privileged`);
                }
            }
        });

        it("reject each host namespace in every workload kind", async () => {
            for (const field of ["hostNetwork", "hostPID", "hostIPC"]) {
                for (const [workload, path] of workloads(variant(GOOD_POD, (p) => (p[field] = true)))) {
                    await violatesOn(noHostNamespaces, workload, `${path}.${field}`);
                }
            }
        });

        it("reject a hostPath volume in every workload kind", async () => {
            const pod = variant(GOOD_POD, (p) => p.volumes.push({ name: "docker", hostPath: { path: "/var/run/docker.sock" } }));
            for (const [workload, path] of workloads(pod)) {
                await violatesOn(noHostPathVolumes, workload, `${path}.volumes[2].hostPath`);
            }
        });

        it("cannot run in a preview that does not know the pod spec", async () => {
            for (const policy of [noPrivilegedContainers, noHostNamespaces, noHostPathVolumes]) {
                const outcome = await judged(policy, resource(TYPES.deployment, { spec: { template: { spec: UNKNOWN.object } } }));
                assert.deepEqual(outcome.violations, [], policy.name);
                assert.match(outcome.unknown ?? "", /template\.spec can't be known/, policy.name);
            }
        });
    });

    describe("images-by-digest-on-protected-stacks and images-by-digest-advised", () => {
        const LOCKED = `sha256:${"a".repeat(64)}`;
        /** A stack as platform() builds it, with a chart image block and a workload container, each with or without a digest. */
        const images = (stack: string, dataProtected: boolean, digest: unknown) => {
            const resources = platform(stack, GOOD_CLUSTER, dataProtected);
            const kafka = resources.find((r) => r.type === TYPES.helmRelease && r.name === "kafka")!;
            const job = resources.find((r) => r.name === "postgresql-schema")!;
            const values = {
                image: { registry: "docker.io", repository: "bitnamilegacy/kafka", tag: "4.0.0-debian-12-r10", digest },
                metrics: { jmx: { image: { registry: "docker.io", repository: "bitnamilegacy/jmx-exporter", tag: "1.4.0-debian-12-r0", digest } } },
                // A map with a repository but no tag is no image block (a chart's git settings, say).
                git: { repository: "https://example.com/dags.git" },
            };
            const image = `docker.io/bitnamilegacy/postgresql:17.6.0-debian-12-r4${typeof digest === "string" && digest ? `@${digest}` : ""}`;
            return resources.map((r) =>
                r === kafka
                    ? { ...r, props: { ...r.props, values } }
                    : r === job
                      ? {
                            ...r,
                            type: TYPES.job,
                            urn: r.urn.replace("kubernetes:batch/v1:Job", TYPES.job),
                            props: { spec: { template: { spec: { containers: [{ name: "psql", image }] } } } },
                        }
                      : r,
            );
        };

        it("accepts every image by digest on a stack that protects its data", async () => {
            assert.deepEqual(await stackViolations(imagesByDigestOnProtectedStacks, images("prod", true, LOCKED)), []);
        });

        it("rejects each chart image block and container without a digest there, naming the image and npm run images:mirror", async () => {
            for (const digest of [undefined, "", "sha256:abc"]) {
                const resources = images("prod", true, digest);
                const found = await stackViolations(imagesByDigestOnProtectedStacks, resources);
                assert.deepEqual(
                    found.map((v) => v.message.split(" must be")[0]),
                    [
                        "kafka values.image: docker.io/bitnamilegacy/kafka:4.0.0-debian-12-r10",
                        "kafka values.metrics.jmx.image: docker.io/bitnamilegacy/jmx-exporter:1.4.0-debian-12-r0",
                        `postgresql-schema spec.template.spec.containers[0].image: docker.io/bitnamilegacy/postgresql:17.6.0-debian-12-r4${digest ? `@${digest}` : ""}`,
                    ],
                    String(digest),
                );
                for (const v of found) {
                    assert.match(
                        v.message,
                        /must be pulled by a locked digest on a stack that protects its data; run `npm run images:mirror -- --stack <stack>` /,
                    );
                }
                assert.equal(found[0].urn, resources.find((r) => r.name === "kafka" && r.type === TYPES.helmRelease)!.urn, "reported on the release");
            }
        });

        it("on a stack that protects nothing: not judged by the mandatory rule; the advisory names the same images", async () => {
            const resources = images("dev", false, undefined);
            const mandatory = await evaluateStack(imagesByDigestOnProtectedStacks, resources);
            assert.deepEqual(mandatory.violations, []);
            assert.equal(mandatory.notApplicable, "the stack protects no resource");
            const advised = await stackViolations(imagesByDigestAdvisory, resources);
            assert.equal(advised.length, 3);
            assert.match(
                advised[0].message,
                /^kafka values\.image: docker\.io\/bitnamilegacy\/kafka:4\.0\.0-debian-12-r10 is pulled by tag, .*npm run images:mirror/,
            );
            assert.deepEqual(await stackViolations(imagesByDigestAdvisory, images("dev", false, LOCKED)), []);
            // And where the mandatory rule judges, the advisory stays out of its way.
            const protectedStack = await evaluateStack(imagesByDigestAdvisory, images("prod", true, undefined));
            assert.deepEqual(protectedStack.violations, []);
            assert.match(protectedStack.notApplicable ?? "", /protects its data: images-by-digest-on-protected-stacks judges it/);
            assert.equal(imagesByDigestAdvisory.enforcementLevel, "advisory");
        });

        it("in a preview, leaves a digest or an image it cannot know to the update, and judges the rest", async () => {
            const resources = images("prod", true, UNKNOWN.string).map((r) =>
                r.type === TYPES.job
                    ? { ...r, props: { spec: { template: { spec: { containers: [{ name: "psql", image: UNKNOWN.string }] } } } } }
                    : r,
            );
            assert.deepEqual(await stackViolations(imagesByDigestOnProtectedStacks, resources), []);
        });

        it("applies to neither rule on a stack that runs no image", async () => {
            const outcome = await evaluateStack(imagesByDigestAdvisory, [resource(TYPES.projectIamMember, { role: "roles/viewer" }, "bootstrap")]);
            assert.equal(outcome.notApplicable, "the stack has no Helm release and no workload");
        });
    });

    describe("k8s-images-by-digest-or-from-allowed-registries", () => {
        const withImage = (image: unknown) => resource(TYPES.deployment, { spec: { template: { spec: { containers: [{ name: "c", image }] } } } });

        it("accepts images from the default registries, by tag or digest, and images by digest from anywhere", async () => {
            for (const [workload] of workloads(GOOD_POD)) {
                await passes(allowedImages, workload);
            }
            for (const image of [
                "docker.io/bitnamilegacy/kafka:4.0.0-debian-12-r10",
                "bitnamilegacy/kafka:4.0.0",
                "index.docker.io/bitnamilegacy/kafka:4.0.0",
                "europe-west4-docker.pkg.dev/acme/docker-hub/bitnamilegacy/kafka:4.0.0",
                `quay.io/strimzi/kafka@${DIGEST}`,
                `nginx@${DIGEST}`,
            ]) {
                await passes(allowedImages, withImage(image));
            }
        });

        it("rejects tags from other registries and look-alike hosts", async () => {
            for (const image of [
                "nginx:1.27",
                "docker.io/bitnami/kafka:4.0.0",
                "docker.io/bitnamilegacyx/kafka:4.0.0",
                "evil.example/us-docker.pkg.dev/x:1",
                "us-docker.pkg.dev.evil.example/x:1",
                "quay.io/strimzi/kafka:0.45.0",
                `quay.io/strimzi/kafka@sha256:${"ab".repeat(8)}`,
            ]) {
                const message = await violatesOn(allowedImages, withImage(image), "spec.template.spec.containers[0].image");
                assert.ok(message.endsWith(`not ${image}.`), message);
            }
            await violatesOn(allowedImages, withImage(undefined), "spec.template.spec.containers[0].image");
        });

        it("takes the allowed registries from its configuration", async () => {
            const config = { allowedRegistries: ["quay.io/strimzi", "registry.internal:5000"] };
            await passes(allowedImages, withImage("quay.io/strimzi/kafka:0.45.0"), config);
            await passes(allowedImages, withImage("registry.internal:5000/team/app:1"), config);
            await violatesOn(allowedImages, withImage("docker.io/bitnamilegacy/kafka:4.0.0"), "spec.template.spec.containers[0].image", config);
            assert.deepEqual(allowedImages.configSchema?.properties?.allowedRegistries.default, DEFAULT_ALLOWED_REGISTRIES);
            assert.deepEqual(DEFAULT_ALLOWED_REGISTRIES, ["docker.io/bitnamilegacy", "*-docker.pkg.dev"]);
        });

        it("names Docker Hub's implied host and library/ when matching", () => {
            assert.equal(normalizeImage("nginx:1"), "docker.io/library/nginx:1");
            assert.equal(normalizeImage("bitnamilegacy/kafka:4"), "docker.io/bitnamilegacy/kafka:4");
            assert.equal(normalizeImage("registry-1.docker.io/bitnamilegacy/kafka:4"), "docker.io/bitnamilegacy/kafka:4");
            assert.equal(normalizeImage("localhost/app:1"), "localhost/app:1");
        });

        it("skips in a preview an image built in the same deployment, and still checks the others", async () => {
            const outcome = await judged(
                allowedImages,
                resource(TYPES.deployment, {
                    spec: { template: { spec: { initContainers: [{ image: UNKNOWN.string }], containers: [{ image: "nginx:1.27" }] } } },
                }),
            );
            assert.equal(outcome.unknown, undefined);
            assert.deepEqual(
                outcome.violations.map((m) => m.split(" ")[0]),
                ["spec.template.spec.containers[0].image"],
            );
        });

        it("cannot run in a preview that does not know the containers", async () => {
            const outcome = await judged(allowedImages, resource(TYPES.deployment, { spec: { template: { spec: { containers: UNKNOWN.array } } } }));
            assert.deepEqual(outcome.violations, []);
            assert.match(outcome.unknown ?? "", /\.containers can't be known/);
        });
    });
});
