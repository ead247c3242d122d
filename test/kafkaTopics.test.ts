import { strict as assert } from "assert";
import { spawnSync } from "child_process";
import * as fs from "fs";
import * as os from "os";
import * as path from "path";
import { partitionChangeProblem, topicPartitionsProvider } from "../components/data/kafkaTopicPartitions";
import { ReconciledTopic, TOPIC_RECONCILE_SCRIPT, topicReconcileScript } from "../components/data/kafkaTopicScript";
import { ofType, StackRun } from "../offline/harness";
import { findObject, RenderedStack, renderStack } from "../offline/render";
import { release, values } from "../offline/stackQueries";

const PARTITIONS_TYPE = "pulumi-nodejs:dynamic:KafkaTopicPartitions";
const KEY = "streaming-platform:kafkaTopicPartitions";

// ---------------------------------------------------------------------------------------------------
// Fake Kafka CLIs: each logs its arguments to $FAKE_DIR/calls and fails when named in FAKE_FAIL.
// kafka-topics.sh keeps the topic's partition count in $FAKE_DIR/partitions (no file: no topic) and
// describes it as Kafka 4.0 does, as topic $FAKE_TOPIC, after a look-alike topic when FAKE_OTHER_TOPIC is set.

const FAKE_PRELUDE = `#!/usr/bin/env bash
set -eu
name="$(basename "$0")"
echo "$name $*" >>"$FAKE_DIR/calls"
if [[ ",\${FAKE_FAIL:-}," == *",$name,"* ]]; then echo "$name: fake failure" >&2; exit 1; fi
`;
const FAKES: Record<string, string> = {
    "kafka-topics.sh": `${FAKE_PRELUDE}
state="$FAKE_DIR/partitions"
args=("$@")
option() { local i; for ((i = 0; i < \${#args[@]}; i++)); do if [[ "\${args[i]}" == "$1" ]]; then echo "\${args[i+1]}"; fi; done; }
case " $* " in
*" --describe "*)
    if [[ -n "\${FAKE_OTHER_TOPIC:-}" ]]; then
        printf 'Topic: %s\\tTopicId: OtHeR\\tPartitionCount: 99\\tReplicationFactor: 1\\tConfigs: \\n' "$FAKE_OTHER_TOPIC"
    fi
    if [[ -f "$state" ]]; then
        count="$(cat "$state")"
        printf 'Topic: %s\\tTopicId: AbCdEf\\tPartitionCount: %s\\tReplicationFactor: %s\\tConfigs: min.insync.replicas=1\\n' "$FAKE_TOPIC" "$count" "\${FAKE_REPLICATION:-1}"
        for ((p = 0; p < count; p++)); do
            printf '\\tTopic: %s\\tPartition: %d\\tLeader: 0\\tReplicas: 0\\tIsr: 0\\tElr: \\tLastKnownElr: \\n' "$FAKE_TOPIC" "$p"
        done
    fi ;;
*" --create "* | *" --alter "*) option --partitions >"$state" ;;
esac
`,
    "kafka-configs.sh": FAKE_PRELUDE,
    "kafka-acls.sh": FAKE_PRELUDE,
};

interface ScriptRun {
    status: number | null;
    stdout: string;
    stderr: string;
    calls: string[];
}

/** A scratch directory with the fakes on PATH, running scripts as the chart's Job does: `/bin/bash -ec`. */
class FakeKafka {
    readonly root = fs.mkdtempSync(path.join(os.tmpdir(), "kafka-topics-test-"));
    private readonly bin = path.join(this.root, "bin");

    constructor(
        readonly topic: string,
        partitions?: number,
    ) {
        fs.mkdirSync(this.bin);
        for (const [name, source] of Object.entries(FAKES)) {
            fs.writeFileSync(path.join(this.bin, name), source, { mode: 0o755 });
        }
        if (partitions !== undefined) {
            this.setPartitions(partitions);
        }
    }

    setPartitions(count: number) {
        fs.writeFileSync(path.join(this.root, "partitions"), `${count}\n`);
    }

