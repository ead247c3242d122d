import * as pulumi from "@pulumi/pulumi";
import * as gcp from "@pulumi/gcp";
import * as k8s from "@pulumi/kubernetes";
import { execKubeconfig } from "./kubeconfig";
import { resourceId } from "./naming";
import { ON_DEMAND_POOL, POOL_LABEL, SPOT_POOL, SPOT_TAINT } from "../k8s/placement";

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
    /** Run the nodes as Spot VMs: 60-91 % cheaper, but preemptible, and this pool holds the state (config `nodeSpot`, refused with deletionProtection). */
    readonly spot: pulumi.Input<boolean>;
}

/** The autoscaled, tainted Spot pool for stateless compute (config `spotPool`); it may scale to zero. */
export interface GkeSpotPoolArgs {
    /** Compute Engine machine type of the Spot nodes (config `spotMachineType`). */
    readonly machineType: pulumi.Input<string>;
    /** Fewest Spot nodes, in total across zones; 0 lets the pool scale to zero (config `spotMinCount`). */
    readonly minCount: pulumi.Input<number>;
    /** Most Spot nodes, in total across zones (config `spotMaxCount`). */
    readonly maxCount: pulumi.Input<number>;
    /** Boot disk size of each Spot node in GB (config `spotDiskSizeGb`). */
    readonly diskSizeGb: pulumi.Input<number>;
    /** Boot disk type of each Spot node (config `spotDiskType`). */
    readonly diskType: pulumi.Input<string>;
}

/** A weekly recurring maintenance window in UTC (config `maintenanceWindow`). */
export interface GkeMaintenanceWindow {
    /** RFC 5545 BYDAY days, such as SA and SU. */
    readonly days: readonly string[];
    /** HH:MM, UTC. */
    readonly start: string;
    /** HH:MM, UTC; at or before start, the window ends the next day. */
    readonly end: string;
}

/** A period without automatic upgrades (config `maintenanceExclusions`). */
export interface GkeMaintenanceExclusion {
    readonly name: string;
    /** RFC 3339 UTC. */
    readonly start: string;
    readonly end: string;
    /** NO_UPGRADES, NO_MINOR_UPGRADES or NO_MINOR_OR_NODE_UPGRADES. */
    readonly scope: string;
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
    /** The node pool that replaces GKE's removed default pool: the on-demand pool, where state and quorum run. */
    readonly nodePool: GkeNodePoolArgs;
    /** The Spot pool for stateless compute, if any. */
    readonly spotPool?: GkeSpotPoolArgs;
    /** Every pool scaled to zero with autoscaling off; volumes, Secrets and releases stay (config `paused`). */
    readonly paused?: boolean;
    /**
     * Email of an existing node service account (config `projectSetup: bootstrap`: bootstrap/ made it, with
     * NODE_SERVICE_ACCOUNT_ROLES). When unset the component creates the account and its role bindings itself.
     */
    readonly nodeServiceAccountEmail?: pulumi.Input<string>;
    /** When GKE may upgrade and repair automatically (config `maintenanceWindow`). */
    readonly maintenanceWindow: GkeMaintenanceWindow;
    /** Periods without automatic upgrades (config `maintenanceExclusions`). */
    readonly maintenanceExclusions?: readonly GkeMaintenanceExclusion[];
    /** Cloud KMS key that encrypts Secrets in etcd (SecretsKey); unset, Google's own keys do. */
    readonly secretsEncryptionKey?: pulumi.Input<string>;
    /** Enforce the project's Binary Authorization policy (config `binaryAuthorization`). */
    readonly enforceBinaryAuthorization?: boolean;
    /** Turn on the Backup for GKE agent add-on, which a BackupPlan (GkeBackup) needs (stacks with deletionProtection). */
    readonly backupAgent?: boolean;
}

/** Roles a node needs to run, log, report metrics and pull images; nothing broader. */
export const NODE_SERVICE_ACCOUNT_ROLES = [
    "roles/container.defaultNodeServiceAccount",
    "roles/logging.logWriter",
    "roles/monitoring.metricWriter",
    "roles/artifactregistry.reader",
] as const;

/** Id of the node service account of a cluster component in a stack; bootstrap/ creates it under the same id. */
export function nodeServiceAccountId(clusterName: string, stack: string): string {
    return resourceId(`${clusterName}-${stack}-nodes`, 30);
}

const CLOUD_PLATFORM_SCOPE = "https://www.googleapis.com/auth/cloud-platform";

/**
 * The first day of a recurring window: a fixed date in the past, so the window never shows a diff; the
 * weekly RRULE picks the days.
 */
