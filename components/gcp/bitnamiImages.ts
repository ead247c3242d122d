import * as pulumi from "@pulumi/pulumi";
import * as gcp from "@pulumi/gcp";
import { BITNAMI_REPOSITORY, dockerRepository, StackRepositoryArgs } from "./dockerRepository";

export type BitnamiImagesArgs = StackRepositoryArgs;

/**
 * The stack's standard Artifact Registry repository that `npm run images:mirror -- --stack <stack>` copies every
 * pinned Bitnami image into, by digest (and `npm run charts:pull -- --stack <stack> --push` the charts). A
 * standard repository, not a remote one: a remote repository caches an image only once something pulled it and
 * may evict it, and once docker.io/bitnamilegacy is gone it has nothing to fetch again; a copy in a standard
 * repository is ours and stays. Nodes read it with their project-wide roles/artifactregistry.reader
 * (NODE_SERVICE_ACCOUNT_ROLES).
 *
 * Made on every GKE stack, whatever it pulls from today, so that it exists and can be filled before the stack
 * pulls from it (README: "Images and charts in your own project").
 */
export class BitnamiImages extends pulumi.ComponentResource {
    /** Undefined when the repository exists already (`existing`). */
    readonly repository?: gcp.artifactregistry.Repository;
    /** Use as an image registry: <registry>/bitnamilegacy/kafka@sha256:... */
    readonly registry: pulumi.Output<string>;

    constructor(args: BitnamiImagesArgs, opts?: pulumi.ComponentResourceOptions) {
        super("streaming-platform:gcp:BitnamiImages", BITNAMI_REPOSITORY, {}, opts);
        const { repository, address } = dockerRepository(
            BITNAMI_REPOSITORY,
            {
                project: args.project,
                region: args.region,
                existing: args.existing,
                description: BITNAMI_REPOSITORY_DESCRIPTION,
            },
            this,
        );
        this.repository = repository;
        this.registry = address;
        this.registerOutputs({ registry: this.registry });
    }
}

/** The description bootstrap/ gives the same repository. */
export const BITNAMI_REPOSITORY_DESCRIPTION = "Bitnami images and charts of the streaming platform, copied by digest (npm run images:mirror)";
