/**
 * A stack deployed to a real API server the way `pulumi up` orders it, and what the server then shows:
 * refused objects, failed releases, Pods refused by admission, and objects a repeated deploy changes.
 */
import type { Manifest } from "../offline/render";
import { ReleaseInstall, StackDeployment } from "../offline/stackDeployment";
import { Cluster, parseManifests } from "./cluster";

/** One thing the server refused or changed, named so that a reader finds it. */
export interface Finding {
    readonly subject: string;
    readonly message: string;
}

const key = (o: { apiVersion?: string; kind: string; metadata: { namespace?: string; name: string } }) =>
    `${o.kind} ${o.metadata.namespace ? `${o.metadata.namespace}/` : ""}${o.metadata.name}`;

/** Objects others live in come first, as the program's dependencies order them. */
const FIRST_KINDS = ["Namespace", "StorageClass", "ServiceAccount", "Secret", "ConfigMap"];
const applyOrder = (objects: readonly Manifest[]) => [...objects].sort((a, b) => rank(a) - rank(b));
const rank = (o: Manifest) => (FIRST_KINDS.includes(o.kind) ? FIRST_KINDS.indexOf(o.kind) : FIRST_KINDS.length);

/** Releases in an order where each comes after those it waits for in the program. */
export function installOrder(releases: readonly ReleaseInstall[]): ReleaseInstall[] {
    const ordered: ReleaseInstall[] = [];
    const visit = (release: ReleaseInstall) => {
        if (ordered.includes(release)) return;
        release.after.forEach((name) => releases.filter((r) => r.name === name).forEach(visit));
        ordered.push(release);
    };
    releases.forEach(visit);
    return ordered;
}

/**
 * Deploys `target`, over `previous` when given (an update: the program's objects that `target` no longer
 * has are deleted afterwards, as the engine deletes them last; the releases are the same four at every
 * commit). Returns what the server refused.
 */
export function deploy(cluster: Cluster, target: StackDeployment, previous?: StackDeployment): Finding[] {
    const findings: Finding[] = [];
    const before = new Map((previous?.objects ?? []).map((object) => [key(object), object]));
    for (const object of applyOrder(target.objects)) {
        // As Pulumi does for replaceOnChanges with deleteBeforeReplace (a named object): the old one goes first.
        const old = before.get(key(object));
        const paths = target.replacedOnChanges?.[key(object)] ?? [];
        if (old && paths.some((p) => JSON.stringify(at(old, p)) !== JSON.stringify(at(object, p)))) {
            cluster.delete(old, { wait: true });
        }
        const refused = cluster.apply(object);
        if (refused) findings.push({ subject: key(object), message: refused.message });
    }
    for (const release of installOrder(target.releases)) {
        try {
            cluster.installRelease(release);
        } catch (error) {
            findings.push({ subject: `release ${release.namespace}/${release.name}`, message: (error as Error).message });
        }
    }
    const kept = new Set(target.objects.map(key));
    for (const object of previous?.objects ?? []) {
        if (!kept.has(key(object))) cluster.delete(object);
    }
    return findings;
}

/** The value at a dotted input path such as spec.template. */
const at = (object: unknown, dotted: string): unknown => dotted.split(".").reduce<any>((value, part) => value?.[part], object);

const OWNING_KINDS = ["Deployment", "StatefulSet", "Job"];

/** A release's objects as Helm installs them: what names no namespace goes into the release's. */
const inRelease = (release: ReleaseInstall, objects: Manifest[]): Manifest[] =>
    objects.map((o) => ({ ...o, metadata: { namespace: release.namespace, ...o.metadata } }));

/** What the deploy should have left on the server: the program's objects, and each release's manifest and hooks. */
export function expectedObjects(cluster: Cluster, deployment: StackDeployment): { objects: Manifest[]; findings: Finding[] } {
    const objects: Manifest[] = [...deployment.objects];
    const findings: Finding[] = [];
    for (const release of deployment.releases) {
        try {
            objects.push(...inRelease(release, [...parseManifests(cluster.releaseManifest(release)), ...cluster.hooks(release)]));
        } catch (error) {
            findings.push({ subject: `release ${release.namespace}/${release.name}`, message: `not installed: ${(error as Error).message}` });
        }
    }
    return { objects, findings };
}

