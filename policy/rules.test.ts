import { strict as assert } from "assert";
import { ResourceValidationPolicy } from "@pulumi/policy";
import {
    controlPlaneNotPublic,
    dedicatedNodeServiceAccount,
    deletionProtection,
    loadBalancerSourceRanges,
    noLiteralCredentialsInHelmValues,
    pinnedChartVersions,
    policies,
    privateNodes,
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
const GOOD_CLUSTER: Props = {
    privateClusterConfig: { enablePrivateNodes: true, enablePrivateEndpoint: false, masterIpv4CidrBlock: "172.16.0.0/28" },
    masterAuthorizedNetworksConfig: { gcpPublicCidrsAccessEnabled: false, cidrBlocks: [{ cidrBlock: "203.0.113.0/24", displayName: "office" }] },
    workloadIdentityConfig: { workloadPool: "acme-streaming.svc.id.goog" },
    removeDefaultNodePool: true,
    nodeConfig: { serviceAccount: NODE_ACCOUNT, workloadMetadataConfig: { mode: "GKE_METADATA" } },
    deletionProtection: true,
};

const GOOD_POOL: Props = { cluster: "gke", nodeConfig: { serviceAccount: NODE_ACCOUNT, machineType: "e2-standard-4" } };

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

describe("policy pack rules", () => {
    describe("the pack", () => {
        it("holds every rule once, each mandatory, under a distinct name", () => {
            const rules = [
                privateNodes,
                controlPlaneNotPublic,
                workloadIdentity,
                dedicatedNodeServiceAccount,
                deletionProtection,
                pinnedChartVersions,
                noLiteralCredentialsInHelmValues,
                loadBalancerSourceRanges,
            ];
            assert.deepEqual(new Set(policies), new Set(rules));
            assert.equal(new Set(policies.map((p) => p.name)).size, policies.length);
            for (const policy of policies) {
                assert.equal(policy.enforcementLevel, "mandatory", policy.name);
            }
        });

        const applicable: [ResourceValidationPolicy, string[]][] = [
            [privateNodes, [TYPES.cluster, TYPES.nodePool]],
            [controlPlaneNotPublic, [TYPES.cluster]],
            [workloadIdentity, [TYPES.cluster, TYPES.nodePool]],
            [dedicatedNodeServiceAccount, [TYPES.cluster, TYPES.nodePool]],
            [pinnedChartVersions, [TYPES.helmRelease, TYPES.helmChart]],
            [noLiteralCredentialsInHelmValues, [TYPES.helmRelease, TYPES.helmChart]],
            [loadBalancerSourceRanges, [TYPES.service, TYPES.helmRelease, TYPES.helmChart]],
        ];
        const otherTypes = [...Object.values(TYPES), "gcp:compute/network:Network", "kubernetes:core/v1:Secret", "streaming-platform:data:Kafka"];
        for (const [policy, types] of applicable) {
            it(`${policy.name} is not applicable to other resource types, whatever their inputs`, async () => {
                // Inputs that would break every rule, so only the type can keep them quiet.
                const bad = {
                    version: "^1",
                    values: { password: "x", service: { type: "LoadBalancer" } },
                    spec: { type: "LoadBalancer" },
                    deletionProtection: false,
                };
                for (const type of otherTypes.filter((t) => !types.includes(t))) {
                    const outcome = await judged(policy, resource(type, bad));
                    assert.deepEqual(outcome.violations, [], type);
                    assert.ok(outcome.notApplicable?.includes(types[0]), `${type}: ${outcome.notApplicable}`);
                }
            });
        }

        it(`${deletionProtection.name} is a stack rule, not applicable to a stack without a cluster, whatever its resources' inputs`, async () => {
            assert.equal(typeof deletionProtection.validateStack, "function");
            const everythingProtected = [...Object.values(TYPES), "streaming-platform:data:Kafka"]
                .filter((type) => type !== TYPES.cluster)
                .map((type) => ({ ...resource(type, { deletionProtection: false }), opts: { protect: true } }));
            const outcome = await evaluateStack(deletionProtection, everythingProtected);
            assert.deepEqual(outcome.violations, []);
            assert.ok(outcome.notApplicable?.includes(TYPES.cluster), outcome.notApplicable);
        });
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

        it("rejects a cluster without masterAuthorizedNetworksConfig", async () => {
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
        const unprotected = variant(GOOD_CLUSTER, (p) => {
            p.deletionProtection = false;
        });
        const unset = variant(GOOD_CLUSTER, (p) => {
            delete p.deletionProtection;
        });

        /** The violations of the rule on a stack it applies to and could read entirely. */
        async function stackViolations(resources: TestResource[]) {
            const outcome = await evaluateStack(deletionProtection, resources);
            assert.equal(outcome.notApplicable, undefined, `not applicable: ${outcome.notApplicable}`);
            assert.equal(outcome.unknown, undefined, outcome.unknown);
            return outcome.violations;
        }

        it("accepts a protected cluster on a stack that protects its data", async () => {
            assert.deepEqual(await stackViolations(platform("prod", GOOD_CLUSTER, true)), []);
        });

        it("rejects an unprotected or unset cluster on a stack that protects its data, naming what is protected", async () => {
            for (const props of [unprotected, unset]) {
                const resources = platform("prod", props, true);
                const [violation, ...more] = await stackViolations(resources);
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
            const [violation] = await stackViolations(platform("staging-eu", unprotected, true));
            assert.match(violation.urn ?? "", /^urn:pulumi:staging-eu::/);
            // One protected resource is enough, wherever it sits in the tree.
            const resources = platform("dev", unset, false);
            const topic = member("dev", "kubernetes:kafka.strimzi.io/v1beta2:KafkaTopic", "ticks", {}, true, resources[2]);
            const [only, ...more] = await stackViolations([...resources, topic]);
            assert.deepEqual(more, []);
            assert.match(only.message, /protects ticks \(kubernetes:kafka\.strimzi\.io\/v1beta2:KafkaTopic\),/);
        });

        it("judges every cluster of the stack", async () => {
            const resources = platform("prod", GOOD_CLUSTER, true);
            const second = member("prod", TYPES.cluster, "gke-batch", unprotected, false);
            const found = await stackViolations([...resources, second]);
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
});
