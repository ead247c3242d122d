"""Airflow 3.0.5 from PyPI, run as the rendered pods run it: the dags folder the chart lays out, the pod's
environment, Airflow's own DagBag and `airflow dags test`.

A pod's volumes are folders of a work folder (engines/pods.py PodFiles, laid out as the kubelet lays them
out), the chart's init container scripts run with bash against them, and the image's AIRFLOW_HOME is a folder
holding the main container's mounts beneath it (AirflowPod). Airflow then gets the container's environment
(rendered.container_env) with every pod path rebased (PodFiles.rebase). What cannot be as in the pod is in
ADAPTATIONS.

`airflow dags test` runs the DAG in-process, no scheduler and no API server: Airflow 3.0.5's
DAG.test() (task-sdk 1.0.5, src/airflow/sdk/definitions/dag.py) calls _run_task() for each ready task,
which calls supervisor.run_task_in_process() (src/airflow/sdk/execution_time/supervisor.py):
InProcessTestSupervisor talks to the Execution API through InProcessExecutionAPI
(airflow-core src/airflow/api_fastapi/execution_api/app.py), an httpx transport into the FastAPI app in
the same process. So `[core] execution_api_server_url` (http://airflow-web:8080/execution/) is not used.
"""

from __future__ import annotations

import ast
import configparser
import copy
import json
import os
import re
import shutil
import subprocess
import sys
import time
import urllib.parse
from pathlib import Path
from typing import Any, Mapping

from pods import PodFiles
from processes import EngineError, Process
from rendered import PodIdentity, RenderedStack, container, container_env, pod_name, pod_template

NAMESPACE = "airflow"
# AIRFLOW_HOME of the Bitnami image: bitnami/containers airflow/3 rootfs/opt/bitnami/scripts/airflow-env.sh.
POD_AIRFLOW_HOME = "/opt/bitnami/airflow"
DAG_PROCESSOR = "airflow-dag-processor"
DAG_ID = "crypto_prices"
METADATA_DB = "airflow.db"
# The image's own venv (the rendered prepare-venv copies it to an emptyDir mounted here); the engines' venv stands in.
POD_VENV = f"{POD_AIRFLOW_HOME}/venv"
SIMPLE_AUTH_MANAGER = "airflow.api_fastapi.auth.managers.simple.simple_auth_manager.SimpleAuthManager"
MIGRATE_TIMEOUT_S = 600
DAGS_TEST_TIMEOUT_S = 300

ADAPTATIONS = [
    (
        "airflow",
        "the pod's volumes are folders of the work folder (engines/pods.py PodFiles), and every pod path in the "
        "init scripts and the container's env (PYTHONPATH, *_CMD, log folder) is rewritten to them "
        f"(PodFiles.rebase); the image's {POD_AIRFLOW_HOME} is a work folder holding links to the mounts beneath it",
        "no container runtime: the rendered volumes and the chart's own init scripts fill the same folders, and "
        "Airflow reads airflow.cfg and the dags folder under AIRFLOW_HOME",
    ),
    (
        "airflow",
        "the init scripts' `. /opt/bitnami/scripts/lib*.sh` lines are dropped; INIT_PRELUDE defines the functions "
        "they call (info, am_i_root, airflow_encode_url, airflow_conf_set)",
        "the image's shell libraries are not here; airflow_conf_set sets the key in the file as libairflow.sh's "
        "`ini-file set` does",
    ),
    (
        "airflow",
        "AIRFLOW__DATABASE__SQL_ALCHEMY_CONN is a SQLite file in the work folder; airflow.cfg keeps the "
        "PostgreSQL URL prepare-config writes",
        "keeps the Airflow engine light: `dags test` needs a metadata DB, not "
        "the cluster's; the pipeline's PostgreSQL stays the one the ticks go to",
    ),
    (
        "airflow",
        "AIRFLOW__CORE__AUTH_MANAGER is Airflow's SimpleAuthManager, not the FAB one prepare-config sets",
        "the FAB provider serves the web UI's logins and is not in the engines' venv; no task or parse uses it",
    ),
    (
        "airflow",
        "init containers prepare-venv and wait-for-db-migrations are not run; `airflow db migrate` is",
        "the engines' venv replaces the image's venv; in the cluster airflow-web migrates the DB the others wait for",
    ),
    (
        "airflow",
        "CRYPTO_API_URL points at engines/price_api.py",
        "the real price APIs are outside; the rendered pod "
        "leaves CRYPTO_API_URL unset, i.e. crypto_ticks' default public URL",
    ),
    (
        "airflow",
        "PATH puts the engines' venv first, HOME is AIRFLOW_HOME",
        "what the image's PATH and the chart's nss-wrapper block give the container",
    ),
]

