import { execFileSync } from "child_process";
import { createHash } from "crypto";
import * as fs from "fs";
import * as os from "os";
import * as path from "path";
import { parseAllDocuments } from "yaml";
import { CHART_VERSIONS, ChartName } from "../components/data";
import { chartArchive } from "./chartArchives";
import { ConfigOverrides, PROJECT_ROOT, runKey, StackRun } from "./harness";
import { helmBinary } from "./helm";
import { programObjects } from "./programObjects";
import { evaluated } from "./stackQueries";
import { TYPES } from "./resourceTypes";

/** A Kubernetes object as the API server would receive it. */
export interface Manifest {
    readonly apiVersion: string;
    readonly kind: string;
    readonly metadata: { name: string; namespace?: string; labels?: Record<string, string>; annotations?: Record<string, string> };
    readonly [field: string]: any;
}

export interface RenderedRelease {
    readonly chart: ChartName;
    readonly namespace: string;
    readonly objects: readonly Manifest[];
}

export interface RenderedStack {
    readonly run: StackRun;
    readonly releases: readonly RenderedRelease[];
    /** Every object of the stack: what each chart renders and what the program creates itself. */
    readonly objects: readonly Manifest[];
}

/** The Kubernetes version whose API the rendering assumes: the one `npm run apiserver` builds (apiserver/go.mod), GKE's REGULAR channel default. */
export const KUBE_VERSION = /^require k8s\.io\/kubernetes v(\S+)$/m.exec(fs.readFileSync(path.join(PROJECT_ROOT, "apiserver", "go.mod"), "utf8"))![1];

/**
 * Rendered manifests kept on disk across runs and clones, as the parsed documents in JSON (ten times faster to read
 * than helm's YAML, whose parse was a twentieth of the stacks' mocha), by a digest of everything they depend on: the
 * archive's bytes, the release's name, namespace and values, the Kubernetes version, helm's version and the YAML
 * parser's. The same render is asked for by every lane of `npm test` and by every stack variant with equal values.
 */
const RENDER_CACHE = path.join(os.homedir(), ".cache", "streaming-platform", "renders");
const fileDigests = new Map<string, string>();
const fileDigest = (file: string) => {
    if (!fileDigests.has(file)) {
        fileDigests.set(file, createHash("sha256").update(fs.readFileSync(file)).digest("hex"));
    }
    return fileDigests.get(file)!;
};

let helmVersion: string | undefined;
/** The parser that turned helm's YAML into the cached documents. */
const YAML_VERSION: string = JSON.parse(fs.readFileSync(require.resolve("yaml/package.json"), "utf8")).version;

/** The documents `helm template` prints for a release, as JSON values; an empty document is null. */
function helmTemplate(name: string, archive: string, namespace: string, values: unknown): (Manifest | null)[] {
    const helm = helmBinary();
    helmVersion ??= execFileSync(helm, ["version", "--short"], { encoding: "utf8" }).trim();
    const key = createHash("sha256")
        .update(JSON.stringify([fileDigest(archive), helmVersion, YAML_VERSION, name, namespace, KUBE_VERSION, values]))
        .digest("hex");
    const cached = path.join(RENDER_CACHE, `${key}.json`);
    if (fs.existsSync(cached)) {
        return JSON.parse(fs.readFileSync(cached, "utf8"));
    }
    const dir = fs.mkdtempSync(path.join(os.tmpdir(), `values-${name}-`));
    try {
        const valuesFile = path.join(dir, "values.json");
        fs.writeFileSync(valuesFile, JSON.stringify(values));
        const manifest = execFileSync(
            helm,
            ["template", name, archive, "--namespace", namespace, "--values", valuesFile, "--kube-version", KUBE_VERSION],
            { encoding: "utf8", maxBuffer: 64 * 1024 * 1024 },
        );
        const documents = parseAllDocuments(manifest).map((doc) => {
            if (doc.errors.length > 0) {
                throw new Error(`helm template ${name} printed YAML that does not parse: ${doc.errors[0].message}`);
            }
            return doc.toJSON();
        });
        // Written beside, then renamed: two lanes rendering the same release never read half a file.
        fs.mkdirSync(RENDER_CACHE, { recursive: true });
        const partial = `${cached}.${process.pid}`;
        fs.writeFileSync(partial, JSON.stringify(documents));
        fs.renameSync(partial, cached);
        return documents;
    } finally {
        fs.rmSync(dir, { recursive: true, force: true });
    }
}

/** `helm template` of one recorded Release with the pinned archive and the program's effective values. */
export function renderRelease(release: { inputs: Record<string, any> }): RenderedRelease {
    const { chart: reference, version, namespace, name, values } = release.inputs;
    const chart = String(reference).split("/").pop() as ChartName;
    if (CHART_VERSIONS[chart] !== version) {
        throw new Error(`release ${name} asks for ${chart} ${version}, but ${CHART_VERSIONS[chart]} is pinned`);
    }
    const objects = helmTemplate(name, chartArchive(chart), namespace, values)
        .filter((object) => object !== null)
        // Helm installs namespaced objects into the release's namespace when the template names none.
        .map((object: Manifest) => ({ ...object, metadata: { namespace, ...object.metadata } }));
    return { chart, namespace, objects };
}

const rendered = new Map<string, Promise<RenderedStack>>();

/** A stack evaluated under mocks with every release rendered; computed once per process for each (stack, overrides). */
export function renderStack(stack: string, overrides: ConfigOverrides = {}): Promise<RenderedStack> {
    const key = runKey(stack, overrides);
    if (!rendered.has(key)) {
        rendered.set(
            key,
            evaluated(stack, overrides).then((run) => {
                const releases = run.resources.filter((r) => r.type === TYPES.helmRelease).map(renderRelease);
                return { run, releases, objects: [...releases.flatMap((r) => r.objects), ...programObjects(run)] };
            }),
        );
    }
    return rendered.get(key)!;
}

/** The one object of a kind with this namespace and name; throws when there is none. */
export function findObject(objects: readonly Manifest[], kind: string, namespace: string | undefined, name: string): Manifest {
    const found = objects.filter((o) => o.kind === kind && o.metadata.name === name && o.metadata.namespace === namespace);
    if (found.length !== 1) {
        throw new Error(`expected one ${kind} ${namespace ?? ""}/${name}, found ${found.length}`);
    }
    return found[0];
}

export const ofKind = (objects: readonly Manifest[], kind: string) => objects.filter((o) => o.kind === kind);

/** The pod template of a workload (Deployment, StatefulSet, DaemonSet, Job, CronJob). */
export function podTemplate(workload: Manifest): { metadata: { labels?: Record<string, string> }; spec: any } {
    return workload.kind === "CronJob" ? workload.spec.jobTemplate.spec.template : workload.spec.template;
}

export const WORKLOAD_KINDS = ["Deployment", "StatefulSet", "DaemonSet", "Job", "CronJob"];

/** Every stack, and the options that change what the charts render. */
export const STACK_VARIANTS: [string, ConfigOverrides][] = [
    ["dev", {}],
    ["prod", {}],
    ["local", {}],
    ["prod", { uiExposure: "LoadBalancer", uiSourceRanges: ["203.0.113.0/24", "198.51.100.7/32"] }],
    ["dev", { airflowExecutor: "CeleryExecutor", sparkMaxWorkers: 3, postgresqlReadReplicas: 1 }],
    ["dev", { buildImages: false, dockerHubMirror: true }],
];
