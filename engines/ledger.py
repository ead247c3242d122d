"""What was produced against what was written: the one place the assertions about rows, losses and duplicates live.

The engines test (scenario.py) and the kind end-to-end (.github/scripts/e2e-check-ticks.sh, through the command
line below) both judge a run with account(), so the two cannot drift (issue 23). Standard library only: the
GitHub runner calls it with its own python3.

The inputs: the ticks produced (as the topic holds them, each named by the tick_id the producer stamps on it), the
rows of the tick table, and the sink's write log (pipeline/spark/tick_sink.py: every row the upsert inserted or
changed, with the tick that made it). The table's primary key (symbol, event_time) hides a second write of the same
tick; the write log does not. Several ticks may share a key (CoinGecko repeats an event_time until the price
changes, a retried poll repeats a price), and the newest ingest_time wins, so a tick that a newer one of its key
superseded may never be written at all. Hence, per key, the row must hold the newest tick produced for it, and per
tick_id, at most one write.

The same module reads the `batch N: received=… written=…` line stream_ticks.py logs for every committed batch,
which tells which batch a driver held and whether its replay wrote anything.
"""

from __future__ import annotations

import argparse
import json
import re
import sys
from collections import Counter, defaultdict
from dataclasses import dataclass, field
from datetime import datetime, timezone
from typing import Iterable, Mapping, NamedTuple, Sequence

BATCH_LINE = re.compile(r"batch (\d+): received=(\d+) malformed=(\d+) duplicates=(\d+) written=(\d+)")
EXAMPLES = 5
TABLE_NAME = re.compile(r"^[a-z_][a-z0-9_]{0,62}$")


class Tick(NamedTuple):
    """One message as produced, or one entry of the write log (the tick a write came from)."""

    symbol: str
    event_time: datetime
    ingest_time: datetime
    tick_id: str | None

    @property
    def key(self) -> tuple[str, datetime]:
        return self.symbol, self.event_time


class Row(NamedTuple):
    symbol: str
    event_time: datetime
    ingest_time: datetime


class Problem(NamedTuple):
    kind: str
    text: str


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


@dataclass(frozen=True)
class Delivery:
    """One account: what was produced against the rows that hold it and the writes that made them."""

    produced: int
    rows: dict[str, int]
    duplicates: int
    problems: list[Problem]

    @property
    def ok(self) -> bool:
        return not self.problems

    @property
    def lost(self) -> list[Problem]:
        return [p for p in self.problems if p.kind == "missing"]

    def summary(self) -> dict:
        return {
            "acknowledged": self.produced,
            "rows": self.rows,
            "lost": len(self.lost),
            "duplicates": self.duplicates,
            "problems": dict(Counter(p.kind for p in self.problems)),
            "problem_examples": [p.text for p in self.problems[:EXAMPLES]],
        }


FRACTION = re.compile(r"\.(\d{1,6})(?=[+-]|$)")


def instant(text: str) -> datetime:
    """An ISO-8601 instant ending in Z or an offset, as aware UTC. Before Python 3.11, fromisoformat takes neither Z
    nor a fraction of other than 3 or 6 digits, which the tick schema allows (1 to 6)."""
    text = text[:-1] + "+00:00" if text.endswith("Z") else text
    moment = datetime.fromisoformat(FRACTION.sub(lambda m: "." + m[1].ljust(6, "0"), text, count=1))
    if moment.tzinfo is None:
        raise ValueError(f"{text!r} has no time zone")
    return moment.astimezone(timezone.utc)


def iso(moment: datetime) -> str:
    return moment.astimezone(timezone.utc).isoformat(timespec="microseconds").replace("+00:00", "Z")


def show(symbol: str, moment: datetime) -> str:
    return f"{symbol} {iso(moment)}"


def tick_from_message(value: str | bytes) -> Tick | None:
    """The tick of one message value; None for anything that is not one (the sink drops those)."""
    try:
        message = json.loads(value)
        tick_id = message.get("tick_id")
        if not isinstance(message["symbol"], str):
            return None
        return Tick(
            message["symbol"],
            instant(message["event_time"]),
            instant(message["ingest_time"]),
            tick_id if isinstance(tick_id, str) else None,
        )
    except (ValueError, KeyError, TypeError, AttributeError):
        return None


