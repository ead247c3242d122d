import { strict as assert } from "assert";
import { spawnSync } from "child_process";
import { createHash } from "crypto";
import * as fs from "fs";
import * as os from "os";
import * as path from "path";
import { brokerDnsNames } from "../components/data/kafkaTls";
import { ACCESS_RECONCILE_SCRIPT, accessReconcileScript } from "../components/data/kafkaTopicScript";
import { ofType, StackRun } from "../offline/harness";
import { findObject, RenderedStack, renderStack } from "../offline/render";
import { TYPES } from "../offline/resourceTypes";
import { values } from "../offline/stackQueries";

// ---------------------------------------------------------------------------------------------------
// helm-values/kafka-access-reconcile.sh against fake CLIs that log their arguments.

const FAKE = `#!/usr/bin/env bash
echo "$(basename "$0") $*" >>"$FAKE_DIR/calls"
if [[ ",\${FAKE_FAIL:-}," == *",$(basename "$0"),"* ]]; then exit 1; fi
`;
const CLIENT = "--bootstrap-server kafka:9092 --command-config /shared/client.properties";

function runAccess(script: string, env: Record<string, string> = {}) {
    const root = fs.mkdtempSync(path.join(os.tmpdir(), "kafka-access-test-"));
    try {
        fs.mkdirSync(path.join(root, "bin"));
        for (const cli of ["kafka-configs.sh", "kafka-acls.sh"]) {
            fs.writeFileSync(path.join(root, "bin", cli), FAKE, { mode: 0o755 });
        }
        const result = spawnSync("bash", ["-ec", script + "echo 'Provisioning succeeded'\n"], {
            encoding: "utf8",
            env: { PATH: `${path.join(root, "bin")}${path.delimiter}${process.env.PATH}`, FAKE_DIR: root, KAFKA_SERVICE: "kafka:9092", ...env },
        });
        const callsFile = path.join(root, "calls");
        const calls = fs.existsSync(callsFile) ? fs.readFileSync(callsFile, "utf8").split("\n").filter(Boolean) : [];
        return { status: result.status, stdout: result.stdout, stderr: result.stderr, calls };
    } finally {
        fs.rmSync(root, { recursive: true, force: true });
    }
}

const USERS = [
    { name: "producer", passwordVariable: "KAFKA_PRODUCER_PASSWORD" },
    { name: "consumer", passwordVariable: "KAFKA_CONSUMER_PASSWORD" },
];
const GRANTS = [
    { user: "producer", resourceType: "topic", resource: "crypto-ticks", patternType: "literal", operations: ["Write", "Describe"] },
    { user: "consumer", resourceType: "topic", resource: "crypto-ticks", patternType: "literal", operations: ["Read", "Describe"] },
    { user: "consumer", resourceType: "group", resource: "crypto-ticks-stream", patternType: "prefixed", operations: ["Read"] },
] as const;
const PASSWORDS = { KAFKA_PRODUCER_PASSWORD: "p1", KAFKA_CONSUMER_PASSWORD: "c2" };
const EXPECTED_CALLS = [
    `kafka-configs.sh ${CLIENT} --alter --entity-type users --entity-name producer --add-config SCRAM-SHA-512=[iterations=8192,password=p1]`,
    `kafka-configs.sh ${CLIENT} --alter --entity-type users --entity-name consumer --add-config SCRAM-SHA-512=[iterations=8192,password=c2]`,
    `kafka-acls.sh ${CLIENT} --add --allow-principal User:producer --operation Write --operation Describe --topic crypto-ticks --resource-pattern-type literal`,
    `kafka-acls.sh ${CLIENT} --add --allow-principal User:consumer --operation Read --operation Describe --topic crypto-ticks --resource-pattern-type literal`,
    `kafka-acls.sh ${CLIENT} --add --allow-principal User:consumer --operation Read --group crypto-ticks-stream --resource-pattern-type prefixed`,
];

