import * as pulumi from "@pulumi/pulumi";
import * as gcp from "@pulumi/gcp";
import { dockerRepository, StackRepositoryArgs } from "./dockerRepository";

export type DockerHubMirrorArgs = StackRepositoryArgs;

/**
 * An Artifact Registry remote repository that proxies and caches Docker Hub: nodes pull through
 * Google's network and Docker Hub's anonymous rate limits stop mattering. Nodes read it with
 * their roles/artifactregistry.reader.
 */
export class DockerHubMirror extends pulumi.ComponentResource {
    /** Undefined when the repository exists already (`existing`). */
    readonly repository?: gcp.artifactregistry.Repository;
    /** Use as an image registry: <registry>/bitnamilegacy/kafka:<tag>. */
    readonly registry: pulumi.Output<string>;

    constructor(name: string, args: DockerHubMirrorArgs, opts?: pulumi.ComponentResourceOptions) {
        super("streaming-platform:gcp:DockerHubMirror", name, {}, opts);
        const { repository, address } = dockerRepository(
            name,
            {
                project: args.project,
                region: args.region,
                existing: args.existing,
                mode: "REMOTE_REPOSITORY",
                description: "Pull-through cache of Docker Hub for the streaming platform",
                remoteRepositoryConfig: { dockerRepository: { publicRepository: "DOCKER_HUB" } },
            },
            this,
        );
        this.repository = repository;
        this.registry = address;
        this.registerOutputs({ registry: this.registry });
    }
}
