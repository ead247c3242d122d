"""Cluster names on loopback: every rendered pod gets an address of its own in 127.0.0.0/8, and the names
cluster DNS would give its Services and StatefulSet pods resolve to it through the hosts file of the
engines' own network and mount namespace (engines/run enters it with `unshare --net --mount`).

So clients reach the engines by the names, ports and certificates they use in the cluster: no host name,
port or SAN is adapted, and nothing the engines open is reachable from outside the namespace.
"""

from __future__ import annotations

import socket
import subprocess
from pathlib import Path
from typing import Mapping

from rendered import CLUSTER_DOMAIN, RenderedStack, pod_fqdn, pod_name, pod_template, selects, service_names, workloads

HOSTS_FILE = Path("/etc/hosts")


class ClusterNetwork:
    def __init__(self, stack: RenderedStack):
        self.pod_ips: dict[tuple[str, str], str] = {}
        self.names: dict[str, str] = {}
        for index, workload in enumerate(
            sorted(workloads(stack), key=lambda w: (w["metadata"]["namespace"], w["metadata"]["name"]))
        ):
            namespace, name = workload["metadata"]["namespace"], workload["metadata"]["name"]
            replicas = max(int(workload["spec"].get("replicas", 1) or 1), 1)
            for ordinal in range(replicas):
                pod = pod_name(workload, ordinal)
                ip = f"127.{10 + index // 250}.{index % 250}.{ordinal + 1}"
                self.pod_ips[(namespace, pod)] = ip
                headless = workload["spec"].get("serviceName")
                if headless:
                    fqdn = pod_fqdn(workload, pod)
                    short = fqdn.removesuffix(f".{CLUSTER_DOMAIN}")
                    for dns in (fqdn, short, short.removesuffix(".svc")):
                        self.names[dns] = ip
        for service in stack.of_kind("Service"):
            namespace, name = service["metadata"]["namespace"], service["metadata"]["name"]
            selector = service["spec"].get("selector")
            for workload in workloads(stack):
                if workload["metadata"]["namespace"] == namespace and selects(
                    selector, pod_template(workload)["metadata"].get("labels")
                ):
                    for dns in service_names(name, namespace):
                        self.names.setdefault(dns, self.pod_ips[(namespace, pod_name(workload))])
                    break

    def pod_ip(self, namespace: str, pod: str) -> str:
        return self.pod_ips[(namespace, pod)]

    def hosts_file(self, extra: Mapping[str, str] | None = None) -> str:
        # The machine's own name too: JVMs look it up at start (log4j, Spark's Utils.localHostName).
        lines = [f"127.0.0.1 localhost {socket.gethostname()}"]
        lines += [f"{ip} {name}" for name, ip in sorted({**self.names, **(extra or {})}.items())]
        return "\n".join(lines) + "\n"

    def install(self, work: Path, extra: Mapping[str, str] | None = None) -> None:
        """Bind-mounts the cluster's hosts file over /etc/hosts: only inside the engines' mount namespace."""
        hosts = work / "hosts"
        hosts.write_text(self.hosts_file(extra))
        subprocess.run(["ip", "link", "set", "lo", "up"], check=True)
        subprocess.run(["mount", "--bind", str(hosts), str(HOSTS_FILE)], check=True)
