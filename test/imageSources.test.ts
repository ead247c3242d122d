import { strict as assert } from "assert";
import { CHART_VERSIONS, ChartName, lockedImages } from "../components/data";
import { ConfigOverrides, holdInRegistry, RecordedResource, runStackAfresh, StackRun, TEST_PROJECT, waitsFor } from "../offline/harness";
import { fullLock, withLock } from "../offline/imageLock";
import { podTemplate, renderStack, STACK_VARIANTS, WORKLOAD_KINDS } from "../offline/render";
import { TYPES } from "../offline/resourceTypes";
import { evaluated, release } from "../offline/stackQueries";
import * as fs from "fs";
import * as os from "os";
import * as path from "path";
import { targetOf } from "../scripts/images-mirror";
import { creationSteps, repositoryTargets, stackRepository } from "../scripts/registry/stackRepository";

// Issue 24, 1: by default a GKE stack pulls every Bitnami image by its locked digest from its own standard
// Artifact Registry repository, and nothing on a GKE stack pulls from docker.io. Every stack is evaluated with the
// full made-up lock every test reads (offline/madeUpLock.ts), as a stack whose images were mirrored runs.

const CHARTS = Object.keys(CHART_VERSIONS) as ChartName[];
const lock: Record<string, string> = fullLock();
const registryOf = (stack: string, repository: string) => `us-central1-docker.pkg.dev/${TEST_PROJECT}/${repository}-${stack}`;

/** The registries a GKE variant may pull from: its Bitnami source and, where it builds them, its pipeline images' repository. */
function allowedRegistries(stack: string, overrides: ConfigOverrides): { bitnami: string; others: string[] } {
    return {
        bitnami: registryOf(stack, overrides.dockerHubMirror ? "dockerhub" : "bitnami"),
        others: overrides.buildImages === false ? [] : [registryOf(stack, "pipeline")],
    };
}

/** Every container image a rendered object runs: init containers, containers and ephemeral ones. */
function containerImages(object: { kind: string; metadata: { name: string; namespace?: string }; spec?: any }): string[][] {
    const spec = object.kind === "Pod" ? object.spec : WORKLOAD_KINDS.includes(object.kind) ? podTemplate(object as any).spec : undefined;
    if (!spec) {
        return [];
    }
    return [...(spec.initContainers ?? []), ...(spec.containers ?? []), ...(spec.ephemeralContainers ?? [])].map((c: any) => [
        `${object.kind} ${object.metadata.namespace}/${object.metadata.name} ${c.name}`,
        c.image,
    ]);
}

/** What `registry/repository[:tag]@digest` is not, for a Bitnami image: by a digest the lock holds for that repository. */
function bitnamiProblem(image: string, registry: string): string | undefined {
    const match = /^(.+)\/(bitnamilegacy\/[a-z0-9-]+)(?::([\w.-]+))?@(sha256:[0-9a-f]{64})$/.exec(image);
    if (!match) {
        return "is not registry/bitnamilegacy/<name>[:tag]@sha256:<digest>";
    }
    const [, at, repository, tag, digest] = match;
    if (at !== registry) {
        return `comes from ${at}, not ${registry}`;
    }
    const locked = Object.entries(lock).filter(([key]) => key.startsWith(`docker.io/${repository}:`) && (!tag || key.endsWith(`:${tag}`)));
    return locked.some(([, lockedDigest]) => lockedDigest === digest) ? undefined : `is not by a digest the lock holds for ${repository}`;
}

const GKE_VARIANTS: [string, ConfigOverrides][] = [
    ...STACK_VARIANTS.filter(([stack]) => stack !== "local"),
    // bootstrap/ made the repository: the program computes its address and creates none.
    ["prod", { projectSetup: "bootstrap" }],
];

