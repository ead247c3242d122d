import { createHash } from "crypto";
import * as fs from "fs";
import { IMAGES_LOCK_FILE } from "../components/data";

// What the pinned Bitnami images occupy in a registry that holds them all, as `npm run images:mirror` measured it in
// the stack's own repository, beside the lock it copied: the cost report prices it as Artifact Registry storage.

export interface ImageStorage {
    /** The lock the figure was measured for (lockDigest): a figure for other digests is not this one's. */
    readonly lock: string;
    /** Every blob once (manifests, configs, layers) of every platform, as a registry stores them. */
    readonly bytes: number;
    readonly blobs: number;
}

/** Where the figure for `lockFile` is kept: helm-values/images.lock.json -> helm-values/images.storage.json. */
export const storageFileOf = (lockFile: string) => lockFile.replace(/(\.lock)?\.json$/, ".storage.json");

/** Identifies a lock by its entries, whatever their order or formatting. */
export const lockDigest = (lock: ReadonlyMap<string, string> | Record<string, string>) =>
    createHash("sha256")
        .update(JSON.stringify((lock instanceof Map ? [...lock] : Object.entries(lock)).sort()))
        .digest("hex");

export function writeImageStorage(lockFile: string, storage: ImageStorage): void {
    fs.writeFileSync(storageFileOf(lockFile), `${JSON.stringify(storage, null, 2)}\n`);
}

/** The measured figure for the lock given, or undefined: never measured, or measured for other digests. */
export function measuredImageStorage(lock: ReadonlyMap<string, string>, lockFile: string = IMAGES_LOCK_FILE): ImageStorage | undefined {
    const file = storageFileOf(lockFile);
    if (lock.size === 0 || !fs.existsSync(file)) {
        return undefined;
    }
    let storage: ImageStorage;
    try {
        storage = JSON.parse(fs.readFileSync(file, "utf8"));
    } catch {
        return undefined; // unreadable (a merge left markers in it): priced as assumed until the mirror writes it again
    }
    return storage.lock === lockDigest(lock) && Number.isFinite(storage.bytes) ? storage : undefined;
}
