"""Airflow 3 DAG: poll crypto prices and publish them to Kafka.

Deliberately thin: all logic, configuration and validation live in
crypto_ticks.py (same folder, on sys.path because Airflow adds the dags folder).
"""

import os
from datetime import timedelta

import pendulum
from airflow.sdk import dag, task

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
        return crypto_ticks.run_from_env(os.environ)

    poll_and_publish()


crypto_prices()
