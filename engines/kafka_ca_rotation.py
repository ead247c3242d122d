"""A Kafka CA rotation on the real engines: the pods of step 1 (trust CA 1 and CA 2, certificates from CA 1)
and of step 2 (the same trust, certificates re-issued from CA 2) against each other, as a roll mixes them
(docs/runbook.md section 13, components/data/kafkaCaRotation.ts). Run by engines/run after main.py, inside
its own network and mount namespace, on the two bundles engines/rotationBundle.ts writes (one PKI).

For each direction, a Kafka 4.0 node of one step is started from its rendered chart (engines/kafka.py), and
what the other step's pods hold must work against it:
- the producer and the consumer (librdkafka, their rendered KAFKA_SSL_CA_PEM): one record written, read back;
- a node (Java, the ssl.truststore.* its rendered prepare-config script leaves in server.properties,
  components/data/kafkaTrust.ts): a client with that truststore and the Job's credentials lists the topics,
  as the node's own inter-broker and controller clients verify their peers (the same DefaultSslEngineFactory).
Node 2 serves a CA 2 certificate, which step 1's bundle holds second: what keytool's JKS truststore (first
certificate only) would have refused. Each node's own provisioning Job runs against it (KafkaBroker.provision),
as Helm runs that post-upgrade hook after the roll; the other step's Job never meets it, and could not: it
reads one CA only (components/data/kafka.ts, PROVISIONING_TLS_SECRET). One node stands for its step: a
single-node stack (`local`), one pod IP.
"""

from __future__ import annotations

import argparse
import json
import re
import subprocess
import sys
import time
import uuid
from pathlib import Path

from kafka import CONSUMER_CLIENT, PRODUCER_CLIENT, KafkaBroker, _consume, _produce, client_env, librdkafka_config
from network import ClusterNetwork
from processes import EngineError
from rendered import RenderedStack


def clients_of(client: RenderedStack, network: ClusterNetwork, timeout_s: float = 10) -> str:
    """One record through the producer and the consumer of the client step, against the running node."""
    producer, consumer = client_env(client, network, *PRODUCER_CLIENT), client_env(client, network, *CONSUMER_CLIENT)
    topic = producer["KAFKA_TOPIC"]
    value = f"ca-rotation-{uuid.uuid4().hex[:8]}".encode()
    err, msg = _produce(librdkafka_config(producer), topic, b"engines-ca-rotation", value, timeout_s)
    if err is not None:
        raise EngineError(f"the producer could not write: {err}")
    group = f"{consumer.get('KAFKA_GROUP_ID_PREFIX', 'crypto-ticks-stream')}-ca-rotation-{uuid.uuid4().hex[:8]}"
    err, read = _consume(librdkafka_config(consumer), topic, group, msg.partition(), msg.offset(), timeout_s * 2)
    if err is not None or read is None or read.value() != value:
        raise EngineError(f"the consumer could not read the record back: {err}")
    return f"{topic}[{msg.partition()}]@{msg.offset()}"


def node_as_client(node: KafkaBroker, peer: KafkaBroker) -> str:
    """A Java client with the truststore the peer's rendered configuration names (its prepare-config script's
    server.properties: ssl.truststore.*), and the Job's credentials, against the running node."""
    peer.files.lay_out()
    peer._run_init()
    rendered = peer.files.mounts(peer.main)["/opt/bitnami/kafka/config/server.properties"]
    lines = peer.files.rebase(rendered.read_text(), peer.main).splitlines()
    trust = [line for line in lines if line.startswith("ssl.truststore.")]
    if not trust:
        raise EngineError(f"no ssl.truststore.* in {rendered}")
    # The node's admin config (the Job's credentials) with its truststore replaced by the peer node's.
    text = re.sub(r"^ssl\.truststore\.(?:.*\\\n)*.*$\n?", "", node.admin_config.read_text(), flags=re.M)
    config = peer.work / "peer-client.properties"
    config.write_text(text.rstrip("\n") + "\n" + "\n".join(trust) + "\n")
    named = dict(line.split("=", 1) for line in trust)
    store = f"{named.get('ssl.truststore.type')} {Path(named.get('ssl.truststore.location', '')).name}"
    return f"the peer's truststore ({store}) verifies the node: topics {_topics(node, config)}"


def _topics(node: KafkaBroker, config: Path) -> str:
    """kafka-topics.sh --list as the Job's admin (KafkaBroker.tool, with another --command-config)."""
    tool = str(node.tools.bin / "kafka-topics.sh")
    argv = [tool, "--bootstrap-server", node.bootstrap(), "--command-config", str(config), "--list"]
    result = subprocess.run(
        node._job_sandbox(argv), capture_output=True, text=True, env=node.tools.image_env(), timeout=120
    )
    if result.returncode != 0:
        tail = result.stderr[-1500:]
        raise EngineError(f"kafka-topics.sh with the peer's truststore exited {result.returncode}:\n{tail}")
    return ",".join(result.stdout.split())


def direction(server: RenderedStack, client: RenderedStack, network: ClusterNetwork, work: Path, libs: Path) -> dict:
    node = KafkaBroker(server, network, work / "node", libs)
    results: dict = {}
    begin = time.monotonic()
    try:
        node.start()
        node.provision()
        checks = {
            "producer_and_consumer": lambda: clients_of(client, network),
            "node": lambda: node_as_client(node, KafkaBroker(client, network, work / "peer", libs)),
        }
        for name, check in checks.items():
            try:
                results[name] = {"ok": True, "detail": check()}
            except Exception as error:  # noqa: BLE001 - recorded, and the run fails
                results[name] = {"ok": False, "detail": f"{type(error).__name__}: {error}"[-2000:]}
    finally:
        node.stop()
    results["seconds"] = round(time.monotonic() - begin, 1)
    return results


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--step1", type=Path, required=True)
    parser.add_argument("--step2", type=Path, required=True)
    parser.add_argument("--cache", type=Path, required=True)
    parser.add_argument("--work", type=Path, required=True)
    parser.add_argument("--report", type=Path, required=True)
    args = parser.parse_args()
    args.work.mkdir(parents=True, exist_ok=True)
    step1, step2 = RenderedStack.load(args.step1), RenderedStack.load(args.step2)
    network = ClusterNetwork(step1)
    network.install(args.work)
    libs = args.cache / "kafka" / "libs"
    report = {
        "re-issued node (step 2), pods of step 1": direction(step2, step1, network, args.work / "step2", libs),
        "node not yet re-issued (step 1), pods of step 2": direction(step1, step2, network, args.work / "step1", libs),
    }
    args.report.write_text(json.dumps(report, indent=1) + "\n")
    failed = [
        f"{d}: {c}" for d, checks in report.items() for c, r in checks.items() if isinstance(r, dict) and not r["ok"]
    ]
    print(json.dumps(report, indent=1))
    for failure in failed:
        print(f"engines: kafka CA rotation failed: {failure}", file=sys.stderr)
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())
