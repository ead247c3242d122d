import { strict as assert } from "assert";
import { execFileSync } from "child_process";
import * as fs from "fs";
import * as os from "os";
import * as path from "path";
import { findObject, Manifest, podTemplate, renderStack } from "../offline/render";
import { TYPES } from "../offline/resourceTypes";

/** Airflow's dags folder in the Bitnami image: AIRFLOW_DAGS_DIR in bitnami/airflow/3 rootfs/opt/bitnami/scripts/airflow-env.sh. */
const DAGS_FOLDER = "/opt/bitnami/airflow/dags";

interface DagView {
    readonly mountPath: string;
    readonly pythonpath: string[];
    /** The container's environment: literal values and the Secrets it takes whole (envFrom). */
    readonly env: Record<string, string>;
}

/** How the Airflow container of a workload sees the DAGs. */
function dagView(workload: Manifest, objects: readonly Manifest[]): DagView {
    const container = podTemplate(workload).spec.containers.find((c: any) => c.name.startsWith("airflow"));
    const mount = container.volumeMounts.find((m: any) => m.mountPath.startsWith(DAGS_FOLDER));
    const fromSecrets = (container.envFrom ?? []).map(
        (source: any) => findObject(objects, "Secret", workload.metadata.namespace, source.secretRef.name).stringData,
    );
    const env: Record<string, string> = Object.assign(
        {},
        ...fromSecrets,
        ...container.env.filter((e: any) => e.value !== undefined).map((e: any) => ({ [e.name]: e.value })),
    );
    return { mountPath: mount.mountPath, pythonpath: env.PYTHONPATH ? env.PYTHONPATH.split(":") : [], env };
}

/**
 * Lays the ConfigMap's files out the way the chart's load-dags init container does
 * (`cp -v /configmap/* /dags/external`, so dotfiles stay behind: airflow 25.0.2
 * templates/_init_containers_sidecars.tpl) under a fake root, and loads every DAG file there.
 */
function loadDags(files: Record<string, string>, view: DagView) {
    const root = fs.mkdtempSync(path.join(os.tmpdir(), "airflow-pod-"));
    const inPod = (containerPath: string) => path.join(root, containerPath);
    fs.mkdirSync(inPod(view.mountPath), { recursive: true });
    for (const [name, text] of Object.entries(files).filter(([name]) => !name.startsWith("."))) {
        fs.writeFileSync(path.join(inPod(view.mountPath), name), text);
    }
    const output = execFileSync(
        "python3",
        ["-S", "-E", path.join(__dirname, "python", "dagbag.py"), inPod(DAGS_FOLDER), ...view.pythonpath.map(inPod)],
        { encoding: "utf8", env: { ...view.env, PATH: process.env.PATH } },
    );
    fs.rmSync(root, { recursive: true, force: true });
    return JSON.parse(output) as { dags: Record<string, string[]>; errors: Record<string, string> };
}

describe("DAGs in the Airflow pods", () => {
    for (const stack of ["dev", "prod", "local"]) {
        it(`${stack}: every DAG file imports in the dag processor and where tasks run`, async () => {
            const { objects, run } = await renderStack(stack);
            const dagFiles = findObject(objects, "ConfigMap", "airflow", "airflow-dags").data;
            const celery = run.resources.some((r) => r.type === TYPES.helmRelease && r.inputs.values.executor === "CeleryExecutor");
            const taskRunner = celery ? "airflow-worker" : "airflow-scheduler";
            const workloads = objects.filter((o) => ["Deployment", "StatefulSet"].includes(o.kind) && o.metadata.namespace === "airflow");
            for (const name of ["airflow-dag-processor", taskRunner]) {
                const workload = workloads.find((w) => w.metadata.name === name);
                assert.ok(workload, `${name} is rendered`);
                const result = loadDags(dagFiles, dagView(workload, objects));
                assert.deepEqual(result.errors, {}, name);
                assert.deepEqual(result.dags, { "external/crypto_prices_dag.py": ["crypto_prices"] }, name);
            }
        });
    }

    it("reports a DAG whose helper is not importable, as Airflow would", () => {
        const result = loadDags(
            { "a_dag.py": "# airflow dag\nimport missing_helper\n" },
            { mountPath: `${DAGS_FOLDER}/external`, pythonpath: [], env: {} },
        );
        assert.match(result.errors["external/a_dag.py"], /ModuleNotFoundError: No module named 'missing_helper'/);
    });
});
