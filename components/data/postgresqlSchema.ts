import { createHash } from "crypto";
import * as pulumi from "@pulumi/pulumi";
import * as k8s from "@pulumi/kubernetes";
import { chartImage } from "./charts";
import { containerResources, readOnlyRestrictedContainer, restrictedPodSecurity } from "../k8s/kubernetesObjects";
import { podScheduling, PoolLayout } from "../k8s/placement";
import { caVolume, LIBPQ_TLS_ENV } from "./postgresqlTls";

/** A key of a Secret in the Job's namespace. */
export interface SecretKey {
    /** Name of the Secret. */
    readonly name: pulumi.Input<string>;
    /** Key of the value in the Secret's data. */
    readonly key: string;
}

export interface PostgresqlSchemaArgs {
    /** Namespace the Job runs in, PostgreSQL's; both Secrets must be there. */
    readonly namespace: pulumi.Input<string>;
    /** The primary's Service: the only instance that accepts writes. */
    readonly host: string;
    /** TCP port of PostgreSQL. */
    readonly port: number;
    /** Registry of the chart's PostgreSQL image, as the release gets it. */
    readonly imageRegistry: pulumi.Input<string>;
    /** The admin (postgres) password. */
    readonly adminPassword: SecretKey;
    /** The rendered psql script (see helm-values/postgresql-initdb.sql). */
    readonly script: SecretKey;
    /** The same script's content: only its hash is used, to start a new run whenever it changes. */
    readonly scriptContent: pulumi.Input<string>;
    /** Node pools to place the pod on: the on-demand pool, as the update waits for the Job (components/k8s/placement.ts). */
    readonly pools?: PoolLayout;
}

/** The labels of the schema Job's pods. */
export const SCHEMA_POD_LABELS: Readonly<Record<string, string>> = {
    "app.kubernetes.io/name": "postgresql-schema",
    "app.kubernetes.io/component": "schema",
    "app.kubernetes.io/part-of": "streaming-platform",
};

/** The image's own user (Dockerfile `USER 1001`), also what the chart runs PostgreSQL as. */
const IMAGE_USER = 1001;
const SCRIPT_DIR = "/schema";
const SCRIPT_FILE = "schema.sql";

/**
 * Short content hash of the rendered script. The script holds passwords: a truncated SHA-256 of ~190-bit
 * random passwords reveals nothing about them, so the hash may appear in plain names and annotations.
 */
export function schemaRevision(script: string): string {
    return createHash("sha256").update(script).digest("hex").slice(0, 12);
}

/** The Job's name for a script: a new script (database, role or password added or changed) is a new Job. */
export function schemaJobName(script: string): string {
    return `postgresql-schema-${schemaRevision(script)}`;
}

/**
 * A Job that applies the databases, roles and passwords to the running primary with psql, on every
 * deployment that changes them. bitnami/postgresql only runs primary.initdb scripts on an empty volume:
 * libpostgresql.sh (bitnami/containers, bitnami/postgresql/17/debian-12/rootfs/opt/bitnami/scripts)
 * postgresql_custom_init_scripts runs them only while $POSTGRESQL_VOLUME_DIR/.user_scripts_initialized is
 * absent, feeds each .sql file to postgresql_execute, which runs psql without ON_ERROR_STOP and sends its
 * output to /dev/null, and ignores its exit status. So a database or role added later, or a changed password,
 * would never reach an existing server, and an error would go unnoticed.
 *
 * Here psql runs with ON_ERROR_STOP, so any failing statement fails the Job, and Pulumi's Kubernetes
 * provider waits for a Job to complete (or fails the update), so whatever depends on the Job starts only
 * once the databases exist. Both passwords and the script come from Secrets by reference.
 */
