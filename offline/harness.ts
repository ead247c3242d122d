import { createHash } from "crypto";
import * as fs from "fs";
import * as os from "os";
import * as path from "path";
import * as pulumi from "@pulumi/pulumi";
import { parse } from "yaml";
import { TYPES } from "./resourceTypes";

// Internal to @pulumi/pulumi but stable for years: drains pending registrations so a run is complete.
// eslint-disable-next-line @typescript-eslint/no-require-imports
const settings = require("@pulumi/pulumi/runtime/settings") as { waitForRPCs(): Promise<void> };
// eslint-disable-next-line @typescript-eslint/no-require-imports
const rpc = require("@pulumi/pulumi/runtime/rpc") as { specialSigKey: string; specialSecretSig: string };

export const PROJECT_ROOT = path.resolve(__dirname, "..");

/** One registered resource as the engine would have seen it. */
export interface RecordedResource {
    readonly type: string;
    readonly name: string;
    readonly urn: string;
    readonly custom: boolean;
    /** Inputs with secrets unwrapped. */
    readonly inputs: Record<string, any>;
    /** Top-level input names whose value was marked secret. */
    readonly secretInputs: ReadonlySet<string>;
    readonly parent?: string;
    /** URNs this resource waits for: explicit dependsOn plus inputs taken from other resources. */
    readonly dependencies: readonly string[];
    readonly provider: string;
    readonly protect: boolean;
    readonly ignoreChanges: readonly string[];
    /** Input paths whose change makes Pulumi replace the resource instead of updating it. */
    readonly replaceOnChanges: readonly string[];
    /** URNs this resource was known by before, from its aliases. */
    readonly aliases: readonly string[];
    readonly retainOnDelete: boolean;
    readonly deletedWith: string;
    readonly customTimeouts?: { create?: string; update?: string; delete?: string };
}

export interface StackRun {
    readonly resources: readonly RecordedResource[];
    readonly outputs: Record<string, unknown>;
    readonly secretOutputs: ReadonlySet<string>;
    /** What every random resource produced (passwords, base64 and hex bytes). */
    readonly generated: readonly string[];
    readonly error?: Error;
}

export type ConfigOverrides = Record<string, string | number | boolean | string[] | undefined>;

/** The project every test stack deploys into, as a user would set with `pulumi config set gcp:project`. */
export const TEST_PROJECT = "acme-streaming-test";

const projectFile = parse(fs.readFileSync(path.join(PROJECT_ROOT, "Pulumi.yaml"), "utf8"));
export const PROJECT_NAME: string = projectFile.name;

/**
 * Config as the Pulumi CLI hands it to a program: the defaults declared in its Pulumi.yaml, then each
 * layer of values (a stack file's config block), then overrides; an undefined override removes a key.
 */
export function cliConfig(
    project: { name: string; config?: Record<string, any> },
    layers: Record<string, unknown>[],
    overrides: ConfigOverrides = {},
): Record<string, string> {
    const config: Record<string, unknown> = {};
    for (const [key, declared] of Object.entries<any>(project.config ?? {})) {
        if (key.includes(":")) {
            config[key] = declared?.value ?? declared;
        } else if (declared?.default !== undefined) {
            config[`${project.name}:${key}`] = declared.default;
        }
    }
    layers.forEach((layer) => Object.assign(config, layer));
    for (const [key, value] of Object.entries(overrides)) {
        const qualified = key.includes(":") ? key : `${project.name}:${key}`;
        if (value === undefined) {
            delete config[qualified];
        } else {
            config[qualified] = value;
        }
    }
    return Object.fromEntries(Object.entries(config).map(([key, value]) => [key, typeof value === "string" ? value : JSON.stringify(value)]));
}

