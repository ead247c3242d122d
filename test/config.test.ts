import { strict as assert } from "assert";
import * as fs from "fs";
import * as path from "path";
import { pinnedImages } from "../components/data/charts";
import { ConfigOverrides, FAKE_TOOLS_DIR, runStack, runStackAfresh, StackRun } from "../offline/harness";
import { fullLock, withLock } from "../offline/imageLock";

/** Runs a stack that must be refused: no resource may be registered, and the error lists every problem. */
async function refused(stack: string, overrides: ConfigOverrides): Promise<string> {
    const run = await runStack(stack, overrides);
    assert.ok(run.error, "the program accepted the configuration");
    assert.equal(run.error.name, "ConfigError", run.error.stack);
    assert.equal(run.resources.length, 0, "resources were registered before the configuration was validated");
    return run.error.message;
}

describe("configuration validation", () => {
    it("accepts the committed dev and prod stacks", async () => {
        for (const stack of ["dev", "prod"]) {
            const run = await runStack(stack);
            assert.equal(run.error, undefined, `${stack}: ${run.error?.message}`);
        }
    });

    it("refuses a missing gcp:project and says how to set it", async () => {
        const message = await refused("dev", { "gcp:project": undefined });
        assert.match(message, /gcp:project = \(not set\): a project id .*pulumi config set gcp:project/);
    });

    it("refuses a malformed gcp:region", async () => {
        const message = await refused("dev", { "gcp:region": "Mars" });
        assert.match(message, /gcp:region = "Mars": a Google Cloud region such as us-central1/);
    });

    it("refuses a zone outside the region", async () => {
        const message = await refused("dev", { "gcp:region": "europe-west4", "gcp:zone": "us-central1-a" });
        assert.match(message, /gcp:zone = "us-central1-a": a zone of europe-west4, such as europe-west4-a/);
    });

    it("refuses a node count below one", async () => {
        const message = await refused("dev", { nodeMinCount: 0 });
        assert.match(message, /streaming-platform:nodeMinCount = "0": an integer >= 1/);
    });

    it("refuses a node count that is not an integer", async () => {
        const message = await refused("dev", { nodeMaxCount: "three" });
        assert.match(message, /streaming-platform:nodeMaxCount = "three": an integer >= 1/);
    });

    it("refuses a minimum node count above the maximum", async () => {
        const message = await refused("prod", { nodeMinCount: 5, nodeMaxCount: 4 });
        assert.match(message, /streaming-platform:nodeMaxCount = "4": an integer >= nodeMinCount \(5\)/);
    });

    it("refuses an unknown machine type family and lists the known ones", async () => {
        const message = await refused("dev", { nodeMachineType: "x9-standard-4" });
        assert.match(message, /nodeMachineType = "x9-standard-4": is not a known machine type; .*family one of e2, n1, n2/);
    });

    it("refuses a vCPU count the family does not offer", async () => {
        const message = await refused("dev", { nodeMachineType: "e2-standard-6" });
        assert.match(message, /nodeMachineType = "e2-standard-6": has 6 vCPUs; e2-standard comes with 2, 4, 8, 16, 32/);
    });

    it("refuses a malformed CIDR", async () => {
        const message = await refused("dev", { subnetCidr: "10.10.0/20" });
        assert.match(message, /subnetCidr = "10.10.0\/20": an IPv4 network in CIDR form; this one must look like a.b.c.d\/n/);
    });

    it("refuses a CIDR with host bits set and suggests the network", async () => {
        const message = await refused("dev", { podsCidr: "10.20.1.0/16" });
        assert.match(message, /podsCidr = "10.20.1.0\/16": .*has host bits set \(did you mean 10.20.0.0\/16\?\)/);
    });

    it("refuses overlapping ranges and names both keys", async () => {
        const message = await refused("dev", { servicesCidr: "10.20.128.0/20" });
        assert.match(message, /servicesCidr = "10.20.128.0\/20": a range that does not overlap streaming-platform:podsCidr \(10.20.0.0\/16\)/);
    });

    it("refuses a control plane range that is not a /28", async () => {
        const message = await refused("dev", { masterCidr: "172.16.0.0/24" });
        assert.match(message, /masterCidr = "172.16.0.0\/24": a \/28 block/);
    });

    it("refuses 0.0.0.0/0 as an authorized network unless explicitly allowed", async () => {
        const message = await refused("dev", { authorizedNetworks: ["203.0.113.0/24", "0.0.0.0/0"] });
        assert.match(message, /authorizedNetworks = "0.0.0.0\/0": .*needs allowPublicControlPlane: true/);
        const allowed = await runStack("dev", { authorizedNetworks: ["0.0.0.0/0"], allowPublicControlPlane: true });
        assert.equal(allowed.error, undefined);
    });

    it("refuses an unknown release channel, disk type and cluster target", async () => {
        const message = await refused("dev", { releaseChannel: "BETA", nodeDiskType: "hdd", clusterTarget: "eks" });
        assert.match(message, /clusterTarget = "eks": one of gke, kubeconfig/);
        const gkeMessage = await refused("dev", { releaseChannel: "BETA", nodeDiskType: "hdd" });
        assert.match(gkeMessage, /releaseChannel = "BETA": one of RAPID, REGULAR, STABLE/);
        assert.match(gkeMessage, /nodeDiskType = "hdd": one of pd-standard, pd-balanced, pd-ssd/);
    });

    it("refuses a LoadBalancer for the UIs without source ranges, and an open one", async () => {
        const message = await refused("dev", { uiExposure: "LoadBalancer" });
        assert.match(message, /uiSourceRanges = \[\]: at least one CIDR when uiExposure is LoadBalancer/);
        const open = await refused("dev", { uiExposure: "LoadBalancer", uiSourceRanges: ["0.0.0.0/0"] });
        assert.match(open, /uiSourceRanges = "0.0.0.0\/0": specific CIDRs/);
    });

    it("refuses a topic replication factor above the Kafka node count", async () => {
        const message = await refused("dev", { kafkaTopicReplication: 3 });
        assert.match(message, /kafkaTopicReplication = "3": an integer from 1 to kafkaReplicas \(1\)/);
    });

    it("refuses an even number of KRaft controllers", async () => {
        const message = await refused("prod", { kafkaReplicas: 4 });
        assert.match(message, /kafkaReplicas = "4": an odd number/);
    });

    it("refuses an unknown Airflow executor", async () => {
        const message = await refused("dev", { airflowExecutor: "SequentialExecutor" });
        assert.match(message, /airflowExecutor = "SequentialExecutor": one of LocalExecutor, CeleryExecutor/);
    });

    it("refuses the KubernetesExecutor, whose pod template the chart does not make runnable", async () => {
        const message = await refused("dev", { airflowExecutor: "KubernetesExecutor" });
        assert.match(message, /airflowExecutor = "KubernetesExecutor": one of LocalExecutor, CeleryExecutor; KubernetesExecutor is not supported/);
    });

    it("refuses LoadBalancer UIs where no address can be reserved", async () => {
        const message = await refused("local", { uiExposure: "LoadBalancer", uiSourceRanges: ["203.0.113.0/24"] });
        assert.match(message, /uiExposure = "LoadBalancer": ClusterIP when clusterTarget is kubeconfig/);
    });

    it("refuses a scrape interval Managed Prometheus would bill out of proportion or that misses alerts", async () => {
        const message = await refused("dev", { metricsScrapeInterval: 1 });
        assert.match(message, /metricsScrapeInterval = "1": an integer/);
    });

    it("refuses malformed resource quantities", async () => {
        const message = await refused("dev", { kafkaMemory: "2GB", postgresqlCpu: "-1", kafkaStorage: "10Mi" });
        assert.match(message, /kafkaMemory = "2GB": a memory quantity in Mi or Gi/);
        assert.match(message, /postgresqlCpu = "-1": a CPU quantity/);
        assert.match(message, /kafkaStorage = "10Mi": a volume size in Gi/);
    });

    it("refuses a Spark autoscaling bound below the worker count", async () => {
        const message = await refused("prod", { sparkMaxWorkers: 1 });
        assert.match(message, /sparkMaxWorkers = "1": 0 \(no autoscaling\) or an integer >= sparkWorkers \(2\)/);
    });

    it("refuses a Docker Hub mirror where there is no Google Cloud project", async () => {
        const message = await refused("dev", { clusterTarget: "kubeconfig", dockerHubMirror: true });
        assert.match(message, /dockerHubMirror = "true": false when clusterTarget is kubeconfig/);
    });

    describe("where the images and charts come from", () => {
        it("refuses a Docker Hub mirror together with imageRegistry, a malformed imageRegistry and a chartRepository that is no oci:// repository", async () => {
            const both = await refused("dev", { dockerHubMirror: true, imageRegistry: "docker.io" });
            assert.match(
                both,
                /dockerHubMirror = "true": false when imageRegistry is set \(docker\.io\): .*unset imageRegistry to pull through the Docker Hub mirror/,
            );
            const malformed = await refused("dev", { imageRegistry: "https://mirror.example.com" });
            assert.match(
                malformed,
                /imageRegistry = "https:\/\/mirror\.example\.com": empty \(a GKE stack's own Artifact Registry repository, docker\.io on kubeconfig\) or a registry host/,
            );
            for (const chartRepository of ["us-central1-docker.pkg.dev/acme/bitnami-dev", "https://charts.bitnami.com/bitnami", "oci://"]) {
                const message = await refused("dev", { chartRepository });
                assert.ok(
                    message.includes(
                        `chartRepository = ${JSON.stringify(chartRepository)}: empty (Bitnami's oci://registry-1.docker.io/bitnamicharts) or an OCI repository holding the pinned charts, such as oci://us-central1-docker.pkg.dev/<project>/bitnami-dev/bitnamicharts (npm run charts:pull -- --stack dev --push)`,
                    ),
                    message,
                );
            }
        });

        /** The stack evaluated with `lock` as helm-values/images.lock.json; refused, it registered nothing. */
        const withImageLock = async (lock: Record<string, string>, stack: string, overrides: ConfigOverrides = {}): Promise<StackRun> =>
            withLock(lock, () => runStackAfresh(stack, overrides));

        it("refuses a GKE stack on its own repository while the lock lacks a digest, naming the images and the command, before any resource", async () => {
            const missing = [...pinnedImages()].sort()[2];
            const partial = Object.fromEntries(Object.entries(fullLock()).filter(([image]) => image !== missing));
            for (const [lock, named] of [
                [partial, `has no digest for 1 of them (${missing})`],
                [{}, `has none of their ${pinnedImages().size} digests`],
            ] as [Record<string, string>, string][]) {
                for (const stack of ["dev", "prod"]) {
                    const run = await withImageLock(lock, stack);
                    assert.equal(run.error?.name, "ConfigError", run.error?.stack);
                    assert.equal(run.resources.length, 0);
                    const message = run.error!.message;
                    assert.ok(
                        message.includes(
                            `imageRegistry = (not set): with imageRegistry unset, this GKE stack pulls every Bitnami image by digest from its own Artifact Registry repository bitnami-${stack}, but helm-values/images.lock.json ${named}. `,
                        ),
                        message,
                    );
                    assert.ok(message.includes(`npm run images:mirror -- --stack ${stack} `), message);
                    assert.ok(message.endsWith(`pulumi config set imageRegistry docker.io -s ${stack}`), message);
                }
            }
        });

        it("takes an incomplete lock where the stack names another source: a registry, the Docker Hub mirror, or a kubeconfig cluster (docker.io)", async () => {
            for (const [stack, overrides] of [
                ["dev", { imageRegistry: "docker.io" }],
                ["prod", { imageRegistry: "mirror.example.com/dockerhub" }],
                ["dev", { dockerHubMirror: true }],
                ["local", {}],
            ] as [string, ConfigOverrides][]) {
                const run = await withImageLock({}, stack, overrides);
                assert.equal(run.error, undefined, `${stack} ${JSON.stringify(overrides)}: ${run.error?.message}`);
            }
        });
    });

    it("reports every problem at once", async () => {
        const message = await refused("prod", {
            "gcp:project": undefined,
            "gcp:region": "Mars",
            nodeMinCount: 0,
            podsCidr: "10.10.0.0/20",
        });
        assert.match(message, /^Invalid stack configuration \(4 problems\):/);
        for (const key of ["gcp:project", "gcp:region", "nodeMinCount", "podsCidr"]) {
            assert.ok(message.includes(`${key} = `), `missing ${key} in:\n${message}`);
        }
    });
});

describe("tools a deployment calls", () => {
    const failing = (tool: string) => fs.writeFileSync(path.join(FAKE_TOOLS_DIR, tool), "#!/bin/sh\nexit 1\n", { mode: 0o755 });
    const working = (tool: string) => fs.writeFileSync(path.join(FAKE_TOOLS_DIR, tool), "#!/bin/sh\nexit 0\n", { mode: 0o755 });

    it("refuses to build images without a Docker engine, and says how to deploy without one", async () => {
        failing("docker");
        try {
            const run = await runStackAfresh("dev");
            assert.match(String(run.error?.message), /buildImages = "true": false, or a running Docker engine .*pulumi config set buildImages false/);
            assert.equal(run.resources.length, 0);
            assert.equal((await runStackAfresh("dev", { buildImages: false })).error, undefined, "no Docker needed without image builds");
            assert.equal((await runStackAfresh("local")).error, undefined, "nor on the local stack");
        } finally {
            working("docker");
        }
    });

    it("refuses a GKE stack without gke-gcloud-auth-plugin, naming its install command", async () => {
        failing("gke-gcloud-auth-plugin");
        try {
            const run = await runStackAfresh("prod");
            assert.match(String(run.error?.message), /clusterTarget = "gke": .*gcloud components install gke-gcloud-auth-plugin/);
            assert.equal((await runStackAfresh("local")).error, undefined);
        } finally {
            working("gke-gcloud-auth-plugin");
        }
    });
});
