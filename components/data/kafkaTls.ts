import * as crypto from "crypto";
import * as pulumi from "@pulumi/pulumi";
import * as tls from "@pulumi/tls";
import { CaSelection, KafkaCaRotation } from "./kafkaCaRotation";

/** A CA lives ten years, a certificate it signs five: both outlast many deployments, rotation is a deliberate step (docs/runbook.md). */
export const CA_VALIDITY_HOURS = 10 * 365 * 24;
export const CERT_VALIDITY_HOURS = 5 * 365 * 24;
/** A preview in the last 90 days of a certificate already shows its replacement, long before clients would see it expire. */
export const EARLY_RENEWAL_HOURS = 90 * 24;

export interface KafkaTlsArgs {
    /** Namespace of the release: the names in the brokers' certificate are <service>.<namespace>.svc.cluster.local. */
    readonly namespace: string;
    /** Helm release name (and service name) of the chart, `kafka`. */
    readonly release: string;
    /** Controller-eligible nodes; each one's headless name goes into the certificate. */
    readonly replicas: number;
    /** Subject of the provisioning Job's client certificate (its SCRAM user): the chart's PEM client config needs a key pair. */
    readonly provisioningClient: string;
    /** The CAs in the trust bundle and the one that signs (config `kafkaTrustedCas`, `kafkaSigningCa`; kafkaCaRotation.ts). */
    readonly cas: CaSelection;
}

/**
 * Every name a client or a peer reaches a broker by: the service in each form the cluster resolves (the
 * provisioning Job bootstraps from `kafka:9092`), and each node's headless name, which the nodes advertise
 * to clients, to each other (inter-broker) and in the controller quorum.
 */
export function brokerDnsNames(release: string, namespace: string, replicas: number): string[] {
    const service = [release, `${release}.${namespace}`, `${release}.${namespace}.svc`, `${release}.${namespace}.svc.cluster.local`];
    const headless = `${release}-controller-headless.${namespace}.svc.cluster.local`;
    const nodes = Array.from({ length: replicas }, (_, i) => `${release}-controller-${i}.${headless}`);
    return [...service, ...nodes];
}

/**
 * Kafka's certificates, made by the program and kept in its state (secret), so neither a `helm upgrade`
 * nor a new chart version ever replaces them: one CA per trusted generation, the brokers' certificate
 * (server and client use, for clients, inter-broker and controller listeners) and the provisioning Job's
 * client certificate, both signed by the signing generation. A rotation is three updates that each roll
 * the nodes once (kafkaCaRotation.ts refuses any other order): trust the new CA beside the old, re-issue
 * from it, drop the old (docs/runbook.md).
 */
export class KafkaTls extends pulumi.ComponentResource {
    /** Every trusted CA certificate (PEM), the signing one first; what nodes and clients trust. Not secret. */
    readonly caCertPem: pulumi.Output<string>;
    /** The signing CA's certificate alone (PEM), for a reader that can take one CA only (kafka.ts, the provisioning Job). */
    readonly signingCaCertPem: pulumi.Output<string>;
    /** The brokers' certificate and key (PEM); the key is secret. */
    readonly brokerCertPem: pulumi.Output<string>;
    readonly brokerKeyPem: pulumi.Output<string>;
    /** The provisioning Job's client certificate and key (PEM); the key is secret. */
    readonly provisioningCertPem: pulumi.Output<string>;
    readonly provisioningKeyPem: pulumi.Output<string>;
    /** sha256 of the brokers' certificate and the trusted CAs: a pod annotation, so each rotation step restarts the brokers. */
    readonly fingerprint: pulumi.Output<string>;
    readonly dnsNames: string[];