/** Stack config of this project: Pulumi.yaml defaults, the test project, the stack file, then overrides. */
export function stackConfig(stack: string, overrides: ConfigOverrides = {}): Record<string, string> {
    const stackFile = parse(fs.readFileSync(path.join(PROJECT_ROOT, `Pulumi.${stack}.yaml`), "utf8")) ?? {};
    return cliConfig(projectFile, [{ "gcp:project": TEST_PROJECT }, stackFile.config ?? {}], overrides);
}

function isSecretValue(value: unknown): value is { value: unknown } {
    return typeof value === "object" && value !== null && (value as any)[rpc.specialSigKey] === rpc.specialSecretSig;
}

function unwrapSecrets(value: unknown): unknown {
    if (isSecretValue(value)) {
        return unwrapSecrets(value.value);
    }
    if (Array.isArray(value)) {
        return value.map(unwrapSecrets);
    }
    if (value && typeof value === "object" && value.constructor === Object) {
        return Object.fromEntries(Object.entries(value).map(([k, v]) => [k, unwrapSecrets(v)]));
    }
    return value;
}

/** Stable stand-in for random bytes: distinct per resource name, so a leaked value is traceable. */
function fakeRandom(name: string, length: number): Buffer {
    let bytes = Buffer.alloc(0);
    for (let block = 0; bytes.length < length; block++) {
        bytes = Buffer.concat([bytes, createHash("sha256").update(`${name}/${block}`).digest()]);
    }
    return bytes.subarray(0, length);
}

/** Outputs the real providers would compute and the program reads back (the engines test swaps the TLS ones for real ones). */
export function computedState(type: string, name: string, inputs: Record<string, any>): Record<string, unknown> {
    switch (type) {
        case TYPES.cluster:
            return {
                endpoint: "203.0.113.10",
                controlPlaneEndpointsConfig: {
                    ...inputs.controlPlaneEndpointsConfig,
                    dnsEndpointConfig: { ...inputs.controlPlaneEndpointsConfig?.dnsEndpointConfig, endpoint: `gke-${name}.example.gke.goog` },
                },
                masterAuth: { ...inputs.masterAuth, clusterCaCertificate: "Q0EtREFUQQ==" },
            };
        case TYPES.randomPassword:
            return { result: fakeRandom(name, inputs.length).toString("hex").slice(0, inputs.length) };
        case TYPES.randomBytes: {
            const bytes = fakeRandom(name, inputs.length);
            return { base64: bytes.toString("base64"), hex: bytes.toString("hex") };
        }
        case TYPES.image: {
            // What a push reports: the repository (tag dropped) and the manifest digest.
            const repository = String(inputs.imageName).replace(/:[^:/]+$/, "");
            return { repoDigest: `${repository}@sha256:${fakeRandom(name, 32).toString("hex")}` };
        }
        // PEM-shaped stand-ins, distinct per resource; the private key is recorded among the generated secrets.
        case TYPES.tlsPrivateKey:
            return { privateKeyPem: `-----BEGIN PRIVATE KEY-----\n${fakeRandom(name, 48).toString("base64")}\n-----END PRIVATE KEY-----\n` };
        case TYPES.tlsCertRequest:
            return {
                certRequestPem: `-----BEGIN CERTIFICATE REQUEST-----\n${fakeRandom(name, 48).toString("base64")}\n-----END CERTIFICATE REQUEST-----\n`,
            };
        case TYPES.tlsSelfSignedCert:
        case TYPES.tlsLocallySignedCert:
            return { certPem: `-----BEGIN CERTIFICATE-----\n${fakeRandom(name, 48).toString("base64")}\n-----END CERTIFICATE-----\n` };
        case TYPES.address:
            // A documentation-range address (RFC 5737), distinct per resource.
            return { address: `198.51.100.${fakeRandom(name, 1)[0]}` };
        case TYPES.serviceAccount: {
            const email = `${inputs.accountId}@${inputs.project}.iam.gserviceaccount.com`;
            return { email, member: `serviceAccount:${email}` };
        }
        default:
            return {};
    }
}