describe("Kafka users and ACLs (helm-values/kafka-access-reconcile.sh)", function () {
    this.timeout(30000);

    it("is bash that parses and passes shellcheck", function () {
        const parse = spawnSync("bash", ["-n", ACCESS_RECONCILE_SCRIPT], { encoding: "utf8" });
        assert.equal(parse.status, 0, parse.stderr);
        if (spawnSync("shellcheck", ["--version"]).status !== 0) {
            this.skip();
        }
        const check = spawnSync("shellcheck", ["-s", "bash", ACCESS_RECONCILE_SCRIPT], { encoding: "utf8" });
        assert.equal(check.status, 0, check.stdout + check.stderr);
    });

    it("sets each client user's SCRAM credential from its variable, then adds each ACL, the same on every run", () => {
        const script = accessReconcileScript(USERS, GRANTS);
        for (let run = 0; run < 2; run++) {
            const result = runAccess(script, PASSWORDS);
            assert.equal(result.status, 0, result.stderr);
            assert.deepEqual(result.calls, EXPECTED_CALLS);
            assert.match(result.stdout, /Provisioning succeeded/);
        }
    });

    it("fails the Job when a password variable is missing, before any call", () => {
        const result = runAccess(accessReconcileScript(USERS, GRANTS), { KAFKA_PRODUCER_PASSWORD: "p1" });
        assert.notEqual(result.status, 0);
        assert.match(result.stderr, /KAFKA_CONSUMER_PASSWORD is not set/);
        assert.doesNotMatch(result.stdout, /Provisioning succeeded/);
    });

    for (const failing of ["kafka-configs.sh", "kafka-acls.sh"]) {
        it(`fails the Job when ${failing} fails`, () => {
            const result = runAccess(accessReconcileScript(USERS, GRANTS), { ...PASSWORDS, FAKE_FAIL: failing });
            assert.notEqual(result.status, 0);
            assert.doesNotMatch(result.stdout, /Provisioning succeeded/);
        });
    }

    it("refuses a resource type, a pattern type or an empty operation list it does not know", () => {
        for (const call of ["allow u cluster kafka-cluster literal Alter", "allow u topic t regex Read", "allow u topic t literal"]) {
            const result = runAccess(accessReconcileScript([], []) + call + "\n");
            assert.notEqual(result.status, 0, call);
            assert.deepEqual(result.calls, []);
        }
    });
});

// ---------------------------------------------------------------------------------------------------
// The stacks under mocks, and the kafka release rendered by the real chart.

/** server.properties of the rendered controller-eligible nodes, as key -> value. */
function serverProperties(rendered: RenderedStack): Record<string, string> {
    const configMap = findObject(rendered.objects, "ConfigMap", "kafka", "kafka-controller-configuration");
    const text: string = configMap.data["server.properties"];
    return Object.fromEntries(
        text
            .split("\n")
            .filter((line) => /^[a-z][\w.]*[:=]/.test(line))
            .map((line) => {
                const at = line.search(/[:=]/);
                return [line.slice(0, at).trim(), line.slice(at + 1).trim()];
            }),
    );
}

