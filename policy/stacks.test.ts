import { strict as assert } from "assert";
import { ConfigOverrides, ofType, RecordedResource, runStack, StackRun } from "../offline/harness";
import {
    controlPlaneNotPublic,
    dedicatedNodeServiceAccount,
    deletionProtection,
    loadBalancerSourceRanges,
    noLiteralCredentialsInHelmValues,
    pinnedChartVersions,
    policies,
    privateNodes,
    TYPES,
    workloadIdentity,
} from "./rules";
import { evaluate, evaluateStack, isStackPolicy, TestResource } from "./testing";

interface Finding {
    readonly policy: string;
    /** The resource the finding is about; a stack rule may report on the stack as a whole. */
    readonly urn?: string;
    readonly message: string;
}

interface Review {
    readonly violations: Finding[];
    /** Rules an unknown value kept from running; under mocks every value is known, so there should be none. */
    readonly unknown: Finding[];
    /** Each rule's name and what it applied to: the URNs of the resources, or `stack <name>` for a stack rule. */
    readonly applied: Map<string, string[]>;
}

/**
 * Runs every rule of the pack on the stack the program registered, as `pulumi up --policy-pack policy`
 * would: resource rules on each resource, stack rules once on them all.
 */
async function review(run: StackRun, config: Record<string, object> = {}): Promise<Review> {
    const result: Review = { violations: [], unknown: [], applied: new Map(policies.map((p) => [p.name, []])) };
    const analyzed = run.resources.map(asAnalyzed);
    for (const policy of policies) {
        const settings = config[policy.name] ?? {};
        if (isStackPolicy(policy)) {
            const outcome = await evaluateStack(policy, analyzed, settings);
            result.violations.push(...outcome.violations.map((v) => ({ policy: policy.name, ...v })));
            if (outcome.unknown !== undefined) {
                result.unknown.push({ policy: policy.name, message: outcome.unknown });
            }
            if (outcome.notApplicable === undefined) {
                result.applied.get(policy.name)!.push(`stack ${stackOf(run)}`);
            }
            continue;
        }
        for (const resource of analyzed) {
            const outcome = await evaluate(policy, resource, settings);
            result.violations.push(...outcome.violations.map((message) => ({ policy: policy.name, urn: resource.urn, message })));
            if (outcome.unknown !== undefined) {
                result.unknown.push({ policy: policy.name, urn: resource.urn, message: outcome.unknown });
            }
            if (outcome.notApplicable === undefined) {
                result.applied.get(policy.name)!.push(resource.urn);
            }
        }
    }
    return result;
}

const stackOf = (run: StackRun) => run.resources[0].urn.split("::")[0].slice("urn:pulumi:".length);

// A stack rule gets the resources' outputs where a resource rule gets their inputs; under the mocks a
// resource's outputs are its inputs plus computed values, so the inputs stand for both.
function asAnalyzed(resource: RecordedResource): TestResource {
    return {
        type: resource.type,
        props: resource.inputs,
        urn: resource.urn,
        name: resource.name,
        opts: { protect: resource.protect, ignoreChanges: [...resource.ignoreChanges], aliases: [...resource.aliases], parent: resource.parent },
    };
}

async function evaluated(stack: string, overrides: ConfigOverrides = {}): Promise<StackRun> {
    const run = await runStack(stack, overrides);
    assert.equal(run.error, undefined, run.error?.stack);
    return run;
}

const describeFindings = (findings: Finding[]) => findings.map((f) => `${f.policy} on ${f.urn ?? "the stack"}: ${f.message}`).join("\n");

const single = <T>(items: T[], what: string): T => {
    assert.equal(items.length, 1, `expected one ${what}, found ${items.length}`);
    return items[0];
};

const CLUSTER_RULES = [privateNodes, controlPlaneNotPublic, workloadIdentity, dedicatedNodeServiceAccount, deletionProtection].map((p) => p.name);
const HELM_RULES = [pinnedChartVersions, noLiteralCredentialsInHelmValues, loadBalancerSourceRanges].map((p) => p.name);
const LOAD_BALANCED_UIS = { uiExposure: "LoadBalancer", uiSourceRanges: ["203.0.113.0/24", "198.51.100.7/32"] };

