/**
 * Capacity and cost of a stack before `pulumi up`: evaluates the stack's program offline under the
 * test harness's mocks and reports what its workloads request against the node pool, and what it costs.
 * Usage: npm run report -- <stack> [--json | --markdown]. Exits 1 when the stack does not fit, 2 on bad input.
 */
import * as fs from "fs";
import * as path from "path";
import { CHART_ARCHIVE_DIRS, missingChartArchives } from "../offline/chartArchives";
import type { ConfigOverrides } from "../offline/harness";

const ROOT = path.resolve(__dirname, "..");
const FORMATS = ["--json", "--markdown"];

/** What the command prints and its exit code: 0 fits, 1 does not fit, 2 bad input. */
export interface ReportOutcome {
    readonly code: 0 | 1 | 2;
    readonly stdout: string;
    readonly stderr: string;
}

const refused = (message: string): ReportOutcome => ({ code: 2, stdout: "", stderr: `report: ${message}` });

/**
 * The report for command-line arguments, computed in this process; `overrides` change the stack's config
 * the way `pulumi config set` would, for callers that ask what a change would cost.
 */
export async function runReport(args: readonly string[], overrides: ConfigOverrides = {}): Promise<ReportOutcome> {
    const stacks = fs
        .readdirSync(ROOT)
        .map((f) => /^Pulumi\.(.+)\.yaml$/.exec(f)?.[1])
        .filter((s): s is string => s !== undefined);
    const [stack, ...options] = args;
    if (!stack || stack.startsWith("-")) {
        return refused(`usage: npm run report -- <stack> [--json | --markdown]; stacks: ${stacks.join(", ")}`);
    }
    if (!stacks.includes(stack)) {
        return refused(`there is no stack "${stack}" (no Pulumi.${stack}.yaml); stacks: ${stacks.join(", ")}`);
    }
    const unknown = options.filter((o) => !FORMATS.includes(o));
    if (unknown.length > 0 || options.length > 1) {
        return refused(`unknown or conflicting options ${options.join(" ")}; allowed: one of ${FORMATS.join(", ")}`);
    }
    // Chart defaults come from the pinned chart archives; `npm run charts:pull` fetches them.
    const missing = missingChartArchives();
    if (missing.length > 0) {
        return refused(`no chart archive for ${missing.join(", ")} in ${CHART_ARCHIVE_DIRS.join(" or ")}: run \`npm run charts:pull\``);
    }
    // Loaded only after the arguments are checked: they load the whole program and the charts.
    const { runStack, serveMadeUpLock } = await import("../offline/harness");
    // Capacity and cost do not depend on digests; dev and prod are refused without them while the committed lock is empty.
    serveMadeUpLock();
    const { buildReport } = await import("../report");
    const { loadPrices } = await import("../report/priceTable");
    const { renderMarkdown, renderText } = await import("../report/render");
    const { renderStack } = await import("../offline/render");

    const run = await runStack(stack, overrides);
    if (run.error) {
        return refused(`stack ${stack} does not evaluate:\n${run.error.message}`);
    }
    const prices = loadPrices();
    const report = buildReport(stack, await renderStack(stack, overrides), prices);
    const [format] = options;
    const stdout =
        format === "--json" ? JSON.stringify(report, null, 2) : format === "--markdown" ? renderMarkdown(report, prices) : renderText(report, prices);
    return { code: report.fits ? 0 : 1, stdout, stderr: "" };
}

if (require.main === module) {
    runReport(process.argv.slice(2)).then(
        ({ code, stdout, stderr }) => {
            if (stdout) {
                console.log(stdout);
            }
            if (stderr) {
                console.error(stderr);
            }
            process.exitCode = code;
        },
        (e) => {
            console.error(`report: ${e instanceof Error ? (e.stack ?? e.message) : String(e)}`);
            process.exitCode = 2;
        },
    );
}
