/** Kubernetes resource quantities as numbers: CPU in millicores, memory in MiB. */

const BINARY = { Ki: 1 / 1024, Mi: 1, Gi: 1024, Ti: 1024 * 1024 } as const;
const DECIMAL = { k: 1e3, M: 1e6, G: 1e9, T: 1e12 } as const;
const MIB = 1024 * 1024;

export function cpuMillis(quantity: string | number | undefined): number {
    if (quantity === undefined || quantity === "") {
        return 0;
    }
    const text = String(quantity);
    const millis = /^(\d+(?:\.\d+)?)m$/.exec(text);
    if (millis) {
        return Number(millis[1]);
    }
    if (/^\d+(?:\.\d+)?$/.test(text)) {
        return Number(text) * 1000;
    }
    throw new Error(`"${text}" is not a CPU quantity (e.g. 250m, 1, 1.5)`);
}

export function memoryMiB(quantity: string | number | undefined): number {
    if (quantity === undefined || quantity === "") {
        return 0;
    }
    const text = String(quantity);
    const match = /^(\d+(?:\.\d+)?)(Ki|Mi|Gi|Ti|k|M|G|T)?$/.exec(text);
    if (!match) {
        throw new Error(`"${text}" is not a memory quantity (e.g. 512Mi, 4Gi)`);
    }
    const [, amount, unit] = match;
    if (unit === undefined) {
        return Number(amount) / MIB;
    }
    return unit in BINARY ? Number(amount) * BINARY[unit as keyof typeof BINARY] : (Number(amount) * DECIMAL[unit as keyof typeof DECIMAL]) / MIB;
}

export function storageGiB(quantity: string | number | undefined): number {
    return memoryMiB(quantity) / 1024;
}
