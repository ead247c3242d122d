import { strict as assert } from "assert";
import * as fs from "fs";
import * as path from "path";
import { ofType, runStack, single, StackRun, waitsFor } from "../offline/harness";
import { TYPES } from "../offline/resourceTypes";

const release = (run: StackRun, name: string) => ofType(run, TYPES.helmRelease).find((r) => r.name === name)!;
const values = (run: StackRun, name: string): any => release(run, name).inputs.values;

/** Resources whose replacement would lose data or the cluster; their URNs must never change silently. */
const DATA_BEARING: readonly string[] = [
    TYPES.cluster,
    TYPES.nodePool,
    TYPES.network,
    TYPES.helmRelease,
    TYPES.namespace,
    TYPES.randomPassword,
    TYPES.randomBytes,
];
const STABLE_URNS = path.join(__dirname, "stable-urns.json");

describe("teardown and protection", () => {
    const runs: Record<string, StackRun> = {};
    before(async () => {
        for (const stack of ["dev", "prod"]) {
            runs[stack] = await runStack(stack);
            assert.equal(runs[stack].error, undefined, runs[stack].error?.stack);
        }
    });

    it("deletes StatefulSet volumes with their releases on dev and keeps them on prod", () => {
        for (const [stack, whenDeleted] of [
            ["dev", "Delete"],
            ["prod", "Retain"],
        ] as const) {
            const kafka = values(runs[stack], "kafka").controller;
            const postgres = values(runs[stack], "postgresql");
            const policies = [kafka.persistentVolumeClaimRetentionPolicy, postgres.primary.persistentVolumeClaimRetentionPolicy];
            if (stack === "prod") {
                policies.push(
                    postgres.readReplicas.persistentVolumeClaimRetentionPolicy,
                    values(runs[stack], "airflow").redis.master.persistentVolumeClaimRetentionPolicy,
                );
            }
            for (const policy of policies) {
                assert.deepEqual(policy, { enabled: true, whenDeleted, whenScaled: "Retain" }, stack);
            }
        }
    });

    it("keeps LoadBalancer services inside releases, so they are gone before the network", () => {
        const run = runs.prod;
        const standalone = ofType(run, TYPES.service).filter((s) => s.inputs.spec?.type === "LoadBalancer");
        assert.deepEqual(standalone, []);
    });

    it("destroys in dependency order: releases, provider, node pool, cluster, NAT, network", () => {
        for (const run of Object.values(runs)) {
            for (const pool of ofType(run, TYPES.nodePool)) {
                const chain = [
                    release(run, "kafka"),
                    single(run, TYPES.kubernetesProvider),
                    pool,
                    single(run, TYPES.cluster),
                    single(run, TYPES.routerNat),
                    single(run, TYPES.network),
                ];
                for (let i = 0; i + 1 < chain.length; i++) {
                    // Destroy runs creation order backwards: whatever waits for another goes first.
                    assert.ok(
                        waitsFor(run, chain[i], chain[i + 1]),
                        `${chain[i].name} must be created after (destroyed before) ${chain[i + 1].name}`,
                    );
                    assert.ok(!waitsFor(run, chain[i + 1], chain[i]), `${chain[i + 1].name} must not wait for ${chain[i].name}`);
                }
                for (const name of ["postgresql", "spark", "airflow"]) {
                    assert.ok(waitsFor(run, release(run, name), pool), `${name} must go before ${pool.name}`);
                }
            }
        }
    });

    it("protects the data-bearing resources in prod and nothing in dev", () => {
        for (const [stack, protectedData] of [
            ["dev", false],
            ["prod", true],
        ] as const) {
            const run = runs[stack];
            assert.equal(single(run, TYPES.cluster).inputs.deletionProtection, protectedData);
            for (const name of ["kafka", "postgresql"]) {
                assert.equal(release(run, name).protect, protectedData, `${stack} ${name}`);
            }
            const passwords = ofType(run, TYPES.randomPassword).filter((r) => r.name.startsWith("postgresql-"));
            assert.ok(passwords.length >= 3 && passwords.every((p) => p.protect === protectedData));
            // The stack's copy of the Bitnami images: the only one once docker.io/bitnamilegacy is gone.
            const images = ofType(run, TYPES.repository).filter((r) => r.inputs.repositoryId === `bitnami-${stack}`);
            assert.equal(images.length, 1, stack);
            assert.equal(images[0].protect, protectedData, `${stack} bitnami-${stack}`);
            for (const name of ["spark", "airflow"]) {
                assert.equal(release(run, name).protect, false, `${name} holds no data and stays replaceable`);
            }
        }
    });

    it("spreads Kafka, PostgreSQL and Airflow over zones with disruption budgets in prod", () => {
        const zoneKey = (constraints: { topologyKey: string }[]) => constraints.map((c) => c.topologyKey);
        const prod = runs.prod;
        const kafka = values(prod, "kafka").controller;
        const postgres = values(prod, "postgresql");
        const airflow = values(prod, "airflow");
        for (const [what, workload] of [
            ["kafka", kafka],
            ["postgresql primary", postgres.primary],
            ["postgresql replica", postgres.readReplicas],
            ["airflow web", airflow.web],
            ["airflow scheduler", airflow.scheduler],
            ["airflow worker", airflow.worker],
        ] as const) {
            assert.deepEqual(workload.pdb, { create: true, maxUnavailable: 1 }, what);
            assert.deepEqual(zoneKey(workload.topologySpreadConstraints), ["topology.kubernetes.io/zone"], what);
        }
        assert.equal(kafka.topologySpreadConstraints[0].whenUnsatisfiable, "DoNotSchedule", "a KRaft quorum must span zones");
        assert.deepEqual(values(runs.dev, "kafka").controller.topologySpreadConstraints, [], "a zonal cluster has one zone");
    });

    it("never changes the URN of a data-bearing resource without an alias to the old one", () => {
        const current: Record<string, string[]> = {};
        for (const [stack, run] of Object.entries(runs)) {
            current[stack] = run.resources
                .filter((r) => DATA_BEARING.includes(r.type))
                .map((r) => r.urn)
                .sort();
        }
        if (process.env.UPDATE_STABLE_URNS) {
            fs.writeFileSync(STABLE_URNS, JSON.stringify(current, null, 2) + "\n");
        }
        const recorded: Record<string, string[]> = JSON.parse(fs.readFileSync(STABLE_URNS, "utf8"));
        for (const [stack, urns] of Object.entries(recorded)) {
            const run = runs[stack];
            for (const urn of urns) {
                const kept = run.resources.some((r) => r.urn === urn || r.aliases.includes(urn));
                assert.ok(
                    kept,
                    `${stack}: ${urn} disappeared; add an alias (aliases: [{ name, parent }]) or, if the resource is new, UPDATE_STABLE_URNS=1 npm test`,
                );
            }
        }
    });
});
