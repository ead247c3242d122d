import { strict as assert } from "assert";
import { admits, Pod, selects } from "../offline/networkPolicy";
import { Manifest } from "../offline/render";

const pod = (namespace: string, labels: Record<string, string>, ports: Pod["ports"] = []): Pod => ({
    workload: `Pod/${labels.app}`,
    namespace,
    labels,
    ports,
});
const policy = (namespace: string, spec: any): Manifest => ({
    apiVersion: "networking.k8s.io/v1",
    kind: "NetworkPolicy",
    metadata: { name: "p", namespace },
    spec,
});
const namespace = (name: string, labels: Record<string, string>): Manifest => ({ apiVersion: "v1", kind: "Namespace", metadata: { name, labels } });

const db = pod("data", { app: "db" }, [{ name: "sql", containerPort: 5432 }]);
const client = pod("apps", { app: "client", tier: "web" });

describe("NetworkPolicy evaluation", () => {
    it("leaves a pod no policy selects open, and closes a selected pod to what no rule admits", () => {
        assert.ok(admits([], client, db, 5432));
        const onlyOther = policy("data", { podSelector: { matchLabels: { app: "db" } }, ingress: [{ ports: [{ port: 9999 }] }] });
        assert.ok(!admits([onlyOther], client, db, 5432));
        assert.ok(admits([onlyOther], client, db, 9999));
    });

    it("applies a policy only in its own namespace", () => {
        assert.ok(admits([policy("elsewhere", { podSelector: {}, ingress: [] })], client, db, 5432));
    });

    it("resolves named ports against the destination's containers", () => {
        const named = policy("data", { podSelector: {}, ingress: [{ ports: [{ port: "sql" }] }] });
        assert.ok(admits([named], client, db, 5432));
        assert.ok(!admits([named], client, db, 5433));
    });

    it("requires both selectors of one peer, and either of two peers", () => {
        const both = policy("data", {
            podSelector: {},
            ingress: [{ from: [{ namespaceSelector: { matchLabels: { team: "apps" } }, podSelector: { matchLabels: { tier: "web" } } }] }],
        });
        const objects = [both, namespace("apps", { team: "apps" })];
        assert.ok(admits(objects, client, db, 5432));
        assert.ok(!admits(objects, pod("apps", { app: "batch" }), db, 5432));
        assert.ok(!admits([both, namespace("apps", {})], client, db, 5432));
        // A bare podSelector peer means pods of the policy's own namespace only.
        const sameNamespace = policy("data", { podSelector: {}, ingress: [{ from: [{ podSelector: {} }] }] });
        assert.ok(!admits([sameNamespace], client, db, 5432));
        assert.ok(admits([sameNamespace], pod("data", { app: "peer" }), db, 5432));
    });

    it("namespaces match on the name label the API server sets", () => {
        const byName = policy("data", {
            podSelector: {},
            ingress: [{ from: [{ namespaceSelector: { matchLabels: { "kubernetes.io/metadata.name": "apps" } } }] }],
        });
        assert.ok(admits([byName], client, db, 5432));
    });

    it("needs the source's egress as well as the destination's ingress", () => {
        const egress = policy("apps", { podSelector: {}, policyTypes: ["Egress"], egress: [{ ports: [{ port: 53, protocol: "UDP" }] }] });
        assert.ok(!admits([egress], client, db, 5432));
        assert.ok(admits([egress], client, db, 53, "UDP"));
    });

    it("evaluates matchExpressions and port ranges", () => {
        assert.ok(selects({ matchExpressions: [{ key: "tier", operator: "In", values: ["web"] }] }, client.labels));
        assert.ok(!selects({ matchExpressions: [{ key: "tier", operator: "NotIn", values: ["web"] }] }, client.labels));
        assert.ok(selects({ matchExpressions: [{ key: "zone", operator: "DoesNotExist" }] }, client.labels));
        const range = policy("data", { podSelector: {}, ingress: [{ ports: [{ port: 7000, endPort: 7100 }] }] });
        assert.ok(admits([range], client, db, 7079));
        assert.ok(!admits([range], client, db, 7101));
    });
});