# How each rendered init container is handled: run its script, or why not.
INIT_CONTAINERS = {
    "prepare-config": "run",
    "load-dags": "run",
    "prepare-venv": "skip: copies the image's venv, replaced by the engines' venv",
    "wait-for-db-migrations": "skip: prepare() runs `airflow db migrate` itself",
    "prepare-web-config": "skip: the web server's config, not run here",
}
# Shell functions the init scripts take from the image's libraries (/opt/bitnami/scripts/lib*.sh).
# airflow_conf_set: bitnami/containers airflow/3 rootfs/opt/bitnami/scripts/libairflow.sh, `ini-file set` of
# section/key/value in $4 or $AIRFLOW_CONF_FILE; configparser stands in for ini-file.
INIT_PRELUDE = """
info() { echo "INFO ==> $*" >&2; }
am_i_root() { return 1; }  # the pods run as user 1001 (securityContext runAsUser)
airflow_encode_url() { python3 -c 'import sys, urllib.parse; print(urllib.parse.quote(sys.argv[1], safe=""))' "$1"; }
airflow_conf_set() {
    python3 -I - "$1" "$2" "$3" "${4:-$AIRFLOW_CONF_FILE}" <<'PY'
import configparser, sys
section, key, value, path = sys.argv[1:5]
parser = configparser.ConfigParser(interpolation=None)
parser.read(path)
if not parser.has_section(section):
    parser.add_section(section)
parser.set(section, key, value)
with open(path, "w") as out:
    parser.write(out)
PY
}
"""


# --- the rendered Airflow workloads --------------------------------------------------------------------


def airflow_cfg(stack: RenderedStack) -> configparser.ConfigParser:
    parser = configparser.ConfigParser(interpolation=None)
    parser.read_string(stack.config_map_data(NAMESPACE, "airflow")["airflow.cfg"])
    return parser


def task_runner(stack: RenderedStack) -> str:
    """Where tasks run: LocalExecutor forks them in the scheduler (airflow-core executors/local_executor.py)."""
    executor = airflow_cfg(stack).get("core", "executor")
    if executor == "LocalExecutor":
        return "airflow-scheduler"
    if "CeleryExecutor" in executor:
        return "airflow-worker"
    raise LookupError(f"no task runner known for executor {executor}")


def workload(stack: RenderedStack, name: str) -> dict:
    for kind in ("StatefulSet", "Deployment"):
        try:
            return stack.find(kind, NAMESPACE, name)
        except LookupError:
            pass
    raise LookupError(f"no Deployment or StatefulSet {NAMESPACE}/{name} in the rendered stack")


def with_dag_files(stack: RenderedStack, files: Mapping[str, str]) -> RenderedStack:
    """The stack with other files in the dags ConfigMap: to see what Airflow makes of a changed DAG."""
    objects = copy.deepcopy(stack.objects)
    changed = RenderedStack({"stack": stack.stack, "objects": objects})
    changed.find("ConfigMap", NAMESPACE, dags_config_map(stack))["data"] = dict(files)
    return changed


def dags_config_map(stack: RenderedStack) -> str:
    """The ConfigMap the load-dags init container copies from (its volume mounted at /configmap)."""
    pod = workload(stack, DAG_PROCESSOR)
    init = container(pod, "load-dags", init=True)
    volumes = {v["name"]: v for v in pod_template(pod)["spec"]["volumes"]}
    names = {volumes[m["name"]]["configMap"]["name"] for m in init["volumeMounts"] if "configMap" in volumes[m["name"]]}
    if len(names) != 1:
        raise LookupError(f"load-dags mounts ConfigMaps {sorted(names)}, expected one")
    return names.pop()


# --- a pod on this machine -------------------------------------------------------------------------------

# The image's AIRFLOW_HOME is a work folder (PodFiles `image`): Airflow reads airflow.cfg and the dags folder
# ([core] dags_folder defaults to {AIRFLOW_HOME}/dags) there, where links lead to the pod's mounts.
# PodFiles.rebase maps a path under a mount to the mount's folder (longest first), any other path under
# AIRFLOW_HOME to this folder.


