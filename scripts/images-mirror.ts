/**
 * `npm run images:mirror -- --stack <stack>` (or `--to <region>-docker.pkg.dev/<project>/<repository>`): resolves every Bitnami image
 * tag pinned in helm-values/<chart>.yaml to its digest as `npm run images:lock` does, copies each image by that
 * digest into the target registry with crane (a registry client; no Docker daemon), keeping its repository path
 * (docker.io/bitnamilegacy/kafka:<tag> becomes <target>/bitnamilegacy/kafka:<tag>), and writes
 * helm-values/images.lock.json once every image is in the target at its locked digest, and beside it
 * helm-values/images.storage.json, what they occupy there (the cost report's Artifact Registry line). `--stack` takes the target
 * from the stack's config: its own repository (components/gcp/bitnamiImages.ts), which a GKE stack pulls every
 * Bitnami image from by default, by digest; `--to` takes any registry (then `imageRegistry: <target>`).
 *
 * Safe to rerun: an image already in the target at its digest is skipped, layers already there are not sent
 * again. Nothing is overwritten silently: a tag that now points at another digest than the lock's keeps the
 * lock's (copied by digest) and fails the run until `--update` accepts the new one; a target tag that points
 * elsewhere is left alone and named. When the source no longer serves an image, the locked digest in the target
 * is enough (RUNBOOK below).
 *
 *   npm run images:mirror -- --stack <stack> | --to <registry>/<path> [--update] [--lock <file>] [--registry <url> --auth <token url>]
 */
import { execFile, execFileSync } from "child_process";
import * as path from "path";
import { IMAGES_LOCK_FILE, parseImage, readImageLock } from "../components/data/charts";
import { REGISTRY } from "../config/services";
import { DOCKER_HUB, option, RegistryEndpoints, resolvePinned, writeLock } from "./images-lock";
import { creationSteps, stackRepository } from "./registry/stackRepository";
import { ImageStorage, lockDigest, storageFileOf, writeImageStorage } from "../report/imageStorage";

const BUILD = path.resolve(__dirname, "registry", "build");
/** What a copy may take: the largest Bitnami images are about 1 GB per platform. */
const COPY_TIMEOUT_MS = 60 * 60_000;
const READ_TIMEOUT_MS = 120_000;
/** Where a user is sent when the source no longer has an image. */
export const RUNBOOK = "docs/runbook.md#15-images-the-day-bitnamilegacy-is-gone";

export interface MirrorOptions {
    /** The target: a registry host with a path, e.g. us-central1-docker.pkg.dev/<project>/<repository>. */
    readonly target: string;
    /** The source registry's API (Docker Hub unless given). */
    readonly endpoints?: RegistryEndpoints;
    readonly lockFile?: string;
    /** Accept a tag's new digest where the source moved it away from the lock's. */
    readonly update?: boolean;
    /** The crane binary; built by scripts/registry/build unless given. */
    readonly crane?: string;
    readonly log?: (line: string) => void;
    /** The command a message tells the user to run again; `npm run images:mirror -- --to <target>` unless given. */
    readonly rerun?: string;
}

/** What the run did with one image. */
export interface MirrorOutcome {
    readonly image: string;
    /** The digest the lock holds for it after the run (the one in the target), if any. */
    readonly digest?: string;
    /** present: already in the target at its digest; copied; tagged: the manifest was there, the tag was not; none. */
    readonly action: "present" | "copied" | "tagged" | "none";
    /** Why the run fails for this image: it names the image and what to do. */
    readonly problem?: string;
    /** What a user should know about an image that is in the target all the same. */
    readonly note?: string;
}

/** A mirror run that left at least one image out of the target: the lock is unchanged. */
export class MirrorError extends Error {
    constructor(
        message: string,
        readonly outcomes: readonly MirrorOutcome[],
    ) {
        super(message);
        this.name = "MirrorError";
    }
}

/** Builds crane once (cached by its go.sum) and returns its path. */
export function buildCrane(): string {
    return execFileSync(BUILD, ["crane"], { encoding: "utf8", stdio: ["ignore", "pipe", "inherit"] }).trim();
}

/** The host crane names the source by: the API's host, Docker Hub as crane spells it. */
export function sourceHost(endpoints: RegistryEndpoints): string {
    return endpoints.registry === DOCKER_HUB.registry ? "index.docker.io" : new URL(endpoints.registry).host;
}

