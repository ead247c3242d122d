import { strict as assert } from "assert";
import { spawnSync } from "child_process";
import * as fs from "fs";
import * as os from "os";
import * as path from "path";
import { parse } from "yaml";
import { PROJECT_ROOT } from "../offline/harness";
import { KUBE_VERSION, renderStack } from "../offline/render";
import { buildReport } from "../report";
import { e2ePodRequests, KIND_REQUIRED_CPU_HEADROOM, KIND_SYSTEM_PODS } from "../report/kindRunner";
import { loadPrices } from "../report/priceTable";

const file = (relative: string) => fs.readFileSync(path.join(PROJECT_ROOT, relative), "utf8");
const e2e = parse(file(".github/workflows/e2e.yml"));
const steps: any[] = e2e.jobs.kind.steps;

describe("the kind end-to-end's runner", function () {
    this.timeout(120000);

    it(`holds the local stack with ${KIND_REQUIRED_CPU_HEADROOM * 100} % of its CPU free beside kind's and Calico's own pods`, async () => {
        assert.equal(e2e.jobs.kind["runs-on"], "ubuntu-24.04", "report/kindRunner.ts models GitHub's standard runner: 4 vCPUs, 16 GB");
        const report = buildReport("local", await renderStack("local"), loadPrices());
        const fit = report.kindRunner!;
        assert.deepEqual(fit.problems, []);
        assert.ok(fit.running.cpuHeadroom >= KIND_REQUIRED_CPU_HEADROOM, `${fit.running.cpuHeadroom}`);
        const priceApi = e2ePodRequests("e2e-price-api.sh");
        assert.ok(priceApi.cpuMillis > 0 && priceApi.memoryMiB > 0);
        assert.equal(
            fit.running.requested.cpuMillis,
            KIND_SYSTEM_PODS.cpuMillis + priceApi.cpuMillis + 2220,
            "the local stack's long-running pods request 2.22 CPU, beside kind's, Calico's and the fake price API",
        );
        const client = e2ePodRequests("e2e-check-ticks.sh");
        assert.ok(fit.withJobs.requested.cpuMillis > fit.running.requested.cpuMillis + client.cpuMillis, "the Jobs and the check's client");
        assert.ok(fit.withJobs.cpuHeadroom >= 0 && fit.withJobs.memoryHeadroom >= 0, "every Job fits beside them");
        assert.equal(report.fits, true);
    });

    it("fails a local stack that leaves less CPU free, naming the share", async () => {
        const report = buildReport("local", await renderStack("local", { sparkWorkerCores: 2 }), loadPrices());
        assert.equal(report.fits, false);
        assert.match(report.kindRunner!.problems.join("\n"), /on the e2e runner \d+\.\d % of CPU stays free, less than the required 15\.0 %/);
    });

    it("runs the Kubernetes minor GKE runs, on a node image pinned by digest, with a Calico that documents it", () => {
        const kind = parse(file(".github/kind/streaming.yaml"));
        const image: string = kind.nodes[0].image;
        const match = /^kindest\/node:v(\d+\.\d+)\.\d+@sha256:[0-9a-f]{64}$/.exec(image);
        assert.ok(match, image);
        assert.equal(match[1], KUBE_VERSION.split(".").slice(0, 2).join("."), "the minor of apiserver/go.mod");
        const cni = steps.find((s) => s.run === "bash .github/scripts/e2e-cni.sh");
        const scriptDefault = /CALICO_VERSION:-(v[\d.]+)/.exec(file(".github/scripts/e2e-cni.sh"))![1];
        assert.equal(cni.env.CALICO_VERSION, scriptDefault, "the workflow and docs/local.md's command install the same Calico");
        const [major, minor] = scriptDefault.slice(1).split(".").map(Number);
        assert.ok(major > 3 || minor >= 31, `Calico ${scriptDefault} does not list Kubernetes 1.35 among its tested versions`);
        assert.match(file("docs/local.md"), new RegExp(`CALICO_VERSION=${scriptDefault} `));
    });

    describe("e2e-free-disk.sh", () => {
        const fakeBin = fs.mkdtempSync(path.join(os.tmpdir(), "free-disk-bin-"));
        const dockerRoot = fs.mkdtempSync(path.join(os.tmpdir(), "docker-root-"));
        // Docker and sudo stand in for the runner's; df measures the real filesystem of dockerRoot.
        fs.writeFileSync(path.join(fakeBin, "docker"), `#!/bin/sh\n[ "$1" = info ] && echo ${dockerRoot}\nexit 0\n`, { mode: 0o755 });
        fs.writeFileSync(path.join(fakeBin, "sudo"), '#!/bin/sh\nexec "$@"\n', { mode: 0o755 });
        const run = (env: Record<string, string>) =>
            spawnSync("bash", [path.join(PROJECT_ROOT, ".github/scripts/e2e-free-disk.sh")], {
                encoding: "utf8",
                env: { ...process.env, PATH: `${fakeBin}${path.delimiter}${process.env.PATH}`, ...env },
            });

        it("is a step before the kind cluster is created", () => {
            const names = steps.map((s) => s.name ?? s.uses);
            const freeDisk = names.indexOf("Free disk space");
            assert.ok(freeDisk >= 0 && freeDisk < names.findIndex((n) => String(n).startsWith("helm/kind-action@")));
            assert.equal(steps[freeDisk].run, "bash .github/scripts/e2e-free-disk.sh");
        });

        it("removes the SDK directories and reports the free space", () => {
            const sdk = fs.mkdtempSync(path.join(os.tmpdir(), "sdk-"));
            fs.writeFileSync(path.join(sdk, "big"), "x");
            const result = run({ SDK_DIRS: sdk, MIN_FREE_GB: "0" });
            assert.equal(result.status, 0, result.stderr);
            assert.equal(fs.existsSync(sdk), false);
            assert.match(result.stdout, /^free disk: \d+ GB before, \d+ GB after$/m);
        });

        it("fails when too little is free, saying how much is needed", () => {
            const result = run({ SDK_DIRS: "", MIN_FREE_GB: "999999" });
            assert.notEqual(result.status, 0);
            assert.match(result.stderr, /only \d+ GB free for kind and the platform's images, 999999 GB needed/);
        });
    });
});
