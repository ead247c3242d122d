/**
 * What an earlier landed main would have deployed: its program, evaluated from the commit under today's
 * harness (offline/harness.ts and the three modules offline/stackDeployment.ts needs, copied beside it),
 * with today's node_modules and chart archives. The earlier program's own code and stack files are used
 * as they were at that commit.
 */
import { execFileSync } from "child_process";
import * as fs from "fs";
import * as os from "os";
import * as path from "path";
import { CHART_VERSIONS, ChartName } from "../components/data";
import { chartArchive } from "../offline/chartArchives";
import { PROJECT_ROOT } from "../offline/harness";
import { StackDeployment } from "../offline/stackDeployment";

const EVALUATOR_MODULES = ["harness.ts", "resourceTypes.ts", "programObjects.ts", "stackDeployment.ts"];

export function hasCommit(commit: string): boolean {
    try {
        execFileSync("git", ["-C", PROJECT_ROOT, "cat-file", "-e", `${commit}^{commit}`], { stdio: "ignore" });
        return true;
    } catch {
        return false;
    }
}

/** The stack as the program at `commit` deploys it. */
export function deploymentAt(commit: string, stack: string): StackDeployment {
    if (!hasCommit(commit)) {
        throw new Error(`commit ${commit} is not in this clone's history: fetch it (git fetch --unshallow origin) to test the upgrade from it`);
    }
    const tree = fs.mkdtempSync(path.join(os.tmpdir(), `program-${commit}-`));
    try {
        execFileSync("sh", ["-c", `git -C "${PROJECT_ROOT}" archive --format=tar "${commit}" | tar -x -C "${tree}"`]);
        fs.symlinkSync(path.join(PROJECT_ROOT, "node_modules"), path.join(tree, "node_modules"));
        // The same chart versions are pinned at every commit tested; an earlier program finds them in charts-cache.
        fs.mkdirSync(path.join(tree, "charts-cache"));
        for (const chart of Object.keys(CHART_VERSIONS) as ChartName[]) {
            const archive = chartArchive(chart);
            fs.symlinkSync(archive, path.join(tree, "charts-cache", path.basename(archive)));
        }
        const evaluator = path.join(tree, "offline-evaluator");
        fs.mkdirSync(evaluator);
        for (const module of EVALUATOR_MODULES) {
            fs.copyFileSync(path.join(PROJECT_ROOT, "offline", module), path.join(evaluator, module));
        }
        const out = path.join(tree, "deployment.json");
        execFileSync(
            path.join(PROJECT_ROOT, "node_modules", ".bin", "ts-node"),
            ["--transpile-only", path.join(evaluator, "stackDeployment.ts"), stack, out],
            {
                cwd: tree,
                stdio: ["ignore", "ignore", "pipe"],
            },
        );
        return JSON.parse(fs.readFileSync(out, "utf8"));
    } finally {
        fs.rmSync(tree, { recursive: true, force: true });
    }
}