class AirflowPod:
    """One pod of an Airflow workload: its volumes at root/volumes (PodFiles), its AIRFLOW_HOME at root/airflow-home."""

    def __init__(self, stack: RenderedStack, pod_workload: dict, root: Path):
        self.stack, self.workload, self.root = stack, pod_workload, Path(root)
        self.home = self.root / "airflow-home"
        self.files = PodFiles(stack, pod_workload, self.root, image={POD_AIRFLOW_HOME: self.home})

    def start(self, main: str, identity: PodIdentity) -> dict[str, str]:
        """A new pod: volumes laid out, init containers run, the main container's mounts made; returns its env
        with the pod paths rebased."""
        self.files.lay_out()
        if self.home.exists():
            shutil.rmtree(self.home)
        self.home.mkdir(parents=True)
        for spec in pod_template(self.workload)["spec"].get("initContainers") or []:
            how = INIT_CONTAINERS.get(spec["name"])
            if how is None:
                raise EngineError(
                    f"init container {spec['name']} of {self.workload['metadata']['name']} is new: "
                    "decide in engines/airflow_engine.py INIT_CONTAINERS how the engines handle it"
                )
            if how == "run":
                self.run_init(spec, container_env(self.stack, self.workload, spec, identity))
        spec = container(self.workload, main)
        self.link_home(self.files.start_container(spec))
        return self.files.rebase_env(container_env(self.stack, self.workload, spec, identity), spec)

    def link_home(self, mounts: Mapping[str, Path]) -> None:
        """AIRFLOW_HOME as the image has it (a fresh folder per pod) with a link for each mount beneath it."""
        for path in sorted(mounts, key=len):
            if path.startswith(POD_AIRFLOW_HOME + "/"):
                link = self.home / path[len(POD_AIRFLOW_HOME) + 1 :]
                link.parent.mkdir(parents=True, exist_ok=True)
                link.symlink_to(mounts[path])

    def run_init(self, spec: Mapping[str, Any], env: Mapping[str, str]) -> None:
        script = spec["args"][-1] if spec.get("args") else spec["command"][-1]
        # The image's shell libraries are not here; INIT_PRELUDE defines what the scripts use of them.
        body = "\n".join(line for line in script.splitlines() if not re.match(r"\s*\.\s+/opt/bitnami/scripts/", line))
        self.files.start_container(spec)
        result = subprocess.run(
            ["bash", "-ec", INIT_PRELUDE + self.files.rebase(body, spec)],
            env={**self.files.rebase_env(env, spec), "PATH": os.environ.get("PATH", "/usr/bin:/bin")},
            capture_output=True,
            text=True,
            timeout=60,
        )
        (self.root / f"{spec['name']}.log").write_text(result.stdout + result.stderr)
        if result.returncode:
            raise EngineError(
                f"init container {spec['name']} failed ({result.returncode}):\n{result.stdout}{result.stderr}"
            )


# --- Airflow in the venv ---------------------------------------------------------------------------------

# Run in the venv's Python with the pod's environment: Airflow's own DagBag over the pod's dags folder.
DAGBAG_SCRIPT = """
import json, os, sys
from airflow.configuration import conf
from airflow.models.dagbag import DagBag

folder = conf.get("core", "dags_folder")
bag = DagBag(dag_folder=folder, include_examples=False)
rel = lambda path: os.path.relpath(path, folder)
dags = {}
for dag in bag.dags.values():
    dags.setdefault(rel(dag.fileloc), []).append(dag.dag_id)
print("DAGBAG " + json.dumps({
    "dags_folder": folder,
    "dags": {f: sorted(ids) for f, ids in dags.items()},
    "errors": {rel(f): message.strip() for f, message in bag.import_errors.items()},
    "dag_ids": sorted(bag.dags),
    "tasks": {dag.dag_id: sorted(dag.task_ids) for dag in bag.dags.values()},
}))
"""


def airflow_env(pod_env: Mapping[str, str], pod: AirflowPod, venv: Path, db: Path) -> dict[str, str]:
    """The container's env plus what the image and ADAPTATIONS add. Nothing of this process's env leaks in."""
    home = str(pod.home)
    return {
        **pod_env,
        "AIRFLOW_HOME": home,
        "HOME": home,
        "PATH": f"{venv / 'bin'}:/usr/local/bin:/usr/bin:/bin",
        "LANG": "C.UTF-8",
        "AIRFLOW__DATABASE__SQL_ALCHEMY_CONN": f"sqlite:///{db}",
        "AIRFLOW__CORE__AUTH_MANAGER": SIMPLE_AUTH_MANAGER,
    }


