import { strict as assert } from "assert";
import { ofType } from "../offline/harness";
import { Manifest, podTemplate, renderStack, WORKLOAD_KINDS } from "../offline/render";
import { TYPES } from "../offline/resourceTypes";
import { ON_DEMAND_POOL, POOL_LABEL, PodRole, SPOT_POOL, SPOT_TAINT } from "../components/k8s/placement";

/**
 * Every workload any stack renders, with its role. A workload missing here fails the test, so a new
 * chart component or program object has to be given a pool.
 */
const ROLES: Readonly<Record<string, PodRole>> = {
    "kafka/kafka-controller": "on-demand",
    "kafka/kafka-provisioning": "on-demand",
    "postgresql/postgresql-primary": "on-demand",
    "postgresql/postgresql-read": "on-demand",
    "postgresql/postgresql-schema": "on-demand",
    "postgresql/postgresql-backup": "on-demand",
    "spark/spark-master": "on-demand",
    "spark/spark-worker": "spot",
    "spark/crypto-ticks-stream": "on-demand",
    // Its logs are in Cloud Storage on GKE: a preemption costs the UI a minute, no data.
    "spark/spark-history": "spot",
    "airflow/airflow-web": "on-demand",
    "airflow/airflow-scheduler": "on-demand",
    "airflow/airflow-dag-processor": "on-demand",
    "airflow/airflow-triggerer": "on-demand",
    "airflow/airflow-redis-master": "on-demand",
    "airflow/airflow-worker": "spot",
    "airflow/airflow-statsd-metrics": "on-demand",
};

/** The schema Job carries its script's hash in its name. */
const roleKey = (w: Manifest) => `${w.metadata.namespace}/${w.metadata.name.replace(/^postgresql-schema-.*$/, "postgresql-schema")}`;

const nodeAffinity = (w: Manifest) => podTemplate(w).spec.affinity?.nodeAffinity ?? {};
/** Each required term's pools, and a nodeSelector's pool as one more term. */
const requiredPools = (w: Manifest): string[][] => [
    ...(podTemplate(w).spec.nodeSelector?.[POOL_LABEL] ? [[podTemplate(w).spec.nodeSelector[POOL_LABEL]]] : []),
    ...(nodeAffinity(w).requiredDuringSchedulingIgnoredDuringExecution?.nodeSelectorTerms ?? []).map((term: any) =>
        (term.matchExpressions ?? []).filter((e: any) => e.key === POOL_LABEL && e.operator === "In").flatMap((e: any) => e.values),
    ),
];
const preferredPools = (w: Manifest): string[] =>
    (nodeAffinity(w).preferredDuringSchedulingIgnoredDuringExecution ?? []).flatMap((p: any) =>
        (p.preference.matchExpressions ?? []).filter((e: any) => e.key === POOL_LABEL && e.operator === "In").flatMap((e: any) => e.values),
    );
const toleratesSpot = (w: Manifest) =>
    (podTemplate(w).spec.tolerations ?? []).some(
        (t: any) => (t.key === SPOT_TAINT.key && (t.operator === "Exists" || t.value === SPOT_TAINT.value)) || (t.operator === "Exists" && !t.key),
    );

async function workloads(stack: string, overrides = {}) {
    const rendered = await renderStack(stack, overrides);
    return { rendered, workloads: rendered.objects.filter((o) => WORKLOAD_KINDS.includes(o.kind)) };
}

