import { StackRun } from "./harness";
import type { Manifest } from "./render";
import { TYPES } from "./resourceTypes";

// Imports only the harness and the type tokens, so that apiserver/earlierRelease.ts can evaluate an earlier
// commit's program with it.

const CLUSTER_SCOPED = new Set(["Namespace", "StorageClass", "ClusterRole", "ClusterRoleBinding", "PersistentVolume"]);

/** The Kubernetes objects the program registers itself, from a type token like kubernetes:apps/v1:Deployment. */
export function programObjects(run: StackRun): Manifest[] {
    return programResources(run).map(([, object]) => object);
}

/**
 * "<kind> <namespace>/<name>" of each program object Pulumi replaces (deletes, then creates under the same name) when
 * one of these paths of it changes (`replaceOnChanges`, e.g. a Job's immutable pod template).
 */
export function replacedOnChanges(run: StackRun): Record<string, readonly string[]> {
    return Object.fromEntries(
        programResources(run)
            .filter(([resource]) => resource.replaceOnChanges.length > 0)
            .map(([resource, object]) => [`${object.kind} ${object.metadata.namespace}/${object.metadata.name}`, resource.replaceOnChanges]),
    );
}

function programResources(run: StackRun): [StackRun["resources"][number], Manifest][] {
    return run.resources
        .filter((r) => r.type.startsWith("kubernetes:") && r.type !== TYPES.helmRelease && r.custom)
        .map((r): [StackRun["resources"][number], Manifest] => {
            const [, groupVersion, kind] = r.type.split(":");
            const [group, version] = groupVersion.split("/");
            const apiVersion = group === "core" ? version : `${group}/${version}`;
            return [r, { ...r.inputs, apiVersion, kind, metadata: r.inputs.metadata } as Manifest];
        })
        .filter(([, object]) => CLUSTER_SCOPED.has(object.kind) || object.metadata?.namespace !== undefined);
}
