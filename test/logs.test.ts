import { strict as assert } from "assert";
import { StackRun, ofType, TEST_PROJECT, waitsFor } from "../offline/harness";
import { restrictedProblems } from "../offline/podSecurity";
import { findObject, podTemplate, renderStack } from "../offline/render";
import { evaluated, kubernetesObject } from "../offline/stackQueries";
import { AIRFLOW_SERVICE_ACCOUNT, AIRFLOW_TASK_LOG_DIR } from "../components/data/airflow";
import { GCS_CONNECTOR_JAR, SPARK_HISTORY_PORT } from "../components/data/sparkHistory";
import { LOG_BUCKET_ROLES, logBucketName, logServiceAccountEmail, sparkEventsMarkerArgs } from "../components/gcp/logBucket";
import { DRIVER_SERVICE_ACCOUNT } from "../components/pipeline/streamingJob";

const BUCKET = "gcp:storage/bucket:Bucket";
const BUCKET_IAM = "gcp:storage/bucketIAMMember:BucketIAMMember";
const ACCOUNT_IAM = "gcp:serviceaccount/iAMMember:IAMMember";
const ACCOUNT = "gcp:serviceaccount/account:Account";
const DEPLOYMENT = "kubernetes:apps/v1:Deployment";
const SERVICE_ACCOUNT = "kubernetes:core/v1:ServiceAccount";

const logBucket = (run: StackRun) => ofType(run, BUCKET).find((b) => b.name === "logs")!;
const envOf = (container: any): Record<string, any> => Object.fromEntries((container.env ?? []).map((e: any) => [e.name, e.value ?? e.valueFrom]));
const airflowValues = (run: StackRun) => ofType(run, "kubernetes:helm.sh/v3:Release").find((r) => r.inputs.chart?.includes("airflow"))!.inputs.values;
const airflowEnv = (run: StackRun) => Object.fromEntries(airflowValues(run).extraEnvVars.map((e: any) => [e.name, e.value]));
const driver = (run: StackRun) => kubernetesObject(run, DEPLOYMENT, "spark", "crypto-ticks-stream").inputs.spec.template.spec;
const driverContainer = (run: StackRun) => driver(run).containers.find((c: any) => c.name === "driver");
const history = (run: StackRun) => kubernetesObject(run, DEPLOYMENT, "spark", "spark-history").inputs.spec.template.spec;

