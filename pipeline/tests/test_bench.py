"""The benchmark script still runs and reports both loaders (tiny row count)."""

import re
import subprocess
import sys

from conftest import PIPELINE


def test_bench_reports_upsert_copy_and_ratio(pg_dsn):
    result = subprocess.run(
        [sys.executable, str(PIPELINE / "bench" / "bench_sink.py"), "--rows", "3000", "--repeat", "1", "--dsn", pg_dsn],
        capture_output=True,
        text=True,
    )
    assert result.returncode == 0, result.stderr
    for label in ("COPY", "upsert", "replay"):
        assert re.search(rf"^{label} +[\d,]+ rows/s", result.stdout, re.M), result.stdout
    assert re.search(r"^upsert/COPY = \d+%", result.stdout, re.M)
