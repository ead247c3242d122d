import { strict as assert } from "assert";
import * as fs from "fs";
import * as os from "os";
import * as path from "path";
import { collectReference } from "../scripts/pull-charts";
import { CHART_REFERENCE_DIR } from "../offline/chartReference";

describe("npm run charts:pull", () => {
    it("lays out a pulled chart and its subcharts the way the reference directory is laid out", () => {
        // An unpacked airflow chart as `helm pull --untar` leaves it, built from the reference files.
        const unpacked = fs.mkdtempSync(path.join(os.tmpdir(), "unpacked-"));
        const out = fs.mkdtempSync(path.join(os.tmpdir(), "cache-"));
        const copy = (from: string, to: string) => {
            fs.mkdirSync(to, { recursive: true });
            for (const file of fs.readdirSync(from)) {
                fs.copyFileSync(path.join(from, file), path.join(to, file));
            }
        };
        copy(path.join(CHART_REFERENCE_DIR, "airflow-25.0.2"), path.join(unpacked, "airflow"));
        copy(path.join(CHART_REFERENCE_DIR, "redis-22.0.4"), path.join(unpacked, "airflow", "charts", "redis"));
        copy(path.join(CHART_REFERENCE_DIR, "postgresql-16.7.26"), path.join(unpacked, "airflow", "charts", "postgresql"));
        fs.mkdirSync(path.join(unpacked, "airflow", "templates"));

        const written = collectReference(path.join(unpacked, "airflow"), out).map((dir) => path.basename(dir)).sort();

        assert.deepEqual(written, ["airflow-25.0.2", "postgresql-16.7.26", "redis-22.0.4"]);
        assert.deepEqual(fs.readdirSync(path.join(out, "postgresql-16.7.26")).sort(), ["Chart.lock", "Chart.yaml", "values.schema.json", "values.yaml"]);
        assert.ok(!fs.existsSync(path.join(out, "airflow-25.0.2", "templates")));
    });
});