    partitions(): number | undefined {
        const file = path.join(this.root, "partitions");
        return fs.existsSync(file) ? Number(fs.readFileSync(file, "utf8")) : undefined;
    }

    run(script: string, env: Record<string, string> = {}): ScriptRun {
        const callsFile = path.join(this.root, "calls");
        fs.rmSync(callsFile, { force: true });
        const result = spawnSync("bash", ["-ec", script], {
            cwd: this.root,
            encoding: "utf8",
            env: {
                PATH: `${this.bin}${path.delimiter}${process.env.PATH}`,
                FAKE_DIR: this.root,
                FAKE_TOPIC: this.topic,
                KAFKA_SERVICE: "kafka:9092",
                ...env,
            },
        });
        const calls = fs.existsSync(callsFile) ? fs.readFileSync(callsFile, "utf8").split("\n").filter(Boolean) : [];
        return { status: result.status, stdout: result.stdout, stderr: result.stderr, calls };
    }

    remove() {
        fs.rmSync(this.root, { recursive: true, force: true });
    }
}

const CLIENT = "--bootstrap-server kafka:9092 --command-config /shared/client.properties";
const TICKS: ReconciledTopic = { name: "crypto-ticks", partitions: 6, replicationFactor: 3, config: { "min.insync.replicas": "2" } };
const describeCall = (pattern: string) => `kafka-topics.sh ${CLIENT} --describe --if-exists --topic ${pattern}`;
const configsCall = (topic: string, config: string) =>
    `kafka-configs.sh ${CLIENT} --alter --entity-type topics --entity-name ${topic} --add-config ${config}`;

