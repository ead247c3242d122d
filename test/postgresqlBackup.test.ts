import { strict as assert } from "assert";
import * as fs from "fs";
import * as path from "path";
import { BACKUP_SCRIPTS } from "../components/data/postgresqlBackup";
import { ConfigError } from "../config";
import { PROJECT_ROOT, RecordedResource, StackRun, byUrn, ofType, single, waitsFor, TEST_PROJECT } from "../offline/harness";
import { restrictedProblems } from "../offline/podSecurity";
import { renderStack } from "../offline/render";
import { evaluated, kubernetesObject, release, values } from "../offline/stackQueries";
import { TYPES } from "../offline/resourceTypes";

const CRONJOB = "kubernetes:batch/v1:CronJob";
const BUCKET = "gcp:storage/bucket:Bucket";
/** The backup bucket among the stack's buckets (the logs have their own). */
function backupBucket(run: StackRun) {
    const found = ofType(run, BUCKET).filter((b) => String(b.inputs.name).includes("pg-backups"));
    assert.equal(found.length, 1, "one backup bucket");
    return found[0];
}
const BUCKET_IAM = "gcp:storage/bucketIAMMember:BucketIAMMember";
const ACCOUNT_IAM = "gcp:serviceaccount/iAMMember:IAMMember";
const STACKS = ["dev", "prod", "local"];

const cronJob = (run: StackRun) => single(run, CRONJOB);
const podSpec = (run: StackRun) => cronJob(run).inputs.spec.jobTemplate.spec.template.spec;
const containers = (run: StackRun): any[] => [...(podSpec(run).initContainers ?? []), ...podSpec(run).containers];
const dumpContainer = (run: StackRun) => containers(run).find((c) => c.name === "pg-dump");
const envOf = (container: any): Record<string, any> => Object.fromEntries(container.env.map((e: any) => [e.name, e.value ?? e.valueFrom]));
const gcpResources = (run: StackRun) => run.resources.filter((r) => r.type.startsWith("gcp:"));
const serviceAccount = (run: StackRun) => kubernetesObject(run, "kubernetes:core/v1:ServiceAccount", "postgresql", "postgresql-backup");

