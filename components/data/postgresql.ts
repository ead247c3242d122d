import * as fs from "fs";
import * as path from "path";
import * as pulumi from "@pulumi/pulumi";
import * as k8s from "@pulumi/kubernetes";
import { bitnamiRelease } from "./bitnamiRelease";
import { postgresqlSchemaJob, SCHEMA_POD_LABELS, SecretKey } from "./postgresqlSchema";
import {
    caConfigMap,
    CLIENT_CA_PATH,
    CLIENT_SSLMODE,
    LOOPBACK,
    pgHbaConfiguration,
    postgresqlCertificates,
    REPLICATION_USER,
    TLS_CA_FILE,
    TLS_CERT_FILE,
    TLS_KEY_FILE,
    TLS_SECRET,
} from "./postgresqlTls";
import {
    containerResources,
    fixedNamespace,
    fixedSecret,
    generatedPassword,
    ONE_AT_A_TIME,
    volumeRetention,
    zoneSpread,
} from "../k8s/kubernetesObjects";
import { bitnamiPods, PodSet } from "../k8s/networkIsolation";
import { ScrapeTarget } from "../k8s/monitoring";
import { chartScheduling, PoolLayout } from "../k8s/placement";

export interface PostgresqlArgs {
    /** Namespace created for PostgreSQL. */
    readonly namespace: string;
    /** CPU request of each instance, primary and replicas alike, such as 250m (config `postgresqlCpu`). */
    readonly cpu: string;
    /** Memory request and limit of each instance, in Mi or Gi (config `postgresqlMemory`). */
    readonly memory: string;
    /** Persistent volume size of each instance, in Gi (config `postgresqlStorage`). */
    readonly storage: string;
    /** Databases to create, each owned by a role of the same name that can reach no other. */
    readonly databases: readonly string[];
    /** Asynchronous streaming replicas; 0 runs the primary alone (config `postgresqlReadReplicas`). */
    readonly readReplicas: number;
    /** Registry of the Bitnami images (config `imageRegistry`, or the Docker Hub mirror with `dockerHubMirror`). */
    readonly imageRegistry: pulumi.Input<string>;
    /** Keep the volumes when the release goes (config `deletionProtection`). */
    readonly retainVolumes: boolean;
    /** Put the primary and its replicas in different zones; true on a regional cluster (config `regional`). */
    readonly zoneSpread: boolean;
    /** Node pools to place the pods on (components/k8s/placement.ts). */
    readonly pools?: PoolLayout;
}

export interface DatabaseCredentials {
    readonly database: string;
    readonly username: string;
    readonly password: pulumi.Output<string>;
}

const ADMIN_SECRET = "postgresql-admin";
/** Where the chart mounts ADMIN_SECRET (auth.usePasswordFiles). */
const SECRETS_DIR = "/opt/bitnami/postgresql/secrets";
const EXPORTER_CA_KEY = "ca.crt";
/**
 * The exporter's data source, a file: postgres_exporter reads DATA_SOURCE_URI_FILE before DATA_SOURCE_URI
 * (cmd/postgres_exporter/datasource.go getDataSources), so the chart's own DATA_SOURCE_URI, with its fixed
 * sslmode=disable, stays unread, and no name is declared twice in the container.
 */
const EXPORTER_DATA_SOURCE_KEY = "exporter-data-source-uri";
const ADMIN_PASSWORD_KEY = "postgres-password";
const INITDB_SECRET = "postgresql-initdb";
const INITDB_KEY = "10-application-databases.sql";
const INITDB_TEMPLATE_FILE = path.resolve(__dirname, "..", "..", "helm-values", "postgresql-initdb.sql");

/** The psql script that creates each database and its owner; idempotent, run by the schema Job on every change. */
export function initdbScript(databases: readonly { database: string; password: string }[]): string {
    const template = fs.readFileSync(INITDB_TEMPLATE_FILE, "utf8");
    return databases
        .map(({ database, password }) => `\\set db ${database}\n\\set owner ${database}\n\\set password ${password}\n${template}`)
        .join("\n");
}

/** One PostgreSQL instance serving several applications, each in its own database as its own role. */
export class Postgresql extends pulumi.ComponentResource {
    readonly namespace: k8s.core.v1.Namespace;
    readonly release: k8s.helm.v3.Release;
    /**
     * Applies every database, owner and password to the running primary; complete once they exist.
     * Whatever connects as an application role should depend on this, not only on the release.
     */
    readonly schema: k8s.batch.v1.Job;
    readonly host: string;
    readonly port = 5432;
    /** The primary's pods, the only ones that accept writes. */
    readonly primaryPods: PodSet;
    /** postgres-exporter beside the primary and each read replica (helm-values/postgresql.yaml metrics): port "http-metrics". */
    readonly metrics: ScrapeTarget;
    /** The schema Job's pods, which connect to the primary as the admin. */
    readonly schemaPods: PodSet;
    readonly credentials: Readonly<Record<string, DatabaseCredentials>>;
    /** The application databases, in the order given. */
    readonly databases: readonly string[];
    /** The admin (postgres) password's Secret and key, for jobs that connect as the admin (the schema Job, backups). */
    readonly adminPassword: SecretKey;
    /** The CA certificate (public) the server's certificate is signed with, which every client verifies it against. */
    readonly caCertificate: pulumi.Output<string>;

