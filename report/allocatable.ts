import { MachineShape } from "../config/machineTypes";

/**
 * What GKE leaves for pods on a Standard node, after its reservations for the kubelet, the container
 * runtime and the OS, and the eviction threshold ("Standard cluster architecture" > "Node allocatable
 * resources", cloud.google.com/kubernetes-engine/docs/concepts/plan-node-sizes).
 */
export interface NodeCapacity {
    readonly cpuMillis: number;
    readonly memoryMiB: number;
}

/** [size of the band, share reserved from it], applied in order. */
type Bands = readonly (readonly [number, number])[];

/** CPU in cores: 6 % of the first core, 1 % of the next, 0.5 % of the next 2, 0.25 % of the rest. */
const CPU_BANDS: Bands = [
    [1, 0.06],
    [1, 0.01],
    [2, 0.005],
    [Infinity, 0.0025],
];
/** Memory in GiB: 25 % of the first 4, 20 % of the next 4, 10 % of the next 8, 6 % of the next 112, 2 % above 128. */
const MEMORY_BANDS: Bands = [
    [4, 0.25],
    [4, 0.2],
    [8, 0.1],
    [112, 0.06],
    [Infinity, 0.02],
];
/** Machines under 1 GiB reserve a flat 255 MiB instead. */
const SMALL_MACHINE_MEMORY_RESERVATION_MIB = 255;
/** The kubelet evicts pods when less than this is free, so pods cannot use it either. */
const EVICTION_THRESHOLD_MIB = 100;

function reserved(amount: number, bands: Bands): number {
    let left = amount;
    let total = 0;
    for (const [size, share] of bands) {
        const inBand = Math.min(left, size);
        total += inBand * share;
        left -= inBand;
    }
    return total;
}

export function gkeAllocatable(machine: Pick<MachineShape, "vcpus" | "memoryGiB">): NodeCapacity {
    const memoryReservationMiB = machine.memoryGiB < 1 ? SMALL_MACHINE_MEMORY_RESERVATION_MIB : reserved(machine.memoryGiB, MEMORY_BANDS) * 1024;
    return {
        cpuMillis: Math.round((machine.vcpus - reserved(machine.vcpus, CPU_BANDS)) * 1000),
        memoryMiB: Math.round(machine.memoryGiB * 1024 - memoryReservationMiB - EVICTION_THRESHOLD_MIB),
    };
}
