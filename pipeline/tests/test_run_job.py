"""run-job.sh with a stand-in spark-submit that prints the arguments it got."""

import os
import subprocess

import pytest

import fetch_jars
from conftest import PIPELINE

SPARK_DIR = PIPELINE / "spark"
RUN_JOB = SPARK_DIR / "run-job.sh"
ENV = {
    "SPARK_MASTER_URL": "spark://spark-master:7077",
    "POD_IP": "10.1.2.3",
    "SPARK_DRIVER_PORT": "7078",
    "SPARK_BLOCKMANAGER_PORT": "7079",
    "SPARK_AUTHENTICATE_SECRET": "rpc-secret-for-tests",
    "SPARK_DRIVER_MEMORY": "896m",
    "SPARK_EXECUTOR_MEMORY": "640m",
    "SPARK_EXECUTOR_CORES": "1",
}


@pytest.fixture
def spark_home(tmp_path):
    home = tmp_path / "spark"
    (home / "bin").mkdir(parents=True)
    (home / "jars").mkdir()
    submit = home / "bin" / "spark-submit"
    submit.write_text('#!/bin/sh\nprintf "%s\\n" "$@"\n')
    submit.chmod(0o755)
    return home


@pytest.fixture
def baked_jars(spark_home, fake_maven):
    """Jars put where the image puts them, by the image's own fetcher."""
    url, _ = fake_maven
    coordinates = fetch_jars.read_coordinates(SPARK_DIR / "packages.txt")
    return [fetch_jars.fetch(c, spark_home / "jars", url) for c in coordinates]


def run_job(spark_home, **env):
    full_env = {"PATH": os.environ["PATH"], "SPARK_HOME": str(spark_home), **ENV, **env}
    return subprocess.run(["bash", str(RUN_JOB)], env={k: v for k, v in full_env.items() if v is not None},
                          capture_output=True, text=True)


def option(args, flag):
    return [args[i + 1] for i, a in enumerate(args) if a == flag]


def test_client_mode_with_baked_jars(spark_home, baked_jars):
    result = run_job(spark_home)
    assert result.returncode == 0, result.stderr
    args = result.stdout.splitlines()
    assert option(args, "--master") == ["spark://spark-master:7077"]
    assert option(args, "--deploy-mode") == ["client"]
    assert set(option(args, "--conf")) == {
        "spark.driver.host=10.1.2.3",
        "spark.driver.bindAddress=0.0.0.0",
        "spark.driver.port=7078",
        "spark.blockManager.port=7079",
    }
    assert option(args, "--driver-memory") == ["896m"]
    assert option(args, "--executor-memory") == ["640m"]
    assert option(args, "--executor-cores") == ["1"]
    assert option(args, "--jars") == [",".join(str(j) for j in baked_jars)]
    assert "--packages" not in args
    assert option(args, "--py-files") == [str(SPARK_DIR / "tick_sink.py")]
    assert args[-1] == str(SPARK_DIR / "stream_ticks.py")


def test_packages_mode_needs_no_baked_jars(spark_home):
    coordinates = ",".join(":".join(c) for c in fetch_jars.read_coordinates(SPARK_DIR / "packages.txt"))
    result = run_job(spark_home, SPARK_PACKAGES=coordinates)
    assert result.returncode == 0, result.stderr
    args = result.stdout.splitlines()
    assert option(args, "--packages") == [coordinates]
    assert "spark.jars.ivy=/tmp/.ivy2" in option(args, "--conf")
    assert "--jars" not in args


def test_missing_baked_jar_fails_fast(spark_home, baked_jars):
    baked_jars[2].unlink()
    result = run_job(spark_home)
    assert result.returncode == 66
    assert baked_jars[2].name in result.stderr and result.stdout == ""


@pytest.mark.parametrize("name", sorted(ENV))
def test_missing_variable_is_named(spark_home, name):
    result = run_job(spark_home, **{name: None})
    assert result.returncode != 0 and result.stdout == ""
    assert f"{name} is required" in result.stderr


@pytest.mark.parametrize(
    "name,value",
    [("SPARK_DRIVER_MEMORY", "1536Mi"), ("SPARK_EXECUTOR_MEMORY", "lots"), ("SPARK_EXECUTOR_CORES", "0")],
)
def test_malformed_size_is_rejected(spark_home, name, value):
    result = run_job(spark_home, **{name: value})
    assert result.returncode == 64 and f"{name}={value}" in result.stderr and result.stdout == ""


def test_non_numeric_port_is_rejected(spark_home):
    result = run_job(spark_home, SPARK_DRIVER_PORT="driver")
    assert result.returncode == 64 and "SPARK_DRIVER_PORT=driver" in result.stderr


def test_rpc_secret_reaches_spark_through_a_private_file_not_argv(spark_home, baked_jars, tmp_path):
    result = run_job(spark_home, TMPDIR=str(tmp_path))
    assert result.returncode == 0, result.stderr
    args = result.stdout.splitlines()
    assert "rpc-secret-for-tests" not in result.stdout
    [conf] = option(args, "--properties-file")
    assert oct(os.stat(conf).st_mode & 0o777) == "0o600"
    with open(conf) as handle:
        assert handle.read().splitlines() == [
            "spark.authenticate true",
            "spark.authenticate.secret rpc-secret-for-tests",
        ]


def event_log_confs(args):
    return {c for c in option(args, "--conf") if c.startswith(("spark.eventLog.", "spark.driver.extraClassPath="))}


def test_no_event_log_without_event_log_dir(spark_home, baked_jars):
    result = run_job(spark_home)
    assert result.returncode == 0, result.stderr
    assert event_log_confs(result.stdout.splitlines()) == set()


def test_event_log_on_a_volume(spark_home, baked_jars):
    result = run_job(spark_home, EVENT_LOG_DIR="file:/spark-events")
    assert result.returncode == 0, result.stderr
    assert event_log_confs(result.stdout.splitlines()) == {
        "spark.eventLog.enabled=true",
        "spark.eventLog.dir=file:/spark-events",
    }


def test_event_log_on_cloud_storage_puts_the_connector_on_the_driver_classpath(spark_home, baked_jars, tmp_path):
    connector = tmp_path / "gcs-connector.jar"
    connector.write_bytes(b"jar")
    result = run_job(spark_home, EVENT_LOG_DIR="gs://logs-bucket/spark-events", EVENT_LOG_CLASSPATH=str(connector))
    assert result.returncode == 0, result.stderr
    assert event_log_confs(result.stdout.splitlines()) == {
        "spark.eventLog.enabled=true",
        "spark.eventLog.dir=gs://logs-bucket/spark-events",
        f"spark.driver.extraClassPath={connector}",
    }


@pytest.mark.parametrize("env, code", [
    ({"EVENT_LOG_DIR": "gs://logs-bucket/spark-events"}, 1),
    ({"EVENT_LOG_DIR": "gs://logs-bucket/spark-events", "EVENT_LOG_CLASSPATH": "/nonexistent/gcs.jar"}, 66),
    ({"EVENT_LOG_DIR": "/spark-events"}, 64),
])
def test_event_log_refuses_a_gcs_dir_without_connector_or_an_unknown_scheme(spark_home, baked_jars, env, code):
    result = run_job(spark_home, **env)
    assert result.returncode == code, result.stderr
    assert "spark-submit" not in result.stdout