const WINDOW_EPOCH = "2025-01-01";

/** The maintenance policy of a window and its exclusions, as GKE takes it: RFC 3339 times and an RRULE. */
export function maintenancePolicy(window: GkeMaintenanceWindow, exclusions: readonly GkeMaintenanceExclusion[] = []) {
    const endsNextDay = window.end <= window.start;
    const endDate = endsNextDay ? "2025-01-02" : WINDOW_EPOCH;
    return {
        recurringWindow: {
            startTime: `${WINDOW_EPOCH}T${window.start}:00Z`,
            endTime: `${endDate}T${window.end}:00Z`,
            recurrence: `FREQ=WEEKLY;BYDAY=${window.days.join(",")}`,
        },
        maintenanceExclusions: exclusions.map((e) => ({
            exclusionName: e.name,
            startTime: e.start,
            endTime: e.end,
            exclusionOptions: { scope: e.scope },
        })),
    };
}

/**
 * A pool's size: autoscaled between its bounds, or, paused, autoscaling off and zero nodes per zone (GKE's
 * resize to zero). Both are updates in place, so pausing and resuming never replace a pool.
 */
function scaling(pool: { minCount: pulumi.Input<number>; maxCount: pulumi.Input<number> }, locationPolicy: string, paused: boolean | undefined) {
    return paused ? { nodeCount: 0 } : { autoscaling: { totalMinNodeCount: pool.minCount, totalMaxNodeCount: pool.maxCount, locationPolicy } };
}

/**
 * A private, hardened GKE Standard cluster in the spirit of terraform-google-modules'
 * safer-cluster, its own node pool and node service account, and a Kubernetes provider
 * that is usable only once nodes exist.
 */
export class GkeCluster extends pulumi.ComponentResource {
    readonly cluster: gcp.container.Cluster;
    readonly nodePool: gcp.container.NodePool;
    readonly spotPool?: gcp.container.NodePool;
    /** The node service account when this component created it; undefined when it was given (nodeServiceAccountEmail). */
    readonly nodeServiceAccount?: gcp.serviceaccount.Account;
    /** Email of the service account the nodes run as. */
    readonly nodeServiceAccountEmail: pulumi.Output<string>;
    readonly provider: k8s.Provider;
    readonly kubeconfig: pulumi.Output<string>;