/** The URN an alias stands for, filling in what the alias spec leaves to the resource itself. */
function aliasUrn(alias: any, req: any, stack: string): string {
    if (alias.getUrn()) {
        return alias.getUrn();
    }
    const spec = alias.getSpec();
    const parent: string = spec.getNoparent() ? "" : spec.getParenturn() || req.getParent();
    const parentType = parent ? `${parent.split("::")[2]}$` : "";
    return `urn:pulumi:${spec.getStack() || stack}::${spec.getProject() || PROJECT_NAME}::${parentType}${spec.getType() || req.getType()}::${spec.getName() || req.getName()}`;
}

/**
 * Each evaluation requires the program (index.ts) afresh, and ts-node would transpile it again: the same
 * source gives the same JavaScript, so keep it.
 */
function memoizeTranspilation(): void {
    const service = (process as any)[Symbol.for("ts-node.register.instance")];
    if (!service || service.memoized) {
        return;
    }
    const compile = service.compile.bind(service);
    const outputs = new Map<string, string>();
    service.compile = (code: string, fileName: string, lineOffset = 0) => {
        const key = `${fileName}\0${lineOffset}\0${code}`;
        if (!outputs.has(key)) {
            outputs.set(key, compile(code, fileName, lineOffset));
        }
        return outputs.get(key);
    };
    service.memoized = true;
}

/** A digest made from a text: distinct per text, well formed, resolved from no registry. */
export const digestOf = (text: string) => `sha256:${createHash("sha256").update(text).digest("hex")}`;

/** A digest lock with a made-up digest for each image: for the program side of tests only, never committed. */
export const madeUpLock = (images: Iterable<string>): Record<string, string> =>
    Object.fromEntries([...images].map((image) => [image, digestOf(image)]));

/**
 * From now on, every evaluation in this process reads a made-up digest for every pinned image as
 * helm-values/images.lock.json, unless a test names its own lock (offline/imageLock.ts withLock, which wraps this):
 * the stacks as they run once `npm run images:mirror` has filled the lock. A GKE stack refuses to pull from its own
 * repository without digests (config/services.ts), and the committed lock stays empty until the source registry can
 * be reached. For the tests (offline/madeUpLock.ts) and the report, which need dev and prod and no real image; never for what pulls images (the kind e2e's list, .github/e2e/images.ts). The pinned images come
 * from the evaluated program's own charts module.
 */
export function serveMadeUpLock(): void {
    const lockFile = path.join(PROJECT_ROOT, "helm-values", "images.lock.json");
    // eslint-disable-next-line @typescript-eslint/no-require-imports
    const nodeFs: typeof fs = require("fs");
    const read = nodeFs.readFileSync;
    let lock: string | undefined;
    const madeUp = (): string | undefined => {
        if (lock === undefined) {
            // eslint-disable-next-line @typescript-eslint/no-require-imports -- the evaluated program's module, not this one's
            const { pinnedImages } = require(path.join(PROJECT_ROOT, "components", "data", "charts"));
            lock = typeof pinnedImages === "function" ? JSON.stringify(madeUpLock(pinnedImages())) : "";
        }
        return lock || undefined;
    };
    nodeFs.readFileSync = ((target: fs.PathOrFileDescriptor, options?: any) => {
        const text = target === lockFile ? madeUp() : undefined;
        if (text === undefined) {
            return read(target, options);
        }
        return typeof options === "string" || options?.encoding ? text : Buffer.from(text);
    }) as typeof fs.readFileSync;
}

/**
 * Stand-ins for the tools the program checks before a GKE deployment (config/tools.ts): a Docker engine
 * and gke-gcloud-auth-plugin. Each answers as a working one; a test may rewrite one to fail.
 */
