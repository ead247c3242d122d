import * as pulumi from "@pulumi/pulumi";
import * as gcp from "@pulumi/gcp";
import * as k8s from "@pulumi/kubernetes";
import { execKubeconfig } from "./kubeconfig";
import { resourceId } from "./naming";

/** The cluster's one node pool, autoscaled; its nodes run as the cluster's own node service account. */
export interface GkeNodePoolArgs {
    /** Compute Engine machine type of the nodes, such as e2-highmem-4 (config `nodeMachineType`). */
    readonly machineType: pulumi.Input<string>;
    /** Fewest nodes the autoscaler keeps, in total across the pool's zones (config `nodeMinCount`). */
    readonly minCount: pulumi.Input<number>;
    /** Most nodes the autoscaler adds, in total across the pool's zones (config `nodeMaxCount`). */
    readonly maxCount: pulumi.Input<number>;
    /** Boot disk size of each node in GB, at least 20 (config `nodeDiskSizeGb`). */
    readonly diskSizeGb: pulumi.Input<number>;
    /** Boot disk type of each node: pd-standard, pd-balanced or pd-ssd (config `nodeDiskType`). */
    readonly diskType: pulumi.Input<string>;
    /** Run the nodes as Spot VMs: much cheaper, but preemptible (config `nodeSpot`). */
    readonly spot: pulumi.Input<boolean>;
}

export interface GkeClusterArgs {
    /** Project the cluster, its node pool and node service account live in (config `gcp:project`). */
    readonly project: pulumi.Input<string>;
    /** A zone for a zonal cluster, a region for a regional one (config `gcp:zone` or `gcp:region`, as `regional` decides). */
    readonly location: pulumi.Input<string>;
    /** Id of the VPC the cluster joins (Network). */
    readonly network: pulumi.Input<string>;
    /** Id of the subnet whose primary range the nodes get their addresses from (Network). */
    readonly subnetwork: pulumi.Input<string>;
    /** Name of the subnet's secondary range for Pod addresses (VPC-native). */
    readonly podsRangeName: pulumi.Input<string>;
    /** Name of the subnet's secondary range for Service addresses. */
    readonly servicesRangeName: pulumi.Input<string>;
    /** /28 range of the private control plane endpoint (config `masterCidr`). */
    readonly masterCidr: pulumi.Input<string>;
    /**
     * CIDRs that may reach the IP endpoint (config `authorizedNetworks`); when empty the control plane has no
     * public IP endpoint and is reached only through the IAM-gated DNS endpoint.
     */
    readonly authorizedNetworks: pulumi.Input<pulumi.Input<string>[]>;
    /** GKE release channel RAPID, REGULAR or STABLE; the control plane version follows it (config `releaseChannel`). */
    readonly releaseChannel: pulumi.Input<string>;
    /** GKE deletion protection on the cluster (config `deletionProtection`). */
    readonly deletionProtection: pulumi.Input<boolean>;
    /** The node pool that replaces GKE's removed default pool. */
    readonly nodePool: GkeNodePoolArgs;
}

/** Roles a node needs to run, log, report metrics and pull images; nothing broader. */
export const NODE_SERVICE_ACCOUNT_ROLES = [
    "roles/container.defaultNodeServiceAccount",
    "roles/logging.logWriter",
    "roles/monitoring.metricWriter",
    "roles/artifactregistry.reader",
] as const;

const CLOUD_PLATFORM_SCOPE = "https://www.googleapis.com/auth/cloud-platform";

/**
 * A private, hardened GKE Standard cluster in the spirit of terraform-google-modules'
 * safer-cluster, its own node pool and node service account, and a Kubernetes provider
 * that is usable only once nodes exist.
 */
export class GkeCluster extends pulumi.ComponentResource {
    readonly cluster: gcp.container.Cluster;
    readonly nodePool: gcp.container.NodePool;
    readonly nodeServiceAccount: gcp.serviceaccount.Account;
    readonly provider: k8s.Provider;
    readonly kubeconfig: pulumi.Output<string>;

