import * as pulumi from "@pulumi/pulumi";
import * as gcp from "@pulumi/gcp";
import {
    BACKUP_BUCKET_ROLE,
    backupBucketArgs,
    backupServiceAccountArgs,
    BINARY_AUTHORIZATION_POLICY_ROLE,
    BITNAMI_REPOSITORY_DESCRIPTION,
    bitnamiRepositoryId,
    dockerRepositoryId,
    gkeServiceAgent,
    NODE_SERVICE_ACCOUNT_ROLES,
    nodeServiceAccountId,
    PLATFORM_APIS,
    SECRETS_KEY_ROLE,
    secretsCryptoKeyArgs,
    secretsKeyRingId,
    workloadIdentityMember,
} from "../components/gcp";
import { BACKUP_SERVICE_ACCOUNT } from "../components/data/postgresqlBackup";
import { AIRFLOW_SERVICE_ACCOUNT } from "../components/data/airflow";
import { SPARK_HISTORY_SERVICE_ACCOUNT } from "../components/data/sparkHistory";
import { DRIVER_SERVICE_ACCOUNT } from "../components/pipeline/streamingJob";
import {
    LOG_BUCKET_ROLES,
    LOG_WRITERS,
    logBucketArgs,
    logBucketRoleSuffix,
    logServiceAccountArgs,
    LogWriter,
    sparkEventsMarkerArgs,
} from "../components/gcp/logBucket";
import { GKE_BACKUP_API, gkeBackupServiceAgent } from "../components/gcp/gkeBackup";
import { loadBootstrapConfig } from "./config";
import {
    DEPLOYER_ALERTING_ROLES,
    DEPLOYER_DASHBOARD_ROLE,
    DEPLOYER_GKE_BACKUP_ROLE,
    DEPLOYER_SECRETS_KEY_ROLE,
    PREVIEWER_PROJECT_ROLES,
} from "./roles";

// Validated before anything is registered: a wrong repository id here would trust the wrong workflows.
const config = loadBootstrapConfig();
const project = config.project;

/** APIs of token exchange, impersonation, state and secrets, plus every API the platform calls (it enables none itself). */
const APIS = [
    ...new Set([
        "iam.googleapis.com",
        "iamcredentials.googleapis.com",
        "sts.googleapis.com",
        "cloudkms.googleapis.com",
        "storage.googleapis.com",
        "cloudresourcemanager.googleapis.com",
        ...PLATFORM_APIS,
        // Backup for GKE, as the platform enables it with projectSetup: program: only for stacks with deletionProtection.
        ...(Object.values(config.platform).some((stack) => stack.deletionProtection) ? [GKE_BACKUP_API] : []),
    ]),
];
const GITHUB_OIDC_ISSUER = "https://token.actions.githubusercontent.com";
/** The cluster component's name in the platform program (index.ts): the node service account's id derives from it. */
const PLATFORM_CLUSTER = "gke";
/** The platform's SecretsKey component name (index.ts): the key ring's id derives from it. */
const PLATFORM_SECRETS_KEY = "gke-secrets";
/** The platform's PostgreSQL namespace, where the backup CronJob's Kubernetes service account is. */
const POSTGRESQL_NAMESPACE = "postgresql";
/** The Kubernetes service account each log writer's Google service account acts for (the platform's index.ts binds the same). */
const LOG_KUBERNETES_SERVICE_ACCOUNTS: Readonly<Record<LogWriter, { namespace: string; name: string }>> = {
    airflow: { namespace: "airflow", name: AIRFLOW_SERVICE_ACCOUNT },
    "spark-events": { namespace: "spark", name: DRIVER_SERVICE_ACCOUNT },
    "spark-history": { namespace: "spark", name: SPARK_HISTORY_SERVICE_ACCOUNT },
};
const DAY = 86400;
/** Deleted or overwritten state stays restorable this long (soft delete), and noncurrent versions are kept this long. */
const STATE_RETENTION_DAYS = 30;