describe("Kafka topic reconciliation (helm-values/kafka-topic-reconcile.sh)", function () {
    this.timeout(30000);
    let kafka: FakeKafka;
    afterEach(() => kafka?.remove());

    it("is bash that parses and passes shellcheck", function () {
        const parse = spawnSync("bash", ["-n", TOPIC_RECONCILE_SCRIPT], { encoding: "utf8" });
        assert.equal(parse.status, 0, parse.stderr);
        if (spawnSync("shellcheck", ["--version"]).status !== 0) {
            this.skip();
        }
        const check = spawnSync("shellcheck", ["-s", "bash", TOPIC_RECONCILE_SCRIPT], { encoding: "utf8" });
        assert.equal(check.status, 0, check.stdout + check.stderr);
    });

    it("ends the script with one reconcile_topic call per topic, words quoted only where bash needs it", () => {
        const script = topicReconcileScript([TICKS, { name: "odd.one", partitions: 1, replicationFactor: 1, config: { "retention.ms": "it's" } }]);
        assert.ok(script.startsWith(fs.readFileSync(TOPIC_RECONCILE_SCRIPT, "utf8").trimEnd()));
        assert.deepEqual(script.trimEnd().split("\n").slice(-2), [
            "reconcile_topic crypto-ticks 6 3 min.insync.replicas=2",
            "reconcile_topic odd.one 1 1 'retention.ms=it'\\''s'",
        ]);
    });

    it("creates a missing topic with its partitions, replication and config, then applies the config", () => {
        kafka = new FakeKafka("crypto-ticks");
        const result = kafka.run(topicReconcileScript([TICKS]));
        assert.equal(result.status, 0, result.stderr);
        assert.deepEqual(result.calls, [
            describeCall("crypto-ticks"),
            `kafka-topics.sh ${CLIENT} --create --if-not-exists --topic crypto-ticks --partitions 6 --replication-factor 3 --config min.insync.replicas=2`,
            configsCall("crypto-ticks", "min.insync.replicas=2"),
        ]);
        assert.equal(kafka.partitions(), 6);
    });

    it("raises the partition count of a topic that has fewer", () => {
        kafka = new FakeKafka("crypto-ticks", 3);
        const result = kafka.run(topicReconcileScript([TICKS]));
        assert.equal(result.status, 0, result.stderr);
        assert.deepEqual(result.calls, [
            describeCall("crypto-ticks"),
            `kafka-topics.sh ${CLIENT} --alter --topic crypto-ticks --partitions 6`,
            configsCall("crypto-ticks", "min.insync.replicas=2"),
        ]);
        assert.equal(kafka.partitions(), 6);
    });

    it("leaves the partitions of a topic that has the count alone and still applies the config, run after run", () => {
        kafka = new FakeKafka("crypto-ticks");
        const script = topicReconcileScript([TICKS]);
        assert.equal(kafka.run(script).status, 0);
        for (let run = 0; run < 2; run++) {
            const result = kafka.run(script);
            assert.equal(result.status, 0, result.stderr);
            assert.deepEqual(result.calls, [describeCall("crypto-ticks"), configsCall("crypto-ticks", "min.insync.replicas=2")]);
            assert.match(result.stdout, /already has 6 partitions/);
        }
    });

    it("applies several config entries in one kafka-configs.sh call and none when there are none", () => {
        kafka = new FakeKafka("crypto-ticks", 6);
        const several = kafka.run(topicReconcileScript([{ ...TICKS, config: { "min.insync.replicas": "2", "retention.ms": "86400000" } }]));
        assert.equal(several.status, 0, several.stderr);
        assert.equal(several.calls.at(-1), configsCall("crypto-ticks", "min.insync.replicas=2,retention.ms=86400000"));
        const none = kafka.run(topicReconcileScript([{ ...TICKS, config: {} }]));
        assert.equal(none.status, 0, none.stderr);
        assert.deepEqual(none.calls, [describeCall("crypto-ticks")]);
    });

    it("refuses a partition decrease, naming the config key and both counts, and changes nothing", () => {
        kafka = new FakeKafka("crypto-ticks", 12);
        const result = kafka.run(topicReconcileScript([TICKS]) + "echo 'Provisioning succeeded'\n");
        assert.notEqual(result.status, 0);
        assert.match(result.stderr, new RegExp(`has 12 partitions; ${KEY} asks for 6`));
        assert.doesNotMatch(result.stdout, /Provisioning succeeded/, "the Job's script stops at the failure");
        assert.deepEqual(result.calls, [describeCall("crypto-ticks")]);
        assert.equal(kafka.partitions(), 12);
    });

    for (const failing of ["kafka-topics.sh", "kafka-configs.sh"]) {
        it(`fails the Job's script when ${failing} fails`, () => {
            kafka = new FakeKafka("crypto-ticks", 6);
            const result = kafka.run(topicReconcileScript([TICKS]) + "echo 'Provisioning succeeded'\n", { FAKE_FAIL: failing });
            assert.notEqual(result.status, 0);
            assert.doesNotMatch(result.stdout, /Provisioning succeeded/);
            if (failing === "kafka-topics.sh") {
                assert.deepEqual(result.calls, [describeCall("crypto-ticks")], "an unreachable cluster is not a missing topic");
            }
        });
    }

    it("fails when the description has no partition count for the topic instead of creating it again", () => {
        kafka = new FakeKafka("crypto-ticks", 6);
        const result = kafka.run(topicReconcileScript([TICKS]), { FAKE_TOPIC: "somewhere-else" });
        assert.notEqual(result.status, 0);
        assert.match(result.stderr, /Cannot read the partition count of topic crypto-ticks/);
        assert.equal(result.calls.length, 1);
    });

    it("matches a dotted topic name literally, though --describe and --alter read --topic as a regular expression", () => {
        kafka = new FakeKafka("crypto.ticks", 3);
        const result = kafka.run(topicReconcileScript([{ ...TICKS, name: "crypto.ticks" }]), { FAKE_OTHER_TOPIC: "cryptoXticks" });
        assert.equal(result.status, 0, result.stderr);
        assert.deepEqual(result.calls, [
            describeCall("crypto\\.ticks"),
            `kafka-topics.sh ${CLIENT} --alter --topic crypto\\.ticks --partitions 6`,
            configsCall("crypto.ticks", "min.insync.replicas=2"),
        ]);
    });

    it("warns that an existing topic keeps its replication factor", () => {
        kafka = new FakeKafka("crypto-ticks", 6);
        const result = kafka.run(topicReconcileScript([TICKS]), { FAKE_REPLICATION: "1" });
        assert.equal(result.status, 0, result.stderr);
        assert.match(result.stderr, /keeps replication factor 1 \(requested 3\)/);
    });
});

