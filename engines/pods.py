"""A rendered pod's files on this machine: its volumes as folders of the run's work dir, laid out as the
kubelet lays them out, and the pod's paths in scripts, arguments and env values rewritten to those folders.

Every engine module runs its pods through this one place, so the only path adaptation there is, mount
path -> work folder, is made the same way for all of them.
"""

from __future__ import annotations

import re
import shutil
from pathlib import Path
from typing import Callable, Mapping

from processes import EngineError
from rendered import RenderedStack, optional, pod_template

# The kubelet's mode for projected files when a volume sets none (k8s.io/api core/v1 types.go).
DEFAULT_MODE = 0o644
PEM_BLOCK = re.compile(r"(-----BEGIN [A-Z ]+-----.*?-----END [A-Z ]+-----)", re.DOTALL)


class PodFiles:
    """One pod of a workload: each volume is `root/volumes/<name>`.

    `bind` maps a volume to a folder of this machine instead (the repository's code for a ConfigMap of it,
    say); `image` maps paths of the image's own files the pod's scripts name (its AIRFLOW_HOME, the Bitnami
    shell libraries) to their stand-ins here, as if every container mounted them; `owner` is called on every
    folder a process of the pod writes (the pod's fsGroup)."""

    def __init__(
        self,
        stack: RenderedStack,
        workload: Mapping,
        root: Path,
        bind: Mapping[str, Path] | None = None,
        image: Mapping[str, Path] | None = None,
        owner: Callable[[Path], None] | None = None,
    ):
        self.stack, self.workload, self.root = stack, workload, Path(root)
        if re.search(r"\s", str(self.root)):
            raise EngineError(f"work folder {self.root} contains whitespace; the charts' scripts split on it")
        self.namespace = workload["metadata"]["namespace"]
        self.spec = pod_template(workload)["spec"]
        self.volumes = {v["name"]: v for v in self.spec.get("volumes") or []}
        self.claims = {t["metadata"]["name"] for t in workload["spec"].get("volumeClaimTemplates") or []}
        self.bound = dict(bind or {})
        self.image = dict(image or {})
        self.owner = owner

    def volume(self, name: str) -> Path:
        if name in self.bound:
            return self.bound[name]
        if name not in self.volumes and name not in self.claims:
            raise EngineError(f"{self.workload['metadata']['name']}: no volume {name}")
        return self.root / "volumes" / name

    def lay_out(self) -> None:
        """What the kubelet does for a new pod: ConfigMap, Secret and projected volumes written afresh, emptyDirs
        emptied, claims (volumeClaimTemplates, persistentVolumeClaim volumes) kept: they outlive the pod."""
        for name in [*self.volumes, *self.claims]:
            if name in self.bound:
                continue
            target = self.volume(name)
            volume = self.volumes.get(name, {"persistentVolumeClaim": {}})
            if "persistentVolumeClaim" in volume:
                target.mkdir(parents=True, exist_ok=True)
            else:
                if target.exists():
                    shutil.rmtree(target)
                target.mkdir(parents=True)
                for path, text, mode in self._files(volume):
                    file = target / path
                    file.parent.mkdir(parents=True, exist_ok=True)
                    file.write_text(text)
                    file.chmod(mode)
            if self.owner and not self._files_of(volume):
                self.owner(target)

    def mounts(self, container_spec: Mapping) -> dict[str, Path]:
        """mountPath -> folder (or file, for a subPath) of one container; the image's paths beneath its mounts."""
        table = dict(self.image)
        for mount in container_spec.get("volumeMounts") or []:
            folder = self.volume(mount["name"])
            table[mount["mountPath"].rstrip("/") or "/"] = folder / mount["subPath"] if mount.get("subPath") else folder
        return table

    def start_container(self, container_spec: Mapping) -> dict[str, Path]:
        """The container's mounts as the kubelet makes them when it starts the container (not before: an init
        container may write the file a later container mounts by subPath): a missing subPath becomes a folder of
        its volume (pkg/volume/util/subpath doSafeMakeDir), owned like the volume."""
        for mount in container_spec.get("volumeMounts") or []:
            folder = self.volume(mount["name"]) / mount.get("subPath", "")
            if mount.get("subPath") and mount["name"] not in self.bound and not folder.exists():
                folder.mkdir(parents=True)
                if self.owner:
                    self.owner(folder)
        return self.mounts(container_spec)

    def path(self, pod_path: str, container_spec: Mapping) -> Path:
        """Where a path of the container is here; an error for a path on no volume (the image's own files are not
        here)."""
        local = self.rebase(pod_path, container_spec)
        if local == pod_path:
            raise EngineError(f"{pod_path} is on no volume of container {container_spec['name']}")
        return Path(local)

    def rebase(self, text: str, container_spec: Mapping) -> str:
        """The container's mount paths in `text` as this machine's folders: one pass, longest path first, only
        where a whole path starts and ends (`/certs` is not rewritten inside `/mounted-certs`, nor `/tmp` again
        inside a folder it was rewritten to). PEM blocks are left alone: their base64 may look like a path."""
        table = self.mounts(container_spec)
        if not table:
            return text
        paths = sorted(table, key=len, reverse=True)
        pattern = r"(?<![\w./-])(" + "|".join(map(re.escape, paths)) + r")(?=[/\s\"'`;:,)}*]|$)"
        parts = PEM_BLOCK.split(text)
        # split() with one group: the even parts are outside PEM blocks, the odd ones are the blocks.
        return "".join(
            part if index % 2 else re.sub(pattern, lambda match: str(table[match.group(1)]), part)
            for index, part in enumerate(parts)
        )

    def rebase_env(self, env: Mapping[str, str], container_spec: Mapping) -> dict[str, str]:
        return {name: self.rebase(value, container_spec) for name, value in env.items()}

    def _files_of(self, volume: Mapping) -> bool:
        return any(kind in volume for kind in ("configMap", "secret", "projected"))

    def _files(self, volume: Mapping) -> list[tuple[str, str, int]]:
        if "emptyDir" in volume:
            return []
        if "projected" in volume:
            mode = volume["projected"].get("defaultMode", DEFAULT_MODE)
            sources = volume["projected"]["sources"]
        elif self._files_of(volume):
            kind = "configMap" if "configMap" in volume else "secret"
            mode = volume[kind].get("defaultMode", DEFAULT_MODE)
            sources = [{kind: volume[kind]}]
        else:
            raise EngineError(f"volume {volume['name']}: {sorted(volume)} is not a kind the engines lay out")
        files = []
        for source in sources:
            if "configMap" in source:
                ref = source["configMap"]
                data = optional(lambda: self.stack.config_map_data(self.namespace, ref["name"]), ref)
            elif "secret" in source:
                ref = source["secret"]
                name = ref.get("secretName") or ref["name"]
                data = optional(lambda: self.stack.secret_data(self.namespace, name), ref)
            else:
                raise EngineError(f"projected source {sorted(source)} is not one the engines lay out")
            items = ref.get("items") or [{"key": key, "path": key} for key in data]
            files += [(item["path"], data[item["key"]], item.get("mode", mode)) for item in items]
        return files
