import * as pulumi from "@pulumi/pulumi";
import * as k8s from "@pulumi/kubernetes";
import { bitnamiRelease } from "./bitnamiRelease";
import {
    containerResources, fixedNamespace, fixedSecret, generatedPassword, ONE_AT_A_TIME, randomBase64Url, volumeRetention, zoneSpread,
} from "./kubernetesObjects";
import { serviceValues, UiEndpoint, uiEndpoint, UiExposureArgs } from "./uiEndpoint";

export interface AirflowDatabaseArgs {
    readonly host: pulumi.Input<string>;
    readonly port: pulumi.Input<number>;
    readonly database: pulumi.Input<string>;
    readonly username: pulumi.Input<string>;
    readonly password: pulumi.Input<string>;
}

export interface AirflowArgs {
    readonly namespace: string;
    readonly executor: "LocalExecutor" | "CeleryExecutor" | "KubernetesExecutor";
    /** Replicas of the API server, the scheduler and (Celery) the workers. */
    readonly replicas: number;
    readonly database: AirflowDatabaseArgs;
    readonly uiExposure: UiExposureArgs;
    readonly imageRegistry: pulumi.Input<string>;
    /** Keep Redis's volume when the release goes (prod). */
    readonly retainVolumes: boolean;
    /** Prefer replicas of each component in different zones. */
    readonly zoneSpread: boolean;
}

const CREDENTIALS_SECRET = "airflow-credentials";
const DATABASE_SECRET = "airflow-database";
const REDIS_SECRET = "airflow-redis";
export const AIRFLOW_ADMIN_USER = "admin";

/** Airflow 3 on an external PostgreSQL, with every credential generated and handed over by Secret. */
export class Airflow extends pulumi.ComponentResource {
    readonly namespace: k8s.core.v1.Namespace;
    readonly release: k8s.helm.v3.Release;
    readonly ui: UiEndpoint;
    readonly adminUser = AIRFLOW_ADMIN_USER;
    readonly adminPassword: pulumi.Output<string>;

    constructor(name: string, args: AirflowArgs, opts?: pulumi.ComponentResourceOptions) {
        super("streaming-platform:data:Airflow", name, {}, opts);
        this.namespace = fixedNamespace(args.namespace, this);
        this.adminPassword = generatedPassword(`${name}-admin-password`, this);

        const secrets = [
            // Key names are the ones the chart reads; Airflow 3 adds the JWT signing key.
            fixedSecret(CREDENTIALS_SECRET, this.namespace, {
                "airflow-password": this.adminPassword,
                // Fernet keys are url-safe base64 of exactly 32 random bytes.
                "airflow-fernet-key": randomBase64Url(`${name}-fernet-key`, 32, true, this),
                "airflow-secret-key": generatedPassword(`${name}-secret-key`, this),
                "airflow-jwt-secret-key": generatedPassword(`${name}-jwt-secret-key`, this),
            }, this),
            fixedSecret(DATABASE_SECRET, this.namespace, { password: args.database.password }, this),
        ];
        const celery = args.executor === "CeleryExecutor";
        if (celery) {
            secrets.push(fixedSecret(REDIS_SECRET, this.namespace, { "redis-password": generatedPassword(`${name}-redis-password`, this) }, this));
        }

        const replicated = (component: string) => ({
            replicaCount: args.replicas,
            pdb: ONE_AT_A_TIME,
            topologySpreadConstraints: args.zoneSpread
                ? zoneSpread({ "app.kubernetes.io/instance": "airflow", "app.kubernetes.io/component": component }, false)
                : [],
        });
        this.release = bitnamiRelease({
            chart: "airflow",
            namespace: this.namespace.metadata.name,
            imageRegistry: args.imageRegistry,
            // First installs pull a 1.5 GB image and migrate the database before anything is ready.
            timeoutSeconds: 1800,
            // Only the connection's names go into values: the password travels by Secret.
            values: pulumi.all([args.database.host, args.database.port, args.database.database, args.database.username])
                .apply(([host, port, database, user]) => ({
                    executor: args.executor,
                    auth: { existingSecret: CREDENTIALS_SECRET },
                    externalDatabase: {
                        host,
                        port,
                        database,
                        user,
                        existingSecret: DATABASE_SECRET,
                        existingSecretPasswordKey: "password",
                    },
                    redis: celery
                        ? {
                            enabled: true,
                            auth: { enabled: true, existingSecret: REDIS_SECRET, existingSecretPasswordKey: "redis-password" },
                            master: {
                                resources: containerResources("100m", "256Mi"),
                                persistence: { size: "2Gi" },
                                persistentVolumeClaimRetentionPolicy: volumeRetention(args.retainVolumes),
                            },
                        }
                        : { enabled: false },
                    web: replicated("web"),
                    scheduler: replicated("scheduler"),
                    ...(celery ? { worker: replicated("worker") } : {}),
                    service: serviceValues(args.uiExposure),
                })),
        }, { parent: this, dependsOn: secrets });

        this.ui = uiEndpoint("airflow", args.namespace, 8080, 8080, args.uiExposure);
        this.registerOutputs({ ui: this.ui, adminUser: this.adminUser, adminPassword: this.adminPassword });
    }
}
