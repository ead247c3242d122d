import { strict as assert } from "assert";
import * as path from "path";
import { PROJECT_ROOT, RecordedResource, runStackAfresh, StackRun } from "../offline/harness";

// The harness loads the program's modules (components/, config/) once per process and only index.ts afresh for each
// evaluation (offline/harness.ts). That holds only while no module keeps state in module scope: a value read at load,
// a cache of what one stack computed. Such state shows as an evaluation that depends on the one before it.

/** Drops the program's modules from the require cache, so the next evaluation loads them as a first one would. */
function unloadProgramModules(): void {
    const folders = ["components", "config"].map((folder) => path.join(PROJECT_ROOT, folder) + path.sep);
    Object.keys(require.cache)
        .filter((file) => folders.some((folder) => file.startsWith(folder)))
        .forEach((file) => delete require.cache[file]);
}

const serialized = (resource: RecordedResource) => JSON.stringify(resource, (_key, value) => (value instanceof Set ? [...value] : value));

/** How `run` departs from `expected`: each resource added, missing or different by URN, the outputs and the error. */
function differences(run: StackRun, expected: StackRun): string[] {
    const byUrn = (r: StackRun) => new Map(r.resources.map((resource) => [resource.urn, serialized(resource)]));
    const [actual, wanted] = [byUrn(run), byUrn(expected)];
    const urns = [...new Set([...actual.keys(), ...wanted.keys()])].sort();
    return [
        ...urns
            .filter((urn) => actual.get(urn) !== wanted.get(urn))
            .map((urn) => `${!wanted.has(urn) ? "added" : !actual.has(urn) ? "missing" : "differs"}: ${urn}`),
        ...(JSON.stringify(run.outputs) === JSON.stringify(expected.outputs) ? [] : ["the stack outputs differ"]),
        ...(run.error?.message === expected.error?.message ? [] : [`error: ${run.error?.message} instead of ${expected.error?.message}`]),
    ];
}

describe("the offline harness", () => {
    it("evaluates a stack the same whatever was evaluated before it in the process", async () => {
        // A GKE stack and the kubeconfig one: they take different paths through config/ and components/.
        const [gke, kubeconfig] = ["dev", "local"];
        unloadProgramModules();
        const gkeFirst = await runStackAfresh(gke);
        const kubeconfigAfterGke = await runStackAfresh(kubeconfig);
        unloadProgramModules();
        const kubeconfigFirst = await runStackAfresh(kubeconfig);
        const gkeAfterKubeconfig = await runStackAfresh(gke);
        assert.equal(gkeFirst.error, undefined);
        assert.equal(kubeconfigFirst.error, undefined);
        assert.ok(gkeFirst.resources.length > 0 && kubeconfigFirst.resources.length > 0);
        assert.deepEqual(differences(gkeAfterKubeconfig, gkeFirst), [], `${gke} after ${kubeconfig}, against ${gke} first`);
        assert.deepEqual(differences(kubeconfigAfterGke, kubeconfigFirst), [], `${kubeconfig} after ${gke}, against ${kubeconfig} first`);
    });
});
