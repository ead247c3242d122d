import * as fs from "fs";
import * as path from "path";
import { parse } from "yaml";
import { HelmValues, mergeValues } from "../components/data";
import { PROJECT_ROOT } from "./harness";

/**
 * Reference copies of the pinned charts (Chart.yaml, Chart.lock, values.yaml), one folder
 * <name>-<version> each: ../shared/charts by default, or what `npm run charts:pull` fetched
 * when CHART_REFERENCE_DIR=charts-cache.
 */
export const CHART_REFERENCE_DIR = path.resolve(PROJECT_ROOT, process.env.CHART_REFERENCE_DIR ?? path.join("..", "shared", "charts"));

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

export function loadChartReference(name: string, version: string): ChartReference {
    const dir = path.join(CHART_REFERENCE_DIR, `${name}-${version}`);
    if (!fs.existsSync(dir)) {
        throw new Error(`No reference copy of chart ${name} ${version} in ${dir}: run \`npm run charts:pull\` and set CHART_REFERENCE_DIR=charts-cache`);
    }
    const chartYaml = readYaml(path.join(dir, "Chart.yaml"));
    const lockFile = path.join(dir, "Chart.lock");
    const dependencies: { name: string; version: string }[] = fs.existsSync(lockFile) ? readYaml(lockFile).dependencies ?? [] : [];
    const subcharts = new Map(dependencies
        .filter((dep) => dep.name !== "common") // a library chart: it has no values of its own
        .map((dep) => [dep.name, loadChartReference(dep.name, dep.version)] as const));
    return {
        name,
        version,
        values: readYaml(path.join(dir, "values.yaml")) ?? {},
        declaredImages: parse(chartYaml.annotations?.images ?? "[]") ?? [],
        subcharts,
    };
}

const isMap = (value: unknown): value is HelmValues => typeof value === "object" && value !== null && !Array.isArray(value);

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
