import { strict as assert } from "assert";
import * as fs from "fs";
import * as path from "path";
import * as pulumi from "@pulumi/pulumi";
import {
    backupBucketArgs,
    backupBucketName,
    backupServiceAccountEmail,
    bitnamiRepositoryId,
    dockerRepositoryId,
    NODE_SERVICE_ACCOUNT_ROLES,
    nodeServiceAccountId,
    SECRETS_KEY_ROTATION,
    secretsKeyName,
    secretsKeyRingId,
} from "../components/gcp";
import { gkeBackupServiceAgent } from "../components/gcp/gkeBackup";
import {
    LOG_BUCKET_ROLES,
    LOG_WRITERS,
    logBucketArgs,
    logBucketName,
    logServiceAccountArgs,
    logServiceAccountEmail,
} from "../components/gcp/logBucket";
import { AIRFLOW_SERVICE_ACCOUNT } from "../components/data/airflow";
import { SPARK_HISTORY_SERVICE_ACCOUNT } from "../components/data/sparkHistory";
import { DRIVER_SERVICE_ACCOUNT } from "../components/pipeline/streamingJob";
import {
    DEPLOYER_ALERTING_ROLES,
    DEPLOYER_DASHBOARD_ROLE,
    DEPLOYER_GKE_BACKUP_ROLE,
    DEPLOYER_PROJECT_ROLES,
    DEPLOYER_RESOURCE_GRANTS,
    PREVIEWER_PROJECT_ROLES,
    RISKY_ROLES,
} from "../bootstrap/roles";
import {
    BootstrapRun,
    BOOTSTRAP_DIR,
    OWNER_ID,
    Overrides,
    PROJECT_NAME,
    PROJECT_NUMBER,
    projectFile,
    Registered,
    REPOSITORY,
    REPOSITORY_ID,
    runBootstrap,
} from "../offline/bootstrap";
import { ConfigOverrides, TEST_PROJECT } from "../offline/harness";
import { evaluated } from "../offline/stackQueries";
import { TYPES } from "../offline/resourceTypes";

const T = {
    service: TYPES.projectService,
    bucket: "gcp:storage/bucket:Bucket",
    bucketIam: "gcp:storage/bucketIAMMember:BucketIAMMember",
    bucketObject: "gcp:storage/bucketObject:BucketObject",
    keyRing: "gcp:kms/keyRing:KeyRing",
    cryptoKey: "gcp:kms/cryptoKey:CryptoKey",
    cryptoKeyIam: "gcp:kms/cryptoKeyIAMMember:CryptoKeyIAMMember",
    pool: "gcp:iam/workloadIdentityPool:WorkloadIdentityPool",
    provider: "gcp:iam/workloadIdentityPoolProvider:WorkloadIdentityPoolProvider",
    account: TYPES.serviceAccount,
    accountIam: "gcp:serviceaccount/iAMMember:IAMMember",
    projectIam: TYPES.projectIamMember,
    repository: TYPES.repository,
    repositoryIam: "gcp:artifactregistry/repositoryIamMember:RepositoryIamMember",
};

const ofType = (run: BootstrapRun, type: string) => run.resources.filter((r) => r.type === type);
const named = (run: BootstrapRun, type: string, name: string) => {
    const found = ofType(run, type).filter((r) => r.name === name);
    assert.equal(found.length, 1, `expected exactly one ${type} named ${name}, found ${found.length}`);
    return found[0];
};
function single(run: BootstrapRun, type: string): Registered {
    const found = ofType(run, type);
    assert.equal(found.length, 1, `expected exactly one ${type}, found ${found.length}`);
    return found[0];
}

/** Runs a configuration that must be refused: no resource may be registered. */
async function refused(overrides: Overrides): Promise<string> {
    const run = await runBootstrap(overrides);
    assert.ok(run.error, `the program accepted ${JSON.stringify(overrides)}`);
    assert.equal(run.error.name, "ConfigError", run.error.stack);
    assert.equal(run.resources.length, 0, "resources were registered before the configuration was validated");
    return run.error.message;
}

