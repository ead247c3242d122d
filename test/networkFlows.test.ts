import { strict as assert } from "assert";
import { admits, Pod, podsOf } from "../offline/networkPolicy";
import { Manifest, renderStack } from "../offline/render";

/** A connection the pipeline opens: from a workload to a workload on a port. */
interface Flow {
    readonly from: string;
    readonly to: string;
    readonly port: number;
    readonly why: string;
}

const KAFKA = "StatefulSet/kafka-controller";
const POSTGRESQL = "StatefulSet/postgresql-primary";
const SPARK_MASTER = "StatefulSet/spark-master";
const SPARK_WORKER = "StatefulSet/spark-worker";
const DRIVER = "Deployment/crypto-ticks-stream";

/** The driver's fixed ports, as its container declares them (run-job.sh passes them to spark-submit). */
function driverPort(pods: Pod[], name: string): number {
    const port = pods.find((p) => p.workload === DRIVER)?.ports.find((p) => p.name === name)?.containerPort;
    assert.ok(port, `the driver declares its ${name} port`);
    return port;
}

function pipelineFlows(pods: Pod[]): Flow[] {
    const airflow = pods.filter((p) => p.namespace === "airflow" && p.labels["app.kubernetes.io/name"] === "airflow");
    // Tasks run in the Celery workers when there are any, else in the scheduler (LocalExecutor).
    const taskRunners = airflow.filter((p) => p.workload.endsWith("/airflow-worker"));
    const runners = taskRunners.length > 0 ? taskRunners : airflow.filter((p) => p.workload.endsWith("/airflow-scheduler"));
    const schemaJob = pods.find((p) => p.workload.startsWith("Job/postgresql-schema-"));
    assert.ok(schemaJob, "the schema Job is rendered");
    const backup = pods.find((p) => p.workload === "CronJob/postgresql-backup");
    assert.ok(backup, "the backup CronJob is rendered");
    const rpc = driverPort(pods, "driver");
    const blocks = driverPort(pods, "block-manager");
    return [
        ...runners.map((p) => ({ from: p.workload, to: KAFKA, port: 9092, why: "the DAG's task produces ticks" })),
        { from: DRIVER, to: KAFKA, port: 9092, why: "the driver reads offsets and metadata" },
        { from: SPARK_WORKER, to: KAFKA, port: 9092, why: "executors read the topic" },
        ...airflow.map((p) => ({ from: p.workload, to: POSTGRESQL, port: 5432, why: "Airflow's metadata database" })),
        { from: DRIVER, to: POSTGRESQL, port: 5432, why: "the sink upserts rows" },
        { from: schemaJob.workload, to: POSTGRESQL, port: 5432, why: "the schema Job creates databases and roles" },
        { from: backup.workload, to: POSTGRESQL, port: 5432, why: "the backup CronJob dumps every database" },
        { from: DRIVER, to: SPARK_MASTER, port: 7077, why: "the driver registers the application" },
        { from: SPARK_WORKER, to: DRIVER, port: rpc, why: "executors register with the driver" },
        { from: SPARK_WORKER, to: DRIVER, port: blocks, why: "executors fetch broadcast blocks from the driver" },
        { from: DRIVER, to: SPARK_WORKER, port: blocks, why: "the driver fetches results from executors' block managers" },
        { from: SPARK_WORKER, to: SPARK_WORKER, port: blocks, why: "executors fetch shuffle blocks from each other" },
    ];
}

/** What each service needs inside its own release: quorum, replication, master and workers, Airflow's parts. */
function internalFlows(pods: Pod[]): Flow[] {
    const airflowPod = (component: string) => pods.find((p) => p.workload.endsWith(`/airflow-${component}`))?.workload;
    const scheduler = airflowPod("scheduler")!;
    const web = airflowPod("web")!;
    const redis = pods.find((p) => p.workload.endsWith("/airflow-redis-master"))?.workload;
    const workers = airflowPod("worker");
    const readReplica = pods.find((p) => p.workload === "StatefulSet/postgresql-read");
    return [
        { from: KAFKA, to: KAFKA, port: 9093, why: "the KRaft quorum" },
        { from: KAFKA, to: KAFKA, port: 9094, why: "replication between brokers" },
        { from: "Job/kafka-provisioning", to: KAFKA, port: 9092, why: "the topic provisioning job" },
        ...(readReplica ? [{ from: readReplica.workload, to: POSTGRESQL, port: 5432, why: "streaming replication" }] : []),
        { from: SPARK_WORKER, to: SPARK_MASTER, port: 7077, why: "workers register with the master" },
        { from: SPARK_MASTER, to: SPARK_WORKER, port: 7078, why: "the master launches executors" },
        { from: scheduler, to: web, port: 8080, why: "the Execution API of Airflow 3" },
        { from: web, to: scheduler, port: 8793, why: "task logs served where tasks ran" },
        ...(workers ? [{ from: workers, to: web, port: 8080, why: "Celery tasks call the Execution API" }] : []),
        ...(workers ? [{ from: web, to: workers, port: 8793, why: "task logs served by the workers" }] : []),
        ...(redis ? [{ from: scheduler, to: redis, port: 6379, why: "the Celery broker" }] : []),
        ...(redis && workers ? [{ from: workers, to: redis, port: 6379, why: "the Celery broker" }] : []),
    ];
}

/** A pod of some other namespace: it must reach none of the data services. */
const STRANGER: Pod = { workload: "Pod/stranger", namespace: "default", labels: { app: "stranger" }, ports: [] };

