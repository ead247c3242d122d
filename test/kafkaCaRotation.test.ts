import { strict as assert } from "assert";
import { execFileSync, spawn, spawnSync } from "child_process";
import * as fs from "fs";
import * as net from "net";
import * as os from "os";
import * as path from "path";
import { caChangeProblem, caRotationProvider, CaSelection, FIRST_CA } from "../components/data/kafkaCaRotation";
import { CA_BUNDLE_PATH, caBundleTruststore } from "../components/data/kafkaTrust";
import { issueCertificates } from "../engines/bundle";
import { computedState, ConfigOverrides, ofType, runStack, StackRun } from "../offline/harness";
import { findObject, RenderedStack, renderStack } from "../offline/render";
import { TYPES } from "../offline/resourceTypes";
import { secretNamed } from "../offline/stackQueries";

/** The steps docs/runbook.md gives for a rotation from CA 1 to CA 2, as config. */
const ROTATION: { step: string; cas: CaSelection }[] = [
    { step: "before", cas: FIRST_CA },
    { step: "1 trust both", cas: { trusted: [1, 2], signing: 1 } },
    { step: "2 re-issue", cas: { trusted: [1, 2], signing: 2 } },
    { step: "3 drop the old CA", cas: { trusted: [2], signing: 2 } },
];
const overrides = (cas: CaSelection): ConfigOverrides => ({ kafkaTrustedCas: JSON.stringify(cas.trusted), kafkaSigningCa: cas.signing });

describe("Kafka CA rotation: the step the state allows (components/data/kafkaCaRotation.ts)", () => {
    it("allows each step of the runbook's rotation after the one before, and repeating a step", () => {
        for (let i = 1; i < ROTATION.length; i++) {
            assert.equal(caChangeProblem(ROTATION[i - 1].cas, ROTATION[i].cas), undefined, ROTATION[i].step);
            assert.equal(caChangeProblem(ROTATION[i].cas, ROTATION[i].cas), undefined, ROTATION[i].step);
        }
    });

    it("refuses a new CA and new certificates in one update, before the first check too", () => {
        const jump = { trusted: [2], signing: 2 };
        for (const applied of [FIRST_CA, undefined, {}]) {
            assert.match(
                caChangeProblem(applied, jump)!,
                /do not trust CA 2 yet.*first deploy streaming-platform:kafkaTrustedCas = \[1,2\] with streaming-platform:kafkaSigningCa = 1/,
            );
        }
        assert.match(caChangeProblem(FIRST_CA, { trusted: [1, 2], signing: 2 })!, /do not trust CA 2 yet/);
    });

    it("refuses dropping the CA of the deployed certificates before they are re-issued", () => {
        assert.match(caChangeProblem({ trusted: [1, 2], signing: 1 }, { trusted: [2], signing: 2 })!, /signed by CA 1.*keep CA 1 trusted/);
    });

    it("fails the provider's check, which every preview runs, with the reason", async () => {
        const refused = await caRotationProvider.check!(FIRST_CA, { trusted: [2], signing: 2 });
        assert.equal(refused.failures?.length, 1);
        assert.match(refused.failures![0].reason, /do not trust CA 2 yet/);
        const allowed = await caRotationProvider.check!(FIRST_CA, { trusted: [1, 2], signing: 1 });
        assert.equal(allowed.failures, undefined);
    });
});

describe("Kafka CA rotation: configuration", function () {
    this.timeout(120000);
    const refused = async (config: ConfigOverrides) => {
        const run = await runStack("dev", config);
        assert.ok(run.error, "the program accepted the configuration");
        assert.equal(run.error.name, "ConfigError", run.error.stack);
        return run.error.message;
    };

    it("refuses a trust list that is not one or two distinct generations", async () => {
        for (const trusted of ["[]", "[1,2,3]", "[1,1]", '["1"]', "[0]", "1"]) {
            assert.match(await refused({ kafkaTrustedCas: trusted }), /kafkaTrustedCas = .*: a list of one or two distinct CA generations/, trusted);
        }
    });

    it("refuses a signing CA the nodes do not trust", async () => {
        assert.match(await refused({ kafkaTrustedCas: "[1]", kafkaSigningCa: 2 }), /kafkaSigningCa = "2": one of kafkaTrustedCas \(\[1\]\)/);
    });
});

