import * as pulumi from "@pulumi/pulumi";
import * as gcp from "@pulumi/gcp";
import { resourceId } from "./naming";

export interface SecretsKeyArgs {
    /** Project of the cluster, the key ring and the key (config `gcp:project`). */
    readonly project: pulumi.Input<string>;
    /** Location of the key ring: the cluster's region, as application-layer secrets encryption requires (config `gcp:region`). */
    readonly region: pulumi.Input<string>;
}

/** The key's rotation period: 90 days; older versions stay enabled, so Secrets written before still decrypt. */
export const SECRETS_KEY_ROTATION = "7776000s";
export const SECRETS_KEY_ROLE = "roles/cloudkms.cryptoKeyEncrypterDecrypter";

/** Id of a stack's key ring: per stack, because dev and prod may share a project and a region. */
export function secretsKeyRingId(name: string, stack: string): string {
    return resourceId(`${name}-${stack}-secrets`, 63);
}

/** The key's name in its ring. */
export const SECRETS_KEY_NAME = "gke-secrets";

/**
 * The key's resource name, projects/<project>/locations/<region>/keyRings/<ring>/cryptoKeys/gke-secrets: what the
 * cluster's databaseEncryption.keyName takes. With `projectSetup: bootstrap` the platform uses bootstrap's key by it.
 */
export function secretsKeyName(project: string, region: string, keyRingId: string): string {
    return `projects/${project}/locations/${region}/keyRings/${keyRingId}/cryptoKeys/${SECRETS_KEY_NAME}`;
}

/** The key's arguments; shared with bootstrap/, which creates the same key for `projectSetup: bootstrap`. */
export function secretsCryptoKeyArgs(keyRing: pulumi.Input<string>, stack: string): gcp.kms.CryptoKeyArgs {
    return {
        keyRing,
        name: SECRETS_KEY_NAME,
        purpose: "ENCRYPT_DECRYPT",
        rotationPeriod: SECRETS_KEY_ROTATION,
        labels: { purpose: "gke-secrets", stack },
    };
}

/** The GKE service agent of a project, which encrypts and decrypts the cluster's Secrets with the key. */
export const gkeServiceAgent = (projectNumber: string | undefined) =>
    `serviceAccount:service-${projectNumber}@container-engine-robot.iam.gserviceaccount.com`;

/**
 * A Cloud KMS key ring and key that encrypt a GKE cluster's Secrets in etcd (application-layer secrets
 * encryption), with the GKE service agent granted on that key only.
 *
 * Google Cloud never deletes key rings or keys, and destroying a key's versions makes every Secret
 * encrypted with them unreadable: Pulumi never destroys them (retainOnDelete). Re-creating a destroyed
 * stack therefore finds the ring and key in place: `pulumi import` them (README, Secrets encryption).
 */
export class SecretsKey extends pulumi.ComponentResource {
    readonly keyRing: gcp.kms.KeyRing;
    readonly key: gcp.kms.CryptoKey;
    readonly serviceAgentGrant: gcp.kms.CryptoKeyIAMMember;
    /** The key's resource name for databaseEncryption.keyName; known once the service agent may use the key. */
    readonly keyName: pulumi.Output<string>;

    constructor(name: string, args: SecretsKeyArgs, opts?: pulumi.ComponentResourceOptions) {
        super("streaming-platform:gcp:SecretsKey", name, {}, opts);
        const kept = { parent: this, retainOnDelete: true };
        this.keyRing = new gcp.kms.KeyRing(
            `${name}-ring`,
            { project: args.project, location: args.region, name: secretsKeyRingId(name, pulumi.getStack()) },
            kept,
        );
        this.key = new gcp.kms.CryptoKey(`${name}-key`, secretsCryptoKeyArgs(this.keyRing.id, pulumi.getStack()), kept);
        const project = gcp.organizations.getProjectOutput({ projectId: args.project }, { parent: this });
        this.serviceAgentGrant = new gcp.kms.CryptoKeyIAMMember(
            `${name}-gke-agent`,
            { cryptoKeyId: this.key.id, role: SECRETS_KEY_ROLE, member: project.number.apply(gkeServiceAgent) },
            { parent: this },
        );
        // The cluster must not be created (or switched to encryption) before the agent may use the key.
        this.keyName = pulumi.all([this.key.id, this.serviceAgentGrant.id]).apply(([id]) => id);
        this.registerOutputs({ keyName: this.keyName });
    }
}