describe("the platform under its own policy pack", () => {
    const stacks: Record<string, { stack: string; overrides: ConfigOverrides; rules: string[] }> = {
        dev: { stack: "dev", overrides: {}, rules: [...CLUSTER_RULES.filter((r) => r !== deletionProtection.name), ...HELM_RULES] },
        prod: { stack: "prod", overrides: {}, rules: [...CLUSTER_RULES, ...HELM_RULES] },
        local: { stack: "local", overrides: {}, rules: HELM_RULES },
        "dev, every optional feature on": {
            stack: "dev",
            overrides: {
                ...LOAD_BALANCED_UIS,
                regional: true,
                streamCheckpointStorage: "10Gi",
                dockerHubMirror: true,
                buildImages: false,
                airflowExecutor: "CeleryExecutor",
                postgresqlReadReplicas: 2,
                kafkaReplicas: 3,
                sparkMaxWorkers: 4,
                authorizedNetworks: ["203.0.113.0/24"],
            },
            rules: [...CLUSTER_RULES.filter((r) => r !== deletionProtection.name), ...HELM_RULES],
        },
        "prod, UIs on LoadBalancers": { stack: "prod", overrides: LOAD_BALANCED_UIS, rules: [...CLUSTER_RULES, ...HELM_RULES] },
    };
    const runs: Record<string, StackRun> = {};
    const reviews: Record<string, Review> = {};
    before(async () => {
        for (const [variant, { stack, overrides }] of Object.entries(stacks)) {
            runs[variant] = await evaluated(stack, overrides);
            reviews[variant] = await review(runs[variant]);
        }
    });

    for (const [variant, { rules }] of Object.entries(stacks)) {
        describe(variant, () => {
            it("violates no rule", () => {
                assert.deepEqual(reviews[variant].violations, [], describeFindings(reviews[variant].violations));
                assert.deepEqual(reviews[variant].unknown, [], describeFindings(reviews[variant].unknown));
            });

            it("was judged by the rules that concern it", () => {
                const applied = [...reviews[variant].applied].filter(([, urns]) => urns.length > 0).map(([name]) => name);
                assert.deepEqual(applied.sort(), [...rules].sort());
                // Each release and, on GKE, the cluster and its pool: nothing the rules look for went unseen.
                const judged = new Set([...reviews[variant].applied.values()].flat());
                for (const type of Object.values(TYPES)) {
                    for (const resource of ofType(runs[variant], type)) {
                        assert.ok(judged.has(resource.urn), `no rule judged ${resource.urn}`);
                    }
                }
                assert.equal(ofType(runs[variant], TYPES.helmRelease).length, 4);
            });
        });
    }

    it("judges the LoadBalancer Services the UIs really get", () => {
        for (const variant of ["dev, every optional feature on", "prod, UIs on LoadBalancers"]) {
            const judged = new Set(reviews[variant].applied.get(loadBalancerSourceRanges.name));
            const balancers = ofType(runs[variant], TYPES.service).filter((s) => s.inputs.spec.type === "LoadBalancer");
            assert.equal(balancers.length, 2, variant);
            for (const service of balancers) {
                assert.deepEqual(service.inputs.spec.loadBalancerSourceRanges, LOAD_BALANCED_UIS.uiSourceRanges, `${variant}: ${service.name}`);
                assert.ok(judged.has(service.urn), `${variant}: ${service.name} is judged`);
            }
        }
    });
});

