/**
 * What `pulumi up` does to a cluster, done with the real tools against a ControlPlane: the program's own
 * objects by server-side apply (pulumi-kubernetes 4's default), each release by `helm upgrade --install`
 * with the pinned archive and the program's values (Helm 3, as the provider embeds it), and what the server
 * then holds, reads back for the checks.
 */
import { execFileSync } from "child_process";
import * as fs from "fs";
import * as os from "os";
import * as path from "path";
import { parseAllDocuments } from "yaml";
import { ChartName } from "../components/data";
import { chartArchive } from "../offline/chartArchives";
import type { Manifest } from "../offline/render";
import { ReleaseInstall } from "../offline/stackDeployment";

/** The field manager of server-side apply, as the provider names itself. */
const FIELD_MANAGER = "pulumi-kubernetes";

export class CommandFailure extends Error {}

/** A failed step in the tool's own words (its stderr). */
function failure(command: string, error: any): CommandFailure {
    const said = String(error.stderr ?? error.message ?? error).trim();
    return new CommandFailure(`${command}: ${said}`);
}

export class Cluster {
    private readonly scratch = fs.mkdtempSync(path.join(os.tmpdir(), "cluster-"));

    constructor(
        private readonly bin: string,
        readonly kubeconfig: string,
    ) {}

    private run(tool: "kubectl" | "helm", args: string[], input?: string): string {
        try {
            return execFileSync(path.join(this.bin, tool), [...args, "--kubeconfig", this.kubeconfig], {
                encoding: "utf8",
                input,
                maxBuffer: 256 * 1024 * 1024,
                stdio: ["pipe", "pipe", "pipe"],
                timeout: 300_000,
            });
        } catch (error) {
            throw failure(`${tool} ${args.slice(0, 3).join(" ")}`, error);
        }
    }

    kubectl(args: string[], input?: string): string {
        return this.run("kubectl", args, input);
    }

    json(args: string[], input?: string): any {
        return JSON.parse(this.kubectl([...args, "-o", "json"], input));
    }

    /** Server-side apply of one object, as the provider applies each resource; returns the error, if any. */
    apply(object: Manifest): CommandFailure | undefined {
        try {
            this.kubectl(["apply", "--server-side", "--force-conflicts", `--field-manager=${FIELD_MANAGER}`, "-f", "-"], JSON.stringify(object));
            return undefined;
        } catch (error) {
            return error as CommandFailure;
        }
    }

    /** Deletes the object; with `wait`, returns once the server no longer has it (a replacement under its name). */
    delete(object: Manifest, { wait = false } = {}): void {
        this.kubectl(["delete", "--ignore-not-found", `--wait=${wait}`, "-f", "-"], JSON.stringify(object));
    }

    /** Applies CRDs and waits until the server serves them. */
    applyCustomResourceDefinitions(files: string[]): void {
        for (const file of files) {
            this.kubectl(["apply", "--server-side", `--field-manager=${FIELD_MANAGER}`, "-f", file]);
            this.kubectl(["wait", "--for=condition=Established", "--timeout=60s", "-f", file]);
        }
    }

    /**
     * `helm upgrade --install` without hooks and without waiting: no kubelet runs a Pod, so a hook Job
     * would never finish. The hooks are then created as Helm creates them (applyHooks).
     */
    installRelease(release: ReleaseInstall): void {
        const values = path.join(this.scratch, `${release.name}-values.json`);
        fs.writeFileSync(values, JSON.stringify(release.values), { mode: 0o600 });
        this.run("helm", [
            "upgrade",
            "--install",
            release.name,
            chartArchive(release.chart as ChartName),
            "--version",
            release.version,
            "--namespace",
            release.namespace,
            "--values",
            values,
            "--no-hooks",
            "--timeout",
            "5m",
        ]);
        this.applyHooks(release);
    }

    /** The release's hooks, each deleted first where its delete policy says before-hook-creation, then created. */
    private applyHooks(release: ReleaseInstall): void {
        for (const hook of this.hooks(release)) {
            const policy = hook.metadata.annotations?.["helm.sh/hook-delete-policy"] ?? "before-hook-creation";
            if (policy.includes("before-hook-creation")) {
                this.delete(hook);
                this.kubectl(["wait", "--for=delete", "--timeout=60s", "-f", "-"], JSON.stringify(hook));
            }
            this.kubectl(["create", "-f", "-"], JSON.stringify({ ...hook, metadata: { namespace: release.namespace, ...hook.metadata } }));
        }
    }

    hooks(release: ReleaseInstall): Manifest[] {
        return parseManifests(this.run("helm", ["get", "hooks", release.name, "--namespace", release.namespace]));
    }

    /** The manifest Helm rendered for the release's current revision, server lookups included. */
    releaseManifest(release: ReleaseInstall): string {
        return this.run("helm", ["get", "manifest", release.name, "--namespace", release.namespace]);
    }

    /** Live copies of objects (missing ones left out). */
    live(objects: readonly Manifest[]): any[] {
        if (objects.length === 0) return [];
        const list = { apiVersion: "v1", kind: "List", items: objects.map(({ apiVersion, kind, metadata }) => ({ apiVersion, kind, metadata })) };
        return this.json(["get", "--ignore-not-found", "--show-managed-fields", "-f", "-"], JSON.stringify(list)).items ?? [];
    }

    remove(): void {
        fs.rmSync(this.scratch, { recursive: true, force: true });
    }
}

export function parseManifests(text: string): Manifest[] {
    return parseAllDocuments(text)
        .map((doc) => doc.toJSON())
        .filter(Boolean);
}
