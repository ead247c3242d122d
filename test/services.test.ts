import { strict as assert } from "assert";
import { BITNAMI_CHART_REPOSITORY, CHART_VERSIONS, ChartName, HelmValues } from "../components/data";
import { imageRefs, loadChartReference, unknownKeys } from "../offline/chartReference";
import { ConfigOverrides, byUrn, ofType, StackRun, waitsFor, RecordedResource } from "../offline/harness";
import { evaluated, release, secretNamed, values } from "../offline/stackQueries";
import { ofKind, renderStack, STACK_VARIANTS } from "../offline/render";
import { TYPES } from "../offline/resourceTypes";

const CHARTS = Object.keys(CHART_VERSIONS) as ChartName[];

/** The pipeline image built to replace a chart's image, if the stack builds one. */
function builtOn(run: StackRun, chart: ChartName, imagePath: string): RecordedResource | undefined {
    return chart === "airflow" && imagePath === "image" ? ofType(run, TYPES.image).find((image) => image.name === "airflow-pipeline") : undefined;
}

describe("data services", () => {
    const runs: Record<string, StackRun> = {};
    const variants: Record<string, [string, ConfigOverrides]> = {
        dev: ["dev", {}],
        prod: ["prod", {}],
        loadBalancedUis: ["dev", { uiExposure: "LoadBalancer", uiSourceRanges: ["203.0.113.0/24"] }],
    };
    before(async () => {
        for (const [variant, [stack, overrides]] of Object.entries(variants)) {
            runs[variant] = await evaluated(stack, overrides);
        }
    });

    describe("every release", () => {
        for (const variant of Object.keys(variants)) {
            it(`${variant}: installs the pinned chart from Bitnami's OCI registry into its own namespace`, () => {
                const run = runs[variant];
                for (const chart of CHARTS) {
                    const r = release(run, chart);
                    assert.equal(r.inputs.chart, `${BITNAMI_CHART_REPOSITORY}/${chart}`);
                    assert.equal(r.inputs.version, loadChartReference(chart, CHART_VERSIONS[chart]).version);
                    assert.equal(r.inputs.name, chart, "a fixed release name keeps service names stable");
                    const namespace = ofType(run, TYPES.namespace).find((n) => n.inputs.metadata.name === r.inputs.namespace);
                    assert.ok(namespace, `${chart} installs into a namespace we do not create`);
                    assert.ok(waitsFor(run, r, namespace), `${chart} does not wait for its namespace`);
                }
            });

            it(`${variant}: sets only keys that exist in each chart version`, () => {
                for (const chart of CHARTS) {
                    const reference = loadChartReference(chart, CHART_VERSIONS[chart]);
                    assert.deepEqual(unknownKeys(values(runs[variant], chart), reference), [], chart);
                }
            });

            it(`${variant}: pulls every image, subcharts included, from bitnamilegacy with the chart's own tag`, () => {
                for (const chart of CHARTS) {
                    const reference = loadChartReference(chart, CHART_VERSIONS[chart]);
                    const ours = values(runs[variant], chart);
                    assert.equal(ours.global.security.allowInsecureImages, true, chart);
                    const theirs = [
                        ...imageRefs(reference.values),
                        ...[...reference.subcharts].flatMap(([name, sub]) => imageRefs(sub.values, [name])),
                    ];
                    assert.ok(theirs.length > 0);
                    const mine = new Map(imageRefs(ours).map((ref) => [ref.path, ref]));
                    for (const image of theirs) {
                        const override = mine.get(image.path);
                        assert.ok(override, `${chart}: image ${image.path} is not overridden`);
                        const built = builtOn(runs[variant], chart, image.path);
                        if (built) {
                            // Our own image, by digest, built on exactly the legacy image the chart would run.
                            const [base, baseDigest] = built.inputs.build.args.BASE_IMAGE.split("@");
                            assert.equal(
                                base,
                                `${runs[variant].outputs.imageRegistry}/${image.repository.replace(/^bitnami\//, "bitnamilegacy/")}:${image.tag}`,
                            );
                            assert.match(baseDigest, /^sha256:[0-9a-f]{64}$/);
                            assert.equal(`${override.registry}/${override.repository}`, built.inputs.imageName.replace(/:[^:/]+$/, ""));
                            assert.match(String(ours.image.digest), /^sha256:[0-9a-f]{64}$/);
                            continue;
                        }
                        assert.equal(override.repository, image.repository.replace(/^bitnami\//, "bitnamilegacy/"), `${chart} ${image.path}`);
                        assert.equal(override.tag, image.tag, `${chart} ${image.path}`);
                        assert.equal(override.registry, runs[variant].outputs.imageRegistry, `${chart} ${image.path}`);
                    }
                    // Without their locked digests: each names the image by its tag too.
                    const bases = ofType(runs[variant], TYPES.image).map((image) => image.inputs.build.args.BASE_IMAGE.split("@")[0]);
                    for (const declared of reference.declaredImages) {
                        const [, name, tag] = /^docker\.io\/bitnami\/([^:]+):(.+)$/.exec(declared.image)!;
                        const inValues = imageRefs(ours).some((ref) => ref.repository === `bitnamilegacy/${name}` && ref.tag === tag);
                        assert.ok(
                            inValues || bases.includes(`${runs[variant].outputs.imageRegistry}/bitnamilegacy/${name}:${tag}`),
                            `${chart}: ${declared.image}`,
                        );
                    }
                }
            });

            it(`${variant}: lets no generated secret reach Helm values, ConfigMaps or plain outputs`, () => {
                const run = runs[variant];
                const generated = run.generated.flatMap((value) => [value, value.replace(/\+/g, "-").replace(/\//g, "_").replace(/=+$/, "")]);
                assert.ok(generated.length > 10);
                const exposed = run.resources.filter((r) => r.type !== TYPES.secret && !r.type.startsWith("random:"));
                for (const resource of exposed) {
                    const text = JSON.stringify(resource.inputs);
                    for (const value of generated) {
                        assert.ok(!text.includes(value), `${resource.type} ${resource.name} carries a generated value in its inputs`);
                    }
                }
                for (const [key, output] of Object.entries(run.outputs)) {
                    if (!run.secretOutputs.has(key)) {
                        const text = JSON.stringify(output ?? null);
                        assert.ok(
                            generated.every((value) => !text.includes(value)),
                            `output ${key} is a plain generated value`,
                        );
                    }
                }
                for (const secret of ofType(run, TYPES.secret)) {
                    assert.ok(secret.secretInputs.has("stringData"), `Secret ${secret.name} data is not marked secret`);
                }
            });

            it(`${variant}: installs after the node pool and only after what each release needs`, () => {
                const run = runs[variant];
                const releases = Object.fromEntries(CHARTS.map((chart) => [chart, release(run, chart)]));
                for (const r of Object.values(releases)) {
                    for (const pool of ofType(run, TYPES.nodePool)) {
                        assert.ok(waitsFor(run, r, pool), `${r.name} may install before ${pool.name} exists`);
                    }
                }
                assert.ok(waitsFor(run, releases.airflow, releases.postgresql), "Airflow must start after PostgreSQL is ready");
                for (const [a, b] of [
                    ["kafka", "postgresql"],
                    ["kafka", "spark"],
                    ["spark", "postgresql"],
                    ["postgresql", "airflow"],
                    ["kafka", "airflow"],
                ] as const) {
                    assert.ok(!waitsFor(run, releases[a], releases[b]), `${a} needlessly waits for ${b}`);
                }
            });
        }
    });

    describe("the key checker itself", () => {
        it("flags a misspelt key, a map where the chart has a scalar, and accepts free-form maps", () => {
            const reference = loadChartReference("postgresql", CHART_VERSIONS.postgresql);
            const problems = unknownKeys(
                {
                    primary: { persistance: { size: "1Gi" }, podLabels: { anything: "goes" } },
                    architecture: { mode: "standalone" },
                } as HelmValues,
                reference,
            );
            assert.deepEqual(problems, [
                "primary.persistance is not a value of postgresql 16.7.27",
                "architecture is a map here but string in postgresql 16.7.27",
            ]);
        });
    });

    describe("Kafka", () => {
        it("runs KRaft only: combined controller+broker nodes, 1 in dev and 3 in prod", () => {
            for (const [stack, replicas] of [
                ["dev", 1],
                ["prod", 3],
            ] as const) {
                const kafka = values(runs[stack], "kafka");
                assert.equal(kafka.zookeeper, undefined);
                assert.equal(kafka.controller.controllerOnly, false);
                assert.equal(kafka.controller.replicaCount, replicas);
                assert.equal(kafka.broker.replicaCount, 0);
            }
        });

        it("keeps the cluster id and controller directory ids in state, one per controller", () => {
            const run = runs.prod;
            const kafka = values(run, "kafka");
            assert.equal(kafka.clusterId, undefined, "a cluster id in values would be regenerated by the chart");
            const secret = secretNamed(run, "kafka", kafka.existingKraftSecret);
            assert.deepEqual(Object.keys(secret.inputs.stringData).sort(), ["cluster-id", "controller-0-id", "controller-1-id", "controller-2-id"]);
            for (const id of Object.values<string>(secret.inputs.stringData)) {
                assert.match(id, /^[A-Za-z0-9_-]{22}$/, "KRaft ids are base64url UUIDs");
            }
            const randomIds = ofType(run, TYPES.randomBytes).filter((r) => r.name.startsWith("kafka-"));
            assert.equal(randomIds.length, 4);
            assert.ok(randomIds.every((r) => r.inputs.length === 16));
        });

        it("authenticates and encrypts every listener and gives each client its own SCRAM user (test/kafkaSecurity.test.ts: ACLs, TLS)", () => {
            const run = runs.dev;
            const kafka = values(run, "kafka");
            for (const listener of ["client", "controller", "interbroker"]) {
                assert.equal(kafka.listeners[listener].protocol, "SASL_SSL", listener);
            }
            assert.match(kafka.sasl.enabledMechanisms, /SCRAM-SHA-512/);
            assert.deepEqual(kafka.sasl.client.users, ["topic-admin", "producer", "consumer"]);
            const secret = secretNamed(run, "kafka", kafka.sasl.existingSecret);
            assert.deepEqual(Object.keys(secret.inputs.stringData).sort(), [
                "admin-password",
                "client-passwords",
                "consumer-password",
                "controller-password",
                "inter-broker-password",
                "producer-password",
                "system-user-password",
            ]);
            const passwords = secret.inputs.stringData;
            assert.equal(new Set([passwords["client-passwords"], passwords["controller-password"], passwords["inter-broker-password"]]).size, 3);
        });

        it("provisions the pipeline topic with partitions and replication per environment", () => {
            const dev = values(runs.dev, "kafka");
            const prod = values(runs.prod, "kafka");
            assert.equal(dev.provisioning.enabled, true);
            assert.deepEqual(dev.provisioning.topics, [
                { name: "crypto-ticks", partitions: 3, replicationFactor: 1, config: { "min.insync.replicas": "1" } },
            ]);
            assert.deepEqual(prod.provisioning.topics, [
                { name: "crypto-ticks", partitions: 6, replicationFactor: 3, config: { "min.insync.replicas": "2" } },
            ]);
            assert.equal(prod.overrideConfiguration["min.insync.replicas"], 2);
            assert.equal(prod.overrideConfiguration["offsets.topic.replication.factor"], 3);
            assert.equal(dev.overrideConfiguration["offsets.topic.replication.factor"], 1);
        });

        it("sizes storage and resources from config", () => {
            const prod = values(runs.prod, "kafka").controller;
            assert.equal(prod.persistence.size, "100Gi");
            assert.deepEqual(prod.resources, { requests: { cpu: "1", memory: "4Gi" }, limits: { memory: "4Gi" } });
        });

        it("exports the bootstrap address and topic", () => {
            assert.equal(runs.dev.outputs.kafkaBootstrapServers, "kafka.kafka.svc.cluster.local:9092");
            assert.equal(runs.dev.outputs.kafkaTopic, "crypto-ticks");
        });
    });

    describe("PostgreSQL", () => {
        it("serves Airflow's and the pipeline's databases, each with its own user and password, from a Secret", () => {
            const run = runs.dev;
            const pg = values(run, "postgresql");
            const admin = secretNamed(run, "postgresql", pg.auth.existingSecret);
            assert.ok(pg.auth.secretKeys.adminPasswordKey in admin.inputs.stringData);
            const init = secretNamed(run, "postgresql", pg.primary.initdb.scriptsSecret);
            assert.equal(pg.primary.initdb.scripts, undefined, "init scripts in values would land in a ConfigMap");
            const [script] = Object.values<string>(init.inputs.stringData);
            const blocks = [...script.matchAll(/\\set db (\w+)\n\\set owner (\w+)\n\\set password (\w+)\n/g)];
            assert.deepEqual(
                blocks.map((b) => [b[1], b[2]]),
                [
                    ["airflow", "airflow"],
                    ["pipeline", "pipeline"],
                ],
            );
            assert.notEqual(blocks[0][3], blocks[1][3], "each database needs its own password");
            assert.match(script, /REVOKE ALL ON DATABASE %I FROM PUBLIC/);
            assert.equal(ofType(run, TYPES.configMap).filter((c) => JSON.stringify(c.inputs).includes(blocks[0][3])).length, 0);
        });

        it("sizes the primary from config and exports the service", () => {
            const prod = values(runs.prod, "postgresql").primary;
            assert.equal(prod.persistence.size, "100Gi");
            assert.deepEqual(prod.resources, { requests: { cpu: "1", memory: "4Gi" }, limits: { memory: "4Gi" } });
            // Writers use the primary's service whether or not read replicas exist.
            assert.equal(runs.dev.outputs.postgresqlService, "postgresql-primary.postgresql.svc.cluster.local:5432");
            assert.equal(runs.prod.outputs.postgresqlService, "postgresql-primary.postgresql.svc.cluster.local:5432");
            const prodValues = values(runs.prod, "postgresql");
            assert.equal(prodValues.architecture, "replication");
            assert.equal(prodValues.readReplicas.replicaCount, 1);
            assert.deepEqual(prodValues.readReplicas.resources, prod.resources);
            const admin = secretNamed(runs.prod, "postgresql", prodValues.auth.existingSecret);
            // Beside the passwords, what the exporter reads from the same mount: its data source and the CA.
            assert.deepEqual(Object.keys(admin.inputs.stringData).sort(), [
                "ca.crt",
                "exporter-data-source-uri",
                "postgres-password",
                "replication-password",
            ]);
        });

        it("adds or removes read replicas without touching the primary's StatefulSet or volume", async () => {
            const dev = values(runs.dev, "postgresql");
            const withReplica = values(await evaluated("dev", { postgresqlReadReplicas: 1 }), "postgresql");
            // The standalone layout names its StatefulSet and claim differently from the replication one.
            assert.equal(dev.architecture, "replication");
            assert.equal(withReplica.architecture, dev.architecture);
            assert.equal(dev.readReplicas.replicaCount, 0);
            assert.equal(withReplica.readReplicas.replicaCount, 1);
            assert.deepEqual(withReplica.primary, dev.primary);
        });
    });

    describe("Spark", () => {
        it("runs one worker in dev and autoscaled workers in prod, sized to leave room for executors", () => {
            const dev = values(runs.dev, "spark").worker;
            const prod = values(runs.prod, "spark").worker;
            assert.equal(dev.replicaCount, 1);
            assert.equal(dev.autoscaling.enabled, false);
            assert.equal(prod.replicaCount, 2);
            assert.deepEqual(prod.autoscaling, { enabled: true, minReplicas: 2, maxReplicas: 4, targetCPU: 70 });
            assert.equal(prod.coreLimit, 2);
            assert.equal(prod.memoryLimit, "4g");
            const podGiB = Number(/^(\d+)Gi$/.exec(prod.resources.limits.memory)![1]);
            assert.ok(podGiB > 4, "the pod must hold the executors' memory plus the worker daemon");
            assert.equal(prod.resources.requests.memory, prod.resources.limits.memory);
        });

        it("points every autoscaler at a workload the stack renders, by a kind the HPA controller resolves", async () => {
            // The HPA controller's REST mapper knows each kind as the API names it and all in lower case (client-go
            // v0.35.8 restmapper/discovery.go, NewDiscoveryRESTMapper), so the spark chart's `kind: statefulset`
            // resolves; any other spelling gets FailedGetScale (bitnami/charts#30834: `Statefulset`).
            for (const [stack, overrides] of STACK_VARIANTS) {
                const { objects } = await renderStack(stack, overrides);
                for (const hpa of ofKind(objects, "HorizontalPodAutoscaler")) {
                    const { apiVersion, kind, name } = hpa.spec.scaleTargetRef;
                    const target = objects.filter(
                        (o) =>
                            o.apiVersion === apiVersion &&
                            (o.kind === kind || o.kind.toLowerCase() === kind) &&
                            o.metadata.name === name &&
                            o.metadata.namespace === hpa.metadata.namespace,
                    );
                    assert.equal(
                        target.length,
                        1,
                        `${stack} ${JSON.stringify(overrides)}: ${hpa.metadata.name} scales ${apiVersion} ${kind} ${name}`,
                    );
                }
            }
            assert.equal(ofKind((await renderStack("prod")).objects, "HorizontalPodAutoscaler").length, 1, "prod autoscales its Spark workers");
        });

        it("authenticates RPC with a generated secret, not the chart's literal default", () => {
            const spark = values(runs.dev, "spark");
            assert.equal(spark.security.rpc.authenticationEnabled, true);
            const secret = secretNamed(runs.dev, "spark", spark.security.passwordsSecretName);
            assert.deepEqual(Object.keys(secret.inputs.stringData), ["rpc-authentication-secret"]);
            assert.notEqual(secret.inputs.stringData["rpc-authentication-secret"], "RPCDefaultSecret");
        });
    });

    describe("Airflow", () => {
        it("uses the platform's PostgreSQL through an existing Secret holding the airflow user's password", () => {
            const run = runs.dev;
            const airflow = values(run, "airflow");
            assert.equal(airflow.postgresql.enabled, false);
            assert.deepEqual(
                { ...airflow.externalDatabase, existingSecret: undefined },
                {
                    host: "postgresql-primary.postgresql.svc.cluster.local",
                    port: 5432,
                    database: "airflow",
                    user: "airflow",
                    existingSecret: undefined,
                    existingSecretPasswordKey: "password",
                },
            );
            const dbSecret = secretNamed(run, "airflow", airflow.externalDatabase.existingSecret);
            const init = secretNamed(run, "postgresql", values(run, "postgresql").primary.initdb.scriptsSecret);
            const airflowPassword = /\\set db airflow\n\\set owner airflow\n\\set password (\w+)/.exec(
                Object.values<string>(init.inputs.stringData)[0],
            )![1];
            assert.equal(dbSecret.inputs.stringData.password, airflowPassword);
        });

        it("hands Airflow 3 its four credentials, with a valid Fernet key", () => {
            const run = runs.dev;
            const secret = secretNamed(run, "airflow", values(run, "airflow").auth.existingSecret);
            const data = secret.inputs.stringData;
            assert.deepEqual(Object.keys(data).sort(), ["airflow-fernet-key", "airflow-jwt-secret-key", "airflow-password", "airflow-secret-key"]);
            assert.match(data["airflow-fernet-key"], /^[A-Za-z0-9_-]{43}=$/);
            assert.equal(Buffer.from(data["airflow-fernet-key"], "base64url").length, 32);
            assert.ok(runs.dev.secretOutputs.has("airflowAdminPassword"));
            assert.equal(runs.dev.outputs.airflowAdminPassword, data["airflow-password"]);
        });

        it("runs the LocalExecutor without Redis in dev and Celery with an authenticated Redis in prod", () => {
            const dev = values(runs.dev, "airflow");
            assert.equal(dev.executor, "LocalExecutor");
            assert.equal(dev.redis.enabled, false);
            const prod = values(runs.prod, "airflow");
            assert.equal(prod.executor, "CeleryExecutor");
            assert.equal(prod.redis.enabled, true);
            const redisSecret = secretNamed(runs.prod, "airflow", prod.redis.auth.existingSecret);
            assert.deepEqual(Object.keys(redisSecret.inputs.stringData), [prod.redis.auth.existingSecretPasswordKey]);
            assert.equal(prod.worker.replicaCount, 2);
        });

        it("cannot deadlock a waiting install: no post-install setup-db hook, examples off, generous timeout", () => {
            const airflow = release(runs.dev, "airflow");
            assert.equal(airflow.inputs.values.setupDBJob.enabled, false);
            assert.equal(airflow.inputs.values.loadExamples, false);
            assert.ok(airflow.inputs.timeout >= 1200);
            assert.notEqual(airflow.inputs.skipAwait, true, "the release should still report readiness");
        });
    });

    describe("endpoints", () => {
        it("exports in-cluster addresses and port-forward commands for the Airflow and Spark UIs", () => {
            assert.deepEqual(runs.dev.outputs.airflowUi, {
                inClusterUrl: "http://airflow-web.airflow.svc.cluster.local:8080",
                portForwardCommand: "kubectl -n airflow port-forward svc/airflow-web 8080:8080",
                localUrl: "http://localhost:8080",
                url: "http://localhost:8080",
                exposure: "ClusterIP only: use the port-forward command",
            });
            const spark = runs.dev.outputs.sparkMasterUi as Record<string, string>;
            assert.equal(spark.portForwardCommand, "kubectl -n spark port-forward svc/spark-master-svc 8081:80");
            assert.equal(runs.dev.outputs.sparkMasterUrl, "spark://spark-master-svc.spark.svc.cluster.local:7077");
            assert.equal(values(runs.dev, "airflow").service, undefined);
        });

        it("exposes the UIs through their own LoadBalancers, never through the charts' Services", () => {
            const run = runs.loadBalancedUis;
            for (const chart of ["airflow", "spark"] as const) {
                assert.equal(values(run, chart).service, undefined, `${chart} keeps its ClusterIP Service`);
            }
            const balancers = ofType(run, TYPES.service)
                .map((s) => s.inputs.spec)
                .filter((spec) => spec.type === "LoadBalancer");
            assert.equal(balancers.length, 2);
            assert.ok(balancers.every((spec) => spec.type === "LoadBalancer" && spec.loadBalancerSourceRanges.join() === "203.0.113.0/24"));
            assert.match((run.outputs.airflowUi as Record<string, string>).exposure, /LoadBalancer http:\/\/[0-9.]+:80 open to 203.0.113.0\/24/);
        });
    });

    describe("image registry", () => {
        it("moves every image of every release to the configured registry", async () => {
            const run = await evaluated("dev", { imageRegistry: "mirror.example.com/dockerhub" });
            for (const chart of CHARTS) {
                for (const image of imageRefs(values(run, chart)).filter((ref) => !builtOn(run, chart, ref.path))) {
                    assert.equal(image.registry, "mirror.example.com/dockerhub", `${chart} ${image.path}`);
                }
            }
            for (const built of ofType(run, TYPES.image)) {
                assert.match(
                    built.inputs.build.args.BASE_IMAGE,
                    /^mirror\.example\.com\/dockerhub\/bitnamilegacy\//,
                    "images are built on the mirror too",
                );
            }
        });

        it("can pull through an Artifact Registry remote repository of Docker Hub that the nodes may read", async () => {
            const run = await evaluated("dev", { dockerHubMirror: true });
            const [repository] = ofType(run, TYPES.repository).filter((r) => r.inputs.mode === "REMOTE_REPOSITORY");
            assert.equal(repository.inputs.mode, "REMOTE_REPOSITORY");
            assert.equal(repository.inputs.remoteRepositoryConfig.dockerRepository.publicRepository, "DOCKER_HUB");
            const registry = `us-central1-docker.pkg.dev/acme-streaming-test/${repository.inputs.repositoryId}`;
            assert.equal(run.outputs.imageRegistry, registry);
            for (const chart of CHARTS) {
                assert.ok(
                    imageRefs(values(run, chart))
                        .filter((ref) => !builtOn(run, chart, ref.path))
                        .every((image) => image.registry === registry),
                    chart,
                );
            }
            const readers = ofType(run, TYPES.projectIamMember).filter((m) => m.inputs.role === "roles/artifactregistry.reader");
            assert.equal(readers.length, 1);
            assert.ok(byUrn(run, readers[0].parent!)?.type.endsWith(":GkeCluster"));
        });
    });
});
