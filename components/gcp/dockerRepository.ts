import * as pulumi from "@pulumi/pulumi";
import * as gcp from "@pulumi/gcp";
import { resourceId } from "./naming";

/** What differs between the platform's Docker repositories: their purpose and, for a remote one, its upstream. */
export type DockerRepositorySettings = Omit<gcp.artifactregistry.RepositoryArgs, "repositoryId" | "format" | "location" | "project"> & {
    /** The Google Cloud project (config `gcp:project`). */
    readonly project: pulumi.Input<string>;
    /** Artifact Registry location (config `gcp:region`). */
    readonly region: pulumi.Input<string>;
};

/** An Artifact Registry Docker repository of this stack, and its address to tag or pull images with. */
export function dockerRepository(name: string, settings: DockerRepositorySettings, parent: pulumi.Resource) {
    const { project, region, ...rest } = settings;
    const repository = new gcp.artifactregistry.Repository(
        name,
        {
            ...rest,
            project,
            location: region,
            // Per stack: dev and prod may share a project and a region.
            repositoryId: resourceId(`${name}-${pulumi.getStack()}`, 63),
            format: "DOCKER",
        },
        { parent },
    );
    const host = pulumi.interpolate`${repository.location}-docker.pkg.dev`;
    return { repository, host, address: pulumi.interpolate`${host}/${repository.project}/${repository.repositoryId}` };
}
