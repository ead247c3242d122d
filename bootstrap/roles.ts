/**
 * What each CI identity may do. Derived from what the platform program (../index.ts, ../components)
 * creates with `projectSetup: bootstrap`: the cluster, its node pool, the network, UI addresses, image
 * pushes and the Helm releases. Everything that needs an IAM, Service Usage or Artifact Registry admin
 * role (the node service account and its project roles, the repositories, the APIs) is made here, by
 * a person, so no CI identity holds such a role. Grants on one resource only (a service account, a
 * repository, the bucket, a key) are in index.ts next to the resource.
 */

/** Project roles of each deployer (dev and prod alike): the least set for `pulumi up` and `pulumi destroy`. */
export const DEPLOYER_PROJECT_ROLES = [
    // The GKE cluster and node pool (components/gcp/gkeCluster.ts), then the Kubernetes API over the
    // IAM-gated DNS endpoint: the Helm releases create namespaces, Secrets, Roles and RoleBindings,
    // which container.developer cannot. GKE accepts no resource conditions, so this is project-wide.
    "roles/container.admin",
    // VPC, subnetwork with secondary ranges, Cloud Router, Cloud NAT (components/gcp/network.ts) and the
    // UIs' regional addresses (components/gcp/uiAddresses.ts). No firewall rule is created by the program.
    "roles/compute.networkAdmin",
] as const;

/**
 * Project roles of the previewer, which runs a pull request's code: read only. `pulumi preview` reads
 * the cluster (the Kubernetes provider diffs the releases against it) and, with --refresh, the network.
 */
export const PREVIEWER_PROJECT_ROLES = ["roles/container.viewer", "roles/compute.networkViewer"] as const;

/**
 * A deployer's role on its stack's Secrets key (stacks with deletionProtection): it names the key in the
 * cluster's databaseEncryption and reads it; the GKE service agent, not the deployer, encrypts with it.
 */
export const DEPLOYER_SECRETS_KEY_ROLE = "roles/cloudkms.viewer";

/**
 * The deployer's role for Backup for GKE, on stacks with deletionProtection: it creates, updates and deletes
 * the stack's BackupPlan (components/gcp/gkeBackup.ts). Granted on the project because Google documents the
 * project as its lowest resource: a plan cannot be granted on before it exists, and the one plan-level role
 * (delegatedBackupAdmin) only manages backups inside a plan. backupAdmin rather than gkebackup.admin: it
 * cannot create restore plans or restores (which write into clusters) nor Cloud KMS key handles.
 */
export const DEPLOYER_GKE_BACKUP_ROLE = "roles/gkebackup.backupAdmin";

/**
 * Cloud Monitoring, project-wide (its dashboards, alert policies and channels have no narrower resource to
 * grant on): every GKE stack makes a Dashboard (components/gcp/monitoring.ts), so each deployer may edit
 * dashboards; a stack with `alertPolicies` on also makes AlertPolicies and, with `alertEmails`, email
 * NotificationChannels. Editor roles only: none of them may read metrics or change another's access.
 */
export const DEPLOYER_DASHBOARD_ROLE = "roles/monitoring.dashboardEditor";
export const DEPLOYER_ALERTING_ROLES = ["roles/monitoring.alertPolicyEditor", "roles/monitoring.notificationChannelEditor"] as const;

/**
 * Each Google Cloud resource type a deployer creates with `projectSetup: bootstrap`, the permission its
 * creation checks (Google Cloud's IAM permissions reference), and the role bootstrap grants it through.
 * test/bootstrap.test.ts holds every type the platform's stacks create to this table and each role to a grant.
 */
