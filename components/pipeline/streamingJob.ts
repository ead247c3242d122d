import * as pulumi from "@pulumi/pulumi";
import * as k8s from "@pulumi/kubernetes";
import { containerResources } from "../k8s/kubernetesObjects";
import { contentHash, FileSet } from "./assets";

/** Job code shipped by ConfigMap when no image was built: the pod installs what it needs at start. */
export interface MountedJobCode {
    /** pipeline/spark files plus requirements-spark.txt. */
    readonly files: FileSet;
    /** spark-submit --packages list for the Kafka connector. */
    readonly packages: string;
}

export interface StreamingJobArgs {
    readonly namespace: pulumi.Input<string>;
    /** The Spark job image (by digest when built) or the plain Spark image when `code` is mounted. */
    readonly image: pulumi.Input<string>;
    readonly code?: MountedJobCode;
    readonly environment: Record<string, pulumi.Input<string>>;
    readonly secretEnvironment: Record<string, pulumi.Input<string>>;
    readonly checkpointStorage: string;
    readonly cpu: string;
    readonly memory: string;
}

const NAME = "crypto-ticks-stream";
const CODE_DIR = "/opt/pipeline";
const DEPS_DIR = "/opt/pipeline-deps";
const CHECKPOINT_DIR = "/checkpoint";
const DRIVER_PORT = 7078;
const BLOCK_MANAGER_PORT = 7079;

/**
 * The Spark Structured Streaming driver as a one-replica Deployment: spark-submit in client mode
 * against the standalone master, executors on the workers connect back to the pod IP on fixed
 * ports, and progress is checkpointed on a volume so a restart resumes where it stopped.
 */
export class StreamingJob extends pulumi.ComponentResource {
    readonly deployment: k8s.apps.v1.Deployment;
    readonly checkpoint: k8s.core.v1.PersistentVolumeClaim;

    constructor(name: string, args: StreamingJobArgs, opts?: pulumi.ComponentResourceOptions) {
        super("streaming-platform:pipeline:StreamingJob", name, {}, opts);
        const metadata = (suffix: string) => ({ name: `${NAME}${suffix}`, namespace: args.namespace });

        const secret = new k8s.core.v1.Secret(`${name}-env`, {
            metadata: metadata("-env"),
            type: "Opaque",
            stringData: args.secretEnvironment,
        }, { parent: this });
        this.checkpoint = new k8s.core.v1.PersistentVolumeClaim(`${name}-checkpoint`, {
            metadata: metadata("-checkpoint"),
            spec: { accessModes: ["ReadWriteOnce"], resources: { requests: { storage: args.checkpointStorage } } },
        }, { parent: this });
        const code = args.code && new k8s.core.v1.ConfigMap(`${name}-code`, {
            metadata: metadata("-code"),
            data: args.code.files,
        }, { parent: this });

        const volumes: k8s.types.input.core.v1.Volume[] = [
            { name: "checkpoint", persistentVolumeClaim: { claimName: this.checkpoint.metadata.name } },
            { name: "tmp", emptyDir: {} },
        ];
        const mounts: k8s.types.input.core.v1.VolumeMount[] = [
            { name: "checkpoint", mountPath: CHECKPOINT_DIR },
            { name: "tmp", mountPath: "/tmp" },
        ];
        const codeEnv: k8s.types.input.core.v1.EnvVar[] = [];
        const initContainers: k8s.types.input.core.v1.Container[] = [];
        if (code && args.code) {
            volumes.push({ name: "code", configMap: { name: code.metadata.name } }, { name: "deps", emptyDir: {} });
            mounts.push({ name: "code", mountPath: CODE_DIR, readOnly: true }, { name: "deps", mountPath: DEPS_DIR });
            codeEnv.push({ name: "SPARK_PACKAGES", value: args.code.packages }, { name: "PYTHONPATH", value: DEPS_DIR });
            // The plain Spark image lacks the sink's driver library; install it next to the code.
            initContainers.push({
                name: "install-python-deps",
                image: args.image,
                command: ["python3", "-m", "pip", "install", "--no-cache-dir", "--target", DEPS_DIR, "-r", `${CODE_DIR}/requirements-spark.txt`],
                volumeMounts: mounts,
                resources: containerResources("100m", "256Mi"),
            });
        }

        this.deployment = new k8s.apps.v1.Deployment(name, {
            metadata: { ...metadata(""), labels: { app: NAME } },
            spec: {
                replicas: 1,
                // Two drivers would fight over the checkpoint: stop the old one before starting the new.
                strategy: { type: "Recreate" },
                selector: { matchLabels: { app: NAME } },
                template: {
                    metadata: {
                        labels: { app: NAME },
                        annotations: { "streaming-platform/code": args.code ? contentHash(args.code.files) : "image" },
                    },
                    spec: {
                        securityContext: { runAsNonRoot: true, runAsUser: 1001, fsGroup: 1001 },
                        initContainers,
                        containers: [{
                            name: "driver",
                            image: args.image,
                            command: ["bash", `${CODE_DIR}/run-job.sh`],
                            env: [
                                { name: "POD_IP", valueFrom: { fieldRef: { fieldPath: "status.podIP" } } },
                                { name: "SPARK_DRIVER_PORT", value: String(DRIVER_PORT) },
                                { name: "SPARK_BLOCKMANAGER_PORT", value: String(BLOCK_MANAGER_PORT) },
                                { name: "CHECKPOINT_DIR", value: `${CHECKPOINT_DIR}/crypto-ticks` },
                                ...codeEnv,
                                ...Object.entries(args.environment).map(([envName, value]) => ({ name: envName, value })),
                            ],
                            envFrom: [{ secretRef: { name: secret.metadata.name } }],
                            ports: [
                                { name: "driver", containerPort: DRIVER_PORT },
                                { name: "block-manager", containerPort: BLOCK_MANAGER_PORT },
                                { name: "ui", containerPort: 4040 },
                            ],
                            resources: containerResources(args.cpu, args.memory),
                            volumeMounts: mounts,
                        }],
                        volumes,
                    },
                },
            },
        }, { parent: this });
        this.registerOutputs({ deployment: this.deployment.metadata.name, checkpoint: this.checkpoint.metadata.name });
    }
}
