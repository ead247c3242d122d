"""Loads every DAG file of a dags folder the way Airflow 3.0's DagBag does, with Airflow stubbed.

Usage: python3 -S -E dagbag.py DAGS_FOLDER [PYTHONPATH_ENTRY ...]; prints JSON
{"dags": {file: [dag_id, ...]}, "errors": {file: message}}.

What it mirrors (apache/airflow 3.0.5, airflow-core/src/airflow/models/dagbag.py and
utils/file.py): files are found by walking the folder, a .py file is parsed only when its
bytes contain both "airflow" and "dag" (might_contain_dag_via_default_heuristic), and each is
executed as a fresh module named unusual_prefix_<sha1 of path>_<stem>, so a sibling file is
importable only through sys.path. The interpreter runs with -S -E, so sys.path holds only the
standard library, the container's PYTHONPATH entries and the dags folder (Airflow appends it:
settings.prepare_syspath_for_dags_folder); the stubs live in sys.modules, not on the path.
"""

import hashlib
import importlib.util
import json
import os
import sys
import traceback
import types

dags_folder, *pythonpath = sys.argv[1:]
found = {}


def stub_airflow():
    def dag(dag_id=None, **_):
        def decorate(function):
            def build(*args, **kwargs):
                function(*args, **kwargs)
                found.setdefault(current_file, []).append(dag_id or function.__name__)
            return build
        return decorate

    def task(*args, **_):
        # Calling a task inside a DAG function only adds it to the DAG; it runs later, in a worker.
        def decorate(function):
            return lambda *call_args, **call_kwargs: None
        return decorate(args[0]) if args and callable(args[0]) else decorate

    sdk = types.ModuleType("airflow.sdk")
    sdk.dag, sdk.task = dag, task
    airflow = types.ModuleType("airflow")
    airflow.sdk = sdk
    # airflow.stats.Stats (airflow-core/src/airflow/stats.py in 3.0): the StatsD facade tasks send metrics through.
    stats = types.ModuleType("airflow.stats")
    stats.Stats = types.SimpleNamespace(incr=lambda *args, **kwargs: None, gauge=lambda *args, **kwargs: None)
    airflow.stats = stats
    pendulum = types.ModuleType("pendulum")
    pendulum.datetime = lambda *args, **kwargs: (args, kwargs)
    sys.modules.update({"airflow": airflow, "airflow.sdk": sdk, "airflow.stats": stats, "pendulum": pendulum})


stub_airflow()
# Where the script's own folder would be, the container's PYTHONPATH; Airflow appends the dags folder.
sys.path[:1] = pythonpath
sys.path.append(dags_folder)
errors = {}
for root, _dirs, files in os.walk(dags_folder, followlinks=True):
    for name in sorted(files):
        path = os.path.join(root, name)
        if not name.endswith(".py"):
            continue
        with open(path, "rb") as source:
            content = source.read().lower()
        if b"airflow" not in content or b"dag" not in content:
            continue
        current_file = os.path.relpath(path, dags_folder)
        module_name = f"unusual_prefix_{hashlib.sha1(path.encode()).hexdigest()}_{name[:-3]}"
        try:
            spec = importlib.util.spec_from_file_location(module_name, path)
            module = importlib.util.module_from_spec(spec)
            sys.modules[module_name] = module
            spec.loader.exec_module(module)
        except Exception:
            errors[current_file] = traceback.format_exc(limit=-1).strip().splitlines()[-1]
print(json.dumps({"dags": found, "errors": errors}))
