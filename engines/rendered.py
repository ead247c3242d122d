"""The rendered stack the engines run: the bundle engines/bundle.ts writes, and what a pod would see of it.

Every engine and client takes its configuration from here: the objects `helm template` renders from the
pinned charts and the objects the program creates itself, with the program's TLS resources issued for
real. Nothing in this package types a setting a second time.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Iterable, Mapping

CLUSTER_DOMAIN = "cluster.local"


class RenderedStack:
    def __init__(self, bundle: Mapping[str, Any]):
        self.stack: str = bundle["stack"]
        self.objects: list[dict] = list(bundle["objects"])

    @classmethod
    def load(cls, path: Path) -> "RenderedStack":
        return cls(json.loads(Path(path).read_text()))

    def find(self, kind: str, namespace: str | None, name: str) -> dict:
        found = [
            o
            for o in self.objects
            if o["kind"] == kind and o["metadata"]["name"] == name and o["metadata"].get("namespace") == namespace
        ]
        if len(found) != 1:
            raise LookupError(f"expected one {kind} {namespace or ''}/{name} in the rendered stack, found {len(found)}")
        return found[0]

    def of_kind(self, kind: str, namespace: str | None = None) -> list[dict]:
        return [
            o
            for o in self.objects
            if o["kind"] == kind and (namespace is None or o["metadata"].get("namespace") == namespace)
        ]

    def secret_data(self, namespace: str, name: str) -> dict[str, str]:
        """A Secret's values as a pod reads them: stringData as written, data base64-decoded."""
        import base64

        secret = self.find("Secret", namespace, name)
        values = {k: base64.b64decode(v).decode() for k, v in (secret.get("data") or {}).items()}
        values.update(secret.get("stringData") or {})
        return values

    def config_map_data(self, namespace: str, name: str) -> dict[str, str]:
        return dict(self.find("ConfigMap", namespace, name).get("data") or {})


def pod_template(workload: Mapping[str, Any]) -> dict:
    if workload["kind"] == "CronJob":
        return workload["spec"]["jobTemplate"]["spec"]["template"]
    return workload["spec"]["template"]


def container(workload: Mapping[str, Any], name: str, init: bool = False) -> dict:
    spec = pod_template(workload)["spec"]
    containers = spec.get("initContainers" if init else "containers") or []
    for candidate in containers:
        if candidate["name"] == name:
            return candidate
    names = [c["name"] for c in containers]
    raise LookupError(f"{workload['kind']} {workload['metadata']['name']} has no container {name!r} (has {names})")


@dataclass(frozen=True)
class PodIdentity:
    """The downward API's view of one pod: what fieldRef and resourceFieldRef env vars resolve to."""

    name: str
    namespace: str
    ip: str
    node_name: str = "engines"
    service_account: str = "default"

    def field(self, path: str) -> str:
        fields = {
            "metadata.name": self.name,
            "metadata.namespace": self.namespace,
            "status.podIP": self.ip,
            "status.hostIP": self.ip,
            "spec.nodeName": self.node_name,
            "spec.serviceAccountName": self.service_account,
        }
        if path not in fields:
            raise LookupError(f"fieldRef {path} is not one the engines test resolves")
        return fields[path]


def container_env(
    stack: RenderedStack, workload: Mapping[str, Any], container_spec: Mapping[str, Any], pod: PodIdentity
) -> dict[str, str]:
    """The environment the kubelet gives a container: envFrom first, then env in order with $(VAR) expanded."""
    namespace = workload["metadata"].get("namespace") or pod.namespace
    env: dict[str, str] = {}
    for source in container_spec.get("envFrom") or []:
        prefix = source.get("prefix", "")
        if "secretRef" in source:
            values = optional(lambda: stack.secret_data(namespace, source["secretRef"]["name"]), source["secretRef"])
        else:
            values = optional(
                lambda: stack.config_map_data(namespace, source["configMapRef"]["name"]), source["configMapRef"]
            )
        env.update({prefix + k: v for k, v in values.items()})
    for entry in container_spec.get("env") or []:
        name = entry["name"]
        if entry.get("value") is not None:
            env[name] = _expand(str(entry["value"]), env)
        elif "valueFrom" in entry:
            value = _value_from(stack, namespace, entry["valueFrom"], pod)
            if value is not None:
                env[name] = value
        else:
            # A variable with no value (or `value: null`, as some charts render) is set and empty.
            env[name] = ""
    return env


def optional(read, reference: Mapping[str, Any]) -> dict[str, str]:
    """What a ConfigMap or Secret reference reads: nothing when the object is missing and the reference is optional."""
    try:
        return read()
    except LookupError:
        if reference.get("optional"):
            return {}
        raise


def _value_from(stack: RenderedStack, namespace: str, source: Mapping[str, Any], pod: PodIdentity) -> str | None:
    if "secretKeyRef" in source:
        ref = source["secretKeyRef"]
        values = optional(lambda: stack.secret_data(namespace, ref["name"]), ref)
    elif "configMapKeyRef" in source:
        ref = source["configMapKeyRef"]
        values = optional(lambda: stack.config_map_data(namespace, ref["name"]), ref)
    elif "fieldRef" in source:
        return pod.field(source["fieldRef"]["fieldPath"])
    elif "resourceFieldRef" in source:
        return None
    else:
        raise LookupError(f"unsupported valueFrom {sorted(source)}")
    if ref["key"] not in values:
        if ref.get("optional"):
            return None
        raise LookupError(f"{ref['name']} has no key {ref['key']}")
    return values[ref["key"]]


def _expand(value: str, env: Mapping[str, str]) -> str:
    """Kubernetes' $(VAR) expansion of earlier variables; $$ escapes a dollar."""
    out, i = [], 0
    while i < len(value):
        if value.startswith("$$", i):
            out.append("$")
            i += 2
        elif value.startswith("$(", i) and ")" in value[i:]:
            end = value.index(")", i)
            name = value[i + 2 : end]
            out.append(env[name] if name in env else value[i : end + 1])
            i = end + 1
        else:
            out.append(value[i])
            i += 1
    return "".join(out)


def bitnami_yes(value: str | None) -> bool:
    """The Bitnami images' is_boolean_yes (bitnami/containers scripts/libvalidations.sh): 1, yes or true, any case."""
    return (value or "").lower() in ("1", "yes", "true")


def pod_name(workload: Mapping[str, Any], ordinal: int = 0) -> str:
    """A workload's pod as the engines name it: <name>-<ordinal> for a StatefulSet, the workload's name otherwise."""
    name = workload["metadata"]["name"]
    return f"{name}-{ordinal}" if workload["kind"] == "StatefulSet" else name


def pod_fqdn(workload: Mapping[str, Any], pod: str) -> str:
    """`hostname -f` of a StatefulSet's pod: its name under the headless Service (spec.serviceName)."""
    return f"{pod}.{workload['spec']['serviceName']}.{workload['metadata']['namespace']}.svc.{CLUSTER_DOMAIN}"


def service_names(service: str, namespace: str) -> list[str]:
    """The DNS names cluster DNS gives a Service (or a StatefulSet pod under its headless Service)."""
    return [
        service,
        f"{service}.{namespace}",
        f"{service}.{namespace}.svc",
        f"{service}.{namespace}.svc.{CLUSTER_DOMAIN}",
    ]


def selects(selector: Mapping[str, str] | None, labels: Mapping[str, str] | None) -> bool:
    return bool(selector) and all((labels or {}).get(k) == v for k, v in selector.items())


def workloads(stack: RenderedStack) -> Iterable[dict]:
    return [o for o in stack.objects if o["kind"] in ("Deployment", "StatefulSet")]
