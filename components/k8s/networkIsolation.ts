import * as pulumi from "@pulumi/pulumi";
import * as k8s from "@pulumi/kubernetes";

/** Pods of one namespace, by their labels. */
export interface PodSet {
    /** The namespace's name; the API server labels every namespace with it (kubernetes.io/metadata.name). */
    readonly namespace: pulumi.Input<string>;
    /** Labels every pod of the set carries. */
    readonly labels: Readonly<Record<string, string>>;
}

/** A connection the platform needs: who opens it, to which pods, on which ports. */
export interface Flow {
    /** Unique among the flows into one namespace; part of the NetworkPolicy's name. */
    readonly name: string;
    /** The clients: pods, or client networks in CIDR form (LoadBalancer users, whose addresses the Services keep). */
    readonly from: PodSet | { readonly cidrs: readonly string[] };
    readonly to: PodSet;
    /** TCP ports; none means every port. */
    readonly ports?: readonly number[];
    /** Why the flow exists, written into the policy's annotations. */
    readonly why: string;
}

export interface NetworkIsolationArgs {
    /** Namespaces whose pods accept only the listed flows (and what their charts' own policies admit). */
    readonly namespaces: readonly pulumi.Input<string>[];
    readonly flows: readonly Flow[];
}

const METADATA_NAME = "kubernetes.io/metadata.name";

/** The labels a Bitnami chart puts on a component's pods when the release is named after the chart (common.labels.matchLabels). */
export function bitnamiPods(namespace: pulumi.Input<string>, chart: string, component?: string): PodSet {
    return {
        namespace,
        labels: {
            "app.kubernetes.io/name": chart,
            "app.kubernetes.io/instance": chart,
            ...(component ? { "app.kubernetes.io/component": component } : {}),
        },
    };
}

/**
 * Ingress closed by default in each namespace, then opened flow by flow (GKE hardening guide, "Restrict
 * traffic among Pods with a network policy"; CIS GKE 5.6.7). NetworkPolicies add up: a pod admits what
 * any policy selecting it admits, so the charts' own policies (set to admit only their release's pods)
 * keep covering traffic inside a release, and these add the traffic between services.
 */
export class NetworkIsolation extends pulumi.ComponentResource {
    readonly policies: readonly k8s.networking.v1.NetworkPolicy[];

    constructor(name: string, args: NetworkIsolationArgs, opts?: pulumi.ComponentResourceOptions) {
        super("streaming-platform:k8s:NetworkIsolation", name, {}, opts);
        const denyAll = args.namespaces.map(
            (namespace, i) =>
                new k8s.networking.v1.NetworkPolicy(
                    `${name}-default-deny-${i}`,
                    {
                        metadata: { name: "default-deny-ingress", namespace },
                        spec: { podSelector: {}, policyTypes: ["Ingress"] },
                    },
                    { parent: this },
                ),
        );
        const allowed = args.flows.map(
            (flow) =>
                new k8s.networking.v1.NetworkPolicy(
                    `${name}-${flow.name}`,
                    {
                        metadata: {
                            name: `allow-${flow.name}`,
                            namespace: flow.to.namespace,
                            annotations: { "streaming-platform/why": flow.why },
                        },
                        spec: {
                            podSelector: { matchLabels: { ...flow.to.labels } },
                            policyTypes: ["Ingress"],
                            ingress: [
                                {
                                    from:
                                        "cidrs" in flow.from
                                            ? flow.from.cidrs.map((cidr) => ({ ipBlock: { cidr } }))
                                            : [
                                                  {
                                                      namespaceSelector: { matchLabels: { [METADATA_NAME]: flow.from.namespace } },
                                                      podSelector: { matchLabels: { ...flow.from.labels } },
                                                  },
                                              ],
                                    ...(flow.ports ? { ports: flow.ports.map((port) => ({ port, protocol: "TCP" })) } : {}),
                                },
                            ],
                        },
                    },
                    { parent: this },
                ),
        );
        this.policies = [...denyAll, ...allowed];
        this.registerOutputs({ policies: this.policies.map((p) => p.metadata.name) });
    }
}
