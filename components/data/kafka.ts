import * as pulumi from "@pulumi/pulumi";
import * as k8s from "@pulumi/kubernetes";
import { bitnamiRelease } from "./bitnamiRelease";
import { KafkaTopicPartitions } from "./kafkaTopicPartitions";
import { topicReconcileScript } from "./kafkaTopicScript";
import {
    containerResources,
    fixedNamespace,
    fixedSecret,
    generatedPassword,
    ONE_AT_A_TIME,
    randomBase64Url,
    volumeRetention,
    zoneSpread,
} from "../k8s/kubernetesObjects";
import { bitnamiPods, PodSet } from "../k8s/networkIsolation";
import { chartNodeSelector, chartScheduling, PoolLayout } from "../k8s/placement";

/** The pipeline's topic, created and reconciled on every deployment. */
export interface KafkaTopicArgs {
    /** Topic name (config `kafkaTopic`); another name provisions a new topic. */
    readonly name: string;
    /** Partition count (config `kafkaTopicPartitions`); it can grow but never shrink. */
    readonly partitions: number;
    /** Replicas of each partition, at most the node count; min.insync.replicas follows it (config `kafkaTopicReplication`). */
    readonly replicationFactor: number;
}

export interface KafkaArgs {
    /** Namespace created for Kafka. */
    readonly namespace: string;
    /** Combined KRaft controller+broker nodes, an odd number (config `kafkaReplicas`). */
    readonly replicas: number;
    /** CPU request of each node, such as 250m (config `kafkaCpu`). */
    readonly cpu: string;
    /** Memory request and limit of each node, in Mi or Gi (config `kafkaMemory`). */
    readonly memory: string;
    /** Persistent volume size of each node, in Gi (config `kafkaStorage`). */
    readonly storage: string;
    /** The pipeline's topic. */
    readonly topic: KafkaTopicArgs;
    /** SCRAM user the pipeline produces and consumes as. */
    readonly pipelineUser: string;
    /** Registry of the Bitnami images (config `imageRegistry`, or the Docker Hub mirror with `dockerHubMirror`). */
    readonly imageRegistry: pulumi.Input<string>;
    /** Keep the volumes when the release goes (config `deletionProtection`). */
    readonly retainVolumes: boolean;
    /** Force nodes into different zones, so the quorum survives a zone outage; true on a regional cluster (config `regional`). */
    readonly zoneSpread: boolean;
    /** Node pools to place the pods on (components/k8s/placement.ts). */
    readonly pools?: PoolLayout;
}

const SASL_SECRET = "kafka-sasl";
const KRAFT_SECRET = "kafka-kraft";
const CLIENT_PORT = 9092;

/** Writes survive one broker loss without blocking when there are replicas to spare. */
export const minInSyncReplicas = (replicationFactor: number) => Math.min(2, Math.max(1, replicationFactor - 1));

/**
 * Kafka in KRaft mode with every listener authenticated (SASL/SCRAM, the pipeline as one client user) and
 * the pipeline's topic provisioned: created, its partitions raised and its config applied on every deployment.
 */
export class Kafka extends pulumi.ComponentResource {
    readonly namespace: k8s.core.v1.Namespace;
    readonly release: k8s.helm.v3.Release;
    readonly bootstrapServers: string;
    readonly topic: string;
    readonly pipelineUser: string;
    readonly pipelinePassword: pulumi.Output<string>;
    readonly saslMechanism = "SCRAM-SHA-512";
    /** How a pipeline client reaches the topic (the KAFKA_* contract of pipeline/dags and pipeline/spark). */
    readonly clientEnvironment: Readonly<Record<string, string>>;
    /** The brokers' pods, which clients reach on clientPort. */
    readonly brokers: PodSet;
    readonly clientPort = CLIENT_PORT;
    /** The client's password, to hand over by Secret. */
    readonly clientSecretEnvironment: Readonly<Record<string, pulumi.Output<string>>>;