const apis = APIS.map(
    (service) =>
        new gcp.projects.Service(`api-${service.split(".")[0]}`, {
            project,
            service,
            // Other workloads in the project may use these APIs: never switch them off on destroy.
            disableOnDestroy: false,
            disableDependentServices: false,
        }),
);
const afterApis: pulumi.CustomResourceOptions = { dependsOn: apis };
/** What nobody must lose by accident: all stacks' state, the keys their secrets are encrypted with, what the clusters run as. */
const kept: pulumi.CustomResourceOptions = { ...afterApis, protect: true };

const stateBucket = new gcp.storage.Bucket(
    "pulumi-state",
    {
        project,
        name: config.stateBucketName,
        location: config.stateBucketLocation,
        uniformBucketLevelAccess: true,
        publicAccessPrevention: "enforced",
        // Every checkpoint Pulumi writes is a new version; an older one is how a damaged stack is recovered.
        versioning: { enabled: true },
        // A deleted or overwritten object (a version too) stays restorable for 30 days (bootstrap/README.md, "Restore").
        softDeletePolicy: { retentionDurationSeconds: STATE_RETENTION_DAYS * DAY },
        // By age, not count: one update writes many checkpoints, so a count would keep only minutes of history.
        lifecycleRules: [
            {
                action: { type: "Delete" },
                condition: { withState: "ARCHIVED", daysSinceNoncurrentTime: STATE_RETENTION_DAYS },
            },
        ],
        forceDestroy: false,
        labels: { purpose: "pulumi-state", project: "streaming-platform" },
    },
    kept,
);

// Key rings cannot be deleted in Google Cloud and their names never come back; protect ring and keys anyway.
const keyRing = new gcp.kms.KeyRing("pulumi", { project, name: "pulumi", location: config.region }, kept);

const pool = new gcp.iam.WorkloadIdentityPool(
    "github-actions",
    {
        project,
        workloadIdentityPoolId: "github-actions",
        displayName: "GitHub Actions",
        description: `Deployments of streaming-platform from GitHub Actions in ${config.githubRepository}`,
    },
    afterApis,
);
const provider = new gcp.iam.WorkloadIdentityPoolProvider(
    "github",
    {
        project,
        workloadIdentityPoolId: pool.workloadIdentityPoolId,
        workloadIdentityPoolProviderId: "github",
        displayName: "GitHub",
        oidc: { issuerUri: GITHUB_OIDC_ISSUER },
        attributeMapping: {
            "google.subject": "assertion.sub",
            "attribute.actor": "assertion.actor",
            "attribute.repository": "assertion.repository",
            "attribute.repository_id": "assertion.repository_id",
            "attribute.repository_owner": "assertion.repository_owner",
            "attribute.repository_owner_id": "assertion.repository_owner_id",
            "attribute.ref": "assertion.ref",
            "attribute.environment": "assertion.environment",
            "attribute.workflow_ref": "assertion.workflow_ref",
        },
        // GitHub signs tokens of every repository with the same issuer. Ids, not names: a renamed, transferred
        // or deleted-and-re-created repository of the same name gets no token exchanged.
        attributeCondition: `assertion.repository_id == '${config.githubRepositoryId}' && assertion.repository_owner_id == '${config.githubOwnerId}'`,
    },
    afterApis,
);

/** A CI identity: a service account only tokens with one GitHub OIDC subject may impersonate; no key is ever created. */
function ciIdentity(name: string, accountId: string, description: string, subject: string) {
    const account = new gcp.serviceaccount.Account(
        name,
        { project, accountId, displayName: `streaming-platform CI ${name}`, description: `${description} (GitHub subject ${subject})` },
        afterApis,
    );
    new gcp.serviceaccount.IAMMember(`${name}-github`, {
        serviceAccountId: account.name,
        role: "roles/iam.workloadIdentityUser",
        member: pulumi.interpolate`principal://iam.googleapis.com/${pool.name}/subject/${subject}`,
    });
    return account;
}
const subject = (suffix: string) => `repo:${config.githubRepository}:${suffix}`;