def load_dagbag(venv: Path, env: Mapping[str, str], log: Path) -> dict:
    # -P: nothing before the pod's PYTHONPATH on sys.path (no cwd entry), as for the pod's `airflow` process.
    result = subprocess.run(
        [str(venv / "bin" / "python"), "-P", "-c", DAGBAG_SCRIPT],
        env=dict(env),
        cwd=env["AIRFLOW_HOME"],
        capture_output=True,
        text=True,
        timeout=300,
    )
    log.write_text(result.stdout + result.stderr)
    lines = [line for line in result.stdout.splitlines() if line.startswith("DAGBAG ")]
    if result.returncode or not lines:
        raise EngineError(f"DagBag failed ({result.returncode}); {log}:\n{_tail(result.stdout + result.stderr)}")
    return json.loads(lines[-1][len("DAGBAG ") :])


def pod_dagbag(stack: RenderedStack, name: str, work: Path, venv: Path, ip: str = "127.0.0.1") -> dict:
    """The DagBag of one Airflow workload's pod: its dags folder laid out as the chart does, its env."""
    pod_workload = workload(stack, name)
    pod = pod_name(pod_workload)
    airflow_pod = AirflowPod(stack, pod_workload, work / name)
    pod_env = airflow_pod.start(name, PodIdentity(pod, NAMESPACE, ip))
    env = airflow_env(pod_env, airflow_pod, venv, work / name / METADATA_DB)
    return load_dagbag(venv, env, work / f"{name}-dagbag.log")


def check_dag_imports(stack: RenderedStack, work: Path, venv: Path) -> dict[str, dict]:
    """What the dag processor and the task runner each make of the dags ConfigMap, with Airflow 3's DagBag.

    Replaces test/python/dagbag.py: the same layout (load-dags' copy, so no dotfiles), the pod's PYTHONPATH,
    and Airflow itself deciding what is an error (a removed DAG argument, a helper that does not import).
    """
    return {name: pod_dagbag(stack, name, work, venv) for name in (DAG_PROCESSOR, task_runner(stack))}


def dag_import_checks(stack: RenderedStack, work: Path, venv: Path) -> dict[str, tuple[bool, str]]:
    """What test/dagImport.test.ts checked with a stubbed Airflow, with Airflow 3's DagBag: {check: (ok, detail)}.

    - in the dag processor and the task runner, the shipped files give exactly crypto_prices, no error
      (which needs the pod's PYTHONPATH: crypto_prices_dag.py imports crypto_ticks from dags/external);
    - a dotfile of the ConfigMap does not reach the pod (load-dags' `cp /configmap/*`): an .airflowignore
      that would hide the DAG changes nothing;
    - Airflow 3 rejects what it rejects: the DAG with `schedule_interval=` (removed in 3.0) is an import error;
    - a DAG whose helper is not importable is reported as ModuleNotFoundError.
    """
    files = stack.config_map_data(NAMESPACE, dags_config_map(stack))
    expected = {"external/crypto_prices_dag.py": [DAG_ID]}
    checks: dict[str, tuple[bool, str]] = {}
    for name, bag in check_dag_imports(stack, work / "shipped", venv).items():
        checks[f"dagbag_{name}"] = (bag["dags"] == expected and not bag["errors"], json.dumps(bag))
    runner = task_runner(stack)
    cases = {
        "dotfiles_not_copied": {**files, ".airflowignore": "crypto_prices_dag.py\n"},
        "removed_argument_rejected": {
            **files,
            "crypto_prices_dag.py": files["crypto_prices_dag.py"].replace("schedule=", "schedule_interval=", 1),
        },
        "missing_helper_reported": {"a_dag.py": "# airflow dag\nimport missing_helper\n"},
    }
    for check, changed in cases.items():
        bag = pod_dagbag(with_dag_files(stack, changed), runner, work / check, venv)
        errors = "\n".join(bag["errors"].values())
        ok = {
            "dotfiles_not_copied": bag["dags"] == expected and not bag["errors"],
            "removed_argument_rejected": not bag["dags"]
            and "unexpected keyword argument 'schedule_interval'" in errors,
            "missing_helper_reported": "ModuleNotFoundError: No module named 'missing_helper'" in errors,
        }[check]
        checks[check] = (ok, json.dumps(bag))
    return checks


# --- the task runner --------------------------------------------------------------------------------------


