import { strict as assert } from "assert";
import { spawn, spawnSync } from "child_process";
import * as fs from "fs";
import * as os from "os";
import * as path from "path";
import { parse } from "yaml";
import { imagesOf, pullPolicy, pullingContainers, pythonImage } from "../.github/e2e/images";
import { IMAGES_LOCK_FILE } from "../components/data/charts";
import { PROJECT_ROOT } from "../offline/harness";
import { admits, podsOf } from "../offline/networkPolicy";
import { restrictedProblems } from "../offline/podSecurity";
import { Manifest, podTemplate, renderStack } from "../offline/render";

// The kind end-to-end without live outside services: the image list read from the rendered local stack, the scripts
// that pull, load and check it (against fake docker, kind and kubectl), the fake price API's pod as the cluster gets it
// (Pod Security, the rendered NetworkPolicies, the DAG's own request to its code), and the workflow's wiring.

const SCRIPTS = path.join(PROJECT_ROOT, ".github", "scripts");
const workflow = parse(fs.readFileSync(path.join(PROJECT_ROOT, ".github", "workflows", "e2e.yml"), "utf8"));

/** Every string under a key named `image`, anywhere in an object: a walk that knows nothing of pod specs. */
function imageFields(value: unknown): string[] {
    if (Array.isArray(value)) {
        return value.flatMap(imageFields);
    }
    if (value && typeof value === "object") {
        return Object.entries(value).flatMap(([key, inner]) => (key === "image" && typeof inner === "string" ? [inner] : imageFields(inner)));
    }
    return [];
}

const isHelmTest = (o: Manifest) => /(^|,)\s*test/.test(o.metadata.annotations?.["helm.sh/hook"] ?? "");

/** A scratch folder with fake commands on PATH; each logs its arguments to `calls` and runs `script` (Node). */
function fakes(commands: Record<string, string>) {
    const dir = fs.mkdtempSync(path.join(os.tmpdir(), "e2e-images-"));
    const bin = path.join(dir, "bin");
    fs.mkdirSync(bin);
    for (const [name, script] of Object.entries(commands)) {
        fs.writeFileSync(
            path.join(bin, name),
            `#!/usr/bin/env node
const fs = require("fs"), args = process.argv.slice(2), env = process.env;
fs.appendFileSync(${JSON.stringify(path.join(dir, "calls"))}, ${JSON.stringify(name)} + " " + args.join(" ") + "\\n");
${script}`,
            { mode: 0o755 },
        );
    }
    const run = (script: string, args: string[], env: Record<string, string> = {}) => {
        const result = spawnSync("bash", [path.join(SCRIPTS, script), ...args], {
            encoding: "utf8",
            env: { PATH: `${bin}:${process.env.PATH}`, HOME: dir, ...env },
        });
        const callsFile = path.join(dir, "calls");
        return { ...result, calls: fs.existsSync(callsFile) ? fs.readFileSync(callsFile, "utf8").trim().split("\n") : [] };
    };
    return { dir, run, cleanup: () => fs.rmSync(dir, { recursive: true, force: true }) };
}

