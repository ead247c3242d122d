import { strict as assert } from "assert";
import type * as fs from "fs";
import { ChartName } from "../components/data";
import { ConfigOverrides, ofType, RecordedResource, runStack, runStackAfresh, StackRun } from "./harness";
import { TYPES } from "./resourceTypes";

/** A stack evaluated under mocks that must have succeeded; shared like runStack's runs. */
export async function evaluated(stack: string, overrides: ConfigOverrides = {}): Promise<StackRun> {
    return succeeded(await runStack(stack, overrides));
}

/** A stack evaluated now, not taken from the shared runs: for tests that change what the program reads first. */
export async function evaluatedAfresh(stack: string, overrides: ConfigOverrides = {}): Promise<StackRun> {
    return succeeded(await runStackAfresh(stack, overrides));
}

/**
 * A stack evaluated as if the file at `absolutePath` ended with `appended`, leaving the file untouched: the
 * program reads through the fs module object, whose readFileSync is swapped for the one evaluation.
 */
export async function evaluatedWithChangedFile(
    absolutePath: string,
    appended: string,
    stack: string,
    overrides: ConfigOverrides = {},
): Promise<StackRun> {
    // eslint-disable-next-line @typescript-eslint/no-require-imports
    const nodeFs: typeof fs = require("fs");
    const original = nodeFs.readFileSync;
    nodeFs.readFileSync = ((file: fs.PathOrFileDescriptor, options?: any) =>
        file === absolutePath ? `${original(file, "utf8")}${appended}` : original(file, options)) as typeof fs.readFileSync;
    try {
        return await evaluatedAfresh(stack, overrides);
    } finally {
        nodeFs.readFileSync = original;
    }
}

function succeeded(run: StackRun): StackRun {
    assert.equal(run.error, undefined, run.error?.stack);
    return run;
}

export function release(run: StackRun, chart: ChartName): RecordedResource {
    const found = ofType(run, TYPES.helmRelease).filter((r) => r.name === chart);
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

export const secretNamed = (run: StackRun, namespace: string, name: string) => kubernetesObject(run, TYPES.secret, namespace, name);
