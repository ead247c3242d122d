"""Download the jars listed in spark/packages.txt and verify their checksums.

    python3 fetch_jars.py PACKAGES_TXT DEST_DIR [--repo URL]

Used at image build time (stdlib only: the Bitnami image ships Python but no
curl). Each jar is checked against the .sha1 the repository publishes next to
it, which catches truncated or corrupted downloads; a jar is written under its
final name <artifact>-<version>.jar (the name run-job.sh expects) only after
its checksum matched.
"""

from __future__ import annotations

import argparse
import hashlib
import urllib.request
from pathlib import Path
from typing import NamedTuple

MAVEN_CENTRAL = "https://repo1.maven.org/maven2"
TIMEOUT_S = 60


class Coordinate(NamedTuple):
    group: str
    artifact: str
    version: str

    @property
    def jar_name(self) -> str:
        return f"{self.artifact}-{self.version}.jar"

    def url(self, repo: str) -> str:
        return f"{repo.rstrip('/')}/{self.group.replace('.', '/')}/{self.artifact}/{self.version}/{self.jar_name}"


def read_coordinates(path: Path) -> list[Coordinate]:
    coordinates = []
    for number, raw in enumerate(path.read_text().splitlines(), start=1):
        line = raw.strip()
        if not line or line.startswith("#"):
            continue
        parts = line.split(":")
        if len(parts) != 3 or not all(parts):
            raise ValueError(f"{path}:{number}: expected group:artifact:version, got {line!r}")
        coordinates.append(Coordinate(*parts))
    return coordinates


def _get(url: str) -> bytes:
    with urllib.request.urlopen(url, timeout=TIMEOUT_S) as response:
        return response.read()


def fetch(coordinate: Coordinate, dest: Path, repo: str) -> Path:
    url = coordinate.url(repo)
    data = _get(url)
    # The .sha1 file holds the hex digest, sometimes followed by the file name.
    expected = _get(url + ".sha1").decode().split()[0].lower()
    actual = hashlib.sha1(data).hexdigest()
    if actual != expected:
        raise ValueError(f"{url}: sha1 {actual} does not match published {expected}")
    target = dest / coordinate.jar_name
    target.write_bytes(data)
    return target


def main() -> None:
    parser = argparse.ArgumentParser(description="Fetch and verify the jars in packages.txt")
    parser.add_argument("packages", type=Path)
    parser.add_argument("dest", type=Path)
    parser.add_argument("--repo", default=MAVEN_CENTRAL)
    args = parser.parse_args()
    for coordinate in read_coordinates(args.packages):
        print(f"fetched {fetch(coordinate, args.dest, args.repo)}")


if __name__ == "__main__":
    main()