export const DEPLOYER_RESOURCE_GRANTS: ReadonlyArray<{ readonly type: string; readonly permission: string; readonly role: string }> = [
    { type: "gcp:container/cluster:Cluster", permission: "container.clusters.create", role: "roles/container.admin" },
    { type: "gcp:container/nodePool:NodePool", permission: "container.clusters.update", role: "roles/container.admin" },
    { type: "gcp:compute/network:Network", permission: "compute.networks.create", role: "roles/compute.networkAdmin" },
    { type: "gcp:compute/subnetwork:Subnetwork", permission: "compute.subnetworks.create", role: "roles/compute.networkAdmin" },
    { type: "gcp:compute/router:Router", permission: "compute.routers.create", role: "roles/compute.networkAdmin" },
    { type: "gcp:compute/routerNat:RouterNat", permission: "compute.routers.update", role: "roles/compute.networkAdmin" },
    { type: "gcp:compute/address:Address", permission: "compute.addresses.create", role: "roles/compute.networkAdmin" },
    { type: "gcp:monitoring/dashboard:Dashboard", permission: "monitoring.dashboards.create", role: DEPLOYER_DASHBOARD_ROLE },
    { type: "gcp:monitoring/alertPolicy:AlertPolicy", permission: "monitoring.alertPolicies.create", role: DEPLOYER_ALERTING_ROLES[0] },
    {
        type: "gcp:monitoring/notificationChannel:NotificationChannel",
        permission: "monitoring.notificationChannels.create",
        role: DEPLOYER_ALERTING_ROLES[1],
    },
    { type: "gcp:gkebackup/backupPlan:BackupPlan", permission: "gkebackup.backupPlans.create", role: DEPLOYER_GKE_BACKUP_ROLE },
    {
        type: "gcp:binaryauthorization/policy:Policy",
        permission: "binaryauthorization.policy.update",
        role: "roles/binaryauthorization.policyEditor",
    },
    // On the stack's pipeline repository only.
    { type: "docker:index/image:Image", permission: "artifactregistry.repositories.uploadArtifacts", role: "roles/artifactregistry.writer" },
];

/**
 * Never granted to a CI identity on the project: basic roles, and every role that can reach another
 * identity's rights (set IAM policies, act as or mint tokens for any service account, grant project
 * roles, disable APIs, make a repository public). Storage and KMS roles belong on the bucket and keys.
 */
export const FORBIDDEN_PROJECT_ROLES: ReadonlyArray<{ readonly pattern: RegExp; readonly reason: string }> = [
    { pattern: /^roles\/(owner|editor|viewer)$/, reason: "basic roles (owner, editor, viewer) grant far more than a deployment needs" },
    {
        pattern: /^roles\/iam\.(serviceAccountAdmin|serviceAccountUser|serviceAccountTokenCreator|workloadIdentityUser|securityAdmin|roleAdmin)$/,
        reason: "it lets CI act as or take over any service account of the project; bootstrap grants serviceAccountUser on the stack's node service account only",
    },
    {
        pattern: /^roles\/resourcemanager\.projectIamAdmin$/,
        reason: "a condition can limit the roles it grants but not to whom; bootstrap binds the node service account's roles itself",
    },
    { pattern: /^roles\/serviceusage\.serviceUsageAdmin$/, reason: "it can disable any API of the project; bootstrap enables the APIs" },
    {
        pattern: /^roles\/artifactregistry\.(admin|repoAdmin)$/,
        reason: "it can make a repository public or give it away; bootstrap creates the repositories and grants writer on them",
    },
    {
        pattern: /^roles\/binaryauthorization\.(admin|policyAdmin)$/,
        reason: "it can set who may change the Binary Authorization policy; bootstrap grants policyEditor to the enforcing stack's deployer only",
    },
    {
        pattern: /^roles\/gkebackup\.(admin|restoreAdmin|delegatedRestoreAdmin)$/,
        reason: "it restores backups into clusters (Secrets included); bootstrap grants gkebackup.backupAdmin to protected stacks' deployers only",
    },
    { pattern: /^roles\/(storage|cloudkms)\./, reason: "storage and KMS roles are granted on the state bucket and the stack's key only" },
];

/** The risky roles themselves, for tests and docs: none of them may be granted to a CI identity project-wide. */
export const RISKY_ROLES = [
    "roles/owner",
    "roles/editor",
    "roles/viewer",
    "roles/iam.serviceAccountAdmin",
    "roles/iam.serviceAccountUser",
    "roles/iam.serviceAccountTokenCreator",
    "roles/resourcemanager.projectIamAdmin",
    "roles/serviceusage.serviceUsageAdmin",
    "roles/artifactregistry.admin",
] as const;
