import { strict as assert } from "assert";
import { BINARY_AUTHORIZATION_POLICY_ROLE, backupBucketName, backupServiceAccountEmail, secretsKeyName, secretsKeyRingId } from "../components/gcp";
import { BACKUP_SERVICE_ACCOUNT } from "../components/data";
import { LOG_WRITERS, logBucketName, logServiceAccountEmail, logServiceAccountId } from "../components/gcp/logBucket";
import { DRIVER_SERVICE_ACCOUNT } from "../components/pipeline/streamingJob";
import { ofType, single, StackRun, TEST_PROJECT } from "../offline/harness";
import { evaluated, kubernetesObject } from "../offline/stackQueries";
import { TYPES } from "../offline/resourceTypes";

/*
 * With projectSetup: bootstrap (CI's stacks), the deployers hold no IAM, Storage or KMS admin role: bootstrap/
 * makes what needs one (test/bootstrap.test.ts) and the platform uses it by name. The names must be the
 * ones bootstrap/ uses; both sides compute them with the same functions of components/gcp.
 */
const KMS = ["gcp:kms/keyRing:KeyRing", "gcp:kms/cryptoKey:CryptoKey", "gcp:kms/cryptoKeyIAMMember:CryptoKeyIAMMember"];
const BUCKET = "gcp:storage/bucket:Bucket";
const IAM = [
    TYPES.serviceAccount,
    TYPES.projectIamMember,
    "gcp:serviceaccount/iAMMember:IAMMember",
    "gcp:storage/bucketIAMMember:BucketIAMMember",
    "gcp:kms/cryptoKeyIAMMember:CryptoKeyIAMMember",
];
const POLICY = "gcp:binaryauthorization/policy:Policy";
const PLAN = "gcp:gkebackup/backupPlan:BackupPlan";
/** What bootstrap/ makes for the logs: the LogBucket component and everything in it, the spark-events/ marker included. */
const LOGS = ["streaming-platform:gcp:LogBucket", "gcp:storage/bucketObject:BucketObject"];

const types = (run: StackRun, wanted: readonly string[]) => run.resources.filter((r) => wanted.includes(r.type)).map((r) => `${r.type}::${r.name}`);
const backupPod = (run: StackRun) => single(run, "kubernetes:batch/v1:CronJob").inputs.spec.jobTemplate.spec.template.spec;

