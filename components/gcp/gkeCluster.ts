import * as pulumi from "@pulumi/pulumi";
import * as gcp from "@pulumi/gcp";
import * as k8s from "@pulumi/kubernetes";
import { execKubeconfig } from "./kubeconfig";
import { resourceId } from "./naming";

export interface GkeNodePoolArgs {
    readonly machineType: pulumi.Input<string>;
    /** Totals across all of the pool's zones. */
    readonly minCount: pulumi.Input<number>;
    readonly maxCount: pulumi.Input<number>;
    readonly diskSizeGb: pulumi.Input<number>;
    readonly diskType: pulumi.Input<string>;
    readonly spot: pulumi.Input<boolean>;
}

export interface GkeClusterArgs {
    readonly project: pulumi.Input<string>;
    /** A zone for a zonal cluster, a region for a regional one. */
    readonly location: pulumi.Input<string>;
    readonly network: pulumi.Input<string>;
    readonly subnetwork: pulumi.Input<string>;
    readonly podsRangeName: pulumi.Input<string>;
    readonly servicesRangeName: pulumi.Input<string>;
    readonly masterCidr: pulumi.Input<string>;
    /** CIDRs that may reach the IP endpoint; when empty the control plane has no public IP endpoint. */
    readonly authorizedNetworks: pulumi.Input<pulumi.Input<string>[]>;
    readonly releaseChannel: pulumi.Input<string>;
    readonly deletionProtection: pulumi.Input<boolean>;
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