    constructor(name: string, args: KafkaArgs, opts?: pulumi.ComponentResourceOptions) {
        super("streaming-platform:data:Kafka", name, {}, opts);
        this.namespace = fixedNamespace(args.namespace, this);
        // Combined controller+broker nodes (helm-values/kafka.yaml) carry the controller-eligible component.
        this.brokers = bitnamiPods(this.namespace.metadata.name, "kafka", "controller-eligible");
        this.topic = args.topic.name;
        this.pipelineUser = args.pipelineUser;
        this.pipelinePassword = generatedPassword(`${name}-pipeline-password`, this);

        const saslSecret = fixedSecret(
            SASL_SECRET,
            this.namespace,
            {
                "client-passwords": this.pipelinePassword,
                // The topic provisioning job signs in as the first client user with this key.
                "system-user-password": this.pipelinePassword,
                "inter-broker-password": generatedPassword(`${name}-inter-broker-password`, this),
                "controller-password": generatedPassword(`${name}-controller-password`, this),
            },
            this,
        );

        // Kafka's cluster id and each controller's directory id are base64url UUIDs. Generated once and
        // kept in state, they survive every update; a new id would orphan the data on the volumes.
        const kraftIds: Record<string, pulumi.Output<string>> = { "cluster-id": randomBase64Url(`${name}-cluster-id`, 16, false, this) };
        for (let i = 0; i < args.replicas; i++) {
            kraftIds[`controller-${i}-id`] = randomBase64Url(`${name}-controller-${i}-id`, 16, false, this);
        }
        const kraftSecret = fixedSecret(KRAFT_SECRET, this.namespace, kraftIds, this);

        // The last applied partition count, kept in state: a lower one is refused at preview, before the
        // release (which depends on it) changes anything.
        const partitions = new KafkaTopicPartitions(
            `${name}-topic-partitions`,
            {
                topic: args.topic.name,
                partitions: args.topic.partitions,
            },
            { parent: this },
        );

        // Odd node counts only (config/), so this is 1 or 3 and its min ISR 1 or 2.
        const internalReplication = Math.min(3, args.replicas);
        const topic = {
            name: args.topic.name,
            partitions: args.topic.partitions,
            replicationFactor: args.topic.replicationFactor,
            config: { "min.insync.replicas": String(minInSyncReplicas(args.topic.replicationFactor)) },
        };
        this.release = bitnamiRelease(
            {
                chart: "kafka",
                namespace: this.namespace.metadata.name,
                imageRegistry: args.imageRegistry,
                timeoutSeconds: 900,
                values: {
                    existingKraftSecret: KRAFT_SECRET,
                    sasl: { client: { users: [args.pipelineUser] }, existingSecret: SASL_SECRET },
                    controller: {
                        replicaCount: args.replicas,
                        resources: containerResources(args.cpu, args.memory),
                        persistence: { size: args.storage },
                        persistentVolumeClaimRetentionPolicy: volumeRetention(args.retainVolumes),
                        pdb: ONE_AT_A_TIME,
                        // Quorum: on-demand nodes only, never Spot.
                        ...chartScheduling("on-demand", args.pools),
                        topologySpreadConstraints: args.zoneSpread
                            ? zoneSpread({ "app.kubernetes.io/instance": "kafka", "app.kubernetes.io/component": "controller-eligible" }, true)
                            : [],
                    },
                    overrideConfiguration: {
                        "default.replication.factor": internalReplication,
                        "offsets.topic.replication.factor": internalReplication,
                        "transaction.state.log.replication.factor": internalReplication,
                        "transaction.state.log.min.isr": minInSyncReplicas(internalReplication),
                        "min.insync.replicas": minInSyncReplicas(internalReplication),
                    },
                    provisioning: {
                        // Chart 32.4.3, templates/provisioning/job.yaml: `topics` only creates missing topics
                        // (kafka-topics.sh --create --if-not-exists, lines 249-262), run as `${cmd} &` and then
                        // `wait`, which drops their exit codes (269-275); extraProvisioningCommands run the same
                        // way (263-265), word-split with no shell quoting, so they cannot fail the Job either.
                        // postScript is pasted as is into the same `/bin/bash -ec` script after them (233-243,
                        // 277-280), with KAFKA_SERVICE set (287-288) and the client config the init container
                        // writes to /shared/client.properties (111-113, 321-322): there reconcile_topic raises
                        // partitions and applies the config of an existing topic on every post-install and
                        // post-upgrade hook run (15-17), and any error fails the Job.
                        topics: [topic],
                        postScript: topicReconcileScript([topic]),
                        // The update waits for this hook Job: a preemption must not fail it. The chart offers no affinity here.
                        ...chartNodeSelector("on-demand", args.pools),
                    },
                },
            },
            { parent: this, dependsOn: [saslSecret, kraftSecret, partitions] },
        );

        this.bootstrapServers = `kafka.${args.namespace}.svc.cluster.local:${CLIENT_PORT}`;
        this.clientEnvironment = {
            KAFKA_BOOTSTRAP_SERVERS: this.bootstrapServers,
            KAFKA_TOPIC: this.topic,
            // The client listener's protocol (helm-values/kafka.yaml listeners.client).
            KAFKA_SECURITY_PROTOCOL: "SASL_PLAINTEXT",
            KAFKA_SASL_MECHANISM: this.saslMechanism,
            KAFKA_SASL_USERNAME: this.pipelineUser,
        };
        this.clientSecretEnvironment = { KAFKA_SASL_PASSWORD: this.pipelinePassword };
        this.registerOutputs({
            bootstrapServers: this.bootstrapServers,
            topic: this.topic,
            pipelineUser: this.pipelineUser,
            pipelinePassword: this.pipelinePassword,
        });
    }
}
