import * as pulumi from "@pulumi/pulumi";
import * as k8s from "@pulumi/kubernetes";

export interface RegionalDiskStorageClassArgs {
    /** Keep the disk when its claim goes (reclaimPolicy Retain); from config `deletionProtection`. */
    readonly retain: boolean;
}

/**
 * A GKE StorageClass of regional persistent disks (pd-balanced, replicated synchronously to two zones of
 * the region) through the Compute Engine PD CSI driver, so a pod rescheduled to another zone can attach
 * its volume again (GKE docs, "Provisioning regional persistent disks"). Regional disks start at 10 GiB.
 */
export class RegionalDiskStorageClass extends pulumi.ComponentResource {
    readonly storageClass: k8s.storage.v1.StorageClass;
    /** The class name to put in a claim's storageClassName. */
    readonly name: pulumi.Output<string>;

    constructor(name: string, args: RegionalDiskStorageClassArgs, opts?: pulumi.ComponentResourceOptions) {
        super("streaming-platform:gcp:RegionalDiskStorageClass", name, {}, opts);
        this.storageClass = new k8s.storage.v1.StorageClass(
            name,
            {
                metadata: { name: "regional-pd-balanced" },
                provisioner: "pd.csi.storage.gke.io",
                parameters: { type: "pd-balanced", "replication-type": "regional-pd" },
                // The disk is created once the pod is scheduled, in its zone plus another one.
                volumeBindingMode: "WaitForFirstConsumer",
                allowVolumeExpansion: true,
                reclaimPolicy: args.retain ? "Retain" : "Delete",
            },
            { parent: this },
        );
        this.name = this.storageClass.metadata.name;
        this.registerOutputs({ name: this.name });
    }
}
