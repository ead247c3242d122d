import { strict as assert } from "assert";
import { NODE_SERVICE_ACCOUNT_ROLES } from "../components/gcp";
import { byUrn, ofType, runStack, single, StackRun, TEST_PROJECT, waitsFor } from "../offline/harness";
import { parse } from "yaml";
import { TYPES } from "../offline/resourceTypes";

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
                assert.deepEqual(cluster.masterAuthorizedNetworksConfig.cidrBlocks ?? [], []);
                assert.equal(cluster.masterAuthorizedNetworksConfig.gcpPublicCidrsAccessEnabled, false);
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
                const account = single(run(), TYPES.serviceAccount);
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
        assert.equal(data.nodeConfig.spot, false, "what holds state never runs on Spot");
        assert.equal(data.nodeConfig.machineType, "e2-standard-4");
        assert.deepEqual([data.autoscaling.totalMinNodeCount, data.autoscaling.totalMaxNodeCount], [1, 3]);
        const spot = pool(runs.dev, "gke-spot");
        assert.equal(spot.nodeConfig.spot, true);
        assert.equal(spot.nodeConfig.machineType, "e2-standard-2");
        assert.equal(spot.autoscaling.totalMinNodeCount, 0, "stateless compute may scale to nothing");
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
        assert.deepEqual([spot.autoscaling.totalMinNodeCount, spot.autoscaling.totalMaxNodeCount], [0, 3]);
    });

    it("opens the IP endpoint only to configured authorized networks", async () => {
        const run = await runStack("dev", { authorizedNetworks: ["203.0.113.0/24"] });
        const cluster = single(run, TYPES.cluster).inputs;
        assert.equal(cluster.privateClusterConfig.enablePrivateEndpoint, false);
        assert.deepEqual(
            cluster.masterAuthorizedNetworksConfig.cidrBlocks.map((b: { cidrBlock: string }) => b.cidrBlock),
            ["203.0.113.0/24"],
        );
    });

    it("gives each node pool its configured disk and spot settings", async () => {
        const run = await runStack("dev", { nodeDiskSizeGb: 80, nodeDiskType: "pd-ssd", nodeMachineType: "n2d-highmem-4" });
        const nodeConfig = pool(run, "gke-pool").nodeConfig;
        assert.deepEqual(
            [nodeConfig.spot, nodeConfig.diskSizeGb, nodeConfig.diskType, nodeConfig.machineType],
            [false, 80, "pd-ssd", "n2d-highmem-4"],
        );
        for (const nodePool of ofType(run, TYPES.nodePool)) {
            assert.ok(byUrn(run, nodePool.parent!)?.type.endsWith(":GkeCluster"));
        }
    });
});
