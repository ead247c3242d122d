import * as fs from "fs";
import * as path from "path";
import * as pulumi from "@pulumi/pulumi";
import * as k8s from "@pulumi/kubernetes";
import { bitnamiRelease } from "./bitnamiRelease";
import {
    containerResources, fixedNamespace, fixedSecret, generatedPassword, ONE_AT_A_TIME, volumeRetention, zoneSpread,
} from "../k8s/kubernetesObjects";

export interface PostgresqlArgs {
    readonly namespace: string;
    readonly cpu: string;
    readonly memory: string;
    readonly storage: string;
    /** Databases to create, each owned by a role of the same name that can reach no other. */
    readonly databases: readonly string[];
    /** Asynchronous streaming replicas; 0 runs a single standalone instance. */
    readonly readReplicas: number;
    readonly imageRegistry: pulumi.Input<string>;
    /** Keep the volumes when the release goes (prod). */
    readonly retainVolumes: boolean;
    /** Put the primary and its replicas in different zones. */
    readonly zoneSpread: boolean;
}

export interface DatabaseCredentials {
    readonly database: string;
    readonly username: string;
    readonly password: pulumi.Output<string>;
}

const ADMIN_SECRET = "postgresql-admin";
const INITDB_SECRET = "postgresql-initdb";
const INITDB_TEMPLATE = fs.readFileSync(path.resolve(__dirname, "..", "..", "helm-values", "postgresql-initdb.sql"), "utf8");

/** The psql script that creates each database and its owner, run by the chart on the first start. */
export function initdbScript(databases: readonly { database: string; password: string }[]): string {
    return databases.map(({ database, password }) =>
        `\\set db ${database}\n\\set owner ${database}\n\\set password ${password}\n${INITDB_TEMPLATE}`).join("\n");
}

/** One PostgreSQL instance serving several applications, each in its own database as its own role. */
export class Postgresql extends pulumi.ComponentResource {
    readonly namespace: k8s.core.v1.Namespace;
    readonly release: k8s.helm.v3.Release;
    readonly host: string;
    readonly port = 5432;
    readonly credentials: Readonly<Record<string, DatabaseCredentials>>;

    constructor(name: string, args: PostgresqlArgs, opts?: pulumi.ComponentResourceOptions) {
        super("streaming-platform:data:Postgresql", name, {}, opts);
        this.namespace = fixedNamespace(args.namespace, this);
        this.credentials = Object.fromEntries(args.databases.map((database) => [database, {
            database,
            username: database,
            password: generatedPassword(`${name}-${database}-password`, this),
        }]));

        const adminSecret = fixedSecret(ADMIN_SECRET, this.namespace, {
            "postgres-password": generatedPassword(`${name}-admin-password`, this),
            "replication-password": generatedPassword(`${name}-replication-password`, this),
        }, this);
        // A Secret, not the chart's initdb.scripts ConfigMap: the script carries the passwords.
        const initdbSecret = fixedSecret(INITDB_SECRET, this.namespace, {
            "10-application-databases.sql": pulumi.all(Object.values(this.credentials).map((c) =>
                c.password.apply((password) => ({ database: c.database, password })))).apply(initdbScript),
        }, this);

        const instance = {
            resources: containerResources(args.cpu, args.memory),
            persistence: { size: args.storage },
            persistentVolumeClaimRetentionPolicy: volumeRetention(args.retainVolumes),
            pdb: ONE_AT_A_TIME,
            topologySpreadConstraints: args.zoneSpread ? zoneSpread({ "app.kubernetes.io/instance": "postgresql" }, true) : [],
        };
        this.release = bitnamiRelease({
            chart: "postgresql",
            namespace: this.namespace.metadata.name,
            imageRegistry: args.imageRegistry,
            timeoutSeconds: 600,
            values: {
                // Always the replication layout, with zero or more read replicas: the standalone layout names
                // its StatefulSet and volume differently, so adding a replica later would start from an empty disk.
                architecture: "replication",
                auth: { existingSecret: ADMIN_SECRET },
                primary: {
                    initdb: { scriptsSecret: INITDB_SECRET },
                    ...instance,
                },
                readReplicas: { replicaCount: args.readReplicas, ...instance },
            },
        }, { parent: this, dependsOn: [adminSecret, initdbSecret] });

        // In the replication layout the chart names the writable service <release>-primary.
        this.host = `postgresql-primary.${args.namespace}.svc.cluster.local`;
        this.registerOutputs({ host: this.host, port: this.port, databases: args.databases });
    }
}