/** Every port a data service, the Spark cluster or the driver listens on. */
function guardedPorts(pods: Pod[]): { workload: string; port: number }[] {
    const guarded = [KAFKA, POSTGRESQL, SPARK_MASTER, SPARK_WORKER, DRIVER, "StatefulSet/airflow-redis-master"];
    const declared: Record<string, number[]> = {
        [KAFKA]: [9092, 9093, 9094],
        [POSTGRESQL]: [5432],
        [SPARK_MASTER]: [7077, 8080],
        [SPARK_WORKER]: [7078, 7079, 8080],
    };
    return pods
        .filter((p) => guarded.includes(p.workload))
        .flatMap((p) =>
            [...new Set([...(declared[p.workload] ?? []), ...p.ports.map((port) => port.containerPort)])].map((port) => ({
                workload: p.workload,
                port,
            })),
        );
}

function blocked(objects: readonly Manifest[], flows: (pods: Pod[]) => Flow[] = pipelineFlows): string[] {
    const pods = podsOf(objects);
    const pod = (workload: string) => {
        const found = pods.find((p) => p.workload === workload);
        assert.ok(found, `${workload} is rendered`);
        return found;
    };
    return flows(pods)
        .filter((flow) => !admits(objects, pod(flow.from), pod(flow.to), flow.port))
        .map((flow) => `${flow.from} -> ${flow.to}:${flow.port} (${flow.why})`);
}

describe("network policies admit the pipeline's connections", () => {
    for (const stack of ["dev", "prod", "local"]) {
        it(`${stack}: every flow is admitted by the rendered NetworkPolicies`, async () => {
            assert.deepEqual(blocked((await renderStack(stack)).objects), []);
        });
    }

    for (const stack of ["dev", "prod", "local"]) {
        it(`${stack}: each service's own traffic is admitted`, async () => {
            assert.deepEqual(blocked((await renderStack(stack)).objects, internalFlows), []);
        });

        it(`${stack}: a pod of another namespace reaches none of Kafka, PostgreSQL, Spark, the driver or Redis`, async () => {
            const { objects } = await renderStack(stack);
            const pods = podsOf(objects);
            const open = guardedPorts(pods).filter(({ workload, port }) =>
                admits(
                    objects,
                    STRANGER,
                    pods.find((p) => p.workload === workload)!,
                    port,
                ),
            );
            assert.deepEqual(open, []);
        });
    }

    for (const stack of ["dev", "prod", "local"]) {
        it(`${stack}: Spark's executors cannot reach PostgreSQL: the sink writes from the driver only`, async () => {
            const { objects } = await renderStack(stack);
            const pods = podsOf(objects);
            const worker = pods.find((p) => p.workload === SPARK_WORKER)!;
            assert.ok(
                !admits(
                    objects,
                    worker,
                    pods.find((p) => p.workload === POSTGRESQL)!,
                    5432,
                ),
            );
        });

        it(`${stack}: a pod of another namespace with a legitimate client's labels reaches neither Kafka nor PostgreSQL`, async () => {
            const { objects } = await renderStack(stack);
            const pods = podsOf(objects);
            const pod = (workload: string) => pods.find((p) => p.workload === workload)!;
            const clients = pipelineFlows(pods).filter((flow) => flow.to === KAFKA || flow.to === POSTGRESQL);
            assert.ok(clients.length >= 4);
            // Same labels, another namespace: only a namespace selector beside the pod selector keeps it out.
            const impostors = clients.filter((flow) => admits(objects, { ...pod(flow.from), namespace: "default" }, pod(flow.to), flow.port));
            assert.deepEqual(
                impostors.map((flow) => `${flow.from} -> ${flow.to}:${flow.port}`),
                [],
            );
        });
    }

    it("Celery's broker and workers are reachable inside Airflow only", async () => {
        const { objects } = await renderStack("prod");
        assert.deepEqual(blocked(objects, internalFlows), []);
        const redis = podsOf(objects).find((p) => p.workload === "StatefulSet/airflow-redis-master")!;
        assert.ok(!admits(objects, STRANGER, redis, 6379));
    });

    it("sees an impostor when a policy admits its clients' labels from any namespace", async () => {
        const { objects } = await renderStack("dev");
        // What a reviewer once tried: the namespace selector of the DAG task's policy widened to every namespace.
        const widened = objects.map((o) =>
            o.kind === "NetworkPolicy" && o.metadata.name === "allow-airflow-tasks"
                ? {
                      ...o,
                      spec: {
                          ...o.spec,
                          ingress: o.spec.ingress.map((rule: any) => ({
                              ...rule,
                              from: rule.from.map((peer: any) => ({ ...peer, namespaceSelector: {} })),
                          })),
                      },
                  }
                : o,
        );
        const pods = podsOf(widened);
        const scheduler = pods.find((p) => p.workload === "StatefulSet/airflow-scheduler")!;
        assert.ok(
            !admits(
                objects,
                { ...scheduler, namespace: "default" },
                pods.find((p) => p.workload === KAFKA)!,
                9092,
            ),
        );
        assert.ok(
            admits(
                widened,
                { ...scheduler, namespace: "default" },
                pods.find((p) => p.workload === KAFKA)!,
                9092,
            ),
        );
    });

    it("sees a flow that no policy admits", async () => {
        const { objects } = await renderStack("dev");
        // Without the program's policy for the DAG's task, only the chart's (release-internal) policy is left.
        const closed = objects.filter((o) => !(o.kind === "NetworkPolicy" && o.metadata.name === "allow-airflow-tasks"));
        assert.deepEqual(blocked(closed), ["StatefulSet/airflow-scheduler -> StatefulSet/kafka-controller:9092 (the DAG's task produces ticks)"]);
    });
});