export const FAKE_TOOLS_DIR = fs.mkdtempSync(path.join(os.tmpdir(), "deploy-tools-"));
for (const tool of ["docker", "gke-gcloud-auth-plugin"]) {
    fs.writeFileSync(path.join(FAKE_TOOLS_DIR, tool), "#!/bin/sh\nexit 0\n", { mode: 0o755 });
}

/**
 * Runs an evaluation with the fake deployment tools first on the PATH, and without (source-mapped) stacks:
 * Pulumi records the source position of every resource and a stack trace for every promise it tracks,
 * and ts-node's source-map support maps each frame, half of an evaluation's time. The mocks need no
 * positions, and while the program runs, stacks keep the transpiled positions (close to the sources').
 */
async function inEvaluationEnvironment<T>(evaluation: () => Promise<T>): Promise<T> {
    (pulumi.Resource as any).callsites = () => [];
    const prepare = Error.prepareStackTrace;
    const searchPath = process.env.PATH;
    process.env.PATH = `${FAKE_TOOLS_DIR}${path.delimiter}${searchPath}`;
    delete (Error as { prepareStackTrace?: unknown }).prepareStackTrace;
    // Pulumi captures a stack for every promise it tracks; the frames cost more than the evaluation itself.
    // EVALUATION_STACK_TRACES=1 keeps them for debugging an error the program throws.
    const stackTraceLimit = Error.stackTraceLimit;
    if (!process.env.EVALUATION_STACK_TRACES) {
        Error.stackTraceLimit = 0;
    }
    try {
        return await evaluation();
    } finally {
        Error.stackTraceLimit = stackTraceLimit;
        Error.prepareStackTrace = prepare;
        process.env.PATH = searchPath;
    }
}

/**
 * The composition root, required afresh for every evaluation: it reads the config and creates the resources when it
 * loads. The modules it imports (components/, config/) stay loaded: they keep no state that depends on the stack, the
 * config, the environment or an earlier evaluation, and read their files and config when called, so a second load
 * would only compile and run them again (a quarter of the stacks' mocha's CPU); and the dynamic providers' objects
 * stay the same, so Pulumi serializes each one's closure once (@pulumi/pulumi dynamic/index.js providerCache).
 * test/harness.test.ts looks for an evaluation that depends on another.
 */
const PROGRAM = path.join(PROJECT_ROOT, "index.ts");

/**
 * Calls `record` with every registration request the mocked engine accepts, and `fail` with each error:
 * the mock monitor's own callbacks are the only place where a resource's options are visible.
 * Call after pulumi.runtime.setMocks, which installs a new monitor.
 */
export function onRegistration(record: (req: any, res: any) => void, fail: (error: unknown) => void): void {
    const monitor = pulumi.runtime.getMonitor() as any;
    const register = monitor.registerResource.bind(monitor);
    monitor.registerResource = (req: any, callback: (err: unknown, res: any) => void) =>
        register(req, (err: unknown, res: any) => {
            if (err) {
                fail(err);
            } else {
                record(req, res);
            }
            callback(err, res);
        });
}

/**
 * Evaluates the real program (index.ts) for a stack under Pulumi's mocks and records every
 * resource registration, its options and the stack outputs. A program error is returned, not thrown.
 */
const runs = new Map<string, Promise<StackRun>>();

const DOCKER_IMAGES = "gcp:artifactregistry/getDockerImages:getDockerImages";

/**
 * What an Artifact Registry repository holds, as <repository>@<digest>, for the program's listing of it: every image
 * of the lock the evaluation reads (as after `npm run images:mirror`), unless a test says otherwise (holdInRegistry).
 */
let registryHolds: ((repositoryId: string) => string[]) | undefined;
function heldImages(repositoryId: string): string[] {
    // eslint-disable-next-line @typescript-eslint/no-require-imports -- the evaluated program's module, read when called
    return registryHolds ? registryHolds(repositoryId) : require(path.join(PROJECT_ROOT, "components", "data", "charts")).lockedImages();
}
/** Evaluations from now until `restore` see the repositories hold what `holds` says. */
export function holdInRegistry(holds: (repositoryId: string) => string[]): { restore(): void } {
    registryHolds = holds;
    return { restore: () => (registryHolds = undefined) };
}