describe("projectSetup: bootstrap", () => {
    const runs: Record<string, StackRun> = {};
    before(async () => {
        for (const stack of ["dev", "prod"]) {
            runs[stack] = await evaluated(stack, { projectSetup: "bootstrap" });
        }
    });

    for (const stack of ["dev", "prod"]) {
        it(`${stack}: creates no KMS key, bucket, service account or IAM grant`, () => {
            assert.deepEqual(types(runs[stack], [...KMS, BUCKET, ...IAM]), []);
        });

        it(`${stack}: makes no log bucket, marker, log service account or grant on them, no KMS grant and enables no API`, () => {
            const run = runs[stack];
            assert.deepEqual(types(run, LOGS), []);
            assert.deepEqual(
                run.resources.filter((r) => r.type === BUCKET && r.inputs.name === logBucketName(TEST_PROJECT, stack)),
                [],
            );
            const logAccountIds = LOG_WRITERS.map((writer) => logServiceAccountId(writer, stack));
            assert.deepEqual(
                run.resources.filter((r) => r.type === TYPES.serviceAccount && logAccountIds.includes(r.inputs.accountId)),
                [],
            );
            assert.deepEqual(
                run.resources.filter((r) => IAM.includes(r.type) && /logs|gkebackup|agent/.test(`${r.name} ${JSON.stringify(r.inputs)}`)),
                [],
            );
            assert.deepEqual(types(run, ["gcp:kms/cryptoKeyIAMMember:CryptoKeyIAMMember"]), []);
            assert.deepEqual(types(run, [TYPES.projectService]), [], "bootstrap/ enables the APIs, gkebackup included");
        });

        it(`${stack}: Airflow, the driver and the History Server use bootstrap's log bucket and accounts by name`, () => {
            const run = runs[stack];
            const airflow = run.resources.find((r) => r.type === "kubernetes:helm.sh/v3:Release" && r.inputs.chart?.includes("airflow"))!;
            const env = Object.fromEntries(airflow.inputs.values.extraEnvVars.map((e: any) => [e.name, e.value]));
            assert.equal(env.AIRFLOW__LOGGING__REMOTE_BASE_LOG_FOLDER, `gs://${logBucketName(TEST_PROJECT, stack)}/airflow`);
            assert.equal(
                airflow.inputs.values.serviceAccount.annotations["iam.gke.io/gcp-service-account"],
                logServiceAccountEmail("airflow", TEST_PROJECT, stack),
            );
            for (const [name, writer] of [
                [DRIVER_SERVICE_ACCOUNT, "spark-events"],
                ["spark-history", "spark-history"],
            ] as const) {
                const ksa = kubernetesObject(run, "kubernetes:core/v1:ServiceAccount", "spark", name);
                assert.equal(ksa.inputs.metadata.annotations["iam.gke.io/gcp-service-account"], logServiceAccountEmail(writer, TEST_PROJECT, stack));
            }
            assert.equal(run.outputs.logBucket, logBucketName(TEST_PROJECT, stack));
        });

        it(`${stack}: the backup CronJob uploads to bootstrap's bucket as bootstrap's account`, () => {
            const upload = backupPod(runs[stack]).containers.find((c: any) => c.name === "upload");
            assert.equal(upload.env.find((e: any) => e.name === "BACKUP_BUCKET").value, backupBucketName(TEST_PROJECT, stack));
            const ksa = kubernetesObject(runs[stack], "kubernetes:core/v1:ServiceAccount", "postgresql", BACKUP_SERVICE_ACCOUNT);
            assert.equal(ksa.inputs.metadata.annotations["iam.gke.io/gcp-service-account"], backupServiceAccountEmail(TEST_PROJECT, stack));
        });
    }

    it("prod's cluster encrypts Secrets with the key bootstrap made for it, by its resource name", () => {
        const cluster = single(runs.prod, TYPES.cluster);
        assert.deepEqual(cluster.inputs.databaseEncryption, {
            state: "ENCRYPTED",
            keyName: secretsKeyName(TEST_PROJECT, "us-central1", secretsKeyRingId("gke-secrets", "prod")),
        });
        assert.equal(
            cluster.inputs.databaseEncryption.keyName,
            `projects/${TEST_PROJECT}/locations/us-central1/keyRings/gke-secrets-prod-secrets/cryptoKeys/gke-secrets`,
        );
    });

    it("prod's Backup for GKE plan encrypts with bootstrap's Secrets key and grants nothing on it (bootstrap/ did)", () => {
        const plan = single(runs.prod, PLAN);
        assert.equal(
            plan.inputs.backupConfig.encryptionKey.gcpKmsEncryptionKey,
            secretsKeyName(TEST_PROJECT, "us-central1", secretsKeyRingId("gke-secrets", "prod")),
        );
        assert.deepEqual(types(runs.prod, ["gcp:kms/cryptoKeyIAMMember:CryptoKeyIAMMember"]), []);
        assert.deepEqual(ofType(runs.dev, PLAN), []);
    });

    it("dev keeps Google's encryption", () => {
        assert.equal(single(runs.dev, TYPES.cluster).inputs.databaseEncryption, undefined);
    });

    it("prod still writes the project's Binary Authorization policy (its deployer holds policyEditor) and enforces it", () => {
        assert.equal(BINARY_AUTHORIZATION_POLICY_ROLE, "roles/binaryauthorization.policyEditor");
        assert.equal(ofType(runs.prod, POLICY).length, 1);
        assert.deepEqual(single(runs.prod, TYPES.cluster).inputs.binaryAuthorization, { evaluationMode: "PROJECT_SINGLETON_POLICY_ENFORCE" });
        assert.deepEqual(ofType(runs.dev, POLICY), []);
    });

    it("with projectSetup: program, prod makes the key, bucket and account itself under the same names", async () => {
        const run = await evaluated("prod");
        const ring = single(run, KMS[0]);
        const key = single(run, KMS[1]);
        assert.equal(
            `projects/${ring.inputs.project}/locations/${ring.inputs.location}/keyRings/${ring.inputs.name}/cryptoKeys/${key.inputs.name}`,
            secretsKeyName(TEST_PROJECT, "us-central1", secretsKeyRingId("gke-secrets", "prod")),
        );
        assert.ok(ofType(run, BUCKET).some((b) => b.inputs.name === backupBucketName(TEST_PROJECT, "prod")));
        const account = ofType(run, TYPES.serviceAccount).find((a) => a.name === "postgresql-backups");
        assert.ok(account);
        assert.equal(`${account.inputs.accountId}@${TEST_PROJECT}.iam.gserviceaccount.com`, backupServiceAccountEmail(TEST_PROJECT, "prod"));
    });
});
