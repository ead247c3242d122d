/**
 * What the engines test runs: a stack evaluated under mocks, every release rendered by `helm template`
 * from its pinned archive, and the program's TLS resources issued for real.
 *
 *     ts-node --transpile-only engines/bundle.ts STACK OUT.json
 *
 * The mocks hand out PEM-shaped stand-ins for the @pulumi/tls outputs; no TLS handshake can use them.
 * Here each PrivateKey, SelfSignedCert, CertRequest and LocallySignedCert the program declares is made
 * again with openssl from that resource's own inputs (algorithm, subject, DNS names, allowed uses, issuer),
 * and every stand-in in the rendered objects is replaced by the real PEM. Nothing else is changed.
 */
import { execFileSync } from "child_process";
import * as fs from "fs";
import * as os from "os";
import * as path from "path";
import { computedState, RecordedResource } from "../offline/harness";
import { Manifest, renderStack } from "../offline/render";
import { TYPES } from "../offline/resourceTypes";

/** terraform-provider-tls `allowed_uses` → openssl extension values (internal/provider/common_cert.go). */
const KEY_USAGE: Record<string, string> = {
    digital_signature: "digitalSignature",
    key_encipherment: "keyEncipherment",
    cert_signing: "keyCertSign",
    crl_signing: "cRLSign",
};
/** terraform-provider-tls `ecdsa_curve` → OpenSSL's curve names. */
const CURVES: Record<string, string> = { P224: "P-224", P256: "P-256", P384: "P-384", P521: "P-521" };
const EXTENDED_KEY_USAGE: Record<string, string> = { server_auth: "serverAuth", client_auth: "clientAuth" };

function openssl(args: string[], input?: string): string {
    return execFileSync("openssl", args, { encoding: "utf8", input, stdio: ["pipe", "pipe", "pipe"] });
}

/** The mocks' stand-in for one output of a resource. */
const standIn = (resource: RecordedResource, output: string) => String(computedState(resource.type, resource.name, resource.inputs)[output]);

function subjectArgument(subject: { commonName?: string; organization?: string } = {}): string {
    const parts = [subject.organization && `O=${subject.organization}`, subject.commonName && `CN=${subject.commonName}`].filter(Boolean);
    return `/${parts.join("/")}`;
}

function extensions(resource: RecordedResource): string {
    const uses: string[] = resource.inputs.allowedUses ?? [];
    const lines = [`basicConstraints = critical, CA:${resource.inputs.isCaCertificate ? "TRUE" : "FALSE"}`];
    const keyUsage = uses.filter((u) => KEY_USAGE[u]).map((u) => KEY_USAGE[u]);
    const extendedKeyUsage = uses.filter((u) => EXTENDED_KEY_USAGE[u]).map((u) => EXTENDED_KEY_USAGE[u]);
    if (keyUsage.length) lines.push(`keyUsage = critical, ${keyUsage.join(", ")}`);
    if (extendedKeyUsage.length) lines.push(`extendedKeyUsage = ${extendedKeyUsage.join(", ")}`);
    lines.push("subjectKeyIdentifier = hash");
    return lines.join("\n") + "\n";
}

/**
 * Real PEMs for the stack's TLS resources, keyed by the stand-in each replaces. `reuse` (an earlier call's
 * result) keeps the keys, CAs and requests it already holds, so two renders of one stack share one PKI:
 * a signed certificate is issued afresh from its own inputs every time (its stand-in names the resource,
 * not the issuer, engines/rotationBundle.ts).
 */
