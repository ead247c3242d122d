import { strict as assert } from "assert";
import * as fs from "fs";
import * as os from "os";
import * as path from "path";
import { CHART_VERSIONS, ChartName } from "../components/data";
import { chartArchive } from "../offline/chartArchives";
import { checkArchive, pullCharts } from "../scripts/pull-charts";

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

    it("checks the pinned archives themselves", () => {
        for (const [chart, version] of Object.entries(CHART_VERSIONS) as [ChartName, string][]) {
            checkArchive(chartArchive(chart), chart, version);
        }
    });
});
