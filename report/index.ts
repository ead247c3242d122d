import type { RenderedStack } from "../offline/render";
import { capacity, stackNodePools } from "./capacity";
import { estimateCost } from "./cost";
import { PriceTable } from "./priceTable";
import { Report } from "./render";
import { stackSparkMemory } from "./sparkMemory";
import { stackWorkloads } from "./workloads";
import { stackOperations } from "./operations";
import { kindRunnerFit } from "./kindRunner";

/** Capacity and cost of an evaluated stack, from what its charts and program render. */
export function buildReport(stack: string, rendered: RenderedStack, prices: PriceTable): Report {
    const { run } = rendered;
    const workloads = stackWorkloads(rendered);
    const pools = stackNodePools(run);
    const fit = capacity(
        workloads,
        pools.find((p) => p.role === "on-demand"),
        pools.find((p) => p.role === "spot"),
    );
    const operations = stackOperations(run, workloads, prices);
    // A stack on an existing cluster is judged on the machine the kind end-to-end gives it.
    const kindRunner = fit.nodePool ? undefined : kindRunnerFit(workloads);
    return {
        stack,
        fits: fit.problems.length === 0 && (kindRunner?.problems ?? []).length === 0,
        kindRunner,
        workloads,
        capacity: fit,
        sparkMemory: stackSparkMemory(run),
        operations,
        cost: estimateCost(run, fit, prices, operations),
    };
}