/** The target as given, or an error naming the option and what it takes. */
export function checkTarget(target: string | undefined): string {
    const example = "such as us-central1-docker.pkg.dev/<project>/<repository> (the stack's imageRegistry)";
    if (target === undefined) {
        throw new Error(`--to is required: the target registry and path, ${example}`);
    }
    const trimmed = target.replace(/\/+$/, "");
    if (!REGISTRY.test(trimmed) || !trimmed.includes("/")) {
        throw new Error(`--to ${JSON.stringify(target)}: the target registry and path, ${example}`);
    }
    return trimmed;
}

function run(crane: string, args: string[], timeout: number): Promise<{ ok: boolean; stdout: string; error: string }> {
    return new Promise((resolve) => {
        execFile(crane, args, { timeout, maxBuffer: 16 * 1024 * 1024 }, (error, stdout, stderr) => {
            // crane's own error is its last "Error: " line; its progress lines come before it.
            const lines = String(stderr).trim().split("\n");
            const cause = [...lines].reverse().find((line) => line.startsWith("Error: ")) ?? lines[lines.length - 1] ?? "";
            resolve({
                ok: !error,
                stdout: String(stdout).trim(),
                error: error ? (error.killed ? `timed out after ${timeout / 1000} s` : cause.replace(/^Error: /, "")) : "",
            });
        });
    });
}

/** A registry's answer that the manifest is not there (distribution and Artifact Registry). */
const NOT_FOUND = /MANIFEST_UNKNOWN|NAME_UNKNOWN|NOT_FOUND|404/;

/** The digest `reference` has in its registry, undefined where it has none; an error for anything else (auth, network). */
async function digestAt(crane: string, reference: string): Promise<string | undefined> {
    const result = await run(crane, ["digest", reference], READ_TIMEOUT_MS);
    if (result.ok) {
        return result.stdout;
    }
    if (NOT_FOUND.test(result.error)) {
        return undefined;
    }
    throw new Error(
        `cannot read ${reference}: ${result.error}; for Artifact Registry, log in once with gcloud auth configure-docker <region>-docker.pkg.dev`,
    );
}

interface Job {
    readonly image: string;
    /** What the source said of the tag. */
    readonly source: { readonly digest?: string; readonly failure?: string };
    readonly locked?: string;
}

interface Context {
    readonly crane: string;
    readonly target: string;
    readonly from: string;
    readonly update: boolean;
    /** The command to run again, as the user ran it. */
    readonly rerun: string;
}

/** Brings one image into the target at the digest the lock is to hold; the outcome says what happened. */
async function mirrorOne({ image, source, locked }: Job, { crane, target, from, update, rerun }: Context): Promise<MirrorOutcome> {
    const { repository, tag } = parseImage(image);
    const at = `${target}/${repository}`;
    const changed = source.digest !== undefined && locked !== undefined && source.digest !== locked;
    // The lock's digest, unless --update takes the source's new one: nothing moves on its own.
    const digest = locked !== undefined && !(changed && update) ? locked : source.digest;
    if (digest === undefined) {
        return {
            image,
            action: "none",
            problem: `${image}: the source did not resolve it (${source.failure}) and the lock has no digest for it, so there is nothing to copy. If the tag is gone for good, see ${RUNBOOK}.`,
        };
    }
    const [atDigest, atTag] = await Promise.all([digestAt(crane, `${at}@${digest}`), digestAt(crane, `${at}:${tag}`)]);
    // The target's tag is overwritten only by --update, and only where it held the lock's old digest.
    const overwrite = changed && update && atTag === locked;
    if (atTag !== undefined && atTag !== digest && !overwrite) {
        return {
            image,
            digest: locked,
            action: "none",
            problem: `${image}: ${at}:${tag} points at ${atTag}, not ${digest}, and was left alone. Check what pushed it; to replace it, delete that tag (gcloud artifacts docker tags delete ${at}:${tag}) and run ${rerun} again.`,
        };
    }
    let action: MirrorOutcome["action"];
    if (atDigest === digest && atTag === digest) {
        action = "present";
    } else if (atDigest === digest) {
        // The manifest is there without this tag: tagging it needs no source.
        const tagged = await run(crane, ["tag", `${at}@${digest}`, tag], READ_TIMEOUT_MS);
        if (!tagged.ok) {
            return {
                image,
                digest: locked,
                action: "none",
                problem: `${image}: tagging ${at}@${digest} as ${tag} failed: ${tagged.error}. Run ${rerun} again.`,
            };
        }
        action = "tagged";
    } else {
        // crane copy pulls the index by digest (every platform, so the digest stays the same), sends only the blobs
        // the target lacks (go-containerregistry pkg/v1/remote/write.go asks for each with HEAD first) and the
        // manifest last, so an interrupted copy leaves no manifest; --no-clobber refuses a tag pushed meanwhile.
        const copied = await run(
            crane,
            ["copy", ...(overwrite ? [] : ["--no-clobber"]), `${from}/${repository}@${digest}`, `${at}:${tag}`],
            COPY_TIMEOUT_MS,
        );
        if (!copied.ok) {
            // Which side failed: a source without the digest is a missing image, anything else an unfinished copy.
            const gone = await digestAt(crane, `${from}/${repository}@${digest}`).then(
                (found) => found === undefined,
                () => false,
            );
            return {
                image,
                digest: locked,
                action: "none",
                problem: gone
                    ? `${image}: the source (${from}) no longer has ${digest} (${copied.error}), and the target does not hold it. See ${RUNBOOK}.`
                    : `${image}: copying ${digest} to ${at}:${tag} did not finish: ${copied.error}. The target may hold some of its layers but no manifest, so nothing can pull a partial image. Run ${rerun} again: layers already there are not sent twice.`,
            };
        }
        action = "copied";
    }
    const now = await digestAt(crane, `${at}:${tag}`);
    if (now !== digest) {
        return {
            image,
            digest: locked,
            action: "none",
            problem: `${image}: after the copy ${at}:${tag} reports ${now ?? "no manifest"}, not ${digest}. Run ${rerun} again.`,
        };
    }
    if (changed && !update) {
        return {
            image,
            digest,
            action,
            problem: `${image}: the source's tag now points at ${source.digest}, not the locked ${locked}. Nothing was overwritten: the lock and the target keep ${locked}. If the new image is wanted, review it and run ${rerun} --update.`,
        };
    }
    const note = source.digest === undefined ? `the source did not resolve it (${source.failure}); the target holds the locked ${digest}` : undefined;
    return { image, digest, action, note };
}

