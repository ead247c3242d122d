import * as crypto from "crypto";
import * as pulumi from "@pulumi/pulumi";
import * as tls from "@pulumi/tls";

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
 * nor a new chart version ever replaces them: a CA, the brokers' certificate (server and client use, for
 * clients, inter-broker and controller listeners) and the provisioning Job's client certificate.
 */
export class KafkaTls extends pulumi.ComponentResource {
    /** The CA certificate (PEM) every client trusts; not secret. */
    readonly caCertPem: pulumi.Output<string>;
    /** The brokers' certificate and key (PEM); the key is secret. */
    readonly brokerCertPem: pulumi.Output<string>;
    readonly brokerKeyPem: pulumi.Output<string>;
    /** The provisioning Job's client certificate and key (PEM); the key is secret. */
    readonly provisioningCertPem: pulumi.Output<string>;
    readonly provisioningKeyPem: pulumi.Output<string>;
    /** sha256 of the brokers' certificate and the CA: a pod annotation, so a rotation restarts the brokers. */
    readonly fingerprint: pulumi.Output<string>;
    readonly dnsNames: string[];

    constructor(name: string, args: KafkaTlsArgs, opts?: pulumi.ComponentResourceOptions) {
        super("streaming-platform:data:KafkaTls", name, {}, opts);
        const caKey = new tls.PrivateKey(`${name}-ca-key`, { algorithm: "RSA", rsaBits: 3072 }, { parent: this });
        const ca = new tls.SelfSignedCert(
            `${name}-ca`,
            {
                privateKeyPem: caKey.privateKeyPem,
                subject: { commonName: `${args.release}.${args.namespace} CA`, organization: "streaming-platform" },
                isCaCertificate: true,
                allowedUses: ["cert_signing", "crl_signing", "digital_signature"],
                validityPeriodHours: CA_VALIDITY_HOURS,
                earlyRenewalHours: EARLY_RENEWAL_HOURS,
            },
            { parent: this },
        );
        this.caCertPem = ca.certPem;
        this.dnsNames = brokerDnsNames(args.release, args.namespace, args.replicas);

        const signed = (id: string, commonName: string, dnsNames: string[], allowedUses: string[]) => {
            const key = new tls.PrivateKey(`${name}-${id}-key`, { algorithm: "RSA", rsaBits: 2048 }, { parent: this });
            const request = new tls.CertRequest(
                `${name}-${id}-request`,
                { privateKeyPem: key.privateKeyPem, subject: { commonName, organization: "streaming-platform" }, dnsNames },
                { parent: this },
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
                { parent: this },
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
