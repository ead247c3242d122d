import { strict as assert } from "assert";
import { spawnSync } from "child_process";
import * as fs from "fs";
import * as os from "os";
import * as path from "path";
import { installKey } from "../components/pipeline/streamingJob";
import { PROJECT_ROOT } from "../offline/harness";
import { Manifest, podTemplate, renderStack } from "../offline/render";

// A replacement streaming driver on a stack without built images (local, the e2e's kill) reuses what the first one
// downloaded: the pip install and Spark's Ivy cache live on the checkpoint's claim, keyed by what was downloaded. The
// install script and run-job.sh run here as the rendered Deployment gives them, with fake python3 and spark-submit.

const envOf = (container: any): Record<string, string> =>
    Object.fromEntries((container.env ?? []).filter((e: any) => e.value !== undefined).map((e: any) => [e.name, e.value]));

describe("the streaming driver's install cache", () => {
    let pod: any;
    let driver: any;
    let install: any;
    before(async () => {
        const { objects } = await renderStack("local");
        const deployment = objects.find((o: Manifest) => o.kind === "Deployment" && o.metadata.name === "crypto-ticks-stream")!;
        pod = podTemplate(deployment).spec;
        driver = pod.containers.find((c: any) => c.name === "driver");
        install = pod.initContainers.find((c: any) => c.name === "install-python-deps");
    });

    /** The volume a path is on, by the longest mount path that holds it. */
    const volumeOf = (container: any, file: string) => {
        const mount = [...container.volumeMounts]
            .filter((m: any) => file === m.mountPath || file.startsWith(`${m.mountPath}/`))
            .sort((a: any, b: any) => b.mountPath.length - a.mountPath.length)[0];
        return pod.volumes.find((v: any) => v.name === mount?.name);
    };

    it("keeps the Python install and the Ivy cache on the checkpoint's claim, beside the checkpoint", () => {
        const env = envOf(driver);
        for (const dir of [env.PYTHONPATH, env.SPARK_IVY_DIR]) {
            const volume = volumeOf(driver, dir);
            assert.ok(volume?.persistentVolumeClaim, `${dir} is on ${JSON.stringify(volume)}, which dies with the pod`);
            assert.equal(volume.name, volumeOf(driver, env.CHECKPOINT_DIR).name);
            assert.ok(!dir.startsWith(`${env.CHECKPOINT_DIR}/`), `${dir} inside Spark's checkpoint ${env.CHECKPOINT_DIR}`);
        }
        const { INSTALL_CACHE, INSTALL_KEY } = envOf(install);
        assert.equal(env.PYTHONPATH, `${INSTALL_CACHE}/${INSTALL_KEY}/python`);
        assert.equal(env.SPARK_IVY_DIR, `${INSTALL_CACHE}/${INSTALL_KEY}/ivy`);
        assert.equal(volumeOf(install, INSTALL_CACHE).name, volumeOf(driver, INSTALL_CACHE).name);
        assert.ok(!pod.volumes.some((v: any) => v.emptyDir && v.name === "deps"), "no emptyDir install that each pod repeats");
    });

    it("keys the cache by the requirements and the Maven coordinates", () => {
        const code = { files: { "requirements-spark.txt": "psycopg2-binary==2.9.10\n", "run-job.sh": "a" }, packages: "g:a:1" };
        const key = installKey(code);
        assert.equal(installKey({ ...code, files: { ...code.files, "run-job.sh": "b" } }), key, "code changes keep the downloads");
        assert.notEqual(installKey({ ...code, files: { ...code.files, "requirements-spark.txt": "psycopg2-binary==2.9.11\n" } }), key);
        assert.notEqual(installKey({ ...code, packages: "g:a:2" }), key);
    });

    describe("the install script, as the init container runs it", () => {
        let dir: string;
        beforeEach(() => {
            dir = fs.mkdtempSync(path.join(os.tmpdir(), "install-cache-"));
            fs.mkdirSync(path.join(dir, "bin"));
            // pip: logs its call, fills --target, fails when FAKE_PIP_FAIL is set (after writing part of it).
            fs.writeFileSync(
                path.join(dir, "bin", "python3"),
                `#!/usr/bin/env node
const fs = require("fs"), args = process.argv.slice(2);
fs.appendFileSync(${JSON.stringify(path.join(dir, "pip-calls"))}, args.join(" ") + "\\n");
const target = args[args.indexOf("--target") + 1];
fs.mkdirSync(target, { recursive: true });
fs.writeFileSync(target + "/psycopg2.py", "");
process.exit(process.env.FAKE_PIP_FAIL ? 1 : 0);`,
                { mode: 0o755 },
            );
        });
        afterEach(() => fs.rmSync(dir, { recursive: true, force: true }));

        const cache = () => path.join(dir, "cache");
        const runInstall = (key: string, extra: Record<string, string> = {}) => {
            const [shell, flag, script] = install.args;
            assert.deepEqual([shell, flag], ["bash", "-c"]);
            return spawnSync(shell, [flag, script], {
                encoding: "utf8",
                env: { PATH: `${path.join(dir, "bin")}:${process.env.PATH}`, INSTALL_CACHE: cache(), INSTALL_KEY: key, ...extra },
            });
        };
        const pipCalls = () =>
            fs.existsSync(path.join(dir, "pip-calls")) ? fs.readFileSync(path.join(dir, "pip-calls"), "utf8").trim().split("\n") : [];

        it("installs once per key; a replacement driver finds it and calls no pip", () => {
            const first = runInstall("k1");
            assert.equal(first.status, 0, first.stderr);
            assert.deepEqual(pipCalls(), [
                `-m pip install --no-cache-dir --target ${cache()}/k1/python.partial -r /opt/pipeline/requirements-spark.txt`,
            ]);
            assert.ok(fs.existsSync(path.join(cache(), "k1", "python", "psycopg2.py")));
            const again = runInstall("k1");
            assert.equal(again.status, 0, again.stderr);
            assert.equal(pipCalls().length, 1, "no second pip install");
        });

        it("keeps only the current key's downloads", () => {
            runInstall("k1");
            fs.mkdirSync(path.join(cache(), "k1", "ivy", "cache"), { recursive: true });
            assert.equal(runInstall("k2").status, 0);
            assert.deepEqual(fs.readdirSync(cache()), ["k2"]);
        });

        it("takes a failed install for none: the next start installs again", () => {
            const failed = runInstall("k1", { FAKE_PIP_FAIL: "1" });
            assert.notEqual(failed.status, 0);
            assert.ok(!fs.existsSync(path.join(cache(), "k1", "python")));
            assert.equal(runInstall("k1").status, 0);
            assert.equal(pipCalls().length, 2);
            assert.ok(fs.existsSync(path.join(cache(), "k1", "python", "psycopg2.py")));
            assert.ok(!fs.existsSync(path.join(cache(), "k1", "python.partial")));
        });
    });

    it("gives spark-submit the Ivy cache on the claim (run-job.sh with the driver's rendered environment)", () => {
        const dir = fs.mkdtempSync(path.join(os.tmpdir(), "run-job-"));
        try {
            fs.mkdirSync(path.join(dir, "bin"));
            fs.writeFileSync(path.join(dir, "bin", "spark-submit"), '#!/bin/sh\nprintf "%s\\n" "$@"\n', { mode: 0o755 });
            const env = envOf(driver);
            const run = spawnSync("bash", [path.join(PROJECT_ROOT, "pipeline", "spark", "run-job.sh")], {
                encoding: "utf8",
                env: {
                    PATH: process.env.PATH,
                    ...env,
                    SPARK_HOME: dir,
                    SPARK_MASTER_URL: "spark://spark-master:7077",
                    POD_IP: "10.0.0.1",
                    SPARK_AUTHENTICATE_SECRET: "secret",
                    TMPDIR: dir,
                },
            });
            assert.equal(run.status, 0, run.stderr);
            const args = run.stdout.split("\n");
            assert.ok(args.includes(`spark.jars.ivy=${env.SPARK_IVY_DIR}`), args.join(" "));
            assert.equal(args[args.indexOf("--packages") + 1], env.SPARK_PACKAGES);
        } finally {
            fs.rmSync(dir, { recursive: true, force: true });
        }
    });
});