/** An image as Artifact Registry's API lists it: its name ends in dockerImages/<URL-encoded path>@<digest>. */
const dockerImage = (repository: { project: string; location: string; repositoryId: string }, image: string) => ({
    name: `projects/${repository.project}/locations/${repository.location}/repositories/${repository.repositoryId}/dockerImages/${encodeURIComponent(image.split("@")[0])}@${image.split("@")[1]}`,
});

/** Identifies an evaluation; entries keep an override that removes a key (undefined) apart from no override. */
export const runKey = (stack: string, overrides: ConfigOverrides) => JSON.stringify([stack, Object.entries(overrides)]);

/**
 * The program evaluated for a stack, once per process for each (stack, overrides): runs are shared,
 * and callers must not modify them. Use runStackAfresh after changing what the program reads.
 */
export function runStack(stack: string, overrides: ConfigOverrides = {}): Promise<StackRun> {
    const key = runKey(stack, overrides);
    if (!runs.has(key)) {
        runs.set(key, runStackAfresh(stack, overrides));
    }
    return runs.get(key)!;
}

/** The program evaluated now, never taken from the shared runs. */
export const runStackAfresh = (stack: string, overrides: ConfigOverrides = {}): Promise<StackRun> =>
    queuedEvaluation(() => evaluate(stack, overrides));

/**
 * Runs an evaluation of this program or another (offline/bootstrap.ts) after every one asked for before it, in the
 * evaluation environment: the mocks, the config and the environment are process-wide, so evaluations must not overlap.
 */
export function queuedEvaluation<T>(evaluation: () => Promise<T>): Promise<T> {
    const run = evaluationQueue.then(() => inEvaluationEnvironment(evaluation));
    evaluationQueue = run.catch(() => undefined);
    return run;
}

let evaluationQueue: Promise<unknown> = Promise.resolve();

