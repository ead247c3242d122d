import { createHash } from "crypto";
import * as fs from "fs";
import * as path from "path";

/** The pipeline's code as shipped in the repository (see pipeline/README.md). */
export const PIPELINE_DIR = path.resolve(__dirname, "..", "..", "pipeline");

/** What the streaming job runs, from pipeline/spark. */
export const JOB_FILES = ["run-job.sh", "stream_ticks.py", "tick_sink.py", "job_metrics.py", "schema.sql", "packages.txt"] as const;

export type FileSet = Record<string, string>;

/** Files of a folder of pipeline/ (or of any absolute folder), by name. */
export function readFiles(dir: string, names: readonly string[]): FileSet {
    return Object.fromEntries(names.map((name) => [name, fs.readFileSync(path.resolve(PIPELINE_DIR, dir, name), "utf8")]));
}

/** A ConfigMap holds at most 1 MiB; the API server refuses a larger one only at apply time. */
const CONFIG_MAP_LIMIT_BYTES = 1024 * 1024;

/**
 * Every Python file of pipeline/dags, copied into Airflow's dags folder: adding a DAG is adding a file.
 * Bytecode caches and editor leftovers are not DAGs, and the chart's copy drops dotfiles (.airflowignore).
 */
export function dagFiles(dir = path.join(PIPELINE_DIR, "dags")): FileSet {
    const names = fs
        .readdirSync(dir, { withFileTypes: true })
        .filter((entry) => entry.isFile() && entry.name.endsWith(".py"))
        .map((entry) => entry.name)
        .sort();
    const files = readFiles(dir, names);
    const size = Object.entries(files).reduce((total, [name, text]) => total + Buffer.byteLength(name) + Buffer.byteLength(text), 0);
    if (size > CONFIG_MAP_LIMIT_BYTES) {
        throw new Error(
            `pipeline/dags holds ${size} bytes, more than a ConfigMap's 1 MiB: move shared code into the Airflow image (pipeline/images/airflow).`,
        );
    }
    return files;
}

/**
 * What Airflow's pods pip-install at start when no image is built: the DAG's requirements, and with task
 * logs in Cloud Storage the provider of its log handler (pipeline/requirements-airflow-gcs.txt).
 */
export function airflowRequirements(cloudStorageLogs: boolean): string {
    const files = ["requirements-airflow.txt", ...(cloudStorageLogs ? ["requirements-airflow-gcs.txt"] : [])];
    return Object.values(readFiles(".", files)).join("");
}

/** A short digest of file contents; changes whenever any file does, so pods roll on a code change. */
export function contentHash(files: FileSet): string {
    const hash = createHash("sha256");
    for (const name of Object.keys(files).sort()) {
        hash.update(name).update("\0").update(files[name]).update("\0");
    }
    return hash.digest("hex").slice(0, 16);
}

/** Maven coordinates of the Kafka connector and its dependencies, for spark-submit --packages. */
export function sparkPackages(): string {
    const { "packages.txt": packages } = readFiles("spark", ["packages.txt"]);
    return packages
        .split("\n")
        .map((line) => line.trim())
        .filter((line) => line && !line.startsWith("#"))
        .join(",");
}
