/**
 * The images a stack runs, read from its real rendering (offline/render.ts: every chart by `helm template` with the
 * program's values, and the program's own objects), so the kind end-to-end can pull each once, cache it and load it
 * into the node before `pulumi up` (.github/scripts/e2e-images.sh). Never a hand-kept list: a chart bump, a new
 * exporter or a new Job changes what is pulled on the next run.
 *
 *     ts-node --transpile-only .github/e2e/images.ts STACK OUT_DIR
 *
 * writes OUT_DIR/images.txt (one reference a line, sorted) and OUT_DIR/python-image.txt (the image the fake price API
 * runs in, .github/scripts/e2e-price-api.sh).
 */
import * as fs from "fs";
import * as path from "path";
import { Manifest, podTemplate, renderStack, WORKLOAD_KINDS } from "../../offline/render";

/** `helm test` pods run only when someone runs `helm test`; every other hook runs with the release. */
const HELM_TEST_HOOKS = new Set(["test", "test-success", "test-failure"]);
const isHelmTest = (object: Manifest) =>
    (object.metadata.annotations?.["helm.sh/hook"] ?? "").split(",").some((hook) => HELM_TEST_HOOKS.has(hook.trim()));

/** Every container of a pod spec, init containers (sidecars among them) and ephemeral ones included. */
const containersOf = (spec: any): any[] => [...(spec.initContainers ?? []), ...(spec.containers ?? []), ...(spec.ephemeralContainers ?? [])];

/** The pod specs the objects start: the workloads' templates and bare Pods, leaving out `helm test` pods. */
function podSpecs(objects: readonly Manifest[]): any[] {
    return objects
        .filter((o) => !isHelmTest(o))
        .flatMap((o) => (WORKLOAD_KINDS.includes(o.kind) ? [podTemplate(o).spec] : o.kind === "Pod" ? [o.spec] : []));
}

/** Every image the objects run, once each, sorted. */
export function imagesOf(objects: readonly Manifest[]): string[] {
    return [...new Set(podSpecs(objects).flatMap((spec) => containersOf(spec).map((c) => String(c.image))))].sort();
}

/**
 * The pull policy the API server gives a container (core/v1 defaults, SetDefaults_Container): its own, else Always
 * for an image without a tag or digest or tagged latest, else IfNotPresent.
 */
export function pullPolicy(container: { image: string; imagePullPolicy?: string }): string {
    if (container.imagePullPolicy) {
        return container.imagePullPolicy;
    }
    const reference = container.image.split("@")[0];
    const tag = /:([^/:]+)$/.exec(reference)?.[1];
    return container.image.includes("@") || (tag !== undefined && tag !== "latest") ? "IfNotPresent" : "Always";
}

/** "workload/container image policy" of every container the kubelet would pull although its image is on the node. */
export function pullingContainers(objects: readonly Manifest[]): string[] {
    return objects
        .filter((o) => !isHelmTest(o) && (WORKLOAD_KINDS.includes(o.kind) || o.kind === "Pod"))
        .flatMap((o) =>
            containersOf(o.kind === "Pod" ? o.spec : podTemplate(o).spec)
                .filter((c) => pullPolicy(c) !== "IfNotPresent")
                .map((c) => `${o.kind}/${o.metadata.namespace}/${o.metadata.name}/${c.name} ${c.image} ${pullPolicy(c)}`),
        );
}

/**
 * The image the fake price API runs in: the streaming driver's, the Spark image on a stack without built images. It has
 * python3 on its PATH (the driver's install-python-deps init container runs `python3 -m pip` in it) and is on the node
 * anyway, so the fake adds no pull.
 */
export function pythonImage(objects: readonly Manifest[]): string {
    const driver = objects.find((o) => o.kind === "Deployment" && o.metadata.name === "crypto-ticks-stream");
    const image = driver && podTemplate(driver).spec.containers.find((c: any) => c.name === "driver")?.image;
    if (!image) {
        throw new Error("the stack renders no Deployment crypto-ticks-stream with a driver container");
    }
    return image;
}

async function main(stack: string, outDir: string): Promise<void> {
    const { objects } = await renderStack(stack);
    const pulling = pullingContainers(objects);
    if (pulling.length > 0) {
        throw new Error(`these containers would pull an image already on the node (imagePullPolicy):\n${pulling.join("\n")}`);
    }
    fs.mkdirSync(outDir, { recursive: true });
    fs.writeFileSync(path.join(outDir, "images.txt"), imagesOf(objects).join("\n") + "\n");
    fs.writeFileSync(path.join(outDir, "python-image.txt"), pythonImage(objects) + "\n");
}

if (require.main === module) {
    const [stack, outDir] = process.argv.slice(2);
    if (!stack || !outDir) {
        console.error("usage: ts-node --transpile-only .github/e2e/images.ts STACK OUT_DIR");
        process.exit(2);
    }
    main(stack, outDir).then(
        () => process.exit(0),
        (error) => {
            console.error(error?.stack ?? error);
            process.exit(1);
        },
    );
}