describe("the kind end-to-end's images", () => {
    let objects: readonly Manifest[];
    before(async () => {
        ({ objects } = await renderStack("local"));
    });

    it("lists exactly the images the rendered local stack runs", () => {
        const listed = imagesOf(objects);
        const everywhere = new Set(objects.filter((o) => !isHelmTest(o)).flatMap(imageFields));
        assert.ok(listed.length >= 5, listed.join());
        assert.deepEqual(
            [...everywhere].filter((image) => !listed.includes(image)),
            [],
            "an image field of the rendering that the list misses",
        );
        assert.deepEqual(
            listed.filter((image) => !everywhere.has(image)),
            [],
            "a listed image the rendering does not name",
        );
    });

    it("lists, run as the workflow runs it, the same images by the committed lock's digests only", async () => {
        // This process reads a made-up lock (offline/madeUpLock.ts); the listing's own process reads the committed one.
        const out = fs.mkdtempSync(path.join(os.tmpdir(), "e2e-images-list-"));
        try {
            const listing = spawnSync("npx", ["ts-node", "--transpile-only", ".github/e2e/images.ts", "local", out], {
                cwd: PROJECT_ROOT,
                encoding: "utf8",
            });
            assert.equal(listing.status, 0, listing.stderr);
            const written = fs.readFileSync(path.join(out, "images.txt"), "utf8").trim().split("\n");
            // The charts render repository@digest, without the tag, where the lock has a digest.
            const repository = (image: string) => image.replace(/@sha256:[0-9a-f]{64}$/, "").replace(/:[^:/]+$/, "");
            assert.deepEqual([...new Set(written.map(repository))], [...new Set(imagesOf(objects).map(repository))]);
            for (const image of written) {
                assert.match(image, /^[^@]+:[^:/@]+(@sha256:[0-9a-f]{64})?$/, `${image}: by its tag`);
            }
            // Read past the made-up lock, which answers readFileSync for the lock's path.
            const committed = Object.values(JSON.parse(await fs.promises.readFile(IMAGES_LOCK_FILE, "utf8")));
            for (const image of written.filter((i) => i.includes("@"))) {
                assert.ok(committed.includes(image.split("@")[1]), `${image}: a digest the committed lock does not hold`);
            }
            assert.ok(written.includes(fs.readFileSync(path.join(out, "python-image.txt"), "utf8").trim()));
        } finally {
            fs.rmSync(out, { recursive: true, force: true });
        }
    });

    it("lets no container of the local stack pull an image that was loaded", () => {
        assert.deepEqual(pullingContainers(objects), []);
        // The API server's defaults (core/v1 SetDefaults_Container) the check relies on where a container sets none.
        assert.equal(pullPolicy({ image: "docker.io/bitnamilegacy/spark:4.0.0-debian-12-r20" }), "IfNotPresent");
        assert.equal(pullPolicy({ image: "example.org/app@sha256:" + "0".repeat(64) }), "IfNotPresent");
        assert.equal(pullPolicy({ image: "example.org/app:latest" }), "Always");
        assert.equal(pullPolicy({ image: "registry.example.org:5000/app" }), "Always", "a registry's port is not a tag");
        assert.equal(pullPolicy({ image: "app:1", imagePullPolicy: "Always" }), "Always");
        const pulling = { ...objects[0], kind: "Pod", metadata: { name: "p", namespace: "n" }, spec: { containers: [{ name: "c", image: "app" }] } };
        assert.deepEqual(pullingContainers([pulling]), ["Pod/n/p/c app Always"]);
    });

    it("runs the fake price API in an image the stack runs anyway, one with python3", () => {
        const image = pythonImage(objects);
        assert.ok(imagesOf(objects).includes(image));
        const driver = objects.find((o) => o.kind === "Deployment" && o.metadata.name === "crypto-ticks-stream")!;
        assert.ok(podTemplate(driver).spec.initContainers.some((c: any) => c.image === image && /python3 -m pip/.test(c.args.join(" "))));
    });

    describe("e2e-images.sh", () => {
        const images = ["docker.io/bitnamilegacy/kafka:4.0.0-debian-12-r10", "docker.io/bitnamilegacy/spark:4.0.0-debian-12-r20"];
        let scratch: ReturnType<typeof fakes>;
        afterEach(() => scratch.cleanup());

        it("list: the rendering's images and the Calico manifest's, sorted, once each", () => {
            scratch = fakes({
                // The rendering: what .github/e2e/images.ts writes (tested above), here straight away.
                npx: `const out = args[args.length - 1]; fs.mkdirSync(out, { recursive: true });
fs.writeFileSync(out + "/images.txt", ${JSON.stringify(images.join("\n") + "\n")}); fs.writeFileSync(out + "/python-image.txt", "spark\\n");`,
                curl: `if (!args.includes("https://raw.githubusercontent.com/projectcalico/calico/v3.31.3/manifests/calico.yaml")) process.exit(22);
process.stdout.write("spec:\\n  containers:\\n    - name: calico-node\\n      image: docker.io/calico/node:v3.31.3\\n      imagePullPolicy: IfNotPresent\\n    - image: \\"docker.io/calico/cni:v3.31.3\\"\\n    - image: docker.io/calico/cni:v3.31.3\\n");`,
            });
            const dir = path.join(scratch.dir, "images");
            const run = scratch.run("e2e-images.sh", ["list", dir], { CALICO_VERSION: "v3.31.3" });
            assert.equal(run.status, 0, run.stderr);
            assert.deepEqual(fs.readFileSync(path.join(dir, "images.txt"), "utf8").trim().split("\n"), [
                "docker.io/bitnamilegacy/kafka:4.0.0-debian-12-r10",
                "docker.io/bitnamilegacy/spark:4.0.0-debian-12-r20",
                "docker.io/calico/cni:v3.31.3",
                "docker.io/calico/node:v3.31.3",
            ]);
            assert.ok(run.calls.includes(`npx ts-node --transpile-only .github/e2e/images.ts local ${dir}`), run.calls.join("\n"));
            assert.notEqual(scratch.run("e2e-images.sh", ["list", dir], { CALICO_VERSION: "master" }).status, 0);
        });

        it("pull: each image once, one archive, the pulled copies removed", () => {
            scratch = fakes({ docker: `if (args[0] === "save") fs.writeFileSync(args[args.indexOf("--output") + 1], "archive");` });
            fs.mkdirSync(path.join(scratch.dir, "images"));
            fs.writeFileSync(path.join(scratch.dir, "images", "images.txt"), images.join("\n") + "\n");
            const run = scratch.run("e2e-images.sh", ["pull", path.join(scratch.dir, "images")]);
            assert.equal(run.status, 0, run.stderr);
            const archive = path.join(scratch.dir, "images", "images.tar");
            assert.deepEqual(run.calls, [
                ...images.map((image) => `docker pull --quiet --platform linux/amd64 ${image}`),
                `docker save --platform linux/amd64 --output ${archive} ${images.join(" ")}`,
                `docker image rm ${images.join(" ")}`,
            ]);
        });

        it("load: into every node, and fails naming an image the node does not have after", () => {
            scratch = fakes({
                kind: `if (args[0] === "get") process.stdout.write("streaming-control-plane\\n");`,
                docker: `if (args.includes("crictl") && (env.FAKE_MISSING || "").split(",").includes(args[args.length - 1])) process.exit(1);`,
            });
            const dir = path.join(scratch.dir, "images");
            fs.mkdirSync(dir);
            fs.writeFileSync(path.join(dir, "images.txt"), images.join("\n") + "\n");
            fs.writeFileSync(path.join(dir, "images.tar"), "archive");
            const ok = scratch.run("e2e-images.sh", ["load", dir]);
            assert.equal(ok.status, 0, ok.stderr);
            assert.equal(ok.calls[0], `kind load image-archive ${dir}/images.tar --name streaming`);
            for (const image of images) {
                assert.ok(ok.calls.includes(`docker exec streaming-control-plane crictl inspecti --quiet ${image}`), image);
            }
            const missing = scratch.run("e2e-images.sh", ["load", dir], { FAKE_MISSING: images[1] });
            assert.notEqual(missing.status, 0);
            assert.match(missing.stderr, new RegExp(`not on the node after loading: ${images[1].replace(/\./g, "\\.")} on streaming-control-plane`));
        });

        it("check-pulls: fails on any Pulling event, naming it", () => {
            scratch = fakes({ kubectl: `process.stdout.write(env.FAKE_EVENTS || "");` });
            const clean = scratch.run("e2e-images.sh", ["check-pulls"]);
            assert.equal(clean.status, 0, clean.stderr);
            assert.match(clean.calls[0], /^kubectl get events --all-namespaces --field-selector reason=Pulling /);
            const pulled = scratch.run("e2e-images.sh", ["check-pulls"], {
                FAKE_EVENTS: 'spark crypto-ticks-stream-1 Pulling image "docker.io/x"\n',
            });
            assert.notEqual(pulled.status, 0);
            assert.match(pulled.stderr, /crypto-ticks-stream-1 Pulling image/);
        });
    });

    describe("e2e-price-api.sh", () => {
        let scratch: ReturnType<typeof fakes>;
        let manifest: Manifest[];
        let url: string;
        before(() => {
            scratch = fakes({
                kubectl: `if (args[0] === "apply") fs.copyFileSync(args[args.indexOf("-f") + 1], require("path").join(env.HOME, "applied.json"));`,
            });
            const run = scratch.run("e2e-price-api.sh", [], { PRICE_API_IMAGE: "docker.io/bitnamilegacy/spark:4.0.0-debian-12-r20" });
            assert.equal(run.status, 0, run.stderr);
            assert.ok(run.calls.includes("kubectl -n e2e-price-api rollout status deployment/price-api --timeout 180s"));
            url = run.stdout.trim().split("\n").pop()!;
            manifest = JSON.parse(fs.readFileSync(path.join(scratch.dir, "applied.json"), "utf8")).items;
        });
        after(() => scratch.cleanup());
        const deployment = () => manifest.find((o) => o.kind === "Deployment")!;

        it("needs its image", () => {
            assert.match(scratch.run("e2e-price-api.sh", []).stderr, /PRICE_API_IMAGE is required/);
        });

        it("meets Pod Security 'restricted', which its namespace enforces, and pulls nothing", () => {
            assert.equal(manifest[0].kind, "Namespace", "the namespace before what lives in it");
            assert.equal(manifest[0].metadata.labels?.["pod-security.kubernetes.io/enforce"], "restricted");
            assert.deepEqual(restrictedProblems(podTemplate(deployment()).spec), []);
            assert.deepEqual(pullingContainers(manifest), []);
        });

        it("ships engines/price_api.py and its fixtures unchanged", () => {
            const data = manifest.find((o) => o.kind === "ConfigMap")!.data;
            const engines = path.join(PROJECT_ROOT, "engines");
            const fixtures = fs.readdirSync(path.join(engines, "fixtures")).filter((f) => f.endsWith(".json"));
            assert.ok(fixtures.length >= 2);
            assert.deepEqual(data, {
                "price_api.py": fs.readFileSync(path.join(engines, "price_api.py"), "utf8"),
                ...Object.fromEntries(fixtures.map((f) => [f, fs.readFileSync(path.join(engines, "fixtures", f), "utf8")])),
            });
        });

        it("is reachable from the Airflow pods that run the DAG through the rendered NetworkPolicies", async () => {
            const { objects } = await renderStack("local");
            const priceApi = podsOf(manifest)[0];
            const service = manifest.find((o) => o.kind === "Service")!;
            assert.equal(
                url,
                `http://${service.metadata.name}.${service.metadata.namespace}.svc.cluster.local:${service.spec.ports[0].port}/api/v3/simple/price`,
            );
            for (const workload of ["StatefulSet/airflow-scheduler", "Deployment/airflow-dag-processor", "StatefulSet/airflow-triggerer"]) {
                const airflow = podsOf(objects).find((p) => p.workload === workload)!;
                assert.ok(airflow, workload);
                assert.ok(admits([...objects, ...manifest], airflow, priceApi, service.spec.ports[0].port), workload);
            }
        });

        it("answers the request the DAG makes with the local stack's settings, with its container's own command", async function () {
            this.timeout(30000);
            const { objects } = await renderStack("local");
            const env: Record<string, string> = Object.fromEntries(
                podTemplate(objects.find((o) => o.kind === "StatefulSet" && o.metadata.name === "airflow-scheduler")!)
                    .spec.containers[0].env.filter((e: any) => /^CRYPTO_/.test(e.name) && e.value !== undefined)
                    .map((e: any) => [e.name, e.value]),
            );
            // The mount's files in a folder of ours and the system's choice of port: otherwise the command as the pod runs it.
            const code = fs.mkdtempSync(path.join(os.tmpdir(), "price-api-"));
            const configMap = manifest.find((o) => o.kind === "ConfigMap")!;
            for (const [name, text] of Object.entries<string>(configMap.data)) {
                fs.writeFileSync(path.join(code, name), text);
            }
            const [python, flag, serve] = podTemplate(deployment()).spec.containers[0].command;
            const server = spawn(python, [
                flag,
                serve.replaceAll('"/price-api"', JSON.stringify(code)).replace(/"0\.0\.0\.0", \d+/, '"127.0.0.1", 0'),
            ]);
            try {
                const served = await new Promise<string>((resolve, reject) => {
                    let printed = "";
                    server.stdout.on("data", (chunk: Buffer) => {
                        printed += chunk.toString();
                        if (printed.includes("\n")) {
                            resolve(printed);
                        }
                    });
                    server.on("exit", (status) => reject(new Error(`the price API exited with ${status}`)));
                });
                const port = /:(\d+)\//.exec(served)?.[1];
                assert.ok(port, `the price API printed ${served}`);
                const check = spawnSync(
                    path.join(PROJECT_ROOT, "scripts", "python"),
                    [
                        "-c",
                        `import sys, os
from datetime import datetime, timezone
sys.path.insert(0, os.path.join(${JSON.stringify(PROJECT_ROOT)}, "pipeline", "dags"))
import crypto_ticks as ct
cfg = ct.load_config({**os.environ, "KAFKA_BOOTSTRAP_SERVERS": "kafka:9092", "KAFKA_TOPIC": "t", "KAFKA_SECURITY_PROTOCOL": "PLAINTEXT"})
parse = {"coingecko": ct.parse_coingecko, "binance": ct.parse_binance}[cfg.source]
quotes, skipped = parse(ct.fetch_json(ct.request_url(cfg)), cfg, datetime.now(timezone.utc))
assert sorted(q.symbol for q in quotes) == sorted(cfg.symbols) and not skipped, (quotes, skipped)
print(len(quotes))`,
                    ],
                    { encoding: "utf8", env: { ...process.env, ...env, CRYPTO_API_URL: url.replace(/\/\/[^/]+/, `//127.0.0.1:${port}`) } },
                );
                assert.equal(check.status, 0, check.stderr);
                assert.equal(Number(check.stdout.trim()), env.CRYPTO_SYMBOLS.split(",").length);
            } finally {
                server.kill();
                fs.rmSync(code, { recursive: true, force: true });
            }
        });
    });

    describe("e2e.yml", () => {
        const [kindJob, imagesJob] = [workflow.jobs.kind, workflow.jobs.images];
        const runs = (job: any, pattern: RegExp) => job.steps.findIndex((s: any) => pattern.test(String(s.run ?? "")));
        const uses = (job: any, action: string) => job.steps.findIndex((s: any) => String(s.uses ?? "").startsWith(`${action}@`));

        it("pulls in a job of its own into a cache keyed by the image list, which the kind job restores or fails", () => {
            assert.deepEqual([kindJob.needs].flat(), ["images"]);
            const list = imagesJob.steps[runs(imagesJob, /e2e-images\.sh list/)];
            assert.match(imagesJob.outputs.key, new RegExp(`steps\\.${list.id}\\.outputs\\.key`));
            assert.match(list.run, /sha256sum "\$IMAGES_DIR\/images\.txt"/);
            const lookup = imagesJob.steps[uses(imagesJob, "actions/cache/restore")];
            const save = imagesJob.steps[uses(imagesJob, "actions/cache/save")];
            const pull = imagesJob.steps[runs(imagesJob, /e2e-images\.sh pull/)];
            for (const step of [pull, save]) {
                assert.equal(step.if, `steps.${lookup.id}.outputs.cache-hit != 'true'`);
            }
            const restore = kindJob.steps[uses(kindJob, "actions/cache/restore")];
            assert.equal(restore.with.key, "${{ needs.images.outputs.key }}");
            assert.equal(restore.with["fail-on-cache-miss"], true);
            for (const step of [lookup, save, restore]) {
                assert.equal(step.with.path, imagesJob.env.IMAGES_DIR);
            }
            assert.equal(kindJob.env.IMAGES_DIR, imagesJob.env.IMAGES_DIR);
            assert.equal(list.env.CALICO_VERSION, kindJob.steps[runs(kindJob, /e2e-cni\.sh/)].env.CALICO_VERSION, "the Calico that is installed");
        });

        it("loads before Calico, starts the fake price API and points the stack at it before pulumi up, checks for pulls after", () => {
            const at = (pattern: RegExp) => runs(kindJob, pattern);
            const [load, cni, price, config, up, check] = [
                /e2e-images\.sh load/,
                /e2e-cni\.sh/,
                /e2e-price-api\.sh/,
                /pulumi config set --stack local cryptoApiUrl "\$PRICE_API_URL"/,
                /pulumi up --stack local/,
                /e2e-images\.sh check-pulls/,
            ].map(at);
            assert.ok(uses(kindJob, "helm/kind-action") < load && load < cni && cni < price && price < config && config < up && up < check);
            assert.ok(uses(kindJob, "actions/cache/restore") < load);
            assert.equal(kindJob.steps[config].env.PRICE_API_URL, `\${{ steps.${kindJob.steps[price].id}.outputs.url }}`);
            assert.match(kindJob.steps[price].run, /python-image\.txt/);
            const last = Math.max(...kindJob.steps.map((s: any, i: number) => (/e2e-images\.sh check-pulls/.test(String(s.run ?? "")) ? i : -1)));
            assert.ok(last > runs(kindJob, /e2e-check-ticks\.sh/), "the replacement driver's pod is checked too");
        });

        it("times out every step and ends no job before its steps", () => {
            for (const job of [kindJob, imagesJob]) {
                const steps = job.steps.filter((s: any) => s.run || /^actions\/cache|^azure\//.test(String(s.uses ?? "")));
                assert.ok(
                    steps.every((s: any) => s["timeout-minutes"] > 0),
                    steps.find((s: any) => !s["timeout-minutes"])?.name,
                );
                const sum = job.steps.reduce((total: number, s: any) => total + (s["timeout-minutes"] ?? 0), 0);
                assert.ok(job["timeout-minutes"] >= sum && job["timeout-minutes"] <= 180, `${job.name}: ${job["timeout-minutes"]} < ${sum}`);
            }
        });
    });
});