// The previewer runs the code of pull requests: it reads, and decrypts only the preview stack's secrets.
const previewer = ciIdentity("previewer", "streaming-platform-previewer", "Read-only pulumi preview of pull requests", subject("pull_request"));
for (const role of PREVIEWER_PROJECT_ROLES) {
    new gcp.projects.IAMMember(`previewer-${role.split("/")[1]}`, { project, role, member: previewer.member }, afterApis);
}
new gcp.storage.BucketIAMMember("previewer-state", { bucket: stateBucket.name, role: "roles/storage.objectViewer", member: previewer.member });

/** The project number names the GKE service agent (service-<number>@container-engine-robot.iam.gserviceaccount.com). */
const projectNumber = gcp.organizations.getProjectOutput({ projectId: project }).number;

const stackSecretsProviders: Record<string, pulumi.Output<string>> = {};
const stackResources: Record<string, pulumi.Output<unknown>> = {};
const deployers: Record<string, pulumi.Output<string>> = {};
const nodeAccounts: Record<string, pulumi.Output<string>> = {};
for (const stack of config.stacks) {
    // The stack's secrets key: 90-day rotation; older versions stay enabled, so older state still decrypts.
    const key = new gcp.kms.CryptoKey(
        `pulumi-secrets-${stack}`,
        {
            name: `pulumi-secrets-${stack}`,
            keyRing: keyRing.id,
            purpose: "ENCRYPT_DECRYPT",
            rotationPeriod: "7776000s",
            labels: { purpose: "pulumi-secrets", stack },
        },
        kept,
    );
    stackSecretsProviders[stack] = pulumi.interpolate`gcpkms://${key.keyRing}/cryptoKeys/${key.name}`;

    // What the stack's nodes run as (the platform's components/gcp/gkeCluster.ts uses this id with projectSetup: bootstrap).
    const nodes = new gcp.serviceaccount.Account(
        `nodes-${stack}`,
        {
            project,
            accountId: nodeServiceAccountId(PLATFORM_CLUSTER, stack),
            displayName: `GKE nodes of ${PLATFORM_CLUSTER}`,
            description: `Nodes of the ${stack} cluster of streaming-platform`,
        },
        kept,
    );
    nodeAccounts[stack] = nodes.email;
    for (const role of NODE_SERVICE_ACCOUNT_ROLES) {
        new gcp.projects.IAMMember(`nodes-${stack}-${role.split("/")[1]}`, { project, role, member: nodes.member }, afterApis);
    }
    // The same ids, descriptions and settings the platform gives them with projectSetup: program.
    const pipelineRepository = new gcp.artifactregistry.Repository(
        `pipeline-${stack}`,
        {
            project,
            location: config.region,
            repositoryId: dockerRepositoryId("pipeline", stack),
            format: "DOCKER",
            description: "Images of the streaming platform's pipeline",
            cleanupPolicies: [{ id: "keep-recent", action: "KEEP", mostRecentVersions: { keepCount: 10 } }],
        },
        afterApis,
    );
    const dockerHubRepository = new gcp.artifactregistry.Repository(
        `dockerhub-${stack}`,
        {
            project,
            location: config.region,
            repositoryId: dockerRepositoryId("dockerhub", stack),
            format: "DOCKER",
            mode: "REMOTE_REPOSITORY",
            description: "Pull-through cache of Docker Hub for the streaming platform",
            remoteRepositoryConfig: { dockerRepository: { publicRepository: "DOCKER_HUB" } },
        },
        afterApis,
    );
    // The standard repository `npm run images:mirror -- --stack <stack>` copies the Bitnami images into, which the
    // stack pulls from by default (components/gcp/bitnamiImages.ts): it must exist before the images can be copied,
    // and so before the stack's first pulumi up. Protected where the stack protects its data: once
    // docker.io/bitnamilegacy is gone it is the only copy.
    const bitnamiRepository = new gcp.artifactregistry.Repository(
        `bitnami-${stack}`,
        {
            project,
            location: config.region,
            repositoryId: bitnamiRepositoryId(stack),
            format: "DOCKER",
            description: BITNAMI_REPOSITORY_DESCRIPTION,
        },
        { ...afterApis, protect: config.platform[stack].deletionProtection },
    );

    // Only jobs in the GitHub environment named after the stack (its deployment branches: main; prod: reviewers).
    const deployer = ciIdentity(
        `deployer-${stack}`,
        `platform-deployer-${stack}`,
        `pulumi up and destroy of the ${stack} stack`,
        subject(`environment:${stack}`),
    );
    deployers[stack] = deployer.email;
    for (const role of config.deployerRoles) {
        new gcp.projects.IAMMember(`deployer-${stack}-${role.split("/").pop()}`, { project, role, member: deployer.member }, afterApis);
    }
    // Cloud Monitoring: the stack's dashboard, and its alert policies and channels where it makes them (roles.ts).
    for (const role of [DEPLOYER_DASHBOARD_ROLE, ...(config.platform[stack].alertPolicies ? DEPLOYER_ALERTING_ROLES : [])]) {
        new gcp.projects.IAMMember(`deployer-${stack}-${role.split("/").pop()}`, { project, role, member: deployer.member }, afterApis);
    }
    // GKE checks actAs on the node service account for whoever creates the cluster and node pool: on that account only.
    new gcp.serviceaccount.IAMMember(`deployer-${stack}-nodes-user`, {
        serviceAccountId: nodes.name,
        role: "roles/iam.serviceAccountUser",
        member: deployer.member,
    });
    // Pushes the pipeline images; pulls base images through the Docker Hub cache (dockerHubMirror).
    new gcp.artifactregistry.RepositoryIamMember(`deployer-${stack}-pipeline-writer`, {
        project,
        location: pipelineRepository.location,
        repository: pipelineRepository.name,
        role: "roles/artifactregistry.writer",
        member: deployer.member,
    });
    // Lists the stack's own repository before anything pulls from it (components/gcp/bitnamiImages.ts), pulls the
    // pipeline images' Bitnami bases (buildImages) and, with chartRepository, the charts from the stack's
    // own repository; the images:mirror and charts:pull --push runs that fill it are a person's, with their own rights.
    new gcp.artifactregistry.RepositoryIamMember(`deployer-${stack}-bitnami-reader`, {
        project,
        location: bitnamiRepository.location,
        repository: bitnamiRepository.name,
        role: "roles/artifactregistry.reader",
        member: deployer.member,
    });
    new gcp.artifactregistry.RepositoryIamMember(`deployer-${stack}-dockerhub-reader`, {
        project,
        location: dockerHubRepository.location,
        repository: dockerHubRepository.name,
        role: "roles/artifactregistry.reader",
        member: deployer.member,
    });
    // State: read and write objects of the bucket; secrets: this stack's key only.
    new gcp.storage.BucketIAMMember(`deployer-${stack}-state`, {
        bucket: stateBucket.name,
        role: "roles/storage.objectUser",
        member: deployer.member,
    });
    new gcp.kms.CryptoKeyIAMMember(`deployer-${stack}-secrets`, {
        cryptoKeyId: key.id,
        role: "roles/cloudkms.cryptoKeyEncrypterDecrypter",
        member: deployer.member,
    });
    const platform = config.platform[stack];
    const made: Record<string, pulumi.Input<unknown>> = {};

    // Secrets in etcd (stacks with deletionProtection): the ring, key and grant the platform's SecretsKey makes
    // with projectSetup: program, under the same ids; the cluster names the key. Never destroyed (retainOnDelete,
    // protected): destroying a key's versions makes every Secret encrypted with them unreadable.
    if (platform.deletionProtection) {
        const ring = new gcp.kms.KeyRing(
            `${PLATFORM_SECRETS_KEY}-${stack}-ring`,
            { project, location: config.region, name: secretsKeyRingId(PLATFORM_SECRETS_KEY, stack) },
            { ...kept, retainOnDelete: true },
        );
        const gkeKey = new gcp.kms.CryptoKey(`${PLATFORM_SECRETS_KEY}-${stack}-key`, secretsCryptoKeyArgs(ring.id, stack), {
            ...kept,
            retainOnDelete: true,
        });
        // GKE encrypts and decrypts the Secrets as its service agent (it exists once the container API is on): this key only.
        new gcp.kms.CryptoKeyIAMMember(
            `${PLATFORM_SECRETS_KEY}-${stack}-gke-agent`,
            { cryptoKeyId: gkeKey.id, role: SECRETS_KEY_ROLE, member: projectNumber.apply(gkeServiceAgent) },
            afterApis,
        );
        // The deployer only names the key in the cluster's databaseEncryption: it reads it, never encrypts with it.
        new gcp.kms.CryptoKeyIAMMember(`deployer-${stack}-gke-secrets-viewer`, {
            cryptoKeyId: gkeKey.id,
            role: DEPLOYER_SECRETS_KEY_ROLE,
            member: deployer.member,
        });
        made.gkeSecretsKey = gkeKey.id;

        // Backup for GKE (components/gcp/gkeBackup.ts): the plan encrypts its backups, Secrets included, with this
        // key, which the Backup for GKE service agent must use (it exists once the gkebackup API is on): this key only.
        new gcp.kms.CryptoKeyIAMMember(
            `${PLATFORM_SECRETS_KEY}-${stack}-gkebackup-agent`,
            { cryptoKeyId: gkeKey.id, role: SECRETS_KEY_ROLE, member: projectNumber.apply(gkeBackupServiceAgent) },
            afterApis,
        );
        // The deployer creates, updates and deletes the stack's BackupPlan; roles.ts says why on the project.
        new gcp.projects.IAMMember(
            `deployer-${stack}-${DEPLOYER_GKE_BACKUP_ROLE.split("/")[1]}`,
            { project, role: DEPLOYER_GKE_BACKUP_ROLE, member: deployer.member },
            afterApis,
        );
    }

    // The project's one Binary Authorization policy stays in the platform, since what it admits follows the stack's
    // config; only the enforcing stack's deployer may write it (components/gcp/binaryAuthorization.ts says why).
    if (platform.enforcesBinaryAuthorization) {
        new gcp.projects.IAMMember(
            `deployer-${stack}-${BINARY_AUTHORIZATION_POLICY_ROLE.split("/")[1]}`,
            { project, role: BINARY_AUTHORIZATION_POLICY_ROLE, member: deployer.member },
            afterApis,
        );
    }

    // PostgreSQL backups: the bucket and its one writer, as the platform's BackupBucket makes them with projectSetup:
    // program (components/gcp/backupBucket.ts), under the same names; protected like the platform protects it.
    const backups = new gcp.storage.Bucket(
        `pg-backups-${stack}`,
        backupBucketArgs({
            project,
            region: config.region,
            stack,
            retentionDays: platform.backupRetentionDays,
            noncurrentDays: platform.backupNoncurrentDays,
            forceDestroy: !platform.deletionProtection,
        }),
        { ...afterApis, protect: platform.deletionProtection },
    );
    const backupAccount = new gcp.serviceaccount.Account(`pg-backup-${stack}`, backupServiceAccountArgs(project, stack), afterApis);
    new gcp.storage.BucketIAMMember(`pg-backup-${stack}-object-creator`, {
        bucket: backups.name,
        role: BACKUP_BUCKET_ROLE,
        member: backupAccount.member,
    });
    // The backup CronJob's Kubernetes service account acts as it. The member's pool exists once a cluster with
    // Workload Identity does (workloadPoolReady; README "One-time setup", step 7).
    if (config.workloadPoolReady) {
        new gcp.serviceaccount.IAMMember(`pg-backup-${stack}-workload-identity`, {
            serviceAccountId: backupAccount.name,
            role: "roles/iam.workloadIdentityUser",
            member: workloadIdentityMember(project, { namespace: POSTGRESQL_NAMESPACE, name: BACKUP_SERVICE_ACCOUNT }),
        });
    }
    made.backupBucket = backups.name;
    made.backupServiceAccount = backupAccount.email;

    // Logs (Airflow task logs, Spark event logs): the bucket, its spark-events/ marker, one account per writer or
    // reader with one role on this bucket only, as the platform's LogBucket makes them with projectSetup: program
    // (components/gcp/logBucket.ts), under the same names; protected like the platform protects it.
    const logs = new gcp.storage.Bucket(
        `logs-${stack}`,
        logBucketArgs({
            project,
            region: config.region,
            stack,
            retentionDays: platform.logRetentionDays,
            forceDestroy: !platform.deletionProtection,
        }),
        { ...afterApis, protect: platform.deletionProtection },
    );
    new gcp.storage.BucketObject(`logs-${stack}-spark-events-dir`, sparkEventsMarkerArgs(logs.name));
    const logAccounts: Partial<Record<LogWriter, pulumi.Output<string>>> = {};
    for (const writer of LOG_WRITERS) {
        const account = new gcp.serviceaccount.Account(`logs-${stack}-${writer}`, logServiceAccountArgs(writer, project, stack), afterApis);
        new gcp.storage.BucketIAMMember(`logs-${stack}-${writer}-${logBucketRoleSuffix(writer)}`, {
            bucket: logs.name,
            role: LOG_BUCKET_ROLES[writer],
            member: account.member,
        });
        // Behind workloadPoolReady like the backup account's: the member's pool exists once a cluster does.
        if (config.workloadPoolReady) {
            new gcp.serviceaccount.IAMMember(`logs-${stack}-${writer}-workload-identity`, {
                serviceAccountId: account.name,
                role: "roles/iam.workloadIdentityUser",
                member: workloadIdentityMember(project, LOG_KUBERNETES_SERVICE_ACCOUNTS[writer]),
            });
        }
        logAccounts[writer] = account.email;
    }
    made.logBucket = logs.name;
    made.logServiceAccounts = logAccounts;
    stackResources[stack] = pulumi.output(made);

    if (stack === config.previewStack) {
        new gcp.kms.CryptoKeyIAMMember("previewer-secrets", {
            cryptoKeyId: key.id,
            role: "roles/cloudkms.cryptoKeyDecrypter",
            member: previewer.member,
        });
        // Every preview lists this repository's images (components/gcp/bitnamiImages.ts, dockerimages.list), and loads
        // each release's chart once its inputs are known (pulumi-kubernetes helm_release.go: Check loads the chart):
        // with chartRepository set, from this repository.
        new gcp.artifactregistry.RepositoryIamMember("previewer-bitnami-reader", {
            project,
            location: bitnamiRepository.location,
            repository: bitnamiRepository.name,
            role: "roles/artifactregistry.reader",
            member: previewer.member,
        });
    }
}