/**
 * Waits until the controllers have acted on every Deployment, StatefulSet and Job the deploy should have
 * made: each has a Pod or an event saying why it has none. Returns each workload that is missing, each
 * Pod creation the server refused since `since` (FailedCreate events of ReplicaSets, StatefulSets and
 * Jobs), and each workload left without a Pod.
 */
export async function refusedPods(cluster: Cluster, deployment: StackDeployment, since = new Date(0), seconds = 120): Promise<Finding[]> {
    const expected = expectedObjects(cluster, deployment);
    const workloads = expected.objects.filter((o) => OWNING_KINDS.includes(o.kind));
    const namespaces = [...new Set(workloads.map((w) => w.metadata.namespace!))];
    const deadline = Date.now() + seconds * 1000;
    for (;;) {
        const list = (resource: string) =>
            namespaces.flatMap((namespace) => cluster.json(["get", resource, "--namespace", namespace]).items as any[]);
        const pods = list("pods");
        const replicaSets = list("replicasets");
        const events = list("events").filter(
            (event) =>
                event.reason === "FailedCreate" &&
                new Date(event.lastTimestamp ?? event.eventTime).getTime() >= Math.floor(since.getTime() / 1000) * 1000,
        );
        const ownerOf = (object: any) => object?.metadata.ownerReferences?.find((ref: any) => ref.controller);
        // A Deployment's Pods belong to its ReplicaSets.
        const workloadOf = (kind: string, namespace: string, name: string) => {
            if (kind !== "ReplicaSet") return `${kind} ${namespace}/${name}`;
            const replicaSet = replicaSets.find((rs) => rs.metadata.namespace === namespace && rs.metadata.name === name);
            return `Deployment ${namespace}/${ownerOf(replicaSet)?.name}`;
        };
        const withPods = new Set(pods.map((pod) => workloadOf(ownerOf(pod)?.kind, pod.metadata.namespace, ownerOf(pod)?.name)));
        // A controller retries a refused Pod and records each try: one finding per workload, in the server's words.
        const refused = [
            ...new Map(
                events.map((event) => {
                    const subject = workloadOf(event.involvedObject.kind, event.involvedObject.namespace, event.involvedObject.name);
                    return [subject, { subject, message: event.message as string }];
                }),
            ).values(),
        ];
        const live = new Set(cluster.live(workloads).map(key));
        const missing = workloads.filter((w) => !live.has(key(w)));
        const waiting = workloads.filter(
            (w) =>
                live.has(key(w)) &&
                (w.spec?.replicas ?? 1) > 0 &&
                !w.spec?.suspend &&
                !withPods.has(key(w)) &&
                !refused.some((r) => r.subject === key(w)),
        );
        if ((waiting.length === 0 && missing.length === 0) || Date.now() > deadline) {
            return [
                ...expected.findings,
                ...missing.map((w) => ({ subject: key(w), message: "not on the server" })),
                ...refused,
                ...waiting.map((w) => ({ subject: key(w), message: `no Pod and no event explaining why after ${seconds} s` })),
            ];
        }
        await new Promise((resolve) => setTimeout(resolve, 1000));
    }
}

/**
 * Every HorizontalPodAutoscaler of the deployment that kube-controller-manager's HPA controller cannot use: its
 * AbleToScale condition False (FailedGetScale when the target's kind or name resolves to nothing), or no
 * verdict within `seconds` (the controller syncs every 15 s). Without a metrics API here, ScalingActive stays
 * False for every autoscaler: only whether it reaches its target's scale is judged.
 */
