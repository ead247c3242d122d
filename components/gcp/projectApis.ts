import * as pulumi from "@pulumi/pulumi";
import * as gcp from "@pulumi/gcp";

/** APIs the GKE stacks call; the platform enables them (`projectSetup: program`) or bootstrap/ does (`bootstrap`). */
export const PLATFORM_APIS = [
    "compute.googleapis.com",
    "container.googleapis.com",
    "iam.googleapis.com",
    "logging.googleapis.com",
    "monitoring.googleapis.com",
    "artifactregistry.googleapis.com",
    // The key that encrypts Secrets in etcd (SecretsKey) and the project's Binary Authorization policy.
    "cloudkms.googleapis.com",
    "binaryauthorization.googleapis.com",
] as const;

export interface ProjectApisArgs {
    /** Project to enable the APIs in (config `gcp:project`). */
    readonly project: pulumi.Input<string>;
    /** Service names such as container.googleapis.com; never disabled again on destroy. */
    readonly services: readonly string[];
}

/** Enables the Google Cloud APIs the platform calls; resources that need them depend on this component. */
export class ProjectApis extends pulumi.ComponentResource {
    readonly services: readonly gcp.projects.Service[];

    constructor(name: string, args: ProjectApisArgs, opts?: pulumi.ComponentResourceOptions) {
        super("streaming-platform:gcp:ProjectApis", name, {}, opts);
        this.services = args.services.map(
            (service) =>
                new gcp.projects.Service(
                    `${name}-${service.split(".")[0]}`,
                    {
                        project: args.project,
                        service,
                        // Other workloads in the project may use these APIs: never switch them off on destroy.
                        disableOnDestroy: false,
                        disableDependentServices: false,
                    },
                    { parent: this },
                ),
        );
        this.registerOutputs({ services: this.services.map((s) => s.service) });
    }
}
