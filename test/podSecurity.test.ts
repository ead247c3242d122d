import { strict as assert } from "assert";
import { restrictedProblems } from "../offline/podSecurity";
import { ofKind, podTemplate, renderStack, STACK_VARIANTS, WORKLOAD_KINDS } from "../offline/render";

const ENFORCED = {
    "pod-security.kubernetes.io/enforce": "restricted",
    "pod-security.kubernetes.io/warn": "restricted",
    "pod-security.kubernetes.io/audit": "restricted",
};

describe("Pod Security 'restricted'", () => {
    for (const [stack, overrides] of STACK_VARIANTS) {
        it(`${stack} ${JSON.stringify(overrides)}: every namespace enforces it and every pod meets it`, async () => {
            const { objects } = await renderStack(stack, overrides);
            const namespaces = ofKind(objects, "Namespace");
            assert.ok(namespaces.length >= 4);
            for (const namespace of namespaces) {
                assert.deepEqual(
                    Object.fromEntries(Object.entries(namespace.metadata.labels ?? {}).filter(([key]) => key in ENFORCED)),
                    ENFORCED,
                    namespace.metadata.name,
                );
            }
            const problems = objects
                .filter((o) => WORKLOAD_KINDS.includes(o.kind))
                .flatMap((workload) =>
                    restrictedProblems(podTemplate(workload).spec).map((p) => `${workload.metadata.namespace}/${workload.metadata.name}: ${p}`),
                );
            assert.deepEqual(problems, []);
        });
    }

    it("mounts no service account token into the streaming job, which calls no Kubernetes API", async () => {
        for (const stack of ["dev", "local"]) {
            const { objects } = await renderStack(stack);
            const driver = objects.find((o) => o.kind === "Deployment" && o.metadata.name === "crypto-ticks-stream")!;
            assert.equal(podTemplate(driver).spec.automountServiceAccountToken, false, stack);
        }
    });
});
