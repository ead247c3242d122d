import * as pulumi from "@pulumi/pulumi";
import * as k8s from "@pulumi/kubernetes";
import {
    baseValues,
    BITNAMI_CHART_REPOSITORY,
    CHART_VERSIONS,
    ChartName,
    HelmValues,
    imageKey,
    isBitnamiImageBlock,
    isMap,
    mergeValues,
    readImageLock,
} from "./charts";

export interface BitnamiReleaseArgs {
    /** Which pinned Bitnami chart to install; also the release's name. */
    readonly chart: ChartName;
    /** Namespace of the release. */
    readonly namespace: pulumi.Input<string>;
    /** Per-stack values layered over helm-values/<chart>.yaml. */
    readonly values: pulumi.Input<HelmValues>;
    /** Registry for every Bitnami image of the release, subcharts included; images we built keep theirs. */
    readonly imageRegistry: pulumi.Input<string>;
    /** How long Helm waits for the release to become ready, in seconds. */
    readonly timeoutSeconds: number;
}

/** Points every Bitnami image block (a map with a bitnamilegacy/ repository and a tag) at the given registry. */
export function withImageRegistry(values: HelmValues, registry: string): HelmValues {
    const result: HelmValues = { ...values };
    if (String(result.repository).startsWith("bitnamilegacy/") && "tag" in result) {
        result.registry = registry;
    }
    for (const [key, value] of Object.entries(result)) {
        if (isMap(value)) {
            result[key] = withImageRegistry(value, registry);
        }
    }
    return result;
}

/**
 * Sets the locked digest (helm-values/images.lock.json) on every Bitnami image block that has one and no digest
 * of its own; the charts then render registry/repository@digest. The tag stays, and so does the lock key: a
 * digest names the same manifest on Docker Hub and on any mirror of it, so it holds after withImageRegistry.
 */
export function withImageDigests(values: HelmValues, digests: ReadonlyMap<string, string>): HelmValues {
    const result: HelmValues = { ...values };
    if (isBitnamiImageBlock(result) && !result.digest && digests.has(imageKey(result))) {
        result.digest = digests.get(imageKey(result));
    }
    for (const [key, value] of Object.entries(result)) {
        if (isMap(value)) {
            result[key] = withImageDigests(value, digests);
        }
    }
    return result;
}

/**
 * The OCI repository the charts are installed from: config `chartRepository` (checked by config/services.ts before
 * any resource is created), or Bitnami's. Read here rather than passed down, as every component's release takes it.
 */
export function chartRepository(): string {
    return new pulumi.Config().get("chartRepository") || BITNAMI_CHART_REPOSITORY;
}

/**
 * A Helm release of a pinned Bitnami chart. The release name is the chart name, so service names
 * (<chart>.<namespace>.svc) are stable, and `values` holds the effective values, so a preview
 * shows exactly what Helm will get.
 */
export function bitnamiRelease(args: BitnamiReleaseArgs, opts: pulumi.CustomResourceOptions): k8s.helm.v3.Release {
    const values = pulumi
        .all([args.values, args.imageRegistry])
        .apply(([overrides, registry]) =>
            withImageRegistry(withImageDigests(mergeValues(baseValues(args.chart), overrides as HelmValues), readImageLock().digests), registry),
        );
    return new k8s.helm.v3.Release(
        args.chart,
        {
            name: args.chart,
            chart: `${chartRepository()}/${args.chart}`,
            version: CHART_VERSIONS[args.chart],
            namespace: args.namespace,
            values,
            timeout: args.timeoutSeconds,
            // A failed install stays for inspection (see the runbook) instead of being rolled back.
            atomic: false,
            maxHistory: 10,
        },
        opts,
    );
}
