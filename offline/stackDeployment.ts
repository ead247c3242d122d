/**
 * What `pulumi up` would send to a cluster for a stack: each Helm release (chart, version, namespace,
 * values) and the Kubernetes objects the program creates itself. Imports only the harness, the type
 * tokens and programObjects, so that apiserver/earlierRelease.ts can copy the four beside an earlier
 * commit's program and evaluate that program with them:
 *
 *     ts-node --transpile-only offline/stackDeployment.ts STACK OUT.json
 */
import * as fs from "fs";
import { ConfigOverrides, runStack, waitsFor } from "./harness";
import type { Manifest } from "./render";
import { programObjects, replacedOnChanges } from "./programObjects";
import { TYPES } from "./resourceTypes";

export interface ReleaseInstall {
    readonly name: string;
    readonly namespace: string;
    /** The chart's name (bitnami/kafka → kafka). */
    readonly chart: string;
    readonly version: string;
    readonly values: Record<string, unknown>;
    /** Release names this one waits for in the program, so that installs keep the program's order. */
    readonly after: readonly string[];
}

export interface StackDeployment {
    readonly releases: readonly ReleaseInstall[];
    readonly objects: readonly Manifest[];
    /** The objects Pulumi replaces when one of these paths changes, by "<kind> <namespace>/<name>". */
    readonly replacedOnChanges?: Record<string, readonly string[]>;
}

export async function stackDeployment(stack: string, overrides: ConfigOverrides = {}): Promise<StackDeployment> {
    const run = await runStack(stack, overrides);
    if (run.error) {
        throw run.error;
    }
    const releases = run.resources.filter((r) => r.type === TYPES.helmRelease);
    return {
        releases: releases.map((release) => ({
            name: release.inputs.name,
            namespace: release.inputs.namespace,
            chart: String(release.inputs.chart).split("/").pop()!,
            version: release.inputs.version,
            values: release.inputs.values ?? {},
            after: releases.filter((other) => other !== release && waitsFor(run, release, other)).map((other) => other.inputs.name),
        })),
        objects: programObjects(run),
        replacedOnChanges: replacedOnChanges(run),
    };
}

if (require.main === module) {
    const [stack, out] = process.argv.slice(2);
    stackDeployment(stack).then(
        (deployment) => {
            fs.writeFileSync(out, JSON.stringify(deployment));
            process.exit(0);
        },
        (error) => {
            console.error(error?.stack ?? error);
            process.exit(1);
        },
    );
}
