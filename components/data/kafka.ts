import * as crypto from "crypto";
import * as pulumi from "@pulumi/pulumi";
import * as k8s from "@pulumi/kubernetes";
import { bitnamiRelease } from "./bitnamiRelease";
import { CaSelection } from "./kafkaCaRotation";
import { KafkaTls } from "./kafkaTls";
import { caBundleTruststore, rejoinedReadinessProbe } from "./kafkaTrust";
import { KafkaTopicPartitions } from "./kafkaTopicPartitions";
import { AclGrant, accessReconcileScript, ScramUser, topicReconcileScript } from "./kafkaTopicScript";
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
import { ScrapeTarget } from "../k8s/monitoring";
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
    /** The CAs nodes and clients trust and the one that signs (config `kafkaTrustedCas`, `kafkaSigningCa`). */
    readonly cas: CaSelection;
    /** The SCRAM users of the pipeline's clients and of topic provisioning. */
    readonly users: KafkaUsers;
    /** Consumer group ids of the consumer start with this (the Spark job's `groupIdPrefix`); its ACL is on the prefix. */
    readonly consumerGroupPrefix: string;
    /** Registry of the Bitnami images (config `imageRegistry`, or the Docker Hub mirror with `dockerHubMirror`). */
    readonly imageRegistry: pulumi.Input<string>;
    /** Keep the volumes when the release goes (config `deletionProtection`). */
    readonly retainVolumes: boolean;
    /** Force nodes into different zones, so the quorum survives a zone outage; true on a regional cluster (config `regional`). */
    readonly zoneSpread: boolean;
    /** Node pools to place the pods on (components/k8s/placement.ts). */
    readonly pools?: PoolLayout;
}

/** One SCRAM user per client, so each holds only the access it needs. */
export interface KafkaUsers {
    /** Produces to the topic (Airflow's task): Write and Describe on it. */
    readonly producer: string;
    /** Reads the topic (the Spark job): Read and Describe on it, Read on its consumer group prefix. */
    readonly consumer: string;
    /** Provisions the topic and the other users' credentials and ACLs (the chart's provisioning Job). */
    readonly admin: string;
}

const RELEASE = "kafka";
const SASL_SECRET = "kafka-sasl";
const KRAFT_SECRET = "kafka-kraft";
/** ca.crt, tls.crt and tls.key of the brokers (chart tls.existingSecret, PEM). */
export const TLS_SECRET = "kafka-tls";
/**
 * keystore-password and truststore-password of the JKS stores each node builds from the PEM files at start
 * (chart 32.4.3 templates/_init_containers.tpl 222-234). Ours, not the chart's: without tls.passwordsSecret,
 * templates/tls-secret.yaml 46-61 renders kafka-tls-passwords through common.secrets.passwords.manage
 * (charts/common templates/_secrets.tpl), which makes new random values in every client-side render (a diff
 * in every preview) and fails the upgrade of a release deployed before TLS ("PASSWORDS ERROR"), whose
 * Secret it looks up and does not find. templates/_helpers.tpl 241-245 skips that Secret when this is set.
 */
const TLS_PASSWORDS_SECRET = "kafka-tls-store-passwords";
/** ca.crt, tls.crt and tls.key of the provisioning Job (chart provisioning.auth.tls.certificatesSecret). */
export const PROVISIONING_TLS_SECRET = "kafka-provisioning-tls";
const CLIENT_PORT = 9092;
/** The chart's fixed names of the controller and inter-broker users (values sasl.controller.user, sasl.interbroker.user). */
const CONTROLLER_USER = "controller_user";
const INTER_BROKER_USER = "inter_broker_user";
/** Environment variables of the provisioning Job with the client users' passwords. */
const PRODUCER_PASSWORD_VARIABLE = "KAFKA_PRODUCER_PASSWORD";
const CONSUMER_PASSWORD_VARIABLE = "KAFKA_CONSUMER_PASSWORD";

/** How one pipeline client reaches the topic: the KAFKA_* contract of pipeline/dags and pipeline/spark. */
export interface KafkaClient {
    /** Plain environment: servers, topic, protocol, mechanism, user name. */
    readonly environment: Readonly<Record<string, string>>;
    /** Handed over by Secret: the password, and the CA certificate (PEM) that signs the brokers' certificate. */
    readonly secretEnvironment: Readonly<Record<string, pulumi.Output<string>>>;
}

/** Writes survive one broker loss without blocking when there are replicas to spare. */
export const minInSyncReplicas = (replicationFactor: number) => Math.min(2, Math.max(1, replicationFactor - 1));