class Airflow:
    def __init__(self, stack: RenderedStack, network: Any, work: Path, venv: Path, price_api_url: str):
        self.stack, self.work, self.venv, self.price_api_url = stack, Path(work), Path(venv), price_api_url
        self.runner = task_runner(stack)
        runner = workload(stack, self.runner)
        pod = pod_name(runner)
        self.identity = PodIdentity(pod, NAMESPACE, network.pod_ip(NAMESPACE, pod))
        self.pod = AirflowPod(stack, runner, self.work / "airflow" / self.runner)
        self.db = self.work / "airflow" / METADATA_DB
        self.logs = self.work / "logs"
        self.env: dict[str, str] = {}
        self.runs = 0
        self.timings: dict[str, float] = {}

    def prepare(self) -> None:
        self.logs.mkdir(parents=True, exist_ok=True)
        pod_env = self.pod.start(self.runner, self.identity)
        api_url = price_api_endpoint(self.price_api_url, pod_env.get("CRYPTO_SOURCE", "coingecko"))
        self.env = {**airflow_env(pod_env, self.pod, self.venv, self.db), "CRYPTO_API_URL": api_url}
        started = time.monotonic()
        self._airflow("airflow-db-migrate", ["db", "migrate"], MIGRATE_TIMEOUT_S)
        self.timings["db_migrate_s"] = round(time.monotonic() - started, 1)

    def task_env(self) -> dict[str, str]:
        """The environment the task runs with: the task runner container's, with ADAPTATIONS (after prepare())."""
        if not self.env:
            raise EngineError("Airflow.task_env() before prepare()")
        return dict(self.env)

    def version(self) -> str:
        result = subprocess.run(
            [
                str(self.venv / "bin" / "python"),
                "-P",
                "-c",
                "import importlib.metadata as m; print(m.version('apache-airflow'))",
            ],
            capture_output=True,
            text=True,
            timeout=60,
            check=True,
        )
        return result.stdout.strip()

    def dagbag(self) -> dict:
        return load_dagbag(self.venv, self.env, self.logs / "airflow-dagbag.log")

    def run_dag(self) -> dict:
        """One `airflow dags test` of the DAG; what its task returned: {requested, produced, skipped}."""
        self.runs += 1
        started = time.monotonic()
        log = self._airflow(f"airflow-dags-test-{self.runs}", ["dags", "test", DAG_ID], DAGS_TEST_TIMEOUT_S)
        self.timings[f"dags_test_{self.runs}_s"] = round(time.monotonic() - started, 1)
        return task_counts(log.read_text(errors="replace"), log)

    def _airflow(self, name: str, args: list[str], timeout_s: float) -> Path:
        log = self.logs / f"{name}.log"
        process = Process(
            name,
            [str(self.venv / "bin" / "airflow"), *args],
            log,
            env=self.env,
            cwd=self.pod.home,
        )
        try:
            code = process.wait(timeout_s)
        finally:
            process.stop()
        if code:
            raise EngineError(f"airflow {' '.join(args)} exited with {code}; {log}:\n{process.tail(60)}")
        return log


def price_api_endpoint(url: str, source: str) -> str:
    """CRYPTO_API_URL: the fake's endpoint for the pod's CRYPTO_SOURCE; a bare base URL gets the real API's path."""
    from price_api import PATHS

    parts = urllib.parse.urlsplit(url)
    return url if parts.path not in ("", "/") else f"{parts.scheme}://{parts.netloc}{PATHS[source]}"


def task_counts(text: str, log: Path) -> dict:
    """The task's return value, as Airflow logs it ("Done. Returned value was: {...}", PythonOperator)."""
    found = re.findall(r"Returned value was: (\{[^}]*\})", text)
    if not found:
        raise EngineError(f"the task logged no return value; {log}:\n{_tail(text)}")
    return ast.literal_eval(found[-1])


def _tail(text: str, lines: int = 60) -> str:
    return "\n".join(text.splitlines()[-lines:])


if __name__ == "__main__":
    # python airflow_engine.py BUNDLE WORK VENV: dag_import_checks() of a rendered stack.
    bundle, work_dir, venv_dir = sys.argv[1:4]
    results = dag_import_checks(RenderedStack.load(Path(bundle)), Path(work_dir), Path(venv_dir))
    for check, (ok, detail) in results.items():
        print(f"{'ok  ' if ok else 'FAIL'} {check}" + ("" if ok else f": {detail}"))
    sys.exit(0 if all(ok for ok, _ in results.values()) else 1)
