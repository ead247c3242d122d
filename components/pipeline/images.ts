import * as pulumi from "@pulumi/pulumi";
import * as docker from "@pulumi/docker";
import * as gcp from "@pulumi/gcp";
import { contentHash, JOB_FILES, PIPELINE_DIR, readFiles } from "./assets";
import { dockerRepository } from "../gcp/dockerRepository";

/** An image pinned by digest, split the way Bitnami charts take it. */
export interface PinnedImage {
    /** Registry host, such as us-central1-docker.pkg.dev. */
    readonly registry: string;
    /** Path of the image in that registry: <project>/<repository>/<image>. */
    readonly repository: string;
    /** sha256:… content digest the image is pulled by. */
    readonly digest: string;
    /** registry/repository@digest */
    readonly reference: string;
}

export interface PipelineImagesArgs {
    /** Project of the Artifact Registry repository the images are pushed to (config `gcp:project`). */
    readonly project: pulumi.Input<string>;
    /** Location of that repository, the cluster's region (config `gcp:region`). */
    readonly region: pulumi.Input<string>;
    /** The chart's Bitnami Airflow image to build on, e.g. docker.io/bitnamilegacy/airflow:3.0.5-debian-12-r0, from the releases' registry. */
    readonly airflowBaseImage: pulumi.Input<string>;
    /** The chart's Bitnami Spark image the job image builds on, from the releases' registry. */
    readonly sparkBaseImage: pulumi.Input<string>;
    /** bootstrap/ created the repository (config `projectSetup: bootstrap`): push to it, create nothing. */
    readonly existingRepository?: boolean;
}

/** Files each image is built from (relative to pipeline/); their digest tags the image. */
const AIRFLOW_CONTEXT = { "images/airflow": ["Dockerfile"], ".": ["requirements-airflow.txt", "requirements-airflow-gcs.txt"] };
const SPARK_JOB_CONTEXT = {
    "images/spark-job": ["Dockerfile", "fetch_jars.py"],
    ".": ["requirements-spark.txt"],
    spark: [...JOB_FILES],
};

function contextTag(context: Record<string, string[]>): string {
    return contentHash(
        Object.assign(
            {},
            ...Object.entries(context).map(([dir, names]) =>
                Object.fromEntries(Object.entries(readFiles(dir, names)).map(([name, text]) => [`${dir}/${name}`, text])),
            ),
        ),
    );
}

function pinned(repoDigest: pulumi.Output<string>): pulumi.Output<PinnedImage> {
    return repoDigest.apply((reference) => {
        const [name, digest] = reference.split("@");
        const slash = name.indexOf("/");
        return { registry: name.slice(0, slash), repository: name.slice(slash + 1), digest, reference };
    });
}

/**
 * Builds the pipeline's two images and pushes them to a private Artifact Registry repository:
 * Airflow with the DAG's Python dependencies, and the Spark job with the Kafka connector jars,
 * psycopg2 and the job's code. Releases use them by digest, so what runs is exactly what was built.
 */
export class PipelineImages extends pulumi.ComponentResource {
    /** Undefined when the repository exists already (`existingRepository`). */
    readonly repository?: gcp.artifactregistry.Repository;
    readonly airflow: pulumi.Output<PinnedImage>;
    readonly sparkJob: pulumi.Output<PinnedImage>;

    constructor(name: string, args: PipelineImagesArgs, opts?: pulumi.ComponentResourceOptions) {
        super("streaming-platform:pipeline:PipelineImages", name, {}, opts);
        const {
            repository,
            host,
            address: path,
        } = dockerRepository(
            name,
            {
                project: args.project,
                region: args.region,
                existing: args.existingRepository,
                description: "Images of the streaming platform's pipeline",
                // Keep the last ten builds per image; older ones only cost storage.
                cleanupPolicies: [{ id: "keep-recent", action: "KEEP", mostRecentVersions: { keepCount: 10 } }],
            },
            this,
        );
        this.repository = repository;
        // Pushes authenticate with the deployer's own short-lived token, like `gcloud auth configure-docker`.
        const token = gcp.organizations.getClientConfigOutput({ parent: this }).accessToken;
        const registry = { server: host, username: "oauth2accesstoken", password: pulumi.secret(token) };

        const build = (image: string, dockerfile: string, baseImage: pulumi.Input<string>, context: Record<string, string[]>) =>
            new docker.Image(
                image,
                {
                    imageName: pulumi.interpolate`${path}/${image}:${contextTag(context)}`,
                    build: {
                        context: PIPELINE_DIR,
                        dockerfile: `${PIPELINE_DIR}/${dockerfile}`,
                        platform: "linux/amd64",
                        args: { BASE_IMAGE: baseImage },
                    },
                    registry,
                },
                { parent: this },
            );

        this.airflow = pinned(build("airflow-pipeline", "images/airflow/Dockerfile", args.airflowBaseImage, AIRFLOW_CONTEXT).repoDigest);
        this.sparkJob = pinned(build("spark-job", "images/spark-job/Dockerfile", args.sparkBaseImage, SPARK_JOB_CONTEXT).repoDigest);
        this.registerOutputs({ airflow: this.airflow, sparkJob: this.sparkJob });
    }
}
