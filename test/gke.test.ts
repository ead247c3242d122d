import { strict as assert } from "assert";
import { GKE_SYSTEM_IMAGE_PATTERNS, NODE_SERVICE_ACCOUNT_ROLES, SECRETS_KEY_ROLE, SECRETS_KEY_ROTATION } from "../components/gcp";
import { byUrn, ConfigOverrides, ofType, runStack, single, StackRun, TEST_PROJECT, waitsFor } from "../offline/harness";
import { parse } from "yaml";
import { TYPES } from "../offline/resourceTypes";

const KMS = {
    keyRing: "gcp:kms/keyRing:KeyRing",
    key: "gcp:kms/cryptoKey:CryptoKey",
    keyGrant: "gcp:kms/cryptoKeyIAMMember:CryptoKeyIAMMember",
};
const BINAUTHZ_POLICY = "gcp:binaryauthorization/policy:Policy";
const isMap = (value: unknown): value is Record<string, unknown> => typeof value === "object" && value !== null && !Array.isArray(value);

/**
 * Every image a stack's workloads pull: the containers of the Kubernetes objects it creates, and every Bitnami
 * image map ({ registry, repository }) in its Helm values, where the charts take their images from.
 */
function pulledImages(run: StackRun): string[] {
    const images: string[] = [];
    const walk = (value: unknown): void => {
        if (Array.isArray(value)) {
            value.forEach(walk);
        } else if (isMap(value)) {
            if (typeof value.image === "string") {
                images.push(value.image);
            }
            if (typeof value.registry === "string" && typeof value.repository === "string") {
                images.push(`${value.registry}/${value.repository}:${value.tag ?? value.digest ?? "latest"}`);
            }
            Object.values(value).forEach(walk);
        }
    };
    for (const resource of run.resources.filter((r) => r.type.startsWith("kubernetes:") && !r.type.startsWith("kubernetes:core/v1:"))) {
        walk(resource.type === TYPES.helmRelease ? resource.inputs.values : resource.inputs.spec);
    }
    return [...new Set(images)];
}

/** Binary Authorization's name patterns: `*` matches within the last path segment, `**` anything after. */
function admits(pattern: string, image: string): boolean {
    if (pattern.endsWith("/**")) {
        return image.startsWith(pattern.slice(0, -2));
    }
    if (pattern.endsWith("/*")) {
        const prefix = pattern.slice(0, -1);
        return image.startsWith(prefix) && !image.slice(prefix.length).includes("/");
    }
    return image === pattern;
}

async function refused(stack: string, overrides: ConfigOverrides, key: string): Promise<string> {
    const run = await runStack(stack, overrides);
    assert.equal(run.error?.name, "ConfigError", run.error?.stack ?? `accepted ${JSON.stringify(overrides)}`);
    const problems = run.error!.message.split("\n").filter((line) => line.includes(`streaming-platform:${key} = `));
    assert.equal(problems.length, 1, run.error!.message);
    assert.deepEqual(ofType(run, TYPES.cluster), [], "nothing is created");
    return problems[0];
}

/** The inputs of one node pool of a stack, by its resource name. */
function pool(run: StackRun, name: string): any {
    const found = ofType(run, TYPES.nodePool).find((p) => p.name === name);
    assert.ok(found, `node pool ${name}`);
    return found.inputs;
}