describe("PostgreSQL backups", () => {
    const runs: Record<string, StackRun> = {};
    before(async () => {
        for (const stack of STACKS) {
            runs[stack] = await evaluated(stack);
        }
    });

    for (const stack of STACKS) {
        describe(stack, () => {
            it("a CronJob in PostgreSQL's namespace on the configured schedule, one run at a time, bounded", () => {
                const job = cronJob(runs[stack]).inputs;
                assert.equal(job.metadata.namespace, "postgresql");
                assert.equal(job.metadata.name, "postgresql-backup");
                assert.equal(job.spec.schedule, "0 2 * * *", "the default of backupSchedule");
                assert.equal(job.spec.timeZone, "Etc/UTC");
                assert.equal(job.spec.concurrencyPolicy, "Forbid");
                assert.ok(job.spec.successfulJobsHistoryLimit >= 1 && job.spec.failedJobsHistoryLimit >= 1);
                const run = job.spec.jobTemplate.spec;
                assert.ok(run.backoffLimit >= 0 && run.backoffLimit <= 3, `backoffLimit ${run.backoffLimit}`);
                assert.ok(run.activeDeadlineSeconds > 0, "a hung dump must end");
                assert.equal(run.template.spec.restartPolicy, "Never");
                // eslint-disable-next-line @typescript-eslint/no-require-imports
                const { CronJob } = require("kubernetes-models/batch/v1") as { CronJob: new (data: unknown) => { validate(): void } };
                new CronJob({ apiVersion: "batch/v1", kind: "CronJob", ...job }).validate();
            });

            it("runs the shared dump script (pg_dump -Fc of each database) as the admin against the primary", () => {
                const run = runs[stack];
                const dump = dumpContainer(run);
                assert.deepEqual(dump.command, ["sh", `/scripts/${BACKUP_SCRIPTS.dump}`]);
                const script = fs.readFileSync(path.join(PROJECT_ROOT, "helm-values", BACKUP_SCRIPTS.dump), "utf8");
                assert.match(script, /pg_dump --format=custom /, "custom format");
                const configMap = kubernetesObject(run, TYPES.configMap, "postgresql", "postgresql-backup-scripts");
                assert.equal(configMap.inputs.data[BACKUP_SCRIPTS.dump], script, "the ConfigMap ships the file the pytest runs");
                const volume = podSpec(run).volumes.find((v: any) => v.name === "scripts");
                assert.equal(volume.configMap.name, "postgresql-backup-scripts");
                const env = envOf(dump);
                assert.equal(`${env.PGHOST}:${env.PGPORT}`, run.outputs.postgresqlService);
                assert.equal(env.PGUSER, "postgres");
                assert.equal(env.BACKUP_DATABASES, "airflow pipeline");
                const pg = values(run, "postgresql");
                assert.deepEqual(env.PGPASSWORD, { secretKeyRef: { name: pg.auth.existingSecret, key: pg.auth.secretKeys.adminPasswordKey } });
                const plain = JSON.stringify(cronJob(run).inputs);
                for (const value of run.generated) {
                    assert.ok(!plain.includes(value), "a generated secret in the CronJob's spec");
                }
                assert.equal(cronJob(run).secretInputs.size, 0);
            });

            it("dumps with the chart's own PostgreSQL image, from the release's registry at its locked digest", () => {
                const run = runs[stack];
                const image = values(run, "postgresql").image;
                assert.equal(dumpContainer(run).image, `${image.registry}/${image.repository}:${image.tag}@${image.digest}`);
            });

            it("meets Pod Security 'restricted' with read-only roots, sized containers and no API token", () => {
                const spec = podSpec(runs[stack]);
                assert.deepEqual(restrictedProblems(spec), []);
                assert.equal(spec.automountServiceAccountToken, false);
                assert.equal(spec.serviceAccountName, "postgresql-backup");
                for (const container of containers(runs[stack])) {
                    assert.equal(container.securityContext.readOnlyRootFilesystem, true);
                    assert.ok(container.resources.requests.cpu && container.resources.requests.memory && container.resources.limits.memory);
                }
            });

            it("starts after the schema Job", () => {
                const run = runs[stack];
                const schema = single(run, TYPES.job);
                assert.ok(waitsFor(run, cronJob(run), schema));
                assert.ok(waitsFor(run, cronJob(run), release(run, "postgresql")));
            });
        });
    }

    for (const stack of ["dev", "prod"]) {
        describe(`${stack}: Cloud Storage through Workload Identity`, () => {
            it("a private, versioned bucket in the region with lifecycle rules from config", () => {
                const run = runs[stack];
                const bucket = backupBucket(run).inputs;
                assert.equal(bucket.name, `${TEST_PROJECT}-pg-backups-${stack}`);
                assert.equal(bucket.location, "US-CENTRAL1");
                assert.equal(bucket.uniformBucketLevelAccess, true);
                assert.equal(bucket.publicAccessPrevention, "enforced");
                assert.deepEqual(bucket.versioning, { enabled: true });
                assert.deepEqual(bucket.lifecycleRules, [
                    { action: { type: "Delete" }, condition: { age: 30, withState: "LIVE" } },
                    { action: { type: "Delete" }, condition: { daysSinceNoncurrentTime: 7, withState: "ARCHIVED" } },
                ]);
                assert.equal(bucket.forceDestroy, stack !== "prod", "prod's backups outlive a destroy");
                assert.equal(backupBucket(run).protect, stack === "prod");
            });

            it("the uploader may only create objects in that bucket; only the backup KSA may act as it", () => {
                const run = runs[stack];
                const account = ofType(run, TYPES.serviceAccount).find((a) => a.inputs.accountId === `pg-backup-${stack}`) as RecordedResource;
                assert.ok(account);
                const email = `pg-backup-${stack}@${TEST_PROJECT}.iam.gserviceaccount.com`;
                // Every grant that names the backup bucket, or the backup account anywhere.
                const grants = ofType(run, BUCKET_IAM).filter(
                    (g) => g.inputs.bucket === backupBucket(run).inputs.name || g.inputs.member === `serviceAccount:${email}`,
                );
                assert.deepEqual(
                    grants.map((g) => [g.inputs.bucket, g.inputs.role, g.inputs.member]),
                    [[backupBucket(run).inputs.name, "roles/storage.objectCreator", `serviceAccount:${email}`]],
                );
                const projectGrants = ofType(run, TYPES.projectIamMember).filter((g) => g.inputs.member === `serviceAccount:${email}`);
                assert.deepEqual(projectGrants, [], "no project-wide role");
                // Every grant on the backup account (the logs' accounts have their own).
                const identity = ofType(run, ACCOUNT_IAM).filter((g) => g.dependencies.includes(account.urn));
                assert.ok(identity.every((g) => g.inputs.role === "roles/iam.workloadIdentityUser"));
                assert.equal(identity.length, 1);
                assert.equal(identity[0].inputs.member, `serviceAccount:${TEST_PROJECT}.svc.id.goog[postgresql/postgresql-backup]`);
                assert.ok(identity[0].dependencies.includes(account.urn) || waitsFor(run, identity[0], account));
                const provider = run.resources.find((r) => r.type === TYPES.kubernetesProvider) as RecordedResource;
                assert.ok(waitsFor(run, identity[0], provider), "the grant waits for the cluster (and its workload pool)");
            });

            it("the KSA is annotated with the Google service account; the upload runs after the dump, with curl from os-shell", () => {
                const run = runs[stack];
                assert.equal(
                    serviceAccount(run).inputs.metadata.annotations["iam.gke.io/gcp-service-account"],
                    `pg-backup-${stack}@${TEST_PROJECT}.iam.gserviceaccount.com`,
                );
                const spec = podSpec(run);
                assert.deepEqual(
                    spec.initContainers.map((c: any) => c.name),
                    ["pg-dump"],
                );
                assert.deepEqual(
                    spec.containers.map((c: any) => c.name),
                    ["upload"],
                );
                const upload = spec.containers[0];
                assert.deepEqual(upload.command, ["sh", `/scripts/${BACKUP_SCRIPTS.upload}`]);
                assert.equal(envOf(upload).BACKUP_BUCKET, backupBucket(run).inputs.name);
                const shell = values(run, "postgresql").volumePermissions.image;
                assert.equal(upload.image, `${shell.registry}/${shell.repository}:${shell.tag}@${shell.digest}`);
                assert.ok(spec.volumes.find((v: any) => v.name === "backup").emptyDir, "dumps wait in scratch space");
                assert.equal(envOf(dumpContainer(run)).BACKUP_KEEP_DAYS, undefined, "the bucket's lifecycle prunes");
            });
        });
    }

    describe("local: a volume, no Google Cloud", () => {
        it("keeps the archives on a PersistentVolumeClaim and prunes them after the retention", () => {
            const run = runs.local;
            const claim = kubernetesObject(run, TYPES.persistentVolumeClaim, "postgresql", "postgresql-backups");
            assert.equal(claim.inputs.spec.resources.requests.storage, "5Gi");
            const spec = podSpec(run);
            assert.equal(spec.volumes.find((v: any) => v.name === "backup").persistentVolumeClaim.claimName, "postgresql-backups");
            assert.equal(spec.initContainers, undefined);
            assert.deepEqual(
                spec.containers.map((c: any) => c.name),
                ["pg-dump"],
            );
            assert.equal(envOf(dumpContainer(run)).BACKUP_KEEP_DAYS, "30");
            assert.equal(serviceAccount(run).inputs.metadata.annotations, undefined);
            assert.deepEqual(
                gcpResources(run).map((r) => r.type),
                [],
            );
        });
    });

    it("follows the schedule and retention from config", async () => {
        const run = await evaluated("dev", { backupSchedule: "30 3 * * 0", backupRetentionDays: 14, backupNoncurrentDays: 3 });
        assert.equal(cronJob(run).inputs.spec.schedule, "30 3 * * 0");
        assert.deepEqual(
            backupBucket(run).inputs.lifecycleRules.map((r: any) => r.condition),
            [
                { age: 14, withState: "LIVE" },
                { daysSinceNoncurrentTime: 3, withState: "ARCHIVED" },
            ],
        );
    });

    it("refuses a malformed schedule or retention, naming the key", async () => {
        await assert.rejects(
            evaluated("dev", { backupSchedule: "every night", backupRetentionDays: 0, backupVolumeSize: "5GB" }),
            (error: unknown) => {
                const message = String((error as ConfigError).message ?? error);
                for (const key of ["backupSchedule", "backupRetentionDays", "backupVolumeSize"]) {
                    assert.ok(message.includes(`streaming-platform:${key}`), `${key} in ${message}`);
                }
                return true;
            },
        );
    });

    it("with projectSetup bootstrap uses the bucket and account bootstrap/ made, creating neither", async () => {
        const run = await evaluated("dev", { projectSetup: "bootstrap" });
        assert.deepEqual(ofType(run, BUCKET), []);
        assert.deepEqual(ofType(run, ACCOUNT_IAM), []);
        assert.equal(envOf(podSpec(run).containers[0]).BACKUP_BUCKET, `${TEST_PROJECT}-pg-backups-dev`);
        assert.equal(
            serviceAccount(run).inputs.metadata.annotations["iam.gke.io/gcp-service-account"],
            `pg-backup-dev@${TEST_PROJECT}.iam.gserviceaccount.com`,
        );
    });

    for (const stack of STACKS) {
        it(`${stack}: the rendered CronJob's pods may reach the primary, a stranger's may not`, async () => {
            const { objects } = await renderStack(stack);
            const policy = objects.find((o) => o.kind === "NetworkPolicy" && o.metadata.name === "allow-backup");
            assert.ok(policy, "a NetworkPolicy for the backup flow");
            assert.deepEqual(policy.spec.ingress[0].ports, [{ port: 5432, protocol: "TCP" }]);
            assert.ok(byUrn(runs[stack], cronJob(runs[stack]).parent!));
        });
    }
});
