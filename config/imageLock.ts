import { readImageLock } from "../components/data/charts";
import { ConfigReader } from "./reader";

/**
 * Refuses a digest lock (helm-values/images.lock.json, written by `npm run images:lock`) that does not match
 * the tags pinned in helm-values/*.yaml: an entry for an image no longer pinned, or a malformed digest.
 * Each problem names the file and the image; like every config problem, it stops the run before any resource.
 */
export function checkImageLock(reader: ConfigReader): void {
    reader.problems.push(...readImageLock().problems);
}