/** A manifest as the registry stores it: its exact bytes (crane prints them unchanged). */
function manifestBytes(crane: string, reference: string): Promise<Buffer> {
    return new Promise((resolve, reject) =>
        execFile(
            crane,
            ["manifest", reference],
            { encoding: "buffer", timeout: READ_TIMEOUT_MS, maxBuffer: 16 * 1024 * 1024 },
            (error, stdout, stderr) =>
                error ? reject(new Error(`cannot read the manifest of ${reference}: ${String(stderr).trim()}`)) : resolve(stdout),
        ),
    );
}

/**
 * What the locked images occupy in the target: every blob they reference, each once, however many images share it
 * (a registry stores a blob once per repository, and Artifact Registry bills the stored bytes): each index and its
 * platforms' manifests, configs and layers, from the manifests themselves.
 */
export async function storedImages(crane: string, target: string, lock: Record<string, string>): Promise<ImageStorage> {
    const sizes = new Map<string, number>();
    const visit = async (at: string, digest: string): Promise<void> => {
        const raw = await manifestBytes(crane, `${at}@${digest}`);
        sizes.set(digest, raw.length);
        const manifest = JSON.parse(raw.toString("utf8"));
        // An index lists manifests; a manifest its config and layers (OCI image-spec, Docker schema 2 alike).
        for (const child of manifest.manifests ?? []) {
            await visit(at, child.digest);
        }
        for (const blob of [...(manifest.config ? [manifest.config] : []), ...(manifest.layers ?? [])]) {
            sizes.set(blob.digest, blob.size);
        }
    };
    for (const [image, digest] of Object.entries(lock)) {
        await visit(`${target}/${parseImage(image).repository}`, digest);
    }
    return { lock: lockDigest(lock), bytes: [...sizes.values()].reduce((total, size) => total + size, 0), blobs: sizes.size };
}

/**
 * Resolves every pinned image at the source, brings each into the target at its locked digest, and writes the
 * lock when all are there, with what the images occupy there beside it (report/imageStorage.ts). Throws a MirrorError naming every image left out, the lock unchanged.
 */