/**
 * Kafka in KRaft mode with every listener authenticated (SASL) and encrypted (TLS, certificates from
 * kafkaTls.ts), every request authorized (StandardAuthorizer, no access without an ACL), one SCRAM user
 * per client with ACLs on the pipeline's topic only, and the topic provisioned: created, its partitions
 * raised and its config applied on every deployment, with the users' credentials and ACLs.
 */
export class Kafka extends pulumi.ComponentResource {
    readonly namespace: k8s.core.v1.Namespace;
    readonly release: k8s.helm.v3.Release;
    readonly bootstrapServers: string;
    readonly topic: string;
    readonly users: KafkaUsers;
    readonly saslMechanism = "SCRAM-SHA-512";
    /** The client listener's protocol (helm-values/kafka.yaml listeners.client). */
    readonly securityProtocol = "SASL_SSL";
    /** What every pipeline client shares: servers, topic, protocol, mechanism. */
    readonly clientEnvironment: Readonly<Record<string, string>>;
    /** Airflow's task: produces to the topic. */
    readonly producer: KafkaClient;
    /** The Spark job: reads the topic, its group ids prefixed with KAFKA_GROUP_ID_PREFIX. */
    readonly consumer: KafkaClient;
    /** The trusted CA certificates (PEM, one or two during a rotation) clients verify the brokers with. */
    readonly caCertPem: pulumi.Output<string>;
    /** The brokers' pods, which clients reach on clientPort. */
    readonly brokers: PodSet;
    readonly clientPort = CLIENT_PORT;
    /** The JMX exporter beside every node (helm-values/kafka.yaml metrics.jmx): container port "metrics". */
    readonly metrics: ScrapeTarget;