describe("bootstrap program", () => {
    let run: BootstrapRun;
    const sa = (id: string) => `serviceAccount:${id}@${TEST_PROJECT}.iam.gserviceaccount.com`;
    const PREVIEWER = sa("streaming-platform-previewer");
    const DEPLOYER = { dev: sa("platform-deployer-dev"), prod: sa("platform-deployer-prod") };
    const NODES = { dev: sa("gke-dev-nodes"), prod: sa("gke-prod-nodes") };
    const POOL = `projects/${PROJECT_NUMBER}/locations/global/workloadIdentityPools/github-actions`;
    const KEY = (stack: string) => `projects/${TEST_PROJECT}/locations/us-central1/keyRings/pulumi/cryptoKeys/pulumi-secrets-${stack}`;
    const BUCKET = `${TEST_PROJECT}-pulumi-state`;
    /** What bootstrap makes for the platform's PostgreSQL backups and prod's Secrets, under the platform's own names. */
    const BACKUPS = { dev: backupBucketName(TEST_PROJECT, "dev"), prod: backupBucketName(TEST_PROJECT, "prod") };
    const BACKUP_SA = { dev: backupServiceAccountEmail(TEST_PROJECT, "dev"), prod: backupServiceAccountEmail(TEST_PROJECT, "prod") };
    const GKE_KEY = secretsKeyName(TEST_PROJECT, "us-central1", secretsKeyRingId("gke-secrets", "prod"));
    const GKE_AGENT = `serviceAccount:service-${PROJECT_NUMBER}@container-engine-robot.iam.gserviceaccount.com`;
    const BACKUP_KSA = `serviceAccount:${TEST_PROJECT}.svc.id.goog[postgresql/postgresql-backup]`;
    /** The logs bucket and its three accounts, under the platform's own names (components/gcp/logBucket.ts). */
    const LOGS = { dev: logBucketName(TEST_PROJECT, "dev"), prod: logBucketName(TEST_PROJECT, "prod") };
    const LOG_SA = (writer: (typeof LOG_WRITERS)[number], stack: string) => logServiceAccountEmail(writer, TEST_PROJECT, stack);
    const LOG_KSA = {
        airflow: `serviceAccount:${TEST_PROJECT}.svc.id.goog[airflow/${AIRFLOW_SERVICE_ACCOUNT}]`,
        "spark-events": `serviceAccount:${TEST_PROJECT}.svc.id.goog[spark/${DRIVER_SERVICE_ACCOUNT}]`,
        "spark-history": `serviceAccount:${TEST_PROJECT}.svc.id.goog[spark/${SPARK_HISTORY_SERVICE_ACCOUNT}]`,
    };
    const GKE_BACKUP_AGENT = gkeBackupServiceAgent(PROJECT_NUMBER);
    /** Each log account's one role, on its stack's log bucket. */
    const logGrants = (stack: "dev" | "prod") =>
        LOG_WRITERS.map((writer) => `serviceAccount:${LOG_SA(writer, stack)} ${LOG_BUCKET_ROLES[writer]} on bucket ${LOGS[stack]}`);
    /** Every grant as "<member> <role> on <where>". */
    const grants = (r: BootstrapRun) =>
        r.resources
            .filter((res) => /IAMMember|IamMember/.test(res.type))
            .map((g) => {
                const i = g.inputs;
                const where =
                    g.type === T.projectIam
                        ? `project ${i.project}`
                        : g.type === T.bucketIam
                          ? `bucket ${i.bucket}`
                          : g.type === T.cryptoKeyIam
                            ? `key ${i.cryptoKeyId}`
                            : g.type === T.accountIam
                              ? `account ${i.serviceAccountId.split("/").pop()}`
                              : `repository ${i.repository}`;
                return `${i.member} ${i.role} on ${where}`;
            });
    before(async () => {
        run = await runBootstrap();
        assert.equal(run.error, undefined, run.error?.stack);
    });
    after(() => pulumi.runtime.setAllConfig({}, []));

    it("is run from bootstrap/ with its own entry point, never the platform's index.ts", () => {
        const pkg = JSON.parse(fs.readFileSync(path.join(BOOTSTRAP_DIR, "package.json"), "utf8"));
        assert.equal(pkg.main, "index.ts");
        assert.equal(pkg.dependencies, undefined, "dependencies come from the repository's node_modules");
        assert.equal(PROJECT_NAME, "streaming-platform-bootstrap");
        for (const key of ["githubRepository", "githubRepositoryId", "githubOwnerId"]) {
            assert.equal(projectFile.config[key].default, undefined, `${key} must be required`);
        }
    });

    it("enables the APIs of CI and of the platform and never disables them on destroy", () => {
        const services = ofType(run, T.service);
        assert.deepEqual(
            services.map((s) => s.inputs.service).sort(),
            [
                "artifactregistry",
                "binaryauthorization",
                "cloudkms",
                "cloudresourcemanager",
                "compute",
                "container",
                "gkebackup",
                "iam",
                "iamcredentials",
                "logging",
                "monitoring",
                "storage",
                "sts",
            ].map((api) => `${api}.googleapis.com`),
        );
        for (const service of services) {
            assert.equal(service.inputs.disableOnDestroy, false, service.inputs.service);
            assert.equal(service.inputs.project, TEST_PROJECT);
        }
    });

    it("registers every other resource after the APIs it needs", () => {
        const apiUrns = ofType(run, T.service).map((s) => s.urn);
        for (const type of [T.bucket, T.keyRing, T.cryptoKey, T.pool, T.provider, T.account, T.projectIam, T.repository]) {
            for (const resource of ofType(run, type)) {
                assert.deepEqual(
                    apiUrns.filter((urn) => !resource.dependsOn.includes(urn)),
                    [],
                    `${resource.name} does not wait for the APIs`,
                );
            }
        }
    });

    it("keeps state in a protected, private, versioned bucket with 30 days of soft delete and history pruned by age", () => {
        const bucket = named(run, T.bucket, "pulumi-state");
        assert.equal(bucket.protect, true, "the state bucket must be protected");
        assert.equal(bucket.inputs.name, BUCKET);
        assert.equal(bucket.inputs.location, "us-central1");
        assert.equal(bucket.inputs.uniformBucketLevelAccess, true);
        assert.equal(bucket.inputs.publicAccessPrevention, "enforced");
        assert.deepEqual(bucket.inputs.versioning, { enabled: true });
        assert.equal(bucket.inputs.forceDestroy, false);
        assert.ok(bucket.inputs.softDeletePolicy.retentionDurationSeconds >= 30 * 86400, "soft delete of 30 days or more");
        const pruning = bucket.inputs.lifecycleRules.filter((rule: any) => rule.action.type === "Delete");
        assert.equal(pruning.length, 1);
        assert.deepEqual(pruning[0].condition, { withState: "ARCHIVED", daysSinceNoncurrentTime: 30 }, "only noncurrent versions, by age");
    });

    it("gives each stack its own protected, rotated KMS key in gcp:region", () => {
        const ring = named(run, T.keyRing, "pulumi");
        assert.equal(ring.protect, true);
        assert.equal(ring.inputs.location, "us-central1");
        const keys = ofType(run, T.cryptoKey).filter((k) => k.name.startsWith("pulumi-secrets-"));
        assert.deepEqual(keys.map((k) => k.inputs.name).sort(), ["pulumi-secrets-dev", "pulumi-secrets-prod"]);
        for (const key of keys) {
            assert.equal(key.protect, true);
            assert.equal(key.inputs.keyRing, `projects/${TEST_PROJECT}/locations/us-central1/keyRings/${ring.inputs.name}`);
            assert.equal(key.inputs.purpose, "ENCRYPT_DECRYPT");
            assert.ok(parseInt(key.inputs.rotationPeriod, 10) <= 365 * 86400, "rotated at least yearly");
        }
    });

    it("trusts GitHub's OIDC tokens only of the repository and owner with the configured ids", () => {
        const provider = single(run, T.provider);
        assert.equal(provider.inputs.oidc.issuerUri, "https://token.actions.githubusercontent.com");
        assert.equal(
            provider.inputs.attributeCondition,
            `assertion.repository_id == '${REPOSITORY_ID}' && assertion.repository_owner_id == '${OWNER_ID}'`,
        );
        assert.equal(provider.inputs.attributeMapping["google.subject"], "assertion.sub");
    });

    it("binds each CI identity to exactly one GitHub OIDC subject", () => {
        const impersonation = ofType(run, T.accountIam).filter((b) => b.inputs.role === "roles/iam.workloadIdentityUser");
        assert.deepEqual(impersonation.map((b) => `${b.inputs.serviceAccountId.split("/").pop()} <- ${b.inputs.member}`).sort(), [
            `platform-deployer-dev@${TEST_PROJECT}.iam.gserviceaccount.com <- principal://iam.googleapis.com/${POOL}/subject/repo:${REPOSITORY}:environment:dev`,
            `platform-deployer-prod@${TEST_PROJECT}.iam.gserviceaccount.com <- principal://iam.googleapis.com/${POOL}/subject/repo:${REPOSITORY}:environment:prod`,
            `streaming-platform-previewer@${TEST_PROJECT}.iam.gserviceaccount.com <- principal://iam.googleapis.com/${POOL}/subject/repo:${REPOSITORY}:pull_request`,
        ]);
    });

    it("grants each identity exactly what it needs, where it needs it", () => {
        const nodeRoles = (stack: "dev" | "prod") => NODE_SERVICE_ACCOUNT_ROLES.map((role) => `${NODES[stack]} ${role} on project ${TEST_PROJECT}`);
        const deployer = (stack: "dev" | "prod") => [
            ...DEPLOYER_PROJECT_ROLES.map((role) => `${DEPLOYER[stack]} ${role} on project ${TEST_PROJECT}`),
            // Every stack's dashboard; prod's alert policies (Pulumi.dev.yaml turns dev's off).
            ...[DEPLOYER_DASHBOARD_ROLE, ...(stack === "prod" ? DEPLOYER_ALERTING_ROLES : [])].map(
                (role) => `${DEPLOYER[stack]} ${role} on project ${TEST_PROJECT}`,
            ),
            `${DEPLOYER[stack]} roles/iam.serviceAccountUser on account gke-${stack}-nodes@${TEST_PROJECT}.iam.gserviceaccount.com`,
            `${DEPLOYER[stack]} roles/artifactregistry.writer on repository pipeline-${stack}`,
            `${DEPLOYER[stack]} roles/artifactregistry.reader on repository dockerhub-${stack}`,
            // The pipeline images' Bitnami bases and, with chartRepository, the charts come from the stack's own copy.
            `${DEPLOYER[stack]} roles/artifactregistry.reader on repository bitnami-${stack}`,
            `${DEPLOYER[stack]} roles/storage.objectUser on bucket ${BUCKET}`,
            `${DEPLOYER[stack]} roles/cloudkms.cryptoKeyEncrypterDecrypter on key ${KEY(stack)}`,
            // prod sets deletionProtection: its cluster names the Secrets key bootstrap made, and it enforces Binary Authorization.
            ...(stack === "prod"
                ? [
                      `${DEPLOYER.prod} roles/cloudkms.viewer on key ${GKE_KEY}`,
                      `${DEPLOYER.prod} roles/binaryauthorization.policyEditor on project ${TEST_PROJECT}`,
                      `${DEPLOYER.prod} roles/gkebackup.backupAdmin on project ${TEST_PROJECT}`,
                  ]
                : []),
        ];
        // Not CI identities: what GKE and the backup CronJob act as, each granted on one resource.
        const platform = [
            `${GKE_AGENT} roles/cloudkms.cryptoKeyEncrypterDecrypter on key ${GKE_KEY}`,
            `${GKE_BACKUP_AGENT} roles/cloudkms.cryptoKeyEncrypterDecrypter on key ${GKE_KEY}`,
            `serviceAccount:${BACKUP_SA.dev} roles/storage.objectCreator on bucket ${BACKUPS.dev}`,
            `serviceAccount:${BACKUP_SA.prod} roles/storage.objectCreator on bucket ${BACKUPS.prod}`,
            ...logGrants("dev"),
            ...logGrants("prod"),
        ];
        const previewer = [
            ...PREVIEWER_PROJECT_ROLES.map((role) => `${PREVIEWER} ${role} on project ${TEST_PROJECT}`),
            `${PREVIEWER} roles/storage.objectViewer on bucket ${BUCKET}`,
            `${PREVIEWER} roles/cloudkms.cryptoKeyDecrypter on key ${KEY("dev")}`,
            // A preview loads the charts, from the preview stack's own repository with chartRepository.
            `${PREVIEWER} roles/artifactregistry.reader on repository bitnami-dev`,
        ];
        assert.deepEqual(
            grants(run)
                .filter((g) => !g.includes("workloadIdentityUser"))
                .sort(),
            [...previewer, ...deployer("dev"), ...deployer("prod"), ...nodeRoles("dev"), ...nodeRoles("prod"), ...platform].sort(),
        );
    });

    it("grants no CI identity a risky role on the project, and none any role on another stack's key or node account", () => {
        const ci = [PREVIEWER, DEPLOYER.dev, DEPLOYER.prod];
        for (const binding of ofType(run, T.projectIam).filter((b) => ci.includes(b.inputs.member))) {
            assert.ok(!(RISKY_ROLES as readonly string[]).includes(binding.inputs.role), `${binding.inputs.member}: ${binding.inputs.role}`);
            assert.doesNotMatch(binding.inputs.role, /^roles\/(owner|editor|viewer|storage\.|cloudkms\.|iam\.|resourcemanager\.|serviceusage\.)/);
            assert.equal(binding.inputs.condition, undefined);
        }
        const all = grants(run);
        assert.deepEqual(
            all.filter((g) => g.startsWith(DEPLOYER.dev) && /prod/.test(g.split(" on ")[1])),
            [],
        );
        assert.deepEqual(
            all.filter((g) => g.startsWith(DEPLOYER.prod) && /dev/.test(g.split(" on ")[1])),
            [],
        );
        assert.deepEqual(
            all.filter((g) => g.startsWith(PREVIEWER) && /prod|writer|objectUser|EncrypterDecrypter|admin/.test(g)),
            [],
        );
    });

    it("creates each stack's node service account and repositories under the ids the platform uses", () => {
        const accounts = ofType(run, T.account).map((a) => a.inputs.accountId);
        for (const stack of ["dev", "prod"]) {
            assert.ok(accounts.includes(nodeServiceAccountId("gke", stack)), stack);
            const repositories = ofType(run, T.repository).filter((r) => r.name.endsWith(`-${stack}`));
            assert.deepEqual(repositories.map((r) => r.inputs.repositoryId).sort(), [
                bitnamiRepositoryId(stack),
                dockerRepositoryId("dockerhub", stack),
                dockerRepositoryId("pipeline", stack),
            ]);
        }
        assert.ok(
            ofType(run, T.account)
                .filter((a) => a.inputs.accountId.startsWith("gke-"))
                .every((a) => a.protect),
        );
    });

    it("makes the Secrets key of each stack with deletionProtection (prod) under the ids the platform's SecretsKey uses", () => {
        const rings = ofType(run, T.keyRing).filter((r) => r.name !== "pulumi");
        assert.deepEqual(
            rings.map((r) => r.inputs.name),
            [secretsKeyRingId("gke-secrets", "prod")],
            "dev sets no deletionProtection",
        );
        const ring = rings[0];
        assert.equal(ring.inputs.location, "us-central1", "the cluster's region, as application-layer encryption requires");
        const key = named(run, T.cryptoKey, "gke-secrets-prod-key");
        assert.equal(`${key.inputs.keyRing}/cryptoKeys/${key.inputs.name}`, GKE_KEY);
        assert.equal(key.inputs.purpose, "ENCRYPT_DECRYPT");
        assert.equal(key.inputs.rotationPeriod, SECRETS_KEY_ROTATION);
        assert.deepEqual(key.inputs.labels, { purpose: "gke-secrets", stack: "prod" });
        for (const kept of [ring, key]) {
            assert.ok(kept.protect && kept.retainOnDelete, `${kept.name}: protected and never destroyed`);
        }
        const onKey = grants(run).filter((g) => g.endsWith(`on key ${GKE_KEY}`));
        assert.deepEqual(
            onKey.sort(),
            [
                `${GKE_AGENT} roles/cloudkms.cryptoKeyEncrypterDecrypter on key ${GKE_KEY}`,
                `${GKE_BACKUP_AGENT} roles/cloudkms.cryptoKeyEncrypterDecrypter on key ${GKE_KEY}`,
                `${DEPLOYER.prod} roles/cloudkms.viewer on key ${GKE_KEY}`,
            ].sort(),
            "only GKE and Backup for GKE encrypt with it; the deployer reads it",
        );
    });

    it("makes each stack's backup bucket and its one writer as the platform's BackupBucket does", () => {
        for (const [stack, retentionDays, protect] of [
            ["dev", 30, false],
            ["prod", 30, true],
        ] as const) {
            const bucket = named(run, T.bucket, `pg-backups-${stack}`);
            assert.deepEqual(
                bucket.inputs,
                JSON.parse(
                    JSON.stringify(
                        backupBucketArgs({
                            project: TEST_PROJECT,
                            region: "us-central1",
                            stack,
                            retentionDays,
                            noncurrentDays: 7,
                            forceDestroy: !protect,
                        }),
                    ),
                ),
            );
            assert.equal(bucket.inputs.publicAccessPrevention, "enforced");
            assert.equal(bucket.protect, protect, `${stack}: protected as its deletionProtection says`);
            const account = named(run, T.account, `pg-backup-${stack}`);
            assert.equal(`${account.inputs.accountId}@${TEST_PROJECT}.iam.gserviceaccount.com`, BACKUP_SA[stack]);
            assert.deepEqual(
                grants(run).filter((g) => g.includes(BACKUP_SA[stack]) || g.includes(BACKUPS[stack])),
                [`serviceAccount:${BACKUP_SA[stack]} roles/storage.objectCreator on bucket ${BACKUPS[stack]}`],
                "nothing else may use the bucket or act as its writer",
            );
        }
    });

    it("lets the backup CronJob's Kubernetes service account act as its stack's writer once workloadPoolReady", async () => {
        assert.deepEqual(
            grants(run).filter((g) => g.includes(".svc.id.goog")),
            [],
            "a new project has no workload pool yet",
        );
        const ready = await runBootstrap({ workloadPoolReady: "true" });
        assert.equal(ready.error, undefined, ready.error?.stack);
        assert.deepEqual(
            grants(ready)
                .filter((g) => g.includes(".svc.id.goog"))
                .sort(),
            [
                `${BACKUP_KSA} roles/iam.workloadIdentityUser on account ${BACKUP_SA.dev}`,
                `${BACKUP_KSA} roles/iam.workloadIdentityUser on account ${BACKUP_SA.prod}`,
                ...(["dev", "prod"] as const).flatMap((stack) =>
                    LOG_WRITERS.map((writer) => `${LOG_KSA[writer]} roles/iam.workloadIdentityUser on account ${LOG_SA(writer, stack)}`),
                ),
            ].sort(),
        );
    });

    it("makes each stack's log bucket, its spark-events/ marker and its three accounts as the platform's LogBucket does", () => {
        for (const [stack, protect] of [
            ["dev", false],
            ["prod", true],
        ] as const) {
            const bucket = named(run, T.bucket, `logs-${stack}`);
            assert.deepEqual(
                bucket.inputs,
                JSON.parse(
                    JSON.stringify(logBucketArgs({ project: TEST_PROJECT, region: "us-central1", stack, retentionDays: 30, forceDestroy: !protect })),
                ),
            );
            assert.equal(bucket.inputs.name, LOGS[stack]);
            assert.equal(bucket.inputs.publicAccessPrevention, "enforced");
            assert.equal(bucket.protect, protect, `${stack}: protected as its deletionProtection says`);
            const marker = named(run, T.bucketObject, `logs-${stack}-spark-events-dir`);
            assert.equal(marker.inputs.bucket, LOGS[stack]);
            assert.equal(marker.inputs.name, "spark-events/");
            for (const writer of LOG_WRITERS) {
                const account = named(run, T.account, `logs-${stack}-${writer}`);
                assert.deepEqual(account.inputs, { ...logServiceAccountArgs(writer, TEST_PROJECT, stack) });
            }
            // Only the three accounts, each with its one role, on the bucket; none of them anywhere else.
            assert.deepEqual(
                grants(run)
                    .filter((g) => g.includes(LOGS[stack]) || LOG_WRITERS.some((writer) => g.includes(LOG_SA(writer, stack))))
                    .sort(),
                logGrants(stack).sort(),
            );
        }
        const airflowRole = LOG_BUCKET_ROLES.airflow;
        assert.equal(airflowRole, "roles/storage.objectAdmin", "on the bucket only, never on the project");
    });

    it("makes Backup for GKE work for protected stacks: the API, the agent on the Secrets key, backupAdmin for prod's deployer", () => {
        assert.equal(DEPLOYER_GKE_BACKUP_ROLE, "roles/gkebackup.backupAdmin", "not gkebackup.admin, which also restores");
        assert.ok(ofType(run, T.service).some((s) => s.inputs.service === "gkebackup.googleapis.com"));
        const agent = named(run, T.cryptoKeyIam, "gke-secrets-prod-gkebackup-agent");
        assert.equal(agent.inputs.cryptoKeyId, GKE_KEY);
        assert.equal(agent.inputs.member, GKE_BACKUP_AGENT);
        assert.equal(agent.inputs.role, "roles/cloudkms.cryptoKeyEncrypterDecrypter");
        const backupAdmin = ofType(run, T.projectIam).filter((b) => /^roles\/gkebackup\./.test(b.inputs.role));
        assert.deepEqual(
            backupAdmin.map((b) => `${b.inputs.member} ${b.inputs.role} ${b.inputs.project} ${b.inputs.condition}`),
            [`${DEPLOYER.prod} roles/gkebackup.backupAdmin ${TEST_PROJECT} undefined`],
            "dev sets no deletionProtection: no plan, no role",
        );
        const apiUrn = named(run, T.service, "api-gkebackup").urn;
        for (const grant of [agent, backupAdmin[0]]) {
            assert.ok(grant.dependsOn.includes(apiUrn), `${grant.name} waits for the gkebackup API (its service agent)`);
        }
    });

    it("grants Binary Authorization's policyEditor only to the enforcing stack's deployer, and nothing project-wide beyond the role sets", () => {
        const ci = [PREVIEWER, DEPLOYER.dev, DEPLOYER.prod];
        const projectWide = ofType(run, T.projectIam)
            .filter((b) => ci.includes(b.inputs.member))
            .map((b) => `${b.inputs.member} ${b.inputs.role}`);
        const expected = [
            ...PREVIEWER_PROJECT_ROLES.map((role) => `${PREVIEWER} ${role}`),
            ...DEPLOYER_PROJECT_ROLES.map((role) => `${DEPLOYER.dev} ${role}`),
            ...DEPLOYER_PROJECT_ROLES.map((role) => `${DEPLOYER.prod} ${role}`),
            `${DEPLOYER.dev} ${DEPLOYER_DASHBOARD_ROLE}`,
            ...[DEPLOYER_DASHBOARD_ROLE, ...DEPLOYER_ALERTING_ROLES].map((role) => `${DEPLOYER.prod} ${role}`),
            `${DEPLOYER.prod} roles/binaryauthorization.policyEditor`,
            `${DEPLOYER.prod} roles/gkebackup.backupAdmin`,
        ];
        assert.deepEqual(projectWide.sort(), expected.sort());
        for (const grant of projectWide) {
            assert.doesNotMatch(
                grant.split(" ")[1],
                /^roles\/(binaryauthorization\.(admin|policyAdmin)|gkebackup\.(admin|restoreAdmin)|cloudkms\.|storage\.|iam\.)/,
                grant,
            );
        }
    });

    it("exports the GitHub variables the workflows read, the secrets providers and the node accounts", () => {
        assert.deepEqual(Object.keys(run.outputs).sort(), [
            "gcpProject",
            "githubVariables",
            "nodeServiceAccounts",
            "platformResources",
            "secretsProviders",
            "stateBackendUrl",
            "workloadIdentityProvider",
        ]);
        const variables = run.outputs.githubVariables as Record<string, string>;
        assert.deepEqual(variables, {
            GCP_WORKLOAD_IDENTITY_PROVIDER: `${POOL}/providers/github`,
            GCP_PROJECT: TEST_PROJECT,
            PULUMI_BACKEND_URL: `gs://${BUCKET}`,
            GCP_PREVIEWER_SERVICE_ACCOUNT: PREVIEWER.replace("serviceAccount:", ""),
            GCP_DEPLOYER_SERVICE_ACCOUNT_DEV: DEPLOYER.dev.replace("serviceAccount:", ""),
            GCP_DEPLOYER_SERVICE_ACCOUNT_PROD: DEPLOYER.prod.replace("serviceAccount:", ""),
        });
        const workflowsText = fs
            .readdirSync(path.join(BOOTSTRAP_DIR, "..", ".github", "workflows"))
            .map((f) => fs.readFileSync(path.join(BOOTSTRAP_DIR, "..", ".github", "workflows", f), "utf8"))
            .join("\n");
        for (const name of Object.keys(variables)) {
            assert.ok(workflowsText.includes(`vars.${name}`), `no workflow reads ${name}`);
        }
        assert.deepEqual(run.outputs.secretsProviders, { dev: `gcpkms://${KEY("dev")}`, prod: `gcpkms://${KEY("prod")}` });
        const logAccounts = (stack: string) => Object.fromEntries(LOG_WRITERS.map((writer) => [writer, LOG_SA(writer, stack)]));
        assert.deepEqual(run.outputs.platformResources, {
            dev: { backupBucket: BACKUPS.dev, backupServiceAccount: BACKUP_SA.dev, logBucket: LOGS.dev, logServiceAccounts: logAccounts("dev") },
            prod: {
                backupBucket: BACKUPS.prod,
                backupServiceAccount: BACKUP_SA.prod,
                gkeSecretsKey: GKE_KEY,
                logBucket: LOGS.prod,
                logServiceAccounts: logAccounts("prod"),
            },
        });
    });

    it("follows the configured repository, ids, bucket name and location", async () => {
        const other = await runBootstrap({
            githubRepository: "Other-Org/data.platform_2",
            githubRepositoryId: "987",
            githubOwnerId: "654",
            stateBucketName: "acme-tfstate",
            stateBucketLocation: "EU",
            stacks: ["dev"],
        });
        assert.equal(other.error, undefined, other.error?.stack);
        assert.equal(
            single(other, T.provider).inputs.attributeCondition,
            "assertion.repository_id == '987' && assertion.repository_owner_id == '654'",
        );
        assert.ok(grants(other).some((g) => g.endsWith("repo:Other-Org/data.platform_2:environment:dev") || /environment:dev/.test(g)));
        assert.equal(named(other, T.bucket, "pulumi-state").inputs.location, "EU");
        assert.equal(other.outputs.stateBackendUrl, "gs://acme-tfstate");
        assert.deepEqual(
            ofType(other, T.cryptoKey).map((k) => k.name),
            ["pulumi-secrets-dev"],
            "dev sets no deletionProtection: no Secrets key",
        );
        assert.deepEqual(
            ofType(other, T.bucket)
                .map((b) => b.inputs.name)
                .sort(),
            ["acme-tfstate", BACKUPS.dev, LOGS.dev].sort(),
        );
        assert.ok(
            !ofType(other, T.service).some((s) => s.inputs.service === "gkebackup.googleapis.com"),
            "no stack with deletionProtection: no Backup for GKE",
        );
    });

    it("lets each deployer create every Google Cloud resource its stack declares: a role from the table, granted to it", async () => {
        const typesOf = async (stack: string, overrides: ConfigOverrides) =>
            new Set(
                (await evaluated(stack, { projectSetup: "bootstrap", ...overrides })).resources
                    .filter((r) => r.custom && /^(gcp|docker):/.test(r.type))
                    .map((r) => r.type),
            );
        const granted = grants(run);
        for (const stack of ["dev", "prod"] as const) {
            // What the stack's config can add: UI addresses, and (prod, alerts on) email channels.
            const types = new Set([
                ...(await typesOf(stack, {})),
                ...(await typesOf(stack, { uiExposure: "LoadBalancer", uiSourceRanges: ["203.0.113.0/24"], alertEmails: ["ops@example.com"] })),
            ]);
            assert.ok(types.has("gcp:monitoring/dashboard:Dashboard"));
            for (const type of types) {
                const row = DEPLOYER_RESOURCE_GRANTS.find((r) => r.type === type);
                assert.ok(row, `${type}, which ${stack} creates, is missing from DEPLOYER_RESOURCE_GRANTS`);
                assert.ok(
                    granted.some((g) => g.startsWith(`${DEPLOYER[stack]} ${row.role} on `)),
                    `${stack}'s deployer creates ${type} (${row.permission}) but holds no ${row.role}`,
                );
            }
        }
    });

    it("takes a replacement set of deployer roles", async () => {
        const other = await runBootstrap({ deployerRoles: ["roles/container.admin"] });
        assert.equal(other.error, undefined, other.error?.stack);
        assert.deepEqual(
            ofType(other, T.projectIam)
                .filter((b) => /deployer/.test(b.inputs.member))
                .map((b) => `${b.inputs.member.split(/[:@]/)[1]} ${b.inputs.role}`)
                .sort(),
            [
                "platform-deployer-dev roles/container.admin",
                "platform-deployer-dev roles/monitoring.dashboardEditor",
                "platform-deployer-prod roles/binaryauthorization.policyEditor",
                "platform-deployer-prod roles/container.admin",
                "platform-deployer-prod roles/gkebackup.backupAdmin",
                "platform-deployer-prod roles/monitoring.alertPolicyEditor",
                "platform-deployer-prod roles/monitoring.dashboardEditor",
                "platform-deployer-prod roles/monitoring.notificationChannelEditor",
            ],
            "the stacks' own grants (Binary Authorization, Backup for GKE, Cloud Monitoring) are not deployerRoles",
        );
    });

    describe("refuses, before registering anything,", () => {
        for (const value of [
            "acme",
            "acme/",
            "https://github.com/acme/streaming-platform",
            "acme/*",
            "-acme/streaming-platform",
            "acme/..",
            "acme/x' || true || 'y",
        ]) {
            it(`githubRepository ${JSON.stringify(value)}`, async () => {
                const message = await refused({ githubRepository: value });
                assert.ok(
                    message.includes(`${PROJECT_NAME}:githubRepository = ${JSON.stringify(value)}: a GitHub repository as owner/name`),
                    message,
                );
            });
        }

        for (const key of ["githubRepositoryId", "githubOwnerId"]) {
            it(`a missing ${key}`, async () => {
                const message = await refused({ [key]: undefined });
                assert.match(message, new RegExp(`${PROJECT_NAME}:${key} = \\(not set\\): the numeric id`));
            });
            for (const value of ["acme", "12a", "-1", "0", "1' || true || '1"]) {
                it(`${key} ${JSON.stringify(value)}`, async () => {
                    const message = await refused({ [key]: value });
                    assert.ok(message.includes(`${PROJECT_NAME}:${key} = ${JSON.stringify(value)}: the numeric id`), message);
                });
            }
        }

        it("an unknown or kubeconfig stack, and a previewStack that is not one of the stacks", async () => {
            const message = await refused({ stacks: ["dev", "staging", "local"], previewStack: "qa" });
            assert.match(message, /stacks = "staging": a GKE stack of the platform/);
            assert.match(message, /stacks = "local": a GKE stack of the platform/);
            assert.match(message, /previewStack = "qa": one of the stacks/);
        });

        it("a missing gcp:project, with every other problem in the same message", async () => {
            const message = await refused({ "gcp:project": undefined, githubRepository: "nope" });
            assert.match(message, /2 problems/);
            assert.match(message, /gcp:project = \(not set\): a project id .*pulumi config set gcp:project/);
        });

        for (const role of RISKY_ROLES) {
            it(`${role} in deployerRoles`, async () => {
                const message = await refused({ deployerRoles: ["roles/container.admin", role] });
                assert.ok(message.includes(`deployerRoles = "${role}": a role other than this one`), message);
            });
        }

        it("a project-wide storage role in deployerRoles", async () => {
            const message = await refused({ deployerRoles: ["roles/storage.admin"] });
            assert.match(message, /deployerRoles = "roles\/storage.admin": a role other than this one: storage and KMS roles/);
        });

        it("a workloadPoolReady that is not true or false", async () => {
            const message = await refused({ workloadPoolReady: "yes" });
            assert.match(message, /workloadPoolReady = "yes": true once a platform cluster exists/);
        });

        for (const role of [
            "roles/binaryauthorization.admin",
            "roles/binaryauthorization.policyAdmin",
            "roles/gkebackup.admin",
            "roles/gkebackup.restoreAdmin",
        ]) {
            it(`${role} in deployerRoles`, async () => {
                const message = await refused({ deployerRoles: [role] });
                assert.ok(message.includes(`deployerRoles = "${role}": a role other than this one`), message);
            });
        }

        it("a malformed bucket name or location", async () => {
            const message = await refused({ stateBucketName: "Acme_State!", stateBucketLocation: "moon" });
            assert.match(message, /stateBucketName = "Acme_State!": a bucket name of 3-63/);
            assert.match(message, /stateBucketLocation = "moon": a region/);
        });
    });
});