describe("the policy pack stops the platform going wrong", () => {
    // The rule reads the stack's own deletionProtection through what the program protects with it.
    it("flags a stack whose data is protected but whose cluster is not, naming what is protected, and nothing else", async () => {
        const run = await evaluated("prod");
        const cluster = single(ofType(run, TYPES.cluster), "cluster");
        // The program sets both from one key; a cluster that lost its flag is what the rule is for.
        const broken: StackRun = {
            ...run,
            resources: run.resources.map((r) => (r === cluster ? { ...r, inputs: { ...r.inputs, deletionProtection: false } } : r)),
        };
        const found = (await review(broken)).violations;
        const violation = single(found, `violation (${describeFindings(found)})`);
        assert.equal(violation.policy, deletionProtection.name);
        assert.equal(violation.urn, cluster.urn);
        assert.match(violation.urn ?? "", /^urn:pulumi:prod::.*gcp:container\/cluster:Cluster::gke$/);
        assert.match(violation.message, /^deletionProtection must be set to true: the stack protects /);
        // Kafka and PostgreSQL, the components index.ts protects, not each child that inherits it.
        const named = [...violation.message.matchAll(/(\S+) \((streaming-platform:[^)]+)\)/g)].map((m) => `${m[1]} ${m[2]}`).sort();
        assert.deepEqual(named, ["kafka streaming-platform:data:Kafka", "postgresql streaming-platform:data:Postgresql"]);
    });

    it("passes prod as committed, and judges it by what it protects", async () => {
        const run = await evaluated("prod");
        assert.ok(
            run.resources.some((r) => r.protect),
            "prod protects its data",
        );
        assert.equal(single(ofType(run, TYPES.cluster), "cluster").inputs.deletionProtection, true);
        const { violations, applied } = await review(run);
        assert.deepEqual(violations, [], describeFindings(violations));
        assert.deepEqual(applied.get(deletionProtection.name), ["stack prod"]);
    });

    it("passes prod with deletionProtection false: nothing is protected, so nothing requires the cluster's flag", async () => {
        // As the destroy workflow's update leaves it (.github/scripts/pulumi-destroy.sh).
        const run = await evaluated("prod", { deletionProtection: false });
        assert.deepEqual(
            run.resources.filter((r) => r.protect).map((r) => r.urn),
            [],
        );
        const { violations, applied } = await review(run);
        assert.deepEqual(violations, [], describeFindings(violations));
        assert.deepEqual(applied.get(deletionProtection.name), []);
    });

    it("flags a control plane opened to 0.0.0.0/0 through the allowPublicControlPlane opt-in, and nothing else", async () => {
        const found = (await review(await evaluated("dev", { authorizedNetworks: ["203.0.113.0/24", "0.0.0.0/0"], allowPublicControlPlane: true })))
            .violations;
        const violation = single(found, `violation (${describeFindings(found)})`);
        assert.equal(violation.policy, controlPlaneNotPublic.name);
        assert.match(violation.urn ?? "", /gcp:container\/cluster:Cluster::gke$/);
        assert.match(violation.message, /^masterAuthorizedNetworksConfig\.cidrBlocks\[1\]\.cidrBlock must not be 0\.0\.0\.0\/0/);
    });

    it("accepts a control plane open to specific networks", async () => {
        const { violations } = await review(await evaluated("prod", { authorizedNetworks: ["203.0.113.0/24", "198.51.100.0/24"] }));
        assert.deepEqual(violations, [], describeFindings(violations));
    });

    it("passes dev, which protects nothing, and dev with deletionProtection on, which protects its data and its cluster", async () => {
        const dev = await review(await evaluated("dev"));
        assert.deepEqual(dev.violations, [], describeFindings(dev.violations));
        assert.deepEqual(dev.applied.get(deletionProtection.name), []);
        const protectedDev = await review(await evaluated("dev", { deletionProtection: true }));
        assert.deepEqual(protectedDev.violations, [], describeFindings(protectedDev.violations));
        assert.deepEqual(protectedDev.applied.get(deletionProtection.name), ["stack dev"]);
    });

    // The config validator refuses these before any resource exists, so the pack never sees them.
    const refused: [string, string, ConfigOverrides, RegExp][] = [
        ["0.0.0.0/0 without the opt-in", "dev", { authorizedNetworks: ["0.0.0.0/0"] }, /authorizedNetworks/],
        ["LoadBalancer UIs without source ranges", "dev", { uiExposure: "LoadBalancer" }, /uiSourceRanges/],
        ["LoadBalancer UIs open to 0.0.0.0/0", "dev", { uiExposure: "LoadBalancer", uiSourceRanges: ["0.0.0.0/0"] }, /uiSourceRanges/],
        [
            "LoadBalancer UIs on a cluster without Google Cloud",
            "local",
            { uiExposure: "LoadBalancer", uiSourceRanges: ["203.0.113.0/24"] },
            /uiExposure/,
        ],
    ];
    for (const [what, stack, overrides, key] of refused) {
        it(`never gets to judge ${what}: the stack config is refused first`, async () => {
            const run = await runStack(stack, overrides);
            assert.equal(run.error?.name, "ConfigError", run.error?.stack ?? "the program accepted the config");
            assert.match(run.error!.message, key);
            assert.deepEqual(ofType(run, TYPES.cluster).concat(ofType(run, TYPES.helmRelease)), []);
        });
    }
});
