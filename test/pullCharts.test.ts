import { strict as assert } from "assert";
import { spawnSync } from "child_process";
import * as fs from "fs";
import * as os from "os";
import * as path from "path";
import { CHART_VERSIONS, ChartName } from "../components/data";
import { chartArchive } from "../offline/chartArchives";
import { PROJECT_ROOT } from "../offline/harness";
import { checkArchive, PullError, pullCharts, pushTarget } from "../scripts/pull-charts";

/** A helm that answers `pull <ref> --version V --destination D` with the archive it is given for that chart. */
function fakeHelm(archiveFor: (chart: string, version: string) => string): string {
    const dir = fs.mkdtempSync(path.join(os.tmpdir(), "fake-helm-"));
    const helm = path.join(dir, "helm");
    const table = Object.keys(CHART_VERSIONS)
        .map((chart) => `  ${chart}) cp "${archiveFor(chart, CHART_VERSIONS[chart as ChartName])}" "$6/${chart}-$4.tgz" ;;`)
        .join("\n");
    fs.writeFileSync(helm, `#!/usr/bin/env bash\nset -e\n[[ $1 == pull ]]\ncase "\${2##*/}" in\n${table}\nesac\n`, { mode: 0o755 });
    return helm;
}

describe("npm run charts:pull", () => {
    it("saves every pinned chart as charts-cache/<chart>-<version>.tgz", () => {
        const out = fs.mkdtempSync(path.join(os.tmpdir(), "charts-cache-"));
        const written = pullCharts(
            fakeHelm((chart) => chartArchive(chart as ChartName)),
            out,
        )
            .map((file) => path.basename(file))
            .sort();
        assert.deepEqual(
            written,
            Object.entries(CHART_VERSIONS)
                .map(([chart, version]) => `${chart}-${version}.tgz`)
                .sort(),
        );
    });

    it("refuses an archive whose Chart.yaml is not the pinned version, and keeps the one it has", () => {
        const out = fs.mkdtempSync(path.join(os.tmpdir(), "charts-cache-"));
        // The registry answering with the wrong chart stands in for a wrong version.
        assert.throws(
            () =>
                pullCharts(
                    fakeHelm(() => chartArchive("spark")),
                    out,
                ),
            /holds spark 10\.0\.3, not kafka 32\.4\.3/,
        );
        assert.deepEqual(fs.readdirSync(out), []);
    });

    it("without a route to the registry, says in one message what failed and where to put the archives by hand", () => {
        const dir = fs.mkdtempSync(path.join(os.tmpdir(), "offline-helm-"));
        const helm = path.join(dir, "helm");
        // What helm prints where the registry cannot be reached; `version` answers, so offline/helm.ts takes it.
        fs.writeFileSync(
            helm,
            '#!/bin/sh\n[ "$1" = version ] && exit 0\necho "Error: failed to do request: dial tcp: lookup registry-1.docker.io: no such host" >&2\nexit 1\n',
            { mode: 0o755 },
        );
        const result = spawnSync(path.join(PROJECT_ROOT, "node_modules", ".bin", "ts-node"), ["--transpile-only", "scripts/pull-charts.ts"], {
            cwd: PROJECT_ROOT,
            env: { ...process.env, HELM: helm },
            encoding: "utf8",
        });
        assert.equal(result.status, 1);
        const lines = result.stderr.trim().split("\n");
        assert.match(lines[0], /^charts:pull: helm pull oci:\/\/\S+\/kafka --version 32\.4\.3 failed: Error: failed to do request: .*no such host$/);
        assert.match(
            lines[1],
            /copy kafka-32\.4\.3\.tgz, postgresql-16\.7\.27\.tgz, spark-10\.0\.3\.tgz, airflow-25\.0\.2\.tgz .* into \S+charts-cache by hand\.$/,
        );
        assert.equal(lines.length, 2, result.stderr);
        assert.doesNotMatch(result.stderr, /^\s+at /m, "no stack trace");
    });

    it("checks the pinned archives themselves", () => {
        for (const [chart, version] of Object.entries(CHART_VERSIONS) as [ChartName, string][]) {
            checkArchive(chartArchive(chart), chart, version);
        }
    });

    it("--push takes an OCI repository, or with --stack the stack's own, and refuses neither or both", () => {
        assert.equal(pushTarget([]), undefined);
        assert.deepEqual(pushTarget(["--push", "oci://127.0.0.1:5000/charts"]), { repository: "oci://127.0.0.1:5000/charts" });
        // The committed prod stack names no gcp:project: the error says how to set it.
        assert.throws(() => pushTarget(["--stack", "prod", "--push"]), /gcp:project is not set in Pulumi\.prod\.yaml/);
        assert.throws(
            () => pushTarget(["--push"]),
            (e: Error) => e instanceof PullError && /--push needs where to/.test(e.message),
        );
        assert.throws(
            () => pushTarget(["--push", "oci://a.example/x", "--stack", "dev"]),
            /--stack and --push <repository> both name where the charts go/,
        );
    });
});
