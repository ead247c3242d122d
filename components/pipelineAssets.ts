import { createHash } from "crypto";
import * as fs from "fs";
import * as path from "path";

/** The pipeline's code as shipped in the repository (see pipeline/README.md). */
export const PIPELINE_DIR = path.resolve(__dirname, "..", "pipeline");

/** What Airflow's dags folder gets: the thin DAG, its logic module and the ignore file. */
export const DAG_FILES = ["crypto_prices_dag.py", "crypto_ticks.py", ".airflowignore"] as const;
/** What the streaming job runs, from pipeline/spark. */
export const JOB_FILES = ["run-job.sh", "stream_ticks.py", "tick_sink.py", "schema.sql", "packages.txt"] as const;

export type FileSet = Record<string, string>;

export function readFiles(dir: string, names: readonly string[]): FileSet {
    return Object.fromEntries(names.map((name) => [name, fs.readFileSync(path.join(PIPELINE_DIR, dir, name), "utf8")]));
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
    return readFiles("spark", ["packages.txt"])["packages.txt"].split("\n")
        .map((line) => line.trim()).filter((line) => line && !line.startsWith("#")).join(",");
}
