import * as pulumi from "@pulumi/pulumi";
import * as gcp from "@pulumi/gcp";
import { resourceId } from "./naming";

/** Where one of the stack's repositories lives, and whether it exists already: the Args of a repository component. */
export interface StackRepositoryArgs {
    /** The Google Cloud project (config `gcp:project`). */
    readonly project: pulumi.Input<string>;
    /** Artifact Registry location, the cluster's region so pulls stay in it (config `gcp:region`). */
    readonly region: pulumi.Input<string>;
    /**
     * The repository exists already (config `projectSetup: bootstrap`: bootstrap/ created it under
     * dockerRepositoryId): only its address is computed, nothing is created.
     */
    readonly existing?: boolean;
}

/** What differs between the platform's Docker repositories: their purpose and, for a remote one, its upstream. */
export type DockerRepositorySettings = Omit<gcp.artifactregistry.RepositoryArgs, "repositoryId" | "format" | "location" | "project"> &
    StackRepositoryArgs;

/** Id of a stack's repository: per stack, because dev and prod may share a project and a region. bootstrap/ uses the same ids. */
export function dockerRepositoryId(name: string, stack: string): string {
    return resourceId(`${name}-${stack}`, 63);
}

/**
 * Id of the stack's standard repository the Bitnami images are copied into (`npm run images:mirror -- --stack`)
 * and, optionally, the charts (`npm run charts:pull -- --stack <stack> --push`).
 */
export function bitnamiRepositoryId(stack: string): string {
    return dockerRepositoryId(BITNAMI_REPOSITORY, stack);
}

/** The name of that repository's resource, and its id's prefix. */
export const BITNAMI_REPOSITORY = "bitnami";

/** The address images are pulled by from a repository: <region>-docker.pkg.dev/<project>/<repository id>. */
export const artifactRegistryAddress = (region: string, project: string, repositoryId: string) =>
    `${region}-docker.pkg.dev/${project}/${repositoryId}`;

/** An Artifact Registry Docker repository of this stack, and its address to tag or pull images with. */
export function dockerRepository(name: string, settings: DockerRepositorySettings, parent: pulumi.Resource) {
    const { project, region, existing, ...rest } = settings;
    const repositoryId = dockerRepositoryId(name, pulumi.getStack());
    if (existing) {
        const host = pulumi.interpolate`${region}-docker.pkg.dev`;
        return { repository: undefined, host, address: pulumi.interpolate`${host}/${project}/${repositoryId}` };
    }
    const repository = new gcp.artifactregistry.Repository(
        name,
        {
            ...rest,
            project,
            location: region,
            repositoryId,
            format: "DOCKER",
        },
        { parent },
    );
    const host = pulumi.interpolate`${repository.location}-docker.pkg.dev`;
    return { repository, host, address: pulumi.interpolate`${host}/${repository.project}/${repository.repositoryId}` };
}
