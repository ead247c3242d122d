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
    const rpc = driverPort(pods, "driver");
    const blocks = driverPort(pods, "block-manager");
    return [
        ...runners.map((p) => ({ from: p.workload, to: KAFKA, port: 9092, why: "the DAG's task produces ticks" })),
        { from: DRIVER, to: KAFKA, port: 9092, why: "the driver reads offsets and metadata" },
        { from: SPARK_WORKER, to: KAFKA, port: 9092, why: "executors read the topic" },
        ...airflow.map((p) => ({ from: p.workload, to: POSTGRESQL, port: 5432, why: "Airflow's metadata database" })),
        { from: DRIVER, to: POSTGRESQL, port: 5432, why: "the sink upserts rows" },
        { from: schemaJob.workload, to: POSTGRESQL, port: 5432, why: "the schema Job creates databases and roles" },
        { from: SPARK_WORKER, to: POSTGRESQL, port: 5432, why: "executors write the rows of their partitions" },
        { from: DRIVER, to: SPARK_MASTER, port: 7077, why: "the driver registers the application" },
        { from: SPARK_WORKER, to: DRIVER, port: rpc, why: "executors register with the driver" },
        { from: SPARK_WORKER, to: DRIVER, port: blocks, why: "executors fetch broadcast blocks from the driver" },
        { from: DRIVER, to: SPARK_WORKER, port: blocks, why: "the driver fetches results from executors' block managers" },
        { from: SPARK_WORKER, to: SPARK_WORKER, port: blocks, why: "executors fetch shuffle blocks from each other" },
    ];
}

function blocked(objects: readonly Manifest[]): string[] {
    const pods = podsOf(objects);
    const pod = (workload: string) => {
        const found = pods.find((p) => p.workload === workload);
        assert.ok(found, `${workload} is rendered`);
        return found;
    };
    return pipelineFlows(pods)
        .filter((flow) => !admits(objects, pod(flow.from), pod(flow.to), flow.port))
        .map((flow) => `${flow.from} -> ${flow.to}:${flow.port} (${flow.why})`);
}

describe("network policies admit the pipeline's connections", () => {
    for (const stack of ["dev", "prod", "local"]) {
        it(`${stack}: every flow is admitted by the rendered NetworkPolicies`, async () => {
            assert.deepEqual(blocked((await renderStack(stack)).objects), []);
        });
    }

    it("sees a flow that a policy does not admit", async () => {
        const { objects } = await renderStack("dev");
        const closed = objects.map((o) =>
            o.kind === "NetworkPolicy" && o.metadata.name === "kafka-controller"
                ? { ...o, spec: { ...o.spec, ingress: [{ ports: [{ port: 9093 }] }] } }
                : o,
        );
        assert.ok(blocked(closed).some((flow) => flow.includes(`${KAFKA}:9092`)));
    });
});