async function evaluate(stack: string, overrides: ConfigOverrides): Promise<StackRun> {
    const resources: RecordedResource[] = [];
    const failures: Error[] = [];
    const recordFailure = (reason: unknown) => failures.push(reason instanceof Error ? reason : new Error(String(reason)));
    process.on("unhandledRejection", recordFailure);
    pulumi.runtime.setAllConfig(stackConfig(stack, overrides), []);
    const generated: string[] = [];
    await pulumi.runtime.setMocks(
        {
            newResource: (args) => {
                const computed = computedState(args.type, args.name, unwrapSecrets(args.inputs) as Record<string, any>);
                if (args.type.startsWith("random:") || args.type === TYPES.tlsPrivateKey) {
                    generated.push(...Object.values(computed).map(String));
                }
                return {
                    id: args.custom ? `${args.name}-id` : undefined,
                    state: { name: args.inputs.name ?? args.name, ...args.inputs, ...computed },
                };
            },
            call: (args) =>
                args.token === "gcp:organizations/getClientConfig:getClientConfig"
                    ? { accessToken: "ya29.test-access-token", project: TEST_PROJECT }
                    : args.token === DOCKER_IMAGES
                      ? { dockerImages: heldImages(args.inputs.repositoryId).map((image) => dockerImage(args.inputs, image)) }
                      : args.inputs,
        },
        PROJECT_NAME,
        stack,
        false,
    );

    onRegistration((req, res) => {
        const raw: Record<string, unknown> = req.getObject()?.toJavaScript() ?? {};
        const timeouts = req.getCustomtimeouts();
        resources.push({
            type: req.getType(),
            name: req.getName(),
            urn: res.getUrn(),
            custom: req.getCustom(),
            inputs: unwrapSecrets(raw) as Record<string, any>,
            secretInputs: new Set(Object.keys(raw).filter((key) => isSecretValue(raw[key]))),
            parent: req.getParent() || undefined,
            dependencies: [
                ...new Set<string>([
                    ...req.getDependenciesList(),
                    ...[...req.getPropertydependenciesMap().values()].flatMap((deps: any) => deps.getUrnsList()),
                ]),
            ],
            provider: req.getProvider(),
            protect: req.getProtect() === true,
            ignoreChanges: req.getIgnorechangesList(),
            replaceOnChanges: req.getReplaceonchangesList(),
            aliases: [...req.getAliasesList().map((alias: any) => aliasUrn(alias, req, stack)), ...req.getAliasurnsList()],
            retainOnDelete: req.getRetainondelete() === true,
            deletedWith: req.getDeletedwith(),
            customTimeouts: timeouts ? { create: timeouts.getCreate(), update: timeouts.getUpdate(), delete: timeouts.getDelete() } : undefined,
        });
    }, recordFailure);

    memoizeTranspilation();
    delete require.cache[PROGRAM];
    let exported: Record<string, unknown> = {};
    try {
        // eslint-disable-next-line @typescript-eslint/no-require-imports -- the program must run anew on every evaluation
        exported = require(PROGRAM);
    } catch (e) {
        recordFailure(e);
    }
    const outputs: Record<string, unknown> = {};
    const secretOutputs = new Set<string>();
    for (const [key, value] of Object.entries(exported)) {
        // Lifting resolves outputs nested in exported objects, as the engine does for stack outputs.
        const lifted = pulumi.output(value) as any;
        try {
            outputs[key] = await lifted.promise();
            if (await lifted.isSecret) {
                secretOutputs.add(key);
            }
        } catch (e) {
            // An output the program could not compute fails the update, as its error.
            recordFailure(e);
        }
    }
    await settings.waitForRPCs().catch(recordFailure);
    // Rejections surface on the next turns of the event loop.
    await new Promise((resolve) => setImmediate(resolve));
    process.off("unhandledRejection", recordFailure);
    return { resources, outputs, secretOutputs, generated, error: failures[0] };
}

export function ofType(run: StackRun, type: string): RecordedResource[] {
    return run.resources.filter((r) => r.type === type);
}

/** The only resource of a type; fails loudly when there are none or several. */
export function single(run: StackRun, type: string): RecordedResource {
    const found = ofType(run, type);
    if (found.length !== 1) {
        throw new Error(`expected exactly one ${type}, found ${found.length}`);
    }
    return found[0];
}

export function byUrn(run: StackRun, urn: string): RecordedResource | undefined {
    return run.resources.find((r) => r.urn === urn);
}

/**
 * True when `from` waits for `to` as the engine orders them: through its own dependencies, its
 * provider, those of its ancestor components (a child registers only after its parent, which waits for its dependencies),
 * and, for a dependency on a component, everything inside that component.
 */
export function waitsFor(run: StackRun, from: RecordedResource, to: RecordedResource): boolean {
    const seen = new Set<string>();
    const pending = [from.urn];
    while (pending.length > 0) {
        const urn = pending.pop()!;
        if (urn === to.urn) {
            return true;
        }
        const resource = byUrn(run, urn);
        if (seen.has(urn) || !resource) {
            continue;
        }
        seen.add(urn);
        for (let ancestor: RecordedResource | undefined = resource; ancestor; ancestor = ancestor.parent ? byUrn(run, ancestor.parent) : undefined) {
            pending.push(...ancestor.dependencies);
        }
        if (resource.provider) {
            // A provider reference is "<urn>::<id>"; the engine creates the provider first.
            pending.push(resource.provider.slice(0, resource.provider.lastIndexOf("::")));
        }
        if (!resource.custom) {
            pending.push(...run.resources.filter((r) => r.parent === urn).map((r) => r.urn));
        }
    }
    return false;
}
