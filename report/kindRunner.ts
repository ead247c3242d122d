import * as fs from "fs";
import * as path from "path";
import { FitCheck, headroom, totals, Usage } from "./capacity";
import { runsToCompletion, Workload } from "./workloads";

/**
 * The machine the kind end-to-end runs on (.github/workflows/e2e.yml `runs-on: ubuntu-24.04`): GitHub's
 * standard Linux runner for public repositories, 4 vCPUs and 16 GB of memory. kind's node is a container
 * on it without kubelet reservations, so its allocatable is the machine.
 */
export const KIND_RUNNER = { vcpus: 4, memoryMiB: Math.floor(16e9 / 2 ** 20) } as const;

/**
 * Requests of the pods kind and Calico run themselves on that node: kubeadm's static pods (kube-apiserver
 * 250m, kube-controller-manager 200m, kube-scheduler 100m, etcd 100m and 100Mi), CoreDNS (two replicas of
 * 100m and 70Mi), and calico-node (250m; calico-kube-controllers requests nothing) of the Calico manifest
 * .github/scripts/e2e-cni.sh applies. kindnet is off (.github/kind/streaming.yaml).
 */
export const KIND_SYSTEM_PODS: Usage = { cpuMillis: 250 + 200 + 100 + 100 + 2 * 100 + 250, memoryMiB: 100 + 2 * 70 };

/**
 * The requests of a pod the e2e starts itself, read from the script that makes its manifest: the fake price API runs
 * from before `pulumi up` to the end (.github/scripts/e2e-price-api.sh), the tick check's Kafka client until it has
 * read the topic (.github/scripts/e2e-check-ticks.sh).
 */
export function e2ePodRequests(script: "e2e-price-api.sh" | "e2e-check-ticks.sh"): Usage {
    const file = path.resolve(__dirname, "..", ".github", "scripts", script);
    const found = [...fs.readFileSync(file, "utf8").matchAll(/requests: \{ cpu: "(\d+)m", memory: "(\d+)Mi" \}/g)];
    if (found.length !== 1) {
        throw new Error(`${file}: expected one container with requests { cpu: "<n>m", memory: "<n>Mi" }, found ${found.length}`);
    }
    return { cpuMillis: Number(found[0][1]), memoryMiB: Number(found[0][2]) };
}

/** The share of the runner's CPU that must stay free once the stack's long-running pods run beside kind's. */
export const KIND_REQUIRED_CPU_HEADROOM = 0.15;

export interface KindRunnerFit {
    /** The long-running pods at minimum replicas with kind's and Calico's own and the e2e's fake price API. */
    readonly running: FitCheck;
    /** The same with every Job and CronJob pod and the check's client at once: they may use the headroom, but must fit. */
    readonly withJobs: FitCheck;
    readonly problems: readonly string[];
}

const check = (workloads: readonly Workload[], e2ePods: readonly Usage[]): FitCheck => {
    const all = [totals(workloads, (w) => w.replicas.min), KIND_SYSTEM_PODS, ...e2ePods];
    return headroom(
        1,
        { cpuMillis: KIND_RUNNER.vcpus * 1000, memoryMiB: KIND_RUNNER.memoryMiB },
        { cpuMillis: all.reduce((sum, u) => sum + u.cpuMillis, 0), memoryMiB: all.reduce((sum, u) => sum + u.memoryMiB, 0) },
    );
};

/** Whether a stack on an existing cluster fits the e2e's kind node, beside the e2e's own pods, with the CPU headroom it needs. */
export function kindRunnerFit(workloads: readonly Workload[]): KindRunnerFit {
    const priceApi = e2ePodRequests("e2e-price-api.sh");
    const running = check(
        workloads.filter((w) => !runsToCompletion(w)),
        [priceApi],
    );
    const withJobs = check(workloads, [priceApi, e2ePodRequests("e2e-check-ticks.sh")]);
    const percent = (share: number) => `${(share * 100).toFixed(1)} %`;
    const problems = [
        ...(running.cpuHeadroom < KIND_REQUIRED_CPU_HEADROOM
            ? [`on the e2e runner ${percent(running.cpuHeadroom)} of CPU stays free, less than the required ${percent(KIND_REQUIRED_CPU_HEADROOM)}`]
            : []),
        ...(withJobs.cpuHeadroom < 0 || withJobs.memoryHeadroom < 0 ? ["with every Job running, the pods request more than the e2e runner has"] : []),
    ];
    return { running, withJobs, problems };
}
