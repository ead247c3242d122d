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
    return parse(fs.readFileSync(path.join(HELM_VALUES_DIR, `${chart}.yaml`), "utf8")) ?? {};
}

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

/** The main image a chart runs, as pinned in helm-values/<chart>.yaml: what pipeline images build on. */
export function chartImage(chart: ChartName, registry: string): string {
    const image = baseValues(chart).image as { repository: string; tag: string };
    return `${registry}/${image.repository}:${image.tag}`;
}
