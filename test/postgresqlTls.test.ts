import { strict as assert } from "assert";
import { ofType } from "../offline/harness";
import { programObjects } from "../offline/programObjects";
import { findObject, Manifest, ofKind, podTemplate, renderRelease } from "../offline/render";
import { evaluated } from "../offline/stackQueries";
import { StackRun } from "../offline/harness";
import { TYPES } from "../offline/resourceTypes";
import { CLIENT_CA_PATH, pgHbaConfiguration, TLS_SECRET } from "../components/data/postgresqlTls";

const envOf = (container: any): Record<string, any> => Object.fromEntries((container.env ?? []).map((e: any) => [e.name, e.value ?? e.valueFrom]));
const TLS_ENV = { PGSSLMODE: "verify-full", PGSSLROOTCERT: CLIENT_CA_PATH };

describe("PostgreSQL TLS and pg_hba", () => {
    // Only the releases PostgreSQL and its clients are in (what renderStack does for all of them).
    let stack: { run: StackRun; objects: Manifest[] };
    before(async function () {
        this.timeout(300_000);
        const run = await evaluated("dev");
        assert.equal(run.error, undefined, run.error?.stack);
        const releases = ofType(run, TYPES.helmRelease).filter((r) => ["postgresql", "airflow"].includes(r.name));
        stack = { run, objects: [...releases.flatMap((r) => renderRelease(r).objects), ...programObjects(run)] };
    });

    it("runs the primary with the program's certificate and the rendered pg_hba", () => {
        const primary = findObject(stack.objects, "StatefulSet", "postgresql", "postgresql-primary");
        const container = podTemplate(primary).spec.containers.find((c: any) => c.name === "postgresql");
        const env = envOf(container);
        assert.equal(env.POSTGRESQL_ENABLE_TLS, "yes");
        assert.equal(env.POSTGRESQL_TLS_CERT_FILE, "/opt/bitnami/postgresql/certs/tls.crt");
        assert.equal(env.POSTGRESQL_TLS_KEY_FILE, "/opt/bitnami/postgresql/certs/tls.key");
        assert.equal(env.POSTGRESQL_TLS_CA_FILE, undefined, "no client certificates are asked for");
        const volumes = podTemplate(primary).spec.volumes;
        assert.deepEqual(volumes.find((v: any) => v.name === "raw-certificates").secret.secretName, TLS_SECRET);
        const config = findObject(stack.objects, "ConfigMap", "postgresql", "postgresql-primary-configuration");
        const hba: string = config.data["pg_hba.conf"];
        assert.equal(hba.trim(), pgHbaConfiguration(["airflow", "pipeline"]).trim());
        const rules = hba.split("\n").filter((line) => line.trim() && !line.startsWith("#"));
        assert.ok(
            rules.every((line) => /^(hostssl|local)\s/.test(line) || /\sreject$/.test(line)),
            rules.join("\n"),
        );
        assert.ok(rules.includes("hostssl  pipeline  pipeline  0.0.0.0/0  scram-sha-256"));
        assert.ok(rules.includes("hostssl  airflow  airflow  0.0.0.0/0  scram-sha-256"));
        assert.ok(/^host\s+all\s+all\s+::\/0\s+reject$/.test(rules[rules.length - 1]));
    });

    it("gives the read replicas the primary's pg_hba", () => {
        const release = ofType(stack.run, TYPES.helmRelease).find((r) => r.name === "postgresql")!;
        const read = release.inputs.values.readReplicas;
        assert.equal(read.extraVolumes[0].configMap.name, "postgresql-primary-configuration");
        assert.equal(read.extraVolumeMounts[0].mountPath, "/bitnami/postgresql/conf");
    });

    it("makes the read replicas verify the primary: walreceiver and probes with verify-full and the program's CA", async () => {
        // dev has no replica; the Celery variant adds one.
        const run = await evaluated("dev", { postgresqlReadReplicas: 1 });
        const release = ofType(run, TYPES.helmRelease).find((r) => r.name === "postgresql")!;
        const objects = [...renderRelease(release).objects, ...programObjects(run)];
        const read = findObject(objects, "StatefulSet", "postgresql", "postgresql-read");
        const spec = podTemplate(read).spec;
        const env = envOf(spec.containers.find((c: any) => c.name === "postgresql"));
        assert.equal(env.PGSSLMODE, "verify-full");
        // The copy-certs init container copies every key of the TLS Secret next to the server's pair.
        const copy = spec.initContainers.find((c: any) => c.name === "copy-certs");
        assert.match([...(copy.command ?? []), ...(copy.args ?? [])].join(" "), /cp \/tmp\/certs\/\* \/opt\/bitnami\/postgresql\/certs\//);
        assert.equal(spec.volumes.find((v: any) => v.name === "raw-certificates").secret.secretName, TLS_SECRET);
        const ca = env.PGSSLROOTCERT as string;
        assert.ok(ca.startsWith("/opt/bitnami/postgresql/certs/"));
        assert.ok(
            Object.keys(ofType(run, TYPES.secret).find((s) => s.inputs.metadata?.name === TLS_SECRET)!.inputs.stringData).includes(
                ca.split("/").pop()!,
            ),
        );
        // verify-full checks the name the replica dials, and the loopback address its probes and the exporter use.
        const request = ofType(run, TYPES.tlsCertRequest).find((r) => r.name.startsWith("postgresql-tls-server"))!;
        assert.ok(request.inputs.dnsNames.includes(env.POSTGRES_MASTER_HOST), env.POSTGRES_MASTER_HOST);
        assert.deepEqual(request.inputs.ipAddresses, ["127.0.0.1"]);
    });

    it("keeps the private key secret and the Secret by reference only", () => {
        const secret = ofType(stack.run, TYPES.secret).find((s) => s.inputs.metadata?.name === TLS_SECRET)!;
        assert.ok(secret.secretInputs.has("stringData"), "the Secret's data is a secret in state");
        assert.deepEqual(Object.keys(secret.inputs.stringData).sort(), ["ca.crt", "tls.crt", "tls.key"]);
        const release = ofType(stack.run, TYPES.helmRelease).find((r) => r.name === "postgresql")!;
        assert.ok(!JSON.stringify(release.inputs.values).includes("PRIVATE KEY"), "no key in Helm values");
        const ours = (type: string) => ofType(stack.run, type).filter((r) => r.name.startsWith("postgresql-tls-"));
        assert.deepEqual(
            ours(TYPES.tlsPrivateKey).map((k) => k.inputs.algorithm),
            ["ECDSA", "ECDSA"],
        );
        const [ca] = ours(TYPES.tlsSelfSignedCert);
        assert.equal(ca.inputs.isCaCertificate, true);
        assert.ok(ca.secretInputs.has("privateKeyPem"), "the CA's key is a secret in state");
    });

    it("makes every client require TLS and verify the server", () => {
        const job = ofKind(stack.objects, "Job").find((j) => j.metadata.name.startsWith("postgresql-schema"))!;
        const cron = findObject(stack.objects, "CronJob", "postgresql", "postgresql-backup");
        const driver = findObject(stack.objects, "Deployment", "spark", "crypto-ticks-stream");
        const schemaEnv = envOf(podTemplate(job).spec.containers[0]);
        const backupPod = cron.spec.jobTemplate.spec.template.spec;
        const backupEnv = envOf([...(backupPod.initContainers ?? []), ...backupPod.containers].find((c: any) => c.name === "pg-dump"));
        for (const env of [schemaEnv, backupEnv]) {
            assert.deepEqual({ PGSSLMODE: env.PGSSLMODE, PGSSLROOTCERT: env.PGSSLROOTCERT }, TLS_ENV);
        }
        const driverContainer = podTemplate(driver).spec.containers[0];
        const driverEnv = envOf(driverContainer);
        assert.equal(driverEnv.POSTGRES_SSLMODE, "verify-full");
        assert.equal(driverEnv.POSTGRES_SSLROOTCERT, CLIENT_CA_PATH);
        assert.ok(driverContainer.volumeMounts.some((m: any) => CLIENT_CA_PATH.startsWith(m.mountPath + "/")));
        const airflowWeb = ofKind(stack.objects, "Deployment").find((d) => d.metadata.name === "airflow-web")!;
        const spec = podTemplate(airflowWeb).spec;
        for (const container of [
            ...spec.initContainers.filter((c: any) => c.name === "wait-for-db-migrations"),
            ...spec.containers.filter((c: any) => c.name !== "sync-dags"),
        ]) {
            const env = envOf(container);
            assert.deepEqual({ PGSSLMODE: env.PGSSLMODE, PGSSLROOTCERT: env.PGSSLROOTCERT }, TLS_ENV, container.name);
            assert.ok(
                container.volumeMounts.some((m: any) => m.name === "postgresql-ca"),
                container.name,
            );
        }
        for (const namespace of ["postgresql", "spark", "airflow"]) {
            assert.ok(findObject(stack.objects, "ConfigMap", namespace, "postgresql-ca").data["ca.crt"].includes("BEGIN CERTIFICATE"));
        }
    });
});