export async function mirrorImages(options: MirrorOptions): Promise<{ lock: Record<string, string>; outcomes: MirrorOutcome[] }> {
    const { endpoints = DOCKER_HUB, lockFile = IMAGES_LOCK_FILE, update = false, log = () => undefined } = options;
    const target = checkTarget(options.target);
    const crane = options.crane ?? buildCrane();
    // The committed lock, as the program reads it; an unreadable one is refused here as there.
    const current = readImageLock(lockFile);
    if (current.problems.length > 0) {
        throw new Error(current.problems.join("\n"));
    }
    const context: Context = {
        crane,
        target,
        from: sourceHost(endpoints),
        update,
        rerun: options.rerun ?? `npm run images:mirror -- --to ${target}`,
    };
    const outcomes: MirrorOutcome[] = [];
    // One at a time: crane already sends each image's layers in parallel, and the log stays in order.
    for (const { image, digest, failure } of await resolvePinned(endpoints)) {
        // The resolver's message starts with the image, which every line here names already.
        const source = { digest, failure: failure?.replace(`${image}: `, "") };
        const outcome = await mirrorOne({ image, source, locked: current.digests.get(image) }, context).catch((error: Error): MirrorOutcome => ({
            image,
            action: "none",
            problem: `${image}: ${error.message}`,
        }));
        outcomes.push(outcome);
        log(
            `${outcome.problem ? "FAILED" : outcome.action.padEnd(7)} ${image}${outcome.digest ? ` ${outcome.digest}` : ""}${outcome.note ? ` (${outcome.note})` : ""}`,
        );
    }
    const problems = outcomes.filter((o) => o.problem !== undefined);
    if (problems.length > 0) {
        throw new MirrorError(
            `${problems.length} of ${outcomes.length} image(s) are not in ${target} at their locked digest; ${lockFile} is unchanged:\n${problems.map((o) => `  - ${o.problem}`).join("\n")}`,
            outcomes,
        );
    }
    const lock = Object.fromEntries(outcomes.map((o) => [o.image, o.digest!]));
    // Measured before either file is written, so a failed measurement leaves the lock as it was, like any failure.
    const storage = await storedImages(crane, target, lock);
    writeLock(lockFile, lock);
    writeImageStorage(lockFile, storage);
    log(`${(storage.bytes / 2 ** 30).toFixed(2)} GiB in ${storage.blobs} blobs, every platform (${storageFileOf(lockFile)}, for the cost report)`);
    return { lock, outcomes };
}

/** The target of `--stack <stack>` or `--to <target>`, the command to rerun, and what to tell the user after the run. */
export function targetOf(args: string[]): { target: string; rerun?: string; onFailure: string[]; onSuccess: string[] } {
    const stack = option(args, "--stack");
    if (stack === undefined) {
        return { target: checkTarget(option(args, "--to")), onFailure: [], onSuccess: [] };
    }
    if (option(args, "--to") !== undefined) {
        throw new Error("--stack and --to both name the target: give one");
    }
    const repository = stackRepository(stack);
    return {
        target: repository.address,
        rerun: `npm run images:mirror -- --stack ${stack}`,
        onFailure: [
            `If ${repository.address} does not exist yet, create it first (README, "Images and charts in your own project"):`,
            ...creationSteps(repository).map((step) => `  ${step}`),
        ],
        onSuccess: repository.pullsElsewhere
            ? [
                  `${stack} still pulls from its ${repository.pullsElsewhere}: to pull from ${repository.address}, commit the lock, then pulumi config rm ${repository.pullsElsewhere.split(" ")[0]} -s ${stack} && pulumi up -s ${stack}`,
              ]
            : [`${stack} pulls from ${repository.address} by these digests on its next pulumi up, once the lock is committed.`],
    };
}

if (require.main === module) {
    const args = process.argv.slice(2);
    const registry = option(args, "--registry");
    // Another registry asks for a pull token only where --auth names its token service.
    const endpoints: RegistryEndpoints = registry === undefined ? DOCKER_HUB : { ...DOCKER_HUB, registry, auth: option(args, "--auth") };
    const lockFile = option(args, "--lock") ?? IMAGES_LOCK_FILE;
    let after: string[] = [];
    Promise.resolve()
        .then(() => {
            const { target, rerun, onFailure, onSuccess } = targetOf(args);
            after = onFailure;
            const run = mirrorImages({ target, rerun, endpoints, lockFile, update: args.includes("--update"), log: (line) => console.log(line) });
            return run.then((result) => ({ ...result, onSuccess }));
        })
        .then(
            ({ lock, outcomes, onSuccess }) => {
                const copied = outcomes.filter((o) => o.action !== "present").length;
                console.log(
                    `${Object.keys(lock).length} images in the target at their locked digests (${copied} copied or tagged now); ${lockFile} and ${storageFileOf(lockFile)} written: review the diff and commit them.`,
                );
                onSuccess.forEach((line) => console.log(line));
            },
            (error: Error) => {
                console.error(error.message);
                if (error instanceof MirrorError) {
                    after.forEach((line) => console.error(line));
                }
                process.exitCode = 1;
            },
        );
}