/** Repository variables of GitHub (docs/ci.md): name -> value. */
export const githubVariables = pulumi.output({
    GCP_WORKLOAD_IDENTITY_PROVIDER: provider.name,
    GCP_PROJECT: project,
    PULUMI_BACKEND_URL: pulumi.interpolate`gs://${stateBucket.name}`,
    GCP_PREVIEWER_SERVICE_ACCOUNT: previewer.email,
    ...Object.fromEntries(
        Object.entries(deployers).map(([stack, email]) => [`GCP_DEPLOYER_SERVICE_ACCOUNT_${stack.toUpperCase().replace(/-/g, "_")}`, email]),
    ),
});
/** The state backend, `pulumi login <stateBackendUrl>`. */
export const stateBackendUrl = pulumi.interpolate`gs://${stateBucket.name}`;
/** Per stack, for `pulumi stack init <stack> --secrets-provider` or `pulumi stack change-secrets-provider`. */
export const secretsProviders = pulumi.output(stackSecretsProviders);
/** Per stack, the node service account the platform uses with projectSetup: bootstrap. */
export const nodeServiceAccounts = pulumi.output(nodeAccounts);
/**
 * Per stack, what the platform uses by name with projectSetup: bootstrap: the backup bucket and account, the log
 * bucket and its accounts, the Secrets key (which also encrypts Backup for GKE's backups).
 */
export const platformResources = pulumi.output(stackResources);
/** projects/<number>/locations/global/workloadIdentityPools/<pool>/providers/<provider>. */
export const workloadIdentityProvider = provider.name;
export const gcpProject = project;
