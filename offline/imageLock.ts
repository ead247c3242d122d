import * as fs from "fs";
import * as os from "os";
import * as path from "path";
import { IMAGES_LOCK_FILE, pinnedImages } from "../components/data/charts";
import { madeUpLock } from "./harness";

export { digestOf } from "./harness";

/** The lock every evaluation reads unless a test names another (offline/harness.ts): a made-up digest for each pinned image. */
export const fullLock = () => madeUpLock(pinnedImages());

/**
 * Runs `body` while the program reads `lock` as helm-values/images.lock.json: the lock is written to a temporary
 * file, and the fs module object's readFileSync (which the program reads through) answers the lock's path from it.
 */
export async function withLock<T>(lock: unknown, body: () => Promise<T>): Promise<T> {
    const dir = fs.mkdtempSync(path.join(os.tmpdir(), "images-lock-"));
    const file = path.join(dir, "images.lock.json");
    fs.writeFileSync(file, typeof lock === "string" ? lock : JSON.stringify(lock));
    // eslint-disable-next-line @typescript-eslint/no-require-imports
    const nodeFs: typeof fs = require("fs");
    const original = nodeFs.readFileSync;
    nodeFs.readFileSync = ((target: fs.PathOrFileDescriptor, options?: any) =>
        original(target === IMAGES_LOCK_FILE ? file : target, options)) as typeof fs.readFileSync;
    try {
        return await body();
    } finally {
        nodeFs.readFileSync = original;
        fs.rmSync(dir, { recursive: true, force: true });
    }
}
