import * as pulumi from "@pulumi/pulumi";
import * as k8s from "@pulumi/kubernetes";
import * as random from "@pulumi/random";

/**
 * Pod Security admission enforces the 'restricted' standard in the platform's namespaces (GKE hardening
 * guide, "Restrict Pod privileges"; CIS GKE 5.2): every chart pod and every pod of ours meets it.
 */
export const RESTRICTED_NAMESPACE_LABELS = Object.fromEntries(
    ["enforce", "warn", "audit"].map((mode) => [`pod-security.kubernetes.io/${mode}`, "restricted"]),
);

/** What the 'restricted' standard asks of each container: no privilege escalation, no capabilities, the runtime's seccomp profile. */
export const RESTRICTED_CONTAINER = {
    allowPrivilegeEscalation: false,
    capabilities: { drop: ["ALL"] },
    seccompProfile: { type: "RuntimeDefault" },
};

/** 'restricted' for a container that runs as the image's own user and writes nothing outside its mounts. */
export function readOnlyRestrictedContainer(user: number) {
    return { ...RESTRICTED_CONTAINER, runAsNonRoot: true, runAsUser: user, runAsGroup: user, privileged: false, readOnlyRootFilesystem: true };
}

/**
 * The pod-level part of 'restricted' for a pod of ours running as the image's own non-root user, which also
 * owns (as group) what the pod mounts.
 */
export function restrictedPodSecurity(user: number) {
    return { runAsNonRoot: true, runAsUser: user, runAsGroup: user, fsGroup: user, seccompProfile: { type: "RuntimeDefault" } };
}

/** A namespace with a fixed name, so in-cluster addresses like <service>.<namespace>.svc stay stable. */
export function fixedNamespace(name: string, parent: pulumi.Resource): k8s.core.v1.Namespace {
    return new k8s.core.v1.Namespace(
        name,
        {
            metadata: { name, labels: { "app.kubernetes.io/part-of": "streaming-platform", ...RESTRICTED_NAMESPACE_LABELS } },
        },
        { parent },
    );
}

/** An Opaque Secret with a fixed name, for charts that read an existingSecret by name. */
export function fixedSecret(
    name: string,
    namespace: k8s.core.v1.Namespace,
    stringData: Record<string, pulumi.Input<string>>,
    parent: pulumi.Resource,
): k8s.core.v1.Secret {
    return new k8s.core.v1.Secret(
        name,
        {
            metadata: { name, namespace: namespace.metadata.name },
            type: "Opaque",
            stringData,
        },
        { parent },
    );
}

/**
 * A generated password kept in state as a secret. Letters and digits only: it ends up in
 * connection URLs and SQL literals, and 32 of them are ~190 bits.
 */
export function generatedPassword(name: string, parent: pulumi.Resource): pulumi.Output<string> {
    // Marked here too, not only by the provider's additionalSecretOutputs, so no code path can unmark it.
    return pulumi.secret(new random.RandomPassword(name, { length: 32, special: false }, { parent }).result);
}

/** url-safe base64 of fresh random bytes, with or without padding; a secret. */
export function randomBase64Url(name: string, bytes: number, padded: boolean, parent: pulumi.Resource): pulumi.Output<string> {
    return pulumi.secret(
        new random.RandomBytes(name, { length: bytes }, { parent }).base64.apply((encoded) => {
            const urlSafe = encoded.replace(/\+/g, "-").replace(/\//g, "_");
            return padded ? urlSafe : urlSafe.replace(/=+$/, "");
        }),
    );
}

/** Requests for a container, with memory also as the limit. */
export function containerResources(cpu: string, memory: string) {
    return { requests: { cpu, memory }, limits: { memory } };
}

/**
 * What happens to a StatefulSet's volumes when it is deleted (uninstall, destroy): kept when the data
 * must survive, deleted otherwise so nothing billable is left behind. Scaling down always keeps them.
 */
export function volumeRetention(retain: boolean) {
    return { enabled: true, whenDeleted: retain ? "Retain" : "Delete", whenScaled: "Retain" };
}

/** One replica per zone at most ahead of the others; hard for quorum data, soft for stateless replicas. */
export function zoneSpread(matchLabels: Record<string, string>, hard: boolean) {
    return [
        {
            maxSkew: 1,
            topologyKey: "topology.kubernetes.io/zone",
            whenUnsatisfiable: hard ? "DoNotSchedule" : "ScheduleAnyway",
            labelSelector: { matchLabels },
        },
    ];
}

/** A disruption budget that lets node upgrades and repairs take one pod at a time. */
export const ONE_AT_A_TIME = { create: true, maxUnavailable: 1 } as const;