describe("the stacks' Kafka authorization and TLS", function () {
    this.timeout(180000);
    const stacks = { dev: 1, prod: 3, local: 1 } as Record<string, number>;
    const rendered: Record<string, RenderedStack> = {};
    const runs: Record<string, StackRun> = {};
    before(async () => {
        for (const stack of Object.keys(stacks)) {
            rendered[stack] = await renderStack(stack);
            runs[stack] = rendered[stack].run;
        }
    });

    const secret = (run: StackRun, name: string) => {
        const found = ofType(run, TYPES.secret).filter((s) => s.inputs.metadata?.name === name);
        assert.equal(found.length, 1, name);
        return found[0];
    };

    for (const [stack, replicas] of Object.entries(stacks)) {
        it(`${stack}: the brokers authorize with StandardAuthorizer, super users only the controller, inter-broker and topic admin users`, () => {
            const props = serverProperties(rendered[stack]);
            assert.equal(props["authorizer.class.name"], "org.apache.kafka.metadata.authorizer.StandardAuthorizer");
            assert.deepEqual(props["super.users"].split(";").sort(), ["User:controller_user", "User:inter_broker_user", "User:topic-admin"]);
            assert.equal(props["allow.everyone.if.no.acl.found"], "false");
            assert.equal(props["auto.create.topics.enable"], "false");
        });

        it(`${stack}: every listener is SASL over TLS, clients authenticated by SASL, host names verified`, () => {
            const props = serverProperties(rendered[stack]);
            const map = Object.fromEntries(props["listener.security.protocol.map"].split(",").map((entry) => entry.split(":")));
            assert.deepEqual(map, { CLIENT: "SASL_SSL", CONTROLLER: "SASL_SSL", INTERNAL: "SASL_SSL" });
            assert.equal(props["ssl.endpoint.identification.algorithm"], "https");
            assert.equal(props["ssl.client.auth"], "none");
            assert.match(props["sasl.enabled.mechanisms"], /SCRAM-SHA-512/);
            // PLAIN's passwords are read at pod start and stay valid until a restart: on the client listener only the
            // provisioning Job's admin has one (the chart signs the Job in with PLAIN), the pipeline's users use SCRAM.
            assert.equal(
                props["listener.name.client.plain.sasl.jaas.config"],
                'org.apache.kafka.common.security.plain.PlainLoginModule required user_topic-admin="password-placeholder-0";',
            );
        });

        it(`${stack}: the nodes mount the program's certificate Secret, and the chart generates none`, () => {
            const statefulSet = findObject(rendered[stack].objects, "StatefulSet", "kafka", "kafka-controller");
            const certs = statefulSet.spec.template.spec.volumes.find((v: any) => v.name === "kafka-certs");
            assert.deepEqual(
                certs.projected.sources.map((s: any) => s.secret.name),
                ["kafka-tls"],
            );
            const prepare = statefulSet.spec.template.spec.initContainers.find((c: any) => c.name === "prepare-config");
            assert.ok(prepare.volumeMounts.some((m: any) => m.name === "kafka-certs"));
            assert.ok(prepare.args.join("\n").includes("configure_kafka_tls"));
            assert.equal(
                rendered[stack].objects.filter(
                    (o: any) => o.kind === "Secret" && o.metadata.name === "kafka-tls" && o.metadata.labels?.["helm.sh/chart"],
                ).length,
                0,
                "the chart must not render (and so regenerate) the certificate",
            );
            assert.ok(statefulSet.spec.template.metadata.annotations["checksum/kafka-tls"], "a new certificate restarts the nodes");
            const tlsSecret = secret(runs[stack], "kafka-tls");
            assert.deepEqual(Object.keys(tlsSecret.inputs.stringData).sort(), ["ca.crt", "tls.crt", "tls.key"]);
            assert.ok(tlsSecret.secretInputs.has("stringData"), "the key is a secret in state");
        });

        it(`${stack}: the certificate names the service and each node's headless name, signed by the program's CA`, () => {
            const requests = ofType(runs[stack], TYPES.tlsCertRequest);
            const broker = requests.find((r) => r.name === "kafka-tls-broker-request");
            assert.ok(broker);
            const dnsNames: string[] = broker.inputs.dnsNames;
            assert.ok(dnsNames.includes("kafka.kafka.svc.cluster.local"));
            assert.ok(dnsNames.includes("kafka"), "the provisioning Job bootstraps from kafka:9092");
            for (let i = 0; i < replicas; i++) {
                assert.ok(dnsNames.includes(`kafka-controller-${i}.kafka-controller-headless.kafka.svc.cluster.local`), `node ${i}`);
            }
            assert.deepEqual(dnsNames, brokerDnsNames("kafka", "kafka", replicas));
            const ca = ofType(runs[stack], TYPES.tlsSelfSignedCert).filter((c) => c.name === "kafka-tls-ca");
            assert.equal(ca.length, 1);
            assert.equal(ca[0].inputs.isCaCertificate, true);
            assert.ok(ca[0].inputs.validityPeriodHours >= 5 * 365 * 24, "long-lived: rotation is a deliberate step");
            for (const cert of ofType(runs[stack], TYPES.tlsLocallySignedCert).filter((c) => c.name.startsWith("kafka-tls-"))) {
                assert.ok(cert.inputs.validityPeriodHours >= 365 * 24, cert.name);
            }
        });

        it(`${stack}: a new producer or consumer password changes the release, so the provisioning Job runs and upserts it`, () => {
            const passwords = secret(runs[stack], "kafka-sasl").inputs.stringData;
            const job = findObject(rendered[stack].objects, "Job", "kafka", "kafka-provisioning");
            const digest = createHash("sha256").update(`${passwords["producer-password"]}\n${passwords["consumer-password"]}`).digest("hex");
            assert.equal(job.spec.template.metadata.annotations["checksum/client-passwords-digest"], digest);
            const release = ofType(runs[stack], TYPES.helmRelease).find((r) => r.inputs.name === "kafka")!;
            assert.ok(!release.secretInputs.has("values"), "a digest, not a secret: previews keep showing the values");
        });

        it(`${stack}: the provisioning Job signs in as the topic admin over TLS and grants the clients their ACLs`, () => {
            const kafka = values(runs[stack], "kafka");
            assert.deepEqual(kafka.sasl.client.users, ["topic-admin", "producer", "consumer"]);
            const job = findObject(rendered[stack].objects, "Job", "kafka", "kafka-provisioning");
            const prepare = job.spec.template.spec.initContainers.find((c: any) => c.name === "prepare-config");
            const config: string = prepare.args.join("\n");
            assert.match(config, /kafka_server_conf_set security\.protocol "SASL_SSL"/);
            assert.match(config, /ssl\.truststore\.certificates/);
            assert.equal(prepare.env.find((e: any) => e.name === "SASL_USERNAME").value, "topic-admin");
            const volumes = job.spec.template.spec.volumes.find((v: any) => v.name === "kafka-client-certs");
            assert.equal(volumes.secret.secretName, "kafka-provisioning-tls");
            const script: string = job.spec.template.spec.containers[0].args[1];
            for (const line of [
                "upsert_scram_user producer KAFKA_PRODUCER_PASSWORD",
                "upsert_scram_user consumer KAFKA_CONSUMER_PASSWORD",
                "allow producer topic crypto-ticks literal Write Describe",
                "allow consumer topic crypto-ticks literal Read Describe",
                "allow consumer group crypto-ticks-stream prefixed Read",
            ]) {
                assert.ok(script.includes(`\n${line}\n`), line);
            }
            const env = job.spec.template.spec.containers[0].env;
            for (const [name, key] of [
                ["KAFKA_PRODUCER_PASSWORD", "producer-password"],
                ["KAFKA_CONSUMER_PASSWORD", "consumer-password"],
            ]) {
                assert.deepEqual(env.find((e: any) => e.name === name).valueFrom, { secretKeyRef: { name: "kafka-sasl", key } }, name);
            }
        });

        it(`${stack}: each client user has its own password, paired with the chart's client users by position`, () => {
            const data = secret(runs[stack], "kafka-sasl").inputs.stringData;
            const [admin, producer, consumer] = data["client-passwords"].split(",");
            assert.deepEqual([admin, producer, consumer], [data["admin-password"], data["producer-password"], data["consumer-password"]]);
            assert.equal(new Set([admin, producer, consumer, data["inter-broker-password"], data["controller-password"]]).size, 5);
            assert.equal(data["system-user-password"], admin);
        });
    }
});
