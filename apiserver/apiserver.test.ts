/**
 * `npm run test:apiserver`: dev, prod and local deployed to a real kube-apiserver (apiserver/controlPlane.ts),
 * fresh for each scenario: today's program installed and deployed a second time, and the upgrade from
 * earlier landed mains. What the server refuses is reported in its own words.
 */
import { strict as assert } from "assert";
import { spawn } from "child_process";
import { once } from "events";
import * as fs from "fs";
import * as net from "net";
import * as os from "os";
import * as path from "path";
import { PROJECT_ROOT } from "../offline/harness";
import { StackDeployment, stackDeployment } from "../offline/stackDeployment";
import { Cluster } from "./cluster";
import { build, ControlPlane, freePorts, PORT_VARIABLES, Ports, StartFailure } from "./controlPlane";
import { autoscalersUnableToScale, changedBy, deploy, Finding, refusedPods } from "./deploy";
import { deploymentAt } from "./earlierRelease";

const STACKS = ["dev", "prod", "local"];
/** Landed mains users may still run: 0853cb6 (2026-11-25, before Kafka had TLS) and 426098c (2026-11-30). */
const EARLIER_MAINS = ["0853cb6", "426098c"];

/** Fails with every finding in the server's own words. */
function assertNone(findings: Finding[], what: string): void {
    if (findings.length > 0) {
        assert.fail(`${what}:${findings.map((f) => `\n  ${f.subject}: ${f.message}`).join("")}`);
    }
}
const namespacesOf = (deployment: StackDeployment) => [...new Set(deployment.releases.map((r) => r.namespace))];

let cache: string;

/** A fresh control plane for the suite's duration, with a Cluster on it and the CRDs the program's objects need. */
function onFreshServer(): { cluster: () => Cluster } {
    let plane: ControlPlane;
    let cluster: Cluster;
    before(async function () {
        this.timeout(180_000);
        plane = await new ControlPlane(cache, { ports: await freePorts() }).start();
        cluster = new Cluster(path.join(cache, "bin"), plane.kubeconfigPath);
        const crds = path.join(cache, "crds");
        cluster.applyCustomResourceDefinitions(fs.readdirSync(crds).map((file) => path.join(crds, file)));
    });
    after(async function () {
        this.timeout(60_000);
        cluster?.remove();
        await plane?.stop();
    });
    return { cluster: () => cluster };
}

before(function () {
    // The first build on a machine takes about 10 minutes; later ones find the cache.
    this.timeout(3_600_000);
    cache = build();
});

describe("npm run apiserver", function () {
    this.timeout(120_000);

    it("writes a kubeconfig to $KUBECONFIG_OUT, says when it is ready, and leaves nothing running after SIGTERM", async () => {
        const ports = await freePorts();
        const kubeconfig = path.join(fs.mkdtempSync(path.join(os.tmpdir(), "kubeconfig-out-")), "config");
        const env = Object.fromEntries(Object.entries(PORT_VARIABLES).map(([key, [variable]]) => [variable, String(ports[key as keyof Ports])]));
        const child = spawn(path.join(PROJECT_ROOT, "node_modules", ".bin", "ts-node"), ["--transpile-only", "apiserver/main.ts"], {
            cwd: PROJECT_ROOT,
            env: { ...process.env, ...env, KUBECONFIG_OUT: kubeconfig },
            stdio: ["ignore", "pipe", "inherit"],
        });
        let output = "";
        child.stdout.on("data", (chunk) => (output += chunk));
        const exited = once(child, "exit");
        while (!output.includes("apiserver: ready at") && child.exitCode === null) {
            await new Promise((resolve) => setTimeout(resolve, 200));
        }
        assert.match(output, new RegExp(`ready at https://127\\.0\\.0\\.1:${ports.apiserver}; kubeconfig ${kubeconfig}`));
        const namespaces = new Cluster(path.join(cache, "bin"), kubeconfig).json(["get", "namespaces"]).items.map((n: any) => n.metadata.name);
        assert.ok(namespaces.includes("kube-system"), namespaces.join());
        child.kill("SIGTERM");
        const [code] = await exited;
        assert.equal(code, 0);
        assert.match(output, /SIGTERM: stopping\napiserver: stopped/);
        // Every port the three held is free again: nothing is left running.
        for (const port of Object.values(ports)) {
            await new Promise<void>((resolve, reject) => {
                const probe = net.createServer().once("error", reject);
                probe.listen(port, "127.0.0.1", () => probe.close(() => resolve()));
            });
        }
    });
});

describe("the control plane names why it cannot start", function () {
    this.timeout(120_000);

    it("a port in use, with the variable that moves it", async () => {
        const ports = await freePorts();
        const holder = net.createServer().listen(ports.apiserver, "127.0.0.1");
        await once(holder, "listening");
        try {
            await assert.rejects(new ControlPlane(cache, { ports }).start(), {
                name: "Error",
                message: `port ${ports.apiserver} on 127.0.0.1 is in use: stop what holds it, or set APISERVER_PORT to a free port`,
            });
        } finally {
            holder.close();
        }
    });

    it("etcd, in etcd's own words", async () => {
        // Client and peer on one port: free when checked, and etcd's second bind fails.
        const ports = await freePorts();
        await assert.rejects(new ControlPlane(cache, { ports: { ...ports, etcdPeer: ports.etcdClient } }).start(), (error: Error) => {
            assert.ok(error instanceof StartFailure);
            assert.match(error.message, /^etcd failed to start \(exit \d+\)/);
            assert.match(error.message, /address already in use/);
            return true;
        });
    });

    it("the build, naming what it lacks", () => {
        const withoutGo = (process.env.PATH ?? "").split(path.delimiter).filter((dir) => !fs.existsSync(path.join(dir, "go")));
        assert.throws(() => build({ ...process.env, PATH: withoutGo.join(path.delimiter) }), {
            message: "the build failed: the build needs Go (1.25 or later): none is on the PATH",
        });
    });
});

