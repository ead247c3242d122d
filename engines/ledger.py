"""What was acknowledged against what was written: the assertions about rows, losses and duplicates.

Kept apart from the engines so the kind end-to-end can make the same ones (issue 23): the inputs are the
ticks the broker holds (read back from the topic), the table's rows, and the sink's own write log (the
`batch N: received=… written=…` line stream_ticks.py logs for every committed batch). The table's primary key
(symbol, event_time) hides a second write of the same tick, so duplicates are counted from the write log:
every write beyond the one that made a row is one.
"""

from __future__ import annotations

import re
import sys
from collections import Counter
from dataclasses import dataclass, field
from typing import Iterable, Mapping

BATCH_LINE = re.compile(r"batch (\d+): received=(\d+) malformed=(\d+) duplicates=(\d+) written=(\d+)")


@dataclass(frozen=True)
class SinkLog:
    """The committed batches of one driver's log, by batch id."""

    batches: Mapping[int, tuple[int, int, int, int]] = field(default_factory=dict)

    @classmethod
    def parse(cls, text: str) -> "SinkLog":
        return cls({int(m[1]): (int(m[2]), int(m[3]), int(m[4]), int(m[5])) for m in BATCH_LINE.finditer(text)})

    @property
    def written(self) -> int:
        return sum(b[3] for b in self.batches.values())

    @property
    def malformed(self) -> int:
        return sum(b[1] for b in self.batches.values())


def sink_written(logs: Iterable[str]) -> int:
    """Rows the sink inserted or changed, over every driver incarnation's log."""
    return sum(SinkLog.parse(text).written for text in logs)


@dataclass(frozen=True)
class Delivery:
    """One phase's account: acknowledged ticks against the rows that hold them and the writes that made them."""

    acknowledged: int
    rows: dict[str, int]
    lost: list
    duplicates: int

    def summary(self) -> dict:
        return {
            "acknowledged": self.acknowledged,
            "rows": self.rows,
            "lost": len(self.lost),
            "duplicates": self.duplicates,
            "lost_examples": [[str(part) for part in key] for key in self.lost[:5]],
        }

    @property
    def ok(self) -> bool:
        return not self.lost and self.duplicates == 0


def compare(acknowledged: Iterable[tuple], table: Iterable[tuple], written: int) -> Delivery:
    """acknowledged: (symbol, event_time) of each tick the broker acknowledged in the phase; table: the same keys
    as the table holds them; written: rows the sink wrote during the phase (sink_written before and after).
    Every write beyond the one that made an acknowledged tick's row is a duplicate."""
    wanted = set(acknowledged)
    held = wanted & set(table)
    return Delivery(
        acknowledged=len(wanted),
        rows=dict(sorted(Counter(symbol for symbol, _ in held).items())),
        lost=sorted(wanted - held),
        duplicates=max(written - len(held), 0),
    )


def main() -> None:
    """`python3 engines/ledger.py < driver.log`: one line `id received malformed duplicates written` per committed
    batch of a driver's log, oldest first; how .github/scripts/e2e-kill-driver.sh reads the kind driver's write log."""
    for batch, counts in sorted(SinkLog.parse(sys.stdin.read()).batches.items()):
        print(batch, *counts)


if __name__ == "__main__":
    main()