describe("where a GKE stack pulls its images from (issue 24)", () => {
    for (const [stack, overrides] of GKE_VARIANTS) {
        it(`${stack} ${JSON.stringify(overrides)}: every rendered image, the charts' and the program's own, by digest from the stack's registries only`, async () => {
            const { run, objects } = await renderStack(stack, overrides);
            const { bitnami, others } = allowedRegistries(stack, overrides);
            const images = objects.flatMap(containerImages);
            assert.ok(images.length >= 20, `${images.length} container images`);
            const problems = images.flatMap(([where, image]) => {
                if (image.includes("/bitnamilegacy/")) {
                    const problem = bitnamiProblem(image, bitnami);
                    return problem ? [`${where}: ${image} ${problem}`] : [];
                }
                const fromAllowed = others.some((registry) => image.startsWith(`${registry}/`));
                return fromAllowed && /@sha256:[0-9a-f]{64}$/.test(image)
                    ? []
                    : [`${where}: ${image} is neither a Bitnami image nor a pipeline image by digest`];
            });
            assert.deepEqual(problems, []);
            // Each chart's and the program's Bitnami images are among them: the check saw what it is about.
            for (const namespace of ["kafka", "postgresql", "spark", "airflow"]) {
                assert.ok(
                    images.some(([where, image]) => where.includes(` ${namespace}/`) && image.startsWith(`${bitnami}/bitnamilegacy/`)),
                    `${namespace} runs a Bitnami image`,
                );
            }
            // The pipeline images are built on the same copies: the docker build pulls its base from there too.
            for (const built of run.resources.filter((r) => r.type === TYPES.image)) {
                const base = String(built.inputs.build.args.BASE_IMAGE);
                assert.equal(bitnamiProblem(base.replace(/:[\w.-]+@/, "@"), bitnami), undefined, `${built.name} builds on ${base}`);
            }
        });
    }

    const repositoryOf = (run: StackRun): RecordedResource[] =>
        run.resources.filter((r) => r.type === TYPES.repository && r.inputs.repositoryId?.startsWith("bitnami-"));

    it("a stack's own repository is a standard one, made by the program (or by bootstrap/), and every release waits for it", async () => {
        const dev = await evaluated("dev");
        const [repository] = repositoryOf(dev);
        assert.equal(repository.inputs.repositoryId, "bitnami-dev");
        assert.equal(repository.inputs.format, "DOCKER");
        assert.equal(repository.inputs.mode, undefined, "a standard repository: a copy, not a pull-through cache");
        assert.equal(repository.inputs.cleanupPolicies, undefined, "nothing is ever cleaned up from the only copy");
        assert.equal(dev.outputs.imageRegistry, registryOf("dev", "bitnami"));
        for (const chart of CHARTS) {
            assert.ok(waitsFor(dev, release(dev, chart), repository), `${chart} waits for the repository`);
        }
        assert.deepEqual(repositoryOf(await evaluated("prod", { projectSetup: "bootstrap" })), [], "bootstrap/ made it");
    });

    it("the repository exists whatever the stack pulls from, and `pulumi up --target` of the URNs the scripts print creates it alone", async () => {
        // Before its images are there, the stack names Docker Hub (the program refuses its own repository with an empty lock).
        const run = await withLock({}, () => runStackAfresh("dev", { imageRegistry: "docker.io" }));
        assert.equal(run.error, undefined, run.error?.stack);
        const [repository] = repositoryOf(run);
        const targets = repositoryTargets("dev");
        assert.ok(targets.includes(repository.urn), `${repository.urn} among ${targets.join(", ")}`);
        // What Pulumi needs targeted with it: its parents and its dependencies, transitively; providers and the stack aside.
        const needed = new Set<string>();
        const pending = [repository.urn];
        while (pending.length > 0) {
            const urn = pending.pop();
            const resource = run.resources.find((r) => r.urn === urn);
            if (!resource || needed.has(resource.urn)) {
                continue;
            }
            needed.add(resource.urn);
            pending.push(...resource.dependencies, ...(resource.parent ? [resource.parent] : []));
        }
        const untargeted = [...needed].filter((urn) => !targets.includes(urn) && !/::pulumi:(pulumi:Stack|providers:[^:]+)::/.test(urn));
        assert.deepEqual(untargeted, []);
        assert.deepEqual(
            targets.filter((urn) => !needed.has(urn)),
            [],
            "every target is the repository or something it needs",
        );
    });

    it("deploys nothing that pulls from the stack's own repository until Artifact Registry lists every locked image in it", async () => {
        const locked = lockedImages();
        assert.equal(locked.length, Object.keys(lock).length);
        for (const stack of ["dev", "prod"]) {
            const [first, ...rest] = locked;
            const held = holdInRegistry((repositoryId) => (repositoryId === `bitnami-${stack}` ? rest : locked));
            try {
                const run = await runStackAfresh(stack);
                const message = String(run.error?.message);
                // Logged once verbatim; the thrown error reaches the run behind Pulumi's property-path prefixes.
                assert.ok(message.includes(`bitnami-${stack} lacks 1 of the ${locked.length} images this stack pulls from it`), message);
                assert.ok(message.includes(`(${first})`), message);
                assert.match(
                    message,
                    new RegExp(`npm run images:mirror -- --stack ${stack} .*pulumi config set imageRegistry docker.io -s ${stack}`),
                );
                assert.deepEqual(
                    run.resources.filter((r) => r.type === TYPES.helmRelease),
                    [],
                    `${stack}: a release pulls its images from there`,
                );
                // Pulling from elsewhere, the repository's content is not asked for.
                assert.equal((await runStackAfresh(stack, { imageRegistry: "docker.io" })).error, undefined, stack);
            } finally {
                held.restore();
            }
        }
    });

    it("installs the charts from chartRepository, Bitnami's OCI registry by default", async () => {
        const dev = await evaluated("dev");
        const own = `oci://${registryOf("dev", "bitnami")}/bitnamicharts`;
        const fromOwn = await evaluated("dev", { chartRepository: own });
        for (const chart of CHARTS) {
            assert.equal(release(dev, chart).inputs.chart, `oci://registry-1.docker.io/bitnamicharts/${chart}`);
            assert.equal(release(fromOwn, chart).inputs.chart, `${own}/${chart}`);
            assert.equal(release(fromOwn, chart).inputs.version, CHART_VERSIONS[chart]);
        }
    });

    describe("--stack <stack>: the scripts' target from the stack's config", () => {
        /** A project folder with this repository's Pulumi.yaml and the given stack files. */
        const project = (stacks: Record<string, string>) => {
            const root = fs.mkdtempSync(path.join(os.tmpdir(), "stack-repository-"));
            fs.copyFileSync(path.join(__dirname, "..", "Pulumi.yaml"), path.join(root, "Pulumi.yaml"));
            Object.entries(stacks).forEach(([stack, text]) => fs.writeFileSync(path.join(root, `Pulumi.${stack}.yaml`), text));
            return root;
        };

        it("derives the address from gcp:project, gcp:region (Pulumi.yaml's default unless set) and the stack, as the program does", () => {
            const root = project({
                dev: "config:\n  gcp:project: acme-data\n",
                prod: "config:\n  gcp:project: acme-data\n  gcp:region: europe-west4\n  streaming-platform:projectSetup: bootstrap\n  streaming-platform:imageRegistry: docker.io\n",
            });
            const dev = stackRepository("dev", root);
            assert.equal(dev.address, "us-central1-docker.pkg.dev/acme-data/bitnami-dev");
            assert.equal(dev.pullsElsewhere, undefined);
            assert.deepEqual(creationSteps(dev), [
                "pulumi config set imageRegistry docker.io -s dev   # only until the repository is filled",
                `pulumi up -s dev ${repositoryTargets("dev")
                    .map((urn) => `--target '${urn}'`)
                    .join(" ")}`,
            ]);
            const prod = stackRepository("prod", root);
            assert.equal(prod.address, "europe-west4-docker.pkg.dev/acme-data/bitnami-prod");
            assert.equal(prod.pullsElsewhere, "imageRegistry docker.io");
            assert.match(creationSteps(prod)[0], /^\(cd bootstrap && pulumi up\)/);
        });

        it("refuses a stack without a file, without gcp:project, or on kubeconfig, naming what to do", () => {
            const root = project({ nogcp: "config: {}\n", kind: "config:\n  streaming-platform:clusterTarget: kubeconfig\n" });
            assert.throws(() => stackRepository("staging", root), /^Error: --stack "staging": no Pulumi\.staging\.yaml; one of kind, nogcp$/);
            assert.throws(
                () => stackRepository("nogcp", root),
                /gcp:project is not set in Pulumi\.nogcp\.yaml; pulumi config set gcp:project <id> -s nogcp$/,
            );
            assert.throws(() => stackRepository("kind", root), /a kubeconfig stack has no Artifact Registry repository .*--stack takes a GKE stack$/);
            assert.throws(() => targetOf(["--stack", "dev", "--to", "example.com/x"]), /--stack and --to both name the target/);
        });
    });
});
