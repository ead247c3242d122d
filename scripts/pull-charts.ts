/**
 * Fetches the pinned charts with `helm pull` and keeps, per chart and subchart, the files the tests
 * read (Chart.yaml, Chart.lock, values.yaml, values.schema.json) in charts-cache/<name>-<version>/.
 * Then: CHART_REFERENCE_DIR=charts-cache npm test. Needs helm 3.8+ and internet.
 */
import { execFileSync } from "child_process";
import * as fs from "fs";
import * as os from "os";
import * as path from "path";
import { parse } from "yaml";
import { BITNAMI_CHART_REPOSITORY, CHART_VERSIONS } from "../components/data";

const REFERENCE_FILES = ["Chart.yaml", "Chart.lock", "values.yaml", "values.schema.json"];

/** Copies the reference files of an unpacked chart and of each chart under its charts/ folder. */
export function collectReference(chartDir: string, outDir: string): string[] {
    const chart = parse(fs.readFileSync(path.join(chartDir, "Chart.yaml"), "utf8"));
    const target = path.join(outDir, `${chart.name}-${chart.version}`);
    fs.mkdirSync(target, { recursive: true });
    for (const file of REFERENCE_FILES.filter((f) => fs.existsSync(path.join(chartDir, f)))) {
        fs.copyFileSync(path.join(chartDir, file), path.join(target, file));
    }
    const subchartsDir = path.join(chartDir, "charts");
    const subcharts = fs.existsSync(subchartsDir)
        ? fs.readdirSync(subchartsDir).filter((name) => fs.existsSync(path.join(subchartsDir, name, "Chart.yaml")))
        : [];
    return [target, ...subcharts.flatMap((name) => collectReference(path.join(subchartsDir, name), outDir))];
}

function main(): void {
    const helm = process.env.HELM ?? "helm";
    const outDir = path.resolve(__dirname, "..", "charts-cache");
    for (const [name, version] of Object.entries(CHART_VERSIONS)) {
        const workDir = fs.mkdtempSync(path.join(os.tmpdir(), `chart-${name}-`));
        execFileSync(helm, ["pull", `${BITNAMI_CHART_REPOSITORY}/${name}`, "--version", version, "--untar", "--untardir", workDir], { stdio: "inherit" });
        for (const written of collectReference(path.join(workDir, name), outDir)) {
            console.log(`wrote ${path.relative(process.cwd(), written)}`);
        }
        fs.rmSync(workDir, { recursive: true, force: true });
    }
}

if (require.main === module) {
    main();
}