    constructor(name: string, args: GkeClusterArgs, opts?: pulumi.ComponentResourceOptions) {
        super("streaming-platform:gcp:GkeCluster", name, {}, opts);

        // Given: bootstrap/ made the account and its bindings, so the deployer needs no IAM admin role.
        this.nodeServiceAccount =
            args.nodeServiceAccountEmail === undefined
                ? new gcp.serviceaccount.Account(
                      `${name}-nodes`,
                      {
                          project: args.project,
                          accountId: nodeServiceAccountId(name, pulumi.getStack()),
                          displayName: `GKE nodes of ${name}`,
                      },
                      { parent: this },
                  )
                : undefined;
        const account = this.nodeServiceAccount;
        this.nodeServiceAccountEmail = account ? account.email : pulumi.output(args.nodeServiceAccountEmail!);
        const nodeRoles = account
            ? NODE_SERVICE_ACCOUNT_ROLES.map(
                  (role) =>
                      new gcp.projects.IAMMember(
                          `${name}-nodes-${role.split("/")[1]}`,
                          {
                              project: args.project,
                              role,
                              member: account.member,
                          },
                          { parent: this },
                      ),
              )
            : [];

        const shieldedNodeConfig = {
            serviceAccount: this.nodeServiceAccountEmail,
            oauthScopes: [CLOUD_PLATFORM_SCOPE],
            shieldedInstanceConfig: { enableSecureBoot: true, enableIntegrityMonitoring: true },
            workloadMetadataConfig: { mode: "GKE_METADATA" },
            metadata: { "disable-legacy-endpoints": "true" },
            // Port 10255 serves pod and node data without authentication.
            kubeletConfig: { insecureKubeletReadonlyPortEnabled: "FALSE" },
        };
        const ipEndpoint = pulumi.output(args.authorizedNetworks).apply((cidrs) => cidrs.length > 0);

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
                    enablePrivateEndpoint: ipEndpoint.apply((on) => !on),
                    masterIpv4CidrBlock: args.masterCidr,
                },
                controlPlaneEndpointsConfig: {
                    dnsEndpointConfig: { allowExternalTraffic: true },
                    // Without authorized networks nobody is meant to use the IP endpoint: off.
                    ipEndpointsConfig: { enabled: ipEndpoint },
                },
                // Sent only with the IP endpoint on: with it off, GKE reports the block disabled and
                // terraform-provider-google's flattenMasterAuthorizedNetworksConfig (resource_container_cluster.go)
                // reads a disabled block back as none, so a block sent then shows as an update in every preview.
                masterAuthorizedNetworksConfig: pulumi.output(args.authorizedNetworks).apply((cidrs) =>
                    cidrs.length > 0
                        ? {
                              gcpPublicCidrsAccessEnabled: false,
                              cidrBlocks: cidrs.map((cidrBlock) => ({ cidrBlock, displayName: `authorized ${cidrBlock}` })),
                          }
                        : undefined,
                ),
                masterAuth: { clientCertificateConfig: { issueClientCertificate: false } },
                enableLegacyAbac: false,
                workloadIdentityConfig: { workloadPool: pulumi.interpolate`${args.project}.svc.id.goog` },
                datapathProvider: "ADVANCED_DATAPATH",
                releaseChannel: { channel: args.releaseChannel },
                enableShieldedNodes: true,
                // New pools inherit the closed read-only port; each pool also sets it (shieldedNodeConfig).
                nodePoolDefaults: { nodeConfigDefaults: { insecureKubeletReadonlyPortEnabled: "FALSE" } },
                // Set explicitly, so a provider default that changes cannot turn logging or metrics down.
                loggingConfig: { enableComponents: ["SYSTEM_COMPONENTS", "WORKLOADS"] },
                monitoringConfig: { enableComponents: ["SYSTEM_COMPONENTS"], managedPrometheus: { enabled: true } },
                maintenancePolicy: maintenancePolicy(args.maintenanceWindow, args.maintenanceExclusions),
                ...(args.secretsEncryptionKey !== undefined
                    ? { databaseEncryption: { state: "ENCRYPTED", keyName: args.secretsEncryptionKey } }
                    : {}),
                ...(args.enforceBinaryAuthorization ? { binaryAuthorization: { evaluationMode: "PROJECT_SINGLETON_POLICY_ENFORCE" } } : {}),
                ...(args.backupAgent ? { addonsConfig: { gkeBackupAgentConfig: { enabled: true } } } : {}),
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
                ...scaling(args.nodePool, "BALANCED", args.paused),
                management: { autoRepair: true, autoUpgrade: true },
                upgradeSettings: { maxSurge: 1, maxUnavailable: 0 },
                nodeConfig: {
                    ...shieldedNodeConfig,
                    machineType: args.nodePool.machineType,
                    diskSizeGb: args.nodePool.diskSizeGb,
                    diskType: args.nodePool.diskType,
                    spot: args.nodePool.spot,
                    labels: { [POOL_LABEL]: ON_DEMAND_POOL },
                },
            },
            { parent: this, dependsOn: nodeRoles, ignoreChanges: ["initialNodeCount"] },
        );

        // Stateless compute only: the taint keeps every pod off it that does not tolerate Spot (components/k8s/placement.ts).
        // ANY lets the autoscaler take Spot capacity in whichever zone has it, which GKE recommends for Spot.
        this.spotPool = args.spotPool
            ? new gcp.container.NodePool(
                  `${name}-spot`,
                  {
                      project: args.project,
                      cluster: this.cluster.name,
                      location: this.cluster.location,
                      initialNodeCount: 0,
                      ...scaling(args.spotPool, "ANY", args.paused),
                      management: { autoRepair: true, autoUpgrade: true },
                      upgradeSettings: { maxSurge: 1, maxUnavailable: 0 },
                      nodeConfig: {
                          ...shieldedNodeConfig,
                          machineType: args.spotPool.machineType,
                          diskSizeGb: args.spotPool.diskSizeGb,
                          diskType: args.spotPool.diskType,
                          spot: true,
                          labels: { [POOL_LABEL]: SPOT_POOL },
                          taints: [{ key: SPOT_TAINT.key, value: SPOT_TAINT.value, effect: "NO_SCHEDULE" }],
                      },
                  },
                  { parent: this, dependsOn: nodeRoles, ignoreChanges: ["initialNodeCount"] },
              )
            : undefined;

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
                // Nothing may be scheduled before the pools have nodes.
                dependsOn: [this.nodePool, ...(this.spotPool ? [this.spotPool] : [])],
            },
        );

        this.registerOutputs({
            clusterName: this.cluster.name,
            nodePoolName: this.nodePool.name,
            nodeServiceAccount: this.nodeServiceAccountEmail,
            kubeconfig: this.kubeconfig,
        });
    }
}
