import { createHash } from "crypto";
import { execFileSync } from "child_process";
import * as fs from "fs";
import * as os from "os";
import * as path from "path";
import { CHART_VERSIONS, ChartName } from "../components/data";
import { PROJECT_ROOT } from "./harness";

/**
 * Where the pinned chart archives (<chart>-<version>.tgz, as `helm pull` saves them) are looked for:
 * what `npm run charts:pull` fetched, then the shared copy beside the repository on machines that
 * have no route to the chart registry (the team's workstations and CI).
 */
export const CHART_ARCHIVE_DIRS = [path.join(PROJECT_ROOT, "charts-cache"), path.resolve(PROJECT_ROOT, "..", "shared", "charts", "archives")];

export const archiveName = (chart: ChartName) => `${chart}-${CHART_VERSIONS[chart]}.tgz`;

/** The pinned archive of a chart, or undefined when no search directory has it. */
export function findChartArchive(chart: ChartName): string | undefined {
    return CHART_ARCHIVE_DIRS.map((dir) => path.join(dir, archiveName(chart))).find((file) => fs.existsSync(file));
}

export function missingChartArchives(): ChartName[] {
    return (Object.keys(CHART_VERSIONS) as ChartName[]).filter((chart) => findChartArchive(chart) === undefined);
}

export function chartArchive(chart: ChartName): string {
    const archive = findChartArchive(chart);
    if (!archive) {
        throw new Error(`No chart archive ${archiveName(chart)} in ${CHART_ARCHIVE_DIRS.join(" or ")}: run \`npm run charts:pull\``);
    }
    return archive;
}

const unpacked = new Map<string, string>();

/**
 * The archive unpacked once per archive content into the system's temp folder; returns the chart's
 * own folder (the archive holds <chart>/Chart.yaml, <chart>/charts/<subchart>/...).
 */
export function unpackedChart(chart: ChartName): string {
    const archive = chartArchive(chart);
    const cached = unpacked.get(archive);
    if (cached) {
        return cached;
    }
    const digest = createHash("sha256").update(fs.readFileSync(archive)).digest("hex").slice(0, 16);
    const target = path.join(os.tmpdir(), "streaming-platform-charts", `${path.basename(archive, ".tgz")}-${digest}`);
    if (!fs.existsSync(path.join(target, chart, "Chart.yaml"))) {
        // Unpacked beside the target and renamed into place whole, so no process ever sees half a chart; when
        // another process (npm test's other lane) got there first, its copy is the same and ours goes.
        fs.mkdirSync(path.dirname(target), { recursive: true });
        const staging = fs.mkdtempSync(`${target}.`);
        execFileSync("tar", ["-xzf", archive, "-C", staging]);
        try {
            fs.renameSync(staging, target);
        } catch {
            fs.rmSync(staging, { recursive: true, force: true });
        }
    }
    unpacked.set(archive, path.join(target, chart));
    return path.join(target, chart);
}