describe("placement on the node pools (rendered manifests)", function () {
    this.timeout(240000);

    const variants: [string, Record<string, unknown>][] = [
        ["dev", {}],
        ["prod", {}],
        ["dev", { airflowExecutor: "CeleryExecutor", spotPool: true }],
        ["prod", { spotPool: false }],
    ];
    for (const [stack, overrides] of variants) {
        const label = `${stack}${Object.keys(overrides).length ? ` ${JSON.stringify(overrides)}` : ""}`;
        it(`${label}: every workload runs where its role allows, stateful pods never on Spot`, async () => {
            const { rendered, workloads: all } = await workloads(stack, overrides);
            // The Spot pool is the tainted one: dev's only pool is on Spot too (nodeSpot), but untainted.
            const spotPool = ofType(rendered.run, TYPES.nodePool).some((p) => p.inputs.nodeConfig.taints !== undefined);
            assert.equal(spotPool, overrides.spotPool ?? stack === "prod", "the stack's Spot pool");
            assert.ok(all.length >= 9, `${all.length} workloads`);
            for (const w of all) {
                const role = ROLES[roleKey(w)];
                assert.ok(role, `${w.kind} ${roleKey(w)} has no role in this test's table`);
                const where = `${label}: ${w.kind} ${roleKey(w)}`;
                if (role === "on-demand") {
                    // The taint keeps it off Spot nodes, the affinity on the on-demand pool.
                    assert.equal(toleratesSpot(w), false, `${where} tolerates the Spot taint`);
                    assert.deepEqual(requiredPools(w), [[ON_DEMAND_POOL]], `${where} must require the on-demand pool`);
                } else if (spotPool) {
                    assert.equal(toleratesSpot(w), true, `${where} must tolerate the Spot taint`);
                    assert.deepEqual(preferredPools(w), [SPOT_POOL], `${where} must prefer the Spot pool`);
                    assert.deepEqual(requiredPools(w), [], `${where} must be free to fall back to the on-demand pool`);
                } else {
                    assert.equal(toleratesSpot(w), false, `${where}: there is no Spot pool to tolerate`);
                }
            }
        });
    }

    it("taints the Spot pool and labels both pools as the pods expect; the state's pool is on Spot only by nodeSpot", async () => {
        for (const [stack, overrides] of [
            ["dev", { spotPool: true }],
            ["prod", {}],
        ] as const) {
            const { rendered } = await workloads(stack, overrides);
            const pools = ofType(rendered.run, TYPES.nodePool);
            const onDemand = pools.find((p) => p.name === "gke-pool")!;
            const spot = pools.find((p) => p.name === "gke-spot")!;
            assert.equal(pools.length, 2, stack);
            assert.equal(onDemand.inputs.nodeConfig.spot, stack === "dev", `${stack}: nodeSpot is on for dev only`);
            assert.deepEqual(onDemand.inputs.nodeConfig.labels, { [POOL_LABEL]: ON_DEMAND_POOL });
            assert.equal(onDemand.inputs.nodeConfig.taints, undefined);
            assert.equal(spot.inputs.nodeConfig.spot, true);
            assert.deepEqual(spot.inputs.nodeConfig.labels, { [POOL_LABEL]: SPOT_POOL });
            assert.deepEqual(spot.inputs.nodeConfig.taints, [{ key: SPOT_TAINT.key, value: SPOT_TAINT.value, effect: "NO_SCHEDULE" }]);
            assert.equal(spot.inputs.autoscaling.totalMinNodeCount, stack === "prod" ? 1 : 0, `${stack}: spotMinCount`);
            assert.equal(spot.inputs.autoscaling.locationPolicy, "ANY");
        }
    });

    it("lets the Spot pool scale to zero when configured so", async () => {
        const { run } = await renderStack("prod", { spotMinCount: 0 });
        const spot = ofType(run, TYPES.nodePool).find((p) => p.name === "gke-spot")!;
        assert.equal(spot.inputs.autoscaling.totalMinNodeCount, 0);
    });

    it("places nothing on an existing cluster, whose nodes carry none of the pool labels", async () => {
        const { workloads: all } = await workloads("local");
        for (const w of all) {
            assert.equal(podTemplate(w).spec.affinity?.nodeAffinity ?? undefined, undefined, `${roleKey(w)}`);
            assert.equal(podTemplate(w).spec.nodeSelector?.[POOL_LABEL], undefined, `${roleKey(w)}`);
            assert.equal(toleratesSpot(w), false, `${roleKey(w)}`);
        }
    });
});