describe("GKE stacks", () => {
    const runs: Record<string, StackRun> = {};
    before(async () => {
        for (const stack of ["dev", "prod"]) {
            runs[stack] = await runStack(stack);
            assert.equal(runs[stack].error, undefined, runs[stack].error?.message);
        }
    });

    for (const stack of ["dev", "prod"]) {
        describe(stack, () => {
            const run = () => runs[stack];

            it("enables the required APIs and never disables them on destroy", () => {
                const services = ofType(run(), TYPES.projectService);
                const names = services.map((s) => s.inputs.service);
                for (const api of ["compute.googleapis.com", "container.googleapis.com", "iam.googleapis.com"]) {
                    assert.ok(names.includes(api), `${api} is not enabled`);
                }
                for (const service of services) {
                    assert.equal(service.inputs.disableOnDestroy, false, service.inputs.service);
                    assert.equal(service.inputs.project, TEST_PROJECT);
                }
            });

            it("builds a custom-mode VPC whose subnet carries the pod and service ranges", () => {
                assert.equal(single(run(), TYPES.network).inputs.autoCreateSubnetworks, false);
                const subnet = single(run(), TYPES.subnetwork);
                assert.equal(subnet.inputs.ipCidrRange, "10.10.0.0/20");
                assert.equal(subnet.inputs.privateIpGoogleAccess, true);
                assert.deepEqual(subnet.inputs.secondaryIpRanges, [
                    { rangeName: "pods", ipCidrRange: "10.20.0.0/16" },
                    { rangeName: "services", ipCidrRange: "10.30.0.0/20" },
                ]);
            });

            it("gives private nodes egress through Cloud NAT on a Cloud Router in the cluster's region", () => {
                const nat = single(run(), TYPES.routerNat);
                const router = single(run(), TYPES.router);
                const subnet = single(run(), TYPES.subnetwork);
                // Under mocks a physical name is the logical one.
                assert.equal(nat.inputs.router, router.name);
                assert.equal(nat.inputs.region, "us-central1");
                assert.equal(router.inputs.region, "us-central1");
                assert.deepEqual(nat.inputs.subnetworks, [{ name: `${subnet.name}-id`, sourceIpRangesToNats: ["ALL_IP_RANGES"] }]);
                assert.ok(waitsFor(run(), nat, subnet), "NAT must wait for the subnet");
            });

            it("makes a VPC-native cluster on the subnet's secondary ranges and removes the default pool", () => {
                const cluster = single(run(), TYPES.cluster).inputs;
                const subnet = single(run(), TYPES.subnetwork);
                assert.equal(cluster.networkingMode, "VPC_NATIVE");
                assert.equal(cluster.subnetwork, `${subnet.name}-id`);
                const rangeNames = subnet.inputs.secondaryIpRanges.map((r: { rangeName: string }) => r.rangeName);
                assert.deepEqual(
                    [cluster.ipAllocationPolicy.clusterSecondaryRangeName, cluster.ipAllocationPolicy.servicesSecondaryRangeName],
                    rangeNames,
                );
                assert.equal(cluster.removeDefaultNodePool, true);
            });

            it("keeps nodes private and the control plane behind the IAM-gated DNS endpoint", () => {
                const cluster = single(run(), TYPES.cluster).inputs;
                assert.equal(cluster.privateClusterConfig.enablePrivateNodes, true);
                assert.equal(cluster.privateClusterConfig.masterIpv4CidrBlock, "172.16.0.0/28");
                // No authorized networks configured: no public IP endpoint at all.
                assert.equal(cluster.privateClusterConfig.enablePrivateEndpoint, true);
                assert.equal(cluster.controlPlaneEndpointsConfig.dnsEndpointConfig.allowExternalTraffic, true);
                // Not sent at all: the provider reads a disabled block back as none, a diff in every preview.
                assert.equal(cluster.masterAuthorizedNetworksConfig, undefined);
                assert.equal(cluster.masterAuth.clientCertificateConfig.issueClientCertificate, false);
                assert.equal(cluster.enableLegacyAbac, false);
            });

            it("enables Workload Identity, Dataplane V2 and shielded nodes and follows a release channel", () => {
                const cluster = single(run(), TYPES.cluster).inputs;
                assert.equal(cluster.workloadIdentityConfig.workloadPool, `${TEST_PROJECT}.svc.id.goog`);
                assert.equal(cluster.datapathProvider, "ADVANCED_DATAPATH");
                assert.equal(cluster.enableShieldedNodes, true);
                assert.equal(cluster.releaseChannel.channel, stack === "prod" ? "STABLE" : "REGULAR");
                assert.equal(cluster.minMasterVersion, undefined, "the master version must follow the channel");
                for (const pool of ofType(run(), TYPES.nodePool)) {
                    assert.equal(pool.inputs.version, undefined, `${pool.name}: the node version must follow the channel`);
                }
            });

            it("runs nodes as a dedicated service account holding only least-privilege roles", () => {
                const account = ofType(run(), TYPES.serviceAccount).find((a) => a.name === "gke-nodes")!; // not the backup uploader
                const email = `${account.inputs.accountId}@${TEST_PROJECT}.iam.gserviceaccount.com`;
                const bindings = ofType(run(), TYPES.projectIamMember);
                assert.deepEqual(bindings.map((b) => b.inputs.role).sort(), [...NODE_SERVICE_ACCOUNT_ROLES].sort());
                for (const binding of bindings) {
                    assert.equal(binding.inputs.member, `serviceAccount:${email}`);
                    assert.doesNotMatch(binding.inputs.role, /editor|owner/);
                }
                const defaultPool = single(run(), TYPES.cluster).inputs.nodeConfig;
                for (const nodeConfig of [...ofType(run(), TYPES.nodePool).map((pool) => pool.inputs.nodeConfig), defaultPool]) {
                    assert.equal(nodeConfig.serviceAccount, email);
                    assert.doesNotMatch(nodeConfig.serviceAccount, /-compute@developer\.gserviceaccount\.com$/);
                }
                assert.ok(account.inputs.accountId.length <= 30);
                assert.match(account.inputs.accountId, new RegExp(stack), "each stack needs its own account id");
            });

            it("hardens every node pool: secure boot, integrity monitoring, GKE metadata server, auto-repair and auto-upgrade", () => {
                for (const { inputs: pool } of ofType(run(), TYPES.nodePool)) {
                    assert.deepEqual(pool.nodeConfig.shieldedInstanceConfig, { enableSecureBoot: true, enableIntegrityMonitoring: true });
                    assert.equal(pool.nodeConfig.workloadMetadataConfig.mode, "GKE_METADATA");
                    assert.equal(pool.nodeConfig.metadata["disable-legacy-endpoints"], "true");
                    assert.deepEqual(pool.management, { autoRepair: true, autoUpgrade: true });
                    assert.equal(pool.upgradeSettings.maxUnavailable, 0, "upgrades must surge, not take capacity away");
                }
            });

            it("waits for the APIs, the network and the node roles in the right order", () => {
                const cluster = single(run(), TYPES.cluster);
                for (const service of ofType(run(), TYPES.projectService)) {
                    assert.ok(waitsFor(run(), cluster, service), `cluster does not wait for ${service.inputs.service}`);
                    assert.ok(waitsFor(run(), single(run(), TYPES.network), service), `network does not wait for ${service.inputs.service}`);
                }
                assert.ok(waitsFor(run(), cluster, single(run(), TYPES.subnetwork)));
                for (const pool of ofType(run(), TYPES.nodePool)) {
                    assert.ok(waitsFor(run(), pool, cluster));
                    assert.ok(!waitsFor(run(), cluster, pool), "the cluster cannot wait for its own node pool");
                    for (const binding of ofType(run(), TYPES.projectIamMember)) {
                        assert.ok(waitsFor(run(), pool, binding), `${pool.name} does not wait for ${binding.inputs.role}`);
                    }
                }
            });

            it("builds the Kubernetes provider from an exec kubeconfig, after the node pool, as a secret", () => {
                const provider = single(run(), TYPES.kubernetesProvider);
                for (const pool of ofType(run(), TYPES.nodePool)) {
                    assert.ok(waitsFor(run(), provider, pool), `the provider must wait for ${pool.name}`);
                }
                assert.ok(provider.secretInputs.has("kubeconfig"));
                const kubeconfig = parse(provider.inputs.kubeconfig);
                assert.equal(kubeconfig.users[0].user.exec.command, "gke-gcloud-auth-plugin");
                assert.equal(kubeconfig.users[0].user.token, undefined, "no static credential may be stored");
                assert.equal(kubeconfig.clusters[0].cluster.server, "https://gke-gke.example.gke.goog");
                assert.ok(run().secretOutputs.has("kubeconfig"), "the kubeconfig stack output must be secret");
            });

            it("creates every resource inside a component; index.ts creates none itself", () => {
                const components = new Map(
                    run()
                        .resources.filter((r) => !r.custom)
                        .map((r) => [r.urn, r]),
                );
                for (const component of components.values()) {
                    assert.match(component.type, /^streaming-platform:[a-z0-9]+:[A-Z][A-Za-z0-9]+$/);
                }
                for (const resource of run().resources.filter((r) => r.custom)) {
                    assert.ok(
                        resource.parent && components.has(resource.parent),
                        `${resource.type} ${resource.name} is not a child of a component (parent ${resource.parent})`,
                    );
                }
            });

            it("exports how to reach the cluster", () => {
                const cluster = single(run(), TYPES.cluster).inputs;
                assert.equal(run().outputs.clusterLocation, cluster.location);
                assert.equal(
                    run().outputs.getCredentialsCommand,
                    `gcloud container clusters get-credentials gke --location ${cluster.location} --project ${TEST_PROJECT} --dns-endpoint`,
                );
            });
        });
    }

    it("dev is a cheap zonal cluster without deletion protection", () => {
        const cluster = single(runs.dev, TYPES.cluster).inputs;
        assert.equal(cluster.location, "us-central1-a");
        assert.equal(cluster.deletionProtection, false);
        const data = pool(runs.dev, "gke-pool");
        assert.equal(data.nodeConfig.spot, true, "dev's data is disposable: its one pool is Spot (nodeSpot)");
        assert.equal(data.nodeConfig.machineType, "e2-highmem-4");
        assert.deepEqual([data.autoscaling.totalMinNodeCount, data.autoscaling.totalMaxNodeCount], [1, 3]);
        assert.equal(ofType(runs.dev, TYPES.nodePool).length, 1, "no separate Spot pool");
    });

    it("prod is a regional, protected cluster on on-demand nodes", () => {
        const cluster = single(runs.prod, TYPES.cluster).inputs;
        assert.equal(cluster.location, "us-central1");
        assert.equal(cluster.deletionProtection, true);
        const data = pool(runs.prod, "gke-pool");
        assert.equal(data.nodeConfig.spot, false);
        assert.equal(data.nodeConfig.machineType, "e2-standard-4");
        assert.equal(data.nodeConfig.diskSizeGb, 100);
        assert.deepEqual([data.autoscaling.totalMinNodeCount, data.autoscaling.totalMaxNodeCount], [3, 6], "one node per zone at least");
        const spot = pool(runs.prod, "gke-spot");
        assert.equal(spot.nodeConfig.spot, true);
        assert.deepEqual([spot.autoscaling.totalMinNodeCount, spot.autoscaling.totalMaxNodeCount], [1, 3]);
    });

    it("opens the IP endpoint only to configured authorized networks", async () => {
        const run = await runStack("dev", { authorizedNetworks: ["203.0.113.0/24"] });
        const cluster = single(run, TYPES.cluster).inputs;
        assert.equal(cluster.privateClusterConfig.enablePrivateEndpoint, false);
        assert.deepEqual(
            cluster.masterAuthorizedNetworksConfig.cidrBlocks.map((b: { cidrBlock: string }) => b.cidrBlock),
            ["203.0.113.0/24"],
        );
        assert.equal(cluster.masterAuthorizedNetworksConfig.gcpPublicCidrsAccessEnabled, false);
    });

    it("gives each node pool its configured disk and spot settings", async () => {
        const run = await runStack("dev", { nodeDiskSizeGb: 80, nodeDiskType: "pd-ssd", nodeMachineType: "n2d-highmem-4" });
        const nodeConfig = pool(run, "gke-pool").nodeConfig;
        assert.deepEqual(
            [nodeConfig.spot, nodeConfig.diskSizeGb, nodeConfig.diskType, nodeConfig.machineType],
            [true, 80, "pd-ssd", "n2d-highmem-4"],
        );
        for (const nodePool of ofType(run, TYPES.nodePool)) {
            assert.ok(byUrn(run, nodePool.parent!)?.type.endsWith(":GkeCluster"));
        }
    });

    describe("cluster controls (issue 13, 1)", () => {
        for (const stack of ["dev", "prod"]) {
            it(`${stack}: closes the kubelet read-only port in the cluster's defaults, the default pool and every pool`, () => {
                const cluster = single(runs[stack], TYPES.cluster).inputs;
                assert.equal(cluster.nodePoolDefaults.nodeConfigDefaults.insecureKubeletReadonlyPortEnabled, "FALSE");
                const pools = ofType(runs[stack], TYPES.nodePool);
                assert.deepEqual(
                    pools.map((p) => p.name),
                    stack === "prod" ? ["gke-pool", "gke-spot"] : ["gke-pool"],
                );
                for (const nodeConfig of [cluster.nodeConfig, ...pools.map((p) => p.inputs.nodeConfig)]) {
                    assert.deepEqual(nodeConfig.kubeletConfig, { insecureKubeletReadonlyPortEnabled: "FALSE" });
                }
            });

            it(`${stack}: turns the control plane's IP endpoint off when no authorized network is configured`, () => {
                const cluster = single(runs[stack], TYPES.cluster).inputs;
                assert.equal(cluster.controlPlaneEndpointsConfig.ipEndpointsConfig.enabled, false);
                assert.equal(cluster.controlPlaneEndpointsConfig.dnsEndpointConfig.allowExternalTraffic, true, "the DNS endpoint stays the way in");
            });

            it(`${stack}: logs the subnet's flows, half of them sampled over 5 minutes by default`, () => {
                assert.deepEqual(single(runs[stack], TYPES.subnetwork).inputs.logConfig, {
                    aggregationInterval: "INTERVAL_5_MIN",
                    flowSampling: 0.5,
                    metadata: "INCLUDE_ALL_METADATA",
                });
            });

            it(`${stack}: sets logging and monitoring components explicitly, with Managed Service for Prometheus`, () => {
                const cluster = single(runs[stack], TYPES.cluster).inputs;
                assert.deepEqual(cluster.loggingConfig, { enableComponents: ["SYSTEM_COMPONENTS", "WORKLOADS"] });
                assert.deepEqual(cluster.monitoringConfig, { enableComponents: ["SYSTEM_COMPONENTS"], managedPrometheus: { enabled: true } });
            });

            it(`${stack}: lets GKE upgrade only on weekends, 03:00-11:00 UTC, with no exclusion by default`, () => {
                assert.deepEqual(single(runs[stack], TYPES.cluster).inputs.maintenancePolicy, {
                    recurringWindow: { startTime: "2025-01-01T03:00:00Z", endTime: "2025-01-01T11:00:00Z", recurrence: "FREQ=WEEKLY;BYDAY=SA,SU" },
                    maintenanceExclusions: [],
                });
            });
        }

        it("prod encrypts Secrets in etcd with its own Cloud KMS key, which only the GKE service agent may use", () => {
            const run = runs.prod;
            const cluster = single(run, TYPES.cluster);
            const ring = single(run, KMS.keyRing);
            const key = single(run, KMS.key);
            const [grant] = ofType(run, KMS.keyGrant).filter((g) => String(g.inputs.member).includes("container-engine-robot"));
            assert.deepEqual(cluster.inputs.databaseEncryption, { state: "ENCRYPTED", keyName: `${key.name}-id` });
            assert.deepEqual([ring.inputs.project, ring.inputs.location], [TEST_PROJECT, "us-central1"], "the key is in the cluster's region");
            assert.match(ring.inputs.name, /prod/, "each stack has its own ring: dev and prod may share a project");
            assert.equal(key.inputs.keyRing, `${ring.name}-id`);
            assert.equal(key.inputs.purpose, "ENCRYPT_DECRYPT");
            assert.equal(key.inputs.rotationPeriod, SECRETS_KEY_ROTATION);
            for (const kept of [ring, key]) {
                assert.equal(kept.retainOnDelete, true, `${kept.name}: destroying key versions would make every Secret unreadable`);
            }
            // On the key only, not the project, and to GKE's service agent of the project only.
            assert.deepEqual([grant.inputs.cryptoKeyId, grant.inputs.role], [`${key.name}-id`, SECRETS_KEY_ROLE]);
            assert.match(grant.inputs.member, /^serviceAccount:service-[^@]+@container-engine-robot\.iam\.gserviceaccount\.com$/);
            assert.ok(!ofType(run, TYPES.projectIamMember).some((b) => /cloudkms/.test(b.inputs.role)), "no project-wide KMS role");
            assert.ok(waitsFor(run, cluster, grant), "the cluster must not use the key before the agent may");
            for (const service of ["cloudkms.googleapis.com", "binaryauthorization.googleapis.com"]) {
                const api = ofType(run, TYPES.projectService).find((s) => s.inputs.service === service);
                assert.ok(api && waitsFor(run, ring, api) && waitsFor(run, cluster, api), service);
            }
        });

        it("dev, which protects nothing, keeps Google's encryption and creates no key", () => {
            assert.equal(single(runs.dev, TYPES.cluster).inputs.databaseEncryption, undefined);
            assert.deepEqual(
                Object.values(KMS).flatMap((type) => ofType(runs.dev, type)),
                [],
            );
        });

        const policyOf = (run: StackRun) => single(run, BINAUTHZ_POLICY).inputs;
        const patternsOf = (run: StackRun) => policyOf(run).admissionWhitelistPatterns.map((p: { namePattern: string }) => p.namePattern);
        const expectAdmitsExactlyItsImages = (run: StackRun, registries: string[]) => {
            assert.deepEqual(patternsOf(run).sort(), [...registries, ...GKE_SYSTEM_IMAGE_PATTERNS].sort());
            const images = pulledImages(run);
            assert.ok(images.length >= 5, images.join(", "));
            for (const image of images) {
                assert.ok(
                    patternsOf(run).some((pattern: string) => admits(pattern, image)),
                    `${image} is pulled but not admitted`,
                );
            }
            // Each registry pattern admits something the stack pulls: nothing more is admitted than is used.
            for (const pattern of registries) {
                assert.ok(
                    images.some((image) => admits(pattern, image)),
                    `${pattern} admits nothing the stack pulls`,
                );
            }
        };

        it("prod enforces a Binary Authorization policy that denies every image but those of its registries", () => {
            const run = runs.prod;
            const cluster = single(run, TYPES.cluster);
            assert.deepEqual(cluster.inputs.binaryAuthorization, { evaluationMode: "PROJECT_SINGLETON_POLICY_ENFORCE" });
            const policy = single(run, BINAUTHZ_POLICY);
            assert.equal(policy.inputs.project, TEST_PROJECT);
            assert.deepEqual(policy.inputs.defaultAdmissionRule, { evaluationMode: "ALWAYS_DENY", enforcementMode: "ENFORCED_BLOCK_AND_AUDIT_LOG" });
            assert.equal(policy.inputs.globalPolicyEvaluationMode, "ENABLE", "GKE's own system images stay admitted");
            // GKE's system images sit at nested paths, which a trailing `*` does not reach.
            for (const image of [
                "gke.gcr.io/prometheus-engine/operator:v0.17.2-gke.3",
                "gcr.io/gke-release/asm/mdp:1.0",
                "gke.gcr.io/gke-metrics-agent:1.15",
            ]) {
                assert.ok(
                    patternsOf(run).some((pattern: string) => admits(pattern, image)),
                    `${image} is a GKE system image the policy must admit`,
                );
            }
            assert.deepEqual(policy.inputs.clusterAdmissionRules ?? [], []);
            expectAdmitsExactlyItsImages(run, [
                `us-central1-docker.pkg.dev/${TEST_PROJECT}/bitnami-prod/bitnamilegacy/*`,
                `us-central1-docker.pkg.dev/${TEST_PROJECT}/pipeline-prod/*`,
            ]);
            assert.ok(waitsFor(run, cluster, policy), "the policy admits the images before the cluster enforces it");
        });

        it("admits the Docker Hub mirror instead of Docker Hub, and no pipeline repository without built images", async () => {
            const run = await runStack("prod", { dockerHubMirror: true, buildImages: false });
            assert.equal(run.error, undefined, run.error?.stack);
            assert.equal(run.outputs.imageRegistry, `us-central1-docker.pkg.dev/${TEST_PROJECT}/dockerhub-prod`);
            expectAdmitsExactlyItsImages(run, [`us-central1-docker.pkg.dev/${TEST_PROJECT}/dockerhub-prod/bitnamilegacy/*`]);
        });

        it("dev leaves Binary Authorization off and the project's policy alone unless told to enforce", async () => {
            assert.equal(single(runs.dev, TYPES.cluster).inputs.binaryAuthorization, undefined);
            assert.deepEqual(ofType(runs.dev, BINAUTHZ_POLICY), []);
            const enforcing = await runStack("dev", { binaryAuthorization: "enforce" });
            assert.equal(enforcing.error, undefined, enforcing.error?.stack);
            assert.equal(single(enforcing, TYPES.cluster).inputs.binaryAuthorization.evaluationMode, "PROJECT_SINGLETON_POLICY_ENFORCE");
            expectAdmitsExactlyItsImages(enforcing, [
                `us-central1-docker.pkg.dev/${TEST_PROJECT}/bitnami-dev/bitnamilegacy/*`,
                `us-central1-docker.pkg.dev/${TEST_PROJECT}/pipeline-dev/*`,
            ]);
            // Protected, dev follows prod: key and policy.
            const protectedDev = await runStack("dev", { deletionProtection: true, nodeSpot: false });
            assert.equal(single(protectedDev, TYPES.cluster).inputs.databaseEncryption.state, "ENCRYPTED");
            assert.equal(single(protectedDev, TYPES.cluster).inputs.binaryAuthorization.evaluationMode, "PROJECT_SINGLETON_POLICY_ENFORCE");
        });

        it("takes the maintenance window, its exclusions and the flow log sampling from the config", async () => {
            const run = await runStack("dev", {
                maintenanceWindow: "FR,SA 22:00-04:00",
                maintenanceExclusions: [
                    "black-friday 2025-11-27T00:00:00Z/2025-12-01T00:00:00Z NO_UPGRADES",
                    "year-end 2025-12-01T00:00:00Z/2026-01-15T00:00:00Z NO_MINOR_UPGRADES",
                ],
                flowLogSampling: 0.25,
            });
            assert.equal(run.error, undefined, run.error?.stack);
            assert.deepEqual(single(run, TYPES.cluster).inputs.maintenancePolicy, {
                recurringWindow: { startTime: "2025-01-01T22:00:00Z", endTime: "2025-01-02T04:00:00Z", recurrence: "FREQ=WEEKLY;BYDAY=FR,SA" },
                maintenanceExclusions: [
                    {
                        exclusionName: "black-friday",
                        startTime: "2025-11-27T00:00:00Z",
                        endTime: "2025-12-01T00:00:00Z",
                        exclusionOptions: { scope: "NO_UPGRADES" },
                    },
                    {
                        exclusionName: "year-end",
                        startTime: "2025-12-01T00:00:00Z",
                        endTime: "2026-01-15T00:00:00Z",
                        exclusionOptions: { scope: "NO_MINOR_UPGRADES" },
                    },
                ],
            });
            assert.equal(single(run, TYPES.subnetwork).inputs.logConfig.flowSampling, 0.25);
        });

        it("turns the IP endpoint on for configured authorized networks", async () => {
            const run = await runStack("dev", { authorizedNetworks: ["203.0.113.0/24"] });
            assert.equal(single(run, TYPES.cluster).inputs.controlPlaneEndpointsConfig.ipEndpointsConfig.enabled, true);
        });

        const invalid: [string, ConfigOverrides, string, RegExp][] = [
            ["a window without days", { maintenanceWindow: "03:00-11:00" }, "maintenanceWindow", /"SA,SU 03:00-11:00"/],
            ["a window on an unknown day", { maintenanceWindow: "SA,XX 03:00-11:00" }, "maintenanceWindow", /days MO, TU/],
            ["a window shorter than 4 hours", { maintenanceWindow: "SA,SU 03:00-06:00" }, "maintenanceWindow", /at least 4 hours/],
            ["a window under 48 hours in 32 days", { maintenanceWindow: "SU 00:00-08:00" }, "maintenanceWindow", /48 hours/],
            ["a window at 25:00", { maintenanceWindow: "SA 25:00-11:00" }, "maintenanceWindow", /UTC time range/],
            [
                "an exclusion with an unknown scope",
                { maintenanceExclusions: ["x 2025-11-27T00:00:00Z/2025-12-01T00:00:00Z NONE"] },
                "maintenanceExclusions",
                /NO_UPGRADES/,
            ],
            [
                "an exclusion ending before it starts",
                { maintenanceExclusions: ["x 2025-12-01T00:00:00Z/2025-11-27T00:00:00Z NO_UPGRADES"] },
                "maintenanceExclusions",
                /start before end/,
            ],
            [
                "a NO_UPGRADES exclusion over 30 days",
                { maintenanceExclusions: ["x 2025-11-01T00:00:00Z/2025-12-15T00:00:00Z NO_UPGRADES"] },
                "maintenanceExclusions",
                /30 days/,
            ],
            [
                "an exclusion in local time",
                { maintenanceExclusions: ["x 2025-11-27T00:00:00+01:00/2025-12-01T00:00:00Z NO_UPGRADES"] },
                "maintenanceExclusions",
                /UTC times/,
            ],
            [
                "two exclusions of one name",
                {
                    maintenanceExclusions: [
                        "x 2025-11-01T00:00:00Z/2025-11-02T00:00:00Z NO_UPGRADES",
                        "x 2025-12-01T00:00:00Z/2025-12-02T00:00:00Z NO_UPGRADES",
                    ],
                },
                "maintenanceExclusions",
                /distinct names/,
            ],
            ["no flow sampled", { flowLogSampling: 0 }, "flowLogSampling", /above 0 and at most 1/],
            ["more than every flow", { flowLogSampling: 1.5 }, "flowLogSampling", /above 0 and at most 1/],
            ["a sampling rate that is no number", { flowLogSampling: "half" }, "flowLogSampling", /above 0 and at most 1/],
            ["an unknown Binary Authorization mode", { binaryAuthorization: "audit" }, "binaryAuthorization", /one of auto, enforce, off/],
        ];
        for (const [what, overrides, key, allowed] of invalid) {
            it(`refuses ${what}, naming ${key}`, async () => {
                assert.match(await refused("dev", overrides, key), allowed);
            });
        }

        it("refuses Binary Authorization off on a stack that protects its data, naming binaryAuthorization", async () => {
            assert.match(await refused("prod", { binaryAuthorization: "off" }, "binaryAuthorization"), /deletionProtection/);
            const unprotected = await runStack("prod", { binaryAuthorization: "off", deletionProtection: false });
            assert.equal(unprotected.error, undefined, unprotected.error?.stack);
            assert.deepEqual(ofType(unprotected, BINAUTHZ_POLICY), []);
        });
    });
});
