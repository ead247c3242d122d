import { strict as assert } from "assert";
import * as fs from "fs";
import * as os from "os";
import * as path from "path";
import { CHART_VERSIONS, chartImage, mergeValues } from "../components/data";
import { dagFiles } from "../components/pipeline";
import { loadChartReference } from "../offline/chartReference";
import { ofType, PROJECT_ROOT, StackRun, TEST_PROJECT, waitsFor } from "../offline/harness";
import { evaluated, evaluatedWithChangedFile, kubernetesObject, release, secretNamed, values } from "../offline/stackQueries";
import { TYPES } from "../offline/resourceTypes";

const DEPLOYMENT = TYPES.deployment;
const PVC = TYPES.persistentVolumeClaim;
const IMAGE = TYPES.image;
const PIPELINE = path.join(PROJECT_ROOT, "pipeline");
const JOB_FILES = ["run-job.sh", "stream_ticks.py", "tick_sink.py", "job_metrics.py", "schema.sql", "packages.txt"];
const DAG_ROLLING_COMPONENTS = ["web", "scheduler", "dagProcessor", "triggerer"];

const repoFile = (...parts: string[]) => fs.readFileSync(path.join(PIPELINE, ...parts), "utf8");
const dagsConfigMap = (run: StackRun) => kubernetesObject(run, TYPES.configMap, "airflow", values(run, "airflow").dags.existingConfigmap);
const streamingJob = (run: StackRun) => kubernetesObject(run, DEPLOYMENT, "spark", "crypto-ticks-stream");
const driver = (run: StackRun) => streamingJob(run).inputs.spec.template.spec.containers[0];
const envOf = (container: any): Record<string, any> => Object.fromEntries(container.env.map((e: any) => [e.name, e.value ?? e.valueFrom]));
const airflowEnv = (run: StackRun): Record<string, string> =>
    Object.fromEntries(values(run, "airflow").extraEnvVars.map((e: any) => [e.name, e.value]));
const dagAnnotations = (run: StackRun) =>
    DAG_ROLLING_COMPONENTS.map((component) => values(run, "airflow")[component].podAnnotations["streaming-platform/dags"]);

/** Evaluates a stack as if `file` under pipeline/ had other contents, leaving the repository untouched. */
const withChangedFile = (file: string, stack: string) => evaluatedWithChangedFile(path.join(PIPELINE, file), "\n# changed by a test\n", stack);

