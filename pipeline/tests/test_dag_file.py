"""The DAG file, checked statically (Airflow is not installed here, and not faked).

It must stay a thin shell around crypto_ticks, and Airflow must parse exactly
the DAG files in the ConfigMap-mounted dags folder.
"""

import ast
import fnmatch
import re
from datetime import date

import pytest

from conftest import PIPELINE

DAGS = PIPELINE / "dags"
DAG_FILE = DAGS / "crypto_prices_dag.py"


@pytest.fixture(scope="module")
def tree():
    return ast.parse(DAG_FILE.read_text())


@pytest.fixture(scope="module")
def dag_decorator(tree):
    [func] = [n for n in tree.body if isinstance(n, ast.FunctionDef)]
    [decorator] = func.decorator_list
    assert isinstance(decorator, ast.Call) and ast.unparse(decorator.func) == "dag"
    return {kw.arg: kw.value for kw in decorator.keywords}


def imports(tree):
    found = set()
    for node in tree.body:
        if isinstance(node, ast.Import):
            found |= {alias.name for alias in node.names}
        elif isinstance(node, ast.ImportFrom):
            found |= {f"{node.module}.{alias.name}" for alias in node.names}
    return found


def test_uses_airflow3_sdk_and_delegates_to_crypto_ticks(tree):
    # Airflow 3 authors DAGs through airflow.sdk; airflow.decorators and airflow.models are Airflow 2's paths,
    # deprecated in 3. Whether the file imports at all is the engines' DagBag's to say (npm run test:engines).
    found = imports(tree)
    airflow = {name for name in found if name.split(".")[0] == "airflow"}
    assert {"airflow.sdk.dag", "airflow.sdk.task"} <= airflow
    assert all(name.startswith(("airflow.sdk.", "airflow.stats.")) for name in airflow), airflow
    assert "crypto_ticks" in found


def test_scheduling_arguments(dag_decorator):
    assert ast.literal_eval(dag_decorator["catchup"]) is False
    assert ast.literal_eval(dag_decorator["max_active_runs"]) == 1
    assert ast.literal_eval(dag_decorator["is_paused_upon_creation"]) is False, "ticks must flow right after pulumi up"
    assert ast.unparse(dag_decorator["schedule"]) == "crypto_ticks.poll_schedule(os.environ)"
    start = dag_decorator["start_date"]
    assert ast.unparse(start.func) == "pendulum.datetime"
    year, month, day = (ast.literal_eval(a) for a in start.args)
    assert date(year, month, day) < date.today()
    assert {kw.arg: ast.unparse(kw.value) for kw in start.keywords} == {"tz": "'UTC'"}


def test_retries_are_configured(dag_decorator):
    default_args = dag_decorator["default_args"]
    keys = [ast.literal_eval(k) for k in default_args.keys]
    assert {"retries", "retry_delay"} <= set(keys)
    assert ast.literal_eval(default_args.values[keys.index("retries")]) >= 1


def test_task_only_calls_crypto_ticks(tree):
    [dag_func] = [n for n in tree.body if isinstance(n, ast.FunctionDef)]
    [task_func] = [n for n in dag_func.body if isinstance(n, ast.FunctionDef)]
    assert [ast.unparse(d) for d in task_func.decorator_list] == ["task(execution_timeout=timedelta(seconds=90))"]
    # One run_from_env call, its counts sent to StatsD (test_dag_metrics.py runs the task), returned.
    calls = [
        ast.unparse(n) for n in ast.walk(task_func)
        if isinstance(n, ast.Call) and ast.unparse(n.func).startswith("crypto_ticks.")
    ]
    assert calls == ["crypto_ticks.run_from_env(os.environ)"]
    assert isinstance(task_func.body[-1], ast.Return) and ast.unparse(task_func.body[-1].value) == "counts"
    # The task is instantiated inside the DAG and the DAG at module level.
    assert ast.unparse(dag_func.body[-1]) == f"{task_func.name}()"
    assert ast.unparse(tree.body[-1]) == f"{dag_func.name}()"


def test_execution_timeout_covers_the_worst_case_run():
    import crypto_ticks as ct

    http = ct.MAX_ATTEMPTS * ct.HTTP_TIMEOUT_S + sum(ct.backoff_delay(n) for n in range(1, ct.MAX_ATTEMPTS))
    assert http + ct.FLUSH_TIMEOUT_S < 90


def ignore_patterns():
    lines = (re.sub(r"\s*#.*", "", line).strip() for line in (DAGS / ".airflowignore").read_text().splitlines())
    return [line for line in lines if line]


def ignored(name):
    # fnmatch agrees with Airflow's gitignore-style glob for these slash-free names.
    return any(fnmatch.fnmatchcase(name, pattern) for pattern in ignore_patterns())


def test_airflowignore_hides_the_helper_and_configmap_internals():
    assert ignored("crypto_ticks.py")
    assert ignored("..data") and ignored("..2025_01_01_00_00_00.123456789")
    assert not ignored("crypto_prices_dag.py")


def test_every_unignored_python_file_is_a_dag_file():
    # Airflow's safe mode only parses files mentioning both "airflow" and "dag".
    for path in DAGS.glob("*.py"):
        text = path.read_text().lower()
        if not ignored(path.name):
            assert "airflow.sdk" in text and "dag" in text, f"{path.name} would be parsed as a DAG file"
