import * as pulumi from "@pulumi/pulumi";
import * as k8s from "@pulumi/kubernetes";

/** How a web UI is reached from outside the cluster. */
export interface UiExposureArgs {
    /** ClusterIP: kubectl port-forward only; LoadBalancer: a UI-only Service on a reserved address (config `uiExposure`). */
    readonly type: "ClusterIP" | "LoadBalancer";
    /** Required for LoadBalancer: CIDRs that may reach the UI (config `uiSourceRanges`). */
    readonly sourceRanges: readonly string[];
    /** Required for LoadBalancer: the reserved external address the UI listens on (UiAddresses), known before the Service exists. */
    readonly address?: pulumi.Input<string>;
}

/** How a user reaches a web UI: its in-cluster URL, the port-forward that brings it to localhost, and its exposure. */
export interface UiEndpoint {
    readonly inClusterUrl: string;
    readonly portForwardCommand: string;
    readonly localUrl: string;
    /** The URL from outside the cluster: the LoadBalancer's, or the port-forward's. */
    readonly url: pulumi.Output<string>;
    readonly exposure: pulumi.Output<string>;
}

/** A chart's web UI: where it runs in the cluster and how it is exposed. */
export interface UiArgs {
    /** The chart's ClusterIP Service of the UI, which the port-forward targets. */
    readonly service: string;
    /** Namespace of that Service and of the UI pods. */
    readonly namespace: string;
    /** Port of that Service the UI is served on. */
    readonly servicePort: number;
    /** localhost port of the port-forward command; distinct per UI so several can run at once. */
    readonly localPort: number;
    /** Labels of the pods serving the UI, which the LoadBalancer Service selects. */
    readonly podLabels: Record<string, string>;
    /** Name of those pods' UI container port, the LoadBalancer Service's target port. */
    readonly containerPort: string;
    /** How the UI is reached from outside the cluster. */
    readonly exposure: UiExposureArgs;
}

/** The port a LoadBalancer UI listens on: plain HTTP, see `exposure`. */
export const LOAD_BALANCER_PORT = 80;

/** The URL a browser uses for a LoadBalancer UI, or undefined when the UI is reached by port-forward. */
export function loadBalancerUrl(exposure: UiExposureArgs): pulumi.Output<string> | undefined {
    return exposure.type === "LoadBalancer" ? pulumi.interpolate`http://${exposure.address}:${LOAD_BALANCER_PORT}` : undefined;
}

/**
 * The UI's own LoadBalancer Service, when asked for: only the UI port, on the reserved address, limited
 * to the source ranges. Not the chart's Service: airflow 25.0.2 and spark 10.0.3 print
 * loadBalancerSourceRanges with `{{ }}` (templates/web/service.yaml), one string the API server
 * rejects when it lists two ranges, and spark's Service would also publish the unauthenticated RPC port 7077.
 */
export function uiLoadBalancer(
    name: string,
    args: UiArgs,
    namespace: pulumi.Input<string>,
    parent: pulumi.Resource,
): k8s.core.v1.Service | undefined {
    if (args.exposure.type !== "LoadBalancer") {
        return undefined;
    }
    return new k8s.core.v1.Service(
        name,
        {
            metadata: { name, namespace },
            spec: {
                type: "LoadBalancer",
                // Keeps the client's address, which the UI pods' NetworkPolicy admits by the same source ranges.
                externalTrafficPolicy: "Local",
                loadBalancerIP: args.exposure.address,
                loadBalancerSourceRanges: [...args.exposure.sourceRanges],
                selector: args.podLabels,
                ports: [{ name: "http", port: LOAD_BALANCER_PORT, targetPort: args.containerPort, protocol: "TCP" }],
            },
        },
        { parent },
    );
}

const PLAIN_HTTP = "Plain HTTP: the login and the session cross the network unencrypted, so keep the ranges tight or use the port-forward command.";

export function uiEndpoint(args: UiArgs): UiEndpoint {
    const { service, namespace, servicePort, localPort, exposure } = args;
    const localUrl = `http://localhost:${localPort}`;
    const external = loadBalancerUrl(exposure);
    return {
        inClusterUrl: `http://${service}.${namespace}.svc.cluster.local:${servicePort}`,
        portForwardCommand: `kubectl -n ${namespace} port-forward svc/${service} ${localPort}:${servicePort}`,
        localUrl,
        url: external ?? pulumi.output(localUrl),
        exposure: external
            ? pulumi.interpolate`LoadBalancer ${external} open to ${exposure.sourceRanges.join(", ")}. ${PLAIN_HTTP}`
            : pulumi.output("ClusterIP only: use the port-forward command"),
    };
}