for (const stack of STACKS) {
    describe(`${stack}, installed on a real API server`, function () {
        this.timeout(600_000);
        const server = onFreshServer();
        let today: StackDeployment;
        let installed: Finding[];
        before(async () => {
            today = await stackDeployment(stack);
            installed = deploy(server.cluster(), today);
        });

        it("takes every object the program creates itself, applied server-side, and installs every release", () => {
            assertNone(installed, "the server refused");
        });

        it("labels every release's namespace for Pod Security 'restricted'", () => {
            for (const namespace of namespacesOf(today)) {
                const labels = server.cluster().json(["get", "namespace", namespace]).metadata.labels ?? {};
                assert.equal(labels["pod-security.kubernetes.io/enforce"], "restricted", `namespace ${namespace}`);
            }
        });

        it("admits every Pod the controllers create", async () => {
            assertNone(await refusedPods(server.cluster(), today), "Pods refused or never created");
        });

        it("gives the HPA controller a target it can scale for every autoscaler", async () => {
            assertNone(await autoscalersUnableToScale(server.cluster(), today), "autoscalers the HPA controller cannot use");
        });

        it("changes nothing when deployed again with the same values", () => {
            assertNone(
                changedBy(server.cluster(), today, () => deploy(server.cluster(), today)),
                "a second deploy changed",
            );
        });

        // Once is enough to show the checks can fail.
        if (stack === STACKS[0])
            it("sees a change and a refused Pod when there is one", async () => {
                const namespace = namespacesOf(today)[0];
                const changedLabel = (d: StackDeployment) => ({
                    ...d,
                    objects: d.objects.map((o, i) =>
                        i === 0 ? { ...o, metadata: { ...o.metadata, labels: { ...o.metadata.labels, canary: "1" } } } : o,
                    ),
                });
                const changed = changedBy(server.cluster(), today, () => deploy(server.cluster(), changedLabel(today)));
                assert.deepEqual(
                    changed.map((f) => f.message),
                    ["changed: .metadata.labels.canary, .metadata.managedFields"],
                );
                // A container with no securityContext breaks 'restricted' four ways.
                const canary = {
                    apiVersion: "apps/v1",
                    kind: "Deployment",
                    metadata: { name: "unrestricted-canary", namespace },
                    spec: {
                        selector: { matchLabels: { app: "canary" } },
                        template: { metadata: { labels: { app: "canary" } }, spec: { containers: [{ name: "c", image: "busybox" }] } },
                    },
                };
                assert.equal(server.cluster().apply(canary), undefined);
                const refused = await refusedPods(server.cluster(), { releases: [], objects: [canary] });
                assert.equal(refused.length, 1, JSON.stringify(refused));
                assert.equal(refused[0].subject, `Deployment ${namespace}/unrestricted-canary`);
                assert.match(refused[0].message, /violates PodSecurity "restricted:latest"/);
                // A kind the REST mapper does not know (neither StatefulSet nor statefulset), as bitnami/charts#30834 reports.
                const chartAutoscaler = {
                    apiVersion: "autoscaling/v2",
                    kind: "HorizontalPodAutoscaler",
                    metadata: { name: "misspelt-kind-canary", namespace },
                    spec: {
                        scaleTargetRef: { apiVersion: "apps/v1", kind: "Statefulset", name: "spark-worker" },
                        minReplicas: 1,
                        maxReplicas: 2,
                        metrics: [{ type: "Resource", resource: { name: "cpu", target: { type: "Utilization", averageUtilization: 70 } } }],
                    },
                };
                assert.equal(server.cluster().apply(chartAutoscaler), undefined);
                const unable = await autoscalersUnableToScale(server.cluster(), { releases: [], objects: [chartAutoscaler] });
                assert.equal(unable.length, 1, JSON.stringify(unable));
                assert.match(unable[0].message, /^FailedGetScale: .*no matches for kind "Statefulset" in group "apps"/);
            });
    });

    for (const commit of EARLIER_MAINS) {
        describe(`${stack}, upgraded from ${commit} on a real API server`, function () {
            this.timeout(600_000);
            const server = onFreshServer();
            let earlier: StackDeployment;
            let today: StackDeployment;
            let upgradeStarted: Date;
            before(async () => {
                earlier = deploymentAt(commit, stack);
                today = await stackDeployment(stack);
            });

            it(`installs ${commit}`, () => {
                assertNone(deploy(server.cluster(), earlier), `the server refused ${commit}`);
            });

            it("upgrades every release and object to today's values", () => {
                upgradeStarted = new Date();
                assertNone(deploy(server.cluster(), today, earlier), "the upgrade failed");
            });

            it("admits every Pod after the upgrade", async () => {
                assertNone(await refusedPods(server.cluster(), today, upgradeStarted), "Pods refused or never created");
            });
        });
    }
}
