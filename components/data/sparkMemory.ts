/**
 * How Spark's JVMs fit in their pods: one pure calculation shared by the Spark and StreamingJob
 * components (which set the heaps) and the capacity report (which prints them).
 *
 * Every JVM gets a heap and, next to it, non-heap memory (metaspace, thread stacks, direct buffers,
 * GC structures) of Spark's own overhead rule, max(384 MiB, 10 % of the heap): the default of
 * spark.{driver,executor}.memoryOverhead with spark.*.memoryOverheadFactor 0.1 and
 * spark.*.minMemoryOverhead 384m (apache/spark v4.0.0 core/src/main/scala/org/apache/spark/internal/config/package.scala).
 * Standalone mode does not enforce that overhead, so the pod limits here must.
 */

/** Floor and share of Spark's default memory overhead. */
export const MIN_OVERHEAD_MIB = 384;
export const OVERHEAD_FACTOR = 0.1;
/**
 * Smallest heap a driver or executor may get: Spark refuses less than 1.5 x its 300 MiB reserve,
 * 450 MiB of Runtime.maxMemory, which sits a little below -Xmx
 * (apache/spark v4.0.0 core/src/main/scala/org/apache/spark/memory/UnifiedMemoryManager.scala).
 */
export const MIN_HEAP_MIB = 512;
/**
 * Heap of the master and worker daemons (SPARK_DAEMON_MEMORY). Empty, Spark's launcher gives them
 * 1g (apache/spark v4.0.0 launcher/src/main/java/org/apache/spark/launcher/SparkClassCommandBuilder.java);
 * they only track workers, executors and applications.
 */
export const DAEMON_HEAP_MIB = 512;
/** The master pod's memory request and limit. */
export const MASTER_POD_MIB = 1024;
/** What a worker pod holds beside the memory it offers executors: the worker daemon's JVM. */
export const WORKER_DAEMON_POD_MIB = 1024;
/**
 * The PySpark driver's Python process beside the driver JVM: py4j, the job, and each micro-batch
 * collected to it for the PostgreSQL upsert (pipeline/spark/stream_ticks.py).
 */
export const PYTHON_DRIVER_MIB = 256;

export const overheadMiB = (heapMiB: number) => Math.max(MIN_OVERHEAD_MIB, Math.floor(heapMiB * OVERHEAD_FACTOR));

/** The largest heap whose heap + overhead fits in the budget (whole MiB). */
export function largestHeapMiB(budgetMiB: number): number {
    let heap = Math.min(budgetMiB - MIN_OVERHEAD_MIB, Math.floor(budgetMiB / (1 + OVERHEAD_FACTOR)));
    while (heap > 0 && heap + overheadMiB(heap) > budgetMiB) {
        heap--;
    }
    return Math.max(0, heap);
}

/** A JVM memory size as Spark's launcher and SPARK_*_MEMORY read it: whole MiB with an m suffix. */
export const jvmMemory = (mib: number) => `${mib}m`;

/** A Kubernetes memory quantity in Mi or Gi (what config accepts) as MiB. */
export function quantityMiB(quantity: string): number {
    const match = /^([0-9]+)(Mi|Gi)$/.exec(quantity);
    if (!match) {
        throw new Error(`"${quantity}" is not a memory quantity in Mi or Gi`);
    }
    return Number(match[1]) * (match[2] === "Gi" ? 1024 : 1);
}

export interface Jvm {
    readonly heapMiB: number;
    readonly overheadMiB: number;
}

const jvm = (heapMiB: number): Jvm => ({ heapMiB, overheadMiB: overheadMiB(heapMiB) });

export interface DriverMemory extends Jvm {
    /** The driver pod's memory limit (streamDriverMemory). */
    readonly podMiB: number;
    readonly pythonMiB: number;
}

/** The driver JVM's heap (spark-submit --driver-memory) in a pod of this limit, room left for overhead and Python. */
export function driverMemory(podMiB: number): DriverMemory {
    return { podMiB, pythonMiB: PYTHON_DRIVER_MIB, ...jvm(largestHeapMiB(podMiB - PYTHON_DRIVER_MIB)) };
}

/** The smallest driver pod whose heap is at least MIN_HEAP_MIB. */
export const MIN_DRIVER_POD_MIB = MIN_HEAP_MIB + overheadMiB(MIN_HEAP_MIB) + PYTHON_DRIVER_MIB;

export interface SparkClusterMemory {
    readonly master: Jvm & { readonly podMiB: number };
    readonly worker: {
        readonly podMiB: number;
        /** The worker daemon's own JVM. */
        readonly daemon: Jvm;
        /** SPARK_WORKER_MEMORY / SPARK_WORKER_CORES: what the worker offers executors. */
        readonly offeredMiB: number;
        readonly offeredCores: number;
    };
    /**
     * One executor per worker taking the whole offer: the standalone master launches an executor only on a
     * worker with at least spark.executor.memory and spark.executor.cores free
     * (apache/spark v4.0.0 core/src/main/scala/org/apache/spark/deploy/master/Master.scala), and the worker
     * starts it with -Xmx spark.executor.memory; its overhead must fit in the offer too.
     */
    readonly executor: Jvm & { readonly cores: number };
}

export function sparkClusterMemory(workerCores: number, workerMemoryGiB: number): SparkClusterMemory {
    const offeredMiB = workerMemoryGiB * 1024;
    const daemon = jvm(DAEMON_HEAP_MIB);
    return {
        master: { podMiB: MASTER_POD_MIB, ...daemon },
        worker: { podMiB: offeredMiB + WORKER_DAEMON_POD_MIB, daemon, offeredMiB, offeredCores: workerCores },
        executor: { cores: workerCores, ...jvm(largestHeapMiB(offeredMiB)) },
    };
}

/** Everything the report prints: the cluster's JVMs and the streaming driver's. */
export interface SparkMemoryPlan extends SparkClusterMemory {
    readonly driver: DriverMemory;
}

export function sparkMemoryPlan(args: { workerCores: number; workerMemoryGiB: number; driverPodMiB: number }): SparkMemoryPlan {
    return { ...sparkClusterMemory(args.workerCores, args.workerMemoryGiB), driver: driverMemory(args.driverPodMiB) };
}
