/**
 * The Pod Security Standards' 'restricted' profile as problems found in a pod spec, so tests can hold
 * every pod of every stack to what a namespace labelled pod-security.kubernetes.io/enforce: restricted
 * admits (https://kubernetes.io/docs/concepts/security/pod-security-standards/#restricted).
 */

/** Volume types Pod Security 'restricted' allows. */
const RESTRICTED_VOLUMES = ["configMap", "csi", "downwardAPI", "emptyDir", "ephemeral", "persistentVolumeClaim", "projected", "secret"];

/** Every rule of the Pod Security Standards' 'restricted' profile (Kubernetes 1.30), as problems found. */
export function restrictedProblems(spec: any): string[] {
    const problems: string[] = [];
    const pod = spec.securityContext ?? {};
    for (const host of ["hostNetwork", "hostPID", "hostIPC"]) {
        if (spec[host] === true) {
            problems.push(`${host} is set`);
        }
    }
    for (const volume of spec.volumes ?? []) {
        const kinds = Object.keys(volume).filter((key) => key !== "name");
        if (!kinds.every((kind) => RESTRICTED_VOLUMES.includes(kind))) {
            problems.push(`volume ${volume.name} is of type ${kinds}`);
        }
    }
    if ((pod.sysctls ?? []).length > 0) {
        problems.push("sysctls set");
    }
    if (pod.runAsUser === 0) {
        problems.push("the pod runs as root");
    }
    const allowedSeccomp = (profile: any) => ["RuntimeDefault", "Localhost"].includes(profile?.type);
    if (pod.seccompProfile && !allowedSeccomp(pod.seccompProfile)) {
        problems.push("pod seccomp profile");
    }
    for (const container of [...(spec.initContainers ?? []), ...spec.containers, ...(spec.ephemeralContainers ?? [])]) {
        const own = container.securityContext ?? {};
        const where = `container ${container.name}`;
        if (own.privileged === true) {
            problems.push(`${where} is privileged`);
        }
        if (own.allowPrivilegeEscalation !== false) {
            problems.push(`${where} may escalate privileges`);
        }
        if (!(own.capabilities?.drop ?? []).includes("ALL")) {
            problems.push(`${where} keeps capabilities`);
        }
        if ((own.capabilities?.add ?? []).some((cap: string) => cap !== "NET_BIND_SERVICE")) {
            problems.push(`${where} adds capabilities`);
        }
        if ((own.runAsNonRoot ?? pod.runAsNonRoot) !== true) {
            problems.push(`${where} may run as root`);
        }
        if ((own.runAsUser ?? pod.runAsUser) === 0) {
            problems.push(`${where} runs as uid 0`);
        }
        if (!allowedSeccomp(own.seccompProfile ?? pod.seccompProfile)) {
            problems.push(`${where} has no RuntimeDefault/Localhost seccomp profile`);
        }
        if (own.procMount && own.procMount !== "Default") {
            problems.push(`${where} procMount`);
        }
        if ((container.ports ?? []).some((port: any) => port.hostPort)) {
            problems.push(`${where} uses a host port`);
        }
    }
    return problems;
}
