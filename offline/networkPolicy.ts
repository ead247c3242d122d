import { Manifest, ofKind, podTemplate, WORKLOAD_KINDS } from "./render";

/** A pod as NetworkPolicies see it: its namespace, its labels and its named container ports. */
export interface Pod {
    readonly workload: string;
    readonly namespace: string;
    readonly labels: Readonly<Record<string, string>>;
    readonly ports: readonly { name?: string; containerPort: number; protocol?: string }[];
}

interface LabelSelector {
    matchLabels?: Record<string, string>;
    matchExpressions?: { key: string; operator: "In" | "NotIn" | "Exists" | "DoesNotExist"; values?: string[] }[];
}

/** Label selector semantics: every matchLabels pair and every expression must hold; an empty selector selects all. */
export function selects(selector: LabelSelector | undefined, labels: Readonly<Record<string, string>>): boolean {
    return (
        Object.entries(selector?.matchLabels ?? {}).every(([key, value]) => labels[key] === value) &&
        (selector?.matchExpressions ?? []).every(({ key, operator, values = [] }) => {
            switch (operator) {
                case "In":
                    return key in labels && values.includes(labels[key]);
                case "NotIn":
                    return !(key in labels) || !values.includes(labels[key]);
                case "Exists":
                    return key in labels;
                case "DoesNotExist":
                    return !(key in labels);
            }
        })
    );
}

/** The pods every workload of a stack runs, one per workload (replicas share their labels). */
export function podsOf(objects: readonly Manifest[]): Pod[] {
    return objects
        .filter((o) => WORKLOAD_KINDS.includes(o.kind))
        .map((workload) => {
            const template = podTemplate(workload);
            return {
                workload: `${workload.kind}/${workload.metadata.name}`,
                namespace: workload.metadata.namespace!,
                labels: template.metadata?.labels ?? {},
                ports: [...template.spec.containers, ...(template.spec.initContainers ?? [])].flatMap((c: any) => c.ports ?? []),
            };
        });
}

/** The labels a namespace carries, including the one the API server sets on every namespace. */
function namespaceLabels(objects: readonly Manifest[], namespace: string): Record<string, string> {
    const declared = ofKind(objects, "Namespace").find((n) => n.metadata.name === namespace)?.metadata.labels ?? {};
    return { ...declared, "kubernetes.io/metadata.name": namespace };
}

/** Whether a policy peer (podSelector and/or namespaceSelector; ipBlock never matches a pod here) matches a pod. */
function peerMatches(peer: any, policyNamespace: string, pod: Pod, objects: readonly Manifest[]): boolean {
    if (!peer.podSelector && !peer.namespaceSelector) {
        return false; // an ipBlock: cluster pod addresses are not what these policies name
    }
    const namespaceOk = peer.namespaceSelector
        ? selects(peer.namespaceSelector, namespaceLabels(objects, pod.namespace))
        : pod.namespace === policyNamespace;
    return namespaceOk && (peer.podSelector ? selects(peer.podSelector, pod.labels) : true);
}

/** Whether a rule's port list admits a port of the destination pod (named ports resolve against its containers). */
function portMatches(rulePorts: any[] | undefined, destination: Pod, port: number, protocol: string): boolean {
    if (!rulePorts || rulePorts.length === 0) {
        return true;
    }
    return rulePorts.some((rule) => {
        if ((rule.protocol ?? "TCP") !== protocol) {
            return false;
        }
        if (rule.port === undefined) {
            return true;
        }
        const number =
            typeof rule.port === "number"
                ? rule.port
                : /^\d+$/.test(rule.port)
                  ? Number(rule.port)
                  : destination.ports.find((p) => p.name === rule.port)?.containerPort;
        return number !== undefined && (rule.endPort ? port >= number && port <= rule.endPort : port === number);
    });
}

const policyTypes = (policy: Manifest): string[] => policy.spec.policyTypes ?? (policy.spec.egress ? ["Ingress", "Egress"] : ["Ingress"]);

/**
 * Whether the NetworkPolicies among `objects` let `source` open a connection to `destination` on
 * `port`, as the Kubernetes NetworkPolicy API defines it: a pod selected by no policy of a direction
 * is open in that direction; a selected pod admits what at least one selecting policy's rule admits;
 * a connection needs both the source's egress and the destination's ingress.
 */
export function admits(objects: readonly Manifest[], source: Pod, destination: Pod, port: number, protocol = "TCP"): boolean {
    const policies = ofKind(objects, "NetworkPolicy");
    const direction = (pod: Pod, type: "Ingress" | "Egress", peer: Pod) => {
        const selecting = policies.filter(
            (p) => p.metadata.namespace === pod.namespace && policyTypes(p).includes(type) && selects(p.spec.podSelector, pod.labels),
        );
        return (
            selecting.length === 0 ||
            selecting.some((policy) =>
                ((type === "Ingress" ? policy.spec.ingress : policy.spec.egress) ?? []).some((rule: any) => {
                    const peers = type === "Ingress" ? rule.from : rule.to;
                    return (
                        (!peers || peers.length === 0 || peers.some((p: any) => peerMatches(p, policy.metadata.namespace!, peer, objects))) &&
                        portMatches(rule.ports, destination, port, protocol)
                    );
                }),
            )
        );
    };
    return direction(source, "Egress", destination) && direction(destination, "Ingress", source);
}
