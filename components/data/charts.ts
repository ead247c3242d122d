import * as fs from "fs";
import * as path from "path";
import { parse } from "yaml";

/** Where Bitnami still serves its charts; images moved to docker.io/bitnamilegacy (see README). */
export const BITNAMI_CHART_REPOSITORY = "oci://registry-1.docker.io/bitnamicharts";

/** The last published version of each chart: the one place chart versions are pinned. */
export const CHART_VERSIONS = {
    kafka: "32.4.3",
    postgresql: "16.7.27",
    spark: "10.0.3",
    airflow: "25.0.2",
} as const;

export type ChartName = keyof typeof CHART_VERSIONS;

export type HelmValues = { [key: string]: unknown };

const HELM_VALUES_DIR = path.resolve(__dirname, "..", "..", "helm-values");

/** Base values of a chart as a Helm user would write them, from helm-values/<chart>.yaml. */
export function baseValues(chart: ChartName): HelmValues {
    const text = fs.readFileSync(path.join(HELM_VALUES_DIR, `${chart}.yaml`), "utf8");
    if (!parsedValues.has(text)) {
        parsedValues.set(text, parse(text) ?? {});
    }
    return structuredClone(parsedValues.get(text)!);
}

/** By the file's text: the program reads a chart's values again for every image it looks up (readImageLock, chartImage). */
const parsedValues = new Map<string, HelmValues>();

/** A YAML/JSON mapping: what Helm merges key by key, as opposed to a list or a scalar. */
export function isMap(value: unknown): value is HelmValues {
    return typeof value === "object" && value !== null && !Array.isArray(value);
}

/** Merges value layers the way Helm does: maps merge key by key, lists and scalars are replaced. */
export function mergeValues(...layers: HelmValues[]): HelmValues {
    return layers.reduce<HelmValues>((merged, layer) => {
        const result: HelmValues = { ...merged };
        for (const [key, value] of Object.entries(layer)) {
            result[key] = isMap(value) && isMap(result[key]) ? mergeValues(result[key] as HelmValues, value) : value;
        }
        return result;
    }, {});
}

/** A Bitnami image block of the values: a bitnamilegacy/ repository with a tag (and optionally a registry and a digest). */
export interface BitnamiImageBlock {
    registry?: string;
    repository: string;
    tag: string;
    digest?: string;
}

export function isBitnamiImageBlock(value: HelmValues): value is HelmValues & BitnamiImageBlock {
    return String(value.repository).startsWith("bitnamilegacy/") && "tag" in value;
}

/** How the lock names an image: where helm-values/<chart>.yaml pulls it from, e.g. docker.io/bitnamilegacy/kafka:4.0.0-debian-12-r10. */
export const imageKey = (block: BitnamiImageBlock) => `${block.registry || "docker.io"}/${block.repository}:${block.tag}`;

/** docker.io/bitnamilegacy/kafka:4.0.0-debian-12-r10 -> repository bitnamilegacy/kafka, tag 4.0.0-debian-12-r10. */
export function parseImage(image: string): { repository: string; tag: string } {
    const match = /^docker\.io\/([a-z0-9]+(?:[._-][a-z0-9]+)*(?:\/[a-z0-9]+(?:[._-][a-z0-9]+)*)+):([\w][\w.-]{0,127})$/.exec(image);
    if (!match) {
        throw new Error(`${image}: not a Docker Hub image reference docker.io/<namespace>/<name>:<tag>`);
    }
    return { repository: match[1], tag: match[2] };
}

/** Every Bitnami image pinned in helm-values/<chart>.yaml, subchart blocks included, by its lock key. */
export function pinnedImages(): Set<string> {
    const found = new Set<string>();
    const walk = (values: HelmValues) => {
        if (isBitnamiImageBlock(values)) {
            found.add(imageKey(values));
        }
        Object.values(values).filter(isMap).forEach(walk);
    };
    (Object.keys(CHART_VERSIONS) as ChartName[]).forEach((chart) => walk(baseValues(chart)));
    return found;
}

/** The digest lock written by `npm run images:lock`: lock key of a pinned image -> its manifest digest, resolved from the registry. */
export const IMAGES_LOCK_FILE = path.join(HELM_VALUES_DIR, "images.lock.json");
export const IMAGE_DIGEST = /^sha256:[0-9a-f]{64}$/;

export interface ImageLock {
    /** Lock key -> sha256 digest; only entries that are pinned and well formed. */
    readonly digests: ReadonlyMap<string, string>;
    /** What does not match the pins, each naming the file and the image; the program refuses to run with any. */
    readonly problems: readonly string[];
}

/** Reads and checks the lock against the pinned tags. An empty lock ({}) is valid: the tags are used. */
export function readImageLock(file: string = IMAGES_LOCK_FILE): ImageLock {
    const shown = path.relative(path.resolve(HELM_VALUES_DIR, ".."), file);
    const fix = "run `npm run images:lock` to resolve the pinned tags again";
    let parsed: unknown;
    try {
        parsed = JSON.parse(fs.readFileSync(file, "utf8"));
    } catch (error) {
        return { digests: new Map(), problems: [`${shown}: not readable as JSON (${(error as Error).message}); ${fix}`] };
    }
    if (!isMap(parsed)) {
        return { digests: new Map(), problems: [`${shown}: must be a JSON object of image -> digest; ${fix}`] };
    }
    const pinned = pinnedImages();
    const digests = new Map<string, string>();
    const problems: string[] = [];
    for (const [image, digest] of Object.entries(parsed)) {
        if (!pinned.has(image)) {
            problems.push(`${shown}: ${image} is not an image pinned in helm-values/*.yaml; ${fix}`);
        } else if (typeof digest !== "string" || !IMAGE_DIGEST.test(digest)) {
            problems.push(`${shown}: ${image} has the digest ${JSON.stringify(digest)}, not sha256:<64 lowercase hex digits>; ${fix}`);
        } else {
            digests.set(image, digest);
        }
    }
    return { digests, problems };
}

/** Every locked image as a registry names it under its repository path: bitnamilegacy/kafka@sha256:… */
export const lockedImages = (): string[] => [...readImageLock().digests].map(([image, digest]) => `${parseImage(image).repository}@${digest}`).sort();

/**
 * An image pinned in helm-values/<chart>.yaml (`at`: the dotted path of its block, `image` by default), from
 * `registry`: by its locked digest (registry/repository:tag@digest) when the lock has one, else by tag.
 * Used for what pipeline images build on and for the pods the program runs on a chart's image.
 */
export function chartImage(chart: ChartName, registry: string, at = "image"): string {
    const image = at.split(".").reduce<any>((values, key) => values?.[key], baseValues(chart)) as BitnamiImageBlock;
    const digest = readImageLock().digests.get(imageKey(image));
    return `${registry}/${image.repository}:${image.tag}${digest ? `@${digest}` : ""}`;
}