/** server.properties of the rendered controller-eligible nodes, as key -> value. */
function serverProperties(rendered: RenderedStack): Record<string, string> {
    const text: string = findObject(rendered.objects, "ConfigMap", "kafka", "kafka-controller-configuration").data["server.properties"];
    return Object.fromEntries(
        text
            .split("\n")
            .filter((line) => /^[a-z][\w.]*[:=]/.test(line))
            .map((line) => [line.slice(0, line.search(/[:=]/)).trim(), line.slice(line.search(/[:=]/) + 1).trim()]),
    );
}

const certificates = (pem: string): string[] => pem.match(/-----BEGIN CERTIFICATE-----[^-]+-----END CERTIFICATE-----/g) ?? [];

describe("Kafka CA rotation: what the chart renders and the program issues at each step", function () {
    this.timeout(600000);
    const steps: { step: string; cas: CaSelection; rendered: RenderedStack }[] = [];
    before(async () => {
        for (const { step, cas } of ROTATION) {
            steps.push({ step, cas, rendered: await renderStack("prod", overrides(cas)) });
        }
    });

    /** The certificate the mocks give that CA (the same stand-in the dependants received). */
    const caPem = (run: StackRun, name: string) => {
        const ca = ofType(run, TYPES.tlsSelfSignedCert).find((c) => c.name === name)!;
        return computedState(ca.type, ca.name, ca.inputs).certPem as string;
    };
    /** What a node or client of that step trusts: the nodes' Secret's ca.crt (the clients' KAFKA_SSL_CA_PEM below). */
    const trustBundle = (run: StackRun) => certificates(secretNamed(run, "kafka", "kafka-tls").inputs.stringData["ca.crt"]);
    /** The CA certificate that signed the brokers' and the Job's certificates. */
    const issuers = (run: StackRun) =>
        ["kafka-tls-broker-cert", "kafka-tls-provisioning-cert"].map(
            (name) => ofType(run, TYPES.tlsLocallySignedCert).find((c) => c.name === name)!.inputs.caCertPem as string,
        );

    it("keeps today's CA as generation 1: same resource, and a one-CA bundle exactly its PEM", () => {
        const before = steps[0].rendered.run;
        const cas = ofType(before, TYPES.tlsSelfSignedCert).filter((c) => c.name.startsWith("kafka-tls-ca"));
        assert.deepEqual(
            cas.map((c) => c.name),
            ["kafka-tls-ca"],
        );
        assert.equal(secretNamed(before, "kafka", "kafka-tls").inputs.stringData["ca.crt"], caPem(before, "kafka-tls-ca"));
    });

    it("trusts both CAs in step 1 and signs with each only when every pod of the step before trusts it", () => {
        assert.equal(trustBundle(steps[1].rendered.run).length, 2);
        for (let i = 1; i < steps.length; i++) {
            const [old, next] = [steps[i - 1].rendered.run, steps[i].rendered.run];
            const [oldTrust, nextTrust] = [trustBundle(old), trustBundle(next)];
            for (const issuer of issuers(next)) {
                assert.ok(oldTrust.includes(issuer.trim()), `${steps[i].step}: the pods not yet rolled trust the new certificates' CA`);
            }
            for (const issuer of issuers(old)) {
                assert.ok(nextTrust.includes(issuer.trim()), `${steps[i].step}: the rolled pods trust the old certificates' CA`);
            }
            const newCa = ofType(next, TYPES.tlsSelfSignedCert).some((c) => !ofType(old, TYPES.tlsSelfSignedCert).some((o) => o.name === c.name));
            const reissued = issuers(next)[0] !== issuers(old)[0];
            assert.ok(!(newCa && reissued), `${steps[i].step}: a new CA and new certificates in one update`);
        }
        assert.equal(issuers(steps[2].rendered.run)[0], caPem(steps[2].rendered.run, "kafka-tls-ca-2"));
    });

    it("gives the provisioning Job the signing CA alone: it reads one CA only, and runs after the roll", () => {
        for (const { step, rendered } of steps) {
            const jobCa: string = secretNamed(rendered.run, "kafka", "kafka-provisioning-tls").inputs.stringData["ca.crt"];
            assert.deepEqual(certificates(jobCa), [issuers(rendered.run)[0].trim()], step);
            const job = findObject(rendered.objects, "Job", "kafka", "kafka-provisioning");
            assert.match(job.metadata.annotations?.["helm.sh/hook"] ?? "", /^post-install,post-upgrade$/, step);
        }
    });

    it("restarts the nodes at every step: the trust bundle or the certificate is in the pods' checksum", () => {
        const checksums = steps.map(
            (s) =>
                findObject(s.rendered.objects, "StatefulSet", "kafka", "kafka-controller").spec.template.metadata.annotations["checksum/kafka-tls"],
        );
        assert.equal(new Set(checksums).size, checksums.length);
    });

    it("gives the clients (the producer's and the consumer's env Secrets) every trusted CA", () => {
        for (const [namespace, name] of [
            ["airflow", "airflow-dags-env"],
            ["spark", "crypto-ticks-stream-env"],
        ]) {
            for (const { step, rendered } of steps) {
                const pem: string = secretNamed(rendered.run, namespace, name).inputs.stringData.KAFKA_SSL_CA_PEM;
                assert.deepEqual(certificates(pem), trustBundle(rendered.run), `${step}: ${namespace}/${name}`);
            }
        }
    });

    for (const index of [0, 1]) {
        it(`${ROTATION[index].step}: the nodes read a PEM truststore of every mounted CA, with no password`, () => {
            const { rendered } = steps[index];
            const props = serverProperties(rendered);
            assert.equal(props["ssl.truststore.type"], "PEM");
            assert.equal(props["ssl.truststore.location"], CA_BUNDLE_PATH);
            const statefulSet = findObject(rendered.objects, "StatefulSet", "kafka", "kafka-controller");
            const prepare = statefulSet.spec.template.spec.initContainers.find((c: any) => c.name === "prepare-config");
            const script: string = prepare.args.join("\n");
            // After the chart's configure_kafka_tls call (which appends ssl.truststore.password) and before nothing else.
            const tlsCall = script.search(/^\s*configure_kafka_tls\s*$/m);
            const ours = script.indexOf(caBundleTruststore.script.trim().split("\n")[0]);
            assert.ok(tlsCall > 0 && ours > tlsCall, "the truststore step runs after configure_kafka_tls");
            assert.ok(script.trimEnd().endsWith(caBundleTruststore.script.trimEnd().split("\n").pop()!));
            const kafka = statefulSet.spec.template.spec.containers.find((c: any) => c.name === "kafka");
            const mount = kafka.volumeMounts.find((m: any) => m.mountPath === "/opt/bitnami/kafka/config/certs");
            assert.equal(mount.name, prepare.volumeMounts.find((m: any) => m.mountPath === "/certs").name, "the bundle is where the broker reads it");
        });
    }

    it("prod: a node is Ready only when it serves TLS that its trusted CAs verify, and the roll waits 30 s more", () => {
        const statefulSet = findObject(steps[0].rendered.objects, "StatefulSet", "kafka", "kafka-controller");
        assert.equal(statefulSet.spec.minReadySeconds, 30);
        assert.equal(statefulSet.spec.updateStrategy?.type ?? "RollingUpdate", "RollingUpdate");
        const kafka = statefulSet.spec.template.spec.containers.find((c: any) => c.name === "kafka");
        assert.equal(kafka.readinessProbe.tcpSocket, undefined, "a TCP check passes before the node rejoined");
        const command: string = kafka.readinessProbe.exec.command.join(" ");
        const clientPort = kafka.ports.find((p: any) => p.name === "client").containerPort;
        assert.match(command, new RegExp(`openssl s_client -connect 127\\.0\\.0\\.1:${clientPort} `));
        assert.match(command, new RegExp(`-CAfile ${CA_BUNDLE_PATH} -verify_hostname kafka\\.kafka\\.svc\\.cluster\\.local -verify_return_error`));
        const pdb = findObject(steps[0].rendered.objects, "PodDisruptionBudget", "kafka", "kafka-controller");
        assert.equal(pdb.spec.maxUnavailable, 1);
    });
});