    constructor(name: string, args: KafkaArgs, opts?: pulumi.ComponentResourceOptions) {
        super("streaming-platform:data:Kafka", name, {}, opts);
        this.namespace = fixedNamespace(args.namespace, this);
        // Combined controller+broker nodes (helm-values/kafka.yaml) carry the controller-eligible component.
        this.brokers = bitnamiPods(this.namespace.metadata.name, "kafka", "controller-eligible");
        this.metrics = { name: "kafka", pods: this.brokers, portName: "metrics", port: 5556, path: "/metrics", why: "Kafka's JMX exporter" };
        this.topic = args.topic.name;
        this.users = args.users;
        const { producer, consumer, admin } = args.users;
        if (new Set([producer, consumer, admin, CONTROLLER_USER, INTER_BROKER_USER]).size !== 5) {
            throw new Error(`Kafka users must be distinct: ${JSON.stringify(args.users)}`);
        }
        // The producer keeps the password the single pipeline user had (its resource name too, so no new password).
        const producerPassword = generatedPassword(`${name}-pipeline-password`, this);
        const consumerPassword = generatedPassword(`${name}-consumer-password`, this);
        const adminPassword = generatedPassword(`${name}-topic-admin-password`, this);

        // sasl.client.users and client-passwords pair up by position; the chart's provisioning Job signs in as
        // the first user with system-user-password, so the admin comes first.
        const clientUsers = [admin, producer, consumer];
        const saslSecret = fixedSecret(
            SASL_SECRET,
            this.namespace,
            {
                "client-passwords": pulumi.interpolate`${adminPassword},${producerPassword},${consumerPassword}`,
                "system-user-password": adminPassword,
                "inter-broker-password": generatedPassword(`${name}-inter-broker-password`, this),
                "controller-password": generatedPassword(`${name}-controller-password`, this),
                // Not read by the chart: the provisioning Job's environment and the e2e check read them by name.
                "admin-password": adminPassword,
                "producer-password": producerPassword,
                "consumer-password": consumerPassword,
            },
            this,
        );

        // Certificates from the program, kept in state: a helm upgrade never regenerates them (docs/runbook.md, rotation).
        const certificates = new KafkaTls(
            `${name}-tls`,
            { namespace: args.namespace, release: RELEASE, replicas: args.replicas, provisioningClient: admin, cas: args.cas },
            { parent: this },
        );
        this.caCertPem = certificates.caCertPem;
        const tlsSecret = fixedSecret(
            TLS_SECRET,
            this.namespace,
            { "ca.crt": certificates.caCertPem, "tls.crt": certificates.brokerCertPem, "tls.key": certificates.brokerKeyPem },
            this,
        );
        const tlsPasswordsSecret = fixedSecret(
            TLS_PASSWORDS_SECRET,
            this.namespace,
            {
                "keystore-password": generatedPassword(`${name}-keystore-password`, this),
                "truststore-password": generatedPassword(`${name}-truststore-password`, this),
            },
            this,
        );
        // The Job trusts the signing CA alone. Chart 32.4.3 templates/provisioning/job.yaml 74-81 joins ca.crt into
        // one `ssl.truststore.certificates` property line (file_to_multiline_property: each line ends in " \"), and
        // Kafka's PemParser (apache/kafka 4.0.0 DefaultSslEngineFactory.java, PemParser: "-+BEGIN\s*.*CERTIFICATE")
        // matches greedily across that one line, so of two CAs it reads the last one only (engines/kafka_ca_rotation.py
        // saw the Job refuse its own step's brokers). One CA is enough: the Job is a post-upgrade hook, which Helm
        // runs after the roll it waits for, when every node holds a certificate from the signing CA.
        const provisioningTlsSecret = fixedSecret(
            PROVISIONING_TLS_SECRET,
            this.namespace,
            { "ca.crt": certificates.signingCaCertPem, "tls.crt": certificates.provisioningCertPem, "tls.key": certificates.provisioningKeyPem },
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
        const scramUsers: ScramUser[] = [
            { name: producer, passwordVariable: PRODUCER_PASSWORD_VARIABLE },
            { name: consumer, passwordVariable: CONSUMER_PASSWORD_VARIABLE },
        ];
        // The pipeline's topic only; the admin needs no grant (a super user, see superUsers).
        const grants: AclGrant[] = [
            { user: producer, resourceType: "topic", resource: topic.name, patternType: "literal", operations: ["Write", "Describe"] },
            { user: consumer, resourceType: "topic", resource: topic.name, patternType: "literal", operations: ["Read", "Describe"] },
            { user: consumer, resourceType: "group", resource: args.consumerGroupPrefix, patternType: "prefixed", operations: ["Read"] },
        ];
        // Creating ACLs takes ALTER on the cluster, with which a principal can grant itself anything, and a
        // principal must already hold it to grant it: so the topic admin is a super user beside the
        // controller and inter-broker users, instead of an equally powerful user behind a bootstrap ACL.
        const superUsers = [CONTROLLER_USER, INTER_BROKER_USER, admin].map((user) => `User:${user}`).join(";");
        this.release = bitnamiRelease(
            {
                chart: "kafka",
                namespace: this.namespace.metadata.name,
                imageRegistry: args.imageRegistry,
                timeoutSeconds: 900,
                values: {
                    existingKraftSecret: KRAFT_SECRET,
                    sasl: { client: { users: clientUsers }, existingSecret: SASL_SECRET },
                    tls: { existingSecret: TLS_SECRET, passwordsSecret: TLS_PASSWORDS_SECRET },
                    controller: {
                        replicaCount: args.replicas,
                        resources: containerResources(args.cpu, args.memory),
                        persistence: { size: args.storage },
                        persistentVolumeClaimRetentionPolicy: volumeRetention(args.retainVolumes),
                        // The Secret is ours, not the chart's: a new certificate restarts the nodes through this.
                        podAnnotations: { "checksum/kafka-tls": certificates.fingerprint },
                        // Ready only once the node is back in the cluster (kafkaTrust.ts), so a roll waits for it.
                        customReadinessProbe: rejoinedReadinessProbe(RELEASE, args.namespace, CLIENT_PORT),
                        pdb: ONE_AT_A_TIME,
                        // Quorum: on-demand nodes only, never Spot.
                        ...chartScheduling("on-demand", args.pools),
                        topologySpreadConstraints: args.zoneSpread
                            ? zoneSpread({ "app.kubernetes.io/instance": "kafka", "app.kubernetes.io/component": "controller-eligible" }, true)
                            : [],
                    },
                    // Every trusted CA in the nodes' truststore, not only the first (kafkaTrust.ts).
                    defaultInitContainers: { prepareConfig: { extraInit: caBundleTruststore.script } },
                    overrideConfiguration: {
                        ...caBundleTruststore.serverProperties,
                        "default.replication.factor": internalReplication,
                        "offsets.topic.replication.factor": internalReplication,
                        "transaction.state.log.replication.factor": internalReplication,
                        "transaction.state.log.min.isr": minInSyncReplicas(internalReplication),
                        "min.insync.replicas": minInSyncReplicas(internalReplication),
                        // KRaft's authorizer: a request no ACL allows is refused, but for the super users.
                        "authorizer.class.name": "org.apache.kafka.metadata.authorizer.StandardAuthorizer",
                        "super.users": superUsers,
                        "allow.everyone.if.no.acl.found": false,
                        // Only the provisioning Job creates topics, with their partitions, replication and config.
                        "auto.create.topics.enable": false,
                        // Producer and consumer sign in with SCRAM only: its credentials live in the metadata log, so
                        // a password the provisioning Job upserts replaces the old one at once, with no restart. PLAIN
                        // must stay enabled (chart 32.4.3 templates/_helpers.tpl kafka.validateValues.saslMechanisms
                        // wants the controller and inter-broker mechanisms among sasl.enabledMechanisms), and while it
                        // is, the chart's provisioning Job signs in with PLAIN (templates/provisioning/job.yaml,
                        // prepare-config), so the client listener's only PLAIN user is the topic admin. The nodes'
                        // prepare-config fills the placeholder as in the chart's own line (configure_kafka_sasl).
                        // engines/kafka.py (refusal kafka_client_plain) holds the real broker to it.
                        "listener.name.client.plain.sasl.jaas.config": `org.apache.kafka.common.security.plain.PlainLoginModule required user_${admin}="password-placeholder-${clientUsers.indexOf(admin)}";`,
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
                        // After the topic, the provisioning Job (as the admin, kafka-access-reconcile.sh) sets the
                        // client users' SCRAM credentials from these variables and adds their ACLs, every run.
                        topics: [topic],
                        // The Job is a post-upgrade hook, and Helm upgrades only when the values change: a new
                        // producer or consumer password in the Secret alone would never reach the brokers. Its
                        // digest in the pod's annotations makes the change an upgrade. Not secret: a SHA-256 of
                        // two random 32-character passwords reveals neither, and a secret would hide every value
                        // of the release from previews.
                        podAnnotations: {
                            "checksum/client-passwords-digest": pulumi.unsecret(
                                pulumi
                                    .all([producerPassword, consumerPassword])
                                    .apply(([p, c]) => crypto.createHash("sha256").update(`${p}\n${c}`).digest("hex")),
                            ),
                        },
                        postScript: topicReconcileScript([topic]) + "\n" + accessReconcileScript(scramUsers, grants),
                        extraEnvVars: [
                            { name: PRODUCER_PASSWORD_VARIABLE, valueFrom: { secretKeyRef: { name: SASL_SECRET, key: "producer-password" } } },
                            { name: CONSUMER_PASSWORD_VARIABLE, valueFrom: { secretKeyRef: { name: SASL_SECRET, key: "consumer-password" } } },
                        ],
                        // The chart's PEM client config (ssl.truststore.certificates and a key pair of the Job's own).
                        auth: {
                            tls: {
                                type: "PEM",
                                certificatesSecret: PROVISIONING_TLS_SECRET,
                                caCert: "ca.crt",
                                cert: "tls.crt",
                                key: "tls.key",
                                // Unencrypted key: the chart refuses these keys without a passwordsSecret.
                                keyPasswordSecretKey: "",
                                keystorePasswordSecretKey: "",
                                truststorePasswordSecretKey: "",
                            },
                        },
                        // The update waits for this hook Job: a preemption must not fail it. The chart offers no affinity here.
                        ...chartNodeSelector("on-demand", args.pools),
                    },
                },
            },
            { parent: this, dependsOn: [saslSecret, kraftSecret, tlsSecret, tlsPasswordsSecret, provisioningTlsSecret, partitions] },
        );

        // A name in the brokers' certificate (kafkaTls.ts), which clients verify.
        this.bootstrapServers = `${RELEASE}.${args.namespace}.svc.cluster.local:${CLIENT_PORT}`;
        this.clientEnvironment = {
            KAFKA_BOOTSTRAP_SERVERS: this.bootstrapServers,
            KAFKA_TOPIC: this.topic,
            KAFKA_SECURITY_PROTOCOL: this.securityProtocol,
            KAFKA_SASL_MECHANISM: this.saslMechanism,
        };
        const client = (user: string, password: pulumi.Output<string>, extra: Record<string, string> = {}): KafkaClient => ({
            environment: { ...this.clientEnvironment, KAFKA_SASL_USERNAME: user, ...extra },
            // The CA is not secret; it travels with the password because the charts' plain environment takes strings only.
            secretEnvironment: { KAFKA_SASL_PASSWORD: password, KAFKA_SSL_CA_PEM: certificates.caCertPem },
        });
        this.producer = client(producer, producerPassword);
        this.consumer = client(consumer, consumerPassword, { KAFKA_GROUP_ID_PREFIX: args.consumerGroupPrefix });
        this.registerOutputs({
            bootstrapServers: this.bootstrapServers,
            topic: this.topic,
            users: this.users,
            caCertPem: this.caCertPem,
        });
    }
}
