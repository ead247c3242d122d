"""Airflow 3 DAG: poll crypto prices and publish them to Kafka.

Deliberately thin: all logic, configuration and validation live in
crypto_ticks.py (same folder, on sys.path because Airflow adds the dags folder).

Metrics go through Airflow's StatsD client (airflow.stats.Stats, prefix "airflow"; the chart's statsd
exporter serves them to Prometheus with dots as underscores, as no default mapping matches them):
  crypto_ticks.produced -> airflow_crypto_ticks_produced: ticks Kafka acknowledged;
  crypto_ticks.failed   -> airflow_crypto_ticks_failed: ticks of a poll that did not reach Kafka: the source's
                           unusable records of a successful poll, or every requested symbol of a failed one.
"""

import os
from datetime import timedelta

import pendulum
from airflow.sdk import dag, task
from airflow.stats import Stats

import crypto_ticks


@dag(
    dag_id="crypto_prices",
    schedule=crypto_ticks.poll_schedule(os.environ),
    start_date=pendulum.datetime(2025, 1, 1, tz="UTC"),
    # A missed minute is gone for good: the API only serves the current price.
    catchup=False,
    max_active_runs=1,
    # The platform ships this DAG to run as soon as it is deployed; Airflow would otherwise create it paused.
    is_paused_upon_creation=False,
    # One quick retry still captures a (slightly late) price for this minute.
    default_args={"retries": 1, "retry_delay": timedelta(seconds=10)},
    tags=["crypto", "kafka"],
)
def crypto_prices():
    # Covers the worst case of crypto_ticks' HTTP retry budget plus Kafka flush.
    @task(execution_timeout=timedelta(seconds=90))
    def poll_and_publish() -> dict:
        try:
            counts = crypto_ticks.run_from_env(os.environ)
        except Exception:
            # Nothing of this attempt was acknowledged: count every requested symbol as failed.
            symbols = {s.strip() for s in os.environ.get("CRYPTO_SYMBOLS", "").split(",") if s.strip()}
            Stats.incr("crypto_ticks.failed", max(len(symbols), 1))
            raise
        Stats.incr("crypto_ticks.produced", counts["produced"])
        Stats.incr("crypto_ticks.failed", counts["requested"] - counts["produced"])
        return counts

    poll_and_publish()


crypto_prices()