/** A free loopback port: listen on 0, read it, close. */
async function freePort(): Promise<number> {
    const server = net.createServer();
    await new Promise<void>((resolve) => server.listen(0, "127.0.0.1", resolve));
    const { port } = server.address() as net.AddressInfo;
    await new Promise((resolve) => server.close(resolve));
    return port;
}

async function listening(port: number, timeoutMs = 10000): Promise<void> {
    const deadline = Date.now() + timeoutMs;
    for (;;) {
        const ok = await new Promise<boolean>((resolve) => {
            const socket = net.connect(port, "127.0.0.1", () => (socket.destroy(), resolve(true)));
            socket.on("error", () => resolve(false));
        });
        if (ok) return;
        if (Date.now() > deadline) throw new Error(`nothing listens on ${port}`);
        await new Promise((resolve) => setTimeout(resolve, 100));
    }
}

describe("Kafka readiness: the rendered probe run against real TLS servers (step 1 of a rotation)", function () {
    this.timeout(120000);
    let dir: string;
    let probe: { command: string[]; timeoutMs: number };
    let files: { bundle: string; cert: string; key: string; unrelated: string };
    before(async () => {
        dir = fs.mkdtempSync(path.join(os.tmpdir(), "kafka-probe-"));
        const rendered = await renderStack("prod", overrides(ROTATION[1].cas));
        // The program's certificates issued for real, as the engines do (engines/bundle.ts).
        const real = issueCertificates(rendered.run.resources, dir);
        const tlsSecret = secretNamed(rendered.run, "kafka", "kafka-tls").inputs.stringData;
        const write = (name: string, text: string) => (fs.writeFileSync(path.join(dir, name), text), path.join(dir, name));
        const realPem = (standIns: string) =>
            certificates(standIns)
                .map((c) => real.get(`${c}\n`)!)
                .join("");
        files = {
            bundle: write("bundle.crt", realPem(tlsSecret["ca.crt"])),
            cert: write("tls.crt", real.get(tlsSecret["tls.crt"])!),
            key: write("tls.key", real.get(tlsSecret["tls.key"])!),
            unrelated: path.join(dir, "unrelated.crt"),
        };
        execFileSync(
            "openssl",
            ["req", "-x509", "-newkey", "rsa:2048", "-nodes", "-subj", "/CN=unrelated", "-days", "1"].concat([
                "-keyout",
                path.join(dir, "unrelated.key"),
                "-out",
                files.unrelated,
            ]),
            { stdio: "ignore" },
        );
        const statefulSet = findObject(rendered.objects, "StatefulSet", "kafka", "kafka-controller");
        const readiness = statefulSet.spec.template.spec.containers.find((c: any) => c.name === "kafka").readinessProbe;
        probe = { command: readiness.exec.command, timeoutMs: readiness.timeoutSeconds * 1000 };
    });
    after(() => fs.rmSync(dir, { recursive: true, force: true }));

    /** The probe as the kubelet runs it, with the pod's port and bundle path rebased onto this machine. */
    const runProbe = (port: number, bundle: string) => {
        const command = probe.command.map((arg) =>
            arg
                .replace(/127\.0\.0\.1:\d+/, `127.0.0.1:${port}`)
                .split(CA_BUNDLE_PATH)
                .join(bundle),
        );
        return spawnSync(command[0], command.slice(1), { timeout: probe.timeoutMs });
    };

    const withServer = async (cert: string, key: string, check: (port: number) => void) => {
        const port = await freePort();
        const server = spawn("openssl", ["s_server", "-accept", `127.0.0.1:${port}`, "-cert", cert, "-key", key, "-quiet"], { stdio: "ignore" });
        try {
            await listening(port);
            check(port);
        } finally {
            server.kill();
        }
    };

    it("is Ready against the node's certificate, verified by the bundle of both CAs for the service name", async () => {
        assert.equal(certificates(fs.readFileSync(files.bundle, "utf8")).length, 2);
        await withServer(files.cert, files.key, (port) => assert.equal(runProbe(port, files.bundle).status, 0));
    });

    it("is not Ready when the served certificate is from a CA the bundle lacks", async () => {
        await withServer(files.cert, files.key, (port) => assert.notEqual(runProbe(port, files.unrelated).status, 0));
    });

    it("is not Ready while the port is bound but nothing answers the handshake (Kafka before it has rejoined)", async () => {
        const silent = net.createServer(() => undefined);
        await new Promise<void>((resolve) => silent.listen(0, "127.0.0.1", resolve));
        try {
            const result = runProbe((silent.address() as net.AddressInfo).port, files.bundle);
            assert.ok(result.status !== 0, "a TCP check would pass here");
        } finally {
            silent.close();
        }
    });
});