    constructor(name: string, args: KafkaTlsArgs, opts?: pulumi.ComponentResourceOptions) {
        super("streaming-platform:data:KafkaTls", name, {}, opts);
        // Refused at preview unless the running pods and the rolled ones accept each other's certificates.
        const rotation = new KafkaCaRotation(`${name}-ca-rotation`, args.cas, { parent: this });
        const after = { parent: this, dependsOn: [rotation] };
        // Generation 1 keeps the names every earlier release gave its CA, so an upgrade replaces nothing.
        const caName = (generation: number) => (generation === 1 ? `${name}-ca` : `${name}-ca-${generation}`);
        const cas = new Map(
            args.cas.trusted.map((generation) => {
                const key = new tls.PrivateKey(`${caName(generation)}-key`, { algorithm: "RSA", rsaBits: 3072 }, after);
                const cert = new tls.SelfSignedCert(
                    caName(generation),
                    {
                        privateKeyPem: key.privateKeyPem,
                        // Another subject per generation: a verifier picks the issuer by name, and two live CAs
                        // of one name would make it try the wrong key.
                        subject: {
                            commonName:
                                generation === 1 ? `${args.release}.${args.namespace} CA` : `${args.release}.${args.namespace} CA ${generation}`,
                            organization: "streaming-platform",
                        },
                        isCaCertificate: true,
                        allowedUses: ["cert_signing", "crl_signing", "digital_signature"],
                        validityPeriodHours: CA_VALIDITY_HOURS,
                        earlyRenewalHours: EARLY_RENEWAL_HOURS,
                    },
                    after,
                );
                return [generation, { key, cert }] as const;
            }),
        );
        const signing = cas.get(args.cas.signing);
        if (!signing) {
            throw new Error(`Kafka CA ${args.cas.signing} signs, but only ${JSON.stringify(args.cas.trusted)} are trusted`);
        }
        const caKey = signing.key;
        const ca = signing.cert;
        this.signingCaCertPem = ca.certPem;
        // The signing CA first: a reader that takes only the first certificate still verifies today's leaves.
        const ordered = [args.cas.signing, ...args.cas.trusted.filter((g) => g !== args.cas.signing)];
        // One CA: its PEM exactly as before, so an upgrade changes neither the Secrets nor the pods' checksum.
        this.caCertPem = pulumi
            .all(ordered.map((g) => cas.get(g)!.cert.certPem))
            .apply((pems) => (pems.length === 1 ? pems[0] : pems.map((pem) => pem.trimEnd() + "\n").join("")));
        this.dnsNames = brokerDnsNames(args.release, args.namespace, args.replicas);

        const signed = (id: string, commonName: string, dnsNames: string[], allowedUses: string[]) => {
            const key = new tls.PrivateKey(`${name}-${id}-key`, { algorithm: "RSA", rsaBits: 2048 }, after);
            const request = new tls.CertRequest(
                `${name}-${id}-request`,
                { privateKeyPem: key.privateKeyPem, subject: { commonName, organization: "streaming-platform" }, dnsNames },
                after,
            );
            const cert = new tls.LocallySignedCert(
                `${name}-${id}-cert`,
                {
                    certRequestPem: request.certRequestPem,
                    caPrivateKeyPem: caKey.privateKeyPem,
                    caCertPem: ca.certPem,
                    allowedUses,
                    validityPeriodHours: CERT_VALIDITY_HOURS,
                    earlyRenewalHours: EARLY_RENEWAL_HOURS,
                },
                after,
            );
            return { certPem: cert.certPem, keyPem: pulumi.secret(key.privateKeyPem) };
        };
        // Brokers are servers to clients and peers, and clients of each other (inter-broker, controller quorum).
        const broker = signed("broker", this.dnsNames[3], this.dnsNames, ["digital_signature", "key_encipherment", "server_auth", "client_auth"]);
        this.brokerCertPem = broker.certPem;
        this.brokerKeyPem = broker.keyPem;
        const provisioning = signed("provisioning", args.provisioningClient, [], ["digital_signature", "key_encipherment", "client_auth"]);
        this.provisioningCertPem = provisioning.certPem;
        this.provisioningKeyPem = provisioning.keyPem;
        this.fingerprint = pulumi.all([this.caCertPem, this.brokerCertPem]).apply(([caPem, certPem]) =>
            crypto
                .createHash("sha256")
                .update(`${caPem ?? ""}\n${certPem ?? ""}`)
                .digest("hex"),
        );
        this.registerOutputs({ caCertPem: this.caCertPem, dnsNames: this.dnsNames });
    }
}
