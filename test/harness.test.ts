import { strict as assert } from "assert";
import * as path from "path";
import { BOOTSTRAP_DIR, BootstrapRun, runBootstrap } from "../offline/bootstrap";
import { ConfigOverrides, PROJECT_ROOT, runStackAfresh, StackRun, TEST_PROJECT } from "../offline/harness";

// The harness loads the program's modules (components/, config/; bootstrap/'s for the bootstrap program) once per
// process and runs only the composition root afresh for each evaluation (offline/harness.ts, offline/bootstrap.ts).
// That holds only while no module keeps state that depends on the stack, the config or an earlier evaluation: a value
// read at load, a cache keyed by stack. Such state shows as an evaluation that differs from the same one made right
// after a fresh load.

/** Drops modules from the require cache, so the next evaluation loads them as a first one would. */
function unload(folders: readonly string[]): void {
    const prefixes = folders.map((folder) => folder + path.sep);
    Object.keys(require.cache)
        .filter((file) => prefixes.some((prefix) => file.startsWith(prefix)))
        .forEach((file) => delete require.cache[file]);
}

const serialized = (value: unknown) => JSON.stringify(value, (_key, inner) => (inner instanceof Set ? [...inner] : inner));

/** How `run` departs from `expected`: each resource added, missing or different by URN, the outputs and the error. */
function differences(run: StackRun | BootstrapRun, expected: StackRun | BootstrapRun): string[] {
    const byUrn = (r: StackRun | BootstrapRun) => new Map<string, string>(r.resources.map((resource) => [resource.urn, serialized(resource)]));
    const [actual, wanted] = [byUrn(run), byUrn(expected)];
    const urns = [...new Set([...actual.keys(), ...wanted.keys()])].sort();
    return [
        ...urns
            .filter((urn) => actual.get(urn) !== wanted.get(urn))
            .map((urn) => `${!wanted.has(urn) ? "added" : !actual.has(urn) ? "missing" : "differs"}: ${urn}`),
        ...(serialized(run.outputs) === serialized(expected.outputs) ? [] : ["the stack outputs differ"]),
        ...(run.error?.message === expected.error?.message ? [] : [`error: ${run.error?.message} instead of ${expected.error?.message}`]),
    ];
}

describe("the offline harness", () => {
    it("evaluates each stack the same right after a fresh load and after the others", async () => {
        const program = ["components", "config"].map((folder) => path.join(PROJECT_ROOT, folder));
        // Every stack, the kubeconfig one and both GKE ones, and a dev that changes what is read from the config at
        // several places (where charts and images come from, the executor): evaluated last in the first pass, first
        // in the second, so that a value one of them left behind reaches the next evaluation of the same stack.
        const variants: [string, ConfigOverrides][] = [
            ["local", {}],
            ["prod", {}],
            ["dev", {}],
            [
                "dev",
                {
                    chartRepository: `oci://us-central1-docker.pkg.dev/${TEST_PROJECT}/bitnami-dev/bitnamicharts`,
                    imageRegistry: "docker.io",
                    airflowExecutor: "CeleryExecutor",
                },
            ],
        ];
        const fresh: StackRun[] = [];
        for (const [stack, overrides] of variants) {
            unload(program);
            fresh.push(await runStackAfresh(stack, overrides));
        }
        const problems: string[] = [];
        for (const index of [...variants.keys()].reverse()) {
            const [stack, overrides] = variants[index];
            assert.equal(fresh[index].error, undefined, `${stack} ${serialized(overrides)}: ${fresh[index].error?.message}`);
            assert.ok(fresh[index].resources.length > 0);
            const kept = await runStackAfresh(stack, overrides);
            problems.push(...differences(kept, fresh[index]).map((difference) => `${stack} ${serialized(overrides)}: ${difference}`));
        }
        assert.deepEqual(problems, [], "an evaluation that depends on an earlier one");
    });

    it("evaluates the bootstrap program the same right after a fresh load and after another configuration", async () => {
        const other = { githubRepository: "Other-Org/data.platform_2", stacks: ["dev"], deployerRoles: ["roles/container.admin"] };
        unload([BOOTSTRAP_DIR]);
        const first = await runBootstrap();
        unload([BOOTSTRAP_DIR]);
        const otherFirst = await runBootstrap(other);
        const kept = await runBootstrap();
        const otherKept = await runBootstrap(other);
        assert.equal(first.error, undefined);
        assert.equal(otherFirst.error, undefined);
        assert.deepEqual([...differences(kept, first), ...differences(otherKept, otherFirst)], []);
    });
});