def account(
    produced: Iterable[Tick],
    rows: Iterable[Row],
    writes: Iterable[Tick],
    symbols: Sequence[str] = (),
    since: datetime | None = None,
    logged_since: datetime | None = None,
    min_rows: int = 1,
) -> Delivery:
    """Judges one run or phase. produced: the ticks the broker acknowledged (what the topic holds); rows: the table's
    rows of those symbols; writes: the write log's entries of those symbols. symbols: each must have produced ticks
    and rows of at least min_rows keys. since: some tick must have been produced after it (after a fault, or the
    test proved nothing). logged_since: when the write log began, if it began after the first tick (None: it covers
    every write). Rows and writes newer than the newest tick produced are left out: their ticks were not read yet.
    """
    produced, writes = list(produced), list(writes)
    table = {(row.symbol, row.event_time): row.ingest_time for row in rows}
    problems: list[Problem] = []
    newest: dict[tuple[str, datetime], datetime] = {}
    for tick in produced:
        newest[tick.key] = max(newest.get(tick.key, tick.ingest_time), tick.ingest_time)
    read_until = max((tick.ingest_time for tick in produced), default=None)

    def unread(moment: datetime) -> bool:
        return read_until is None or moment > read_until

    by_symbol = Counter(tick.symbol for tick in produced)
    problems += [Problem("absent", f"no tick of symbol {s} was produced") for s in symbols if not by_symbol[s]]
    if since is not None and not any(tick.ingest_time > since for tick in produced):
        problems.append(Problem("quiet", f"no tick produced after {iso(since)}"))
    problems += [Problem("unnamed", f"tick {show(*t.key)} carries no tick_id") for t in produced if not t.tick_id]
    in_topic = Counter(tick.tick_id for tick in produced if tick.tick_id)
    problems += [Problem("repeated", f"tick {i} is in the topic {n} times") for i, n in in_topic.items() if n > 1]

    for key, ingest in sorted(newest.items()):
        held = table.get(key)
        if held is None:
            problems.append(Problem("missing", f"missing: {show(*key)} has no row"))
        elif held < ingest:
            text = f"stale: {show(*key)} holds ingest_time {iso(held)}, the newest tick has {iso(ingest)}"
            problems.append(Problem("stale", text))
    rows_per_symbol = Counter(symbol for symbol, _ in newest.keys() & table.keys())
    for symbol in symbols:
        if by_symbol[symbol] and rows_per_symbol[symbol] < min_rows:
            problems.append(Problem("few_rows", f"symbol {symbol} has {rows_per_symbol[symbol]} rows, not {min_rows}"))
    for key, ingest in sorted(table.items()):
        if key not in newest and not unread(ingest):
            problems.append(Problem("unknown_row", f"unknown: row {show(*key)} matches no tick produced"))

    written = Counter(write.tick_id for write in writes if write.tick_id)
    twice = {tick_id: count for tick_id, count in written.items() if count > 1}
    keys_of = defaultdict(set)
    for write in writes:
        keys_of[write.tick_id].add(write.key)
    problems += [
        Problem("written_twice", f"written twice: tick {i} ({show(*min(keys_of[i]))}) was written {n} times")
        for i, n in sorted(twice.items())
    ]
    known = set(produced)
    problems += [
        Problem("unknown_write", f"unknown: a write of {show(*w.key)} from tick {w.tick_id} matches no tick produced")
        for w in writes
        if w not in known and not unread(w.ingest_time)
    ]
    logged = {(write.symbol, write.event_time, write.ingest_time) for write in writes}
    for key, ingest in sorted(newest.items()):
        covered = logged_since is None or ingest > logged_since
        if covered and table.get(key) == ingest and (*key, ingest) not in logged:
            problems.append(Problem("unlogged", f"unlogged: the row of {show(*key)} has no write in the write log"))
    return Delivery(
        produced=len(produced),
        rows=dict(sorted(rows_per_symbol.items())),
        duplicates=sum(count - 1 for count in twice.values()),
        problems=problems,
    )