export function issueCertificates(
    resources: readonly RecordedResource[],
    dir: string,
    reuse: ReadonlyMap<string, string> = new Map(),
): Map<string, string> {
    const real = new Map<string, string>();
    const reused = (resource: RecordedResource, output: string) => {
        const pem = reuse.get(standIn(resource, output));
        if (pem !== undefined) real.set(standIn(resource, output), pem);
        return pem !== undefined;
    };
    const file = (name: string, text: string) => {
        const target = path.join(dir, name);
        fs.writeFileSync(target, text, { mode: 0o600 });
        return target;
    };
    const realFile = (standInPem: string, name: string) => {
        const pem = real.get(standInPem);
        if (!pem) throw new Error(`no real PEM for the stand-in used by ${name}: its issuer is not a resource of the stack`);
        return file(`${name}.pem`, pem);
    };
    const ofType = (type: string) => resources.filter((r) => r.type === type);
    for (const key of ofType(TYPES.tlsPrivateKey)) {
        if (reused(key, "privateKeyPem")) continue;
        const { algorithm, rsaBits, ecdsaCurve } = key.inputs;
        const generated =
            algorithm === "RSA"
                ? openssl(["genpkey", "-algorithm", "RSA", "-pkeyopt", `rsa_keygen_bits:${rsaBits ?? 2048}`])
                : openssl(["genpkey", "-algorithm", "EC", "-pkeyopt", `ec_paramgen_curve:${CURVES[ecdsaCurve ?? "P224"]}`]);
        // The provider's private_key_pem is PKCS#1 for RSA and SEC 1 for ECDSA ("RSA/EC PRIVATE KEY").
        real.set(standIn(key, "privateKeyPem"), openssl(["pkey", "-traditional"], generated));
    }
    const days = (resource: RecordedResource) => String(Math.ceil(Number(resource.inputs.validityPeriodHours) / 24));
    for (const ca of ofType(TYPES.tlsSelfSignedCert)) {
        if (reused(ca, "certPem")) continue;
        const key = realFile(ca.inputs.privateKeyPem, `${ca.name}-key`);
        const config = file(`${ca.name}.cnf`, `[req]\ndistinguished_name = dn\n[dn]\n[v3]\n${extensions(ca)}`);
        const subject = subjectArgument(ca.inputs.subject);
        const certificate = openssl([
            "req",
            "-x509",
            "-new",
            "-key",
            key,
            "-subj",
            subject,
            "-days",
            days(ca),
            "-config",
            config,
            "-extensions",
            "v3",
        ]);
        real.set(standIn(ca, "certPem"), certificate);
    }
    for (const request of ofType(TYPES.tlsCertRequest)) {
        if (reused(request, "certRequestPem")) continue;
        const key = realFile(request.inputs.privateKeyPem, `${request.name}-key`);
        const names: string[] = [
            ...(request.inputs.dnsNames ?? []).map((n: string) => `DNS:${n}`),
            ...(request.inputs.ipAddresses ?? []).map((n: string) => `IP:${n}`),
        ];
        const args = ["req", "-new", "-key", key, "-subj", subjectArgument(request.inputs.subject)];
        if (names.length) args.push("-addext", `subjectAltName=${names.join(",")}`);
        real.set(standIn(request, "certRequestPem"), openssl(args));
    }
    for (const signed of ofType(TYPES.tlsLocallySignedCert)) {
        const csr = realFile(signed.inputs.certRequestPem, `${signed.name}-request`);
        const caCert = realFile(signed.inputs.caCertPem, `${signed.name}-ca`);
        const caKey = realFile(signed.inputs.caPrivateKeyPem, `${signed.name}-ca-key`);
        const ext = file(`${signed.name}.ext`, extensions(signed));
        const certificate = openssl([
            "x509",
            "-req",
            "-in",
            csr,
            "-CA",
            caCert,
            "-CAkey",
            caKey,
            "-CAcreateserial",
            "-days",
            days(signed),
            "-copy_extensions",
            "copy",
            "-extfile",
            ext,
        ]);
        real.set(standIn(signed, "certPem"), certificate);
    }
    return real;
}

/** Every string in a JSON value with each stand-in replaced by its real PEM. */
export function substitute(value: unknown, real: Map<string, string>): unknown {
    if (typeof value === "string") {
        let text = value;
        for (const [fake, pem] of real) if (text.includes(fake)) text = text.split(fake).join(pem);
        return text;
    }
    if (Array.isArray(value)) return value.map((v) => substitute(v, real));
    if (value && typeof value === "object") return Object.fromEntries(Object.entries(value).map(([k, v]) => [k, substitute(v, real)]));
    return value;
}

/** A stand-in left anywhere (a Secret's base64 data included) would only show later, as a failed handshake. */
export function assertNoStandIns(objects: readonly Manifest[], standIns: string[]) {
    const decoded = objects
        .filter((o) => o.kind === "Secret" && o.data)
        .flatMap((o) => Object.values(o.data as Record<string, string>).map((v) => Buffer.from(v, "base64").toString("utf8")));
    const text = JSON.stringify(objects) + decoded.join("\n");
    // A stand-in's body line (the mocks' random base64) is unique to it, and survives JSON escaping.
    const left = standIns.filter((standIn) => text.includes(standIn.split("\n")[1]));
    if (left.length) {
        throw new Error(`${left.length} TLS stand-in(s) of the mocks are left in the rendered objects`);
    }
}

async function main(stack: string, out: string) {
    const { run, objects, releases } = await renderStack(stack);
    const dir = fs.mkdtempSync(path.join(os.tmpdir(), "engines-pki-"));
    try {
        const real = issueCertificates(run.resources, dir);
        const bundle = {
            stack,
            releases: releases.map((r) => ({ chart: r.chart, namespace: r.namespace })),
            objects: substitute(objects, real),
        };
        assertNoStandIns(bundle.objects as Manifest[], [...real.keys()]);
        fs.writeFileSync(out, JSON.stringify(bundle, null, 1), { mode: 0o600 });
    } finally {
        fs.rmSync(dir, { recursive: true, force: true });
    }
}

if (require.main === module) {
    const [stack, out] = process.argv.slice(2);
    if (!stack || !out) {
        console.error("usage: engines/bundle.ts STACK OUT.json");
        process.exit(64);
    }
    main(stack, out).catch((error) => {
        console.error(error);
        process.exit(1);
    });
}