describe("Kafka topic partition guard (components/data/kafkaTopicPartitions.ts)", () => {
    const requested = { topic: "crypto-ticks", partitions: 6 };

    it("allows the first count, the same count and more partitions", () => {
        assert.equal(partitionChangeProblem(undefined, requested), undefined);
        assert.equal(partitionChangeProblem({}, requested), undefined);
        assert.equal(partitionChangeProblem({ topic: "crypto-ticks", partitions: 6 }, requested), undefined);
        assert.equal(partitionChangeProblem({ topic: "crypto-ticks", partitions: 3 }, requested), undefined);
    });

    it("refuses fewer partitions, naming the config key, the current and the requested count", () => {
        const problem = partitionChangeProblem({ topic: "crypto-ticks", partitions: 12 }, requested);
        assert.ok(problem);
        assert.match(problem, new RegExp(`^${KEY} = 6: topic "crypto-ticks" already has 12 partitions and Kafka cannot remove partitions`));
        assert.match(problem, new RegExp(`set ${KEY} to 12 or more`));
    });

    it("starts afresh for another topic name: the program provisions a new topic", () => {
        assert.equal(partitionChangeProblem({ topic: "old-ticks", partitions: 12 }, requested), undefined);
    });

    it("the provider's check fails on the partitions property for a decrease and passes the inputs on", async () => {
        const refused = await topicPartitionsProvider.check!({ topic: "crypto-ticks", partitions: 12 }, requested);
        assert.deepEqual(refused.inputs, requested);
        assert.equal(refused.failures?.length, 1);
        assert.equal(refused.failures![0].property, "partitions");
        assert.equal(refused.failures![0].reason, partitionChangeProblem({ topic: "crypto-ticks", partitions: 12 }, requested));
        for (const olds of [{}, { topic: "crypto-ticks", partitions: 3 }, requested]) {
            const allowed = await topicPartitionsProvider.check!(olds, requested);
            assert.deepEqual(allowed, { inputs: requested });
        }
    });

    it("the provider only stores what it was given", async () => {
        assert.deepEqual(await topicPartitionsProvider.create!(requested), { id: "crypto-ticks", outs: requested });
        assert.deepEqual(await topicPartitionsProvider.update!("crypto-ticks", { topic: "crypto-ticks", partitions: 3 }, requested), {
            outs: requested,
        });
    });
});

// ---------------------------------------------------------------------------------------------------
// The stacks under mocks, and the kafka release rendered by the real chart (offline/render.ts).

