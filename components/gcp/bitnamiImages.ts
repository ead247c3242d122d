import * as pulumi from "@pulumi/pulumi";
import * as gcp from "@pulumi/gcp";
import { BITNAMI_REPOSITORY, bitnamiRepositoryId, dockerRepository, StackRepositoryArgs } from "./dockerRepository";

export interface BitnamiImagesArgs extends StackRepositoryArgs {
    /**
     * The images the stack pulls from this repository, as <repository>@<digest> (bitnamilegacy/kafka@sha256:…), when
     * it pulls from here: `registry` resolves only once the repository is seen to hold every one of them.
     */
    readonly pulled?: readonly string[];
}

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
        this.registry = args.pulled?.length ? heldImages(args, repository, this).apply(checked(address, args.pulled)) : address;
        this.registerOutputs({ registry: this.registry });
    }
}

/** The description bootstrap/ gives the same repository. */
export const BITNAMI_REPOSITORY_DESCRIPTION = "Bitnami images and charts of the streaming platform, copied by digest (npm run images:mirror)";

/**
 * What the repository holds, as <repository>@<digest>, listed through Artifact Registry's API: every pod pulls by a
 * locked digest, and a stack whose repository lacks one (the lock is shared by the stacks, and each stack's copy is
 * made by its own `npm run images:mirror -- --stack <stack>`) would deploy pods that never start. The list waits for
 * a repository made in this update (and is skipped in the preview that creates it).
 */
function heldImages(args: BitnamiImagesArgs, repository: gcp.artifactregistry.Repository | undefined, parent: pulumi.Resource) {
    const listed = gcp.artifactregistry.getDockerImagesOutput(
        {
            project: repository?.project ?? args.project,
            location: repository?.location ?? args.region,
            repositoryId: repository?.repositoryId ?? bitnamiRepositoryId(pulumi.getStack()),
        },
        { parent },
    );
    // An image's name ends in dockerImages/<repository>@<digest>, its path URL-encoded (bitnamilegacy%2Fkafka).
    return listed.dockerImages.apply(
        (images) => new Set((images ?? []).map((image) => decodeURIComponent(image.name.split("/dockerImages/").pop()!))),
    );
}

/** The registry's address once `held` has every image the stack pulls; an error naming the missing ones and the fix otherwise. */
const checked =
    (address: pulumi.Output<string>, pulled: readonly string[]) =>
    (held: ReadonlySet<string>): pulumi.Output<string> => {
        const missing = pulled.filter((image) => !held.has(image));
        if (missing.length === 0) {
            return address;
        }
        const stack = pulumi.getStack();
        const message =
            `${bitnamiRepositoryId(stack)} lacks ${missing.length} of the ${pulled.length} images this stack pulls from it by the committed lock (${missing.join(", ")}). ` +
            `Copy them there where Docker Hub is reachable: npm run images:mirror -- --stack ${stack} (README, "Images and charts in your own project"); ` +
            `to pull from Docker Hub until then: pulumi config set imageRegistry docker.io -s ${stack}`;
        // Once, verbatim: Pulumi prefixes the thrown error with the path of every property that needed the registry.
        pulumi.log.error(message);
        throw new pulumi.RunError(message);
    };