# --- the command line: the kind end-to-end's files ------------------------------------------------------------


def select(kind: str, table: str) -> str:
    """The query that prints a table in the lines read_rows ("rows") or read_writes ("writes") takes."""
    if not TABLE_NAME.match(table):
        raise ValueError(f"{table!r} is not a lower-case SQL identifier")
    utc = """to_char({} AT TIME ZONE 'UTC', 'YYYY-MM-DD"T"HH24:MI:SS.US"Z"')"""
    columns = ["symbol", utc.format("event_time"), utc.format("ingest_time")]
    if kind == "writes":
        columns.insert(0, "tick_id")
    return f'SELECT {", ".join(columns)} FROM "{table}"'


def read_messages(lines: Iterable[str]) -> list[Tick]:
    """One message value a line, as e2e-read-topic.sh prints them; other lines (the consumer's own) are skipped."""
    return [tick for tick in map(tick_from_message, lines) if tick is not None]


def read_rows(lines: Iterable[str]) -> list[Row]:
    """symbol, event_time, ingest_time a line, tab-separated (psql -tA -F '\\t')."""
    rows = []
    for line in filter(None, (line.rstrip("\n") for line in lines)):
        symbol, event_time, ingest_time = line.split("\t")
        rows.append(Row(symbol, instant(event_time), instant(ingest_time)))
    return rows


def read_writes(lines: Iterable[str]) -> list[Tick]:
    """tick_id, symbol, event_time, ingest_time a line, tab-separated; psql prints a NULL tick_id as nothing."""
    writes = []
    for line in filter(None, (line.rstrip("\n") for line in lines)):
        tick_id, symbol, event_time, ingest_time = line.split("\t")
        writes.append(Tick(symbol, instant(event_time), instant(ingest_time), tick_id or None))
    return writes


def main(argv: Sequence[str] | None = None) -> None:
    parser = argparse.ArgumentParser(prog="ledger.py", description=__doc__.split("\n\n")[0])
    commands = parser.add_subparsers(dest="command", required=True)
    commands.add_parser(
        "batches",
        help="read a driver's log on stdin; print `id received malformed duplicates written` per committed batch",
    )
    query = commands.add_parser("sql", help="print the query that reads a table for check's --rows or --writes")
    query.add_argument("kind", choices=("rows", "writes"))
    query.add_argument("table")
    check = commands.add_parser("check", help="print one problem a line (none when all holds), a summary on stderr")
    check.add_argument("--messages", required=True, help="the topic's message values, one a line")
    check.add_argument("--rows", required=True, help="the tick table's rows (see read_rows)")
    check.add_argument("--writes", required=True, help="the write log's entries (see read_writes)")
    check.add_argument("--symbols", default="", help="comma-separated symbols that must each have ticks and rows")
    check.add_argument("--since", type=instant, help="some tick must have been produced after this instant")
    check.add_argument("--logged-since", type=instant, help="when the write log began, if after the first tick")
    args = parser.parse_args(argv)
    if args.command == "batches":
        for batch, counts in sorted(SinkLog.parse(sys.stdin.read()).batches.items()):
            print(batch, *counts)
        return
    if args.command == "sql":
        print(select(args.kind, args.table))
        return
    with open(args.messages) as messages, open(args.rows) as rows, open(args.writes) as writes:
        produced, table, log = read_messages(messages), read_rows(rows), read_writes(writes)
    symbols = [s for s in args.symbols.split(",") if s]
    delivery = account(produced, table, log, symbols, since=args.since, logged_since=args.logged_since)
    for problem in delivery.problems:
        print(problem.text)
    print(
        f"{delivery.produced} ticks of {len(symbols)} symbols produced, {len(table)} rows, {len(log)} writes logged, "
        f"{len(delivery.problems)} problems",
        file=sys.stderr,
    )


if __name__ == "__main__":
    main()