    constructor(name: string, args: GkeClusterArgs, opts?: pulumi.ComponentResourceOptions) {
        super("streaming-platform:gcp:GkeCluster", name, {}, opts);

        this.nodeServiceAccount = new gcp.serviceaccount.Account(
            `${name}-nodes`,
            {
                project: args.project,
                accountId: resourceId(`${name}-${pulumi.getStack()}-nodes`, 30),
                displayName: `GKE nodes of ${name}`,
            },
            { parent: this },
        );
        const nodeRoles = NODE_SERVICE_ACCOUNT_ROLES.map(
            (role) =>
                new gcp.projects.IAMMember(
                    `${name}-nodes-${role.split("/")[1]}`,
                    {
                        project: args.project,
                        role,
                        member: this.nodeServiceAccount.member,
                    },
                    { parent: this },
                ),
        );

        const shieldedNodeConfig = {
            serviceAccount: this.nodeServiceAccount.email,
            oauthScopes: [CLOUD_PLATFORM_SCOPE],
            shieldedInstanceConfig: { enableSecureBoot: true, enableIntegrityMonitoring: true },
            workloadMetadataConfig: { mode: "GKE_METADATA" },
            metadata: { "disable-legacy-endpoints": "true" },
        };

        this.cluster = new gcp.container.Cluster(
            name,
            {
                project: args.project,
                location: args.location,
                network: args.network,
                subnetwork: args.subnetwork,
                networkingMode: "VPC_NATIVE",
                ipAllocationPolicy: {
                    clusterSecondaryRangeName: args.podsRangeName,
                    servicesSecondaryRangeName: args.servicesRangeName,
                },
                removeDefaultNodePool: true,
                initialNodeCount: 1,
                // The short-lived default pool must not run as the default compute service account either.
                nodeConfig: shieldedNodeConfig,
                privateClusterConfig: {
                    enablePrivateNodes: true,
                    enablePrivateEndpoint: pulumi.output(args.authorizedNetworks).apply((cidrs) => cidrs.length === 0),
                    masterIpv4CidrBlock: args.masterCidr,
                },
                controlPlaneEndpointsConfig: {
                    dnsEndpointConfig: { allowExternalTraffic: true },
                    ipEndpointsConfig: { enabled: true },
                },
                masterAuthorizedNetworksConfig: {
                    gcpPublicCidrsAccessEnabled: false,
                    cidrBlocks: pulumi
                        .output(args.authorizedNetworks)
                        .apply((cidrs) => cidrs.map((cidrBlock) => ({ cidrBlock, displayName: `authorized ${cidrBlock}` }))),
                },
                masterAuth: { clientCertificateConfig: { issueClientCertificate: false } },
                enableLegacyAbac: false,
                workloadIdentityConfig: { workloadPool: pulumi.interpolate`${args.project}.svc.id.goog` },
                datapathProvider: "ADVANCED_DATAPATH",
                releaseChannel: { channel: args.releaseChannel },
                enableShieldedNodes: true,
                deletionProtection: args.deletionProtection,
                resourceLabels: { platform: "streaming-platform", stack: pulumi.getStack() },
            },
            {
                parent: this,
                // GKE reports the removed default pool's settings back; they must not force a replacement.
                ignoreChanges: ["nodeConfig", "initialNodeCount"],
            },
        );

        this.nodePool = new gcp.container.NodePool(
            `${name}-pool`,
            {
                project: args.project,
                cluster: this.cluster.name,
                location: this.cluster.location,
                initialNodeCount: 1,
                autoscaling: {
                    totalMinNodeCount: args.nodePool.minCount,
                    totalMaxNodeCount: args.nodePool.maxCount,
                    locationPolicy: "BALANCED",
                },
                management: { autoRepair: true, autoUpgrade: true },
                upgradeSettings: { maxSurge: 1, maxUnavailable: 0 },
                nodeConfig: {
                    ...shieldedNodeConfig,
                    machineType: args.nodePool.machineType,
                    diskSizeGb: args.nodePool.diskSizeGb,
                    diskType: args.nodePool.diskType,
                    spot: args.nodePool.spot,
                    labels: { "streaming-platform/pool": "data" },
                },
            },
            { parent: this, dependsOn: nodeRoles, ignoreChanges: ["initialNodeCount"] },
        );

        this.kubeconfig = pulumi.secret(
            pulumi.all([this.cluster.name, this.cluster.controlPlaneEndpointsConfig]).apply(([clusterName, endpoints]) =>
                execKubeconfig({
                    contextName: clusterName,
                    server: `https://${endpoints?.dnsEndpointConfig?.endpoint}`,
                }),
            ),
        );

        this.provider = new k8s.Provider(
            `${name}-k8s`,
            { kubeconfig: this.kubeconfig },
            {
                parent: this,
                // Nothing may be scheduled before the pool has nodes.
                dependsOn: [this.nodePool],
            },
        );

        this.registerOutputs({
            clusterName: this.cluster.name,
            nodePoolName: this.nodePool.name,
            nodeServiceAccount: this.nodeServiceAccount.email,
            kubeconfig: this.kubeconfig,
        });
    }
}