describe("logs and UIs that outlive pods", () => {
    const runs: Record<string, StackRun> = {};
    before(async () => {
        for (const stack of ["dev", "prod", "local"]) {
            runs[stack] = await evaluated(stack);
        }
    });

    for (const stack of ["dev", "prod"]) {
        describe(stack, () => {
            it("a private log bucket with the retention of logRetentionDays", () => {
                const bucket = logBucket(runs[stack]);
                assert.ok(bucket, "the log bucket");
                assert.equal(bucket.inputs.uniformBucketLevelAccess, true);
                assert.equal(bucket.inputs.publicAccessPrevention, "enforced");
                assert.deepEqual(
                    bucket.inputs.lifecycleRules.map((r: any) => [r.action.type, r.condition.age]),
                    [["Delete", 30]],
                );
                // Cloud Storage applies a rule to an object whose name starts with one of matchesPrefix (none: every object).
                const expires = (object: string) =>
                    bucket.inputs.lifecycleRules.some((r: any) =>
                        (r.condition.matchesPrefixes ?? [""]).some((prefix: string) => object.startsWith(prefix)),
                    );
                for (const log of [
                    "airflow/dag_id=crypto_prices/run_id=manual__2026-12-01/task_id=fetch/attempt=1.log",
                    "spark-events/app-20261201093000-0000",
                    "spark-events/app-20261201093000-0001.zstd.inprogress",
                    "spark-events/eventlog_v2_app-20261201093000-0002/events_1_app-20261201093000-0002.zstd",
                    "spark-events/local-1764581400000",
                ]) {
                    assert.ok(expires(log), `${log} expires after logRetentionDays`);
                }
                assert.ok(!expires(sparkEventsMarkerArgs("bucket").name as string), "the spark-events/ marker never expires");
                assert.equal(bucket.protect, stack === "prod");
            });

            it("one Google account per reader or writer, each with one role on the log bucket alone, bound to its Kubernetes account", () => {
                const run = runs[stack];
                const bucket = logBucket(run).inputs.name;
                const accounts = ofType(run, ACCOUNT).filter((a) => a.name.startsWith("logs-"));
                assert.equal(accounts.length, 3);
                const grants = ofType(run, BUCKET_IAM).filter((g) => g.name.startsWith("logs-"));
                assert.deepEqual(
                    grants.map((g) => [g.inputs.bucket, g.inputs.role]).sort(),
                    Object.values(LOG_BUCKET_ROLES)
                        .map((role) => [bucket, role])
                        .sort(),
                );
                assert.ok(
                    grants.every((g) => !/admin$/i.test(g.inputs.role) || g.inputs.role === "roles/storage.objectAdmin"),
                    "no bucket or project admin",
                );
                const identities = ofType(run, ACCOUNT_IAM)
                    .filter((g) => g.name.startsWith("logs-"))
                    .map((g) => [g.inputs.role, g.inputs.member]);
                assert.deepEqual(
                    identities.sort(),
                    [
                        ["roles/iam.workloadIdentityUser", `serviceAccount:${TEST_PROJECT}.svc.id.goog[airflow/${AIRFLOW_SERVICE_ACCOUNT}]`],
                        ["roles/iam.workloadIdentityUser", `serviceAccount:${TEST_PROJECT}.svc.id.goog[spark/${DRIVER_SERVICE_ACCOUNT}]`],
                        ["roles/iam.workloadIdentityUser", `serviceAccount:${TEST_PROJECT}.svc.id.goog[spark/spark-history]`],
                    ].sort(),
                );
            });

            it("Airflow logs its tasks to the bucket through its annotated service account", () => {
                const run = runs[stack];
                const bucket = logBucket(run).inputs.name;
                const env = airflowEnv(run);
                assert.equal(env.AIRFLOW__LOGGING__REMOTE_LOGGING, "True");
                assert.equal(env.AIRFLOW__LOGGING__REMOTE_BASE_LOG_FOLDER, `gs://${bucket}/airflow`);
                assert.equal(env.AIRFLOW__LOGGING__REMOTE_LOG_CONN_ID, "google_cloud_default");
                assert.equal(env.AIRFLOW_CONN_GOOGLE_CLOUD_DEFAULT, "google-cloud-platform://");
                const sa = airflowValues(run).serviceAccount;
                assert.equal(sa.name, AIRFLOW_SERVICE_ACCOUNT);
                assert.equal(sa.automountServiceAccountToken, false);
                assert.match(sa.annotations["iam.gke.io/gcp-service-account"], /^airflow-logs-/);
            });

            it("the driver writes event logs to the bucket with the GCS connector on its classpath, as its own account", () => {
                const run = runs[stack];
                const bucket = logBucket(run).inputs.name;
                const env = envOf(driverContainer(run));
                assert.equal(env.EVENT_LOG_DIR, `gs://${bucket}/spark-events`);
                assert.equal(env.EVENT_LOG_CLASSPATH, GCS_CONNECTOR_JAR);
                assert.ok(driver(run).initContainers.some((c: any) => c.name === "fetch-gcs-connector"));
                assert.equal(driver(run).serviceAccountName, DRIVER_SERVICE_ACCOUNT);
                assert.equal(driver(run).automountServiceAccountToken, false);
                const sa = kubernetesObject(run, SERVICE_ACCOUNT, "spark", DRIVER_SERVICE_ACCOUNT).inputs;
                assert.match(sa.metadata.annotations["iam.gke.io/gcp-service-account"], /^spark-events-/);
            });

            it("the History Server reads the same location as the read-only account", () => {
                const run = runs[stack];
                const bucket = logBucket(run).inputs.name;
                const spec = history(run);
                const env = envOf(spec.containers[0]);
                assert.match(env.SPARK_HISTORY_OPTS, new RegExp(`-Dspark.history.fs.logDirectory=gs://${bucket}/spark-events( |$)`));
                assert.equal(env.SPARK_DAEMON_CLASSPATH, GCS_CONNECTOR_JAR);
                assert.doesNotMatch(env.SPARK_HISTORY_OPTS, /cleaner.enabled=true/, "its account may not delete");
                const sa = kubernetesObject(run, SERVICE_ACCOUNT, "spark", "spark-history").inputs;
                assert.match(sa.metadata.annotations["iam.gke.io/gcp-service-account"], /^spark-history-/);
                assert.equal(spec.serviceAccountName, "spark-history");
            });
        });
    }

    it("with projectSetup bootstrap, the program uses the bucket and accounts bootstrap/ would make, by name", async () => {
        const run = await evaluated("dev", { projectSetup: "bootstrap" } as any);
        assert.equal(logBucket(run), undefined);
        assert.equal(airflowEnv(run).AIRFLOW__LOGGING__REMOTE_BASE_LOG_FOLDER, `gs://${logBucketName(TEST_PROJECT, "dev")}/airflow`);
        assert.equal(
            airflowValues(run).serviceAccount.annotations["iam.gke.io/gcp-service-account"],
            logServiceAccountEmail("airflow", TEST_PROJECT, "dev"),
        );
        assert.equal(run.outputs.logBucket, logBucketName(TEST_PROJECT, "dev"));
    });

    it("logRetentionDays sets the bucket's lifecycle", async () => {
        const run = await evaluated("dev", { logRetentionDays: 7 });
        assert.deepEqual(
            logBucket(run).inputs.lifecycleRules.map((r: any) => r.condition.age),
            [7],
        );
    });

    describe("local", () => {
        it("no Google Cloud resource at all", () => {
            assert.deepEqual(
                runs.local.resources.filter((r) => r.type.startsWith("gcp:")).map((r) => r.type),
                [],
            );
            assert.equal(runs.local.outputs.logBucket, undefined);
        });

        it("Airflow keeps task logs on a claim every pod mounts", () => {
            const run = runs.local;
            const values = airflowValues(run);
            assert.equal(airflowEnv(run).AIRFLOW__LOGGING__REMOTE_LOGGING, undefined);
            assert.equal(airflowEnv(run).AIRFLOW__LOGGING__BASE_LOG_FOLDER, AIRFLOW_TASK_LOG_DIR);
            const claim = kubernetesObject(run, "kubernetes:core/v1:PersistentVolumeClaim", "airflow", "airflow-task-logs").inputs;
            assert.equal(claim.spec.resources.requests.storage, "2Gi");
            assert.deepEqual(values.extraVolumes.find((v: any) => v.name === "task-logs").persistentVolumeClaim, { claimName: "airflow-task-logs" });
            assert.equal(values.extraVolumeMounts.find((m: any) => m.name === "task-logs").mountPath, AIRFLOW_TASK_LOG_DIR);
            assert.deepEqual(values.serviceAccount.annotations, {});
        });

        it("driver and History Server share the event log claim, on the same node", () => {
            const run = runs.local;
            const env = envOf(driverContainer(run));
            assert.equal(env.EVENT_LOG_DIR, "file:/spark-events");
            assert.equal(env.EVENT_LOG_CLASSPATH, undefined);
            const claimOf = (spec: any) => spec.volumes.find((v: any) => v.name === "events").persistentVolumeClaim.claimName;
            assert.equal(claimOf(driver(run)), "spark-events");
            assert.equal(claimOf(history(run)), "spark-events");
            const spec = history(run);
            assert.match(envOf(spec.containers[0]).SPARK_HISTORY_OPTS, /logDirectory=file:\/spark-events .*cleaner.maxAge=30d/);
            const [term] = spec.affinity.podAffinity.requiredDuringSchedulingIgnoredDuringExecution;
            assert.deepEqual(term, { labelSelector: { matchLabels: { app: "crypto-ticks-stream" } }, topologyKey: "kubernetes.io/hostname" });
        });

        it("pulumi up does not wait for the History Server, whose pod cannot schedule before the driver's", () => {
            const run = runs.local;
            const historyDeployment = kubernetesObject(run, DEPLOYMENT, "spark", "spark-history");
            const job = kubernetesObject(run, DEPLOYMENT, "spark", "crypto-ticks-stream");
            // Nothing orders the two: awaited, the History Server could time the update out before the driver exists.
            assert.ok(!waitsFor(run, historyDeployment, job));
            assert.equal(historyDeployment.inputs.metadata.annotations?.["pulumi.com/skipAwait"], "true");
            // On Cloud Storage the History Server stands alone, and an update waits for it as for any Deployment.
            assert.equal(kubernetesObject(runs.dev, DEPLOYMENT, "spark", "spark-history").inputs.metadata.annotations, undefined);
        });
    });

    for (const stack of ["dev", "local"]) {
        it(`${stack}: the rendered History Server is restricted, on the on-demand pool, behind the Service the output names`, async () => {
            const { run, objects } = await renderStack(stack);
            const deployment = findObject(objects, "Deployment", "spark", "spark-history");
            assert.deepEqual(restrictedProblems(podTemplate(deployment).spec), []);
            const service = findObject(objects, "Service", "spark", "spark-history");
            assert.equal(service.spec.ports[0].port, SPARK_HISTORY_PORT);
            assert.deepEqual(service.spec.selector, podTemplate(deployment).metadata.labels);
            const ui = run.outputs.sparkHistoryUi as { inClusterUrl: string; portForwardCommand: string };
            assert.equal(ui.inClusterUrl, `http://spark-history.spark.svc.cluster.local:${SPARK_HISTORY_PORT}`);
            assert.equal(ui.portForwardCommand, `kubectl -n spark port-forward svc/spark-history 18080:${SPARK_HISTORY_PORT}`);
        });
    }
});
