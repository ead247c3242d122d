import { strict as assert } from "assert";
import { ChartName } from "../components/data";
import { ConfigOverrides, ofType, RecordedResource, runStack, StackRun } from "./harness";

export const RELEASE = "kubernetes:helm.sh/v3:Release";
export const SECRET = "kubernetes:core/v1:Secret";
export const CONFIG_MAP = "kubernetes:core/v1:ConfigMap";
export const NAMESPACE = "kubernetes:core/v1:Namespace";

const evaluations = new Map<string, Promise<StackRun>>();

/** A stack evaluated now, not taken from the shared runs: for tests that change what the program reads first. */
export async function evaluatedAfresh(stack: string, overrides: ConfigOverrides = {}): Promise<StackRun> {
    const run = await runStack(stack, overrides);
    assert.equal(run.error, undefined, run.error?.stack);
    return run;
}

/**
 * A stack evaluated under mocks that must have succeeded. Each (stack, overrides) is evaluated once
 * per process and shared: callers must not modify what they get.
 */
export function evaluated(stack: string, overrides: ConfigOverrides = {}): Promise<StackRun> {
    const key = JSON.stringify([stack, overrides]);
    if (!evaluations.has(key)) {
        evaluations.set(key, evaluatedAfresh(stack, overrides));
    }
    return evaluations.get(key)!;
}

export function release(run: StackRun, chart: ChartName): RecordedResource {
    const found = ofType(run, RELEASE).filter((r) => r.name === chart);
    assert.equal(found.length, 1, `expected one ${chart} release`);
    return found[0];
}

export const values = (run: StackRun, chart: ChartName): any => release(run, chart).inputs.values;

/** The one Kubernetes object of a type with this namespace/name. */
export function kubernetesObject(run: StackRun, type: string, namespace: string, name: string): RecordedResource {
    const found = ofType(run, type).filter((o) => o.inputs.metadata.name === name && o.inputs.metadata.namespace === namespace);
    assert.equal(found.length, 1, `expected one ${type} ${namespace}/${name}`);
    return found[0];
}

export const secretNamed = (run: StackRun, namespace: string, name: string) => kubernetesObject(run, SECRET, namespace, name);
