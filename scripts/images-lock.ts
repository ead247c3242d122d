/**
 * `npm run images:lock`: resolves every Bitnami image tag pinned in helm-values/<chart>.yaml (subchart blocks
 * included) to its manifest digest, asking the registry (Docker Hub's registry API v2, anonymous pull token),
 * and writes helm-values/images.lock.json, which the program applies through each block's `image.digest`.
 * Nothing is written unless every pinned image resolved: the lock never holds a digest the registry did not give.
 *
 *   npm run images:lock [-- --lock <file>] [-- --registry <url> --auth <token url>]
 */
import { createHash } from "crypto";
import * as fs from "fs";
import { IMAGE_DIGEST, IMAGES_LOCK_FILE, parseImage, pinnedImages } from "../components/data/charts";

/** Where the registry API and its token service are. */
export interface RegistryEndpoints {
    /** Base URL of the registry API v2, e.g. https://registry-1.docker.io. */
    readonly registry: string;
    /** The token endpoint that hands out anonymous pull tokens; none for a registry that asks for no token (a loopback one). */
    readonly auth?: string;
    /** The `service` the token is for (with `auth`). */
    readonly service?: string;
}

export const DOCKER_HUB: RegistryEndpoints = {
    registry: "https://registry-1.docker.io",
    auth: "https://auth.docker.io/token",
    service: "registry.docker.io",
};

/**
 * What a tag may point at, multi-platform first: the digest of the index (manifest list) is what a pull of the
 * tag resolves on every platform. A single-platform image answers with its manifest.
 */
export const MANIFEST_TYPES = [
    "application/vnd.oci.image.index.v1+json",
    "application/vnd.docker.distribution.manifest.list.v2+json",
    "application/vnd.oci.image.manifest.v1+json",
    "application/vnd.docker.distribution.manifest.v2+json",
];

const TIMEOUT_MS = 30_000;

async function pullToken(endpoints: RegistryEndpoints & { auth: string }, repository: string, image: string): Promise<string> {
    const url = new URL(endpoints.auth);
    url.searchParams.set("service", endpoints.service ?? "");
    url.searchParams.set("scope", `repository:${repository}:pull`);
    const response = await fetch(url, { signal: AbortSignal.timeout(TIMEOUT_MS) });
    if (!response.ok) {
        throw new Error(`${image}: the token endpoint ${endpoints.auth} answered ${response.status} ${response.statusText}`);
    }
    const body = (await response.json()) as { token?: string; access_token?: string };
    const token = body.token ?? body.access_token;
    if (!token) {
        throw new Error(`${image}: the token endpoint ${endpoints.auth} gave no token`);
    }
    return token;
}

/** The manifest digest a pinned tag points at, as the registry reports it (Docker-Content-Digest). */
export async function resolveDigest(image: string, endpoints: RegistryEndpoints = DOCKER_HUB): Promise<string> {
    const { repository, tag } = parseImage(image);
    const auth = endpoints.auth;
    const token = auth === undefined ? undefined : await pullToken({ ...endpoints, auth }, repository, image);
    const url = `${endpoints.registry.replace(/\/+$/, "")}/v2/${repository}/manifests/${encodeURIComponent(tag)}`;
    const request = (method: "HEAD" | "GET") =>
        fetch(url, {
            method,
            headers: { Accept: MANIFEST_TYPES.join(", "), ...(token === undefined ? {} : { Authorization: `Bearer ${token}` }) },
            signal: AbortSignal.timeout(TIMEOUT_MS),
        });
    let response = await request("HEAD");
    let digest = response.ok ? response.headers.get("docker-content-digest") : null;
    if (response.ok && !digest) {
        // Some registries leave the header off HEAD: the digest is then that of the manifest's bytes.
        response = await request("GET");
        const body = Buffer.from(await response.arrayBuffer());
        digest = response.headers.get("docker-content-digest") ?? `sha256:${createHash("sha256").update(body).digest("hex")}`;
    }
    if (response.status === 401) {
        throw new Error(`${image}: ${url} refused the pull token (401 Unauthorized)`);
    }
    if (response.status === 404) {
        throw new Error(`${image}: ${url} has no such manifest (404): is the tag still published?`);
    }
    if (!response.ok) {
        throw new Error(`${image}: ${url} answered ${response.status} ${response.statusText}`);
    }
    const type = (response.headers.get("content-type") ?? "").split(";")[0].trim();
    if (!MANIFEST_TYPES.includes(type)) {
        throw new Error(`${image}: ${url} answered with ${type || "no content type"}, not one of ${MANIFEST_TYPES.join(", ")}`);
    }
    if (!digest || !IMAGE_DIGEST.test(digest)) {
        throw new Error(`${image}: ${url} reported the digest ${JSON.stringify(digest)}, not sha256:<64 lowercase hex digits>`);
    }
    return digest;
}

