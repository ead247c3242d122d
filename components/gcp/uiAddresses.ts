import * as pulumi from "@pulumi/pulumi";
import * as gcp from "@pulumi/gcp";

export interface UiAddressesArgs {
    /** Project the addresses are reserved in (config `gcp:project`). */
    readonly project: pulumi.Input<string>;
    /** Region of the regional external addresses, the cluster's (config `gcp:region`). */
    readonly region: pulumi.Input<string>;
    /** One external address is reserved for each of these UIs (e.g. airflow, spark); they key `addresses`. */
    readonly uis: readonly string[];
}

/**
 * Static external addresses for LoadBalancer UIs. Reserved up front, so a UI's URL is known before its
 * Service exists (Airflow's base_url needs it) and survives the Service being recreated.
 */
export class UiAddresses extends pulumi.ComponentResource {
    readonly addresses: Readonly<Record<string, pulumi.Output<string>>>;

    constructor(name: string, args: UiAddressesArgs, opts?: pulumi.ComponentResourceOptions) {
        super("streaming-platform:gcp:UiAddresses", name, {}, opts);
        this.addresses = Object.fromEntries(
            args.uis.map((ui) => [
                ui,
                new gcp.compute.Address(
                    `${name}-${ui}`,
                    {
                        project: args.project,
                        region: args.region,
                        addressType: "EXTERNAL",
                        description: `LoadBalancer of the ${ui} UI`,
                    },
                    { parent: this },
                ).address,
            ]),
        );
        this.registerOutputs({ addresses: this.addresses });
    }
}