describe("the stacks' Kafka topic provisioning", function () {
    this.timeout(120000);
    const expected = {
        dev: { partitions: 3, call: "reconcile_topic crypto-ticks 3 1 min.insync.replicas=1" },
        prod: { partitions: 6, call: "reconcile_topic crypto-ticks 6 3 min.insync.replicas=2" },
    };
    const rendered: Record<string, RenderedStack> = {};
    const runs: Record<string, StackRun> = {};
    before(async () => {
        for (const stack of Object.keys(expected)) {
            rendered[stack] = await renderStack(stack);
            runs[stack] = rendered[stack].run;
        }
    });

    for (const [stack, { partitions, call }] of Object.entries(expected)) {
        it(`${stack}: keeps the topic's partition count in state, inside the Kafka component, before the release`, () => {
            const run = runs[stack];
            const guards = ofType(run, PARTITIONS_TYPE);
            assert.equal(guards.length, 1);
            assert.equal(guards[0].inputs.topic, "crypto-ticks");
            assert.equal(guards[0].inputs.partitions, partitions);
            assert.match(guards[0].parent ?? "", /streaming-platform:data:Kafka::kafka$/);
            assert.ok(release(run, "kafka").dependencies.includes(guards[0].urn), "the release must wait for the partition check");
        });

        it(`${stack}: hands the chart the reconcile script as provisioning.postScript, before the access script`, () => {
            const provisioning = values(runs[stack], "kafka").provisioning;
            assert.equal(provisioning.enabled, true);
            assert.equal(provisioning.useHelmHooks, true);
            const topicPart = topicReconcileScript([provisioning.topics[0]]);
            assert.ok(provisioning.postScript.startsWith(topicPart), "the topic is declared once");
            assert.equal(topicPart.trimEnd().split("\n").at(-1), call);
            assert.ok(provisioning.postScript.indexOf(call) < provisioning.postScript.indexOf("\nupsert_scram_user "));
        });

        it(`${stack}: the rendered provisioning hook Job reconciles the topic on every install and upgrade`, () => {
            const job = findObject(rendered[stack].objects, "Job", "kafka", "kafka-provisioning");
            assert.equal(job.metadata.annotations?.["helm.sh/hook"], "post-install,post-upgrade");
            const container = job.spec.template.spec.containers.find((c: any) => c.name === "kafka-provisioning");
            assert.deepEqual(container.command, ["/bin/bash"]);
            assert.equal(container.args[0], "-ec");
            const script: string = container.args[1];
            assert.ok(script.includes("reconcile_topic() (") && script.includes(`\n${call}\n`), script);
            assert.ok(script.indexOf(call) < script.indexOf('echo "Provisioning succeeded"'));
            const service = container.env.find((e: any) => e.name === "KAFKA_SERVICE").value;
            assert.equal(service, "kafka:9092");
            assert.ok(
                container.volumeMounts.some((m: any) => m.mountPath === "/shared"),
                "client.properties lives in /shared",
            );

            // The rendered script itself, against the fakes: the chart's own create commands call
            // /opt/bitnami/kafka/bin/kafka-topics.sh, absent here, and their failure is ignored by the chart.
            const kafka = new FakeKafka("crypto-ticks");
            try {
                const [command, ...args] = [...container.command, ...container.args];
                // The client users' passwords, which the Job reads from the kafka-sasl Secret.
                const passwords = Object.fromEntries(
                    container.env.filter((e: any) => e.valueFrom?.secretKeyRef).map((e: any) => [e.name, `${e.name.toLowerCase()}-value`]),
                );
                const run = (env: Record<string, string> = {}) => {
                    assert.equal(command, "/bin/bash");
                    assert.deepEqual(args.slice(0, 1), ["-ec"]);
                    return kafka.run(args[1], { KAFKA_SERVICE: service, ...passwords, ...env });
                };
                const created = run();
                assert.equal(created.status, 0, created.stderr);
                assert.match(created.stdout, /Provisioning succeeded/);
                assert.ok(
                    created.calls.some((c) => c.startsWith("kafka-topics.sh") && c.includes(" --create ")),
                    created.calls.join("\n"),
                );
                assert.equal(kafka.partitions(), partitions);

                kafka.setPartitions(1);
                const raised = run();
                assert.equal(raised.status, 0, raised.stderr);
                assert.equal(kafka.partitions(), partitions);
                assert.ok(
                    raised.calls.includes(`kafka-topics.sh ${CLIENT} --alter --topic crypto-ticks --partitions ${partitions}`),
                    raised.calls.join("\n"),
                );
                assert.ok(
                    raised.calls.some((c) => /^kafka-configs\.sh .* --entity-name crypto-ticks --add-config min\.insync\.replicas=\d$/.test(c)),
                    raised.calls.join("\n"),
                );

                kafka.setPartitions(partitions + 1);
                const refused = run();
                assert.notEqual(refused.status, 0, "a decrease fails the Job");
                assert.doesNotMatch(refused.stdout, /Provisioning succeeded/);
            } finally {
                kafka.remove();
            }
        });
    }
});
