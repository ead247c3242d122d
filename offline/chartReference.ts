import * as fs from "fs";
import * as path from "path";
import { parse } from "yaml";
import { CHART_VERSIONS, ChartName, HelmValues, isMap, mergeValues } from "../components/data";
import { unpackedChart } from "./chartArchives";

export interface ChartReference {
    readonly name: string;
    readonly version: string;
    readonly values: HelmValues;
    /** Images the chart declares it uses (`annotations.images` of Chart.yaml). */
    readonly declaredImages: readonly { name: string; image: string }[];
    readonly subcharts: ReadonlyMap<string, ChartReference>;
}

function readYaml(file: string): any {
    return parse(fs.readFileSync(file, "utf8"));
}

/** A chart folder as packaged: Chart.yaml, values.yaml, and its dependencies unpacked under charts/. */
function readChart(dir: string): ChartReference {
    const chartYaml = readYaml(path.join(dir, "Chart.yaml"));
    const subchartsDir = path.join(dir, "charts");
    const subcharts = fs.existsSync(subchartsDir)
        ? fs
              .readdirSync(subchartsDir)
              .filter((name) => fs.existsSync(path.join(subchartsDir, name, "Chart.yaml")))
              .map((name) => readChart(path.join(subchartsDir, name)))
              .filter((sub) => sub.name !== "common") // a library chart: it has no values of its own
        : [];
    return {
        name: chartYaml.name,
        version: String(chartYaml.version),
        values: readYaml(path.join(dir, "values.yaml")) ?? {},
        declaredImages: parse(chartYaml.annotations?.images ?? "[]") ?? [],
        subcharts: new Map(subcharts.map((sub) => [sub.name, sub])),
    };
}

/** What a pinned chart declares (values, images, subcharts), read from its archive once per process and frozen. */
export function loadChartReference(name: ChartName, version: string = CHART_VERSIONS[name]): ChartReference {
    if (!references.has(name)) {
        references.set(name, deepFreeze(readChart(unpackedChart(name))));
    }
    const chart = references.get(name)!;
    if (chart.version !== version) {
        throw new Error(`the archive of ${name} holds version ${chart.version}, not ${version}`);
    }
    return chart;
}

/** The archives do not change while a process runs; their values files are the largest YAML the tests parse. */
const references = new Map<ChartName, ChartReference>();

function deepFreeze<T>(value: T): T {
    if (typeof value === "object" && value !== null && !Object.isFrozen(value)) {
        Object.freeze(value);
        const children = value instanceof Map ? [...value.values()] : Object.values(value);
        children.forEach(deepFreeze);
    }
    return value;
}

/**
 * Dotted paths of keys we set that the chart does not have; Helm would silently ignore them.
 * An empty map or a list in the chart's values is free-form: anything below it is accepted.
 */
export function unknownKeys(ours: HelmValues, chart: ChartReference): string[] {
    const problems: string[] = [];
    const walk = (mine: HelmValues, reference: HelmValues, at: string[]) => {
        if (Object.keys(reference).length === 0) {
            return;
        }
        for (const [key, value] of Object.entries(mine)) {
            const where = [...at, key].join(".");
            const subchart = at.length === 0 ? chart.subcharts.get(key) : undefined;
            const expected = subchart ? mergeValues(subchart.values, (reference[key] as HelmValues) ?? {}) : reference[key];
            if (!(key in reference) && !subchart) {
                problems.push(`${where} is not a value of ${chart.name} ${chart.version}`);
            } else if (isMap(value) && isMap(expected)) {
                walk(value, expected, [...at, key]);
            } else if (isMap(value) && expected !== null && !isMap(expected)) {
                problems.push(`${where} is a map here but ${Array.isArray(expected) ? "a list" : typeof expected} in ${chart.name} ${chart.version}`);
            }
        }
    };
    walk(ours, chart.values, []);
    return problems;
}

export interface ImageRef {
    readonly path: string;
    readonly registry: string;
    readonly repository: string;
    readonly tag: string;
}

/** Every image block (registry/repository/tag) in a values tree, with where it is. */
export function imageRefs(values: HelmValues, at: string[] = []): ImageRef[] {
    const found: ImageRef[] = [];
    if ("repository" in values && "tag" in values) {
        found.push({ path: at.join("."), registry: String(values.registry ?? ""), repository: String(values.repository), tag: String(values.tag) });
    }
    for (const [key, value] of Object.entries(values)) {
        if (isMap(value)) {
            found.push(...imageRefs(value, [...at, key]));
        }
    }
    return found;
}
