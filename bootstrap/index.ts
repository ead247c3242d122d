import * as pulumi from "@pulumi/pulumi";
import * as gcp from "@pulumi/gcp";
import { loadBootstrapConfig } from "./config";
import { GRANTABLE_ROLES_CONDITION, PROJECT_IAM_ADMIN } from "./roles";

// Validated before anything is registered: a wrong repository here would trust the wrong workflows.
const config = loadBootstrapConfig();
const project = config.project;

/** APIs the bootstrap itself and then the CI deployments need (the platform enables the rest). */
const APIS = [
    "iam.googleapis.com",
    "iamcredentials.googleapis.com",
    "sts.googleapis.com",
    "cloudkms.googleapis.com",
    "storage.googleapis.com",
    "cloudresourcemanager.googleapis.com",
    "container.googleapis.com",
    "compute.googleapis.com",
    "artifactregistry.googleapis.com",
];
const GITHUB_OIDC_ISSUER = "https://token.actions.githubusercontent.com";
/** Every noncurrent version of a state file beyond this many newer ones is deleted. */
const NONCURRENT_STATE_VERSIONS = 20;

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
/** What nobody must lose by accident: all stacks' state and the key their secrets are encrypted with. */
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
        lifecycleRules: [
            {
                action: { type: "Delete" },
                condition: { withState: "ARCHIVED", numNewerVersions: NONCURRENT_STATE_VERSIONS },
            },
        ],
        forceDestroy: false,
        labels: { purpose: "pulumi-state", project: "streaming-platform" },
    },
    kept,
);

// Key rings cannot be deleted in Google Cloud and their names never come back; protect both anyway.
const keyRing = new gcp.kms.KeyRing("pulumi", { project, name: "pulumi", location: config.region }, kept);
const secretsKey = new gcp.kms.CryptoKey(
    "pulumi-secrets",
    {
        name: "pulumi-secrets",
        keyRing: keyRing.id,
        purpose: "ENCRYPT_DECRYPT",
        // 90 days; older versions stay enabled, so state encrypted before a rotation still decrypts.
        rotationPeriod: "7776000s",
        labels: { purpose: "pulumi-secrets" },
    },
    kept,
);

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
            "attribute.workflow_ref": "assertion.workflow_ref",
        },
        // GitHub signs tokens for every repository with the same issuer: only this one may exchange them.
        attributeCondition: `assertion.repository == '${config.githubRepository}'`,
    },
    afterApis,
);

const deployer = new gcp.serviceaccount.Account(
    "deployer",
    {
        project,
        accountId: "streaming-platform-deployer",
        displayName: "streaming-platform CI deployer",
        description: `Impersonated by GitHub Actions of ${config.githubRepository} through Workload Identity Federation`,
    },
    afterApis,
);

// Workflows of the one repository may impersonate the deployer; no other identity of the pool can.
new gcp.serviceaccount.IAMMember("deployer-github-impersonation", {
    serviceAccountId: deployer.name,
    role: "roles/iam.workloadIdentityUser",
    member: pulumi.interpolate`principalSet://iam.googleapis.com/${pool.name}/attribute.repository/${config.githubRepository}`,
});

for (const role of config.deployerRoles) {
    new gcp.projects.IAMMember(
        `deployer-${role.split("/").pop()}`,
        {
            project,
            role,
            member: deployer.member,
            condition: role === PROJECT_IAM_ADMIN ? GRANTABLE_ROLES_CONDITION : undefined,
        },
        afterApis,
    );
}
// State and secrets: on the bucket and on the key only, never project-wide.
new gcp.storage.BucketIAMMember("deployer-state", {
    bucket: stateBucket.name,
    role: "roles/storage.objectAdmin",
    member: deployer.member,
});
new gcp.kms.CryptoKeyIAMMember("deployer-secrets", {
    cryptoKeyId: secretsKey.id,
    role: "roles/cloudkms.cryptoKeyEncrypterDecrypter",
    member: deployer.member,
});

/** GitHub repository variable PULUMI_BACKEND_URL. */
export const stateBackendUrl = pulumi.interpolate`gs://${stateBucket.name}`;
/** GitHub repository variable PULUMI_SECRETS_PROVIDER; also `pulumi stack init --secrets-provider`. */
export const secretsProvider = pulumi.interpolate`gcpkms://${secretsKey.keyRing}/cryptoKeys/${secretsKey.name}`;
/** GitHub repository variable GCP_WORKLOAD_IDENTITY_PROVIDER: projects/<number>/locations/global/workloadIdentityPools/<pool>/providers/<provider>. */
export const workloadIdentityProvider = provider.name;
/** GitHub repository variable GCP_DEPLOYER_SERVICE_ACCOUNT. */
export const deployerServiceAccount = deployer.email;
/** GitHub repository variable GCP_PROJECT. */
export const gcpProject = project;
