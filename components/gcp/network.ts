import * as pulumi from "@pulumi/pulumi";
import * as gcp from "@pulumi/gcp";

export interface NetworkArgs {
    /** Project the VPC, subnet, router and NAT are created in (config `gcp:project`). */
    readonly project: pulumi.Input<string>;
    /** Region of the subnet, router and Cloud NAT (config `gcp:region`). */
    readonly region: pulumi.Input<string>;
    /** Primary range of the subnet, where node addresses come from (config `subnetCidr`). */
    readonly subnetCidr: pulumi.Input<string>;
    /** Secondary range `pods`, where Pod addresses come from (config `podsCidr`). */
    readonly podsCidr: pulumi.Input<string>;
    /** Secondary range `services`, where Service ClusterIPs come from (config `servicesCidr`). */
    readonly servicesCidr: pulumi.Input<string>;
    /** Share of the subnet's flows VPC flow logs sample, above 0 and at most 1 (config `flowLogSampling`). */
    readonly flowLogSampling: pulumi.Input<number>;
}

/** Flows are aggregated over 5 minutes: the longest interval, so the fewest log entries. */
export const FLOW_LOG_AGGREGATION_INTERVAL = "INTERVAL_5_MIN";

/**
 * A custom-mode VPC with one subnet for a VPC-native cluster, and Cloud NAT so private
 * nodes (no external IPs) can still pull images and reach public APIs.
 */
export class Network extends pulumi.ComponentResource {
    readonly network: gcp.compute.Network;
    readonly subnetwork: gcp.compute.Subnetwork;
    readonly router: gcp.compute.Router;
    readonly nat: gcp.compute.RouterNat;
    readonly podsRangeName: string;
    readonly servicesRangeName: string;

    constructor(name: string, args: NetworkArgs, opts?: pulumi.ComponentResourceOptions) {
        super("streaming-platform:gcp:Network", name, {}, opts);
        this.podsRangeName = "pods";
        this.servicesRangeName = "services";

        this.network = new gcp.compute.Network(
            `${name}-vpc`,
            {
                project: args.project,
                autoCreateSubnetworks: false,
                routingMode: "REGIONAL",
            },
            { parent: this },
        );

        this.subnetwork = new gcp.compute.Subnetwork(
            `${name}-nodes`,
            {
                project: args.project,
                region: args.region,
                network: this.network.id,
                ipCidrRange: args.subnetCidr,
                privateIpGoogleAccess: true,
                // VPC flow logs: who talked to whom, for forensics and network policy reviews.
                logConfig: {
                    aggregationInterval: FLOW_LOG_AGGREGATION_INTERVAL,
                    flowSampling: args.flowLogSampling,
                    metadata: "INCLUDE_ALL_METADATA",
                },
                secondaryIpRanges: [
                    { rangeName: this.podsRangeName, ipCidrRange: args.podsCidr },
                    { rangeName: this.servicesRangeName, ipCidrRange: args.servicesCidr },
                ],
            },
            { parent: this },
        );

        this.router = new gcp.compute.Router(
            `${name}-router`,
            {
                project: args.project,
                region: args.region,
                network: this.network.id,
            },
            { parent: this },
        );

        this.nat = new gcp.compute.RouterNat(
            `${name}-nat`,
            {
                project: args.project,
                region: args.region,
                router: this.router.name,
                natIpAllocateOption: "AUTO_ONLY",
                sourceSubnetworkIpRangesToNat: "LIST_OF_SUBNETWORKS",
                subnetworks: [{ name: this.subnetwork.id, sourceIpRangesToNats: ["ALL_IP_RANGES"] }],
                logConfig: { enable: true, filter: "ERRORS_ONLY" },
            },
            { parent: this },
        );

        this.registerOutputs({
            network: this.network.id,
            subnetwork: this.subnetwork.id,
            nat: this.nat.name,
        });
    }
}
