import * as pulumi from "@pulumi/pulumi";
import * as gcp from "@pulumi/gcp";

/**
 * GKE's own system images, admitted besides Google's global policy (globalPolicyEvaluationMode ENABLE):
 * Binary Authorization docs, "Exempt images" / "System images". They sit at nested paths (Managed
 * Prometheus at gke.gcr.io/prometheus-engine/...), and a trailing `*` does not match `/`: only `**`
 * matches subdirectories (google.cloud.binaryauthorization.v1.AdmissionWhitelistPattern.name_pattern).
 */
export const GKE_SYSTEM_IMAGE_PATTERNS = ["gcr.io/gke-release/**", "gke.gcr.io/**"] as const;

/**
 * What a deployer needs to write the policy with `projectSetup: bootstrap` (bootstrap/ grants it to the
 * enforcing stack's deployer only): binaryauthorization.policy.get and .update, nothing else of Binary
 * Authorization (no policy.setIamPolicy, no attestors). The policy is a project singleton, so there is no
 * narrower place to grant it; it reaches no identity, and the holder's container.admin can already turn
 * enforcement off on its cluster. The policy stays in the platform because what it admits follows the
 * stack's own config (dockerHubMirror, imageRegistry, buildImages), which changes without bootstrap.
 */
export const BINARY_AUTHORIZATION_POLICY_ROLE = "roles/binaryauthorization.policyEditor";

export interface BinaryAuthorizationPolicyArgs {
    /** Project whose one (singleton) policy this is (config `gcp:project`). */
    readonly project: pulumi.Input<string>;
    /**
     * Image name patterns of the registries the stack pulls from, such as docker.io/bitnamilegacy/*: `*`
     * matches within one path segment, tag and digest included.
     */
    readonly admit: pulumi.Input<pulumi.Input<string>[]>;
}

/**
 * The project's Binary Authorization policy: it admits the stack's registries and GKE's system images and
 * denies every other image. A project has exactly one such policy, for every enforcing cluster in it:
 * only one stack per project may manage it (config `binaryAuthorization`).
 */
export class BinaryAuthorizationPolicy extends pulumi.ComponentResource {
    readonly policy: gcp.binaryauthorization.Policy;

    constructor(name: string, args: BinaryAuthorizationPolicyArgs, opts?: pulumi.ComponentResourceOptions) {
        super("streaming-platform:gcp:BinaryAuthorizationPolicy", name, {}, opts);
        this.policy = new gcp.binaryauthorization.Policy(
            name,
            {
                project: args.project,
                description: `streaming-platform ${pulumi.getStack()}: the registries the stack pulls from, nothing else`,
                globalPolicyEvaluationMode: "ENABLE",
                admissionWhitelistPatterns: pulumi
                    .output(args.admit)
                    .apply((patterns) => [...new Set([...patterns, ...GKE_SYSTEM_IMAGE_PATTERNS])].map((namePattern) => ({ namePattern }))),
                defaultAdmissionRule: { evaluationMode: "ALWAYS_DENY", enforcementMode: "ENFORCED_BLOCK_AND_AUDIT_LOG" },
            },
            { parent: this },
        );
        this.registerOutputs({ policy: this.policy.id });
    }
}
