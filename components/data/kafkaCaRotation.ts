import * as pulumi from "@pulumi/pulumi";

/**
 * The config keys of a CA rotation, as the user writes them. Not exported: TypeScript would then compile
 * references to them as `exports.…`, and the provider's serialized closure would carry the module.
 */
const TRUSTED_KEY = "streaming-platform:kafkaTrustedCas";
const SIGNING_KEY = "streaming-platform:kafkaSigningCa";

/** Which of the program's Kafka CAs every node and client trusts, and which one signs the certificates. */
export interface CaSelection {
    /** CA generations in the trust bundle (config `kafkaTrustedCas`); 1 is the CA of every release so far. */
    readonly trusted: readonly number[];
    /** The generation that signs the brokers' and the provisioning Job's certificates (config `kafkaSigningCa`). */
    readonly signing: number;
}

/** What every release before this check deployed: CA 1 alone, signing. */
export const FIRST_CA: CaSelection = { trusted: [1], signing: 1 };

/**
 * Why a CA selection cannot follow the deployed one, or undefined when it can. A roll replaces the nodes one
 * by one, and a client keeps its bundle until its pod restarts, so the old pods (deployed trust, deployed
 * signer) and the new ones (requested trust, requested signer) must accept each other's certificates:
 * the new signer must be trusted already, and the deployed signer must stay trusted. That makes a CA
 * rotation three updates (trust both, re-issue, drop the old CA) and never a new CA and new certificates
 * in one. `applied` is what the last update recorded; before the first one, what every earlier release ran.
 */
export function caChangeProblem(applied: Partial<CaSelection> | undefined, requested: CaSelection): string | undefined {
    const deployed = Array.isArray(applied?.trusted) && typeof applied.signing === "number" ? (applied as CaSelection) : FIRST_CA;
    const shown = (s: CaSelection) => `${TRUSTED_KEY} = ${JSON.stringify(s.trusted)}, ${SIGNING_KEY} = ${s.signing}`;
    if (!deployed.trusted.includes(requested.signing)) {
        return (
            `${SIGNING_KEY} = ${requested.signing}: the deployed nodes and clients (${shown(deployed)}) do not trust CA ${requested.signing} yet, ` +
            `so nodes re-issued from it could not join the rest during the roll; first deploy ` +
            `${TRUSTED_KEY} = ${JSON.stringify([...new Set([...deployed.trusted, requested.signing])])} with ${SIGNING_KEY} = ${deployed.signing} (docs/runbook.md, Kafka CA rotation)`
        );
    }
    if (!requested.trusted.includes(deployed.signing)) {
        return (
            `${TRUSTED_KEY} = ${JSON.stringify(requested.trusted)}: the deployed certificates are signed by CA ${deployed.signing} (${shown(deployed)}), ` +
            `so nodes and clients that no longer trust it could not reach the nodes not yet rolled; keep CA ${deployed.signing} ` +
            `trusted until an update with ${SIGNING_KEY} = ${requested.signing} has rolled every node (docs/runbook.md, Kafka CA rotation)`
        );
    }
    return undefined;
}

/**
 * Keeps the last applied selection in the Pulumi state and refuses an unsafe step in check(), which the
 * engine runs in every preview and before any update. Serialized into the state by Pulumi, so it references
 * nothing but caChangeProblem (and its constants).
 */
export const caRotationProvider: pulumi.dynamic.ResourceProvider = {
    async check(olds: any, news: any) {
        const problem = caChangeProblem(olds, news);
        return problem === undefined ? { inputs: news } : { inputs: news, failures: [{ property: "signing", reason: problem }] };
    },
    async create(inputs: any) {
        return { id: "kafka-ca", outs: inputs };
    },
    async update(_id: string, _olds: any, news: any) {
        return { outs: news };
    },
};

/**
 * The CA selection last applied, in the stack's state: the program cannot see the running pods at preview,
 * so this is what the next step is checked against. The certificates and the release depend on it, so a
 * refused step stops the update before any CA or certificate is made.
 */
export class KafkaCaRotation extends pulumi.dynamic.Resource {
    declare readonly trusted: pulumi.Output<number[]>;
    declare readonly signing: pulumi.Output<number>;

    constructor(name: string, args: CaSelection, opts?: pulumi.CustomResourceOptions) {
        super(caRotationProvider, name, { trusted: [...args.trusted], signing: args.signing }, opts, undefined, "KafkaCaRotation");
    }
}
