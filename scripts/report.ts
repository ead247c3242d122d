/**
 * Capacity and cost of a stack before `pulumi up`: evaluates the stack's program offline under the
 * test harness's mocks and reports what its workloads request against the node pool, and what it costs.
 * Usage: npm run report -- <stack> [--json | --markdown]. Exits 1 when the stack does not fit, 2 on bad input.
 */
import * as fs from "fs";
import * as path from "path";
import { CHART_ARCHIVE_DIRS, missingChartArchives } from "../offline/chartArchives";

const ROOT = path.resolve(__dirname, "..");
const FORMATS = ["--json", "--markdown"];

function fail(message: string): never {
    console.error(`report: ${message}`);
    process.exit(2);
}

/** Chart defaults come from the pinned chart archives; `npm run charts:pull` fetches them. */
function requireChartArchives(): void {
    const missing = missingChartArchives();
    if (missing.length > 0) {
        fail(`no chart archive for ${missing.join(", ")} in ${CHART_ARCHIVE_DIRS.join(" or ")}: run \`npm run charts:pull\``);
    }
}

async function main(): Promise<void> {
    const args = process.argv.slice(2);
    const stacks = fs
        .readdirSync(ROOT)
        .map((f) => /^Pulumi\.(.+)\.yaml$/.exec(f)?.[1])
        .filter((s): s is string => s !== undefined);
    const [stack, ...options] = args;
    if (!stack || stack.startsWith("-")) {
        fail(`usage: npm run report -- <stack> [--json | --markdown]; stacks: ${stacks.join(", ")}`);
    }
    if (!stacks.includes(stack)) {
        fail(`there is no stack "${stack}" (no Pulumi.${stack}.yaml); stacks: ${stacks.join(", ")}`);
    }
    const unknown = options.filter((o) => !FORMATS.includes(o));
    if (unknown.length > 0 || options.length > 1) {
        fail(`unknown or conflicting options ${options.join(" ")}; allowed: one of ${FORMATS.join(", ")}`);
    }
    requireChartArchives();
    // Loaded only after the arguments are checked: they load the whole program and the charts.
    const { runStack } = await import("../offline/harness");
    const { buildReport } = await import("../report");
    const { loadPrices } = await import("../report/cost");
    const { renderMarkdown, renderText } = await import("../report/render");

    const run = await runStack(stack);
    if (run.error) {
        fail(`stack ${stack} does not evaluate:\n${run.error.message}`);
    }
    const prices = loadPrices();
    const report = buildReport(stack, run, prices);
    const [format] = options;
    console.log(
        format === "--json" ? JSON.stringify(report, null, 2) : format === "--markdown" ? renderMarkdown(report, prices) : renderText(report, prices),
    );
    process.exitCode = report.fits ? 0 : 1;
}

main().catch((e) => fail(e instanceof Error ? (e.stack ?? e.message) : String(e)));
