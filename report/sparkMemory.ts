import { quantityMiB, sparkMemoryPlan, SparkMemoryPlan } from "../components/data/sparkMemory";
import { ofType, StackRun } from "../offline/harness";
import { TYPES } from "../offline/resourceTypes";

/** The streaming driver's Deployment, by the name components/pipeline/streamingJob.ts gives it. */
const DRIVER_DEPLOYMENT = "crypto-ticks-stream";

/**
 * The JVM heaps of the stack's Spark cluster and streaming driver, by the same calculation the components
 * use (components/data/sparkMemory.ts), from what the stack asks for: each worker's offer in the Spark
 * release's values and the driver pod's memory limit. Undefined for a stack without either.
 */
export function stackSparkMemory(run: StackRun): SparkMemoryPlan | undefined {
    const release = ofType(run, TYPES.helmRelease).find((r) => r.name === "spark");
    const deployment = ofType(run, TYPES.deployment).find((d) => d.inputs.metadata?.name === DRIVER_DEPLOYMENT);
    if (!release || !deployment) {
        return undefined;
    }
    const worker = release.inputs.values.worker;
    const offered = /^([0-9]+)g$/.exec(String(worker.memoryLimit));
    if (!offered) {
        throw new Error(`spark worker.memoryLimit "${worker.memoryLimit}" is not whole GiB such as 4g`);
    }
    const driver = deployment.inputs.spec.template.spec.containers.find((c: { name: string }) => c.name === "driver");
    return sparkMemoryPlan({
        workerCores: Number(worker.coreLimit),
        workerMemoryGiB: Number(offered[1]),
        driverPodMiB: quantityMiB(driver.resources.limits.memory),
    });
}
