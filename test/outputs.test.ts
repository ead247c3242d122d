import { strict as assert } from "assert";
import { findObject, renderStack } from "../offline/render";

/** Every string in a stack output, however deep. */
function strings(value: unknown): string[] {
    if (typeof value === "string") {
        return [value];
    }
    return value && typeof value === "object" ? Object.values(value).flatMap(strings) : [];
}

/** The Kubernetes objects a text names: in-cluster DNS names and kubectl commands. */
function namedObjects(text: string): { kind: string; namespace: string; name: string }[] {
    const found = [...text.matchAll(/\b([a-z0-9-]+)\.([a-z0-9-]+)\.svc\.cluster\.local\b/g)].map(([, name, namespace]) => ({
        kind: "Service",
        namespace,
        name,
    }));
    const kubectl = /kubectl -n ([a-z0-9-]+) (.*)/.exec(text);
    if (kubectl) {
        const [, namespace, rest] = kubectl;
        for (const [, kind, name] of rest.matchAll(/\b(svc|deploy)\/([a-z0-9-]+)/g)) {
            found.push({ kind: kind === "svc" ? "Service" : "Deployment", namespace, name });
        }
        for (const [, name] of rest.matchAll(/\bget svc ([a-z0-9-]+)/g)) {
            found.push({ kind: "Service", namespace, name });
        }
    }
    return found;
}

describe("stack outputs name what exists", () => {
    const variants: [string, Record<string, unknown>][] = [
        ["dev", {}],
        ["prod", {}],
        ["local", {}],
        ["prod", { uiExposure: "LoadBalancer", uiSourceRanges: ["203.0.113.0/24"] }],
    ];
    for (const [stack, overrides] of variants) {
        it(`${stack} ${JSON.stringify(overrides)}: every Service and Deployment an output names is rendered`, async () => {
            const { run, objects } = await renderStack(stack, overrides as any);
            const named = strings(run.outputs).flatMap(namedObjects);
            assert.ok(
                named.some((o) => o.name === "airflow-web"),
                "the Airflow UI output is among those checked",
            );
            for (const object of named) {
                assert.doesNotThrow(() => findObject(objects, object.kind, object.namespace, object.name), JSON.stringify(object));
            }
        });
    }

    it("finds the names in DNS names and kubectl commands", () => {
        assert.deepEqual(namedObjects("kubectl -n airflow port-forward svc/airflow 8080:8080"), [
            { kind: "Service", namespace: "airflow", name: "airflow" },
        ]);
        assert.deepEqual(namedObjects("spark://spark-master-svc.spark.svc.cluster.local:7077"), [
            { kind: "Service", namespace: "spark", name: "spark-master-svc" },
        ]);
    });
});