describe("pipeline on the platform", () => {
    const runs: Record<string, StackRun> = {};
    before(async () => {
        runs.dev = await evaluated("dev");
        runs.prod = await evaluated("prod");
        runs.local = await evaluated("local");
        runs.devWithoutBuild = await evaluated("dev", {
            buildImages: false,
            cryptoSymbols: ["bitcoin", "solana"],
            streamTriggerInterval: "10 seconds",
        });
    });

    describe("DAGs reach Airflow through a ConfigMap the program builds", () => {
        it("holds exactly the DAG files of the repository and is what the release mounts", () => {
            for (const run of Object.values(runs)) {
                const airflow = values(run, "airflow");
                assert.equal(airflow.dags.enabled, true);
                const configMap = dagsConfigMap(run);
                assert.deepEqual(configMap.inputs.data, {
                    "crypto_prices_dag.py": repoFile("dags", "crypto_prices_dag.py"),
                    "crypto_ticks.py": repoFile("dags", "crypto_ticks.py"),
                });
                assert.ok(waitsFor(run, release(run, "airflow"), configMap), "pods would start without their DAGs");
            }
        });

        it("ships a second DAG dropped into the dags folder, but no bytecode cache or dotfile", () => {
            // A copy of pipeline/dags: the repository itself stays untouched while other tests read it.
            const dags = fs.mkdtempSync(path.join(os.tmpdir(), "dags-"));
            fs.cpSync(path.join(PIPELINE, "dags"), dags, { recursive: true });
            fs.writeFileSync(path.join(dags, "second_dag.py"), "# a second DAG\n");
            fs.mkdirSync(path.join(dags, "__pycache__"), { recursive: true });
            fs.writeFileSync(path.join(dags, "__pycache__", "crypto_ticks.cpython-312.pyc"), "bytecode");
            try {
                assert.deepEqual(Object.keys(dagFiles(dags)).sort(), ["crypto_prices_dag.py", "crypto_ticks.py", "second_dag.py"]);
                assert.deepEqual(dagFiles(), dagsConfigMap(runs.local).inputs.data, "the ConfigMap is what dagFiles reads");
            } finally {
                fs.rmSync(dags, { recursive: true, force: true });
            }
        });

        it("rolls every Airflow component that parses DAGs when a DAG file changes, and nothing else", async () => {
            const changedDag = await withChangedFile("dags/crypto_ticks.py", "prod");
            assert.notDeepEqual(dagsConfigMap(changedDag).inputs.data, dagsConfigMap(runs.prod).inputs.data);
            const before = dagAnnotations(runs.prod);
            const after = dagAnnotations(changedDag);
            before.forEach((annotation, i) => {
                assert.match(annotation, /^[0-9a-f]{16}$/);
                assert.notEqual(after[i], annotation, `${DAG_ROLLING_COMPONENTS[i]} keeps running the old DAG`);
            });
            // Celery workers run the tasks, so they import the DAG module too.
            assert.notEqual(
                values(changedDag, "airflow").worker.podAnnotations["streaming-platform/dags"],
                values(runs.prod, "airflow").worker.podAnnotations["streaming-platform/dags"],
            );
            const unrelated = await withChangedFile("spark/stream_ticks.py", "prod");
            assert.deepEqual(dagAnnotations(unrelated), before, "a change outside the DAGs must not restart Airflow");
        });

        it("hands the DAG its source, symbols and Kafka client settings, with the SASL password only in a Secret", () => {
            const run = runs.devWithoutBuild;
            const env = airflowEnv(run);
            assert.equal(env.CRYPTO_SYMBOLS, "bitcoin,solana");
            assert.equal(env.KAFKA_BOOTSTRAP_SERVERS, "kafka.kafka.svc.cluster.local:9092");
            assert.equal(env.KAFKA_TOPIC, "crypto-ticks");
            assert.equal(env.KAFKA_SASL_USERNAME, "producer");
            assert.equal(env.KAFKA_SECURITY_PROTOCOL, "SASL_SSL");
            assert.match(env.KAFKA_SASL_MECHANISM, /^SCRAM-SHA-(256|512)$/);
            assert.equal(env.CRYPTO_POLL_SCHEDULE, "*/1 * * * *");
            const secret = secretNamed(run, "airflow", values(run, "airflow").extraEnvVarsSecret);
            assert.ok(secret.secretInputs.has("stringData"));
            const kafkaSasl = secretNamed(run, "kafka", values(run, "kafka").sasl.existingSecret);
            const kafkaTls = secretNamed(run, "kafka", values(run, "kafka").tls.existingSecret);
            assert.deepEqual(secret.inputs.stringData, {
                KAFKA_SASL_PASSWORD: kafkaSasl.inputs.stringData["producer-password"],
                KAFKA_SSL_CA_PEM: kafkaTls.inputs.stringData["ca.crt"],
            });
            assert.ok(!JSON.stringify(values(run, "airflow")).includes(secret.inputs.stringData.KAFKA_SASL_PASSWORD));
        });

        it("installs the DAG's pinned requirements through the chart's mount when no image is built", () => {
            for (const run of [runs.local, runs.devWithoutBuild]) {
                const airflow = values(run, "airflow");
                assert.equal(airflow.image.repository, "bitnamilegacy/airflow", "the chart's own image");
                const mount = airflow.extraVolumeMounts.find((m: any) => m.mountPath === "/bitnami/python/requirements.txt");
                assert.ok(mount, "the Bitnami image pip-installs /bitnami/python/requirements.txt at start");
                const volume = airflow.extraVolumes.find((v: any) => v.name === mount.name);
                const configMap = kubernetesObject(run, TYPES.configMap, "airflow", volume.configMap.name);
                assert.match(configMap.inputs.data[mount.subPath], /^confluent-kafka==\d+\.\d+\.\d+$/m, "requirements are pinned");
                // The Cloud Storage task log handler's provider, where logs go there: without it Airflow fails at start.
                const remoteLogs = JSON.stringify(airflow).includes('{"name":"AIRFLOW__LOGGING__REMOTE_LOGGING","value":"True"}');
                assert.equal(remoteLogs, run === runs.devWithoutBuild);
                assert.equal(
                    configMap.inputs.data[mount.subPath],
                    repoFile("requirements-airflow.txt") + (remoteLogs ? repoFile("requirements-airflow-gcs.txt") : ""),
                );
                assert.equal(/^apache-airflow-providers-google==\d+\.\d+\.\d+$/m.test(configMap.inputs.data[mount.subPath]), remoteLogs);
            }
            const builtMounts: any[] = values(runs.dev, "airflow").extraVolumeMounts ?? [];
            assert.ok(!builtMounts.some((m) => m.mountPath === "/bitnami/python/requirements.txt"), "the built image already has them");
        });
    });

    describe("images built with Docker and pushed to Artifact Registry", () => {
        const images = (run: StackRun) => Object.fromEntries(ofType(run, IMAGE).map((i) => [i.name, i]));
        /** The repositories the pipeline's images go to (beside them, a GKE stack's own copy of the Bitnami images). */
        const pipelineRepositories = (run: StackRun) => ofType(run, TYPES.repository).filter((r) => r.inputs.repositoryId.startsWith("pipeline-"));

        it("builds both images for linux/amd64 on the pinned chart images into a private repository", () => {
            for (const run of [runs.dev, runs.prod]) {
                const repositories = pipelineRepositories(run);
                assert.equal(repositories.length, 1);
                const repo = repositories[0];
                assert.equal(repo.inputs.format, "DOCKER");
                assert.equal(repo.inputs.location, "us-central1");
                const built = images(run);
                assert.deepEqual(Object.keys(built).sort(), ["airflow-pipeline", "spark-job"]);
                const registry = `us-central1-docker.pkg.dev/${TEST_PROJECT}/${repo.inputs.repositoryId}`;
                for (const [name, image] of Object.entries(built)) {
                    assert.match(image.inputs.imageName, new RegExp(`^${registry}/${name}:[0-9a-f]{16}$`));
                    assert.equal(image.inputs.build.platform, "linux/amd64", "GKE nodes are amd64");
                    assert.ok(fs.existsSync(image.inputs.build.dockerfile), image.inputs.build.dockerfile);
                    assert.equal(image.inputs.registry.username, "oauth2accesstoken");
                    assert.ok(waitsFor(run, image, repo));
                }
                // On the images the charts run, from the registry the stack pulls them from.
                assert.equal(built["airflow-pipeline"].inputs.build.args.BASE_IMAGE, chartImage("airflow", String(run.outputs.imageRegistry)));
                assert.equal(built["spark-job"].inputs.build.args.BASE_IMAGE, chartImage("spark", String(run.outputs.imageRegistry)));
            }
        });

        it("tags an image by the files it is built from, so a code change pushes a new image", async () => {
            const tag = (run: StackRun, name: string) => images(run)[name].inputs.imageName.split(":").pop();
            const changedJob = await withChangedFile("spark/tick_sink.py", "dev");
            assert.notEqual(tag(changedJob, "spark-job"), tag(runs.dev, "spark-job"));
            assert.equal(tag(changedJob, "airflow-pipeline"), tag(runs.dev, "airflow-pipeline"));
        });

        it("runs Airflow and the job from what was pushed, by digest", () => {
            const run = runs.dev;
            const built = images(run);
            const airflowImage = values(run, "airflow").image;
            assert.equal(
                `${airflowImage.registry}/${airflowImage.repository}`,
                built["airflow-pipeline"].inputs.imageName.replace(/:[0-9a-f]{16}$/, ""),
            );
            assert.match(airflowImage.digest, /^sha256:[0-9a-f]{64}$/);
            assert.ok(waitsFor(run, release(run, "airflow"), built["airflow-pipeline"]));
            const job = driver(run);
            assert.match(job.image, new RegExp(`^${built["spark-job"].inputs.imageName.replace(/:[0-9a-f]{16}$/, "")}@sha256:[0-9a-f]{64}$`));
            assert.ok(waitsFor(run, streamingJob(run), built["spark-job"]));
            assert.deepEqual(run.outputs.pipelineImages, {
                airflow: `${airflowImage.registry}/${airflowImage.repository}@${airflowImage.digest}`,
                sparkJob: job.image,
            });
        });

        it("builds nothing when switched off or on a kubeconfig target", () => {
            for (const run of [runs.local, runs.devWithoutBuild]) {
                assert.equal(ofType(run, IMAGE).length, 0);
                assert.deepEqual(pipelineRepositories(run), []);
                assert.equal(run.outputs.pipelineImages, undefined);
            }
        });
    });

    describe("the Spark Structured Streaming job", () => {
        it("runs one driver at a time in client mode against the standalone master", () => {
            for (const run of Object.values(runs)) {
                const deployment = streamingJob(run).inputs.spec;
                assert.equal(deployment.replicas, 1);
                assert.equal(deployment.strategy.type, "Recreate", "two drivers would share one checkpoint");
                const env = envOf(driver(run));
                assert.equal(env.SPARK_MASTER_URL, "spark://spark-master-svc.spark.svc.cluster.local:7077");
                assert.deepEqual(env.POD_IP, { fieldRef: { fieldPath: "status.podIP" } }, "executors connect back to the pod IP");
                const ports = Object.fromEntries(driver(run).ports.map((p: any) => [p.name, p.containerPort]));
                assert.deepEqual(ports, {
                    driver: Number(env.SPARK_DRIVER_PORT),
                    "block-manager": Number(env.SPARK_BLOCKMANAGER_PORT),
                    ui: 4040,
                    metrics: Number(env.JOB_METRICS_PORT),
                });
                // Args, not command: the image's entrypoint must run first (test/sparkRuntime.test.ts).
                assert.equal(driver(run).command, undefined);
                assert.deepEqual(driver(run).args, ["bash", "/opt/pipeline/run-job.sh"]);
            }
        });

        it("is Ready only while its streaming query is active: job_metrics' /ready on the metrics port", () => {
            // pipeline/tests/test_job_metrics.py holds /ready to the query's state; engines/spark.py waits on this probe.
            for (const run of Object.values(runs)) {
                const probe = driver(run).readinessProbe;
                assert.deepEqual(probe?.httpGet, { path: "/ready", port: "metrics" });
                assert.ok(driver(run).ports.some((p: any) => p.name === "metrics"));
            }
        });

        it("lets executors on the workers reach the driver through the Spark chart's NetworkPolicy", () => {
            const chart = loadChartReference("spark", CHART_VERSIONS.spark).values as any;
            const worker = (mergeValues(chart, values(runs.prod, "spark")) as any).worker.networkPolicy;
            assert.ok(!worker.enabled || worker.allowExternalEgress, "workers may not open connections to the driver pod");
        });

        it("reads Kafka and writes PostgreSQL as the pipeline users, with passwords only in its Secret", () => {
            const run = runs.devWithoutBuild;
            const env = envOf(driver(run));
            assert.equal(env.KAFKA_SASL_USERNAME, "consumer");
            assert.equal(env.KAFKA_SECURITY_PROTOCOL, "SASL_SSL");
            assert.equal(env.KAFKA_GROUP_ID_PREFIX, "crypto-ticks-stream");
            assert.equal(env.POSTGRES_HOST, "postgresql-primary.postgresql.svc.cluster.local");
            assert.equal(env.POSTGRES_DB, "pipeline");
            assert.equal(env.POSTGRES_USER, "pipeline");
            assert.equal(env.TICKS_TABLE, "crypto_ticks");
            assert.equal(env.TRIGGER_INTERVAL, "10 seconds");
            const [secretRef] = driver(run).envFrom;
            const secret = secretNamed(run, "spark", secretRef.secretRef.name);
            assert.ok(secret.secretInputs.has("stringData"));
            const data = secret.inputs.stringData;
            assert.deepEqual(Object.keys(data).sort(), ["KAFKA_SASL_PASSWORD", "KAFKA_SSL_CA_PEM", "POSTGRES_PASSWORD", "SPARK_AUTHENTICATE_SECRET"]);
            assert.equal(data.KAFKA_SASL_PASSWORD, secretNamed(run, "kafka", "kafka-sasl").inputs.stringData["consumer-password"]);
            const init = Object.values<string>(
                secretNamed(run, "postgresql", values(run, "postgresql").primary.initdb.scriptsSecret).inputs.stringData,
            )[0];
            assert.equal(data.POSTGRES_PASSWORD, /\\set db pipeline\n\\set owner pipeline\n\\set password (\w+)/.exec(init)![1]);
            const spark = values(run, "spark");
            assert.equal(
                data.SPARK_AUTHENTICATE_SECRET,
                secretNamed(run, "spark", spark.security.passwordsSecretName).inputs.stringData["rpc-authentication-secret"],
            );
            const plain = JSON.stringify(streamingJob(run).inputs);
            for (const password of Object.values<string>(data)) {
                assert.ok(!plain.includes(password), "a password in the Deployment spec");
            }
        });

        it("checkpoints on its own volume, sized from config", () => {
            const run = runs.dev;
            const pod = streamingJob(run).inputs.spec.template.spec;
            const volume = pod.volumes.find((v: any) => v.persistentVolumeClaim);
            const claim = kubernetesObject(run, PVC, "spark", volume.persistentVolumeClaim.claimName);
            assert.equal(claim.inputs.spec.resources.requests.storage, "1Gi");
            const mount = driver(run).volumeMounts.find((m: any) => m.name === volume.name);
            assert.ok(envOf(driver(run)).CHECKPOINT_DIR.startsWith(`${mount.mountPath}/`));
        });

        it("starts after its topic, database and master exist", () => {
            const run = runs.dev;
            for (const chart of ["kafka", "postgresql", "spark"] as const) {
                assert.ok(waitsFor(run, streamingJob(run), release(run, chart)), chart);
            }
        });

        it("without a built image, mounts the job's code and resolves the Kafka connector for Spark 4.0 / Scala 2.13 at start", () => {
            for (const run of [runs.local, runs.devWithoutBuild]) {
                const pod = streamingJob(run).inputs.spec.template.spec;
                assert.equal(driver(run).image, chartImage("spark", String(run.outputs.imageRegistry)));
                const codeVolume = pod.volumes.find((v: any) => v.name === "code");
                const code = kubernetesObject(run, TYPES.configMap, "spark", codeVolume.configMap.name);
                assert.deepEqual(code.inputs.data, {
                    ...Object.fromEntries(JOB_FILES.map((f) => [f, repoFile("spark", f)])),
                    "requirements-spark.txt": repoFile("requirements-spark.txt"),
                });
                assert.equal(driver(run).volumeMounts.find((m: any) => m.name === codeVolume.name).mountPath, "/opt/pipeline");
                const packages = envOf(driver(run)).SPARK_PACKAGES.split(",");
                assert.ok(packages.includes("org.apache.spark:spark-sql-kafka-0-10_2.13:4.0.0"), packages.join());
                const install = pod.initContainers.find((c: any) => c.name === "install-python-deps");
                assert.match(install.args.join(" "), /-r "\/opt\/pipeline\/requirements-spark\.txt"/);
                // Installed into the cache on the checkpoint's claim (test/driverInstallCache.test.ts runs the install script).
                const { INSTALL_CACHE, INSTALL_KEY } = envOf(install);
                assert.equal(envOf(driver(run)).PYTHONPATH, `${INSTALL_CACHE}/${INSTALL_KEY}/python`);
            }
            const built = streamingJob(runs.dev).inputs.spec.template.spec;
            assert.deepEqual(
                built.initContainers.map((c: any) => c.name),
                ["fetch-gcs-connector"],
                "nothing to install with a built image: only the Cloud Storage connector for the event log",
            );
            assert.equal(envOf(driver(runs.dev)).SPARK_PACKAGES, undefined, "the built image carries the jars");
        });

        it("restarts the driver when mounted job code changes", async () => {
            const annotation = (run: StackRun) => streamingJob(run).inputs.spec.template.metadata.annotations["streaming-platform/code"];
            const changed = await withChangedFile("spark/stream_ticks.py", "local");
            assert.notEqual(annotation(changed), annotation(runs.local));
        });

        it("tells how to follow its logs", () => {
            assert.equal(runs.dev.outputs.streamingJobLogsCommand, "kubectl -n spark logs deploy/crypto-ticks-stream -f");
        });
    });
});