export interface LockOptions {
    readonly lockFile?: string;
    readonly endpoints?: RegistryEndpoints;
    readonly log?: (line: string) => void;
}

/** Every pinned image (sorted) with the digest the registry gave it, or why it gave none. */
export async function resolvePinned(endpoints: RegistryEndpoints = DOCKER_HUB): Promise<{ image: string; digest?: string; failure?: string }[]> {
    const images = [...pinnedImages()].sort();
    // All at once: a handful of HEAD requests, and an unreachable registry fails in one timeout, not one per image.
    const results = await Promise.allSettled(images.map((image) => resolveDigest(image, endpoints)));
    return results.map((result, i) => {
        if (result.status === "fulfilled") {
            return { image: images[i], digest: result.value };
        }
        const error = result.reason as Error & { cause?: { message?: string; code?: string } };
        const message = error.message.startsWith(`${images[i]}:`) ? error.message : `${images[i]}: ${error.message}`;
        return { image: images[i], failure: error.cause ? `${message} (${error.cause.code ?? error.cause.message})` : message };
    });
}

/** Writes the lock as the program reads it: one entry per image, sorted. */
export function writeLock(lockFile: string, lock: Record<string, string>): void {
    const sorted = Object.fromEntries(
        Object.keys(lock)
            .sort()
            .map((image) => [image, lock[image]]),
    );
    fs.writeFileSync(lockFile, `${JSON.stringify(sorted, null, 2)}\n`);
}

/**
 * Resolves every pinned image and writes the lock (sorted, one entry per image); entries for images no longer
 * pinned are dropped. Throws, writing nothing, when any image does not resolve.
 */
export async function lockImages(options: LockOptions = {}): Promise<Record<string, string>> {
    const { lockFile = IMAGES_LOCK_FILE, endpoints = DOCKER_HUB, log = () => undefined } = options;
    const lock: Record<string, string> = {};
    const failures: string[] = [];
    for (const { image, digest, failure } of await resolvePinned(endpoints)) {
        if (digest) {
            lock[image] = digest;
            log(`${image} ${digest}`);
        } else {
            failures.push(failure!);
        }
    }
    if (failures.length > 0) {
        throw new Error(`${failures.length} image(s) did not resolve; ${lockFile} is unchanged:\n${failures.map((f) => `  - ${f}`).join("\n")}`);
    }
    writeLock(lockFile, lock);
    return lock;
}

export function option(args: string[], name: string): string | undefined {
    const at = args.indexOf(name);
    return at >= 0 ? args[at + 1] : undefined;
}

if (require.main === module) {
    const args = process.argv.slice(2);
    const endpoints = { ...DOCKER_HUB, registry: option(args, "--registry") ?? DOCKER_HUB.registry, auth: option(args, "--auth") ?? DOCKER_HUB.auth };
    const lockFile = option(args, "--lock") ?? IMAGES_LOCK_FILE;
    lockImages({ lockFile, endpoints, log: (line) => console.log(line) }).then(
        (lock) => console.log(`${Object.keys(lock).length} digests written to ${lockFile}; review the diff and commit it.`),
        (error: Error) => {
            console.error(error.message);
            process.exitCode = 1;
        },
    );
}
