import { strict as assert } from "assert";
import { findObject, Manifest, ofKind, renderStack } from "../offline/render";
import { schemaProblems } from "../offline/schemas";
import { TYPES } from "../offline/resourceTypes";

const RANGES = ["203.0.113.0/24", "198.51.100.7/32"];
const LOAD_BALANCED = { uiExposure: "LoadBalancer", uiSourceRanges: RANGES };

/** One key of an airflow.cfg section. */
function airflowSetting(cfg: string, section: string, key: string): string | undefined {
    const body = cfg.split(/^\[/m).find((part) => part.startsWith(`${section}]`)) ?? "";
    return new RegExp(`^${key}\\s*=\\s*(.*)$`, "m").exec(body)?.[1].trim();
}

const loadBalancers = (objects: readonly Manifest[]) => ofKind(objects, "Service").filter((s) => s.spec.type === "LoadBalancer");

describe("UIs on LoadBalancers", () => {
    it("exposes only the two UI ports, each on its reserved address and limited to every source range", async () => {
        const { objects, run } = await renderStack("prod", LOAD_BALANCED);
        const addresses = run.resources.filter((r) => r.type === TYPES.address);
        assert.equal(addresses.length, 2);
        const services = loadBalancers(objects);
        assert.deepEqual(services.map((s) => `${s.metadata.namespace}/${s.metadata.name}`).sort(), ["airflow/airflow-ui", "spark/spark-master-ui"]);
        for (const service of services) {
            assert.deepEqual(service.spec.loadBalancerSourceRanges, RANGES);
            assert.deepEqual(
                service.spec.ports.map((p: any) => p.port),
                [80],
                "no RPC port such as Spark's 7077",
            );
            assert.deepEqual(schemaProblems(service), []);
        }
        const reserved = run.resources
            .filter((r) => r.type === TYPES.service && r.inputs.spec.type === "LoadBalancer")
            .map((r) => r.inputs.spec.loadBalancerIP);
        assert.equal(new Set(reserved).size, 2);
        assert.ok(reserved.every((ip) => typeof ip === "string" && ip.length > 0));
    });

    it("serves the pods that listen on the UI port", async () => {
        const { objects } = await renderStack("prod", LOAD_BALANCED);
        for (const [service, workload] of [
            ["airflow-ui", "airflow-web"],
            ["spark-master-ui", "spark-master"],
        ]) {
            const lb = loadBalancers(objects).find((s) => s.metadata.name === service)!;
            const pods = objects.filter((o) => ["Deployment", "StatefulSet"].includes(o.kind) && o.metadata.name === workload)[0].spec.template;
            assert.ok(
                Object.entries(lb.spec.selector).every(([k, v]) => pods.metadata.labels[k] === v),
                service,
            );
            const port = pods.spec.containers.flatMap((c: any) => c.ports ?? []).find((p: any) => p.name === lb.spec.ports[0].targetPort);
            assert.ok(port, `${workload} has a port named ${lb.spec.ports[0].targetPort}`);
        }
    });

    it("sends Airflow's login redirects to the LoadBalancer's address", async () => {
        const { objects, run } = await renderStack("prod", LOAD_BALANCED);
        const cfg = findObject(objects, "ConfigMap", "airflow", "airflow").data["airflow.cfg"];
        const ip = findObject(objects, "Service", "airflow", "airflow-ui").spec.loadBalancerIP;
        assert.equal(airflowSetting(cfg, "api", "base_url"), `http://${ip}:80`);
        const ui = run.outputs.airflowUi as Record<string, string>;
        assert.equal(ui.url, `http://${ip}:80`);
        assert.match(ui.exposure, /Plain HTTP: the login and the session cross the network unencrypted/);
        assert.match(ui.exposure, /203\.0\.113\.0\/24, 198\.51\.100\.7\/32/);
    });

    it("keeps the charts' own Services internal", async () => {
        for (const stack of ["dev", "prod", "local"]) {
            assert.deepEqual(loadBalancers((await renderStack(stack)).objects), [], stack);
        }
        const { objects } = await renderStack("prod", LOAD_BALANCED);
        assert.equal(findObject(objects, "Service", "spark", "spark-master-svc").spec.type, "ClusterIP");
        assert.equal(findObject(objects, "Service", "airflow", "airflow-web").spec.type, "ClusterIP");
    });
});