    /**
     * How a client reaches one of the databases as its owner (the POSTGRES_* contract of pipeline/spark): over TLS,
     * verifying the server's certificate and name against the CA at POSTGRES_SSLROOTCERT, which the client
     * mounts from caConfigMap.
     */
    clientEnvironment(database: string): { environment: Record<string, string>; secretEnvironment: Record<string, pulumi.Output<string>> } {
        const credentials = this.credentials[database];
        return {
            environment: {
                POSTGRES_HOST: this.host,
                POSTGRES_PORT: String(this.port),
                POSTGRES_DB: credentials.database,
                POSTGRES_USER: credentials.username,
                POSTGRES_SSLMODE: CLIENT_SSLMODE,
                POSTGRES_SSLROOTCERT: CLIENT_CA_PATH,
            },
            secretEnvironment: { POSTGRES_PASSWORD: credentials.password },
        };
    }

    /** The CA certificate as the ConfigMap `postgresql-ca` in a client's namespace (mount it at CLIENT_CA_DIR). */
    caConfigMap(name: string, namespace: pulumi.Input<string>): k8s.core.v1.ConfigMap {
        return caConfigMap(name, namespace, this.caCertificate, this);
    }

    constructor(name: string, args: PostgresqlArgs, opts?: pulumi.ComponentResourceOptions) {
        super("streaming-platform:data:Postgresql", name, {}, opts);
        this.namespace = fixedNamespace(args.namespace, this);
        this.primaryPods = bitnamiPods(this.namespace.metadata.name, "postgresql", "primary");
        this.metrics = {
            name: "postgresql",
            pods: bitnamiPods(this.namespace.metadata.name, "postgresql"),
            portName: "http-metrics",
            port: 9187,
            path: "/metrics",
            why: "postgres-exporter",
        };
        this.schemaPods = { namespace: this.namespace.metadata.name, labels: SCHEMA_POD_LABELS };
        this.databases = [...args.databases];
        this.credentials = Object.fromEntries(
            args.databases.map((database) => [
                database,
                {
                    database,
                    username: database,
                    password: generatedPassword(`${name}-${database}-password`, this),
                },
            ]),
        );

        // Generated once and kept in state: a deployment never rotates them (docs/runbook.md for a deliberate rotation).
        const certificates = postgresqlCertificates(
            `${name}-tls`,
            { release: "postgresql", namespace: args.namespace, namespaceResource: this.namespace.metadata.name },
            this,
        );
        this.caCertificate = certificates.caCertificate;
        // The chart mounts this Secret at SECRETS_DIR in the server's and the exporter's containers (postgresql 16.7.27
        // templates/primary/statefulset.yaml, read/statefulset.yaml: volume postgresql-password), the one place the
        // exporter can read a file from: its data source and the CA it verifies the server with live here.
        const adminSecret = fixedSecret(
            ADMIN_SECRET,
            this.namespace,
            {
                [ADMIN_PASSWORD_KEY]: generatedPassword(`${name}-admin-password`, this),
                "replication-password": generatedPassword(`${name}-replication-password`, this),
                [EXPORTER_CA_KEY]: certificates.caCertificate,
                [EXPORTER_DATA_SOURCE_KEY]: `${LOOPBACK}:${this.port}/postgres?sslmode=verify-full&sslrootcert=${SECRETS_DIR}/${EXPORTER_CA_KEY}`,
            },
            this,
        );
        this.adminPassword = { name: adminSecret.metadata.name, key: ADMIN_PASSWORD_KEY };
        // A Secret, not the chart's initdb.scripts ConfigMap: the script carries the passwords.
        const script = pulumi
            .all(Object.values(this.credentials).map((c) => c.password.apply((password) => ({ database: c.database, password }))))
            .apply(initdbScript);
        const initdbSecret = fixedSecret(INITDB_SECRET, this.namespace, { [INITDB_KEY]: script }, this);
        // For the schema Job and the backups, which run in this namespace.
        const localCa = this.caConfigMap(`${name}-ca`, this.namespace.metadata.name);

        const hba = pgHbaConfiguration(args.databases);
        const instance = {
            resources: containerResources(args.cpu, args.memory),
            persistence: { size: args.storage },
            persistentVolumeClaimRetentionPolicy: volumeRetention(args.retainVolumes),
            pdb: ONE_AT_A_TIME,
            ...chartScheduling("on-demand", args.pools),
            topologySpreadConstraints: args.zoneSpread ? zoneSpread({ "app.kubernetes.io/instance": "postgresql" }, true) : [],
        };
        this.release = bitnamiRelease(
            {
                chart: "postgresql",
                namespace: this.namespace.metadata.name,
                imageRegistry: args.imageRegistry,
                timeoutSeconds: 600,
                values: {
                    // Always the replication layout, with zero or more read replicas: the standalone layout names
                    // its StatefulSet and volume differently, so adding a replica later would start from an empty disk.
                    architecture: "replication",
                    auth: { existingSecret: ADMIN_SECRET, replicationUsername: REPLICATION_USER },
                    // TLS with the program's certificates. No certCAFilename: with it the server would ask every client
                    // for a certificate, the probes would present the server's own (templates/primary/statefulset.yaml
                    // readinessProbe), and the image would put `hostssl all all 0.0.0.0/0 cert` first in the replicas'
                    // pg_hba (bitnami/containers postgresql 17 libpostgresql.sh postgresql_tls_auth_configuration).
                    // Clients authenticate by password; they verify the server with the CA from caConfigMap.
                    tls: {
                        enabled: true,
                        certificatesSecret: TLS_SECRET,
                        certFilename: TLS_CERT_FILE,
                        certKeyFilename: TLS_KEY_FILE,
                    },
                    primary: {
                        // Mounted from the chart's ConfigMap and applied as is after initialisation (bitnami/containers
                        // postgresql 17 postgresql-setup.sh: "Set custom pg_hba.conf after initialization").
                        pgHbaConfiguration: hba,
                        // Kept, although the schema Job below is what keeps the databases in step: on the very first
                        // start the chart runs the same script once more (harmless, it is idempotent; unchecked, which
                        // the Job makes up for). Dropping it would change the primary's pod template (the initdb volume)
                        // and so restart the primary of every existing stack, for no gain.
                        initdb: { scriptsSecret: INITDB_SECRET },
                        ...instance,
                    },
                    readReplicas: {
                        replicaCount: args.readReplicas,
                        ...instance,
                        // The chart has no pg_hba setting for the replicas: they get the primary's, from the ConfigMap the
                        // chart renders for it, mounted where the image looks for a custom one (POSTGRESQL_MOUNTED_CONF_DIR),
                        // as the chart mounts it on the primary. Without it a replica would accept password logins without TLS.
                        extraVolumes: [
                            {
                                name: "pg-hba",
                                configMap: { name: "postgresql-primary-configuration", items: [{ key: "pg_hba.conf", path: "pg_hba.conf" }] },
                            },
                        ],
                        extraVolumeMounts: [{ name: "pg-hba", mountPath: "/bitnami/postgresql/conf" }],
                        // The walreceiver's primary_conninfo names no sslmode (bitnami/containers postgresql 17
                        // libpostgresql.sh postgresql_configure_recovery), so libpq takes these from the server's
                        // environment: the replica verifies the primary's name (postgresql-primary, in the
                        // certificate) against the CA the copy-certs init container puts beside the server's pair.
                        extraEnvVars: [
                            { name: "PGSSLMODE", value: "verify-full" },
                            { name: "PGSSLROOTCERT", value: `/opt/bitnami/postgresql/certs/${TLS_CA_FILE}` },
                        ],
                    },
                    metrics: { extraEnvVars: [{ name: "DATA_SOURCE_URI_FILE", value: `${SECRETS_DIR}/${EXPORTER_DATA_SOURCE_KEY}` }] },
                },
            },
            { parent: this, dependsOn: [adminSecret, initdbSecret, certificates.secret] },
        );

        // In the replication layout the chart names the writable service <release>-primary.
        this.host = `postgresql-primary.${args.namespace}.svc.cluster.local`;

        // After the release is ready (Helm waits for the primary), and again whenever the script changes.
        this.schema = postgresqlSchemaJob(
            `${name}-schema`,
            {
                namespace: this.namespace.metadata.name,
                host: this.host,
                port: this.port,
                imageRegistry: args.imageRegistry,
                adminPassword: this.adminPassword,
                script: { name: initdbSecret.metadata.name, key: INITDB_KEY },
                scriptContent: script,
                pools: args.pools,
            },
            { parent: this, dependsOn: [this.release, adminSecret, initdbSecret, localCa] },
        );
        this.registerOutputs({ host: this.host, port: this.port, databases: args.databases, schema: this.schema.metadata.name });
    }
}
