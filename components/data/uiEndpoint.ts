import * as pulumi from "@pulumi/pulumi";

export interface UiExposureArgs {
    readonly type: "ClusterIP" | "LoadBalancer";
    /** Required for LoadBalancer: who may reach the UI. */
    readonly sourceRanges: readonly string[];
}

/** How a user reaches a web UI: its in-cluster URL and the port-forward that brings it to localhost. */
export interface UiEndpoint {
    readonly inClusterUrl: string;
    readonly portForwardCommand: string;
    readonly localUrl: string;
    readonly exposure: string;
}

export function uiEndpoint(service: string, namespace: string, servicePort: number, localPort: number, exposure: UiExposureArgs): UiEndpoint {
    return {
        inClusterUrl: `http://${service}.${namespace}.svc.cluster.local:${servicePort}`,
        portForwardCommand: `kubectl -n ${namespace} port-forward svc/${service} ${localPort}:${servicePort}`,
        localUrl: `http://localhost:${localPort}`,
        exposure: exposure.type === "LoadBalancer"
            ? `LoadBalancer open to ${exposure.sourceRanges.join(", ")}: kubectl -n ${namespace} get svc ${service} -o jsonpath='{.status.loadBalancer.ingress[0].ip}'`
            : "ClusterIP only: use the port-forward command",
    };
}

/** Chart values for a service of the given exposure; the charts share these key names. */
export function serviceValues(exposure: UiExposureArgs): pulumi.Input<Record<string, unknown>> {
    return exposure.type === "LoadBalancer"
        ? { type: "LoadBalancer", loadBalancerSourceRanges: [...exposure.sourceRanges] }
        : { type: "ClusterIP" };
}
