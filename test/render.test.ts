import { strict as assert } from "assert";
import { Manifest, podTemplate, renderRelease, renderStack, STACK_VARIANTS, WORKLOAD_KINDS } from "../offline/render";
import { TYPES } from "../offline/resourceTypes";
import { schemaProblems } from "../offline/schemas";

/** What a pod needs to exist before it can start: Secrets, ConfigMaps, claims and its service account. */
function references(workload: Manifest): { kind: string; name: string }[] {
    const spec = podTemplate(workload).spec;
    const containers = [...spec.containers, ...(spec.initContainers ?? [])];
    const claimTemplates = new Set((workload.spec.volumeClaimTemplates ?? []).map((t: any) => t.metadata.name));
    return [
        ...(spec.volumes ?? []).flatMap((v: any) => [
            v.secret && { kind: "Secret", name: v.secret.secretName, optional: v.secret.optional },
            v.configMap && { kind: "ConfigMap", name: v.configMap.name, optional: v.configMap.optional },
            v.persistentVolumeClaim && !claimTemplates.has(v.name) && { kind: "PersistentVolumeClaim", name: v.persistentVolumeClaim.claimName },
            ...(v.projected?.sources ?? []).flatMap((s: any) => [
                s.secret && { kind: "Secret", name: s.secret.name, optional: s.secret.optional },
                s.configMap && { kind: "ConfigMap", name: s.configMap.name, optional: s.configMap.optional },
            ]),
        ]),
        ...containers.flatMap((c: any) => [
            ...(c.envFrom ?? []).flatMap((e: any) => [
                e.secretRef && { kind: "Secret", name: e.secretRef.name, optional: e.secretRef.optional },
                e.configMapRef && { kind: "ConfigMap", name: e.configMapRef.name, optional: e.configMapRef.optional },
            ]),
            ...(c.env ?? []).flatMap((e: any) => [
                e.valueFrom?.secretKeyRef && { kind: "Secret", name: e.valueFrom.secretKeyRef.name, optional: e.valueFrom.secretKeyRef.optional },
                e.valueFrom?.configMapKeyRef && {
                    kind: "ConfigMap",
                    name: e.valueFrom.configMapKeyRef.name,
                    optional: e.valueFrom.configMapKeyRef.optional,
                },
            ]),
        ]),
        spec.serviceAccountName && spec.serviceAccountName !== "default" && { kind: "ServiceAccount", name: spec.serviceAccountName },
    ].filter((ref: any) => ref && !ref.optional);
}

describe("every release renders with the pinned chart", () => {
    for (const [stack, overrides] of STACK_VARIANTS) {
        describe(`${stack} ${JSON.stringify(overrides)}`, () => {
            it("renders objects the Kubernetes API accepts, each once", async () => {
                const { releases, objects } = await renderStack(stack, overrides);
                assert.equal(releases.length, 4);
                for (const release of releases) {
                    assert.ok(
                        release.objects.some((o) => WORKLOAD_KINDS.includes(o.kind)),
                        `${release.chart} renders workloads`,
                    );
                }
                assert.deepEqual(objects.flatMap(schemaProblems), []);
                const keys = objects.map((o) => `${o.kind} ${o.metadata.namespace ?? ""}/${o.metadata.name}`);
                assert.deepEqual(
                    keys.filter((key, i) => keys.indexOf(key) !== i),
                    [],
                );
            });

            // Kubernetes keeps the last of two same-named variables, but Helm's three-way merge patches env by name
            // and can drop both on an upgrade: a second definition is never a safe override.
            it("declares no environment variable twice in any container", async () => {
                const { objects } = await renderStack(stack, overrides);
                const twice = objects
                    .filter((o) => WORKLOAD_KINDS.includes(o.kind))
                    .flatMap((workload) => {
                        const spec = podTemplate(workload).spec;
                        return [...spec.containers, ...(spec.initContainers ?? [])].flatMap((c: any) => {
                            const names: string[] = (c.env ?? []).map((e: any) => e.name);
                            return [...new Set(names.filter((n, i) => names.indexOf(n) !== i))].map(
                                (n) => `${workload.metadata.namespace}/${workload.metadata.name} ${c.name}: ${n}`,
                            );
                        });
                    });
                assert.deepEqual(twice, []);
            });

            it("gives every pod the Secrets, ConfigMaps, claims and service account it refers to", async () => {
                const { objects } = await renderStack(stack, overrides);
                const missing = objects
                    .filter((o) => WORKLOAD_KINDS.includes(o.kind))
                    .flatMap((workload) =>
                        references(workload)
                            .filter(
                                (ref) =>
                                    !objects.some(
                                        (o) =>
                                            o.kind === ref.kind &&
                                            o.metadata.name === ref.name &&
                                            o.metadata.namespace === workload.metadata.namespace,
                                    ),
                            )
                            .map((ref) => `${workload.metadata.namespace}/${workload.metadata.name} needs ${ref.kind} ${ref.name}`),
                    );
                assert.deepEqual(missing, []);
            });
        });
    }

    // A chart that makes up a value in a client-side render (a random password, a fresh certificate) changes
    // the release in every preview and up, and reruns its hooks each time. The kafka chart did, with
    // kafka-tls-passwords, until the program gave it tls.passwordsSecret.
    for (const stack of ["dev", "prod", "local"]) {
        it(`renders every release of ${stack} the same twice: no diff in a preview of an unchanged stack`, async () => {
            const { run, releases } = await renderStack(stack);
            const again = run.resources.filter((r) => r.type === TYPES.helmRelease).map(renderRelease);
            for (const [index, release] of releases.entries()) {
                const changed = release.objects.filter((object, i) => JSON.stringify(object) !== JSON.stringify(again[index].objects[i]));
                assert.deepEqual(
                    changed.map((o) => `${o.kind} ${o.metadata.name}`),
                    [],
                    `${release.chart} renders differently each time`,
                );
            }
        });
    }

    it("sees an object the API server would reject", () => {
        const service: Manifest = {
            apiVersion: "v1",
            kind: "Service",
            metadata: { name: "ui" },
            spec: { loadBalancerSourceRanges: "[203.0.113.0/24 198.51.100.7/32]" },
        };
        assert.match(schemaProblems(service).join(), /loadBalancerSourceRanges must be array/);
    });
});