export function postgresqlSchemaJob(name: string, args: PostgresqlSchemaArgs, opts: pulumi.CustomResourceOptions): k8s.batch.v1.Job {
    // Unsecret: the hash is safe to show (see schemaRevision), and a secret name would hide the whole Job in previews.
    const revision = pulumi.unsecret(pulumi.output(args.scriptContent).apply(schemaRevision));
    const labels = SCHEMA_POD_LABELS;
    return new k8s.batch.v1.Job(
        name,
        {
            metadata: {
                // The revision in the name: a changed script is a new Job, which Pulumi creates and waits for.
                name: pulumi.interpolate`postgresql-schema-${revision}`,
                namespace: args.namespace,
                labels,
                annotations: {
                    // A run that failed (server down, bad SQL) is started afresh by the next `pulumi up`
                    // instead of being waited on again (@pulumi/kubernetes batch/v1 Job documentation).
                    "pulumi.com/replaceUnready": "true",
                },
            },
            spec: {
                backoffLimit: 2,
                activeDeadlineSeconds: 300,
                // No ttlSecondsAfterFinished: a Job that deletes itself would look deleted to `pulumi refresh`.
                template: {
                    metadata: { labels, annotations: { "streaming-platform/schema-revision": revision } },
                    spec: {
                        restartPolicy: "Never",
                        ...podScheduling("on-demand", args.pools),
                        automountServiceAccountToken: false,
                        enableServiceLinks: false,
                        securityContext: restrictedPodSecurity(IMAGE_USER),
                        containers: [
                            {
                                name: "psql",
                                image: pulumi.output(args.imageRegistry).apply((registry) => chartImage("postgresql", registry)),
                                imagePullPolicy: "IfNotPresent",
                                // Replaces the image's entrypoint; psql is on the image's PATH (/opt/bitnami/postgresql/bin).
                                // -X: no psqlrc. VERBOSITY=terse: an error names no statement text, which may hold a password.
                                command: ["psql", "-X", "-v", "ON_ERROR_STOP=1", "-v", "VERBOSITY=terse", "-f", `${SCRIPT_DIR}/${SCRIPT_FILE}`],
                                env: [
                                    { name: "PGHOST", value: args.host },
                                    { name: "PGPORT", value: String(args.port) },
                                    { name: "PGUSER", value: "postgres" },
                                    { name: "PGDATABASE", value: "postgres" },
                                    { name: "PGCONNECT_TIMEOUT", value: "10" },
                                    { name: "PGAPPNAME", value: "postgresql-schema" },
                                    // TLS required, the server verified against the CA in the postgresql-ca ConfigMap.
                                    ...LIBPQ_TLS_ENV,
                                    {
                                        name: "PGPASSWORD",
                                        valueFrom: { secretKeyRef: { name: args.adminPassword.name, key: args.adminPassword.key } },
                                    },
                                ],
                                resources: containerResources("50m", "64Mi"),
                                securityContext: readOnlyRestrictedContainer(IMAGE_USER),
                                volumeMounts: [
                                    { name: "script", mountPath: SCRIPT_DIR, readOnly: true },
                                    { name: "tmp", mountPath: "/tmp" },
                                    caVolume().mount,
                                ],
                            },
                        ],
                        volumes: [
                            {
                                name: "script",
                                secret: { secretName: args.script.name, items: [{ key: args.script.key, path: SCRIPT_FILE }], defaultMode: 0o440 },
                            },
                            { name: "tmp", emptyDir: { medium: "Memory", sizeLimit: "16Mi" } },
                            caVolume().volume,
                        ],
                    },
                },
            },
        },
        {
            ...opts,
            // The pod template of a Job is immutable: any other change to it (image, resources) has to replace
            // the Job, under the same name, so the old one goes first.
            replaceOnChanges: ["spec.template"],
            deleteBeforeReplace: true,
            // The component is protected on prod (index.ts passes `protect` to it and children inherit it); a
            // protected Job could never be replaced, so every change of databases or passwords would block
            // `pulumi up`. The Job holds no data: deleting it loses nothing.
            protect: false,
        },
    );
}
