import * as pulumi from "@pulumi/pulumi";
import * as k8s from "@pulumi/kubernetes";
import { Flow, PodSet } from "./networkIsolation";

/** An exporter to scrape: the pods that run it and the named container port it serves on. */
export interface ScrapeTarget {
    /** The PodMonitoring's name (unique in its namespace) and part of the scrape flow's name. */
    readonly name: string;
    /** The pods that serve the metrics; their namespace is the PodMonitoring's. */
    readonly pods: PodSet;
    /** The container port's name, as the pod declares it (PodMonitoring endpoints name ports). */
    readonly portName: string;
    /** Its number, for the NetworkPolicy that admits the collectors. */
    readonly port: number;
    /** HTTP path of the text exposition. */
    readonly path: string;
    /** What is scraped, written into the flow's annotation. */
    readonly why: string;
}

/**
 * Managed Service for Prometheus' collectors: with managed collection on, GKE runs them as the DaemonSet
 * `collector` in gmp-system, pods labelled app.kubernetes.io/name=collector (prometheus-engine's
 * collector selector labels). They scrape each target from the node the target runs on.
 */
export const GMP_COLLECTORS: PodSet = { namespace: "gmp-system", labels: { "app.kubernetes.io/name": "collector" } };

/** The ingress each scrape needs in a namespace that denies ingress by default: collectors to the exporter's port. */
export function scrapeFlows(targets: readonly ScrapeTarget[]): Flow[] {
    return targets.map((target) => ({
        name: `scrape-${target.name}`,
        from: GMP_COLLECTORS,
        to: target.pods,
        ports: [target.port],
        why: `Managed Prometheus scrapes ${target.why}`,
    }));
}

export interface PodMonitoringsArgs {
    readonly targets: readonly ScrapeTarget[];
    /** How often the collectors scrape each target, in seconds (config `metricsScrapeInterval`): samples are billed. */
    readonly intervalSeconds: number;
}

/**
 * One PodMonitoring (monitoring.googleapis.com/v1, Managed Service for Prometheus' managed collection) per
 * target: its pods by label, its port by name. Only on GKE stacks, where the CRD and the collectors exist.
 */
export class PodMonitorings extends pulumi.ComponentResource {
    readonly monitorings: readonly k8s.apiextensions.CustomResource[];

    constructor(name: string, args: PodMonitoringsArgs, opts?: pulumi.ComponentResourceOptions) {
        super("streaming-platform:k8s:PodMonitorings", name, {}, opts);
        this.monitorings = args.targets.map(
            (target) =>
                new k8s.apiextensions.CustomResource(
                    `${name}-${target.name}`,
                    {
                        apiVersion: "monitoring.googleapis.com/v1",
                        kind: "PodMonitoring",
                        metadata: { name: target.name, namespace: target.pods.namespace },
                        spec: {
                            selector: { matchLabels: { ...target.pods.labels } },
                            endpoints: [{ port: target.portName, path: target.path, interval: `${args.intervalSeconds}s` }],
                        },
                    },
                    { parent: this },
                ),
        );
        this.registerOutputs({ monitorings: this.monitorings.map((m) => m.metadata.name) });
    }
}