export async function autoscalersUnableToScale(cluster: Cluster, deployment: StackDeployment, seconds = 90): Promise<Finding[]> {
    const autoscalers = expectedObjects(cluster, deployment).objects.filter((o) => o.kind === "HorizontalPodAutoscaler");
    const deadline = Date.now() + seconds * 1000;
    for (;;) {
        const verdicts = autoscalers.map((hpa) => {
            const live = cluster.json(["get", "horizontalpodautoscaler", hpa.metadata.name, "--namespace", hpa.metadata.namespace!]);
            const ableToScale = (live.status?.conditions ?? []).find((c: any) => c.type === "AbleToScale");
            return { subject: key(hpa), ableToScale };
        });
        const undecided = verdicts.filter((v) => v.ableToScale === undefined);
        if (undecided.length === 0 || Date.now() > deadline) {
            return verdicts
                .filter((v) => v.ableToScale?.status !== "True")
                .map(({ subject, ableToScale }) => ({
                    subject,
                    message: ableToScale ? `${ableToScale.reason}: ${ableToScale.message}` : `no AbleToScale condition after ${seconds} s`,
                }));
        }
        await new Promise((resolve) => setTimeout(resolve, 1000));
    }
}

/** Field paths where two JSON values differ. */
function differences(before: any, after: any, at = ""): string[] {
    if (JSON.stringify(before) === JSON.stringify(after)) return [];
    if (before && after && typeof before === "object" && typeof after === "object" && !Array.isArray(before)) {
        return [...new Set([...Object.keys(before), ...Object.keys(after)])].flatMap((field) =>
            differences(before[field], after[field], `${at}.${field}`),
        );
    }
    return [at || "."];
}

/**
 * What a live object holds and who manages each field, without what the server stamps on every write
 * (resourceVersion, each manager's time): a no-op apply can bump the resourceVersion of an unchanged
 * PersistentVolumeClaim, and Pulumi compares content, not versions. Status, and the managers that write
 * it through the status subresource (the HorizontalPodAutoscaler's controller, every 15 s), are the
 * controllers' own, not the deploy's.
 */
function content(object: any): any {
    const metadata = { ...object.metadata };
    delete metadata.resourceVersion;
    delete metadata.generation;
    metadata.managedFields = metadata.managedFields
        ?.filter((entry: any) => !entry.subresource)
        .map((entry: any) => Object.fromEntries(Object.entries(entry).filter(([field]) => field !== "time")));
    return { ...object, metadata, status: undefined };
}

/**
 * Runs `again` (the same deploy once more) and returns every object it changed, with the fields that
 * differ, and each release whose rendered manifest changed.
 */
export function changedBy(cluster: Cluster, deployment: StackDeployment, again: () => Finding[]): Finding[] {
    // Each release's manifest read once, its objects taken from it. Hooks are left out (they are not in the
    // manifest): Helm deletes and creates hook Jobs on every upgrade by design, and an upgrade happens only
    // when Pulumi sees a diff.
    const snapshot = () => {
        const manifests = new Map(deployment.releases.map((r) => [r.name, cluster.releaseManifest(r)]));
        const objects = [...deployment.objects, ...deployment.releases.flatMap((r) => inRelease(r, parseManifests(manifests.get(r.name)!)))];
        return [new Map(cluster.live(objects).map((o) => [key(o), o])), manifests] as const;
    };
    const [beforeObjects, beforeManifests] = snapshot();
    const findings = again();
    const [afterObjects, afterManifests] = snapshot();
    for (const [name, manifest] of beforeManifests) {
        if (afterManifests.get(name) !== manifest) findings.push({ subject: `release ${name}`, message: "helm rendered a different manifest" });
    }
    for (const [id, before] of beforeObjects) {
        const after = afterObjects.get(id);
        if (!after) {
            findings.push({ subject: id, message: "deleted" });
        } else {
            const changed = differences(content(before), content(after));
            if (changed.length > 0) findings.push({ subject: id, message: `changed: ${changed.join(", ")}` });
        }
    }
    return findings;
}
