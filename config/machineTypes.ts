/** What a Compute Engine machine type offers, which the capacity checks build on. */
export interface MachineShape {
    readonly name: string;
    readonly family: string;
    readonly vcpus: number;
    readonly memoryGiB: number;
}

interface FamilySpec {
    /** GiB of memory per vCPU for each predefined series the family offers. */
    readonly gibPerVcpu: Readonly<Record<string, number>>;
    readonly vcpuCounts: readonly number[];
}

const FAMILIES: Readonly<Record<string, FamilySpec>> = {
    e2: { gibPerVcpu: { standard: 4, highmem: 8, highcpu: 1 }, vcpuCounts: [2, 4, 8, 16, 32] },
    n1: { gibPerVcpu: { standard: 3.75, highmem: 6.5, highcpu: 0.9 }, vcpuCounts: [1, 2, 4, 8, 16, 32, 64, 96] },
    n2: { gibPerVcpu: { standard: 4, highmem: 8, highcpu: 1 }, vcpuCounts: [2, 4, 8, 16, 32, 48, 64, 80, 96, 128] },
    n2d: { gibPerVcpu: { standard: 4, highmem: 8, highcpu: 1 }, vcpuCounts: [2, 4, 8, 16, 32, 48, 64, 80, 96, 128, 224] },
    n4: { gibPerVcpu: { standard: 4, highmem: 8, highcpu: 2 }, vcpuCounts: [2, 4, 8, 16, 32, 48, 64, 80] },
    c2: { gibPerVcpu: { standard: 4 }, vcpuCounts: [4, 8, 16, 30, 60] },
    c2d: { gibPerVcpu: { standard: 4, highmem: 8, highcpu: 2 }, vcpuCounts: [2, 4, 8, 16, 32, 56, 112] },
    c3: { gibPerVcpu: { standard: 4, highmem: 8, highcpu: 2 }, vcpuCounts: [4, 8, 22, 44, 88, 176] },
    c3d: { gibPerVcpu: { standard: 4, highmem: 8, highcpu: 2 }, vcpuCounts: [4, 8, 16, 30, 60, 90, 180, 360] },
    t2d: { gibPerVcpu: { standard: 4 }, vcpuCounts: [1, 2, 4, 8, 16, 32, 48, 60] },
};

/** Shared-core e2 types: the vCPU figure is the sustained share, not the burst. */
const SHARED_CORE: Readonly<Record<string, MachineShape>> = {
    "e2-small": { name: "e2-small", family: "e2", vcpus: 0.5, memoryGiB: 2 },
    "e2-medium": { name: "e2-medium", family: "e2", vcpus: 1, memoryGiB: 4 },
};

export const MACHINE_FAMILIES: readonly string[] = Object.keys(FAMILIES);

/** Resolves a predefined machine type, or explains why it is not one we support. */
export function describeMachineType(name: string): MachineShape | string {
    if (SHARED_CORE[name]) {
        return SHARED_CORE[name];
    }
    const match = /^([a-z0-9]+)-([a-z]+)-(\d+)$/.exec(name);
    const family = match ? FAMILIES[match[1]] : undefined;
    if (!match || !family) {
        return `is not a known machine type; use <family>-<series>-<vCPUs> with family one of ${MACHINE_FAMILIES.join(", ")}`;
    }
    const [, familyName, series, count] = match;
    const gibPerVcpu = family.gibPerVcpu[series];
    if (gibPerVcpu === undefined) {
        return `has series "${series}", which ${familyName} does not offer (${Object.keys(family.gibPerVcpu).join(", ")})`;
    }
    const vcpus = Number(count);
    if (!family.vcpuCounts.includes(vcpus)) {
        return `has ${vcpus} vCPUs; ${familyName}-${series} comes with ${family.vcpuCounts.join(", ")}`;
    }
    return { name, family: familyName, vcpus, memoryGiB: vcpus * gibPerVcpu };
}
