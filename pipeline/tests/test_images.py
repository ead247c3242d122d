"""Image build inputs: the jar list, the jar fetcher, requirements, Dockerfiles."""

import re
import subprocess
import sys

import pytest

import fetch_jars
from conftest import PIPELINE

PACKAGES = PIPELINE / "spark" / "packages.txt"
IMAGES = PIPELINE / "images"


def test_packages_are_the_spark_4_0_0_scala_2_13_connector_set():
    coordinates = fetch_jars.read_coordinates(PACKAGES)
    spark = [c for c in coordinates if c.group == "org.apache.spark"]
    assert {c.artifact for c in spark} == {"spark-sql-kafka-0-10_2.13", "spark-token-provider-kafka-0-10_2.13"}
    assert {c.version for c in spark} == {"4.0.0"}
    others = {c.artifact: c.version for c in coordinates if c.group != "org.apache.spark"}
    # The versions Spark 4.0.0's own pom pins for these transitive dependencies.
    assert others == {"kafka-clients": "3.9.0", "commons-pool2": "2.12.0"}


def test_bad_coordinate_line_is_reported_with_its_number(tmp_path):
    listing = tmp_path / "packages.txt"
    listing.write_text("# comment\n\norg.example:lib:1.0\norg.example:lib\n")
    with pytest.raises(ValueError, match="packages.txt:4"):
        fetch_jars.read_coordinates(listing)


def test_coordinate_url_follows_the_maven_layout():
    coordinate = fetch_jars.Coordinate("org.apache.kafka", "kafka-clients", "3.9.0")
    assert coordinate.url("https://repo1.maven.org/maven2/") == (
        "https://repo1.maven.org/maven2/org/apache/kafka/kafka-clients/3.9.0/kafka-clients-3.9.0.jar"
    )


def test_fetch_jars_downloads_and_verifies(fake_maven, tmp_path):
    url, repo = fake_maven
    dest = tmp_path / "jars"
    dest.mkdir()
    result = subprocess.run(
        [sys.executable, str(IMAGES / "spark-job" / "fetch_jars.py"), str(PACKAGES), str(dest), "--repo", url],
        capture_output=True,
        text=True,
    )
    assert result.returncode == 0, result.stderr
    names = sorted(p.name for p in dest.iterdir())
    assert names == sorted(c.jar_name for c in fetch_jars.read_coordinates(PACKAGES))
    assert (dest / "kafka-clients-3.9.0.jar").read_bytes() == (
        b"jar of Coordinate(group='org.apache.kafka', artifact='kafka-clients', version='3.9.0')"
    )


def test_fetch_jars_refuses_a_corrupted_jar(fake_maven, tmp_path):
    url, repo = fake_maven
    coordinate = fetch_jars.Coordinate("org.apache.kafka", "kafka-clients", "3.9.0")
    (repo / coordinate.url("").lstrip("/")).write_bytes(b"truncated")
    with pytest.raises(ValueError, match="sha1"):
        fetch_jars.fetch(coordinate, tmp_path, url)
    assert not (tmp_path / coordinate.jar_name).exists()


@pytest.mark.parametrize("name", ["requirements-airflow.txt", "requirements-airflow-gcs.txt", "requirements-spark.txt"])
def test_requirements_are_pinned(name):
    lines = [line for line in (PIPELINE / name).read_text().splitlines() if line.strip() and not line.startswith("#")]
    assert lines and all(re.fullmatch(r"[A-Za-z0-9_.-]+==[0-9][0-9A-Za-z.]*", line) for line in lines), lines


def copied_sources(dockerfile):
    """Build-context paths named by COPY instructions (context = pipeline/)."""
    sources = []
    for line in dockerfile.read_text().splitlines():
        if line.startswith("COPY "):
            sources += line.split()[1:-1]
    return sources


@pytest.mark.parametrize("image", ["airflow", "spark-job"])
def test_dockerfile_base_image_is_a_build_arg_and_copies_exist(image):
    dockerfile = IMAGES / image / "Dockerfile"
    text = dockerfile.read_text()
    assert re.search(r"^ARG BASE_IMAGE=\S+$", text, re.M) and re.search(r"^FROM \$\{BASE_IMAGE\}$", text, re.M)
    for source in copied_sources(dockerfile):
        assert (PIPELINE / source).is_file(), f"{image}: COPY source {source} missing"


def test_airflow_image_installs_into_the_bitnami_venv():
    text = (IMAGES / "airflow" / "Dockerfile").read_text()
    pip = "/opt/bitnami/airflow/venv/bin/pip install --no-cache-dir"
    assert f"{pip} -r /tmp/requirements-airflow.txt -r /tmp/requirements-airflow-gcs.txt" in text


def test_spark_job_image_ships_everything_run_job_needs():
    copied = {source.split("/")[-1] for source in copied_sources(IMAGES / "spark-job" / "Dockerfile")}
    run_job = (PIPELINE / "spark" / "run-job.sh").read_text()
    needed = set(re.findall(r'\$here/([\w.-]+)', run_job))
    assert needed == {"packages.txt", "tick_sink.py", "stream_ticks.py"}
    assert needed | {"run-job.sh", "schema.sql"} <= copied


@pytest.mark.parametrize("folder", ["dags", "spark"])
def test_deployable_folders_are_flat_valid_configmap_keys(folder):
    entries = [p for p in (PIPELINE / folder).iterdir() if p.name != "__pycache__"]
    assert all(p.is_file() for p in entries)
    assert all(re.fullmatch(r"[-._a-zA-Z0-9]+", p.name) for p in entries)
    # A ConfigMap holds at most 1 MiB.
    assert sum(p.stat().st_size for p in entries) < 1024 * 1024
