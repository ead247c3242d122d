import { NODE_SERVICE_ACCOUNT_ROLES } from "../components/gcp";

/**
 * What the deployer service account may do, derived from what the platform program (../index.ts and
 * ../components) creates. Storage and KMS roles are deliberately absent: they are granted on the state
 * bucket and on the secrets key only (see index.ts).
 */
export const DEPLOYER_PROJECT_ROLES = [
    // GKE cluster and node pool (components/gkeCluster.ts), and then the Kubernetes API over the
    // IAM-gated DNS endpoint: the Helm releases create namespaces, Secrets, Roles and RoleBindings,
    // which needs full in-cluster rights; container.developer cannot create RBAC objects.
    "roles/container.admin",
    // VPC, subnetwork with secondary ranges, Cloud Router and Cloud NAT (components/network.ts).
    // No firewall rules are created by the program (GKE's service agent makes its own).
    "roles/compute.networkAdmin",
    // Creates, updates and deletes the per-stack node service account (components/gkeCluster.ts).
    "roles/iam.serviceAccountAdmin",
    // actAs on the node service account: GKE checks that whoever creates the cluster and node pool
    // may act as the account the nodes run as. That account is created later by the platform program,
    // with a per-stack id, so it cannot be named here, and IAM Conditions cannot narrow this role to
    // one service account: it has to be granted on the project.
    "roles/iam.serviceAccountUser",
    // Binds the node service account's roles on the project (components/gkeCluster.ts). Granted with a
    // condition so that the only roles the deployer can grant or revoke are NODE_SERVICE_ACCOUNT_ROLES.
    "roles/resourcemanager.projectIamAdmin",
    // Enables the APIs the platform calls (components/projectApis.ts: compute, container, iam,
    // logging, monitoring, artifactregistry).
    "roles/serviceusage.serviceUsageAdmin",
    // Creates the pipeline image repository and the Docker Hub remote repository and pushes the
    // images (components/pipelineImages.ts, components/dockerHubMirror.ts); writer cannot create repositories.
    "roles/artifactregistry.admin",
] as const;

/** The role whose grants are limited by GRANTABLE_ROLES_CONDITION. */
export const PROJECT_IAM_ADMIN = "roles/resourcemanager.projectIamAdmin";

/** IAM condition on projectIamAdmin: setIamPolicy may only add or remove bindings of these roles. */
export const GRANTABLE_ROLES_CONDITION = {
    title: "only-node-service-account-roles",
    description: "The deployer may grant and revoke only the roles of the platform's GKE node service account",
    expression: `api.getAttribute('iam.googleapis.com/modifiedGrantsByRole', []).hasOnly([${NODE_SERVICE_ACCOUNT_ROLES.map(
        (role) => `'${role}'`,
    ).join(", ")}])`,
};

/** Never on the deployer: basic roles, and storage/KMS roles that belong on the bucket and key only. */
export const FORBIDDEN_PROJECT_ROLES: ReadonlyArray<{ readonly pattern: RegExp; readonly reason: string }> = [
    { pattern: /^roles\/(owner|editor)$/, reason: "basic roles (owner, editor) grant far more than a deployment needs" },
    { pattern: /^roles\/(storage|cloudkms)\./, reason: "storage and KMS roles are granted on the state bucket and the secrets key only" },
];
