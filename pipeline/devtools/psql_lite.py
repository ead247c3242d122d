"""The part of psql that our SQL files use, on psycopg2, so no test needs a psql binary.

    psql_lite.py DSN [-v NAME=VALUE]... [-X] [-q] -f FILE

Supported: `;`-terminated statements, `--` comments, quoted literals and
identifiers, variables from -v and `\\set` interpolated as :name, :'name'
(literal) and :"name" (identifier), and `\\gexec`. It always stops at the
first error with exit code 3 (psql's behaviour with ON_ERROR_STOP=1). Any
other backslash command is an error, so a script that needs more fails
loudly here instead of passing untested.
Autocommit, like psql: CREATE DATABASE cannot run in a transaction.
"""

from __future__ import annotations

import argparse
import re
import shlex
import sys
from typing import Any

import psycopg2
from psycopg2 import sql

VARIABLE = re.compile(r":(?:'([A-Za-z_]\w*)'|\"([A-Za-z_]\w*)\"|([A-Za-z_]\w*))")


class ScriptError(Exception):
    pass


def substitute(conn: Any, match: re.Match[str], variables: dict[str, str]) -> str:
    """psql's interpolation of :name, :'name' and :"name"; an unknown name stays as written."""
    literal, identifier, raw = match.groups()
    name = literal or identifier or raw
    if name not in variables:
        return match.group(0)
    if literal:
        return sql.Literal(variables[name]).as_string(conn)
    if identifier:
        return sql.Identifier(variables[name]).as_string(conn)
    return variables[name]


def run_script(conn: Any, text: str, variables: dict[str, str]) -> None:
    """Runs the script statement by statement; raises ScriptError at the first failure."""
    buffer, quote = "", ""

    def execute(statement: str) -> list[tuple[Any, ...]]:
        with conn.cursor() as cur:
            cur.execute(statement)
            return cur.fetchall() if cur.description else []

    def meta(command: str) -> None:
        nonlocal buffer
        name, *args = shlex.split(command)
        if name == "set":
            variables[args[0]] = "".join(args[1:])
        elif name == "gexec":
            for row in execute(buffer) if buffer.strip() else []:
                for cell in row:
                    if cell is not None:
                        execute(cell)
            buffer = ""
        else:
            raise ScriptError(f"unsupported psql command \\{name}")

    for number, line in enumerate(text.splitlines(), 1):
        try:
            i = 0
            while i < len(line):
                char, match = line[i], None
                if quote:
                    quote = "" if char == quote else quote
                elif char in "'\"":
                    quote = char
                elif line.startswith("--", i):
                    break
                elif char == ";":
                    if buffer.strip():
                        execute(buffer)
                    buffer, i = "", i + 1
                    continue
                elif char == "\\":
                    meta(line[i + 1:])
                    break
                elif char == ":" and not line.startswith("::", i) and not (i and line[i - 1] == ":"):
                    match = VARIABLE.match(line, i)
                if match:
                    buffer += substitute(conn, match, variables)
                    i = match.end()
                else:
                    buffer += char
                    i += 1
            buffer += "\n"
        except (psycopg2.Error, ScriptError, ValueError, IndexError) as err:
            raise ScriptError(f"{number}: {str(err).strip()}") from err
    if buffer.strip():
        execute(buffer)


def main(argv: list[str]) -> int:
    parser = argparse.ArgumentParser(prog="psql_lite")
    parser.add_argument("dsn")
    parser.add_argument("-v", "--set", dest="variables", action="append", default=[])
    parser.add_argument("-f", "--file", required=True)
    parser.add_argument("-X", "--no-psqlrc", action="store_true")  # there is no psqlrc here anyway
    parser.add_argument("-q", "--quiet", action="store_true")
    args = parser.parse_args(argv)
    variables = dict(item.split("=", 1) for item in args.variables)
    conn = psycopg2.connect(args.dsn)
    conn.autocommit = True
    try:
        with open(args.file) as script:
            run_script(conn, script.read(), variables)
    except ScriptError as err:
        print(f"psql:{args.file}:{err}", file=sys.stderr)
        return 3  # psql's code with ON_ERROR_STOP; stricter than psql without it
    finally:
        conn.close()
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
